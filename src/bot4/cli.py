"""The ``bot4`` command line.

::

    bot4 backtest --strategy NAME_OR_SPEC --data PATH|sample [--config FILE] [--out DIR]
                  [--instrument ID] [--bar-type TYPE] [--quiet]
    bot4 bench ...        the performance suite (bot4.bench.cli), when installed
    bot4 db upgrade|version [--db URL]          the database schema (bot4.store.cli)
    bot4 orders|fills|positions [--db URL] ...  what a run stored (bot4.store.cli)
    bot4 --version

Exit codes: 0 success; 2 usage, config or input error (one ``error: ...`` line on stderr, no
traceback); 1 the strategy raised (its traceback is logged, then ``error: ...``); 130 Ctrl-C.

How ``backtest`` combines its inputs:

- ``--config FILE`` gives venues, instruments, data and the strategy with its config. Without
  it, the bundled ``sample.toml`` is the default setup: venue ``SIM`` (margin, 100,000 USDT,
  leverage 3, 1 ms latency) and ``BTCUSDT.SIM`` with Binance's real filters.
- ``--data sample`` runs on the bundled 6-minute Binance BTCUSDT capture; ``--data PATH`` runs
  on your file instead of the config's ``[[data]]`` entries, for ``--instrument`` (default:
  the config's only instrument). ``--bar-type`` is needed for bar files.
- ``--strategy`` replaces the config's strategy. The config's ``[strategy.config]`` table is
  kept when it names the same class; a different class starts from its config defaults.

Subcommands other than ``backtest`` live in their own packages and are imported only when
used: add a ``name -> "module:function"`` entry to ``_EXTERNAL`` (``paper`` and ``live`` will
be wired the same way as ``bench``).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bot4 import __version__
from bot4.core.errors import ConfigError, InvalidInputError

if TYPE_CHECKING:  # the backtest stack is imported when the command runs, not for --version
    from bot4.backtest.config import BacktestSpec, DataSpec
    from bot4.backtest.result import BacktestResult, FillRecord
    from bot4.backtest.runner import LoadedData
    from bot4.core.ids import InstrumentId
    from bot4.strategy.strategy import Strategy

__all__ = ["main"]

# Subcommands implemented elsewhere: name -> "module:function", called with the remaining args.
_EXTERNAL: dict[str, tuple[str, str]] = {
    "bench": ("bot4.bench.cli:main", "run the performance benchmark suite"),
    "db": ("bot4.store.cli:db_main", "create or upgrade the database schema, or show its version"),
    "orders": ("bot4.store.cli:orders_main", "list the orders a run stored"),
    "fills": ("bot4.store.cli:fills_main", "list the fills a run stored"),
    "positions": ("bot4.store.cli:positions_main", "list the positions a run stored"),
    "status": ("bot4.node.status_cli:main", "show a running node's status"),
    "paper": ("bot4.node.cli:paper_main", "paper-trade: the local exchange replaying the sample, or live data"),
    "live": ("bot4.node.cli:live_main", "trade on a real venue (needs keys and an explicit confirmation)"),
    "config": ("bot4.node.cli:config_main", "check a node config file, or print a commented example"),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the process exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] in _EXTERNAL:
        return _run_external(args_list[0], args_list[1:])
    parser = _parser()
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exit_:  # argparse exits on --help, --version and usage errors
        return exit_.code if isinstance(exit_.code, int) else 2
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bot4", description="Bot4: one engine for backtest, paper and live crypto trading."
    )
    parser.add_argument("--version", action="version", version=f"bot4 {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    bt = sub.add_parser(
        "backtest",
        help="run a strategy on historical data against the simulated venue",
        description="Run a strategy on historical data; write result.json and report.html.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  bot4 backtest --strategy ema_cross --data sample\n"
            "  bot4 backtest --strategy my_strategy.py:MyStrategy --data sample\n"
            "  bot4 backtest --config backtest.toml --out results/\n"
            "  bot4 backtest --strategy ema_cross --data trades.csv --instrument BTCUSDT.SIM\n\n"
            "Without --config, the venue and instrument come from the bundled sample.toml\n"
            "(venue SIM, BTCUSDT.SIM with Binance's filters, 100,000 USDT margin account)."
        ),
    )
    bt.add_argument("--strategy", metavar="SPEC",
                    help="example name (ema_cross, market_maker), package.module:Class or "
                         "path/to/file.py:Class; overrides the config's [strategy]")
    bt.add_argument("--data", metavar="PATH|sample",
                    help="market data file, or 'sample' for the bundled Binance BTCUSDT capture; "
                         "overrides the config's [[data]]")
    bt.add_argument("--config", metavar="FILE", type=Path,
                    help="backtest TOML file (venues, instruments, data, strategy); "
                         "default: the bundled sample.toml")
    bt.add_argument("--out", metavar="DIR", type=Path,
                    help="output folder (default: ./bot4-out/backtest-<strategy>)")
    bt.add_argument("--instrument", metavar="ID",
                    help="instrument of --data PATH, e.g. BTCUSDT.SIM (default: the config's only one)")
    bt.add_argument("--bar-type", metavar="TYPE",
                    help="bar type of --data PATH when it holds bars, e.g. BTCUSDT.SIM-1-MINUTE")
    bt.add_argument("--quiet", "-q", action="store_true",
                    help="print only errors and the output paths")
    bt.set_defaults(handler=_backtest)

    for name, (_, help_text) in _EXTERNAL.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def _run_external(name: str, rest: list[str]) -> int:
    target, _ = _EXTERNAL[name]
    module_name, _, function = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            print(f"error: 'bot4 {name}' is not available in this installation ({module_name} "
                  "not found)", file=sys.stderr)
            return 2
        raise
    entry: Callable[[list[str]], int | None] = getattr(module, function)
    code = entry(rest)
    return 0 if code is None else int(code)


# -- backtest ----------------------------------------------------------------------------------


def _backtest(args: argparse.Namespace) -> int:
    from bot4.strategy.strategy import StrategyError

    _setup_logging()
    try:
        return _run_backtest(args)
    except StrategyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except InvalidInputError as exc:  # config, strategy spec, data file, ids: fix the input
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


def _run_backtest(args: argparse.Namespace) -> int:
    from bot4.backtest.config import load_backtest_config
    from bot4.backtest.report import write_report
    from bot4.backtest.runner import build_engine, load_data, price_series, sample_config_path

    out: TextIO = sys.stdout
    quiet: bool = args.quiet
    config_path: Path = args.config if args.config is not None else sample_config_path()
    spec = load_backtest_config(config_path)
    config_file = str(config_path)
    entries = _data_entries(args, spec, config_file)
    strategy, label = _strategy(args, spec, config_file)

    status = _Status(sys.stderr, enabled=not quiet)
    started = time.perf_counter()
    try:
        status.show("loading market data ...")
        loaded = load_data(spec, entries)
        load_s = time.perf_counter() - started
        engine = build_engine(spec, strategy, loaded)
        run_started = time.perf_counter()
        result = engine.run(progress=_Progress(status), progress_every=5_000)
        run_s = time.perf_counter() - run_started
    finally:
        status.clear()

    out_dir: Path = args.out if args.out is not None else Path("bot4-out") / f"backtest-{_safe(label)}"
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "result.json"
    result.write_json(json_path)
    focus = _focus_instrument(result.fills, entries)
    prices: list[tuple[int, float]] = []
    if focus is not None:
        for item in loaded:
            if item.spec.instrument_id == focus:
                prices += price_series(item.result.events, focus)
        prices.sort(key=lambda p: p[0])  # several files of one instrument: stable, so deterministic
    title = f"Backtest: {label} on {', '.join(result.instruments)}"
    report_path = write_report(result, out_dir / "report.html", title, prices)
    total_s = time.perf_counter() - started

    if not quiet:
        _print_summary(out, label, result, loaded)
    print(f"result  {json_path.resolve()}", file=out)
    print(f"report  {report_path.resolve()}", file=out)
    if not quiet:
        rate = result.events / run_s if run_s > 0 else 0.0
        print(f"\nloaded data in {load_s:.2f} s; ran {result.events:,} events in {run_s:.2f} s "
              f"({rate:,.0f} events/s); {total_s:.2f} s in all", file=out)
    return 0


def _data_entries(args: argparse.Namespace, spec: BacktestSpec, config_file: str) -> list[DataSpec]:
    """The config's [[data]], or ``--data`` (a path or the bundled sample) instead."""
    from bot4.backtest.config import DataSpec
    from bot4.backtest.runner import SAMPLE_DATA_FILE, sample_data_dir
    from bot4.model.data import BarType

    if args.data is None:
        if args.instrument or args.bar_type:
            raise ConfigError("--instrument and --bar-type describe --data PATH; pass --data too")
        if not spec.data:
            raise ConfigError("no market data: pass --data PATH (or --data sample), or add [[data]] "
                              "to the config", file=config_file)
        return list(spec.data)
    path = sample_data_dir() / SAMPLE_DATA_FILE if args.data == "sample" else Path(args.data).expanduser()
    if not path.is_file():
        raise ConfigError("data file not found", key="--data", found=str(path))
    instrument_id = _pick_instrument(args.instrument, spec, config_file)
    bar_type = None
    if args.bar_type:
        try:
            bar_type = BarType.from_str(args.bar_type)
        except InvalidInputError as exc:
            raise ConfigError(exc.message, key="--bar-type", found=args.bar_type) from None
        if bar_type.instrument_id != instrument_id:
            raise ConfigError("--bar-type is for another instrument", key="--bar-type",
                              expected=str(instrument_id), found=str(bar_type.instrument_id))
    return [DataSpec(path=path, instrument_id=instrument_id, bar_type=bar_type, key="--data")]


