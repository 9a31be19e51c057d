"""The scenarios of ``bot4 bench``, in the order they run.

Each entry names a function ``run(options) -> list[ScenarioResult]`` by ``module:function``;
the module is imported only when its scenario runs, so a scenario whose dependencies are
missing fails alone (reported with its error) instead of breaking the whole suite.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from bot4.bench.harness import BenchOptions, ScenarioResult

__all__ = ["SCENARIOS", "ScenarioRunner", "resolve"]

ScenarioRunner = Callable[[BenchOptions], list[ScenarioResult]]

SCENARIOS: dict[str, str] = {
    "book_delta": "bot4.bench.scenarios.book_delta:run_book_delta",
    "book_delta_real": "bot4.bench.scenarios.book_delta_real:run_book_delta_real",
    "signal_to_intent": "bot4.bench.scenarios.signal_to_intent:run_signal_to_intent",
    "risk_check": "bot4.bench.scenarios.risk_check:run_risk_check",
    "order_build": "bot4.bench.scenarios.order_build:run_order_build",
    "oms_submit": "bot4.bench.scenarios.oms_submit:run_oms_submit",
    "oms_submit_no_risk": "bot4.bench.scenarios.oms_submit:run_oms_submit_no_risk",
    "tick_to_order": "bot4.bench.scenarios.tick_to_order:run_tick_to_order",
    "backtest_trades_no_orders": "bot4.bench.scenarios.backtest_trades:run_backtest_trades_no_orders",
    "backtest_trades": "bot4.bench.scenarios.backtest_trades:run_backtest_trades",
    "backtest_memory": "bot4.bench.scenarios.backtest_memory:run_backtest_memory",
    "backtest_sample": "bot4.bench.scenarios.backtest_sample:run_backtest_sample",
    "object_pool": "bot4.bench.scenarios.object_pool:run_object_pool",
    "ws_roundtrip": "bot4.bench.scenarios.ws_stream:run_ws_roundtrip",
    "ws_chaos": "bot4.bench.scenarios.ws_stream:run_ws_chaos",
    "route_decision": "bot4.bench.scenarios.route_decision:run_route_decision",
    "journal_write": "bot4.bench.scenarios.journal_write:run_journal_write",
}


def resolve(name: str) -> ScenarioRunner:
    """Import and return the run function of scenario ``name`` (a key of ``SCENARIOS``)."""
    module_name, _, function = SCENARIOS[name].partition(":")
    runner: ScenarioRunner = getattr(importlib.import_module(module_name), function)
    return runner
