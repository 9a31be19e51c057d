"""The signal processor: a signal in, a sized, lot-rounded order intent (or a counted drop) out.

The pass, in order (the first failing step drops the signal with its :class:`DropReason`):

1. Find the instrument's precomputed :class:`SizingState` (built on first use from the
   instrument lookup and the portfolio; ``UNKNOWN_INSTRUMENT`` if either does not know it).
2. Check the strength: NaN/inf is ``STRENGTH_NOT_FINITE``; outside [-1, 1] is
   ``STRENGTH_OUT_OF_RANGE``, or, with ``clamp_strength``, clamped and counted in ``clamped``.
   Dropping is the default because a strength of 1.5 is a bug in whatever produced it, and
   clamping would quietly trade it at full size. A confidence, when given, must be in [0, 1]
   (else ``INVALID_CONFIDENCE``) and multiplies the strength.
3. Read the mark (the portfolio's last price; ``NO_MARK`` without a positive one) and, for
   equity-based policies, the equity in the quote currency (``NO_EQUITY`` when missing or <= 0).
   ``Portfolio.equity_raw`` walks every balance and values it at its mark: ~1 us for a spot
   account holding BTC and USDT, as much as the rest of the pass. With ``equity_max_age_ns``
   set, a reading is reused for later signals of the instrument until it is that old in
   signal time (``ts_event``) or a fill reached the portfolio; the sizes then lag equity
   moves (a mark move, a deposit) by at most that age. The default 0 reads it every time.
4. Size: the policy's signed target (``NOT_READY`` when it cannot), capped to
   +-``max_position`` and rounded to a whole raw unit (``INVALID_TARGET`` for NaN/inf).
5. Delta = target - basis, where basis is the portfolio's net position in the instrument plus,
   when a ``working_orders`` callable is given, the signed unfilled quantity of open orders.
   Without it, orders still in flight are invisible and a second signal before the first
   fill orders again; pass one whenever that can happen (live, limit orders, several signals
   per event). Positions are per instrument, not per strategy, so the basis (and the callable)
   should cover every strategy trading the instrument.
6. Round |delta| down to the lot step (toward zero, so the order never overshoots the target),
   cut it to the instrument's max quantity (counted in ``clipped``; the next signal continues),
   then drop when zero (``AT_TARGET``), below min quantity, or below min notional at the mark.

Because the target is capped before the delta and the delta only shrinks toward zero, the
position after the intent fills stays within +-``max_position`` whenever the basis was.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from bot4.core.errors import InvalidInputError, UnknownInstrumentError
from bot4.core.ids import InstrumentId
from bot4.core.numbers import FIXED_SCALAR, Numeric, Quantity, to_raw
from bot4.model.enums import OrderSide
from bot4.model.instrument import Instrument
from bot4.portfolio.portfolio import Portfolio
from bot4.strategy.signals.sizing import SizingPolicy, SizingState
from bot4.strategy.signals.types import DropReason, OrderIntent, Signal, SignalStats

__all__ = ["InstrumentLookup", "SignalProcessor", "SignalProcessorConfig", "WorkingOrders"]

# Returns the instrument, or None / raises UnknownInstrumentError when it is not known.
# ``StrategyContext.instrument``, ``ExecutionEngine.instrument`` and ``dict.get`` all fit.
InstrumentLookup = Callable[[InstrumentId], Instrument | None]
# Signed raw quantity still to fill on open orders of the instrument (+ buys, - sells).
WorkingOrders = Callable[[InstrumentId], int]

# Module-level aliases: an enum member or class attribute lookup per signal costs ~20-40 ns.
_BUY = OrderSide.BUY
_SELL = OrderSide.SELL
_UNKNOWN_INSTRUMENT = DropReason.UNKNOWN_INSTRUMENT
_STRENGTH_NOT_FINITE = DropReason.STRENGTH_NOT_FINITE
_STRENGTH_OUT_OF_RANGE = DropReason.STRENGTH_OUT_OF_RANGE
_INVALID_CONFIDENCE = DropReason.INVALID_CONFIDENCE
_NO_MARK = DropReason.NO_MARK
_NO_EQUITY = DropReason.NO_EQUITY
_NOT_READY = DropReason.NOT_READY
_INVALID_TARGET = DropReason.INVALID_TARGET
_AT_TARGET = DropReason.AT_TARGET
_BELOW_MIN_QUANTITY = DropReason.BELOW_MIN_QUANTITY
_BELOW_MIN_NOTIONAL = DropReason.BELOW_MIN_NOTIONAL
_INF = float("inf")


class SignalProcessorConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How signals are sized and capped.

    ``max_position`` caps the absolute target position of every instrument (base units, e.g.
    ``"0.5"``); ``max_positions`` overrides it per instrument. None means no cap beyond what
    the policy computes (risk still applies its own limits). ``clamp_strength`` clamps finite
    out-of-range strengths to [-1, 1] instead of dropping them. ``equity_max_age_ns`` lets
    equity-based policies reuse an equity reading (see the module docstring; 0: never).
    """

    policy: SizingPolicy
    max_position: Numeric | None = None
    max_positions: dict[InstrumentId, Numeric] = msgspec.field(default_factory=dict)
    clamp_strength: bool = False
    equity_max_age_ns: int = 0


