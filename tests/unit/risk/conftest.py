"""A real wiring for risk tests: bus, simulated clock, portfolio, execution engine, risk engine.

Positions are built by publishing real ``OrderFilled`` events to the portfolio, balances by
publishing ``AccountState``s, marks through ``Portfolio.update_mark``; working orders are
submitted through the real :class:`ExecutionEngine` (with the risk engine in front of it) to a
venue client that only records, and the tests play the venue's part with order events.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from bot4.core import (
    AccountId,
    ClientOrderId,
    MessageBus,
    Money,
    TestClock,
    TradeId,
    Venue,
    VenueOrderId,
)
from bot4.execution import ExecutionEngine
from bot4.model import (
    AccountBalance,
    AccountState,
    AccountType,
    Instrument,
    LiquiditySide,
    Order,
    OrderAccepted,
    OrderCanceled,
    OrderDenied,
    OrderEvent,
    OrderFilled,
    OrderSide,
)
from bot4.portfolio import Portfolio
from bot4.risk import RiskConfig, RiskEngine, TradingStateChanged
from bot4.testkit import BTC, ETH, USDT, btcusdt, ethusdt, strategy_id

START_NS = 1_700_000_000_000_000_000  # 2023-11-14 22:13:20 UTC
BUY = OrderSide.BUY
SELL = OrderSide.SELL


class RecordingClient:
    """A venue client that records what it is sent; the test plays the venue."""

    def __init__(self) -> None:
        self.submitted: list[Order] = []
        self.canceled: list[Order] = []

    @property
    def venue(self) -> Venue:
        return Venue("SIM")

    @property
    def account_id(self) -> AccountId:
        return AccountId("SIM-001")

    @property
    def supports_amend(self) -> bool:
        return True

    def submit_order(self, order: Order) -> None:
        self.submitted.append(order)

    def cancel_order(self, order: Order) -> None:
        self.canceled.append(order)

    def modify_order(self, order: Order, quantity: Any = None, price: Any = None, trigger_price: Any = None) -> None:
        raise NotImplementedError


class Harness:
    """Everything a risk test needs, real objects only."""

    def __init__(
        self,
        config: RiskConfig | None,
        *,
        usdt: str | None = "1000000",
        btc: str = "10",
        eth: str = "0",
        account_type: AccountType = AccountType.CASH,
        mark: str | None = "60000.00",
        eth_mark: str | None = "3000.00",
        start_ns: int = START_NS,
        with_orders_view: bool = True,
    ) -> None:
        self.bus = MessageBus()
        self.clock = TestClock(start_ns)
        self.btc = btcusdt()
        self.eth = ethusdt()
        self.instruments: dict[Any, Instrument] = {self.btc.id: self.btc, self.eth.id: self.eth}
        self.portfolio = Portfolio(self.bus)
        self.execution = ExecutionEngine(self.bus, self.clock)
        self.client = RecordingClient()
        self.execution.register_client(self.client)
        for instrument in self.instruments.values():
            self.portfolio.add_instrument(instrument)
            self.execution.add_instrument(instrument)
        self.account_type = account_type
        self.states: list[TradingStateChanged] = []
        self.bus.subscribe("events.risk", self.states.append)
        self.order_events: list[OrderEvent] = []
        self.bus.subscribe(f"events.order.{strategy_id()}", self.order_events.append)
        if usdt is not None:
            self.set_balances(usdt=usdt, btc=btc, eth=eth)
        if mark is not None:
            self.mark(mark)
        if eth_mark is not None:
            self.mark(eth_mark, self.eth)
        self._ids = itertools.count(1)
        self.with_orders_view = with_orders_view
        if config is not None:
            self.attach(config)

    def attach(self, config: RiskConfig) -> RiskEngine:
        """Build the risk engine now (after the world is set up) and put it in front of orders."""
        self.risk = RiskEngine(
            config, self.clock, self.bus, self.portfolio, self.instruments,
            self.execution if self.with_orders_view else None,
        )
        self.execution.set_risk(self.risk)
        return self.risk

    # -- world ------------------------------------------------------------------------------

    def set_balances(self, *, usdt: str, btc: str = "0", eth: str = "0", locked_usdt: str = "0") -> None:
        def bal(amount: str, currency: Any, locked: str = "0") -> AccountBalance:
            return AccountBalance.of(Money.of(amount, currency), Money.of(locked, currency))

        now = self.clock.timestamp_ns()
        self.bus.publish(
            "events.account",
            AccountState(
                account_id=AccountId("SIM-001"),
                account_type=self.account_type,
                balances=[bal(usdt, USDT, locked_usdt), bal(btc, BTC), bal(eth, ETH)],
                ts_event=now,
                ts_init=now,
            ),
        )

    def mark(self, price: str, instrument: Instrument | None = None) -> None:
        inst = instrument or self.btc
        self.portfolio.update_mark(inst.id, inst.make_price(price).raw)

    def position_fill(
        self, side: OrderSide, qty: str, price: str, fee: str = "0", instrument: Instrument | None = None
    ) -> None:
        """Move the position with a fill of no tracked order; the portfolio marks at its price."""
        inst = instrument or self.btc
        n = next(self._ids)
        now = self.clock.timestamp_ns()
        self.bus.publish(
            "events.fills",
            OrderFilled(
                client_order_id=ClientOrderId(f"PAST-{n}"),
                instrument_id=inst.id,
                strategy_id=strategy_id(),
                venue_order_id=VenueOrderId(f"VP-{n}"),
                trade_id=TradeId(f"TP-{n}"),
                order_side=side,
                last_qty=inst.make_qty(qty),
                last_px=inst.make_price(price),
                commission=Money.of(fee, USDT),
                liquidity_side=LiquiditySide.TAKER,
                ts_event=now,
                ts_init=now,
            ),
        )

    def advance(self, ns: int) -> None:
        self.clock.set_time(self.clock.timestamp_ns() + ns)

    # -- orders -----------------------------------------------------------------------------

    def limit(self, side: OrderSide, qty: str, price: str, instrument: Instrument | None = None) -> Order:
        inst = instrument or self.btc
        return Order.limit(
            client_order_id=ClientOrderId(f"O-{next(self._ids)}"),
            strategy_id=strategy_id(),
            instrument_id=inst.id,
            side=side,
            quantity=inst.make_qty(qty),
            price=inst.make_price(price),
            ts_init=self.clock.timestamp_ns(),
        )

    def market(self, side: OrderSide, qty: str, instrument: Instrument | None = None) -> Order:
        inst = instrument or self.btc
        return Order.market(
            client_order_id=ClientOrderId(f"O-{next(self._ids)}"),
            strategy_id=strategy_id(),
            instrument_id=inst.id,
            side=side,
            quantity=inst.make_qty(qty),
            ts_init=self.clock.timestamp_ns(),
        )

    def stop_market(self, side: OrderSide, qty: str, trigger: str) -> Order:
        return Order.stop_market(
            client_order_id=ClientOrderId(f"O-{next(self._ids)}"),
            strategy_id=strategy_id(),
            instrument_id=self.btc.id,
            side=side,
            quantity=self.btc.make_qty(qty),
            trigger_price=self.btc.make_price(trigger),
            ts_init=self.clock.timestamp_ns(),
        )

    def stop_limit(self, side: OrderSide, qty: str, price: str, trigger: str) -> Order:
        return Order.stop_limit(
            client_order_id=ClientOrderId(f"O-{next(self._ids)}"),
            strategy_id=strategy_id(),
            instrument_id=self.btc.id,
            side=side,
            quantity=self.btc.make_qty(qty),
            price=self.btc.make_price(price),
            trigger_price=self.btc.make_price(trigger),
            ts_init=self.clock.timestamp_ns(),
        )

    def submit(self, order: Order) -> Order:
        """Send through the execution engine; the order must pass risk."""
        self.execution.submit_order(order)
        denied = [e for e in self.order_events if isinstance(e, OrderDenied) and e.client_order_id == order.client_order_id]
        assert not denied, f"expected {order} to pass, got {denied[0].code}: {denied[0].reason}"
        return order

    def accept(self, order: Order) -> None:
        now = self.clock.timestamp_ns()
        self.execution.process(
            OrderAccepted(
                client_order_id=order.client_order_id,
                instrument_id=order.instrument_id,
                strategy_id=order.strategy_id,
                venue_order_id=VenueOrderId(f"V-{order.client_order_id}"),
                ts_event=now,
                ts_init=now,
            )
        )

    def fill(self, order: Order, qty: str, price: str | None = None) -> None:
        inst = self.instruments[order.instrument_id]
        n = next(self._ids)
        now = self.clock.timestamp_ns()
        px = inst.make_price(price) if price is not None else (order.price or inst.make_price("60000"))
        self.execution.process(
            OrderFilled(
                client_order_id=order.client_order_id,
                instrument_id=order.instrument_id,
                strategy_id=order.strategy_id,
                venue_order_id=VenueOrderId(f"V-{order.client_order_id}"),
                trade_id=TradeId(f"T-{n}"),
                order_side=order.side,
                last_qty=inst.make_qty(qty),
                last_px=px,
                commission=Money.of("0", USDT),
                liquidity_side=LiquiditySide.MAKER,
                ts_event=now,
                ts_init=now,
            )
        )

    def cancel(self, order: Order) -> None:
        now = self.clock.timestamp_ns()
        self.execution.process(
            OrderCanceled(
                client_order_id=order.client_order_id,
                instrument_id=order.instrument_id,
                strategy_id=order.strategy_id,
                ts_event=now,
                ts_init=now,
            )
        )


@pytest.fixture
def make() -> Callable[..., Harness]:
    """``make(RiskConfig(...), usdt=..., mark=...)`` -> a wired :class:`Harness`."""
    return Harness
