"""Identifiers: validation at the edges, value semantics, and InstrumentId parsing."""

from __future__ import annotations

import msgspec
import pytest

from bot4.core.errors import InvalidInputError
from bot4.core.ids import (
    AccountId,
    ClientOrderId,
    Identifier,
    InstrumentId,
    StrategyId,
    Symbol,
    TradeId,
    TraderId,
    Venue,
    VenueOrderId,
)

ID_TYPES = [Symbol, Venue, ClientOrderId, VenueOrderId, TradeId, AccountId, StrategyId, TraderId]


@pytest.mark.parametrize("cls", ID_TYPES, ids=lambda c: c.__name__)
def test_identifier_from_str_valid_token_keeps_value(cls: type[Identifier]) -> None:
    ident = cls.from_str("ABC-123_x.y")
    assert type(ident) is cls
    assert ident.value == "ABC-123_x.y"
    assert str(ident) == "ABC-123_x.y"


@pytest.mark.parametrize("cls", ID_TYPES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("value", ["", " ", "A B", "AB ", "\tAB", "A\nB", "A\u00a0B"])
def test_identifier_from_str_empty_or_whitespace_raises_invalid_input_error(
    cls: type[Identifier], value: str
) -> None:
    with pytest.raises(InvalidInputError) as excinfo:
        cls.from_str(value)
    assert cls.__name__ in excinfo.value.message
    assert excinfo.value.context == {"value": value}


@pytest.mark.parametrize("value", [None, 123, b"ABC"], ids=repr)
def test_identifier_from_str_non_string_raises_invalid_input_error(value: object) -> None:
    with pytest.raises(InvalidInputError):
        ClientOrderId.from_str(value)  # type: ignore[arg-type]


def test_identifier_equal_values_are_equal_and_hash_alike() -> None:
    assert ClientOrderId("O-1") == ClientOrderId.from_str("O-1")
    assert hash(ClientOrderId("O-1")) == hash(ClientOrderId("O-1"))
    assert {ClientOrderId("O-1"), ClientOrderId("O-1"), ClientOrderId("O-2")} == {
        ClientOrderId("O-1"),
        ClientOrderId("O-2"),
    }


def test_identifier_of_different_kinds_with_same_value_are_not_equal() -> None:
    assert ClientOrderId("X") != VenueOrderId("X")
    assert Symbol("X") != Venue("X")
    assert len({ClientOrderId("X"), VenueOrderId("X")}) == 2


def test_identifier_is_immutable() -> None:
    ident = TradeId("T-1")
    with pytest.raises(AttributeError):
        ident.value = "T-2"  # type: ignore[misc]


def test_instrument_id_from_str_splits_symbol_and_venue() -> None:
    iid = InstrumentId.from_str("BTCUSDT.BINANCE")
    assert iid.symbol == Symbol("BTCUSDT")
    assert iid.venue == Venue("BINANCE")
    assert str(iid) == "BTCUSDT.BINANCE"


def test_instrument_id_from_str_venue_is_after_the_last_dot() -> None:
    iid = InstrumentId.from_str("BTC.USDT-PERP.BYBIT")
    assert iid.symbol == Symbol("BTC.USDT-PERP")
    assert iid.venue == Venue("BYBIT")
    assert str(iid) == "BTC.USDT-PERP.BYBIT"


@pytest.mark.parametrize(
    "value", ["BTCUSDT", ".BINANCE", "BTCUSDT.", ".", "", "BTC USDT.BINANCE", "BTCUSDT.BIN ANCE"]
)
def test_instrument_id_from_str_malformed_raises_invalid_input_error(value: str) -> None:
    with pytest.raises(InvalidInputError):
        InstrumentId.from_str(value)


def test_instrument_id_from_str_non_string_raises_invalid_input_error() -> None:
    with pytest.raises(InvalidInputError):
        InstrumentId.from_str(42)  # type: ignore[arg-type]


def test_instrument_id_equal_values_are_equal_and_usable_as_keys() -> None:
    a = InstrumentId.from_str("ETHUSDT.SIM")
    b = InstrumentId(Symbol("ETHUSDT"), Venue("SIM"))
    assert a == b
    assert {a: 1}[b] == 1
    assert a != InstrumentId.from_str("ETHUSDT.BINANCE")


def test_instrument_id_round_trips_through_msgspec_json() -> None:
    iid = InstrumentId.from_str("BTCUSDT.BINANCE")
    encoded = msgspec.json.encode(iid)
    assert msgspec.json.decode(encoded, type=InstrumentId) == iid