def _strategy(args: argparse.Namespace, spec: BacktestSpec, config_file: str) -> tuple[Strategy, str]:
    """Build ``--strategy`` (with the config's table when it names the same class) or the config's."""
    from bot4.strategy.loader import build_strategy, load_strategy_class, strategy_label

    if args.strategy is not None:
        cls = load_strategy_class(args.strategy)
        table: dict[str, Any] = {}
        if spec.strategy is not None and _same_class(spec.strategy.cls, cls):
            table = spec.strategy.table
        strategy = build_strategy(cls, table, file=config_file if table else None)
        return strategy, strategy_label(args.strategy)
    if spec.strategy is not None:
        strategy = build_strategy(spec.strategy.cls, spec.strategy.table, file=config_file)
        return strategy, strategy_label(spec.strategy.name)
    raise ConfigError("no strategy: pass --strategy NAME or add a [strategy] table", file=config_file)


def _pick_instrument(given: str | None, spec: BacktestSpec, config_file: str) -> InstrumentId:
    known = [str(i.id) for i in spec.instruments]
    expected = "one of " + (", ".join(known) or "(no instruments defined)")
    if given is None:
        if len(known) != 1:
            raise ConfigError("which instrument is --data for? pass --instrument", file=config_file,
                              expected=expected)
        return spec.instruments[0].id
    if given not in known:
        raise ConfigError("--instrument is not defined in the config", file=config_file,
                          key="--instrument", expected=expected, found=given)
    return next(i.id for i in spec.instruments if str(i.id) == given)


