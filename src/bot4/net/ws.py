"""One logical WebSocket stream over as many physical connections as it takes.

The protocol itself (framing, ping/pong, close handshake, size limits) is the ``websockets``
library's; this module adds what a trading connection needs on top of it:

- it reconnects by itself, waiting per :class:`~bot4.net.backoff.Backoff` (full jitter), for
  ever on MARKET_DATA streams and up to ``max_attempts`` failed connects on ORDERS streams,
  which then trip their circuit breaker and report :class:`StreamGaveUpError`;
- it notices dead connections: keepalive pings unanswered for ``pong_timeout`` (the library's
  keepalive) and streams that send nothing for ``idle_timeout`` (a stalled feed);
- on every reconnect it runs the adapter's ``on_connect`` hook (auth, resume handshake),
  replays the remembered subscriptions, runs ``on_resync`` (book snapshot), reports the gap
  (:class:`StreamGap` then :class:`StreamResynced`) and only then sends what was queued while
  it was down, in order;
- nothing the caller handed it is lost silently: unsent messages wait in a bounded
  :class:`~bot4.net.outbox.Outbox`, messages with an ``ack_key`` are resent until the
  protocol acknowledges them, and ``close()`` returns whatever never went out.

Bad input never crashes it: a frame of the wrong kind, text that does not decode and a handler
that raises are counted and reported to ``on_error``; a frame the library refuses (oversize,
invalid UTF-8) ends that connection with the cause counted, and the stream reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.frames import CloseCode

from bot4.core.clock import Clock, LiveClock
from bot4.core.errors import (
    Bot4Error,
    DisconnectedError,
    InvalidDataError,
    StreamClosedError,
    StreamGaveUpError,
)
from bot4.core.ids import Venue
from bot4.model.status import StreamGap, StreamResynced
from bot4.net.outbox import MessageKind, Outbox, Outgoing, Payload
from bot4.net.ws_config import (
    DisconnectCause,
    PayloadKind,
    StreamConfig,
    StreamProfile,
    StreamState,
    StreamStats,
)

__all__ = ["ConnectBreaker", "ReliableWebSocket", "Session", "StreamHooks"]

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
    - ``decode(raw)``: bytes/str to message; default JSON. Raise ``msgspec.DecodeError``,
      ``msgspec.ValidationError`` or ``ValueError`` for a bad payload. ``None`` passes raw.
    - ``on_error(err)``: every problem the stream survived (malformed input, a raising
      handler, a failed connect) and the one it did not (:class:`StreamGaveUpError`).
    - ``on_connect(session)``: runs on each new connection before anything else is sent:
      authenticate, or agree with the server where to resume (call ``acknowledge``).
    - ``on_resync()``: runs after the subscriptions are replayed: rebuild state (snapshot).
    - ``on_event(event)``: :class:`StreamGap` / :class:`StreamResynced` for the bus.
    """

    on_message: Callable[[Any], object]
    decode: Callable[[Payload], Any] | None = msgspec.json.decode
    on_error: Callable[[Bot4Error], None] | None = None
    on_connect: Callable[[Session], Awaitable[None]] | None = None
    on_resync: Callable[[], Awaitable[None]] | None = None
    on_event: Callable[[StreamGap | StreamResynced], None] | None = None


class Session:
    """The raw connection during ``on_connect``: send and receive before the stream runs."""

    def __init__(self, stream: ReliableWebSocket, ws: ClientConnection, number: int) -> None:
        self._stream = stream
        self._ws = ws
        self.number = number  # 1 for the first connection, then counting reconnects

    async def send(self, payload: Payload) -> None:
        await self._ws.send(payload)
        self._stream._count_out(payload)

    async def recv(self, timeout: float | None = None) -> Any:
        """The next message, decoded like any other; raises ``TimeoutError`` after ``timeout``."""
        async with asyncio.timeout(timeout):
            raw = await self._ws.recv()
        self._stream._count_in(raw)
        decode = self._stream.hooks.decode
        return raw if decode is None else decode(raw)


