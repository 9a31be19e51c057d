from bot4.core.numbers import Money
from bot4.model.enums import LiquiditySide, OrderSide, OrderStatus, TimeInForce
from bot4.model.events import OrderExpired, OrderFilled, OrderRejected

BUY, SELL = OrderSide.BUY, OrderSide.SELL
BOOK_BIDS = [("100.00", "1"), ("99.00", "2")]
BOOK_ASKS = [("101.00", "1"), ("102.00", "2")]


def fills(sim, order):
    return [e for e in sim.events_for(order) if isinstance(e, OrderFilled)]


def test_market_buy_walks_asks_with_one_taker_fill_per_level(sim):
    sim.snapshot(BOOK_BIDS, BOOK_ASKS)
    order = sim.market(BUY, "1.5")
    got = fills(sim, order)
    assert [(str(f.last_px), str(f.last_qty)) for f in got] == [("101.00", "1.00000"), ("102.00", "0.50000")]
    assert [f.liquidity_side for f in got] == [LiquiditySide.TAKER, LiquiditySide.TAKER]
    assert [str(f.trade_id) for f in got] == ["SIM-T1", "SIM-T2"]
    assert [str(f.commission) for f in got] == ["0.10100000 USDT", "0.05100000 USDT"]
    assert order.status is OrderStatus.FILLED
    assert sim.kinds(order) == ["OrderAccepted", "OrderFilled", "OrderFilled"]


def test_market_buy_settles_notional_plus_fee_from_quote(sim):
    sim.snapshot(BOOK_BIDS, BOOK_ASKS)
    sim.market(BUY, "1.5")
    # 101 + 51 = 152 notional, 0.152 fee
    assert sim.total(sim.instrument.quote_currency) == "99847.84800000 USDT"
    assert sim.total(sim.instrument.base_currency) == "11.50000000 BTC"


def test_market_sell_walks_bids_and_receives_notional_minus_fee(sim):
    sim.snapshot(BOOK_BIDS, BOOK_ASKS)
    order = sim.market(SELL, "2")
    assert [(str(f.last_px), str(f.last_qty)) for f in fills(sim, order)] == [
        ("100.00", "1.00000"),
        ("99.00", "1.00000"),
    ]
    assert sim.total(sim.instrument.quote_currency) == "100198.80100000 USDT"
    assert sim.total(sim.instrument.base_currency) == "8.00000000 BTC"


def test_market_orders_in_a_row_do_not_take_the_same_liquidity(sim):
    sim.snapshot(BOOK_BIDS, BOOK_ASKS)
    first = sim.market(BUY, "0.6")
    second = sim.market(BUY, "0.6")
    assert [(str(f.last_px), str(f.last_qty)) for f in fills(sim, first)] == [("101.00", "0.60000")]
    assert [(str(f.last_px), str(f.last_qty)) for f in fills(sim, second)] == [
        ("101.00", "0.40000"),
        ("102.00", "0.20000"),
    ]
    assert list(sim.venue.book(sim.instrument.id).levels(SELL)) == [(102_000_000_000, 1_800_000_000)]


def test_market_consumed_liquidity_comes_back_with_the_next_snapshot(sim):
    sim.snapshot(BOOK_BIDS, BOOK_ASKS)
    sim.market(BUY, "1")
    sim.snapshot(BOOK_BIDS, BOOK_ASKS)
    order = sim.market(BUY, "1")
    assert [str(f.last_px) for f in fills(sim, order)] == ["101.00"]


def test_market_order_remainder_expires_when_book_runs_out(sim):
    sim.snapshot(BOOK_BIDS, BOOK_ASKS)
    order = sim.market(BUY, "4")
    assert sim.kinds(order) == ["OrderAccepted", "OrderFilled", "OrderFilled", "OrderExpired"]
    assert str(order.filled_qty) == "3.00000"
    assert order.status is OrderStatus.EXPIRED


def test_market_order_on_empty_opposite_side_expires_unfilled(sim):
    sim.snapshot(BOOK_BIDS, [])
    order = sim.market(BUY, "1")
    assert sim.kinds(order) == ["OrderAccepted", "OrderExpired"]


def test_market_order_without_market_data_is_rejected(sim):
    order = sim.market(BUY, "1")
    [event] = sim.events_for(order)
    assert isinstance(event, OrderRejected)
    assert event.reason == "no market data for instrument"
    assert event.code == "NO_MARKET_DATA"


def test_market_order_with_trades_only_fills_whole_quantity_at_last_price(sim):
    sim.trade("100.50", "0.001")
    order = sim.market(BUY, "25")
    [fill] = fills(sim, order)
    assert (str(fill.last_px), str(fill.last_qty)) == ("100.50", "25.00000")
    assert fill.liquidity_side is LiquiditySide.TAKER


