"""Sizing policies: how big a position a signal asks for, before caps and lot rounding.

A policy turns an effective strength (strength x confidence, in [-1, 1]) into a signed target
position in raw quantity units (1e-9 of the base asset) as a float. The processor then caps it
by ``max_position``, rounds to a whole raw unit and works out the lot-rounded difference to the
current position exactly, in integers. Floats are fine here: a target is an opinion, and only
the order quantity derived from it must be exact.

- :class:`FixedQuantity` ``(quantity)``: target = strength x quantity.
- :class:`FractionOfEquity` ``(fraction)``: target notional = strength x fraction x equity in
  the instrument's quote currency; target = notional / mark.
- :class:`VolatilityScaled` ``(target_vol, ...)``: volatility targeting. Target notional =
  strength x equity x min(target_vol / realised_vol, max_leverage); target = notional / mark.
  The position's expected volatility is then ``target_vol`` of equity at full strength.

Realised volatility (:class:`EwmaVolatility`) is an exponentially weighted mean of squared log
returns between successive prices fed to ``SignalProcessor.update_price`` (zero-mean, like
RiskMetrics), with ``alpha = 2 / (lookback + 1)`` and a bias correction for the first samples
(the weights are divided by their sum ``1 - (1 - alpha)^n``, so a short history is an unbiased
mean rather than one shrunk toward zero). Volatility is per sample, scaled by
``sqrt(periods_per_year)``: feed it at a fixed cadence (bar closes, a timer) and give the number
of samples per year to think in annual terms (minute bars: 525,600), or keep the default 1.0
and state ``target_vol`` per sample. Fed with every trade instead, "per sample" has no fixed
meaning and bid/ask bounce inflates the estimate; do not do that.
"""

from __future__ import annotations

import math
from typing import ClassVar

from bot4.core.errors import InvalidInputError
from bot4.core.ids import InstrumentId
from bot4.core.numbers import FIXED_SCALAR, Currency, Numeric, to_raw
from bot4.model.instrument import Instrument
from bot4.model.position import Position

__all__ = [
    "EwmaVolatility",
    "FixedQuantity",
    "FractionOfEquity",
    "SizingPolicy",
    "SizingState",
    "VolatilityScaled",
]

# "No limit" as an int so the hot path compares instead of testing for None.
NO_LIMIT = 1 << 126


class EwmaVolatility:
    """Realised volatility of one price series: an EWMA of squared log returns (see module)."""

    __slots__ = ("_alpha", "_last", "_var", "_weight", "annualization", "current", "min_samples", "samples")

    def __init__(self, lookback: int, min_samples: int, periods_per_year: float = 1.0) -> None:
        self._alpha = 2.0 / (lookback + 1)
        self._last = 0  # last price, raw; 0 before the first
        self._var = 0.0  # EWMA of r^2, not yet bias-corrected
        self._weight = 0.0  # sum of the EWMA weights so far: 1 - (1 - alpha)^samples
        self.annualization = periods_per_year
        self.min_samples = min_samples
        self.samples = 0  # returns seen (one fewer than prices)
        # value() kept up to date by update(): prices arrive once a bar, signals far more often.
        self.current: float | None = None

    def update(self, price_raw: int) -> bool:
        """Take the next price; False (and ignored) unless it is positive."""
        if price_raw <= 0:
            return False
        last = self._last
        self._last = price_raw
        if last:
            r = math.log(price_raw / last)
            alpha = self._alpha
            self._var += alpha * (r * r - self._var)
            self._weight += alpha * (1.0 - self._weight)
            self.samples += 1
            self.current = self._compute()
        return True

    def value(self) -> float | None:
        """Volatility per sample x sqrt(periods_per_year); None in warm-up or when zero."""
        return self.current

    def _compute(self) -> float | None:
        if self.samples < self.min_samples or self._var <= 0.0:
            return None
        return math.sqrt(self._var / self._weight * self.annualization)


class SizingState:
    """What the processor precomputes once per instrument, so a signal costs no lookups.

    All quantities are raw (1e-9 units). ``max_qty_raw`` is the instrument's max order
    quantity floored to the lot step; limits that are absent hold ``NO_LIMIT`` (0 for min
    notional). ``position`` is the portfolio's live :class:`Position` object (the portfolio
    never replaces it), read for its ``signed_raw``. ``equity_*`` hold the processor's last
    equity reading when ``equity_max_age_ns`` is set.
    """

    __slots__ = (
        "cap_float",
        "equity_fills",
        "equity_raw",
        "equity_ts",
        "instrument",
        "instrument_id",
        "max_position_raw",
        "max_qty_raw",
        "min_notional_raw",
        "min_qty_raw",
        "position",
        "quote_currency",
        "size_precision",
        "step_raw",
        "volatility",
    )

    def __init__(
        self,
        instrument: Instrument,
        position: Position,
        max_position_raw: int | None,
        volatility: EwmaVolatility | None,
    ) -> None:
        step = instrument.step_size
        self.instrument = instrument
        self.instrument_id: InstrumentId = instrument.id
        self.position = position
        self.quote_currency: Currency = instrument.quote_currency
        self.size_precision = instrument.size_precision
        self.step_raw = step
        self.min_qty_raw = max(instrument.min_quantity, step)
        max_qty = instrument.max_quantity
        self.max_qty_raw = NO_LIMIT if max_qty is None else max_qty - max_qty % step
        self.min_notional_raw = instrument.min_notional or 0
        self.max_position_raw = NO_LIMIT if max_position_raw is None else max_position_raw
        # The float the target is clamped to before rounding. Uncapped, the largest finite
        # float: an infinite target then fails the range test and is dropped, not rounded.
        self.cap_float = float(max_position_raw) if max_position_raw is not None else 1.7976931348623157e308
        self.volatility = volatility
        self.equity_raw = 0
        self.equity_ts = 0
        self.equity_fills = -1  # no reading yet


