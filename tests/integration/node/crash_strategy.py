"""The strategy of the crash-and-restart test: resting bids far below the market, and some
market orders, so a kill finds orders working at the exchange and fills in the store."""

from __future__ import annotations

from bot4.core.ids import InstrumentId
from bot4.core.numbers import FIXED_SCALAR
from bot4.model.data import TradeTick
from bot4.model.enums import OrderSide
from bot4.strategy import Strategy, StrategyConfig


class RestingBidsConfig(StrategyConfig, kw_only=True, forbid_unknown_fields=True):
    instrument_id: str = "BTCUSDT.BINANCE"
    every: int = 40
    max_resting: int = 3


class RestingBids(Strategy):
    """Every ``every`` trades: a limit buy 2% below the last price while fewer than
    ``max_resting`` rest, else a 0.001 BTC market order (buy and sell in turn)."""

    config_class = RestingBidsConfig

    def on_start(self) -> None:
        cfg = self.config
        assert isinstance(cfg, RestingBidsConfig)
        self.cfg = cfg
        self.iid = InstrumentId.from_str(cfg.instrument_id)
        self.inst = self.instrument(self.iid)
        self.qty = self.inst.make_qty("0.001")
        self.seen = 0
        self.buys = 0
        self.subscribe_trades(self.iid)

    def on_trade(self, tick: TradeTick) -> None:
        self.seen += 1
        if self.seen % self.cfg.every:
            return
        if len(self.open_orders(self.iid)) < self.cfg.max_resting:
            price = self.inst.make_price(f"{tick.price.raw / FIXED_SCALAR * 0.98:.2f}")
            self.limit(self.iid, OrderSide.BUY, self.qty, price)
        else:
            self.buys += 1
            self.market(self.iid, OrderSide.BUY if self.buys % 2 else OrderSide.SELL, self.qty)
