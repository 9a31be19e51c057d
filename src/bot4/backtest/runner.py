"""Wire a checked :class:`BacktestSpec` into a :class:`BacktestEngine` and run it.

The pieces the CLI and a notebook both need: where the bundled sample lives, loading each
data entry with the right loader, building the engine, and picking the price series that the
report draws fills on. Nothing here reads the wall clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from bot4.backtest.config import BacktestSpec, DataKind, DataSpec, load_backtest_config
from bot4.backtest.engine import BacktestEngine, ProgressCallback
from bot4.backtest.loaders import (
    LoadResult,
    TableKind,
    load_bars,
    load_binance_jsonl,
    load_parquet,
    load_path,
    load_quotes_csv,
    load_trades_csv,
)
from bot4.backtest.result import BacktestResult
from bot4.core.errors import ConfigError
from bot4.core.ids import InstrumentId
from bot4.core.numbers import FIXED_SCALAR
from bot4.model.data import Bar, MarketData, QuoteTick, TradeTick
from bot4.model.instrument import Instrument
from bot4.strategy.loader import build_strategy
from bot4.strategy.strategy import Strategy

__all__ = [
    "SAMPLE_DATA_FILE",
    "LoadedData",
    "build_engine",
    "load_data",
    "price_series",
    "run_backtest",
    "sample_config_path",
    "sample_data_dir",
]

SAMPLE_DATA_FILE = "btcusdt_20240808.jsonl.gz"


def sample_data_dir() -> Path:
    """The folder of the bundled sample (data, its license, README and ``sample.toml``)."""
    return Path(str(resources.files("bot4") / "sample_data"))


def sample_config_path() -> Path:
    return sample_data_dir() / "sample.toml"


@dataclass(frozen=True, slots=True)
class LoadedData:
    """One data entry and what its loader produced."""

    spec: DataSpec
    result: LoadResult


def load_data(spec: BacktestSpec, entries: Sequence[DataSpec] | None = None) -> list[LoadedData]:
    """Load each data entry for its instrument; bad rows are skipped and counted in reports."""
    loaded = []
    for entry in spec.data if entries is None else entries:
        instrument = spec.instrument(entry.instrument_id)
        if instrument is None:
            raise ConfigError("data for an instrument the config does not define", key=entry.key,
                              instrument=str(entry.instrument_id),
                              expected="one of " + ", ".join(str(i.id) for i in spec.instruments))
        loaded.append(LoadedData(entry, _load(entry, instrument)))
    return loaded


def build_engine(spec: BacktestSpec, strategy: Strategy, data: Sequence[LoadedData]) -> BacktestEngine:
    """An engine with the spec's venues and instruments, the loaded streams and the strategy."""
    if not spec.venues:
        raise ConfigError("no venue: add a [[venues]] table", file=_file(spec))
    if not spec.instruments:
        raise ConfigError("no instrument: add an [[instruments]] table", file=_file(spec))
    engine = BacktestEngine(spec.backtest)
    if spec.risk is not None:
        engine.set_risk(spec.risk)
    for venue in spec.venues:
        engine.add_venue(venue)
    for instrument in spec.instruments:
        engine.add_instrument(instrument)
    for item in data:
        engine.add_data(item.result.events, item.result.report)
    engine.add_strategy(strategy)
    return engine


def run_backtest(config: str | Path, progress: ProgressCallback | None = None) -> BacktestResult:
    """Load a config file, its data and its strategy, and run: the one-call API for notebooks."""
    spec = load_backtest_config(config)
    if spec.strategy is None:
        raise ConfigError("no [strategy] table in the config", file=str(config))
    strategy = build_strategy(spec.strategy.cls, spec.strategy.table, file=str(config))
    engine = build_engine(spec, strategy, load_data(spec))
    return engine.run(progress=progress)


def price_series(events: Sequence[MarketData], instrument_id: InstrumentId) -> list[tuple[int, float]]:
    """``(ts_init, price)`` of the instrument: trade prices, else quote mids, else bar closes."""
    trades: list[tuple[int, float]] = []
    quotes: list[tuple[int, float]] = []
    bars: list[tuple[int, float]] = []
    for event in events:
        if event.instrument_id != instrument_id:
            continue
        if isinstance(event, TradeTick):
            trades.append((event.ts_init, event.price.raw / FIXED_SCALAR))
        elif isinstance(event, QuoteTick):
            if not trades:
                quotes.append((event.ts_init, (event.bid_price.raw + event.ask_price.raw) / (2 * FIXED_SCALAR)))
        elif isinstance(event, Bar):
            bars.append((event.ts_init, event.close.raw / FIXED_SCALAR))
    return trades or quotes or bars


def _load(entry: DataSpec, instrument: Instrument) -> LoadResult:
    kind = entry.kind
    if kind is None:
        return load_path(entry.path, instrument, entry.bar_type)
    if kind is DataKind.BINANCE_JSONL:
        return load_binance_jsonl(entry.path, instrument)
    if kind is DataKind.TRADES_CSV:
        return load_trades_csv(entry.path, instrument)
    if kind is DataKind.QUOTES_CSV:
        return load_quotes_csv(entry.path, instrument)
    if kind is DataKind.BARS:
        if entry.bar_type is None:
            raise ConfigError("kind = \"bars\" needs a bar_type", key=f"{entry.key}.bar_type")
        return load_bars(entry.path, entry.bar_type, instrument)
    if kind is DataKind.TRADES_PARQUET:
        return load_parquet(entry.path, instrument, TableKind.TRADES)
    return load_parquet(entry.path, instrument, TableKind.QUOTES)


def _file(spec: BacktestSpec) -> str:
    return "<none>" if spec.file is None else str(spec.file)
