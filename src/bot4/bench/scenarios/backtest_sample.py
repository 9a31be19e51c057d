"""``backtest_sample``: the bundled Binance capture with the EmaCross example, events per second.

The same setup as ``bot4 backtest --data sample``: ``sample.toml`` (MARGIN venue ``SIM``,
100,000 USDT, leverage 3, 1 ms latency, Binance's BTCUSDT filters) and the bundled capture
(~41,000 messages: trades, best bid/ask and depth diffs, synchronised on the REST snapshot),
with :class:`bot4.strategy.examples.EmaCross`. Loading is timed apart; each repetition is a
fresh engine over the same loaded events, and the median repetition is reported (wall and
process CPU time, each its own median). When the
sample, its config or the backtest runner is missing the scenario is skipped with the reason.
"""

from __future__ import annotations

import gc
import time

from bot4.bench.harness import BenchOptions, ScenarioResult, peak_rss_mb, percentile
from bot4.strategy.examples import EmaCross, EmaCrossConfig

__all__ = ["run_backtest_sample"]

REPEATS = 5


def run_backtest_sample(options: BenchOptions) -> list[ScenarioResult]:
    """Run the EMA-cross example over the bundled sample; return its one result."""
    result = ScenarioResult(
        name="backtest_sample",
        description="bundled Binance BTCUSDT capture (trades+quotes+depth) with EmaCross via BacktestEngine",
        unit="event",
        quick=options.quick,
    )
    try:
        from bot4.backtest.config import load_backtest_config
        from bot4.backtest.runner import build_engine, load_data, sample_config_path
    except ImportError as exc:
        result.skipped = f"backtest runner unavailable: {exc}"
        return [result]
    config = sample_config_path()
    if not config.is_file():
        result.skipped = f"no bundled sample config at {config}"
        return [result]
    spec = load_backtest_config(config)
    t0 = time.perf_counter()
    data = load_data(spec)
    load_s = time.perf_counter() - t0
    configured = spec.strategy.config if spec.strategy is not None else None
    strategy_config = configured if isinstance(configured, EmaCrossConfig) else EmaCrossConfig()

    repeats = 1 if options.quick else REPEATS
    walls: list[float] = []
    cpus: list[float] = []
    run_result = None
    for _ in range(repeats):
        engine = build_engine(spec, EmaCross(strategy_config), data)
        gc.collect()
        cpu_start = time.process_time_ns()
        t_start = time.perf_counter_ns()
        run_result = engine.run()
        walls.append((time.perf_counter_ns() - t_start) / 1e9)
        cpus.append((time.process_time_ns() - cpu_start) / 1e9)
    if run_result is None:
        result.skipped = "no run"
        return [result]
    wall = percentile(sorted(walls), 50)
    events = run_result.events
    result.ops = events
    result.wall_s = round(wall, 4)
    result.ops_per_s = round(events / wall, 1)
    cpu = percentile(sorted(cpus), 50)
    result.cpu_s = round(cpu, 4)
    result.cpu_ops_per_s = round(events / cpu, 1) if cpu else None
    result.peak_rss_mb = peak_rss_mb()
    kinds: dict[str, int] = {}
    for item in data:
        for event in item.result.events:
            name = type(event).__name__
            kinds[name] = kinds.get(name, 0) + 1
    result.extra.update(
        sample=str(spec.data[0].path.name) if spec.data else None,
        load_s=round(load_s, 3),
        repeats=repeats,
        walls_s=[round(w, 4) for w in walls],
        mean_ns_per_event=round(wall * 1e9 / events, 1),
        event_kinds=kinds,
        orders=len(run_result.orders),
        fills=len(run_result.fills),
        strategy_errors=run_result.strategy_errors,
    )
    return [result]
