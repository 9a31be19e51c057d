"""ccxt adapter: the error map and the unified-structure parsing (no network)."""

from __future__ import annotations

from decimal import Decimal

import ccxt
import pytest

from bot4.core.errors import (
    DisconnectedError,
    InvalidDataError,
    InvalidInputError,
    RateLimitedError,
    UnknownInstrumentError,
    VenueBannedError,
    VenueRejectedError,
    VenueTimeoutError,
)
from bot4.core.ids import AccountId, ClientOrderId
from bot4.model.enums import LiquiditySide, OrderSide, OrderStatus
from bot4.testkit import strategy_id
from bot4.venues.ccxt.errors import map_ccxt_error
from bot4.venues.ccxt.parsing import (
    account_state,
    decimal_of,
    fill_event,
    instrument_from_market,
    order_status_report,
)

MARKET = {
    "id": "BTCUSDT", "symbol": "BTC/USDT", "base": "BTC", "quote": "USDT",
    "precision": {"price": 0.01, "amount": 1e-05},
    "limits": {"amount": {"min": 1e-05, "max": 9000.0}, "cost": {"min": 5.0}, "price": {"min": 0.01, "max": 1000000.0}},
    "maker": 0.001, "taker": 0.001,
}


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ccxt.RequestTimeout("t"), VenueTimeoutError),
        (ccxt.RateLimitExceeded("r"), RateLimitedError),
        (ccxt.DDoSProtection("d"), VenueBannedError),
        (ccxt.ExchangeNotAvailable("x"), DisconnectedError),
        (ccxt.NetworkError("n"), DisconnectedError),
        (ccxt.BadSymbol("b"), UnknownInstrumentError),
        (ccxt.InsufficientFunds("binance Account has insufficient balance"), VenueRejectedError),
        (ccxt.OrderNotFound("o"), VenueRejectedError),
        (ccxt.InvalidOrder("i"), VenueRejectedError),
        (ccxt.AuthenticationError("a"), VenueRejectedError),
        (ccxt.NotSupported("s"), InvalidInputError),
        (ccxt.ExchangeError("e"), VenueRejectedError),
        (ValueError("not ccxt"), DisconnectedError),
    ],
)
def test_every_ccxt_error_family_maps_to_the_error_tree(exc: Exception, expected: type) -> None:
    error = map_ccxt_error(exc, venue="BINANCE", operation="create_order")
    assert type(error) is expected
    assert error.context["venue"] == "BINANCE" and error.context["operation"] == "create_order"


def test_insufficient_funds_keeps_the_venue_text_and_kind() -> None:
    error = map_ccxt_error(ccxt.InsufficientFunds("binance {\"code\":-2010}"), venue="BINANCE", operation="create_order")
    assert "-2010" in error.message and error.context["kind"] == "insufficient_funds"


def test_market_becomes_an_instrument_with_the_venue_filters() -> None:
    inst = instrument_from_market(MARKET, "BINANCE", ccxt.TICK_SIZE)
    assert str(inst.id) == "BTCUSDT.BINANCE"
    assert str(inst.price_increment) == "0.01" and str(inst.size_increment) == "0.00001"
    assert inst.min_notional is not None and inst.taker_fee == Decimal("0.001")


def test_decimal_places_precision_mode_is_understood() -> None:
    market = dict(MARKET, precision={"price": 2, "amount": 5})
    inst = instrument_from_market(market, "BINANCE", ccxt.DECIMAL_PLACES)
    assert str(inst.price_increment) == "0.01" and str(inst.size_increment) == "0.00001"


def test_floats_become_exact_decimals_through_their_shortest_repr() -> None:
    assert decimal_of(0.1, "x") == Decimal("0.1")
    assert decimal_of(60000.01, "x") == Decimal("60000.01")
    for bad in (None, True, float("nan"), float("inf"), "abc"):
        with pytest.raises(InvalidDataError):
            decimal_of(bad, "x")


def test_trade_becomes_a_fill_with_the_venue_fee() -> None:
    inst = instrument_from_market(MARKET, "BINANCE", ccxt.TICK_SIZE)
    trade = {"id": "28457", "order": "100234", "timestamp": 1_700_000_000_123, "side": "buy", "price": 60000.01,
             "amount": 0.0015, "fee": {"cost": 0.0000015, "currency": "BTC"}, "takerOrMaker": "maker"}
    fill = fill_event(trade, inst, ClientOrderId("O-1"), strategy_id(), 5)
    assert str(fill.last_px) == "60000.01" and str(fill.last_qty) == "0.00150"
    assert str(fill.trade_id) == "28457" and fill.liquidity_side is LiquiditySide.MAKER
    assert fill.commission.as_decimal() == Decimal("0.0000015") and fill.commission.currency.code == "BTC"
    assert fill.ts_event == 1_700_000_000_123_000_000 and fill.order_side is OrderSide.BUY


def test_off_grid_price_from_the_venue_is_reported_not_rounded() -> None:
    inst = instrument_from_market(MARKET, "BINANCE", ccxt.TICK_SIZE)
    trade = {"id": "1", "order": "2", "side": "buy", "price": 60000.005, "amount": 0.001, "fee": None}
    with pytest.raises(Exception, match="tick"):
        fill_event(trade, inst, ClientOrderId("O-1"), strategy_id(), 5)


def test_open_order_with_fills_is_partially_filled_in_the_report() -> None:
    inst = instrument_from_market(MARKET, "BINANCE", ccxt.TICK_SIZE)
    raw = {"id": "9", "clientOrderId": "O-9", "status": "open", "type": "limit", "side": "sell", "price": 61000.0,
           "amount": 0.01, "filled": 0.004, "average": 61000.0, "timestamp": 1_700_000_000_000}
    report = order_status_report(raw, inst)
    assert report.status is OrderStatus.PARTIALLY_FILLED and str(report.filled_qty) == "0.00400"
    assert report.client_order_id == ClientOrderId("O-9")


def test_balance_becomes_an_account_state() -> None:
    state = account_state({"total": {"BTC": 1.5, "USDT": 1000.25}, "used": {"USDT": 100.0}}, AccountId("BINANCE-001"), 7)
    balances = {b.currency.code: b for b in state.balances}
    assert balances["USDT"].free.as_decimal() == Decimal("900.25") and balances["BTC"].total.as_decimal() == Decimal("1.5")
