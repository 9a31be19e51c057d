"""PostgreSQL behind the store's :class:`~bot4.store.backend.Backend` seam, on a psycopg pool.

``psycopg_pool.AsyncConnectionPool`` does the pooling: min and max size, the acquire timeout,
closing idle connections above ``min_size``, replacing connections past their lifetime, and
reconnecting with backoff. This module adds what the store needs around it: a name that never
carries the password, one translation of driver errors into the store's errors
(:func:`translate_error`), a health check owned by the backend with its latency in a
:class:`Histogram`, a close that waits for connections in use, and a :class:`PoolStats` snapshot.

How the pool's own rules work (psycopg_pool 3.3), because the settings read differently:

* ``max_idle``: every ``max_idle`` seconds the pool closes ONE connection, if it has more than
  ``min_size`` and some connection stayed idle through the whole period. An idle surplus of
  ``n`` connections is gone after at most ``(n + 1) * max_idle``.
* ``max_lifetime``: each connection gets ``max_lifetime`` minus up to 5 % (jitter, so they do
  not all reconnect at once). An expired connection is replaced when it comes back to the pool
  or when ``pool.check()`` sweeps it; the health probe returns one connection per run, and the
  pool hands connections out first in, first out, so idle ones are rotated through it.
* Every connection handed out is checked first (``AsyncConnectionPool.check_connection``, one
  round trip): a broken one is discarded and replaced, and the caller gets another.

The health check is a probe, not a periodic ``pool.check()``: in psycopg_pool 3.3 every
``pool.check()`` also grows the pool by one connection (it calls ``_maybe_grow_pool()``
unconditionally), so a 10 s check against a 300 s ``max_idle`` would hold the pool at
``max_size`` for good (measured: 2 -> 7 connections after five calls). Every
``health_check_interval`` the probe takes one connection (checked on the way out), makes one
round trip on it, returns it and records how long that took. Whenever a connection is found
dead, by the probe or by any acquire, a sweeper runs ``pool.check()`` at once: after a server
restart or ``pg_terminate_backend`` every dead idle connection is replaced together, instead of
each acquire stumbling over them one by one (psycopg_pool waits about 1 s, then 2 s, ... before
trying the next one).

Errors, by what the caller can do (:func:`translate_error` is the only place that maps them):

* StoreUnavailableError, transient (the transaction was rolled back: retry the whole batch):
  OperationalError (connection refused or lost, AdminShutdown from ``pg_terminate_backend``,
  QueryCanceled, deadlock, serialization failure), InterfaceError, the pool's PoolTimeout and
  PoolClosed, and any psycopg error not named below: unknown, so keep the rows and retry rather
  than drop them.
* StoreIntegrityError, these rows are refused and will be refused again: IntegrityError
  (unique, foreign key, not null, check) and DataError (a value the column cannot hold), with
  the table and constraint from the server's diagnostics.
* StoreSchemaError, the database (or the SQL) is not what this code expects and retrying cannot
  help: ProgrammingError (UndefinedTable, UndefinedColumn, DuplicateTable, syntax, privilege),
  NotSupportedError, InternalError (XX000, XX001 data corrupted).
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import math
import os
import re
import time
from bisect import bisect_left
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import Any

import msgspec
import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from bot4.core.errors import (
    ConfigError,
    StoreIntegrityError,
    StoreSchemaError,
    StoreUnavailableError,
)
from bot4.store.backend import Row, WriteGroup

__all__ = [
    "LATENCY_BUCKETS",
    "Histogram",
    "HistogramSnapshot",
    "PoolConfig",
    "PoolStats",
    "PostgresBackend",
    "translate_error",
]

_log = logging.getLogger("bot4.store")

Connection = psycopg.AsyncConnection[Row]
StoreError = StoreUnavailableError | StoreIntegrityError | StoreSchemaError

# Health-check latency buckets: upper bounds in seconds; a last, unbounded bucket holds the rest.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass(frozen=True, kw_only=True)
class PoolConfig:
    """How the PostgreSQL pool behaves; times in seconds. Every error names the key."""

    min_size: int = 5
    max_size: int = 32
    acquire_timeout: float = 5.0  # wait for a free connection, then StoreUnavailableError
    max_idle: float = 300.0  # an idle connection above min_size is closed after this
    max_lifetime: float = 3600.0  # a connection is replaced after this (minus up to 5 %)
    health_check_interval: float = 10.0
    reconnect_timeout: float = 300.0  # keep trying to reconnect for this long, then give up
    open_timeout: float = 30.0  # open(): min_size connections ready within this
    close_timeout: float = 30.0  # close(): wait this long for connections in use

    def __post_init__(self) -> None:
        for key in ("min_size", "max_size"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{key} must be an integer", key=key, value=value)
        if self.min_size < 0:
            raise ConfigError("min_size must be 0 or more", key="min_size", value=self.min_size)
        if self.max_size < max(1, self.min_size):
            raise ConfigError(
                "max_size must be at least 1 and at least min_size",
                key="max_size",
                value=self.max_size,
                min_size=self.min_size,
            )
        for key in (
            "acquire_timeout",
            "max_idle",
            "max_lifetime",
            "health_check_interval",
            "reconnect_timeout",
            "open_timeout",
            "close_timeout",
        ):
            value = getattr(self, key)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value <= 0
            ):
                raise ConfigError(
                    f"{key} must be a positive number of seconds", key=key, value=value
                )


class HistogramSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """Counts per bucket: ``buckets`` pairs an upper bound (seconds, the last one ``inf``) with
    the number of observations at or below it and above the previous bound (not cumulative).
    ``p50``/``p99`` are the upper bounds of the buckets holding those quantiles (None if empty).
    """

    buckets: tuple[tuple[float, int], ...]
    count: int
    sum: float
    p50: float | None
    p99: float | None


class Histogram:
    """Count observations in fixed buckets: O(log buckets) to observe, no samples kept."""

    def __init__(self, bounds: Sequence[float] = LATENCY_BUCKETS) -> None:
        if not bounds or any(b <= a for a, b in zip(bounds, bounds[1:], strict=False)):
            raise ValueError(f"histogram bounds must be non-empty and increasing: {bounds!r}")
        self._bounds = tuple(bounds)
        self._counts = [0] * (len(self._bounds) + 1)
        self._count = 0
        self._sum = 0.0

    def observe(self, value: float) -> None:
        self._counts[bisect_left(self._bounds, value)] += 1
        self._count += 1
        self._sum += value

    def quantile(self, q: float) -> float | None:
        """Return the upper bound of the bucket holding quantile ``q`` (None when empty)."""
        if self._count == 0:
            return None
        rank = max(1, math.ceil(q * self._count))
        seen = 0
        for bound, count in zip((*self._bounds, math.inf), self._counts, strict=True):
            seen += count
            if seen >= rank:
                return bound
        return math.inf

    def snapshot(self) -> HistogramSnapshot:
        return HistogramSnapshot(
            buckets=tuple(zip((*self._bounds, math.inf), self._counts, strict=True)),
            count=self._count,
            sum=self._sum,
            p50=self.quantile(0.5),
            p99=self.quantile(0.99),
        )


class PoolStats(msgspec.Struct, frozen=True, kw_only=True):
    """A snapshot of the pool for the metrics layer; counters count since open()."""

    size: int  # connections open or being opened
    in_use: int  # lent by acquire()/write()/fetch() and not yet returned
    idle: int  # ready in the pool
    waiting: int  # acquires not served yet (waiting for a free connection or its check)
    min_size: int
    max_size: int
    acquire_timeouts: int  # requests that got no connection within acquire_timeout
    requests: int  # connection requests, the health probes' included
    connections_errors: int  # failed attempts to connect
    connections_lost: int  # broken connections found (on acquire, return or sweep)
    health_checks: int
    health_check_failures: int  # probes that failed or found connections lost since the last
    health_check_latency: HistogramSnapshot  # how long each probe took, failed ones included


def translate_error(
    exc: psycopg.Error, *, database: str, operation: str, secrets: Sequence[str] = ()
) -> StoreError:
    """Map a driver error to the store's error, by what the caller can do (module docstring).

    ``secrets`` (a password) are masked in the message, should the driver ever echo them.
    """

    def masked(text: str) -> str:
        for secret in secrets:
            if secret:
                text = text.replace(secret, "***")
        return text

    reason = masked(" ".join(str(exc).split()) or type(exc).__name__)
    context: dict[str, Any] = {"database": database, "operation": operation}
    if exc.sqlstate:
        context["sqlstate"] = exc.sqlstate
    if isinstance(exc, psycopg.errors.IntegrityError | psycopg.errors.DataError):
        diag = exc.diag
        return StoreIntegrityError(
            f"the database refused the rows: {masked(diag.message_primary or reason)}",
            **context,
            object=diag.table_name or diag.constraint_name or diag.column_name,
            constraint=diag.constraint_name,
            detail=diag.message_detail,
        )
    if isinstance(
        exc,
        psycopg.errors.ProgrammingError
        | psycopg.errors.NotSupportedError
        | psycopg.errors.InternalError,
    ):
        return StoreSchemaError(
            "the database is not what this code expects", **context, reason=reason
        )
    # OperationalError, InterfaceError, the pool's errors and anything unknown: transient.
    return StoreUnavailableError("the database is unavailable", **context, reason=reason)


@lru_cache(maxsize=1024)
def _to_pyformat(sql: str) -> str:
    """Rewrite portable ``?`` placeholders to psycopg's ``%s`` (the SQL holds no other ? or %)."""
    return sql.replace("?", "%s")


