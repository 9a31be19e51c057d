"""The seam between the store and a database: what SQLite and PostgreSQL both provide.

SQL is written once, portable between the two, with ``?`` placeholders; the PostgreSQL backend
rewrites them to ``%s``. Everything is async: the SQLite backend runs its blocking calls on one
worker thread, the PostgreSQL backend uses psycopg's async pool. A backend turns its driver's
errors into the store's three: :class:`StoreUnavailableError` (cannot reach the database: the
writer keeps the rows and retries), :class:`StoreIntegrityError` (a constraint refused a row,
naming the object) and :class:`StoreSchemaError` (not a database this code can use).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

__all__ = ["Backend", "Row", "WriteGroup"]

Row = tuple[Any, ...]
WriteGroup = tuple[str, Sequence[Sequence[Any]]]  # one statement and the rows to run it with


class Backend(Protocol):
    """One database. ``name`` identifies it in errors and logs (never with a password)."""

    @property
    def name(self) -> str: ...

    @property
    def dialect(self) -> str: ...  # "sqlite" or "postgresql"

    async def open(self) -> None:
        """Connect (a pool may connect lazily); raise StoreUnavailableError/StoreSchemaError."""
        ...

    async def close(self) -> None:
        """Release every connection; later calls raise StoreUnavailableError."""
        ...

    async def execute_script(self, sql: str) -> None:
        """Run several ``;``-separated statements in one transaction (migrations)."""
        ...

    async def write(self, groups: Sequence[WriteGroup]) -> None:
        """Run every group (``executemany``) in ONE transaction: all rows or none."""
        ...

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one query and return all its rows."""
        ...
