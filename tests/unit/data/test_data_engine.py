"""DataEngine: books kept, data published on per-instrument topics, marks updated."""

from __future__ import annotations

from bot4.core import MessageBus, UnknownInstrumentError
from bot4.data import DataEngine
from bot4.model import OrderBook, TradeTick
from bot4.portfolio import Portfolio
from bot4.testkit import book_snapshot, btcusdt, ethusdt, quote, trade

INSTRUMENT = btcusdt()


def setup() -> tuple[DataEngine, Portfolio, MessageBus]:
    bus = MessageBus()
    portfolio = Portfolio(bus)
    portfolio.add_instrument(INSTRUMENT)
    engine = DataEngine(bus, portfolio)
    engine.add_instrument(INSTRUMENT)
    return engine, portfolio, bus


def test_trade_is_published_on_its_topic_and_marks_last_price() -> None:
    engine, portfolio, bus = setup()
    seen: list[TradeTick] = []
    bus.subscribe(f"data.trades.{INSTRUMENT.id}", seen.append)
    tick = trade(INSTRUMENT, "60000.10", "0.5", 1)
    engine.process(tick)
    assert seen == [tick]
    assert portfolio.mark_raw(INSTRUMENT.id) == tick.price.raw


def test_book_snapshot_updates_book_publishes_it_and_marks_mid() -> None:
    engine, portfolio, bus = setup()
    books: list[OrderBook] = []
    bus.subscribe(f"data.book.{INSTRUMENT.id}", books.append)
    engine.process(book_snapshot(INSTRUMENT, [("60000.00", "1")], [("60000.10", "2")], 5))
    book = engine.book(INSTRUMENT.id)
    assert books == [book]
    assert book is not None and book.best_ask_price() == INSTRUMENT.make_price("60000.10")
    assert portfolio.mark_raw(INSTRUMENT.id) == INSTRUMENT.make_price("60000.05").raw


def test_quote_marks_mid() -> None:
    engine, portfolio, _ = setup()
    engine.process(quote(INSTRUMENT, "100.00", "100.02", "1", "1", 1))
    assert portfolio.mark_raw(INSTRUMENT.id) == INSTRUMENT.make_price("100.01").raw


def test_data_for_unregistered_instrument_raises_typed_error() -> None:
    engine, _, _ = setup()
    try:
        engine.process(trade(ethusdt(), "10.00", "1", 1))
    except UnknownInstrumentError as exc:
        assert "ETHUSDT.SIM" in str(exc)
    else:
        raise AssertionError("expected UnknownInstrumentError")
