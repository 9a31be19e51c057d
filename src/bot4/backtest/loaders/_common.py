"""Shared pieces of the loaders: the report and cell conversion.

A row is converted by small helpers that raise :class:`BadField` naming the field and the
value; the loader's loop catches it, adds the file and row, counts the row as skipped and goes
on. Only a file that cannot be read at all raises out of a loader.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import Enum
from pathlib import Path

from bot4.core.errors import InvalidDataError, InvalidInputError, PrecisionError
from bot4.core.numbers import FIXED_PRECISION, Price, Quantity, to_raw
from bot4.model.data import MarketData
from bot4.model.enums import AggressorSide
from bot4.model.instrument import Instrument

__all__ = ["LoadReport", "LoadResult", "TimeUnit"]

MAX_ERRORS = 100
_CACHE_LIMIT = 1 << 16
_POW10: list[int] = [10**i for i in range(FIXED_PRECISION + 1)]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US_THRESHOLD = 10**14  # epoch ms stays below this until year 5138; epoch µs is above it


class TimeUnit(Enum):
    """How a timestamp column is written."""

    SECONDS = "s"
    MILLISECONDS = "ms"
    MICROSECONDS = "us"
    NANOSECONDS = "ns"
    MS_OR_US = "ms|us"  # Binance Vision: ms until 2025, µs after; told apart by magnitude
    DATE = "date"  # ISO 8601 text (UTC unless it says otherwise) or epoch ms|us


_SCALE = {
    TimeUnit.SECONDS: 1_000_000_000,
    TimeUnit.MILLISECONDS: 1_000_000,
    TimeUnit.MICROSECONDS: 1_000,
    TimeUnit.NANOSECONDS: 1,
}


@dataclass(slots=True)
class LoadReport:
    """What a loader read, produced and left out, with the first errors in full.

    Every row ends up in exactly one bucket: ``rows == loaded + skipped + sum(dropped.values())``.
    ``skipped`` rows were bad (each gets an error, the first 100 are kept); ``dropped`` rows were
    fine but deliberately not emitted, by reason (``stale_diff``, ``unsynced_diff``,
    ``other_symbol``, ...). ``gaps`` counts order-book sequence gaps. ``notes`` counts values
    accepted as they are but worth knowing (``size_finer_than_step``).
    """

    path: str
    rows: int = 0
    loaded: int = 0
    skipped: int = 0
    gaps: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    notes: dict[str, int] = field(default_factory=dict)
    errors: list[InvalidDataError] = field(default_factory=list)


@dataclass(slots=True)
class LoadResult:
    """The events of one file, in the order a consumer must apply them, and the report."""

    events: list[MarketData]
    report: LoadReport


class BadField(Exception):
    """A row's field could not be used; caught by the loader loop, never escapes a loader."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.value = value
        self.reason = reason


class Sink:
    """Collects events, counts and errors for one file."""

    __slots__ = ("events", "path", "report")

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.events: list[MarketData] = []
        self.report = LoadReport(path=self.path)

    def bad(self, row: int, error: BadField) -> None:
        report = self.report
        report.skipped += 1
        if len(report.errors) < MAX_ERRORS:
            value = error.value
            if isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
            if isinstance(value, str) and len(value) > 200:
                value = value[:200] + "..."
            report.errors.append(
                InvalidDataError(error.reason, file=self.path, row=row, field=error.field, value=value)
            )

    def drop(self, reason: str, count: int = 1) -> None:
        self.report.dropped[reason] = self.report.dropped.get(reason, 0) + count

    def result(self) -> LoadResult:
        self.report.loaded = len(self.events)
        return LoadResult(self.events, self.report)


