"""``book_delta``: one L2 level update plus a best bid/ask read on a realistic BTCUSDT book.

The book starts with 1,000 levels a side around 60000.00 on the 0.01 tick (dense at the top,
gaps widening with depth, sizes log-uniform up to ~2 BTC). The stream (``book_workload``) is
70% size changes, 15% inserts and 15% deletes, concentrated on the top levels, never crossing.
One operation is ``book.update(side, price_raw, size_raw)`` followed by ``best_bid_raw()`` and
``best_ask_raw()``: what the data engine does per delta before a strategy reads the top.

The stream is replayed ``passes`` times, each time on a freshly loaded book, in batches of
1,000 operations (see :mod:`bot4.bench.harness` for the method). The measured loop is a plain
``for side, price, size in batch`` over pre-built tuples with the three bound methods in locals;
``loop_overhead_ns`` in ``extra`` is that loop with the calls taken out, for reference.
"""

from __future__ import annotations

import time
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
    timer_overhead_ns,
)
from bot4.bench.workloads import BookWorkload, book_workload, iter_chunks
from bot4.core.ids import InstrumentId
from bot4.model.book import OrderBook
from bot4.model.enums import OrderSide

__all__ = ["DESIGN_BUDGET_NS", "GOAL_NS", "run_book_delta"]

GOAL_NS = 250.0  # NautilusTrader's Rust book costs ~270 ns per delta + top read, called from Python
DESIGN_BUDGET_NS = 5_000.0  # DESIGN.md: L2 delta applied, best bid/ask available, <= 5 us
BATCH = 1_000
UPDATES = 200_000
PASSES = 5

Update = tuple[OrderSide, int, int]


def _loaded_book(workload: BookWorkload) -> OrderBook:
    book = OrderBook(InstrumentId.from_str("BTCUSDT.BINANCE"), 2, 5)
    for price, size in workload.bids.items():
        book.update(OrderSide.BUY, price, size)
    for price, size in workload.asks.items():
        book.update(OrderSide.SELL, price, size)
    return book


def _batch_runner(book: OrderBook) -> Callable[[list[Update]], int]:
    update = book.update
    best_bid = book.best_bid_raw
    best_ask = book.best_ask_raw

    def run(batch: list[Update]) -> int:
        for side, price, size in batch:
            update(side, price, size)
            best_bid()
            best_ask()
        return len(batch)

    return run


def _empty_loop(batch: list[Update]) -> int:
    for _side, _price, _size in batch:
        pass
    return len(batch)


def _one_op(
    update: Callable[[OrderSide, int, int], None],
    best_bid: Callable[[], int | None],
    best_ask: Callable[[], int | None],
    side: OrderSide,
    price: int,
    size: int,
) -> None:
    update(side, price, size)
    best_bid()
    best_ask()


def _single_op_times(book: OrderBook, updates: list[Update]) -> list[float]:
    perf = time.perf_counter_ns
    update = book.update
    best_bid = book.best_bid_raw
    best_ask = book.best_ask_raw
    deltas: list[float] = []
    append = deltas.append
    for side, price, size in updates:
        t0 = perf()
        update(side, price, size)
        best_bid()
        best_ask()
        t1 = perf()
        append(t1 - t0)
    return deltas


def run_book_delta(options: BenchOptions) -> list[ScenarioResult]:
    """Run the synthetic book scenario; return its one result."""
    result = ScenarioResult(
        name="book_delta",
        description="OrderBook.update + best_bid_raw + best_ask_raw, 1,000 levels/side, top-heavy stream",
        unit="op",
        goal=f"median <= {GOAL_NS:.0f} ns/op",
        quick=options.quick,
    )
    n_updates = UPDATES // options.scale
    t0 = time.perf_counter()
    workload = book_workload(n_updates)
    gen_s = time.perf_counter() - t0
    batches = list(iter_chunks(workload.updates, BATCH))

    # Warm-up pass (untimed), then the timed passes, each on a freshly loaded book.
    _batch_runner(_loaded_book(workload))(workload.updates)
    timings = []
    for _ in range(PASSES):
        timing = time_batches(batches, _batch_runner(_loaded_book(workload)))
        timings.append(timing)
    fill_batch_stats(result, merge_timings(timings), BATCH)
    loop = time_batches(batches, _empty_loop)

    overhead = timer_overhead_ns()
    fill_single_stats(result, _single_op_times(_loaded_book(workload), workload.updates), overhead)

    book = _loaded_book(workload)
    update = book.update
    best_bid = book.best_bid_raw
    best_ask = book.best_ask_raw
    with AllocationMeter() as meter:
        for side, price, size in workload.updates:
            meter.sample(_one_op, update, best_bid, best_ask, side, price, size)
    meter.fill(result, len(workload.updates))

    result.peak_rss_mb = peak_rss_mb()
    result.goal_met = result.median_ns is not None and result.median_ns <= GOAL_NS
    result.extra["design_budget_p99_ns"] = DESIGN_BUDGET_NS
    result.extra["design_budget_met"] = result.p99_ns is not None and result.p99_ns <= DESIGN_BUDGET_NS
    result.extra.update(
        levels_per_side=len(workload.bids),
        updates=len(workload.updates),
        passes=PASSES,
        mix=dict(workload.kinds),
        loop_overhead_ns=round(sorted(loop.per_op)[len(loop.per_op) // 2], 1),
        generate_s=round(gen_s, 3),
        final_levels=[book.level_count(OrderSide.BUY), book.level_count(OrderSide.SELL)],
    )
    return [result]