def test_market_order_with_bars_only_fills_at_bar_close(sim):
    sim.bar("100", "105", "99", "103.25")
    order = sim.market(SELL, "1")
    [fill] = fills(sim, order)
    assert str(fill.last_px) == "103.25"


def test_market_buy_without_enough_quote_is_rejected_with_binance_reason(make_sim):
    sim = make_sim(starting_balances={"USDT": "150"})
    sim.snapshot(BOOK_BIDS, BOOK_ASKS)
    order = sim.market(BUY, "1.5")
    [event] = sim.events_for(order)
    assert isinstance(event, OrderRejected)
    assert event.code == "INSUFFICIENT_BALANCE"
    assert event.reason == "Account has insufficient balance for requested action."


def test_market_buy_checks_cost_including_fee(make_sim):
    exact = make_sim(starting_balances={"USDT": "101.101"})
    exact.snapshot(BOOK_BIDS, BOOK_ASKS)
    assert exact.market(BUY, "1").status is OrderStatus.FILLED
    short = make_sim(starting_balances={"USDT": "101.10099999"})
    short.snapshot(BOOK_BIDS, BOOK_ASKS)
    assert short.market(BUY, "1").status is OrderStatus.REJECTED


def test_market_sell_without_enough_base_is_rejected(make_sim):
    sim = make_sim(starting_balances={"USDT": "1000", "BTC": "0.5"})
    sim.snapshot(BOOK_BIDS, BOOK_ASKS)
    order = sim.market(SELL, "0.6")
    assert order.status is OrderStatus.REJECTED
    assert sim.of(OrderRejected)[0].code == "INSUFFICIENT_BALANCE"


def test_market_fok_without_enough_depth_expires_with_no_fills(sim):
    sim.snapshot(BOOK_BIDS, BOOK_ASKS)
    order = sim.market(BUY, "3.5", time_in_force=TimeInForce.FOK)
    assert sim.kinds(order) == ["OrderAccepted", "OrderExpired"]
    assert list(sim.venue.book(sim.instrument.id).levels(SELL))[0] == (101_000_000_000, 1_000_000_000)


def test_market_notional_filter_uses_best_opposite_price(sim):
    sim.snapshot(BOOK_BIDS, BOOK_ASKS)
    order = sim.market(BUY, "0.04")  # 0.04 x 101 = 4.04 < 5
    [event] = sim.events_for(order)
    assert isinstance(event, OrderRejected)
    assert (event.code, event.reason) == ("NOTIONAL", "Filter failure: NOTIONAL")


def test_market_fill_emits_account_state_after_the_fills(sim):
    sim.snapshot(BOOK_BIDS, BOOK_ASKS)
    sim.events.clear()
    sim.market(BUY, "1")
    assert [type(e).__name__ for e in sim.events] == ["OrderAccepted", "OrderFilled", "AccountState"]
    state = sim.events[-1]
    assert [b.total for b in state.balances] == [
        Money.of("11", sim.instrument.base_currency),
        Money.of("99898.899", sim.instrument.quote_currency),
    ]


def test_market_expired_remainder_is_reported_after_fills_with_venue_order_id(sim):
    sim.snapshot(BOOK_BIDS, [("101.00", "1")])
    order = sim.market(BUY, "2")
    expired = sim.events_for(order)[-1]
    assert isinstance(expired, OrderExpired)
    assert str(expired.venue_order_id) == "SIM-1"


def test_id_prefix_goes_into_venue_order_and_trade_ids() -> None:
    from bot4.core.clock import TestClock
    from bot4.core.ids import ClientOrderId
    from bot4.model.enums import OrderSide
    from bot4.model.orders import Order
    from bot4.testkit import btcusdt, quote, strategy_id
    from bot4.venues.sim.config import SimVenueConfig
    from bot4.venues.sim.venue import SimulatedVenue

    events: list[object] = []
    inst = btcusdt()
    clock = TestClock(1_000)
    venue = SimulatedVenue(
        SimVenueConfig(starting_balances={"USDT": "100000"}, id_prefix="r7"), [inst], clock, events.append
    )
    venue.process_data(quote(inst, "100.00", "100.10", "5", "5", 2_000))
    venue.submit_order(Order.market(
        client_order_id=ClientOrderId("C-1"), strategy_id=strategy_id(), instrument_id=inst.id,
        side=OrderSide.BUY, quantity=inst.make_qty("1"), ts_init=2_000,
    ))
    venue.process_data(quote(inst, "100.00", "100.10", "5", "5", 3_000))
    fills = [e for e in events if type(e).__name__ == "OrderFilled"]
    assert fills and str(fills[0].trade_id) == "SIM-Tr7-1"  # type: ignore[attr-defined]
    assert str(fills[0].venue_order_id) == "SIM-r7-1"  # type: ignore[attr-defined]
