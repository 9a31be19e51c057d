import pytest

from bot4.core.ids import ClientOrderId, InstrumentId, StrategyId
from bot4.model.enums import LiquiditySide, OrderSide, OrderStatus, OrderType
from bot4.model.events import OrderFilled
from bot4.venues.sim import RestingOrders, SimOrder

BUY, SELL = OrderSide.BUY, OrderSide.SELL


def fills(sim, order):
    return [(str(e.last_px), str(e.last_qty)) for e in sim.events_for(order) if isinstance(e, OrderFilled)]


def rest_buy_at_100(sim, qty="1", ahead="2"):
    sim.snapshot([("100.00", ahead), ("99.00", "5")], [("101.00", "5")])
    return sim.limit(BUY, qty, "100.00")


def test_resting_buy_fills_as_maker_at_its_price_when_the_ask_crosses_it(sim):
    order = rest_buy_at_100(sim)
    sim.snapshot([("99.00", "5")], [("99.50", "0.4"), ("100.00", "0.3"), ("100.50", "9")])
    events = [e for e in sim.events_for(order) if isinstance(e, OrderFilled)]
    assert [(str(e.last_px), str(e.last_qty), e.liquidity_side) for e in events] == [
        ("100.00", "0.70000", LiquiditySide.MAKER)
    ]
    # the crossing liquidity at or below 100 was consumed by the fill
    assert list(sim.venue.book(sim.instrument.id).levels(SELL)) == [(100_500_000_000, 9_000_000_000)]


def test_resting_buy_fills_fully_on_a_trade_below_its_price(sim):
    order = rest_buy_at_100(sim, qty="3")
    sim.trade("99.99", "0.01")
    assert fills(sim, order) == [("100.00", "3.00000")]
    assert order.status is OrderStatus.FILLED


def test_resting_buy_trade_through_fills_up_to_trade_size_when_configured(make_sim):
    sim = make_sim(trade_through_fills_full=False)
    order = rest_buy_at_100(sim, qty="3")
    sim.trade("99.99", "1.2")
    assert fills(sim, order) == [("100.00", "1.20000")]


def test_resting_buy_trade_at_its_price_first_consumes_the_queue_ahead(sim):
    order = rest_buy_at_100(sim, qty="1", ahead="2")
    sim.trade("100.00", "1.5")
    assert fills(sim, order) == []
    sim.trade("100.00", "0.8")  # 0.5 left ahead, 0.3 reaches us
    assert fills(sim, order) == [("100.00", "0.30000")]
    sim.trade("100.00", "5")
    assert fills(sim, order) == [("100.00", "0.30000"), ("100.00", "0.70000")]


def test_resting_buy_queue_ahead_is_capped_when_the_level_shrinks(sim):
    order = rest_buy_at_100(sim, qty="1", ahead="2")
    sim.snapshot([("100.00", "0.5"), ("99.00", "5")], [("101.00", "5")])
    sim.snapshot([("100.00", "4"), ("99.00", "5")], [("101.00", "5")])  # growth queues behind us
    sim.trade("100.00", "0.7")
    assert fills(sim, order) == [("100.00", "0.20000")]


def test_resting_buy_fills_on_touch_without_queue_position(make_sim):
    sim = make_sim(queue_position=False)
    order = rest_buy_at_100(sim, qty="1", ahead="2")
    sim.trade("100.00", "0.4")
    assert fills(sim, order) == [("100.00", "0.40000")]


def test_resting_sell_fills_on_a_trade_above_its_price(sim):
    sim.snapshot([("99.00", "5")], [("101.00", "2")])
    order = sim.limit(SELL, "1", "101.00")
    sim.trade("101.01", "0.01")
    assert fills(sim, order) == [("101.00", "1.00000")]


def test_resting_sell_fills_when_the_bid_crosses_it(sim):
    sim.snapshot([("99.00", "5")], [("101.00", "2")])
    order = sim.limit(SELL, "1", "101.00")
    sim.snapshot([("101.50", "3")], [("102.00", "2")])
    assert fills(sim, order) == [("101.00", "1.00000")]


def test_resting_orders_fill_best_price_first_when_the_trade_size_is_shared(make_sim):
    sim = make_sim(trade_through_fills_full=False)
    sim.snapshot([("98.00", "1")], [("101.00", "5")])
    low = sim.limit(BUY, "1", "99.00")
    high = sim.limit(BUY, "1", "100.00")
    sim.trade("97.00", "1.5")
    assert fills(sim, high) == [("100.00", "1.00000")]
    assert fills(sim, low) == [("99.00", "0.50000")]


def test_resting_orders_at_one_price_share_a_trade_in_time_priority(make_sim):
    sim = make_sim(queue_position=False)
    sim.snapshot([("98.00", "1")], [("101.00", "5")])
    first = sim.limit(BUY, "1", "100.00")
    second = sim.limit(BUY, "1", "100.00")
    sim.trade("100.00", "1.5")
    assert fills(sim, first) == [("100.00", "1.00000")]
    assert fills(sim, second) == [("100.00", "0.50000")]


