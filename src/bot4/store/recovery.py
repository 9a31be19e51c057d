"""Start-up recovery: rebuild the node's state from the store, then check it against the venues.

The order is fixed, because each step relies on the one before:

1. open orders are rebuilt from their stored spec and replayed events, exactly as they were
   when their last event was committed, and handed to the execution engine (``restore``);
2. positions are rebuilt by replaying every stored fill into the portfolio (exact), and
   compared with the last stored position snapshots; a difference is reported;
3. the last reported balances are handed to the portfolio;
4. the recorder is attached, so what happens next is journaled;
5. each venue's report (its open orders and our recent fills) goes through the execution
   engine's reconciliation: orders that were in flight at the crash, fills we never stored,
   orders the venue no longer has. Every repair is published as an event (and so journaled);
6. a ``recovery`` journal entry records what was loaded and repaired.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import msgspec

from bot4.core.clock import Clock
from bot4.core.ids import ClientOrderId, InstrumentId, StrategyId
from bot4.core.numbers import Price, Quantity
from bot4.execution.engine import ExecutionEngine
from bot4.execution.reconciliation import VenueReport, reconcile
from bot4.model.enums import OrderSide, OrderType, TimeInForce
from bot4.model.events import OrderFilled
from bot4.model.orders import Order
from bot4.portfolio.portfolio import Portfolio
from bot4.store.recorder import Recorder
from bot4.store.records import EntryKind, OrderSpec, decode_order_event
from bot4.store.store import Store

__all__ = ["RecoveryReport", "rebuild_order", "recover"]

_spec_decoder = msgspec.json.Decoder(OrderSpec)


class RecoveryReport(msgspec.Struct, kw_only=True):
    """What recovery loaded and what it had to repair."""

    last_seq: int
    open_orders: list[str]
    fills_replayed: int
    positions: dict[str, str]
    position_mismatches: list[str]
    balances: int
    repairs: list[str]
    external_orders: list[str]
    replayed_from_spill: int

    @property
    def clean(self) -> bool:
        return not (self.repairs or self.position_mismatches or self.external_orders)


def rebuild_order(spec_json: str, event_payloads: Sequence[str]) -> Order:
    """An order as its stored spec and events describe it."""
    s = _spec_decoder.decode(spec_json)
    order = Order(
        client_order_id=ClientOrderId(s.client_order_id),
        strategy_id=StrategyId(s.strategy_id),
        instrument_id=InstrumentId.from_str(s.instrument_id),
        side=OrderSide[s.side],
        order_type=OrderType(s.order_type),
        quantity=Quantity.from_str(s.quantity),
        ts_init=s.ts_init,
        price=None if s.price is None else Price.from_str(s.price),
        trigger_price=None if s.trigger_price is None else Price.from_str(s.trigger_price),
        time_in_force=TimeInForce(s.time_in_force),
        expire_time_ns=s.expire_time_ns,
        post_only=s.post_only,
        reduce_only=s.reduce_only,
    )
    for payload in event_payloads:
        order.apply(decode_order_event(payload).event)
    return order


async def recover(
    store: Store,
    execution: ExecutionEngine,
    portfolio: Portfolio,
    recorder: Recorder,
    clock: Clock,
    venue_reports: Sequence[VenueReport] = (),
) -> RecoveryReport:
    """Run the steps in the module docstring; return (and journal) what happened."""
    last_seq = await store.last_seq()

    open_rows = await store.orders(open_only=True)
    events = await store.order_events([row["client_order_id"] for row in open_rows])
    by_order: dict[str, list[str]] = {}
    for event in events:
        by_order.setdefault(event["client_order_id"], []).append(event["payload"])
    open_orders: list[str] = []
    for row in open_rows:
        order = rebuild_order(row["spec"], by_order.get(row["client_order_id"], []))
        execution.restore(order)
        open_orders.append(str(order.client_order_id))

    fills = await store.fill_events()
    for row in fills:
        fill = decode_order_event(row["payload"]).event
        if isinstance(fill, OrderFilled):
            portfolio.on_fill(fill)
    rebuilt = {str(p.instrument_id): p for p in portfolio.positions()}
    mismatches: list[str] = []
    positions: dict[str, str] = {}
    for snap in await store.positions():
        key = snap["instrument_id"]
        position = rebuilt.get(key)
        signed = Decimal(snap["signed_qty"])
        have = Decimal(0) if position is None else position.signed_qty
        positions[key] = format(have.normalize(), "f")
        if have != signed:
            mismatches.append(f"{key}: stored snapshot {signed}, fills give {have}")

    accounts = await store.latest_account_states()
    for account_state in accounts:
        portfolio.on_account_state(account_state)

    recorder.attach()
    repairs: list[str] = []
    external: list[str] = []
    for report in venue_reports:
        result = reconcile(execution, report)
        repairs.extend(f"{r.kind} {r.client_order_id}: {r.detail}" for r in result.repairs)
        external.extend(result.external_orders)

    summary = RecoveryReport(
        last_seq=last_seq,
        open_orders=open_orders,
        fills_replayed=len(fills),
        positions=positions,
        position_mismatches=mismatches,
        balances=sum(len(a.balances) for a in accounts),
        repairs=repairs,
        external_orders=external,
        replayed_from_spill=store.replayed_from_spill,
    )
    recorder.record(EntryKind.RECOVERY, summary, clock.timestamp_ns())
    return summary
