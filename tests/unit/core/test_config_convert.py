"""convert_config: msgspec validation errors become ConfigErrors naming file, key and values."""

from __future__ import annotations

from enum import Enum

import msgspec
import pytest

from bot4.core.config import convert_config, join_key
from bot4.core.errors import ConfigError


class Side(Enum):
    BUY = "BUY"
    SELL = "SELL"


class Leg(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    side: Side
    size: int = 1

    def __post_init__(self) -> None:
        if self.size <= 0:
            raise ValueError("size must be positive")


class Plan(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: str
    legs: list[Leg] = []
    limits: dict[str, str] = {}
    extra: Leg | None = None


def error(data: dict[str, object]) -> ConfigError:
    with pytest.raises(ConfigError) as exc:
        convert_config(data, Plan, file="plan.toml", key="plan", what="[plan]")
    assert exc.value.context["file"] == "plan.toml"
    return exc.value


def test_convert_config_returns_the_struct() -> None:
    plan = convert_config({"name": "a", "legs": [{"side": "BUY"}]}, Plan)
    assert plan == Plan(name="a", legs=[Leg(side=Side.BUY)])


def test_wrong_type_names_nested_key_expected_and_found() -> None:
    exc = error({"name": "a", "legs": [{"side": "BUY"}, {"side": "SELL", "size": "2"}]})
    assert exc.context["key"] == "plan.legs[1].size"
    assert exc.context["expected"] == "integer"
    assert exc.context["found"] == "'2' (string)"


def test_unknown_field_lists_the_allowed_ones() -> None:
    exc = error({"name": "a", "extra": {"side": "BUY", "qty": 1}})
    assert exc.context["key"] == "plan.extra.qty"
    assert exc.context["expected"] == "one of side, size"


def test_missing_field_is_named() -> None:
    exc = error({"legs": []})
    assert exc.context["key"] == "plan.name"
    assert "missing required key" in exc.message


def test_bad_enum_value_lists_members() -> None:
    exc = error({"name": "a", "legs": [{"side": "HOLD"}]})
    assert exc.context["key"] == "plan.legs[0].side"
    assert exc.context["expected"] == "one of BUY, SELL"
    assert exc.context["found"] == "'HOLD' (string)"


def test_dict_value_of_wrong_type_names_its_entry() -> None:
    exc = error({"name": "a", "limits": {"BTC": "1", "USDT": 5}})
    assert exc.context["key"] == "plan.limits.USDT"
    assert exc.context["found"] == "5 (integer)"


def test_struct_own_check_message_is_kept_with_its_key() -> None:
    exc = error({"name": "a", "legs": [{"side": "BUY", "size": 0}]})
    assert exc.context["key"] == "plan.legs[0]"
    assert "size must be positive" in exc.message


def test_table_where_array_expected_says_so_in_toml_words() -> None:
    exc = error({"name": "a", "legs": {"side": "BUY"}})
    assert exc.context["key"] == "plan.legs"
    assert exc.context["expected"] == "array"
    assert exc.context["found"] == "a table"


@pytest.mark.parametrize(("prefix", "rest", "joined"), [
    ("", "a", "a"), ("a", "", "a"), ("a", "b", "a.b"), ("a", "[0].b", "a[0].b"),
])
def test_join_key(prefix: str, rest: str, joined: str) -> None:
    assert join_key(prefix, rest) == joined
