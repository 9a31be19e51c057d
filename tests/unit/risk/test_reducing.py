"""REDUCING: only orders opposite the position, no larger than what is left to reduce, pass."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot4.model import OrderSide
from bot4.risk import RiskConfig, TradingState

BUY = OrderSide.BUY
SELL = OrderSide.SELL
Make = Callable[..., Any]


def reducing(make: Make, fill_side: OrderSide | None, qty: str = "0.05") -> Any:
    h = make(RiskConfig())
    if fill_side is not None:
        h.position_fill(fill_side, qty, "60000")
    h.risk.set_trading_state(TradingState.REDUCING, "operator: reduce")
    return h


def test_reducing_passes_a_sell_that_closes_a_long(make: Make) -> None:
    h = reducing(make, BUY)
    assert h.risk.check(h.market(SELL, "0.05")) is None
    assert h.risk.check(h.limit(SELL, "0.02", "61000")) is None


def test_reducing_denies_a_reduce_larger_than_the_position(make: Make) -> None:
    h = reducing(make, BUY)
    denial = h.risk.check(h.market(SELL, "0.05001"))
    assert denial is not None and denial.code == "REDUCING_ONLY"
    assert denial.details == {
        "instrument": "BTCUSDT.SIM",
        "state": "REDUCING",
        "cause": "OPERATOR",
        "side": "SELL",
        "quantity": "0.05001",
        "position": "0.05000",
        "working_reducing": "0.00000",
        "reducible": "0.05000",
    }


def test_reducing_denies_increasing_a_long(make: Make) -> None:
    h = reducing(make, BUY)
    denial = h.risk.check(h.market(BUY, "0.00001"))
    assert denial is not None and denial.code == "REDUCING_ONLY"
    assert "increase" in denial.reason


def test_reducing_denies_flipping_through_flat(make: Make) -> None:
    h = reducing(make, BUY)
    denial = h.risk.check(h.market(SELL, "0.1"))
    assert denial is not None and denial.code == "REDUCING_ONLY"


def test_reducing_passes_a_buy_that_covers_a_short_and_denies_a_sell(make: Make) -> None:
    h = reducing(make, SELL)
    assert h.risk.check(h.market(BUY, "0.05")) is None
    assert h.risk.check(h.market(SELL, "0.00001")) is not None
    assert h.risk.check(h.market(BUY, "0.05001")) is not None


def test_reducing_denies_everything_when_flat(make: Make) -> None:
    h = reducing(make, None)
    for order in (h.market(BUY, "0.01"), h.market(SELL, "0.01")):
        denial = h.risk.check(order)
        assert denial is not None and denial.code == "REDUCING_ONLY"
        assert "no position" in denial.reason


def test_reducing_counts_working_reducing_orders(make: Make) -> None:
    h = make(RiskConfig())
    h.position_fill(BUY, "0.05", "60000")
    h.submit(h.limit(SELL, "0.03", "61000"))  # already reducing 0.03
    h.submit(h.limit(BUY, "0.01", "59000"))  # a working buy does not change what is reducible
    h.risk.set_trading_state(TradingState.REDUCING, "operator")
    assert h.risk.check(h.limit(SELL, "0.02", "61000")) is None
    denial = h.risk.check(h.limit(SELL, "0.02001", "61000"))
    assert denial is not None
    assert denial.details["working_reducing"] == "0.03000" and denial.details["reducible"] == "0.02000"


def test_reducing_orders_still_pass_the_other_checks(make: Make) -> None:
    h = make(RiskConfig(max_order_qty="0.01"))
    h.position_fill(BUY, "0.05", "60000")
    h.risk.set_trading_state(TradingState.REDUCING, "operator")
    denial = h.risk.check(h.market(SELL, "0.02"))
    assert denial is not None and denial.code == "MAX_ORDER_QTY"
