"""The embedded default: one SQLite file in WAL mode, written from one worker thread.

WAL lets readers (``bot4 orders`` while a node runs) see committed data without blocking the
writer. ``synchronous=FULL`` makes a commit durable when it returns, which is what the
write-ahead rule ("the order intent is committed before it goes to the venue") needs. Blocking
sqlite3 calls run on a single-thread executor so the event loop never waits on the disk, and
one connection is only ever used from that one thread.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from bot4.core.errors import StoreIntegrityError, StoreSchemaError, StoreUnavailableError
from bot4.store.backend import Row, WriteGroup

__all__ = ["SQLiteBackend"]

T = TypeVar("T")


class SQLiteBackend:
    """A SQLite database file (created if missing, with its directory)."""

    def __init__(self, path: str | Path, *, busy_timeout: float = 5.0) -> None:
        self.path = Path(path)
        self._busy_timeout = busy_timeout
        self._conn: sqlite3.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None

    @property
    def name(self) -> str:
        return f"sqlite:{self.path}"

    @property
    def dialect(self) -> str:
        return "sqlite"

    async def open(self) -> None:
        if self._conn is not None:
            return
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bot4-sqlite")
        try:
            self._conn = await self._run(self._connect)
        except BaseException:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise

    def _connect(self) -> sqlite3.Connection:
        if self.path.exists() and self.path.is_dir():
            raise StoreSchemaError("database path is a directory", database=self.name)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailableError("cannot open database file", database=self.name, reason=str(exc)) from exc
        try:
            # Reading the schema is the first thing that touches the file: a file that is not a
            # database (or is damaged) fails here, before anything is written to it.
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if tables and "bot4_schema" not in tables:
                # Someone else's database: leave it exactly as it is (switching it to WAL would
                # rewrite its header); the schema check refuses it with the tables it found.
                return conn
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreSchemaError(
                "not a usable SQLite database (corrupt, encrypted or another format)",
                database=self.name,
                reason=str(exc),
            ) from exc
        if mode is None or str(mode[0]).lower() != "wal":
            conn.close()
            raise StoreUnavailableError("could not switch the database to WAL mode", database=self.name, mode=mode)
        return conn

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        executor, self._executor = self._executor, None
        if conn is not None and executor is not None:
            await asyncio.get_running_loop().run_in_executor(executor, conn.close)
        if executor is not None:
            executor.shutdown(wait=True)

    async def execute_script(self, sql: str) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in split_statements(sql):
                    conn.execute(statement)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

        await self._with_conn(run, "execute_script")

    async def write(self, groups: Sequence[WriteGroup]) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for sql, rows in groups:
                    conn.executemany(sql, rows)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

        await self._with_conn(run, "write")

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        def run(conn: sqlite3.Connection) -> list[Row]:
            return [tuple(row) for row in conn.execute(sql, tuple(params)).fetchall()]

        return await self._with_conn(run, "fetch")

    async def _with_conn(self, fn: Callable[[sqlite3.Connection], T], operation: str) -> T:
        conn = self._conn
        if conn is None:
            raise StoreUnavailableError("database is not open", database=self.name, operation=operation)

        def call() -> T:
            try:
                return fn(conn)
            except sqlite3.IntegrityError as exc:
                raise StoreIntegrityError(
                    "database refused the write", database=self.name, object=_object_of(exc), detail=str(exc)
                ) from exc
            except sqlite3.OperationalError as exc:
                text = str(exc)
                if "no such table" in text or "no such column" in text or "has no column" in text:
                    raise StoreSchemaError(
                        "database schema is not what this code expects", database=self.name, reason=text
                    ) from exc
                raise StoreUnavailableError(
                    "database operation failed", database=self.name, operation=operation, reason=text
                ) from exc
            except sqlite3.DatabaseError as exc:
                raise StoreSchemaError("database file is damaged", database=self.name, reason=str(exc)) from exc

        return await self._run(call)

    async def _run(self, fn: Callable[[], T]) -> T:
        if self._executor is None:
            raise StoreUnavailableError("database is not open", database=self.name)
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)


def split_statements(sql: str) -> list[str]:
    """Split a migration script on ``;`` outside comments; our scripts have no string literals."""
    lines = [line.split("--", 1)[0] for line in sql.splitlines()]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]


def _object_of(exc: sqlite3.IntegrityError) -> str:
    # "UNIQUE constraint failed: fills.venue, fills.trade_id" -> "fills"
    text = str(exc)
    if ":" in text:
        first = text.split(":", 1)[1].strip().split(",", 1)[0]
        return first.split(".", 1)[0] if "." in first else first
    return "unknown"
