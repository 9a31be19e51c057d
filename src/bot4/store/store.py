"""The store: one database (SQLite by default, PostgreSQL for production), its journal writer,
and the queries recovery and the CLI read it with.

::

    store = await Store.open("sqlite:///var/bot4/bot4.db", node_id="node-1")
    run = await store.begin_run(mode="paper", strategy="ema_cross")
    recorder = Recorder(bus, store.writer, execution.order)  # engines -> journal
    ...
    await store.close()          # drains the writer first

``url`` is ``sqlite:///path`` (or a bare file path) or ``postgresql://user@host:port/db``.
Opening checks the schema version (creating an empty database) and replays spill files a
crashed run left behind, so the journal is whole before the node reads it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from bot4.core.errors import Bot4Error, ConfigError
from bot4.model.account import AccountState
from bot4.model.enums import OrderStatus
from bot4.store.backend import Backend, Row
from bot4.store.schema import check_schema
from bot4.store.sqlite import SQLiteBackend
from bot4.store.writer import JournalWriter, WriterConfig, replay_spill_file

__all__ = ["Store", "StoreConfig", "backend_for"]


@dataclass(frozen=True, kw_only=True)
class StoreConfig:
    """Where the data lives and how the writer behaves.

    ``spill_dir`` defaults to ``<sqlite file's directory>/spill`` or ``./bot4-data/spill`` for
    PostgreSQL. ``trade_during_outage`` lets orders go out while the database is unreachable,
    on the strength of the fsync'ed spill file; off by default: without the database, orders
    wait and then are refused.
    """

    url: str = "sqlite:///bot4-data/bot4.db"
    spill_dir: Path | None = None
    trade_during_outage: bool = False
    create_if_empty: bool = True
    writer: WriterConfig = field(default_factory=WriterConfig)
    pool: Any = None  # bot4.store.postgres.PoolConfig for PostgreSQL


def backend_for(url: str, pool: Any = None) -> Backend:
    """The backend a URL names; raises :class:`ConfigError` for anything else."""
    if url.startswith(("postgresql://", "postgres://")):
        from bot4.store.postgres import PoolConfig, PostgresBackend

        backend: Backend = PostgresBackend(url, pool if pool is not None else PoolConfig())
        return backend
    if url.startswith("sqlite:///"):
        return SQLiteBackend(url.removeprefix("sqlite:///") or "bot4.db")
    if url.startswith("sqlite:"):
        return SQLiteBackend(url.removeprefix("sqlite:"))
    if "://" not in url and url:
        return SQLiteBackend(url)
    scheme, _, rest = url.partition("://")
    raise ConfigError(
        "store url must be sqlite:///PATH, a file path, or postgresql://USER@HOST:PORT/DB",
        key="url",
        value=f"{scheme}://{rest.rsplit('@', 1)[-1]}" if rest else url,  # never echo credentials
    )


class Store:
    """An open database with its writer; build with :meth:`open`."""

    def __init__(self, backend: Backend, node_id: str, config: StoreConfig) -> None:
        self.backend = backend
        self.node_id = node_id
        self.config = config
        self.spill_dir = config.spill_dir or _default_spill_dir(backend)
        self._writer: JournalWriter | None = None
        self.run_id: str | None = None
        self.replayed_from_spill = 0

    @classmethod
    async def open(cls, config: StoreConfig | str, *, node_id: str = "node") -> Store:
        if isinstance(config, str):
            config = StoreConfig(url=config)
        backend = backend_for(config.url, config.pool)
        await backend.open()
        try:
            await check_schema(backend, create_if_empty=config.create_if_empty)
            store = cls(backend, node_id, config)
            await store._replay_spills()
        except BaseException:
            await backend.close()
            raise
        return store

    async def _replay_spills(self) -> None:
        if not self.spill_dir.exists():
            return
        for path in sorted(self.spill_dir.glob("spill-*.jsonl")):
            self.replayed_from_spill += await replay_spill_file(self.backend, path, self.node_id)

    # -- runs and the writer ----------------------------------------------------------------------

    async def begin_run(
        self,
        *,
        mode: str,
        strategy: str | None = None,
        config_text: str | None = None,
        on_error: Callable[[Bot4Error], None] | None = None,
    ) -> str:
        """Record a new run, start its journal writer after the last stored sequence."""
        run_id = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:8]}"
        await self.backend.write([(
            "INSERT INTO runs (run_id, node_id, mode, strategy, started_ns, config) VALUES (?, ?, ?, ?, ?, ?)",
            [(run_id, self.node_id, mode, strategy, time.time_ns(), config_text)],
        )])
        writer_config = self.config.writer
        if writer_config.spill_dir is None or writer_config.durable_on_spill != self.config.trade_during_outage:
            writer_config = WriterConfig(
                queue_size=writer_config.queue_size,
                batch_size=writer_config.batch_size,
                spill_dir=writer_config.spill_dir or self.spill_dir,
                durable_on_spill=self.config.trade_during_outage,
                retry=writer_config.retry,
                latency_samples=writer_config.latency_samples,
            )
        self._writer = JournalWriter(
            self.backend,
            node_id=self.node_id,
            run_id=run_id,
            next_seq=await self.last_seq() + 1,
            config=writer_config,
            on_error=on_error,
        )
        await self._writer.start()
        self.run_id = run_id
        return run_id

    @property
    def writer(self) -> JournalWriter:
        if self._writer is None:
            raise ConfigError("no run started: call begin_run() first", database=self.backend.name)
        return self._writer

    async def end_run(self, timeout: float = 10.0) -> int:
        """Drain and stop the writer, stamp the run stopped; return entries left uncommitted."""
        writer, self._writer = self._writer, None
        left = 0
        if writer is not None:
            left = await writer.close(timeout)
            if left == 0:
                await self.backend.write([(
                    "UPDATE runs SET stopped_ns = ? WHERE run_id = ?", [(time.time_ns(), writer.run_id)]
                )])
        return left

    async def close(self, timeout: float = 10.0) -> int:
        left = await self.end_run(timeout)
        await self.backend.close()
        return left

    # -- reading ----------------------------------------------------------------------------------

    async def last_seq(self) -> int:
        rows = await self.backend.fetch("SELECT max(seq) FROM journal WHERE node_id = ?", (self.node_id,))
        return int(rows[0][0] or 0)

    async def journal_seqs(self) -> list[int]:
        rows = await self.backend.fetch("SELECT seq FROM journal WHERE node_id = ? ORDER BY seq", (self.node_id,))
        return [int(r[0]) for r in rows]

    async def runs(self) -> list[Row]:
        return await self.backend.fetch(
            "SELECT run_id, node_id, mode, strategy, started_ns, stopped_ns FROM runs ORDER BY started_ns"
        )

    async def latest_run_id(self) -> str | None:
        rows = await self.backend.fetch("SELECT run_id FROM runs ORDER BY started_ns DESC LIMIT 1")
        return str(rows[0][0]) if rows else None

    async def orders(self, run_id: str | None = None, *, open_only: bool = False) -> list[dict[str, Any]]:
        sql = (
            "SELECT client_order_id, run_id, strategy_id, instrument_id, venue_order_id, side, order_type, "
            "quantity, price, trigger_price, time_in_force, status, filled_qty, avg_px, spec, ts_init, ts_last, "
            "last_seq FROM orders WHERE node_id = ?"
        )
        params: list[Any] = [self.node_id]
        if run_id is not None:
            sql += " AND run_id = ?"
            params.append(run_id)
        if open_only:
            sql += f" AND status IN ({_OPEN_STATUSES})"
        sql += " ORDER BY ts_init, client_order_id"
        return _dicts(await self.backend.fetch(sql, params), sql)

    async def order_events(self, client_order_ids: list[str]) -> list[dict[str, Any]]:
        if not client_order_ids:
            return []
        marks = ", ".join("?" for _ in client_order_ids)
        sql = (
            "SELECT seq, client_order_id, kind, ts_event, payload FROM order_events "
            f"WHERE node_id = ? AND client_order_id IN ({marks}) ORDER BY seq"
        )
        return _dicts(await self.backend.fetch(sql, [self.node_id, *client_order_ids]), sql)

    async def fill_events(self) -> list[dict[str, Any]]:
        """Every fill event of this node, in journal order (to rebuild positions)."""
        sql = (
            "SELECT seq, client_order_id, kind, ts_event, payload FROM order_events "
            "WHERE node_id = ? AND kind = 'OrderFilled' ORDER BY seq"
        )
        return _dicts(await self.backend.fetch(sql, (self.node_id,)), sql)

    async def fills(self, run_id: str | None = None) -> list[dict[str, Any]]:
        sql = (
            "SELECT venue, trade_id, run_id, seq, client_order_id, venue_order_id, instrument_id, side, last_qty, "
            "last_px, commission, commission_currency, liquidity_side, ts_event FROM fills WHERE node_id = ?"
        )
        params: list[Any] = [self.node_id]
        if run_id is not None:
            sql += " AND run_id = ?"
            params.append(run_id)
        sql += " ORDER BY seq"
        return _dicts(await self.backend.fetch(sql, params), sql)

    async def positions(self, run_id: str | None = None) -> list[dict[str, Any]]:
        """The latest snapshot of each instrument's position."""
        run_filter = " AND run_id = ?" if run_id is not None else ""
        sql = (
            "SELECT p.instrument_id, p.side, p.quantity, p.signed_qty, p.avg_px_open, p.realized_pnl, p.fees_paid, "
            "p.currency, p.ts_event, p.seq, p.run_id FROM positions p JOIN ("
            f"SELECT instrument_id, max(seq) AS seq FROM positions WHERE node_id = ?{run_filter} GROUP BY instrument_id"
            ") latest ON p.instrument_id = latest.instrument_id AND p.seq = latest.seq WHERE p.node_id = ? "
            "ORDER BY p.instrument_id"
        )
        params: list[Any] = [self.node_id] + ([run_id] if run_id is not None else []) + [self.node_id]
        return _dicts(await self.backend.fetch(sql, params), sql)

    async def latest_account_states(self) -> list[AccountState]:
        """The last reported state of each account (exact, as journaled)."""
        rows = await self.backend.fetch(
            "SELECT payload FROM journal WHERE node_id = ? AND kind = 'account' ORDER BY seq DESC", (self.node_id,)
        )
        latest: dict[str, AccountState] = {}
        for (payload,) in rows:
            state = _account_decoder.decode(payload)
            latest.setdefault(str(state.account_id), state)
        return list(latest.values())

    async def balances(self) -> list[dict[str, Any]]:
        """The latest reported balance of each account and currency."""
        sql = (
            "SELECT b.account_id, b.currency, b.total, b.locked, b.free, b.ts_event, b.seq FROM balances b JOIN ("
            "SELECT account_id, currency, max(seq) AS seq FROM balances WHERE node_id = ? GROUP BY account_id, currency"
            ") latest ON b.account_id = latest.account_id AND b.currency = latest.currency AND b.seq = latest.seq "
            "WHERE b.node_id = ? ORDER BY b.account_id, b.currency"
        )
        return _dicts(await self.backend.fetch(sql, (self.node_id, self.node_id)), sql)


_account_decoder = msgspec.json.Decoder(AccountState)
_OPEN_STATUSES = ", ".join(sorted(f"'{s.value}'" for s in OrderStatus if s.is_open))


def _dicts(rows: list[Row], sql: str) -> list[dict[str, Any]]:
    select = sql.split("FROM", 1)[0].removeprefix("SELECT").strip()
    names = [part.strip().split(" AS ")[-1].split(".")[-1] for part in select.split(",")]
    return [dict(zip(names, row, strict=True)) for row in rows]


def _default_spill_dir(backend: Backend) -> Path:
    if isinstance(backend, SQLiteBackend):
        return backend.path.parent / "spill"
    return Path("bot4-data") / "spill"