def test_resting_order_placed_after_a_trade_is_not_filled_by_it(sim):
    sim.trade("100.00", "1")
    order = sim.limit(BUY, "1", "99.00")
    assert fills(sim, order) == []
    sim.trade("98.00", "1")
    assert fills(sim, order) == [("99.00", "1.00000")]


def test_bar_low_below_a_resting_buy_fills_it_at_its_price(sim):
    sim.bar("101", "102", "100.5", "101.5")
    order = sim.limit(BUY, "1", "100.00")
    sim.bar("101", "101", "99.5", "100.5")
    assert fills(sim, order) == [("100.00", "1.00000")]


def test_bar_high_above_a_resting_sell_fills_it_at_its_price(sim):
    sim.bar("101", "102", "100.5", "101.5")
    order = sim.limit(SELL, "1", "103.00")
    sim.bar("102", "103.5", "101", "102")
    assert fills(sim, order) == [("103.00", "1.00000")]


def test_bar_touching_a_resting_buy_fills_when_no_queue_is_ahead(sim):
    sim.bar("101", "102", "100.5", "101.5")
    order = sim.limit(BUY, "1", "100.00")
    sim.bar("101", "101", "100", "100.5", volume="0.4")
    assert fills(sim, order) == [("100.00", "0.40000")]


def test_bar_touch_does_not_fill_while_visible_queue_is_ahead(sim):
    order = rest_buy_at_100(sim, qty="1", ahead="2")
    sim.bar("101", "101", "100", "100.5", volume="1")
    assert fills(sim, order) == []
    sim.bar("101", "101", "100", "100.5", volume="1.5")
    assert fills(sim, order) == [("100.00", "0.50000")]


def test_maker_fill_uses_the_maker_rate(make_sim):
    sim = make_sim(maker_fee="0.0002", taker_fee="0.0007")
    order = rest_buy_at_100(sim)
    sim.trade("99.00", "1")
    [fill] = [e for e in sim.events_for(order) if isinstance(e, OrderFilled)]
    assert str(fill.commission) == "0.02000000 USDT"
    taker = sim.market(BUY, "1")
    [taker_fill] = [e for e in sim.events_for(taker) if isinstance(e, OrderFilled)]
    assert str(taker_fill.commission) == "0.07070000 USDT"


def test_resting_buy_queue_ahead_is_capped_by_a_delta_at_its_level(sim):
    order = rest_buy_at_100(sim, qty="1", ahead="2")
    sim.delta(BUY, "100.00", "0.3")
    sim.trade("100.00", "0.5")
    assert fills(sim, order) == [("100.00", "0.20000")]


def test_resting_buy_queue_is_not_touched_by_a_delta_at_another_level(sim):
    order = rest_buy_at_100(sim, qty="1", ahead="2")
    sim.delta(BUY, "99.00", "0.1")
    sim.trade("100.00", "2")
    assert fills(sim, order) == []


def test_resting_sell_trade_through_fills_up_to_trade_size_when_configured(make_sim):
    sim = make_sim(trade_through_fills_full=False)
    sim.snapshot([("99.00", "5")], [("101.00", "2")])
    order = sim.limit(SELL, "3", "101.00")
    sim.trade("101.50", "1.25")
    assert fills(sim, order) == [("101.00", "1.25000")]


def resting_book(buys, sells):
    """RestingOrders holding one order per given price (raw ints), per side."""
    resting = RestingOrders()
    for n, (side, price) in enumerate([(BUY, p) for p in buys] + [(SELL, p) for p in sells]):
        resting.add(
            SimOrder(
                client_order_id=ClientOrderId(f"R-{n}"),
                strategy_id=StrategyId("S-001"),
                instrument_id=InstrumentId.from_str("BTCUSDT.SIM"),
                side=side,
                order_type=OrderType.LIMIT,
                quantity_raw=1,
                price_raw=price,
            )
        )
    return resting


@pytest.mark.parametrize(
    ("print_raw", "buys_through", "sells_through", "buy_reached", "sell_reached"),
    [
        (50, [100, 99, 98], [], True, False),  # below every buy
        (99, [100], [], True, False),  # at a buy level: 100 is through, 99 is at
        (100, [], [], True, False),  # at the best buy
        (101, [], [], False, True),  # at the best sell
        (102, [], [101], False, True),
        (200, [], [101, 102, 104], False, True),  # above every sell
    ],
)
def test_resting_orders_through_and_reached_follow_the_print(
    print_raw, buys_through, sells_through, buy_reached, sell_reached
):
    resting = resting_book(buys=[98, 99, 100], sells=[101, 102, 104])
    assert resting.through(BUY, print_raw) == buys_through
    assert resting.through(SELL, print_raw) == sells_through
    assert resting.reached(BUY, print_raw) is buy_reached
    assert resting.reached(SELL, print_raw) is sell_reached


def test_resting_orders_empty_side_is_never_reached():
    resting = resting_book(buys=[], sells=[])
    assert not resting.reached(BUY, 1)
    assert not resting.reached(SELL, 10**12)
    assert resting.through(BUY, 0) == []
    assert resting.through(SELL, 10**12) == []
