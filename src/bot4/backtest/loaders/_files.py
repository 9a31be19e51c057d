"""Opening market data files: existence, gzip by magic bytes, damaged files, CSV headers."""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, cast

from bot4.backtest.loaders._common import BadField, Sink
from bot4.core.errors import InvalidDataError

__all__ = ["CsvSource", "check_path", "looks_numeric", "numbered_lines", "open_bytes"]


def check_path(path: str | Path) -> Path:
    """Refuse a path that is not a readable file, naming it."""
    path = Path(path)
    if not path.is_file():
        raise InvalidDataError("market data file not found", file=str(path))
    return path


def open_bytes(path: Path) -> BinaryIO:
    """Open a file for reading, transparently gunzipping (detected by magic, not by name)."""
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    return cast(BinaryIO, gzip.open(path, "rb")) if gzipped else path.open("rb")


# What reading a damaged file raises: a truncated gzip (EOFError), bad compressed data
# (zlib.error, gzip.BadGzipFile) or an I/O failure. The rows read so far stay loaded.
_DAMAGED = (EOFError, OSError, zlib.error)


def _damaged(sink: Sink, row: int, exc: BaseException) -> None:
    sink.report.rows += 1
    sink.bad(row, BadField("file", None, f"file is truncated or corrupt, stopped reading: {exc!r}"))


def numbered_lines(stream: BinaryIO, sink: Sink) -> Iterator[tuple[int, bytes]]:
    """Yield ``(line number, line)``; a damaged file ends the lines with one bad row."""
    row = 0
    lines = iter(stream)
    while True:
        try:
            line = next(lines)
        except StopIteration:
            return
        except _DAMAGED as exc:
            _damaged(sink, row + 1, exc)
            return
        row += 1
        yield row, line


def looks_numeric(text: str) -> bool:
    text = text.strip().lstrip("+-")
    return text.replace(".", "", 1).isdigit()


class CsvSource:
    """A CSV file whose first non-blank row is a header when its first cell is not a number.

    Header names are stripped and lower-cased; ``has_header`` overrides the guess.
    """

    def __init__(self, path: Path, has_header: bool | None = None) -> None:
        self.path = path
        self._file = io.TextIOWrapper(open_bytes(path), encoding="utf-8-sig", errors="replace", newline="")
        self._reader = csv.reader(self._file)
        self._first: list[str] | None = None
        self._first_line = 0
        try:
            for fields in self._reader:
                if fields and any(cell.strip() for cell in fields):
                    self._first = fields
                    self._first_line = self._reader.line_num
                    break
        except (csv.Error, *_DAMAGED) as exc:
            self.close()
            raise InvalidDataError("unreadable CSV file", file=str(path), reason=repr(exc)) from None
        if self._first is None:
            self.close()
            raise InvalidDataError("empty CSV file: no header and no rows", file=str(path))
        if has_header is None:
            has_header = not looks_numeric(self._first[0])
        self.header = [c.strip().lower() for c in self._first] if has_header else None
        self.first_row: list[str] = self._first

    def rows(self, sink: Sink) -> Iterator[tuple[int, list[str]]]:
        """Yield ``(line number, cells)`` of data rows; unreadable lines become bad rows."""
        if self.header is None and self._first is not None:
            yield self._first_line, self._first
        reader = self._reader
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                sink.report.rows += 1
                sink.bad(reader.line_num, BadField("line", None, f"unreadable CSV line: {exc}"))
                continue
            except _DAMAGED as exc:
                _damaged(sink, reader.line_num + 1, exc)
                return
            if fields:
                yield reader.line_num, fields

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> CsvSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
