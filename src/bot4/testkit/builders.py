"""Builders for ticks, books and ids, plus a sink that records venue events."""

from __future__ import annotations

from collections.abc import Sequence

from bot4.core.ids import StrategyId, TradeId, TraderId
from bot4.execution.ports import VenueEvent
from bot4.model.data import BookLevel, BookSnapshot, QuoteTick, TradeTick
from bot4.model.enums import AggressorSide
from bot4.model.instrument import Instrument

__all__ = ["CapturingSink", "book_snapshot", "quote", "strategy_id", "trade", "trader_id"]


def trader_id() -> TraderId:
    return TraderId("TESTER")


def strategy_id(name: str = "S-001") -> StrategyId:
    return StrategyId(name)


def trade(
    instrument: Instrument,
    price: str,
    size: str,
    ts: int,
    aggressor: AggressorSide = AggressorSide.BUYER,
    trade_id: str | None = None,
) -> TradeTick:
    return TradeTick(
        instrument.id,
        instrument.make_price(price),
        instrument.make_qty(size),
        aggressor,
        TradeId(trade_id or f"T-{ts}"),
        ts,
        ts,
    )


def quote(instrument: Instrument, bid: str, ask: str, bid_size: str, ask_size: str, ts: int) -> QuoteTick:
    return QuoteTick(
        instrument.id,
        instrument.make_price(bid),
        instrument.make_price(ask),
        instrument.make_qty(bid_size),
        instrument.make_qty(ask_size),
        ts,
        ts,
    )


def book_snapshot(
    instrument: Instrument,
    bids: Sequence[tuple[str, str]],
    asks: Sequence[tuple[str, str]],
    ts: int,
    sequence: int = 0,
) -> BookSnapshot:
    """A snapshot from (price, size) text pairs, best first or in any order."""

    def levels(pairs: Sequence[tuple[str, str]]) -> list[BookLevel]:
        return [BookLevel(instrument.make_price(p), instrument.make_qty(s)) for p, s in pairs]

    return BookSnapshot(instrument.id, levels(bids), levels(asks), sequence, ts, ts)


class CapturingSink:
    """Collects every venue event; pass it where an ``EventSink`` is expected."""

    def __init__(self) -> None:
        self.events: list[VenueEvent] = []

    def __call__(self, event: VenueEvent) -> None:
        self.events.append(event)

    def of_type(self, kind: type) -> list[VenueEvent]:
        return [e for e in self.events if isinstance(e, kind)]

    def clear(self) -> None:
        self.events.clear()


