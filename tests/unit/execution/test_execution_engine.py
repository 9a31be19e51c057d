"""ExecutionEngine: command routing, denials, event application, duplicates and strays."""

from __future__ import annotations

from decimal import Decimal

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
    LiquiditySide,
    Order,
    OrderAccepted,
    OrderCanceled,
    OrderDenied,
    OrderEvent,
    OrderFilled,
    OrderSide,
    OrderStatus,
    OrderSubmitted,
)
from bot4.testkit import USDT, btcusdt, strategy_id

INSTRUMENT = btcusdt()


class RecordingClient:
    """A venue client that records commands; the test plays the venue's part."""

    def __init__(self) -> None:
        self.submitted: list[Order] = []
        self.canceled: list[Order] = []
        self.modified: list[tuple[Order, object, object, object]] = []

    @property
    def venue(self) -> Venue:
        return Venue("SIM")

    @property
    def account_id(self) -> AccountId:
        return AccountId("SIM-001")

    def submit_order(self, order: Order) -> None:
        self.submitted.append(order)

    def cancel_order(self, order: Order) -> None:
        self.canceled.append(order)

    supports_amend = True

    def modify_order(self, order: Order, quantity=None, price=None, trigger_price=None) -> None:  # type: ignore[no-untyped-def]
        self.modified.append((order, quantity, price, trigger_price))


def make_engine() -> tuple[ExecutionEngine, RecordingClient, MessageBus, list[OrderEvent]]:
    bus = MessageBus()
    clock = TestClock(1_000)
    engine = ExecutionEngine(bus, clock)
    client = RecordingClient()
    engine.register_client(client)
    engine.add_instrument(INSTRUMENT)
    seen: list[OrderEvent] = []
    bus.subscribe(f"events.order.{strategy_id()}", seen.append)
    return engine, client, bus, seen


def limit(coid: str = "O-1", qty: str = "0.01", price: str = "60000.00") -> Order:
    return Order.limit(
        client_order_id=ClientOrderId(coid),
        strategy_id=strategy_id(),
        instrument_id=INSTRUMENT.id,
        side=OrderSide.BUY,
        quantity=INSTRUMENT.make_qty(qty),
        price=INSTRUMENT.make_price(price),
        ts_init=1_000,
    )


def accepted(order: Order) -> OrderAccepted:
    return OrderAccepted(
        client_order_id=order.client_order_id,
        instrument_id=order.instrument_id,
        strategy_id=order.strategy_id,
        venue_order_id=VenueOrderId("V-1"),
        ts_event=2_000,
        ts_init=2_000,
    )


def fill(order: Order, qty: str, trade_id: str) -> OrderFilled:
    return OrderFilled(
        client_order_id=order.client_order_id,
        instrument_id=order.instrument_id,
        strategy_id=order.strategy_id,
        venue_order_id=VenueOrderId("V-1"),
        trade_id=TradeId(trade_id),
        order_side=order.side,
        last_qty=INSTRUMENT.make_qty(qty),
        last_px=order.price or INSTRUMENT.make_price("60000"),
        commission=Money.from_decimal(Decimal("0.6"), USDT),
        liquidity_side=LiquiditySide.MAKER,
        ts_event=3_000,
        ts_init=3_000,
    )


def test_submit_valid_order_is_submitted_and_sent_to_venue() -> None:
    engine, client, _, seen = make_engine()
    order = limit()
    engine.submit_order(order)
    assert client.submitted == [order]
    assert order.status is OrderStatus.SUBMITTED
    assert isinstance(seen[0], OrderSubmitted) and seen[0].account_id == AccountId("SIM-001")
    assert engine.open_orders() == [order]


def test_submit_order_below_min_notional_is_denied_with_reason_not_sent() -> None:
    engine, client, _, seen = make_engine()
    order = limit(qty="0.00001", price="100.00")  # notional 0.001 USDT < 5
    engine.submit_order(order)
    assert client.submitted == []
    assert order.status is OrderStatus.DENIED
    assert isinstance(seen[0], OrderDenied)
    assert seen[0].code == "NOTIONAL_BELOW_MIN"
    assert engine.stats.denied == 1


