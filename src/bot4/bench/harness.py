"""Measuring tools shared by the scenarios: batch timing, single-op timing, allocations, RSS.

Timing and allocation counting are always separate passes over the same deterministic
workload, because ``tracemalloc`` hooks every allocation and slows the measured code several
times over. The conventions every scenario follows:

- **Batch timing** (``time_batches``): the workload is cut into batches of ``batch`` operations
  (1,000 by default); each batch is timed as a whole with ``time.perf_counter_ns`` and its time
  divided by its size. The reported median and p99 are taken over those per-batch per-op
  times, so timer overhead is spread over 1,000 operations and vanishes. ops/s is the total
  operation count over the summed batch time. ``cpu_ops_per_s`` divides by the process CPU
  time of the same passes instead: on a shared machine wall time also counts the moments
  another process held the core, CPU time does not (``load_avg_1m`` hints at that).
- **Single-op timing** (``timer_overhead_ns`` plus each scenario's own loop): where one
  operation is long enough to be worth it, each operation is timed on its own; the median cost
  of an empty ``perf_counter_ns`` pair is subtracted. This shows the tail a batch median hides
  (an occasional list reallocation or a GC pass), at the price of ~±20 ns of timer noise.
- **Allocations** (``AllocationMeter``): a fresh run of the same workload under ``tracemalloc``.
  ``alloc_bytes_per_op`` / ``alloc_blocks_per_op`` are what the operations *kept*: bytes and
  blocks allocated during the pass and still alive after it (and after ``gc.collect()``),
  divided by the operation count (about 0 for a book in steady state; positive where the engine
  stores orders and events). ``peak_bytes_per_op`` is the mean high-water mark *inside* one
  operation above the memory held before it, sampled over single operations: the transient
  working memory (temporaries that are freed again). tracemalloc cannot count the total bytes
  churned, only these two. Whole-run scenarios report only the kept figures, over a shorter
  prefix of their workload.
- **Whole runs** (the backtests): one ``engine.run()`` timed with ``perf_counter_ns`` and with
  ``process_time_ns``; ticks/s is ticks over the wall time, ``cpu_ops_per_s`` over CPU time.
- **Peak RSS** (``peak_rss_mb``): ``resource.getrusage(RUSAGE_SELF).ru_maxrss``, the process's
  high-water mark so far; it never goes down, so the figure of a later scenario includes the
  earlier ones. ``backtest_memory`` runs its workload in a fresh interpreter for that reason,
  and reads ``VmHWM`` there (``own_peak_rss_mb``: ``ru_maxrss`` survives ``exec``).

The garbage collector stays enabled (it is part of what a real run pays); ``gc.collect()`` runs
before every measured pass so one pass does not pay for the garbage of the previous one.
"""

from __future__ import annotations

import gc
import platform
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, TypeVar

import msgspec

__all__ = [
    "AllocationMeter",
    "BatchTiming",
    "BenchOptions",
    "ScenarioResult",
    "fill_batch_stats",
    "fill_single_stats",
    "merge_timings",
    "own_peak_rss_mb",
    "percentile",
    "peak_rss_mb",
    "time_batches",
    "timer_overhead_ns",
]

T = TypeVar("T")

_perf = time.perf_counter_ns


class BenchOptions(msgspec.Struct, kw_only=True):
    """What the user asked for; scenarios scale their workloads with ``scale``."""

    quick: bool = False
    data: str | None = None
    # Scenarios share expensive inputs (the generated trade ticks) through this cache.
    cache: dict[str, Any] = msgspec.field(default_factory=dict)

    @property
    def scale(self) -> int:
        """Divide workload sizes by this: 50 with ``--quick``, else 1."""
        return 50 if self.quick else 1


