"""A harness around the simulated venue: canonical BTCUSDT, a capturing sink, local mirrors.

Every order event the venue emits is applied to the local :class:`Order` (so each test also
checks that the venue only emits transitions the order state machine allows) and every
account state to a local :class:`Account` (which checks each balance is coherent).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from bot4.core.clock import TestClock
from bot4.core.errors import PrecisionError
from bot4.core.ids import AccountId, ClientOrderId, InstrumentId, StrategyId, TradeId
from bot4.core.numbers import Currency, Price, Quantity
from bot4.execution.ports import VenueEvent
from bot4.model.account import Account, AccountState
from bot4.model.data import Bar, BarType, BookDelta, BookLevel, BookSnapshot, QuoteTick, TradeTick
from bot4.model.enums import AggressorSide, BarAggregation, BookAction, OrderSide
from bot4.model.events import (
    OrderCancelRejected,
    OrderEvent,
    OrderModifyRejected,
    OrderSubmitted,
)
from bot4.model.instrument import Instrument
from bot4.model.orders import Order
from bot4.venues.sim import SimulatedVenue, SimVenueConfig

BTC = Currency("BTC", 8)
USDT = Currency("USDT", 8)
STRATEGY = StrategyId("S-001")


def btcusdt() -> Instrument:
    return Instrument.create(
        instrument_id=InstrumentId.from_str("BTCUSDT.SIM"),
        base=BTC,
        quote=USDT,
        tick_size="0.01",
        step_size="0.00001",
        min_quantity="0.00001",
        min_notional="5",
        maker_fee="0.001",
        taker_fee="0.001",
    )


def ethusdt() -> Instrument:
    """A second instrument on the venue, quoted in the same USDT."""
    return Instrument.create(
        instrument_id=InstrumentId.from_str("ETHUSDT.SIM"),
        base=Currency("ETH", 8),
        quote=USDT,
        tick_size="0.01",
        step_size="0.00001",
        min_quantity="0.00001",
        min_notional="5",
        maker_fee="0.001",
        taker_fee="0.001",
    )


def _qty(text: str, instrument: Instrument) -> Quantity:
    """The instrument's precision when the text fits it, else as written (for filter tests)."""
    try:
        return Quantity.of(text, instrument.size_precision)
    except PrecisionError:
        return Quantity.from_str(text)


def _px(text: str, instrument: Instrument) -> Price:
    try:
        return Price.of(text, instrument.price_precision)
    except PrecisionError:
        return Price.from_str(text)


