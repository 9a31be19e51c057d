"""Bot4: one engine for backtest, paper and live crypto trading."""

__version__ = "0.1.0"