class ScenarioResult(msgspec.Struct, kw_only=True, omit_defaults=False):
    """One scenario's figures; ``--json`` prints a list of these.

    Latencies are nanoseconds per ``unit`` (an operation, a book level, a tick, an event).
    Fields a scenario does not measure are None; ``skipped`` holds the reason a scenario did
    not run (its inputs are missing) and ``error`` what it raised; then every figure is None
    or 0.
    """

    name: str
    description: str
    unit: str = "op"
    ops: int = 0
    wall_s: float | None = None
    ops_per_s: float | None = None
    cpu_s: float | None = None  # process CPU time of the timed work (see BatchTiming)
    cpu_ops_per_s: float | None = None
    median_ns: float | None = None
    p99_ns: float | None = None
    batch: int | None = None
    samples: int | None = None
    single_median_ns: float | None = None
    single_p99_ns: float | None = None
    single_max_ns: float | None = None
    # A per-event latency distribution measured across engines (tick_to_order): what it spans,
    # how many events, and their median, p99 and max (timer overhead subtracted).
    latency_what: str | None = None
    latency_samples: int | None = None
    latency_median_ns: float | None = None
    latency_p99_ns: float | None = None
    latency_max_ns: float | None = None
    alloc_bytes_per_op: float | None = None
    alloc_blocks_per_op: float | None = None
    peak_bytes_per_op: float | None = None
    peak_rss_mb: float | None = None
    goal: str | None = None
    goal_met: bool | None = None
    extra: dict[str, Any] = msgspec.field(default_factory=dict)
    skipped: str | None = None
    error: str | None = None
    quick: bool = False
    python: str = platform.python_version()
    load_avg_1m: float | None = None  # system load when the scenario started: a noise hint
    scenario_s: float | None = None  # everything the scenario did, generation included


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Return the ``q``-th percentile (0..100) of already sorted values, nearest-rank."""
    if not sorted_values:
        raise ValueError("no values")
    rank = max(1, min(len(sorted_values), int(-(-q * len(sorted_values) // 100))))
    return float(sorted_values[rank - 1])


class BatchTiming(NamedTuple):
    """Per-op ns of each batch, plus the totals ops/s is computed from.

    ``cpu_ns`` is the process CPU time of the whole pass (``time.process_time_ns``): on a
    shared machine, wall time also counts the moments another process had the core.
    """

    per_op: list[float]
    total_ns: int
    ops: int
    cpu_ns: int = 0


def time_batches(
    batches: Sequence[T], run: Callable[[T], int], prepare: Callable[[T], None] | None = None
) -> BatchTiming:
    """Time ``run(batch)`` for each batch (``run`` returns how many operations it did).

    ``prepare(batch)``, when given, runs untimed before each batch (e.g. loading a snapshot);
    its CPU time is left out of ``cpu_ns`` too.
    """
    gc.collect()
    per_op: list[float] = []
    append = per_op.append
    total_ns = 0
    ops = 0
    if prepare is None:
        cpu0 = time.process_time_ns()
        for batch in batches:
            t0 = _perf()
            n = run(batch)
            t1 = _perf()
            append((t1 - t0) / n)
            total_ns += t1 - t0
            ops += n
        return BatchTiming(per_op, total_ns, ops, time.process_time_ns() - cpu0)
    # With an untimed ``prepare``, CPU time is taken around each ``run`` only, like wall time.
    cpu = time.process_time_ns
    cpu_ns = 0
    for batch in batches:
        prepare(batch)
        c0 = cpu()
        t0 = _perf()
        n = run(batch)
        t1 = _perf()
        cpu_ns += cpu() - c0
        append((t1 - t0) / n)
        total_ns += t1 - t0
        ops += n
    return BatchTiming(per_op, total_ns, ops, cpu_ns)


def merge_timings(timings: Sequence[BatchTiming]) -> BatchTiming:
    """Combine the timings of several passes into one."""
    per_op: list[float] = []
    for timing in timings:
        per_op.extend(timing.per_op)
    return BatchTiming(
        per_op,
        sum(t.total_ns for t in timings),
        sum(t.ops for t in timings),
        sum(t.cpu_ns for t in timings),
    )


def timer_overhead_ns(samples: int = 20_000) -> float:
    """Median cost of two back-to-back ``perf_counter_ns`` calls, to subtract from single-op times."""
    perf = _perf
    deltas = []
    for _ in range(samples):
        t0 = perf()
        t1 = perf()
        deltas.append(t1 - t0)
    deltas.sort()
    return percentile(deltas, 50)


def summarize_single(deltas: list[float], overhead: float) -> tuple[float, float, float]:
    """Return (median, p99, max) of single-op times less the timer overhead, floored at 0."""
    deltas.sort()
    return (
        max(percentile(deltas, 50) - overhead, 0.0),
        max(percentile(deltas, 99) - overhead, 0.0),
        max(float(deltas[-1]) - overhead, 0.0),
    )


class AllocationMeter:
    """Count what a pass keeps and the transient peak of single operations, with tracemalloc.

    Use as a context manager around the pass; call ``sample(op)`` for the operations whose
    transient peak should be measured (each call is one operation).
    """

    def __init__(self) -> None:
        self.ops = 0
        self.bytes_kept = 0
        self.blocks_kept = 0
        self._peak_total = 0
        self._peak_samples = 0
        self._start_bytes = 0
        self._start_blocks = 0

    def __enter__(self) -> AllocationMeter:
        gc.collect()
        tracemalloc.start()
        self._start_bytes = tracemalloc.get_traced_memory()[0]
        self._start_blocks = len(tracemalloc.take_snapshot().traces)
        return self

    def sample(self, op: Callable[..., object], *args: Any) -> None:
        """Run ``op(*args)`` as one operation; record its high-water mark above the memory before."""
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        op(*args)
        self._peak_total += tracemalloc.get_traced_memory()[1] - before
        self._peak_samples += 1

    def __exit__(self, *exc: object) -> None:
        # Collect first: cyclic garbage made by the pass is not something it kept.
        gc.collect()
        self.bytes_kept = tracemalloc.get_traced_memory()[0] - self._start_bytes
        self.blocks_kept = len(tracemalloc.take_snapshot().traces) - self._start_blocks
        tracemalloc.stop()

    def fill(self, result: ScenarioResult, ops: int) -> None:
        """Write the per-op figures into ``result`` (``ops`` operations ran in the pass)."""
        result.alloc_bytes_per_op = round(self.bytes_kept / ops, 2) if ops else None
        result.alloc_blocks_per_op = round(self.blocks_kept / ops, 4) if ops else None
        if self._peak_samples:
            result.peak_bytes_per_op = round(self._peak_total / self._peak_samples, 1)


def peak_rss_mb() -> float:
    """The process's peak resident set size so far, in MB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if sys.platform == "darwin":
        return round(peak / 1e6, 1)
    return round(peak * 1024 / 1e6, 1)


