"""One open physical connection of a stream: read, write and watch it until it ends.

:class:`OpenConnection` runs three tasks on a connection the stream has set up (handshake,
subscriptions, resync done): the reader hands every message to the adapter, the writer sends
the outbox in order, the idle watchdog ends a connection that has gone quiet. Whichever ends
first ends the connection; the others are cancelled and awaited, so no task outlives
:meth:`OpenConnection.run`, which returns why the connection ended. Reconnecting, and telling
the owner, is the stream's business (:mod:`bot4.net.ws`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import Close

from bot4.net.outbox import Outbox
from bot4.net.ws_config import DisconnectCause, PayloadKind, StreamConfig
from bot4.net.ws_hooks import StreamReporter
from bot4.net.ws_stats import classify_close

__all__ = ["OpenConnection"]

_log = logging.getLogger("bot4.net.ws")


class OpenConnection:
    """The tasks of one open connection; ``wake`` is set whenever the writer may have work."""

    def __init__(
        self,
        ws: ClientConnection,
        config: StreamConfig,
        outbox: Outbox,
        wake: asyncio.Event,
        reporter: StreamReporter,
    ) -> None:
        self._ws = ws
        self._config = config
        self._outbox = outbox
        self._wake = wake
        self._reporter = reporter
        self._idle_hit = False
        self._task_failed = False

    async def run(self) -> tuple[DisconnectCause, Close | None]:
        """Run until the connection ends; return why, with the close frame that tells it."""
        ws = self._ws
        loop = asyncio.get_running_loop()
        name = f"bot4.ws.{self._config.name}"
        reader = loop.create_task(self._read(), name=f"{name}.read")
        tasks = [reader, loop.create_task(self._write(), name=f"{name}.write")]
        if self._config.idle_timeout is not None:
            tasks.append(loop.create_task(self._watch_idle(), name=f"{name}.idle"))
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            # Whoever ended first, close the connection (bounded by close_timeout) and let the
            # reader deliver what the library already buffered before it sees the close.
            await ws.close()
            await asyncio.wait([reader])
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks)
        for task in tasks:
            if not task.cancelled() and (error := task.exception()) is not None:
                self._task_failed = True
                self._reporter.task_failed(task, error)
        if self._idle_hit:
            return DisconnectCause.IDLE_TIMEOUT, None
        if self._task_failed:
            return DisconnectCause.INTERNAL_ERROR, None
        return classify_close(ws)

    async def _read(self) -> None:
        ws = self._ws
        reporter = self._reporter
        counters, clock = reporter.counters, reporter.clock
        decode, on_message = reporter.hooks.decode, reporter.hooks.on_message
        expect = self._config.payload
        while True:
            try:
                raw = await ws.recv()
            except ConnectionClosed:
                return
            counters.count_in(raw, clock.timestamp_ns())
            if expect is PayloadKind.TEXT and isinstance(raw, bytes):
                reporter.malformed("binary frame where text was expected", raw)
                continue
            if expect is PayloadKind.BINARY and isinstance(raw, str):
                reporter.malformed("text frame where binary was expected", raw)
                continue
            if decode is None:
                msg: Any = raw
            else:
                try:
                    msg = decode(raw)
                except Exception as exc:  # noqa: BLE001 - whatever a decoder raises, it is bad input
                    reporter.malformed(f"undecodable message: {type(exc).__name__}: {exc}", raw)
                    continue
            try:
                on_message(msg)
            except Exception as exc:  # noqa: BLE001 - the task boundary: count, report, go on
                reporter.handler_raised(exc, raw)

    async def _write(self) -> None:
        ws, outbox, wake = self._ws, self._outbox, self._wake
        window = self._config.max_in_flight
        while True:
            head = outbox.peek()
            if head is None or (window and head.ack_key is not None and outbox.in_flight >= window):
                # Nothing to send, or the send window is full: wait for a send() or an ack.
                wake.clear()
                await wake.wait()
                continue
            item = outbox.take()
            try:
                await ws.send(item.payload)
            except BaseException as exc:
                # The frame may or may not have left. A keyed message counts as in flight, so
                # the protocol's acknowledgement (or resume handshake) decides whether it goes
                # again; an unkeyed one goes back to the head, to be sent after the reconnect
                # or returned by close().
                if item.ack_key is not None:
                    outbox.written(item)
                else:
                    outbox.unwritten(item)
                if isinstance(exc, ConnectionClosed):
                    return
                raise
            outbox.written(item)
            self._reporter.counters.count_out(item.payload)

    async def _watch_idle(self) -> None:
        idle = self._config.idle_timeout or 0.0
        counters = self._reporter.counters
        while True:
            remaining = counters.last_in + idle - time.monotonic()
            if remaining <= 0:
                self._idle_hit = True
                _log.warning("stream %s idle for %.3f s: reconnecting", self._config.name, idle)
                return
            await asyncio.sleep(remaining)
