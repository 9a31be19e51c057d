"""The node's background work: strategy timers, gauges, and reconciliation after a reconnect.

Each coroutine here runs as a task the :class:`~bot4.node.node.TradingNode` owns (it cancels
and awaits them when it stops). Their loops are task boundaries: whatever a timer handler or a
gauge raises is logged and the loop goes on (strategy handlers guard themselves as well).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from bot4.core.clock import LiveClock
from bot4.core.errors import Bot4Error
from bot4.core.numbers import FIXED_SCALAR, Currency
from bot4.execution.engine import ExecutionEngine
from bot4.execution.reconciliation import ReconciliationResult, reconcile
from bot4.model.enums import OrderStatus
from bot4.node.metrics import NodeMetrics
from bot4.node.observe import OrderGate
from bot4.node.venues import VenueConnection
from bot4.node.view import pnl
from bot4.portfolio.portfolio import Portfolio
from bot4.store import Store
from bot4.venues.paper import PaperVenue

__all__ = ["Gauges", "guarded", "reconcile_after_reconnect", "run_timers"]

_log = logging.getLogger("bot4.node")

TIMER_TICK_S = 0.05  # longest sleep of the timer task: strategy timers fire within 50 ms
RECONCILE_WAIT_S = 30.0  # longest wait for in-flight orders before reconciling after a reconnect


async def run_timers(clock: LiveClock, papers: Sequence[PaperVenue]) -> None:
    """Fire the live clock's due timers (strategy timers) and move paper venues on, forever."""
    while True:
        for event, handler in clock.advance_time():
            guarded(handler, event, "timer handler")
        for paper in papers:
            guarded(_advance_paper, paper, "paper venue")
        due = clock.next_due_ns()
        delay = TIMER_TICK_S
        if due is not None:
            delay = min(delay, max(0.0, (due - clock.timestamp_ns()) / 1e9))
        await asyncio.sleep(delay)


async def reconcile_after_reconnect(
    connection: VenueConnection, execution: ExecutionEngine, gate: OrderGate, timeout: float
) -> ReconciliationResult | None:
    """Repair what a venue's user data stream missed while it was down.

    The venue's report is a snapshot: an order sent or acknowledged while it is taken would look
    "not open at the venue", be canceled by mistake, and its fill then be lost. So the venue's
    new orders are denied (``RECONCILING``, the caller put the venue in ``gate.reconciling``)
    until the report is reconciled, and the report is taken once no order awaits its
    acknowledgement. Return None when it could not be done (logged).
    """
    venue = connection.venue
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RECONCILE_WAIT_S
    try:
        while any(o.status is OrderStatus.SUBMITTED and o.instrument_id.venue == venue
                  for o in execution.open_orders()):
            if loop.time() > deadline:
                _log.warning("%s: orders still unacknowledged %g s after a reconnect; reconciliation "
                             "left to the next reconnect or start", venue, RECONCILE_WAIT_S)
                return None
            await asyncio.sleep(0.01)
        try:
            report = await connection.report(timeout)
        except Bot4Error as exc:
            _log.warning("%s: no report to reconcile after a reconnect: %s", venue, exc)
            return None
        result = reconcile(execution, report)
        if result.repairs:
            _log.warning("reconciled %s after a reconnect: %s", venue, "; ".join(
                f"{r.kind} {r.client_order_id}: {r.detail}" for r in result.repairs))
        return result
    finally:
        gate.reconciling.discard(venue)


class Gauges:
    """Refresh the gauges and the counters the metrics read from snapshots (once a second)."""

    def __init__(self, metrics: NodeMetrics) -> None:
        self.metrics = metrics
        self._reconnects: dict[str, int] = {}
        self._resyncs: dict[str, int] = {}

    def refresh(self, portfolio: Portfolio, currency: Currency | None, store: Store | None,
                venues: Sequence[VenueConnection]) -> None:
        metrics = self.metrics
        if currency is not None:
            figures = pnl(portfolio, currency)
            equity = portfolio.equity_raw(currency)
            metrics.set_pnl(currency.code, realized=figures.realized, unrealized=figures.unrealized,
                            equity=None if equity is None else equity / FIXED_SCALAR)
        for position in portfolio.positions():
            sign = 1 if position.signed_raw >= 0 else -1
            metrics.set_exposure(position.instrument_id,
                                 sign * portfolio.exposure_raw(position.instrument_id) / FIXED_SCALAR)
        if store is not None and store.run_id is not None:
            with contextlib.suppress(Bot4Error):  # the run ended while we looked
                metrics.set_store(store.writer.stats().queued)
        for connection in venues:
            name = connection.config.name
            for stream, count in connection.reconnects_by_stream().items():
                self._add(self._reconnects, f"{name}:{stream}", count,
                          lambda: metrics.reconnect(name, stream))  # noqa: B023 - called at once
            for symbol, count in connection.resyncs().items():
                self._add(self._resyncs, f"{name}:{symbol}", count,
                          lambda: metrics.resync(name, f"{symbol}.{name}"))  # noqa: B023 - called at once

    @staticmethod
    def _add(seen: dict[str, int], key: str, count: int, inc: Callable[[], None]) -> None:
        for _ in range(count - seen.get(key, 0)):
            inc()
        seen[key] = count


def guarded(handler: Callable[[Any], None], arg: Any, what: str) -> None:
    """Call ``handler(arg)``; log what it raises and go on (a task loop's boundary)."""
    try:
        handler(arg)
    except Exception:  # noqa: BLE001 - a node task's boundary: log and go on
        _log.exception("%s raised", what)


def _advance_paper(paper: PaperVenue) -> None:
    paper.advance_time()
