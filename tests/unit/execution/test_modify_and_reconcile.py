"""Cancel-replace for venues without amend, and reconciliation from venue reports."""

from __future__ import annotations

from decimal import Decimal

from bot4.core import (
    AccountId,
    ClientOrderId,
    MessageBus,
    Money,
    TestClock,
    TradeId,
    TraderId,
    Venue,
    VenueOrderId,
)
from bot4.execution import ExecutionEngine
from bot4.execution.reconciliation import (
    EXTERNAL_STRATEGY,
    FillReport,
    OrderStatusReport,
    VenueReport,
    reconcile,
)
from bot4.model import (
    LiquiditySide,
    Order,
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderDenied,
    OrderFilled,
    OrderSide,
    OrderStatus,
    OrderType,
)
from bot4.testkit import USDT, btcusdt, strategy_id

INSTRUMENT = btcusdt()
VENUE = Venue("SIM")


class NoAmendClient:
    """A venue client for a venue that cannot amend; records what it was asked."""

    supports_amend = False

    def __init__(self) -> None:
        self.submitted: list[Order] = []
        self.canceled: list[Order] = []
        self.modified: list[Order] = []

    @property
    def venue(self) -> Venue:
        return VENUE

    @property
    def account_id(self) -> AccountId:
        return AccountId("SIM-001")

    def submit_order(self, order: Order) -> None:
        self.submitted.append(order)

    def cancel_order(self, order: Order) -> None:
        self.canceled.append(order)

    def modify_order(self, order: Order, quantity=None, price=None, trigger_price=None) -> None:  # type: ignore[no-untyped-def]
        self.modified.append(order)


def setup() -> tuple[ExecutionEngine, NoAmendClient, list[object]]:
    bus = MessageBus()
    engine = ExecutionEngine(bus, TestClock(1_000))
    client = NoAmendClient()
    engine.register_client(client)
    engine.add_instrument(INSTRUMENT)
    seen: list[object] = []
    bus.subscribe(f"events.order.{strategy_id()}", seen.append)
    return engine, client, seen


def working_limit(engine: ExecutionEngine, qty: str = "0.010", price: str = "60000.00") -> Order:
    order = Order.limit(
        client_order_id=engine.next_client_order_id(TraderId("T"), strategy_id()),
        strategy_id=strategy_id(),
        instrument_id=INSTRUMENT.id,
        side=OrderSide.BUY,
        quantity=INSTRUMENT.make_qty(qty),
        price=INSTRUMENT.make_price(price),
        ts_init=1_000,
    )
    engine.submit_order(order)
    engine.process(OrderAccepted(client_order_id=order.client_order_id, instrument_id=order.instrument_id,
                                 strategy_id=order.strategy_id, venue_order_id=VenueOrderId("V-1"),
                                 ts_event=1_000, ts_init=1_000))
    return order


def fill(order: Order, qty: str, trade: str, price: str = "60000.00") -> OrderFilled:
    return OrderFilled(
        client_order_id=order.client_order_id, instrument_id=order.instrument_id,
        strategy_id=order.strategy_id, venue_order_id=VenueOrderId("V-1"), trade_id=TradeId(trade),
        order_side=order.side, last_qty=INSTRUMENT.make_qty(qty), last_px=INSTRUMENT.make_price(price),
        commission=Money.from_decimal(Decimal("0.01"), USDT), liquidity_side=LiquiditySide.MAKER,
        ts_event=2_000, ts_init=2_000,
    )


def canceled(order: Order) -> OrderCanceled:
    return OrderCanceled(client_order_id=order.client_order_id, instrument_id=order.instrument_id,
                         strategy_id=order.strategy_id, ts_event=3_000, ts_init=3_000)


def test_modify_without_amend_cancels_then_submits_replacement_for_the_rest() -> None:
    engine, client, _ = setup()
    order = working_limit(engine)
    engine.process(fill(order, "0.004", "T-1"))
    replacement = engine.modify_order(order, price=INSTRUMENT.make_price("59990.00"))
    assert replacement is not order
    assert client.canceled == [order] and client.modified == []
    assert replacement.status is OrderStatus.INITIALIZED  # waits for the cancel
    engine.process(canceled(order))
    assert replacement.status is OrderStatus.SUBMITTED
    assert client.submitted[-1] is replacement
    assert replacement.quantity == INSTRUMENT.make_qty("0.006")  # new total 0.010 minus 0.004 filled
    assert replacement.price == INSTRUMENT.make_price("59990.00")


def test_modify_without_amend_aborts_replacement_when_original_fills_first() -> None:
    engine, client, seen = setup()
    order = working_limit(engine)
    replacement = engine.modify_order(order, price=INSTRUMENT.make_price("59990.00"))
    engine.process(fill(order, "0.010", "T-1"))
    assert replacement.status is OrderStatus.DENIED
    denial = [e for e in seen if isinstance(e, OrderDenied)][-1]
    assert denial.code == "REPLACE_ABORTED"
    assert replacement not in client.submitted


def test_modify_without_amend_aborts_replacement_when_cancel_is_refused() -> None:
    engine, client, _ = setup()
    order = working_limit(engine)
    replacement = engine.modify_order(order, quantity=INSTRUMENT.make_qty("0.020"))
    engine.process(OrderCancelRejected(client_order_id=order.client_order_id, instrument_id=order.instrument_id,
                                       strategy_id=order.strategy_id, reason="Unknown order sent.",
                                       ts_event=3_000, ts_init=3_000))
    assert replacement.status is OrderStatus.DENIED
    assert order.status is OrderStatus.ACCEPTED


