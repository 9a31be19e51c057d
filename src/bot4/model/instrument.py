"""Instruments with the venue's real trading filters.

The filters mirror what venues publish (Binance ``exchangeInfo``: PRICE_FILTER tickSize,
LOT_SIZE stepSize/minQty/maxQty, NOTIONAL minNotional). ``check_order`` answers with a reason
instead of raising, because a bad order is an everyday event (risk turns the reason into a
denial, the venue into a rejection); ``make_price``/``make_qty`` raise because a caller asking
for an exact value it cannot have is a bug in that caller.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

import msgspec

from bot4.core.errors import InvalidOrderError
from bot4.core.ids import InstrumentId
from bot4.core.numbers import (
    FIXED_PRECISION,
    FIXED_SCALAR,
    Currency,
    Money,
    Numeric,
    Price,
    Quantity,
    to_raw,
)
from bot4.model.enums import OrderSide

__all__ = ["Instrument", "OrderCheck"]

_ROUNDINGS = {"nearest": ROUND_HALF_EVEN, "down": ROUND_FLOOR, "up": ROUND_CEILING}


class OrderCheck(msgspec.Struct, frozen=True, gc=False):
    """Why an order fails the instrument's filters: a code a program can branch on and text."""

    code: str
    reason: str


class Instrument(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """A tradable spot pair and its filters.

    ``tick_size`` and ``step_size`` are raw (1e-9 units); use ``price_increment`` and
    ``size_increment`` for typed values.
    """

    id: InstrumentId
    base_currency: Currency
    quote_currency: Currency
    price_precision: int
    size_precision: int
    tick_size: int
    step_size: int
    min_quantity: int
    max_quantity: int | None = None
    min_notional: int | None = None
    min_price: int | None = None
    max_price: int | None = None
    maker_fee: Decimal = Decimal("0.001")
    taker_fee: Decimal = Decimal("0.001")

    @classmethod
    def create(
        cls,
        *,
        instrument_id: InstrumentId,
        base: Currency,
        quote: Currency,
        tick_size: str,
        step_size: str,
        min_quantity: str | None = None,
        max_quantity: str | None = None,
        min_notional: str | None = None,
        min_price: str | None = None,
        max_price: str | None = None,
        maker_fee: str = "0.001",
        taker_fee: str = "0.001",
    ) -> Instrument:
        """Build from the venue's decimal strings; precision follows the tick and step sizes."""
        tick, _ = to_raw(tick_size)
        step, _ = to_raw(step_size)
        if tick <= 0 or step <= 0:
            raise InvalidOrderError(
                "tick size and step size must be positive",
                instrument=str(instrument_id),
                tick_size=tick_size,
                step_size=step_size,
            )

        def opt(value: str | None) -> int | None:
            return None if value is None else to_raw(value)[0]

        return cls(
            id=instrument_id,
            base_currency=base,
            quote_currency=quote,
            price_precision=_decimals_of(tick),
            size_precision=_decimals_of(step),
            tick_size=tick,
            step_size=step,
            min_quantity=opt(min_quantity) or step,
            max_quantity=opt(max_quantity),
            min_notional=opt(min_notional),
            min_price=opt(min_price),
            max_price=opt(max_price),
            maker_fee=_fee(maker_fee, "maker_fee", instrument_id),
            taker_fee=_fee(taker_fee, "taker_fee", instrument_id),
        )

    @property
    def price_increment(self) -> Price:
        return Price(self.tick_size, self.price_precision)

    @property
    def size_increment(self) -> Quantity:
        return Quantity(self.step_size, self.size_precision)

    def make_price(self, value: Numeric) -> Price:
        """An exact price on this instrument's tick; off-tick values raise."""
        raw, _ = to_raw(value)
        if raw % self.tick_size:
            raise InvalidOrderError(
                "price is not a multiple of the tick size",
                instrument=str(self.id),
                price=str(value),
                tick_size=str(self.price_increment),
            )
        return Price(raw, self.price_precision)

    def make_qty(self, value: Numeric) -> Quantity:
        """An exact quantity on this instrument's step; off-step or negative values raise."""
        raw, _ = to_raw(value)
        if raw < 0 or raw % self.step_size:
            raise InvalidOrderError(
                "quantity must be a non-negative multiple of the step size",
                instrument=str(self.id),
                quantity=str(value),
                step_size=str(self.size_increment),
            )
        return Quantity(raw, self.size_precision)

    def round_price(self, value: Numeric, mode: str = "nearest") -> Price:
        """Round to the tick: ``nearest`` (half-even), ``down`` or ``up``."""
        steps = _round_steps(value, self.tick_size, mode)
        return Price(steps * self.tick_size, self.price_precision)

    def round_qty(self, value: Numeric, mode: str = "down") -> Quantity:
        """Round to the lot step; the default rounds down so an order never grows."""
        steps = _round_steps(value, self.step_size, mode)
        if steps < 0:
            raise InvalidOrderError("quantity must not be negative", instrument=str(self.id), quantity=str(value))
        return Quantity(steps * self.step_size, self.size_precision)

    def notional_raw(self, price_raw: int, qty_raw: int) -> int:
        """Price x quantity in raw quote units, floored at 1e-9 (prices are positive)."""
        return price_raw * qty_raw // FIXED_SCALAR

    def notional(self, price: Price, qty: Quantity) -> Money:
        return Money(self.notional_raw(price.raw, qty.raw), self.quote_currency)

    def check_order(self, side: OrderSide, quantity: Quantity, price: Price | None) -> OrderCheck | None:
        """Return why the order breaks a filter, or None when it passes.

        ``price`` is the limit price, or the expected fill price for a market order (used for
        the notional check), or None to skip price checks.
        """
        qty = quantity.raw
        if qty <= 0:
            return OrderCheck("QTY_NOT_POSITIVE", f"quantity {quantity} must be positive")
        if qty % self.step_size:
            return OrderCheck(
                "QTY_OFF_STEP", f"quantity {quantity} is not a multiple of step size {self.size_increment}"
            )
        if qty < self.min_quantity:
            return OrderCheck(
                "QTY_BELOW_MIN",
                f"quantity {quantity} is below min quantity {_fmt(self.min_quantity, self.size_precision)}",
            )
        if self.max_quantity is not None and qty > self.max_quantity:
            return OrderCheck(
                "QTY_ABOVE_MAX",
                f"quantity {quantity} is above max quantity {_fmt(self.max_quantity, self.size_precision)}",
            )
        if price is None:
            return None
        if price.raw <= 0:
            return OrderCheck("PRICE_NOT_POSITIVE", f"price {price} must be positive")
        if price.raw % self.tick_size:
            return OrderCheck("PRICE_OFF_TICK", f"price {price} is not a multiple of tick size {self.price_increment}")
        if self.min_price is not None and price.raw < self.min_price:
            return OrderCheck("PRICE_BELOW_MIN", f"price {price} is below min price {_fmt(self.min_price, self.price_precision)}")
        if self.max_price is not None and price.raw > self.max_price:
            return OrderCheck("PRICE_ABOVE_MAX", f"price {price} is above max price {_fmt(self.max_price, self.price_precision)}")
        if self.min_notional is not None:
            notional = self.notional_raw(price.raw, qty)
            if notional < self.min_notional:
                return OrderCheck(
                    "NOTIONAL_BELOW_MIN",
                    f"notional {_fmt(notional, self.quote_currency.precision)} {self.quote_currency} is below "
                    f"min notional {_fmt(self.min_notional, self.quote_currency.precision)}",
                )
        return None

    def __str__(self) -> str:
        return str(self.id)


def _fee(value: str, name: str, instrument_id: InstrumentId) -> Decimal:
    raw, _ = to_raw(value)
    rate = Decimal(raw).scaleb(-FIXED_PRECISION)
    if not Decimal("-0.01") <= rate <= Decimal("0.1"):
        raise InvalidOrderError(
            f"{name} must be a rate between -0.01 and 0.1 (e.g. 0.001 for 0.1%)",
            instrument=str(instrument_id),
            value=value,
        )
    return rate.normalize()


def _decimals_of(raw: int) -> int:
    decimals = FIXED_PRECISION
    while decimals > 0 and raw % 10 == 0:
        raw //= 10
        decimals -= 1
    return decimals


def _round_steps(value: Numeric, step_raw: int, mode: str) -> int:
    rounding = _ROUNDINGS.get(mode)
    if rounding is None:
        raise InvalidOrderError("rounding mode must be nearest, down or up", mode=mode)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise InvalidOrderError("expected a finite number", value=value)
        dec = Decimal(repr(value))
    elif isinstance(value, Decimal):
        dec = value
    else:
        dec = Decimal(to_raw(value)[0]).scaleb(-FIXED_PRECISION)
    if not dec.is_finite():
        raise InvalidOrderError("expected a finite number", value=str(value))
    steps = (dec.scaleb(FIXED_PRECISION) / step_raw).quantize(Decimal(1), rounding=rounding)
    return int(steps)


def _fmt(raw: int, precision: int) -> str:
    return str(Price(raw, precision))
