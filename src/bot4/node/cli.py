"""``bot4 paper``, ``bot4 live`` and ``bot4 config``.

::

    bot4 paper [--config FILE] [--strategy SPEC] [--speed X] [--duration 20s|5m]
               [--data-dir DIR] [--metrics-port N] [--api-port N] [--quiet]
    bot4 live --config FILE [--i-understand-this-trades-real-money] [--duration T] [--data-dir DIR]
    bot4 config check FILE
    bot4 config example

``paper`` without arguments runs the demo: the local Binance-compatible exchange replays the
bundled sample at ``--speed`` (1.0: 6 minutes), the node trades it with ema_cross through the
real Binance adapter, stores to SQLite under ``./bot4-data``, shows a status line and ends with
a summary. ``live`` trades real money: it needs a config whose venues are all
``kind = "binance"``, a ``[risk]`` table, the API keys in the environment and the explicit
confirmation (the flag, or ``[live] i_understand_this_trades_real_money = true``), and it starts
in ``[live] start_state`` (default HALTED: nothing trades until ``bot4 status --kill resume``).

Exit codes: 0 the session ended (end of replay, ``--duration``, SIGINT/SIGTERM) or the config is
fine; 1 start-up failed (a port in use, an unwritable data directory, a venue down); 2 a config
or usage error (one ``error: ...`` line); 130 a second SIGINT/SIGTERM forced the exit.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot4.core.errors import Bot4Error, ConfigError, InvalidInputError
from bot4.node.config import NodeConfig, VenueKind, default_config, load_node_config
from bot4.node.logs import RedactFilter, TextFormatter, configure_logging

if TYPE_CHECKING:
    from bot4.node.venues import Mode

__all__ = ["config_main", "live_main", "paper_main"]

EXIT_USAGE = 2
CONFIRM_FLAG = "--i-understand-this-trades-real-money"


def paper_main(argv: Sequence[str]) -> int:
    """``bot4 paper``."""
    parser = argparse.ArgumentParser(
        prog="bot4 paper",
        description="Paper-trade: by default the local Binance-compatible exchange replays the bundled "
                    "BTCUSDT sample and ema_cross trades it through the real Binance adapter.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
               "  bot4 paper                                  the demo, 6 minutes at real speed\n"
               "  bot4 paper --speed 10 --duration 30s\n"
               "  bot4 paper --strategy market_maker\n"
               "  bot4 paper --config node.toml\n\n"
               "The store is SQLite under --data-dir; the summary prints the `bot4 orders` command\n"
               "that lists what the session stored.",
    )
    _common(parser)
    parser.add_argument("--strategy", metavar="SPEC",
                        help="example name (ema_cross, market_maker), package.module:Class or "
                             "path/to/file.py:Class; replaces the config's strategies")
    parser.add_argument("--speed", type=float, metavar="X",
                        help="replay speed of the local exchange (1.0 real time, 10 ten times faster)")
    parser.add_argument("--metrics-port", type=int, metavar="N", help="metrics port (0: any free port)")
    parser.add_argument("--api-port", type=int, metavar="N", help="status API port (0: any free port)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no status line")
    args = _parse(parser, argv)
    if isinstance(args, int):
        return args
    from bot4.node.paper import PaperOptions, apply_options, parse_duration
    from bot4.node.venues import Mode

    try:
        config = load_node_config(args.config) if args.config is not None else default_config()
        config = apply_options(config, PaperOptions(
            strategy=args.strategy, speed=args.speed, data_dir=args.data_dir,
            metrics_port=args.metrics_port, api_port=args.api_port,
        ))
        duration = None if args.duration is None else parse_duration(args.duration)
    except InvalidInputError as exc:
        return _usage_error(exc)
    log_file = _paper_logging(config)
    print(f"logs: {log_file}", file=sys.stderr)
    return _run(config, Mode.PAPER, duration, status=not args.quiet)


def live_main(argv: Sequence[str]) -> int:
    """``bot4 live``."""
    parser = argparse.ArgumentParser(
        prog="bot4 live",
        description="Trade on a real venue. Needs a config with kind = \"binance\" venues and a [risk] "
                    "table, the API keys in the environment, and an explicit confirmation.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="The node starts in [live] start_state (default HALTED): nothing trades until\n"
               "`bot4 status --kill resume --reason ...` (with BOT4_API_TOKEN set).",
    )
    _common(parser)
    parser.add_argument(CONFIRM_FLAG, dest="confirmed", action="store_true",
                        help="confirm that this node trades real money")
    args = _parse(parser, argv)
    if isinstance(args, int):
        return args
    from bot4.node.paper import PaperOptions, apply_options, parse_duration
    from bot4.node.venues import Mode

    if args.config is None:
        print("error: bot4 live needs --config FILE: live trading has no default venue or strategy",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        config = apply_options(load_node_config(args.config), PaperOptions(data_dir=args.data_dir))
        duration = None if args.duration is None else parse_duration(args.duration)
        check_live(config, confirmed=args.confirmed, environ=os.environ)
    except InvalidInputError as exc:
        return _usage_error(exc)
    configure_logging(config.logging.level, json=config.logging.json)
    return _run(config, Mode.LIVE, duration, status=False)


def config_main(argv: Sequence[str]) -> int:
    """``bot4 config check FILE`` and ``bot4 config example``."""
    parser = argparse.ArgumentParser(prog="bot4 config", description="Check or print a node config file.")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="check FILE: print 'ok' (exit 0) or the first error (exit 2)")
    check.add_argument("file", type=Path, metavar="FILE")
    sub.add_parser("example", help="print a commented example with every section (the paper demo)")
    args = _parse(parser, argv)
    if isinstance(args, int):
        return args
    if args.action == "example":
        from bot4.node.example import EXAMPLE_CONFIG

        sys.stdout.write(EXAMPLE_CONFIG)
        return 0
    try:
        config = load_node_config(args.file)
    except InvalidInputError as exc:
        return _usage_error(exc)
    venues = ", ".join(f"{v.name} ({v.kind.value})" for v in config.venues)
    strategies = ", ".join(s.name for s in config.strategies)
    print(f"ok: {args.file}: venues {venues}; strategies {strategies}; store {config.store_url}")
    return 0


def check_live(config: NodeConfig, *, confirmed: bool, environ: Mapping[str, str]) -> None:
    """Refuse a live start that is not explicitly confirmed, fully configured and keyed."""
    file = str(config.file)
    if not (confirmed or config.live.i_understand_this_trades_real_money):
        raise ConfigError(f"live trading needs an explicit confirmation: pass {CONFIRM_FLAG} or set "
                          "[live] i_understand_this_trades_real_money = true", file=file)
    for i, venue in enumerate(config.venues):
        if venue.kind is not VenueKind.BINANCE:
            raise ConfigError("live trades on real venues only; kind = \"local\" is for bot4 paper", file=file,
                              key=f"venues[{i}].kind", expected="binance", found=venue.kind.value)
        for suffix in ("_API_KEY", "_API_SECRET"):
            name = venue.credentials_env + suffix
            if not environ.get(name, "").strip():
                raise ConfigError(f"no API keys for venue {venue.name}: set the environment variable {name}",
                                  file=file, key=f"venues[{i}].credentials_env")
    if config.risk is None:
        raise ConfigError("live trading needs a [risk] table with limits", file=file, key="risk")


# -- internals ---------------------------------------------------------------------------------


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, metavar="FILE", help="node TOML file (bot4 config example)")
    parser.add_argument("--duration", metavar="TIME", help="stop after this long: 20s, 5m, 1h")
    parser.add_argument("--data-dir", type=Path, metavar="DIR", help="data directory (default: the config's)")


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace | int:
    try:
        return parser.parse_args(list(argv))
    except SystemExit as exit_:  # --help and usage errors
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE


def _usage_error(exc: Exception) -> int:
    print(f"error: {exc}", file=sys.stderr)
    return EXIT_USAGE


def _run(config: NodeConfig, mode: Mode, duration: float | None, *, status: bool) -> int:
    from bot4.node.node import TradingNode
    from bot4.node.session import run_session

    async def main() -> int:
        try:
            node = TradingNode(config, mode)
        except InvalidInputError as exc:  # a strategy refusing its config
            return _usage_error(exc)
        except Bot4Error as exc:  # a strategy whose constructor raised
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return await run_session(node, duration=duration, status=status)

    try:
        return asyncio.run(main())
    except KeyboardInterrupt:  # before the signal handlers were installed
        print("\ninterrupted", file=sys.stderr)
        return 130


def _paper_logging(config: NodeConfig) -> Path:
    """Paper: the full log in ``<data_dir>/node.log``; warnings and errors on stderr too."""
    path = config.data_dir / "node.log"
    try:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        stream = path.open("a", encoding="utf-8")
    except OSError:
        configure_logging(config.logging.level, json=config.logging.json)
        return Path("<stderr>")
    configure_logging(config.logging.level, json=config.logging.json, stream=stream)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.WARNING)
    console.addFilter(RedactFilter())
    console.setFormatter(TextFormatter())
    console.set_name("bot4.node.cli.console")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "bot4.node.cli.console"]:
        root.removeHandler(old)
    root.addHandler(console)
    return path
