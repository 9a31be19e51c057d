"""Market data events: trades, quotes, bars and order-book snapshots and deltas.

All are frozen msgspec structs with ``ts_event`` (when the venue says it happened) and
``ts_init`` (when we saw it), integer nanoseconds since the Unix epoch.
"""

from __future__ import annotations

import msgspec

from bot4.core.errors import InvalidInputError
from bot4.core.ids import InstrumentId, TradeId
from bot4.core.numbers import Price, Quantity
from bot4.model.enums import AggressorSide, BarAggregation, BookAction, OrderSide

__all__ = [
    "Bar",
    "BarType",
    "BookDelta",
    "BookDeltas",
    "BookLevel",
    "BookSnapshot",
    "MarketData",
    "QuoteTick",
    "TradeTick",
]

_AGG_NS = {
    BarAggregation.SECOND: 1_000_000_000,
    BarAggregation.MINUTE: 60_000_000_000,
    BarAggregation.HOUR: 3_600_000_000_000,
    BarAggregation.DAY: 86_400_000_000_000,
}


class TradeTick(msgspec.Struct, frozen=True, gc=False):
    """One public trade print."""

    instrument_id: InstrumentId
    price: Price
    size: Quantity
    aggressor_side: AggressorSide
    trade_id: TradeId
    ts_event: int
    ts_init: int


class QuoteTick(msgspec.Struct, frozen=True, gc=False):
    """Best bid and ask with their sizes."""

    instrument_id: InstrumentId
    bid_price: Price
    ask_price: Price
    bid_size: Quantity
    ask_size: Quantity
    ts_event: int
    ts_init: int


class BarType(msgspec.Struct, frozen=True, gc=False):
    """Which bars: instrument, step and aggregation, e.g. ``BTCUSDT.BINANCE-1-MINUTE``."""

    instrument_id: InstrumentId
    step: int
    aggregation: BarAggregation

    @property
    def interval_ns(self) -> int:
        return self.step * _AGG_NS[self.aggregation]

    @classmethod
    def from_str(cls, value: str) -> BarType:
        parts = value.rsplit("-", 2)
        if len(parts) != 3:
            raise InvalidInputError("bar type must look like INSTRUMENT-STEP-AGGREGATION", value=value)
        try:
            step = int(parts[1])
            aggregation = BarAggregation(parts[2].upper())
        except ValueError:
            raise InvalidInputError(
                "bar type must look like INSTRUMENT-STEP-AGGREGATION", value=value
            ) from None
        if step <= 0:
            raise InvalidInputError("bar step must be positive", value=value)
        return cls(InstrumentId.from_str(parts[0]), step, aggregation)

    def __str__(self) -> str:
        return f"{self.instrument_id}-{self.step}-{self.aggregation.value}"


class Bar(msgspec.Struct, frozen=True, gc=False):
    """An OHLCV bar; ``ts_event`` is the bar's close time."""

    bar_type: BarType
    open: Price
    high: Price
    low: Price
    close: Price
    volume: Quantity
    ts_event: int
    ts_init: int

    @property
    def instrument_id(self) -> InstrumentId:
        return self.bar_type.instrument_id


class BookDelta(msgspec.Struct, frozen=True, gc=False):
    """One level change: set ``side``'s level at ``price`` to ``size`` (0 or DELETE removes it).

    ``sequence`` is the venue's update id when it has one (Binance ``u``), else 0.
    """

    instrument_id: InstrumentId
    action: BookAction
    side: OrderSide
    price: Price
    size: Quantity
    sequence: int
    ts_event: int
    ts_init: int


class BookDeltas(msgspec.Struct, frozen=True, gc=False):
    """A venue message's worth of deltas applied together (one Binance depthUpdate).

    ``first_sequence``/``sequence`` carry the venue's range (Binance ``U``/``u``) so a book
    can detect gaps.
    """

    instrument_id: InstrumentId
    deltas: list[BookDelta]
    first_sequence: int
    sequence: int
    ts_event: int
    ts_init: int


class BookLevel(msgspec.Struct, frozen=True, gc=False, array_like=True):
    price: Price
    size: Quantity


class BookSnapshot(msgspec.Struct, frozen=True, gc=False):
    """The whole visible book; replaces whatever the book held."""

    instrument_id: InstrumentId
    bids: list[BookLevel]
    asks: list[BookLevel]
    sequence: int
    ts_event: int
    ts_init: int


MarketData = TradeTick | QuoteTick | Bar | BookDelta | BookDeltas | BookSnapshot
