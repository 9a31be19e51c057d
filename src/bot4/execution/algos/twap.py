"""TWAP: a quantity sent in N slices spread evenly over a duration.

Schedule (:func:`twap_schedule`): slice ``i`` is due at ``start + i * duration / N``, the
first one at the start. With ``randomize = r`` (0..0.5) each due time moves by up to
``r`` x the interval either way (kept within ``[start, start + duration]``, and in order) and
each size by up to ``r`` x the even share (the changes sum to zero), drawn from
``random.Random(seed)``: the same config and start give the same schedule.

Sizes are exact: the cumulative target after slice ``i`` is rounded *down* to the lot step,
so every slice is a multiple of the step and the last one takes the remainder; they sum to
the target exactly.

Each slice's child is a market order (IOC) or, with ``limit_price``, an IOC limit at that
price: a buy never pays more, a sell never gets less; what the book does not give at the limit
expires and the slice reports it. When a slice is due:

- its quantity is its planned size plus what earlier slices carried (``roll_unfilled``: what
  a child did not fill, including a denied or rejected child's quantity);
- a quantity below the instrument's min quantity or min notional (at the limit price, else at
  the best opposite price seen on the bus) is not sent: it is ``MERGED`` into the next slice,
  and when no slice follows the slice ends ``BELOW_MINIMUM`` with residual reason
  ``"below venue minimum"``;
- otherwise the child goes through :meth:`ExecutionEngine.submit_order` (filters, risk, OMS);
  a denial is recorded on the slice and the algo carries on with the next slice.

The TWAP is COMPLETED when the target is filled, or when the last slice is done and no child
is working (the report then gives the residual and why). Time comes from the injected clock
only: timers ``<algo_id>.slice.<i>``, fired by whoever drives the clock (the backtest engine,
the live node, a test).
"""

from __future__ import annotations

import random

import msgspec

from bot4.core.bus import MessageBus
from bot4.core.clock import Clock, TimeEvent
from bot4.core.errors import ConfigError, InvalidInputError, InvalidOrderError
from bot4.core.ids import InstrumentId, StrategyId, TraderId
from bot4.core.numbers import Price, Quantity
from bot4.execution.algos.base import (
    BELOW_VENUE_MINIMUM,
    AlgoKind,
    AlgoStatus,
    ExecutionAlgorithm,
    SliceOutcome,
    _Slice,
)
from bot4.execution.engine import ExecutionEngine
from bot4.model.enums import OrderSide, TimeInForce
from bot4.model.instrument import Instrument

__all__ = ["Twap", "TwapConfig", "twap_schedule"]

_PPM = 1_000_000  # size weights in parts per million: integer arithmetic from there on


class TwapConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What to trade and how to spread it.

    - ``quantity``: the target, a multiple of the instrument's lot step.
    - ``duration_ns`` / ``slices``: N slices over the duration (slice ``i`` due at
      ``i * duration / N`` from the start).
    - ``randomize``: 0..0.5, the fraction of the interval (times) and of the even share
      (sizes) each slice may move by; ``seed`` makes it reproducible.
    - ``limit_price``: children are IOC limits at this price (protection); None: market.
    - ``roll_unfilled``: what a slice does not fill is added to the next slice; False leaves
      it as residual.
    """

    instrument_id: InstrumentId
    side: OrderSide
    quantity: Quantity
    duration_ns: int
    slices: int
    randomize: float = 0.0
    seed: int = 0
    limit_price: Price | None = None
    roll_unfilled: bool = True

    def __post_init__(self) -> None:
        if self.quantity.raw <= 0:
            raise ConfigError("quantity must be positive", field="quantity", value=str(self.quantity))
        if isinstance(self.slices, bool) or self.slices < 1:
            raise ConfigError("slices must be at least 1", field="slices", value=self.slices)
        if isinstance(self.duration_ns, bool) or self.duration_ns < 0:
            raise ConfigError("duration_ns must be a non-negative integer", field="duration_ns", value=self.duration_ns)
        if not 0.0 <= self.randomize <= 0.5:  # also refuses NaN
            raise ConfigError("randomize must be within 0..0.5", field="randomize", value=self.randomize)
        if self.limit_price is not None and self.limit_price.raw <= 0:
            raise ConfigError("limit_price must be positive", field="limit_price", value=str(self.limit_price))


def twap_schedule(config: TwapConfig, start_ns: int, step_raw: int) -> list[tuple[int, int]]:
    """``(due time, quantity raw)`` for every slice, in slice order (rules: module docstring)."""
    n = config.slices
    interval = config.duration_ns // n
    r = config.randomize
    time_u = [0.0] * n
    size_u = [0.0] * n
    if r > 0:
        rng = random.Random(config.seed)
        time_u = [rng.uniform(-1.0, 1.0) for _ in range(n)]
        drawn = [rng.uniform(-1.0, 1.0) for _ in range(n)]
        mean = sum(drawn) / n
        centred = [u - mean for u in drawn]  # the changes sum to zero: the target is kept
        widest = max(1.0, max(abs(u) for u in centred))
        size_u = [u / widest for u in centred]
    end_ns = start_ns + config.duration_ns
    times: list[int] = []
    for i in range(n):
        due = start_ns + i * interval + round(r * time_u[i] * interval)
        due = min(max(due, start_ns, times[-1] if times else start_ns), end_ns)
        times.append(due)
    weights = [_PPM + round(r * u * _PPM) for u in size_u]  # r <= 0.5: every weight > 0
    total_weight = sum(weights)
    steps = config.quantity.raw // step_raw
    schedule: list[tuple[int, int]] = []
    cumulative = 0
    sent_steps = 0
    for due, weight in zip(times, weights, strict=True):
        cumulative += weight
        upto = steps * cumulative // total_weight  # rounded down; the last is exactly ``steps``
        schedule.append((due, (upto - sent_steps) * step_raw))
        sent_steps = upto
    return schedule


class Twap(ExecutionAlgorithm):
    """Time-weighted slicing of one parent order (rules: module docstring)."""

    kind = AlgoKind.TWAP

    def __init__(
        self,
        config: TwapConfig,
        *,
        algo_id: str,
        strategy_id: StrategyId,
        trader_id: TraderId,
        clock: Clock,
        bus: MessageBus,
        execution: ExecutionEngine,
        instrument: Instrument,
    ) -> None:
        """Raise :class:`InvalidOrderError` when the target or limit price does not fit ``instrument``."""
        super().__init__(
            algo_id=algo_id, instrument_id=config.instrument_id, side=config.side, quantity=config.quantity,
            strategy_id=strategy_id, trader_id=trader_id, clock=clock, bus=bus, execution=execution,
            instrument=instrument,
        )
        limit = config.limit_price
        if limit is not None and limit.raw % instrument.tick_size:
            raise InvalidOrderError(
                "limit_price is not a multiple of the tick size",
                algo_id=algo_id, instrument=str(instrument.id), limit_price=str(limit),
                tick_size=str(instrument.price_increment),
            )
        self.config = config
        self._timers: dict[str, _Slice] = {}
        self._carry_raw = 0  # quantity waiting for the next slice
        self._next_index = 0  # the first slice not yet due

    def start(self, reference_price: Price | None = None) -> None:
        """Plan the slices and set one clock alert per slice; the first is due now.

        ``reference_price`` (e.g. the mark when starting) values market children for the
        min-notional check until market data on the bus brings a price.
        """
        self._ensure_pending()
        names = [f"{self.algo_id}.slice.{i}" for i in range(self.config.slices)]
        taken = set(self._clock.timer_names).intersection(names)
        if taken:
            raise InvalidInputError("a timer with this name is already set", algo_id=self.algo_id, timer=min(taken))
        self._begin(reference_price)
        plan = twap_schedule(self.config, self._clock.timestamp_ns(), self._instrument.step_size)
        for index, (name, (due_ns, qty_raw)) in enumerate(zip(names, plan, strict=True)):
            piece = _Slice(index, due_ns, qty_raw)
            self._slices.append(piece)
            self._timers[name] = piece
        for name, piece in self._timers.items():
            self._clock.set_time_alert(name, piece.scheduled_ns, self._on_slice_due)

    def cancel(self, reason: str) -> None:
        """Stop: no further slice is sent, working children are canceled; the report says why."""
        if self._status.is_final:
            return
        self._stop_timers(f"canceled: {reason}")
        self._cancel_working()
        self._finish(AlgoStatus.CANCELED, f"canceled: {reason}")

    # -- slices -------------------------------------------------------------------------------

    def _on_slice_due(self, event: TimeEvent) -> None:
        piece = self._timers.pop(event.name, None)
        if piece is None or self._status is not AlgoStatus.RUNNING:
            return
        self._next_index = piece.index + 1
        qty_raw = piece.qty_raw + self._carry_raw
        self._carry_raw = 0
        piece.qty_raw = qty_raw
        limit = self.config.limit_price
        problem = self._below_minimum(qty_raw, None if limit is None else limit.raw)
        if problem is None:
            self._send(piece, qty_raw, limit, TimeInForce.IOC)
        elif self._next_index < len(self._slices):
            piece.outcome = SliceOutcome.MERGED
            piece.detail = f"{problem}; carried to slice {self._next_index}"
            self._carry_raw = qty_raw
        else:
            piece.outcome = SliceOutcome.BELOW_MINIMUM
            piece.detail = problem
            self._residual_reason = BELOW_VENUE_MINIMUM
        self._complete_if_due()

    def _child_ended(self, piece: _Slice) -> None:
        unfilled = piece.unfilled_raw
        if unfilled > 0 and not piece.cancel_requested:
            if self.config.roll_unfilled and self._status is AlgoStatus.RUNNING and self._next_index < len(self._slices):
                self._carry_raw += unfilled
                piece.detail = f"{piece.detail}; the rest carried to slice {self._next_index}"
            else:
                self._residual_reason = f"slice {piece.index} {piece.outcome}: {piece.detail}"
        self._complete_if_due()

    def _expiry_cause(self) -> str:
        limit = self.config.limit_price
        if limit is None:
            return "market IOC: the book could not fill the rest"
        better = "at or below" if self.side is OrderSide.BUY else "at or above"
        return f"IOC: nothing more {better} the limit {limit}"

    def _complete_if_due(self) -> None:
        if self._status is not AlgoStatus.RUNNING:
            return
        if self._filled_raw >= self._target_raw:
            self._stop_timers("target filled")
            self._finish(AlgoStatus.COMPLETED)
        elif self._next_index >= len(self._slices) and not self._working:
            self._finish(AlgoStatus.COMPLETED, self._residual_reason or "unfilled")

    def _stop_timers(self, why: str) -> None:
        for name, piece in self._timers.items():
            self._clock.cancel_timer(name)
            piece.outcome = SliceOutcome.NOT_SENT
            piece.detail = why
        self._timers.clear()
