"""Load market data files into Bot4 events for one instrument, in file order.

Every loader returns a :class:`LoadResult`: the events, and a :class:`LoadReport` saying how
many rows were read, loaded, skipped as bad (each with an :class:`InvalidDataError` naming
file, row, field and value; the first 100 are kept) and dropped on purpose (by reason). One bad
row never stops a load; a missing file or an unrecognisable layout raises InvalidDataError
naming the path. ``row`` is the 1-based line number in text files, the 1-based record number
in Parquet/Feather.

Numbers are exact: a price or size cell is read as decimal text (``to_raw``) and must fit the
instrument's precision, else the row is bad. Float columns (Parquet/Feather) are formatted with
``repr`` and rounded half-even to the tick/step by ``Instrument.round_price`` and
``round_qty(mode="nearest")``: a float like 0.09946999000000001 stands for 0.09946999, and bar
prices from float files are inherently rounded. Prices must be positive, trade sizes positive,
other sizes non-negative. Timestamps are int ns since the epoch; ``ts_init = ts_event`` for
table files. A row whose time goes back before the previous good row is bad (equal is fine).

Supported formats (column names are case-insensitive; aliases in brackets):

Trades (``load_trades_csv``, ``load_parquet(kind="trades")``)
    * Ours: header ``ts_event,price,size,aggressor_side,trade_id`` (ts in ns; aggressor
      BUYER/SELLER/NO_AGGRESSOR, buy/sell, b/s or ANY; the last two columns optional: missing
      means NO_AGGRESSOR and an id made from the row number). Aliases: time column
      ``timestamp``/``time``/``transact_time`` in ms (µs when > 1e14) or ``date`` (ISO 8601),
      size [qty, quantity, amount], aggressor [side] or ``is_buyer_maker``/``buyer_maker``
      (true = the seller was the aggressor), trade_id [id, agg_trade_id]. This covers Binance
      Vision CSVs with a header, freqtrade/ccxt trade tables and nautilus_trader's trade Parquet.
    * Binance Vision trades, headerless: ``id,price,qty,quote_qty,time,is_buyer_maker[,is_best_match]``
      (time in ms, or µs when > 1e14).
    * Binance Vision aggTrades, headerless:
      ``agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker,is_best_match``.
    * gocryptotrader, headerless: ``unix_seconds,price,amount,side`` (side BUY/SELL/ANY). Several
      trades share a second, so ts = seconds * 1e9 + index of the row within its second (file
      order stays the time order); trade ids are the line numbers.
    * Anything else through :class:`TradeCsvColumns`.

Quotes (``load_quotes_csv``, ``load_parquet(kind="quotes")``)
    Header ``ts_event,bid_price,ask_price,bid_size,ask_size`` (aliases: bid, ask,
    bid_qty/bid_amount, ask_qty/ask_amount; time as for trades).

Bars (``load_bars``; ``ts_event`` = bar close time)
    * Ours: header ``ts_event,open,high,low,close,volume`` with ts_event the close time in ns.
    * freqtrade: ``date,open,high,low,close,volume`` (Feather, Parquet or CSV) where ``date`` is
      the bar's open time (UTC datetime, ISO text or epoch ms); ts_event = date + bar interval.
      ``open_time`` (epoch ms|µs) is accepted in place of ``date``.
    * Binance klines, headerless: ``open_time,open,high,low,close,volume,close_time,...`` (ms or
      µs); ts_event = open_time + interval, and close_time must end the same interval, which
      catches a bar type that does not match the file.
    * gocryptotrader candles, headerless: ``unix_seconds,volume,open,high,low,close`` (open time).
    A bar with low above open/close or high below open/close/low is bad.

Binance stream captures (``load_binance_jsonl``): see :mod:`bot4.backtest.loaders.binance`.

``load_path`` picks the loader: ``.jsonl``, ``.jsonl.gz``, ``.json``, ``.gz`` -> Binance
capture; Parquet/Feather -> bars when a ``bar_type`` is given, else trades or quotes by columns;
``.csv``/``.csv.gz``/``.txt`` -> bars when a ``bar_type`` is given, else by header.
"""

from __future__ import annotations

from pathlib import Path

from bot4.backtest.loaders._columns import arrow_columns, is_arrow, unrecognised
from bot4.backtest.loaders._common import LoadReport, LoadResult, TimeUnit
from bot4.backtest.loaders._files import CsvSource, check_path
from bot4.backtest.loaders.bars import is_bar_header, load_bars
from bot4.backtest.loaders.binance import load_binance_jsonl
from bot4.backtest.loaders.ticks import (
    TableKind,
    TradeCsvColumns,
    load_parquet,
    load_quotes_csv,
    load_trades_csv,
    sniff_kind,
)
from bot4.core.errors import InvalidInputError
from bot4.model.data import BarType
from bot4.model.instrument import Instrument

__all__ = [
    "LoadReport",
    "LoadResult",
    "TableKind",
    "TimeUnit",
    "TradeCsvColumns",
    "load_bars",
    "load_binance_jsonl",
    "load_parquet",
    "load_path",
    "load_quotes_csv",
    "load_trades_csv",
]

_JSON_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz")
_CSV_SUFFIXES = (".csv", ".csv.gz", ".txt")


def load_path(path: str | Path, instrument: Instrument, bar_type: BarType | None = None) -> LoadResult:
    """Load any supported file, choosing the loader from its name and contents."""
    file = check_path(path)
    name = file.name.lower()
    if name.endswith(_JSON_SUFFIXES) or (name.endswith(".gz") and not name.endswith(".csv.gz")):
        return load_binance_jsonl(file, instrument)
    if is_arrow(file):
        if bar_type is not None:
            return load_bars(file, bar_type, instrument)
        header = [column.strip().lower() for column in arrow_columns(file)]
        return _by_header(file, instrument, header, [], table=True)
    if name.endswith(_CSV_SUFFIXES):
        if bar_type is not None:
            return load_bars(file, bar_type, instrument)
        with CsvSource(file) as source:
            csv_header, first = source.header, source.first_row
        if csv_header is None:
            return load_trades_csv(file, instrument)  # the headerless layouts are trade dumps
        return _by_header(file, instrument, csv_header, first, table=False)
    raise unrecognised(file, "file (by extension)", None, [file.suffix])


def _by_header(
    file: Path, instrument: Instrument, header: list[str], first: list[str], *, table: bool
) -> LoadResult:
    kind = sniff_kind(header)
    if kind is not None and table:
        return load_parquet(file, instrument, kind)
    if kind is TableKind.QUOTES:
        return load_quotes_csv(file, instrument)
    if kind is TableKind.TRADES:
        return load_trades_csv(file, instrument)
    if is_bar_header(header):
        raise InvalidInputError("a bars file needs a bar_type to load", file=str(file))
    raise unrecognised(file, "market data", header, first)
