"""The strategy base class: the one API a user writes against, in backtest, paper and live.

Subclass :class:`Strategy`, override the ``on_*`` handlers you need and use the helpers to
read state and send orders. A strategy never touches a venue or the clock's source: it is
attached to a :class:`StrategyContext` (clock, bus, execution, portfolio, books) by whoever
runs it, so the same class runs unchanged in every mode.

Handlers run synchronously and one at a time: events caused by an order sent from a handler
(its acceptance, its fills) arrive after that handler returns (see ``bot4.core.bus``). An exception escaping a handler is caught at
that boundary, logged with context, counted in ``error_count``, and then either re-raised
(``fail_fast``, the backtest default: a bug should stop a backtest loudly) or swallowed so a
live node keeps running and risk keeps enforcing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

import msgspec

from bot4.core.bus import MessageBus
from bot4.core.clock import Clock, TimeEvent
from bot4.core.errors import Bot4Error, InvalidInputError
from bot4.core.ids import ClientOrderId, InstrumentId, StrategyId, TraderId
from bot4.core.numbers import Price, Quantity
from bot4.execution.engine import ExecutionEngine
from bot4.model.account import Account
from bot4.model.book import OrderBook
from bot4.model.data import Bar, BarType, QuoteTick, TradeTick
from bot4.model.enums import OrderSide, TimeInForce
from bot4.model.events import OrderEvent
from bot4.model.instrument import Instrument
from bot4.model.orders import Order
from bot4.model.position import Position, PositionChanged
from bot4.portfolio.portfolio import Portfolio
from bot4.strategy.signals import Signal, SignalProcessor, SignalProcessorConfig

__all__ = ["Strategy", "StrategyConfig", "StrategyContext", "StrategyError"]


class StrategyError(Bot4Error):
    """A strategy handler raised; carries the strategy, the handler and the original error."""


class StrategyConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base for strategy configs; subclass it with your own typed, defaulted fields."""

    strategy_id: str | None = None


class StrategyContext(Protocol):
    """What a running strategy can reach; provided by the backtest engine or the node."""

    @property
    def trader_id(self) -> TraderId: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def bus(self) -> MessageBus: ...
    @property
    def execution(self) -> ExecutionEngine: ...
    @property
    def portfolio(self) -> Portfolio: ...

    def book(self, instrument_id: InstrumentId) -> OrderBook | None: ...

    def instrument(self, instrument_id: InstrumentId) -> Instrument: ...


