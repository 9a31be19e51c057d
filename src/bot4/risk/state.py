"""The trading state: ACTIVE, REDUCING (only reducing orders pass) or HALTED (nothing passes).

Two things move it:

- the loss limits, automatically, and only ever towards a stricter state
  (ACTIVE -> REDUCING -> HALTED). Nothing automatic ever relaxes the state: not a new UTC day,
  not equity recovering. A breach stays in force until an operator looks at it.
- an operator (the kill switch), in any direction: halt, reduce, or resume trading.

Every move is kept in ``history`` and published as a :class:`TradingStateChanged` on the bus
topic ``events.risk``.
"""

from __future__ import annotations

import logging
from enum import Enum, StrEnum

import msgspec

from bot4.core.bus import MessageBus
from bot4.core.clock import Clock

__all__ = ["RISK_TOPIC", "StateChangeCause", "TradingState", "TradingStateChanged", "TradingStateMachine"]

RISK_TOPIC = "events.risk"

_log = logging.getLogger("bot4.risk")


class TradingState(Enum):
    """What the risk engine lets through."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"

    @property
    def severity(self) -> int:
        """0 for ACTIVE, 1 for REDUCING, 2 for HALTED: automatic moves only go up."""
        return _SEVERITY[self]


_SEVERITY = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}


class StateChangeCause(StrEnum):
    """Who or what moved the trading state; automatic causes double as denial codes."""

    OPERATOR = "OPERATOR"
    DAILY_LOSS_LIMIT = "DAILY_LOSS_LIMIT"
    MAX_DRAWDOWN = "MAX_DRAWDOWN"
    CIRCUIT_OPEN = "CIRCUIT_OPEN"


class TradingStateChanged(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """The trading state moved from ``previous`` to ``state``; ``details`` holds the numbers."""

    state: TradingState
    previous: TradingState
    cause: StateChangeCause
    reason: str
    details: dict[str, str]
    ts_event: int
    ts_init: int


class TradingStateMachine:
    """The current trading state, why it is what it is, and every move so far."""

    __slots__ = ("_bus", "_clock", "cause", "details", "history", "reason", "state")

    def __init__(self, bus: MessageBus, clock: Clock) -> None:
        self._bus = bus
        self._clock = clock
        self.state = TradingState.ACTIVE
        self.cause = StateChangeCause.OPERATOR
        self.reason = "trading is active"
        self.details: dict[str, str] = {}
        self.history: list[TradingStateChanged] = []

    def set_by_operator(self, state: TradingState, reason: str) -> TradingStateChanged:
        """Move to ``state`` whatever it is now (halt, reduce or resume), and record it."""
        return self._move(state, StateChangeCause.OPERATOR, reason, {})

    def escalate(
        self, state: TradingState, cause: StateChangeCause, reason: str, details: dict[str, str]
    ) -> TradingStateChanged | None:
        """Move to ``state`` only if it is stricter than the current one; None when not moved."""
        if state.severity <= self.state.severity:
            return None
        return self._move(state, cause, reason, details)

    def _move(
        self, state: TradingState, cause: StateChangeCause, reason: str, details: dict[str, str]
    ) -> TradingStateChanged:
        now = self._clock.timestamp_ns()
        event = TradingStateChanged(
            state=state,
            previous=self.state,
            cause=cause,
            reason=reason,
            details=details,
            ts_event=now,
            ts_init=now,
        )
        self.state = state
        self.cause = cause
        self.reason = reason
        self.details = details
        self.history.append(event)
        _log.warning("trading state %s -> %s (%s): %s", event.previous.value, state.value, cause.value, reason)
        self._bus.publish(RISK_TOPIC, event)
        return event
