"""Reconciliation: repair local order state from what the venue says is true.

Used on start (after recovery from the store) and after every reconnect. The venue's report
lists its open orders, its fills since some time, and its balances. Local state is repaired
only by feeding the execution engine the events that were missed, so every repair goes
through the transition table and reaches the portfolio and strategies like any live event:

- a reported fill whose trade id the order has not seen -> ``OrderFilled``;
- an order the venue lists as open but we still hold as SUBMITTED -> ``OrderAccepted``;
- an order the venue lists as open with more filled than our fills explain, and no fill
  report for the difference -> an ``OrderFilled`` for the difference at the reported
  average price, with an inferred trade id (``RECON-<venue order id>-<filled raw>``);
- a local open order the venue no longer lists and whose fills do not complete it ->
  ``OrderCanceled`` (reason ``not open at venue``);
- an open order at the venue we have never seen -> adopted as an external order (strategy
  ``EXTERNAL``) and accepted, so risk counts it and an operator sees it;
- balances -> the venue's ``AccountState``.

Each repair is recorded as a :class:`Repair` line a person can read.
"""

from __future__ import annotations

import msgspec

from bot4.core.ids import ClientOrderId, InstrumentId, StrategyId, TradeId, Venue, VenueOrderId
from bot4.core.numbers import Currency, Money, Price, Quantity
from bot4.execution.engine import ExecutionEngine
from bot4.model.account import AccountState
from bot4.model.enums import LiquiditySide, OrderSide, OrderStatus, OrderType, TimeInForce
from bot4.model.events import OrderAccepted, OrderCanceled, OrderFilled, OrderSubmitted
from bot4.model.orders import Order

__all__ = [
    "EXTERNAL_STRATEGY",
    "FillReport",
    "OrderStatusReport",
    "ReconciliationResult",
    "Repair",
    "VenueReport",
    "reconcile",
]

EXTERNAL_STRATEGY = StrategyId("EXTERNAL")


class OrderStatusReport(msgspec.Struct, frozen=True, kw_only=True):
    """One order as the venue sees it now."""

    instrument_id: InstrumentId
    venue_order_id: VenueOrderId
    client_order_id: ClientOrderId | None
    side: OrderSide
    order_type: OrderType
    quantity: Quantity
    price: Price | None
    trigger_price: Price | None = None
    filled_qty: Quantity
    avg_px: Price | None
    status: OrderStatus
    ts_last: int


class FillReport(msgspec.Struct, frozen=True, kw_only=True):
    """One of our trades as the venue recorded it."""

    instrument_id: InstrumentId
    venue_order_id: VenueOrderId
    client_order_id: ClientOrderId | None
    trade_id: TradeId
    side: OrderSide
    last_qty: Quantity
    last_px: Price
    commission: Money
    liquidity_side: LiquiditySide
    ts_event: int


