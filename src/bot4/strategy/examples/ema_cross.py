"""EMA crossover: long when the fast EMA is above the slow one, short (or flat) below.

A trend-following example. The EMAs run on trade prices (or bar closes when trading bars);
on each cross the strategy sends one market order that moves the position to the target:
``+trade_size`` after a golden cross, ``-trade_size`` after a death cross, or flat instead of
short when ``allow_short`` is false (spot cash accounts cannot short).
"""

from __future__ import annotations

from decimal import Decimal

from bot4.core.ids import InstrumentId
from bot4.core.numbers import FIXED_SCALAR, Quantity
from bot4.model.data import Bar, BarType, TradeTick
from bot4.model.enums import OrderSide
from bot4.model.events import OrderEvent
from bot4.strategy.strategy import Strategy, StrategyConfig

__all__ = ["EmaCross", "EmaCrossConfig"]


class EmaCrossConfig(StrategyConfig, kw_only=True, forbid_unknown_fields=True):
    instrument_id: str = "BTCUSDT.SIM"
    fast_period: int = 10
    slow_period: int = 50
    trade_size: str = "0.01"
    allow_short: bool = True
    bar_type: str | None = None  # trade on bars instead of trades when set


class EmaCross(Strategy):
    config_class = EmaCrossConfig

    def __init__(self, config: EmaCrossConfig | None = None) -> None:
        super().__init__(config)
        cfg = self.config if isinstance(self.config, EmaCrossConfig) else EmaCrossConfig()
        if not 0 < cfg.fast_period < cfg.slow_period:
            from bot4.core.errors import ConfigError

            raise ConfigError("need 0 < fast_period < slow_period", fast_period=cfg.fast_period,
                              slow_period=cfg.slow_period)
        self.cfg = cfg
        self.instrument_id = InstrumentId.from_str(cfg.instrument_id)
        self._alpha_fast = 2.0 / (cfg.fast_period + 1)
        self._alpha_slow = 2.0 / (cfg.slow_period + 1)
        self._fast = 0.0
        self._slow = 0.0
        self._count = 0
        self._above: bool | None = None
        self._target_raw = 0
        self._size_raw = 0
        self._pending = False

    def on_start(self) -> None:
        instrument = self.instrument(self.instrument_id)
        self._size = instrument.make_qty(self.cfg.trade_size)
        self._size_raw = self._size.raw
        if self.cfg.bar_type:
            self.subscribe_bars(BarType.from_str(self.cfg.bar_type))
        else:
            self.subscribe_trades(self.instrument_id)

    def on_trade(self, tick: TradeTick) -> None:
        self._update(tick.price.raw / FIXED_SCALAR)

    def on_bar(self, bar: Bar) -> None:
        self._update(bar.close.raw / FIXED_SCALAR)

    def on_order_event(self, event: OrderEvent) -> None:
        order = self.ctx.execution.order(event.client_order_id)
        if order is not None and order.is_closed:
            self._pending = False

    def _update(self, price: float) -> None:
        if self._count == 0:
            self._fast = self._slow = price
        else:
            self._fast += self._alpha_fast * (price - self._fast)
            self._slow += self._alpha_slow * (price - self._slow)
        self._count += 1
        if self._count < self.cfg.slow_period:
            return
        above = self._fast > self._slow
        if above == self._above:
            return
        self._above = above
        if above:
            self._target_raw = self._size_raw
        else:
            self._target_raw = -self._size_raw if self.cfg.allow_short else 0
        self._rebalance()

    def _rebalance(self) -> None:
        if self._pending:
            return
        current = self.position(self.instrument_id).signed_raw
        delta = self._target_raw - current
        if delta == 0:
            return
        side = OrderSide.BUY if delta > 0 else OrderSide.SELL
        qty = Quantity(abs(delta), self._size.precision)
        self._pending = True
        self.market(self.instrument_id, side, qty)

    @property
    def ema_values(self) -> tuple[Decimal, Decimal]:
        return Decimal(repr(self._fast)), Decimal(repr(self._slow))
