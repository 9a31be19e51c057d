import msgspec
import pytest

import bot4.venues.sim as sim_package
from bot4.core.errors import ConfigError, UnknownInstrumentError
from bot4.core.ids import AccountId, InstrumentId, TradeId, Venue
from bot4.core.numbers import Currency, Price, Quantity
from bot4.execution.ports import VenueClient
from bot4.model.account import AccountState
from bot4.model.data import TradeTick
from bot4.model.enums import AccountType, AggressorSide, OrderSide, OrderStatus, TimeInForce
from bot4.model.events import OrderFilled, OrderRejected
from bot4.model.instrument import Instrument

BUY, SELL = OrderSide.BUY, OrderSide.SELL


def fills(sim, order):
    return [(str(e.last_px), str(e.last_qty)) for e in sim.events_for(order) if isinstance(e, OrderFilled)]


def test_venue_names_itself_and_its_account_after_the_config(make_sim):
    sim = make_sim(venue="PAPER")
    assert sim.venue.venue == Venue("PAPER")
    assert sim.venue.account_id == AccountId("PAPER-001")


def test_venue_satisfies_the_venue_client_port(sim):
    client: VenueClient = sim.venue
    assert client.venue == Venue("SIM")


def test_venue_account_state_lists_every_balance(sim):
    state = sim.venue.account_state()
    assert isinstance(state, AccountState)
    assert [(b.currency.code, str(b.total)) for b in state.balances] == [
        ("BTC", "10.00000000 BTC"),
        ("USDT", "100000.00000000 USDT"),
    ]


def test_venue_starting_balance_finer_than_currency_precision_raises_config_error(make_sim):
    with pytest.raises(ConfigError) as info:
        make_sim(starting_balances={"USDT": "1.000000001"})
    assert info.value.context == {"field": "starting_balances.USDT", "value": "1.000000001"}


def test_venue_order_for_unknown_instrument_is_rejected_not_raised(sim):
    sim.snapshot([("99.00", "1")], [("100.00", "1")])
    other = Instrument.create(
        instrument_id=InstrumentId.from_str("ETHUSDT.SIM"),
        base=Currency("ETH", 8),
        quote=Currency("USDT", 8),
        tick_size="0.01",
        step_size="0.0001",
    )
    order = sim.limit(BUY, "1", "99.00", instrument=other)
    [event] = sim.events_for(order)
    assert isinstance(event, OrderRejected)
    assert (event.code, event.reason) == ("UNKNOWN_INSTRUMENT", "Invalid symbol.")


def test_venue_data_for_unknown_instrument_raises(sim):
    tick = TradeTick(
        InstrumentId.from_str("ETHUSDT.SIM"),
        Price.from_str("1.00"),
        Quantity.from_str("1"),
        AggressorSide.BUYER,
        TradeId("1"),
        5,
        5,
    )
    with pytest.raises(UnknownInstrumentError):
        sim.venue.process_data(tick)
    assert sim.venue.now_ns == 0


def test_venue_duplicate_working_client_order_id_is_rejected(sim):
    sim.snapshot([("99.00", "1")], [("100.00", "1")])
    first = sim.limit(BUY, "1", "98.00")
    del sim.orders[first.client_order_id]  # the local order cannot take a second rejection
    sim.venue.submit_order(first)
    assert sim.events[-1].code == "DUPLICATE_ORDER"
    assert sim.events[-1].reason == "Duplicate order sent."


def test_venue_latency_delays_a_command_until_time_passes_its_arrival(make_sim):
    sim = make_sim(latency_ns=1_000)
    sim.snapshot([("99.00", "1")], [("100.00", "1")], ts=10)
    order = sim.market(BUY, "0.5")
    assert sim.kinds(order) == []
    sim.venue.advance_time(1_009)
    assert sim.kinds(order) == []
    sim.venue.advance_time(1_010)
    assert sim.kinds(order) == ["OrderAccepted", "OrderFilled"]
    assert sim.events_for(order)[0].ts_event == 1_010


def test_venue_latency_lets_market_data_move_before_the_order_arrives(make_sim):
    sim = make_sim(latency_ns=100)
    sim.snapshot([("99.00", "1")], [("100.00", "1")], ts=10)
    order = sim.market(BUY, "1")
    sim.snapshot([("99.00", "1")], [("100.50", "1")], ts=50)  # before arrival at 110
    sim.snapshot([("99.00", "1")], [("105.00", "1")], ts=200)  # the order arrives first
    assert fills(sim, order) == [("100.50", "1.00000")]


