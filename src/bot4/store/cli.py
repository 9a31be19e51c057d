"""``bot4 db`` manages the database schema; ``bot4 orders|fills|positions`` list what a run stored.

::

    bot4 db upgrade [--db URL]     apply the migrations the database lacks (creates the schema)
    bot4 db version [--db URL]     the database's schema version and this Bot4's
    bot4 orders    [--db URL] [--run RUN_ID | --all-runs] [--node NODE_ID] [--open] [--json]
    bot4 fills     [--db URL] [--run RUN_ID | --all-runs] [--node NODE_ID] [--json]
    bot4 positions [--db URL] [--run RUN_ID | --all-runs] [--node NODE_ID] [--json]

``--db`` defaults to ``$BOT4_DB``, else ``sqlite:///bot4-data/bot4.db``; it takes
``sqlite:///PATH``, a file path or ``postgresql://USER@HOST:PORT/DB``. The listings read the
latest run of ``--node`` (default ``node``; with ``--run``, the run's own node) and never write:
a missing SQLite file is an error, not a new database (see :mod:`bot4.store.frames`).

Output: an aligned table with a header, timestamps in ISO-8601 UTC, and a summary line on
stderr; ``--json`` prints one JSON array of objects instead, numbers as the exact decimal
strings stored, each ``ts_*`` nanosecond integer followed by its ``ts_*_iso`` text. An empty
listing prints a one-line note (``--json``: ``[]``, the note on stderr).

Exit codes: 0 success (an empty listing included); 1 a database error, one ``error: ...`` line
on stderr naming the database, or ``db version`` found versions that differ; 2 usage; 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TextIO

from bot4.core.errors import Bot4Error
from bot4.store import schema
from bot4.store.backend import Backend
from bot4.store.frames import DEFAULT_NODE_ID, Rows, Table, iso_ns, read_rows, tool_backend

__all__ = ["DEFAULT_URL", "db_main", "fills_main", "format_table", "json_rows", "orders_main",
           "positions_main"]

DEFAULT_URL = "sqlite:///bot4-data/bot4.db"

# Table output: (key, right-aligned); the JSON output has every column the store returns.
_DISPLAY: dict[Table, tuple[tuple[str, bool], ...]] = {
    Table.ORDERS: (
        ("client_order_id", False), ("instrument_id", False), ("side", False), ("order_type", False),
        ("quantity", True), ("price", True), ("status", False), ("filled_qty", True), ("avg_px", True),
        ("venue_order_id", False), ("ts_init", False), ("ts_last", False),
    ),
    Table.FILLS: (
        ("ts_event", False), ("venue", False), ("trade_id", False), ("client_order_id", False),
        ("instrument_id", False), ("side", False), ("last_qty", True), ("last_px", True),
        ("commission", True), ("commission_currency", False), ("liquidity_side", False),
    ),
    Table.POSITIONS: (
        ("instrument_id", False), ("side", False), ("quantity", True), ("signed_qty", True),
        ("avg_px_open", True), ("realized_pnl", True), ("fees_paid", True), ("currency", False),
        ("ts_event", False),
    ),
}


def orders_main(argv: Sequence[str]) -> int:
    """``bot4 orders``: the orders of a run, their current state."""
    return _list(Table.ORDERS, argv)


def fills_main(argv: Sequence[str]) -> int:
    """``bot4 fills``: the fills of a run, in journal order."""
    return _list(Table.FILLS, argv)


def positions_main(argv: Sequence[str]) -> int:
    """``bot4 positions``: the last position snapshot of each instrument in a run."""
    return _list(Table.POSITIONS, argv)


def db_main(argv: Sequence[str]) -> int:
    """``bot4 db upgrade|version``."""
    parser = argparse.ArgumentParser(prog="bot4 db", description="Manage the Bot4 database schema.")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    up = sub.add_parser("upgrade", help="apply the migrations the database lacks (creates an empty "
                                        "database's schema, and a missing SQLite file)")
    _add_db(up)
    version = sub.add_parser("version", help="print the database's schema version and this Bot4's; "
                                             "exit 1 when they differ")
    _add_db(version)
    args = _parse(parser, argv)
    if isinstance(args, int):
        return args
    if args.action == "upgrade":
        return _guarded(lambda: _upgrade(args.db, sys.stdout))
    return _guarded(lambda: _version(args.db, sys.stdout))


# -- listings ---------------------------------------------------------------------------------


def _list(table: Table, argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog=f"bot4 {table.value}",
        description=f"List the {table.value} a run stored (default: the latest run of the node).",
    )
    _add_db(parser)
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--run", metavar="RUN_ID", help="the run to list (default: the node's latest)")
    which.add_argument("--all-runs", action="store_true", help="list every run of the node")
    parser.add_argument("--node", metavar="NODE_ID",
                        help=f"the node whose runs to read (default: the run's node, else {DEFAULT_NODE_ID!r})")
    if table is Table.ORDERS:
        parser.add_argument("--open", action="store_true", help="only orders still working at the venue")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON array of objects (exact decimal strings, ns and ISO times)")
    args = _parse(parser, argv)
    if isinstance(args, int):
        return args
    open_only: bool = getattr(args, "open", False)

    async def read() -> int:
        listing = await read_rows(args.db, table, run_id=args.run, all_runs=args.all_runs,
                                  node_id=args.node, open_only=open_only)
        _print_listing(listing, as_json=args.json, out=sys.stdout, err=sys.stderr)
        return 0

    return _guarded(read)


def _print_listing(listing: Rows, *, as_json: bool, out: TextIO, err: TextIO) -> None:
    what = f"open {listing.table.value}" if listing.open_only else listing.table.value
    if listing.all_runs:
        scope = f"every run of node {listing.node_id!r}"
    elif listing.run_id is not None:
        scope = f"run {listing.run_id} of node {listing.node_id!r}"
    else:
        scope = f"node {listing.node_id!r}"
    if as_json:
        items = [json.dumps(item) for item in json_rows(listing)]
        print("[\n" + ",\n".join(items) + "\n]" if items else "[]", file=out)
    if not listing.rows:
        if listing.run_id is None and not listing.all_runs:
            others = [n for n in listing.nodes if n != listing.node_id]
            hint = f" (nodes with runs: {', '.join(others)}; pass --node)" if others else ""
            note = f"no runs of node {listing.node_id!r} in {listing.database}{hint}"
        else:
            note = f"no {what} in {scope} ({listing.database})"
        print(note, file=err if as_json else out)
        return
    if not as_json:
        for line in format_table(listing):
            print(line, file=out)
    noun = what if len(listing.rows) != 1 else what.removesuffix("s")
    print(f"{len(listing.rows)} {noun}, {scope} ({listing.database})", file=err)


def format_table(listing: Rows) -> list[str]:
    """The listing as aligned text lines: a header, then one line per row (``-`` for empty)."""
    display = list(_DISPLAY[listing.table])
    if listing.all_runs:
        display.insert(0, ("run_id", False))
    header = [key for key, _ in display]
    cells = [[_cell(key, row[key]) for key, _ in display] for row in listing.rows]
    widths = [max(len(text) for text in column) for column in zip(header, *cells, strict=False)]
    lines = []
    for texts in (header, *cells):
        parts = [
            text.rjust(width) if right else text.ljust(width)
            for text, width, (_, right) in zip(texts, widths, display, strict=True)
        ]
        lines.append("  ".join(parts).rstrip())
    return lines


def json_rows(listing: Rows) -> list[dict[str, Any]]:
    """The rows for ``--json``: as stored, ``spec`` decoded, ``ts_X_iso`` after each ``ts_X``."""
    result = []
    for row in listing.rows:
        item: dict[str, Any] = {}
        for key, value in row.items():
            if key == "spec" and isinstance(value, str):
                item[key] = json.loads(value)
            elif isinstance(value, int | str | None):
                item[key] = value
            else:  # a driver's Decimal or the like: keep it exact
                item[key] = str(value)
            if key.startswith("ts_") and isinstance(value, int):
                item[f"{key}_iso"] = iso_ns(value)
        result.append(item)
    return result


def _cell(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key.startswith("ts_") and isinstance(value, int):
        return iso_ns(value)
    return str(value)


# -- schema -----------------------------------------------------------------------------------


async def _upgrade(url: str, out: TextIO) -> int:
    backend = tool_backend(url, create=True)
    await backend.open()
    try:
        # Read the module's values when called, not at import: one source of truth for both.
        names = {m.version: m.name for m in schema.migrations()}
        current = await schema.schema_version(backend)
        try:
            applied = await schema.upgrade(backend)
        except Bot4Error:
            reached = await _version_or_none(backend)
            if reached is not None and reached != current:
                print(f"database {backend.name} is now at schema version {reached}", file=out)
            raise
        for version in applied:
            print(f"applied schema version {version} ({names[version]})", file=out)
        if applied:
            print(f"database {backend.name} is now at schema version {applied[-1]}", file=out)
        else:
            print(f"database {backend.name} is already at schema version {current}", file=out)
        return 0
    finally:
        await backend.close()


async def _version(url: str, out: TextIO) -> int:
    backend = tool_backend(url)
    await backend.open()
    try:
        found = await schema.schema_version(backend)
    finally:
        await backend.close()
    code = schema.CODE_VERSION
    print(f"database  {backend.name}: schema version {found}", file=out)
    print(f"bot4      schema version {code}", file=out)
    if found == code:
        return 0
    if found == 0:
        advice = "the database is empty: run `bot4 db upgrade` to create the schema"
    elif found < code:
        advice = "the database is older than this Bot4: run `bot4 db upgrade`"
    else:
        advice = "the database is newer than this Bot4: upgrade Bot4 or point --db at another database"
    print(f"error: {advice} (database={backend.name!r})", file=sys.stderr)
    return 1


async def _version_or_none(backend: Backend) -> int | None:
    try:
        return await schema.schema_version(backend)
    except Bot4Error:
        return None


# -- plumbing ---------------------------------------------------------------------------------


def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", metavar="URL", default=os.environ.get("BOT4_DB") or DEFAULT_URL,
        help="sqlite:///PATH, a file path or postgresql://USER@HOST:PORT/DB "
             "(default: $BOT4_DB, else %(default)s)",
    )


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace | int:
    """The parsed arguments, or the exit code after argparse printed help (0) or usage (2)."""
    try:
        return parser.parse_args(list(argv))
    except SystemExit as exit_:
        return 0 if exit_.code in (0, None) else 2


def _guarded(command: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """Run an async command: a store error is one ``error:`` line on stderr and exit 1."""
    try:
        return asyncio.run(command())
    except Bot4Error as exc:  # every store error names its database
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as exc:
        if exc.name not in ("psycopg", "psycopg_pool"):
            raise
        print(f"error: PostgreSQL needs the {exc.name} package, which is not installed", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
