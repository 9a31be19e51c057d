"""``bot4 db``, ``bot4 orders|fills|positions`` and the DataFrame helpers, against real databases.

One database per backend is seeded for the module with two paper runs of node ``n1``:

- run A: a resting limit buy (open) and a canceled limit sell; no fill, no position;
- run B (the latest): a market buy and a market sell that fill, a resting limit buy and limit
  sell (open), a canceled limit buy: 5 orders, 2 open, 2 fills, one position.

The listings only read, so the tests share the seeded database; the schema tests get databases
of their own.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import uuid
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot4 import cli
from bot4.model.enums import OrderSide
from bot4.store import schema as schema_module
from bot4.store.frames import (
    Table,
    fills_frame,
    iso_ns,
    orders_frame,
    positions_frame,
    read_rows,
)
from bot4.store.schema import CODE_VERSION, Migration
from bot4.store.store import Store, StoreConfig, backend_for

from .harness import START_NS, PaperWorld

BUY, SELL = OrderSide.BUY, OrderSide.SELL
NODE = "n1"


def run(coro: Coroutine[Any, Any, Any], timeout: float = 60.0) -> Any:
    async def bounded() -> Any:
        async with asyncio.timeout(timeout):
            return await coro

    return asyncio.run(bounded())


@dataclass(frozen=True)
class Seeded:
    url: str
    run_a: str
    run_b: str


async def _seed(url: str, spill_dir: Path) -> Seeded:
    runs: list[str] = []
    for prefix in ("A", "B"):
        store = await Store.open(StoreConfig(url=url, spill_dir=spill_dir), node_id=NODE)
        try:
            runs.append(await store.begin_run(mode="paper", strategy="test"))
            world = PaperWorld(store, prefix=prefix)
            world.start()
            world.tick(60_000)
            if prefix == "A":
                world.limit(BUY, "0.020", "59000.00")
                world.execution.cancel_order(world.limit(SELL, "0.002", "62000.00"))
            else:
                world.market(BUY, "0.010")
                world.limit(BUY, "0.020", "59000.00")
                world.market(SELL, "0.003")
                world.limit(SELL, "0.004", "61000.00")
                world.execution.cancel_order(world.limit(BUY, "0.001", "58000.00"))
            world.tick(60_000)
            await store.writer.flush(10)
        finally:
            assert await store.close() == 0
    return Seeded(url, runs[0], runs[1])


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """A database of each backend holding the two runs described in the module docstring."""
    tmp = tmp_path_factory.mktemp("seeded")
    if request.param == "sqlite":
        yield run(_seed(f"sqlite:///{tmp / 'bot4.db'}", tmp / "spill"))
        return
    pg_dsn: str = request.getfixturevalue("pg_dsn")  # skips (or fails in CI) without a server
    import psycopg
    from tests.integration.store.conftest import ADMIN_DSN

    name = f"bot4_cli_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield run(_seed(pg_dsn.rsplit("/", 1)[0] + "/" + name, tmp / "spill"))
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each backend (an empty SQLite file exists)."""
    if request.param == "sqlite":
        path = tmp_path / "empty.db"
        path.touch()
        return f"sqlite:///{path}"
    dsn: str = request.getfixturevalue("pg_fresh_dsn")
    return dsn


