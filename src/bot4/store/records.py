"""What the journal holds, and how each entry becomes rows in the query tables.

Every entry is appended to ``journal`` (the history, gap-free per node) and *projected* into the
tables that answer questions: ``orders`` (current state), ``order_events``, ``fills``,
``positions`` and ``balances``. Projection is idempotent, so a batch written twice (a retry
after a connection died mid-commit, a spill file replayed after a crash) changes nothing the
second time: inserts are keyed by ``(node_id, seq)`` or by venue and trade id, and an order's
row only moves forward (``last_seq``).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import msgspec

from bot4.core.numbers import Money
from bot4.model.account import AccountState
from bot4.model.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderDenied,
    OrderExpired,
    OrderFilled,
    OrderModifyRejected,
    OrderRejected,
    OrderSubmitted,
    OrderTriggered,
    OrderUpdated,
)
from bot4.model.orders import Order
from bot4.model.position import PositionChanged
from bot4.store.backend import WriteGroup

__all__ = [
    "AnyOrderEvent",
    "Entry",
    "EntryKind",
    "OrderEventRecord",
    "OrderSpec",
    "OrderState",
    "decode_order_event",
    "order_spec",
    "order_state",
    "project",
]

AnyOrderEvent = (
    OrderDenied
    | OrderSubmitted
    | OrderAccepted
    | OrderRejected
    | OrderTriggered
    | OrderUpdated
    | OrderFilled
    | OrderCanceled
    | OrderExpired
    | OrderCancelRejected
    | OrderModifyRejected
)


class EntryKind:
    """The kinds of journal entry (plain strings: they are stored)."""

    ORDER_SPEC = "order.spec"
    ORDER_EVENT = "order.event"
    POSITION = "position"
    ACCOUNT = "account"
    RISK_STATE = "risk.state"
    CIRCUIT = "circuit"
    STREAM = "stream"
    RECOVERY = "recovery"


class Entry(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """One journal entry; ``payload`` is JSON text."""

    seq: int
    ts_ns: int
    kind: str
    payload: str


class OrderSpec(msgspec.Struct, frozen=True, kw_only=True):
    """Everything needed to rebuild an :class:`Order` before its events are applied."""

    client_order_id: str
    strategy_id: str
    instrument_id: str
    side: str
    order_type: str
    quantity: str
    price: str | None
    trigger_price: str | None
    time_in_force: str
    expire_time_ns: int | None
    post_only: bool
    reduce_only: bool
    ts_init: int


class OrderState(msgspec.Struct, frozen=True, kw_only=True):
    """An order's state right after an event: what the ``orders`` row shows."""

    status: str
    filled_qty: str
    avg_px: str | None
    venue_order_id: str | None
    ts_last: int


class OrderEventRecord(msgspec.Struct, frozen=True, kw_only=True):
    event: AnyOrderEvent
    state: OrderState


_record_decoder = msgspec.json.Decoder(OrderEventRecord)


def decode_order_event(payload: str | bytes) -> OrderEventRecord:
    return _record_decoder.decode(payload)


def order_spec(order: Order) -> OrderSpec:
    return OrderSpec(
        client_order_id=str(order.client_order_id),
        strategy_id=str(order.strategy_id),
        instrument_id=str(order.instrument_id),
        side=order.side.name,
        order_type=order.order_type.value,
        quantity=str(order.quantity),
        price=None if order.price is None else str(order.price),
        trigger_price=None if order.trigger_price is None else str(order.trigger_price),
        time_in_force=order.time_in_force.value,
        expire_time_ns=order.expire_time_ns,
        post_only=order.post_only,
        reduce_only=order.reduce_only,
        ts_init=order.ts_init,
    )


def order_state(order: Order) -> OrderState:
    avg = order.avg_px
    return OrderState(
        status=order.status.value,
        filled_qty=str(order.filled_qty),
        avg_px=None if avg is None else _plain(avg),
        venue_order_id=None if order.venue_order_id is None else str(order.venue_order_id),
        ts_last=order.ts_last,
    )


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _money(money: Money) -> str:
    return str(money.as_decimal())


