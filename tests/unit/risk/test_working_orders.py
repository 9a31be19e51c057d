"""How the risk engine keeps count of working orders: submissions, order events, the orders view."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot4.core import VenueOrderId
from bot4.model import OrderRejected, OrderSide, OrderUpdated
from bot4.risk import RiskConfig, RiskEngine

BUY = OrderSide.BUY
SELL = OrderSide.SELL
Make = Callable[..., Any]


def test_working_orders_are_counted_until_they_end(make: Make) -> None:
    h = make(RiskConfig())
    a = h.submit(h.limit(BUY, "0.01", "59000"))
    b = h.submit(h.limit(SELL, "0.02", "61000"))
    c = h.submit(h.limit(BUY, "0.1", "3000", instrument=h.eth))
    assert h.risk.open_order_count() == 3
    assert h.risk.open_order_count(h.btc.id) == 2
    h.accept(a)
    h.fill(a, "0.004")
    assert h.risk.open_order_count(h.btc.id) == 2
    h.fill(a, "0.006")
    h.cancel(b)
    now = h.clock.timestamp_ns()
    h.execution.process(
        OrderRejected(
            client_order_id=c.client_order_id, instrument_id=c.instrument_id, strategy_id=c.strategy_id,
            code="X", reason="no", ts_event=now, ts_init=now,
        )
    )
    assert h.risk.open_order_count() == 0


def test_leaves_follow_partial_fills_and_amendments(make: Make) -> None:
    h = make(RiskConfig(max_position="1"))
    order = h.submit(h.limit(BUY, "0.5", "59000"))
    h.accept(order)
    h.fill(order, "0.2")
    now = h.clock.timestamp_ns()
    h.execution.process(
        OrderUpdated(
            client_order_id=order.client_order_id, instrument_id=order.instrument_id,
            strategy_id=order.strategy_id, quantity=h.btc.make_qty("0.8"),
            venue_order_id=VenueOrderId("V"), ts_event=now, ts_init=now,
        )
    )
    # position 0.2 + leaves 0.6 = 0.8: room for 0.2 more
    assert h.risk.check(h.limit(BUY, "0.2", "59000")) is None
    assert h.risk.check(h.limit(BUY, "0.20001", "59000")) is not None


def test_risk_engine_counts_open_orders_it_did_not_see_leave(make: Make) -> None:
    h = make(None)  # orders go out before any risk engine exists
    h.execution.submit_order(h.limit(BUY, "0.01", "59000"))
    h.execution.submit_order(h.limit(BUY, "0.01", "59000"))
    risk = h.attach(RiskConfig(max_open_orders=3))
    assert risk.open_order_count() == 2  # read from the orders view at start
    assert risk.check(h.limit(BUY, "0.01", "59000")) is None
    h.submit(h.limit(BUY, "0.01", "59000"))
    assert risk.check(h.limit(BUY, "0.01", "59000")) is not None


def test_a_second_risk_engine_learns_orders_from_bus_events_and_the_view(make: Make) -> None:
    h = make(RiskConfig())
    observer = RiskEngine(RiskConfig(), h.clock, h.bus, h.portfolio, h.instruments, h.execution)
    order = h.submit(h.limit(BUY, "0.01", "59000"))  # only the first engine is asked
    assert observer.open_order_count() == 1
    h.cancel(order)
    assert observer.open_order_count() == 0


def test_without_an_orders_view_only_submitted_orders_are_counted(make: Make) -> None:
    h = make(RiskConfig(), with_orders_view=False)
    order = h.submit(h.limit(BUY, "0.01", "59000"))
    assert h.risk.open_order_count() == 1
    h.cancel(order)
    assert h.risk.open_order_count() == 0
    assert h.risk.stats.submitted == 1
