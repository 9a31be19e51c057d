"""Fee schedules: maker and taker rates by venue, instrument class and 30-day volume.

A :class:`FeeSchedule` is one venue's published price list for one instrument class (spot,
...): volume tiers, each with a maker and a taker rate as fractions (``0.001`` is 0.1%). A
negative maker rate is a rebate. A :class:`FeeBook` holds every schedule a node knows:
:meth:`FeeBook.defaults` loads the ones shipped in ``costs/schedules/*.toml`` (with the
source and date of each), and :meth:`FeeBook.from_toml` loads a user's own file, which
:meth:`FeeBook.merged` lays over the shipped ones. A user's file looks like::

    [[schedule]]
    venue = "BINANCE"
    instrument_class = "spot"        # optional, "spot" by default
    discount = 0.25                  # optional: fraction off when paying in the venue's token
    fee_currency = "USDT"            # optional: omit when fees are valued in the quote currency
    source = "https://www.binance.com/en/fee/schedule"
    as_of = "2026-11-24"
    tiers = [
      { min_volume_30d = 0,         maker = 0.001,  taker = 0.001 },
      { min_volume_30d = 1_000_000, maker = 0.0009, taker = 0.001 },
    ]

Every amount is a ``Decimal`` (TOML floats are read as decimals, never as binary floats).
The model only estimates: the fee a venue reports on a fill always wins, and
:func:`fee_check` records how far the model was from it.
"""

from __future__ import annotations

import datetime
import os
import tomllib
from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Context, Decimal
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import msgspec

from bot4.core.config import convert_config, join_key
from bot4.core.errors import ConfigError, InvalidInputError, UnknownVenueError
from bot4.core.ids import Venue
from bot4.core.numbers import FIXED_PRECISION
from bot4.model.enums import LiquiditySide
from bot4.model.events import OrderFilled
from bot4.model.instrument import Instrument

__all__ = ["FeeBook", "FeeCheck", "FeeSchedule", "FeeTier", "fee_check"]

MIN_RATE = Decimal("-0.01")
MAX_RATE = Decimal("0.1")

# Products of a notional and a rate are exact at this precision for any realistic amount;
# the one division (a fee converted into the base asset) rounds half-even to 28 digits. A
# fixed context keeps results independent of the caller's thread-local decimal context.
_EXACT = Context(prec=60, rounding=ROUND_HALF_EVEN)
_DIVIDE = Context(prec=28, rounding=ROUND_HALF_EVEN)
_ZERO = Decimal(0)
_ONE = Decimal(1)


