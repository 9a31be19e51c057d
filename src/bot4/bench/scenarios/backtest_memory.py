"""``backtest_memory``: peak RSS of the ``backtest_trades`` workload in a fresh interpreter.

Peak RSS only ever grows within a process, so measuring it after other scenarios would count
their memory too. This scenario starts ``python -m bot4.bench.scenarios.backtest_memory``,
which imports Bot4, builds the same 1,000,000 ticks (or reads ``--data``), runs the same
backtest with orders and prints one JSON object: its peak RSS after the imports, after the
ticks exist and after the run (``VmHWM`` on Linux, since ``ru_maxrss`` would include this
parent's size at the fork), with the run's counts. Goal: peak <= 200 MB.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from bot4.bench.harness import BenchOptions, ScenarioResult, own_peak_rss_mb

__all__ = ["GOAL_MB", "child_main", "run_backtest_memory"]

GOAL_MB = 200.0


def run_backtest_memory(options: BenchOptions) -> list[ScenarioResult]:
    """Run the workload in a child interpreter and report its peak RSS."""
    result = ScenarioResult(
        name="backtest_memory",
        description="peak RSS of the backtest_trades workload (with orders) in a fresh process",
        unit="tick",
        goal=f"peak RSS <= {GOAL_MB:.0f} MB",
        quick=options.quick,
    )
    command = [sys.executable, "-m", "bot4.bench.scenarios.backtest_memory"]
    if options.quick:
        command.append("--quick")
    if options.data:
        command += ["--data", options.data]
    t0 = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=1800)
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        result.skipped = f"child process failed (exit {done.returncode}): " + " | ".join(tail)
        return [result]
    child = json.loads(done.stdout.strip().splitlines()[-1])
    result.description = (
        f"peak RSS of the backtest_trades workload ({child['ticks']:,} ticks, with orders) in a fresh process"
    )
    result.ops = child["ticks"]
    result.wall_s = child["run_s"]
    result.ops_per_s = round(child["ticks"] / child["run_s"], 1)
    result.cpu_s = child["cpu_s"]
    result.cpu_ops_per_s = round(child["ticks"] / child["cpu_s"], 1) if child["cpu_s"] else None
    result.peak_rss_mb = child["peak_rss_mb"]
    result.goal_met = child["peak_rss_mb"] <= GOAL_MB
    result.extra.update(
        rss_after_import_mb=child["rss_after_import_mb"],
        rss_after_ticks_mb=child["rss_after_ticks_mb"],
        ticks_mb=round(child["rss_after_ticks_mb"] - child["rss_after_import_mb"], 1),
        run_mb=round(child["peak_rss_mb"] - child["rss_after_ticks_mb"], 1),
        bytes_per_tick_held=round(
            (child["rss_after_ticks_mb"] - child["rss_after_import_mb"]) * 1e6 / max(child["ticks"], 1), 1
        ),
        orders=child["orders"],
        fills=child["fills"],
        generate_s=child["generate_s"],
        child_s=round(elapsed, 2),
    )
    return [result]


def child_main(argv: list[str] | None = None) -> int:
    """Entry point of the child process: run the workload and print its memory as JSON."""
    parser = argparse.ArgumentParser(prog="python -m bot4.bench.scenarios.backtest_memory")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--data")
    args = parser.parse_args(argv)
    # Import everything a run needs before the first reading, so it is the platform's baseline.
    from bot4.bench.scenarios.backtest_trades import (
        bench_instrument,
        load_ticks,
        run_trades_backtest,
    )

    if args.data:
        import bot4.backtest.loaders  # noqa: F401  (reading --data needs them: part of the baseline)

    after_import = own_peak_rss_mb()
    options = BenchOptions(quick=args.quick, data=args.data)
    instrument = bench_instrument()
    ticks, gen_s, _source = load_ticks(options, instrument)
    after_ticks = own_peak_rss_mb()
    run = run_trades_backtest(ticks, instrument, submit_orders=True)
    print(json.dumps({
        "ticks": run.result.events,
        "run_s": round(run.wall_s, 3),
        "cpu_s": round(run.cpu_s, 3),
        "generate_s": round(gen_s, 3),
        "orders": len(run.result.orders),
        "fills": len(run.result.fills),
        "rss_after_import_mb": after_import,
        "rss_after_ticks_mb": after_ticks,
        "peak_rss_mb": own_peak_rss_mb(),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(child_main())
