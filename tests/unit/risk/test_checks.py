"""Every pre-trade check on both sides of its threshold: at the limit passes, one unit over is denied."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot4.core import ClientOrderId, InstrumentId
from bot4.model import AccountType, Order, OrderSide
from bot4.risk import InstrumentRiskLimits, RiskConfig
from bot4.testkit import btcusdt, strategy_id

BUY = OrderSide.BUY
SELL = OrderSide.SELL
Make = Callable[..., Any]


# -- max order quantity ---------------------------------------------------------------------------


def test_risk_passes_order_at_max_order_qty(make: Make) -> None:
    h = make(RiskConfig(max_order_qty="0.01"))
    assert h.risk.check(h.limit(BUY, "0.01", "60000")) is None


def test_risk_rejects_order_one_step_above_max_order_qty(make: Make) -> None:
    h = make(RiskConfig(max_order_qty="0.01"))
    denial = h.risk.check(h.limit(BUY, "0.01001", "60000"))
    assert denial is not None and denial.code == "MAX_ORDER_QTY"
    assert denial.details == {"instrument": "BTCUSDT.SIM", "limit": "0.01000", "value": "0.01001"}
    assert h.risk.stats.by_code == {"MAX_ORDER_QTY": 1}
    assert h.risk.stats.denied == 1 and h.risk.stats.checks == 1


# -- max order notional -----------------------------------------------------------------------------


def test_risk_passes_limit_order_at_max_notional(make: Make) -> None:
    h = make(RiskConfig(max_order_notional="600"))
    assert h.risk.check(h.limit(BUY, "0.01", "60000.00")) is None


def test_risk_rejects_order_above_max_notional(make: Make) -> None:
    h = make(RiskConfig(max_order_notional="600"))
    denial = h.risk.check(h.limit(BUY, "0.01", "60000.01"))
    assert denial is not None and denial.code == "MAX_ORDER_NOTIONAL"
    assert denial.details == {
        "instrument": "BTCUSDT.SIM",
        "limit": "600.00000000",
        "value": "600.00010000",
        "price": "60000.01",
        "quantity": "0.01000",
    }


def test_risk_values_market_order_notional_at_the_mark(make: Make) -> None:
    h = make(RiskConfig(max_order_notional="600"), mark="60000.00")
    assert h.risk.check(h.market(SELL, "0.01")) is None
    h.mark("60000.01")
    denial = h.risk.check(h.market(SELL, "0.01"))
    assert denial is not None and denial.code == "MAX_ORDER_NOTIONAL"
    assert denial.details["price"] == "60000.01" and denial.details["value"] == "600.00010000"


def test_risk_values_stop_market_notional_at_its_trigger(make: Make) -> None:
    h = make(RiskConfig(max_order_notional="600"), mark="50000.00")
    assert h.risk.check(h.stop_market(BUY, "0.01", "60000.00")) is None
    denial = h.risk.check(h.stop_market(BUY, "0.01", "60000.01"))
    assert denial is not None and denial.code == "MAX_ORDER_NOTIONAL"
    assert denial.details["price"] == "60000.01"


def test_risk_denies_market_order_without_mark_when_notional_is_limited(make: Make) -> None:
    h = make(RiskConfig(max_order_notional="600"), mark=None)
    denial = h.risk.check(h.market(BUY, "0.01"))
    assert denial is not None and denial.code == "NO_MARK_PRICE"
    assert denial.details == {"instrument": "BTCUSDT.SIM", "check": "MAX_ORDER_NOTIONAL"}


# -- max position -----------------------------------------------------------------------------------


def test_risk_counts_position_and_working_orders_on_the_same_side_for_max_position(make: Make) -> None:
    h = make(RiskConfig(max_position="0.05"))
    h.position_fill(BUY, "0.03", "60000")
    h.submit(h.limit(BUY, "0.01", "59000"))  # working: 0.03 + 0.01 + order <= 0.05
    h.submit(h.limit(SELL, "0.02", "61000"))  # the other side does not count for a buy
    assert h.risk.check(h.limit(BUY, "0.01", "59000")) is None
    denial = h.risk.check(h.limit(BUY, "0.01001", "59000"))
    assert denial is not None and denial.code == "MAX_POSITION"
    assert denial.details == {
        "instrument": "BTCUSDT.SIM",
        "limit": "0.05000",
        "value": "0.05001",
        "position": "0.03000",
        "working_same_side": "0.01000",
        "quantity": "0.01001",
    }


def test_risk_limits_a_sell_through_flat_to_max_short_position(make: Make) -> None:
    h = make(RiskConfig(max_position="0.05"))
    h.position_fill(BUY, "0.03", "60000")
    assert h.risk.check(h.limit(SELL, "0.08", "60000")) is None  # ends at -0.05
    denial = h.risk.check(h.limit(SELL, "0.08001", "60000"))
    assert denial is not None and denial.code == "MAX_POSITION"
    assert denial.details["value"] == "0.05001" and denial.details["position"] == "0.03000"


def test_risk_lets_a_position_above_a_lowered_limit_shrink_but_not_grow(make: Make) -> None:
    h = make(RiskConfig(max_position="0.05"))
    h.position_fill(BUY, "0.1", "60000")
    assert h.risk.check(h.market(SELL, "0.01")) is None
    denial = h.risk.check(h.market(BUY, "0.00001"))
    assert denial is not None and denial.code == "MAX_POSITION"


def test_risk_sees_partial_fills_of_working_orders_move_into_the_position(make: Make) -> None:
    h = make(RiskConfig(max_position="0.05"))
    working = h.submit(h.limit(BUY, "0.04", "60000"))
    h.accept(working)
    h.fill(working, "0.015")  # position 0.015, leaves 0.025: still 0.04 counted
    assert h.risk.check(h.limit(BUY, "0.01", "60000")) is None
    denial = h.risk.check(h.limit(BUY, "0.01001", "60000"))
    assert denial is not None and denial.code == "MAX_POSITION"
    assert denial.details["position"] == "0.01500" and denial.details["working_same_side"] == "0.02500"
    h.cancel(working)  # the leaves no longer count: 0.015 + 0.035 = 0.05
    assert h.risk.check(h.limit(BUY, "0.035", "60000")) is None


# -- max gross exposure -------------------------------------------------------------------------------


def test_risk_passes_order_at_max_gross_exposure_across_instruments(make: Make) -> None:
    h = make(RiskConfig(max_gross_exposure="4200"))
    h.position_fill(SELL, "1", "3000.00", instrument=h.eth)  # short ETH: 3000 of exposure
    h.position_fill(BUY, "0.01", "60000.00")  # 600
    assert h.risk.check(h.limit(BUY, "0.01", "60000.00")) is None  # 1200 + 3000


def test_risk_rejects_order_above_max_gross_exposure(make: Make) -> None:
    h = make(RiskConfig(max_gross_exposure="4200"))
    h.position_fill(SELL, "1", "3000.00", instrument=h.eth)
    h.position_fill(BUY, "0.01", "60000.00")
    denial = h.risk.check(h.limit(BUY, "0.01001", "60000.00"))
    assert denial is not None and denial.code == "MAX_GROSS_EXPOSURE"
    assert denial.details == {
        "instrument": "BTCUSDT.SIM",
        "currency": "USDT",
        "limit": "4200.00000000",
        "value": "4200.60000000",
        "position_after": "0.02001",
        "price": "60000.00",
    }
    assert h.risk.check(h.limit(SELL, "0.02", "60000.00")) is None  # flipping to -0.01 is no larger


# -- price band ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("side", "inside", "outside"), [(BUY, "60600.00", "60600.01"), (SELL, "59400.00", "59399.99")])
def test_risk_price_band_passes_at_the_band_and_rejects_one_tick_outside(
    make: Make, side: OrderSide, inside: str, outside: str
) -> None:
    h = make(RiskConfig(price_band_bps=100), mark="60000.00")
    assert h.risk.check(h.limit(side, "0.01", inside)) is None
    denial = h.risk.check(h.limit(side, "0.01", outside))
    assert denial is not None and denial.code == "PRICE_BAND"
    assert denial.details == {
        "instrument": "BTCUSDT.SIM",
        "limit": "100",
        "value": "100.0017",  # 600.01 / 60000 in bps, rounded up: never prints at the limit when above it
        "price": outside,
        "mark": "60000.00",
    }


def test_risk_price_band_lets_market_orders_through_even_without_a_mark(make: Make) -> None:
    h = make(RiskConfig(price_band_bps=1), mark=None)
    assert h.risk.check(h.market(BUY, "0.01")) is None


def test_risk_price_band_denies_limit_order_without_a_mark(make: Make) -> None:
    h = make(RiskConfig(price_band_bps=100), mark=None)
    denial = h.risk.check(h.limit(BUY, "0.01", "60000"))
    assert denial is not None and denial.code == "NO_MARK_PRICE"
    assert denial.details["check"] == "PRICE_BAND"


def test_risk_price_band_compares_a_stop_limit_price_with_its_trigger(make: Make) -> None:
    h = make(RiskConfig(price_band_bps=100), mark="50000.00")
    assert h.risk.check(h.stop_limit(BUY, "0.01", "60600.00", "60000.00")) is None
    denial = h.risk.check(h.stop_limit(BUY, "0.01", "60600.01", "60000.00"))
    assert denial is not None and denial.code == "PRICE_BAND"
    assert denial.details["trigger"] == "60000.00"


# -- open orders --------------------------------------------------------------------------------------


def test_risk_max_open_orders_per_instrument(make: Make) -> None:
    h = make(RiskConfig(max_open_orders=2))
    first = h.submit(h.limit(BUY, "0.01", "59000"))
    assert h.risk.check(h.limit(BUY, "0.01", "59000")) is None  # would be the 2nd
    h.submit(h.limit(BUY, "0.01", "59000"))
    denial = h.risk.check(h.limit(BUY, "0.01", "59000"))
    assert denial is not None and denial.code == "MAX_OPEN_ORDERS"
    assert denial.details == {"instrument": "BTCUSDT.SIM", "scope": "instrument", "limit": "2", "value": "3"}
    assert h.risk.check(h.limit(BUY, "0.1", "3000", instrument=h.eth)) is None  # another instrument
    h.cancel(first)
    assert h.risk.check(h.limit(BUY, "0.01", "59000")) is None


def test_risk_max_open_orders_total_across_instruments(make: Make) -> None:
    h = make(RiskConfig(max_open_orders_total=2))
    btc_order = h.submit(h.limit(BUY, "0.01", "59000"))
    h.submit(h.limit(BUY, "0.1", "3000", instrument=h.eth))
    denial = h.risk.check(h.limit(BUY, "0.01", "59000"))
    assert denial is not None and denial.code == "MAX_OPEN_ORDERS"
    assert denial.details["scope"] == "total" and denial.details["value"] == "3"
    h.accept(btc_order)
    h.fill(btc_order, "0.01")  # filled: no longer working
    assert h.risk.check(h.limit(BUY, "0.01", "59000")) is None
    assert h.risk.open_order_count() == 1


# -- order rate ---------------------------------------------------------------------------------------


def test_risk_rate_limit_refills_on_the_simulated_clock(make: Make) -> None:
    h = make(RiskConfig(max_orders_per_second=2))
    h.submit(h.market(BUY, "0.01"))
    h.submit(h.market(BUY, "0.01"))
    denial = h.risk.check(h.market(BUY, "0.01"))
    assert denial is not None and denial.code == "RATE_LIMIT"
    assert denial.details == {
        "instrument": "BTCUSDT.SIM",
        "scope": "instrument",
        "limit": "2",
        "burst": "2",
        "retry_after_ns": "500000000",
    }
    h.advance(499_999_999)
    assert h.risk.check(h.market(BUY, "0.01")) is not None
    h.advance(1)
    assert h.risk.check(h.market(BUY, "0.01")) is None


def test_risk_rate_limit_takes_tokens_only_for_orders_that_left(make: Make) -> None:
    h = make(RiskConfig(max_orders_per_second=1, max_order_qty="1"))
    for _ in range(5):
        assert h.risk.check(h.market(BUY, "0.01")) is None  # checked, never sent
    assert h.risk.check(h.market(BUY, "2")) is not None  # denied for size: takes no token
    h.submit(h.market(BUY, "0.01"))
    assert h.risk.check(h.market(BUY, "0.01")) is not None


def test_risk_fractional_rate_waits_two_seconds_between_orders(make: Make) -> None:
    h = make(RiskConfig(max_orders_per_second="0.5"))
    h.submit(h.market(BUY, "0.01"))
    h.advance(1_999_999_999)
    denial = h.risk.check(h.market(BUY, "0.01"))
    assert denial is not None and denial.details["limit"] == "0.5" and denial.details["retry_after_ns"] == "1"
    h.advance(1)
    assert h.risk.check(h.market(BUY, "0.01")) is None


def test_risk_total_rate_limit_spans_instruments(make: Make) -> None:
    h = make(RiskConfig(max_orders_per_second_total=1))
    h.submit(h.market(BUY, "0.01"))
    denial = h.risk.check(h.market(BUY, "0.1", instrument=h.eth))
    assert denial is not None and denial.code == "RATE_LIMIT" and denial.details["scope"] == "total"


def test_risk_burst_allows_that_many_orders_at_once(make: Make) -> None:
    h = make(RiskConfig(max_orders_per_second=1, order_burst=3))
    for _ in range(3):
        h.submit(h.market(BUY, "0.01"))
    assert h.risk.check(h.market(BUY, "0.01")) is not None
    h.advance(10_000_000_000)  # refills to the burst, no further
    for _ in range(3):
        h.submit(h.market(BUY, "0.01"))
    assert h.risk.check(h.market(BUY, "0.01")) is not None


# -- balance and inventory ------------------------------------------------------------------------------


def test_risk_cash_buy_needs_free_quote_for_notional_plus_taker_fee(make: Make) -> None:
    h = make(RiskConfig(check_balance=True), usdt="600.6")  # 600 + 0.1% fee
    assert h.risk.check(h.limit(BUY, "0.01", "60000")) is None
    h.set_balances(usdt="600.59999999", btc="10")
    denial = h.risk.check(h.limit(BUY, "0.01", "60000"))
    assert denial is not None and denial.code == "INSUFFICIENT_BALANCE"
    assert denial.details == {
        "instrument": "BTCUSDT.SIM",
        "currency": "USDT",
        "limit": "600.59999999",
        "value": "600.60000000",
    }


def test_risk_balance_check_uses_the_free_not_the_total_balance(make: Make) -> None:
    h = make(RiskConfig(check_balance=True), usdt=None)
    h.set_balances(usdt="1000", locked_usdt="400")
    denial = h.risk.check(h.market(BUY, "0.01"))  # 600.6 needed at the mark, 600 free
    assert denial is not None and denial.code == "INSUFFICIENT_BALANCE"
    assert denial.details["limit"] == "600.00000000"


def test_risk_cash_sell_needs_free_base(make: Make) -> None:
    h = make(RiskConfig(check_balance=True), btc="0.01")
    assert h.risk.check(h.limit(SELL, "0.01", "60000")) is None
    denial = h.risk.check(h.limit(SELL, "0.01001", "60000"))
    assert denial is not None and denial.code == "INSUFFICIENT_BALANCE"
    assert denial.details["currency"] == "BTC"
    assert denial.details["limit"] == "0.01000000" and denial.details["value"] == "0.01001000"


def test_risk_margin_account_skips_the_balance_check(make: Make) -> None:
    h = make(RiskConfig(check_balance=True), usdt="0", btc="0", account_type=AccountType.MARGIN)
    assert h.risk.check(h.limit(BUY, "1", "60000")) is None
    assert h.risk.check(h.limit(SELL, "1", "60000")) is None


def test_risk_balance_check_denies_before_any_account_state(make: Make) -> None:
    h = make(RiskConfig(check_balance=True), usdt=None)
    denial = h.risk.check(h.limit(BUY, "0.01", "60000"))
    assert denial is not None and denial.code == "NO_ACCOUNT"
    assert denial.details == {"instrument": "BTCUSDT.SIM", "venue": "SIM"}


# -- instruments and overrides ---------------------------------------------------------------------------


def test_risk_denies_unknown_instrument_instead_of_raising(make: Make) -> None:
    h = make(RiskConfig(max_order_qty="1"))
    order = Order.market(
        client_order_id=ClientOrderId("X-1"),
        strategy_id=strategy_id(),
        instrument_id=InstrumentId.from_str("XRPUSDT.SIM"),
        side=BUY,
        quantity=h.btc.make_qty("1"),
        ts_init=0,
    )
    denial = h.risk.check(order)
    assert denial is not None and denial.code == "UNKNOWN_INSTRUMENT"
    assert denial.details == {"instrument": "XRPUSDT.SIM"}


def test_risk_denies_instrument_the_portfolio_does_not_know(make: Make) -> None:
    h = make(RiskConfig())
    other = btcusdt("ELSEWHERE")
    h.instruments[other.id] = other  # the lookup is read live; the portfolio never heard of it
    order = Order.market(
        client_order_id=ClientOrderId("X-2"),
        strategy_id=strategy_id(),
        instrument_id=other.id,
        side=BUY,
        quantity=other.make_qty("1"),
        ts_init=0,
    )
    denial = h.risk.check(order)
    assert denial is not None and denial.code == "UNKNOWN_INSTRUMENT" and "portfolio" in denial.reason


def test_risk_per_instrument_limit_beats_the_global_one(make: Make) -> None:
    config = RiskConfig(
        max_order_qty="1",
        instruments={"BTCUSDT.SIM": InstrumentRiskLimits(max_order_qty="0.01")},
    )
    h = make(config)
    denial = h.risk.check(h.limit(BUY, "0.01001", "60000"))
    assert denial is not None and denial.details["limit"] == "0.01000"
    assert h.risk.check(h.limit(BUY, "1", "3000", instrument=h.eth)) is None  # global applies
    denial = h.risk.check(h.limit(BUY, "1.0001", "3000", instrument=h.eth))
    assert denial is not None and denial.details["limit"] == "1.0000"


def test_risk_per_instrument_limit_may_be_looser_than_the_global_one(make: Make) -> None:
    config = RiskConfig(
        max_order_qty="0.01",
        max_orders_per_second=1,
        instruments={"BTCUSDT.SIM": InstrumentRiskLimits(max_order_qty="5", max_orders_per_second=10, order_burst=2)},
    )
    h = make(config)
    assert h.risk.check(h.limit(BUY, "5", "60000")) is None
    h.submit(h.market(BUY, "0.01"))
    h.submit(h.market(BUY, "0.01"))  # the instrument's own burst of 2
    denial = h.risk.check(h.market(BUY, "0.01"))
    assert denial is not None and denial.details["limit"] == "10" and denial.details["burst"] == "2"


def test_risk_per_instrument_check_balance_false_switches_the_global_check_off(make: Make) -> None:
    config = RiskConfig(check_balance=True, instruments={"ETHUSDT.SIM": InstrumentRiskLimits(check_balance=False)})
    h = make(config, usdt="0", btc="0", eth="0")
    assert h.risk.check(h.limit(BUY, "1", "3000", instrument=h.eth)) is None
    denial = h.risk.check(h.limit(BUY, "0.01", "60000"))
    assert denial is not None and denial.code == "INSUFFICIENT_BALANCE"


def test_risk_with_no_limits_lets_everything_through(make: Make) -> None:
    h = make(RiskConfig(), usdt=None, mark=None)
    assert h.risk.check(h.market(BUY, "9000")) is None
    assert h.risk.check(h.limit(SELL, "9000", "1")) is None