class SizingPolicy:
    """Base of the sizing policies: one method from strength to a signed raw target.

    ``target_raw`` returns the signed target position in raw quantity units, or None when the
    policy lacks an input it needs (the processor drops the signal as ``NOT_READY``).
    ``equity_raw`` is the equity in the instrument's quote currency, raw units, fetched only
    for policies that set ``needs_equity`` (0 otherwise); ``mark_raw`` is always positive.
    """

    __slots__ = ()

    needs_equity: ClassVar[bool] = False

    def new_volatility(self) -> EwmaVolatility | None:
        """A fresh volatility tracker for one instrument, for policies that use one."""
        return None

    def target_raw(self, strength: float, state: SizingState, mark_raw: int, equity_raw: int) -> float | None:
        raise NotImplementedError


class FixedQuantity(SizingPolicy):
    """Target = strength x ``quantity`` (base units): full strength holds ``quantity``."""

    __slots__ = ("quantity_raw",)

    def __init__(self, quantity: Numeric) -> None:
        raw, _ = to_raw(quantity)
        if raw <= 0:
            raise InvalidInputError("FixedQuantity needs a positive quantity", quantity=str(quantity))
        self.quantity_raw = raw

    def target_raw(self, strength: float, state: SizingState, mark_raw: int, equity_raw: int) -> float:
        return strength * self.quantity_raw

    def __repr__(self) -> str:
        return f"FixedQuantity({self.quantity_raw / FIXED_SCALAR})"


class FractionOfEquity(SizingPolicy):
    """Target notional = strength x ``fraction`` x equity (quote currency); target = notional / mark."""

    __slots__ = ("_scaled", "fraction")

    needs_equity: ClassVar[bool] = True

    def __init__(self, fraction: float) -> None:
        if not 0.0 < fraction < math.inf:
            raise InvalidInputError("FractionOfEquity needs a positive finite fraction", fraction=fraction)
        self.fraction = fraction
        self._scaled = fraction * FIXED_SCALAR  # qty raw = notional raw x 1e9 / price raw

    def target_raw(self, strength: float, state: SizingState, mark_raw: int, equity_raw: int) -> float:
        return strength * self._scaled * equity_raw / mark_raw

    def __repr__(self) -> str:
        return f"FractionOfEquity({self.fraction})"


class VolatilityScaled(SizingPolicy):
    """Target notional = strength x equity x min(target_vol / realised vol, max_leverage).

    ``target_vol`` is in the units of the realised volatility: per sample x
    sqrt(``periods_per_year``) (see the module docstring). Until ``min_samples`` returns have
    been seen, or while realised volatility is zero, the policy is not ready.
    """

    __slots__ = (
        "_scaled_leverage",
        "_scaled_target",
        "lookback",
        "max_leverage",
        "min_samples",
        "periods_per_year",
        "target_vol",
    )

    needs_equity: ClassVar[bool] = True

    def __init__(
        self,
        target_vol: float,
        *,
        lookback: int = 100,
        min_samples: int = 20,
        periods_per_year: float = 1.0,
        max_leverage: float = 1.0,
    ) -> None:
        for name, value in (
            ("target_vol", target_vol),
            ("periods_per_year", periods_per_year),
            ("max_leverage", max_leverage),
        ):
            if not 0.0 < value < math.inf:
                raise InvalidInputError(f"VolatilityScaled needs a positive finite {name}", **{name: value})
        if lookback < 1 or min_samples < 1:
            raise InvalidInputError(
                "VolatilityScaled needs lookback >= 1 and min_samples >= 1",
                lookback=lookback,
                min_samples=min_samples,
            )
        self.target_vol = target_vol
        self.lookback = lookback
        self.min_samples = min_samples
        self.periods_per_year = periods_per_year
        self.max_leverage = max_leverage
        self._scaled_leverage = max_leverage * FIXED_SCALAR
        self._scaled_target = target_vol * FIXED_SCALAR

    def new_volatility(self) -> EwmaVolatility:
        return EwmaVolatility(self.lookback, self.min_samples, self.periods_per_year)

    def target_raw(self, strength: float, state: SizingState, mark_raw: int, equity_raw: int) -> float | None:
        tracker = state.volatility
        vol = None if tracker is None else tracker.current
        if vol is None:
            return None
        scaled = self._scaled_target / vol
        if scaled > self._scaled_leverage:
            scaled = self._scaled_leverage
        return strength * scaled * equity_raw / mark_raw

    def __repr__(self) -> str:
        return (
            f"VolatilityScaled(target_vol={self.target_vol}, lookback={self.lookback}, "
            f"min_samples={self.min_samples}, periods_per_year={self.periods_per_year}, "
            f"max_leverage={self.max_leverage})"
        )
