"""Performance statistics from an equity curve and a list of fills.

Returns are taken between consecutive equity samples, which the engine records at a fixed
interval of simulated time, so Sharpe and Sortino are annualised with the number of such
intervals in a 365-day year (crypto trades every day). With fewer than
``MIN_RATIO_SAMPLES`` returns the ratios are reported as zero: annualising a handful of
samples gives numbers in the thousands that mean nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec

__all__ = ["MIN_RATIO_SAMPLES", "Statistics", "compute_statistics"]

_YEAR_NS = 365 * 86_400 * 1_000_000_000
MIN_RATIO_SAMPLES = 30


class Statistics(msgspec.Struct, kw_only=True):
    starting_equity: float
    ending_equity: float
    total_return: float
    sharpe: float
    sortino: float
    max_drawdown: float
    fills: int
    closed_trades: int
    win_rate: float
    fees_paid: float
    turnover: float


def compute_statistics(
    equity: Sequence[tuple[int, float]],
    sample_interval_ns: int,
    closing_pnls: Sequence[float],
    fills: int,
    fees_paid: float,
    turnover: float,
) -> Statistics:
    """Summarise a run. ``closing_pnls`` holds the realised PnL (net of its fee) of each fill
    that reduced a position; a trade wins when that is positive."""
    values = [v for _, v in equity]
    start = values[0] if values else 0.0
    end = values[-1] if values else 0.0
    returns = [
        (b - a) / a for a, b in zip(values, values[1:], strict=False) if a > 0
    ]
    periods = _YEAR_NS / sample_interval_ns if sample_interval_ns > 0 else 0.0
    sharpe = sortino = 0.0
    if len(returns) >= MIN_RATIO_SAMPLES and periods > 0:
        mean = sum(returns) / len(returns)
        var = sum((r - mean) ** 2 for r in returns) / (len(returns) - 1)
        std = math.sqrt(var)
        if std > 0:
            sharpe = mean / std * math.sqrt(periods)
        downside = [min(r, 0.0) ** 2 for r in returns]
        dd = math.sqrt(sum(downside) / len(returns))
        if dd > 0:
            sortino = mean / dd * math.sqrt(periods)
    peak = -math.inf
    max_dd = 0.0
    for v in values:
        peak = max(peak, v)
        if peak > 0:
            max_dd = max(max_dd, (peak - v) / peak)
    wins = sum(1 for p in closing_pnls if p > 0)
    return Statistics(
        starting_equity=start,
        ending_equity=end,
        total_return=(end / start - 1.0) if start > 0 else 0.0,
        sharpe=sharpe,
        sortino=sortino,
        max_drawdown=max_dd,
        fills=fills,
        closed_trades=len(closing_pnls),
        win_rate=(wins / len(closing_pnls)) if closing_pnls else 0.0,
        fees_paid=fees_paid,
        turnover=turnover,
    )
