"""Finding columns by name in CSV headers and Arrow tables, and reading Parquet/Feather.

A layout is a NamedTuple whose fields are :class:`Col` (or None for an absent optional column);
the loaders' row loops index cells by ``Col.pos`` and name errors by ``Col.name``, the
column's name as the file writes it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import count
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq

from bot4.backtest.loaders._common import TimeUnit
from bot4.core.errors import InvalidDataError

__all__ = ["Col", "arrow_columns", "arrow_rows", "find", "find_time", "is_arrow", "missing_field", "read_arrow", "width_of"]

L = TypeVar("L", bound=tuple[Any, ...])


class Col(NamedTuple):
    pos: int
    name: str
    unit: TimeUnit | None = None


# Column names each field may go by, tried in order. Time columns carry the unit their name
# implies in the formats we read (ours: ns; Binance Vision, freqtrade and ccxt: ms or µs).
EVENT_TIME = (
    ("ts_event", TimeUnit.NANOSECONDS),
    ("timestamp", TimeUnit.MS_OR_US),
    ("time", TimeUnit.MS_OR_US),
    ("transact_time", TimeUnit.MS_OR_US),
    ("date", TimeUnit.DATE),
)


def find(header: Sequence[str], names: Sequence[str]) -> Col | None:
    """The first of ``names`` present in the (lower-cased) header."""
    for name in names:
        if name in header:
            return Col(header.index(name), name)
    return None


def find_time(header: Sequence[str], names: Sequence[tuple[str, TimeUnit]]) -> Col | None:
    for name, unit in names:
        if name in header:
            return Col(header.index(name), name, unit)
    return None


def missing_field(layout: tuple[Any, ...], width: int) -> str:
    """Name the first column a short row lacks."""
    cols = sorted((c for c in layout if isinstance(c, Col)), key=lambda c: c.pos)
    return next((c.name for c in cols if c.pos >= width), "row")


def width_of(layout: tuple[Any, ...]) -> int:
    return max(c.pos for c in layout if isinstance(c, Col)) + 1


def _magic(path: Path) -> bytes:
    with path.open("rb") as file:
        return file.read(6)


def is_arrow(path: Path) -> bool:
    """Whether ``path`` is a Parquet or Feather v2 file (by magic bytes) or named like one."""
    magic = _magic(path)
    return magic[:4] == b"PAR1" or magic == b"ARROW1" or path.suffix.lower() in _ARROW_SUFFIXES


_ARROW_SUFFIXES = (".parquet", ".feather", ".arrow", ".ipc")


def read_arrow(path: Path) -> pa.Table:
    """Read a Parquet or Feather (Arrow IPC) file, told apart by its magic bytes."""
    magic = _magic(path)
    try:
        if magic[:4] == b"PAR1":
            return pq.read_table(path)
        if magic == b"ARROW1" or path.suffix.lower() in (".feather", ".arrow", ".ipc"):
            return feather.read_table(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InvalidDataError("unreadable Parquet/Feather file", file=str(path), reason=str(exc)) from None
    raise InvalidDataError("not a Parquet or Feather file", file=str(path))


def arrow_columns(path: Path) -> list[str]:
    """The column names of a Parquet or Feather file, reading only its schema."""
    try:
        if _magic(path)[:4] == b"PAR1":
            return list(pq.read_schema(path).names)
        with pa.memory_map(str(path)) as source:
            return list(pa.ipc.open_file(source).schema.names)
    except (pa.ArrowException, OSError, ValueError):
        return list(read_arrow(path).column_names)  # Feather v1, or raises naming the path


def arrow_rows(path: Path, table: pa.Table, layout: L) -> tuple[L, Iterator[tuple[int, Sequence[object]]]]:
    """Pull only the layout's columns out of ``table`` as Python values, row by row.

    Time columns of Arrow timestamp/date type become int ns (their unit comes from the type,
    not the name). Returns the layout re-indexed to the pulled columns, and ``(row number,
    cells)`` pairs numbered from 1.
    """
    columns: list[list[object]] = []
    remapped: dict[str, Col] = {}
    for key, col in layout._asdict().items():  # type: ignore[attr-defined]
        if not isinstance(col, Col):
            continue
        array = table.column(col.pos)
        unit = col.unit
        if pa.types.is_timestamp(array.type) or pa.types.is_date(array.type):
            try:
                array = array.cast(pa.timestamp("ns")).cast(pa.int64())
            except pa.ArrowException as exc:  # a date past 2262 does not fit int64 ns
                raise InvalidDataError(
                    "time column does not fit int64 nanoseconds", file=str(path), field=col.name, reason=str(exc)
                ) from None
            unit = TimeUnit.NANOSECONDS
        remapped[key] = Col(len(columns), col.name, unit)
        columns.append(array.to_pylist())
    new_layout = layout._replace(**remapped)  # type: ignore[attr-defined]
    return new_layout, zip(count(1), zip(*columns, strict=True), strict=False)


def unrecognised(path: Path, what: str, header: Sequence[str] | None, first: Sequence[str]) -> InvalidDataError:
    return InvalidDataError(
        f"unrecognised {what} layout; see bot4.backtest.loaders for the supported formats",
        file=str(path),
        header=None if header is None else ",".join(header),
        first_row=None if header is not None else ",".join(first)[:200],
    )
