"""Smoke test of ``bot4 bench``: every scenario runs in --quick mode and reports sane fields.

Benchmarks are not tests: nothing here checks a timing threshold, only that each scenario ran,
measured what it claims and wrote it in the JSON document the docs cite.
"""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import pytest

from bot4.bench.cli import main
from bot4.bench.scenarios import SCENARIOS
from bot4.bench.scenarios.book_delta_real import find_sample

MICRO = ("book_delta", "book_delta_real")
NEEDS_SAMPLE = ("book_delta_real", "backtest_sample")


@pytest.fixture(scope="module")
def quick_results() -> dict[str, dict[str, Any]]:
    """Run the whole suite once in --quick mode and index its JSON document by name."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["--quick", "--json"])
    assert code == 0, out.getvalue()[-2000:]
    document = json.loads(out.getvalue())
    assert isinstance(document, list)
    names = [item["name"] for item in document]
    assert len(names) == len(set(names)), names
    return {item["name"]: item for item in document}


def test_quick_json_has_every_scenario_once(quick_results: dict[str, dict[str, Any]]) -> None:
    assert list(quick_results) == list(SCENARIOS)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_quick_scenario_reports_positive_rates_and_memory(
    quick_results: dict[str, dict[str, Any]], name: str
) -> None:
    result = quick_results[name]
    assert result["error"] is None
    assert result["quick"] is True
    if result["skipped"] is not None:
        # Only the scenarios on the bundled sample may skip, and only when it is absent.
        assert name in NEEDS_SAMPLE and find_sample() is None, result["skipped"]
        return
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
    result = quick_results[name]
    if result["skipped"] is not None:
        pytest.skip(result["skipped"])
    assert 0 < result["median_ns"] <= result["p99_ns"]
    assert result["samples"] > 0
    assert result["single_median_ns"] is not None
    assert result["single_median_ns"] <= result["single_p99_ns"] <= result["single_max_ns"]
    assert result["alloc_bytes_per_op"] is not None
    assert result["alloc_blocks_per_op"] is not None
    assert result["peak_bytes_per_op"] is not None and result["peak_bytes_per_op"] >= 0
    assert result["goal_met"] in (True, False)


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
