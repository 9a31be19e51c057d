"""SIGKILL a live node mid-session, fill one of its orders while it is down, restart it: the
node recovers from its store and reconciles with the exchange, and afterwards the store and
the exchange agree on every order and fill.

The exchange must outlive the node, so the local Binance-compatible exchange runs in this test
process, replaying the bundled sample; the node runs as a subprocess (``bot4 live``, twice) with
a ``kind = "binance"`` venue pointing at it, its keys in the environment.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

from bot4.backtest.loaders import load_path
from bot4.backtest.runner import SAMPLE_DATA_FILE, sample_data_dir
from bot4.model.enums import AggressorSide
from bot4.testkit import btcusdt, trade
from bot4.venues.sim.binance_server import (
    AccountSpec,
    ApiKeySpec,
    BinanceServer,
    BinanceServerConfig,
)
from bot4.venues.sim.binance_server.orders import OrderRecord

KEY = "crashTestKey01"
SECRET = "crashTestSecretNeverLogged"
STRATEGY = Path(__file__).with_name("crash_strategy.py")

CONFIG = """
[node]
name = "crash"
data_dir = "{data_dir}"
shutdown_timeout_s = 5.0

[[venues]]
kind = "binance"
name = "BINANCE"
symbols = ["BTCUSDT"]
rest_url = "{rest_url}"
ws_url = "{ws_url}"
credentials_env = "CRASHTEST"

[[strategies]]
name = "{strategy}:RestingBids"

[strategies.config]
instrument_id = "BTCUSDT.BINANCE"

[risk]
max_order_qty = "1"
max_open_orders = 10

[metrics]
enabled = false

[api]
enabled = false

[live]
i_understand_this_trades_real_money = true
start_state = "ACTIVE"
"""


def test_sigkill_then_restart_recovers_from_the_store_and_reconciles_with_the_exchange(tmp_path: Path) -> None:
    asyncio.run(asyncio.wait_for(_crash_and_restart(tmp_path), timeout=80))


async def _crash_and_restart(tmp_path: Path) -> None:
    inst = btcusdt("BINANCE")
    events = load_path(sample_data_dir() / SAMPLE_DATA_FILE, inst).events
    server = BinanceServer([inst], events, BinanceServerConfig(
        speed=10.0,
        accounts=[AccountSpec(name="main", balances={"USDT": "100000", "BTC": "1"})],
        api_keys=[ApiKeySpec(api_key=KEY, secret_key=SECRET, account="main")],
    ))
    await server.start()
    try:
        config = tmp_path / "node.toml"
        config.write_text(CONFIG.format(data_dir=tmp_path / "data", rest_url=server.rest_url,
                                        ws_url=server.ws_url, strategy=STRATEGY))
        account = server.account()

        first = await _start_node(config, tmp_path / "first.log")
        try:
            await _until(lambda: len(account.open_orders()) >= 2 and _exchange_trades(server), 30,
                         "two resting orders and a fill at the exchange")
        finally:
            first.kill()  # SIGKILL: no stop, no flush, no cancel
            assert await first.wait() == -9

        # While the node is down, the market trades through its highest resting bid.
        resting: OrderRecord = max(account.open_orders(), key=lambda r: r.price_raw)
        price = f"{resting.price_raw / 1e9:.2f}"
        server.push(trade(inst, price, "0.01", server.replay.position_ns or 1, aggressor=AggressorSide.SELLER))
        assert not resting.is_open and resting.executed_raw == resting.qty_raw
        missed_trade_id = str(resting.fills[-1].trade_id)

        second = await _start_node(config, tmp_path / "second.log", "--duration", "5s")
        assert await asyncio.wait_for(second.wait(), 40) == 0, (tmp_path / "second.log").read_text()[-3000:]
        log = (tmp_path / "second.log").read_text()
        assert "recovery repaired state" in log

        db = tmp_path / "data" / "bot4.db"
        runs = _rows(db, "SELECT run_id FROM runs WHERE node_id = 'crash' ORDER BY started_ns")
        assert len(runs) == 2
        second_run = runs[1]["run_id"]

        # The order filled while the node was down: restored open, filled by reconciliation.
        (order,) = _rows(db, "SELECT * FROM orders WHERE client_order_id = ?", (resting.client_order_id,))
        assert order["status"] == "FILLED"
        (fill,) = _rows(db, "SELECT * FROM fills WHERE trade_id = ?", (missed_trade_id,))
        assert fill["client_order_id"] == resting.client_order_id and fill["run_id"] == second_run
        (recovery,) = _rows(db, "SELECT payload FROM journal WHERE kind = 'recovery' AND run_id = ?", (second_run,))
        report = json.loads(recovery["payload"])
        assert resting.client_order_id in report["open_orders"]
        assert any(resting.client_order_id in repair for repair in report["repairs"])

        # Store and exchange agree: every trade the exchange made for us stored exactly once,
        # nothing open on either side (the second run canceled its orders when it stopped).
        stored = [r["trade_id"] for r in _rows(db, "SELECT trade_id FROM fills")]
        assert sorted(stored) == sorted(_exchange_trades(server)) and len(set(stored)) == len(stored)
        assert account.open_orders() == []
        assert _rows(db, "SELECT client_order_id, status FROM orders WHERE status IN "
                         "('SUBMITTED', 'ACCEPTED', 'PARTIALLY_FILLED')") == []
        at_exchange = {r.client_order_id: r.status.name for r in account.orders.values()}
        in_store = {r["client_order_id"]: r["status"] for r in _rows(db, "SELECT * FROM orders")}
        assert set(at_exchange) <= set(in_store)  # write-ahead: nothing reached it unjournaled
        for cid, status in at_exchange.items():
            assert in_store[cid] == {"NEW": "ACCEPTED", "PARTIALLY_FILLED": "PARTIALLY_FILLED"}.get(status, status)
    finally:
        await server.stop()


async def _start_node(config: Path, log: Path, *args: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "CRASHTEST_API_KEY": KEY, "CRASHTEST_API_SECRET": SECRET}
    with log.open("w") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot4", "live", "--config", str(config), *args,
            stdout=out, stderr=asyncio.subprocess.STDOUT, env=env,
        )


async def _until(predicate: Any, timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.1)


def _exchange_trades(server: BinanceServer) -> list[str]:
    return [str(f.trade_id) for fills in server.account().trades.values() for f in fills]


def _rows(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute(sql, params)]
