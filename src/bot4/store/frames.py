"""Read what a run stored: orders, fills and positions as rows (for ``bot4 orders`` and friends)
and as pandas DataFrames (for notebooks).

::

    from bot4.store.frames import fills_frame, orders_frame

    orders = orders_frame("sqlite:///bot4-data/bot4.db")          # the latest run of node "node"
    fills = fills_frame(url, run_id="20240501T120000-1a2b3c4d")   # one run (its node is implied)
    every = orders_frame(url, all_runs=True, node_id="node-1")    # every run of a node

Reading is read-only on purpose: it never creates a database or its schema, never migrates,
never replays a crashed run's spill files and never starts a run. A missing SQLite file, an empty,
foreign or damaged database and one at another schema version are errors that name the database
(:class:`~bot4.core.errors.ConfigError`, :class:`~bot4.core.errors.StoreSchemaError`,
:class:`~bot4.core.errors.StoreUnavailableError` when PostgreSQL cannot be reached).

In a frame, exact columns (prices, quantities, money) hold :class:`decimal.Decimal` objects (or
``None``), exactly as stored; timestamps are ``datetime64[ns, UTC]``; an order's ``spec`` is the
decoded dict. The frame helpers are synchronous: in a notebook, whose event loop already runs
in the main thread, the query runs on a thread of its own.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar

from bot4.core.errors import ConfigError, InvalidInputError, StoreSchemaError
from bot4.store.backend import Backend
from bot4.store.schema import check_schema, schema_version
from bot4.store.sqlite import SQLiteBackend
from bot4.store.store import Store, StoreConfig, backend_for

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DEFAULT_NODE_ID",
    "Rows",
    "Table",
    "fills_frame",
    "iso_ns",
    "open_reader",
    "orders_frame",
    "positions_frame",
    "read_rows",
    "to_frame",
    "tool_backend",
]

DEFAULT_NODE_ID = "node"

T = TypeVar("T")


class Table(Enum):
    """What can be listed; ``columns`` are the keys of each row, in the store's order."""

    ORDERS = "orders"
    FILLS = "fills"
    POSITIONS = "positions"

    @property
    def columns(self) -> tuple[str, ...]:
        return _COLUMNS[self]

    @property
    def decimal_columns(self) -> frozenset[str]:
        return _DECIMALS[self]

    @property
    def time_columns(self) -> tuple[str, ...]:
        """Integer nanoseconds since the epoch, UTC."""
        return tuple(c for c in self.columns if c.startswith("ts_"))


# The columns Store.orders(), .fills() and .positions() return (a test pins them), needed to
# shape an empty frame.
_COLUMNS: dict[Table, tuple[str, ...]] = {
    Table.ORDERS: (
        "client_order_id", "run_id", "strategy_id", "instrument_id", "venue_order_id", "side",
        "order_type", "quantity", "price", "trigger_price", "time_in_force", "status", "filled_qty",
        "avg_px", "spec", "ts_init", "ts_last", "last_seq",
    ),
    Table.FILLS: (
        "venue", "trade_id", "run_id", "seq", "client_order_id", "venue_order_id", "instrument_id",
        "side", "last_qty", "last_px", "commission", "commission_currency", "liquidity_side", "ts_event",
    ),
    Table.POSITIONS: (
        "instrument_id", "side", "quantity", "signed_qty", "avg_px_open", "realized_pnl", "fees_paid",
        "currency", "ts_event", "seq", "run_id",
    ),
}
_DECIMALS: dict[Table, frozenset[str]] = {
    Table.ORDERS: frozenset({"quantity", "price", "trigger_price", "filled_qty", "avg_px"}),
    Table.FILLS: frozenset({"last_qty", "last_px", "commission"}),
    Table.POSITIONS: frozenset({"quantity", "signed_qty", "avg_px_open", "realized_pnl", "fees_paid"}),
}
_INTEGERS = frozenset({"seq", "last_seq"})


@dataclass(frozen=True, kw_only=True)
class Rows:
    """One listing: the rows as the store returned them, and what was asked of which database.

    ``run_id`` is the run listed (None: every run of the node, or the node has no run yet);
    ``nodes`` are the nodes that have runs in this database, to explain an empty listing.
    """

    table: Table
    database: str
    node_id: str
    run_id: str | None
    all_runs: bool
    open_only: bool
    nodes: tuple[str, ...]
    rows: list[dict[str, Any]]


def tool_backend(url: str, *, create: bool = False) -> Backend:
    """The backend of ``url`` for a short-lived tool (a listing, a notebook, ``bot4 db``).

    PostgreSQL gets a pool of one or two connections instead of a node's five to 32. A missing
    SQLite file is a :class:`ConfigError` unless ``create``: SQLite would otherwise create the
    file and its directory, and a reader must not.
    """
    pool = None
    if url.startswith(("postgresql://", "postgres://")):
        from bot4.store.postgres import PoolConfig

        pool = PoolConfig(min_size=1, max_size=2, open_timeout=10.0)
    backend = backend_for(url, pool)
    if not create and isinstance(backend, SQLiteBackend) and not backend.path.exists():
        raise ConfigError("database file not found (`bot4 db upgrade` creates one)", database=backend.name)
    return backend


async def open_reader(url: str, *, node_id: str = DEFAULT_NODE_ID) -> Store:
    """Open a database for reading only; raise when it is missing, empty, foreign or mismatched.

    Unlike :meth:`Store.open` this creates nothing and replays no spill file (replaying is a
    write, and belongs to the node that owns the spill directory).
    """
    backend = tool_backend(url)
    await backend.open()
    try:
        if await schema_version(backend) == 0:
            raise StoreSchemaError(
                "empty database: it has no Bot4 schema (`bot4 db upgrade` creates it)",
                database=backend.name,
            )
        await check_schema(backend, create_if_empty=False)
    except BaseException:
        await backend.close()
        raise
    return Store(backend, node_id, StoreConfig(url=url, create_if_empty=False))


