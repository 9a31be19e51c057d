"""The strategy API: subclass :class:`Strategy` and override its ``on_*`` handlers."""

from bot4.strategy.signals import (
    FixedQuantity,
    FractionOfEquity,
    OrderIntent,
    Signal,
    SignalProcessor,
    SignalProcessorConfig,
    VolatilityScaled,
)
from bot4.strategy.strategy import Strategy, StrategyConfig, StrategyContext, StrategyError

__all__ = [
    "FixedQuantity",
    "FractionOfEquity",
    "OrderIntent",
    "Signal",
    "SignalProcessor",
    "SignalProcessorConfig",
    "Strategy",
    "StrategyConfig",
    "StrategyContext",
    "StrategyError",
    "VolatilityScaled",
]
