"""Slippage and market impact: what a taker order of a given size is expected to pay.

Three sources, used in this order by :func:`estimate_fill`:

- **the visible book**: :func:`walk_book` takes the L2 levels from the best outward, exactly as
  a market order would, and returns the volume-weighted average price (VWAP) over them;
- **an impact model for size beyond visible depth**: the part the book cannot fill is priced
  at the worst visible price moved further by :class:`SquareRootImpact` (worse for the taker);
- **the impact model alone** when there is no book (a backtest on trades or bars only): the
  whole quantity is priced at the reference mid moved by the impact fraction.

The square-root law (:class:`SquareRootImpact`) is the empirical rule that the price move
caused by a metaorder grows with the square root of its size relative to traded volume:
``impact = Y * sigma * sqrt(Q / V)``, with ``sigma`` the daily volatility, ``V`` the daily
volume and ``Y`` of order one (Almgren, Thum, Hauptmann and Li, "Direct Estimation of Equity
Market Impact", 2005; Toth et al., "Anomalous price impact and the critical nature of
liquidity in financial markets", 2011). ``coefficient`` stands for ``Y * sigma``: calibrate it
per instrument from your own fills; the default 0.1 is a deliberately pessimistic placeholder
(1% impact at 1% of daily volume).

Slippage is measured against a mid price in basis points, positive when the taker is worse
off: a buy above the mid, a sell below it (:func:`slippage_bps`).

Prices and sizes come in as raw ints (1e-9 units, as the book keeps them) and go out as exact
``Decimal`` where the arithmetic allows (sums and products); divisions and the square root
round half-even to 28 significant digits in a fixed context.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal
from enum import StrEnum

import msgspec

from bot4.core.errors import InvalidInputError
from bot4.core.numbers import FIXED_PRECISION
from bot4.model.book import OrderBook
from bot4.model.enums import OrderSide

__all__ = [
    "BookWalk",
    "Estimate",
    "EstimateMethod",
    "SquareRootImpact",
    "estimate_fill",
    "slippage_bps",
    "walk_book",
]

# The same context as OrderBook.vwap, so both give the same VWAP digit for digit.
_CTX = Context(prec=28, rounding=ROUND_HALF_EVEN)
_ZERO = Decimal(0)
_ONE = Decimal(1)
_BPS = Decimal(10_000)


class EstimateMethod(StrEnum):
    """What priced an :class:`Estimate`."""

    BOOK = "book"  # visible depth only (beyond_raw > 0 is then not covered by the price)
    BOOK_IMPACT = "book+impact"  # visible depth, the rest by the impact model
    IMPACT = "impact"  # the impact model alone, from a reference mid


class BookWalk(msgspec.Struct, frozen=True, kw_only=True):
    """A simulated taker walk over one side of a book; nothing in the book changes.

    ``vwap`` and ``worst_price`` are None when nothing could be filled; ``levels`` counts the
    price levels touched (the last one perhaps partly). ``notional_raw`` is the exact sum of
    ``price_raw * size_raw`` at scale 1e18.
    """

    requested_raw: int
    filled_raw: int
    vwap: Decimal | None
    worst_price: Decimal | None
    levels: int
    unfilled_raw: int
    notional_raw: int = 0


class SquareRootImpact(msgspec.Struct, frozen=True, kw_only=True):
    """Impact fraction ``coefficient * sqrt(quantity / daily_volume)`` (see the module doc).

    ``daily_volume_raw`` is the instrument's typical daily traded quantity in raw units.
    """

    daily_volume_raw: int
    coefficient: Decimal = Decimal("0.1")

    def __post_init__(self) -> None:
        if isinstance(self.daily_volume_raw, bool) or self.daily_volume_raw <= 0:
            raise InvalidInputError(
                "daily volume must be a positive raw quantity", daily_volume_raw=self.daily_volume_raw
            )
        if not self.coefficient.is_finite() or self.coefficient < 0:
            raise InvalidInputError(
                "impact coefficient must be finite and not negative", coefficient=str(self.coefficient)
            )

    def impact_fraction(self, quantity_raw: int) -> Decimal:
        """Return the expected price move, as a fraction of price, for ``quantity_raw``."""
        _check_quantity(quantity_raw)
        if quantity_raw == 0 or not self.coefficient:
            return _ZERO
        participation = _CTX.divide(Decimal(quantity_raw), Decimal(self.daily_volume_raw))
        return _CTX.multiply(self.coefficient, _CTX.sqrt(participation))


class Estimate(msgspec.Struct, frozen=True, kw_only=True):
    """The expected average fill price of a taker order and its slippage against the mid.

    ``visible_raw`` is the part filled from visible depth, ``beyond_raw`` the rest. With
    ``method`` BOOK_IMPACT or IMPACT the impact model priced ``beyond_raw`` and ``price``
    covers the whole quantity; with BOOK, ``price`` covers only ``visible_raw`` and a
    ``beyond_raw > 0`` tells the caller the book is too thin for the order.
    ``reference_mid`` is the mid the slippage is measured against (None when no mid was
    known: then ``slippage_bps`` is measured against the best price on the side taken).
    """

    price: Decimal
    slippage_bps: Decimal
    visible_raw: int
    beyond_raw: int
    method: EstimateMethod
    reference_mid: Decimal | None = None

    @property
    def is_complete(self) -> bool:
        """True when ``price`` covers the whole quantity asked for."""
        return self.beyond_raw == 0 or self.method is not EstimateMethod.BOOK

    @property
    def quantity_raw(self) -> int:
        """The quantity ``price`` covers."""
        return self.visible_raw + (self.beyond_raw if self.is_complete else 0)


def walk_book(
    book: OrderBook, side: OrderSide, quantity_raw: int, limit_raw: int | None = None
) -> BookWalk:
    """Walk ``book`` as a taker of ``side`` (a BUY takes asks) for ``quantity_raw``.

    Stop at ``limit_raw`` (a BUY takes no ask above it, a SELL no bid below it) when given.
    """
    _check_side(side)
    _check_quantity(quantity_raw)
    if limit_raw is not None and (isinstance(limit_raw, bool) or limit_raw <= 0):
        raise InvalidInputError(
            "limit price must be positive", instrument=str(book.instrument_id), limit_raw=limit_raw
        )
    filled, notional = book.walk(side, quantity_raw, limit_raw)
    if filled == 0:
        return BookWalk(
            requested_raw=quantity_raw, filled_raw=0, vwap=None, worst_price=None, levels=0,
            unfilled_raw=quantity_raw,
        )
    # A second, short pass for the level count and the worst price: ``walk`` keeps its hot
    # loop free of bookkeeping that only the cost model needs.
    levels = 0
    worst = 0
    taken = 0
    for price, size in book.levels(side.opposite):
        levels += 1
        worst = price
        taken += size
        if taken >= filled:
            break
    return BookWalk(
        requested_raw=quantity_raw,
        filled_raw=filled,
        vwap=_CTX.divide(Decimal(notional), Decimal(filled)).scaleb(-FIXED_PRECISION, _CTX),
        worst_price=_price(worst),
        levels=levels,
        unfilled_raw=quantity_raw - filled,
        notional_raw=notional,
    )


def estimate_fill(
    side: OrderSide,
    quantity_raw: int,
    *,
    book: OrderBook | None,
    reference_mid: Decimal | None = None,
    impact: SquareRootImpact | None = None,
) -> Estimate | None:
    """Return the expected average price for a taker order, or None when nothing can price it.

    With a book: walk it; size beyond visible depth is priced by ``impact`` when given (at
    the worst visible price moved by ``impact.impact_fraction(beyond)``), otherwise left out
    (see :class:`Estimate`). Without a book, or with the side taken empty: ``reference_mid``
    moved by the impact fraction of the whole quantity. The slippage reference is
    ``reference_mid`` when given, else the book's mid. None when there is no liquidity and
    no impact model (or no mid for it to start from).

    A sell's impact fraction is capped at 1, so its price never goes below zero.
    """
    _check_side(side)
    _check_quantity(quantity_raw)
    if reference_mid is not None:
        _check_price(reference_mid, "reference_mid")
    mid = reference_mid
    if mid is None and book is not None:
        mid = book.mid()
    walk = None if book is None else walk_book(book, side, quantity_raw)

    if walk is not None and walk.filled_raw > 0:
        assert walk.vwap is not None and walk.worst_price is not None
        if walk.unfilled_raw == 0 or impact is None:
            method = EstimateMethod.BOOK
            price = walk.vwap
            beyond = walk.unfilled_raw
        else:
            method = EstimateMethod.BOOK_IMPACT
            beyond = walk.unfilled_raw
            far = _moved(walk.worst_price, side, impact.impact_fraction(beyond))
            visible = _scaled(walk.notional_raw, 2 * FIXED_PRECISION)
            total = _CTX.add(visible, _CTX.multiply(far, _quantity(beyond)))
            price = _CTX.divide(total, _quantity(quantity_raw))
        reference = mid if mid is not None else _touch(book, side)
        return Estimate(
            price=price,
            slippage_bps=_bps(side, price, reference) if reference is not None else _ZERO,
            visible_raw=walk.filled_raw,
            beyond_raw=beyond,
            method=method,
            reference_mid=mid,
        )

    if quantity_raw == 0:
        touch = _touch(book, side) if book is not None else None
        start = touch if touch is not None else mid
        if start is None:
            return None
        return Estimate(
            price=start,
            slippage_bps=_bps(side, start, mid) if mid is not None else _ZERO,
            visible_raw=0,
            beyond_raw=0,
            method=EstimateMethod.BOOK if touch is not None else EstimateMethod.IMPACT,
            reference_mid=mid,
        )

    if impact is None or mid is None:
        return None
    price = _moved(mid, side, impact.impact_fraction(quantity_raw))
    return Estimate(
        price=price,
        slippage_bps=_bps(side, price, mid),
        visible_raw=0,
        beyond_raw=quantity_raw,
        method=EstimateMethod.IMPACT,
        reference_mid=mid,
    )


def slippage_bps(side: OrderSide, fill_price: Decimal, arrival_mid: Decimal) -> Decimal:
    """Return ``fill_price``'s distance from ``arrival_mid`` in bps, positive = worse for the taker.

    A buy above the mid and a sell below it are positive; price improvement is negative.
    """
    _check_side(side)
    _check_price(fill_price, "fill_price")
    _check_price(arrival_mid, "arrival_mid")
    return _bps(side, fill_price, arrival_mid)


# -- helpers -----------------------------------------------------------------------------------


def _bps(side: OrderSide, price: Decimal, reference: Decimal) -> Decimal:
    """Unchecked :func:`slippage_bps`: ``price`` may be 0 (a sell's capped impact)."""
    move = _CTX.divide(_CTX.multiply(_CTX.subtract(price, reference), _BPS), reference)
    return move if side is OrderSide.BUY else -move


def _moved(price: Decimal, side: OrderSide, fraction: Decimal) -> Decimal:
    """``price`` moved against the taker by ``fraction`` (up for a buy, down for a sell)."""
    if side is OrderSide.BUY:
        return _CTX.multiply(price, _CTX.add(_ONE, fraction))
    return _CTX.multiply(price, _CTX.subtract(_ONE, min(fraction, _ONE)))


def _touch(book: OrderBook | None, side: OrderSide) -> Decimal | None:
    """The best price a taker of ``side`` would hit first."""
    if book is None:
        return None
    raw = book.best_ask_raw() if side is OrderSide.BUY else book.best_bid_raw()
    return None if raw is None else _price(raw)


def _scaled(raw: int, decimals: int) -> Decimal:
    """``raw * 10**-decimals`` exactly (the string constructor never rounds)."""
    return Decimal(f"{raw}E-{decimals}")


def _price(raw: int) -> Decimal:
    return _scaled(raw, FIXED_PRECISION)


def _quantity(raw: int) -> Decimal:
    return _scaled(raw, FIXED_PRECISION)


def _check_side(side: OrderSide) -> None:
    if side is not OrderSide.BUY and side is not OrderSide.SELL:
        raise InvalidInputError("side must be BUY or SELL", found=repr(side))


def _check_quantity(quantity_raw: int) -> None:
    if isinstance(quantity_raw, bool) or not isinstance(quantity_raw, int):
        raise InvalidInputError("quantity must be a raw int (1e-9 units)", found=repr(quantity_raw))
    if quantity_raw < 0:
        raise InvalidInputError("quantity must not be negative", quantity_raw=quantity_raw)


def _check_price(value: Decimal, name: str) -> None:
    if not isinstance(value, Decimal):
        raise InvalidInputError(f"{name} must be a Decimal", found=repr(value))
    if not value.is_finite() or value <= 0:
        raise InvalidInputError(f"{name} must be a finite positive price", **{name: str(value)})
