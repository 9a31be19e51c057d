"""The data engine: keeps the strategies' order books and fans market data out on the bus.

Topics: ``data.trades.<id>``, ``data.quotes.<id>``, ``data.bars.<bar type>`` and
``data.book.<id>`` (the book after a snapshot or a batch of deltas). Topic strings are built
once per instrument, not per event.
"""

from __future__ import annotations

from bot4.core.bus import MessageBus
from bot4.core.errors import UnknownInstrumentError
from bot4.core.ids import InstrumentId
from bot4.model.book import OrderBook
from bot4.model.data import (
    Bar,
    BarType,
    BookDelta,
    BookDeltas,
    BookSnapshot,
    MarketData,
    QuoteTick,
    TradeTick,
)
from bot4.model.instrument import Instrument
from bot4.portfolio.portfolio import Portfolio

__all__ = ["DataEngine"]


class _Topics:
    __slots__ = ("book", "quotes", "trades")

    def __init__(self, instrument_id: InstrumentId) -> None:
        self.trades = f"data.trades.{instrument_id}"
        self.quotes = f"data.quotes.{instrument_id}"
        self.book = f"data.book.{instrument_id}"


class DataEngine:
    """Books per instrument and publication of market data, in arrival order."""

    def __init__(self, bus: MessageBus, portfolio: Portfolio | None = None) -> None:
        self._bus = bus
        self._portfolio = portfolio
        self._books: dict[InstrumentId, OrderBook] = {}
        self._topics: dict[InstrumentId, _Topics] = {}
        self._bar_topics: dict[BarType, str] = {}
        self.processed = 0

    def add_instrument(self, instrument: Instrument) -> None:
        self._books[instrument.id] = OrderBook(instrument.id, instrument.price_precision, instrument.size_precision)
        self._topics[instrument.id] = _Topics(instrument.id)

    def book(self, instrument_id: InstrumentId) -> OrderBook | None:
        return self._books.get(instrument_id)

    def process(self, data: MarketData) -> None:
        """Update state from one event and publish it; unknown instruments raise."""
        topics = self._topics.get(data.instrument_id)
        if topics is None:
            raise UnknownInstrumentError("market data for an unregistered instrument", instrument=str(data.instrument_id))
        self.processed += 1
        bus = self._bus
        portfolio = self._portfolio
        if type(data) is TradeTick:
            if portfolio is not None:
                portfolio.update_mark(data.instrument_id, data.price.raw)
            bus.publish(topics.trades, data)
        elif type(data) is QuoteTick:
            if portfolio is not None:
                portfolio.update_mark(data.instrument_id, (data.bid_price.raw + data.ask_price.raw) // 2)
            bus.publish(topics.quotes, data)
        elif type(data) is BookDeltas:
            book = self._books[data.instrument_id]
            book.apply_deltas(data)
            self._book_changed(book, topics)
        elif type(data) is BookSnapshot:
            book = self._books[data.instrument_id]
            book.apply_snapshot(data)
            self._book_changed(book, topics)
        elif type(data) is BookDelta:
            book = self._books[data.instrument_id]
            book.apply_delta(data)
            self._book_changed(book, topics)
        elif type(data) is Bar:
            if portfolio is not None:
                portfolio.update_mark(data.instrument_id, data.close.raw)
            topic = self._bar_topics.get(data.bar_type)
            if topic is None:
                topic = self._bar_topics[data.bar_type] = f"data.bars.{data.bar_type}"
            bus.publish(topic, data)

    def _book_changed(self, book: OrderBook, topics: _Topics) -> None:
        """Mark positions at the book's mid (both sides present, not crossed), then publish it."""
        portfolio = self._portfolio
        if portfolio is not None:
            bid = book.best_bid_raw()
            ask = book.best_ask_raw()
            if bid is not None and ask is not None and bid < ask:
                portfolio.update_mark(book.instrument_id, (bid + ask) // 2)
        self._bus.publish(topics.book, book)
