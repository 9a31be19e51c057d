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
from bot4.model.orders import Order
from bot4.strategy.strategy import Strategy, StrategyConfig

__all__ = ["SmaCross", "SmaCrossConfig", "SmaSignalCross", "StampedSmaSignalCross"]


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


class SmaSignalCross(SmaCross):
    """The same SMA cross, but each cross goes through the signal path a real strategy uses.

    With ``use_signals`` the strategy calls ``set_sizing`` in ``on_start``
    (``FixedQuantity(trade_size)``, ``max_position = trade_size``, working orders counted: the
    defaults of :meth:`Strategy.set_sizing`) and on every cross calls
    ``self.signal(instrument, +1.0 or -1.0)``: a :class:`~bot4.strategy.signals.Signal` sized by
    the :class:`~bot4.strategy.signals.SignalProcessor` into a market order for the difference to
    the position. Without it (``bot4.strategy.signals`` absent) it computes the order itself, as
    :class:`SmaCross` does. Either way the order then passes the execution engine (and its risk
    engine, when one is set) to the venue client.
    """

    def __init__(self, config: SmaCrossConfig | None = None, use_signals: bool = True) -> None:
        super().__init__(config)
        self.use_signals = use_signals
        self.dropped = 0

    def on_start(self) -> None:
        super().on_start()
        if self.use_signals:
            from bot4.strategy.signals import FixedQuantity, SignalProcessorConfig

            size = self.cfg.trade_size
            self.set_sizing(SignalProcessorConfig(policy=FixedQuantity(size), max_position=size))

    def _flip(self, long: bool) -> None:
        if not self.use_signals:
            super()._flip(long)
            return
        if self.signal(self.instrument_id, 1.0 if long else -1.0) is None:
            self.dropped += 1
            return
        self.orders_sent += 1


class StampedSmaSignalCross(SmaSignalCross):
    """:class:`SmaSignalCross` that stamps ``perf_counter_ns`` between the stages of an order.

    For the breakdown pass of ``tick_to_order`` only (the stamps cost ~40 ns each). Per tick it
    records the moment ``on_trade`` is entered; on a cross it appends to ``stages`` the tuple
    ``(on_trade entered, cross found, intent sized, order built)``. It does in three steps
    what ``Strategy.signal`` does in one call: ``self.signals.process(Signal(...))``, then
    ``next_order_id`` + ``Order.market``, then ``submit_order``.
    """

    def __init__(self, config: SmaCrossConfig | None = None, use_signals: bool = True) -> None:
        super().__init__(config, use_signals)
        self.stages: list[tuple[int, int, int, int]] = []
        self._entered = 0

    def on_trade(self, tick: TradeTick) -> None:
        self._entered = time.perf_counter_ns()
        super().on_trade(tick)

    def _flip(self, long: bool) -> None:
        perf = time.perf_counter_ns
        crossed = perf()
        if not self.use_signals:
            target = self._size_raw if long else -self._size_raw
            delta = target - self.position(self.instrument_id).signed_raw
            if delta == 0:
                return
            side = OrderSide.BUY if delta > 0 else OrderSide.SELL
            quantity = Quantity(abs(delta), self._precision)
        else:
            from bot4.strategy.signals import Signal

            now = self.clock.timestamp_ns()
            intent = self.signals.process(Signal(
                instrument_id=self.instrument_id, strength=1.0 if long else -1.0, ts_event=now, ts_init=now,
            ))
            if intent is None:
                self.dropped += 1
                return
            side = intent.side
            quantity = intent.quantity
        sized = perf()
        order = Order.market(client_order_id=self.next_order_id(), strategy_id=self.id,
                             instrument_id=self.instrument_id, side=side, quantity=quantity,
                             ts_init=self.clock.timestamp_ns())
        built = perf()
        self.stages.append((self._entered, crossed, sized, built))
        self.orders_sent += 1
        self.submit_order(order)
