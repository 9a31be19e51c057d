"""CostReport on a real engine flow: execution engine, simulated venue, a real Binance book."""

from __future__ import annotations

import gzip
import json
import os
from decimal import ROUND_HALF_EVEN, Context, Decimal
from pathlib import Path
from typing import Any

import pytest

import bot4.costs
from bot4.core.bus import MessageBus
from bot4.core.clock import TestClock
from bot4.core.ids import (
    AccountId,
    ClientOrderId,
    InstrumentId,
    StrategyId,
    TradeId,
    VenueOrderId,
)
from bot4.core.numbers import Currency, Money, Price, Quantity
from bot4.costs import CostReport, FeeBook, FillCost, walk_book
from bot4.execution import ExecutionEngine
from bot4.model.data import BookLevel, BookSnapshot
from bot4.model.enums import LiquiditySide, OrderSide
from bot4.model.events import OrderCanceled, OrderFilled, OrderSubmitted
from bot4.model.instrument import Instrument
from bot4.model.orders import Order
from bot4.testkit import BTC, USDT, btcusdt
from bot4.venues.sim import SimulatedVenue, SimVenueConfig

REPO_ROOT = Path(__file__).resolve().parents[3]
REAL_DATA = REPO_ROOT.parent / "shared" / "data" / "real"
HFT_SPOT = REAL_DATA / "hftbacktest" / "binance_spot" / "btcusdt_20240808.jsonl.gz"
STRATEGY = StrategyId("S-001")
CTX = Context(prec=28, rounding=ROUND_HALF_EVEN)


def test_costs_package_exports_exactly_its_public_api() -> None:
    assert sorted(bot4.costs.__all__) == [
        "BookWalk",
        "CostReport",
        "CostSummary",
        "Estimate",
        "EstimateMethod",
        "FeeBook",
        "FeeCheck",
        "FeeSchedule",
        "FeeTier",
        "FillCost",
        "SquareRootImpact",
        "estimate_fill",
        "fee_check",
        "render_table",
        "slippage_bps",
        "walk_book",
    ]
    for name in bot4.costs.__all__:
        assert getattr(bot4.costs, name) is not None


# -- a small real engine flow ------------------------------------------------------------------


def btcusdt_snapshot() -> dict[str, Any]:
    if not HFT_SPOT.exists():
        if os.environ.get("CI"):
            pytest.fail(f"real data file missing in CI: {HFT_SPOT}")
        pytest.skip(f"real data not available: {HFT_SPOT}")
    with gzip.open(HFT_SPOT, "rt", encoding="utf-8") as lines:
        for line in lines:
            if "lastUpdateId" in line:
                snapshot: dict[str, Any] = json.loads(line.partition(" ")[2])
                return snapshot
    raise AssertionError("capture has no REST depth snapshot")


class Flow:
    """Execution engine + simulated 'BINANCE' venue on one bus, fed a real depth snapshot."""

    def __init__(self, taker_fee: str = "0.001") -> None:
        self.bus = MessageBus()
        self.clock = TestClock(1_723_161_253_000_000_000)  # 2024-08-08 23:54:13 UTC
        self.engine = ExecutionEngine(self.bus, self.clock)
        self.instrument = btcusdt("BINANCE")
        config = SimVenueConfig(
            venue="BINANCE", starting_balances={"USDT": "1000000", "BTC": "50"}, taker_fee=taker_fee
        )
        self.venue = SimulatedVenue(config, [self.instrument], self.clock, self.engine.process)
        self.engine.register_client(self.venue)
        self.engine.add_instrument(self.instrument)
        self.snapshot = btcusdt_snapshot()
        iid = self.instrument.id
        self.venue.process_data(
            BookSnapshot(iid, _levels(self.snapshot["bids"]), _levels(self.snapshot["asks"]), 1, 0, 0)
        )
        self.count = 0

    def mid_of(self, instrument_id: InstrumentId) -> Decimal | None:
        return self.venue.book(instrument_id).mid()

    def market(self, side: OrderSide, qty: str) -> Order:
        self.count += 1
        order = Order.market(
            client_order_id=ClientOrderId(f"O-{self.count}"),
            strategy_id=STRATEGY,
            instrument_id=self.instrument.id,
            side=side,
            quantity=Quantity.of(qty, self.instrument.size_precision),
            ts_init=self.clock.timestamp_ns(),
        )
        self.engine.submit_order(order)
        return order


