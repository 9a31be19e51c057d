"""``object_pool``: does a free list beat plain construction of a hot-path event?

The seed design claimed object pools give "zero allocation". This scenario measures it on the
two events the hot path builds most: ``OrderSubmitted`` (one per order, built by
``ExecutionEngine.submit_order``) and ``TradeTick`` (one per trade, built by the loaders and
venue decoders). Both are frozen ``msgspec.Struct`` with ``gc=False``. One operation is "get
an event holding these values, hand it to a consumer, be done with it":

- ``new``: build it (keywords for ``OrderSubmitted`` as the engine does, positional for
  ``TradeTick`` as the loaders do), call the consumer, drop it;
- ``pool_frozen``: take the same frozen struct from a free list, overwrite its fields with
  ``msgspec.structs.force_setattr`` (the only way to change a frozen struct), call the
  consumer, put it back;
- ``pool_mutable``: the same with a mutable twin struct (same fields, ``frozen=False``) and
  plain attribute stores, which is the cheapest a pool can be in Python.

The pools are measured at their best: the free list never runs dry (every release precedes
the next acquire), and ``list.pop``/``list.append`` are bound to locals, so no pool-class
method call is paid. The consumer is an empty function; it keeps nothing, which is the only
case in which recycling is even safe (the engine keeps every ``OrderSubmitted`` in
``order.events`` and publishes it to subscribers that may keep it; a recycled event would
change under them).

Each variant is one result (``object_pool.<event>.<variant>``) with the usual batch and
single-op timing and a tracemalloc pass. What ``new`` allocates is freed at once, so it
shows up as the transient peak (``peak_bytes_per_op``), not as kept bytes; a pool's peak is
the meter's own baseline (``extra.meter_baseline_peak_bytes``, an operation that allocates
nothing). Whether that is worth anything is the time column: ``extra.vs_new`` is the variant's batch
median over ``new``'s.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import msgspec
from msgspec.structs import force_setattr

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
from bot4.core.ids import AccountId, ClientOrderId, InstrumentId, StrategyId, TradeId
from bot4.core.numbers import Price, Quantity
from bot4.model.data import TradeTick
from bot4.model.enums import AggressorSide
from bot4.model.events import OrderSubmitted

__all__ = ["MutableOrderSubmitted", "MutableTradeTick", "run_object_pool"]

BATCH = 1_000
OPS = 200_000
PASSES = 3
ALLOC_OPS = 20_000  # the tracemalloc pass samples this prefix (tracemalloc is slow)
POOL_SIZE = 64


class MutableOrderSubmitted(msgspec.Struct, gc=False, kw_only=True):
    """``OrderSubmitted``'s fields in a mutable struct: what a pool would have to hand out."""

    client_order_id: ClientOrderId
    instrument_id: InstrumentId
    strategy_id: StrategyId
    ts_event: int
    ts_init: int
    account_id: AccountId


class MutableTradeTick(msgspec.Struct, gc=False):
    """``TradeTick``'s fields in a mutable struct."""

    instrument_id: InstrumentId
    price: Price
    size: Quantity
    aggressor_side: AggressorSide
    trade_id: TradeId
    ts_event: int
    ts_init: int


def _consume(_event: object) -> None:
    return None


# -- OrderSubmitted -------------------------------------------------------------------------------

_IID = InstrumentId.from_str("BTCUSDT.SIM")
_SID = StrategyId("BENCH-001")
_AID = AccountId("SIM-001")
_TS0 = 1_723_075_200_000_000_000

SubmittedItem = tuple[ClientOrderId, int]


def _submitted_items(n: int) -> list[SubmittedItem]:
    return [(ClientOrderId(f"O-LZ3K9Q2A-1E5GQ7-{i:X}"), _TS0 + i * 1_000) for i in range(n)]


def _submitted_new(batch: list[SubmittedItem]) -> int:
    consume = _consume
    iid, sid, aid = _IID, _SID, _AID
    for cid, ts in batch:
        event = OrderSubmitted(client_order_id=cid, instrument_id=iid, strategy_id=sid, account_id=aid,
                               ts_event=ts, ts_init=ts)
        consume(event)
    return len(batch)


def _submitted_one_new(item: SubmittedItem) -> None:
    cid, ts = item
    _consume(OrderSubmitted(client_order_id=cid, instrument_id=_IID, strategy_id=_SID, account_id=_AID,
                            ts_event=ts, ts_init=ts))