def bot4(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def _store_rows(url: str, table: Table, run_id: str | None, *, open_only: bool = False) -> list[dict[str, Any]]:
    store = await Store.open(StoreConfig(url=url, create_if_empty=False), node_id=NODE)
    try:
        if table is Table.ORDERS:
            return await store.orders(run_id, open_only=open_only)
        if table is Table.FILLS:
            return await store.fills(run_id)
        return await store.positions(run_id)
    finally:
        await store.close()


def store_rows(url: str, table: Table, run_id: str | None, *, open_only: bool = False) -> list[dict[str, Any]]:
    return run(_store_rows(url, table, run_id, open_only=open_only))  # type: ignore[no-any-return]


def as_json(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What --json should print for Store rows: spec decoded, ts_X_iso after each ts_X."""
    expected = []
    for row in rows:
        item: dict[str, Any] = {}
        for key, value in row.items():
            item[key] = json.loads(value) if key == "spec" else value
            if key.startswith("ts_"):
                item[f"{key}_iso"] = iso_ns(value)
        expected.append(item)
    return expected


def table_lines(out: str) -> tuple[list[str], list[list[str]]]:
    """Header and cells of a table (no value holds a space)."""
    lines = out.rstrip("\n").split("\n")
    return lines[0].split(), [line.split() for line in lines[1:]]


# -- listings ------------------------------------------------------------------------------------


def test_orders_table_lists_the_latest_run_with_exact_values(seeded: Seeded, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = bot4(capsys, "orders", "--db", seeded.url, "--node", NODE)
    assert code == 0
    header, rows = table_lines(out)
    assert header[:4] == ["client_order_id", "instrument_id", "side", "order_type"]
    assert [r[0] for r in rows] == ["B-1", "B-2", "B-3", "B-4", "B-5"]
    expected = store_rows(seeded.url, Table.ORDERS, seeded.run_b)
    for cells, row in zip(rows, expected, strict=True):
        shown = dict(zip(header, cells, strict=True))
        for key in ("client_order_id", "side", "quantity", "status", "filled_qty"):
            assert shown[key] == row[key]
        assert shown["price"] == (row["price"] or "-")
        assert shown["ts_init"] == iso_ns(row["ts_init"])
    by_id = {cells[0]: dict(zip(header, cells, strict=True)) for cells in rows}
    assert by_id["B-1"] | {"ts_init": "", "ts_last": "", "venue_order_id": ""} == {
        "client_order_id": "B-1", "instrument_id": "BTCUSDT.SIM", "side": "BUY", "order_type": "MARKET",
        "quantity": "0.01000", "price": "-", "status": "FILLED", "filled_qty": "0.01000",
        "avg_px": "60000.5", "venue_order_id": "", "ts_init": "", "ts_last": "",
    }
    assert by_id["B-2"]["status"] == "ACCEPTED" and by_id["B-2"]["price"] == "59000.00"
    assert by_id["B-5"]["status"] == "CANCELED"
    assert by_id["B-1"]["ts_init"] == "2023-11-14T22:13:20.001000000Z"
    assert f"5 orders, run {seeded.run_b} of node 'n1'" in err


def test_orders_json_is_the_stored_rows_with_exact_strings_and_iso_times(
    seeded: Seeded, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = bot4(capsys, "orders", "--db", seeded.url, "--node", NODE, "--json")
    assert code == 0
    printed = json.loads(out, parse_float=lambda text: pytest.fail(f"a float in the JSON: {text}"))
    assert printed == as_json(store_rows(seeded.url, Table.ORDERS, seeded.run_b))
    first = printed[0]
    assert (first["quantity"], first["avg_px"], first["ts_init"]) == ("0.01000", "60000.5", START_NS + 1_000_000)
    assert first["ts_init_iso"] == "2023-11-14T22:13:20.001000000Z"
    assert first["spec"]["client_order_id"] == "B-1"


def test_open_lists_only_orders_working_at_the_venue(seeded: Seeded, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = bot4(capsys, "orders", "--db", seeded.url, "--node", NODE, "--open")
    assert code == 0
    _, rows = table_lines(out)
    assert [(r[0], r[6]) for r in rows] == [("B-2", "ACCEPTED"), ("B-4", "ACCEPTED")]
    code, out, _ = bot4(capsys, "orders", "--db", seeded.url, "--node", NODE, "--open", "--json")
    printed = json.loads(out)
    assert printed == as_json(store_rows(seeded.url, Table.ORDERS, seeded.run_b, open_only=True))
    assert len(printed) == 2


def test_run_picks_that_run_and_its_node(seeded: Seeded, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = bot4(capsys, "orders", "--db", seeded.url, "--run", seeded.run_a)  # no --node
    assert code == 0
    _, rows = table_lines(out)
    assert [(r[0], r[6]) for r in rows] == [("A-1", "ACCEPTED"), ("A-2", "CANCELED")]
    assert f"run {seeded.run_a} of node 'n1'" in err


def test_all_runs_lists_every_run_with_its_id(seeded: Seeded, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = bot4(capsys, "orders", "--db", seeded.url, "--node", NODE, "--all-runs")
    assert code == 0
    header, rows = table_lines(out)
    assert header[0] == "run_id"
    assert sorted((r[0], r[1]) for r in rows) == sorted(
        [(seeded.run_a, f"A-{i}") for i in (1, 2)] + [(seeded.run_b, f"B-{i}") for i in range(1, 6)]
    )
    code, out, _ = bot4(capsys, "fills", "--db", seeded.url, "--node", NODE, "--all-runs", "--json")
    assert json.loads(out) == as_json(store_rows(seeded.url, Table.FILLS, None))


def test_fills_table_and_json_give_each_trade_exactly(seeded: Seeded, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = bot4(capsys, "fills", "--db", seeded.url, "--node", NODE)
    assert code == 0
    header, rows = table_lines(out)
    assert header == ["ts_event", "venue", "trade_id", "client_order_id", "instrument_id", "side", "last_qty",
                      "last_px", "commission", "commission_currency", "liquidity_side"]
    assert rows == [
        ["2023-11-14T22:13:20.001000000Z", "SIM", "SIM-T1", "B-1", "BTCUSDT.SIM", "BUY", "0.01000", "60000.50",
         "0.60000500", "USDT", "TAKER"],
        ["2023-11-14T22:13:20.001000000Z", "SIM", "SIM-T2", "B-3", "BTCUSDT.SIM", "SELL", "0.00300", "59999.50",
         "0.17999850", "USDT", "TAKER"],
    ]
    code, out, _ = bot4(capsys, "fills", "--db", seeded.url, "--node", NODE, "--json")
    assert json.loads(out) == as_json(store_rows(seeded.url, Table.FILLS, seeded.run_b))


def test_positions_show_the_last_snapshot_of_the_run(seeded: Seeded, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = bot4(capsys, "positions", "--db", seeded.url, "--node", NODE)
    assert code == 0
    header, rows = table_lines(out)
    assert len(rows) == 1
    shown = dict(zip(header, rows[0], strict=True))
    assert (shown["instrument_id"], shown["side"], shown["quantity"], shown["signed_qty"]) == (
        "BTCUSDT.SIM", "LONG", "0.00700", "0.007"
    )
    assert (shown["avg_px_open"], shown["fees_paid"], shown["currency"]) == ("60000.5", "0.78000350", "USDT")
    code, out, _ = bot4(capsys, "positions", "--db", seeded.url, "--node", NODE, "--json")
    assert json.loads(out) == as_json(store_rows(seeded.url, Table.POSITIONS, seeded.run_b))


def test_empty_listing_prints_one_note_and_exits_0(seeded: Seeded, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = bot4(capsys, "fills", "--db", seeded.url, "--run", seeded.run_a)
    assert code == 0
    assert out.strip().splitlines() == [f"no fills in run {seeded.run_a} of node 'n1' ({backend_for(seeded.url).name})"]
    code, out, err = bot4(capsys, "positions", "--db", seeded.url, "--run", seeded.run_a, "--json")
    assert (code, json.loads(out)) == (0, [])
    assert "no positions" in err
    # The default node has no runs here: the note says which nodes do.
    code, out, _ = bot4(capsys, "orders", "--db", seeded.url)
    assert code == 0
    assert len(out.strip().splitlines()) == 1
    assert "no runs of node 'node'" in out and "nodes with runs: n1; pass --node" in out


def test_unknown_run_or_run_of_another_node_is_an_error(seeded: Seeded, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = bot4(capsys, "orders", "--db", seeded.url, "--run", "20200101T000000-deadbeef")
    assert (code, out) == (1, "")
    assert err.startswith("error: no such run") and "20200101T000000-deadbeef" in err
    code, _, err = bot4(capsys, "fills", "--db", seeded.url, "--run", seeded.run_b, "--node", "other")
    assert code == 1
    assert "the run belongs to another node" in err and "'n1'" in err


def test_listing_writes_nothing(seeded: Seeded, capsys: pytest.CaptureFixture[str]) -> None:
    async def counts() -> dict[str, int]:
        backend = backend_for(seeded.url)
        await backend.open()
        try:
            return {t: (await backend.fetch(f"SELECT count(*) FROM {t}"))[0][0]
                    for t in ("runs", "journal", "orders", "fills", "positions", "balances")}
        finally:
            await backend.close()

    before = run(counts())
    path = Path(seeded.url.removeprefix("sqlite:///")) if seeded.url.startswith("sqlite") else None
    digest = hashlib.sha256(path.read_bytes()).hexdigest() if path else None
    for command in ("orders", "fills", "positions"):
        assert bot4(capsys, command, "--db", seeded.url, "--node", NODE, "--json")[0] == 0
    assert run(counts()) == before
    if path is not None:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


# -- frames --------------------------------------------------------------------------------------


def test_frames_hold_exact_decimals_and_utc_times(seeded: Seeded) -> None:
    pd = pytest.importorskip("pandas")
    orders = orders_frame(seeded.url, node_id=NODE)
    assert list(orders["client_order_id"]) == ["B-1", "B-2", "B-3", "B-4", "B-5"]
    assert str(orders["ts_init"].dtype) == "datetime64[ns, UTC]"
    assert orders["ts_init"].iloc[0] == pd.Timestamp(START_NS + 1_000_000, unit="ns", tz="UTC")
    assert orders["quantity"].dtype == object and orders["quantity"].iloc[0] == Decimal("0.01000")
    assert all(isinstance(v, Decimal) for v in orders["filled_qty"])
    assert orders["price"].iloc[0] is None and orders["price"].iloc[1] == Decimal("59000.00")
    assert str(orders["last_seq"].dtype) == "int64"
    assert orders["spec"].iloc[0]["client_order_id"] == "B-1"
    assert len(orders_frame(seeded.url, node_id=NODE, open_only=True)) == 2
    assert len(orders_frame(seeded.url, node_id=NODE, all_runs=True)) == 7

    fills = fills_frame(seeded.url, node_id=NODE)
    assert list(fills["trade_id"]) == ["SIM-T1", "SIM-T2"]
    assert list(fills["last_px"]) == [Decimal("60000.50"), Decimal("59999.50")]
    assert str(fills["ts_event"].dtype) == "datetime64[ns, UTC]"
    assert sum(fills["commission"]) == Decimal("0.78000350")  # exact

    positions = positions_frame(seeded.url, run_id=seeded.run_b)  # the node comes with the run
    assert len(positions) == 1 and positions["signed_qty"].iloc[0] == Decimal("0.007")


def test_empty_frame_has_the_columns_of_the_store_rows(seeded: Seeded) -> None:
    pytest.importorskip("pandas")
    for table, frame in ((Table.FILLS, fills_frame), (Table.POSITIONS, positions_frame)):
        empty = frame(seeded.url, run_id=seeded.run_a)
        assert len(empty) == 0 and tuple(empty.columns) == table.columns
        assert str(empty["ts_event"].dtype) == "datetime64[ns, UTC]"
    for table in Table:
        (first, *_) = store_rows(seeded.url, table, seeded.run_b)
        assert tuple(first) == table.columns


def test_frames_work_inside_a_running_event_loop(seeded: Seeded) -> None:
    pytest.importorskip("pandas")

    async def notebook_cell() -> int:  # Jupyter runs cells inside its own loop
        return len(orders_frame(seeded.url, node_id=NODE))

    assert run(notebook_cell()) == 5


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [["orders"], ["fills", "--json"], ["positions"], ["db", "version"]])
def test_missing_database_file_is_an_error_and_is_not_created(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "nowhere" / "bot4.db"
    code, out, err = bot4(capsys, *argv, "--db", f"sqlite:///{path}")
    assert (code, out) == (1, "")
    assert err.startswith("error: database file not found") and str(path) in err
    assert len(err.strip().splitlines()) == 1
    assert not path.parent.exists()


def test_database_defaults_to_bot4_db_env(seeded: Seeded, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT4_DB", seeded.url)
    code, out, _ = bot4(capsys, "fills", "--node", NODE, "--json")
    assert code == 0 and len(json.loads(out)) == 2


def test_foreign_sqlite_file_is_not_a_bot4_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.close()
    for argv in (["orders"], ["db", "version"], ["db", "upgrade"]):
        code, out, err = bot4(capsys, *argv, "--db", str(path))
        assert code == 1, argv
        assert err.startswith("error: not a Bot4 database") and str(path) in err
        assert "Traceback" not in err
    with sqlite3.connect(path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    conn.close()
    assert tables == {"customers"}


def test_file_that_is_not_sqlite_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("these are not the orders you are looking for\n" * 100)
    code, _, err = bot4(capsys, "orders", "--db", f"sqlite:///{path}")
    assert code == 1
    assert err.startswith("error: not a usable SQLite database") and str(path) in err


def test_empty_database_is_an_error_for_listings(empty_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = bot4(capsys, "orders", "--db", empty_url)
    assert code == 1
    assert err.startswith("error: empty database") and "bot4 db upgrade" in err


def test_wrong_url_and_unreachable_postgres_are_one_line_errors(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = bot4(capsys, "orders", "--db", "mysql://bot4@127.0.0.1/ledger")
    assert code == 1 and err.startswith("error: store url must be") and "127.0.0.1/ledger" in err
    code, _, err = bot4(capsys, "positions", "--db", "postgresql://postgres@127.0.0.1:1/bot4")
    assert code == 1
    assert len(err.strip().splitlines()) == 1
    assert "postgresql://postgres@127.0.0.1:1/bot4" in err and "Traceback" not in err


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert bot4(capsys, "fills", "--open")[0] == 2
    assert bot4(capsys, "orders", "--run", "x", "--all-runs")[0] == 2
    assert bot4(capsys, "db")[0] == 2
    assert bot4(capsys, "orders", "--help")[0] == 0


# -- schema --------------------------------------------------------------------------------------


def test_db_upgrade_creates_the_schema_then_is_already_at_version(
    empty_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = bot4(capsys, "db", "version", "--db", empty_url)
    assert code == 1
    assert "schema version 0" in out and "the database is empty" in err
    code, out, _ = bot4(capsys, "db", "upgrade", "--db", empty_url)
    assert code == 0
    assert out.splitlines()[0] == "applied schema version 1 (initial)"
    assert out.splitlines()[-1].endswith(f"is now at schema version {CODE_VERSION}")
    code, out, _ = bot4(capsys, "db", "upgrade", "--db", empty_url)
    assert code == 0 and out.strip().endswith(f"is already at schema version {CODE_VERSION}")
    code, out, _ = bot4(capsys, "db", "version", "--db", empty_url)
    assert code == 0
    assert out.splitlines() == [
        f"database  {backend_for(empty_url).name}: schema version {CODE_VERSION}",
        f"bot4      schema version {CODE_VERSION}",
    ]
    code, out, _ = bot4(capsys, "orders", "--db", empty_url)  # now a (run-less) Bot4 database
    assert code == 0 and "no runs of node 'node'" in out


def test_db_upgrade_creates_a_missing_sqlite_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "data" / "bot4.db"
    assert bot4(capsys, "db", "upgrade", "--db", f"sqlite:///{path}")[0] == 0
    assert path.is_file()
    assert bot4(capsys, "db", "version", "--db", str(path))[0] == 0


def test_db_upgrade_applies_only_the_missing_migrations(
    empty_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert bot4(capsys, "db", "upgrade", "--db", empty_url)[0] == 0
    real = schema_module.migrations()
    extra = Migration(CODE_VERSION + 1, "add_notes", "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    monkeypatch.setattr(schema_module, "migrations", lambda: [*real, extra])
    monkeypatch.setattr(schema_module, "CODE_VERSION", CODE_VERSION + 1)
    code, out, err = bot4(capsys, "orders", "--db", empty_url)  # older than the code
    assert code == 1 and "bot4 db upgrade" in err
    code, out, err = bot4(capsys, "db", "version", "--db", empty_url)
    assert code == 1 and "older than this Bot4" in err
    code, out, _ = bot4(capsys, "db", "upgrade", "--db", empty_url)
    assert code == 0
    assert out.splitlines()[0] == f"applied schema version {CODE_VERSION + 1} (add_notes)"
    assert len(out.splitlines()) == 2
    assert bot4(capsys, "db", "version", "--db", empty_url)[0] == 0


def test_database_newer_than_the_code_is_refused_by_every_command(
    empty_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bot4(capsys, "db", "upgrade", "--db", empty_url)[0] == 0

    async def from_the_future() -> None:
        backend = backend_for(empty_url)
        await backend.open()
        try:
            await backend.write([("INSERT INTO bot4_schema (version, name, applied_ns) VALUES (?, ?, ?)",
                                  [(CODE_VERSION + 1, "future", 0)])])
        finally:
            await backend.close()

    run(from_the_future())
    name = backend_for(empty_url).name
    for argv in (["db", "upgrade"], ["orders"], ["fills", "--json"]):
        code, out, err = bot4(capsys, *argv, "--db", empty_url)
        assert (code, out) == (1, ""), argv
        assert err.startswith(f"error: database is at schema version {CODE_VERSION + 1}, newer than this Bot4")
        assert name in err
    code, out, err = bot4(capsys, "db", "version", "--db", empty_url)
    assert code == 1
    assert f"schema version {CODE_VERSION + 1}" in out and "newer than this Bot4" in err


def test_iso_ns_is_exact_to_the_nanosecond() -> None:
    assert iso_ns(START_NS) == "2023-11-14T22:13:20.000000000Z"
    assert iso_ns(START_NS + 123_456_789) == "2023-11-14T22:13:20.123456789Z"
    assert iso_ns(START_NS).removesuffix(".000000000Z") == datetime.fromtimestamp(
        START_NS // 10**9, UTC
    ).strftime("%Y-%m-%dT%H:%M:%S")


def test_read_rows_refuses_a_run_and_all_runs_together(seeded: Seeded) -> None:
    from bot4.core.errors import InvalidInputError

    with pytest.raises(InvalidInputError):
        run(read_rows(seeded.url, Table.ORDERS, run_id=seeded.run_a, all_runs=True))