def _levels(rows: list[list[str]]) -> list[BookLevel]:
    return [BookLevel(Price.from_str(p), Quantity.from_str(q)) for p, q in rows]


def test_cost_report_records_every_fill_of_a_market_order_walking_the_real_book() -> None:
    flow = Flow()
    report = CostReport(
        flow.bus, flow.mid_of, fees=FeeBook.defaults(), instrument_of={flow.instrument.id: flow.instrument}.get
    )
    snapshot = flow.snapshot
    mid = (Decimal(snapshot["bids"][0][0]) + Decimal(snapshot["asks"][0][0])) / 2
    expected_walk = walk_book(flow.venue.book(flow.instrument.id), OrderSide.BUY, 2 * 10**9)

    order = flow.market(OrderSide.BUY, "2")

    fills = report.fills
    assert order.is_closed and len(fills) == expected_walk.levels > 1
    assert sum((f.qty.as_decimal() for f in fills), Decimal(0)) == 2
    # the fills walk the same levels: their VWAP is the book walk's VWAP
    notional = sum((f.notional for f in fills), Decimal(0))
    assert CTX.divide(notional, Decimal(2)) == expected_walk.vwap
    for cost in fills:
        price = cost.price.as_decimal()
        assert cost.venue.value == "BINANCE" and cost.side is OrderSide.BUY
        assert cost.liquidity is LiquiditySide.TAKER
        assert cost.arrival_mid == mid == Decimal("61837.635")
        assert cost.slippage_bps == CTX.divide((price - mid) * 10_000, mid)
        assert cost.slippage_bps is not None and cost.slippage_bps > 0
        # the sim charges 0.1% rounded to 8 decimals; Binance's schedule says 0.1% exactly
        assert cost.fee_currency == cost.fee_expected_currency == "USDT"
        assert cost.fee_expected == cost.notional * Decimal("0.001")
        assert cost.fee_difference == cost.fee_reported - cost.fee_expected
        assert cost.fee_difference is not None and abs(cost.fee_difference) <= Decimal("0.000000005")

    summary = report.summary()
    assert summary.fills == len(fills) and summary.notional == notional
    assert summary.fees == {"USDT": sum((f.fee_reported for f in fills), Decimal(0))}
    weighted = sum((f.slippage_bps * f.notional for f in fills if f.slippage_bps), Decimal(0))
    assert summary.avg_slippage_bps == CTX.divide(weighted, notional)
    assert summary.slippage_cost == notional - 2 * mid
    assert summary.fills_without_mid == summary.fills_without_fee_model == 0

    text = report.render()
    assert text.count("BTCUSDT") == len(fills)
    assert "fee model error (reported - expected)" in text and "notional-weighted" in text
    report.close()
    flow.market(OrderSide.SELL, "0.1")
    assert len(report.fills) == len(fills)  # closed: no longer listening


def test_cost_report_measures_fee_model_error_and_sell_slippage() -> None:
    flow = Flow(taker_fee="0.0012")  # the venue charges more than the shipped schedule says
    report = CostReport(flow.bus, flow.mid_of, fees=FeeBook.defaults())

    flow.market(OrderSide.SELL, "0.5")

    [cost] = report.fills  # 0.5 BTC fits in the best bid (3.78826 at 61837.63)
    assert cost.price == Price.from_str("61837.63")
    assert cost.slippage_bps == CTX.divide(Decimal("0.005") * 10_000, Decimal("61837.635"))
    assert cost.fee_reported == Decimal("37.10257800")  # 0.12% of 30918.815
    assert cost.fee_expected == Decimal("30.918815")
    assert cost.fee_difference == Decimal("6.183763")
    assert report.summary().fee_model_error == {"USDT": Decimal("6.183763")}


# -- events published directly -----------------------------------------------------------------

IID = InstrumentId.from_str("BTCUSDT.BINANCE")


def submitted(coid: str) -> OrderSubmitted:
    return OrderSubmitted(
        client_order_id=ClientOrderId(coid), instrument_id=IID, strategy_id=STRATEGY,
        account_id=AccountId("BINANCE-001"), ts_event=5, ts_init=5,
    )


