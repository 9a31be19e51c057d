"""The order transition table, exhaustively: every status x every event kind.

Each status is reached by applying valid events to a fresh stop-limit order (the one order type
that can pass through every status), then one event of each kind is applied. Allowed pairs
must land on the table's status; every other pair must raise InvalidStateTransition and leave
the order exactly as it was.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot4.core.errors import DuplicateFillError, ImpossibleFillError, InvalidStateTransition
from bot4.core.ids import AccountId, ClientOrderId, TradeId, VenueOrderId
from bot4.core.numbers import Money, Quantity
from bot4.model.enums import LiquiditySide, OrderSide, OrderStatus
from bot4.model.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderDenied,
    OrderEvent,
    OrderEventKind,
    OrderExpired,
    OrderFilled,
    OrderModifyRejected,
    OrderRejected,
    OrderSubmitted,
    OrderTriggered,
    OrderUpdated,
)
from bot4.model.orders import TRANSITIONS, Order
from bot4.testkit import USDT, btcusdt, strategy_id

INST = btcusdt()
ONE_LOT = INST.make_qty("0.001")
S = OrderStatus
K = OrderEventKind


def new_order() -> Order:
    return Order.stop_limit(
        client_order_id=ClientOrderId("O-1"),
        strategy_id=strategy_id(),
        instrument_id=INST.id,
        side=OrderSide.BUY,
        quantity=INST.make_qty("0.010"),
        price=INST.make_price("60000.00"),
        trigger_price=INST.make_price("59990.00"),
        ts_init=1_000,
    )


def common(order: Order, ts: int) -> dict[str, Any]:
    return {
        "client_order_id": order.client_order_id,
        "instrument_id": order.instrument_id,
        "strategy_id": order.strategy_id,
        "ts_event": ts,
        "ts_init": ts,
    }


def fill_of(order: Order, qty: Quantity, trade_id: str, ts: int) -> OrderFilled:
    return OrderFilled(
        **common(order, ts),
        venue_order_id=VenueOrderId("V-1"),
        trade_id=TradeId(trade_id),
        order_side=order.side,
        last_qty=qty,
        last_px=INST.make_price("60000.00"),
        commission=Money.of("0.06", USDT),
        liquidity_side=LiquiditySide.TAKER,
    )


def event_of(kind: OrderEventKind, order: Order, ts: int, trade_id: str = "T-X") -> OrderEvent:
    """An event that the order classifies as ``kind`` (fills sized against its leaves)."""
    c = common(order, ts)
    if kind is K.DENIED:
        return OrderDenied(**c, code="RISK", reason="denied by risk")
    if kind is K.SUBMITTED:
        return OrderSubmitted(**c, account_id=AccountId("SIM-001"))
    if kind is K.ACCEPTED:
        return OrderAccepted(**c, venue_order_id=VenueOrderId("V-1"))
    if kind is K.REJECTED:
        return OrderRejected(**c, code="-2010", reason="insufficient balance")
    if kind is K.TRIGGERED:
        return OrderTriggered(**c)
    if kind is K.UPDATED:
        return OrderUpdated(
            **c,
            quantity=order.quantity + ONE_LOT,
            price=INST.make_price("59000.00"),
            trigger_price=INST.make_price("58990.00"),
        )
    if kind is K.FILLED_PARTIAL:
        assert order.leaves_raw == 0 or order.leaves_raw > ONE_LOT.raw
        return fill_of(order, ONE_LOT, trade_id, ts)
    if kind is K.FILLED_FULL:
        # A FILLED order has nothing left: any fill on it is "full" and also an overfill.
        qty = order.leaves_qty if order.leaves_raw > 0 else ONE_LOT
        return fill_of(order, qty, trade_id, ts)
    if kind is K.CANCELED:
        return OrderCanceled(**c, reason="user")
    if kind is K.EXPIRED:
        return OrderExpired(**c)
    if kind is K.CANCEL_REJECTED:
        return OrderCancelRejected(**c, reason="unknown order")
    if kind is K.MODIFY_REJECTED:
        return OrderModifyRejected(**c, reason="would cross")
    raise AssertionError(kind)


# How to reach each status from INITIALIZED with valid events.
PATHS: dict[OrderStatus, list[OrderEventKind]] = {
    S.INITIALIZED: [],
    S.DENIED: [K.DENIED],
    S.SUBMITTED: [K.SUBMITTED],
    S.ACCEPTED: [K.SUBMITTED, K.ACCEPTED],
    S.REJECTED: [K.SUBMITTED, K.REJECTED],
    S.TRIGGERED: [K.SUBMITTED, K.ACCEPTED, K.TRIGGERED],
    S.PARTIALLY_FILLED: [K.SUBMITTED, K.ACCEPTED, K.FILLED_PARTIAL],
    S.FILLED: [K.SUBMITTED, K.ACCEPTED, K.FILLED_PARTIAL, K.FILLED_FULL],
    S.CANCELED: [K.SUBMITTED, K.ACCEPTED, K.FILLED_PARTIAL, K.CANCELED],
    S.EXPIRED: [K.SUBMITTED, K.ACCEPTED, K.EXPIRED],
}


def order_in(status: OrderStatus) -> Order:
    order = new_order()
    for step, kind in enumerate(PATHS[status]):
        order.apply(event_of(kind, order, 1_001 + step, trade_id=f"T-{step}"))
    assert order.status is status
    return order


def state(order: Order) -> tuple[Any, ...]:
    return (
        order.status,
        order.filled_qty,
        len(order.events),
        order.quantity,
        order.price,
        order.trigger_price,
        order.venue_order_id,
        order.ts_last,
        dict(order.commissions),
    )


def test_paths_reach_every_status() -> None:
    assert set(PATHS) == set(OrderStatus)


def test_transition_table_covers_only_known_statuses_and_kinds() -> None:
    for (status, kind), target in TRANSITIONS.items():
        assert isinstance(status, OrderStatus)
        assert isinstance(kind, OrderEventKind)
        assert isinstance(target, OrderStatus)


PAIRS = [(status, kind) for status in OrderStatus for kind in OrderEventKind]


@pytest.mark.parametrize(
    ("status", "kind"), PAIRS, ids=[f"{s.value}-{k.value}" for s, k in PAIRS]
)
def test_order_event_moves_status_per_table_or_raises_unchanged(
    status: OrderStatus, kind: OrderEventKind
) -> None:
    order = order_in(status)
    event = event_of(kind, order, 5_000)
    before = state(order)
    target = TRANSITIONS.get((status, kind))
    if target is None:
        with pytest.raises(InvalidStateTransition) as excinfo:
            order.apply(event)
        assert excinfo.value.context["status"] == status.value
        assert state(order) == before
        return
    order.apply(event)
    assert order.status is target
    assert len(order.events) == before[2] + 1
    assert order.last_event is event
    assert order.ts_last == 5_000
    if kind is K.FILLED_FULL:
        assert order.leaves_raw == 0
    if kind is K.FILLED_PARTIAL:
        assert order.filled_qty == before[1] + ONE_LOT
    if kind is K.UPDATED:
        assert order.quantity == before[3] + ONE_LOT
        assert order.price == INST.make_price("59000.00")
        assert order.trigger_price == INST.make_price("58990.00")
    if kind in (K.CANCEL_REJECTED, K.MODIFY_REJECTED):
        assert state(order)[3:7] == before[3:7]


@pytest.mark.parametrize("status", [s for s in OrderStatus if s.is_terminal], ids=lambda s: s.value)
def test_terminal_status_has_no_outgoing_transition(status: OrderStatus) -> None:
    assert [kind for kind in OrderEventKind if (status, kind) in TRANSITIONS] == []


@pytest.mark.parametrize("status", [s for s in OrderStatus if not s.is_terminal], ids=lambda s: s.value)
def test_non_terminal_status_has_an_outgoing_transition(status: OrderStatus) -> None:
    assert any((status, kind) in TRANSITIONS for kind in OrderEventKind)


@pytest.mark.parametrize("status", [s for s in OrderStatus if not s.is_terminal], ids=lambda s: s.value)
def test_non_terminal_status_can_reach_a_terminal_status(status: OrderStatus) -> None:
    seen = {status}
    frontier = [status]
    while frontier:
        current = frontier.pop()
        for (src, _), dst in TRANSITIONS.items():
            if src is current and dst not in seen:
                seen.add(dst)
                frontier.append(dst)
    assert any(s.is_terminal for s in seen)


def test_terminal_statuses_are_denied_rejected_filled_canceled_expired() -> None:
    assert {s for s in OrderStatus if s.is_terminal} == {
        S.DENIED,
        S.REJECTED,
        S.FILLED,
        S.CANCELED,
        S.EXPIRED,
    }


def test_open_statuses_are_the_working_ones_and_can_be_canceled() -> None:
    open_statuses = {s for s in OrderStatus if s.is_open}
    assert open_statuses == {S.SUBMITTED, S.ACCEPTED, S.TRIGGERED, S.PARTIALLY_FILLED}
    for status in open_statuses:
        assert TRANSITIONS[(status, K.CANCELED)] is S.CANCELED


# -- random event sequences ---------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(list(OrderEventKind)), st.integers(min_value=1, max_value=12)),
        max_size=25,
    )
)
def test_random_event_sequence_follows_table_and_never_overfills(
    steps: list[tuple[OrderEventKind, int]],
) -> None:
    order = new_order()
    for n, (kind, lots) in enumerate(steps):
        if kind in (K.FILLED_PARTIAL, K.FILLED_FULL):
            event: OrderEvent = fill_of(order, Quantity(ONE_LOT.raw * lots, 5), f"T-{n}", 2_000 + n)
        else:
            event = event_of(kind, order, 2_000 + n)
        before = state(order)
        expected = order.would_transition(event)
        try:
            order.apply(event)
        except (InvalidStateTransition, ImpossibleFillError, DuplicateFillError):
            assert state(order) == before
            continue
        assert expected is not None
        assert order.status is expected
        assert not before[0].is_terminal
        assert 0 <= order.filled_raw <= order.quantity.raw
        assert (order.status is S.FILLED) == (order.filled_raw == order.quantity.raw and order.filled_raw > 0)
