"""TWAP and iceberg parents, run against real engines.

The world is the backtest's wiring without the data loop: bus, simulated clock, portfolio,
data engine, execution engine, risk engine and a simulated venue filling from the quotes the
test feeds. Time moves like in the backtest engine: each due timer fires with the clock at
its own due time, after the venue has caught up to it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bot4.execution.algos as algos
from bot4.core import (
    ClientOrderId,
    ConfigError,
    InvalidInputError,
    InvalidOrderError,
    InvalidStateTransition,
    MessageBus,
    Price,
    Quantity,
    TestClock,
)
from bot4.data import DataEngine
from bot4.execution import ExecutionEngine
from bot4.execution.algos import (
    AlgoKind,
    AlgoReport,
    AlgoStatus,
    Iceberg,
    IcebergConfig,
    SliceOutcome,
    Twap,
    TwapConfig,
    twap_schedule,
)
from bot4.model import (
    OrderEvent,
    OrderFilled,
    OrderSide,
    OrderStatus,
    OrderSubmitted,
    OrderType,
    TimeInForce,
)
from bot4.model.orders import Order
from bot4.portfolio import Portfolio
from bot4.risk import RiskConfig, RiskEngine, TradingState
from bot4.testkit import btcusdt, quote, strategy_id, trader_id
from bot4.venues.sim import SimulatedVenue, SimVenueConfig

START = 1_700_000_000_000_000_000
SEC = 1_000_000_000
MIN = 60 * SEC
BUY = OrderSide.BUY
SELL = OrderSide.SELL
BTC = btcusdt()


class World:
    """Real engines around one simulated venue; the test feeds quotes and moves time."""

    def __init__(
        self, risk: RiskConfig | None = None, *, usdt: str = "1000000", btc: str = "10", latency_ns: int = 0
    ) -> None:
        self.bus = MessageBus()
        self.clock = TestClock(START)
        self.portfolio = Portfolio(self.bus)
        self.execution = ExecutionEngine(self.bus, self.clock)
        self.data = DataEngine(self.bus, self.portfolio)
        self.venue = SimulatedVenue(
            SimVenueConfig(starting_balances={"USDT": usdt, "BTC": btc}, latency_ns=latency_ns),
            [BTC], self.clock, self.execution.process,
        )
        self.execution.register_client(self.venue)
        for engine in (self.execution, self.portfolio, self.data):
            engine.add_instrument(BTC)
        self.execution.process(self.venue.account_state())
        self.events: list[OrderEvent] = []
        self.bus.subscribe(f"events.order.{strategy_id()}", self.events.append)
        self.published: list[AlgoReport] = []
        self.bus.subscribe(f"events.algo.{strategy_id()}", self.published.append)
        self.risk: RiskEngine | None = None
        if risk is not None:
            self.risk = RiskEngine(risk, self.clock, self.bus, self.portfolio, {BTC.id: BTC}, self.execution)
            self.execution.set_risk(self.risk)

    def quote(self, bid: str, ask: str, size: str = "10") -> None:
        tick = quote(BTC, bid, ask, size, size, self.clock.timestamp_ns())
        self.venue.process_data(tick)
        self.data.process(tick)

    def run_until(self, to_ns: int) -> None:
        due = self.clock.next_due_ns()
        while due is not None and due <= to_ns:
            self.venue.advance_time(due)
            for event, handler in self.clock.advance_time(due):
                handler(event)
            due = self.clock.next_due_ns()
        self.clock.set_time(to_ns)
        self.venue.advance_time(to_ns)

    def twap(self, qty: str, slices: int, *, duration_ns: int | None = None, algo_id: str = "TWAP-1",
             side: OrderSide = BUY, **kwargs: Any) -> Twap:
        config = TwapConfig(
            instrument_id=BTC.id, side=side, quantity=BTC.make_qty(qty), slices=slices,
            duration_ns=slices * MIN if duration_ns is None else duration_ns, **kwargs,
        )
        return Twap(config, algo_id=algo_id, **self._wiring())

    def iceberg(self, qty: str, display: str, price: str, side: OrderSide = BUY) -> Iceberg:
        config = IcebergConfig(
            instrument_id=BTC.id, side=side, quantity=BTC.make_qty(qty),
            display_quantity=BTC.make_qty(display), limit_price=BTC.make_price(price),
        )
        return Iceberg(config, algo_id="ICE-1", **self._wiring())

    def _wiring(self) -> dict[str, Any]:
        return {
            "strategy_id": strategy_id(), "trader_id": trader_id(), "clock": self.clock, "bus": self.bus,
            "execution": self.execution, "instrument": BTC,
        }

    def child(self, client_order_id: ClientOrderId | None) -> Order:
        assert client_order_id is not None
        order = self.execution.order(client_order_id)
        assert order is not None
        return order

    def fills(self) -> list[OrderFilled]:
        return [e for e in self.events if isinstance(e, OrderFilled)]


def qty(text: str) -> Quantity:
    return BTC.make_qty(text)


# -- TWAP -------------------------------------------------------------------------------------


def test_twap_sends_one_child_per_slice_on_schedule_with_step_sizes_summing_to_target() -> None:
    world = World(RiskConfig(max_order_qty="1"))
    world.quote("59999.99", "60000.00")
    twap = world.twap("0.01003", 4)
    twap.start()
    assert sorted(world.clock.timer_names) == [f"TWAP-1.slice.{i}" for i in range(4)]

    world.run_until(START + 4 * MIN)

    report = twap.report()
    assert report.kind is AlgoKind.TWAP
    assert report.status is AlgoStatus.COMPLETED
    assert [s.scheduled_ns for s in report.slices] == [START + i * MIN for i in range(4)]
    assert [s.sent_ns for s in report.slices] == [START + i * MIN for i in range(4)]
    assert [s.qty for s in report.slices] == [qty("0.0025"), qty("0.00251"), qty("0.00251"), qty("0.00251")]
    assert all(s.qty.raw % BTC.step_size == 0 for s in report.slices)
    assert sum(s.qty.raw for s in report.slices) == qty("0.01003").raw
    assert [s.outcome for s in report.slices] == [SliceOutcome.FILLED] * 4
    children = [world.child(c) for c in report.children]
    assert [c.ts_init for c in children] == [START + i * MIN for i in range(4)]
    assert all(c.order_type is OrderType.MARKET and c.time_in_force is TimeInForce.IOC for c in children)
    assert world.risk is not None and world.risk.stats.checks == 4  # every child went through risk
    assert report.filled_qty == qty("0.01003")
    assert report.avg_px == Decimal("60000")
    assert report.residual_qty.raw == 0 and report.residual_reason is None
    assert world.published == [report]  # the final report, once
    assert world.clock.timer_names == []


def test_twap_randomized_schedule_stays_within_jitter_and_repeats_for_a_seed() -> None:
    def run(seed: int) -> list[tuple[int, int | None, Quantity]]:
        world = World()
        world.quote("59999.99", "60000.00")
        twap = world.twap("0.1", 10, randomize=0.3, seed=seed)
        twap.start()
        world.run_until(START + 10 * MIN)
        report = twap.report()
        assert report.status is AlgoStatus.COMPLETED and report.filled_qty == qty("0.1")
        for s in report.slices:
            assert world.child(s.child).ts_init == s.scheduled_ns  # sent when due, not later
        return [(s.scheduled_ns, s.sent_ns, s.qty) for s in report.slices]

    first = run(seed=7)
    assert run(seed=7) == first
    assert run(seed=8) != first
    times = [t for t, _, _ in first]
    sizes = [q.raw for _, _, q in first]
    share = qty("0.01").raw
    assert times == sorted(times)
    assert all(abs(t - (START + i * MIN)) <= 0.3 * MIN for i, t in enumerate(times))
    assert any(t != START + i * MIN for i, t in enumerate(times))
    assert all(abs(size - share) <= 0.3 * share + BTC.step_size for size in sizes)
    assert len(set(sizes)) > 1
    assert all(size % BTC.step_size == 0 for size in sizes) and sum(sizes) == qty("0.1").raw


@settings(max_examples=60, deadline=None)
@given(
    steps=st.integers(1, 10**7),
    slices=st.integers(1, 40),
    randomize=st.floats(0.0, 0.5),
    seed=st.integers(0, 2**32),
    duration_ns=st.integers(0, 10**13),
)
def test_twap_schedule_sizes_are_whole_steps_summing_to_target_and_times_stay_in_bounds(
    steps: int, slices: int, randomize: float, seed: int, duration_ns: int
) -> None:
    config = TwapConfig(
        instrument_id=BTC.id, side=BUY, quantity=Quantity(steps * BTC.step_size, BTC.size_precision),
        duration_ns=duration_ns, slices=slices, randomize=randomize, seed=seed,
    )
    plan = twap_schedule(config, START, BTC.step_size)
    assert plan == twap_schedule(config, START, BTC.step_size)
    assert len(plan) == slices
    assert sum(q for _, q in plan) == steps * BTC.step_size
    assert all(q >= 0 and q % BTC.step_size == 0 for _, q in plan)
    interval = duration_ns // slices
    times = [t for t, _ in plan]
    assert times == sorted(times)
    assert all(START <= t <= START + duration_ns for t in times)
    assert all(abs(t - (START + i * interval)) <= randomize * interval + 1 for i, t in enumerate(times))


def test_twap_ioc_limit_never_buys_above_limit_and_rolls_the_unfilled_slice_over() -> None:
    world = World()
    world.quote("60000.40", "60000.50")  # ask above the limit
    twap = world.twap("0.003", 3, limit_price=BTC.make_price("60000.00"))
    twap.start()
    world.run_until(START + 30 * SEC)

    first = twap.report().slices[0]
    assert first.outcome is SliceOutcome.NO_EXECUTION and first.outcome == "no execution"
    assert first.filled.raw == 0 and first.avg_px is None and first.qty == qty("0.001")
    assert first.detail is not None and "limit 60000.00" in first.detail and "carried to slice 1" in first.detail
    child = world.child(first.child)
    assert child.order_type is OrderType.LIMIT and child.time_in_force is TimeInForce.IOC
    assert child.price == BTC.make_price("60000.00") and child.status is OrderStatus.EXPIRED

    world.quote("59989.99", "59990.00")
    world.run_until(START + 3 * MIN)

    report = twap.report()
    assert [s.qty for s in report.slices] == [qty("0.001"), qty("0.002"), qty("0.001")]  # slice 0 rolled into 1
    assert [s.outcome for s in report.slices][1:] == [SliceOutcome.FILLED, SliceOutcome.FILLED]
    assert all(f.last_px <= BTC.make_price("60000.00") for f in world.fills())
    assert report.status is AlgoStatus.COMPLETED and report.filled_qty == qty("0.003")
    assert report.avg_px == Decimal("59990")


def test_twap_sell_with_limit_never_sells_below_it_and_reports_the_residual() -> None:
    world = World()
    world.quote("59000.00", "59000.01")  # bid below the sell limit all along
    twap = world.twap("0.003", 3, side=SELL, limit_price=BTC.make_price("60000.00"))
    twap.start()
    world.run_until(START + 3 * MIN)

    report = twap.report()
    assert [s.outcome for s in report.slices] == [SliceOutcome.NO_EXECUTION] * 3
    assert [s.qty for s in report.slices] == [qty("0.001"), qty("0.002"), qty("0.003")]
    assert all(s.avg_px is None for s in report.slices) and report.avg_px is None
    assert world.fills() == []
    assert report.status is AlgoStatus.COMPLETED
    assert report.residual_qty == qty("0.003")
    assert report.residual_reason is not None and report.residual_reason.startswith("slice 2 no execution")


def test_twap_records_a_risk_denial_and_keeps_going() -> None:
    world = World(RiskConfig(max_order_qty="0.00333"))
    world.quote("59999.99", "60000.00")
    twap = world.twap("0.01", 3, roll_unfilled=False)  # 0.00333, 0.00333, 0.00334
    twap.start()
    world.run_until(START + 3 * MIN)

    report = twap.report()
    assert [s.outcome for s in report.slices] == [SliceOutcome.FILLED, SliceOutcome.FILLED, SliceOutcome.DENIED]
    denied = report.slices[2]
    assert denied.detail is not None and denied.detail.startswith("MAX_ORDER_QTY")
    assert denied.filled.raw == 0 and denied.avg_px is None
    assert world.child(denied.child).status is OrderStatus.DENIED
    assert report.status is AlgoStatus.COMPLETED
    assert report.filled_qty == qty("0.00666") and report.residual_qty == qty("0.00334")
    assert report.residual_reason is not None and "denied: MAX_ORDER_QTY" in report.residual_reason


def test_twap_carries_a_denied_slice_into_the_next_once_trading_resumes() -> None:
    world = World(RiskConfig())
    world.quote("59999.99", "60000.00")
    assert world.risk is not None
    world.risk.set_trading_state(TradingState.HALTED, "operator")
    twap = world.twap("0.002", 2)
    twap.start()
    world.run_until(START + 30 * SEC)
    world.risk.set_trading_state(TradingState.ACTIVE, "operator")
    world.run_until(START + 2 * MIN)

    report = twap.report()
    assert report.slices[0].outcome is SliceOutcome.DENIED
    assert report.slices[0].detail is not None and report.slices[0].detail.startswith("TRADING_HALTED")
    assert report.slices[1].qty == qty("0.002") and report.slices[1].outcome is SliceOutcome.FILLED
    assert report.status is AlgoStatus.COMPLETED and report.filled_qty == qty("0.002")


def test_twap_merges_a_slice_below_min_notional_and_leaves_a_too_small_remainder_as_residual() -> None:
    world = World()
    twap = world.twap("0.00015", 3)  # 0.00005 per slice: 3 USDT at 60000, min notional is 5
    twap.start(reference_price=BTC.make_price("60000.00"))
    world.quote("59999.99", "60000.00")
    world.run_until(START + 3 * MIN)

    report = twap.report()
    assert [s.outcome for s in report.slices] == [
        SliceOutcome.MERGED, SliceOutcome.FILLED, SliceOutcome.BELOW_MINIMUM,
    ]
    assert report.slices[0].child is None and report.slices[0].sent_ns is None
    assert report.slices[0].detail is not None and "min notional" in report.slices[0].detail
    assert report.slices[1].qty == qty("0.0001")
    assert report.slices[2].child is None and report.slices[2].avg_px is None
    assert len(report.children) == 1
    assert report.status is AlgoStatus.COMPLETED
    assert report.residual_qty == qty("0.00005") and report.residual_reason == "below venue minimum"


def test_twap_child_still_in_flight_at_the_last_slice_leaves_its_unfilled_rest_as_residual() -> None:
    world = World(latency_ns=90 * SEC)  # a child reaches the venue after the next slice is due
    world.quote("60000.40", "60000.50")
    twap = world.twap("0.002", 2, limit_price=BTC.make_price("60000.00"))
    twap.start()
    world.run_until(START + 100 * SEC)
    assert twap.status is AlgoStatus.RUNNING and len(twap.working_children()) == 1
    world.run_until(START + 200 * SEC)

    report = twap.report()
    assert [s.qty for s in report.slices] == [qty("0.001"), qty("0.001")]  # nothing was known to roll
    assert [s.outcome for s in report.slices] == [SliceOutcome.NO_EXECUTION] * 2
    assert report.status is AlgoStatus.COMPLETED and report.residual_qty == qty("0.002")
    assert world.published == [report]


def test_twap_cancel_stops_the_timers_and_says_why() -> None:
    world = World()
    world.quote("59999.99", "60000.00")
    twap = world.twap("0.004", 4)
    twap.start()
    world.run_until(START + 90 * SEC)
    twap.cancel("operator stop")
    world.run_until(START + 10 * MIN)

    report = twap.report()
    assert world.clock.timer_names == []
    assert len(report.children) == 2
    assert [s.outcome for s in report.slices][2:] == [SliceOutcome.NOT_SENT] * 2
    assert report.slices[3].detail == "canceled: operator stop"
    assert report.status is AlgoStatus.CANCELED
    assert report.filled_qty == qty("0.002") and report.residual_qty == qty("0.002")
    assert report.residual_reason == "canceled: operator stop"
    assert world.published == [report]


def test_twap_refuses_bad_config_and_a_second_start() -> None:
    with pytest.raises(ConfigError, match="randomize"):
        TwapConfig(instrument_id=BTC.id, side=BUY, quantity=qty("1"), duration_ns=MIN, slices=2, randomize=0.6)
    with pytest.raises(ConfigError, match="slices"):
        TwapConfig(instrument_id=BTC.id, side=BUY, quantity=qty("1"), duration_ns=MIN, slices=0)
    world = World()
    with pytest.raises(InvalidOrderError, match="step"):
        Twap(
            TwapConfig(instrument_id=BTC.id, side=BUY, quantity=Quantity(123, 9), duration_ns=MIN, slices=2),
            algo_id="BAD", **world._wiring(),
        )
    with pytest.raises(InvalidOrderError, match="tick"):
        world.twap("1", 2, limit_price=Price.from_str("60000.001"))
    twap = world.twap("0.01", 2)
    twap.start()
    with pytest.raises(InvalidStateTransition):
        twap.start()
    with pytest.raises(InvalidInputError, match="timer"):
        world.twap("0.01", 2).start()  # same algo id: its timers would collide


# -- iceberg ----------------------------------------------------------------------------------


def test_iceberg_shows_at_most_the_display_qty_and_refreshes_after_each_full_fill() -> None:
    world = World()
    world.quote("60000.40", "60000.50")
    iceberg = world.iceberg("0.05", "0.02", "60000.00")
    iceberg.start()
    assert [(o.quantity_raw, o.price_raw) for o in world.venue.open_orders()] == [
        (qty("0.02").raw, BTC.make_price("60000.00").raw)
    ]

    world.quote("59998.99", "59999.00", "0.03")  # fills the first child, then 0.01 of the next
    report = iceberg.report()
    assert [s.qty for s in report.slices] == [qty("0.02"), qty("0.02")]
    assert [s.outcome for s in report.slices] == [SliceOutcome.FILLED, SliceOutcome.WORKING]
    assert world.child(report.children[1]).status is OrderStatus.PARTIALLY_FILLED  # partial: left working
    assert len(world.venue.open_orders()) == 1

    world.quote("59998.99", "59999.00", "0.005")
    assert iceberg.status is AlgoStatus.RUNNING and len(iceberg.report().children) == 2

    world.quote("59997.99", "59998.00", "1")
    report = iceberg.report()
    assert [s.qty for s in report.slices] == [qty("0.02"), qty("0.02"), qty("0.01")]
    assert [s.outcome for s in report.slices] == [SliceOutcome.FILLED] * 3
    assert report.status is AlgoStatus.COMPLETED
    assert report.filled_qty == qty("0.05") and report.residual_qty.raw == 0
    assert all(f.last_px <= BTC.make_price("60000.00") for f in world.fills())
    assert world.venue.open_orders() == []
    assert world.published == [report]
    # Each child was submitted only after the one before it had completely filled.
    for before, after in zip(report.children, report.children[1:], strict=False):
        last_fill = max(i for i, e in enumerate(world.events) if e.client_order_id == before)
        submitted = next(i for i, e in enumerate(world.events)
                         if isinstance(e, OrderSubmitted) and e.client_order_id == after)
        assert submitted > last_fill


def test_iceberg_cancel_cancels_the_working_child() -> None:
    world = World()
    world.quote("60000.40", "60000.50")
    iceberg = world.iceberg("0.05", "0.02", "60000.00")
    iceberg.start()
    iceberg.cancel("done for the day")

    report = iceberg.report()
    assert world.child(report.children[0]).status is OrderStatus.CANCELED
    assert world.venue.open_orders() == []
    assert report.status is AlgoStatus.CANCELED
    assert report.slices[0].outcome is SliceOutcome.NO_EXECUTION
    assert report.slices[0].detail == "canceled by this algo"
    assert report.residual_qty == qty("0.05") and report.residual_reason == "canceled: done for the day"
    assert world.published == [report]


def test_iceberg_fails_with_the_reason_when_the_venue_rejects_a_child() -> None:
    world = World(usdt="100")  # a 0.02 BTC buy needs ~1200 USDT
    world.quote("59999.99", "60000.50")
    iceberg = world.iceberg("0.05", "0.02", "60000.00")
    iceberg.start()

    report = iceberg.report()
    assert report.status is AlgoStatus.FAILED
    assert len(report.children) == 1  # no retry
    assert report.slices[0].outcome is SliceOutcome.REJECTED
    assert report.residual_reason is not None
    assert "rejected" in report.residual_reason and "INSUFFICIENT_BALANCE" in report.residual_reason
    assert world.published == [report]


def test_iceberg_fails_when_risk_denies_a_child_or_someone_else_cancels_it() -> None:
    world = World(RiskConfig(price_band_bps=10))
    world.quote("59999.99", "60000.00")
    denied = world.iceberg("0.05", "0.02", "59000.00")  # 1.7% from the mark
    denied.start()
    assert denied.status is AlgoStatus.FAILED
    assert denied.report().residual_reason is not None and "denied: PRICE_BAND" in denied.report().residual_reason

    other = World()
    other.quote("60000.40", "60000.50")
    iceberg = other.iceberg("0.05", "0.02", "60000.00")
    iceberg.start()
    other.execution.cancel_all()
    assert iceberg.status is AlgoStatus.FAILED
    assert iceberg.report().slices[0].detail is not None
    assert iceberg.report().slices[0].detail.startswith("canceled, not by this algo")


def test_iceberg_refuses_a_display_quantity_the_venue_would_refuse() -> None:
    with pytest.raises(ConfigError, match="display_quantity"):
        IcebergConfig(instrument_id=BTC.id, side=BUY, quantity=qty("0.01"), display_quantity=qty("0.02"),
                      limit_price=BTC.make_price("60000"))
    with pytest.raises(ConfigError, match="GTC"):
        IcebergConfig(instrument_id=BTC.id, side=BUY, quantity=qty("0.01"), display_quantity=qty("0.01"),
                      limit_price=BTC.make_price("60000"), time_in_force=TimeInForce.IOC)
    with pytest.raises(InvalidOrderError, match="min notional"):
        World().iceberg("0.01", "0.00005", "60000.00")


def test_algos_public_api() -> None:
    assert sorted(algos.__all__) == sorted([
        "ALGO_TOPIC_PREFIX", "BELOW_VENUE_MINIMUM", "AlgoKind", "AlgoReport", "AlgoStatus",
        "ExecutionAlgorithm", "Iceberg", "IcebergConfig", "SliceOutcome", "SliceReport", "Twap",
        "TwapConfig", "twap_schedule",
    ])
    for name in algos.__all__:
        assert getattr(algos, name) is not None
