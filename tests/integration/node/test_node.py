"""The trading node in-process, against the local Binance-compatible exchange on loopback:
start-up failures leave nothing running, live starts HALTED until resumed, paper on a
``kind = "binance"`` venue never sends an order to it."""

from __future__ import annotations

import asyncio
import io
import re
import socket
import sqlite3
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest

from bot4.backtest.loaders import load_path
from bot4.backtest.runner import SAMPLE_DATA_FILE, sample_data_dir
from bot4.node.config import NodeConfig, parse_node_config
from bot4.node.node import TradingNode
from bot4.node.session import run_session
from bot4.node.venues import Mode
from bot4.risk import TradingState
from bot4.testkit import btcusdt
from bot4.venues.sim.binance_server import (
    AccountSpec,
    ApiKeySpec,
    BinanceServer,
    BinanceServerConfig,
)

KEY = "nodeTestKey01"
SECRET = "nodeTestSecretNeverLogged"
ENV = {"NODETEST_API_KEY": KEY, "NODETEST_API_SECRET": SECRET, "BOT4_API_TOKEN": "node-test-token"}
STRATEGY = Path(__file__).with_name("crash_strategy.py")


def run(test: Callable[[], Coroutine[Any, Any, None]], timeout: float = 40.0) -> None:
    """Run an async test body; a hang fails, and no task may be left running."""

    async def bounded() -> None:
        async with asyncio.timeout(timeout):
            await test()
        leftover = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert not leftover, f"tasks left running: {leftover}"

    asyncio.run(bounded())


def config(tmp_path: Path, *, rest_url: str = "http://127.0.0.1:9", ws_url: str = "ws://127.0.0.1:9",
           extra: str = "", every: int = 20) -> NodeConfig:
    import tomllib

    text = f"""
[node]
data_dir = "{tmp_path / 'data'}"
start_timeout_s = 2.0
shutdown_timeout_s = 3.0

[[venues]]
kind = "binance"
rest_url = "{rest_url}"
ws_url = "{ws_url}"
credentials_env = "NODETEST"

[[strategies]]
name = "{STRATEGY}:RestingBids"

[strategies.config]
instrument_id = "BTCUSDT.BINANCE"
every = {every}

[risk]
max_order_qty = "1"

[metrics]
port = 0

[api]
port = 0
{extra}
"""
    return parse_node_config(tomllib.loads(text), file=tmp_path / "node.toml", text=text)


def exchange(speed: float = 10.0) -> BinanceServer:
    inst = btcusdt("BINANCE")
    events = load_path(sample_data_dir() / SAMPLE_DATA_FILE, inst).events
    return BinanceServer([inst], events, BinanceServerConfig(
        speed=speed,
        accounts=[AccountSpec(name="main", balances={"USDT": "100000", "BTC": "1"})],
        api_keys=[ApiKeySpec(api_key=KEY, secret_key=SECRET, account="main")],
    ))


async def until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


def test_live_node_starts_halted_and_trades_only_after_an_operator_resumes(tmp_path: Path) -> None:
    async def body() -> None:
        async with exchange() as server:
            node = TradingNode(config(tmp_path, rest_url=server.rest_url, ws_url=server.ws_url),
                               Mode.LIVE, environ=ENV)
            await node.start()
            try:
                assert node.risk is not None and node.risk.trading_state is TradingState.HALTED
                await until(lambda: node.observer.denied >= 2, 15, "orders denied while halted")
                assert node.observer.orders == 0
                assert not [r for r in server.requests if r.path == "/api/v3/order"]
                async with aiohttp.ClientSession(headers={"Authorization": "Bearer node-test-token"}) as http:
                    async with http.post(f"{node.api_url}/kill-switch",
                                         json={"state": "resume", "reason": "checked the venue"}) as answer:
                        assert answer.status == 200
                        assert (await answer.json())["trading_state"] == "ACTIVE"
                await until(lambda: node.observer.fills >= 2, 15, "fills after the resume")
            finally:
                await node.stop()
            assert server.account().open_orders() == []  # canceled on stop

    run(body)


def test_paper_mode_on_a_binance_venue_fills_on_the_simulated_venue_and_never_sends_an_order(
    tmp_path: Path,
) -> None:
    async def body() -> None:
        async with exchange() as server:
            node = TradingNode(config(tmp_path, rest_url=server.rest_url, ws_url=server.ws_url),
                               Mode.PAPER, environ={})
            await node.start()
            try:
                assert node.risk is not None and node.risk.trading_state is TradingState.ACTIVE
                await until(lambda: node.observer.fills >= 3, 15, "paper fills")
            finally:
                await node.stop()
            paths = {r.path for r in server.requests}
            assert "/api/v3/depth" in paths  # market data came from the venue
            assert not paths & {"/api/v3/order", "/api/v3/userDataStream", "/api/v3/account"}
            assert server.account().trades == {}

    run(body)