class FeeTier(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Rates from ``min_volume_30d`` (quote-currency 30-day volume) up to the next tier.

    Checked by the :class:`FeeSchedule` that holds it.
    """

    min_volume_30d: Decimal
    maker: Decimal
    taker: Decimal


class FeeSchedule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One venue's fees for one instrument class.

    - ``tiers``: sorted by ``min_volume_30d``, strictly increasing, the first at 0.
    - ``fee_currency``: the currency fees are valued in; None means the instrument's quote
      currency. (Where the venue actually debits the fee, e.g. the asset received, is a
      settlement detail: :func:`fee_check` converts between base and quote.)
    - ``discount``: fraction taken off positive rates when ``use_discount`` is asked for,
      e.g. 0.25 for paying Binance fees in BNB. Rebates are never reduced.
    - ``source`` and ``as_of``: where the numbers come from and when they were checked.
    """

    venue: str
    tiers: tuple[FeeTier, ...]
    source: str
    as_of: str
    instrument_class: str = "spot"
    fee_currency: str | None = None
    discount: Decimal = _ZERO

    def __post_init__(self) -> None:
        for key, problem, found in _schedule_problems(self):
            raise InvalidInputError(problem, venue=self.venue, key=key, found=found)

    def tier(self, volume_30d: Decimal | int = 0) -> FeeTier:
        """Return the tier that applies at ``volume_30d`` (the last one starting at or below it)."""
        volume = _volume(volume_30d, self.venue)
        chosen = self.tiers[0]
        for tier in self.tiers:
            if tier.min_volume_30d > volume:
                break
            chosen = tier
        return chosen

    def rates(
        self, volume_30d: Decimal | int = 0, *, use_discount: bool = False
    ) -> tuple[Decimal, Decimal]:
        """Return ``(maker, taker)`` at ``volume_30d``, discounted when ``use_discount``."""
        tier = self.tier(volume_30d)
        if not use_discount or not self.discount:
            return tier.maker, tier.taker
        return self._discounted(tier.maker), self._discounted(tier.taker)

    def rate(
        self,
        liquidity: LiquiditySide,
        volume_30d: Decimal | int = 0,
        *,
        use_discount: bool = False,
    ) -> Decimal:
        """Return the maker or the taker rate at ``volume_30d``."""
        maker, taker = self.rates(volume_30d, use_discount=use_discount)
        return maker if liquidity is LiquiditySide.MAKER else taker

    def fee(
        self,
        notional: Decimal,
        liquidity: LiquiditySide,
        volume_30d: Decimal | int = 0,
        use_discount: bool = False,
    ) -> Decimal:
        """Return the fee on ``notional`` (quote currency), exact; negative means a rebate."""
        if not isinstance(notional, Decimal | int) or isinstance(notional, bool):
            raise InvalidInputError("notional must be a Decimal", venue=self.venue, found=repr(notional))
        amount = Decimal(notional)
        if not amount.is_finite() or amount < 0:
            raise InvalidInputError(
                "notional must be finite and not negative", venue=self.venue, found=str(notional)
            )
        rate = self.rate(liquidity, volume_30d, use_discount=use_discount)
        return _EXACT.multiply(amount, rate)

    def _discounted(self, rate: Decimal) -> Decimal:
        if rate <= 0:
            return rate
        return _EXACT.multiply(rate, _EXACT.subtract(_ONE, self.discount))


class FeeCheck(msgspec.Struct, frozen=True, kw_only=True):
    """The model's fee for a fill next to the fee the venue reported (which is what counts).

    ``expected`` is expressed in ``currency`` (the reported fee's currency) when the model
    can convert to it (same currency, or base <-> quote at the fill price); otherwise it is
    left in ``expected_currency`` and ``difference`` is None: the fee was paid in something
    the model does not price (a discount token such as BNB).
    ``difference = reported - expected``: positive when the venue charged more than modelled.
    """

    expected: Decimal
    reported: Decimal
    difference: Decimal | None
    currency: str
    expected_currency: str


def fee_check(
    fill: OrderFilled,
    schedule: FeeSchedule,
    volume_30d: Decimal | int = 0,
    *,
    use_discount: bool = False,
    instrument: Instrument | None = None,
) -> FeeCheck:
    """Compare ``fill.commission`` with the fee ``schedule`` predicts for the fill.

    The model's fee is valued in ``schedule.fee_currency`` or, when that is None, in the
    instrument's quote currency. Pass ``instrument`` so that a fee the venue took in the base
    asset (Binance, OKX and Bybit debit the asset a buy receives) is converted at the fill
    price; without it the reported currency is taken to be the quote currency.
    """
    venue = fill.instrument_id.venue.value
    if venue != schedule.venue:
        raise InvalidInputError(
            "fee schedule is for another venue",
            expected=venue,
            found=schedule.venue,
            instrument=str(fill.instrument_id),
        )
    if instrument is not None and instrument.id != fill.instrument_id:
        raise InvalidInputError(
            "instrument does not match the fill",
            expected=str(fill.instrument_id),
            found=str(instrument.id),
        )
    notional = Decimal(f"{fill.last_qty.raw * fill.last_px.raw}E-{2 * FIXED_PRECISION}")  # exact
    expected_quote = schedule.fee(notional, fill.liquidity_side, volume_30d, use_discount)
    reported = fill.commission.as_decimal()
    currency = fill.commission.currency.code
    if schedule.fee_currency is not None:
        model_currency = schedule.fee_currency
    elif instrument is not None:
        model_currency = instrument.quote_currency.code
    else:
        model_currency = currency
    if currency == model_currency:
        expected = expected_quote
    elif instrument is not None and model_currency == instrument.quote_currency.code and (
        currency == instrument.base_currency.code
    ):
        expected = _DIVIDE.divide(expected_quote, fill.last_px.as_decimal())
    else:
        return FeeCheck(
            expected=expected_quote,
            reported=reported,
            difference=None,
            currency=currency,
            expected_currency=model_currency,
        )
    return FeeCheck(
        expected=expected,
        reported=reported,
        difference=_EXACT.subtract(reported, expected),
        currency=currency,
        expected_currency=currency,
    )


class FeeBook:
    """Every fee schedule a node knows, by ``(venue, instrument_class)``; immutable."""

    __slots__ = ("_schedules",)

    def __init__(self, schedules: Iterable[FeeSchedule] = ()) -> None:
        table: dict[tuple[str, str], FeeSchedule] = {}
        for schedule in schedules:
            key = (schedule.venue, schedule.instrument_class)
            if key in table:
                raise InvalidInputError(
                    "two fee schedules for one venue and instrument class",
                    venue=schedule.venue,
                    instrument_class=schedule.instrument_class,
                )
            table[key] = schedule
        self._schedules = table

    @classmethod
    def defaults(cls) -> FeeBook:
        """Return the schedules shipped with Bot4 (``bot4/costs/schedules/*.toml``)."""
        return _shipped()

    @classmethod
    def from_toml(cls, source: str | os.PathLike[str], *, name: str | None = None) -> FeeBook:
        """Load schedules from a TOML file or from TOML text.

        A ``Path`` (any ``os.PathLike``) is a file, and so is a one-line string ending in
        ``.toml``; any other string is TOML text, named ``name`` (or ``<text>``) in errors.
        Every problem is a :class:`ConfigError` naming the file and the key.
        """
        if isinstance(source, str) and not _looks_like_path(source):
            return cls(_parse(source, name or "<text>"))
        path = Path(source)
        label = name or str(path)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise ConfigError("fee schedule file not found", file=label) from None
        except OSError as exc:
            raise ConfigError("cannot read fee schedule file", file=label, error=exc.strerror) from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError("fee schedule file is not UTF-8 text", file=label, error=str(exc)) from None
        return cls(_parse(text, label))

    def merged(self, other: FeeBook) -> FeeBook:
        """Return this book with ``other``'s schedules replacing its own per (venue, class)."""
        table = dict(self._schedules)
        table.update(other._schedules)
        return FeeBook(table.values())

    def schedule(self, venue: str | Venue, instrument_class: str = "spot") -> FeeSchedule:
        """Return the schedule for ``venue``; a missing one raises :class:`UnknownVenueError`."""
        found = self.get(venue, instrument_class)
        if found is None:
            raise UnknownVenueError(
                f"no fee schedule for venue {venue} ({instrument_class})",
                venue=str(venue),
                instrument_class=instrument_class,
                known=self.venues(),
            )
        return found

    def get(self, venue: str | Venue, instrument_class: str = "spot") -> FeeSchedule | None:
        """Return the schedule for ``venue``, or None: for callers that route around a gap."""
        return self._schedules.get((str(venue), instrument_class))

    def venues(self) -> list[str]:
        """Return the venues with at least one schedule, sorted."""
        return sorted({venue for venue, _ in self._schedules})

    def schedules(self) -> list[FeeSchedule]:
        """Return every schedule, sorted by venue and instrument class."""
        return [self._schedules[key] for key in sorted(self._schedules)]

    def __len__(self) -> int:
        return len(self._schedules)

    def __repr__(self) -> str:
        return f"FeeBook({', '.join(f'{v}/{c}' for v, c in sorted(self._schedules))})"


# -- checks ------------------------------------------------------------------------------------


def _schedule_problems(schedule: FeeSchedule) -> Iterable[tuple[str, str, str]]:
    """Yield ``(key, problem, found)`` for every rule ``schedule`` breaks, in key order."""
    if not schedule.venue or any(c.isspace() for c in schedule.venue):
        yield "venue", "venue must be a non-empty name without spaces", repr(schedule.venue)
    if not schedule.instrument_class or any(c.isspace() for c in schedule.instrument_class):
        yield "instrument_class", "instrument_class must be a non-empty word", repr(schedule.instrument_class)
    if schedule.fee_currency is not None and not schedule.fee_currency.isalnum():
        yield "fee_currency", "fee_currency must be a currency code", repr(schedule.fee_currency)
    if not schedule.discount.is_finite() or not _ZERO <= schedule.discount < _ONE:
        yield "discount", "discount must be a fraction in [0, 1)", str(schedule.discount)
    if not schedule.source.strip():
        yield "source", "source must name the URL or document the rates come from", repr(schedule.source)
    try:
        datetime.date.fromisoformat(schedule.as_of)
    except ValueError:
        yield "as_of", "as_of must be a date written YYYY-MM-DD", repr(schedule.as_of)
    if not schedule.tiers:
        yield "tiers", "a fee schedule needs at least one tier", "none"
    previous: Decimal | None = None
    for index, tier in enumerate(schedule.tiers):
        key = f"tiers[{index}]"
        volume = tier.min_volume_30d
        if not volume.is_finite():
            yield f"{key}.min_volume_30d", "min_volume_30d must be a finite number", str(volume)
        elif index == 0 and volume != 0:
            yield f"{key}.min_volume_30d", "the first tier must start at 0", str(volume)
        elif previous is not None and volume <= previous:
            yield (
                f"{key}.min_volume_30d",
                f"tiers must increase: this one starts at or below the previous ({previous})",
                str(volume),
            )
        if volume.is_finite():
            previous = volume
        for name in ("maker", "taker"):
            rate: Decimal = getattr(tier, name)
            if not rate.is_finite() or not MIN_RATE <= rate <= MAX_RATE:
                yield (
                    f"{key}.{name}",
                    f"{name} rate must be a fraction within [{MIN_RATE}, {MAX_RATE}] (0.001 is 0.1%)",
                    str(rate),
                )


def _volume(value: Decimal | int, venue: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise InvalidInputError("volume_30d must be a Decimal", venue=venue, found=repr(value))
    volume = Decimal(value)
    if not volume.is_finite() or volume < 0:
        raise InvalidInputError("volume_30d must be finite and not negative", venue=venue, found=str(value))
    return volume


# -- loading -----------------------------------------------------------------------------------


def _looks_like_path(text: str) -> bool:
    return "\n" not in text and text.strip().endswith(".toml")


def _parse(text: str, file: str) -> list[FeeSchedule]:
    try:
        data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", file=file) from None
    for key in data:
        if key != "schedule":
            raise ConfigError("unknown key in fee schedule file", file=file, key=key, expected="schedule")
    tables = data.get("schedule")
    if tables is None:
        raise ConfigError("no fee schedules: add [[schedule]] tables", file=file, key="schedule")
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ConfigError(
            "schedule must be an array of tables, written [[schedule]]", file=file, key="schedule"
        )
    schedules: list[FeeSchedule] = []
    seen: dict[tuple[str, str], int] = {}
    for index, table in enumerate(tables):
        key = f"schedule[{index}]"
        schedule = _convert(table, file, key)
        ident = (schedule.venue, schedule.instrument_class)
        if ident in seen:
            raise ConfigError(
                f"second schedule for {schedule.venue}/{schedule.instrument_class} "
                f"(first at schedule[{seen[ident]}])",
                file=file,
                key=join_key(key, "venue"),
            )
        seen[ident] = index
        schedules.append(schedule)
    return schedules


def _convert(table: dict[str, Any], file: str, key: str) -> FeeSchedule:
    try:
        return convert_config(table, FeeSchedule, file=file, key=key, what="fee schedule")
    except ConfigError:
        raise
    except InvalidInputError as exc:  # FeeSchedule's own checks: name the file and full key
        context = dict(exc.context)
        inner = context.pop("key", "")
        raise ConfigError(exc.message, file=file, key=join_key(key, inner), **context) from None


@cache
def _shipped() -> FeeBook:
    folder = resources.files("bot4.costs").joinpath("schedules")
    book = FeeBook()
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            book = book.merged(FeeBook(_parse(entry.read_text(encoding="utf-8"), f"bot4/costs/schedules/{entry.name}")))
    return book
