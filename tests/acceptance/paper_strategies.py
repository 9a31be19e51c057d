"""Strategies for the paper acceptance tests, loaded by ``bot4 paper --strategy FILE:Class``."""

from __future__ import annotations

from bot4.core.ids import InstrumentId
from bot4.core.numbers import Quantity
from bot4.model.data import TradeTick
from bot4.model.enums import OrderSide
from bot4.strategy import Strategy, StrategyConfig


class RaisingConfig(StrategyConfig, kw_only=True, forbid_unknown_fields=True):
    instrument_id: str = "BTCUSDT.BINANCE"
    trade_every: int = 25


class RaisesOnTrade(Strategy):
    """Raise in ``on_trade`` on most trades; trade on some; once, ask for far too much.

    The node must log and count the errors, keep running, keep filling the orders it sends,
    and keep risk enforcing (the 5 BTC order is above the demo's max_order_qty of 1).
    """

    config_class = RaisingConfig

    def on_start(self) -> None:
        cfg = self.config
        assert isinstance(cfg, RaisingConfig)
        self.every = cfg.trade_every
        self.iid = InstrumentId.from_str(cfg.instrument_id)
        self.qty = self.instrument(self.iid).make_qty("0.001")
        self.seen = 0
        self.subscribe_trades(self.iid)

    def on_trade(self, tick: TradeTick) -> None:
        self.seen += 1
        if self.seen == 10:
            self.market(self.iid, OrderSide.BUY, Quantity.from_str("5.00000"))  # denied by risk
        if self.seen % self.every == 0:
            side = OrderSide.BUY if (self.seen // self.every) % 2 else OrderSide.SELL
            self.market(self.iid, side, self.qty)
            return
        raise RuntimeError(f"strategy bug on trade {self.seen}")
