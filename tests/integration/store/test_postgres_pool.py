"""The PostgreSQL backend and its pool against the real server (see conftest.py).

Timing bounds come from psycopg_pool's own rules (read in psycopg_pool/pool_async.py, 3.3):
the pool closes at most one idle connection above min_size per ``max_idle`` period, and only
after a whole period in which it stayed idle; a connection expires after ``max_lifetime`` minus
up to 5 % jitter and is replaced when it is returned to the pool (the health probe returns one
per run) or swept.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import msgspec
import psycopg
import pytest
from psycopg_pool import PoolClosed, PoolTimeout

from bot4.core.errors import (
    ConfigError,
    StoreIntegrityError,
    StoreSchemaError,
    StoreUnavailableError,
)
from bot4.store.backend import WriteGroup
from bot4.store.postgres import (
    Histogram,
    PoolConfig,
    PostgresBackend,
    translate_error,
)

from .conftest import ADMIN_DSN, terminate_backends

MIGRATION = (
    Path(__file__).resolve().parents[3] / "src/bot4/store/migrations/0001_initial.sql"
).read_text()
INSERT_RUN = "INSERT INTO runs (run_id, node_id, mode, started_ns) VALUES (?, ?, ?, ?)"
INSERT_JOURNAL = (
    "INSERT INTO journal (node_id, seq, run_id, ts_ns, kind, payload) VALUES (?, ?, ?, ?, ?, ?)"
)


def _config(**overrides: Any) -> PoolConfig:
    settings: dict[str, Any] = {
        "min_size": 2,
        "max_size": 4,
        "acquire_timeout": 2.0,
        "health_check_interval": 0.2,
        "open_timeout": 5.0,
        "close_timeout": 5.0,
    }
    settings.update(overrides)
    return PoolConfig(**settings)


def _run_with(
    dsn: str, config: PoolConfig, scenario: Callable[[PostgresBackend], Awaitable[None]]
) -> None:
    async def main() -> None:
        backend = PostgresBackend(dsn, config)
        await backend.open()
        try:
            await scenario(backend)
        finally:
            await backend.close()

    asyncio.run(main())


async def _pid(conn: psycopg.AsyncConnection[tuple[Any, ...]]) -> int:
    cursor = await conn.execute("SELECT pg_backend_pid()")
    row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def _hold_pids(backend: PostgresBackend, n: int) -> set[int]:
    """Hold ``n`` connections at once and return their server pids."""
    async with AsyncExitStack() as stack:
        conns = [await stack.enter_async_context(backend.acquire()) for _ in range(n)]
        return {await _pid(conn) for conn in conns}


def _server_pids(dsn: str) -> set[int]:
    name = dsn.rsplit("/", 1)[1]
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return {int(row[0]) for row in rows}


async def _until(condition: Callable[[], bool], *, within: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(step)
    return True


# --- without a server -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"min_size": -1}, "min_size"),
        ({"max_size": 0, "min_size": 0}, "max_size"),
        ({"min_size": 5, "max_size": 4}, "max_size"),
        ({"min_size": 2.5}, "min_size"),
        ({"acquire_timeout": 0}, "acquire_timeout"),
        ({"max_idle": -1.0}, "max_idle"),
        ({"max_lifetime": float("inf")}, "max_lifetime"),
        ({"health_check_interval": "10"}, "health_check_interval"),
        ({"reconnect_timeout": 0.0}, "reconnect_timeout"),
    ],
)
def test_pool_config_rejects_bad_value_naming_the_key(overrides: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        PoolConfig(**overrides)
    assert caught.value.context["key"] == key


def test_pool_config_defaults_match_the_issue() -> None:
    config = PoolConfig()
    assert (config.min_size, config.max_size) == (5, 32)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (psycopg.OperationalError("connection refused"), StoreUnavailableError),
        (psycopg.errors.AdminShutdown("terminating connection"), StoreUnavailableError),
        (psycopg.errors.QueryCanceled("statement timeout"), StoreUnavailableError),
        (psycopg.errors.DeadlockDetected("deadlock"), StoreUnavailableError),
        (psycopg.errors.SerializationFailure("serialization"), StoreUnavailableError),
        (psycopg.InterfaceError("connection is closed"), StoreUnavailableError),
        (PoolTimeout("no connection"), StoreUnavailableError),
        (PoolClosed("closed"), StoreUnavailableError),
        (psycopg.DatabaseError("unknown"), StoreUnavailableError),
        (psycopg.errors.UniqueViolation("duplicate key"), StoreIntegrityError),
        (psycopg.errors.ForeignKeyViolation("foreign key"), StoreIntegrityError),
        (psycopg.errors.NotNullViolation("null value"), StoreIntegrityError),
        (psycopg.errors.CheckViolation("check"), StoreIntegrityError),
        (psycopg.errors.NumericValueOutOfRange("out of range"), StoreIntegrityError),
        (psycopg.errors.UndefinedTable("no such table"), StoreSchemaError),
        (psycopg.errors.UndefinedColumn("no such column"), StoreSchemaError),
        (psycopg.errors.DuplicateTable("exists"), StoreSchemaError),
        (psycopg.errors.SyntaxError("syntax"), StoreSchemaError),
        (psycopg.errors.InsufficientPrivilege("denied"), StoreSchemaError),
        (psycopg.errors.DataCorrupted("corrupt"), StoreSchemaError),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else value.__name__,
)
def test_translate_error_maps_driver_error_by_what_the_caller_can_do(
    error: psycopg.Error, expected: type[Exception]
) -> None:
    translated = translate_error(error, database="postgresql://u@h:5432/db", operation="write")
    assert type(translated) is expected
    assert translated.context["database"] == "postgresql://u@h:5432/db"
    assert translated.context["operation"] == "write"


def test_translate_error_masks_secrets_in_the_reason() -> None:
    error = psycopg.OperationalError("auth failed for password hunter2")
    translated = translate_error(error, database="d", operation="open", secrets=("hunter2",))
    assert "hunter2" not in str(translated)


def test_histogram_counts_each_value_in_its_bucket_and_estimates_quantiles() -> None:
    histogram = Histogram((0.001, 0.01, 0.1))
    for value in (0.0005, 0.001, 0.005, 0.05, 7.0):
        histogram.observe(value)
    snapshot = histogram.snapshot()
    assert snapshot.buckets == ((0.001, 2), (0.01, 1), (0.1, 1), (float("inf"), 1))
    assert snapshot.count == 5
    assert snapshot.sum == pytest.approx(7.0565)
    assert snapshot.p50 == 0.01
    assert snapshot.p99 == float("inf")
    assert Histogram().snapshot().p50 is None


def test_non_postgres_dsn_is_a_config_error_naming_dsn_without_the_password() -> None:
    for dsn in ("mysql://bot4:s3cr3t-pw@127.0.0.1/ledger", "host=h password=s3cr3t-pw bogus=1"):
        with pytest.raises(ConfigError) as caught:
            PostgresBackend(dsn)
        assert caught.value.context["key"] == "dsn"
        assert "s3cr3t-pw" not in "".join(traceback.format_exception(caught.value))


def test_password_never_appears_in_name_repr_or_connection_errors() -> None:
    secret = "s3cr3t-pw"
    for dsn in (
        f"postgresql://bot4:{secret}@127.0.0.1:1/ledger",
        f"host=127.0.0.1 port=1 user=bot4 password={secret} dbname=ledger",
    ):
        backend = PostgresBackend(dsn, _config())
        assert backend.name == "postgresql://bot4@127.0.0.1:1/ledger"
        assert secret not in repr(backend)
        with pytest.raises(StoreUnavailableError) as caught:
            asyncio.run(backend.open())
        assert caught.value.context["database"] == backend.name
        assert "refused" in caught.value.context["reason"].lower()
        assert secret not in "".join(traceback.format_exception(caught.value))


# --- against the real server ------------------------------------------------------------


def test_open_on_missing_database_names_it_with_the_driver_reason(pg_dsn: str) -> None:
    dsn = pg_dsn.rsplit("/", 1)[0] + "/bot4_no_such_database"
    backend = PostgresBackend(dsn, _config())
    with pytest.raises(StoreUnavailableError) as caught:
        asyncio.run(backend.open())
    assert caught.value.context["database"].endswith("/bot4_no_such_database")
    assert "does not exist" in caught.value.context["reason"]


def test_pool_33rd_acquire_times_out_with_error_naming_the_database(pg_dsn: str) -> None:
    config = _config(min_size=2, max_size=32, acquire_timeout=0.5, health_check_interval=60.0)

    async def scenario(backend: PostgresBackend) -> None:
        async with AsyncExitStack() as stack:
            conns = [await stack.enter_async_context(backend.acquire()) for _ in range(32)]
            pids = await asyncio.gather(*(_pid(conn) for conn in conns))
            assert len(set(pids)) == 32  # all 32 held connections work
            stats = backend.stats()
            assert (stats.size, stats.in_use, stats.idle) == (32, 32, 0)

            started = time.monotonic()
            with pytest.raises(StoreUnavailableError) as caught:
                async with backend.acquire():
                    pytest.fail("a 33rd connection was lent")
            waited = time.monotonic() - started
            assert 0.45 <= waited < 1.5
            assert "no connection free within acquire_timeout" in str(caught.value)
            assert caught.value.context["database"] == backend.name
            assert caught.value.context["max_size"] == 32
            with pytest.raises(StoreUnavailableError):
                await backend.fetch("SELECT 1")
            stats = backend.stats()
            assert (stats.acquire_timeouts, stats.waiting, stats.in_use) == (2, 0, 32)
        assert await backend.fetch("SELECT 1") == [(1,)]
        assert backend.stats().in_use == 0

    _run_with(pg_dsn, config, scenario)


def test_pool_closes_idle_connections_above_min_size_after_max_idle(pg_fresh_dsn: str) -> None:
    max_idle = 0.5
    config = _config(min_size=1, max_size=4, max_idle=max_idle, health_check_interval=0.1)

    async def scenario(backend: PostgresBackend) -> None:
        assert len(await _hold_pids(backend, 4)) == 4
        released = time.monotonic()
        assert backend.stats().size == 4
        # A surplus connection is closed only after a whole max_idle period spent idle ...
        await asyncio.sleep(0.8 * max_idle)
        assert backend.stats().size == 4
        # ... and one per period: 3 surplus connections are gone within (3 + 1) periods.
        bound = (4 - 1 + 1) * max_idle + 1.0
        assert await _until(lambda: backend.stats().size == 1, within=bound)
        assert time.monotonic() - released >= max_idle
        assert len(await asyncio.to_thread(_server_pids, pg_fresh_dsn)) == 1
        # The health probe (every 0.1 s, faster than max_idle) did not grow the pool back.
        await asyncio.sleep(3 * max_idle)
        assert backend.stats().size == 1
        assert backend.stats().health_check_failures == 0

    _run_with(pg_fresh_dsn, config, scenario)


def test_pool_replaces_connections_after_max_lifetime(pg_fresh_dsn: str) -> None:
    max_lifetime = 1.0
    config = _config(
        min_size=2, max_size=2, max_lifetime=max_lifetime, max_idle=60.0, health_check_interval=0.1
    )

    async def scenario(backend: PostgresBackend) -> None:
        opened = time.monotonic()
        first = await _hold_pids(backend, 2)
        await asyncio.sleep(0.5 * max_lifetime)  # well before 0.95 * max_lifetime (jitter)
        assert await _hold_pids(backend, 2) == first

        def replaced() -> bool:
            return not (_server_pids(pg_fresh_dsn) & first)

        # Expired at max_lifetime at the latest; replaced when the probe returns each of them.
        assert await _until(replaced, within=max_lifetime + 2.0, step=0.1)
        assert time.monotonic() - opened >= 0.95 * max_lifetime
        later = await _hold_pids(backend, 2)
        assert len(later) == 2 and not (later & first)

    _run_with(pg_fresh_dsn, config, scenario)


def test_health_check_notices_terminated_backends_and_pool_recovers(pg_fresh_dsn: str) -> None:
    config = _config(min_size=2, max_size=4, health_check_interval=0.2)

    async def scenario(backend: PostgresBackend) -> None:
        before = await _hold_pids(backend, 2)
        # The connection in use when its server process dies: a clear StoreUnavailableError.
        with pytest.raises(StoreUnavailableError) as caught:
            async with backend.acquire() as conn:
                await conn.execute("SELECT 1")
                assert await asyncio.to_thread(terminate_backends, pg_fresh_dsn) >= 2
                await conn.execute("SELECT 1")
        assert caught.value.context["database"] == backend.name
        assert caught.value.context["operation"] == "acquire"

        def noticed() -> bool:
            return backend.stats().health_check_failures >= 1

        assert await _until(noticed, within=5.0)
        assert await backend.fetch("SELECT 1") == [(1,)]
        after = await _hold_pids(backend, 2)
        assert not (after & before)
        assert backend.stats().connections_lost >= 1

    _run_with(pg_fresh_dsn, config, scenario)


def test_acquire_finding_a_dead_connection_replaces_all_dead_idle_ones(pg_fresh_dsn: str) -> None:
    # No periodic probe here: the acquire that finds a dead connection triggers the sweep.
    config = _config(min_size=3, max_size=6, acquire_timeout=3.0, health_check_interval=60.0)

    async def scenario(backend: PostgresBackend) -> None:
        before = await _hold_pids(backend, 3)
        assert await asyncio.to_thread(terminate_backends, pg_fresh_dsn) == 3
        started = time.monotonic()
        assert await backend.fetch("SELECT 1") == [(1,)]  # no error: it was handed a live one
        assert time.monotonic() - started < config.acquire_timeout
        assert await _until(lambda: not (_server_pids(pg_fresh_dsn) & before), within=2.0)
        assert backend.stats().connections_lost >= 2  # the one it found, and the swept ones
        assert not (await _hold_pids(backend, 3) & before)

    _run_with(pg_fresh_dsn, config, scenario)


def test_write_interrupted_by_lost_connection_rolls_back_and_retries_cleanly(
    pg_fresh_dsn: str,
) -> None:
    async def scenario(backend: PostgresBackend) -> None:
        await backend.execute_script(MIGRATION)
        batch: list[WriteGroup] = [(INSERT_RUN, [("r1", "n1", "paper", 1)])]
        slow: list[WriteGroup] = [*batch, ("SELECT pg_sleep(?)", [(10.0,)])]
        writing = asyncio.create_task(backend.write(slow))
        try:

            def sleeping() -> bool:
                with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
                    row = admin.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'"
                        " AND datname = %s",
                        (pg_fresh_dsn.rsplit("/", 1)[1],),
                    ).fetchone()
                return row is not None and row[0] == 1

            assert await _until(sleeping, within=5.0)
            await asyncio.to_thread(terminate_backends, pg_fresh_dsn)
            with pytest.raises(StoreUnavailableError) as caught:
                await writing
            assert caught.value.context["operation"] == "write"
        finally:
            writing.cancel()
        # The caller retries the whole batch, as the journal writer does; nothing was committed.
        for _ in range(3):
            try:
                await backend.write(batch)
                break
            except StoreUnavailableError:
                await asyncio.sleep(0.2)
        assert await backend.fetch("SELECT run_id FROM runs") == [("r1",)]

    _run_with(pg_fresh_dsn, _config(), scenario)


def test_write_is_one_transaction_and_refused_rows_name_table_and_constraint(
    pg_fresh_dsn: str,
) -> None:
    async def scenario(backend: PostgresBackend) -> None:
        await backend.execute_script(MIGRATION)
        tables = await backend.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", ("public",)
        )
        assert {row[0] for row in tables} == {
            "runs", "journal", "instruments", "orders", "order_events", "fills", "positions",
            "balances",
        }  # fmt: skip

        # The second row violates the primary key: the first row is rolled back with it.
        with pytest.raises(StoreIntegrityError) as caught:
            await backend.write(
                [(INSERT_RUN, [("r1", "n1", "paper", 1), ("r1", "n1", "paper", 2)])]
            )
        error = caught.value
        assert error.context["database"] == backend.name
        assert error.context["object"] == "runs"
        assert error.context["constraint"] == "runs_pkey"
        assert "(run_id)=(r1)" in error.context["detail"]
        assert await backend.fetch("SELECT count(*) FROM runs") == [(0,)]

        # Across groups too: a refused journal row takes the run row of the first group with it.
        journal = [("n1", 1, "r2", 1, "k", "{}"), ("n1", 1, "r2", 2, "k", "{}")]
        with pytest.raises(StoreIntegrityError) as caught:
            await backend.write(
                [(INSERT_RUN, [("r2", "n1", "paper", 1)]), (INSERT_JOURNAL, journal)]
            )
        assert caught.value.context["constraint"] == "journal_pkey"
        assert await backend.fetch("SELECT count(*) FROM runs") == [(0,)]

        journal = [("n1", 1, "r3", 1, "k", "{}"), ("n1", 2, "r3", 2, "k", "{}")]
        await backend.write([(INSERT_RUN, [("r3", "n1", "paper", 1)]), (INSERT_JOURNAL, journal)])
        assert await backend.fetch("SELECT run_id FROM runs") == [("r3",)]
        seqs = await backend.fetch(
            "SELECT seq FROM journal WHERE node_id = ? ORDER BY seq", ("n1",)
        )
        assert seqs == [(1,), (2,)]

        with pytest.raises(StoreIntegrityError) as caught:
            await backend.write([(INSERT_RUN, [("r4", None, "paper", 1)])])
        assert caught.value.context["object"] == "runs"

    _run_with(pg_fresh_dsn, _config(), scenario)


def test_execute_script_is_one_transaction_and_schema_errors_are_schema_errors(
    pg_fresh_dsn: str,
) -> None:
    async def scenario(backend: PostgresBackend) -> None:
        await backend.execute_script(MIGRATION)
        # The second statement fails: the first one is rolled back with it.
        with pytest.raises(StoreSchemaError) as caught:
            await backend.execute_script(
                "CREATE TABLE extra (x INTEGER); CREATE TABLE runs (x INTEGER)"
            )
        assert caught.value.context["sqlstate"] == "42P07"  # duplicate table
        assert caught.value.context["database"] == backend.name
        assert await backend.fetch(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", ("extra",)
        ) == [(0,)]
        with pytest.raises(StoreSchemaError) as caught:
            await backend.fetch("SELECT * FROM no_such_table")
        assert 'relation "no_such_table" does not exist' in caught.value.context["reason"]
        with pytest.raises(StoreSchemaError):
            await backend.fetch("SELECT no_such_column FROM runs")

    _run_with(pg_fresh_dsn, _config(), scenario)


def test_stats_report_size_use_and_health_check_latency(pg_dsn: str) -> None:
    config = _config(min_size=3, max_size=5, health_check_interval=0.05)

    async def scenario(backend: PostgresBackend) -> None:
        stats = backend.stats()
        assert stats.size >= 3 and stats.in_use == 0 and stats.max_size == 5
        async with backend.acquire(), backend.acquire():
            assert backend.stats().in_use == 2
        assert backend.stats().in_use == 0
        assert await _until(lambda: backend.stats().health_check_latency.count >= 3, within=3.0)
        stats = backend.stats()
        latency = stats.health_check_latency
        assert stats.health_checks >= latency.count >= 3
        assert sum(count for _, count in latency.buckets) == latency.count
        assert latency.p50 is not None and latency.p50 <= 0.1  # a local round trip
        assert stats.health_check_failures == 0 and stats.acquire_timeouts == 0
        assert stats.requests >= 2
        assert b'"health_check_latency"' in msgspec.json.encode(stats)

    _run_with(pg_dsn, config, scenario)


def test_close_waits_for_connections_in_use_and_is_final(pg_dsn: str) -> None:
    async def main() -> None:
        backend = PostgresBackend(pg_dsn, _config())
        await backend.open()
        lent = asyncio.Event()

        async def hold() -> list[tuple[Any, ...]]:
            async with backend.acquire() as conn:
                lent.set()
                await asyncio.sleep(0.3)
                cursor = await conn.execute("SELECT 1")
                return await cursor.fetchall()

        holder = asyncio.create_task(hold())
        await lent.wait()
        started = time.monotonic()
        await backend.close()
        assert time.monotonic() - started >= 0.25
        assert await holder == [(1,)]  # the connection in use finished its work
        await backend.close()  # idempotent
        with pytest.raises(StoreUnavailableError) as caught:
            await backend.fetch("SELECT 1")
        assert caught.value.context["database"] == backend.name
        with pytest.raises(StoreUnavailableError):
            await backend.open()
        assert backend.stats().size == 0

    asyncio.run(main())