class Strategy:
    """Base class for trading strategies."""

    config_class: type[StrategyConfig] = StrategyConfig

    def __init__(self, config: StrategyConfig | None = None) -> None:
        self.config = config if config is not None else self.config_class()
        name = self.config.strategy_id or type(self).__name__
        self.id = StrategyId.from_str(name)
        self.log = logging.getLogger(f"bot4.strategy.{name}")
        self.fail_fast = True
        self.error_count = 0
        self._ctx: StrategyContext | None = None
        self._signals: SignalProcessor | None = None

    # -- lifecycle handlers (override) --------------------------------------------------------

    def on_start(self) -> None:
        """Subscribe to data and set timers here."""

    def on_stop(self) -> None:
        """Release resources; open orders are canceled by the runner when configured."""

    def on_trade(self, tick: TradeTick) -> None: ...

    def on_quote(self, tick: QuoteTick) -> None: ...

    def on_bar(self, bar: Bar) -> None: ...

    def on_book(self, book: OrderBook) -> None: ...

    def on_order_event(self, event: OrderEvent) -> None: ...

    def on_position(self, changed: PositionChanged) -> None: ...

    def on_timer(self, event: TimeEvent) -> None: ...

    # -- wiring (called by the runner) --------------------------------------------------------

    def attach(self, ctx: StrategyContext, fail_fast: bool = True) -> None:
        """Connect to a running engine; called once before ``on_start``."""
        self._ctx = ctx
        self.fail_fast = fail_fast
        ctx.bus.subscribe(f"events.order.{self.id}", self._guard(self.on_order_event))
        ctx.bus.subscribe("events.position", self._guard(self._position_filter))

    def start(self) -> None:
        self._guard(lambda _: self.on_start())(None)

    def stop(self) -> None:
        self._guard(lambda _: self.on_stop())(None)

    @property
    def ctx(self) -> StrategyContext:
        if self._ctx is None:
            raise InvalidInputError("strategy is not attached to an engine yet", strategy=str(self.id))
        return self._ctx

    # -- subscriptions ------------------------------------------------------------------------

    def subscribe_trades(self, instrument_id: InstrumentId) -> None:
        self.ctx.bus.subscribe(f"data.trades.{instrument_id}", self._guard(self.on_trade))

    def subscribe_quotes(self, instrument_id: InstrumentId) -> None:
        self.ctx.bus.subscribe(f"data.quotes.{instrument_id}", self._guard(self.on_quote))

    def subscribe_bars(self, bar_type: BarType) -> None:
        self.ctx.bus.subscribe(f"data.bars.{bar_type}", self._guard(self.on_bar))

    def subscribe_book(self, instrument_id: InstrumentId) -> None:
        self.ctx.bus.subscribe(f"data.book.{instrument_id}", self._guard(self.on_book))

    def set_timer(self, name: str, interval_ns: int) -> None:
        """Call ``on_timer`` every ``interval_ns`` of engine time."""
        self.ctx.clock.set_timer(f"{self.id}.{name}", interval_ns, self._guard(self.on_timer))

    # -- state --------------------------------------------------------------------------------

    @property
    def clock(self) -> Clock:
        return self.ctx.clock

    def instrument(self, instrument_id: InstrumentId) -> Instrument:
        return self.ctx.instrument(instrument_id)

    def book(self, instrument_id: InstrumentId) -> OrderBook | None:
        return self.ctx.book(instrument_id)

    def position(self, instrument_id: InstrumentId) -> Position:
        return self.ctx.portfolio.position(instrument_id)

    def account(self, instrument_id: InstrumentId) -> Account | None:
        return self.ctx.portfolio.account(instrument_id.venue)

    def open_orders(self, instrument_id: InstrumentId | None = None) -> list[Order]:
        return self.ctx.execution.open_orders(instrument_id, self.id)

    # -- orders -------------------------------------------------------------------------------

    def next_order_id(self) -> ClientOrderId:
        """A fresh client order id (format in ``bot4.execution.ids``)."""
        return self.ctx.execution.next_client_order_id(self.ctx.trader_id, self.id)

    def submit_order(self, order: Order) -> Order:
        self.ctx.execution.submit_order(order)
        return order

    def cancel_order(self, order: Order) -> None:
        self.ctx.execution.cancel_order(order)

    def cancel_all(self, instrument_id: InstrumentId | None = None) -> int:
        return self.ctx.execution.cancel_all(instrument_id, self.id)

    def modify_order(
        self, order: Order, quantity: Quantity | None = None, price: Price | None = None,
        trigger_price: Price | None = None,
    ) -> Order:
        """Amend a working order; returns the order that will carry the change (a replacement
        order when the venue cannot amend, see ``ExecutionEngine.modify_order``)."""
        return self.ctx.execution.modify_order(order, quantity, price, trigger_price)

    def market(self, instrument_id: InstrumentId, side: OrderSide, quantity: Quantity, *,
               reduce_only: bool = False) -> Order:
        """Build and submit a market order."""
        return self.submit_order(Order.market(
            client_order_id=self.next_order_id(), strategy_id=self.id, instrument_id=instrument_id,
            side=side, quantity=quantity, ts_init=self.ctx.clock.timestamp_ns(), reduce_only=reduce_only,
        ))

    def limit(self, instrument_id: InstrumentId, side: OrderSide, quantity: Quantity, price: Price, *,
              time_in_force: TimeInForce = TimeInForce.GTC, expire_time_ns: int | None = None,
              post_only: bool = False, reduce_only: bool = False) -> Order:
        """Build and submit a limit order."""
        return self.submit_order(Order.limit(
            client_order_id=self.next_order_id(), strategy_id=self.id, instrument_id=instrument_id,
            side=side, quantity=quantity, price=price, ts_init=self.ctx.clock.timestamp_ns(),
            time_in_force=time_in_force, expire_time_ns=expire_time_ns, post_only=post_only,
            reduce_only=reduce_only,
        ))

    def stop_market(self, instrument_id: InstrumentId, side: OrderSide, quantity: Quantity,
                    trigger_price: Price, *, reduce_only: bool = False) -> Order:
        return self.submit_order(Order.stop_market(
            client_order_id=self.next_order_id(), strategy_id=self.id, instrument_id=instrument_id,
            side=side, quantity=quantity, trigger_price=trigger_price,
            ts_init=self.ctx.clock.timestamp_ns(), reduce_only=reduce_only,
        ))

    def stop_limit(self, instrument_id: InstrumentId, side: OrderSide, quantity: Quantity,
                   price: Price, trigger_price: Price, *, reduce_only: bool = False) -> Order:
        return self.submit_order(Order.stop_limit(
            client_order_id=self.next_order_id(), strategy_id=self.id, instrument_id=instrument_id,
            side=side, quantity=quantity, price=price, trigger_price=trigger_price,
            ts_init=self.ctx.clock.timestamp_ns(), reduce_only=reduce_only,
        ))

    # -- signals ------------------------------------------------------------------------------

    def set_sizing(self, config: SignalProcessorConfig, *, count_working_orders: bool = True) -> SignalProcessor:
        """Size this strategy's ``signal`` calls with ``config``; call it from ``on_start``.

        With ``count_working_orders`` (the default) the unfilled rest of every open order in
        the instrument counts toward the position, so a second signal before the first order
        fills does not order again. Like the portfolio's position, it covers all strategies.
        """
        ctx = self.ctx
        execution = ctx.execution

        def working(instrument_id: InstrumentId) -> int:
            return sum(o.leaves_raw * o.side.sign for o in execution.open_orders(instrument_id))

        self._signals = SignalProcessor(
            config, ctx.instrument, ctx.portfolio, working_orders=working if count_working_orders else None
        )
        return self._signals

    @property
    def signals(self) -> SignalProcessor:
        """The processor ``signal`` uses: its ``stats`` and ``last_drop`` say what it did."""
        if self._signals is None:
            raise InvalidInputError("call set_sizing(config) before using signals", strategy=str(self.id))
        return self._signals

    def signal(self, instrument_id: InstrumentId, strength: float, confidence: float | None = None, *,
               source: str | None = None) -> Order | None:
        """Move the position toward ``strength`` (in [-1, 1]) of the sizing policy's target.

        Returns the submitted market order, or None when nothing was sent (reason in
        ``self.signals.last_drop``, counted in ``self.signals.stats``). Never raises for those.
        The order still passes risk and may come back denied.
        """
        now = self.ctx.clock.timestamp_ns()
        intent = self.signals.process(Signal(
            instrument_id=instrument_id, strength=strength, confidence=confidence,
            ts_event=now, ts_init=now, source=source,
        ))
        if intent is None:
            return None
        return self.market(instrument_id, intent.side, intent.quantity)

    # -- internals ----------------------------------------------------------------------------

    def _position_filter(self, changed: PositionChanged) -> None:
        self.on_position(changed)

    def _guard(self, handler: Callable[[Any], None]) -> Callable[[Any], None]:
        """Wrap a handler so its exceptions are logged, counted and then raised or contained."""
        name = getattr(handler, "__name__", "handler")

        def guarded(msg: Any) -> None:
            try:
                handler(msg)
            except StrategyError:
                raise  # already logged and counted where it was raised
            except Exception as exc:  # the one task boundary for user code: log, count, decide
                self.error_count += 1
                self.log.error("strategy %s raised in %s: %r", self.id, name, exc, exc_info=True)
                if self.fail_fast:
                    raise StrategyError(
                        f"strategy raised in {name}", strategy=str(self.id), handler=name, error=repr(exc)
                    ) from exc

        guarded.__name__ = name
        return guarded

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id})"