async def read_rows(
    url: str,
    table: Table,
    *,
    run_id: str | None = None,
    all_runs: bool = False,
    node_id: str | None = None,
    open_only: bool = False,
) -> Rows:
    """List one table for a run: ``run_id``, else every run (``all_runs``), else the latest.

    ``node_id`` defaults to the node of ``run_id``, else ``"node"``. Naming a run that does not
    exist, or one of another node than ``node_id``, is an :class:`InvalidInputError`.
    """
    if run_id is not None and all_runs:
        raise InvalidInputError("give a run id or all_runs, not both", run=run_id)
    if open_only and table is not Table.ORDERS:
        raise InvalidInputError("open_only applies to orders only", table=table.value)
    store = await open_reader(url, node_id=node_id or DEFAULT_NODE_ID)
    try:
        runs = await store.runs()  # run_id, node_id, mode, strategy, started_ns, stopped_ns
        nodes = tuple(sorted({str(r[1]) for r in runs}))
        if run_id is not None:
            node_of_run = next((str(r[1]) for r in runs if r[0] == run_id), None)
            if node_of_run is None:
                raise InvalidInputError(
                    "no such run", database=store.backend.name, run=run_id,
                    latest=str(runs[-1][0]) if runs else None,
                )
            if node_id is not None and node_id != node_of_run:
                raise InvalidInputError(
                    "the run belongs to another node", database=store.backend.name, run=run_id,
                    node=node_of_run, given=node_id,
                )
            store.node_id = node_of_run
        elif not all_runs:
            of_node = [str(r[0]) for r in runs if r[1] == store.node_id]  # oldest first
            if not of_node:
                return Rows(table=table, database=store.backend.name, node_id=store.node_id,
                            run_id=None, all_runs=False, open_only=open_only, nodes=nodes, rows=[])
            run_id = of_node[-1]
        if table is Table.ORDERS:
            rows = await store.orders(run_id, open_only=open_only)
        elif table is Table.FILLS:
            rows = await store.fills(run_id)
        else:
            rows = await store.positions(run_id)
        return Rows(table=table, database=store.backend.name, node_id=store.node_id, run_id=run_id,
                    all_runs=all_runs, open_only=open_only, nodes=nodes, rows=rows)
    finally:
        await store.close()


def iso_ns(ns: int) -> str:
    """``1700000000001000000`` -> ``2023-11-14T22:13:20.001000000Z`` (exact to the nanosecond)."""
    seconds, fraction = divmod(ns, 1_000_000_000)
    return f"{datetime.fromtimestamp(seconds, UTC):%Y-%m-%dT%H:%M:%S}.{fraction:09d}Z"


# -- DataFrames -------------------------------------------------------------------------------


def orders_frame(
    url: str,
    run_id: str | None = None,
    node_id: str | None = None,
    *,
    all_runs: bool = False,
    open_only: bool = False,
) -> pd.DataFrame:
    """The orders of a run (default: the node's latest run), one row per order, current state."""
    return to_frame(_run_sync(lambda: read_rows(
        url, Table.ORDERS, run_id=run_id, all_runs=all_runs, node_id=node_id, open_only=open_only
    )))


def fills_frame(
    url: str, run_id: str | None = None, node_id: str | None = None, *, all_runs: bool = False
) -> pd.DataFrame:
    """The fills of a run (default: the node's latest run), in journal order."""
    return to_frame(_run_sync(lambda: read_rows(
        url, Table.FILLS, run_id=run_id, all_runs=all_runs, node_id=node_id
    )))


def positions_frame(
    url: str, run_id: str | None = None, node_id: str | None = None, *, all_runs: bool = False
) -> pd.DataFrame:
    """The last position snapshot of each instrument in a run (``all_runs``: the latest of all)."""
    return to_frame(_run_sync(lambda: read_rows(
        url, Table.POSITIONS, run_id=run_id, all_runs=all_runs, node_id=node_id
    )))


def to_frame(listing: Rows) -> pd.DataFrame:
    """Turn a listing into a DataFrame with exact decimals and UTC timestamps (see the module)."""
    pd = _pandas()
    table = listing.table
    columns: dict[str, Any] = {}
    for name in table.columns:
        values = [row[name] for row in listing.rows]
        if name in table.decimal_columns:
            columns[name] = pd.Series([None if v is None else Decimal(v) for v in values], dtype=object)
        elif name in table.time_columns:
            columns[name] = pd.to_datetime(pd.Series(values, dtype="int64"), unit="ns", utc=True)
        elif name in _INTEGERS:
            columns[name] = pd.Series(values, dtype="int64")
        elif name == "spec":
            columns[name] = pd.Series([json.loads(v) for v in values], dtype=object)
        else:
            columns[name] = pd.Series(values, dtype=object if not values else None)
    return pd.DataFrame(columns)


def _pandas() -> Any:
    try:
        import pandas
    except ImportError as exc:
        raise ImportError(
            "the bot4.store.frames helpers need pandas, which is not installed: pip install pandas"
        ) from exc
    return pandas


def _run_sync(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    # A loop already runs in this thread (Jupyter, IPython): asyncio.run() would refuse, and
    # blocking that loop on itself would deadlock, so the query gets a thread and loop of its own.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="bot4-frames") as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()