class Values:
    """Turn cells into exact prices, quantities and timestamps for one instrument.

    Text, int and Decimal cells must be exact at the instrument's precision (more decimals is a
    bad row). Float cells (Parquet/Feather columns) are formatted with ``repr`` and rounded
    half-even to the tick or step by the instrument, because a binary float rarely is the
    decimal it stands for (a float whose repr is already on the grid skips the Decimal
    rounding, same result, 4x faster). Converted values are cached by cell: trade files repeat prices and
    sizes, and a cache hit (~60 ns) is much cheaper than ``to_raw`` (~800 ns).

    ``allow_fine_sizes`` keeps a size with more decimals than the step exact, at the precision
    it needs: venue streams show resting orders placed before a step-size change (Binance
    BTCUSDT depth carries sizes like 25.426189 under today's 0.00001 step), and refusing them
    would break the book for good.
    """

    __slots__ = ("_prices", "_qtys", "allow_fine_sizes", "fine_sizes", "instrument", "pp", "sp")

    def __init__(self, instrument: Instrument, *, allow_fine_sizes: bool = False) -> None:
        self.instrument = instrument
        self.allow_fine_sizes = allow_fine_sizes
        self.fine_sizes = 0  # sizes kept at more decimals than the instrument's step
        self.pp = instrument.price_precision
        self.sp = instrument.size_precision
        self._prices: dict[object, Price] = {}
        self._qtys: dict[object, Quantity] = {}

    def price(self, value: object, field: str) -> Price:
        if type(value) is str or type(value) is float:
            price = self._prices.get(value)
            if price is None:
                price = self._new_price(value, field)
                if len(self._prices) >= _CACHE_LIMIT:
                    self._prices.clear()
                self._prices[value] = price
            return price
        return self._new_price(value, field)  # int, Decimal or junk: rare, not cached

    def qty(self, value: object, field: str, positive: bool = False) -> Quantity:
        if type(value) is str or type(value) is float:
            qty = self._qtys.get(value)
            if qty is None:
                qty = self._new_qty(value, field)
                if len(self._qtys) >= _CACHE_LIMIT:
                    self._qtys.clear()
                self._qtys[value] = qty
        else:
            qty = self._new_qty(value, field)
        if positive and qty.raw == 0:
            raise BadField(field, value, "quantity must be positive")
        if qty.precision != self.sp:
            self.fine_sizes += 1
        return qty

    def _new_price(self, value: object, field: str) -> Price:
        if type(value) is float:
            _check_finite(value, field)
            raw = _plain_raw(repr(value), self.pp)  # most floats repr as their short decimal
            if raw is not None and raw % self.instrument.tick_size == 0:
                price = Price(raw, self.pp)
            else:
                price = self.instrument.round_price(value, "nearest")
        else:
            price = Price(self._exact(value, field, self.pp), self.pp)
        if price.raw <= 0:
            raise BadField(field, value, "price must be positive")
        return price

    def _new_qty(self, value: object, field: str) -> Quantity:
        if type(value) is float:
            _check_finite(value, field)
            if value < 0:
                raise BadField(field, value, "quantity must not be negative")
            raw = _plain_raw(repr(value), self.sp)
            if raw is not None and raw % self.instrument.step_size == 0:
                return Quantity(raw, self.sp)
            return self.instrument.round_qty(value, "nearest")
        raw = self._exact(value, field, None if self.allow_fine_sizes else self.sp)
        if raw < 0:
            raise BadField(field, value, "quantity must not be negative")
        if raw % _POW10[FIXED_PRECISION - self.sp]:
            return Quantity(raw, _decimals_needed(raw))
        return Quantity(raw, self.sp)

    def _exact(self, value: object, field: str, precision: int | None) -> int:
        if type(value) is str:
            # Fast path for plain "123.4500" (3x faster than to_raw); anything else (signs,
            # exponents, spaces, too many decimals) goes to to_raw, which decides and explains.
            raw = _plain_raw(value, FIXED_PRECISION if precision is None else precision)
            if raw is not None:
                return raw
        elif not isinstance(value, int | Decimal) or isinstance(value, bool):
            raise BadField(field, value, "expected a decimal number")
        try:
            raw, _ = to_raw(value, precision)
        except PrecisionError:
            raise BadField(
                field, value, f"more than {precision} decimals, the precision of {self.instrument.id}"
            ) from None
        except InvalidInputError:
            raise BadField(field, value, "expected a decimal number") from None
        return raw


def _plain_raw(text: str, limit: int) -> int | None:
    """Raw value of unsigned plain decimal text with at most ``limit`` decimals, else None."""
    whole, _, frac = text.partition(".")
    if whole.isdecimal() and (frac.isdecimal() or not frac):
        if len(frac) > limit:
            frac = frac.rstrip("0")
        if len(frac) <= limit:
            return int(whole + frac) * _POW10[FIXED_PRECISION - len(frac)]
    return None