class VenueReport(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the venue told us in one reconciliation pass."""

    venue: Venue
    open_orders: list[OrderStatusReport]
    fills: list[FillReport]
    account: AccountState | None = None
    ts: int = 0


class Repair(msgspec.Struct, frozen=True):
    kind: str
    client_order_id: str
    detail: str


class ReconciliationResult(msgspec.Struct, kw_only=True):
    venue: str
    repairs: list[Repair]
    external_orders: list[str]

    @property
    def clean(self) -> bool:
        return not self.repairs


def reconcile(engine: ExecutionEngine, report: VenueReport) -> ReconciliationResult:
    """Bring the engine in line with ``report``; return what was repaired."""
    repairs: list[Repair] = []
    external: list[str] = []
    now = report.ts
    by_venue_id = {o.venue_order_id: o for o in engine.orders() if o.venue_order_id is not None}

    def find(client_id: ClientOrderId | None, venue_id: VenueOrderId) -> Order | None:
        if client_id is not None:
            order = engine.order(client_id)
            if order is not None:
                return order
        return by_venue_id.get(venue_id)

    if report.account is not None:
        engine.process(report.account)

    # Fills first: they explain most differences in status.
    for fill in sorted(report.fills, key=lambda f: (f.ts_event, f.trade_id.value)):
        order = find(fill.client_order_id, fill.venue_order_id)
        if order is None or order.has_trade(fill.trade_id):
            continue
        _ensure_submitted(engine, order, now)
        engine.process(
            OrderFilled(
                client_order_id=order.client_order_id,
                instrument_id=order.instrument_id,
                strategy_id=order.strategy_id,
                venue_order_id=fill.venue_order_id,
                trade_id=fill.trade_id,
                order_side=fill.side,
                last_qty=fill.last_qty,
                last_px=fill.last_px,
                commission=fill.commission,
                liquidity_side=fill.liquidity_side,
                ts_event=fill.ts_event,
                ts_init=now,
            )
        )
        repairs.append(Repair("missing_fill", str(order.client_order_id),
                              f"{fill.side.name} {fill.last_qty} @ {fill.last_px} trade {fill.trade_id}"))

    reported_open: set[ClientOrderId] = set()
    for status in report.open_orders:
        order = find(status.client_order_id, status.venue_order_id)
        if order is None:
            order = _adopt(engine, status, now)
            external.append(str(order.client_order_id))
            repairs.append(Repair("external_order", str(order.client_order_id),
                                  f"venue order {status.venue_order_id} was not ours; adopted"))
        reported_open.add(order.client_order_id)
        if order.status is OrderStatus.SUBMITTED:
            engine.process(_accepted(order, status.venue_order_id, now))
            repairs.append(Repair("missing_ack", str(order.client_order_id), f"accepted as {status.venue_order_id}"))
        missing = status.filled_qty.raw - order.filled_raw
        if missing > 0 and status.avg_px is not None:
            trade_id = TradeId(f"RECON-{status.venue_order_id}-{status.filled_qty.raw}")
            if not order.has_trade(trade_id):
                quote = engine.instrument(order.instrument_id).quote_currency
                engine.process(_inferred_fill(order, status, missing, trade_id, now, quote))
                repairs.append(Repair("inferred_fill", str(order.client_order_id),
                                      f"{Quantity(missing, status.filled_qty.precision)} @ {status.avg_px} "
                                      "(no fill report; average price)"))

    for order in engine.open_orders():
        if order.instrument_id.venue != report.venue or order.client_order_id in reported_open:
            continue
        engine.process(
            OrderCanceled(
                client_order_id=order.client_order_id,
                instrument_id=order.instrument_id,
                strategy_id=order.strategy_id,
                venue_order_id=order.venue_order_id,
                reason="not open at venue",
                ts_event=now,
                ts_init=now,
            )
        )
        repairs.append(Repair("canceled_while_away", str(order.client_order_id),
                              f"not open at {report.venue}; filled {order.filled_qty} of {order.quantity}"))
    return ReconciliationResult(venue=str(report.venue), repairs=repairs, external_orders=external)


def _ensure_submitted(engine: ExecutionEngine, order: Order, now: int) -> None:
    """An order still INITIALIZED locally (crash before the submit was recorded) is submitted."""
    if order.status is OrderStatus.INITIALIZED:
        engine.process(
            OrderSubmitted(
                client_order_id=order.client_order_id,
                instrument_id=order.instrument_id,
                strategy_id=order.strategy_id,
                account_id=engine.account_id_for(order.instrument_id.venue),
                ts_event=now,
                ts_init=now,
            )
        )


def _accepted(order: Order, venue_order_id: VenueOrderId, now: int) -> OrderAccepted:
    return OrderAccepted(
        client_order_id=order.client_order_id,
        instrument_id=order.instrument_id,
        strategy_id=order.strategy_id,
        venue_order_id=venue_order_id,
        ts_event=now,
        ts_init=now,
    )


def _inferred_fill(order: Order, status: OrderStatusReport, qty_raw: int, trade_id: TradeId,
                   now: int, quote: Currency) -> OrderFilled:
    avg = status.avg_px
    if avg is None:  # guarded by the caller; keeps the type checker honest
        avg = Price(0, 0)
    return OrderFilled(
        client_order_id=order.client_order_id,
        instrument_id=order.instrument_id,
        strategy_id=order.strategy_id,
        venue_order_id=status.venue_order_id,
        trade_id=trade_id,
        order_side=order.side,
        last_qty=Quantity(qty_raw, status.filled_qty.precision),
        last_px=avg,
        commission=Money.zero(quote),  # the venue did not say; recorded as zero
        liquidity_side=LiquiditySide.TAKER,
        ts_event=status.ts_last,
        ts_init=now,
    )


def _adopt(engine: ExecutionEngine, status: OrderStatusReport, now: int) -> Order:
    client_id = status.client_order_id or ClientOrderId(f"EXT-{status.venue_order_id}")
    order = Order(
        client_order_id=client_id,
        strategy_id=EXTERNAL_STRATEGY,
        instrument_id=status.instrument_id,
        side=status.side,
        order_type=status.order_type,
        quantity=status.quantity,
        ts_init=now,
        price=status.price,
        trigger_price=status.trigger_price,
        time_in_force=TimeInForce.GTC,
    )
    engine.adopt(order, now)
    return order