def filled(coid: str, commission: Money, side: OrderSide = OrderSide.BUY, trade: str = "T-1") -> OrderFilled:
    return OrderFilled(
        client_order_id=ClientOrderId(coid), instrument_id=IID, strategy_id=STRATEGY,
        ts_event=1_723_161_300_123_000_000, ts_init=7, venue_order_id=VenueOrderId("V-1"),
        trade_id=TradeId(trade), order_side=side, last_qty=Quantity.from_str("0.25000"),
        last_px=Price.from_str("100.00"), commission=commission, liquidity_side=LiquiditySide.TAKER,
    )


def test_fills_without_arrival_mid_or_fee_model_are_counted_not_guessed() -> None:
    bus = MessageBus()
    mids: dict[InstrumentId, Decimal | None] = {IID: None}
    instruments: dict[InstrumentId, Instrument] = {IID: btcusdt("BINANCE")}
    report = CostReport(bus, mids.get, fees=FeeBook.defaults(), instrument_of=instruments.get)

    bus.publish("events.order.S-001", submitted("O-1"))  # no mid at submission
    bus.publish("events.fills", filled("O-1", Money.of("0.00025", BTC)))  # fee in the base asset
    bus.publish("events.fills", filled("O-9", Money.of("0.02", Currency("BNB", 8)), trade="T-2"))
    mids[IID] = Decimal("99.5")
    bus.publish("events.order.S-001", submitted("O-2"))
    bus.publish("events.fills", filled("O-2", Money.of("0.025", USDT), OrderSide.SELL, trade="T-3"))

    first, second, third = report.fills
    assert first.arrival_mid is None and first.slippage_bps is None
    assert (first.fee_expected, first.fee_expected_currency, first.fee_difference) == (
        Decimal("0.00025"), "BTC", Decimal(0)
    )
    assert second.fee_difference is None and second.fee_expected_currency == "USDT"  # paid in BNB
    assert third.arrival_mid == Decimal("99.5")
    assert third.slippage_bps == Decimal("-50.25125628140703517587939698")  # sold above the mid
    assert third.slippage_cost == Decimal("-0.125")
    summary = report.summary()
    assert summary.fills_without_mid == 2 and summary.fills_without_fee_model == 1
    assert summary.fees == {"BNB": Decimal("0.02"), "BTC": Decimal("0.00025"), "USDT": Decimal("0.025")}
    assert summary.avg_slippage_bps is not None  # one fill's bps, through a 28-digit division
    assert abs(summary.avg_slippage_bps - third.slippage_bps) < Decimal("1e-24")
    text = report.render()
    assert "2024-08-08 23:55:00.123" in text and "2 fill(s) without an arrival mid" in text


def test_arrival_mid_is_forgotten_when_the_order_ends_and_bounded_otherwise() -> None:
    bus = MessageBus()
    report = CostReport(bus, lambda _: Decimal(100), max_tracked_orders=2)
    bus.publish("events.order.S-001", submitted("O-1"))
    assert report.arrival_mid(ClientOrderId("O-1")) == 100
    bus.publish("events.order.S-001", OrderCanceled(
        client_order_id=ClientOrderId("O-1"), instrument_id=IID, strategy_id=STRATEGY, ts_event=6, ts_init=6,
    ))
    assert report.arrival_mid(ClientOrderId("O-1")) is None
    for coid in ("O-2", "O-3", "O-4"):
        bus.publish("events.order.S-001", submitted(coid))
    assert report.arrival_mid(ClientOrderId("O-2")) is None  # the oldest was dropped
    assert report.arrival_mid(ClientOrderId("O-4")) == 100


def test_cost_report_without_fee_book_and_bad_mid() -> None:
    bus = MessageBus()
    report = CostReport(bus, lambda _: Decimal("NaN"))
    bus.publish("events.order.S-001", submitted("O-1"))
    cost = report.record(filled("O-1", Money.of("0.025", USDT)))
    assert isinstance(cost, FillCost)
    assert cost.arrival_mid is None and cost.fee_expected is None and cost.fee_difference is None
    assert report.summary().avg_slippage_bps is None
    assert "(no fills)" in bot4.costs.render_table([])
