"""What an adapter plugs into a :class:`~bot4.net.ws.ReliableWebSocket`, and how it is called.

:class:`StreamHooks`, :class:`Session` and :class:`ConnectBreaker` are public through
:mod:`bot4.net.ws` (and :mod:`bot4.net`). :class:`StreamReporter` is the stream's side of the seam:
it holds the stream's counters, runs adapter code (a hook, a breaker and the bus behind it)
behind a guard, so whatever that raises is counted, logged and reported to ``on_error``
instead of ending a stream task, and reports every problem the stream survives the same way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec
from websockets.asyncio.client import ClientConnection
from websockets.frames import Close

from bot4.core.clock import Clock
from bot4.core.errors import Bot4Error, InternalError, InvalidDataError
from bot4.core.ids import Venue
from bot4.model.status import StreamGap, StreamResynced
from bot4.net.outbox import Payload
from bot4.net.ws_config import DisconnectCause
from bot4.net.ws_stats import StreamCounters

__all__ = ["ConnectBreaker", "Session", "StreamHooks", "StreamReporter"]

_log = logging.getLogger("bot4.net.ws")

_PREVIEW = 120  # characters of a bad payload kept in its error


class ConnectBreaker(Protocol):
    """The part of a circuit breaker a stream uses (see :mod:`bot4.net.breaker`)."""

    def record_success(self) -> None: ...

    def record_failure(self, reason: str) -> None: ...

    def trip(self, reason: str) -> None: ...


@dataclass(frozen=True, kw_only=True)
class StreamHooks:
    """What the adapter plugs in; only ``on_message`` is required.

    - ``on_message(msg)``: every decoded message, synchronously, in arrival order.
    - ``decode(raw)``: bytes/str to message; default JSON. Whatever it raises (best
      ``msgspec.DecodeError``, ``msgspec.ValidationError`` or ``ValueError``) counts the payload
      as malformed. ``None`` passes raw.
    - ``on_error(err)``: every problem the stream survived (malformed input, a raising
      handler, a failed connect) and the one it did not (:class:`StreamGaveUpError`).
    - ``on_connect(session)``: runs on each new connection before anything else is sent:
      authenticate, or agree with the server where to resume (call ``acknowledge``). It may
      call ``close()`` to stop the stream for good (credentials revoked).
    - ``on_resync()``: runs after the subscriptions are replayed: rebuild state (snapshot).
    - ``on_event(event)``: :class:`StreamGap` / :class:`StreamResynced` for the bus.

    A hook that raises never stops the stream: it is logged, counted in ``handler_errors``
    and reported to ``on_error`` (a failing ``on_connect`` or ``on_resync`` fails that
    connect instead, which is retried).
    """

    on_message: Callable[[Any], object]
    decode: Callable[[Payload], Any] | None = msgspec.json.decode
    on_error: Callable[[Bot4Error], None] | None = None
    on_connect: Callable[[Session], Awaitable[None]] | None = None
    on_resync: Callable[[], Awaitable[None]] | None = None
    on_event: Callable[[StreamGap | StreamResynced], None] | None = None


class Session:
    """The raw connection during ``on_connect``: send and receive before the stream runs."""

    def __init__(self, ws: ClientConnection, number: int, reporter: StreamReporter) -> None:
        self._ws = ws
        self._reporter = reporter
        self.number = number  # 1 for the first connection, then counting reconnects

    async def send(self, payload: Payload) -> None:
        await self._ws.send(payload)
        self._reporter.counters.count_out(payload)

    async def recv(self, timeout: float | None = None) -> Any:
        """The next message, decoded like any other; raises ``TimeoutError`` after ``timeout``."""
        async with asyncio.timeout(timeout):
            raw = await self._ws.recv()
        reporter = self._reporter
        reporter.counters.count_in(raw, reporter.clock.timestamp_ns())
        decode = reporter.hooks.decode
        return raw if decode is None else decode(raw)


class StreamReporter:
    """A stream's counters, its guarded calls into adapter code, and its reports to the owner."""

    def __init__(self, hooks: StreamHooks, clock: Clock, *, stream: str, venue: Venue) -> None:
        self.hooks = hooks
        self.clock = clock
        self.counters = StreamCounters()
        self.stream = stream
        self._venue = venue

    def report(self, error: Bot4Error) -> None:
        """Hand ``error`` to ``on_error``; a raising ``on_error`` is counted and logged only."""
        if self.hooks.on_error is None:
            return
        try:
            self.hooks.on_error(error)
        except Exception:  # noqa: BLE001 - a broken error handler must not take the stream down
            self.counters.handler_errors += 1
            _log.exception("stream %s: on_error raised", self.stream)

    def guarded(self, what: str, call: Callable[..., object], *args: Any) -> None:
        """Call adapter code; what it raises is counted, logged and reported, and that is all."""
        try:
            call(*args)
        except Exception as exc:  # noqa: BLE001 - adapter code is a task boundary
            self.counters.handler_errors += 1
            _log.exception("stream %s: %s raised", self.stream, what)
            self.report(InternalError(f"{what} raised", stream=self.stream, error=_describe(exc)))

    def handler_raised(self, exc: Exception, raw: Payload) -> None:
        """``on_message`` raised on ``raw`` (the reader calls it unguarded: it is the hot path)."""
        self.counters.handler_errors += 1
        _log.error("stream %s: on_message raised", self.stream, exc_info=exc)
        self.report(
            InvalidDataError(
                "message handler raised",
                stream=self.stream,
                error=_describe(exc),
                payload=_preview(raw),
            )
        )

    def malformed(self, reason: str, raw: Payload) -> None:
        self.counters.malformed += 1
        self.report(
            InvalidDataError(reason, stream=self.stream, size=len(raw), payload=_preview(raw))
        )

    def task_failed(self, task: asyncio.Task[Any], error: BaseException) -> None:
        """A task of the stream's own ended with an error: a bug, surfaced loudly."""
        _log.error("stream %s: task %s failed", self.stream, task.get_name(), exc_info=error)
        self.report(
            InternalError(
                "stream task failed",
                stream=self.stream,
                task=task.get_name(),
                error=_describe(error),
            )
        )

    def disconnected(
        self, cause: DisconnectCause, frame: Close | None, max_message_size: int
    ) -> None:
        """Count a connection's end by ``cause``; report the ends that bad input caused."""
        counters = self.counters
        counters.disconnects[cause.value] += 1
        _log.warning("stream %s disconnected: %s", self.stream, cause.value)
        if cause is DisconnectCause.REMOTE_CLOSE and frame is not None:
            counters.close_codes[int(frame.code)] += 1
        elif cause is DisconnectCause.OVERSIZE:
            self.report(
                InvalidDataError(
                    "message larger than max_message_size; connection dropped",
                    stream=self.stream,
                    max_message_size=max_message_size,
                )
            )
        elif cause is DisconnectCause.MALFORMED_FRAME and frame is not None:
            counters.malformed += 1
            self.report(
                InvalidDataError(
                    "malformed frame; connection dropped",
                    stream=self.stream,
                    close_code=int(frame.code),
                    reason=frame.reason,
                )
            )

    def gap(self, since_ns: int, cause: str) -> None:
        """Report :class:`StreamGap`: messages since ``since_ns`` may be missing."""
        self.counters.gaps += 1
        if self.hooks.on_event is None:
            return
        now = self.clock.timestamp_ns()
        event = StreamGap(
            venue=self._venue,
            stream=self.stream,
            since_ns=since_ns,
            until_ns=now,
            cause=cause,
            ts_event=now,
            ts_init=now,
        )
        self.guarded("on_event", self.hooks.on_event, event)

    def resynced(self, since_ns: int) -> None:
        """Report :class:`StreamResynced` for the gap that began at ``since_ns``."""
        if self.hooks.on_event is None:
            return
        now = self.clock.timestamp_ns()
        event = StreamResynced(
            venue=self._venue, stream=self.stream, gap_ns=now - since_ns, ts_event=now, ts_init=now
        )
        self.guarded("on_event", self.hooks.on_event, event)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _preview(raw: Payload) -> str:
    text = raw if isinstance(raw, str) else repr(raw[:_PREVIEW])
    return text[:_PREVIEW]