def test_venue_commands_with_equal_arrival_are_processed_in_sending_order(make_sim):
    sim = make_sim(latency_ns=50)
    sim.snapshot([("99.00", "1")], [("100.00", "1")], ts=10)
    order = sim.limit(BUY, "1", "98.00")
    sim.venue.cancel_order(order)
    sim.venue.advance_time(60)
    assert sim.kinds(order) == ["OrderAccepted", "OrderCanceled"]


def test_venue_stamps_events_with_its_own_time(sim):
    sim.snapshot([("99.00", "1")], [("100.00", "1")], ts=10)
    order = sim.limit(BUY, "1", "99.00")
    sim.trade("98.00", "1", ts=77)
    accepted, filled = sim.events_for(order)
    assert (accepted.ts_event, accepted.ts_init) == (10, 10)
    assert (filled.ts_event, filled.ts_init) == (77, 77)
    assert sim.events[-1].ts_event == 77


def test_venue_zero_latency_order_sent_from_an_event_handler_runs_after_the_current_work(sim):
    sim.snapshot([("99.00", "1")], [("100.00", "5")])
    resting = sim.limit(BUY, "1", "99.50")
    placed = []

    def react(event):
        if isinstance(event, OrderFilled) and event.client_order_id == resting.client_order_id and not placed:
            placed.append(sim.limit(SELL, "1", "99.60"))

    sim.on_event = react
    sim.trade("99.40", "1")
    assert resting.status is OrderStatus.FILLED
    [follow_up] = placed
    assert follow_up.status is OrderStatus.ACCEPTED
    kinds = [type(e).__name__ for e in sim.events[-4:]]
    assert kinds == ["OrderFilled", "AccountState", "OrderAccepted", "AccountState"]


def test_venue_quotes_build_a_top_of_book_when_there_is_no_l2(sim):
    sim.quote("99.00", "100.00", "1", "0.5")
    order = sim.market(BUY, "1")
    assert fills(sim, order) == [("100.00", "0.50000")]
    assert sim.kinds(order)[-1] == "OrderExpired"


def test_venue_quotes_are_ignored_for_the_book_once_l2_is_seen(sim):
    sim.snapshot([("99.00", "1")], [("100.00", "1")])
    sim.quote("90.00", "91.00", "1", "1")
    assert sim.venue.book(sim.instrument.id).best_ask_raw() == 100_000_000_000
    assert sim.venue.engine(sim.instrument.id).source.value == "L2"


def test_venue_position_is_the_signed_sum_of_its_fills(sim):
    sim.snapshot([("99.00", "5")], [("100.00", "5")])
    sim.market(BUY, "2")
    sim.market(SELL, "0.5")
    assert sim.venue.position_raw(sim.instrument.id) == 1_500_000_000


def test_venue_margin_account_may_borrow_quote_within_leverage(make_sim):
    sim = make_sim(account_type=AccountType.MARGIN, leverage="2", starting_balances={"USDT": "1000"})
    sim.snapshot([("99.00", "50")], [("100.00", "50")])
    order = sim.market(BUY, "19")
    assert order.status is OrderStatus.FILLED
    assert sim.total(sim.instrument.quote_currency) == "-901.90000000 USDT"


def test_venue_margin_order_beyond_leverage_is_rejected(make_sim):
    sim = make_sim(account_type=AccountType.MARGIN, leverage="2", starting_balances={"USDT": "1000"})
    sim.snapshot([("99.00", "50")], [("100.00", "50")])
    order = sim.market(BUY, "20.01")
    assert order.status is OrderStatus.REJECTED
    assert sim.of(OrderRejected)[0].code == "INSUFFICIENT_BALANCE"


def test_venue_margin_short_sale_borrows_base(make_sim):
    sim = make_sim(account_type=AccountType.MARGIN, leverage="3", starting_balances={"USDT": "1000"})
    sim.snapshot([("100.00", "50")], [("101.00", "50")])
    order = sim.limit(SELL, "5", "100.00")
    assert order.status is OrderStatus.FILLED
    assert sim.total(sim.instrument.base_currency) == "-5.00000000 BTC"
    too_much = sim.limit(SELL, "26", "100.00")  # 31 x 100 > 3 x equity (~999.5)
    assert too_much.status is OrderStatus.REJECTED


def run_scripted_session(make_sim):
    sim = make_sim(latency_ns=7, trade_through_fills_full=False)
    sim.snapshot([("99.00", "1"), ("98.00", "3")], [("100.00", "1"), ("101.00", "2")], ts=10)
    sim.limit(BUY, "1.5", "99.00")
    sim.market(BUY, "1.2")
    sim.stop_market(SELL, "0.5", "97.50")
    sim.trade("99.00", "1.1", ts=30)
    sim.snapshot([("97.00", "4")], [("98.50", "2")], ts=40)
    sim.trade("96.00", "3", ts=50)
    sim.venue.advance_time(100)
    return [msgspec.json.encode(e) for e in sim.events]