def _frozen_pool() -> list[OrderSubmitted]:
    return [OrderSubmitted(client_order_id=ClientOrderId("-"), instrument_id=_IID, strategy_id=_SID,
                           account_id=_AID, ts_event=0, ts_init=0) for _ in range(POOL_SIZE)]


def _mutable_pool() -> list[MutableOrderSubmitted]:
    return [MutableOrderSubmitted(client_order_id=ClientOrderId("-"), instrument_id=_IID, strategy_id=_SID,
                                  account_id=_AID, ts_event=0, ts_init=0) for _ in range(POOL_SIZE)]


def _submitted_pool_frozen_runner() -> tuple[Callable[[list[SubmittedItem]], int], Callable[[SubmittedItem], None]]:
    free = _frozen_pool()
    pop = free.pop
    push = free.append
    setf = force_setattr
    consume = _consume
    iid, sid, aid = _IID, _SID, _AID

    def run(batch: list[SubmittedItem]) -> int:
        for cid, ts in batch:
            event = pop()
            setf(event, "client_order_id", cid)
            setf(event, "instrument_id", iid)
            setf(event, "strategy_id", sid)
            setf(event, "account_id", aid)
            setf(event, "ts_event", ts)
            setf(event, "ts_init", ts)
            consume(event)
            push(event)
        return len(batch)

    def one(item: SubmittedItem) -> None:
        cid, ts = item
        event = pop()
        setf(event, "client_order_id", cid)
        setf(event, "instrument_id", iid)
        setf(event, "strategy_id", sid)
        setf(event, "account_id", aid)
        setf(event, "ts_event", ts)
        setf(event, "ts_init", ts)
        consume(event)
        push(event)

    return run, one


def _submitted_pool_mutable_runner() -> tuple[Callable[[list[SubmittedItem]], int], Callable[[SubmittedItem], None]]:
    free = _mutable_pool()
    pop = free.pop
    push = free.append
    consume = _consume
    iid, sid, aid = _IID, _SID, _AID

    def run(batch: list[SubmittedItem]) -> int:
        for cid, ts in batch:
            event = pop()
            event.client_order_id = cid
            event.instrument_id = iid
            event.strategy_id = sid
            event.account_id = aid
            event.ts_event = ts
            event.ts_init = ts
            consume(event)
            push(event)
        return len(batch)

    def one(item: SubmittedItem) -> None:
        cid, ts = item
        event = pop()
        event.client_order_id = cid
        event.instrument_id = iid
        event.strategy_id = sid
        event.account_id = aid
        event.ts_event = ts
        event.ts_init = ts
        consume(event)
        push(event)

    return run, one


# -- TradeTick ------------------------------------------------------------------------------------

TickItem = tuple[Price, Quantity, AggressorSide, TradeId, int]


def _tick_items(n: int) -> list[TickItem]:
    prices = [Price((6_000_000 + k) * 10_000_000, 2) for k in range(-50, 50)]
    sizes = [Quantity((1 + k * 37) * 10_000, 5) for k in range(100)]
    sides = (AggressorSide.BUYER, AggressorSide.SELLER)
    return [(prices[i % 100], sizes[(i * 7) % 100], sides[i % 2], TradeId(str(3_000_000_000 + i)), _TS0 + i * 2_000_000)
            for i in range(n)]


def _tick_new(batch: list[TickItem]) -> int:
    consume = _consume
    iid = _IID
    for price, size, side, trade_id, ts in batch:
        consume(TradeTick(iid, price, size, side, trade_id, ts, ts))
    return len(batch)


def _tick_one_new(item: TickItem) -> None:
    price, size, side, trade_id, ts = item
    _consume(TradeTick(_IID, price, size, side, trade_id, ts, ts))


def _tick_pool_mutable_runner() -> tuple[Callable[[list[TickItem]], int], Callable[[TickItem], None]]:
    seed = _tick_items(1)[0]
    free = [MutableTradeTick(_IID, seed[0], seed[1], seed[2], seed[3], 0, 0) for _ in range(POOL_SIZE)]
    pop = free.pop
    push = free.append
    consume = _consume
    iid = _IID

    def run(batch: list[TickItem]) -> int:
        for price, size, side, trade_id, ts in batch:
            tick = pop()
            tick.instrument_id = iid
            tick.price = price
            tick.size = size
            tick.aggressor_side = side
            tick.trade_id = trade_id
            tick.ts_event = ts
            tick.ts_init = ts
            consume(tick)
            push(tick)
        return len(batch)

    def one(item: TickItem) -> None:
        price, size, side, trade_id, ts = item
        tick = pop()
        tick.instrument_id = iid
        tick.price = price
        tick.size = size
        tick.aggressor_side = side
        tick.trade_id = trade_id
        tick.ts_event = ts
        tick.ts_init = ts
        consume(tick)
        push(tick)

    return run, one


