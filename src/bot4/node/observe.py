"""What the node watches on its way: counts, recent fills, latency points, and the metrics.

:class:`SessionObserver` is a bus subscriber: it counts orders and fills of this run, keeps the
most recent fills for the status API, feeds :class:`~bot4.node.metrics.NodeMetrics` (orders by
outcome, rejects by reason, breaker and trading states) and follows every order through the
:class:`~bot4.node.metrics.LatencyTracker`:

- ``tick``: the market event being processed when the strategy created the order (its
  ``ts_init``, stamped by the adapter when the frame was decoded);
- ``signal``: the order's own ``ts_init`` (the strategy built it);
- ``risk``: the pre-trade check passed (:class:`OrderGate`);
- ``sent``: the order was handed to the venue client (:class:`HandOff`);
- ``ack`` / ``fill``: its acceptance and first fill were applied.

:class:`OrderGate` sits in front of the risk engine (the execution engine's one pre-trade
check): once the node is stopping it denies every new order with ``NODE_STOPPING``, while the
node reconciles with a venue after a reconnect it denies that venue's new orders with
``RECONCILING``, and it notes the times of an order that passed. :class:`HandOff` wraps a venue client and notes when
the order was handed over; the tracker and its histograms see the times on the next loop turn,
so the ~25 us they cost an order stay off the tick-to-order path. :class:`LateSeqGate` makes
the write-ahead gate wait for the right journal entry (see its docstring).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any

from bot4.core.bus import MessageBus
from bot4.core.ids import AccountId, ClientOrderId, Venue
from bot4.core.numbers import Price, Quantity
from bot4.execution.ports import Denial, PreTradeCheck, VenueClient
from bot4.model.events import (
    OrderAccepted,
    OrderCanceled,
    OrderDenied,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderSubmitted,
)
from bot4.model.orders import Order
from bot4.model.status import CIRCUIT_TOPIC, CircuitStateChanged
from bot4.node.logs import order_log
from bot4.node.metrics import LatencyTracker, NodeMetrics, OrderOutcome, Point, Stage
from bot4.risk import RISK_TOPIC, TradingStateChanged
from bot4.venues.binance import DurabilityGate

__all__ = ["HandOff", "LateSeqGate", "OrderGate", "SessionObserver"]

_log = logging.getLogger("bot4.node.orders")
_RECENT_FILLS = 1000
NODE_STOPPING = "NODE_STOPPING"
RECONCILING = "RECONCILING"


class SessionObserver:
    """Counts, recent fills, latency and metrics of one run (module docstring)."""

    def __init__(self, bus: MessageBus, metrics: NodeMetrics) -> None:
        self.metrics = metrics
        self.tracker = LatencyTracker(metrics)
        self.tick_ns = 0  # ts_init of the market event being processed, 0 between events
        self.orders = 0  # submitted this run
        self.denied = 0
        self.rejected = 0
        self.fills = 0
        self.recent_fills: deque[OrderFilled] = deque(maxlen=_RECENT_FILLS)
        # client order id -> (tick ns or 0, signal ns, risk passed ns), until the order is sent
        self.pending: dict[ClientOrderId, tuple[int, int, int]] = {}
        bus.subscribe("events.order.*", self._on_order_event)
        bus.subscribe(RISK_TOPIC, self._on_risk)
        bus.subscribe(CIRCUIT_TOPIC, self._on_circuit)

    def tick_to_order(self) -> tuple[float, float] | None:
        """(p50, p99) seconds from a market event to the order handed to the venue client."""
        return self.metrics.percentiles(Stage.TICK_TO_ORDER)

    def order_sent(self, client_order_id: ClientOrderId, sent_ns: int) -> None:
        """Feed the tracker an order's times up to its hand-off to the venue client."""
        times = self.pending.pop(client_order_id, None)
        if times is None:
            return
        tick, signal, risk = times
        tracker = self.tracker
        tracker.start(client_order_id, tick_ns=tick or None, signal_ns=signal, risk_ns=risk)
        tracker.record(client_order_id, Point.SENT, sent_ns)

    def _on_order_event(self, event: OrderEvent) -> None:
        now = time.time_ns()
        cid = event.client_order_id
        metrics = self.metrics
        if isinstance(event, OrderFilled):
            self.fills += 1
            self.recent_fills.append(event)
            self.tracker.record(cid, Point.FILL, now)
            metrics.order(OrderOutcome.FILLED)
            order_log(_log, event, "order filled %s @ %s", event.last_qty, event.last_px,
                      trade_id=str(event.trade_id), side=event.order_side.name)
        elif isinstance(event, OrderAccepted):
            self.tracker.record(cid, Point.ACK, now)
            metrics.order(OrderOutcome.ACCEPTED)
            order_log(_log, event, "order accepted", venue_order_id=str(event.venue_order_id))
        elif isinstance(event, OrderSubmitted):
            self.orders += 1
            metrics.order(OrderOutcome.SUBMITTED)
            order_log(_log, event, "order submitted", strategy_id=str(event.strategy_id))
        elif isinstance(event, OrderDenied):
            self.denied += 1
            self.pending.pop(cid, None)
            self.tracker.forget(cid)
            metrics.order(OrderOutcome.DENIED)
            metrics.reject(event.code)
            order_log(_log, event, "order denied: %s %s", event.code, event.reason, level=logging.WARNING,
                      code=event.code)
        elif isinstance(event, OrderRejected):
            self.rejected += 1
            self.tracker.forget(cid)
            metrics.order(OrderOutcome.REJECTED)
            metrics.reject(event.code)
            order_log(_log, event, "order rejected by the venue: %s %s", event.code, event.reason,
                      level=logging.WARNING, code=event.code)
        elif isinstance(event, OrderCanceled | OrderExpired):
            self.tracker.forget(cid)
            metrics.order(OrderOutcome.CANCELED)
            order_log(_log, event, "order %s", "canceled" if isinstance(event, OrderCanceled) else "expired")

    def _on_risk(self, event: Any) -> None:
        if isinstance(event, TradingStateChanged):
            self.metrics.set_trading_state(event.state)
            _log.warning("trading state %s -> %s (%s): %s", event.previous.value, event.state.value,
                         event.cause, event.reason)

    def _on_circuit(self, event: Any) -> None:
        if isinstance(event, CircuitStateChanged):
            self.metrics.breaker(event.venue, event.endpoint, event.state)