class _State(Enum):
    NEW = "new"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


class PostgresBackend:
    """A PostgreSQL database reached through a pool; implements the store's ``Backend``.

    Connections run in autocommit: :meth:`write` and :meth:`execute_script` open their own
    transaction, and a caller of :meth:`acquire` opens one with ``conn.transaction()``.
    """

    def __init__(self, dsn: str, config: PoolConfig | None = None) -> None:
        self._dsn = dsn
        self._config = config if config is not None else PoolConfig()
        self._name, self._password = _describe_dsn(dsn)
        self._state = _State.NEW
        self._pool: AsyncConnectionPool[Connection] | None = None
        self._health_task: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()
        self._stopping = asyncio.Event()
        self._dead_found = asyncio.Event()
        self._open_lock = asyncio.Lock()
        self._in_use = 0
        self._acquiring = 0
        self._none_in_use = asyncio.Event()
        self._none_in_use.set()
        self._acquire_timeouts = 0
        self._health_checks = 0
        self._health_check_failures = 0
        self._health_latency = Histogram()
        self._lost_seen = 0

    def __repr__(self) -> str:
        return f"PostgresBackend({self._name!r}, state={self._state.value})"

    @property
    def name(self) -> str:
        return self._name

    @property
    def dialect(self) -> str:
        return "postgresql"

    @property
    def config(self) -> PoolConfig:
        return self._config

    async def open(self) -> None:
        """Connect min_size connections within open_timeout and start the health check."""
        async with self._open_lock:
            await self._open()

    async def _open(self) -> None:
        if self._state is _State.OPEN:
            return
        if self._state is not _State.NEW:
            raise StoreUnavailableError("backend is closed", database=self._name, operation="open")
        cfg = self._config
        deadline = time.monotonic() + cfg.open_timeout
        try:
            # One connection first: the pool alone would only say "incomplete after N sec",
            # never why (wrong database, refused, authentication failed).
            async with asyncio.timeout(cfg.open_timeout):
                probe = await psycopg.AsyncConnection.connect(self._dsn, autocommit=True)
                await probe.close()
        except TimeoutError:
            raise StoreUnavailableError(
                "no connection within open_timeout",
                database=self._name,
                operation="open",
                waited=cfg.open_timeout,
            ) from None
        except psycopg.Error as exc:
            raise self._translate(exc, "open") from exc
        pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
            self._dsn,
            open=False,
            name=self._name,
            kwargs={"autocommit": True},
            min_size=cfg.min_size,
            max_size=cfg.max_size,
            timeout=cfg.acquire_timeout,
            max_idle=cfg.max_idle,
            max_lifetime=cfg.max_lifetime,
            reconnect_timeout=cfg.reconnect_timeout,
            check=self._check_connection,
        )
        try:
            await pool.open(wait=True, timeout=max(0.001, deadline - time.monotonic()))
        except PoolTimeout:
            raise StoreUnavailableError(
                "the pool did not open min_size connections within open_timeout",
                database=self._name,
                operation="open",
                min_size=cfg.min_size,
                waited=cfg.open_timeout,
            ) from None  # wait() closed the pool already
        except BaseException:
            await pool.close()
            raise
        self._pool = pool
        self._lost_seen = 0
        self._state = _State.OPEN
        self._health_task = asyncio.create_task(
            self._watch_health(pool), name=f"health check {self._name}"
        )

    async def close(self) -> None:
        """Stop the health check, wait up to close_timeout for connections in use, close.

        Idempotent; afterwards every call raises StoreUnavailableError.
        """
        if self._state is _State.NEW:
            self._state = _State.CLOSED
            self._closed.set()
            return
        if self._state is not _State.OPEN:
            await self._closed.wait()
            return
        self._state = _State.CLOSING
        pool = self._pool
        assert pool is not None
        try:
            try:
                await self._stop_health_check()  # re-raises what a broken check died of
            finally:
                await self._close_pool(pool)
        finally:
            self._state = _State.CLOSED
            self._closed.set()

    async def _close_pool(self, pool: AsyncConnectionPool[Connection]) -> None:
        timeout = self._config.close_timeout
        try:
            await asyncio.wait_for(self._none_in_use.wait(), timeout)
        except TimeoutError:
            _log.warning(
                "closing %s with %d connections still in use after %.1f s",
                self._name,
                self._in_use,
                timeout,
            )
        await pool.close(timeout=timeout)  # a connection still in use is closed when returned

    def acquire(self) -> AbstractAsyncContextManager[Connection]:
        """Lend one pooled connection (autocommit on); driver errors inside become store errors.

        No connection free within acquire_timeout: StoreUnavailableError, counted in
        ``stats().acquire_timeouts``.
        """
        return self._session("acquire")

    async def execute_script(self, sql: str) -> None:
        async with self._session("execute_script") as conn, conn.transaction():
            # No parameters: psycopg sends the text as one simple query, all statements in it.
            await conn.execute(sql)

    async def write(self, groups: Sequence[WriteGroup]) -> None:
        async with (
            self._session("write") as conn,
            conn.transaction(),
            conn.cursor() as cursor,
        ):
            for sql, rows in groups:
                if rows:
                    await cursor.executemany(_to_pyformat(sql), rows)

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        async with self._session("fetch") as conn:
            cursor = await conn.execute(_to_pyformat(sql), params)
            return await cursor.fetchall()

    def stats(self) -> PoolStats:
        raw = self._pool.get_stats() if self._pool is not None else {}
        live = self._state is _State.OPEN or self._state is _State.CLOSING
        return PoolStats(
            size=raw.get("pool_size", 0) if live else 0,
            in_use=self._in_use,
            idle=raw.get("pool_available", 0) if live else 0,
            # Not the pool's "requests_waiting": it keeps counting requests that timed out.
            waiting=self._acquiring,
            min_size=self._config.min_size,
            max_size=self._config.max_size,
            acquire_timeouts=self._acquire_timeouts,
            requests=raw.get("requests_num", 0),
            connections_errors=raw.get("connections_errors", 0),
            connections_lost=raw.get("connections_lost", 0),
            health_checks=self._health_checks,
            health_check_failures=self._health_check_failures,
            health_check_latency=self._health_latency.snapshot(),
        )

    @asynccontextmanager
    async def _session(self, operation: str) -> AsyncIterator[Connection]:
        if self._state is not _State.OPEN or self._pool is None:
            state = "not open" if self._state is _State.NEW else "closed"
            raise StoreUnavailableError(
                f"backend is {state}", database=self._name, operation=operation
            )
        pool = self._pool
        started = time.monotonic()
        self._acquiring += 1
        try:
            conn = await pool.getconn()
        except PoolTimeout:
            self._acquire_timeouts += 1
            raise StoreUnavailableError(
                "no connection free within acquire_timeout",
                database=self._name,
                operation=operation,
                max_size=self._config.max_size,
                waited=round(time.monotonic() - started, 3),
            ) from None
        except psycopg.Error as exc:
            raise self._translate(exc, operation) from exc
        finally:
            self._acquiring -= 1
        self._in_use += 1
        self._none_in_use.clear()
        try:
            yield conn
        except psycopg.Error as exc:
            raise self._translate(exc, operation) from exc
        finally:
            try:
                await pool.putconn(conn)  # rolls back a transaction left open, drops a dead one
            finally:
                self._in_use -= 1
                if self._in_use == 0:
                    self._none_in_use.set()

    def _translate(self, exc: psycopg.Error, operation: str) -> StoreError:
        secrets = (self._password,) if self._password else ()
        return translate_error(exc, database=self._name, operation=operation, secrets=secrets)

    async def _check_connection(self, conn: Connection) -> None:
        """Check a connection on its way out of the pool; a dead one wakes the sweeper."""
        try:
            await AsyncConnectionPool.check_connection(conn)
        except psycopg.Error:
            self._dead_found.set()  # its idle siblings probably died with it
            raise

    async def _watch_health(self, pool: AsyncConnectionPool[Connection]) -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._probe_periodically(pool))
            tasks.create_task(self._sweep_when_dead_found(pool))

    async def _probe_periodically(self, pool: AsyncConnectionPool[Connection]) -> None:
        while not self._stopping.is_set():
            try:
                async with asyncio.timeout(self._config.health_check_interval):
                    await self._stopping.wait()
            except TimeoutError:
                await self._check_health(pool)

    async def _sweep_when_dead_found(self, pool: AsyncConnectionPool[Connection]) -> None:
        # Separate from the probe: a getconn() that found a dead connection waits (backoff,
        # about 1 s) before it tries the next one, and the sweep should not wait with it.
        while True:
            await self._dead_found.wait()
            self._dead_found.clear()
            if self._stopping.is_set():
                return
            await self._sweep(pool)

    async def _check_health(self, pool: AsyncConnectionPool[Connection]) -> None:
        """Probe one connection; fail if that fails or connections died since the last run."""
        failed = False
        started = time.perf_counter()
        try:
            # getconn() checks the connection (the pool's check callback) and cancelling it is
            # safe, so the timeout also bounds a round trip on a half-open socket.
            async with asyncio.timeout(self._config.acquire_timeout):
                conn = await pool.getconn()
                try:
                    await pool.check_connection(conn)
                finally:
                    await pool.putconn(conn)
        except psycopg.Error as exc:
            failed = True
            _log.warning("health check failed: %s", self._translate(exc, "health_check"))
        except TimeoutError:
            failed = True
            _log.warning("health check of %s: no answer within acquire_timeout", self._name)
        self._health_latency.observe(time.perf_counter() - started)
        self._health_checks += 1
        lost = pool.get_stats().get("connections_lost", 0)
        if failed or lost > self._lost_seen:
            self._health_check_failures += 1
            self._dead_found.set()
        self._lost_seen = lost

    async def _sweep(self, pool: AsyncConnectionPool[Connection]) -> None:
        """Check every idle connection now, replacing the dead and the expired ones.

        Not when none is idle: each pool.check() also grows the pool by one connection, and
        during an outage that would grow it to max_size.
        """
        if pool.get_stats().get("pool_available", 0):
            await pool.check()

    async def _stop_health_check(self) -> None:
        """Let a running check finish (cancelling pool.check() would lose the connections it
        holds), then stop; cancel it only past close_timeout."""
        task, self._health_task = self._health_task, None
        if task is None:
            return
        self._stopping.set()
        self._dead_found.set()
        try:
            await asyncio.wait_for(task, self._config.close_timeout)
        except TimeoutError:
            _log.warning("health check of %s cancelled at close", self._name)


