"""Positions, balances and equity across venues."""

from bot4.portfolio.portfolio import Portfolio

__all__ = ["Portfolio"]
