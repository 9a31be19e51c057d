"""``book_delta_real``: the bundled sample's real Binance depth diffs through ``apply_deltas``.

The sample (a Binance spot BTCUSDT capture in hftbacktest's layout, shipped in
``bot4/sample_data``) is loaded with :func:`bot4.backtest.loaders.load_binance_jsonl`, which
synchronises the diffs with the REST snapshot. The book is loaded from the snapshot(s) untimed;
every ``BookDeltas`` (one ``depthUpdate`` message, ~tens of levels) is applied with
``book.apply_deltas`` followed by a best bid/ask read, in batches of whole messages holding
about 1,000 levels. The unit is one level applied; the stream is replayed ``passes`` times on
a freshly loaded book. When the sample or the loader is missing the scenario is skipped with
the reason in ``skipped``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from bot4.bench.harness import (
    AllocationMeter,
    BenchOptions,
    ScenarioResult,
    fill_batch_stats,
    fill_single_stats,
    merge_timings,
    peak_rss_mb,
    time_batches,
    timer_overhead_ns,
)
from bot4.bench.scenarios.book_delta import DESIGN_BUDGET_NS, GOAL_NS
from bot4.model.book import OrderBook
from bot4.model.data import BookDeltas, BookSnapshot, MarketData
from bot4.model.enums import OrderSide
from bot4.testkit.instruments import btcusdt

__all__ = ["find_sample", "load_sample", "run_book_delta_real"]

BATCH_LEVELS = 1_000
PASSES = 20

# A batch: snapshots to load untimed first (usually none), then the messages to time.
Batch = tuple[list[BookSnapshot], list[BookDeltas], int]


def find_sample() -> Path | None:
    """Return the bundled Binance capture (``bot4/sample_data/*.jsonl.gz``), or None."""
    try:
        folder = resources.files("bot4") / "sample_data"
    except ModuleNotFoundError:
        return None
    if not folder.is_dir():
        return None
    found = sorted(str(p) for p in folder.iterdir() if p.name.endswith(".jsonl.gz"))
    return Path(found[0]) if found else None


def load_sample(options: BenchOptions) -> tuple[list[MarketData], Path] | str:
    """Load the bundled sample's events (cached per run), or return why they cannot be."""
    cached = options.cache.get("sample")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    path = find_sample()
    if path is None:
        return "no bundled sample: bot4/sample_data/*.jsonl.gz not found"
    try:
        from bot4.backtest.loaders.binance import load_binance_jsonl
    except ImportError as exc:
        return f"loader bot4.backtest.loaders.load_binance_jsonl unavailable: {exc}"
    loaded = load_binance_jsonl(path, btcusdt("BINANCE"))
    value = (list(loaded.events), path)
    options.cache["sample"] = value
    return value


def _batches(events: list[MarketData]) -> list[Batch]:
    batches: list[Batch] = []
    snapshots: list[BookSnapshot] = []
    messages: list[BookDeltas] = []
    levels = 0
    for event in events:
        if type(event) is BookSnapshot:
            if messages:
                batches.append((snapshots, messages, levels))
                snapshots, messages, levels = [], [], 0
            snapshots.append(event)
        elif type(event) is BookDeltas:
            messages.append(event)
            levels += len(event.deltas)
            if levels >= BATCH_LEVELS:
                batches.append((snapshots, messages, levels))
                snapshots, messages, levels = [], [], 0
    if messages:
        batches.append((snapshots, messages, levels))
    return batches


def _runner(book: OrderBook) -> tuple[Callable[[Batch], int], Callable[[Batch], None]]:
    """Return (timed run, untimed prepare) for batches on ``book``."""
    apply = book.apply_deltas
    best_bid = book.best_bid_raw
    best_ask = book.best_ask_raw
    apply_snapshot = book.apply_snapshot

    def prepare(batch: Batch) -> None:
        for snapshot in batch[0]:  # a (re)sync: loading the book is not what is measured
            apply_snapshot(snapshot)

    def run(batch: Batch) -> int:
        for deltas in batch[1]:
            apply(deltas)
            best_bid()
            best_ask()
        return batch[2]

    return run, prepare


def _new_book() -> OrderBook:
    instrument = btcusdt("BINANCE")
    return OrderBook(instrument.id, instrument.price_precision, instrument.size_precision)


def _one_message(apply: Callable[[BookDeltas], None], best_bid: Callable[[], int | None],
                 best_ask: Callable[[], int | None], deltas: BookDeltas) -> None:
    apply(deltas)
    best_bid()
    best_ask()


def run_book_delta_real(options: BenchOptions) -> list[ScenarioResult]:
    """Run the real-diff book scenario; return its one result (skipped without the sample)."""
    result = ScenarioResult(
        name="book_delta_real",
        description="real Binance BTCUSDT depth diffs (bundled sample): apply_deltas + best bid/ask, per level",
        unit="level",
        goal=f"median <= {GOAL_NS:.0f} ns/level",
        quick=options.quick,
    )
    t0 = time.perf_counter()
    loaded = load_sample(options)
    if isinstance(loaded, str):
        result.skipped = loaded
        return [result]
    events, path = loaded
    load_s = time.perf_counter() - t0
    batches = _batches(events)
    if not batches:
        result.skipped = f"the sample {path.name} holds no synchronised depth diffs"
        return [result]
    passes = max(1, PASSES // options.scale)
    if options.quick:
        batches = batches[: max(1, len(batches) // 10)]

    run, prepare = _runner(_new_book())
    prepare(batches[0])
    run(batches[0])  # warm-up
    timings = []
    for _ in range(passes):
        run, prepare = _runner(_new_book())
        timing = time_batches(batches, run, prepare)
        timings.append(timing)
    fill_batch_stats(result, merge_timings(timings), BATCH_LEVELS)
    result.batch = None  # batches are whole messages of ~BATCH_LEVELS levels, not fixed

    # Single message timings, per level: each message timed alone, divided by its levels.
    overhead = timer_overhead_ns()
    book = _new_book()
    perf = time.perf_counter_ns
    per_level: list[float] = []
    messages = 0
    for snapshots, batch_messages, _levels in batches:
        for snapshot in snapshots:
            book.apply_snapshot(snapshot)
        for deltas in batch_messages:
            t_start = perf()
            _one_message(book.apply_deltas, book.best_bid_raw, book.best_ask_raw, deltas)
            t_end = perf()
            messages += 1
            per_level.append((t_end - t_start - overhead) / len(deltas.deltas))
    fill_single_stats(result, per_level, 0.0)
    result.extra["timer_overhead_ns"] = overhead
    result.extra["single_is"] = "each message timed alone, divided by its levels"

    book = _new_book()
    levels = 0
    with AllocationMeter() as meter:
        for snapshots, batch_messages, _levels in batches:
            for snapshot in snapshots:
                book.apply_snapshot(snapshot)
            for deltas in batch_messages:
                meter.sample(_one_message, book.apply_deltas, book.best_bid_raw, book.best_ask_raw, deltas)
                levels += len(deltas.deltas)
    meter.fill(result, levels)
    if result.peak_bytes_per_op is not None and messages:
        # sample() measured whole messages: express the transient peak per level too.
        result.extra["peak_bytes_per_message"] = result.peak_bytes_per_op
        result.peak_bytes_per_op = round(result.peak_bytes_per_op * messages / levels, 1)

    result.peak_rss_mb = peak_rss_mb()
    result.goal_met = result.median_ns is not None and result.median_ns <= GOAL_NS
    result.extra["design_budget_p99_ns"] = DESIGN_BUDGET_NS
    result.extra["design_budget_met"] = result.p99_ns is not None and result.p99_ns <= DESIGN_BUDGET_NS
    result.extra.update(
        sample=path.name,
        messages=messages,
        levels=levels,
        levels_per_message=round(levels / messages, 1) if messages else None,
        passes=passes,
        load_s=round(load_s, 3),
        final_levels=[book.level_count(OrderSide.BUY), book.level_count(OrderSide.SELL)],
    )
    return [result]
