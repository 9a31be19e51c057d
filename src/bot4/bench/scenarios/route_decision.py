"""``route_decision``: the smart router's decision time per order.

One operation is :func:`bot4.execution.routing.route` on a snapshot of 3 (and 5) simulated
venues, each with a 20-level book, different taker fees (0.06% to 0.1%) and min notional 5,
for an order large enough to need several levels at several venues (a split). Orders cycle
through 1,000 sizes and both sides. A ``min_notional`` variant has one venue whose minimum
(40,000 USDT at the cheapest venue) forces the subset search on the orders where the plain
merge would leave that venue a leg below it (the slow path; ``subsets_tried_mean`` says how often). Books are built once; routing reads them only.
"""

from __future__ import annotations

import random
from decimal import Decimal

from bot4.bench.harness import (
    AllocationMeter,
    BenchOptions,
    ScenarioResult,
    fill_batch_stats,
    fill_single_stats,
    merge_timings,
    peak_rss_mb,
    time_batches,
)
from bot4.bench.micro import call_overhead_ns, single_op_times
from bot4.core.ids import InstrumentId
from bot4.core.numbers import to_raw
from bot4.execution.routing import RouteRequest, VenueState, route
from bot4.model.book import OrderBook
from bot4.model.enums import OrderSide
from bot4.model.instrument import Instrument
from bot4.testkit import BTC, USDT

__all__ = ["run_route_decision"]

NOW = 1_700_000_000_000_000_000
BATCH = 200
ORDERS = 4_000
PASSES = 3
FEES = ("0.001", "0.0008", "0.0006", "0.001", "0.00075")


def _venues(n: int, rng: random.Random, big_minimum: bool) -> list[VenueState]:
    states = []
    for k in range(n):
        inst = Instrument.create(
            instrument_id=InstrumentId.from_str(f"BTCUSDT.V{k}"),
            base=BTC,
            quote=USDT,
            tick_size="0.01",
            step_size="0.00001",
            min_notional="40000" if big_minimum and k == 2 else "5",
        )
        book = OrderBook(inst.id, inst.price_precision, inst.size_precision)
        mid = 60_000 + rng.uniform(-5, 5)
        for level in range(20):
            bid = round(mid - 0.5 - level * rng.uniform(0.5, 3), 2)
            ask = round(mid + 0.5 + level * rng.uniform(0.5, 3), 2)
            book.update(OrderSide.BUY, to_raw(f"{bid:.2f}")[0], to_raw(f"{rng.uniform(0.01, 0.2):.5f}")[0])
            book.update(OrderSide.SELL, to_raw(f"{ask:.2f}")[0], to_raw(f"{rng.uniform(0.01, 0.2):.5f}")[0])
        book.ts_last = NOW
        states.append(VenueState(instrument=inst, book=book, taker_fee=Decimal(FEES[k % len(FEES)])))
    return states


def _requests(rng: random.Random, count: int) -> list[RouteRequest]:
    return [
        RouteRequest(
            side=OrderSide.BUY if i % 2 else OrderSide.SELL,
            quantity_raw=to_raw(f"{rng.uniform(0.3, 1.5):.5f}")[0],
        )
        for i in range(count)
    ]


def run_route_decision(options: BenchOptions) -> list[ScenarioResult]:
    results = []
    for n, big_minimum, name in ((3, False, "3_venues"), (5, False, "5_venues"), (5, True, "5_venues_min_notional")):
        result = ScenarioResult(
            name=f"route_decision.{name}",
            description=f"route() over {n} venues x 20 levels, split orders of 0.3-1.5 BTC"
            + ("; the cheapest venue's 40k USDT min notional forces subset searches" if big_minimum else ""),
            unit="order",
            quick=options.quick,
        )
        rng = random.Random(7)
        venues = _venues(n, rng, big_minimum)
        distinct = _requests(rng, 1_000)
        count = max(BATCH, ORDERS // options.scale)
        requests = [distinct[i % len(distinct)] for i in range(count)]

        def decide(request: RouteRequest, venues: list[VenueState] = venues) -> object:
            return route(request, venues, NOW)

        def run_batch(batch: list[RouteRequest]) -> int:
            for request in batch:
                decide(request)
            return len(batch)

        batches = [requests[i : i + BATCH] for i in range(0, len(requests), BATCH)]
        run_batch(requests[:BATCH])  # warm-up
        timings = [time_batches(batches, run_batch) for _ in range(PASSES)]
        fill_batch_stats(result, merge_timings(timings), BATCH)
        fill_single_stats(result, single_op_times(decide, requests[: min(len(requests), 5_000)]), call_overhead_ns())
        with AllocationMeter() as meter:
            for request in requests[:2_000]:
                meter.sample(decide, request)
        meter.fill(result, min(len(requests), 2_000))
        sample = [route(r, venues, NOW) for r in distinct[:200]]
        result.extra["legs_mean"] = round(sum(len(d.legs) for d in sample) / len(sample), 2)
        result.extra["subsets_tried_mean"] = round(sum(d.subsets_tried for d in sample) / len(sample), 2)
        result.peak_rss_mb = peak_rss_mb()
        results.append(result)
    return results
