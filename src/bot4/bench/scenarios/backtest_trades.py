"""``backtest_trades`` and ``backtest_trades_no_orders``: the peer workload, whole runs.

1,000,000 BTCUSDT trade ticks (:func:`bot4.bench.workloads.trade_ticks`: a random walk on the
0.01 tick, 1-3 ms apart; or the trades of ``--data PATH``) through :class:`BacktestEngine` with
the :class:`~bot4.bench.strategies.SmaCross` strategy on a simulated venue with a MARGIN
account (1,000,000 USDT, leverage 10) and zero latency. ``backtest_trades`` flips the position
on every SMA(10)/SMA(50) cross with a market order (~27,000 orders); ``_no_orders`` runs the
same strategy logic without submitting, so the two together separate the data path from the
order path.

The ticks are built once per bench run, timed apart (``generate_s``) and excluded. The figure
is ``ticks / wall time of engine.run()``, which includes building the result (orders, fills,
statistics); ``loop_ticks_per_s`` leaves that out (the strategy stamps the wall clock in
``on_stop``, which the engine calls right after the event loop), and ``cpu_ops_per_s`` divides
by the process CPU time of ``run()`` instead, which a busy shared machine does not inflate. A separate, shorter run under
tracemalloc gives the bytes and blocks a run keeps per tick (orders, events, the result).
"""

from __future__ import annotations

import gc
import time
from pathlib import Path

from bot4.backtest.engine import BacktestConfig, BacktestEngine
from bot4.backtest.result import BacktestResult
from bot4.bench.harness import AllocationMeter, BenchOptions, ScenarioResult, peak_rss_mb
from bot4.bench.strategies import SmaCross, SmaCrossConfig
from bot4.bench.workloads import trade_ticks
from bot4.core.errors import InvalidInputError
from bot4.model.data import TradeTick
from bot4.model.enums import AccountType
from bot4.model.instrument import Instrument
from bot4.testkit.instruments import btcusdt
from bot4.venues.sim import SimVenueConfig

__all__ = [
    "TICKS",
    "TradeRun",
    "load_ticks",
    "run_backtest_trades",
    "run_backtest_trades_no_orders",
    "run_trades_backtest",
]

TICKS = 1_000_000
ALLOC_TICKS = 50_000  # the tracemalloc pass runs this prefix (tracemalloc is ~3x slower)
GOAL_NO_ORDERS = 1_000_000  # ticks/s
GOAL_ORDERS = 500_000


def bench_instrument() -> Instrument:
    """BTCUSDT on the simulated venue, with Binance's real filters and 0.1% fees."""
    return btcusdt("SIM")


