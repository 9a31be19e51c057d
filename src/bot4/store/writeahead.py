"""Write-ahead: an order goes to the venue only after its intent is durable in the journal.

:class:`WriteAheadClient` wraps a live :class:`~bot4.execution.ports.VenueClient`. The execution
engine publishes ``OrderSubmitted`` (which the recorder journals, with the order's spec) and
then calls ``submit_order``; the wrapper queues the order, reads the journal's last sequence
number once the bus has delivered the intent, and forwards the order only once that entry is
durable. Cancels and modifies wait their turn
behind earlier submissions, so the venue sees commands in the order they were given. If the
journal cannot make the intent durable within ``timeout`` the order is not sent: the engine
gets an ``OrderRejected`` saying why. The added latency is what ``bot4 bench`` measures as
``journal_write`` commit latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from bot4.core.clock import Clock
from bot4.core.ids import AccountId, Venue
from bot4.execution.ports import VenueClient
from bot4.model.events import OrderEvent, OrderRejected
from bot4.model.orders import Order
from bot4.store.writer import JournalWriter

__all__ = ["WriteAheadClient"]

_log = logging.getLogger("bot4.store")


class WriteAheadClient:
    """A venue client that forwards each order once its journal entry is durable."""

    def __init__(
        self,
        inner: VenueClient,
        writer: JournalWriter,
        sink: Callable[[OrderEvent], None],
        clock: Clock,
        *,
        timeout: float = 5.0,
        queue_size: int = 10_000,
    ) -> None:
        self._inner = inner
        self._writer = writer
        self._sink = sink
        self._clock = clock
        self._timeout = timeout
        self._queue: asyncio.Queue[tuple[str, Order, int, tuple[Any, ...]]] = asyncio.Queue(queue_size)
        self._task: asyncio.Task[None] | None = None
        self.sent = 0
        self.refused = 0

    @property
    def venue(self) -> Venue:
        return self._inner.venue

    @property
    def account_id(self) -> AccountId:
        return self._inner.account_id

    @property
    def supports_amend(self) -> bool:
        return self._inner.supports_amend

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._forward(), name="bot4.store.writeahead")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def submit_order(self, order: Order) -> None:
        # The intent is journaled when the bus delivers OrderSubmitted, which can be after this
        # call when the order was placed from inside a bus handler (run-to-completion delivery).
        # So the sequence to wait for is read by the forwarder, once this call chain has returned.
        seq = -1
        try:
            deadline = asyncio.get_running_loop().time() + self._timeout
            self._queue.put_nowait(("submit", order, seq, (deadline,)))
        except asyncio.QueueFull:
            # The journal is far behind: refuse rather than send an order it may never record.
            self._refuse(order, f"write-ahead queue full ({self._queue.maxsize} orders waiting for the journal); not sent")

    def cancel_order(self, order: Order) -> None:
        if self._queue.empty():
            self._inner.cancel_order(order)
        else:
            try:
                self._queue.put_nowait(("cancel", order, 0, ()))
            except asyncio.QueueFull:
                _log.error("%s: write-ahead queue full; cancel not sent", order.client_order_id)

    def modify_order(self, order: Order, quantity: Any = None, price: Any = None, trigger_price: Any = None) -> None:
        if self._queue.empty():
            self._inner.modify_order(order, quantity, price, trigger_price)
        else:
            try:
                self._queue.put_nowait(("modify", order, 0, (quantity, price, trigger_price)))
            except asyncio.QueueFull:
                _log.error("%s: write-ahead queue full; modify not sent", order.client_order_id)

    async def _forward(self) -> None:
        while True:
            command, order, seq, args = await self._queue.get()
            if command == "submit":
                if seq < 0:
                    seq = self._writer.last_seq
                try:
                    # The timeout runs from submission, not from reaching the head of the queue.
                    remaining = max(0.0, args[0] - asyncio.get_running_loop().time())
                    await self._writer.wait_durable(seq, remaining)
                except TimeoutError:
                    self._refuse(order, f"order intent not durable in the journal within {self._timeout} s; not sent")
                    continue
                self._inner.submit_order(order)
                self.sent += 1
            elif command == "cancel":
                self._inner.cancel_order(order)
            else:
                self._inner.modify_order(order, *args)

    def _refuse(self, order: Order, reason: str) -> None:
        self.refused += 1
        now = self._clock.timestamp_ns()
        _log.error("%s: %s", order.client_order_id, reason)
        self._sink(
            OrderRejected(
                client_order_id=order.client_order_id,
                instrument_id=order.instrument_id,
                strategy_id=order.strategy_id,
                code="JOURNAL_NOT_DURABLE",
                reason=reason,
                ts_event=now,
                ts_init=now,
            )
        )
