"""The local Binance-compatible exchange as a running server on 127.0.0.1.

``BinanceServer`` puts an :class:`Exchange` behind aiohttp (REST and WebSocket on one port),
replays market data into it, expires listen keys, and offers the controls tests need::

    async with BinanceServer([btcusdt("BINANCE")], events, config) as server:
        server.rest_url  # "http://127.0.0.1:PORT"   (REST paths: /api/v3/...)
        server.ws_url    # "ws://127.0.0.1:PORT"     (streams: /ws/<name>, /stream?streams=)

It runs inside the caller's event loop and owns two tasks (replay, listen-key expiry); ``stop``
(or leaving the ``async with``) cancels them, closes every WebSocket with 1001 and stops the
HTTP server, leaving no task behind.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Sequence
from types import TracebackType

from aiohttp import web

from bot4.core.errors import InvalidInputError
from bot4.model.data import MarketData
from bot4.model.instrument import Instrument
from bot4.venues.sim.binance_server.config import BinanceServerConfig
from bot4.venues.sim.binance_server.exchange import Exchange
from bot4.venues.sim.binance_server.faults import (
    DropMode,
    Faults,
    RecordedRequest,
    RecordedWsMessage,
    StreamKind,
)
from bot4.venues.sim.binance_server.replay import Replay
from bot4.venues.sim.binance_server.rest import RestApi
from bot4.venues.sim.binance_server.state import Account

__all__ = ["BinanceServer"]

_HOST = "127.0.0.1"
_SHUTDOWN_TIMEOUT_S = 2.0


class BinanceServer:
    """A Binance spot exchange on loopback, backed by the simulated venue (module docstring)."""

    def __init__(
        self,
        instruments: Sequence[Instrument],
        market_data: Iterable[MarketData] = (),
        config: BinanceServerConfig | None = None,
    ) -> None:
        self.config = config or BinanceServerConfig()
        self.exchange = Exchange(instruments, self.config)
        self._api = RestApi(self.exchange)
        self._replay = Replay(market_data, self.exchange.process, self.config.speed)
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._replay_task: asyncio.Task[None] | None = None
        self._expiry_task: asyncio.Task[None] | None = None
        self.errors: list[BaseException] = self._api.errors

    # -- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> BinanceServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Listen on 127.0.0.1 and start the listen-key expiry (and the replay if ``autostart``)."""
        if self._runner is not None:
            raise InvalidInputError("the server is already started", port=self._port)
        app = web.Application()
        app.add_routes(self._api.routes())
        app.add_routes(
            [
                web.get("/ws", self._ws_bare),
                web.get("/ws/{names:.+}", self._ws_raw),
                web.get("/stream", self._ws_combined),
            ]
        )
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT_S)
        await runner.setup()
        site = web.TCPSite(runner, _HOST, self.config.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        self._expiry_task = asyncio.create_task(self._expire_keys(), name="binance-server-listen-keys")
        self._expiry_task.add_done_callback(self._task_done)
        if self.config.autostart:
            self.start_replay()

    async def stop(self) -> None:
        """Stop the tasks, close every WebSocket (1001) and the HTTP server. Idempotent."""
        for task in (self._replay_task, self._expiry_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._replay_task = self._expiry_task = None
        runner, self._runner = self._runner, None
        if runner is not None:
            await self.exchange.hub.close_all()
            await runner.cleanup()

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            if error is not None:
                self.errors.append(error)

    # -- addresses ------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise InvalidInputError("the server is not started")
        return self._port

    @property
    def rest_url(self) -> str:
        return f"http://{_HOST}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{_HOST}:{self.port}"

    # -- what happened --------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every REST request received, in order (credentials redacted)."""
        return self.exchange.requests

    @property
    def ws_messages(self) -> list[RecordedWsMessage]:
        """Every text message WebSocket clients sent, in order."""
        return self.exchange.hub.messages

    @property
    def faults(self) -> Faults:
        return self.exchange.faults

    def account(self, name: str = "main") -> Account:
        return self.exchange.accounts[name]

    def server_time_ms(self) -> int:
        return self.exchange.clock.now_ms()

    @property
    def ws_connections(self) -> int:
        return len(self.exchange.hub.connections)

    # -- market data ----------------------------------------------------------------------

    def start_replay(self) -> None:
        """Start replaying the market data given at construction (once)."""
        if self._replay_task is None:
            self._replay_task = asyncio.create_task(self._replay.run(), name="binance-server-replay")
            self._replay_task.add_done_callback(self._task_done)

    @property
    def replay(self) -> Replay:
        """The replay: ``delivered``, ``position_ns``, ``done``, ``pause``/``resume``, ``speed``."""
        return self._replay

    async def wait_replay_done(self, timeout: float | None = None) -> None:
        async with asyncio.timeout(timeout):
            await self._replay.done.wait()

    def push(self, *events: MarketData) -> None:
        """Process market data now, outside the replay (fills happen before this returns)."""
        for event in events:
            self.exchange.process(event)

    def stall_market_data(self) -> None:
        """Withhold market frames (connections stay up, pings answered, the market moves on)."""
        self.exchange.hub.market_stalled = True

    def resume_market_data(self) -> None:
        self.exchange.hub.market_stalled = False

    # -- faults ---------------------------------------------------------------------------

    async def drop_ws(self, kind: StreamKind | None = None, mode: DropMode = DropMode.ABORT) -> int:
        """End every WebSocket connection (of ``kind``) now; return how many."""
        return await self.exchange.hub.drop(kind, mode)

    def expire_listen_keys(self) -> int:
        """Expire every listen key now (``listenKeyExpired`` then close); return how many."""
        return self.exchange.expire_listen_keys(all_keys=True)

    def set_time_offset(self, offset_ms: int) -> None:
        """Skew the server's clock by ``offset_ms`` against the wall clock."""
        self.exchange.clock.offset_ms = offset_ms

    def reset_rate_limits(self) -> None:
        self.exchange.limits.reset()

    # -- internals ------------------------------------------------------------------------

    async def _expire_keys(self) -> None:
        interval = min(1.0, self.config.listen_key_ttl_s / 4)
        while True:
            await asyncio.sleep(interval)
            self.exchange.expire_listen_keys()

    async def _ws_bare(self, request: web.Request) -> web.StreamResponse:
        return await self.exchange.hub.serve(request, [], combined=False)

    async def _ws_raw(self, request: web.Request) -> web.StreamResponse:
        names = [n for n in request.match_info["names"].split("/") if n]
        return await self.exchange.hub.serve(request, names, combined=False)

    async def _ws_combined(self, request: web.Request) -> web.StreamResponse:
        names = [n for n in request.query.get("streams", "").split("/") if n]
        return await self.exchange.hub.serve(request, names, combined=True)

    def __repr__(self) -> str:
        where = "stopped" if self._port is None or self._runner is None else self.rest_url
        return f"BinanceServer({where}, symbols={list(self.exchange.instruments)}, accounts={list(self.exchange.accounts)})"
