"""The node's configuration: one TOML file parsed into typed, frozen config objects.

Sections (every key and default in ``docs/configuration.md``)::

    [node]          name, trader_id, data_dir, cancel_on_stop, shutdown_timeout_s, ...
    [store]         url (default: SQLite under data_dir), trade_during_outage, ...
    [[venues]]      kind = "binance" | "local", name, symbols, URLs or the local replay
    [[strategies]]  name (example, module:Class or file.py:Class) and its [strategies.config]
    [risk]          bot4.risk.RiskConfig
    [metrics]       enabled, port (Prometheus, on 127.0.0.1)
    [api]           enabled, port (the status API on 127.0.0.1; token from BOT4_API_TOKEN)
    [logging]       level, json
    [live]          the real-money confirmation and the state a live node starts in

Unknown keys are refused and every error is a :class:`ConfigError` naming the file, the key and
what was expected. Secrets are never read from the file: API keys come from the environment
(``<credentials_env>_API_KEY`` / ``_API_SECRET``), the API token from ``BOT4_API_TOKEN``, a
PostgreSQL password from ``PGPASSWORD``; a secret written in the file is refused, so it cannot
end up in a repository by accident. The environment overrides secrets only, nothing else.

Without a file the node runs the paper demo: :data:`bot4.node.example.EXAMPLE_CONFIG`, which is
also what ``bot4 config example`` prints.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import msgspec

from bot4.backtest.config import StrategySpec, strategy_spec
from bot4.core.config import convert_config, join_key
from bot4.core.errors import ConfigError
from bot4.risk import RiskConfig, TradingState

__all__ = [
    "ApiConfig",
    "LiveConfig",
    "LoggingConfig",
    "MetricsConfig",
    "NodeConfig",
    "NodeSection",
    "StoreSection",
    "StrategyTable",
    "VenueConfig",
    "VenueKind",
    "default_config",
    "load_node_config",
    "parse_node_config",
]

SAMPLE = "sample"
LOCAL_SYMBOLS = ("BTCUSDT", "ETHUSDT")  # the canonical instruments the local exchange lists
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# Keys that would hold a secret: refused wherever they appear, with where the secret goes instead.
_SECRET_KEYS = ("api_key", "api_secret", "secret", "secret_key", "password", "token")


class VenueKind(StrEnum):
    """What a ``[[venues]]`` entry connects to."""

    BINANCE = "binance"  # Binance spot (or anything speaking its protocol at rest_url/ws_url)
    LOCAL = "local"  # the local Binance-compatible exchange, started by the node, replaying data


class NodeSection(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[node]``: who the node is and how it starts and stops."""

    name: str = "node"
    trader_id: str = "BOT4"
    data_dir: str = "bot4-data"
    cancel_on_stop: bool = True
    shutdown_timeout_s: float = 10.0
    start_timeout_s: float = 15.0


