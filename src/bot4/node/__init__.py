"""The trading node: one config, the whole pipeline, paper and live modes.

:class:`TradingNode` wires venue clients, the engines, the store and the observability pieces
from a :class:`NodeConfig` (``docs/configuration.md``); ``bot4 paper`` and ``bot4 live`` run
it in the foreground (:mod:`bot4.node.cli`). Names are imported on first use, so
``bot4 status`` does not load the trading stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot4.node.api import KillSwitch, NodeView, StatusApi
    from bot4.node.config import (
        NodeConfig,
        VenueConfig,
        VenueKind,
        default_config,
        load_node_config,
    )
    from bot4.node.logs import configure_logging
    from bot4.node.metrics import MetricsServer, NodeMetrics
    from bot4.node.node import NodeStartError, TradingNode
    from bot4.node.session import run_session
    from bot4.node.venues import Mode

__all__ = [
    "KillSwitch",
    "MetricsServer",
    "Mode",
    "NodeConfig",
    "NodeMetrics",
    "NodeStartError",
    "NodeView",
    "StatusApi",
    "TradingNode",
    "VenueConfig",
    "VenueKind",
    "configure_logging",
    "default_config",
    "load_node_config",
    "run_session",
]

_HOMES = {
    "KillSwitch": "api", "NodeView": "api", "StatusApi": "api",
    "NodeConfig": "config", "VenueConfig": "config", "VenueKind": "config", "default_config": "config",
    "load_node_config": "config",
    "configure_logging": "logs",
    "MetricsServer": "metrics", "NodeMetrics": "metrics",
    "NodeStartError": "node", "TradingNode": "node",
    "run_session": "session",
    "Mode": "venues",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'bot4.node' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"bot4.node.{home}"), name)
    globals()[name] = value
    return value
