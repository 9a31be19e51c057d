"""Trading costs: fee schedules, slippage and market impact, and per-fill cost reports.

- :mod:`bot4.costs.fees`: maker/taker rates by venue, instrument class and 30-day volume,
  loaded from TOML (shipped defaults for Binance, Coinbase, Kraken, OKX and Bybit spot);
- :mod:`bot4.costs.slippage`: the expected fill price of a taker order from the L2 book
  (exact VWAP over levels) and a square-root impact model beyond visible depth;
- :mod:`bot4.costs.report`: a cost record per fill (slippage against the arrival mid, the
  reported fee against the model's) for backtests and live sessions alike.
"""

from bot4.costs.fees import FeeBook, FeeCheck, FeeSchedule, FeeTier, fee_check
from bot4.costs.report import CostReport, CostSummary, FillCost, render_table
from bot4.costs.slippage import (
    BookWalk,
    Estimate,
    EstimateMethod,
    SquareRootImpact,
    estimate_fill,
    slippage_bps,
    walk_book,
)

__all__ = [
    "BookWalk",
    "CostReport",
    "CostSummary",
    "Estimate",
    "EstimateMethod",
    "FeeBook",
    "FeeCheck",
    "FeeSchedule",
    "FeeTier",
    "FillCost",
    "SquareRootImpact",
    "estimate_fill",
    "fee_check",
    "render_table",
    "slippage_bps",
    "walk_book",
]
