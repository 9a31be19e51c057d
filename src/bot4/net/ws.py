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

Bad input never crashes it: a frame of the wrong kind, a payload the decoder refuses and a
handler that raises are counted and reported to ``on_error``; a frame the library refuses
(oversize, invalid UTF-8) ends that connection with the cause counted, and the stream
reconnects.

Every task is owned: the supervisor (one per stream) owns the reader, writer and idle watchdog
of the connection it runs, and ``close()`` stops the supervisor and waits for it. Each task
body is a boundary: nothing raised below it ends it unseen. Adapter code (hooks, the breaker
and through it the bus) is called inside guards that count, log and report what it raises;
an error of the stream's own that still reaches the supervisor stops the stream the way an
ORDERS stream gives up (CLOSED, breaker tripped, :class:`StreamGaveUpError` with the
undelivered messages), so no owner waits on a stream that is silently dead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, InvalidURI

from bot4.core.clock import Clock, LiveClock
from bot4.core.errors import DisconnectedError, StreamClosedError, StreamGaveUpError
from bot4.core.ids import Venue
from bot4.net.outbox import MessageKind, Outbox, Outgoing, Payload
from bot4.net.ws_config import (
    DisconnectCause,
    StreamConfig,
    StreamProfile,
    StreamState,
    StreamStats,
)
from bot4.net.ws_connection import OpenConnection
from bot4.net.ws_hooks import ConnectBreaker, Session, StreamHooks, StreamReporter

__all__ = ["ConnectBreaker", "ReliableWebSocket", "Session", "StreamHooks"]

