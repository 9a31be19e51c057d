"""The store suite, run against a real SQLite file and the real PostgreSQL server alike."""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
from collections.abc import Coroutine, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot4.core.errors import Bot4Error, StoreIntegrityError, StoreSchemaError
from bot4.core.ids import ClientOrderId, TradeId, VenueOrderId
from bot4.core.numbers import Money
from bot4.execution.reconciliation import FillReport, VenueReport
from bot4.model.enums import LiquiditySide, OrderSide, OrderStatus
from bot4.model.events import OrderEvent
from bot4.portfolio.portfolio import Portfolio
from bot4.store import schema as schema_module
from bot4.store.recovery import recover
from bot4.store.schema import CODE_VERSION, Migration, check_schema, schema_version, upgrade
from bot4.store.store import Store, StoreConfig, backend_for
from bot4.store.writeahead import WriteAheadClient
from bot4.store.writer import WriterConfig
from bot4.testkit import USDT

from .harness import PaperWorld

BUY, SELL = OrderSide.BUY, OrderSide.SELL


def run(coro: Coroutine[Any, Any, Any], timeout: float = 120.0) -> Any:
    async def bounded() -> Any:
        async with asyncio.timeout(timeout):
            return await coro

    return asyncio.run(bounded())


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db' / 'bot4.db'}"
    else:
        yield request.getfixturevalue("pg_fresh_dsn")


def config(url: str, tmp_path: Path, **writer: Any) -> StoreConfig:
    return StoreConfig(url=url, spill_dir=tmp_path / "spill", writer=WriterConfig(**writer))


async def table_count(store: Store, table: str) -> int:
    rows = await store.backend.fetch(f"SELECT count(*) FROM {table}")
    return int(rows[0][0])


# -- schema and migrations ----------------------------------------------------------------------


def test_migrations_create_every_table_from_empty(url: str) -> None:
    async def main() -> None:
        backend = backend_for(url)
        await backend.open()
        try:
            assert await schema_version(backend) == 0
            assert await upgrade(backend) == list(range(1, CODE_VERSION + 1))
            assert await schema_version(backend) == CODE_VERSION
            for table in ("runs", "journal", "orders", "order_events", "fills", "positions", "balances", "instruments"):
                assert (await backend.fetch(f"SELECT count(*) FROM {table}"))[0][0] == 0
            assert await upgrade(backend) == []  # idempotent
        finally:
            await backend.close()

    run(main())


def test_database_newer_than_code_is_refused_naming_both_versions(url: str) -> None:
    async def main() -> None:
        backend = backend_for(url)
        await backend.open()
        try:
            await check_schema(backend)
            await backend.write([("INSERT INTO bot4_schema (version, name, applied_ns) VALUES (?, ?, ?)",
                                  [(CODE_VERSION + 1, "future", 0)])])
            with pytest.raises(StoreSchemaError, match="newer than this Bot4") as err:
                await check_schema(backend)
            assert err.value.context["found"] == CODE_VERSION + 1
            assert err.value.context["database"] == backend.name
        finally:
            await backend.close()

    run(main())


