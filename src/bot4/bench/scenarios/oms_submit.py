"""``oms_submit`` / ``oms_submit_no_risk``: orders through ``ExecutionEngine.submit_order``.

One operation is ``execution.submit_order(order)`` on a hot path built by
:func:`bot4.bench.hotpath.build_hot_path`, which runs, in the engine's order: the duplicate-id
and venue/instrument lookups, the instrument's filters (``Instrument.check_order``), the
pre-trade risk check when a risk engine is set (``oms_submit``: every check of ``bot4.risk``
on, limits in :data:`~bot4.bench.hotpath.RISK_LIMITS`; ``oms_submit_no_risk``: none), the
``OrderSubmitted`` event applied to the order and published on the bus (to the strategy's
order handler and, with risk, the risk engine's), ``risk.on_submitted``, and finally the
:class:`~bot4.bench.hotpath.NoopVenueClient`. The orders (half market, half limit within 0.5%
of the mark, buy and sell alternating, 0.001-0.005 BTC) are built untimed beforehand, so
the figure is the order path, not order construction.

Every pass starts from a fresh hot path (CASH account, 0.05 BTC held, mark 60000.00) and
submits its orders in batches of 1,000. Between batches, untimed, the venue's cancels of
the previous batch are applied (``ExecutionEngine.process(OrderCanceled)``) and the simulated
clock moves on one second, as on a venue where market orders fill or expire at once: working
orders stay below ~1,000 and the order rate below the configured limit, so every order
passes (``extra.denied`` is 0). The single-op pass does the same; the tracemalloc pass
submits one batch of ``ALLOC_ORDERS`` without cancels (``kept`` is what the OMS and risk
keep per order: the order in the engine's maps, its ``OrderSubmitted``, risk's tracking).
"""

from __future__ import annotations

from collections.abc import Callable

from bot4.bench.harness import (
    AllocationMeter,
    BatchTiming,
    BenchOptions,
    ScenarioResult,
    fill_batch_stats,
    fill_single_stats,
    merge_timings,
    peak_rss_mb,
    time_batches,
)
from bot4.bench.hotpath import (
    HotPath,
    build_hot_path,
    build_risk,
    cancel_orders,
    open_position,
    order_stream,
    risk_unavailable,
)
from bot4.bench.micro import call_overhead_ns, single_op_times
from bot4.model.orders import Order

__all__ = ["GOAL_RATE", "run_oms_submit", "run_oms_submit_no_risk"]

GOAL_RATE = 200_000.0  # issue: >= 200k orders/s through risk + OMS on one core
DESIGN_RATE = 50_000.0  # DESIGN.md: >= 50k orders/s through risk + OMS
BATCH = 1_000
ORDERS_PER_PASS = 20_000
PASSES = 5
ALLOC_ORDERS = 1_500
SECOND_NS = 1_000_000_000


def _fresh(with_risk: bool, n: int) -> tuple[HotPath, list[Order]]:
    hp = build_hot_path()
    open_position(hp, "0.05")
    if with_risk:
        build_risk(hp)
    return hp, order_stream(hp, n)


def _between_batches(hp: HotPath) -> Callable[[list[Order]], None]:
    """Untimed, before each batch: cancel the previous batch at the venue, move the clock 1 s."""
    previous: list[list[Order]] = []

    def prepare(batch: list[Order]) -> None:
        if previous:
            cancel_orders(hp, previous.pop())
        hp.clock.set_time(hp.clock.timestamp_ns() + SECOND_NS)
        previous.append(batch)

    return prepare


def _submit_runner(hp: HotPath) -> Callable[[list[Order]], int]:
    submit = hp.execution.submit_order

    def run(batch: list[Order]) -> int:
        for order in batch:
            submit(order)
        return len(batch)

    return run


def _chunks(orders: list[Order]) -> list[list[Order]]:
    return [orders[i : i + BATCH] for i in range(0, len(orders), BATCH)]


def _scenario(options: BenchOptions, with_risk: bool) -> ScenarioResult:
    name = "oms_submit" if with_risk else "oms_submit_no_risk"
    result = ScenarioResult(
        name=name,
        description=(
            "ExecutionEngine.submit_order: filters, "
            + ("RiskEngine.check (all checks), " if with_risk else "no risk engine, ")
            + "OrderSubmitted, no-op venue client; 50% market / 50% limit"
        ),
        unit="order",
        goal=f">= {GOAL_RATE:,.0f} orders/s" + (" through risk + OMS" if with_risk else " (OMS alone, reference)"),
        quick=options.quick,
    )
    if with_risk:
        reason = risk_unavailable()
        if reason is not None:
            result.skipped = reason
            return result
    n = max(BATCH, ORDERS_PER_PASS // options.scale)

    hp, orders = _fresh(with_risk, n)  # warm-up pass
    batches = _chunks(orders)
    time_batches(batches, _submit_runner(hp), _between_batches(hp))
    timings: list[BatchTiming] = []
    for _ in range(PASSES):
        hp, orders = _fresh(with_risk, n)
        timings.append(time_batches(_chunks(orders), _submit_runner(hp), _between_batches(hp)))
        _check_all_passed(hp, len(orders), result)
    fill_batch_stats(result, merge_timings(timings), BATCH)

    overhead = call_overhead_ns()
    hp, orders = _fresh(with_risk, n)
    prepare = _between_batches(hp)
    deltas: list[float] = []
    for batch in _chunks(orders):
        prepare(batch)
        deltas.extend(single_op_times(hp.execution.submit_order, batch))
    fill_single_stats(result, deltas, overhead)

    hp, orders = _fresh(with_risk, min(n, ALLOC_ORDERS))
    hp.clock.set_time(hp.clock.timestamp_ns() + SECOND_NS)
    submit = hp.execution.submit_order
    with AllocationMeter() as meter:
        for order in orders:
            meter.sample(submit, order)
    meter.fill(result, len(orders))
    _check_all_passed(hp, len(orders), result)

    result.peak_rss_mb = peak_rss_mb()
    result.goal_met = result.ops_per_s is not None and result.ops_per_s >= GOAL_RATE
    result.extra.update(
        design_goal_orders_per_s=DESIGN_RATE,
        design_goal_met=result.ops_per_s is not None and result.ops_per_s >= DESIGN_RATE,
        median_orders_per_s=round(1e9 / result.median_ns) if result.median_ns else None,
        passes=PASSES,
        orders_per_pass=n,
        alloc_pass_orders=len(orders),
        single_overhead_is="perf_counter_ns pair + one Python call (median), subtracted",
    )
    if with_risk:
        result.extra["risk_limits"] = "bot4.bench.hotpath.RISK_LIMITS"
    return result


def _check_all_passed(hp: HotPath, n: int, result: ScenarioResult) -> None:
    """Record denials; the scenario's limits are meant to let every order through."""
    denied = hp.execution.stats.denied
    result.extra["denied"] = result.extra.get("denied", 0) + denied
    if hp.client.submitted < n:
        result.extra["not_reaching_venue"] = result.extra.get("not_reaching_venue", 0) + n - hp.client.submitted


def run_oms_submit(options: BenchOptions) -> list[ScenarioResult]:
    return [_scenario(options, with_risk=True)]


def run_oms_submit_no_risk(options: BenchOptions) -> list[ScenarioResult]:
    return [_scenario(options, with_risk=False)]
