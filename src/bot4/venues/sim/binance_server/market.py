"""The public market of one symbol as the local exchange publishes it.

The exchange keeps its own book per symbol and numbers every level change with its own
update ids, so its streams obey Binance's book-sync rules exactly:

- Each book change becomes one ``depthUpdate`` with ``U`` = previous ``u`` + 1 and ``u`` =
  ``U`` + (levels changed) - 1, sent on ``<symbol>@depth`` and ``<symbol>@depth@100ms``
  alike (the server does not batch changes in time: every replayed book message is one diff,
  which a client following Binance's procedure handles the same way).
- ``GET /api/v3/depth`` answers from the same book with ``lastUpdateId`` = the last ``u``
  sent, so a client that buffers diffs, fetches the snapshot, drops diffs with
  ``u <= lastUpdateId`` and applies the rest holds the server's book exactly.
- ``bookTicker`` is sent whenever the best bid or ask (price or size) changes, with ``u`` =
  the update id of the change: a client whose book has applied that ``u`` sees the same top.

What moves the book: ``BookDeltas``/``BookDelta`` change levels; a ``BookSnapshot`` replaces
the book and is published as the diff from the old book to the new one; a ``QuoteTick``
replaces the book with its top level only while no L2 data has been seen (then quotes are
ignored here, as in the simulated venue, which fills against that same L2 book). Trades
produce ``trade`` and ``aggTrade`` frames and feed ``GET /api/v3/trades``; a trade keeps its
numeric id from the data when that id is newer than the last one, else it gets the next id.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from itertools import islice

from bot4.core.errors import InvalidDataError
from bot4.model.book import OrderBook
from bot4.model.data import (
    Bar,
    BookDelta,
    BookDeltas,
    BookSnapshot,
    MarketData,
    QuoteTick,
    TradeTick,
)
from bot4.model.enums import AggressorSide, BookAction, OrderSide
from bot4.model.instrument import Instrument
from bot4.venues.sim.binance_server import wire

__all__ = ["Frame", "SymbolMarket"]

BUY = OrderSide.BUY
SELL = OrderSide.SELL
_RECENT_TRADES = 1000
_PARTIAL_DEPTHS = (5, 10, 20)

Frame = tuple[tuple[str, ...], wire.Json]
"""A payload and the stream names it goes to."""

Level = tuple[int, int]
_EMPTY: Level = (0, 0)


class SymbolMarket:
    """Book, update ids and recent trades of one symbol, and the frames they produce."""

    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.symbol = instrument.id.symbol.value
        prefix = self.symbol.lower() + "@"
        self._trade_names = (prefix + "trade",)
        self._agg_names = (prefix + "aggTrade",)
        self._ticker_names = (prefix + "bookTicker",)
        self._depth_names = (prefix + "depth", prefix + "depth@100ms")
        self._partial_names = {n: (f"{prefix}depth{n}", f"{prefix}depth{n}@100ms") for n in _PARTIAL_DEPTHS}
        self.book = OrderBook(instrument.id, instrument.price_precision, instrument.size_precision)
        self.update_id = 0
        self.has_l2 = False
        self.trade_id = 0
        self.agg_id = 0
        self.trades: deque[wire.Json] = deque(maxlen=_RECENT_TRADES)
        self._top: tuple[Level, Level] = (_EMPTY, _EMPTY)

    # -- reading --------------------------------------------------------------------------

    def top(self) -> tuple[Level, Level]:
        """Best (price, size) of bids and asks; (0, 0) for an empty side."""
        book = self.book
        bid = book.best_bid_raw()
        ask = book.best_ask_raw()
        return (
            (bid, book.best_bid_size_raw()) if bid is not None else _EMPTY,
            (ask, book.best_ask_size_raw()) if ask is not None else _EMPTY,
        )

    def depth(self, limit: int) -> wire.Json:
        """The ``GET /api/v3/depth`` answer: best ``limit`` levels and ``lastUpdateId``."""
        bids = list(islice(self.book.levels(BUY), limit))
        asks = list(islice(self.book.levels(SELL), limit))
        return wire.partial_depth_frame(self.instrument, self.update_id, bids, asks)

    # -- applying data --------------------------------------------------------------------

    def apply(self, data: MarketData, event_ms: int, wanted: Callable[[tuple[str, ...]], bool]) -> list[Frame]:
        """Apply one event; return the frames it produces for the streams ``wanted`` accepts.

        Book state and ids always move; payloads are only built for wanted streams.
        """
        if isinstance(data, TradeTick):
            return self._trade(data, event_ms, wanted)
        if isinstance(data, BookDeltas):
            self.has_l2 = True
            changes = self._apply_deltas(data.deltas)
        elif isinstance(data, BookDelta):
            self.has_l2 = True
            changes = self._apply_deltas([data])
        elif isinstance(data, BookSnapshot):
            self.has_l2 = True
            changes = self._replace(lambda: self.book.apply_snapshot(data))
        elif isinstance(data, QuoteTick):
            if self.has_l2:
                return []
            changes = self._replace(lambda: self.book.apply_quote(data))
        elif isinstance(data, Bar):
            return []
        else:
            raise InvalidDataError("not a market-data event", type=type(data).__name__)
        return self._book_frames(changes, event_ms, wanted)

    def _trade(self, trade: TradeTick, event_ms: int, wanted: Callable[[tuple[str, ...]], bool]) -> list[Frame]:
        source_id = trade.trade_id.value
        self.trade_id = int(source_id) if source_id.isdigit() and int(source_id) > self.trade_id else self.trade_id + 1
        self.agg_id += 1
        price, qty = trade.price.raw, trade.size.raw
        buyer_maker = trade.aggressor_side is AggressorSide.SELLER
        inst = self.instrument
        self.trades.append(wire.recent_trade(inst, self.trade_id, price, qty, event_ms, buyer_maker))
        frames: list[Frame] = []
        if wanted(self._trade_names):
            frames.append(
                (
                    self._trade_names,
                    wire.trade_frame(
                        inst, event_ms=event_ms, trade_id=self.trade_id, price_raw=price, qty_raw=qty, buyer_maker=buyer_maker
                    ),
                )
            )
        if wanted(self._agg_names):
            frames.append(
                (
                    self._agg_names,
                    wire.agg_trade_frame(
                        inst,
                        event_ms=event_ms,
                        agg_id=self.agg_id,
                        trade_id=self.trade_id,
                        price_raw=price,
                        qty_raw=qty,
                        buyer_maker=buyer_maker,
                    ),
                )
            )
        return frames

    def _apply_deltas(self, deltas: list[BookDelta]) -> dict[tuple[OrderSide, int], int]:
        changes: dict[tuple[OrderSide, int], int] = {}
        book = self.book
        for delta in deltas:
            if delta.action is BookAction.CLEAR:
                for side in (BUY, SELL):
                    for price, _ in list(book.levels(side)):
                        changes[(side, price)] = 0
                book.clear()
                continue
            size = 0 if delta.action is BookAction.DELETE else delta.size.raw
            book.update(delta.side, delta.price.raw, size)
            changes[(delta.side, delta.price.raw)] = size
        return changes

    def _replace(self, apply: Callable[[], None]) -> dict[tuple[OrderSide, int], int]:
        """Run ``apply`` (which replaces the book) and return the level changes it made."""
        book = self.book
        before = {side: dict(book.levels(side)) for side in (BUY, SELL)}
        apply()
        changes: dict[tuple[OrderSide, int], int] = {}
        for side in (BUY, SELL):
            after = dict(book.levels(side))
            old = before[side]
            for price in old:
                if price not in after:
                    changes[(side, price)] = 0
            for price, size in after.items():
                if old.get(price) != size:
                    changes[(side, price)] = size
        return changes

    def _book_frames(
        self, changes: dict[tuple[OrderSide, int], int], event_ms: int, wanted: Callable[[tuple[str, ...]], bool]
    ) -> list[Frame]:
        if not changes:
            return []
        first = self.update_id + 1
        self.update_id += len(changes)
        frames: list[Frame] = []
        inst = self.instrument
        if wanted(self._depth_names):
            bids = [(price, size) for (side, price), size in changes.items() if side is BUY]
            asks = [(price, size) for (side, price), size in changes.items() if side is SELL]
            frames.append(
                (
                    self._depth_names,
                    wire.depth_update_frame(
                        inst, event_ms=event_ms, first_id=first, last_id=self.update_id, bids=bids, asks=asks
                    ),
                )
            )
        for n, names in self._partial_names.items():
            if wanted(names):
                bids = list(islice(self.book.levels(BUY), n))
                asks = list(islice(self.book.levels(SELL), n))
                frames.append((names, wire.partial_depth_frame(inst, self.update_id, bids, asks)))
        top = self.top()
        if top != self._top:
            self._top = top
            if wanted(self._ticker_names):
                frames.append((self._ticker_names, wire.book_ticker_frame(inst, self.update_id, top[0], top[1])))
        return frames