def own_peak_rss_mb() -> float:
    """Peak RSS of this program alone: ``VmHWM`` where Linux has it, else :func:`peak_rss_mb`.

    Linux keeps ``ru_maxrss`` across ``exec``, so in a child started from a big parent it
    reports at least the parent's size at the fork; ``VmHWM`` belongs to the new image only.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) * 1024 / 1e6, 1)
    except OSError:
        pass
    return peak_rss_mb()


def fill_batch_stats(result: ScenarioResult, timing: BatchTiming, batch: int) -> None:
    """Write median, p99 and ops/s from a batch timing into ``result``."""
    ordered = sorted(timing.per_op)
    result.median_ns = round(percentile(ordered, 50), 1)
    result.p99_ns = round(percentile(ordered, 99), 1)
    result.batch = batch
    result.samples = len(ordered)
    result.ops = timing.ops
    result.wall_s = round(timing.total_ns / 1e9, 4)
    result.ops_per_s = round(timing.ops / (timing.total_ns / 1e9), 1) if timing.total_ns else None
    if timing.cpu_ns:
        result.cpu_s = round(timing.cpu_ns / 1e9, 4)
        result.cpu_ops_per_s = round(timing.ops / (timing.cpu_ns / 1e9), 1)


def fill_single_stats(result: ScenarioResult, deltas: list[float], overhead: float) -> None:
    """Write the single-op median, p99 and max (timer overhead subtracted) into ``result``."""
    median, p99, worst = summarize_single(deltas, overhead)
    result.single_median_ns = round(median, 1)
    result.single_p99_ns = round(p99, 1)
    result.single_max_ns = round(worst, 1)
    result.extra["timer_overhead_ns"] = overhead