_J = "INSERT INTO journal (node_id, seq, run_id, ts_ns, kind, payload) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (node_id, seq) DO NOTHING"
_ORDER_NEW = (
    "INSERT INTO orders (client_order_id, node_id, run_id, strategy_id, instrument_id, venue_order_id, side, "
    "order_type, quantity, price, trigger_price, time_in_force, status, filled_qty, avg_px, spec, ts_init, "
    "ts_last, last_seq) VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, 'INITIALIZED', '0', NULL, ?, ?, ?, ?) "
    "ON CONFLICT (client_order_id) DO NOTHING"
)
_ORDER_EVENT = (
    "INSERT INTO order_events (node_id, seq, client_order_id, kind, ts_event, payload) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (node_id, seq) DO NOTHING"
)
_ORDER_STATE = (
    "UPDATE orders SET status = ?, filled_qty = ?, avg_px = ?, venue_order_id = ?, ts_last = ?, last_seq = ? "
    "WHERE client_order_id = ? AND last_seq < ?"
)
_FILL = (
    "INSERT INTO fills (venue, trade_id, node_id, run_id, seq, client_order_id, venue_order_id, instrument_id, "
    "side, last_qty, last_px, commission, commission_currency, liquidity_side, ts_event) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (venue, trade_id) DO NOTHING"
)
_POSITION = (
    "INSERT INTO positions (node_id, seq, run_id, instrument_id, side, quantity, signed_qty, avg_px_open, "
    "realized_pnl, fees_paid, currency, ts_event) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (node_id, seq, instrument_id) DO NOTHING"
)
_BALANCE = (
    "INSERT INTO balances (node_id, seq, run_id, account_id, currency, total, locked, free, ts_event) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (node_id, seq, account_id, currency) DO NOTHING"
)
# Execution order inside one transaction: an order's row exists before its updates.
_ORDER = (_J, _ORDER_NEW, _ORDER_EVENT, _ORDER_STATE, _FILL, _POSITION, _BALANCE)

_position_decoder = msgspec.json.Decoder(PositionChanged)
_account_decoder = msgspec.json.Decoder(AccountState)
_spec_decoder = msgspec.json.Decoder(OrderSpec)


def project(entries: Iterable[Entry], node_id: str, run_id: str) -> list[WriteGroup]:
    """The statements that store ``entries``: the journal rows and every projection."""
    rows: dict[str, list[tuple[Any, ...]]] = {sql: [] for sql in _ORDER}
    for e in entries:
        rows[_J].append((node_id, e.seq, run_id, e.ts_ns, e.kind, e.payload))
        if e.kind == EntryKind.ORDER_EVENT:
            _project_order_event(rows, e, node_id, run_id)
        elif e.kind == EntryKind.ORDER_SPEC:
            s = _spec_decoder.decode(e.payload)
            rows[_ORDER_NEW].append((
                s.client_order_id, node_id, run_id, s.strategy_id, s.instrument_id, s.side, s.order_type,
                s.quantity, s.price, s.trigger_price, s.time_in_force, e.payload, s.ts_init, s.ts_init, e.seq,
            ))
        elif e.kind == EntryKind.POSITION:
            p = _position_decoder.decode(e.payload)
            rows[_POSITION].append((
                node_id, e.seq, run_id, str(p.instrument_id), p.side.value, str(p.quantity),
                _plain(p.signed_qty), None if p.avg_px_open is None else _plain(p.avg_px_open),
                _money(p.realized_pnl), _money(p.fees_paid), p.realized_pnl.currency.code, p.ts_event,
            ))
        elif e.kind == EntryKind.ACCOUNT:
            a = _account_decoder.decode(e.payload)
            for b in a.balances:
                rows[_BALANCE].append((
                    node_id, e.seq, run_id, str(a.account_id), b.total.currency.code,
                    _money(b.total), _money(b.locked), _money(b.free), a.ts_event,
                ))
    return [(sql, rows[sql]) for sql in _ORDER if rows[sql]]


def _project_order_event(rows: dict[str, list[tuple[Any, ...]]], e: Entry, node_id: str, run_id: str) -> None:
    record = _record_decoder.decode(e.payload)
    event, state = record.event, record.state
    cid = str(event.client_order_id)
    rows[_ORDER_EVENT].append((node_id, e.seq, cid, type(event).__name__, event.ts_event, e.payload))
    rows[_ORDER_STATE].append((
        state.status, state.filled_qty, state.avg_px, state.venue_order_id, state.ts_last, e.seq, cid, e.seq,
    ))
    if isinstance(event, OrderFilled):
        rows[_FILL].append((
            str(event.instrument_id.venue), str(event.trade_id), node_id, run_id, e.seq, cid,
            None if event.venue_order_id is None else str(event.venue_order_id), str(event.instrument_id),
            event.order_side.name, str(event.last_qty), str(event.last_px), _money(event.commission),
            event.commission.currency.code, event.liquidity_side.value, event.ts_event,
        ))
