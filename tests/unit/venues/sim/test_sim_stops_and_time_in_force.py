from bot4.model.enums import LiquiditySide, OrderSide, OrderStatus, TimeInForce
from bot4.model.events import OrderFilled, OrderRejected

BUY, SELL = OrderSide.BUY, OrderSide.SELL


def fills(sim, order):
    return [(str(e.last_px), str(e.last_qty)) for e in sim.events_for(order) if isinstance(e, OrderFilled)]


def test_stop_market_buy_triggers_on_a_trade_at_its_trigger_then_fills_as_market(sim):
    sim.snapshot([("99.00", "1")], [("100.00", "1"), ("101.00", "1")])
    order = sim.stop_market(BUY, "1.5", "100.50")
    assert order.status is OrderStatus.ACCEPTED
    sim.trade("100.50", "0.1")
    assert sim.kinds(order) == ["OrderAccepted", "OrderTriggered", "OrderFilled", "OrderFilled"]
    assert fills(sim, order) == [("100.00", "1.00000"), ("101.00", "0.50000")]


def test_stop_market_sell_triggers_when_the_best_bid_reaches_it(sim):
    sim.snapshot([("100.00", "1")], [("101.00", "1")])
    order = sim.stop_market(SELL, "1", "99.00")
    sim.snapshot([("99.00", "2")], [("99.50", "1")])
    assert fills(sim, order) == [("99.00", "1.00000")]
    assert order.status is OrderStatus.FILLED


def test_stop_market_buy_does_not_trigger_below_its_trigger(sim):
    sim.snapshot([("99.00", "1")], [("100.00", "1")])
    order = sim.stop_market(BUY, "1", "105.00")
    sim.trade("104.99", "1")
    sim.snapshot([("99.00", "1")], [("104.99", "1")])
    assert order.status is OrderStatus.ACCEPTED


def test_stop_limit_triggers_then_rests_as_a_limit_order(sim):
    sim.snapshot([("99.00", "1")], [("100.00", "1")])
    order = sim.stop_limit(BUY, "1", "101.00", "102.00")
    sim.snapshot([("99.00", "1")], [("102.00", "1")])
    assert sim.kinds(order) == ["OrderAccepted", "OrderTriggered"]
    assert order.status is OrderStatus.TRIGGERED
    sim.snapshot([("99.00", "1")], [("100.80", "3")])
    assert fills(sim, order) == [("101.00", "1.00000")]


def test_stop_limit_triggered_into_a_marketable_price_takes_liquidity(sim):
    sim.snapshot([("99.00", "1")], [("100.00", "1")])
    order = sim.stop_limit(BUY, "1", "103.00", "101.00")
    sim.snapshot([("99.00", "1")], [("101.00", "0.4"), ("102.00", "5")])
    events = [e for e in sim.events_for(order) if isinstance(e, OrderFilled)]
    assert [(str(e.last_px), e.liquidity_side) for e in events] == [
        ("101.00", LiquiditySide.TAKER),
        ("102.00", LiquiditySide.TAKER),
    ]


def test_stop_that_would_trigger_immediately_is_rejected_like_binance(sim):
    sim.snapshot([("99.00", "1")], [("100.00", "1")])
    order = sim.stop_market(BUY, "1", "100.00")
    [event] = sim.events_for(order)
    assert isinstance(event, OrderRejected)
    assert (event.code, event.reason) == ("STOP_WOULD_TRIGGER_IMMEDIATELY", "Order would trigger immediately.")


def test_stop_market_triggered_by_a_bar_fills_at_its_trigger(sim):
    sim.bar("100", "100.5", "99.5", "100")
    order = sim.stop_market(SELL, "1", "99.00")
    sim.bar("100", "100.2", "98", "98.5")
    assert fills(sim, order) == [("99.00", "1.00000")]


def test_stop_market_triggered_by_a_bar_gapping_through_fills_at_the_open(sim):
    sim.bar("100", "100.5", "99.5", "100")
    order = sim.stop_market(BUY, "1", "101.00")
    sim.bar("103", "104", "102.5", "103.5")
    assert fills(sim, order) == [("103.00", "1.00000")]


def test_stop_market_buy_without_funds_at_trigger_is_rejected_after_trigger(make_sim):
    sim = make_sim(starting_balances={"USDT": "50"})
    sim.snapshot([("99.00", "1")], [("100.00", "1")])
    order = sim.stop_market(BUY, "1", "101.00")
    sim.trade("101.00", "1")
    assert sim.kinds(order) == ["OrderAccepted", "OrderTriggered", "OrderRejected"]
    assert order.status is OrderStatus.REJECTED


