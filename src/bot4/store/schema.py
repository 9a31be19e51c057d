"""Versioned migrations, one mechanism for both backends.

Migrations are SQL files in ``bot4/store/migrations`` named ``NNNN_what.sql``, numbered from 1
without gaps, written in SQL that SQLite and PostgreSQL both accept. Applying one runs its
statements and records it in ``bot4_schema`` in the same transaction, so a failed migration
leaves the database at the version before it.

At start-up :func:`check_schema` compares the database's version with the code's: an empty
database is created (when allowed), an older one must be upgraded on purpose (``bot4 db
upgrade``) and a newer one is refused, because this code would misread it.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from importlib import resources

from bot4.core.errors import StoreSchemaError
from bot4.store.backend import Backend

__all__ = ["CODE_VERSION", "Migration", "check_schema", "migrations", "schema_version", "upgrade"]

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_SCHEMA_TABLE = """
CREATE TABLE IF NOT EXISTS bot4_schema (
    version     INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    applied_ns  BIGINT NOT NULL
)
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations() -> list[Migration]:
    """Every migration shipped with this code, in order; raises if the set has a gap."""
    found: list[Migration] = []
    for entry in resources.files("bot4.store.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match is None:
            continue
        found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise StoreSchemaError("migrations must be numbered 1..N without gaps", found=[m.version for m in found])
    return found


CODE_VERSION = len(migrations())


async def _tables(backend: Backend) -> set[str]:
    if backend.dialect == "sqlite":
        rows = await backend.fetch("SELECT name FROM sqlite_master WHERE type = 'table'")
    else:
        rows = await backend.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
    return {str(row[0]) for row in rows}


async def schema_version(backend: Backend) -> int:
    """The database's schema version: 0 when it is empty; raises when it is not Bot4's."""
    tables = await _tables(backend)
    if not tables:
        return 0
    if "bot4_schema" not in tables:
        raise StoreSchemaError(
            "not a Bot4 database: it has tables but no bot4_schema",
            database=backend.name,
            tables=sorted(tables)[:10],
        )
    rows = await backend.fetch("SELECT max(version) FROM bot4_schema")
    return int(rows[0][0] or 0)


async def upgrade(backend: Backend) -> list[int]:
    """Apply every migration the database lacks; return the versions applied."""
    current = await schema_version(backend)
    if current > CODE_VERSION:
        raise _newer(backend, current)
    applied: list[int] = []
    for migration in migrations()[current:]:
        record = (
            f"INSERT INTO bot4_schema (version, name, applied_ns) "
            f"VALUES ({migration.version}, '{migration.name}', {time.time_ns()})"
        )
        await backend.execute_script(f"{_SCHEMA_TABLE};\n{migration.sql}\n;{record}")
        applied.append(migration.version)
    return applied


async def check_schema(backend: Backend, *, create_if_empty: bool = True) -> int:
    """Make sure the database is at this code's version; return it.

    An empty database is created when ``create_if_empty``; any other difference is a
    :class:`StoreSchemaError` that says what to do.
    """
    current = await schema_version(backend)
    if current == CODE_VERSION:
        return current
    if current == 0 and create_if_empty:
        await upgrade(backend)
        return CODE_VERSION
    if current > CODE_VERSION:
        raise _newer(backend, current)
    raise StoreSchemaError(
        f"database is at schema version {current}, this Bot4 needs {CODE_VERSION}: run `bot4 db upgrade`",
        database=backend.name,
        found=current,
        expected=CODE_VERSION,
    )


def _newer(backend: Backend, current: int) -> StoreSchemaError:
    return StoreSchemaError(
        f"database is at schema version {current}, newer than this Bot4 ({CODE_VERSION}): "
        "upgrade Bot4 or point it at another database",
        database=backend.name,
        found=current,
        expected=CODE_VERSION,
    )
