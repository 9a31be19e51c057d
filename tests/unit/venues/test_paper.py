"""Paper venue: live-style data in, simulated fills out, through the real execution engine."""

from __future__ import annotations

from bot4.core.bus import MessageBus
from bot4.core.clock import TestClock
from bot4.core.ids import ClientOrderId
from bot4.data.engine import DataEngine
from bot4.execution.engine import ExecutionEngine
from bot4.model.enums import OrderSide, OrderStatus, TimeInForce
from bot4.model.orders import Order
from bot4.portfolio.portfolio import Portfolio
from bot4.testkit import btcusdt, quote, strategy_id, trade
from bot4.venues.paper import PaperVenue
from bot4.venues.sim.config import SimVenueConfig

START = 1_700_000_000_000_000_000


def test_paper_venue_fills_market_and_resting_orders_from_the_live_feed() -> None:
    bus = MessageBus()
    clock = TestClock(START)
    portfolio = Portfolio(bus)
    data = DataEngine(bus, portfolio)
    execution = ExecutionEngine(bus, clock)
    inst = btcusdt("BINANCE")
    venue = PaperVenue(SimVenueConfig(venue="BINANCE", starting_balances={"USDT": "100000"}), [inst], clock, execution.process)
    execution.register_client(venue)
    for engine in (portfolio, data, execution):
        engine.add_instrument(inst)
    execution.process(venue.account_state())

    def feed(event: object) -> None:
        clock.set_time(event.ts_init)  # type: ignore[attr-defined]
        venue.on_data(event)  # type: ignore[arg-type]
        data.process(event)  # type: ignore[arg-type]

    feed(quote(inst, "60000.00", "60000.10", "2", "2", START + 1_000))
    market = Order.market(client_order_id=ClientOrderId("M-1"), strategy_id=strategy_id(), instrument_id=inst.id,
                          side=OrderSide.BUY, quantity=inst.make_qty("0.5"), ts_init=clock.timestamp_ns())
    execution.submit_order(market)
    assert market.status is OrderStatus.FILLED and str(market.avg_px) == "60000.1"  # at once, at the ask

    resting = Order.limit(client_order_id=ClientOrderId("L-1"), strategy_id=strategy_id(), instrument_id=inst.id,
                          side=OrderSide.SELL, quantity=inst.make_qty("0.2"), price=inst.make_price("60050.00"),
                          time_in_force=TimeInForce.GTC, ts_init=clock.timestamp_ns())
    execution.submit_order(resting)
    assert resting.status is OrderStatus.ACCEPTED
    feed(trade(inst, "60050.00", "1", START + 2_000))  # the live tape trades through our price
    assert resting.status is OrderStatus.FILLED
    assert portfolio.position(inst.id).signed_qty == inst.make_qty("0.3").as_decimal()