class OrderGate:
    """The pre-trade check the execution engine calls: stop gate, then risk; notes the times."""

    def __init__(self, risk: PreTradeCheck | None, observer: SessionObserver) -> None:
        self.risk = risk
        self._observer = observer
        self.stopping = False
        self.reconciling: set[Venue] = set()  # venues whose orders wait for a reconciliation

    def check(self, order: Order) -> Denial | None:
        if self.stopping:
            return Denial(NODE_STOPPING, "the node is stopping: no new orders")
        if self.reconciling and order.instrument_id.venue in self.reconciling:
            return Denial(RECONCILING, f"reconciling with {order.instrument_id.venue} after a reconnect; "
                                       "no new orders for a moment")
        risk = self.risk
        denial = None if risk is None else risk.check(order)
        if denial is None:
            observer = self._observer
            observer.pending[order.client_order_id] = (observer.tick_ns, order.ts_init, time.time_ns())
        return denial

    def on_submitted(self, order: Order) -> None:
        if self.risk is not None:
            self.risk.on_submitted(order)


class HandOff:
    """A venue client that notes when each order was handed over (module docstring)."""

    def __init__(self, inner: VenueClient, observer: SessionObserver) -> None:
        self.inner = inner
        self._observer = observer
        self._loop = asyncio.get_running_loop()

    @property
    def venue(self) -> Venue:
        return self.inner.venue

    @property
    def account_id(self) -> AccountId:
        return self.inner.account_id

    @property
    def supports_amend(self) -> bool:
        return self.inner.supports_amend

    def submit_order(self, order: Order) -> None:
        sent = time.time_ns()
        self.inner.submit_order(order)
        self._loop.call_soon(self._observer.order_sent, order.client_order_id, sent)

    def cancel_order(self, order: Order) -> None:
        self.inner.cancel_order(order)

    def modify_order(self, order: Order, quantity: Quantity | None = None, price: Price | None = None,
                     trigger_price: Price | None = None) -> None:
        self.inner.modify_order(order, quantity, price, trigger_price)


class LateSeqGate:
    """The write-ahead gate of a Binance execution client: it reads the journal's last sequence
    number when the submit task first runs, not when ``submit_order`` is called.

    An order a strategy sends from a bus handler is published as ``OrderSubmitted`` (and so
    journaled with its spec) only after that handler returns: the bus delivers to completion.
    ``submit_order`` is called before that, so the last sequence number at that moment may not
    cover the order's intent. The client's submit task runs on a later loop turn, after the
    delivery, and waits for the sequence number as it is then, which does.
    """

    _LATE = -1

    def __init__(self, writer: DurabilityGate) -> None:
        self._writer = writer

    @property
    def last_seq(self) -> int:
        return self._LATE

    async def wait_durable(self, seq: int, timeout: float | None = None) -> None:
        if seq == self._LATE:
            seq = self._writer.last_seq
        await self._writer.wait_durable(seq, timeout)
