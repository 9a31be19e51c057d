"""Iceberg: a large limit order shown a display quantity at a time.

One child works at a time, a limit order at ``limit_price`` for ``display_quantity`` (or the
remainder, when smaller), so the book never shows more than the display quantity. When the
working child is completely filled the next one is placed at the same price; partial fills
leave it working. The iceberg is COMPLETED when the whole quantity has filled.

Failures are final, never retried: a child denied (filters, risk), rejected by the venue,
expired, or canceled by anyone but this iceberg ends it FAILED, with the child and the reason
in the report. A remainder below the instrument's min quantity or min notional at the limit
price is not sent: the iceberg ends COMPLETED with that residual and the reason
``"below venue minimum"``. :meth:`Iceberg.cancel` cancels the working child.
"""

from __future__ import annotations

import msgspec

from bot4.core.bus import MessageBus
from bot4.core.clock import Clock
from bot4.core.errors import ConfigError, InvalidOrderError
from bot4.core.ids import InstrumentId, StrategyId, TraderId
from bot4.core.numbers import Price, Quantity
from bot4.execution.algos.base import (
    BELOW_VENUE_MINIMUM,
    AlgoKind,
    AlgoStatus,
    ExecutionAlgorithm,
    SliceOutcome,
    _Slice,
    check_on_step,
)
from bot4.execution.engine import ExecutionEngine
from bot4.model.enums import OrderSide, TimeInForce
from bot4.model.instrument import Instrument

__all__ = ["Iceberg", "IcebergConfig"]


class IcebergConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What to trade, how much to show, and at what price.

    ``quantity`` and ``display_quantity`` are multiples of the lot step, the display at most
    the quantity; ``time_in_force`` of the children is GTC (a child must rest to be refreshed).
    """

    instrument_id: InstrumentId
    side: OrderSide
    quantity: Quantity
    display_quantity: Quantity
    limit_price: Price
    time_in_force: TimeInForce = TimeInForce.GTC

    def __post_init__(self) -> None:
        if self.quantity.raw <= 0:
            raise ConfigError("quantity must be positive", field="quantity", value=str(self.quantity))
        if self.display_quantity.raw <= 0 or self.display_quantity.raw > self.quantity.raw:
            raise ConfigError(
                f"display_quantity must be positive and at most quantity {self.quantity}",
                field="display_quantity", value=str(self.display_quantity),
            )
        if self.limit_price.raw <= 0:
            raise ConfigError("limit_price must be positive", field="limit_price", value=str(self.limit_price))
        if self.time_in_force is not TimeInForce.GTC:
            raise ConfigError(
                "an iceberg's children must rest: time_in_force must be GTC",
                field="time_in_force", value=self.time_in_force.value,
            )


class Iceberg(ExecutionAlgorithm):
    """A resting limit order revealed a display quantity at a time (rules: module docstring)."""

    kind = AlgoKind.ICEBERG

    def __init__(
        self,
        config: IcebergConfig,
        *,
        algo_id: str,
        strategy_id: StrategyId,
        trader_id: TraderId,
        clock: Clock,
        bus: MessageBus,
        execution: ExecutionEngine,
        instrument: Instrument,
    ) -> None:
        """Raise :class:`InvalidOrderError` when a display-sized child would break a filter."""
        super().__init__(
            algo_id=algo_id, instrument_id=config.instrument_id, side=config.side, quantity=config.quantity,
            strategy_id=strategy_id, trader_id=trader_id, clock=clock, bus=bus, execution=execution,
            instrument=instrument,
        )
        check_on_step(instrument, config.display_quantity, "display_quantity", algo_id)
        problem = instrument.check_order(config.side, config.display_quantity, config.limit_price)
        if problem is not None:
            raise InvalidOrderError(
                f"a display-sized child would break the instrument's filters: {problem.reason}",
                algo_id=algo_id, instrument=str(instrument.id), code=problem.code,
            )
        self.config = config
        self._placing = False

    def start(self) -> None:
        """Place the first visible child."""
        self._begin()
        self._place_next()

    def cancel(self, reason: str) -> None:
        """Cancel the working child and stop; the report says why."""
        if self._status.is_final:
            return
        self._cancel_working()
        self._finish(AlgoStatus.CANCELED, f"canceled: {reason}")

    def _place_next(self) -> None:
        # A child can fill completely inside ``submit_order`` (zero latency, nothing else on
        # the bus): the hook then calls back here, and the loop below places the next child
        # once the submit returns, instead of nesting one call per child.
        if self._placing:
            return
        self._placing = True
        try:
            config = self.config
            while self._status is AlgoStatus.RUNNING and not self._working:
                remaining = self._target_raw - self._filled_raw
                if remaining <= 0:
                    self._finish(AlgoStatus.COMPLETED)
                    break
                qty_raw = min(config.display_quantity.raw, remaining)
                piece = _Slice(len(self._slices), self._clock.timestamp_ns(), qty_raw)
                self._slices.append(piece)
                problem = self._below_minimum(qty_raw, config.limit_price.raw)
                if problem is not None:
                    piece.outcome = SliceOutcome.BELOW_MINIMUM
                    piece.detail = problem
                    self._finish(AlgoStatus.COMPLETED, BELOW_VENUE_MINIMUM)
                    break
                self._send(piece, qty_raw, config.limit_price, config.time_in_force)
        finally:
            self._placing = False

    def _child_ended(self, piece: _Slice) -> None:
        if piece.outcome is SliceOutcome.FILLED:
            self._place_next()
        elif not piece.cancel_requested:
            self._finish(AlgoStatus.FAILED, f"child {piece.child} {piece.outcome}: {piece.detail}")
