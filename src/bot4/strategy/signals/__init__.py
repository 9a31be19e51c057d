"""Signals to order intents: the fast path from "how much do I want" to "what do I send".

A strategy (or a model behind it) emits a :class:`Signal` (instrument, strength in [-1, 1],
optional confidence). A :class:`SignalProcessor` sizes it with a :class:`SizingPolicy`
(:class:`FixedQuantity`, :class:`FractionOfEquity`, :class:`VolatilityScaled`), caps the target
by ``max_position``, and returns an :class:`OrderIntent` for the lot-rounded difference to the
current position, or None with a counted :class:`DropReason`. See ``processor`` for the exact
pass and ``sizing`` for the policies' formulas.

Cost (CPython 3.11, this project's 2-core machine, FixedQuantity, an intent per signal):
about 1.1 us median per signal, ~900k signals/s. Intents are not pooled: an intent is a frozen
struct handed to other engines, so reusing it would alias state across orders, and the two
small allocations it costs (intent and quantity) measured ~0.1 us of the total; a pool of
mutable intents saved less than the noise between runs.
"""

from bot4.strategy.signals.processor import (
    InstrumentLookup,
    SignalProcessor,
    SignalProcessorConfig,
    WorkingOrders,
)
from bot4.strategy.signals.sizing import (
    EwmaVolatility,
    FixedQuantity,
    FractionOfEquity,
    SizingPolicy,
    SizingState,
    VolatilityScaled,
)
from bot4.strategy.signals.types import DropReason, OrderIntent, Signal, SignalStats

__all__ = [
    "DropReason",
    "EwmaVolatility",
    "FixedQuantity",
    "FractionOfEquity",
    "InstrumentLookup",
    "OrderIntent",
    "Signal",
    "SignalProcessor",
    "SignalProcessorConfig",
    "SignalStats",
    "SizingPolicy",
    "SizingState",
    "VolatilityScaled",
    "WorkingOrders",
]
