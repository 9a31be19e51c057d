"""``bot4 paper``: the node in paper mode, with the command line's changes to its config.

Without ``--config`` the config is the paper demo (:data:`bot4.node.example.EXAMPLE_CONFIG`):
the local exchange on 127.0.0.1 replays the bundled 6-minute Binance BTCUSDT capture at
``--speed``, the node reaches it through the real Binance adapter and network layer, ema_cross
trades it, and everything is stored under ``--data-dir``. The options change that config:

- ``--strategy SPEC`` replaces the strategies by one. Its config table is the configured one
  when a configured strategy has the same class; otherwise the class's defaults, with
  ``instrument_id`` (when the class has one) set to the first venue's first symbol.
- ``--speed X`` sets the replay speed of every local venue (an error without one).
- ``--data-dir DIR`` moves the store (when its url is the default) and everything else.
- ``--metrics-port`` / ``--api-port`` move the servers (0: any free port).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import msgspec

from bot4.backtest.config import strategy_spec
from bot4.core.errors import ConfigError
from bot4.node.config import NodeConfig, VenueKind

__all__ = ["PaperOptions", "apply_options", "parse_duration"]

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


@dataclasses.dataclass(frozen=True, kw_only=True)
class PaperOptions:
    """What the command line changes (None: keep the config's)."""

    strategy: str | None = None
    speed: float | None = None
    data_dir: Path | None = None
    metrics_port: int | None = None
    api_port: int | None = None


def apply_options(config: NodeConfig, options: PaperOptions) -> NodeConfig:
    """``config`` with the command line's changes (module docstring)."""
    changes: dict[str, Any] = {}
    if options.data_dir is not None:
        changes["node"] = msgspec.structs.replace(config.node, data_dir=str(options.data_dir.expanduser().resolve()))
    if options.speed is not None:
        if options.speed < 0:
            raise ConfigError("--speed must not be negative (0 replays as fast as possible)", key="--speed",
                              found=options.speed)
        if not any(v.kind is VenueKind.LOCAL for v in config.venues):
            raise ConfigError("--speed sets the local exchange's replay speed, and no venue is kind = \"local\"",
                              key="--speed")
        changes["venues"] = tuple(
            msgspec.structs.replace(v, speed=options.speed) if v.kind is VenueKind.LOCAL else v
            for v in config.venues
        )
    if options.metrics_port is not None:
        _check_port("--metrics-port", options.metrics_port)
        changes["metrics"] = msgspec.structs.replace(config.metrics, port=options.metrics_port)
    if options.api_port is not None:
        _check_port("--api-port", options.api_port)
        changes["api"] = msgspec.structs.replace(config.api, port=options.api_port)
    if options.strategy is not None:
        changes["strategies"] = (_strategy(config, options.strategy),)
    return config.replace(**changes) if changes else config


def parse_duration(text: str) -> float:
    """``20s``, ``5m``, ``1h`` or plain seconds (``90``) -> seconds; :class:`ConfigError` else."""
    value = text.strip().lower()
    unit = 1.0
    if value and value[-1] in _UNITS:
        unit = _UNITS[value[-1]]
        value = value[:-1]
    try:
        seconds = float(value) * unit
    except ValueError:
        seconds = -1.0
    if not seconds > 0 or seconds != seconds or seconds == float("inf"):
        raise ConfigError("--duration must be a positive time like 20s, 5m or 1h", key="--duration", found=text)
    return seconds


def _strategy(config: NodeConfig, spec_text: str) -> Any:
    from bot4.strategy.loader import load_strategy_class

    cls = load_strategy_class(spec_text)
    for spec in config.strategies:
        if spec.cls is cls:
            return strategy_spec(spec_text, spec.table, key="--strategy")
    table: dict[str, Any] = {}
    fields = getattr(cls.config_class, "__struct_fields__", ())
    if "instrument_id" in fields and config.venues:
        venue = config.venues[0]
        table["instrument_id"] = f"{venue.symbols[0]}.{venue.name}"
    return strategy_spec(spec_text, table, key="--strategy")


def _check_port(key: str, port: int) -> None:
    if not 0 <= port <= 65535:
        raise ConfigError("port must be within 0..65535 (0: any free port)", key=key, found=port)
