"""Exact fixed-point numbers for prices, quantities and money.

Every value is stored as an integer count of 1e-9 units (``raw``) together with the number of
decimals it is quoted in (``precision``). One shared scale keeps comparisons and sums between
values of different precision plain integer operations, which is what the book and the matching
engine need on the hot path; ``precision`` is only used for display and validation.

Equality compares ``raw`` and ``precision`` together (msgspec structs compare field tuples), so
``Price.from_str("1.0") != Price.from_str("1.00")``; within one instrument every price has the
same precision and this never matters. Order comparisons (``<``) are by value first.

Floats are accepted only through :func:`to_raw`, which goes through their shortest decimal
repr and then checks precision: a float that is not exactly a short decimal is refused, not
silently rounded. Rounding on purpose is the instrument's job (``Instrument.round_price``).
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal

import msgspec

from bot4.core.errors import InvalidInputError, PrecisionError

__all__ = [
    "FIXED_PRECISION",
    "FIXED_SCALAR",
    "Currency",
    "Money",
    "Numeric",
    "Price",
    "Quantity",
    "to_raw",
]

FIXED_PRECISION = 9
FIXED_SCALAR: int = 10**FIXED_PRECISION

Numeric = str | int | float | Decimal

_POW10: list[int] = [10**i for i in range(FIXED_PRECISION + 1)]
_PLAIN = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)\Z")
_EXPONENT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)[eE][+-]?[0-9]{1,4}\Z")


def to_raw(value: Numeric, precision: int | None = None) -> tuple[int, int]:
    """Return ``(raw, decimals)`` for a decimal value, exact or refused.

    ``decimals`` is the number of significant decimals the text carried (trailing zeros count,
    so "61837.63000000" has 8, matching how venues quote). When ``precision`` is given, a value
    needing more decimals raises :class:`PrecisionError`.
    """
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, bool):
        raise InvalidInputError("expected a decimal number, found a bool", value=value)
    elif isinstance(value, int):
        raw = value * FIXED_SCALAR
        return raw, _checked(raw, precision, str(value), 0)
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise InvalidInputError("expected a finite number", value=value)
        text = repr(value)
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidInputError("expected a finite number", value=str(value))
        text = format(value, "f")
    else:
        raise InvalidInputError("expected a decimal number", value=value)
    if "e" in text or "E" in text:
        if not _EXPONENT.match(text):
            raise InvalidInputError("expected a decimal number", value=value)
        dec = Decimal(text)
        exponent = dec.as_tuple().exponent
        if dec.is_zero() and isinstance(exponent, int) and exponent > 0:
            dec = Decimal(0)
        elif abs(dec.adjusted()) > 30 or (isinstance(exponent, int) and exponent < -30):
            raise InvalidInputError("number is out of range", value=value)
        text = format(dec, "f")
    if not _PLAIN.match(text):
        raise InvalidInputError("expected a decimal number", value=value)
    dot = text.find(".")
    if dot < 0:
        return int(text) * FIXED_SCALAR, _checked(int(text) * FIXED_SCALAR, precision, text, 0)
    frac = text[dot + 1 :]
    decimals = len(frac)
    if decimals > FIXED_PRECISION:
        stripped = frac.rstrip("0")
        if len(stripped) > FIXED_PRECISION:
            raise PrecisionError(f"more than {FIXED_PRECISION} decimals", value=text)
        frac = stripped
        decimals = FIXED_PRECISION
    whole = text[:dot]
    if whole in ("", "-", "+"):
        whole += "0"
    raw = int(whole + frac) * _POW10[FIXED_PRECISION - len(frac)]
    return raw, _checked(raw, precision, text, decimals)


def _checked(raw: int, precision: int | None, text: str, decimals: int) -> int:
    if precision is None:
        return decimals
    if not 0 <= precision <= FIXED_PRECISION:
        raise PrecisionError(f"precision must be within 0..{FIXED_PRECISION}", precision=precision)
    if raw % _POW10[FIXED_PRECISION - precision] != 0:
        raise PrecisionError(f"value has more than {precision} decimals", value=text, precision=precision)
    return decimals


def _check_precision(precision: int) -> None:
    if not 0 <= precision <= FIXED_PRECISION:
        raise PrecisionError(
            f"precision must be within 0..{FIXED_PRECISION}", precision=precision
        )


def _format(raw: int, precision: int) -> str:
    sign = "-" if raw < 0 else ""
    whole, frac = divmod(abs(raw), FIXED_SCALAR)
    if precision == 0:
        return f"{sign}{whole}"
    digits = f"{frac:09d}"[:precision]
    return f"{sign}{whole}.{digits}"


class Price(msgspec.Struct, frozen=True, gc=False, order=True):
    """A price, exact to ``precision`` decimals. May be negative (spreads, some derivatives)."""

    raw: int
    precision: int

    @classmethod
    def of(cls, value: Numeric, precision: int) -> Price:
        """Build a price, refusing values with more decimals than ``precision``."""
        _check_precision(precision)
        raw, _ = to_raw(value, precision)
        return cls(raw, precision)

    @classmethod
    def from_str(cls, text: str) -> Price:
        """Build a price whose precision is the number of decimals written."""
        raw, decimals = to_raw(text)
        return cls(raw, decimals)

    def as_decimal(self) -> Decimal:
        return Decimal(self.raw).scaleb(-FIXED_PRECISION).quantize(Decimal(1).scaleb(-self.precision))

    def as_double(self) -> float:
        return self.raw / FIXED_SCALAR

    def __str__(self) -> str:
        return _format(self.raw, self.precision)

    def __add__(self, other: Price) -> Price:
        return Price(self.raw + other.raw, max(self.precision, other.precision))

    def __sub__(self, other: Price) -> Price:
        return Price(self.raw - other.raw, max(self.precision, other.precision))

    def __neg__(self) -> Price:
        return Price(-self.raw, self.precision)


class Quantity(msgspec.Struct, frozen=True, gc=False, order=True):
    """A non-negative amount of an instrument, exact to ``precision`` decimals."""

    raw: int
    precision: int

    @classmethod
    def of(cls, value: Numeric, precision: int) -> Quantity:
        """Build a quantity, refusing negative values or more decimals than ``precision``."""
        _check_precision(precision)
        raw, _ = to_raw(value, precision)
        if raw < 0:
            raise InvalidInputError("quantity must not be negative", value=str(value))
        return cls(raw, precision)

    @classmethod
    def from_str(cls, text: str) -> Quantity:
        """Build a quantity whose precision is the number of decimals written."""
        raw, decimals = to_raw(text)
        if raw < 0:
            raise InvalidInputError("quantity must not be negative", value=text)
        return cls(raw, decimals)

    @classmethod
    def zero(cls, precision: int = 0) -> Quantity:
        return cls(0, precision)

    def is_zero(self) -> bool:
        return self.raw == 0

    def as_decimal(self) -> Decimal:
        return Decimal(self.raw).scaleb(-FIXED_PRECISION).quantize(Decimal(1).scaleb(-self.precision))

    def as_double(self) -> float:
        return self.raw / FIXED_SCALAR

    def __str__(self) -> str:
        return _format(self.raw, self.precision)

    def __add__(self, other: Quantity) -> Quantity:
        return Quantity(self.raw + other.raw, max(self.precision, other.precision))

    def __sub__(self, other: Quantity) -> Quantity:
        raw = self.raw - other.raw
        if raw < 0:
            raise InvalidInputError(
                "quantity subtraction would go negative", left=str(self), right=str(other)
            )
        return Quantity(raw, max(self.precision, other.precision))


class Currency(msgspec.Struct, frozen=True, gc=False):
    """A currency or asset code with the precision its balances are kept in."""

    code: str
    precision: int

    def __post_init__(self) -> None:
        _check_precision(self.precision)
        if not self.code or not self.code.isalnum():
            raise InvalidInputError("currency code must be alphanumeric", code=self.code)

    def __str__(self) -> str:
        return self.code


class Money(msgspec.Struct, frozen=True, gc=False, order=True):
    """An exact amount of one currency; signed (PnL, fees and rebates)."""

    raw: int
    currency: Currency

    @classmethod
    def of(cls, value: Numeric, currency: Currency) -> Money:
        """Build money, refusing more decimals than the currency's precision."""
        raw, _ = to_raw(value, currency.precision)
        return cls(raw, currency)

    @classmethod
    def zero(cls, currency: Currency) -> Money:
        return cls(0, currency)

    @classmethod
    def from_decimal(cls, value: Decimal, currency: Currency) -> Money:
        """Round a computed amount to the currency's precision (half-even) and build money."""
        if not value.is_finite():
            raise InvalidInputError("expected a finite amount", value=str(value))
        quantum = Decimal(1).scaleb(-currency.precision)
        rounded = value.quantize(quantum, rounding=ROUND_HALF_EVEN)
        return cls(int(rounded.scaleb(FIXED_PRECISION)), currency)

    def as_decimal(self) -> Decimal:
        return (
            Decimal(self.raw)
            .scaleb(-FIXED_PRECISION)
            .quantize(Decimal(1).scaleb(-self.currency.precision))
        )

    def as_double(self) -> float:
        return self.raw / FIXED_SCALAR

    def __str__(self) -> str:
        return f"{_format(self.raw, self.currency.precision)} {self.currency.code}"

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise InvalidInputError(
                "cannot combine money of different currencies",
                left=self.currency.code,
                right=other.currency.code,
            )

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.raw + other.raw, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.raw - other.raw, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.raw, self.currency)
