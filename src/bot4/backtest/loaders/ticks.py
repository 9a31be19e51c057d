"""Trade and quote tables (CSV, Parquet, Feather) into TradeTick and QuoteTick events."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from enum import Enum
from pathlib import Path
from typing import NamedTuple

import msgspec

from bot4.backtest.loaders._columns import (
    EVENT_TIME,
    Col,
    arrow_rows,
    find,
    find_time,
    missing_field,
    read_arrow,
    unrecognised,
    width_of,
)
from bot4.backtest.loaders._common import (
    BadField,
    LoadResult,
    Sink,
    TimeUnit,
    Values,
    aggressor,
    aggressor_from_buyer_maker,
    ts_reader,
)
from bot4.backtest.loaders._files import CsvSource, check_path, looks_numeric
from bot4.core.errors import InvalidDataError, InvalidInputError
from bot4.core.ids import TradeId
from bot4.model.data import QuoteTick, TradeTick
from bot4.model.enums import AggressorSide
from bot4.model.instrument import Instrument

__all__ = ["TableKind", "TradeCsvColumns", "load_parquet", "load_quotes_csv", "load_trades_csv"]

_SIZE = ("size", "qty", "quantity", "amount")
_SIDE = ("aggressor_side", "side")
_BUYER_MAKER = ("is_buyer_maker", "buyer_maker")
_TRADE_ID = ("trade_id", "id", "agg_trade_id")
_SPACE = re.compile(r"\s").search


class TableKind(Enum):
    """What a Parquet/Feather table holds."""

    TRADES = "trades"
    QUOTES = "quotes"


class TradeCsvColumns(msgspec.Struct, frozen=True, kw_only=True):
    """Where a trade CSV keeps each field, for files the auto-detection does not know.

    Columns are header names (``header=True``) or 0-based positions. ``aggressor_side`` and
    ``trade_id`` may be None: trades then have NO_AGGRESSOR and ids made from the line number.
    With ``buyer_maker=True`` the aggressor column holds Binance's is_buyer_maker flag.
    """

    ts_event: str | int = "ts_event"
    price: str | int = "price"
    size: str | int = "size"
    aggressor_side: str | int | None = "aggressor_side"
    trade_id: str | int | None = "trade_id"
    ts_unit: TimeUnit = TimeUnit.NANOSECONDS
    buyer_maker: bool = False
    header: bool = True


class _TradeLayout(NamedTuple):
    ts: Col
    price: Col
    size: Col
    side: Col | None
    trade_id: Col | None
    buyer_maker: bool = False
    second_sequence: bool = False  # gocryptotrader: ts = second + index within that second


class _QuoteLayout(NamedTuple):
    ts: Col
    bid_price: Col
    ask_price: Col
    bid_size: Col
    ask_size: Col


def load_trades_csv(
    path: str | Path, instrument: Instrument, *, columns: TradeCsvColumns | None = None
) -> LoadResult:
    """Load trades from a CSV (plain or gzip) in any supported layout, or the given ``columns``."""
    file = check_path(path)
    sink = Sink(file)
    with CsvSource(file, has_header=None if columns is None else columns.header) as source:
        layout: _TradeLayout | None
        if columns is not None:
            layout = _custom_layout(columns, source.header, file)
        elif source.header is not None:
            layout = _trade_layout(source.header)
        else:
            layout = _headerless_trade_layout(source.first_row)
        if layout is None:
            raise unrecognised(file, "trades CSV", source.header, source.first_row)
        _load_trades(source.rows(sink), layout, instrument, sink)
    return sink.result()


def load_quotes_csv(path: str | Path, instrument: Instrument) -> LoadResult:
    """Load best bid/ask quotes from a CSV with header ``ts_event,bid_price,ask_price,bid_size,ask_size``."""
    file = check_path(path)
    sink = Sink(file)
    with CsvSource(file) as source:
        layout = None if source.header is None else _quote_layout(source.header)
        if layout is None:
            raise unrecognised(file, "quotes CSV", source.header, source.first_row)
        _load_quotes(source.rows(sink), layout, instrument, sink)
    return sink.result()


def load_parquet(path: str | Path, instrument: Instrument, kind: TableKind | str) -> LoadResult:
    """Load trades or quotes from a Parquet or Feather file with the CSV column names."""
    file = check_path(path)
    try:
        kind = TableKind(kind)
    except ValueError:
        raise InvalidInputError("kind must be trades or quotes", kind=kind) from None
    sink = Sink(file)
    table = read_arrow(file)
    header = [name.strip().lower() for name in table.column_names]
    if kind is TableKind.TRADES:
        trades = _trade_layout(header)
        if trades is None:
            raise unrecognised(file, "trades table", header, [])
        trades, rows = arrow_rows(file, table, trades)
        _load_trades(rows, trades, instrument, sink)
    else:
        quotes = _quote_layout(header)
        if quotes is None:
            raise unrecognised(file, "quotes table", header, [])
        quotes, rows = arrow_rows(file, table, quotes)
        _load_quotes(rows, quotes, instrument, sink)
    return sink.result()


def sniff_kind(header: Sequence[str]) -> TableKind | None:
    """Tell a trades header from a quotes header (used by ``load_path``)."""
    if _quote_layout(header) is not None:
        return TableKind.QUOTES
    if _trade_layout(header) is not None:
        return TableKind.TRADES
    return None


def _trade_layout(header: Sequence[str]) -> _TradeLayout | None:
    ts, price, size = find_time(header, EVENT_TIME), find(header, ("price",)), find(header, _SIZE)
    if ts is None or price is None or size is None:
        return None
    side = find(header, _SIDE)
    maker = find(header, _BUYER_MAKER) if side is None else None
    return _TradeLayout(ts, price, size, side or maker, find(header, _TRADE_ID), maker is not None)


def _headerless_trade_layout(first: Sequence[str]) -> _TradeLayout | None:
    n = len(first)
    flag = first[5].strip().lower() if n in (6, 7) else first[6].strip().lower() if n == 8 else ""
    if n == 4 and not looks_numeric(first[3]):  # gocryptotrader: unix_s,price,amount,side
        return _TradeLayout(
            Col(0, "unix_seconds", TimeUnit.SECONDS), Col(1, "price"), Col(2, "amount"),
            Col(3, "side"), None, second_sequence=True,
        )
    if n in (6, 7) and flag in ("true", "false"):  # Binance Vision trades
        return _TradeLayout(
            Col(4, "time", TimeUnit.MS_OR_US), Col(1, "price"), Col(2, "qty"),
            Col(5, "is_buyer_maker"), Col(0, "id"), buyer_maker=True,
        )
    if n == 8 and flag in ("true", "false"):  # Binance Vision aggTrades
        return _TradeLayout(
            Col(5, "transact_time", TimeUnit.MS_OR_US), Col(1, "price"), Col(2, "quantity"),
            Col(6, "is_buyer_maker"), Col(0, "agg_trade_id"), buyer_maker=True,
        )
    return None


def _custom_layout(columns: TradeCsvColumns, header: list[str] | None, path: Path) -> _TradeLayout:
    defaults = TradeCsvColumns()

    def optional(spec: str | int | None, role: str) -> Col | None:
        if isinstance(spec, int):
            return Col(spec, header[spec] if header is not None and spec < len(header) else role)
        if spec is None:
            return None
        if header is not None and spec.lower() in header:
            return Col(header.index(spec.lower()), spec)
        if spec == getattr(defaults, role) and role in ("aggressor_side", "trade_id"):
            return None  # an optional column left at its default name and absent from the file
        raise InvalidDataError(
            "trades CSV has no such column", file=str(path), column=spec,
            header=None if header is None else ",".join(header),
        )

    def required(spec: str | int, role: str) -> Col:
        col = optional(spec, role)
        if col is None:
            raise InvalidDataError("trades CSV has no such column", file=str(path), column=spec)
        return col

    return _TradeLayout(
        required(columns.ts_event, "ts_event")._replace(unit=columns.ts_unit),
        required(columns.price, "price"),
        required(columns.size, "size"),
        optional(columns.aggressor_side, "aggressor_side"),
        optional(columns.trade_id, "trade_id"),
        buyer_maker=columns.buyer_maker,
    )


def _quote_layout(header: Sequence[str]) -> _QuoteLayout | None:
    cols = (
        find_time(header, EVENT_TIME),
        find(header, ("bid_price", "bid")),
        find(header, ("ask_price", "ask")),
        find(header, ("bid_size", "bid_qty", "bid_amount")),
        find(header, ("ask_size", "ask_qty", "ask_amount")),
    )
    if any(c is None for c in cols):
        return None
    return _QuoteLayout(*cols)  # type: ignore[arg-type]


def _trade_id(value: object, field: str) -> TradeId:
    if type(value) is str:
        if value.isalnum():  # the usual numeric id, checked without a regex
            return TradeId(value)
        text = value.strip()
        if text and not _SPACE(text):
            return TradeId(text)
    elif type(value) is int:
        return TradeId(str(value))
    raise BadField(field, value, "expected a non-empty trade id without spaces")


def _load_trades(
    rows: Iterable[tuple[int, Sequence[object]]], layout: _TradeLayout, instrument: Instrument, sink: Sink
) -> None:
    values, iid, events, report = Values(instrument), instrument.id, sink.events, sink.report
    ti, tn = layout.ts.pos, layout.ts.name
    read_ts = ts_reader(layout.ts.unit or TimeUnit.NANOSECONDS, tn)
    pi, pn, si, sn = layout.price.pos, layout.price.name, layout.size.pos, layout.size.name
    side, ident = layout.side, layout.trade_id
    read_side = aggressor_from_buyer_maker if layout.buyer_maker else aggressor
    second_sequence = layout.second_sequence
    width = width_of(layout)
    no_aggressor = AggressorSide.NO_AGGRESSOR
    previous = second = -1
    index_in_second = 0
    for row, cells in rows:
        report.rows += 1
        try:
            if len(cells) < width:
                raise BadField(missing_field(layout, len(cells)), None, "missing column")
            ts = read_ts(cells[ti])
            if second_sequence:  # several trades share a second: keep file order stable
                index_in_second = index_in_second + 1 if ts == second else 0
                second = ts
                ts += index_in_second
            if ts < previous:
                raise BadField(tn, cells[ti], f"timestamp {ts} is before the previous row's {previous}")
            tick = TradeTick(
                iid,
                values.price(cells[pi], pn),
                values.qty(cells[si], sn, True),
                no_aggressor if side is None else read_side(cells[side.pos], side.name),
                TradeId(str(row)) if ident is None else _trade_id(cells[ident.pos], ident.name),
                ts,
                ts,
            )
        except BadField as error:
            sink.bad(row, error)
            continue
        events.append(tick)
        previous = ts


def _load_quotes(
    rows: Iterable[tuple[int, Sequence[object]]], layout: _QuoteLayout, instrument: Instrument, sink: Sink
) -> None:
    values, iid, events, report = Values(instrument), instrument.id, sink.events, sink.report
    ts, bp, ap, bs, az = layout
    read_ts = ts_reader(ts.unit or TimeUnit.NANOSECONDS, ts.name)
    width = width_of(layout)
    previous = -1
    for row, cells in rows:
        report.rows += 1
        try:
            if len(cells) < width:
                raise BadField(missing_field(layout, len(cells)), None, "missing column")
            t = read_ts(cells[ts.pos])
            if t < previous:
                raise BadField(ts.name, cells[ts.pos], f"timestamp {t} is before the previous row's {previous}")
            quote = QuoteTick(
                iid,
                values.price(cells[bp.pos], bp.name),
                values.price(cells[ap.pos], ap.name),
                values.qty(cells[bs.pos], bs.name),
                values.qty(cells[az.pos], az.name),
                t,
                t,
            )
        except BadField as error:
            sink.bad(row, error)
            continue
        events.append(quote)
        previous = t
