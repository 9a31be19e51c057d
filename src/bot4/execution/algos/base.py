"""Parent orders: the bookkeeping every execution algorithm shares.

An execution algorithm is a *parent* order worked through *child* orders. Each child is an
ordinary :class:`Order` minted with the strategy's id generator and sent through
:meth:`ExecutionEngine.submit_order`, so the instrument's filters, the risk engine and the OMS
see it like any other order. The parent follows its children only through the order events
the engine publishes on ``events.order.<strategy_id>``; it never reads the wall clock and
never polls, so it behaves the same in a backtest, a paper session and live.

Contract of :class:`ExecutionAlgorithm`:

- One :class:`_Slice` per planned or sent child, reported as a :class:`SliceReport`. A slice
  that executed nothing says so (``NO_EXECUTION``, ``DENIED``, ``REJECTED``, ``MERGED``,
  ``BELOW_MINIMUM``, ``NOT_SENT``) with ``avg_px`` None: a price is never made up.
- Fills are counted from ``OrderFilled`` events (the engine publishes a fill only once it
  applied it, so a repeated trade id is never counted twice); prices are exact.
- A child's end is decided from its events alone (a denial, a rejection, a cancel, an expiry,
  or fills reaching its quantity), so events queued by the bus behind a handler are read in
  the order they happened.
- When the algo has reached a final status and no child is working any more, it stops
  listening and publishes its :class:`AlgoReport` once on ``events.algo.<strategy_id>``.
- A reference price (the best opposite price or last trade from ``data.quotes.<id>``,
  ``data.trades.<id>`` and ``data.book.<id>``, seeded by ``start(reference_price=...)``) is
  kept so that a market child can be checked against the instrument's minimum notional
  before it is sent; with none known, that check is left to the venue.
"""

from __future__ import annotations

from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any, ClassVar

import msgspec

from bot4.core.bus import MessageBus
from bot4.core.clock import Clock
from bot4.core.errors import InvalidOrderError, InvalidStateTransition
from bot4.core.ids import ClientOrderId, InstrumentId, StrategyId, TraderId
from bot4.core.numbers import FIXED_SCALAR, Price, Quantity
from bot4.execution.engine import ExecutionEngine
from bot4.model.book import OrderBook
from bot4.model.data import QuoteTick, TradeTick
from bot4.model.enums import OrderSide, TimeInForce
from bot4.model.events import (
    OrderCanceled,
    OrderDenied,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderUpdated,
)
from bot4.model.instrument import Instrument
from bot4.model.orders import Order

__all__ = [
    "ALGO_TOPIC_PREFIX",
    "BELOW_VENUE_MINIMUM",
    "AlgoKind",
    "AlgoReport",
    "AlgoStatus",
    "ExecutionAlgorithm",
    "SliceOutcome",
    "SliceReport",
]

ALGO_TOPIC_PREFIX = "events.algo."
"""Final reports go to ``events.algo.<strategy_id>``."""

BELOW_VENUE_MINIMUM = "below venue minimum"
"""The residual reason when what is left cannot be sent under the instrument's filters."""


