"""Binance spot market data: trades, best bid/ask and a synced local book per instrument.

:class:`BinanceDataClient` runs one combined market-data stream (:mod:`.ws`). Every frame goes
straight through the :class:`~bot4.venues.binance.parsing.Parser`; trades and quotes go to the
sink as they are, depth diffs go through the instrument's :class:`BookSync` (Binance's local
book procedure) and only what it applied (the snapshot, then the diffs, in order) reaches the
sink, so any book built from the sink equals the synced one.

When a :class:`BookSync` asks for a snapshot (first diffs, a sequence gap, a snapshot older
than the buffered diffs) the client fetches ``GET /api/v3/depth`` in a task it owns, one per
symbol at a time, until the book is synced. After every (re)connect each book is reset and
fetched again: the sink gets :class:`StreamGap` when a synced book lost its claim and
:class:`StreamResynced` once it holds the venue's book again (besides the stream's own pair).

Bad input never raises: a frame the parser refuses is counted and reported to ``on_error``
(the parser keeps the recent ones with their payload, see ``parser.stats``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import msgspec

from bot4.core.clock import Clock
from bot4.core.errors import Bot4Error, InternalError, InvalidInputError
from bot4.core.ids import InstrumentId, Venue
from bot4.model.book import OrderBook
from bot4.model.data import BookDeltas, MarketData
from bot4.model.status import StreamGap, StreamResynced
from bot4.net.backoff import Backoff
from bot4.net.ws import ReliableWebSocket, StreamHooks
from bot4.net.ws_config import StreamStats
from bot4.venues.binance.book import BookSync, SyncResult, SyncStats
from bot4.venues.binance.config import BinanceConfig
from bot4.venues.binance.http import BinanceHttpClient
from bot4.venues.binance.parsing import ParseProblem, Parser
from bot4.venues.binance.ws import (
    StreamTiming,
    market_data_stream,
    market_streams,
    subscription_message,
)

__all__ = ["BinanceDataClient", "DataClientStats", "DataSink"]

_log = logging.getLogger("bot4.venues.binance.data")

DataSink = Callable[[MarketData | StreamGap | StreamResynced], None]

# Waits between snapshot fetches for one symbol: a failed fetch, or a snapshot older than the
# diffs already buffered (Binance's depth endpoint can lag the stream by a moment).
_SNAPSHOT_BACKOFF = Backoff(initial=0.1, multiplier=2.0, max_delay=5.0)


class DataClientStats(msgspec.Struct, frozen=True, kw_only=True):
    """A snapshot: frames in, what reached the sink, problems, snapshots and book syncs."""

    messages: int
    emitted: int
    problems: int
    dropped: int
    snapshots: int
    snapshot_failures: int
    sink_errors: int
    parser: dict[str, int]
    books: dict[str, SyncStats]
    stream: StreamStats | None


class BinanceDataClient:
    """Market data of the subscribed instruments from Binance spot (module docstring)."""

    def __init__(
        self,
        config: BinanceConfig,
        http: BinanceHttpClient,
        parser: Parser,
        sink: DataSink,
        clock: Clock,
        *,
        on_error: Callable[[Bot4Error], None] | None = None,
        timing: StreamTiming | None = None,
    ) -> None:
        self.config = config
        self.venue = Venue(config.venue)
        self._http = http
        self._parser = parser
        self._sink = sink
        self._clock = clock
        self._on_error = on_error
        self._timing = timing
        self._books: dict[str, BookSync] = {}  # by Binance symbol
        self._streams: list[str] = []
        self._stream: ReliableWebSocket | None = None
        self._snapshot_tasks: dict[str, asyncio.Task[None]] = {}
        self._request_id = 0
        self._closing = False
        self._messages = 0
        self._emitted = 0
        self._problems = 0
        self._dropped = 0
        self._snapshots = 0
        self._snapshot_failures = 0
        self._sink_errors = 0

    # -- subscriptions --------------------------------------------------------------------

    def subscribe(self, instrument_id: InstrumentId) -> None:
        """Stream trades, best bid/ask and the synced book of ``instrument_id``.

        Before :meth:`start` the streams go into the connection URL; afterwards they are
        subscribed live (and replayed after every reconnect).
        """
        if instrument_id.venue != self.venue:
            raise InvalidInputError(
                "instrument of another venue", expected=str(self.venue), found=str(instrument_id)
            )
        symbol = instrument_id.symbol.value
        if symbol in self._books:
            return
        instrument = self._parser.instrument(symbol)
        streams = market_streams(symbol, self.config.depth_speed_ms, self.config.trade_stream)
        self._books[symbol] = BookSync(
            instrument,
            stream=streams[-1],
            venue=self.venue,
            max_buffer=self.config.max_buffered_diffs,
        )
        if self._stream is None:
            self._streams.extend(streams)
            return
        self._request_id += 1
        self._stream.subscribe(
            symbol,
            subscription_message("SUBSCRIBE", streams, self._request_id),
            unsubscribe=subscription_message("UNSUBSCRIBE", streams, self._request_id),
        )

    @property
    def subscribed(self) -> list[InstrumentId]:
        return [sync.instrument_id for sync in self._books.values()]

    def book(self, instrument_id: InstrumentId) -> OrderBook | None:
        """The synced book (its last state while resyncing), or None if not subscribed."""
        sync = self._books.get(instrument_id.symbol.value)
        return None if sync is None else sync.book

    def is_synced(self, instrument_id: InstrumentId) -> bool:
        sync = self._books.get(instrument_id.symbol.value)
        return sync is not None and sync.is_synced

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect (in the background); books sync as soon as the first diffs arrive."""
        if self._stream is not None or self._closing:
            raise InternalError("data client already started or closed", venue=str(self.venue))
        hooks = StreamHooks(
            on_message=self._on_message,
            decode=None,
            on_error=self._report,
            on_resync=self._on_resync,
            on_event=self._emit,
        )
        self._stream = market_data_stream(
            self.config,
            self._streams,
            hooks,
            clock=self._clock,
            timing=self._timing,
            breaker=self._http.breakers.get(self.venue, "ws:market"),
        )
        await self._stream.start()

    async def wait_open(self, timeout: float | None = None) -> None:
        if self._stream is None:
            raise InternalError("data client not started", venue=str(self.venue))
        await self._stream.wait_open(timeout)

    async def close(self) -> None:
        """Stop the stream and every snapshot fetch; nothing runs afterwards."""
        self._closing = True
        tasks = list(self._snapshot_tasks.values())
        self._snapshot_tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        stream, self._stream = self._stream, None
        if stream is not None:
            await stream.close()

    def stats(self) -> DataClientStats:
        return DataClientStats(
            messages=self._messages,
            emitted=self._emitted,
            problems=self._problems,
            dropped=self._dropped,
            snapshots=self._snapshots,
            snapshot_failures=self._snapshot_failures,
            sink_errors=self._sink_errors,
            parser=self._parser.stats.as_dict(),
            books={symbol: msgspec.structs.replace(s.stats) for symbol, s in self._books.items()},
            stream=None if self._stream is None else self._stream.stats(),
        )

    # -- the stream -----------------------------------------------------------------------

    def _on_message(self, raw: object) -> None:
        self._messages += 1
        if not isinstance(raw, str | bytes):
            raise TypeError(f"expected a text frame, got {type(raw).__name__}")
        parsed = self._parser.parse_market(raw, self._clock.timestamp_ns())
        if isinstance(parsed, ParseProblem):
            self._problems += 1
            self._report(parsed.to_error())
            return
        for data in parsed:
            if type(data) is BookDeltas:
                sync = self._books.get(data.instrument_id.symbol.value)
                if sync is None:  # a diff of a stream we no longer follow
                    self._dropped += 1
                    continue
                self._apply(sync, sync.on_diff(data))
            else:
                self._emit(data)

    async def _on_resync(self) -> None:
        """After every connect: each book starts over from a new snapshot."""
        now = self._clock.timestamp_ns()
        for symbol, sync in self._books.items():
            self._apply(sync, sync.reset("stream reconnected", now))
            self._fetch_snapshot(symbol)

    # -- books ----------------------------------------------------------------------------

    def _apply(self, sync: BookSync, result: SyncResult) -> None:
        for signal in result.signals:
            if isinstance(signal, StreamGap):
                self._emit(signal)
        for applied in result.applied:
            self._emit(applied)
        for signal in result.signals:
            if isinstance(signal, StreamResynced):
                self._emit(signal)
        if result.needs_snapshot:
            self._fetch_snapshot(sync.instrument_id.symbol.value)

    def _fetch_snapshot(self, symbol: str) -> None:
        if self._closing:
            return
        task = self._snapshot_tasks.get(symbol)
        if task is not None and not task.done():
            return
        task = asyncio.get_running_loop().create_task(
            self._sync_book(symbol), name=f"bot4.binance.snapshot.{symbol}"
        )
        self._snapshot_tasks[symbol] = task

    async def _sync_book(self, symbol: str) -> None:
        """Fetch snapshots until the book is synced (a task per symbol, owned)."""
        sync = self._books[symbol]
        attempt = 0
        try:
            while sync.needs_snapshot and not self._closing:
                if attempt:
                    await asyncio.sleep(_SNAPSHOT_BACKOFF.delay(attempt))
                attempt += 1
                try:
                    raw = await self._http.depth_snapshot(symbol)
                except Bot4Error as exc:
                    self._snapshot_failures += 1
                    self._report(exc)
                    continue
                snapshot = self._parser.parse_snapshot(raw, symbol, self._clock.timestamp_ns())
                if isinstance(snapshot, ParseProblem):
                    self._snapshot_failures += 1
                    self._problems += 1
                    self._report(snapshot.to_error())
                    continue
                self._snapshots += 1
                self._apply(sync, sync.on_snapshot(snapshot))
        except Exception as exc:  # noqa: BLE001 - a task boundary: log, count, report
            _log.exception("%s: book sync of %s failed", self.venue, symbol)
            self._report(InternalError("book sync task failed", symbol=symbol, error=repr(exc)))

    # -- out ------------------------------------------------------------------------------

    def _emit(self, item: MarketData | StreamGap | StreamResynced) -> None:
        self._emitted += 1
        try:
            self._sink(item)
        except Exception as exc:  # noqa: BLE001 - the sink is the owner's code: count and report
            self._sink_errors += 1
            _log.exception("%s: market data sink raised", self.venue)
            self._report(InternalError("market data sink raised", error=repr(exc)))

    def _report(self, error: Bot4Error) -> None:
        if self._on_error is None:
            _log.warning("%s market data: %s", self.venue, error)
            return
        try:
            self._on_error(error)
        except Exception:  # noqa: BLE001 - a broken error handler must not stop the data
            _log.exception("%s: on_error raised", self.venue)

