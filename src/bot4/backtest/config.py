"""The backtest config file: TOML parsed into typed, frozen structs that reject unknown keys.

::

    [backtest]                     # BacktestConfig: trader_id, equity_sample_ns, fail_fast, ...
    [[venues]]                     # SimVenueConfig, one table per simulated venue
    [[instruments]]                # symbol, venue, base, quote, filters and fees
    [[data]]                       # path (relative to this file), instrument, bar_type, kind
    [strategy]                     # name = "ema_cross" | "pkg.module:Class" | "file.py:Class"
    [strategy.config]              # converted into the strategy's config_class

Every section is converted on its own so that any error, whether a wrong type caught by
msgspec or a value a struct refuses in its own checks, becomes a :class:`ConfigError` naming
the file, the dotted key (``venues[0].latency_ns``) and what was expected versus found.
:func:`load_backtest_config` also checks the references between sections (an instrument's
venue exists, a data entry's instrument exists, its file is there).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import msgspec

from bot4.backtest.engine import BacktestConfig
from bot4.core.config import convert_config, join_key
from bot4.core.errors import Bot4Error, ConfigError, InvalidInputError
from bot4.core.ids import InstrumentId
from bot4.core.numbers import FIXED_PRECISION, FIXED_SCALAR, Currency, to_raw
from bot4.model.data import BarType
from bot4.model.instrument import Instrument
from bot4.risk import RiskConfig
from bot4.strategy.loader import load_strategy_class
from bot4.strategy.strategy import Strategy, StrategyConfig
from bot4.venues.sim import SimVenueConfig

__all__ = [
    "BacktestFile",
    "BacktestSpec",
    "DataKind",
    "DataSpec",
    "DataTable",
    "InstrumentTable",
    "StrategySpec",
    "StrategyTable",
    "load_backtest_config",
    "parse_backtest_config",
    "strategy_spec",
]


class DataKind(Enum):
    """How to read a data file when its format should not be detected from its content."""

    BINANCE_JSONL = "binance_jsonl"
    TRADES_CSV = "trades_csv"
    QUOTES_CSV = "quotes_csv"
    BARS = "bars"
    TRADES_PARQUET = "trades_parquet"
    QUOTES_PARQUET = "quotes_parquet"


class InstrumentTable(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One ``[[instruments]]`` table: a spot pair with the venue's filters as decimal strings."""

    symbol: str
    venue: str
    base: str
    base_precision: int = 8
    quote: str
    quote_precision: int = 8
    tick_size: str
    step_size: str
    min_quantity: str | None = None
    max_quantity: str | None = None
    min_notional: str | None = None
    min_price: str | None = None
    max_price: str | None = None
    maker_fee: str = "0.001"
    taker_fee: str = "0.001"

    @property
    def instrument_id(self) -> str:
        return f"{self.symbol}.{self.venue}"


