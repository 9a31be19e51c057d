"""``bot4 bench``: run the performance scenarios and print their figures.

::

    bot4 bench [--json] [--only NAME[,NAME]] [--quick] [--data PATH] [--list]
    python -m bot4.bench.cli ...            the same without the ``bot4`` entry point

Text output gives, per scenario: operations, median and p99 latency per operation, ops/s,
bytes and blocks kept per operation plus the transient peak (tracemalloc, in a separate pass),
peak RSS, the goal and whether it was met; whole-run scenarios give ticks/s and peak RSS;
``tick_to_order`` adds a per-event latency line (tick in -> order at the venue client). A
scenario may give several results (``signal_to_intent.fixed_quantity``, ...).
``--json`` prints one JSON document instead: the list of scenario results (see
:class:`~bot4.bench.harness.ScenarioResult`), so documentation can cite exact output.
``--quick`` shrinks every workload ~50x for a smoke test. ``--data`` replays the trades of a
CSV/Parquet file (columns ts_event, price, size) in the backtest scenarios.

Exit codes: 0 every selected scenario ran or was skipped for missing inputs; 1 a scenario
raised (its error is in the output and the others still run); 2 a usage error.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import time
import traceback
from collections.abc import Sequence
from typing import Any, TextIO

import msgspec

from bot4.bench.harness import BenchOptions, ScenarioResult
from bot4.bench.scenarios import SCENARIOS, resolve

__all__ = ["format_result", "main", "run"]

logger = logging.getLogger("bot4.bench")


def run(names: Sequence[str], options: BenchOptions, progress: TextIO | None = None) -> list[ScenarioResult]:
    """Run the named scenarios in suite order; a scenario that raises becomes an error result."""
    results: list[ScenarioResult] = []
    for name in [n for n in SCENARIOS if n in names]:
        if progress is not None:
            print(f"bench: running {name} ...", file=progress, flush=True)
        load = _load_avg()
        started = time.perf_counter()
        try:
            produced = resolve(name)(options)
        except Exception as exc:  # the suite's task boundary: log, report the scenario, run the rest
            logger.exception("scenario %s raised", name)
            produced = [ScenarioResult(name=name, description="(raised)", quick=options.quick,
                                       error=f"{type(exc).__name__}: {exc}",
                                       extra={"traceback": traceback.format_exc().splitlines()[-6:]})]
        for result in produced:
            result.load_avg_1m = load
            result.scenario_s = round(time.perf_counter() - started, 2)
            results.append(result)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (without the program name), run, print; return the exit code."""
    parser = argparse.ArgumentParser(prog="bot4 bench", description="Run the Bot4 performance suite.")
    parser.add_argument("--json", action="store_true", help="print one JSON document (list of results)")
    parser.add_argument("--only", metavar="NAME[,NAME]", help="run only these scenarios (see --list)")
    parser.add_argument("--quick", action="store_true", help="shrink every workload ~50x (smoke test)")
    parser.add_argument("--data", metavar="PATH", help="trades CSV/Parquet (ts_event, price, size) for the backtests")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exit_:
        return 0 if exit_.code in (0, None) else 2
    if args.list:
        for name in SCENARIOS:
            print(name)
        return 0
    names = list(SCENARIOS)
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in SCENARIOS]
        if unknown or not names:
            print(f"error: unknown scenario {', '.join(unknown) or '(none given)'}; "
                  f"expected one of {', '.join(SCENARIOS)}", file=sys.stderr)
            return 2
    if args.data and not os.path.isfile(args.data):
        print(f"error: --data file not found: {args.data}", file=sys.stderr)
        return 2
    options = BenchOptions(quick=args.quick, data=args.data)
    out = sys.stdout
    if args.json:
        results = run(names, options, progress=sys.stderr)
        out.write(msgspec.json.format(msgspec.json.encode(results)).decode() + "\n")
    else:
        print(_header(argv), file=out, flush=True)
        results = []
        for name in [n for n in SCENARIOS if n in names]:
            for result in run([name], options):
                results.append(result)
                print(format_result(result), file=out, flush=True)
    return 1 if any(r.error for r in results) else 0


def _load_avg() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _header(argv: Sequence[str] | None) -> str:
    args = " ".join(sys.argv[1:] if argv is None else argv)
    return (
        f"bot4 bench {args}".rstrip()
        + f"\nPython {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, load avg {_load_avg()}\n"
    )


def _ns(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 1_000:
        return f"{value:.1f} ns"
    if value < 1_000_000:
        return f"{value / 1_000:.2f} us"
    return f"{value / 1_000_000:.2f} ms"


def _rate(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 1e6:
        return f"{value / 1e6:.2f} M"
    return f"{value:,.0f}"


def _extra(extra: dict[str, Any]) -> str:
    parts = []
    for key, value in extra.items():
        if key == "traceback":
            continue
        parts.append(f"{key}={value}")
    return " ".join(parts)


def format_result(r: ScenarioResult) -> str:
    """Render one result as a few indented lines of text."""
    lines = [f"{r.name}: {r.description}"]
    if r.error:
        lines.append(f"  ERROR {r.error}")
        for line in r.extra.get("traceback", []):
            lines.append(f"    {line}")
        return "\n".join(lines) + "\n"
    if r.skipped:
        lines.append(f"  skipped: {r.skipped}")
        return "\n".join(lines) + "\n"
    unit = r.unit
    cpu = "" if r.cpu_ops_per_s is None else f" ({_rate(r.cpu_ops_per_s)}/s by CPU time)"
    if r.median_ns is not None:
        lines.append(
            f"  {r.ops:,} {unit}s | median {_ns(r.median_ns)}/{unit} | p99 {_ns(r.p99_ns)}/{unit} | "
            f"{_rate(r.ops_per_s)} {unit}s/s{cpu}"
            + (f" | {r.samples:,} samples of {r.batch:,} {unit}s" if r.batch and r.samples else
               f" | {r.samples:,} samples" if r.samples else "")
        )
    else:
        lines.append(
            f"  {r.ops:,} {unit}s in {r.wall_s} s wall, {r.cpu_s} s CPU | "
            f"{_rate(r.ops_per_s)} {unit}s/s{cpu}"
        )
    if r.single_median_ns is not None:
        lines.append(
            f"  single {unit}: median {_ns(r.single_median_ns)} | p99 {_ns(r.single_p99_ns)} | "
            f"max {_ns(r.single_max_ns)} (timer overhead {r.extra.get('timer_overhead_ns')} ns subtracted)"
        )
    if r.latency_median_ns is not None:
        lines.append(
            f"  latency {r.latency_what}: median {_ns(r.latency_median_ns)} | p99 {_ns(r.latency_p99_ns)} | "
            f"max {_ns(r.latency_max_ns)} over {r.latency_samples:,} events"
        )
    if r.alloc_bytes_per_op is not None:
        peak = "" if r.peak_bytes_per_op is None else f" | transient peak {r.peak_bytes_per_op} B/{unit}"
        lines.append(
            f"  tracemalloc pass: kept {r.alloc_bytes_per_op} B/{unit}, {r.alloc_blocks_per_op} blocks/{unit}{peak}"
        )
    verdict = "" if r.goal_met is None else (" MET" if r.goal_met else " MISSED")
    goal = f" | goal {r.goal}:{verdict}" if r.goal else ""
    lines.append(f"  peak RSS {r.peak_rss_mb} MB{goal} | load avg {r.load_avg_1m} | {r.scenario_s} s")
    if r.extra:
        lines.append(f"  {_extra(r.extra)}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
