"""``order_build``: what ``Strategy.market`` does before it submits: an id and an ``Order``.

One operation is ``ExecutionEngine.next_client_order_id(trader, strategy)`` (the id format of
:mod:`bot4.execution.ids`: a counter in base 36 after a fixed prefix) followed by
``Order.market(...)`` for 0.01 BTC, alternating buy and sell; the order is then dropped (the
tracemalloc pass's transient peak is its size; an engine keeps it, see ``oms_submit``).
``tick_to_order`` pays this once per order between the sized intent and ``submit_order``;
this scenario gives its cost in a warm loop. ``extra.id_only_median_ns`` is the id alone.
There is no budget of its own: it is a share of the tick -> order budget.
"""

from __future__ import annotations

from collections.abc import Callable

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
from bot4.bench.hotpath import HotPath, build_hot_path
from bot4.bench.micro import call_overhead_ns, single_op_times
from bot4.model.enums import OrderSide
from bot4.model.orders import Order

__all__ = ["run_order_build"]

BATCH = 1_000
OPS = 100_000
PASSES = 3
ALLOC_OPS = 20_000


def _op(hp: HotPath) -> Callable[[OrderSide], Order]:
    next_id = hp.execution.next_client_order_id
    market = Order.market
    trader, strategy = hp.trader_id, hp.strategy_id
    iid = hp.instrument_.id
    quantity = hp.instrument_.make_qty("0.01")
    clock = hp.clock

    def build(side: OrderSide) -> Order:
        return market(client_order_id=next_id(trader, strategy), strategy_id=strategy, instrument_id=iid,
                      side=side, quantity=quantity, ts_init=clock.timestamp_ns())

    return build


def _runner(build: Callable[[OrderSide], Order]) -> Callable[[list[OrderSide]], int]:
    def run(batch: list[OrderSide]) -> int:
        for side in batch:
            build(side)
        return len(batch)

    return run


def run_order_build(options: BenchOptions) -> list[ScenarioResult]:
    result = ScenarioResult(
        name="order_build",
        description="next_client_order_id + Order.market (0.01 BTC), as Strategy.market builds an order",
        unit="order",
        quick=options.quick,
    )
    n = max(BATCH, OPS // options.scale)
    sides = [OrderSide.BUY if i % 2 == 0 else OrderSide.SELL for i in range(n)]
    batches = [sides[i : i + BATCH] for i in range(0, n, BATCH)]
    hp = build_hot_path()
    build = _op(hp)
    _runner(build)(sides)  # warm-up
    timings = [time_batches(batches, _runner(build)) for _ in range(PASSES)]
    fill_batch_stats(result, merge_timings(timings), BATCH)
    fill_single_stats(result, single_op_times(build, sides), call_overhead_ns())

    next_id = hp.execution.next_client_order_id
    trader, strategy = hp.trader_id, hp.strategy_id

    def ids_only(batch: list[OrderSide]) -> int:
        for _side in batch:
            next_id(trader, strategy)
        return len(batch)

    id_timing = time_batches(batches, ids_only)
    with AllocationMeter() as meter:
        for side in sides[:ALLOC_OPS]:
            meter.sample(build, side)
    meter.fill(result, len(sides[:ALLOC_OPS]))
    result.peak_rss_mb = peak_rss_mb()
    result.extra.update(
        id_only_median_ns=round(sorted(id_timing.per_op)[len(id_timing.per_op) // 2], 1),
        passes=PASSES,
        single_overhead_is="perf_counter_ns pair + one Python call (median), subtracted",
    )
    return [result]
