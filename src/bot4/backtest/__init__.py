"""Backtesting: historical data in, the same engines on a simulated clock and venue."""