class SignalProcessor:
    """Turn :class:`Signal` into :class:`OrderIntent` for the difference to the target position.

    ``process`` never raises for a bad signal, a missing price or an unknown instrument: it
    returns None, sets ``last_drop`` and counts the reason in ``stats``. It sends nothing; the
    caller submits the intent (see ``Strategy.signal``), and risk checks it like any order.
    """

    __slots__ = (
        "_caps",
        "_clamp",
        "_default_cap",
        "_equity",
        "_equity_max_age",
        "_instruments",
        "_mark",
        "_needs_equity",
        "_policy",
        "_portfolio",
        "_states",
        "_target",
        "_working",
        "config",
        "last_drop",
        "stats",
    )

    def __init__(
        self,
        config: SignalProcessorConfig,
        instruments: InstrumentLookup,
        portfolio: Portfolio,
        *,
        working_orders: WorkingOrders | None = None,
    ) -> None:
        if not isinstance(config.policy, SizingPolicy):
            raise InvalidInputError("policy must be a SizingPolicy", policy=repr(config.policy))
        if config.equity_max_age_ns < 0:
            raise InvalidInputError(
                "equity_max_age_ns must not be negative", equity_max_age_ns=config.equity_max_age_ns
            )
        self.config = config
        self._policy = config.policy
        self._target = config.policy.target_raw  # bound once: saves an attribute lookup per signal
        self._needs_equity = config.policy.needs_equity
        self._clamp = config.clamp_strength
        self._default_cap = _cap_raw(config.max_position, "max_position")
        self._caps = {
            instrument_id: _cap_raw(value, f"max_positions[{instrument_id}]")
            for instrument_id, value in config.max_positions.items()
        }
        self._instruments = instruments
        self._portfolio = portfolio
        self._mark = portfolio.mark_raw
        self._equity = portfolio.equity_raw
        self._equity_max_age = config.equity_max_age_ns
        self._working = working_orders
        self._states: dict[InstrumentId, SizingState] = {}
        self.stats = SignalStats()
        self.last_drop: DropReason | None = None

    # -- the hot path -------------------------------------------------------------------------

    def process(self, signal: Signal) -> OrderIntent | None:
        """Return the intent that moves the position to the signal's target, or None (dropped)."""
        stats = self.stats
        stats.signals_in += 1
        instrument_id = signal.instrument_id
        state = self._states.get(instrument_id)
        if state is None:
            state = self._prepare(instrument_id)
            if state is None:
                self._drop(_UNKNOWN_INSTRUMENT)
                return None

        strength = signal.strength
        if not -1.0 <= strength <= 1.0:  # also false for NaN
            if strength != strength or strength == _INF or strength == -_INF:
                self._drop(_STRENGTH_NOT_FINITE)
                return None
            if not self._clamp:
                self._drop(_STRENGTH_OUT_OF_RANGE)
                return None
            strength = 1.0 if strength > 0.0 else -1.0
            stats.clamped += 1
        confidence = signal.confidence
        if confidence is not None:
            if not 0.0 <= confidence <= 1.0:
                self._drop(_INVALID_CONFIDENCE)
                return None
            strength *= confidence

        mark = self._mark(instrument_id)
        if mark is None or mark <= 0:
            self._drop(_NO_MARK)
            return None
        equity = 0
        if self._needs_equity:
            max_age = self._equity_max_age
            if (
                max_age
                and 0 <= signal.ts_event - state.equity_ts < max_age
                and state.equity_fills == self._portfolio.fill_count
            ):
                equity = state.equity_raw
            else:
                found = self._equity(state.quote_currency)
                if found is None or found <= 0:
                    self._drop(_NO_EQUITY)
                    return None
                equity = found
                if max_age:
                    state.equity_raw = found
                    state.equity_ts = signal.ts_event
                    state.equity_fills = self._portfolio.fill_count

        target_float = self._target(strength, state, mark, equity)
        if target_float is None:
            self._drop(_NOT_READY)
            return None
        cap = state.cap_float
        if not -cap <= target_float <= cap:
            if target_float != target_float or target_float == _INF or target_float == -_INF:
                self._drop(_INVALID_TARGET)
                return None
            target_float = cap if target_float > 0.0 else -cap
        # round() to a whole raw unit first, so float noise (0.3 x 1e6 = 299999.99...) cannot
        # lose a lot when flooring to the step below.
        target = round(target_float)

        basis = state.position.signed_raw
        working = self._working
        if working is not None:
            basis += working(instrument_id)
        delta = target - basis
        if delta >= 0:
            side = _BUY
            qty = delta - delta % state.step_raw
        else:
            side = _SELL
            qty = -delta
            qty -= qty % state.step_raw
        if qty > state.max_qty_raw:
            qty = state.max_qty_raw
            stats.clipped += 1
        if qty == 0:
            self._drop(_AT_TARGET)
            return None
        if qty < state.min_qty_raw:
            self._drop(_BELOW_MIN_QUANTITY)
            return None
        if qty * mark // FIXED_SCALAR < state.min_notional_raw:
            self._drop(_BELOW_MIN_NOTIONAL)
            return None

        stats.intents_out += 1
        self.last_drop = None
        # Positional: 60 ns against 80 ns with keywords (field order of OrderIntent).
        return OrderIntent(
            instrument_id,
            side,
            Quantity(qty, state.size_precision),
            target,
            basis,
            mark,
            signal.ts_event,
            signal.ts_init,
            signal.source,
        )

    def update_price(self, instrument_id: InstrumentId, price_raw: int) -> bool:
        """Feed a price sample to the instrument's volatility estimate (volatility policies).

        Call it at the cadence the policy's ``periods_per_year`` assumes (e.g. every bar
        close). Returns False, changing nothing, for an unknown instrument, a non-positive
        price, or a policy that keeps no volatility.
        """
        state = self._states.get(instrument_id) or self._prepare(instrument_id)
        if state is None or state.volatility is None:
            return False
        return state.volatility.update(price_raw)

    # -- queries ------------------------------------------------------------------------------

    def state(self, instrument_id: InstrumentId) -> SizingState | None:
        """The precomputed state of an instrument (built now if needed), or None if unknown."""
        return self._states.get(instrument_id) or self._prepare(instrument_id)

    def max_position_raw(self, instrument_id: InstrumentId) -> int | None:
        """The configured absolute cap of an instrument, raw units, or None when uncapped."""
        return self._caps.get(instrument_id, self._default_cap)

    # -- internals ----------------------------------------------------------------------------

    def _drop(self, reason: DropReason) -> None:
        self.stats.dropped[reason] += 1
        self.last_drop = reason

    def _prepare(self, instrument_id: InstrumentId) -> SizingState | None:
        """Build and keep the per-instrument state; None when the instrument is unknown."""
        try:
            instrument = self._instruments(instrument_id)
            if instrument is None:
                return None
            position = self._portfolio.position(instrument_id)
        except UnknownInstrumentError:
            return None
        state = SizingState(
            instrument,
            position,
            self.max_position_raw(instrument_id),
            self._policy.new_volatility(),
        )
        self._states[instrument_id] = state
        return state


def _cap_raw(value: Numeric | None, key: str) -> int | None:
    if value is None:
        return None
    raw, _ = to_raw(value)
    if raw < 0:
        raise InvalidInputError("a max position must not be negative", key=key, value=str(value))
    return raw
