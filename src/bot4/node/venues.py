"""One configured venue as the node uses it: the adapter clients, and the local exchange behind
a ``kind = "local"`` venue.

Every venue speaks the Binance protocol through the real adapter and network layer
(:mod:`bot4.venues.binance`): REST through the venue's breakers and rate limiter, market data
over the reliable WebSocket with book sync, orders over REST with the user data stream. What
differs by kind and mode:

==============  ==========================================  ================================
kind / mode     market data                                 orders
==============  ==========================================  ================================
local / paper   the local exchange on 127.0.0.1, replaying  the local exchange (its matching
                the configured data at ``speed``            engine fills them)
binance / paper Binance                                     :class:`PaperVenue`: simulated
                                                            fills on Binance's live prices
binance / live  Binance                                     Binance, behind the write-ahead
==============  ==========================================  ================================

A :class:`VenueConnection` owns what it starts: ``close`` stops the clients, the HTTP session
and the local exchange, whatever stage start-up reached.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

from bot4.core.bus import MessageBus
from bot4.core.clock import Clock
from bot4.core.errors import Bot4Error, ConfigError, TransientError
from bot4.core.ids import AccountId, ClientOrderId, StrategyId, Venue
from bot4.execution.ports import EventSink, VenueClient
from bot4.execution.reconciliation import VenueReport
from bot4.model.data import MarketData
from bot4.model.instrument import Instrument
from bot4.model.status import StreamGap, StreamResynced
from bot4.net.backoff import Backoff
from bot4.net.breaker import BreakerRegistry
from bot4.net.ratelimit import RateLimiter
from bot4.node.config import SAMPLE, VenueConfig, VenueKind
from bot4.venues.binance import (
    BinanceConfig,
    BinanceDataClient,
    BinanceExecutionClient,
    BinanceHttpClient,
    BinanceRateLimits,
    Credentials,
    DurabilityGate,
    ExecutionHooks,
    ExecutionSettings,
    Parser,
    StreamTiming,
    instruments_from_exchange_info,
)
from bot4.venues.paper import PaperVenue
from bot4.venues.sim.binance_server import (
    AccountSpec,
    ApiKeySpec,
    BinanceServer,
    BinanceServerConfig,
)
from bot4.venues.sim.config import SimVenueConfig

__all__ = ["Mode", "VenueConnection", "VenueStartError"]

_log = logging.getLogger("bot4.node.venues")

# The local exchange is on loopback: reconnect fast, it is back within a moment or not at all.
_LOCAL_TIMING = StreamTiming(
    backoff=Backoff(initial=0.2, multiplier=2.0, max_delay=5.0), stable_after=2.0, idle_timeout=30.0
)

MarketSink = Callable[[MarketData | StreamGap | StreamResynced], None]


class Mode(StrEnum):
    PAPER = "paper"
    LIVE = "live"


class VenueStartError(Bot4Error):
    """A venue could not be reached or refused us at start-up; the message says which and why."""


class VenueConnection:
    """The clients of one configured venue (module docstring)."""

    def __init__(
        self,
        config: VenueConfig,
        mode: Mode,
        *,
        clock: Clock,
        bus: MessageBus,
        breakers: BreakerRegistry,
        on_event: EventSink,
        on_market: MarketSink,
        on_error: Callable[[Bot4Error], None],
        strategy_for: Callable[[ClientOrderId], StrategyId | None],
        write_ahead: DurabilityGate | None,
        write_ahead_timeout: float,
        credentials: Credentials | None = None,
        on_user_resynced: Callable[[VenueConnection], None] | None = None,
    ) -> None:
        self.config = config
        self.mode = mode
        self.venue = Venue(config.name)
        self._clock = clock
        self._bus = bus
        self._breakers = breakers
        self._on_event = on_event
        self._on_market = on_market
        self._on_error = on_error
        self._strategy_for = strategy_for
        self._write_ahead = write_ahead
        self._write_ahead_timeout = write_ahead_timeout
        self._credentials = credentials
        self._on_user_resynced = on_user_resynced
        self.server: BinanceServer | None = None
        self.replay_total = 0
        self.instruments: list[Instrument] = []
        self.http: BinanceHttpClient | None = None
        self.data: BinanceDataClient | None = None
        self.binance: BinanceExecutionClient | None = None
        self.paper: PaperVenue | None = None

    @property
    def is_local(self) -> bool:
        return self.config.kind is VenueKind.LOCAL

    @property
    def client(self) -> VenueClient:
        """The execution client orders go to (after :meth:`connect`)."""
        client: VenueClient | None = self.paper if self.paper is not None else self.binance
        if client is None:
            raise VenueStartError("venue is not connected", venue=self.config.name)
        return client

    @property
    def rest_url(self) -> str:
        if self.server is not None:
            return self.server.rest_url
        return self.config.rest_url or ""

    # -- start ------------------------------------------------------------------------------

    async def connect(self, timeout: float) -> list[Instrument]:
        """Start the local exchange (kind local), read the venue's instruments and open the
        order side (the user data stream). Market data starts later, in :meth:`start_data`."""
        if self.is_local:
            await self._start_local_exchange()
        binance = self._binance_config()
        credentials = self._credentials
        limiter = RateLimiter(self.venue, BinanceRateLimits().rate_limits(), breakers=self._breakers)
        self.http = BinanceHttpClient(binance, credentials, limiter=limiter, breakers=self._breakers,
                                      clock=self._clock)
        where = f"{self.config.name} at {binance.rest_url}"
        try:
            async with asyncio.timeout(timeout):
                info = await self.http.exchange_info(list(self.config.symbols))
        except TimeoutError:
            raise VenueStartError(f"venue {where} did not answer within {timeout:g} s",
                                  key="node.start_timeout_s") from None
        except TransientError as exc:
            raise VenueStartError(f"venue {where} cannot be reached (is it up?): {exc}") from None
        except Bot4Error as exc:
            raise VenueStartError(f"venue {where} refused exchangeInfo: {exc}") from None
        instruments, problems = instruments_from_exchange_info(
            info, venue=self.venue, symbols=self.config.symbols
        )
        missing = sorted(set(self.config.symbols) - {i.id.symbol.value for i in instruments})
        if missing:
            detail = "; ".join(str(p.to_error()) for p in problems) or "not listed"
            raise VenueStartError(f"venue {where} does not list {', '.join(missing)}: {detail}")
        self.instruments = instruments
        account_id = AccountId(f"{self.config.name}-001")
        self.data = BinanceDataClient(
            binance, self.http, Parser(instruments, venue=self.venue), self._on_market, self._clock,
            on_error=self._on_error, timing=self._timing(),
        )
        if self.mode is Mode.PAPER and not self.is_local:
            sim = SimVenueConfig(venue=self.config.name, starting_balances=dict(self.config.balances or {}),
                                 queue_position=True)
            self.paper = PaperVenue(sim, instruments, self._clock, self._on_event)
            return instruments
        if credentials is None:
            raise VenueStartError("no API keys for venue", venue=self.config.name)
        parser = Parser(instruments, venue=self.venue, account_id=account_id, strategy_for=self._strategy_for)
        self.binance = BinanceExecutionClient(
            binance, self.http, parser, self._on_event, self._clock,
            write_ahead=self._write_ahead,
            settings=ExecutionSettings(timing=self._timing(), write_ahead_timeout=self._write_ahead_timeout),
            hooks=ExecutionHooks(on_error=self._on_error, on_stream_event=self._on_user_stream_event),
        )
        await self.binance.start()
        try:
            await self.binance.wait_ready(timeout)
        except (TimeoutError, Bot4Error) as exc:
            raise VenueStartError(f"venue {where}: the user data stream did not open within {timeout:g} s"
                                  f" ({type(exc).__name__}: {exc})") from None
        return instruments

    async def report(self, timeout: float) -> VenueReport:
        """The venue's view for reconciliation (the simulated account's, for a paper venue)."""
        if self.paper is not None:
            return VenueReport(venue=self.venue, open_orders=[], fills=[], account=self.paper.account_state(),
                               ts=self._clock.timestamp_ns())
        if self.binance is None:
            raise VenueStartError("venue is not connected", venue=self.config.name)
        try:
            async with asyncio.timeout(timeout):
                return await self.binance.report()
        except TimeoutError:
            raise VenueStartError(f"venue {self.config.name}: no report of open orders and trades "
                                  f"within {timeout:g} s") from None
        except Bot4Error as exc:
            raise VenueStartError(f"venue {self.config.name} refused the reconciliation report: {exc}") from None

    async def start_data(self, timeout: float) -> None:
        """Subscribe every instrument's trades, quotes and book, and connect the market stream."""
        if self.data is None:
            raise VenueStartError("venue is not connected", venue=self.config.name)
        for instrument in self.instruments:
            self.data.subscribe(instrument.id)
        await self.data.start()
        try:
            await self.data.wait_open(timeout)
        except (TimeoutError, Bot4Error) as exc:
            raise VenueStartError(f"venue {self.config.name}: the market data stream did not open within "
                                  f"{timeout:g} s ({type(exc).__name__}: {exc})") from None

    def start_replay(self) -> None:
        if self.server is not None:
            self.server.start_replay()

    # -- state ------------------------------------------------------------------------------

    @property
    def replay_done(self) -> asyncio.Event | None:
        return None if self.server is None else self.server.replay.done

    def progress(self) -> float | None:
        """Share of the local replay delivered (0..1), or None for a venue that is not local."""
        if self.server is None or self.replay_total == 0:
            return None
        return min(1.0, self.server.replay.delivered / self.replay_total)

    def reconnects(self) -> int:
        """Reconnections of the market and user data streams so far."""
        return sum(self.reconnects_by_stream().values())

    def reconnects_by_stream(self) -> dict[str, int]:
        counts = {}
        if self.data is not None:
            stream = self.data.stats().stream
            counts["market"] = 0 if stream is None else max(0, stream.connects - 1)
        if self.binance is not None:
            counts["user"] = self.binance.stats().user_stream_reconnects
        return counts

    def resyncs(self) -> dict[str, int]:
        """Book resyncs per symbol so far."""
        if self.data is None:
            return {}
        return {symbol: book.resyncs for symbol, book in self.data.stats().books.items()}

    # -- stop -------------------------------------------------------------------------------

    async def close_data(self) -> None:
        if self.data is not None:
            await self.data.close()

    async def close(self) -> None:
        """Close everything this connection started, in reverse order. Idempotent."""
        await self.close_data()
        if self.binance is not None:
            await self.binance.close()
        if self.http is not None:
            await self.http.close()
        if self.server is not None:
            await self.server.stop()

    # -- internals --------------------------------------------------------------------------

    def _on_user_stream_event(self, item: StreamGap | StreamResynced) -> None:
        self._on_market(item)
        if isinstance(item, StreamResynced) and self._on_user_resynced is not None:
            self._on_user_resynced(self)

    def _binance_config(self) -> BinanceConfig:
        rest: str | None = self.config.rest_url
        ws: str | None = self.config.ws_url
        if self.server is not None:
            rest, ws = self.server.rest_url, self.server.ws_url
        return BinanceConfig(
            venue=self.config.name, rest_url=rest or "", ws_url=ws or "", symbols=list(self.config.symbols),
            recv_window_ms=self.config.recv_window_ms, trade_stream=self.config.trade_stream,
        )

    def _timing(self) -> StreamTiming:
        return _LOCAL_TIMING if self.is_local else StreamTiming()

    async def _start_local_exchange(self) -> None:
        from bot4.backtest.loaders import load_path
        from bot4.backtest.runner import SAMPLE_DATA_FILE, sample_data_dir
        from bot4.testkit import btcusdt, ethusdt

        symbol = self.config.symbols[0]
        instrument = (btcusdt if symbol == "BTCUSDT" else ethusdt)(self.config.name)
        data = self.config.data or SAMPLE
        path = sample_data_dir() / SAMPLE_DATA_FILE if data == SAMPLE else Path(data)
        try:
            loaded = await asyncio.to_thread(load_path, path, instrument)
        except Bot4Error as exc:
            raise ConfigError(f"cannot load the local exchange's market data: {exc.message}",
                              key="venues.data", file=str(path), **exc.context) from None
        if not loaded.events:
            raise ConfigError("the local exchange's market data file holds no events", key="venues.data",
                              found=str(path))
        self.replay_total = len(loaded.events)
        # A fresh key pair per start: it exists only in this process, for the node and its exchange.
        api_key, secret = secrets.token_hex(16), secrets.token_hex(32)
        self._credentials = Credentials(api_key, secret, source="the local exchange")
        self.server = BinanceServer(
            [instrument],
            loaded.events,
            BinanceServerConfig(
                venue=self.config.name,
                speed=self.config.speed if self.config.speed is not None else 1.0,
                autostart=False,
                accounts=[AccountSpec(name="main", balances=dict(self.config.balances or {}))],
                api_keys=[ApiKeySpec(api_key=api_key, secret_key=secret, account="main")],
            ),
        )
        await self.server.start()
        _log.info("local exchange for %s on %s replaying %s (%d events at speed %g)", self.config.name,
                  self.server.rest_url, path.name, self.replay_total, self.server.replay.speed)