_SAFE_PARSE_ERROR = re.compile(r'invalid connection option "\w+"')


def _describe_dsn(dsn: str) -> tuple[str, str | None]:
    """Return the DSN's name (``postgresql://user@host:port/db``) and its password, if any."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        # libpq quotes the offending text, which may hold the password: only a message naming
        # an unknown option is passed on.
        message = str(exc).strip()
        context: dict[str, Any] = {"key": "dsn"}
        if "://" in dsn:
            context["scheme"] = dsn.split("://", 1)[0]
        elif _SAFE_PARSE_ERROR.fullmatch(message):
            context["reason"] = message
        raise ConfigError(
            "not a PostgreSQL DSN: expected postgresql://user@host:port/db or key=value pairs",
            **context,
        ) from None
    user = str(params.get("user") or os.environ.get("PGUSER") or _os_user())
    host = str(
        params.get("host") or params.get("hostaddr") or os.environ.get("PGHOST") or "localhost"
    )
    port = str(params.get("port") or os.environ.get("PGPORT") or "5432")
    dbname = str(params.get("dbname") or os.environ.get("PGDATABASE") or user)
    password = params.get("password")
    return f"postgresql://{user}@{host}:{port}/{dbname}", str(password) if password else None


def _os_user() -> str:
    """Return the operating-system user, libpq's default user name."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (KeyError on 3.11, OSError from 3.13)
        return "unknown"
