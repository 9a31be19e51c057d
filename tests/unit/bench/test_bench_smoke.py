"""Smoke test of ``bot4 bench``: every scenario runs in --quick mode and reports sane fields.

Benchmarks are not tests: nothing here checks a timing threshold, only that each scenario ran,
measured what it claims and wrote it in the JSON document the docs cite.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
from collections.abc import Callable
from typing import Any

import pytest

from bot4.bench.cli import main
from bot4.bench.scenarios import SCENARIOS
from bot4.bench.scenarios.book_delta_real import find_sample
from bot4.bench.scenarios.journal_write import pg_unreachable

MICRO = (
    "book_delta",
    "book_delta_real",
    "signal_to_intent",
    "risk_check",
    "order_build",
    "oms_submit",
    "oms_submit_no_risk",
    "object_pool",
)
NEEDS_SAMPLE = ("book_delta_real", "backtest_sample")
# Scenarios that skip (with the reason) when the package they measure is absent.
NEEDS_MODULE = {"signal_to_intent": "bot4.strategy.signals", "risk_check": "bot4.risk", "oms_submit": "bot4.risk"}
# Results that skip (with the reason) when the server they measure is unreachable; never in CI.
NEEDS_SERVER: dict[str, Callable[[], str | None]] = {"journal_write.postgresql": pg_unreachable}


def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def quick_document() -> list[dict[str, Any]]:
    """Run the whole suite once in --quick mode; return its JSON document."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["--quick", "--json"])
    assert code == 0, out.getvalue()[-2000:]
    document = json.loads(out.getvalue())
    assert isinstance(document, list)
    return document


