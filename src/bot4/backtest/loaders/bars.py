"""OHLCV tables (CSV, Parquet, Feather, Binance klines) into Bar events."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from bot4.backtest.loaders._columns import (
    Col,
    arrow_rows,
    find,
    find_time,
    is_arrow,
    missing_field,
    read_arrow,
    unrecognised,
    width_of,
)
from bot4.backtest.loaders._common import BadField, LoadResult, Sink, TimeUnit, Values, ts_reader
from bot4.backtest.loaders._files import CsvSource, check_path, looks_numeric
from bot4.core.errors import InvalidInputError
from bot4.model.data import Bar, BarType
from bot4.model.instrument import Instrument

__all__ = ["is_bar_header", "load_bars"]

_CLOSE_TIME = (("ts_event", TimeUnit.NANOSECONDS),)
_OPEN_TIME = (("date", TimeUnit.DATE), ("open_time", TimeUnit.MS_OR_US))


class _BarLayout(NamedTuple):
    ts: Col
    open: Col
    high: Col
    low: Col
    close: Col
    volume: Col
    ts_is_open: bool  # the time column is the bar's open time: add the interval
    close_time: Col | None = None  # Binance klines also give the close time: checked


def load_bars(path: str | Path, bar_type: BarType, instrument: Instrument) -> LoadResult:
    """Load bars of ``bar_type``; ``ts_event`` of each bar is its close time."""
    if bar_type.instrument_id != instrument.id:
        raise InvalidInputError(
            "bar type is for another instrument", bar_type=str(bar_type), instrument=str(instrument.id)
        )
    file = check_path(path)
    sink = Sink(file)
    if is_arrow(file):
        table = read_arrow(file)
        header = [name.strip().lower() for name in table.column_names]
        table_layout = _bar_layout(header)
        if table_layout is None:
            raise unrecognised(file, "bars table", header, [])
        table_layout, rows = arrow_rows(file, table, table_layout)
        _load_bars(rows, table_layout, bar_type, instrument, sink)
        return sink.result()
    with CsvSource(file) as source:
        layout: _BarLayout | None
        if source.header is not None:
            layout = _bar_layout(source.header)
        else:
            layout = _headerless_bar_layout(source.first_row)
        if layout is None:
            raise unrecognised(file, "bars CSV", source.header, source.first_row)
        _load_bars(source.rows(sink), layout, bar_type, instrument, sink)
    return sink.result()


def is_bar_header(header: Sequence[str]) -> bool:
    return _bar_layout(header) is not None


def _bar_layout(header: Sequence[str]) -> _BarLayout | None:
    o, h, lo, c, v = (find(header, (name,)) for name in ("open", "high", "low", "close", "volume"))
    ts, ts_is_open = find_time(header, _CLOSE_TIME), False
    if ts is None:
        ts, ts_is_open = find_time(header, _OPEN_TIME), True
    if ts is None or o is None or h is None or lo is None or c is None or v is None:
        return None
    return _BarLayout(ts, o, h, lo, c, v, ts_is_open)


def _headerless_bar_layout(first: Sequence[str]) -> _BarLayout | None:
    if len(first) >= 7 and all(looks_numeric(cell) for cell in first[:7]):  # Binance kline
        return _BarLayout(
            Col(0, "open_time", TimeUnit.MS_OR_US), Col(1, "open"), Col(2, "high"), Col(3, "low"),
            Col(4, "close"), Col(5, "volume"), True, Col(6, "close_time", TimeUnit.MS_OR_US),
        )
    if len(first) == 6 and all(looks_numeric(cell) for cell in first):  # gocryptotrader candles
        return _BarLayout(
            Col(0, "unix_seconds", TimeUnit.SECONDS), Col(2, "open"), Col(3, "high"), Col(4, "low"),
            Col(5, "close"), Col(1, "volume"), True,
        )
    return None


def _load_bars(
    rows: Iterable[tuple[int, Sequence[object]]],
    layout: _BarLayout,
    bar_type: BarType,
    instrument: Instrument,
    sink: Sink,
) -> None:
    values, events, report = Values(instrument), sink.events, sink.report
    ts, o, h, lo, c, v, ts_is_open, close_time = layout
    read_ts = ts_reader(ts.unit or TimeUnit.NANOSECONDS, ts.name)
    read_close = None if close_time is None else ts_reader(close_time.unit or TimeUnit.MS_OR_US, close_time.name)
    interval = bar_type.interval_ns if ts_is_open else 0
    width = width_of(layout)
    previous = -1
    for row, cells in rows:
        report.rows += 1
        try:
            if len(cells) < width:
                raise BadField(missing_field(layout, len(cells)), None, "missing column")
            t = read_ts(cells[ts.pos]) + interval
            if t < previous:
                raise BadField(ts.name, cells[ts.pos], f"bar time {t} is before the previous row's {previous}")
            if close_time is not None and read_close is not None:
                end = read_close(cells[close_time.pos])
                if not 0 < t - end <= 1_000_000:  # klines end 1 ms (1 µs in µs files) before the next open
                    raise BadField(close_time.name, cells[close_time.pos], f"close time does not fit a {bar_type} bar")
            open_, high, low, close = (
                values.price(cells[o.pos], o.name),
                values.price(cells[h.pos], h.name),
                values.price(cells[lo.pos], lo.name),
                values.price(cells[c.pos], c.name),
            )
            if high.raw < max(open_.raw, close.raw, low.raw):
                raise BadField(h.name, cells[h.pos], f"high {high} is below open {open_}, close {close} or low {low}")
            if low.raw > min(open_.raw, close.raw):
                raise BadField(lo.name, cells[lo.pos], f"low {low} is above open {open_} or close {close}")
            bar = Bar(bar_type, open_, high, low, close, values.qty(cells[v.pos], v.name), t, t)
        except BadField as error:
            sink.bad(row, error)
            continue
        events.append(bar)
        previous = t