def _focus_instrument(fills: Sequence[FillRecord], entries: Sequence[DataSpec]) -> InstrumentId | None:
    """The instrument to draw: the one with most fills, else the first data entry's."""
    from bot4.core.ids import InstrumentId

    counts: dict[str, int] = {}
    for fill in fills:
        counts[fill.instrument_id] = counts.get(fill.instrument_id, 0) + 1
    if counts:
        best = min(counts, key=lambda k: (-counts[k], k))
        return InstrumentId.from_str(best)
    return entries[0].instrument_id if entries else None


def _print_summary(out: TextIO, label: str, result: BacktestResult, loaded: Sequence[LoadedData]) -> None:
    from bot4.backtest.report import format_duration, format_time

    s = result.statistics
    ccy = result.equity_currency
    print(f"Backtest of {label} on {', '.join(result.instruments)}: "
          f"{format_time(result.start_ns, True)} -> {format_time(result.end_ns, True)} UTC "
          f"({format_duration(result.end_ns - result.start_ns)})", file=out)
    print("\nData", file=out)
    for item in loaded:
        r = item.result.report
        dropped = sum(r.dropped.values())
        line = (f"  {Path(r.path).name}: {r.rows:,} rows, {r.loaded:,} events loaded, "
                f"{r.skipped:,} bad rows skipped, {r.gaps:,} book gaps")
        if dropped:
            reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(r.dropped.items()))
            line += f", {dropped:,} dropped on purpose ({reasons})"
        print(line, file=out)
        for error in r.errors[:5]:
            print(f"    skipped: {error}", file=out)
        if r.skipped > 5:
            print(f"    ... and {r.skipped - 5:,} more bad rows", file=out)
    if result.skipped_events:
        print(f"  {result.skipped_events:,} events skipped by the engine (unregistered instrument)", file=out)
    rows = [
        ("events", f"{result.events:,}"),
        ("starting equity", f"{s.starting_equity:,.2f} {ccy}"),
        ("ending equity", f"{s.ending_equity:,.2f} {ccy}"),
        ("total return", f"{s.total_return * 100:+.4f}%"),
        ("max drawdown", f"{s.max_drawdown * 100:.4f}%"),
        ("sharpe", f"{s.sharpe:.2f}"),
        ("sortino", f"{s.sortino:.2f}"),
        ("orders", f"{len(result.orders):,}"),
        ("fills", f"{s.fills:,}"),
        ("closed trades", f"{s.closed_trades:,}"),
        ("win rate", f"{s.win_rate * 100:.1f}%"),
        ("fees paid", f"{s.fees_paid:,.2f} {ccy}"),
        ("turnover", f"{s.turnover:,.2f} {ccy}"),
        ("strategy errors", f"{result.strategy_errors:,}"),
    ]
    print("\nStatistics", file=out)
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"  {key:<{width}}  {value:>24}", file=out)
    print(file=out)