@pytest.fixture(scope="module")
def quick_results(quick_document: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The results indexed by name (a scenario gives one result ``name`` or several ``name.variant``)."""
    names = [item["name"] for item in quick_document]
    assert len(names) == len(set(names)), names
    return {item["name"]: item for item in quick_document}


def results_of(quick_results: dict[str, dict[str, Any]], scenario: str) -> list[dict[str, Any]]:
    return [r for name, r in quick_results.items() if name == scenario or name.startswith(scenario + ".")]


def test_quick_json_has_every_scenario_in_suite_order(quick_document: list[dict[str, Any]]) -> None:
    scenario_of = []
    for item in quick_document:
        owners = [s for s in SCENARIOS if item["name"] == s or item["name"].startswith(s + ".")]
        assert len(owners) == 1, item["name"]
        scenario_of.append(owners[0])
    assert list(dict.fromkeys(scenario_of)) == list(SCENARIOS)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_quick_scenario_reports_positive_rates_and_memory(
    quick_results: dict[str, dict[str, Any]], name: str
) -> None:
    results = results_of(quick_results, name)
    assert results
    for result in results:
        assert result["error"] is None
        assert result["quick"] is True
        if result["skipped"] is not None:
            # Only scenarios whose inputs or measured package are missing may skip.
            if name in NEEDS_SAMPLE:
                assert find_sample() is None, result["skipped"]
            elif result["name"] in NEEDS_SERVER:
                assert not os.environ.get("CI"), f"CI needs {result['name']}: {result['skipped']}"
                assert NEEDS_SERVER[result["name"]]() is not None, result["skipped"]
            else:
                assert name in NEEDS_MODULE and not _importable(NEEDS_MODULE[name]), result["skipped"]
            continue
        assert result["ops"] > 0
        assert result["ops_per_s"] > 0
        assert result["cpu_ops_per_s"] > 0
        assert result["wall_s"] > 0
        assert result["peak_rss_mb"] > 0
        assert result["scenario_s"] >= 0


@pytest.mark.parametrize("name", MICRO)
def test_quick_micro_scenario_reports_latency_distribution_and_allocations(
    quick_results: dict[str, dict[str, Any]], name: str
) -> None:
    for result in results_of(quick_results, name):
        if result["skipped"] is not None:
            pytest.skip(result["skipped"])
        assert 0 < result["median_ns"] <= result["p99_ns"]
        assert result["samples"] > 0
        assert result["single_median_ns"] is not None
        assert result["single_median_ns"] <= result["single_p99_ns"] <= result["single_max_ns"]
        assert result["alloc_bytes_per_op"] is not None
        assert result["alloc_blocks_per_op"] is not None
        assert result["peak_bytes_per_op"] is not None and result["peak_bytes_per_op"] >= 0
        if result["goal"] is not None:  # order_build and the pools' baselines have no goal of their own
            assert result["goal_met"] in (True, False)


def test_quick_signal_to_intent_measures_every_policy(quick_results: dict[str, dict[str, Any]]) -> None:
    results = results_of(quick_results, "signal_to_intent")
    if results[0]["skipped"] is not None:
        pytest.skip(results[0]["skipped"])
    assert {r["name"] for r in results} == {
        "signal_to_intent.fixed_quantity",
        "signal_to_intent.fraction_of_equity",
        "signal_to_intent.volatility_scaled",
        "signal_to_intent.fixed_quantity_working_orders",
    }
    for result in results:
        extra = result["extra"]
        assert extra["intents_out"] > 0
        assert extra["intents_out"] + sum(extra["dropped"].values()) == extra["signals_in"]


@pytest.mark.parametrize("name", ("oms_submit", "oms_submit_no_risk", "risk_check"))
def test_quick_order_scenarios_let_every_order_through(quick_results: dict[str, dict[str, Any]], name: str) -> None:
    result = quick_results[name]
    if result["skipped"] is not None:
        pytest.skip(result["skipped"])
    assert result["extra"]["denied"] == 0
    assert "not_reaching_venue" not in result["extra"]


def test_quick_tick_to_order_reports_a_latency_distribution(quick_results: dict[str, dict[str, Any]]) -> None:
    result = quick_results["tick_to_order"]
    extra = result["extra"]
    assert result["latency_samples"] == extra["orders"] > 0
    assert 0 < result["latency_median_ns"] <= result["latency_p99_ns"] <= result["latency_max_ns"]
    assert 0 < result["median_ns"] <= result["p99_ns"]
    assert result["alloc_bytes_per_op"] is not None
    assert extra["denied"] == 0
    assert extra["strategy_errors"] == 0
    assert extra["risk"] is _importable("bot4.risk")
    assert extra["signals"] is _importable("bot4.strategy.signals")
    breakdown = extra["breakdown_median_ns"]
    assert isinstance(breakdown, dict) and breakdown["total"] > 0
    assert result["goal_met"] in (True, False)
    assert extra["gc_enabled"] is True
    reference = quick_results["tick_to_order.gc_off"]
    assert reference["extra"]["gc_enabled"] is False
    assert reference["extra"]["gc"]["collections_gen0_1_2"] == [0, 0, 0]
    assert reference["latency_samples"] == extra["orders"]


def test_quick_object_pool_compares_each_pool_with_construction(quick_results: dict[str, dict[str, Any]]) -> None:
    results = {r["name"]: r for r in results_of(quick_results, "object_pool")}
    assert {"object_pool.order_submitted.new", "object_pool.trade_tick.new"} <= set(results)
    pools = [r for name, r in results.items() if not name.endswith(".new")]
    assert pools
    for result in pools:
        assert result["extra"]["vs_new"] > 0
        assert result["extra"]["verdict"]


def test_quick_backtest_with_orders_fills_every_order(quick_results: dict[str, dict[str, Any]]) -> None:
    extra = quick_results["backtest_trades"]["extra"]
    assert extra["orders"] > 0
    assert extra["fills"] == extra["orders"]
    assert extra["signals"] == extra["orders"]
    assert extra["strategy_errors"] == 0


def test_quick_backtest_without_orders_sends_none_on_the_same_signals(
    quick_results: dict[str, dict[str, Any]],
) -> None:
    no_orders = quick_results["backtest_trades_no_orders"]["extra"]
    with_orders = quick_results["backtest_trades"]["extra"]
    assert no_orders["orders"] == 0
    assert no_orders["signals"] == with_orders["signals"] > 0
    assert quick_results["backtest_trades_no_orders"]["ops"] == quick_results["backtest_trades"]["ops"]


def test_quick_backtest_memory_runs_in_child_with_its_own_peak(quick_results: dict[str, dict[str, Any]]) -> None:
    result = quick_results["backtest_memory"]
    extra = result["extra"]
    assert extra["rss_after_import_mb"] <= extra["rss_after_ticks_mb"] <= result["peak_rss_mb"]
    assert extra["orders"] == quick_results["backtest_trades"]["extra"]["orders"]


def test_bench_rejects_unknown_scenario_with_usage_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--only", "no_such_scenario"]) == 2
    assert "no_such_scenario" in capsys.readouterr().err


def test_bench_text_output_names_the_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--quick", "--only", "book_delta"]) == 0
    text = capsys.readouterr().out
    assert "book_delta:" in text
    assert "median" in text and "p99" in text and "peak RSS" in text and "tracemalloc" in text


def test_bench_text_output_shows_the_tick_to_order_latency(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--quick", "--only", "tick_to_order"]) == 0
    text = capsys.readouterr().out
    assert "latency tick in -> order handed to venue client: median" in text


def test_quick_ws_chaos_survives_forced_disconnects_without_loss_or_duplicates(
    quick_results: dict[str, dict[str, Any]],
) -> None:
    extra = quick_results["ws_chaos"]["extra"]
    assert extra["disconnects_forced"] > 10
    assert extra["disconnects_survived"] == extra["disconnects_forced"]
    assert (extra["lost"], extra["duplicated"], extra["out_of_order"]) == (0, 0, 0)
    assert extra["received"] == extra["messages"]
    assert quick_results["ws_chaos"]["goal_met"] is True


def test_quick_ws_roundtrip_keeps_no_memory_per_message(quick_results: dict[str, dict[str, Any]]) -> None:
    result = quick_results["ws_roundtrip"]
    assert 0 < result["median_ns"] <= result["p99_ns"]
    assert result["alloc_bytes_per_op"] < 100  # a leak keeps hundreds of bytes per message


def test_quick_journal_write_reports_throughput_and_write_ahead_latency_per_backend(
    quick_results: dict[str, dict[str, Any]],
) -> None:
    results = {r["name"]: r for r in results_of(quick_results, "journal_write")}
    assert set(results) == {"journal_write.sqlite", "journal_write.postgresql"}
    assert results["journal_write.sqlite"]["skipped"] is None  # SQLite is always there
    for name, result in results.items():
        if result["skipped"] is not None:
            continue  # allowed only when the server is unreachable outside CI (checked above)
        extra = result["extra"]
        assert extra["entries"] == result["ops"] > 0, name
        assert 0 < extra["batches"] <= extra["entries"], name
        assert 0 < extra["batch_commit_p50_ms"] <= extra["batch_commit_p99_ms"], name
        assert result["latency_samples"] == extra["intents"] > 0, name
        assert 0 < result["latency_median_ns"] <= result["latency_p99_ns"] <= result["latency_max_ns"], name
        assert extra["commit_p50_ms"] == round(result["latency_median_ns"] / 1e6, 3), name
        assert extra["commit_p50_ms"] <= extra["commit_p99_ms"], name