def test_venue_same_inputs_give_the_same_events_byte_for_byte(make_sim):
    first = run_scripted_session(make_sim)
    second = run_scripted_session(make_sim)
    assert len(first) > 10
    assert first == second


def test_sim_package_exports_are_pinned():
    assert sorted(sim_package.__all__) == [
        "BookSource",
        "MarketView",
        "MarksProvider",
        "MatchingEngine",
        "OrderAccounting",
        "OrderChecks",
        "Reject",
        "RestingOrders",
        "SimLedger",
        "SimOrder",
        "SimVenueConfig",
        "SimulatedVenue",
        "Takes",
        "buy_lock_raw",
        "commission_raw",
        "filter_rejection",
        "round_half_even",
        "settled_notional_raw",
    ]
    for name in sim_package.__all__:
        assert getattr(sim_package, name) is not None


def test_venue_cancel_arriving_after_the_order_filled_is_cancel_rejected(make_sim):
    sim = make_sim(latency_ns=100)
    sim.snapshot([("99.00", "1")], [("100.00", "1")], ts=10)
    order = sim.limit(BUY, "1", "99.50")
    sim.venue.advance_time(110)
    sim.clock.set_time(150)
    sim.venue.cancel_order(order)  # reaches the venue at 250
    sim.trade("99.00", "1", ts=200)
    sim.venue.advance_time(250)
    assert sim.kinds(order) == ["OrderAccepted", "OrderFilled", "OrderCancelRejected"]
    assert order.status is OrderStatus.FILLED


def test_venue_gtd_expiry_comes_before_a_command_arriving_at_the_same_time(make_sim):
    sim = make_sim(latency_ns=100)
    sim.snapshot([("99.00", "1")], [("100.00", "1")], ts=0)
    order = sim.limit(BUY, "1", "98.00", time_in_force=TimeInForce.GTD, expire_time_ns=300)
    sim.clock.set_time(200)
    sim.venue.cancel_order(order)  # arrives at 300 too
    sim.venue.advance_time(300)
    assert sim.kinds(order) == ["OrderAccepted", "OrderExpired", "OrderCancelRejected"]



def other_trade(sim, price, ts):
    """A trade on the venue's second instrument (ETHUSDT), with the clock moved to ``ts``."""
    sim.clock.set_time(ts)
    instrument = sim.instruments[1]
    sim.venue.process_data(
        TradeTick(instrument.id, Price.from_str(price), Quantity.from_str("1"), AggressorSide.BUYER,
                  TradeId(f"E-{ts}"), ts, ts)
    )


def test_venue_trade_without_working_orders_moves_only_time_and_last_price(sim):
    sim.trade("100.00", "1", ts=10)
    sim.trade("101.00", "1", ts=20)
    assert sim.events == []
    assert sim.venue.now_ns == 20
    assert sim.venue.engine(sim.instrument.id).last_raw == 101_000_000_000


def test_venue_data_older_than_its_time_does_not_move_time_back(sim):
    sim.trade("100.00", "1", ts=10)
    sim.venue.advance_time(50)
    sim.trade("99.00", "1", ts=30)
    order = sim.market(BUY, "0.1")
    assert sim.venue.now_ns == 50
    assert sim.events_for(order)[0].ts_event == 50
    assert fills(sim, order) == [("99.00", "0.10000")]


def test_venue_data_for_an_instrument_without_orders_first_runs_commands_due_on_another(make_two_sim):
    sim = make_two_sim(latency_ns=100)
    sim.trade("100.00", "1", ts=10)
    order = sim.market(BUY, "0.5")  # arrives at 110
    other_trade(sim, "2000.00", ts=150)
    accepted, filled = sim.events_for(order)
    assert (accepted.ts_event, filled.ts_event) == (110, 110)
    assert sim.venue.now_ns == 150


def test_venue_trade_on_one_instrument_leaves_resting_orders_on_another_alone(make_two_sim):
    sim = make_two_sim()
    sim.trade("100.00", "1", ts=10)
    order = sim.limit(BUY, "1", "99.00")
    other_trade(sim, "50.00", ts=20)
    assert sim.kinds(order) == ["OrderAccepted"]
    sim.trade("98.00", "1", ts=30)
    assert fills(sim, order) == [("99.00", "1.00000")]