def test_database_older_than_code_is_refused_until_upgraded(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real = schema_module.migrations()
    extra = Migration(CODE_VERSION + 1, "add_note", "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")

    async def main() -> None:
        backend = backend_for(url)
        await backend.open()
        try:
            await check_schema(backend)  # at the shipped version
            monkeypatch.setattr(schema_module, "migrations", lambda: [*real, extra])
            monkeypatch.setattr(schema_module, "CODE_VERSION", CODE_VERSION + 1)
            with pytest.raises(StoreSchemaError, match="bot4 db upgrade"):
                await check_schema(backend)
            assert await upgrade(backend) == [CODE_VERSION + 1]
            assert await check_schema(backend) == CODE_VERSION + 1
            assert (await backend.fetch("SELECT count(*) FROM notes"))[0][0] == 0
        finally:
            await backend.close()

    run(main())


def test_failed_migration_leaves_the_database_at_the_previous_version(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real = schema_module.migrations()
    broken = Migration(CODE_VERSION + 1, "broken", "CREATE TABLE ok_table (id INTEGER); CREATE TABLE runs (x INTEGER)")

    async def main() -> None:
        backend = backend_for(url)
        await backend.open()
        try:
            await check_schema(backend)
            monkeypatch.setattr(schema_module, "migrations", lambda: [*real, broken])
            with pytest.raises(Bot4Error):
                await upgrade(backend)
            assert await schema_version(backend) == CODE_VERSION
            tables = {r[0] for r in await backend.fetch(
                "SELECT name FROM sqlite_master WHERE type='table'" if backend.dialect == "sqlite"
                else "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
            )}
            assert "ok_table" not in tables
        finally:
            await backend.close()

    run(main())


def test_foreign_sqlite_file_is_refused_as_not_a_bot4_database(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER)")
    before = path.read_bytes()
    with pytest.raises(StoreSchemaError, match="not a Bot4 database") as err:
        run(Store.open(f"sqlite:///{path}"))
    assert "customers" in str(err.value) and str(path) in str(err.value)
    assert path.read_bytes() == before  # left exactly as it was


def test_corrupt_sqlite_file_is_refused_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "broken.db"
    path.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreSchemaError, match="not a usable SQLite database") as err:
        run(Store.open(str(path)))
    assert str(path) in str(err.value)
    assert path.read_bytes().startswith(b"this is not")  # untouched


# -- the journal and its projections --------------------------------------------------------------


async def journal_session(url: str, tmp_path: Path, steps: int, seed: int = 1, **writer: Any) -> tuple[Store, PaperWorld]:
    store = await Store.open(config(url, tmp_path, **writer), node_id="n1")
    await store.begin_run(mode="paper", strategy="test")
    world = PaperWorld(store)
    world.start()
    rng = random.Random(seed)
    for _ in range(steps):
        world.random_step(rng)
        await asyncio.sleep(0)
    await store.writer.flush(30)
    return store, world


def test_journal_is_gap_free_and_projections_match_the_engines(url: str, tmp_path: Path) -> None:
    async def main() -> None:
        store, world = await journal_session(url, tmp_path, steps=400, batch_size=50)
        try:
            seqs = await store.journal_seqs()
            assert seqs == list(range(1, store.writer.last_seq + 1))
            rows = {r["client_order_id"]: r for r in await store.orders()}
            engine_orders = world.execution.orders()
            assert len(rows) == len(engine_orders) > 50
            for order in engine_orders:
                row = rows[str(order.client_order_id)]
                assert row["status"] == order.status.value
                assert row["filled_qty"] == str(order.filled_qty)
                assert (row["venue_order_id"] or None) == (str(order.venue_order_id) if order.venue_order_id else None)
            stored_fills = await store.fills()
            engine_fills = [e for o in engine_orders for e in o.events if type(e).__name__ == "OrderFilled"]
            assert len(stored_fills) == len(engine_fills) > 10
            assert {(f["venue"], f["trade_id"]) for f in stored_fills} == {("SIM", str(e.trade_id)) for e in engine_fills}  # type: ignore[attr-defined]
            (position,) = await store.positions()
            assert Decimal(position["signed_qty"]) == world.portfolio.position(world.instrument.id).signed_qty
            balances = {(b["account_id"], b["currency"]): b for b in await store.balances()}
            account = world.portfolio.account(world.instrument.id.venue)
            assert account is not None
            for currency, balance in account.balances.items():
                assert Decimal(balances[("SIM-001", str(currency))]["total"]) == balance.total.as_decimal()
            stats = store.writer.stats()
            assert stats.committed == stats.appended == len(seqs)
            assert stats.batches >= len(seqs) // 50
        finally:
            await store.close()

    run(main())


def test_writing_the_same_entries_twice_stores_them_once(url: str, tmp_path: Path) -> None:
    async def main() -> None:
        store, _ = await journal_session(url, tmp_path, steps=150)
        try:
            rows = await store.backend.fetch("SELECT seq, ts_ns, kind, payload FROM journal ORDER BY seq")
            counts = {t: await table_count(store, t) for t in ("journal", "orders", "order_events", "fills", "positions", "balances")}
            from bot4.store.records import Entry, project

            entries = [Entry(int(r[0]), int(r[1]), str(r[2]), str(r[3])) for r in rows]
            await store.backend.write(project(entries, "n1", store.run_id or ""))
            assert {t: await table_count(store, t) for t in counts} == counts
        finally:
            await store.close()

    run(main())


def test_refused_row_is_set_aside_and_reported_while_the_rest_commits(url: str, tmp_path: Path) -> None:
    async def main() -> None:
        errors: list[Bot4Error] = []
        store = await Store.open(config(url, tmp_path, batch_size=500), node_id="n1")
        # A real constraint this data breaks: one fill per order at most.
        await store.backend.execute_script("CREATE UNIQUE INDEX one_fill_per_order ON fills (client_order_id)")
        await store.begin_run(mode="paper", on_error=errors.append)
        world = PaperWorld(store)
        world.start()
        world.tick(60_000)
        order = world.limit(BUY, "0.01", "59990.00")  # rests
        world.tick(60_000)
        fill = _fill(world, order, "0.004", "T-a")
        world.execution.process(fill)
        world.execution.process(_fill(world, order, "0.006", "T-b"))
        await store.writer.flush(10)
        try:
            assert len(errors) == 1 and isinstance(errors[0], StoreIntegrityError)
            assert store.writer.stats().rejected == 1
            assert [r["trade_id"] for r in await store.fills()] == ["T-a"]
            seqs = await store.journal_seqs()
            assert seqs == list(range(1, store.writer.last_seq + 1))  # the history keeps both
            rejected = (tmp_path / "spill" / f"rejected-{store.run_id}.jsonl").read_text().splitlines()
            assert len(rejected) == 1 and "T-b" in rejected[0]
        finally:
            await store.close()

    run(main())


def _fill(world: PaperWorld, order: Any, qty: str, trade_id: str) -> OrderEvent:
    from bot4.model.events import OrderFilled

    now = world.clock.timestamp_ns()
    return OrderFilled(
        client_order_id=order.client_order_id,
        instrument_id=order.instrument_id,
        strategy_id=order.strategy_id,
        venue_order_id=order.venue_order_id or VenueOrderId("V-x"),
        trade_id=TradeId(trade_id),
        order_side=order.side,
        last_qty=world.instrument.make_qty(qty),
        last_px=order.price,
        commission=Money.of("0.01", USDT),
        liquidity_side=LiquiditySide.MAKER,
        ts_event=now,
        ts_init=now,
    )


# -- outages: the database goes away and comes back ------------------------------------------------


def test_locked_sqlite_outage_spills_and_replays_every_entry_once(tmp_path: Path) -> None:
    """SQLite's outage: another process holds the write lock. Entries wait, spill, then land."""

    async def main() -> None:
        path = tmp_path / "db" / "bot4.db"
        cfg = StoreConfig(
            url=f"sqlite:///{path}",
            spill_dir=tmp_path / "spill",
            trade_during_outage=True,
            writer=WriterConfig(queue_size=20, batch_size=25),
        )
        store = await Store.open(cfg, node_id="n1")
        await store.backend.fetch("PRAGMA busy_timeout = 50")
        await store.begin_run(mode="paper")
        world = PaperWorld(store)
        world.start()
        rng = random.Random(5)
        blocker = sqlite3.connect(path, timeout=0.05)
        blocker.execute("PRAGMA busy_timeout=50")
        for _ in range(20):
            world.random_step(rng)
        await asyncio.sleep(0.2)
        blocker.execute("BEGIN IMMEDIATE")  # the outage starts
        try:
            for _ in range(200):
                world.random_step(rng)
                await asyncio.sleep(0.001)
            await asyncio.sleep(0.3)
            stats = store.writer.stats()
            assert not stats.available and stats.failures > 0
            assert stats.spilled > 0
            assert store.writer.is_durable(store.writer.last_seq)  # durable on the spill file
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        await store.writer.flush(30)
        assert store.writer.available
        assert await store.journal_seqs() == list(range(1, store.writer.last_seq + 1))
        assert len(await store.orders()) == len(world.execution.orders())
        await store.close()
        assert not list((tmp_path / "spill").glob("spill-*.jsonl"))

    run(main())


def test_uncommitted_entries_left_in_the_spill_file_are_replayed_at_the_next_start(tmp_path: Path) -> None:
    async def main() -> None:
        path = tmp_path / "db" / "bot4.db"
        cfg = StoreConfig(url=f"sqlite:///{path}", spill_dir=tmp_path / "spill", writer=WriterConfig(queue_size=10))
        store = await Store.open(cfg, node_id="n1")
        await store.backend.fetch("PRAGMA busy_timeout = 50")
        await store.begin_run(mode="paper")
        world = PaperWorld(store)
        world.start()
        blocker = sqlite3.connect(path, timeout=0.05)
        blocker.execute("BEGIN IMMEDIATE")
        rng = random.Random(9)
        for _ in range(60):
            world.random_step(rng)
        appended = store.writer.last_seq
        left = await store.close(timeout=0.3)
        blocker.execute("ROLLBACK")
        blocker.close()
        assert left > 0
        assert list((tmp_path / "spill").glob("spill-*.jsonl"))

        again = await Store.open(cfg, node_id="n1")
        try:
            assert again.replayed_from_spill >= left
            assert await again.journal_seqs() == list(range(1, appended + 1))
            assert len(await again.orders()) == len(world.execution.orders())
        finally:
            await again.close()

    run(main())


# -- write-ahead ------------------------------------------------------------------------------------


class RecordingClient:
    def __init__(self, inner: Any, log: list[str]) -> None:
        self._inner = inner
        self.log = log

    venue = property(lambda self: self._inner.venue)
    account_id = property(lambda self: self._inner.account_id)
    supports_amend = property(lambda self: self._inner.supports_amend)

    def submit_order(self, order: Any) -> None:
        self.log.append(f"submit {order.client_order_id}")
        self._inner.submit_order(order)

    def cancel_order(self, order: Any) -> None:
        self.log.append(f"cancel {order.client_order_id}")
        self._inner.cancel_order(order)

    def modify_order(self, order: Any, *args: Any) -> None:
        self._inner.modify_order(order, *args)


def test_order_reaches_the_venue_only_after_its_intent_is_committed(url: str, tmp_path: Path) -> None:
    async def main() -> None:
        store = await Store.open(config(url, tmp_path), node_id="n1")
        await store.begin_run(mode="paper")
        world = PaperWorld(store)
        log: list[str] = []
        committed_when_sent: list[bool] = []
        inner = RecordingClient(world.venue, log)
        original = inner.submit_order

        def checked_submit(order: Any) -> None:
            # At the moment the venue gets the order, its spec must already be in the database.
            committed_when_sent.append(store.writer.committed_seq >= world.recorder_seq_of(order))  # type: ignore[attr-defined]
            original(order)

        inner.submit_order = checked_submit  # type: ignore[method-assign]
        gate = WriteAheadClient(inner, store.writer, world.execution.process, world.clock, timeout=5)
        world.execution._clients[world.venue.venue] = gate  # the node registers the gate instead
        seq_of: dict[str, int] = {}
        world.recorder_seq_of = lambda order: seq_of[str(order.client_order_id)]  # type: ignore[attr-defined]
        world.bus.subscribe("events.order.*", lambda e: seq_of.setdefault(str(e.client_order_id), store.writer.last_seq))
        world.start()
        await gate.start()
        world.tick(60_000)
        orders = [world.limit(BUY, "0.01", "59990.00") for _ in range(5)]
        world.execution.cancel_order(orders[0])
        assert log == []  # nothing went out before the commit
        await store.writer.flush(10)
        for _ in range(100):
            if len(log) == 6:
                break
            await asyncio.sleep(0.01)
        assert log == [f"submit {o.client_order_id}" for o in orders] + [f"cancel {orders[0].client_order_id}"]
        assert committed_when_sent == [True] * 5
        await gate.close()
        await store.close()

    run(main())


# -- recovery ---------------------------------------------------------------------------------------


def test_recovery_rebuilds_open_orders_positions_and_balances_and_reconciles(url: str, tmp_path: Path) -> None:
    async def main() -> None:
        store, first = await journal_session(url, tmp_path, steps=300, seed=3)
        open_before = {str(o.client_order_id): o for o in first.execution.open_orders()}
        position_before = first.portfolio.position(first.instrument.id).signed_qty
        await store.close()

        store = await Store.open(config(url, tmp_path), node_id="n1")
        await store.begin_run(mode="paper")
        second = PaperWorld(store, prefix="R")
        # The venue saw one more fill of an open order while we were down.
        missed = next(iter(open_before.values()), None)
        fills = []
        if missed is not None:
            fills.append(FillReport(
                instrument_id=missed.instrument_id, venue_order_id=missed.venue_order_id,
                client_order_id=missed.client_order_id, trade_id=TradeId("MISSED-1"), side=missed.side,
                last_qty=missed.leaves_qty, last_px=missed.price, commission=Money.of("0.01", USDT),
                liquidity_side=LiquiditySide.MAKER, ts_event=second.clock.timestamp_ns(),
            ))
        from bot4.execution.reconciliation import OrderStatusReport

        still_open = [
            OrderStatusReport(
                instrument_id=o.instrument_id, venue_order_id=o.venue_order_id, client_order_id=o.client_order_id,
                side=o.side, order_type=o.order_type, quantity=o.quantity, price=o.price, filled_qty=o.filled_qty,
                avg_px=None, status=o.status, ts_last=o.ts_last,
            )
            for cid, o in open_before.items() if missed is None or cid != str(missed.client_order_id)
        ]
        report = VenueReport(venue=second.venue.venue, open_orders=still_open, fills=fills, ts=second.clock.timestamp_ns())
        result = await recover(store, second.execution, second.portfolio, second.recorder, second.clock, [report])  # type: ignore[arg-type]
        try:
            assert set(result.open_orders) == set(open_before)
            assert result.position_mismatches == []
            assert Decimal(result.positions[str(first.instrument.id)]) == position_before
            assert second.portfolio.position(first.instrument.id).signed_qty == position_before + (
                (missed.leaves_qty.as_decimal() if missed.side is BUY else -missed.leaves_qty.as_decimal()) if missed else 0
            )
            for cid, before in open_before.items():
                after = second.execution.order(ClientOrderId(cid))
                assert after is not None and after.filled_qty == before.filled_qty or cid == str(missed.client_order_id)
            if missed is not None:
                assert any("MISSED-1" in r or str(missed.client_order_id) in r for r in result.repairs)
                assert second.execution.order(missed.client_order_id).status is OrderStatus.FILLED  # type: ignore[union-attr]
            await store.writer.flush(10)
            kinds = [r[0] for r in await store.backend.fetch("SELECT kind FROM journal ORDER BY seq")]
            assert kinds[-1] == "recovery" or "recovery" in kinds
            recovery = json.loads((await store.backend.fetch("SELECT payload FROM journal WHERE kind = 'recovery'"))[0][0])
            assert recovery["open_orders"] == result.open_orders
            assert await store.journal_seqs() == list(range(1, store.writer.last_seq + 1))
        finally:
            await store.close()

    run(main())


def test_rebuilt_order_equals_the_live_one(tmp_path: Path) -> None:
    async def main() -> None:
        store, world = await journal_session(f"sqlite:///{tmp_path / 'b.db'}", tmp_path, steps=200, seed=4)
        try:
            from bot4.store.recovery import rebuild_order

            rows = {r["client_order_id"]: r for r in await store.orders()}
            events = await store.order_events(list(rows))
            by_order: dict[str, list[str]] = {}
            for e in events:
                by_order.setdefault(e["client_order_id"], []).append(e["payload"])
            for order in world.execution.orders():
                cid = str(order.client_order_id)
                rebuilt = rebuild_order(rows[cid]["spec"], by_order[cid])
                assert (rebuilt.status, rebuilt.filled_raw, rebuilt.avg_px, rebuilt.venue_order_id, rebuilt.events) == (
                    order.status, order.filled_raw, order.avg_px, order.venue_order_id, order.events,
                )
        finally:
            await store.close()

    run(main())


def test_portfolio_rebuilt_from_stored_fills_matches_live_portfolio(tmp_path: Path) -> None:
    async def main() -> None:
        store, world = await journal_session(f"sqlite:///{tmp_path / 'c.db'}", tmp_path, steps=300, seed=8)
        try:
            from bot4.core.bus import MessageBus
            from bot4.model.events import OrderFilled
            from bot4.store.records import decode_order_event

            fresh = Portfolio(MessageBus())
            fresh.add_instrument(world.instrument)
            for row in await store.fill_events():
                event = decode_order_event(row["payload"]).event
                assert isinstance(event, OrderFilled)
                fresh.on_fill(event)
            live = world.portfolio.position(world.instrument.id)
            again = fresh.position(world.instrument.id)
            assert (again.signed_qty, again.realized_pnl, again.fees_paid) == (live.signed_qty, live.realized_pnl, live.fees_paid)
        finally:
            await store.close()

    run(main())


def test_store_url_that_names_no_backend_is_a_config_error() -> None:
    from bot4.core.errors import ConfigError

    with pytest.raises(ConfigError, match="store url"):
        backend_for("mysql://root:secret@localhost/db")
    try:  # the scheme is shown, the credentials are not
        backend_for("mysql://root:secret@localhost/db")
    except ConfigError as exc:
        assert "secret" not in str(exc) and "mysql://localhost/db" in str(exc)





def test_write_ahead_refuses_orders_when_the_journal_cannot_keep_up(tmp_path: Path) -> None:
    """The database is locked: queued orders wait, and past the queue they are refused, not sent."""

    async def main() -> None:
        path = tmp_path / "db" / "bot4.db"
        store = await Store.open(StoreConfig(url=f"sqlite:///{path}", spill_dir=tmp_path / "spill"), node_id="n1")
        await store.backend.fetch("PRAGMA busy_timeout = 50")
        await store.begin_run(mode="paper")
        world = PaperWorld(store)
        log: list[str] = []
        gate = WriteAheadClient(RecordingClient(world.venue, log), store.writer, world.execution.process, world.clock, timeout=0.3, queue_size=2)
        world.execution._clients[world.venue.venue] = gate
        world.start()
        await gate.start()
        await store.writer.flush(5)
        blocker = sqlite3.connect(path, timeout=0.05)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            world.tick(60_000)
            orders = [world.limit(BUY, "0.01", "59990.00") for _ in range(4)]
            statuses = [o.status for o in orders]
            assert statuses[2:] == [OrderStatus.REJECTED, OrderStatus.REJECTED]  # queue of 2 is full
            assert "write-ahead queue full" in orders[3].last_event.reason  # type: ignore[union-attr]
            await asyncio.sleep(0.6)  # past the timeout: the two queued ones are refused too
            assert [o.status for o in orders] == [OrderStatus.REJECTED] * 4
            assert log == []  # nothing reached the venue
            assert gate.refused == 4
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        await gate.close()
        await store.close()

    run(main())


def test_order_placed_inside_a_bus_handler_still_waits_for_its_intent(tmp_path: Path) -> None:
    """Run-to-completion delivery journals the intent after submit_order returns; the gate waits for it."""

    async def main() -> None:
        store = await Store.open(config(f"sqlite:///{tmp_path / 'h.db'}", tmp_path), node_id="n1")
        await store.begin_run(mode="paper")
        world = PaperWorld(store)
        log: list[str] = []
        spec_committed: list[bool] = []
        inner = RecordingClient(world.venue, log)
        original = inner.submit_order

        def checked(order: Any) -> None:
            rows = run_sync_rows(store, str(order.client_order_id))
            spec_committed.append(rows > 0)
            original(order)

        inner.submit_order = checked  # type: ignore[method-assign]
        gate = WriteAheadClient(inner, store.writer, world.execution.process, world.clock, timeout=5)
        world.execution._clients[world.venue.venue] = gate
        world.start()
        await gate.start()
        world.bus.subscribe("test.signal", lambda _msg: world.limit(BUY, "0.01", "59990.00"))
        world.tick(60_000)
        await store.writer.flush(5)  # everything journaled so far is durable
        world.bus.publish("test.signal", object())  # the order is placed inside this delivery
        for _ in range(200):
            if log:
                break
            await asyncio.sleep(0.01)
        assert len(log) == 1 and spec_committed == [True]
        await gate.close()
        await store.close()

    def run_sync_rows(store: Store, cid: str) -> int:
        with sqlite3.connect(tmp_path / "h.db") as conn:
            return int(conn.execute("SELECT count(*) FROM orders WHERE client_order_id = ?", (cid,)).fetchone()[0])

    run(main())
