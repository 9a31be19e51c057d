"""Order: factory shape rules, fills (average price, leaves, commissions) and fill checks."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from bot4.core.errors import (
    Bot4Error,
    DuplicateFillError,
    ImpossibleFillError,
    InvalidOrderError,
    InvalidStateTransition,
)
from bot4.core.ids import AccountId, ClientOrderId, InstrumentId, TradeId, VenueOrderId
from bot4.core.numbers import Money, Price, Quantity
from bot4.model.enums import LiquiditySide, OrderSide, OrderStatus, OrderType, TimeInForce
from bot4.model.events import (
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderSubmitted,
    OrderTriggered,
    OrderUpdated,
)
from bot4.model.orders import Order
from bot4.testkit import BTC, USDT, btcusdt, strategy_id

INST = btcusdt()
COID = ClientOrderId("O-1")


def common(order: Order, ts: int) -> dict[str, Any]:
    return {
        "client_order_id": order.client_order_id,
        "instrument_id": order.instrument_id,
        "strategy_id": order.strategy_id,
        "ts_event": ts,
        "ts_init": ts,
    }


def limit_order(
    qty: str = "0.010", price: str = "60000.00", side: OrderSide = OrderSide.BUY
) -> Order:
    return Order.limit(
        client_order_id=COID,
        strategy_id=strategy_id(),
        instrument_id=INST.id,
        side=side,
        quantity=INST.make_qty(qty),
        price=INST.make_price(price),
        ts_init=1_000,
    )


def working(order: Order) -> Order:
    order.apply(OrderSubmitted(**common(order, 1_001), account_id=AccountId("SIM-001")))
    order.apply(OrderAccepted(**common(order, 1_002), venue_order_id=VenueOrderId("V-1")))
    return order


def filled(
    order: Order,
    qty: str,
    price: str,
    trade_id: str,
    commission: Money | None = None,
    ts: int = 2_000,
    **overrides: Any,
) -> OrderFilled:
    fields: dict[str, Any] = {
        **common(order, ts),
        "venue_order_id": VenueOrderId("V-1"),
        "trade_id": TradeId(trade_id),
        "order_side": order.side,
        "last_qty": INST.make_qty(qty),
        "last_px": INST.make_price(price),
        "commission": commission if commission is not None else Money.zero(USDT),
        "liquidity_side": LiquiditySide.MAKER,
    }
    fields.update(overrides)
    return OrderFilled(**fields)


def snapshot(order: Order) -> tuple[Any, ...]:
    return (
        order.status,
        order.filled_raw,
        order.quantity,
        order.price,
        order.trigger_price,
        len(order.events),
        dict(order.commissions),
        order.avg_px,
        order.ts_last,
        order.venue_order_id,
    )


# -- factories --------------------------------------------------------------------------------


def test_market_order_starts_initialized_with_ioc_and_no_price() -> None:
    order = Order.market(
        client_order_id=COID,
        strategy_id=strategy_id(),
        instrument_id=INST.id,
        side=OrderSide.SELL,
        quantity=INST.make_qty("0.5"),
        ts_init=7,
    )
    assert order.order_type is OrderType.MARKET
    assert order.time_in_force is TimeInForce.IOC
    assert order.price is None
    assert order.trigger_price is None
    assert order.status is OrderStatus.INITIALIZED
    assert order.filled_qty == Quantity(0, 5)
    assert order.leaves_qty == INST.make_qty("0.5")
    assert order.avg_px is None
    assert order.events == []
    assert order.last_event is None
    assert order.ts_last == 7
    assert order.venue_order_id is None
    assert not order.is_buy
    assert not order.is_open
    assert not order.is_closed


def test_limit_order_keeps_its_fields() -> None:
    order = Order.limit(
        client_order_id=COID,
        strategy_id=strategy_id(),
        instrument_id=INST.id,
        side=OrderSide.BUY,
        quantity=INST.make_qty("0.01"),
        price=INST.make_price("60000.00"),
        ts_init=1,
        time_in_force=TimeInForce.GTD,
        expire_time_ns=99,
        post_only=True,
        reduce_only=True,
    )
    assert order.order_type is OrderType.LIMIT
    assert order.price == INST.make_price("60000.00")
    assert order.time_in_force is TimeInForce.GTD
    assert order.expire_time_ns == 99
    assert order.post_only
    assert order.reduce_only
    assert order.is_buy
    assert repr(order) == (
        "Order(O-1 BUY 0.01000 BTCUSDT.SIM LIMIT @ 60000.00 GTD INITIALIZED filled=0.00000)"
    )


def test_stop_orders_keep_trigger_and_price() -> None:
    stop = Order.stop_market(
        client_order_id=COID,
        strategy_id=strategy_id(),
        instrument_id=INST.id,
        side=OrderSide.SELL,
        quantity=INST.make_qty("1"),
        trigger_price=INST.make_price("55000"),
        ts_init=1,
    )
    assert stop.order_type is OrderType.STOP_MARKET
    assert stop.trigger_price == INST.make_price("55000")
    assert stop.price is None
    stop_limit = Order.stop_limit(
        client_order_id=COID,
        strategy_id=strategy_id(),
        instrument_id=INST.id,
        side=OrderSide.SELL,
        quantity=INST.make_qty("1"),
        price=INST.make_price("54900"),
        trigger_price=INST.make_price("55000"),
        ts_init=1,
        post_only=True,
    )
    assert stop_limit.order_type is OrderType.STOP_LIMIT
    assert stop_limit.price == INST.make_price("54900")
    assert stop_limit.trigger_price == INST.make_price("55000")
    assert repr(stop_limit) == (
        "Order(O-1 SELL 1.00000 BTCUSDT.SIM STOP_LIMIT @ 54900.00 trigger 55000.00 GTC "
        "INITIALIZED filled=0.00000)"
    )


def build(**overrides: Any) -> Order:
    fields: dict[str, Any] = {
        "client_order_id": COID,
        "strategy_id": strategy_id(),
        "instrument_id": INST.id,
        "side": OrderSide.BUY,
        "order_type": OrderType.LIMIT,
        "quantity": INST.make_qty("0.01"),
        "ts_init": 1,
        "price": INST.make_price("60000"),
    }
    fields.update(overrides)
    return Order(**fields)


P = INST.make_price


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"quantity": Quantity(0, 5)}, "quantity must be positive"),
        ({"order_type": OrderType.MARKET, "quantity": Quantity(0, 5), "price": None}, "quantity must be positive"),
        ({"price": None}, "this order type needs a price"),
        ({"order_type": OrderType.STOP_LIMIT, "price": None, "trigger_price": P("1")}, "this order type needs a price"),
        ({"order_type": OrderType.MARKET}, "this order type takes no price"),
        ({"order_type": OrderType.STOP_MARKET, "trigger_price": P("1")}, "this order type takes no price"),
        ({"price": P("0")}, "price must be positive"),
        ({"price": P("-0.01")}, "price must be positive"),
        ({"order_type": OrderType.STOP_MARKET, "price": None}, "this order type needs a trigger price"),
        ({"order_type": OrderType.STOP_LIMIT}, "this order type needs a trigger price"),
        ({"trigger_price": P("1")}, "this order type takes no trigger price"),
        (
            {"order_type": OrderType.MARKET, "price": None, "trigger_price": P("1")},
            "this order type takes no trigger price",
        ),
        (
            {"order_type": OrderType.STOP_MARKET, "price": None, "trigger_price": P("0")},
            "trigger price must be positive",
        ),
        ({"order_type": OrderType.STOP_LIMIT, "trigger_price": P("-1")}, "trigger price must be positive"),
        ({"time_in_force": TimeInForce.GTD}, "GTD needs an expire time"),
        ({"expire_time_ns": 5}, "only GTD orders take an expire time"),
        ({"time_in_force": TimeInForce.IOC, "expire_time_ns": 5}, "only GTD orders take an expire time"),
        ({"order_type": OrderType.MARKET, "price": None, "post_only": True}, "only limit orders can be post-only"),
        (
            {"order_type": OrderType.STOP_MARKET, "price": None, "trigger_price": P("1"), "post_only": True},
            "only limit orders can be post-only",
        ),
        ({"post_only": True, "time_in_force": TimeInForce.IOC}, "a post-only order cannot be IOC or FOK"),
        ({"post_only": True, "time_in_force": TimeInForce.FOK}, "a post-only order cannot be IOC or FOK"),
        (
            {"order_type": OrderType.MARKET, "price": None, "time_in_force": TimeInForce.GTD, "expire_time_ns": 5},
            "a market order cannot be GTD",
        ),
    ],
)
def test_order_breaking_its_type_rules_raises_invalid_order_error(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidOrderError) as excinfo:
        build(**overrides)
    assert excinfo.value.message == message
    assert excinfo.value.context["order"] == "O-1"
    assert excinfo.value.context["order_type"] == overrides.get("order_type", OrderType.LIMIT).value


def test_market_factory_with_gtd_raises_invalid_order_error() -> None:
    with pytest.raises(InvalidOrderError):
        Order.market(
            client_order_id=COID,
            strategy_id=strategy_id(),
            instrument_id=INST.id,
            side=OrderSide.BUY,
            quantity=INST.make_qty("1"),
            ts_init=1,
            time_in_force=TimeInForce.GTD,
        )


@pytest.mark.parametrize(
    "overrides",
    [
        {"order_type": OrderType.MARKET, "price": None, "time_in_force": TimeInForce.FOK},
        {"order_type": OrderType.MARKET, "price": None, "time_in_force": TimeInForce.GTC},
        {"time_in_force": TimeInForce.GTD, "expire_time_ns": 5},
        {"post_only": True, "time_in_force": TimeInForce.GTD, "expire_time_ns": 5},
        {"order_type": OrderType.STOP_LIMIT, "trigger_price": P("1"), "post_only": True},
        {"price": P("0.01"), "reduce_only": True},
    ],
)
def test_order_following_its_type_rules_is_built(overrides: dict[str, Any]) -> None:
    assert build(**overrides).status is OrderStatus.INITIALIZED


# -- fills ------------------------------------------------------------------------------------


def test_partial_then_full_fill_tracks_leaves_and_exact_average_price() -> None:
    order = working(limit_order("0.010"))
    order.apply(filled(order, "0.004", "60000.00", "T-1", ts=2_000))
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert order.filled_qty == INST.make_qty("0.004")
    assert order.leaves_qty == INST.make_qty("0.006")
    assert order.avg_px == Decimal("60000")
    assert order.is_open
    order.apply(filled(order, "0.006", "60000.05", "T-2", ts=2_100))
    assert order.status is OrderStatus.FILLED
    assert order.filled_qty == INST.make_qty("0.01")
    assert order.leaves_qty == Quantity(0, 5)
    # (0.004 * 60000.00 + 0.006 * 60000.05) / 0.010
    assert order.avg_px == Decimal("60000.03")
    assert order.is_closed
    assert not order.is_open
    assert order.ts_last == 2_100
    assert order.has_trade(TradeId("T-1"))
    assert order.has_trade(TradeId("T-2"))
    assert not order.has_trade(TradeId("T-3"))


def test_average_price_weighs_by_quantity() -> None:
    order = working(limit_order("1"))
    order.apply(filled(order, "0.25", "100.00", "T-1"))
    order.apply(filled(order, "0.5", "200.00", "T-2"))
    order.apply(filled(order, "0.25", "101.00", "T-3"))
    assert order.avg_px == Decimal("150.25")


def test_single_full_fill_goes_straight_to_filled() -> None:
    order = working(limit_order("0.010"))
    order.apply(filled(order, "0.010", "59999.99", "T-1"))
    assert order.status is OrderStatus.FILLED
    assert order.avg_px == Decimal("59999.99")


def test_commissions_are_summed_per_currency() -> None:
    order = working(limit_order("0.003"))
    order.apply(filled(order, "0.001", "60000.00", "T-1", Money.of("0.06", USDT)))
    order.apply(filled(order, "0.001", "60000.00", "T-2", Money.of("0.00000001", BTC)))
    order.apply(filled(order, "0.001", "60000.00", "T-3", Money.of("0.06000001", USDT)))
    assert order.commissions == {
        USDT: Money.of("0.12000001", USDT),
        BTC: Money.of("0.00000001", BTC),
    }


def test_negative_commission_rebate_reduces_the_sum() -> None:
    order = working(limit_order("0.002"))
    order.apply(filled(order, "0.001", "60000.00", "T-1", Money.of("0.06", USDT)))
    order.apply(filled(order, "0.001", "60000.00", "T-2", Money.of("-0.01", USDT)))
    assert order.commissions == {USDT: Money.of("0.05", USDT)}


def test_fill_before_accept_sets_venue_order_id() -> None:
    order = limit_order("0.010")
    order.apply(OrderSubmitted(**common(order, 1), account_id=AccountId("SIM-001")))
    order.apply(filled(order, "0.002", "60000.00", "T-1", venue_order_id=VenueOrderId("V-9")))
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert order.venue_order_id == VenueOrderId("V-9")


def test_events_are_recorded_in_order_applied() -> None:
    order = working(limit_order("0.010"))
    fill = filled(order, "0.010", "60000.00", "T-1")
    order.apply(fill)
    assert [type(e).__name__ for e in order.events] == ["OrderSubmitted", "OrderAccepted", "OrderFilled"]
    assert order.last_event is fill
    assert order.venue_order_id == VenueOrderId("V-1")


# -- impossible and duplicate fills -----------------------------------------------------------


def test_duplicate_trade_id_raises_and_leaves_order_unchanged() -> None:
    order = working(limit_order("0.010"))
    order.apply(filled(order, "0.004", "60000.00", "T-1", Money.of("0.24", USDT)))
    before = snapshot(order)
    with pytest.raises(DuplicateFillError) as excinfo:
        order.apply(filled(order, "0.001", "61000.00", "T-1", Money.of("0.06", USDT)))
    assert excinfo.value.context == {"order": "O-1", "trade_id": "T-1"}
    assert snapshot(order) == before


@pytest.mark.parametrize(
    ("qty", "prior", "error"),
    [
        ("0.011", None, ImpossibleFillError),
        ("0.00001", "0.010", InvalidStateTransition),  # FILLED is terminal: the table refuses first
        ("0.007", "0.004", ImpossibleFillError),
    ],
    ids=["beyond-quantity", "after-full", "beyond-leaves"],
)
def test_overfill_raises_and_leaves_order_unchanged(qty: str, prior: str | None, error: type[Exception]) -> None:
    order = working(limit_order("0.010"))
    if prior is not None:
        order.apply(filled(order, prior, "60000.00", "T-0"))
    before = snapshot(order)
    with pytest.raises(error):
        order.apply(filled(order, qty, "60000.00", "T-1"))
    assert snapshot(order) == before


def test_zero_quantity_fill_raises_impossible_fill() -> None:
    order = working(limit_order())
    before = snapshot(order)
    with pytest.raises(ImpossibleFillError):
        order.apply(filled(order, "0", "60000.00", "T-1"))
    assert snapshot(order) == before


@pytest.mark.parametrize("price", [Price(0, 2), Price(-1_000_000_000, 2)], ids=["zero", "negative"])
def test_non_positive_fill_price_raises_impossible_fill(price: Price) -> None:
    order = working(limit_order())
    before = snapshot(order)
    with pytest.raises(ImpossibleFillError):
        order.apply(filled(order, "0.001", "60000.00", "T-1", last_px=price))
    assert snapshot(order) == before


def test_fill_on_wrong_side_raises_impossible_fill() -> None:
    order = working(limit_order(side=OrderSide.BUY))
    before = snapshot(order)
    with pytest.raises(ImpossibleFillError) as excinfo:
        order.apply(filled(order, "0.001", "60000.00", "T-1", order_side=OrderSide.SELL))
    assert excinfo.value.context["fill_side"] == "SELL"
    assert snapshot(order) == before


def test_fill_for_another_instrument_raises_impossible_fill() -> None:
    order = working(limit_order())
    before = snapshot(order)
    with pytest.raises(ImpossibleFillError) as excinfo:
        order.apply(
            filled(order, "0.001", "60000.00", "T-1", instrument_id=InstrumentId.from_str("ETHUSDT.SIM"))
        )
    assert excinfo.value.context["fill_instrument"] == "ETHUSDT.SIM"
    assert snapshot(order) == before


def test_fill_for_another_order_raises_impossible_fill() -> None:
    order = working(limit_order())
    before = snapshot(order)
    with pytest.raises(ImpossibleFillError) as excinfo:
        order.apply(filled(order, "0.001", "60000.00", "T-1", client_order_id=ClientOrderId("O-2")))
    assert excinfo.value.context == {"order": "O-1", "event_order": "O-2"}
    assert snapshot(order) == before


def test_non_fill_event_for_another_order_raises_impossible_fill() -> None:
    order = working(limit_order())
    before = snapshot(order)
    with pytest.raises(ImpossibleFillError):
        order.apply(OrderCanceled(**{**common(order, 5), "client_order_id": ClientOrderId("O-2")}))
    assert snapshot(order) == before


# -- updates ----------------------------------------------------------------------------------


def test_updated_changes_quantity_and_price_of_working_order() -> None:
    order = working(limit_order("0.010", "60000.00"))
    order.apply(
        OrderUpdated(
            **common(order, 3_000),
            quantity=INST.make_qty("0.02"),
            price=INST.make_price("59000.00"),
            venue_order_id=VenueOrderId("V-2"),
        )
    )
    assert order.status is OrderStatus.ACCEPTED
    assert order.quantity == INST.make_qty("0.02")
    assert order.price == INST.make_price("59000.00")
    assert order.leaves_qty == INST.make_qty("0.02")
    assert order.venue_order_id == VenueOrderId("V-2")
    assert order.ts_last == 3_000


def test_updated_without_price_keeps_the_price() -> None:
    order = working(limit_order("0.010", "60000.00"))
    order.apply(OrderUpdated(**common(order, 3_000), quantity=INST.make_qty("0.005")))
    assert order.quantity == INST.make_qty("0.005")
    assert order.price == INST.make_price("60000.00")
    assert order.venue_order_id == VenueOrderId("V-1")


def test_updated_changes_trigger_price_of_stop_limit() -> None:
    order = Order.stop_limit(
        client_order_id=COID,
        strategy_id=strategy_id(),
        instrument_id=INST.id,
        side=OrderSide.SELL,
        quantity=INST.make_qty("1"),
        price=INST.make_price("54900"),
        trigger_price=INST.make_price("55000"),
        ts_init=1,
    )
    working(order)
    order.apply(OrderTriggered(**common(order, 5)))
    order.apply(
        OrderUpdated(**common(order, 6), quantity=INST.make_qty("1"), trigger_price=INST.make_price("54000"))
    )
    assert order.status is OrderStatus.TRIGGERED
    assert order.trigger_price == INST.make_price("54000")
    assert order.price == INST.make_price("54900")


def test_updated_after_partial_fill_keeps_filled_and_moves_leaves() -> None:
    order = working(limit_order("0.010"))
    order.apply(filled(order, "0.004", "60000.00", "T-1"))
    order.apply(OrderUpdated(**common(order, 3_000), quantity=INST.make_qty("0.008")))
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert order.filled_qty == INST.make_qty("0.004")
    assert order.leaves_qty == INST.make_qty("0.004")
    order.apply(filled(order, "0.004", "60000.00", "T-2"))
    assert order.status is OrderStatus.FILLED


def test_updated_quantity_below_filled_quantity_is_refused() -> None:
    order = working(limit_order("0.010"))
    order.apply(filled(order, "0.004", "60000.00", "T-1"))
    before = snapshot(order)
    with pytest.raises(Bot4Error):
        order.apply(OrderUpdated(**common(order, 3_000), quantity=INST.make_qty("0.003")))
    assert snapshot(order) == before
    assert order.leaves_raw >= 0


def test_would_transition_reports_target_without_applying() -> None:
    order = working(limit_order("0.010"))
    assert order.would_transition(filled(order, "0.004", "60000.00", "T-1")) is OrderStatus.PARTIALLY_FILLED
    assert order.would_transition(filled(order, "0.010", "60000.00", "T-1")) is OrderStatus.FILLED
    assert order.would_transition(OrderCanceled(**common(order, 5))) is OrderStatus.CANCELED
    assert order.would_transition(OrderAccepted(**common(order, 5), venue_order_id=VenueOrderId("V"))) is None
    assert order.status is OrderStatus.ACCEPTED
    assert len(order.events) == 2
