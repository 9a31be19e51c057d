"""The risk engine in front of a real ExecutionEngine: denials become OrderDenied events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot4.model import OrderDenied, OrderSide, OrderStatus, OrderSubmitted
from bot4.risk import RiskConfig, TradingState, every_check_config

BUY = OrderSide.BUY
SELL = OrderSide.SELL
Make = Callable[..., Any]


def test_execution_engine_denies_over_limit_order_with_the_risk_code_and_details(make: Make) -> None:
    h = make(RiskConfig(max_order_notional="1000"))
    order = h.limit(BUY, "0.02", "60000")  # 1200 USDT
    h.execution.submit_order(order)
    assert order.status is OrderStatus.DENIED
    assert h.client.submitted == []
    denied = h.order_events[-1]
    assert isinstance(denied, OrderDenied)
    assert denied.code == "MAX_ORDER_NOTIONAL"
    assert denied.details == {
        "instrument": "BTCUSDT.SIM",
        "limit": "1000.00000000",
        "value": "1200.00000000",
        "price": "60000.00",
        "quantity": "0.02000",
    }
    assert "above the max order notional" in denied.reason
    assert h.execution.stats.denied == 1 and h.risk.stats.by_code == {"MAX_ORDER_NOTIONAL": 1}


def test_execution_engine_sends_an_order_that_passes_every_check(make: Make) -> None:
    h = make(every_check_config())
    order = h.limit(BUY, "0.01", "60000")
    h.execution.submit_order(order)
    assert h.client.submitted == [order]
    assert isinstance(h.order_events[-1], OrderSubmitted)
    assert h.risk.stats.submitted == 1 and h.risk.open_order_count() == 1


def test_kill_switch_stops_orders_at_the_execution_engine(make: Make) -> None:
    h = make(RiskConfig())
    h.risk.set_trading_state(TradingState.HALTED, "operator: stop")
    order = h.market(SELL, "0.01")
    h.execution.submit_order(order)
    assert order.status is OrderStatus.DENIED and h.client.submitted == []
    denied = h.order_events[-1]
    assert isinstance(denied, OrderDenied) and denied.code == "TRADING_HALTED"
    assert denied.details["state"] == "HALTED"


def test_every_check_config_runs_with_all_checks_on_a_normal_order_flow(make: Make) -> None:
    h = make(every_check_config(), usdt="1000000", btc="10")
    for i in range(20):
        side = BUY if i % 2 == 0 else SELL
        order = h.submit(h.market(side, "0.01"))
        h.fill(order, "0.01", "60000.00")
    assert h.risk.stats.denied == 0 and h.risk.stats.checks == 20
    assert h.risk.trading_state is TradingState.ACTIVE