class ReliableWebSocket:
    """A stream that stays connected; drive it with ``start()`` / ``close()`` or ``async with``."""

    def __init__(
        self,
        config: StreamConfig,
        hooks: StreamHooks,
        *,
        breaker: ConnectBreaker | None = None,
        clock: Clock | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """``breaker`` is the endpoint's :class:`~bot4.net.breaker.CircuitBreaker`: connects
        record success or failure on it and an ORDERS stream that gives up trips it.
        ``sleep`` waits out the backoff; tests inject one to check delays without waiting.
        """
        self.config = config
        self.hooks = hooks
        self._breaker = breaker
        self._clock: Clock = clock if clock is not None else LiveClock()
        self._sleep = sleep
        self._venue = Venue(config.venue)
        self._outbox = Outbox(config.queue_size, config.overflow)
        self._subscriptions: dict[str, tuple[Payload, Payload | None]] = {}
        self._state = StreamState.CONNECTING
        self._closing = False
        self._supervisor: asyncio.Task[None] | None = None
        self._ws: ClientConnection | None = None
        self._wake = asyncio.Event()
        self._opened = asyncio.Event()
        self._idle_hit = False
        # statistics
        self._connects = 0
        self._connect_failures = 0
        self._reconnect_attempts = 0
        self._disconnects: Counter[str] = Counter()
        self._close_codes: Counter[int] = Counter()
        self._messages_in = 0
        self._bytes_in = 0
        self._messages_out = 0
        self._bytes_out = 0
        self._resent = 0
        self._malformed = 0
        self._handler_errors = 0
        self._gaps = 0
        self._last_pong_rtt: float | None = None
        self._connected_total = 0.0
        self._open_since: float | None = None
        self._last_in = time.monotonic()
        self._last_in_ns = 0

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def state(self) -> StreamState:
        return self._state

    async def start(self) -> None:
        """Start connecting in the background; returns at once (see :meth:`wait_open`)."""
        if self._supervisor is not None:
            raise RuntimeError(f"stream {self.config.name} already started")
        self._supervisor = asyncio.get_running_loop().create_task(
            self._supervise(), name=f"bot4.ws.{self.config.name}"
        )

    async def wait_open(self, timeout: float | None = None) -> None:
        """Wait until the stream is OPEN; raises ``TimeoutError`` or ``DisconnectedError``."""
        async with asyncio.timeout(timeout):
            while self._state is not StreamState.OPEN:
                if self._state is StreamState.CLOSED:
                    raise DisconnectedError("stream is closed", stream=self.config.name)
                self._opened.clear()
                await self._opened.wait()

    async def close(self) -> list[Payload]:
        """Stop for good and return every message that was never sent or never acknowledged.

        Nothing is dropped silently: the caller gets the list (oldest first) and a warning is
        logged when it is not empty.
        """
        self._closing = True
        if self._state is not StreamState.CLOSED:
            self._set_state(StreamState.CLOSED)
        task, self._supervisor = self._supervisor, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.close()
        undelivered = [item.payload for item in self._outbox.drain()]
        if undelivered:
            _log.warning(
                "stream %s closed with %d undelivered messages returned to the caller",
                self.config.name,
                len(undelivered),
            )
        return undelivered

    async def __aenter__(self) -> ReliableWebSocket:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- outbound -----------------------------------------------------------------------------

    def send(self, payload: Payload, *, ack_key: Hashable | None = None) -> None:
        """Queue ``payload``; it goes out in order as soon as the stream is open.

        With ``ack_key`` the message is resent after a reconnect until :meth:`acknowledge` is
        called with that key. Raises :class:`OutboundQueueFullError` (REJECT_NEW policy, when
        full) or :class:`StreamClosedError`.
        """
        self._put(Outgoing(payload, ack_key))

    def acknowledge(self, key: Hashable, *, cumulative: bool = False) -> int:
        """The peer has ``key`` (and, if ``cumulative``, every earlier keyed message)."""
        count = self._outbox.acknowledge(key, cumulative=cumulative)
        if count:
            self._wake.set()  # the send window may have room again
        return count

    def subscribe(self, key: str, message: Payload, *, unsubscribe: Payload | None = None) -> None:
        """Send ``message`` now and again after every reconnect, until :meth:`unsubscribe`."""
        self._subscriptions[key] = (message, unsubscribe)
        if self._state is StreamState.OPEN:
            self._put(Outgoing(message, kind=MessageKind.SUBSCRIPTION))

    def unsubscribe(self, key: str) -> None:
        """Forget subscription ``key``; send its unsubscribe message if it has one."""
        entry = self._subscriptions.pop(key, None)
        if entry is not None and entry[1] is not None and self._state is StreamState.OPEN:
            self._put(Outgoing(entry[1], kind=MessageKind.SUBSCRIPTION))

    @property
    def subscriptions(self) -> list[str]:
        return list(self._subscriptions)

    def _put(self, item: Outgoing) -> None:
        if self._closing or self._state is StreamState.CLOSED:
            raise StreamClosedError("stream is closed; message not sent", stream=self.config.name)
        dropped = self._outbox.put(item)
        if dropped is not None:
            _log.warning("stream %s outbox full: dropped the oldest message", self.config.name)
        self._wake.set()

    # -- statistics ---------------------------------------------------------------------------

    def stats(self) -> StreamStats:
        rtt = self._ws.latency if self._ws is not None and self._ws.latency else self._last_pong_rtt
        connected = self._connected_total
        if self._open_since is not None:
            connected += time.monotonic() - self._open_since
        return StreamStats(
            name=self.config.name,
            state=self._state.value,
            connects=self._connects,
            connect_failures=self._connect_failures,
            reconnect_attempts=self._reconnect_attempts,
            disconnects=dict(self._disconnects),
            close_codes=dict(self._close_codes),
            messages_in=self._messages_in,
            bytes_in=self._bytes_in,
            messages_out=self._messages_out,
            bytes_out=self._bytes_out,
            queue_depth=self._outbox.queued,
            in_flight=self._outbox.in_flight,
            dropped=self._outbox.dropped,
            rejected=self._outbox.rejected,
            resent=self._resent,
            malformed=self._malformed,
            handler_errors=self._handler_errors,
            gaps=self._gaps,
            last_pong_rtt=rtt,
            connected_seconds=connected,
        )

    def _count_in(self, raw: Payload) -> None:
        self._messages_in += 1
        self._bytes_in += len(raw)
        self._last_in = time.monotonic()
        self._last_in_ns = self._clock.timestamp_ns()

    def _count_out(self, payload: Payload) -> None:
        self._messages_out += 1
        self._bytes_out += len(payload)

    # -- the connection loop ------------------------------------------------------------------

    async def _supervise(self) -> None:
        # ``failed`` counts failed connects in a row (what an ORDERS stream gives up on);
        # ``streak`` drives the backoff and also grows when a connection dies before it was
        # stable, so a server that accepts and drops at once is not hammered.
        failed = 0
        streak = 0
        gap: tuple[int, str] | None = None  # (since_ns, cause) of the connection lost last
        while not self._closing:
            if streak:
                self._reconnect_attempts += 1
                await self._sleep(self.config.backoff.delay(streak))
            try:
                ws = await self._dial()
            except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
                self._connect_failed(f"connect failed: {type(exc).__name__}: {exc}")
                failed += 1
                streak += 1
                if self._gave_up(failed):
                    return
                continue
            self._ws = ws
            if not await self._open(ws, gap):
                self._ws = None
                failed += 1
                streak += 1
                if self._gave_up(failed):
                    return
                continue
            failed = 0
            opened_at = time.monotonic()
            try:
                cause = await self._run(ws)
            except Exception as exc:  # noqa: BLE001 - the supervisor must outlive any bug below it
                _log.exception("stream %s: connection task failed", self.config.name)
                self._report(DisconnectedError("connection task failed", stream=self.config.name, error=repr(exc)))
                await ws.close()
                cause = DisconnectCause.CONNECTION_LOST
            self._ws = None
            streak = 1 if time.monotonic() - opened_at >= self.config.stable_after else streak + 1
            gap = (self._last_in_ns, cause.value)

    async def _dial(self) -> ClientConnection:
        self._set_state(StreamState.CONNECTING if self._connects == 0 else StreamState.RECONNECTING)
        cfg = self.config
        return await connect(
            cfg.url,
            open_timeout=cfg.open_timeout,
            ping_interval=cfg.ping_interval,
            ping_timeout=cfg.pong_timeout,
            close_timeout=cfg.close_timeout,
            max_size=cfg.max_message_size,
            proxy=None,  # never route through an environment proxy
            compression=None,
            user_agent_header="bot4",
        )

    async def _open(self, ws: ClientConnection, gap: tuple[int, str] | None) -> bool:
        """Handshake, resubscribe, resync; False (connection closed) when any step failed."""
        self._connects += 1
        session = Session(self, ws, self._connects)
        try:
            async with asyncio.timeout(self.config.open_timeout):
                if self.hooks.on_connect is not None:
                    await self.hooks.on_connect(session)
                self._outbox.discard_subscriptions()
                for message, _ in list(self._subscriptions.values()):
                    await session.send(message)
                if gap is not None:
                    self._report_gap(gap)
                if self.hooks.on_resync is not None:
                    await self.hooks.on_resync()
        except Exception as exc:  # noqa: BLE001 - adapter hooks are a task boundary: count, retry
            self._disconnects[DisconnectCause.HANDSHAKE_FAILED.value] += 1
            self._connect_failed(f"connection set-up failed: {type(exc).__name__}: {exc}")
            await ws.close()
            return False
        if gap is not None:
            self._report_resynced(gap)
        if self._breaker is not None:
            self._breaker.record_success()
        self._resent += self._outbox.requeue_in_flight()
        self._open_since = time.monotonic()
        self._last_in = self._open_since
        self._last_in_ns = self._clock.timestamp_ns()
        self._set_state(StreamState.OPEN)
        return True

    async def _run(self, ws: ClientConnection) -> DisconnectCause:
        """Read, write and watch one open connection until it ends; return why it ended."""
        self._idle_hit = False
        loop = asyncio.get_running_loop()
        name = f"bot4.ws.{self.config.name}"
        reader = loop.create_task(self._read(ws), name=f"{name}.read")
        helpers = [loop.create_task(self._write(ws), name=f"{name}.write")]
        if self.config.idle_timeout is not None:
            helpers.append(loop.create_task(self._watch_idle(), name=f"{name}.idle"))
        try:
            await asyncio.wait([reader, *helpers], return_when=asyncio.FIRST_COMPLETED)
            # Whoever ended first, close the connection (bounded by close_timeout) and let the
            # reader drain what the library already buffered before it sees the close.
            await ws.close()
            await reader
        finally:
            for task in (reader, *helpers):
                task.cancel()
            await asyncio.gather(reader, *helpers, return_exceptions=True)
            if self._open_since is not None:
                self._connected_total += time.monotonic() - self._open_since
                self._open_since = None
            self._last_pong_rtt = ws.latency or self._last_pong_rtt
        if not self._closing:
            self._set_state(StreamState.RECONNECTING)
        cause = self._cause(ws)
        self._disconnects[cause.value] += 1
        _log.warning("stream %s disconnected: %s", self.config.name, cause.value)
        return cause

    async def _read(self, ws: ClientConnection) -> None:
        decode = self.hooks.decode
        on_message = self.hooks.on_message
        expect = self.config.payload
        while True:
            try:
                raw = await ws.recv()
            except ConnectionClosed:
                return
            self._count_in(raw)
            if expect is PayloadKind.TEXT and isinstance(raw, bytes):
                self._malformed_input("binary frame where text was expected", raw)
                continue
            if expect is PayloadKind.BINARY and isinstance(raw, str):
                self._malformed_input("text frame where binary was expected", raw)
                continue
            if decode is None:
                msg: Any = raw
            else:
                try:
                    msg = decode(raw)
                except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
                    self._malformed_input(f"undecodable message: {exc}", raw)
                    continue
            try:
                on_message(msg)
            except Exception as exc:  # noqa: BLE001 - the task boundary: count, report, go on
                self._handler_errors += 1
                _log.exception("stream %s: on_message raised", self.config.name)
                self._report(
                    InvalidDataError(
                        "message handler raised",
                        stream=self.config.name,
                        error=f"{type(exc).__name__}: {exc}",
                        payload=_preview(raw),
                    )
                )

    async def _write(self, ws: ClientConnection) -> None:
        outbox = self._outbox
        window = self.config.max_in_flight
        while True:
            item = outbox.peek()
            if item is None or (window and item.ack_key is not None and outbox.in_flight >= window):
                # Nothing to send, or the send window is full: wait for a send() or an ack.
                self._wake.clear()
                await self._wake.wait()
                continue
            try:
                await ws.send(item.payload)
            except ConnectionClosed:
                # The frame may or may not have left. A keyed message counts as in flight, so
                # the protocol's acknowledgement (or resume handshake) decides whether it goes
                # again; an unkeyed one stays at the head and is sent again after the reconnect.
                if item.ack_key is not None:
                    outbox.mark_written(item)
                return
            outbox.mark_written(item)
            self._count_out(item.payload)

    async def _watch_idle(self) -> None:
        idle = self.config.idle_timeout or 0.0
        while True:
            remaining = self._last_in + idle - time.monotonic()
            if remaining <= 0:
                self._idle_hit = True
                _log.warning("stream %s idle for %.3f s: reconnecting", self.config.name, idle)
                return
            await asyncio.sleep(remaining)

    # -- outcomes -----------------------------------------------------------------------------

    def _cause(self, ws: ClientConnection) -> DisconnectCause:
        if self._closing:
            return DisconnectCause.LOCAL_CLOSE
        if self._idle_hit:
            return DisconnectCause.IDLE_TIMEOUT
        sent, rcvd = ws.protocol.close_sent, ws.protocol.close_rcvd
        if sent is not None and (rcvd is None or not ws.protocol.close_rcvd_then_sent):
            # We closed first: the library failed the connection for a reason of its own.
            if sent.code == CloseCode.INTERNAL_ERROR and "keepalive" in sent.reason:
                return DisconnectCause.PONG_TIMEOUT
            if sent.code == CloseCode.MESSAGE_TOO_BIG:
                self._report(
                    InvalidDataError(
                        "message larger than max_message_size; connection dropped",
                        stream=self.config.name,
                        max_message_size=self.config.max_message_size,
                    )
                )
                return DisconnectCause.OVERSIZE
            if sent.code in (CloseCode.INVALID_DATA, CloseCode.PROTOCOL_ERROR):
                self._malformed += 1
                self._report(
                    InvalidDataError(
                        "malformed frame; connection dropped",
                        stream=self.config.name,
                        close_code=int(sent.code),
                        reason=sent.reason,
                    )
                )
                return DisconnectCause.MALFORMED_FRAME
        if rcvd is not None:
            self._close_codes[int(rcvd.code)] += 1
            return DisconnectCause.REMOTE_CLOSE
        return DisconnectCause.CONNECTION_LOST

    def _connect_failed(self, reason: str) -> None:
        self._connect_failures += 1
        _log.warning("stream %s: %s", self.config.name, reason)
        if self._breaker is not None:
            self._breaker.record_failure(reason)
        self._report(DisconnectedError(reason, stream=self.config.name, url=self.config.url))

    def _gave_up(self, failures: int) -> bool:
        if self.config.profile is not StreamProfile.ORDERS or failures < self.config.max_attempts:
            return False
        reason = f"gave up after {failures} failed connects"
        undelivered = tuple(item.payload for item in self._outbox.drain())
        self._closing = True
        self._set_state(StreamState.CLOSED)
        if self._breaker is not None:
            self._breaker.trip(f"stream {self.config.name} {reason}")
        _log.error("stream %s %s; %d messages undelivered", self.config.name, reason, len(undelivered))
        self._report(
            StreamGaveUpError(
                f"stream {reason}", undelivered=undelivered, stream=self.config.name, url=self.config.url
            )
        )
        return True

    def _malformed_input(self, reason: str, raw: Payload) -> None:
        self._malformed += 1
        self._report(InvalidDataError(reason, stream=self.config.name, size=len(raw), payload=_preview(raw)))

    def _report(self, error: Bot4Error) -> None:
        if self.hooks.on_error is None:
            return
        try:
            self.hooks.on_error(error)
        except Exception:  # noqa: BLE001 - a broken error handler must not take the stream down
            self._handler_errors += 1
            _log.exception("stream %s: on_error raised", self.config.name)

    def _report_gap(self, gap: tuple[int, str]) -> None:
        self._gaps += 1
        if self.hooks.on_event is None:
            return
        now = self._clock.timestamp_ns()
        self.hooks.on_event(
            StreamGap(
                venue=self._venue,
                stream=self.config.name,
                since_ns=gap[0],
                until_ns=now,
                cause=gap[1],
                ts_event=now,
                ts_init=now,
            )
        )

    def _report_resynced(self, gap: tuple[int, str]) -> None:
        if self.hooks.on_event is None:
            return
        now = self._clock.timestamp_ns()
        self.hooks.on_event(
            StreamResynced(
                venue=self._venue, stream=self.config.name, gap_ns=now - gap[0], ts_event=now, ts_init=now
            )
        )

    def _set_state(self, state: StreamState) -> None:
        if state is self._state:
            return
        _log.info("stream %s %s -> %s", self.config.name, self._state.value, state.value)
        self._state = state
        self._opened.set()


def _preview(raw: Payload) -> str:
    text = raw if isinstance(raw, str) else repr(raw[:_PREVIEW])
    return text[:_PREVIEW]
