"""``signal_to_intent``: ``SignalProcessor.process(signal)`` per signal, on a realistic portfolio.

The processor (:mod:`bot4.strategy.signals`) reads the real :class:`Portfolio` of a hot path
built by :func:`bot4.bench.hotpath.build_hot_path`: a CASH account with 10 BTC and 1,000,000
USDT (equity ~1.6M USDT at the 60000.00 mark) and a 0.05 BTC long position from a filled
order. ``max_position`` is 2 BTC. One result per sizing policy:

- ``signal_to_intent.fixed_quantity``: ``FixedQuantity("1")``;
- ``signal_to_intent.fraction_of_equity``: ``FractionOfEquity(0.05)`` (reads equity per signal);
- ``signal_to_intent.volatility_scaled``: ``VolatilityScaled(target_vol=0.2,
  periods_per_year=525_600)`` after 200 minute closes (a random walk with 0.05% steps,
  about 36% a year) were fed through ``update_price``;
- ``signal_to_intent.fixed_quantity_working_orders``: ``FixedQuantity("1")`` through
  ``Strategy.set_sizing`` (what ``Strategy.signal`` uses), which counts working orders by
  summing ``ExecutionEngine.open_orders(instrument)`` per signal; 4 limit orders are resting.

The signals (built once, untimed, seed 11) have strengths uniform in [-1, 1], half of them
with a confidence in [0.5, 1]; the position does not move (nothing fills), so nearly every
signal yields an intent and a few drop as at-target or below the minimum notional (counted in
``extra``). The first three build the processor directly, without a ``working_orders`` callable.
Timing is the usual batch + single-op + tracemalloc passes of :mod:`bot4.bench.harness`.
When ``bot4.strategy.signals`` cannot be imported the scenario is skipped with the reason.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

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
from bot4.bench.hotpath import (
    MARK_RAW,
    START_NS,
    HotPath,
    build_hot_path,
    open_position,
    order_stream,
)
from bot4.bench.micro import call_overhead_ns, single_op_times
from bot4.model.enums import OrderType

__all__ = ["GOAL_MEDIAN_NS", "GOAL_RATE", "build_processor", "run_signal_to_intent", "signals_unavailable"]

GOAL_MEDIAN_NS = 2_000.0  # issue: <= 2 us per signal -> intent (median)
GOAL_RATE = 100_000.0  # issue and DESIGN: >= 100k signals/s on one core
DESIGN_BUDGET_NS = 10_000.0  # DESIGN.md: signal -> sized order intent <= 10 us
BATCH = 1_000
SIGNALS = 100_000
PASSES = 3
ALLOC_OPS = 20_000  # the tracemalloc pass samples this prefix (tracemalloc is slow)
POLICIES = ("fixed_quantity", "fraction_of_equity", "volatility_scaled", "fixed_quantity_working_orders")
WORKING_LIMIT_ORDERS = 4  # resting in the instrument for the working-orders variant


def signals_unavailable() -> str | None:
    """Why the signal processor cannot be used, or None when it can."""
    try:
        import bot4.strategy.signals as signals
    except ImportError as exc:
        return f"bot4.strategy.signals is not importable: {exc}"
    missing = [n for n in ("Signal", "SignalProcessor", "SignalProcessorConfig", "FixedQuantity")
               if not hasattr(signals, n)]
    if missing:
        return f"bot4.strategy.signals lacks {', '.join(missing)}"
    return None


def _minute_closes(n: int, seed: int = 5) -> list[int]:
    rng = random.Random(seed)
    price = float(MARK_RAW)
    out = []
    for _ in range(n):
        # 0.05% steps, +-1 with equal odds: ~0.05% per minute, ~36% a year
        price *= 1.0005 if rng.random() < 0.5 else 1 / 1.0005
        out.append(int(price) - int(price) % 10_000_000)  # on the 0.01 tick
    return out


def build_processor(hp: HotPath, policy_name: str, max_position: str = "2") -> Any:
    """A processor over the hot path's portfolio with the named policy, ready for signals."""
    from bot4.strategy.signals import (
        FixedQuantity,
        FractionOfEquity,
        SignalProcessor,
        SignalProcessorConfig,
        VolatilityScaled,
    )

    policy: Any
    if policy_name == "fixed_quantity_working_orders":
        # Through Strategy.set_sizing, as a strategy gets it: working orders are counted by
        # summing the leaves of ExecutionEngine.open_orders(instrument) on every signal.
        from bot4.strategy.strategy import Strategy

        strategy = Strategy()
        strategy.attach(hp)
        return strategy.set_sizing(SignalProcessorConfig(policy=FixedQuantity("1"), max_position=max_position))
    if policy_name == "fixed_quantity":
        policy = FixedQuantity("1")
    elif policy_name == "fraction_of_equity":
        policy = FractionOfEquity(0.05)
    elif policy_name == "volatility_scaled":
        policy = VolatilityScaled(0.2, periods_per_year=525_600)
    else:
        raise ValueError(f"unknown policy {policy_name}")
    processor = SignalProcessor(SignalProcessorConfig(policy=policy, max_position=max_position),
                                hp.instrument, hp.portfolio)
    if policy_name == "volatility_scaled":
        for close in _minute_closes(200):
            processor.update_price(hp.instrument_.id, close)
    return processor


