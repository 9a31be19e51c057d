from bot4.core.numbers import Price, Quantity
from bot4.model.enums import OrderSide, OrderStatus
from bot4.model.events import OrderCancelRejected, OrderFilled, OrderModifyRejected, OrderUpdated

BUY, SELL = OrderSide.BUY, OrderSide.SELL


def fills(sim, order):
    return [(str(e.last_px), str(e.last_qty)) for e in sim.events_for(order) if isinstance(e, OrderFilled)]


def qty(text):
    return Quantity.of(text, 5)


def px(text):
    return Price.of(text, 2)


def book(sim):
    sim.snapshot([("100.00", "2"), ("99.00", "5")], [("101.00", "5")])


def test_cancel_working_order_reports_canceled_with_venue_order_id(sim):
    book(sim)
    order = sim.limit(BUY, "1", "99.00")
    sim.venue.cancel_order(order)
    canceled = sim.events_for(order)[-1]
    assert type(canceled).__name__ == "OrderCanceled"
    assert str(canceled.venue_order_id) == "SIM-1"
    assert sim.venue.open_orders() == []


def test_cancel_unknown_order_is_cancel_rejected_with_binance_reason(sim):
    book(sim)
    order = sim.limit(BUY, "0.000001", "99.00")  # rejected by LOT_SIZE: never working
    sim.venue.cancel_order(order)
    rejected = sim.events_for(order)[-1]
    assert isinstance(rejected, OrderCancelRejected)
    assert rejected.reason == "Unknown order sent."
    assert order.status is OrderStatus.REJECTED


def test_cancel_filled_order_is_cancel_rejected_and_status_stays_filled(sim):
    book(sim)
    order = sim.market(BUY, "1")
    sim.venue.cancel_order(order)
    rejected = sim.events_for(order)[-1]
    assert isinstance(rejected, OrderCancelRejected)
    assert rejected.reason == "Order is no longer working: FILLED."
    assert order.status is OrderStatus.FILLED


def test_cancel_pending_stop_removes_it(sim):
    book(sim)
    order = sim.stop_market(BUY, "1", "110.00")
    sim.venue.cancel_order(order)
    sim.trade("111.00", "1")
    assert sim.kinds(order) == ["OrderAccepted", "OrderCanceled"]


def test_modify_quantity_down_keeps_queue_priority(sim):
    book(sim)
    order = sim.limit(BUY, "1", "100.00")  # 2 ahead
    sim.trade("100.00", "1.5")
    sim.venue.modify_order(order, quantity=qty("0.8"))
    updated = sim.events_for(order)[-1]
    assert isinstance(updated, OrderUpdated)
    assert str(updated.quantity) == "0.80000"
    sim.trade("100.00", "0.6")  # 0.5 still ahead, 0.1 reaches us
    assert fills(sim, order) == [("100.00", "0.10000")]


def test_modify_quantity_up_loses_queue_priority(sim):
    book(sim)
    order = sim.limit(BUY, "1", "100.00")
    sim.trade("100.00", "1.5")
    sim.venue.modify_order(order, quantity=qty("2"))
    sim.trade("100.00", "0.6")  # back of the queue: 2 ahead again
    assert fills(sim, order) == []
    assert str(sim.orders[order.client_order_id].quantity) == "2.00000"


def test_modify_price_loses_queue_priority_and_moves_the_lock(sim):
    book(sim)
    order = sim.limit(BUY, "1", "99.00")
    sim.venue.modify_order(order, price=px("100.00"))
    assert str(order.price) == "100.00"
    assert sim.locked(sim.instrument.quote_currency) == "100.10100000 USDT"
    sim.trade("100.00", "2")  # the 2 visible at 100 are ahead
    assert fills(sim, order) == []


def test_modify_price_across_the_book_trades_as_taker(sim):
    book(sim)
    order = sim.limit(BUY, "1", "99.00")
    sim.venue.modify_order(order, price=px("101.00"))
    assert sim.kinds(order) == ["OrderAccepted", "OrderUpdated", "OrderFilled"]
    assert fills(sim, order) == [("101.00", "1.00000")]


def test_modify_post_only_price_across_the_book_is_modify_rejected(sim):
    book(sim)
    order = sim.limit(BUY, "1", "99.00", post_only=True)
    sim.venue.modify_order(order, price=px("101.00"))
    rejected = sim.events_for(order)[-1]
    assert isinstance(rejected, OrderModifyRejected)
    assert rejected.reason == "Order would immediately match and take."
    assert str(order.price) == "99.00"


def test_modify_quantity_to_filled_or_below_is_modify_rejected(sim):
    book(sim)
    other = sim.limit(BUY, "2", "100.00")
    sim.snapshot([("99.00", "5")], [("100.00", "0.5"), ("101.00", "5")])
    assert other.status is OrderStatus.PARTIALLY_FILLED
    sim.venue.modify_order(other, quantity=qty("0.5"))
    rejected = sim.events_for(other)[-1]
    assert isinstance(rejected, OrderModifyRejected)
    assert rejected.reason == "quantity must be above the filled quantity 0.50000"


def test_modify_off_tick_price_is_modify_rejected_with_filter_text(sim):
    book(sim)
    order = sim.limit(BUY, "1", "99.00")
    sim.venue.modify_order(order, price=Price.from_str("99.005"))
    assert sim.events_for(order)[-1].reason == "Filter failure: PRICE_FILTER"


def test_modify_beyond_free_balance_is_modify_rejected(make_sim):
    sim = make_sim(starting_balances={"USDT": "150"})
    book(sim)
    order = sim.limit(BUY, "1", "99.00")
    sim.venue.modify_order(order, quantity=qty("2"))
    rejected = sim.events_for(order)[-1]
    assert isinstance(rejected, OrderModifyRejected)
    assert rejected.reason == "Account has insufficient balance for requested action."


def test_modify_stop_trigger_price_moves_the_trigger(sim):
    book(sim)
    order = sim.stop_market(BUY, "1", "110.00")
    sim.venue.modify_order(order, trigger_price=px("105.00"))
    assert str(order.trigger_price) == "105.00"
    sim.trade("105.00", "1")
    assert order.status is OrderStatus.FILLED


def test_modify_trigger_of_a_limit_order_is_modify_rejected(sim):
    book(sim)
    order = sim.limit(BUY, "1", "99.00")
    sim.venue.modify_order(order, trigger_price=px("105.00"))
    assert isinstance(sim.events_for(order)[-1], OrderModifyRejected)


def test_modify_with_nothing_to_change_is_modify_rejected(sim):
    book(sim)
    order = sim.limit(BUY, "1", "99.00")
    sim.venue.modify_order(order)
    assert isinstance(sim.events_for(order)[-1], OrderModifyRejected)


def test_modify_finished_order_is_modify_rejected(sim):
    book(sim)
    order = sim.market(BUY, "1")
    sim.venue.modify_order(order, quantity=qty("3"))
    rejected = sim.events_for(order)[-1]
    assert isinstance(rejected, OrderModifyRejected)
    assert rejected.reason == "Order is no longer working: FILLED."