def status_report(order: Order | None, filled: str, avg: str | None, venue_id: str = "V-1",
                  client_id: ClientOrderId | None = None) -> OrderStatusReport:
    return OrderStatusReport(
        instrument_id=INSTRUMENT.id, venue_order_id=VenueOrderId(venue_id),
        client_order_id=client_id if order is None else order.client_order_id,
        side=OrderSide.BUY, order_type=OrderType.LIMIT, quantity=INSTRUMENT.make_qty("0.010"),
        price=INSTRUMENT.make_price("60000.00"), filled_qty=INSTRUMENT.make_qty(filled),
        avg_px=None if avg is None else INSTRUMENT.make_price(avg), status=OrderStatus.ACCEPTED, ts_last=5_000,
    )


def fill_report(order: Order, qty: str, trade: str) -> FillReport:
    return FillReport(
        instrument_id=INSTRUMENT.id, venue_order_id=VenueOrderId("V-1"), client_order_id=order.client_order_id,
        trade_id=TradeId(trade), side=order.side, last_qty=INSTRUMENT.make_qty(qty),
        last_px=INSTRUMENT.make_price("60000.00"), commission=Money.from_decimal(Decimal("0.02"), USDT),
        liquidity_side=LiquiditySide.MAKER, ts_event=4_000,
    )


def test_reconcile_applies_missing_fill_once() -> None:
    engine, _, _ = setup()
    order = working_limit(engine)
    engine.process(fill(order, "0.002", "T-1"))
    report = VenueReport(venue=VENUE, open_orders=[status_report(order, "0.005", "60000.00")],
                         fills=[fill_report(order, "0.002", "T-1"), fill_report(order, "0.003", "T-2")], ts=9_000)
    result = reconcile(engine, report)
    assert order.filled_qty == INSTRUMENT.make_qty("0.005")
    assert [r.kind for r in result.repairs] == ["missing_fill"]
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert reconcile(engine, report).clean  # running it again changes nothing


def test_reconcile_infers_fill_without_report_at_average_price() -> None:
    engine, _, _ = setup()
    order = working_limit(engine)
    result = reconcile(engine, VenueReport(venue=VENUE, open_orders=[status_report(order, "0.004", "60000.00")],
                                           fills=[], ts=9_000))
    assert order.filled_qty == INSTRUMENT.make_qty("0.004")
    assert result.repairs[0].kind == "inferred_fill"


def test_reconcile_cancels_local_order_the_venue_no_longer_has() -> None:
    engine, _, _ = setup()
    order = working_limit(engine)
    result = reconcile(engine, VenueReport(venue=VENUE, open_orders=[], fills=[], ts=9_000))
    assert order.status is OrderStatus.CANCELED
    assert result.repairs[0].kind == "canceled_while_away"
    assert engine.open_orders() == []


def test_reconcile_fills_order_that_filled_while_away_instead_of_canceling() -> None:
    engine, _, _ = setup()
    order = working_limit(engine)
    result = reconcile(engine, VenueReport(venue=VENUE, open_orders=[],
                                           fills=[fill_report(order, "0.010", "T-9")], ts=9_000))
    assert order.status is OrderStatus.FILLED
    assert [r.kind for r in result.repairs] == ["missing_fill"]


def test_reconcile_accepts_order_we_held_as_submitted() -> None:
    engine, _, _ = setup()
    order = Order.limit(client_order_id=ClientOrderId("O-1"), strategy_id=strategy_id(), instrument_id=INSTRUMENT.id,
                        side=OrderSide.BUY, quantity=INSTRUMENT.make_qty("0.010"),
                        price=INSTRUMENT.make_price("60000.00"), ts_init=1)
    engine.submit_order(order)
    result = reconcile(engine, VenueReport(venue=VENUE, open_orders=[status_report(order, "0", None)], fills=[]))
    assert order.status is OrderStatus.ACCEPTED
    assert order.venue_order_id == VenueOrderId("V-1")
    assert result.repairs[0].kind == "missing_ack"


def test_reconcile_adopts_unknown_open_order_as_external() -> None:
    engine, _, _ = setup()
    result = reconcile(engine, VenueReport(venue=VENUE, open_orders=[status_report(None, "0", None, "V-77")], fills=[]))
    assert result.external_orders == ["EXT-V-77"]
    adopted = engine.order(ClientOrderId("EXT-V-77"))
    assert adopted is not None and adopted.strategy_id == EXTERNAL_STRATEGY
    assert adopted.status is OrderStatus.ACCEPTED
    assert adopted in engine.open_orders()


def test_modify_breaking_a_filter_is_refused_locally_and_never_sent() -> None:
    from bot4.model import OrderModifyRejected

    engine, client, seen = setup()
    order = working_limit(engine)
    result = engine.modify_order(order, price=INSTRUMENT.make_price("0.01"))  # notional below 5 USDT
    assert result is order
    assert client.canceled == [] and client.modified == []
    refused = [e for e in seen if isinstance(e, OrderModifyRejected)]
    assert refused and refused[0].reason.startswith("NOTIONAL_BELOW_MIN")
    assert order.status is OrderStatus.ACCEPTED