def test_reduce_only_order_that_would_open_a_position_is_rejected(sim):
    sim.snapshot([("99.00", "1")], [("100.00", "1")])
    order = sim.market(SELL, "1", reduce_only=True)
    [event] = sim.events_for(order)
    assert isinstance(event, OrderRejected)
    assert event.code == "REDUCE_ONLY_WOULD_INCREASE"


def test_reduce_only_order_that_would_increase_a_position_is_rejected(sim):
    sim.snapshot([("99.00", "1")], [("100.00", "5")])
    sim.market(BUY, "1")
    order = sim.market(BUY, "1", reduce_only=True)
    assert order.status is OrderStatus.REJECTED


def test_reduce_only_order_larger_than_the_position_fills_the_position_and_expires_the_rest(sim):
    sim.snapshot([("99.00", "5")], [("100.00", "5")])
    sim.market(BUY, "0.7")
    assert sim.venue.position_raw(sim.instrument.id) == 700_000_000
    order = sim.market(SELL, "2", reduce_only=True)
    assert fills(sim, order) == [("99.00", "0.70000")]
    assert sim.kinds(order)[-1] == "OrderExpired"
    assert sim.venue.position_raw(sim.instrument.id) == 0


def test_resting_reduce_only_order_stops_at_the_position(sim):
    sim.snapshot([("99.00", "5")], [("100.00", "5")])
    sim.market(BUY, "0.5")
    order = sim.limit(SELL, "1", "105.00", reduce_only=True)
    sim.trade("106.00", "3")
    assert fills(sim, order) == [("105.00", "0.50000")]
    assert order.status is OrderStatus.EXPIRED


def test_gtd_order_expires_when_the_venue_clock_reaches_its_expire_time(sim):
    sim.snapshot([("99.00", "1")], [("100.00", "1")], ts=10)
    order = sim.limit(BUY, "1", "98.00", time_in_force=TimeInForce.GTD, expire_time_ns=1_000)
    sim.venue.advance_time(999)
    assert order.status is OrderStatus.ACCEPTED
    sim.venue.advance_time(1_000)
    assert order.status is OrderStatus.EXPIRED
    expired = sim.events_for(order)[-1]
    assert (expired.ts_event, expired.ts_init) == (1_000, 1_000)
    assert sim.locked(sim.instrument.quote_currency) == "0.00000000 USDT"


def test_gtd_expiry_is_processed_before_later_market_data(sim):
    sim.snapshot([("99.00", "1")], [("100.00", "1")], ts=10)
    order = sim.limit(BUY, "1", "98.00", time_in_force=TimeInForce.GTD, expire_time_ns=500)
    sim.trade("97.00", "1", ts=600)
    assert order.status is OrderStatus.EXPIRED
    assert fills(sim, order) == []


def test_gtd_stop_order_expires_too(sim):
    sim.snapshot([("99.00", "1")], [("100.00", "1")], ts=10)
    order = sim.stop_market(BUY, "1", "110.00", time_in_force=TimeInForce.GTD, expire_time_ns=100)
    sim.venue.advance_time(100)
    assert order.status is OrderStatus.EXPIRED
    sim.trade("111.00", "1", ts=200)
    assert sim.kinds(order) == ["OrderAccepted", "OrderExpired"]


def test_stop_limit_post_only_triggered_across_the_book_is_rejected(sim):
    sim.snapshot([("99.00", "1")], [("100.00", "1")])
    order = sim.stop_limit(BUY, "1", "103.00", "101.00", post_only=True)
    sim.snapshot([("99.00", "1")], [("101.00", "1")])
    assert sim.kinds(order) == ["OrderAccepted", "OrderTriggered", "OrderRejected"]
    assert sim.events_for(order)[-1].code == "POST_ONLY_WOULD_TAKE"
    assert sim.locked(sim.instrument.quote_currency) == "0.00000000 USDT"


def test_stop_limit_triggered_by_a_bar_rests_then_fills_on_a_later_bar(sim):
    sim.bar("100", "100.5", "99.5", "100")
    order = sim.stop_limit(SELL, "1", "99.50", "99.00")
    sim.bar("99.5", "99.8", "98.8", "99")  # triggers at 99, where a sell at 99.50 cannot take
    assert order.status is OrderStatus.TRIGGERED
    sim.bar("99", "99.6", "98.9", "99.4")
    assert fills(sim, order) == [("99.50", "1.00000")]


def test_stop_limit_triggered_by_a_bar_into_a_marketable_limit_fills_at_the_trigger(sim):
    sim.bar("100", "100.5", "99.5", "100")
    order = sim.stop_limit(SELL, "1", "98.50", "99.00")
    sim.bar("99.5", "99.8", "98.8", "99")
    assert fills(sim, order) == [("99.00", "1.00000")]