class DataTable(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One ``[[data]]`` table; ``path`` is relative to the config file's directory."""

    path: str
    instrument: str
    bar_type: str | None = None
    kind: DataKind | None = None


class StrategyTable(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The ``[strategy]`` table: which strategy, and its config table."""

    name: str
    config: dict[str, Any] = msgspec.field(default_factory=dict)


class BacktestFile(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The whole file, section by section, as written."""

    backtest: BacktestConfig = msgspec.field(default_factory=BacktestConfig)
    venues: list[SimVenueConfig] = msgspec.field(default_factory=list)
    instruments: list[InstrumentTable] = msgspec.field(default_factory=list)
    data: list[DataTable] = msgspec.field(default_factory=list)
    strategy: StrategyTable | None = None
    risk: RiskConfig | None = None


@dataclass(frozen=True, slots=True)
class DataSpec:
    """A data file to load, resolved: absolute path, instrument, optional bar type and kind."""

    path: Path
    instrument_id: InstrumentId
    bar_type: BarType | None = None
    kind: DataKind | None = None
    key: str = "data"


@dataclass(frozen=True, slots=True)
class StrategySpec:
    """A strategy class and its converted config, ready to construct."""

    name: str
    cls: type[Strategy]
    config: StrategyConfig
    table: dict[str, Any] = field(default_factory=dict)
    key: str = "strategy"


@dataclass(frozen=True, slots=True)
class BacktestSpec:
    """Everything a backtest run needs, checked: what :func:`load_backtest_config` returns."""

    file: Path | None
    backtest: BacktestConfig
    venues: tuple[SimVenueConfig, ...]
    instruments: tuple[Instrument, ...]
    data: tuple[DataSpec, ...]
    strategy: StrategySpec | None
    raw: BacktestFile

    @property
    def risk(self) -> RiskConfig | None:
        return self.raw.risk

    def instrument(self, instrument_id: InstrumentId) -> Instrument | None:
        return next((i for i in self.instruments if i.id == instrument_id), None)


def load_backtest_config(path: str | Path) -> BacktestSpec:
    """Read and check a backtest TOML file; every problem is a :class:`ConfigError`."""
    file = Path(path)
    try:
        text = file.read_bytes()
    except FileNotFoundError:
        raise ConfigError("config file not found", file=str(file)) from None
    except OSError as exc:
        raise ConfigError("cannot read config file", file=str(file), error=exc.strerror) from None
    try:
        data = tomllib.loads(text.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError("config file is not UTF-8 text", file=str(file), error=str(exc)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", file=str(file)) from None
    return parse_backtest_config(data, file=file)


def parse_backtest_config(data: dict[str, Any], *, file: Path | None = None) -> BacktestSpec:
    """Check an already parsed config table; relative paths resolve against ``file``'s folder."""
    name = None if file is None else str(file)
    base_dir = Path.cwd() if file is None else file.resolve().parent
    sections = _Sections(data, name)
    raw = BacktestFile(
        backtest=sections.backtest(),
        venues=sections.venues(),
        instruments=sections.instruments(),
        data=sections.data(),
        strategy=sections.strategy(),
        risk=sections.risk(),
    )
    instruments = tuple(_build_instrument(t, f"instruments[{i}]", name) for i, t in enumerate(raw.instruments))
    _check_references(raw, instruments, name)
    data_specs = tuple(_data_spec(t, f"data[{i}]", base_dir, instruments, name) for i, t in enumerate(raw.data))
    strategy = None
    if raw.strategy is not None:
        strategy = _strategy_spec(raw.strategy, base_dir, name)
    return BacktestSpec(
        file=file,
        backtest=raw.backtest,
        venues=tuple(raw.venues),
        instruments=instruments,
        data=data_specs,
        strategy=strategy,
        raw=raw,
    )


def strategy_spec(name: str, table: dict[str, Any] | None, *, file: str | None = None,
                  base_dir: Path | None = None, key: str = "strategy") -> StrategySpec:
    """Load a strategy class by ``name`` and convert its config ``table``."""
    context: dict[str, Any] = {} if file is None else {"file": file}
    try:
        cls = load_strategy_class(name, base_dir)
    except ConfigError as exc:
        merged = {**context, "key": join_key(key, "name"), **exc.context}
        raise ConfigError(exc.message, **merged) from None
    table = dict(table or {})
    config = convert_config(table, cls.config_class, file=file, key=join_key(key, "config"),
                            what=f"config of strategy {cls.__name__} ({cls.config_class.__name__})")
    return StrategySpec(name=name, cls=cls, config=config, table=table, key=key)


# -- internals ---------------------------------------------------------------------------------


class _Sections:
    """Convert each section on its own so a struct's own checks can be tied to an index."""

    def __init__(self, data: dict[str, Any], file: str | None) -> None:
        self.file = file
        self.tables = data
        allowed = {f for f in BacktestFile.__struct_fields__}
        for key in data:
            if key not in allowed:
                raise ConfigError("unknown section in backtest config", **self._ctx(), key=key,
                                  expected="one of " + ", ".join(BacktestFile.__struct_fields__))

    def _ctx(self) -> dict[str, Any]:
        return {} if self.file is None else {"file": self.file}

    def risk(self) -> RiskConfig | None:
        table = self._table("risk")
        return None if table is None else RiskConfig.from_mapping(table, file=self.file, key="risk")

    def _table(self, key: str) -> dict[str, Any] | None:
        value = self.tables.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise ConfigError(f"[{key}] must be a table", **self._ctx(), key=key, expected="table",
                              found=type(value).__name__)
        return value

    def _tables(self, key: str) -> list[dict[str, Any]]:
        value = self.tables.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise ConfigError(f"{key} must be an array of tables, written [[{key}]]", **self._ctx(),
                              key=key, expected="array of tables")
        return value

    def _convert(self, table: dict[str, Any], type_: type[Any], key: str, what: str) -> Any:
        try:
            return convert_config(table, type_, file=self.file, key=key, what=what)
        except ConfigError as exc:
            if "key" in exc.context:
                raise
            # A struct's own check raised with ``field=``: attach it under this section's key.
            field = exc.context.get("field")
            rest = {("found" if k == "value" else k): v for k, v in exc.context.items()
                    if k not in ("field", "file")}
            raise ConfigError(exc.message, **self._ctx(),
                              key=join_key(key, field) if isinstance(field, str) else key,
                              **rest) from None

    def backtest(self) -> BacktestConfig:
        table = self._table("backtest")
        config: BacktestConfig = (
            BacktestConfig() if table is None else self._convert(table, BacktestConfig, "backtest", "[backtest]")
        )
        if config.equity_sample_ns <= 0:
            raise ConfigError("equity_sample_ns must be positive", **self._ctx(),
                              key="backtest.equity_sample_ns", found=config.equity_sample_ns)
        return config

    def venues(self) -> list[SimVenueConfig]:
        return [
            self._convert(t, SimVenueConfig, f"venues[{i}]", "[[venues]]")
            for i, t in enumerate(self._tables("venues"))
        ]

    def instruments(self) -> list[InstrumentTable]:
        return [
            self._convert(t, InstrumentTable, f"instruments[{i}]", "[[instruments]]")
            for i, t in enumerate(self._tables("instruments"))
        ]

    def data(self) -> list[DataTable]:
        return [
            self._convert(t, DataTable, f"data[{i}]", "[[data]]")
            for i, t in enumerate(self._tables("data"))
        ]

    def strategy(self) -> StrategyTable | None:
        table = self._table("strategy")
        if table is None:
            return None
        converted: StrategyTable = self._convert(table, StrategyTable, "strategy", "[strategy]")
        return converted


def _build_instrument(table: InstrumentTable, key: str, file: str | None) -> Instrument:
    ctx: dict[str, Any] = {} if file is None else {"file": file}
    for name in ("base_precision", "quote_precision"):
        value = getattr(table, name)
        if not 0 <= value <= FIXED_PRECISION:
            raise ConfigError(f"{name} must be between 0 and {FIXED_PRECISION}", **ctx,
                              key=f"{key}.{name}", found=value)
    for name in ("tick_size", "step_size", "min_quantity", "max_quantity", "min_notional",
                 "min_price", "max_price", "maker_fee", "taker_fee"):
        text = getattr(table, name)
        if text is None:
            continue
        try:
            raw, _ = to_raw(text)
        except Bot4Error as exc:
            raise ConfigError("expected a decimal number as a string", **ctx, key=f"{key}.{name}",
                              found=text, error=exc.message) from None
        if name in ("tick_size", "step_size") and raw <= 0:
            raise ConfigError(f"{name} must be positive", **ctx, key=f"{key}.{name}", found=text)
        if name.endswith("_fee") and not -FIXED_SCALAR // 100 <= raw <= FIXED_SCALAR // 10:
            raise ConfigError("a fee is a rate between -0.01 and 0.1, e.g. 0.001 for 0.1%", **ctx,
                              key=f"{key}.{name}", found=text)
    try:
        instrument_id = InstrumentId.from_str(table.instrument_id)
    except InvalidInputError as exc:
        raise ConfigError("symbol and venue must be names without spaces or dots in the venue", **ctx,
                          key=f"{key}.symbol", found=table.instrument_id, error=exc.message) from None
    try:
        return Instrument.create(
            instrument_id=instrument_id,
            base=Currency(table.base, table.base_precision),
            quote=Currency(table.quote, table.quote_precision),
            tick_size=table.tick_size,
            step_size=table.step_size,
            min_quantity=table.min_quantity,
            max_quantity=table.max_quantity,
            min_notional=table.min_notional,
            min_price=table.min_price,
            max_price=table.max_price,
            maker_fee=table.maker_fee,
            taker_fee=table.taker_fee,
        )
    except InvalidInputError as exc:
        raise ConfigError(f"invalid instrument: {exc.message}", **ctx, key=key, **exc.context) from None


def _check_references(raw: BacktestFile, instruments: tuple[Instrument, ...], file: str | None) -> None:
    ctx: dict[str, Any] = {} if file is None else {"file": file}
    venues: list[str] = []
    for i, venue in enumerate(raw.venues):
        if venue.venue in venues:
            raise ConfigError("venue defined twice", **ctx, key=f"venues[{i}].venue", found=venue.venue)
        venues.append(venue.venue)
    seen: set[InstrumentId] = set()
    for i, instrument in enumerate(instruments):
        if instrument.id.venue.value not in venues:
            raise ConfigError("instrument on a venue that no [[venues]] table defines", **ctx,
                              key=f"instruments[{i}].venue",
                              expected="one of " + (", ".join(venues) or "(no venues defined)"),
                              found=instrument.id.venue.value)
        if instrument.id in seen:
            raise ConfigError("instrument defined twice", **ctx, key=f"instruments[{i}].symbol",
                              found=str(instrument.id))
        seen.add(instrument.id)


def _data_spec(table: DataTable, key: str, base_dir: Path, instruments: tuple[Instrument, ...],
               file: str | None) -> DataSpec:
    ctx: dict[str, Any] = {} if file is None else {"file": file}
    known = [str(i.id) for i in instruments]
    try:
        instrument_id = InstrumentId.from_str(table.instrument)
    except InvalidInputError:
        raise ConfigError("instrument must look like SYMBOL.VENUE", **ctx, key=f"{key}.instrument",
                          expected="one of " + (", ".join(known) or "(no instruments defined)"),
                          found=table.instrument) from None
    if str(instrument_id) not in known:
        raise ConfigError("data for an instrument that no [[instruments]] table defines", **ctx,
                          key=f"{key}.instrument",
                          expected="one of " + (", ".join(known) or "(no instruments defined)"),
                          found=table.instrument)
    bar_type = None
    if table.bar_type is not None:
        try:
            bar_type = BarType.from_str(table.bar_type)
        except InvalidInputError:
            raise ConfigError("bar_type must look like INSTRUMENT-STEP-AGGREGATION", **ctx,
                              key=f"{key}.bar_type", expected=f"e.g. {instrument_id}-1-MINUTE",
                              found=table.bar_type) from None
        if bar_type.instrument_id != instrument_id:
            raise ConfigError("bar_type is for another instrument", **ctx, key=f"{key}.bar_type",
                              expected=str(instrument_id), found=str(bar_type.instrument_id))
    if table.kind is DataKind.BARS and bar_type is None:
        raise ConfigError("kind = \"bars\" needs a bar_type", **ctx, key=f"{key}.bar_type")
    path = Path(table.path).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    if not path.is_file():
        raise ConfigError("data file not found", **ctx, key=f"{key}.path", found=str(path))
    return DataSpec(path=path, instrument_id=instrument_id, bar_type=bar_type, kind=table.kind, key=key)


def _strategy_spec(table: StrategyTable, base_dir: Path, file: str | None) -> StrategySpec:
    return strategy_spec(table.name, table.config, file=file, base_dir=base_dir, key="strategy")