class Sim:
    """One simulated venue plus what it said, with builders for orders and data."""

    def __init__(self, instruments: Sequence[Instrument] | None = None, **config: Any) -> None:
        config.setdefault("starting_balances", {"USDT": "100000", "BTC": "10"})
        self.config = SimVenueConfig(**config)
        self.instrument = btcusdt()
        self.instruments = list(instruments) if instruments is not None else [self.instrument]
        self.clock = TestClock(0)
        self.events: list[VenueEvent] = []
        self.orders: dict[ClientOrderId, Order] = {}
        self.venue = SimulatedVenue(self.config, self.instruments, self.clock, self._sink)
        self.account = Account(AccountId(f"{self.config.venue}-001"), self.config.account_type)
        self.account.apply(self.venue.account_state())
        self.on_event: Callable[[VenueEvent], None] | None = None
        self._count = 0

    def _sink(self, event: VenueEvent) -> None:
        self.events.append(event)
        if isinstance(event, AccountState):
            self.account.apply(event)
        else:
            order = self.orders.get(event.client_order_id)
            # A refused cancel/modify of a finished order is a normal race; the transition
            # table (rightly) has no move for it, so the execution engine only records it.
            late_refusal = isinstance(event, (OrderCancelRejected, OrderModifyRejected))
            if order is not None and not (late_refusal and order.is_closed):
                order.apply(event)
        if self.on_event is not None:
            self.on_event(event)

    # -- orders ---------------------------------------------------------------------------

    def _id(self) -> ClientOrderId:
        self._count += 1
        return ClientOrderId(f"O-{self._count}")

    def _common(self, side: OrderSide, qty: str, kw: dict[str, Any]) -> dict[str, Any]:
        instrument = kw.pop("instrument", self.instrument)
        return {
            "client_order_id": kw.pop("client_order_id", None) or self._id(),
            "strategy_id": STRATEGY,
            "instrument_id": instrument.id,
            "side": side,
            "quantity": _qty(qty, instrument),
            "ts_init": self.clock.timestamp_ns(),
        }

    def market(self, side: OrderSide, qty: str, **kw: Any) -> Order:
        return self.submit(Order.market(**self._common(side, qty, kw), **kw))

    def limit(self, side: OrderSide, qty: str, price: str, **kw: Any) -> Order:
        return self.submit(Order.limit(**self._common(side, qty, kw), price=_px(price, self.instrument), **kw))

    def stop_market(self, side: OrderSide, qty: str, trigger: str, **kw: Any) -> Order:
        common = self._common(side, qty, kw)
        return self.submit(Order.stop_market(**common, trigger_price=_px(trigger, self.instrument), **kw))

    def stop_limit(self, side: OrderSide, qty: str, price: str, trigger: str, **kw: Any) -> Order:
        common = self._common(side, qty, kw)
        order = Order.stop_limit(
            **common, price=_px(price, self.instrument), trigger_price=_px(trigger, self.instrument), **kw
        )
        return self.submit(order)

    def submit(self, order: Order) -> Order:
        self.orders[order.client_order_id] = order
        now = self.clock.timestamp_ns()
        order.apply(
            OrderSubmitted(
                client_order_id=order.client_order_id,
                instrument_id=order.instrument_id,
                strategy_id=order.strategy_id,
                ts_event=now,
                ts_init=now,
                account_id=self.venue.account_id,
            )
        )
        self.venue.submit_order(order)
        return order

    # -- data -----------------------------------------------------------------------------

    def _ts(self, ts: int | None) -> int:
        if ts is None:
            ts = self.clock.timestamp_ns() + 1
        self.clock.set_time(ts)
        return ts

    def snapshot(
        self, bids: Sequence[tuple[str, str]], asks: Sequence[tuple[str, str]], ts: int | None = None
    ) -> None:
        ts = self._ts(ts)

        def levels(pairs: Sequence[tuple[str, str]]) -> list[BookLevel]:
            return [BookLevel(Price.from_str(p), Quantity.from_str(q)) for p, q in pairs]

        self.venue.process_data(BookSnapshot(self.instrument.id, levels(bids), levels(asks), 0, ts, ts))

    def delta(self, side: OrderSide, price: str, size: str, ts: int | None = None) -> None:
        ts = self._ts(ts)
        action = BookAction.UPDATE if Quantity.from_str(size).raw else BookAction.DELETE
        delta = BookDelta(
            self.instrument.id, action, side, Price.from_str(price), Quantity.from_str(size), 0, ts, ts
        )
        self.venue.process_data(delta)

    def trade(self, price: str, size: str, ts: int | None = None) -> None:
        ts = self._ts(ts)
        tick = TradeTick(
            self.instrument.id,
            Price.from_str(price),
            Quantity.from_str(size),
            AggressorSide.SELLER,
            TradeId(f"X-{ts}"),
            ts,
            ts,
        )
        self.venue.process_data(tick)

    def quote(self, bid: str, ask: str, bid_size: str = "1", ask_size: str = "1", ts: int | None = None) -> None:
        ts = self._ts(ts)
        tick = QuoteTick(
            self.instrument.id,
            Price.from_str(bid),
            Price.from_str(ask),
            Quantity.from_str(bid_size),
            Quantity.from_str(ask_size),
            ts,
            ts,
        )
        self.venue.process_data(tick)

    def bar(self, o: str, h: str, low: str, c: str, volume: str = "100", ts: int | None = None) -> None:
        ts = self._ts(ts)
        bar_type = BarType(self.instrument.id, 1, BarAggregation.MINUTE)
        p = Price.from_str
        self.venue.process_data(Bar(bar_type, p(o), p(h), p(low), p(c), Quantity.from_str(volume), ts, ts))

    # -- reading --------------------------------------------------------------------------

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def events_for(self, order: Order) -> list[OrderEvent]:
        return [e for e in self.events if isinstance(e, OrderEvent) and e.client_order_id == order.client_order_id]

    def kinds(self, order: Order) -> list[str]:
        return [type(e).__name__ for e in self.events_for(order)]

    def free(self, currency: Currency) -> str:
        return str(self.account.free(currency))

    def locked(self, currency: Currency) -> str:
        return str(self.account.locked(currency))

    def total(self, currency: Currency) -> str:
        return str(self.account.total(currency))


@pytest.fixture
def make_sim() -> Callable[..., Sim]:
    return Sim


@pytest.fixture
def sim() -> Sim:
    return Sim()


@pytest.fixture
def make_two_sim() -> Callable[..., Sim]:
    """A venue listing BTCUSDT and ETHUSDT; the order and data builders use BTCUSDT."""
    return lambda **config: Sim([btcusdt(), ethusdt()], **config)
