"""`bot4 paper` end to end, in a subprocess on loopback, as a user runs it.

The node starts the local Binance-compatible exchange replaying the bundled sample, trades it
through the real Binance adapter and network layer, and stores to SQLite. While it runs the
tests read its metrics endpoint and status API; afterwards they open the store.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from bot4.node.metrics import histogram_quantile

TOKEN = "acceptance-token-1"
STRATEGIES = Path(__file__).with_name("paper_strategies.py")


class Paper:
    """One ``bot4 paper`` process; its stderr lines are collected by a thread as they come."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        self.data_dir = tmp_path / "data"
        env = {**os.environ, "BOT4_API_TOKEN": TOKEN, "PYTHONUNBUFFERED": "1"}
        env.pop("BOT4_API_URL", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot4", "paper", "--data-dir", str(self.data_dir),
             "--metrics-port", "0", "--api-port", "0", *args],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._queue.put(line.rstrip("\n"))

    def wait_line(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        """The first stderr line matching ``pattern`` (already seen or arriving)."""
        regex = re.compile(pattern)
        for line in self.lines:
            found = regex.search(line)
            if found:
                return found
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.1)
            except queue.Empty:
                if self.proc.poll() is not None and self._queue.empty() and not self._reader.is_alive():
                    break
                continue
            self.lines.append(line)
            found = regex.search(line)
            if found:
                return found
        raise AssertionError(f"no stderr line matching {pattern!r}; stderr so far:\n" + "\n".join(self.lines))

    def finish(self, timeout: float = 60.0) -> tuple[int, str, str]:
        assert self.proc.stdout is not None
        self.proc.wait(timeout=timeout)
        out = self.proc.stdout.read()  # the summary: a few lines, never filling the pipe
        self._reader.join(timeout=5)
        while not self._queue.empty():
            self.lines.append(self._queue.get())
        return self.proc.returncode, out, "\n".join(self.lines)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def get(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=5) as response:
        return response.status, response.read()


def until(predicate, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def port_closed(url: str) -> bool:
    host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return False
    except OSError:
        return True


def stored(db: Path, run_id: str) -> tuple[int, int, int]:
    """(orders, fills, open orders) the run stored."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        orders = conn.execute("SELECT count(*) FROM orders WHERE run_id = ?", (run_id,)).fetchone()[0]
        fills = conn.execute("SELECT count(*) FROM fills WHERE run_id = ?", (run_id,)).fetchone()[0]
        open_ = conn.execute("SELECT count(*) FROM orders WHERE run_id = ? AND status IN "
                             "('SUBMITTED', 'ACCEPTED', 'PARTIALLY_FILLED', 'TRIGGERED')", (run_id,)).fetchone()[0]
    return orders, fills, open_


@pytest.fixture
def paper_runs(tmp_path: Path):  # type: ignore[no-untyped-def]
    started: list[Paper] = []

    def start(*args: str) -> Paper:
        paper = Paper(tmp_path, *args)
        started.append(paper)
        return paper

    yield start
    for paper in started:
        paper.kill()


def test_paper_session_trades_the_sample_and_stores_fills_while_metrics_and_api_answer(paper_runs) -> None:  # type: ignore[no-untyped-def]
    paper = paper_runs("--duration", "20s", "--speed", "10")
    metrics_url = paper.wait_line(r"^metrics: (\S+)").group(1)
    api_url = paper.wait_line(r"^status API: (\S+)").group(1)
    exchange_url = paper.wait_line(r"^venue BINANCE: local exchange at (\S+),").group(1)
    assert all(u.startswith("http://127.0.0.1:") for u in (metrics_url, api_url, exchange_url))
    assert not any("token" in line for line in paper.lines)  # given BOT4_API_TOKEN: never printed

    def orders_sent() -> str | None:
        status, body = get(metrics_url)
        text = body.decode()
        assert status == 200
        return text if histogram_quantile(text, "tick_to_order", 0.5) is not None else None

    text = until(orders_sent, 25, "an order's tick->order latency in /metrics")
    for stage in ("tick_to_signal", "signal_to_risk", "risk_to_order_sent", "tick_to_order"):
        assert f'bot4_stage_latency_seconds_count{{stage="{stage}"}}' in text
    assert 'bot4_orders_total{outcome="submitted"}' in text

    status, body = get(api_url + "/status", TOKEN)
    state = json.loads(body)
    assert status == 200
    assert (state["mode"], state["state"], state["trading_state"]) == ("paper", "running", "ACTIVE")
    assert state["orders"] >= 1 and 0 < state["progress"] < 1
    with pytest.raises(urllib.error.HTTPError) as refused:
        get(api_url + "/status", "wrong-token")
    assert refused.value.code == 401

    code, out, err = paper.finish(timeout=40)
    assert code == 0, err
    assert "stopping: duration reached" in err
    run_id = re.search(r"^  run\s+(\S+)$", out, re.M).group(1)  # type: ignore[union-attr]
    db = paper.data_dir / "bot4.db"
    assert f"bot4 orders --db sqlite:///{db} --run {run_id}" in out
    orders, fills, open_orders = stored(db, run_id)
    assert orders >= 5 and fills >= orders and open_orders == 0
    assert re.search(rf"^  fills\s+{fills}$", out, re.M), out
    assert re.search(r"^  tick->order\s+p50 [\d,]+ us, p99 [\d,]+ us", out, re.M), out
    # Nothing left running: the exchange, the metrics endpoint and the API are gone with the process.
    assert port_closed(exchange_url) and port_closed(metrics_url) and port_closed(api_url)


def test_sigterm_mid_session_stops_cleanly_with_exit_0_and_every_order_settled(paper_runs) -> None:  # type: ignore[no-untyped-def]
    paper = paper_runs("--speed", "10")
    api_url = paper.wait_line(r"^status API: (\S+)").group(1)
    until(lambda: json.loads(get(api_url + "/status", TOKEN)[1])["fills"] >= 2, 25, "two fills")
    paper.proc.send_signal(signal.SIGTERM)
    code, out, err = paper.finish(timeout=30)
    assert code == 0, err
    assert "stopping: SIGTERM received" in err
    assert "stopped: SIGTERM received" in out
    run_id = re.search(r"^  run\s+(\S+)$", out, re.M).group(1)  # type: ignore[union-attr]
    orders, fills, open_orders = stored(paper.data_dir / "bot4.db", run_id)
    assert fills >= 2 and open_orders == 0
    assert port_closed(api_url)


def test_a_strategy_raising_in_on_trade_does_not_take_the_node_down(paper_runs) -> None:  # type: ignore[no-untyped-def]
    paper = paper_runs("--duration", "8s", "--speed", "10", "--strategy", f"{STRATEGIES}:RaisesOnTrade")
    code, out, err = paper.finish(timeout=40)
    assert code == 0, err
    errors = int(re.search(r"^  strategy errors\s+([\d,]+)$", out, re.M).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert errors > 20
    assert re.search(r"^  orders\s+\d+ \(1 denied by risk, 0 rejected by the venue\)$", out, re.M), out
    run_id = re.search(r"^  run\s+(\S+)$", out, re.M).group(1)  # type: ignore[union-attr]
    _, fills, _ = stored(paper.data_dir / "bot4.db", run_id)
    assert fills >= 1  # it kept trading between the errors
    log = (paper.data_dir / "node.log").read_text()
    assert "strategy RaisesOnTrade raised in on_trade: RuntimeError('strategy bug on trade 1')" in log
    assert "MAX_ORDER_QTY" in log  # risk kept enforcing: the 5 BTC order was denied
