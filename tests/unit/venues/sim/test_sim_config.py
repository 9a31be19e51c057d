from decimal import Decimal

import msgspec
import pytest

from bot4.core.errors import ConfigError
from bot4.model.enums import AccountType
from bot4.venues.sim import SimVenueConfig


def test_config_defaults_are_cash_sim_venue_without_latency():
    config = SimVenueConfig()
    assert config.venue == "SIM"
    assert config.account_type is AccountType.CASH
    assert config.starting_balances == {}
    assert config.latency_ns == 0
    assert config.queue_position is True
    assert config.trade_through_fills_full is True
    assert config.leverage_decimal == Decimal(1)


def test_config_negative_latency_raises_config_error_naming_field():
    with pytest.raises(ConfigError) as info:
        SimVenueConfig(latency_ns=-1)
    assert info.value.context == {"field": "latency_ns", "value": -1}


def test_config_bad_decimal_balance_raises_config_error_naming_currency():
    with pytest.raises(ConfigError) as info:
        SimVenueConfig(starting_balances={"USDT": "12x"})
    assert info.value.context == {"field": "starting_balances.USDT", "value": "12x"}


def test_config_negative_cash_balance_raises_config_error():
    with pytest.raises(ConfigError) as info:
        SimVenueConfig(starting_balances={"USDT": "-1"})
    assert info.value.context["field"] == "starting_balances.USDT"


def test_config_negative_margin_balance_is_allowed():
    config = SimVenueConfig(account_type=AccountType.MARGIN, starting_balances={"BTC": "-1"})
    assert config.starting_raw() == {"BTC": -1_000_000_000}


@pytest.mark.parametrize("leverage", ["0.5", "0", "-2"])
def test_config_leverage_below_one_raises_config_error(leverage):
    with pytest.raises(ConfigError) as info:
        SimVenueConfig(leverage=leverage)
    assert info.value.context == {"field": "leverage", "value": leverage}


def test_config_leverage_not_a_decimal_raises_config_error():
    with pytest.raises(ConfigError) as info:
        SimVenueConfig(leverage="three")
    assert info.value.context["field"] == "leverage"


@pytest.mark.parametrize(("field", "value"), [("maker_fee", "abc"), ("taker_fee", "1.5"), ("maker_fee", "NaN")])
def test_config_bad_fee_raises_config_error_naming_field(field, value):
    with pytest.raises(ConfigError) as info:
        SimVenueConfig(**{field: value})
    assert info.value.context == {"field": field, "value": value}


def test_config_fee_overrides_replace_instrument_rates():
    config = SimVenueConfig(maker_fee="-0.0001")
    assert config.fee_rates(Decimal("0.001"), Decimal("0.002")) == (Decimal("-0.0001"), Decimal("0.002"))


def test_config_from_mapping_rejects_unknown_key_naming_it():
    with pytest.raises(ConfigError) as info:
        SimVenueConfig.from_mapping({"venue": "SIM", "latncy_ns": 5}, source="paper.toml")
    assert "latncy_ns" in str(info.value)
    assert info.value.context == {"file": "paper.toml"}


def test_config_from_mapping_decodes_enum_and_balances():
    config = SimVenueConfig.from_mapping(
        {"account_type": "MARGIN", "leverage": "3", "starting_balances": {"USDT": "1000.5"}}
    )
    assert config.account_type is AccountType.MARGIN
    assert config.starting_raw() == {"USDT": 1_000_500_000_000}


def test_config_from_mapping_validates_values_too():
    with pytest.raises(ConfigError) as info:
        SimVenueConfig.from_mapping({"latency_ns": -5})
    assert info.value.context["field"] == "latency_ns"


def test_config_is_frozen():
    config = SimVenueConfig()
    with pytest.raises(AttributeError):
        config.venue = "X"  # type: ignore[misc]
    assert msgspec.structs.asdict(config)["venue"] == "SIM"
