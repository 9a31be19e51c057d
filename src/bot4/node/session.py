"""Run one node session in the foreground: signals, the live status line, the summary.

:func:`run_session` starts the node, prints where its metrics and status API listen, redraws a
status line at most once a second while it runs (in place on a terminal, a plain line every few
seconds otherwise), stops it on SIGINT/SIGTERM, at the end of the local replay or after
``duration``, and prints a summary. A second SIGINT/SIGTERM while stopping exits at once with
code 130: what was committed to the store is safe, in-flight orders are reconciled at the next
start.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterator
from typing import TextIO

from bot4.node.node import NodeStartError, TradingNode

__all__ = ["StatusLine", "format_status", "run_session"]

EXIT_OK = 0
EXIT_START_FAILED = 1
EXIT_FORCED = 130


async def run_session(
    node: TradingNode,
    *,
    duration: float | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    status: bool = True,
) -> int:
    """Start ``node``, run it until told to stop, stop it; return the process exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    line = StatusLine(err, enabled=status)
    with _signals(node, err):
        try:
            await node.start()
        except NodeStartError as exc:
            print(f"error: start-up failed: {exc}", file=err)
            return EXIT_START_FAILED
        _print_endpoints(node, err)
        ticker = asyncio.get_running_loop().create_task(_show_status(node, line), name="bot4.session.status")
        try:
            await node.wait_stop_requested(duration)
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            line.clear()
            if node.stop_reason:
                print(f"stopping: {node.stop_reason}", file=err, flush=True)
            await node.stop()
    print_summary(node, out)
    return EXIT_OK


class StatusLine:
    """One line on ``stream``: redrawn in place on a terminal, printed as a plain line otherwise."""

    def __init__(self, stream: TextIO, *, enabled: bool = True) -> None:
        self.stream = stream
        self.enabled = enabled
        self.tty = enabled and stream.isatty()
        self.interval = 1.0 if self.tty else 5.0
        self._width = 0

    def show(self, text: str) -> None:
        if not self.enabled:
            return
        if self.tty:
            self.stream.write("\r" + text + " " * max(0, self._width - len(text)))
            self._width = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def clear(self) -> None:
        if self.tty and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0


def format_status(node: TradingNode) -> str:
    """``[ 42.0%] 0:25  PnL -1.23 USDT  orders 12  fills 14  ...`` from the node's status."""
    s = node.status()
    parts = []
    progress = s["progress"]
    if progress is not None:
        parts.append(f"[{progress * 100:5.1f}%]")
    uptime = int(s["uptime_s"])
    parts.append(f"{uptime // 60}:{uptime % 60:02d}")
    if s["pnl"] is not None:
        parts.append(f"PnL {s['pnl']:+,.2f} {s['pnl_currency']}")
    parts.append(f"orders {s['orders']}")
    parts.append(f"fills {s['fills']}")
    parts.append(f"open {s['open_orders']}")
    if s["denied"] or s["rejected"]:
        parts.append(f"denied {s['denied']} rejected {s['rejected']}")
    parts.append(f"reconnects {s['reconnects']}")
    if s["tick_to_order_p50_us"] is not None:
        parts.append(f"tick->order p50 {s['tick_to_order_p50_us']:,.0f} us p99 {s['tick_to_order_p99_us']:,.0f} us")
    if s["strategy_errors"]:
        parts.append(f"strategy errors {s['strategy_errors']}")
    state = s["trading_state"]
    parts.append(getattr(state, "value", str(state)))
    return "  ".join(parts)


def print_summary(node: TradingNode, out: TextIO) -> None:
    """What the session did, where it is stored, and how to look at it."""
    s = node.status()
    figures = node.pnl()
    labels = ", ".join(str(st.id) for st in node.strategies)
    instruments = ", ".join(f"{sym}.{v.config.name}" for v in node.venues for sym in v.config.symbols)
    print(f"\n{node.mode.value.capitalize()} session of {labels} on {instruments}: "
          f"{s['uptime_s']:.1f} s; stopped: {node.stop_reason or 'stop requested'}", file=out)
    rows = [
        ("orders", f"{s['orders']:,} ({s['denied']:,} denied by risk, {s['rejected']:,} rejected by the venue)"),
        ("fills", f"{s['fills']:,}"),
    ]
    if figures is not None:
        rows.append(("PnL", f"{figures.total:+,.2f} {figures.currency.code} this run (realised net of fees "
                            f"{figures.realized:+,.2f}, unrealised on open positions {figures.unrealized:+,.2f})"))
    rows.append(("open orders", f"{s['open_orders']:,}"))
    rows.append(("reconnects", f"{s['reconnects']:,}"))
    if s["tick_to_order_p50_us"] is not None:
        count = node.metrics.stage_count("tick_to_order")
        rows.append(("tick->order", f"p50 {s['tick_to_order_p50_us']:,.0f} us, p99 "
                                    f"{s['tick_to_order_p99_us']:,.0f} us ({count:,} orders)"))
    rows.append(("strategy errors", f"{s['strategy_errors']:,}"))
    rows.append(("store", node.config.store_url))
    rows.append(("run", str(node.run_id)))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"  {key:<{width}}  {value}", file=out)
    db = node.config.store_url
    print(f"\ninspect it:  bot4 orders --db {db} --run {node.run_id}\n"
          f"             bot4 fills --db {db} --run {node.run_id}", file=out, flush=True)


# -- internals ---------------------------------------------------------------------------------


async def _show_status(node: TradingNode, line: StatusLine) -> None:
    if not line.enabled:
        return
    while True:
        await asyncio.sleep(line.interval)
        line.show(format_status(node))


def _print_endpoints(node: TradingNode, err: TextIO) -> None:
    print(f"node {node.config.node.name} running in {node.mode.value} mode, run {node.run_id}", file=err)
    for venue in node.venues:
        where = "local exchange" if venue.is_local else "Binance"
        speed = f", replay speed {venue.config.speed:g}" if venue.is_local else ""
        print(f"venue {venue.config.name}: {where} at {venue.rest_url}{speed}", file=err)
    if node.metrics_url:
        print(f"metrics: {node.metrics_url}", file=err)
    if node.api_url:
        print(f"status API: {node.api_url}", file=err)
        if node.api_token_generated:
            # Printed once, here only: the node was given no BOT4_API_TOKEN.
            print(f"status API token (generated; set BOT4_API_TOKEN to choose one): {node.api_token}",
                  file=err)
    print(f"store: {node.config.store_url}", file=err, flush=True)


@contextlib.contextmanager
def _signals(node: TradingNode, err: TextIO) -> Iterator[None]:
    """SIGINT/SIGTERM: the first stops the node cleanly, a second exits at once (130)."""
    loop = asyncio.get_running_loop()
    seen: list[float] = []

    def on_signal(signum: int) -> None:
        name = signal.Signals(signum).name
        if seen:
            print(f"\n{name} again: exiting now without a clean stop", file=err, flush=True)
            os._exit(EXIT_FORCED)
        seen.append(time.monotonic())
        node.request_stop(f"{name} received")

    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, on_signal, signum)
            installed.append(signum)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or Windows
            pass
    try:
        yield
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
