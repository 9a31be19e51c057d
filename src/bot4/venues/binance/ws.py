"""Binance spot WebSocket streams on :class:`~bot4.net.ReliableWebSocket`.

Market data uses the combined endpoint (``/stream?streams=a/b``, payloads wrapped as
``{"stream": ..., "data": ...}``): the streams known when the connection is built are in its
URL, later ones are live ``SUBSCRIBE`` requests the stream replays after every reconnect. It
runs on the MARKET_DATA profile (reconnects for ever).

The user data stream (:class:`UserDataStream`) runs on the ORDERS profile with the critical
breaker ``ws:user``: a stream that cannot reconnect trips it, and the risk engine stops opening
positions. Each connection gets its listen key in ``on_connect`` (``POST
/api/v3/userDataStream``; Binance hands back the live key, or a new one) and subscribes it on
the raw endpoint ``/ws``. The key is kept alive every ``listen_key_keepalive_s``. When Binance
says the key expired (``listenKeyExpired``, :class:`~bot4.venues.binance.parsing.UserStreamEnded`)
or a keep-alive fails, :meth:`UserDataStream.renew` drops the connection and opens a new one
with a new key, reporting a :class:`StreamGap` and, once the owner's ``on_resync`` has run on
the new connection, :class:`StreamResynced`. The listen key is a credential: it is never
logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from bot4.core.clock import Clock
from bot4.core.errors import Bot4Error, DisconnectedError, InternalError
from bot4.core.ids import Venue
from bot4.model.status import StreamGap, StreamResynced
from bot4.net.backoff import Backoff
from bot4.net.breaker import CircuitBreaker
from bot4.net.ws import ReliableWebSocket, Session, StreamHooks
from bot4.net.ws_config import StreamConfig, StreamProfile, StreamState, StreamStats
from bot4.venues.binance.config import BinanceConfig
from bot4.venues.binance.http import BinanceHttpClient

__all__ = [
    "StreamTiming",
    "UserDataStream",
    "UserStreamHooks",
    "combined_stream_url",
    "market_data_stream",
    "market_streams",
    "raw_stream_url",
    "stream_name",
    "subscription_message",
]

_log = logging.getLogger("bot4.venues.binance.ws")

StreamSignal = StreamGap | StreamResynced


@dataclass(frozen=True, kw_only=True)
class StreamTiming:
    """Reconnect and keepalive timing of the Binance streams (seconds).

    Production defaults; tests pass short ones. ``idle_timeout`` applies to market data only
    (a user stream is legitimately quiet); ``max_attempts`` to the user stream only (ORDERS).
    """

    backoff: Backoff = field(default_factory=Backoff)
    max_attempts: int = 10
    ping_interval: float = 30.0
    pong_timeout: float = 10.0
    idle_timeout: float | None = 90.0
    open_timeout: float = 10.0
    stable_after: float = 10.0

    def stream_config(
        self, url: str, *, name: str, venue: str, profile: StreamProfile
    ) -> StreamConfig:
        return StreamConfig(
            url=url,
            name=name,
            venue=venue,
            profile=profile,
            backoff=self.backoff,
            max_attempts=self.max_attempts,
            ping_interval=self.ping_interval,
            pong_timeout=self.pong_timeout,
            idle_timeout=self.idle_timeout if profile is StreamProfile.MARKET_DATA else None,
            open_timeout=self.open_timeout,
            stable_after=self.stable_after,
        )


def stream_name(symbol: str, kind: str) -> str:
    """``("BTCUSDT", "trade")`` -> ``btcusdt@trade`` (Binance wants lower-case symbols)."""
    return f"{symbol.lower()}@{kind}"


def market_streams(symbol: str, depth_speed_ms: int = 100, trade_stream: str = "trade") -> list[str]:
    """The streams one instrument needs: trades (or aggregated trades), best bid/ask, depth diffs."""
    depth = "depth@100ms" if depth_speed_ms == 100 else "depth"
    return [stream_name(symbol, kind) for kind in (trade_stream, "bookTicker", depth)]


def combined_stream_url(ws_url: str, streams: Sequence[str]) -> str:
    """``<ws_url>/stream?streams=a/b`` (``/stream`` alone when there is none yet)."""
    if not streams:
        return f"{ws_url}/stream"
    return f"{ws_url}/stream?streams={'/'.join(streams)}"


def raw_stream_url(ws_url: str) -> str:
    """``<ws_url>/ws``: raw payloads, streams added with ``SUBSCRIBE``."""
    return f"{ws_url}/ws"


def subscription_message(method: str, streams: Sequence[str], request_id: int) -> str:
    """A live ``SUBSCRIBE``/``UNSUBSCRIBE`` request."""
    return msgspec.json.encode({"method": method, "params": list(streams), "id": request_id}).decode()


def market_data_stream(
    config: BinanceConfig,
    streams: Sequence[str],
    hooks: StreamHooks,
    *,
    clock: Clock,
    timing: StreamTiming | None = None,
    breaker: CircuitBreaker | None = None,
) -> ReliableWebSocket:
    """A MARKET_DATA stream on the combined endpoint with ``streams`` in its URL."""
    settings = timing or StreamTiming()
    stream_config = settings.stream_config(
        combined_stream_url(config.ws_url, streams),
        name=f"{config.venue.lower()}-market",
        venue=config.venue,
        profile=StreamProfile.MARKET_DATA,
    )
    return ReliableWebSocket(stream_config, hooks, breaker=breaker, clock=clock)


@dataclass(frozen=True, kw_only=True)
class UserStreamHooks:
    """What the owner of a user data stream plugs in.

    ``on_message(raw)`` gets every frame as text (the parser decodes it); ``on_resync()`` runs
    on each new connection once the listen key is subscribed (re-read orders), before any
    message of that connection is delivered; ``on_event`` gets the gap signals; ``on_error``
    every problem the stream survived and the one it did not.
    """

    on_message: Callable[[str], object]
    on_error: Callable[[Bot4Error], None] | None = None
    on_event: Callable[[StreamSignal], None] | None = None
    on_resync: Callable[[], Awaitable[None]] | None = None


class UserDataStream:
    """The account's user data stream: listen key, keep-alive, renewal (module docstring)."""

    def __init__(
        self,
        config: BinanceConfig,
        http: BinanceHttpClient,
        hooks: UserStreamHooks,
        *,
        clock: Clock,
        timing: StreamTiming | None = None,
    ) -> None:
        self.config = config
        self.venue = Venue(config.venue)
        self.name = f"{config.venue.lower()}-user"
        self._http = http
        self._hooks = hooks
        self._clock = clock
        self._timing = timing or StreamTiming()
        self._breaker = http.breakers.get(self.venue, "ws:user", critical=True)
        self._stream: ReliableWebSocket | None = None
        self._listen_key: str | None = None
        self._request_id = 0
        self._keepalive: asyncio.Task[None] | None = None
        self._renewal: asyncio.Task[None] | None = None
        self._resync_since: int | None = None  # set while a renewal's gap is open
        self._last_message_ns = 0
        self._closing = False
        self.renewals = 0
        self.keepalives = 0
        self.keepalive_failures = 0

    def __repr__(self) -> str:
        state = "no stream" if self._stream is None else self._stream.state.value
        return f"UserDataStream({self.name}, {state}, renewals={self.renewals})"

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def state(self) -> StreamState:
        return StreamState.CONNECTING if self._stream is None else self._stream.state

    @property
    def has_listen_key(self) -> bool:
        return self._listen_key is not None

    async def start(self) -> None:
        """Start connecting (returns at once) and keeping the listen key alive."""
        if self._stream is not None or self._closing:
            raise InternalError("user data stream already started or closed", stream=self.name)
        self._stream = self._build()
        await self._stream.start()
        self._keepalive = asyncio.get_running_loop().create_task(
            self._keep_alive(), name=f"bot4.{self.name}.keepalive"
        )

    async def wait_open(self, timeout: float | None = None) -> None:
        """Wait until a connection is open with its listen key subscribed."""
        async with asyncio.timeout(timeout):
            while True:
                stream = self._stream
                if stream is None:
                    raise DisconnectedError("user data stream not started", stream=self.name)
                try:
                    await stream.wait_open()
                except DisconnectedError:
                    if self._closing:
                        raise
                    renewal = self._renewal
                    if stream is self._stream and renewal is not None and not renewal.done():
                        await asyncio.wait([renewal])  # being replaced: wait for the new one
                    if stream is self._stream:
                        raise  # closed for good (an ORDERS stream that gave up)
                    continue
                if stream is self._stream:
                    return

    async def close(self) -> None:
        """Stop the keep-alive, any renewal and the stream; close the listen key (best effort)."""
        self._closing = True
        tasks = [task for task in (self._keepalive, self._renewal) if task is not None]
        self._keepalive = self._renewal = None
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        stream, self._stream = self._stream, None
        if stream is not None:
            await stream.close()
        key, self._listen_key = self._listen_key, None
        if key is not None:
            try:
                async with asyncio.timeout(self._timing.open_timeout):
                    await self._http.close_listen_key(key)
            except (Bot4Error, TimeoutError) as exc:
                _log.info("%s: listen key not closed at close: %s", self.name, type(exc).__name__)

    def stats(self) -> StreamStats | None:
        return None if self._stream is None else self._stream.stats()

    # -- renewal --------------------------------------------------------------------------

    def renew(self, reason: str) -> None:
        """Get a new listen key on a new connection (at most one renewal at a time)."""
        if self._closing or self._stream is None:
            return
        if self._renewal is not None and not self._renewal.done():
            return
        self._renewal = asyncio.get_running_loop().create_task(
            self._renew(reason), name=f"bot4.{self.name}.renew"
        )

    async def _renew(self, reason: str) -> None:
        try:
            self.renewals += 1
            now = self._clock.timestamp_ns()
            since = self._last_message_ns or now
            _log.warning("%s: renewing the listen key and reconnecting: %s", self.name, reason)
            self._signal(
                StreamGap(
                    venue=self.venue,
                    stream=self.name,
                    since_ns=since,
                    until_ns=now,
                    cause=f"listen key renewed: {reason}",
                    ts_event=now,
                    ts_init=now,
                )
            )
            if self._resync_since is None:
                self._resync_since = since
            old, self._listen_key = self._stream, None
            if old is not None:
                await old.close()
            if self._closing:
                return
            self._stream = self._build()
            await self._stream.start()
        except Exception as exc:  # noqa: BLE001 - a task boundary: count, report, keep the client
            _log.exception("%s: renewal failed", self.name)
            self._report(InternalError("listen key renewal failed", stream=self.name, error=repr(exc)))

    async def _keep_alive(self) -> None:
        interval = float(self.config.listen_key_keepalive_s)
        while True:
            await asyncio.sleep(interval)
            key = self._listen_key
            if key is None:
                continue
            try:
                await self._http.keepalive_listen_key(key)
            except Bot4Error as exc:
                self.keepalive_failures += 1
                self._report(exc)
                self.renew(f"keep-alive failed: {exc.message}")
            else:
                self.keepalives += 1

    # -- the stream's hooks ---------------------------------------------------------------

    def _build(self) -> ReliableWebSocket:
        stream_config = self._timing.stream_config(
            raw_stream_url(self.config.ws_url),
            name=self.name,
            venue=self.config.venue,
            profile=StreamProfile.ORDERS,
        )
        hooks = StreamHooks(
            on_message=self._on_message,
            decode=None,
            on_error=self._hooks.on_error,
            on_connect=self._on_connect,
            on_resync=self._on_resync,
            on_event=self._hooks.on_event,
        )
        return ReliableWebSocket(stream_config, hooks, breaker=self._breaker, clock=self._clock)

    async def _on_connect(self, session: Session) -> None:
        key = await self._http.create_listen_key()
        self._listen_key = key
        self._request_id += 1
        request_id = self._request_id
        await session.send(subscription_message("SUBSCRIBE", [key], request_id))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timing.open_timeout
        while True:
            raw = await session.recv(timeout=max(0.0, deadline - loop.time()))
            reply = _reply_to(raw, request_id)
            if reply is None:
                self._on_message(raw)  # an event that came before the answer: keep it
                continue
            if reply.error is not None:
                raise DisconnectedError(
                    "Binance refused to subscribe the listen key",
                    stream=self.name,
                    code=reply.error.get("code"),
                    msg=str(reply.error.get("msg"))[:200],
                )
            return

    async def _on_resync(self) -> None:
        if self._hooks.on_resync is not None:
            await self._hooks.on_resync()
        since, self._resync_since = self._resync_since, None
        if since is not None:
            now = self._clock.timestamp_ns()
            self._signal(
                StreamResynced(
                    venue=self.venue, stream=self.name, gap_ns=now - since, ts_event=now, ts_init=now
                )
            )

    def _on_message(self, raw: Any) -> None:
        self._last_message_ns = self._clock.timestamp_ns()
        text = raw if isinstance(raw, str) else bytes(raw).decode("utf-8", "replace")
        self._hooks.on_message(text)

    def _signal(self, signal: StreamSignal) -> None:
        if self._hooks.on_event is None:
            return
        try:
            self._hooks.on_event(signal)
        except Exception:  # noqa: BLE001 - the owner's hook must not stop a renewal
            _log.exception("%s: on_event raised", self.name)

    def _report(self, error: Bot4Error) -> None:
        if self._hooks.on_error is None:
            return
        try:
            self._hooks.on_error(error)
        except Exception:  # noqa: BLE001 - the owner's hook must not stop the keep-alive
            _log.exception("%s: on_error raised", self.name)


class _Reply(msgspec.Struct):
    id: Any = None
    result: Any = msgspec.UNSET
    error: dict[str, Any] | None = None


_REPLY = msgspec.json.Decoder(_Reply)


def _reply_to(raw: Any, request_id: int) -> _Reply | None:
    """The answer to request ``request_id``, or None for any other frame."""
    if not isinstance(raw, str | bytes) or b'"id"' not in (raw if isinstance(raw, bytes) else raw.encode()):
        return None
    try:
        reply = _REPLY.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if reply.id != request_id or (reply.result is msgspec.UNSET and reply.error is None):
        return None
    return reply
