"""The peer-workload strategy: SMA(10)/SMA(50) cross on trade prices, flipping +/-0.01 BTC.

The same logic as the EMA-cross strategies the trading frameworks benchmark with, on simple
moving averages so that the indicator costs almost nothing and the run measures the platform.
Both averages come from one ring buffer of the last ``slow_period`` raw prices (ints) with two
running sums: one subtraction, one addition and one integer comparison per tick, exact, no
float and no allocation. The fast average is above the slow one when
``fast_sum * slow_period > slow_sum * fast_period`` (no division).

Once both averages exist the strategy enters ``trade_size`` in the direction of the current
relation, then on every cross sends one market order that flips the position to the other side
(``2 * trade_size``; sized from the position actually held, so a partial fill is corrected on
the next cross). With ``submit_orders=False`` it does everything but submit, which separates
the platform's data path from its order path.
"""

from __future__ import annotations

import time

from bot4.core.ids import InstrumentId
from bot4.core.numbers import Quantity
from bot4.model.data import TradeTick
from bot4.model.enums import OrderSide
from bot4.strategy.strategy import Strategy, StrategyConfig

__all__ = ["SmaCross", "SmaCrossConfig"]


class SmaCrossConfig(StrategyConfig, kw_only=True, forbid_unknown_fields=True):
    instrument_id: str = "BTCUSDT.SIM"
    fast_period: int = 10
    slow_period: int = 50
    trade_size: str = "0.01"
    submit_orders: bool = True


class SmaCross(Strategy):
    """SMA cross flipping between +trade_size and -trade_size; counts its crosses."""

    config_class = SmaCrossConfig

    def __init__(self, config: SmaCrossConfig | None = None) -> None:
        cfg = config if config is not None else SmaCrossConfig()
        super().__init__(cfg)
        if not 0 < cfg.fast_period < cfg.slow_period:
            from bot4.core.errors import ConfigError

            raise ConfigError("need 0 < fast_period < slow_period", fast_period=cfg.fast_period,
                              slow_period=cfg.slow_period)
        self.cfg = cfg
        self.instrument_id = InstrumentId.from_str(cfg.instrument_id)
        self._slow_n = cfg.slow_period
        self._fast_n = cfg.fast_period
        self._ring = [0] * cfg.slow_period
        self._i = 0  # next slot to overwrite: the oldest price
        self._fast_sum = 0
        self._slow_sum = 0
        self._count = 0
        self._above: bool | None = None
        self._submit = cfg.submit_orders
        self._size_raw = 0
        self._precision = 0
        self.crosses = 0  # signals: the first entry plus every cross after it
        self.orders_sent = 0
        # Wall-clock moment on_stop ran: lets the bench split the event loop from the result.
        self.stopped_at_ns = 0

    def on_start(self) -> None:
        size = self.instrument(self.instrument_id).make_qty(self.cfg.trade_size)
        self._size_raw = size.raw
        self._precision = size.precision
        self.subscribe_trades(self.instrument_id)

    def on_stop(self) -> None:
        self.stopped_at_ns = time.perf_counter_ns()  # bench instrumentation, not trading logic

    def on_trade(self, tick: TradeTick) -> None:
        price = tick.price.raw
        ring = self._ring
        i = self._i
        slow_n = self._slow_n
        # The price leaving the fast window is fast_n slots behind the new one.
        fast_out = i - self._fast_n
        self._fast_sum += price - ring[fast_out]  # a negative index wraps the ring
        self._slow_sum += price - ring[i]
        ring[i] = price
        i += 1
        self._i = 0 if i == slow_n else i
        count = self._count
        if count < slow_n:
            self._count = count + 1
            if count + 1 < slow_n:
                return
        above = self._fast_sum * slow_n > self._slow_sum * self._fast_n
        if above is self._above:
            return
        self._above = above
        self.crosses += 1
        if self._submit:
            self._flip(above)

    def _flip(self, long: bool) -> None:
        target = self._size_raw if long else -self._size_raw
        delta = target - self.position(self.instrument_id).signed_raw
        if delta == 0:
            return
        side = OrderSide.BUY if delta > 0 else OrderSide.SELL
        self.orders_sent += 1
        self.market(self.instrument_id, side, Quantity(abs(delta), self._precision))
