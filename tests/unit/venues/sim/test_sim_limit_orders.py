import pytest

from bot4.model.enums import LiquiditySide, OrderSide, OrderStatus, TimeInForce
from bot4.model.events import OrderFilled, OrderRejected

BUY, SELL = OrderSide.BUY, OrderSide.SELL
BOOK_BIDS = [("100.00", "1"), ("99.00", "2")]
BOOK_ASKS = [("101.00", "1"), ("102.00", "2")]


def fills(sim, order):
    return [e for e in sim.events_for(order) if isinstance(e, OrderFilled)]


def test_limit_buy_marketable_takes_up_to_its_price_then_rests_the_rest(sim):
    sim.snapshot(BOOK_BIDS, BOOK_ASKS)
    order = sim.limit(BUY, "2", "101.50")
    [fill] = fills(sim, order)
    assert (str(fill.last_px), str(fill.last_qty), fill.liquidity_side) == ("101.00", "1.00000", LiquiditySide.TAKER)
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert [o.client_order_id for o in sim.venue.open_orders()] == [order.client_order_id]


def test_limit_buy_below_market_rests_without_fills(sim):
    sim.snapshot(BOOK_BIDS, BOOK_ASKS)
    order = sim.limit(BUY, "1", "100.00")
    assert sim.kinds(order) == ["OrderAccepted"]
    assert order.status is OrderStatus.ACCEPTED
    assert str(order.venue_order_id) == "SIM-1"


def test_limit_post_only_that_would_take_is_rejected_like_binance(sim):
    sim.snapshot(BOOK_BIDS, BOOK_ASKS)
    order = sim.limit(BUY, "1", "101.00", post_only=True)
    [event] = sim.events_for(order)
    assert isinstance(event, OrderRejected)
    assert event.code == "POST_ONLY_WOULD_TAKE"
    assert event.reason == "Order would immediately match and take."


def test_limit_post_only_that_would_rest_is_accepted(sim):
    sim.snapshot(BOOK_BIDS, BOOK_ASKS)
    order = sim.limit(SELL, "1", "101.00", post_only=True)
    assert order.status is OrderStatus.ACCEPTED


def test_limit_ioc_remainder_expires(sim):
    sim.snapshot(BOOK_BIDS, BOOK_ASKS)
    order = sim.limit(BUY, "2", "101.00", time_in_force=TimeInForce.IOC)
    assert sim.kinds(order) == ["OrderAccepted", "OrderFilled", "OrderExpired"]
    assert str(order.filled_qty) == "1.00000"
    assert sim.venue.open_orders() == []


def test_limit_fok_not_fully_fillable_within_limit_expires_with_zero_fills(sim):
    sim.snapshot(BOOK_BIDS, BOOK_ASKS)
    order = sim.limit(BUY, "2", "101.00", time_in_force=TimeInForce.FOK)
    assert sim.kinds(order) == ["OrderAccepted", "OrderExpired"]
    assert order.filled_raw == 0
    assert sim.venue.book(sim.instrument.id).best_ask_size_raw() == 1_000_000_000


def test_limit_fok_fully_fillable_fills_completely(sim):
    sim.snapshot(BOOK_BIDS, BOOK_ASKS)
    order = sim.limit(BUY, "2", "102.00", time_in_force=TimeInForce.FOK)
    assert [str(f.last_px) for f in fills(sim, order)] == ["101.00", "102.00"]
    assert order.status is OrderStatus.FILLED


def test_limit_with_trades_only_takes_at_last_price_when_within_limit(sim):
    sim.trade("100.00", "1")
    taker = sim.limit(BUY, "1", "100.50")
    resting = sim.limit(BUY, "1", "99.50")
    [fill] = fills(sim, taker)
    assert (str(fill.last_px), fill.liquidity_side) == ("100.00", LiquiditySide.TAKER)
    assert resting.status is OrderStatus.ACCEPTED


def test_limit_buy_locks_notional_plus_fee_plus_one_unit(sim):
    sim.snapshot(BOOK_BIDS, BOOK_ASKS)
    sim.limit(BUY, "1", "100.00")
    assert sim.locked(sim.instrument.quote_currency) == "100.10100000 USDT"
    assert sim.free(sim.instrument.quote_currency) == "99899.89900000 USDT"


def test_limit_sell_locks_base_quantity(sim):
    sim.snapshot(BOOK_BIDS, BOOK_ASKS)
    sim.limit(SELL, "2.5", "105.00")
    assert sim.locked(sim.instrument.base_currency) == "2.50000000 BTC"


def test_limit_cancel_releases_the_lock(sim):
    sim.snapshot(BOOK_BIDS, BOOK_ASKS)
    order = sim.limit(BUY, "1", "100.00")
    sim.venue.cancel_order(order)
    assert order.status is OrderStatus.CANCELED
    assert sim.locked(sim.instrument.quote_currency) == "0.00000000 USDT"
    assert sim.free(sim.instrument.quote_currency) == "100000.00000000 USDT"


def test_limit_fill_releases_lock_proportionally_and_fully_at_the_end(sim):
    sim.snapshot(BOOK_BIDS, BOOK_ASKS)
    order = sim.limit(BUY, "2", "100.00")
    sim.snapshot(BOOK_BIDS, [("100.00", "1")])
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert sim.locked(sim.instrument.quote_currency) == "100.10100000 USDT"
    sim.snapshot(BOOK_BIDS, [("99.00", "5")])
    assert order.status is OrderStatus.FILLED
    assert sim.locked(sim.instrument.quote_currency) == "0.00000000 USDT"
    assert sim.total(sim.instrument.quote_currency) == "99799.80000000 USDT"


def test_limit_buy_without_enough_free_quote_is_rejected(make_sim):
    sim = make_sim(starting_balances={"USDT": "100.1"})
    sim.snapshot(BOOK_BIDS, BOOK_ASKS)
    order = sim.limit(BUY, "1", "100.00")
    assert order.status is OrderStatus.REJECTED
    assert sim.of(OrderRejected)[0].reason == "Account has insufficient balance for requested action."


def test_limit_sell_of_base_already_locked_is_rejected(make_sim):
    sim = make_sim(starting_balances={"USDT": "0", "BTC": "1"})
    sim.snapshot(BOOK_BIDS, BOOK_ASKS)
    sim.limit(SELL, "0.8", "110.00")
    second = sim.limit(SELL, "0.3", "111.00")
    assert second.status is OrderStatus.REJECTED


@pytest.mark.parametrize(
    ("qty", "price", "code", "reason"),
    [
        ("1", "100.005", "PRICE_FILTER", "Filter failure: PRICE_FILTER"),
        ("0.000001", "100.00", "LOT_SIZE", "Filter failure: LOT_SIZE"),
        ("0.04", "100.00", "NOTIONAL", "Filter failure: NOTIONAL"),
    ],
)
def test_limit_breaking_a_filter_is_rejected_with_binance_filter_text(sim, qty, price, code, reason):
    sim.snapshot(BOOK_BIDS, BOOK_ASKS)
    order = sim.limit(BUY, qty, price)
    [event] = sim.events_for(order)
    assert isinstance(event, OrderRejected)
    assert (event.code, event.reason) == (code, reason)


def test_limit_gtd_with_past_expire_time_is_accepted_then_expired(sim):
    sim.snapshot(BOOK_BIDS, BOOK_ASKS, ts=100)
    order = sim.limit(BUY, "1", "101.00", time_in_force=TimeInForce.GTD, expire_time_ns=50)
    assert sim.kinds(order) == ["OrderAccepted", "OrderExpired"]
