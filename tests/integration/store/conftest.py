"""Real databases for store tests: SQLite files in tmp dirs, and the PostgreSQL on this machine.

PostgreSQL: one fresh database per test session (``bot4_test_<random>``), dropped at the end.
When the server is unreachable the PostgreSQL tests skip, except when ``CI`` is set: then a
missing server is a failure, never a silent skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

PG_HOST = os.environ.get("BOT4_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("BOT4_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("BOT4_TEST_PG_USER", "postgres")
ADMIN_DSN = f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname=postgres connect_timeout=3"


def _admin_connect():  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(ADMIN_DSN, autocommit=True)


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    """A DSN of a fresh, empty database on the real server; dropped after the session."""
    import psycopg

    try:
        admin = _admin_connect()
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {PG_HOST}:{PG_PORT} is required in CI and unreachable: {exc}")
        pytest.skip(f"PostgreSQL at {PG_HOST}:{PG_PORT} unreachable: {exc}")
    name = f"bot4_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with _admin_connect() as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
            )
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


@pytest.fixture
def pg_fresh_dsn(pg_dsn: str) -> Iterator[str]:
    """A DSN of a database of its own for one test (schema tests need an empty database)."""
    name = f"bot4_t_{uuid.uuid4().hex[:12]}"
    with _admin_connect() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield pg_dsn.rsplit("/", 1)[0] + "/" + name
    finally:
        with _admin_connect() as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
            )
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


def terminate_backends(dsn: str) -> int:
    """Kill every server process serving the database of ``dsn``; return how many."""
    name = dsn.rsplit("/", 1)[1].split("?", 1)[0]
    with _admin_connect() as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return len(rows)