def load_ticks(options: BenchOptions, instrument: Instrument) -> tuple[list[TradeTick], float, str]:
    """The run's ticks (generated, or read from ``--data``), the seconds it took, the source.

    Cached in ``options.cache`` so both variants replay the very same list.
    """
    cached = options.cache.get("trade_ticks")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    t0 = time.perf_counter()
    if options.data:
        ticks = _read_ticks(Path(options.data), instrument)
        if options.quick:
            ticks = ticks[: max(1, len(ticks) // options.scale)]
        source = f"file {options.data}"
    else:
        n = TICKS // options.scale
        ticks = trade_ticks(instrument, n)
        source = f"generated: {n:,} ticks, random walk from 60000.00, seed 42"
    value = (ticks, time.perf_counter() - t0, source)
    options.cache["trade_ticks"] = value
    return value


def _read_ticks(path: Path, instrument: Instrument) -> list[TradeTick]:
    from bot4.backtest.loaders import load_path

    loaded = load_path(path, instrument, None)
    ticks = [e for e in loaded.events if type(e) is TradeTick]
    if not ticks:
        raise InvalidInputError("no trades in the --data file (expected columns ts_event, price, size)",
                                file=str(path), skipped=loaded.report.skipped)
    return ticks


class TradeRun:
    """What one whole run produced: timings, counts and the result."""

    __slots__ = ("cpu_s", "loop_s", "result", "strategy", "wall_s")

    def __init__(self, result: BacktestResult, strategy: SmaCross, wall_s: float, loop_s: float,
                 cpu_s: float) -> None:
        self.result = result
        self.strategy = strategy
        self.wall_s = wall_s
        self.loop_s = loop_s
        self.cpu_s = cpu_s


def build_engine(ticks: list[TradeTick], instrument: Instrument, submit_orders: bool) -> tuple[BacktestEngine, SmaCross]:
    """An engine with the margin venue, the instrument, the ticks and the strategy."""
    engine = BacktestEngine(BacktestConfig(trader_id="BENCH"))
    engine.add_venue(SimVenueConfig(
        venue="SIM",
        account_type=AccountType.MARGIN,
        starting_balances={"USDT": "1000000"},
        leverage="10",
        latency_ns=0,
    ))
    engine.add_instrument(instrument)
    engine.add_data(ticks)
    strategy = SmaCross(SmaCrossConfig(instrument_id=str(instrument.id), submit_orders=submit_orders))
    engine.add_strategy(strategy)
    return engine, strategy


def run_trades_backtest(ticks: list[TradeTick], instrument: Instrument, submit_orders: bool) -> TradeRun:
    """Build and run one backtest over ``ticks``; time ``engine.run()`` and its event loop."""
    engine, strategy = build_engine(ticks, instrument, submit_orders)
    gc.collect()
    cpu0 = time.process_time_ns()
    t0 = time.perf_counter_ns()
    result = engine.run()
    t1 = time.perf_counter_ns()
    cpu1 = time.process_time_ns()
    loop_ns = (strategy.stopped_at_ns or t1) - t0
    return TradeRun(result, strategy, (t1 - t0) / 1e9, loop_ns / 1e9, (cpu1 - cpu0) / 1e9)


def _scenario(options: BenchOptions, submit_orders: bool) -> ScenarioResult:
    name = "backtest_trades" if submit_orders else "backtest_trades_no_orders"
    goal = GOAL_ORDERS if submit_orders else GOAL_NO_ORDERS
    result = ScenarioResult(
        name=name,
        description="",
        unit="tick",
        goal=f">= {goal:,} ticks/s",
        quick=options.quick,
    )
    instrument = bench_instrument()
    ticks, gen_s, source = load_ticks(options, instrument)
    result.description = (
        f"{len(ticks):,} BTCUSDT trade ticks, SMA(10)/SMA(50) cross "
        + ("flipping +/-0.01 BTC with market orders" if submit_orders else "without submitting orders")
        + ", MARGIN sim venue, zero latency"
    )
    run = run_trades_backtest(ticks, instrument, submit_orders)
    n = run.result.events
    result.ops = n
    result.wall_s = round(run.wall_s, 3)
    result.ops_per_s = round(n / run.wall_s, 1)
    result.cpu_s = round(run.cpu_s, 3)
    result.cpu_ops_per_s = round(n / run.cpu_s, 1) if run.cpu_s else None
    fills = run.result.fills
    result.extra.update(
        source=source,
        generate_s=round(gen_s, 3),
        loop_s=round(run.loop_s, 3),
        loop_ticks_per_s=round(n / run.loop_s, 1),
        result_s=round(run.wall_s - run.loop_s, 3),
        mean_ns_per_tick=round(run.wall_s * 1e9 / n, 1),
        signals=run.strategy.crosses,
        orders=len(run.result.orders),
        fills=len(fills),
        strategy_errors=run.result.strategy_errors,
    )
    if submit_orders:
        position = run.result.positions[0] if run.result.positions else None
        result.extra["final_position"] = None if position is None else position.quantity

    prefix = ticks[: max(1, ALLOC_TICKS // options.scale)]
    engine, _strategy = build_engine(prefix, instrument, submit_orders)
    with AllocationMeter() as meter:
        kept = engine.run()
    meter.fill(result, kept.events)
    result.extra["alloc_pass_ticks"] = kept.events
    del engine, kept

    result.peak_rss_mb = peak_rss_mb()
    result.goal_met = result.ops_per_s is not None and result.ops_per_s >= goal
    return result


def run_backtest_trades_no_orders(options: BenchOptions) -> list[ScenarioResult]:
    return [_scenario(options, submit_orders=False)]


def run_backtest_trades(options: BenchOptions) -> list[ScenarioResult]:
    return [_scenario(options, submit_orders=True)]
