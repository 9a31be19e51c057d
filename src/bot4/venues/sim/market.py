"""The simulated venue's view of one instrument's market: its book copy and last price.

What the view holds depends on the data seen (:class:`BookSource`):

- L2: ``BookSnapshot``/``BookDeltas``/``BookDelta`` maintain the book (the first L2 event
  clears a book built from quotes);
- QUOTES: while no L2 data has been seen, each ``QuoteTick`` replaces the book with its top
  level on each side;
- TRADES: trades or bars only, no depth: a taker gets its whole quantity at the last price.

Liquidity our orders take (:meth:`MarketView.take` with ``consume=True``) leaves the book copy
until market data overwrites those levels, so two orders in a row never take the same size.
"""

from __future__ import annotations

from enum import Enum

from bot4.model.book import OrderBook
from bot4.model.data import BookDelta, BookDeltas, BookSnapshot, QuoteTick
from bot4.model.enums import BookAction, OrderSide
from bot4.model.instrument import Instrument

__all__ = ["BookSource", "MarketView", "Takes"]

_BUY = OrderSide.BUY

Takes = list[tuple[int, int]]
"""What a taker gets: ``(price_raw, qty_raw)`` per level, best first."""


class BookSource(Enum):
    """What the venue's prices come from: the best data seen so far."""

    NONE = "NONE"
    TRADES = "TRADES"
    QUOTES = "QUOTES"
    L2 = "L2"


class MarketView:
    """Book copy, last trade price and data source of one instrument."""

    __slots__ = ("_has_l2", "_has_quotes", "book", "last_raw")

    def __init__(self, instrument: Instrument) -> None:
        self.book = OrderBook(instrument.id, instrument.price_precision, instrument.size_precision)
        self.last_raw: int | None = None
        self._has_l2 = False
        self._has_quotes = False

    @property
    def source(self) -> BookSource:
        if self._has_l2:
            return BookSource.L2
        if self._has_quotes:
            return BookSource.QUOTES
        return BookSource.NONE if self.last_raw is None else BookSource.TRADES

    @property
    def has_data(self) -> bool:
        return self._has_l2 or self._has_quotes or self.last_raw is not None

    @property
    def has_book(self) -> bool:
        """Whether prices come from a book (L2 or quotes) rather than the last trade."""
        return self._has_l2 or self._has_quotes

    def mark_raw(self) -> int | None:
        """The last trade price, else the book's mid, else None."""
        return self.last_raw if self.last_raw is not None else self.book.mid_raw()

    def apply_book(self, data: BookSnapshot | BookDeltas | BookDelta) -> list[tuple[OrderSide, int]] | None:
        """Apply L2 data; return the (side, price) levels it touched, or None for all of them."""
        if not self._has_l2:
            self._has_l2 = True
            self.book.clear()
        if isinstance(data, BookDeltas):
            self.book.apply_deltas(data)
            if all(d.action is not BookAction.CLEAR for d in data.deltas):
                return [(d.side, d.price.raw) for d in data.deltas]
        elif isinstance(data, BookDelta):
            self.book.apply_delta(data)
            if data.action is not BookAction.CLEAR:
                return [(data.side, data.price.raw)]
        else:
            self.book.apply_snapshot(data)
        return None

    def apply_quote(self, quote: QuoteTick) -> bool:
        """Take a quote as the book when no L2 data has been seen; True if the book changed."""
        self._has_quotes = True
        if self._has_l2:
            return False
        self.book.apply_quote(quote)
        return True

    def opposite_best(self, side: OrderSide) -> int | None:
        """The price a taker of ``side`` meets first: best opposite level, else the last price."""
        if self.has_book:
            best = self.book.best_ask_raw() if side is _BUY else self.book.best_bid_raw()
            if best is not None:
                return best
        return self.last_raw

    def marketable(self, side: OrderSide, price_raw: int) -> bool:
        """Whether a limit of ``side`` at ``price_raw`` would take liquidity now."""
        if self.has_book:
            best = self.book.best_ask_raw() if side is _BUY else self.book.best_bid_raw()
        else:
            best = self.last_raw
        return best is not None and (best <= price_raw if side is _BUY else best >= price_raw)

    def stop_reached(self, side: OrderSide, trigger_raw: int) -> bool:
        """Whether the market already reached a stop's trigger (best opposite, else last)."""
        ref = self.opposite_best(side)
        return ref is not None and (ref >= trigger_raw if side is _BUY else ref <= trigger_raw)

    def take(self, side: OrderSide, qty: int, limit: int | None, *, consume: bool) -> Takes:
        """What a taker of ``side`` gets for ``qty`` within ``limit``, one entry per level.

        With ``consume`` the taken sizes leave the book copy. With no book (trades or bars
        only) the whole quantity trades at the last price when that is within the limit.
        """
        if qty <= 0:
            return []
        if self.has_book:
            takes: Takes = []
            remaining = qty
            book = self.book
            book_side = side.opposite
            for price, size in book.levels(book_side):
                if remaining <= 0 or (limit is not None and (price > limit if side is _BUY else price < limit)):
                    break
                take = min(size, remaining)
                takes.append((price, take))
                remaining -= take
            if consume:
                for price, take in takes:
                    book.update(book_side, price, book.size_at(book_side, price) - take)
            return takes
        last = self.last_raw
        if last is None or (limit is not None and (last > limit if side is _BUY else last < limit)):
            return []
        return [(last, qty)]