class AlgoStatus(Enum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    CANCELED = "CANCELED"
    FAILED = "FAILED"

    @property
    def is_final(self) -> bool:
        return self in (AlgoStatus.COMPLETED, AlgoStatus.CANCELED, AlgoStatus.FAILED)


class AlgoKind(Enum):
    TWAP = "TWAP"
    ICEBERG = "ICEBERG"


class SliceOutcome(StrEnum):
    """What became of one slice; a string enum, so it reads well in a report."""

    SCHEDULED = "scheduled"  # not due yet
    WORKING = "working"  # child sent and not finished
    FILLED = "filled"
    PARTIALLY_FILLED = "partially filled"  # child ended with part of its quantity filled
    NO_EXECUTION = "no execution"  # child ended with nothing filled (expired, canceled)
    DENIED = "denied"  # refused before the venue: filters or risk
    REJECTED = "rejected"  # refused by the venue
    MERGED = "merged into next slice"  # below the venue minimum, carried forward
    BELOW_MINIMUM = "below venue minimum"  # nothing left to carry it to: residual
    NOT_SENT = "not sent"  # the algo ended before the slice was due


class SliceReport(msgspec.Struct, frozen=True, kw_only=True):
    """One slice: when it was due and sent, its child, and what it executed.

    ``qty`` is what the slice asked for (its child's quantity once sent); ``avg_px`` is None
    whenever nothing filled. ``detail`` carries the reason for a denial, rejection, merge or
    an unfilled end.
    """

    index: int
    scheduled_ns: int
    sent_ns: int | None
    child: ClientOrderId | None
    qty: Quantity
    filled: Quantity
    avg_px: Decimal | None
    outcome: SliceOutcome
    detail: str | None = None


class AlgoReport(msgspec.Struct, frozen=True, kw_only=True):
    """Where a parent order stands: totals, children, every slice, and any residual.

    ``residual_qty`` is the target not filled (so far, while running); ``residual_reason``
    says why once the algo has ended with a residual.
    """

    algo_id: str
    kind: AlgoKind
    instrument_id: InstrumentId
    side: OrderSide
    target_qty: Quantity
    filled_qty: Quantity
    avg_px: Decimal | None
    children: list[ClientOrderId]
    slices: list[SliceReport]
    status: AlgoStatus
    residual_qty: Quantity
    residual_reason: str | None


class _Slice:
    """A slice's mutable state; reported as a :class:`SliceReport`."""

    __slots__ = (
        "cancel_requested", "child", "detail", "filled_raw", "index", "notional",
        "outcome", "qty_raw", "scheduled_ns", "sent_ns",
    )

    def __init__(self, index: int, scheduled_ns: int, qty_raw: int) -> None:
        self.index = index
        self.scheduled_ns = scheduled_ns
        self.qty_raw = qty_raw
        self.sent_ns: int | None = None
        self.child: ClientOrderId | None = None
        self.filled_raw = 0
        self.notional = 0  # sum of last_px.raw * last_qty.raw (scale 1e18), exact
        self.outcome = SliceOutcome.SCHEDULED
        self.detail: str | None = None
        self.cancel_requested = False

    @property
    def unfilled_raw(self) -> int:
        return self.qty_raw - self.filled_raw


def _avg_px(notional: int, filled_raw: int) -> Decimal | None:
    if filled_raw == 0:
        return None
    return Decimal(notional) / Decimal(filled_raw) / FIXED_SCALAR


class ExecutionAlgorithm:
    """A parent order: children sent through the execution engine, followed on the bus.

    Subclasses decide when to send what (``start``, ``cancel`` and the ``_child_filled`` /
    ``_child_ended`` hooks); this class mints, sends, cancels and tracks the children and
    builds the report.
    """

    kind: ClassVar[AlgoKind]

    def __init__(
        self,
        *,
        algo_id: str,
        instrument_id: InstrumentId,
        side: OrderSide,
        quantity: Quantity,
        strategy_id: StrategyId,
        trader_id: TraderId,
        clock: Clock,
        bus: MessageBus,
        execution: ExecutionEngine,
        instrument: Instrument,
    ) -> None:
        """Raise :class:`InvalidOrderError` when the target cannot be traded on ``instrument``."""
        if not algo_id or any(c.isspace() for c in algo_id):
            raise InvalidOrderError("algo_id must be a non-empty name without spaces", algo_id=algo_id)
        if instrument.id != instrument_id:
            raise InvalidOrderError(
                "the algo's instrument differs from the instrument given",
                algo_id=algo_id, expected=str(instrument_id), found=str(instrument.id),
            )
        check_on_step(instrument, quantity, "quantity", algo_id)
        self.algo_id = algo_id
        self.instrument_id = instrument_id
        self.side = side
        self.strategy_id = strategy_id
        self.trader_id = trader_id
        self._target_raw = quantity.raw
        self._clock = clock
        self._bus = bus
        self._execution = execution
        self._instrument = instrument
        self._status = AlgoStatus.PENDING
        self._residual_reason: str | None = None
        self._slices: list[_Slice] = []
        self._by_child: dict[ClientOrderId, _Slice] = {}
        self._working: dict[ClientOrderId, _Slice] = {}
        self._filled_raw = 0
        self._notional = 0
        self._ref_raw: int | None = None  # best opposite price, else last trade
        self._listening = False
        self._published = False
        self._order_topic = f"events.order.{strategy_id}"
        self._data_topics = (
            f"data.quotes.{instrument_id}", f"data.trades.{instrument_id}", f"data.book.{instrument_id}",
        )

    # -- queries ------------------------------------------------------------------------------

    @property
    def status(self) -> AlgoStatus:
        return self._status

    @property
    def filled_qty(self) -> Quantity:
        return Quantity(self._filled_raw, self._instrument.size_precision)

    @property
    def is_done(self) -> bool:
        """Final status reached and no child working: nothing about this algo changes any more."""
        return self._status.is_final and not self._working

    def working_children(self) -> list[ClientOrderId]:
        """Children sent and not yet ended, oldest first."""
        return list(self._working)

    def report(self) -> AlgoReport:
        """A snapshot of the parent order and every slice."""
        size_precision = self._instrument.size_precision
        residual = self._target_raw - self._filled_raw
        return AlgoReport(
            algo_id=self.algo_id,
            kind=self.kind,
            instrument_id=self.instrument_id,
            side=self.side,
            target_qty=Quantity(self._target_raw, size_precision),
            filled_qty=Quantity(self._filled_raw, size_precision),
            avg_px=_avg_px(self._notional, self._filled_raw),
            children=list(self._by_child),
            slices=[
                SliceReport(
                    index=s.index,
                    scheduled_ns=s.scheduled_ns,
                    sent_ns=s.sent_ns,
                    child=s.child,
                    qty=Quantity(s.qty_raw, size_precision),
                    filled=Quantity(s.filled_raw, size_precision),
                    avg_px=_avg_px(s.notional, s.filled_raw),
                    outcome=s.outcome,
                    detail=s.detail,
                )
                for s in self._slices
            ],
            status=self._status,
            residual_qty=Quantity(residual, size_precision),
            residual_reason=self._residual_reason if self._status.is_final and residual > 0 else None,
        )

    # -- for subclasses -----------------------------------------------------------------------

    def _begin(self, reference_price: Price | None = None) -> None:
        """Move to RUNNING and start listening; a second start is a bug in the caller.

        ``reference_price`` seeds the price a market child's notional is checked at, until
        market data on the bus brings a newer one.
        """
        self._ensure_pending()
        if reference_price is not None and reference_price.raw > 0:
            self._ref_raw = reference_price.raw
        self._status = AlgoStatus.RUNNING
        self._listening = True
        self._bus.subscribe(self._order_topic, self._on_order_event)
        for topic in self._data_topics:
            self._bus.subscribe(topic, self._on_market_data)

    def _ensure_pending(self) -> None:
        if self._status is not AlgoStatus.PENDING:
            raise InvalidStateTransition(
                "an algo can be started only once", algo_id=self.algo_id, status=self._status.value
            )

    def _send(self, piece: _Slice, qty_raw: int, price: Price | None, time_in_force: TimeInForce) -> None:
        """Send ``piece``'s child: a market order when ``price`` is None, else a limit order.

        The child is registered before it is submitted: with nothing in flight on the bus, the
        engine publishes its first events (a denial, or a fill at zero latency) from inside
        ``submit_order``.
        """
        now = self._clock.timestamp_ns()
        client_order_id = self._execution.next_client_order_id(self.trader_id, self.strategy_id)
        quantity = Quantity(qty_raw, self._instrument.size_precision)
        if price is None:
            order = Order.market(
                client_order_id=client_order_id, strategy_id=self.strategy_id, instrument_id=self.instrument_id,
                side=self.side, quantity=quantity, ts_init=now, time_in_force=TimeInForce.IOC,
            )
        else:
            order = Order.limit(
                client_order_id=client_order_id, strategy_id=self.strategy_id, instrument_id=self.instrument_id,
                side=self.side, quantity=quantity, price=price, ts_init=now, time_in_force=time_in_force,
            )
        piece.qty_raw = qty_raw
        piece.sent_ns = now
        piece.child = client_order_id
        piece.outcome = SliceOutcome.WORKING
        self._by_child[client_order_id] = piece
        self._working[client_order_id] = piece
        self._execution.submit_order(order)

    def _cancel_working(self) -> None:
        """Ask the venue to cancel every working child; their ends arrive as events."""
        for client_order_id, piece in list(self._working.items()):
            piece.cancel_requested = True
            order = self._execution.order(client_order_id)
            if order is not None:
                self._execution.cancel_order(order)

    def _finish(self, status: AlgoStatus, residual_reason: str | None = None) -> None:
        """Enter a final status; the report goes out once no child is working."""
        if self._status.is_final:
            return
        self._status = status
        if residual_reason is not None:
            self._residual_reason = residual_reason
        self._close_if_done()

    def _below_minimum(self, qty_raw: int, price_raw: int | None) -> str | None:
        """Why ``qty_raw`` at ``price_raw`` (None: the reference price) breaks the venue minimum."""
        instrument = self._instrument
        if qty_raw < instrument.min_quantity:
            return (
                f"quantity {Quantity(qty_raw, instrument.size_precision)} is below min quantity "
                f"{Quantity(instrument.min_quantity, instrument.size_precision)}"
            )
        price = self._ref_raw if price_raw is None else price_raw
        if instrument.min_notional is not None and price is not None:
            notional = instrument.notional_raw(price, qty_raw)
            if notional < instrument.min_notional:
                precision = instrument.quote_currency.precision
                return (
                    f"notional {Price(notional, precision)} at {Price(price, instrument.price_precision)} is below "
                    f"min notional {Price(instrument.min_notional, precision)} {instrument.quote_currency}"
                )
        return None

    def _child_filled(self, piece: _Slice) -> None:
        """A fill that left the child working (override to react)."""

    def _child_ended(self, piece: _Slice) -> None:
        """The child of ``piece`` ended; ``piece.outcome`` says how (override to react)."""

    # -- events -------------------------------------------------------------------------------

    def _on_order_event(self, event: OrderEvent) -> None:
        piece = self._working.get(event.client_order_id)
        if piece is None:
            return
        if isinstance(event, OrderFilled):
            qty = event.last_qty.raw
            piece.filled_raw += qty
            piece.notional += event.last_px.raw * qty
            self._filled_raw += qty
            self._notional += event.last_px.raw * qty
            if piece.filled_raw < piece.qty_raw:
                self._child_filled(piece)
                return
            self._end(piece, SliceOutcome.FILLED, None)
        elif isinstance(event, OrderDenied):
            self._end(piece, SliceOutcome.DENIED, f"{event.code}: {event.reason}")
        elif isinstance(event, OrderRejected):
            self._end(piece, SliceOutcome.REJECTED, f"{event.code}: {event.reason}")
        elif isinstance(event, OrderCanceled):
            by = "canceled by this algo" if piece.cancel_requested else "canceled, not by this algo"
            self._end(piece, self._unfilled_outcome(piece), f"{by}: {event.reason}" if event.reason else by)
        elif isinstance(event, OrderExpired):
            self._end(piece, self._unfilled_outcome(piece), f"expired ({self._expiry_cause()})")
        elif isinstance(event, OrderUpdated):
            piece.qty_raw = event.quantity.raw  # amended by someone else: follow the venue

    def _on_market_data(self, data: Any) -> None:
        opposite: int | None = None
        if isinstance(data, QuoteTick):
            opposite = (data.ask_price if self.side is OrderSide.BUY else data.bid_price).raw
        elif isinstance(data, TradeTick):
            opposite = data.price.raw
        elif isinstance(data, OrderBook):
            opposite = data.best_ask_raw() if self.side is OrderSide.BUY else data.best_bid_raw()
        if opposite is not None and opposite > 0:
            self._ref_raw = opposite

    def _expiry_cause(self) -> str:
        return "time in force ran out"

    @staticmethod
    def _unfilled_outcome(piece: _Slice) -> SliceOutcome:
        return SliceOutcome.PARTIALLY_FILLED if piece.filled_raw else SliceOutcome.NO_EXECUTION

    def _end(self, piece: _Slice, outcome: SliceOutcome, detail: str | None) -> None:
        if piece.child is not None:
            self._working.pop(piece.child, None)
        piece.outcome = outcome
        piece.detail = detail
        self._child_ended(piece)
        self._close_if_done()

    def _close_if_done(self) -> None:
        if not self.is_done or self._published:
            return
        self._published = True
        if self._listening:
            self._listening = False
            self._bus.unsubscribe(self._order_topic, self._on_order_event)
            for topic in self._data_topics:
                self._bus.unsubscribe(topic, self._on_market_data)
        self._bus.publish(f"{ALGO_TOPIC_PREFIX}{self.strategy_id}", self.report())


def check_on_step(instrument: Instrument, quantity: Quantity, name: str, algo_id: str) -> None:
    """Raise :class:`InvalidOrderError` unless ``quantity`` is positive and on the lot step."""
    if quantity.raw <= 0 or quantity.raw % instrument.step_size:
        raise InvalidOrderError(
            f"{name} must be a positive multiple of the step size",
            algo_id=algo_id, instrument=str(instrument.id), value=str(quantity),
            step_size=str(instrument.size_increment),
        )