def _decimals_needed(raw: int) -> int:
    decimals = FIXED_PRECISION
    while decimals and raw % 10 == 0:
        raw //= 10
        decimals -= 1
    return decimals


def _check_finite(value: float, field: str) -> None:
    if value != value or value in (float("inf"), float("-inf")):
        raise BadField(field, value, "expected a finite number")


def ts_ns(value: object, unit: TimeUnit, field: str) -> int:
    """Convert one timestamp cell to integer ns since the epoch."""
    if type(value) is int:
        n = value
    elif type(value) is str:
        try:
            n = int(value)
        except ValueError:
            if unit is TimeUnit.DATE:
                return _date_ns(value, field)
            raise BadField(field, value, "expected an integer timestamp") from None
    elif isinstance(value, datetime) and unit is TimeUnit.DATE:
        try:
            return _datetime_ns(value, field)
        except OverflowError:
            raise BadField(field, str(value), "date out of range") from None
    else:
        raise BadField(field, value, "expected an integer timestamp")
    if n < 0:
        raise BadField(field, value, "timestamp must not be negative")
    scale = _SCALE.get(unit)
    if scale is None:  # MS_OR_US and numeric DATE
        scale = 1_000 if n > _US_THRESHOLD else 1_000_000
    return n * scale


def ts_reader(unit: TimeUnit, field: str) -> Callable[[object], int]:
    """A converter for one timestamp column: the unit is resolved once, not per row."""
    scale = _SCALE.get(unit)

    def read(value: object) -> int:
        if type(value) is str or type(value) is int:
            try:
                n = int(value)
            except ValueError:
                return ts_ns(value, unit, field)  # dates, or raises naming the field
            if n >= 0:
                return n * (scale or (1_000 if n > _US_THRESHOLD else 1_000_000))
        return ts_ns(value, unit, field)

    return read


def _date_ns(text: str, field: str) -> int:
    try:
        return _datetime_ns(datetime.fromisoformat(text.strip()), field)
    except (ValueError, OverflowError):
        raise BadField(field, text, "expected an ISO 8601 date or an epoch timestamp") from None


def _datetime_ns(moment: datetime, field: str) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    ns = (moment - _EPOCH) // timedelta(microseconds=1) * 1_000
    if ns < 0:
        raise BadField(field, str(moment), "timestamp must not be before 1970")
    return ns


_SIDES = {
    "BUYER": AggressorSide.BUYER,
    "BUY": AggressorSide.BUYER,
    "B": AggressorSide.BUYER,
    "SELLER": AggressorSide.SELLER,
    "SELL": AggressorSide.SELLER,
    "S": AggressorSide.SELLER,
    "NO_AGGRESSOR": AggressorSide.NO_AGGRESSOR,
    "ANY": AggressorSide.NO_AGGRESSOR,
    "NONE": AggressorSide.NO_AGGRESSOR,
    "": AggressorSide.NO_AGGRESSOR,
}
_SIDES.update({key.lower(): side for key, side in _SIDES.items()})
_MAKER_SIDES = {
    "true": AggressorSide.SELLER,
    "True": AggressorSide.SELLER,
    "1": AggressorSide.SELLER,
    "false": AggressorSide.BUYER,
    "False": AggressorSide.BUYER,
    "0": AggressorSide.BUYER,
}


def aggressor(value: object, field: str) -> AggressorSide:
    """Read an aggressor side written as a name (BUYER/SELLER/NO_AGGRESSOR, buy/sell, ANY)."""
    if value is None:
        return AggressorSide.NO_AGGRESSOR
    side = _SIDES.get(value) if type(value) is str else None
    if side is None and isinstance(value, str):
        side = _SIDES.get(value.strip().upper())
    if side is None:
        raise BadField(field, value, "expected BUYER, SELLER, NO_AGGRESSOR, buy, sell or ANY")
    return side


def aggressor_from_buyer_maker(value: object, field: str) -> AggressorSide:
    """Binance's ``is_buyer_maker``: a maker buyer means the seller took liquidity."""
    if type(value) is str:
        side = _MAKER_SIDES.get(value) or _MAKER_SIDES.get(value.strip().lower())
        if side is not None:
            return side
    elif type(value) is bool:
        return AggressorSide.SELLER if value else AggressorSide.BUYER
    raise BadField(field, value, "expected true or false")