def make_signals(hp: HotPath, n: int, seed: int = 11) -> list[Any]:
    from bot4.strategy.signals import Signal

    rng = random.Random(seed)
    iid = hp.instrument_.id
    out = []
    for i in range(n):
        strength = rng.random() * 2.0 - 1.0
        confidence = 0.5 + rng.random() * 0.5 if i % 2 else None
        ts = START_NS + i * 1_000_000
        out.append(Signal(instrument_id=iid, strength=strength, confidence=confidence, ts_event=ts, ts_init=ts,
                          source="bench"))
    return out


def _runner(process: Callable[[Any], object]) -> Callable[[list[Any]], int]:
    def run(batch: list[Any]) -> int:
        for signal in batch:
            process(signal)
        return len(batch)

    return run


def _fresh(policy_name: str) -> tuple[HotPath, Any]:
    hp = build_hot_path()
    open_position(hp, "0.05")
    if policy_name == "fixed_quantity_working_orders":
        orders = [o for o in order_stream(hp, 4 * WORKING_LIMIT_ORDERS) if o.order_type is OrderType.LIMIT]
        for order in orders[:WORKING_LIMIT_ORDERS]:
            hp.execution.submit_order(order)
    return hp, build_processor(hp, policy_name)


def _one(policy_name: str, signals: list[Any], overhead: float, options: BenchOptions) -> ScenarioResult:
    result = ScenarioResult(
        name=f"signal_to_intent.{policy_name}",
        description=f"SignalProcessor.process, {policy_name} sizing, max_position 2 BTC, 0.05 BTC held, "
                    "CASH account ~1.6M USDT equity",
        unit="signal",
        goal=f"median <= {GOAL_MEDIAN_NS / 1000:.0f} us/signal and >= {GOAL_RATE:,.0f} signals/s",
        quick=options.quick,
    )
    batches = [signals[i : i + BATCH] for i in range(0, len(signals), BATCH)]
    _hp, processor = _fresh(policy_name)
    _runner(processor.process)(signals)  # warm-up
    timings = []
    for _ in range(PASSES):
        _hp, processor = _fresh(policy_name)
        timings.append(time_batches(batches, _runner(processor.process)))
    fill_batch_stats(result, merge_timings(timings), BATCH)
    stats = processor.stats
    result.extra.update(
        signals_in=stats.signals_in,
        intents_out=stats.intents_out,
        dropped={reason.name: count for reason, count in stats.drops().items()},
        clipped=stats.clipped,
    )
    _hp, processor = _fresh(policy_name)
    fill_single_stats(result, single_op_times(processor.process, signals), overhead)
    _hp, processor = _fresh(policy_name)
    process = processor.process
    with AllocationMeter() as meter:
        for signal in signals[:ALLOC_OPS]:
            meter.sample(process, signal)
    meter.fill(result, len(signals[:ALLOC_OPS]))
    result.peak_rss_mb = peak_rss_mb()
    result.goal_met = (result.median_ns is not None and result.median_ns <= GOAL_MEDIAN_NS
                       and result.ops_per_s is not None and result.ops_per_s >= GOAL_RATE)
    result.extra["design_budget_ns"] = DESIGN_BUDGET_NS
    result.extra["design_budget_met"] = result.p99_ns is not None and result.p99_ns <= DESIGN_BUDGET_NS
    result.extra["passes"] = PASSES
    return result


def run_signal_to_intent(options: BenchOptions) -> list[ScenarioResult]:
    """One result per sizing policy; skipped when the signal processor is absent."""
    reason = signals_unavailable()
    if reason is not None:
        return [ScenarioResult(name="signal_to_intent", description="SignalProcessor.process per signal",
                               unit="signal", quick=options.quick, skipped=reason)]
    n = max(BATCH, SIGNALS // options.scale)
    signals = make_signals(build_hot_path(), n)
    overhead = call_overhead_ns()
    return [_one(name, signals, overhead, options) for name in POLICIES]
