"""The strategy API: subclass :class:`Strategy` and override its ``on_*`` handlers."""

from bot4.strategy.strategy import Strategy, StrategyConfig, StrategyContext, StrategyError

__all__ = ["Strategy", "StrategyConfig", "StrategyContext", "StrategyError"]