_log = logging.getLogger("bot4.net.ws")


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
        self._outbox = Outbox(config.queue_size, config.overflow)
        self._reporter = StreamReporter(
            hooks, self._clock, stream=config.name, venue=Venue(config.venue)
        )
        self._counters = self._reporter.counters
        self._subscriptions: dict[str, tuple[Payload, Payload | None]] = {}
        # True once this connection's replay has begun: subscribe() must queue what it misses.
        self._subscriptions_live = False
        self._state = StreamState.CONNECTING
        self._state_changed = asyncio.Event()
        self._closing = False
        self._was_open = False
        self._supervisor: asyncio.Task[None] | None = None
        self._ws: ClientConnection | None = None
        self._wake = asyncio.Event()

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def state(self) -> StreamState:
        return self._state

    async def start(self) -> None:
        """Start connecting in the background; returns at once (see :meth:`wait_open`)."""
        if self._closing:
            raise StreamClosedError(
                "stream is closed; it cannot start again", stream=self.config.name
            )
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
                self._state_changed.clear()
                await self._state_changed.wait()

    async def close(self) -> list[Payload]:
        """Stop for good and return every message that was never sent or never acknowledged.

        Nothing is dropped silently: the caller gets the list (oldest first) and a warning is
        logged when it is not empty. Every caller returns only once the stream's tasks have
        ended; when several close at once, one of them gets the list and the others ``[]``.
        ``on_connect`` and ``on_resync`` may call it too: the stream stops when the hook
        returns. Cancelling a caller cancels only that caller; the stream still stops, and a
        later ``close()`` returns what is left.
        """
        self._closing = True
        self._set_state(StreamState.CLOSED)
        task = self._supervisor
        if task is not None and task is not asyncio.current_task() and not task.done():
            if not task.cancelling():
                task.cancel()
            await asyncio.wait([task])  # unlike ``await task``, leaves a cancelled caller cancelled
        ws, self._ws = self._ws, None
        if ws is not None:
            self._counters.disconnects[DisconnectCause.LOCAL_CLOSE.value] += 1
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
        full), :class:`StreamClosedError`, ``TypeError`` for a payload that is neither ``str``
        (a text frame) nor ``bytes`` (a binary frame), and ``UnicodeEncodeError`` for text
        that has no UTF-8 form (a lone surrogate).
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
        self._check_open_for_sending(message)
        self._subscriptions[key] = (message, unsubscribe)
        if self._subscriptions_live:
            self._put(Outgoing(message, kind=MessageKind.SUBSCRIPTION))

    def unsubscribe(self, key: str) -> None:
        """Forget subscription ``key``; send its unsubscribe message if it has one."""
        entry = self._subscriptions.pop(key, None)
        if entry is not None and entry[1] is not None and self._subscriptions_live:
            self._put(Outgoing(entry[1], kind=MessageKind.SUBSCRIPTION))

    @property
    def subscriptions(self) -> list[str]:
        return list(self._subscriptions)

    def _put(self, item: Outgoing) -> None:
        self._check_open_for_sending(item.payload)
        dropped = self._outbox.put(item)
        if dropped is not None:
            _log.warning("stream %s outbox full: dropped the oldest message", self.config.name)
        self._wake.set()

    def _check_open_for_sending(self, payload: Payload) -> None:
        if self._closing:
            raise StreamClosedError("stream is closed; message not sent", stream=self.config.name)
        if not isinstance(payload, str | bytes):
            kind = type(payload).__name__
            raise TypeError(f"a message is str (text frame) or bytes (binary frame), got {kind}")
        if isinstance(payload, str) and not payload.isascii():
            # Text with a lone surrogate cannot be encoded: refused here, at the call, it
            # would otherwise end the connection at every attempt to send it, for ever.
            payload.encode()

    # -- statistics ---------------------------------------------------------------------------

    def stats(self) -> StreamStats:
        return self._counters.snapshot(
            name=self.config.name,
            state=self._state,
            outbox=self._outbox,
            live_rtt=self._ws.latency if self._ws is not None else None,
        )

    # -- the connection loop ------------------------------------------------------------------

    async def _supervise(self) -> None:
        try:
            await self._keep_connected()
        except Exception as exc:  # noqa: BLE001 - the task boundary: nothing may end it unseen
            _log.exception("stream %s: supervisor failed", self.config.name)
            ws, self._ws = self._ws, None
            if ws is not None:
                await ws.close()
            self._give_up(f"stopped by an unexpected error: {type(exc).__name__}: {exc}")

    async def _keep_connected(self) -> None:
        # ``failed`` counts failed connects in a row (what an ORDERS stream gives up on);
        # ``streak`` drives the backoff and also grows when a connection dies before it was
        # stable, so a server that accepts and drops at once is not hammered.
        failed = 0
        streak = 0
        gap: tuple[int, str] | None = None  # (since_ns, cause) of the connection lost last
        while not self._closing:
            if streak:
                self._counters.reconnect_attempts += 1
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
            cause = await self._run(ws)
            self._ws = None
            streak = 1 if time.monotonic() - opened_at >= self.config.stable_after else streak + 1
            gap = (self._counters.last_in_ns, cause.value)

    async def _dial(self) -> ClientConnection:
        self._set_state(StreamState.RECONNECTING if self._was_open else StreamState.CONNECTING)
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
        """Handshake, resubscribe, resync; False (connection closed) when any step failed or a
        hook closed the stream."""
        counters = self._counters
        counters.connects += 1
        session = Session(ws, counters.connects, self._reporter)
        try:
            async with asyncio.timeout(self.config.open_timeout):
                if self.hooks.on_connect is not None:
                    await self.hooks.on_connect(session)
                self._outbox.discard_subscriptions()
                self._subscriptions_live = True
                for message, _ in list(self._subscriptions.values()):
                    await session.send(message)
                if gap is not None:
                    self._reporter.gap(*gap)
                if self.hooks.on_resync is not None:
                    await self.hooks.on_resync()
        except Exception as exc:  # noqa: BLE001 - adapter hooks are a task boundary: count, retry
            self._subscriptions_live = False
            if self._closing:
                return False  # a hook closed the stream: not a failed connect
            counters.disconnects[DisconnectCause.HANDSHAKE_FAILED.value] += 1
            self._connect_failed(f"connection set-up failed: {type(exc).__name__}: {exc}")
            await ws.close()
            return False
        if self._closing:  # a hook closed the stream
            self._subscriptions_live = False
            return False
        if gap is not None:
            self._reporter.resynced(gap[0])
        if self._breaker is not None:
            self._reporter.guarded("circuit breaker", self._breaker.record_success)
        counters.resent += self._outbox.requeue_in_flight()
        counters.opened(self._clock.timestamp_ns())
        self._was_open = True
        self._set_state(StreamState.OPEN)
        return True

    async def _run(self, ws: ClientConnection) -> DisconnectCause:
        """Run one open connection until it ends; count and return why it ended."""
        connection = OpenConnection(ws, self.config, self._outbox, self._wake, self._reporter)
        try:
            cause, frame = await connection.run()
        finally:
            self._subscriptions_live = False
            self._counters.closed(ws.latency)
        self._set_state(StreamState.RECONNECTING)
        self._reporter.disconnected(cause, frame, self.config.max_message_size)
        return cause

    # -- outcomes -----------------------------------------------------------------------------

    def _connect_failed(self, reason: str) -> None:
        self._counters.connect_failures += 1
        _log.warning("stream %s: %s", self.config.name, reason)
        if self._breaker is not None:
            self._reporter.guarded("circuit breaker", self._breaker.record_failure, reason)
        self._reporter.report(
            DisconnectedError(reason, stream=self.config.name, url=self.config.url)
        )

    def _gave_up(self, failures: int) -> bool:
        """Whether the loop must end: closed meanwhile, or an ORDERS stream out of attempts."""
        if self._closing:
            return True
        if self.config.profile is not StreamProfile.ORDERS or failures < self.config.max_attempts:
            return False
        self._give_up(f"gave up after {failures} failed connects")
        return True

    def _give_up(self, reason: str) -> None:
        """Stop for good without an owner's close(): tell the owner what was never delivered."""
        if self._closing:
            return
        undelivered = tuple(item.payload for item in self._outbox.drain())
        self._closing = True
        self._set_state(StreamState.CLOSED)
        if self._breaker is not None:
            trip = self._breaker.trip
            self._reporter.guarded("circuit breaker", trip, f"stream {self.config.name} {reason}")
        _log.error(
            "stream %s %s; %d messages undelivered", self.config.name, reason, len(undelivered)
        )
        self._reporter.report(
            StreamGaveUpError(
                f"stream {reason}",
                undelivered=undelivered,
                stream=self.config.name,
                url=self.config.url,
            )
        )

    def _set_state(self, state: StreamState) -> None:
        if state is self._state or self._state is StreamState.CLOSED:
            return  # CLOSED is final
        _log.info("stream %s %s -> %s", self.config.name, self._state.value, state.value)
        self._state = state
        self._state_changed.set()