class _Status:
    """One status line on stderr, redrawn in place on a terminal, plain lines otherwise."""

    def __init__(self, stream: TextIO, enabled: bool) -> None:
        self.stream = stream
        self.enabled = enabled
        self.tty = enabled and stream.isatty()
        self._width = 0

    def show(self, text: str, *, force_line: bool = False) -> None:
        if not self.enabled:
            return
        if self.tty:
            pad = max(0, self._width - len(text))
            self.stream.write("\r" + text + " " * pad)
            self._width = len(text)
            self.stream.flush()
        elif force_line:
            self.stream.write(text + "\n")
            self.stream.flush()

    def clear(self) -> None:
        if self.tty and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0


class _Progress:
    """Engine progress: a bar on a terminal at most 10x/s; on a pipe, a line every 10 s of a
    run longer than 10 s (so short runs and CI logs stay quiet)."""

    def __init__(self, status: _Status) -> None:
        self.status = status
        self.started = time.perf_counter()
        self.last = 0.0

    def __call__(self, count: int, total: int) -> None:
        if not self.status.enabled:
            return
        now = time.perf_counter()
        elapsed = now - self.started
        interval = 0.1 if self.status.tty else 10.0
        if now - self.last < interval or (not self.status.tty and elapsed < 10.0):
            return
        self.last = now
        fraction = count / total if total else 1.0
        filled = int(fraction * 30)
        rate = count / elapsed if elapsed > 0 else 0.0
        eta = (total - count) / rate if rate > 0 else 0.0
        self.status.show(
            f"[{'#' * filled}{'.' * (30 - filled)}] {fraction * 100:5.1f}%  {count:,}/{total:,} events  "
            f"{rate:,.0f}/s  eta {eta:.0f} s",
            force_line=True,
        )


def _setup_logging() -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                            format="%(levelname)s %(name)s: %(message)s")


def _safe(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in label) or "strategy"


def _same_class(a: type, b: type) -> bool:
    """True for one class loaded twice from the same file (each file import makes a new class)."""
    if a is b:
        return True
    file_a = getattr(sys.modules.get(a.__module__), "__file__", None)
    file_b = getattr(sys.modules.get(b.__module__), "__file__", None)
    return a.__qualname__ == b.__qualname__ and file_a is not None and file_a == file_b


if __name__ == "__main__":
    raise SystemExit(main())

