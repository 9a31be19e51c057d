"""Market data through ccxt's WebSocket support (ccxt.pro), where the exchange has it.

Each subscribed instrument gets two owned tasks: ``watch_trades`` (every new trade becomes a
``TradeTick``) and ``watch_order_book`` (ccxt keeps the book in sync; each update becomes a
``BookSnapshot`` of the top ``depth`` levels). A failure is mapped to the error tree, reported,
and the watch is retried after a backoff: ccxt.pro reconnects underneath. Without ccxt.pro
support for the exchange, use REST polling (``fetch_order_book``) instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from bot4.core.clock import Clock
from bot4.core.errors import Bot4Error
from bot4.model.data import MarketData
from bot4.model.instrument import Instrument
from bot4.net.backoff import Backoff
from bot4.venues.ccxt.errors import map_ccxt_error
from bot4.venues.ccxt.parsing import book_snapshot, trade_tick

__all__ = ["CcxtDataClient"]

_log = logging.getLogger("bot4.venues.ccxt")


class CcxtDataClient:
    """Trades and books from a ccxt.pro exchange object, delivered to ``sink``."""

    def __init__(
        self,
        exchange: Any,
        venue: str,
        clock: Clock,
        sink: Callable[[MarketData], None],
        *,
        depth: int = 20,
        backoff: Backoff | None = None,
        on_error: Callable[[Bot4Error], None] | None = None,
    ) -> None:
        self._ex = exchange
        self._venue = venue
        self._clock = clock
        self._sink = sink
        self._depth = depth
        self._backoff = backoff or Backoff(initial=0.5, max_delay=30.0)
        self._on_error = on_error
        self._tasks: list[asyncio.Task[None]] = []
        self._seen_trades: dict[str, str] = {}
        self.errors = 0

    def subscribe(self, instrument: Instrument, symbol: str) -> None:
        """Start watching ``symbol`` (ccxt's unified name) as ``instrument``."""
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._watch(self._trades, instrument, symbol), name=f"bot4.ccxt.trades.{symbol}"))
        self._tasks.append(loop.create_task(self._watch(self._book, instrument, symbol), name=f"bot4.ccxt.book.{symbol}"))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _watch(self, step: Callable[[Instrument, str], Any], instrument: Instrument, symbol: str) -> None:
        failures = 0
        while True:
            try:
                await step(instrument, symbol)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Bot4Error as exc:
                failures += 1
                self._report(exc)
                await asyncio.sleep(self._backoff.delay(failures))
            except Exception as exc:  # noqa: BLE001 - ccxt's errors, translated in one place
                failures += 1
                self._report(map_ccxt_error(exc, venue=self._venue, operation=step.__name__, symbol=symbol))
                await asyncio.sleep(self._backoff.delay(failures))

    async def _trades(self, instrument: Instrument, symbol: str) -> None:
        trades = await self._ex.watch_trades(symbol)
        last = self._seen_trades.get(symbol)
        fresh = list(trades)
        if last is not None:
            ids = [str(t.get("id")) for t in fresh]
            fresh = fresh[ids.index(last) + 1 :] if last in ids else fresh
        for trade in fresh:
            self._sink(trade_tick(trade, instrument, self._clock.timestamp_ns()))
        if trades:
            self._seen_trades[symbol] = str(trades[-1].get("id"))

    async def _book(self, instrument: Instrument, symbol: str) -> None:
        book = await self._ex.watch_order_book(symbol)
        self._sink(book_snapshot(book, instrument, self._clock.timestamp_ns(), self._depth))

    def _report(self, error: Bot4Error) -> None:
        self.errors += 1
        _log.warning("ccxt %s market data: %s", self._venue, error)
        if self._on_error is not None:
            self._on_error(error)
