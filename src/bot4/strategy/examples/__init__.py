"""Example strategies shipped with Bot4; also the names ``bot4 backtest --strategy`` knows."""

from bot4.strategy.examples.ema_cross import EmaCross, EmaCrossConfig
from bot4.strategy.examples.market_maker import MarketMaker, MarketMakerConfig

__all__ = ["EXAMPLES", "EmaCross", "EmaCrossConfig", "MarketMaker", "MarketMakerConfig"]

EXAMPLES = {"ema_cross": EmaCross, "market_maker": MarketMaker}