# -- the scenario ---------------------------------------------------------------------------------

def _measure(
    name: str,
    description: str,
    items: list[Any],
    make: Callable[[], tuple[Callable[[list[Any]], int], Callable[[Any], None]]],
    overhead: float,
    options: BenchOptions,
) -> ScenarioResult:
    result = ScenarioResult(name=name, description=description, unit="op", quick=options.quick)
    batches = [items[i : i + BATCH] for i in range(0, len(items), BATCH)]
    run, _ = make()
    run(items)  # warm-up
    timings = [time_batches(batches, make()[0]) for _ in range(PASSES)]
    fill_batch_stats(result, merge_timings(timings), BATCH)
    _, one = make()
    fill_single_stats(result, single_op_times(one, items), overhead)
    result.extra["single_overhead_is"] = "perf_counter_ns pair + one Python call (median), subtracted"
    _, one = make()
    with AllocationMeter() as meter:
        for item in items[:ALLOC_OPS]:
            meter.sample(one, item)
    meter.fill(result, len(items[:ALLOC_OPS]))
    result.peak_rss_mb = peak_rss_mb()
    result.extra["passes"] = PASSES
    return result


def run_object_pool(options: BenchOptions) -> list[ScenarioResult]:
    """Measure construction against the best-case free lists; one result per variant."""
    n = max(BATCH, OPS // options.scale)
    overhead = call_overhead_ns()
    t0 = time.perf_counter()
    submitted = _submitted_items(n)
    ticks = _tick_items(n)
    gen_s = round(time.perf_counter() - t0, 3)

    def plain(run: Callable[[list[Any]], int], one: Callable[[Any], None]) -> Callable[[], tuple[Any, Any]]:
        return lambda: (run, one)

    results = [
        _measure("object_pool.order_submitted.new",
                 "OrderSubmitted(...) by keywords as ExecutionEngine.submit_order builds it, consumed, dropped",
                 submitted, plain(_submitted_new, _submitted_one_new), overhead, options),
        _measure("object_pool.order_submitted.pool_frozen",
                 "frozen OrderSubmitted from a free list, 6 fields via msgspec.structs.force_setattr, consumed, returned",
                 submitted, _submitted_pool_frozen_runner, overhead, options),
        _measure("object_pool.order_submitted.pool_mutable",
                 "mutable twin of OrderSubmitted from a free list, 6 attribute stores, consumed, returned",
                 submitted, _submitted_pool_mutable_runner, overhead, options),
        _measure("object_pool.trade_tick.new",
                 "TradeTick(...) positional as the loaders build it, consumed, dropped",
                 ticks, plain(_tick_new, _tick_one_new), overhead, options),
        _measure("object_pool.trade_tick.pool_mutable",
                 "mutable twin of TradeTick from a free list, 7 attribute stores, consumed, returned",
                 ticks, _tick_pool_mutable_runner, overhead, options),
    ]
    baselines: dict[str, ScenarioResult] = {}
    for result in results:
        event, variant = result.name.split(".")[1:]
        if variant == "new":
            baselines[event] = result
    for result in results:
        event, variant = result.name.split(".")[1:]
        base = baselines[event]
        if variant == "new":
            result.extra["vs_new"] = 1.0
            continue
        result.goal = "pool median below new's"
        ratio = (result.median_ns or 0.0) / (base.median_ns or 1.0)
        result.extra["vs_new"] = round(ratio, 3)
        result.goal_met = ratio < 1.0
        result.extra["verdict"] = "pool faster" if ratio < 1.0 else "pool not faster: keep plain construction"
    baseline = _meter_baseline()
    for result in results:
        result.extra["generate_s"] = gen_s
        # What the meter itself shows for an operation that allocates nothing.
        result.extra["meter_baseline_peak_bytes"] = baseline
    return results


def _meter_baseline(n: int = 2_000) -> float | None:
    probe = ScenarioResult(name="baseline", description="")
    with AllocationMeter() as meter:
        for _ in range(n):
            meter.sample(_consume, None)
    meter.fill(probe, n)
    return probe.peak_bytes_per_op