def test_dropped_connections_and_a_rate_limit_burst_lose_no_order(tmp_path: Path) -> None:
    async def body() -> None:
        async with exchange() as server:
            cfg = config(tmp_path, rest_url=server.rest_url, ws_url=server.ws_url, every=10,
                         extra='\n[live]\nstart_state = "ACTIVE"\n')
            node = TradingNode(cfg, Mode.LIVE, environ=ENV)
            await node.start()
            venue = node.venues[0]
            try:
                await until(lambda: node.observer.fills >= 2, 15, "the first fills")
                assert await server.drop_ws() >= 2  # the market stream and the user data stream
                server.faults.fail_http("/api/v3/order", status=429, times=3, method="POST")
                before = node.observer.fills
                await until(lambda: venue.reconnects_by_stream() == {"market": 1, "user": 1}
                            and sum(venue.resyncs().values()) >= 1 and node.reconciliations >= 1
                            and node.observer.fills >= before + 3, 20, "reconnects, a resync and new fills")
                assert venue.data is not None and all(venue.data.is_synced(i.id) for i in venue.instruments)
            finally:
                await node.stop()
            assert [r.status for r in server.requests if r.path == "/api/v3/order" and r.method == "POST"].count(429) == 3
            # The exchange's record and the store agree: every order, every fill, nothing open.
            db = Path(node.config.store_url.removeprefix("sqlite:///"))
            in_store = {r["client_order_id"]: r["status"] for r in rows(db, "SELECT * FROM orders")}
            at_exchange = {r.client_order_id: r.status.name for r in server.account().orders.values()}
            assert at_exchange and set(at_exchange) <= set(in_store)
            for cid, status in at_exchange.items():
                assert in_store[cid] == {"NEW": "ACCEPTED"}.get(status, status), cid
            assert not {cid for cid, status in in_store.items() if status in ("SUBMITTED", "ACCEPTED")}
            stored = sorted(r["trade_id"] for r in rows(db, "SELECT trade_id FROM fills"))
            made = sorted(str(f.trade_id) for fills in server.account().trades.values() for f in fills)
            assert stored == made

    run(body)


def rows(db: Path, sql: str) -> list[dict[str, Any]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute(sql)]


@pytest.mark.parametrize("case", ["port in use", "data dir not writable", "venue down"])
def test_a_failed_start_says_why_exits_1_and_leaves_nothing_running(tmp_path: Path, case: str) -> None:
    async def body() -> None:
        holder = socket.socket()
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        try:
            async with exchange() as server:
                cfg = config(tmp_path, rest_url=server.rest_url, ws_url=server.ws_url)
                if case == "port in use":
                    cfg = cfg.replace(api=msgspec.structs.replace(cfg.api, port=busy))
                    expected = f"port {busy} is already in use"
                elif case == "data dir not writable":
                    blocker = tmp_path / "a-file"
                    blocker.write_text("not a directory")
                    cfg = cfg.replace(node=msgspec.structs.replace(cfg.node, data_dir=str(blocker / "data")))
                    expected = "the data directory is not writable"
                else:
                    cfg = config(tmp_path)  # nothing listens on port 9
                    # retries until the breaker opens or the start timeout ends, whichever comes first
                    expected = r"venue BINANCE at http://127.0\.0\.1:9 (cannot be reached \(is it up\?\): could not connect|did not answer within 2 s)"
                node = TradingNode(cfg, Mode.LIVE, environ=ENV)
                err = io.StringIO()
                code = await run_session(node, out=io.StringIO(), err=err, status=False)
                assert code == 1
                assert err.getvalue().startswith("error: start-up failed: ")
                assert re.search(expected, err.getvalue()), err.getvalue()
                assert node.state == "failed"
                if case != "venue down":
                    assert server.requests == []  # it failed before reaching the venue
                if case == "port in use":  # the metrics endpoint had started: it is closed again
                    assert node.metrics_server is not None
                    probe = socket.socket()
                    with probe:
                        assert probe.connect_ex(("127.0.0.1", node.metrics_server.port)) != 0
        finally:
            holder.close()

    run(body)