def test_submit_order_for_unknown_venue_is_denied() -> None:
    engine, client, _, seen = make_engine()
    order = Order.market(
        client_order_id=ClientOrderId("O-9"),
        strategy_id=strategy_id(),
        instrument_id=btcusdt("NOWHERE").id,
        side=OrderSide.BUY,
        quantity=INSTRUMENT.make_qty("0.01"),
        ts_init=1,
    )
    engine.submit_order(order)
    assert order.status is OrderStatus.DENIED
    assert isinstance(seen[0], OrderDenied) and seen[0].code == "UNKNOWN_VENUE"
    assert client.submitted == []


def test_submit_duplicate_client_order_id_is_denied_and_first_order_unchanged() -> None:
    engine, client, _, _ = make_engine()
    first = limit("O-1")
    engine.submit_order(first)
    second = limit("O-1")
    engine.submit_order(second)
    assert first.status is OrderStatus.SUBMITTED
    assert second.status is OrderStatus.DENIED
    assert client.submitted == [first]


def test_process_fills_apply_and_order_closes_when_filled() -> None:
    engine, _, bus, _ = make_engine()
    fills: list[OrderFilled] = []
    bus.subscribe("events.fills", fills.append)
    order = limit()
    engine.submit_order(order)
    engine.process(accepted(order))
    engine.process(fill(order, "0.004", "T-1"))
    assert order.status is OrderStatus.PARTIALLY_FILLED
    engine.process(fill(order, "0.006", "T-2"))
    assert order.status is OrderStatus.FILLED
    assert [f.trade_id.value for f in fills] == ["T-1", "T-2"]
    assert engine.open_orders() == []


def test_process_duplicate_fill_is_ignored_and_counted() -> None:
    engine, _, bus, _ = make_engine()
    fills: list[OrderFilled] = []
    bus.subscribe("events.fills", fills.append)
    order = limit()
    engine.submit_order(order)
    engine.process(accepted(order))
    engine.process(fill(order, "0.004", "T-1"))
    engine.process(fill(order, "0.004", "T-1"))
    assert order.filled_qty == INSTRUMENT.make_qty("0.004")
    assert len(fills) == 1
    assert engine.stats.duplicate_fills == 1


def test_process_event_for_unknown_order_is_kept_for_reconciliation() -> None:
    engine, _, bus, _ = make_engine()
    stray = limit("O-404")
    kept: list[object] = []
    bus.subscribe("events.unmatched", kept.append)
    engine.process(accepted(stray))
    assert engine.stats.unknown_order_events == 1
    assert len(engine.unmatched) == 1 and engine.unmatched[0].reason == "no such order"
    assert kept == engine.unmatched


def test_process_late_event_after_terminal_is_kept_not_applied() -> None:
    engine, _, _, _ = make_engine()
    order = limit()
    engine.submit_order(order)
    engine.process(accepted(order))
    engine.process(
        OrderCanceled(
            client_order_id=order.client_order_id,
            instrument_id=order.instrument_id,
            strategy_id=order.strategy_id,
            ts_event=4_000,
            ts_init=4_000,
        )
    )
    engine.process(accepted(order))  # a late, out-of-order ack
    assert order.status is OrderStatus.CANCELED
    assert engine.stats.invalid_transitions == 1
    assert engine.unmatched[-1].event.client_order_id == order.client_order_id


def test_cancel_all_asks_venue_for_each_open_order_of_strategy() -> None:
    engine, client, _, _ = make_engine()
    a, b = limit("O-1"), limit("O-2")
    engine.submit_order(a)
    engine.submit_order(b)
    assert engine.cancel_all(INSTRUMENT.id, strategy_id()) == 2
    assert client.canceled == [a, b]
    assert engine.cancel_all(INSTRUMENT.id, strategy_id("OTHER")) == 0


def test_cancel_closed_order_sends_nothing() -> None:
    engine, client, _, _ = make_engine()
    order = limit(qty="0.00001", price="100.00")
    engine.submit_order(order)  # denied
    engine.cancel_order(order)
    assert client.canceled == []