class StoreSection(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[store]``: where orders, fills and the journal go."""

    url: str | None = None
    trade_during_outage: bool = False
    write_ahead_timeout_s: float = 5.0


class VenueConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[[venues]]``: one venue. Keys left out take the kind's defaults (``resolved``)."""

    kind: VenueKind
    name: str = "BINANCE"
    symbols: list[str] = msgspec.field(default_factory=lambda: ["BTCUSDT"])
    # kind = "binance"
    rest_url: str | None = None
    ws_url: str | None = None
    testnet: bool = False
    credentials_env: str = "BINANCE"
    recv_window_ms: int = 5000
    trade_stream: str = "trade"
    # kind = "local" (and the simulated account of a binance venue in paper mode)
    data: str | None = None
    speed: float | None = None
    balances: dict[str, str] | None = None


class StrategyTable(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[[strategies]]``: which strategy, and its config table."""

    name: str
    config: dict[str, Any] = msgspec.field(default_factory=dict)


class MetricsConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[metrics]``: the Prometheus endpoint on 127.0.0.1 (port 0: any free port)."""

    enabled: bool = True
    port: int = 9464


class ApiConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[api]``: the status API on 127.0.0.1; its token comes from ``BOT4_API_TOKEN``."""

    enabled: bool = True
    port: int = 9465


class LoggingConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[logging]``: level (DEBUG, INFO, WARNING, ERROR) and one JSON object per line."""

    level: str = "INFO"
    json: bool = False


class LiveConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[live]``: read by ``bot4 live`` only."""

    i_understand_this_trades_real_money: bool = False
    start_state: TradingState = TradingState.HALTED


class _File(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    node: dict[str, Any] | None = None
    store: dict[str, Any] | None = None
    venues: list[dict[str, Any]] | None = None
    strategies: list[dict[str, Any]] | None = None
    risk: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None
    api: dict[str, Any] | None = None
    logging: dict[str, Any] | None = None
    live: dict[str, Any] | None = None


_SECTIONS = tuple(_File.__struct_fields__)


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """The whole node config, checked: what :func:`load_node_config` returns.

    ``file`` is None for the embedded demo. ``store_url`` is resolved (the SQLite default sits
    under ``data_dir``), ``data_dir`` is absolute, every local venue's ``data`` is a path.
    """

    file: Path | None
    node: NodeSection
    store: StoreSection
    venues: tuple[VenueConfig, ...]
    strategies: tuple[StrategySpec, ...]
    risk: RiskConfig | None
    metrics: MetricsConfig
    api: ApiConfig
    logging: LoggingConfig
    live: LiveConfig
    text: str = ""

    @property
    def data_dir(self) -> Path:
        return Path(self.node.data_dir)

    @property
    def store_url(self) -> str:
        if self.store.url is not None:
            return self.store.url
        return f"sqlite:///{Path(self.node.data_dir) / 'bot4.db'}"

    def venue(self, name: str) -> VenueConfig | None:
        return next((v for v in self.venues if v.name == name), None)

    def replace(self, **changes: Any) -> NodeConfig:
        """A copy with some fields replaced (the CLI's ``--data-dir``, ``--speed``...)."""
        import dataclasses

        return dataclasses.replace(self, **changes)


def default_config() -> NodeConfig:
    """The paper demo: the local exchange replaying the bundled sample, ema_cross on BTCUSDT."""
    from bot4.node.example import EXAMPLE_CONFIG

    return parse_node_config(tomllib.loads(EXAMPLE_CONFIG), file=None, text=EXAMPLE_CONFIG)


def load_node_config(path: str | Path) -> NodeConfig:
    """Read and check a node TOML file; every problem is a :class:`ConfigError`."""
    file = Path(path)
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise ConfigError("config file not found", file=str(file)) from None
    except OSError as exc:
        raise ConfigError("cannot read config file", file=str(file), error=exc.strerror) from None
    try:
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError as exc:
        raise ConfigError("config file is not UTF-8 text", file=str(file), error=str(exc)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", file=str(file)) from None
    return parse_node_config(data, file=file, text=text)


def parse_node_config(data: dict[str, Any], *, file: Path | None = None, text: str = "") -> NodeConfig:
    """Check an already parsed table; relative paths resolve against ``file``'s folder."""
    name = "<embedded paper demo>" if file is None else str(file)
    base_dir = Path.cwd() if file is None else file.resolve().parent
    p = _Parser(data, name, base_dir)
    node = p.section("node", NodeSection)
    if not node.name or not all(c.isalnum() or c in "-_" for c in node.name):
        raise p.error("node name must be letters, digits, '-' or '_'", "node.name", found=node.name)
    if not node.trader_id or not all(c.isalnum() or c == "-" for c in node.trader_id):
        raise p.error("trader_id must be letters, digits or '-'", "node.trader_id", found=node.trader_id)
    for key in ("shutdown_timeout_s", "start_timeout_s"):
        if not getattr(node, key) > 0:
            raise p.error(f"{key} must be positive seconds", f"node.{key}", found=getattr(node, key))
    data_dir = Path(node.data_dir).expanduser()
    if not data_dir.is_absolute():
        data_dir = Path.cwd() / data_dir  # the working directory, as for `bot4 orders --db`
    node = msgspec.structs.replace(node, data_dir=str(data_dir))

    store = p.section("store", StoreSection)
    if store.url is not None:
        _check_store_url(p, store.url)
    if not store.write_ahead_timeout_s > 0:
        raise p.error("write_ahead_timeout_s must be positive seconds", "store.write_ahead_timeout_s",
                      found=store.write_ahead_timeout_s)
    venues = p.venues()
    strategies = p.strategies(venues)
    risk_table = p.table("risk")
    risk = None if risk_table is None else RiskConfig.from_mapping(risk_table, file=name, key="risk")
    metrics = p.section("metrics", MetricsConfig)
    api = p.section("api", ApiConfig)
    _check_port(p, "metrics.port", metrics.port)
    _check_port(p, "api.port", api.port)
    if metrics.enabled and api.enabled and metrics.port and metrics.port == api.port:
        raise p.error("metrics and api need different ports", "api.port", found=api.port)
    logging = p.section("logging", LoggingConfig)
    if logging.level.upper() not in _LOG_LEVELS:
        raise p.error("unknown log level", "logging.level", expected="one of " + ", ".join(_LOG_LEVELS),
                      found=logging.level)
    logging = msgspec.structs.replace(logging, level=logging.level.upper())
    live = p.section("live", LiveConfig)
    return NodeConfig(
        file=file, node=node, store=store, venues=venues, strategies=strategies, risk=risk,
        metrics=metrics, api=api, logging=logging, live=live, text=text,
    )


# -- internals ---------------------------------------------------------------------------------


class _Parser:
    def __init__(self, data: dict[str, Any], file: str, base_dir: Path) -> None:
        self.data = data
        self.file = file
        self.base_dir = base_dir
        for key in data:
            if key not in _SECTIONS:
                raise self.error("unknown section in node config", key, expected="one of " + ", ".join(_SECTIONS))

    def error(self, message: str, key: str, **context: Any) -> ConfigError:
        return ConfigError(message, file=self.file, key=key, **context)

    def table(self, key: str) -> dict[str, Any] | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.error(f"[{key}] must be a table", key, expected="table", found=type(value).__name__)
        _refuse_secrets(self, value, key)
        return value

    def tables(self, key: str) -> list[dict[str, Any]]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.error(f"{key} must be an array of tables, written [[{key}]]", key,
                             expected="array of tables")
        return value

    def convert(self, table: dict[str, Any], type_: type[Any], key: str, what: str) -> Any:
        return convert_config(table, type_, file=self.file, key=key, what=what)

    def section(self, key: str, type_: type[Any]) -> Any:
        table = self.table(key)
        return type_() if table is None else self.convert(table, type_, key, f"[{key}]")

    def venues(self) -> tuple[VenueConfig, ...]:
        tables = self.tables("venues")
        if not tables:
            raise self.error("no venue: add a [[venues]] table (kind = \"local\" or \"binance\")", "venues")
        venues: list[VenueConfig] = []
        for i, table in enumerate(tables):
            key = f"venues[{i}]"
            _refuse_secrets(self, table, key)
            venue = self.convert(table, VenueConfig, key, "[[venues]]")
            venue = _resolve_venue(self, venue, table, key)
            if any(v.name == venue.name for v in venues):
                raise self.error("two venues share a name; set name on one of them", f"{key}.name",
                                 found=venue.name)
            venues.append(venue)
        return tuple(venues)

    def strategies(self, venues: tuple[VenueConfig, ...]) -> tuple[StrategySpec, ...]:
        tables = self.tables("strategies")
        if not tables:
            raise self.error("no strategy: add a [[strategies]] table with a name", "strategies")
        specs = []
        for i, table in enumerate(tables):
            key = f"strategies[{i}]"
            raw: StrategyTable = self.convert(table, StrategyTable, key, "[[strategies]]")
            specs.append(strategy_spec(raw.name, raw.config, file=self.file, base_dir=self.base_dir, key=key))
        ids = [spec.config.strategy_id or spec.cls.__name__ for spec in specs]
        for i, spec in enumerate(specs):
            _check_instrument(self, spec, venues, f"strategies[{i}].config.instrument_id")
        for i, strategy_id in enumerate(ids):
            if strategy_id in ids[:i]:
                raise self.error("two strategies share an id; set strategy_id in their config tables",
                                 f"strategies[{i}].config.strategy_id", found=strategy_id)
        return tuple(specs)


def _resolve_venue(p: _Parser, venue: VenueConfig, table: dict[str, Any], key: str) -> VenueConfig:
    if not venue.name or not all(c.isalnum() or c in "-_" for c in venue.name):
        raise p.error("venue name must be letters, digits, '-' or '_' (no dots)", f"{key}.name", found=venue.name)
    if not venue.symbols:
        raise p.error("list at least one symbol, e.g. symbols = [\"BTCUSDT\"]", f"{key}.symbols")
    for j, symbol in enumerate(venue.symbols):
        if not symbol.isascii() or not symbol.isalnum() or symbol != symbol.upper():
            raise p.error("symbol must be upper-case letters and digits, e.g. BTCUSDT", f"{key}.symbols[{j}]",
                          found=symbol)
    if not venue.credentials_env or not venue.credentials_env.replace("_", "").isalnum():
        raise p.error("credentials_env is the prefix of the environment variables, e.g. BINANCE",
                      f"{key}.credentials_env", found=venue.credentials_env)
    balances = venue.balances
    if balances is not None:
        for currency, amount in balances.items():
            try:
                ok = float(amount) >= 0
            except ValueError:
                ok = False
            if not ok:
                raise p.error("a balance is a non-negative decimal string", f"{key}.balances.{currency}",
                              found=amount)
    if venue.speed is not None and venue.speed < 0:
        raise p.error("speed must not be negative (0 replays as fast as possible)", f"{key}.speed",
                      found=venue.speed)
    if venue.kind is VenueKind.LOCAL:
        for name in ("rest_url", "ws_url", "testnet"):
            if name in table:
                raise p.error(f"{name} is for kind = \"binance\"; the local exchange picks its own address",
                              f"{key}.{name}")
        if len(venue.symbols) != 1 or venue.symbols[0] not in LOCAL_SYMBOLS:
            raise p.error("the local exchange replays one symbol", f"{key}.symbols",
                          expected="one of " + ", ".join(LOCAL_SYMBOLS), found=venue.symbols)
        data = venue.data or SAMPLE
        if data != SAMPLE:
            path = Path(data).expanduser()
            if not path.is_absolute():
                path = p.base_dir / path
            if not path.is_file():
                raise p.error("market data file not found", f"{key}.data", found=str(path))
            data = str(path)
        elif venue.symbols[0] != "BTCUSDT":
            raise p.error("the bundled sample is BTCUSDT; give a data file for other symbols",
                          f"{key}.data", found=venue.symbols[0])
        return msgspec.structs.replace(
            venue, data=data, speed=1.0 if venue.speed is None else venue.speed,
            balances={"USDT": "100000", "BTC": "1"} if balances is None else balances,
        )
    for name in ("data", "speed"):
        if name in table:
            raise p.error(f"{name} is for kind = \"local\" (the local exchange's replay)", f"{key}.{name}")
    from bot4.venues.binance.config import (
        PRODUCTION_REST_URL,
        PRODUCTION_WS_URL,
        TESTNET_REST_URL,
        TESTNET_WS_URL,
        BinanceConfig,
    )

    rest = venue.rest_url or (TESTNET_REST_URL if venue.testnet else PRODUCTION_REST_URL)
    ws = venue.ws_url or (TESTNET_WS_URL if venue.testnet else PRODUCTION_WS_URL)
    try:
        BinanceConfig(venue=venue.name, rest_url=rest, ws_url=ws, recv_window_ms=venue.recv_window_ms,
                      trade_stream=venue.trade_stream, symbols=list(venue.symbols))
    except ConfigError as exc:
        context = {("found" if k == "value" else k): v for k, v in exc.context.items() if k != "key"}
        raise p.error(exc.message, join_key(key, str(exc.context.get("key", ""))), **context) from None
    return msgspec.structs.replace(
        venue, rest_url=rest, ws_url=ws,
        balances={"USDT": "100000", "BTC": "1"} if balances is None else balances,
    )


def _check_instrument(p: _Parser, spec: StrategySpec, venues: tuple[VenueConfig, ...], key: str) -> None:
    """A strategy naming an ``instrument_id`` must trade one a configured venue lists."""
    value = getattr(spec.config, "instrument_id", None)
    if not isinstance(value, str):
        return
    known = [f"{symbol}.{venue.name}" for venue in venues for symbol in venue.symbols]
    if value not in known:
        raise p.error("the strategy trades an instrument no [[venues]] entry lists", key,
                      expected="one of " + ", ".join(known), found=value)


def _refuse_secrets(p: _Parser, table: dict[str, Any], key: str) -> None:
    for name, value in table.items():
        if name in _SECRET_KEYS:
            raise p.error("secrets are never read from the config file", join_key(key, name),
                          expected=_secret_home(key, table))
        if isinstance(value, dict) and not key.startswith("strategies"):
            _refuse_secrets(p, value, join_key(key, name))


def _secret_home(key: str, table: dict[str, Any]) -> str:
    if key.startswith("venues"):
        prefix = table.get("credentials_env", "BINANCE")
        return f"the environment variables {prefix}_API_KEY and {prefix}_API_SECRET"
    if key.startswith("api"):
        return "the environment variable BOT4_API_TOKEN"
    if key.startswith("store"):
        return "the environment variable PGPASSWORD"
    return "the environment"


def _check_store_url(p: _Parser, url: str) -> None:
    if url.startswith(("postgresql://", "postgres://")):
        authority = url.split("://", 1)[1].split("/", 1)[0]
        if "@" in authority and ":" in authority.rsplit("@", 1)[0]:
            raise p.error("secrets are never read from the config file: leave the password out of the url",
                          "store.url", expected="the environment variable PGPASSWORD")
        return
    if url.startswith("sqlite:") or ("://" not in url and url):
        return
    raise p.error("store url must be sqlite:///PATH, a file path, or postgresql://USER@HOST:PORT/DB",
                  "store.url", found=url.split("://", 1)[0] + "://...")


def _check_port(p: _Parser, key: str, port: int) -> None:
    if isinstance(port, bool) or not 0 <= port <= 65535:
        raise p.error("port must be within 0..65535 (0: any free port)", key, found=port)
