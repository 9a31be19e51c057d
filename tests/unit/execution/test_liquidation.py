"""The liquidation engine on three simulated venues with different fees and depths."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bot4.core.bus import MessageBus
from bot4.core.clock import TestClock
from bot4.core.ids import ClientOrderId, TraderId, Venue
from bot4.data.engine import DataEngine
from bot4.execution.engine import ExecutionEngine
from bot4.execution.liquidation import JobStatus, LiquidationConfig, Liquidator
from bot4.execution.routing import RouterConfig
from bot4.execution.smart_router import SmartOrderRouter
from bot4.model.enums import OrderSide
from bot4.model.events import OrderFilled, OrderRejected
from bot4.model.orders import Order
from bot4.model.status import CIRCUIT_TOPIC, CircuitState
from bot4.net.breaker import BreakerConfig, BreakerRegistry
from bot4.portfolio.portfolio import Portfolio
from bot4.risk.state import RISK_TOPIC, StateChangeCause, TradingState, TradingStateChanged
from bot4.testkit import book_snapshot, btcusdt, strategy_id
from bot4.venues.sim.config import SimVenueConfig
from bot4.venues.sim.venue import SimulatedVenue

START = 1_700_000_000_000_000_000
SECOND = 1_000_000_000
BUY, SELL = OrderSide.BUY, OrderSide.SELL

# Venue: (taker fee, bid levels (price, size)) — each venue's book is refreshed every step.
VENUES = {
    "ALPHA": ("0.001", [("60000.00", "0.30"), ("59990.00", "0.50"), ("59900.00", "2")]),
    "BRAVO": ("0.0005", [("59995.00", "0.20"), ("59985.00", "0.40"), ("59800.00", "2")]),
    "CHARLIE": ("0.002", [("60005.00", "0.25"), ("59980.00", "0.60"), ("59700.00", "2")]),
}


class FlakyVenue:
    """A venue client that starts rejecting every order when told to (a venue going bad)."""

    def __init__(self, inner: SimulatedVenue, execution: ExecutionEngine, clock: TestClock) -> None:
        self.inner = inner
        self.execution = execution
        self.clock = clock
        self.failing = False
        self.rejected = 0

    venue = property(lambda self: self.inner.venue)
    account_id = property(lambda self: self.inner.account_id)
    supports_amend = property(lambda self: self.inner.supports_amend)

    def submit_order(self, order: Order) -> None:
        if not self.failing:
            self.inner.submit_order(order)
            return
        self.rejected += 1
        now = self.clock.timestamp_ns()
        self.execution.process(OrderRejected(
            client_order_id=order.client_order_id, instrument_id=order.instrument_id, strategy_id=order.strategy_id,
            code="-1001", reason="Internal error; unable to process your request.", ts_event=now, ts_init=now,
        ))

    def cancel_order(self, order: Order) -> None:
        self.inner.cancel_order(order)

    def modify_order(self, order: Order, *args: Any) -> None:
        self.inner.modify_order(order, *args)


class World:
    def __init__(
        self, *, band_bps: str = "30", max_slice: str | None = "0.6", trigger: bool = False, margin_floor: str | None = None
    ) -> None:
        self.bus = MessageBus()
        self.clock = TestClock(START)
        self.portfolio = Portfolio(self.bus)
        self.data = DataEngine(self.bus, self.portfolio)
        self.execution = ExecutionEngine(self.bus, self.clock)
        self.instruments = []
        self.venues: dict[str, SimulatedVenue] = {}
        self.clients: dict[str, Any] = {}
        for name, (fee, _) in VENUES.items():
            inst = btcusdt(name, taker_fee=fee, maker_fee=fee)
            self.instruments.append(inst)
            venue = SimulatedVenue(
                SimVenueConfig(venue=name, starting_balances={"USDT": "10000000", "BTC": "0"}, queue_position=False),
                [inst], self.clock, self.execution.process,
            )
            self.venues[name] = venue
            client = FlakyVenue(venue, self.execution, self.clock)
            self.clients[name] = client
            self.execution.register_client(client)
            self.execution.add_instrument(inst)
            self.portfolio.add_instrument(inst)
            self.data.add_instrument(inst)
            self.execution.process(venue.account_state())
        self.breakers = BreakerRegistry(self.clock, self.bus, BreakerConfig(failure_threshold=2, cooldown=3600))
        self.circuit_events: list[Any] = []
        self.bus.subscribe(CIRCUIT_TOPIC, self.circuit_events.append)
        self.router = SmartOrderRouter(
            execution=self.execution, books=self.data.book, portfolio=self.portfolio, clock=self.clock, bus=self.bus,
            breaker_open=lambda v: not self.breakers.get(v, "orders", critical=True).allow(),
            config=RouterConfig(max_book_age_ns=5 * SECOND),
        )
        self.liquidator = Liquidator(
            LiquidationConfig(
                band_bps=Decimal(band_bps), max_slice=max_slice, interval_ns=SECOND, max_idle_slices=5,
                trigger_states=frozenset({TradingState.HALTED}) if trigger else frozenset(),
                margin_floor=None if margin_floor is None else Decimal(margin_floor),
            ),
            router=self.router, clock=self.clock, bus=self.bus, execution=self.execution, portfolio=self.portfolio,
            trader_id=TraderId("T-001"), breakers=self.breakers,
        )
        self.fills: list[OrderFilled] = []
        self.bus.subscribe("events.fills", self.fills.append)
        self.refresh()

    def refresh(self) -> None:
        now = self.clock.timestamp_ns()
        for inst in self.instruments:
            _, bids = VENUES[str(inst.id.venue)]
            best = Decimal(bids[0][0])
            asks = [(f"{best + Decimal('10.00') + i:.2f}", "5") for i in range(3)]
            snap = book_snapshot(inst, bids, asks, now)
            self.venues[str(inst.id.venue)].process_data(snap)
            self.data.process(snap)

    def buy(self, venue: str, qty: str) -> None:
        inst = next(i for i in self.instruments if str(i.id.venue) == venue)
        order = Order.market(
            client_order_id=ClientOrderId(f"SETUP-{venue}-{len(self.fills)}"), strategy_id=strategy_id(),
            instrument_id=inst.id, side=BUY, quantity=inst.make_qty(qty), ts_init=self.clock.timestamp_ns(),
        )
        self.execution.submit_order(order)
        self.venues[venue].advance_time(self.clock.timestamp_ns())

    def step(self) -> None:
        """One second: fresh books, due timers (slices), then the venues process commands."""
        target = self.clock.timestamp_ns() + SECOND
        self.clock.set_time(target - 1)
        self.refresh()
        for event, handler in self.clock.advance_time(target):
            handler(event)
        for venue in self.venues.values():
            venue.advance_time(target)

    def position(self) -> Decimal:
        return sum((self.portfolio.position(i.id).signed_qty for i in self.instruments), Decimal(0))


def test_position_larger_than_top_of_book_at_three_venues_is_fully_unwound_within_the_band() -> None:
    w = World()
    for venue, qty in (("ALPHA", "0.8"), ("BRAVO", "0.7"), ("CHARLIE", "0.9")):
        w.buy(venue, qty)
    assert w.position() == Decimal("2.4")  # far above any top of book (0.30 / 0.20 / 0.25)
    job = w.liquidator.liquidate(w.instruments, "test unwind")
    assert job is not None
    setup_fills = len(w.fills)
    for _ in range(40):
        w.step()
        if w.liquidator.report(job).status is not JobStatus.RUNNING:
            break
    report = w.liquidator.report(job)
    assert report.status is JobStatus.COMPLETED, report
    assert w.position() == 0
    assert Decimal(report.filled) == Decimal("2.4") and Decimal(report.residual) == 0
    assert len(report.slices) >= 3  # sliced, not swept
    venues_used = {leg.venue for s in report.slices for leg in s.legs if leg.outcome in ("filled", "partially filled")}
    assert venues_used == {"ALPHA", "BRAVO", "CHARLIE"}
    by_id = {str(f.client_order_id): f for f in w.fills[setup_fills:]}
    for s in report.slices:
        for leg in s.legs:
            fill = by_id.get(leg.client_order_id)
            if fill is not None:  # the per-slice slippage bound: never below the band
                assert fill.last_px.as_decimal() >= Decimal(s.band)
            if leg.outcome == "no execution":
                assert leg.avg_price is None
    assert Decimal(report.cost) > 0 and Decimal(report.fees) > 0


def test_a_venue_failing_mid_unwind_trips_its_breaker_and_the_rest_goes_elsewhere() -> None:
    w = World(max_slice="0.4")
    for venue, qty in (("ALPHA", "0.8"), ("BRAVO", "0.7"), ("CHARLIE", "0.9")):
        w.buy(venue, qty)
    job = w.liquidator.liquidate(w.instruments, "test unwind")
    assert job is not None
    w.step()
    w.clients["CHARLIE"].failing = True  # CHARLIE starts rejecting every order
    for _ in range(60):
        w.step()
        if w.liquidator.report(job).status is not JobStatus.RUNNING:
            break
    report = w.liquidator.report(job)
    breaker = w.breakers.get(Venue("CHARLIE"), "orders", critical=True)
    assert breaker.state is CircuitState.OPEN
    assert any(e.state is CircuitState.OPEN and str(e.venue) == "CHARLIE" for e in w.circuit_events)
    assert w.clients["CHARLIE"].rejected == 2  # then excluded: no more orders sent there
    rejected_legs = [leg for s in report.slices for leg in s.legs if leg.outcome == "rejected"]
    assert len(rejected_legs) == 2 and all("Internal error" in (leg.reason or "") for leg in rejected_legs)
    # ALPHA and BRAVO held 1.5 of it: sold there. CHARLIE's own holding cannot move elsewhere.
    left_at_charlie = w.portfolio.position(next(i.id for i in w.instruments if str(i.id.venue) == "CHARLIE")).signed_qty
    assert w.position() == left_at_charlie
    assert report.status is JobStatus.STOPPED and Decimal(report.residual) == left_at_charlie
    assert "circuit breaker open" in (report.residual_reason or "") or "executed nothing" in (report.residual_reason or "")


def test_no_liquidity_inside_the_band_reports_slices_with_no_execution_and_stops_with_residual() -> None:
    w = World(band_bps="0.1")  # 0.1 bps band: below every bid
    w.buy("ALPHA", "0.5")
    # Bids at ALPHA start at 60000.00 but mid ~ 60002.5 across venues; band floor is above all bids.
    job = w.liquidator.liquidate(w.instruments, "tight band")
    assert job is not None
    for _ in range(80):
        w.step()
        if w.liquidator.report(job).status is not JobStatus.RUNNING:
            break
    report = w.liquidator.report(job)
    assert report.status is JobStatus.STOPPED
    assert Decimal(report.filled) == 0 and report.avg_price is None
    assert all(s.outcome in ("no route", "no execution") for s in report.slices)
    assert Decimal(report.residual) == Decimal("0.5")


def test_risk_halt_starts_an_unwind_when_configured() -> None:
    w = World(trigger=True)
    w.buy("BRAVO", "0.3")
    w.liquidator.register(w.instruments)
    now = w.clock.timestamp_ns()
    w.bus.publish(RISK_TOPIC, TradingStateChanged(
        state=TradingState.HALTED, previous=TradingState.ACTIVE, cause=StateChangeCause.OPERATOR,
        reason="kill switch", details={}, ts_event=now, ts_init=now,
    ))
    for _ in range(10):
        w.step()
    reports = w.liquidator.reports()
    assert len(reports) == 1 and "kill switch" in reports[0].reason
    assert reports[0].status is JobStatus.COMPLETED and w.position() == 0


def test_margin_ratio_below_the_floor_starts_an_unwind() -> None:
    # 30,000,000 USDT of equity over three venues; 0.3 BTC (~18,000 USDT) of exposure gives a
    # ratio near 1,667: a floor of 2,000 is breached by the buy, a floor of 1,000 is not.
    calm = World(margin_floor="1000")
    calm.liquidator.register(calm.instruments)
    calm.buy("BRAVO", "0.3")
    calm.step()
    ratio = calm.liquidator.margin_ratio()
    assert ratio is not None and Decimal(1000) < ratio < Decimal(2000)
    assert calm.liquidator.reports() == []

    w = World(margin_floor="2000")
    w.liquidator.register(w.instruments)
    w.buy("BRAVO", "0.3")
    for _ in range(10):
        w.step()
    (report,) = w.liquidator.reports()
    assert "margin ratio" in report.reason and "below the floor 2000" in report.reason
    assert report.status is JobStatus.COMPLETED and w.position() == 0
