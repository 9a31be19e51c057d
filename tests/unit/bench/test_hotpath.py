"""The bench's in-process order path: wiring, order streams and the fallbacks of its scenarios."""

from __future__ import annotations

import pytest

from bot4.bench.harness import BenchOptions
from bot4.bench.hotpath import (
    StampingVenueClient,
    build_hot_path,
    build_risk,
    cancel_orders,
    open_position,
    order_stream,
    risk_unavailable,
)
from bot4.bench.scenarios import oms_submit, risk_check, signal_to_intent, tick_to_order
from bot4.model.enums import OrderType

needs_risk = pytest.mark.skipif(risk_unavailable() is not None, reason=str(risk_unavailable()))


def test_order_stream_alternates_sides_and_types_and_passes_the_filters() -> None:
    hp = build_hot_path()
    orders = order_stream(hp, 8)
    assert [o.order_type for o in orders[:4]] == [OrderType.MARKET, OrderType.MARKET, OrderType.LIMIT, OrderType.LIMIT]
    assert len({o.client_order_id for o in orders}) == 8
    for order in orders:
        hp.execution.submit_order(order)
    assert hp.execution.stats.denied == 0
    assert hp.client.submitted == 8
    cancel_orders(hp, orders)
    assert hp.execution.open_orders() == []


@needs_risk
def test_risk_limits_let_the_bench_stream_through_with_every_check_on() -> None:
    hp = build_hot_path()
    open_position(hp, "0.05")
    risk = build_risk(hp)
    orders = order_stream(hp, 1_000)
    for order in orders:
        hp.execution.submit_order(order)
    assert hp.execution.stats.denied == 0
    assert risk.stats.checks == 1_000
    assert risk.open_order_count() == 1_000


def test_stamping_client_records_the_order_and_a_stamp() -> None:
    hp = build_hot_path(client_factory=StampingVenueClient)
    order = order_stream(hp, 1)[0]
    hp.execution.submit_order(order)
    assert isinstance(hp.client, StampingVenueClient)
    [(stamp, received)] = hp.client.received
    assert received is order and stamp > 0


def test_open_position_holds_the_quantity() -> None:
    hp = build_hot_path()
    open_position(hp, "-0.05")
    assert str(hp.portfolio.position(hp.instrument_.id).quantity) == "0.05000"
    assert hp.portfolio.position(hp.instrument_.id).signed_raw < 0


def test_risk_scenarios_skip_with_the_reason_when_risk_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(risk_check, "risk_unavailable", lambda: "bot4.risk is not importable: test")
    monkeypatch.setattr(oms_submit, "risk_unavailable", lambda: "bot4.risk is not importable: test")
    options = BenchOptions(quick=True)
    [result] = risk_check.run_risk_check(options)
    assert result.skipped == "bot4.risk is not importable: test"
    [result] = oms_submit.run_oms_submit(options)
    assert result.skipped == "bot4.risk is not importable: test"


def test_signal_scenario_skips_with_the_reason_when_signals_are_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signal_to_intent, "signals_unavailable", lambda: "no signals: test")
    [result] = signal_to_intent.run_signal_to_intent(BenchOptions(quick=True))
    assert result.skipped == "no signals: test"


def test_tick_to_order_falls_back_to_strategy_sizing_without_risk_or_signals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tick_to_order, "risk_unavailable", lambda: "absent")
    monkeypatch.setattr(tick_to_order, "signals_unavailable", lambda: "absent")
    result, gc_off = tick_to_order.run_tick_to_order(BenchOptions(quick=True))
    assert gc_off.name == "tick_to_order.gc_off" and gc_off.extra["gc"]["collections_gen0_1_2"] == [0, 0, 0]
    assert result.extra["risk"] is False and result.extra["signals"] is False
    assert "sizes the order itself" in result.description
    assert result.latency_samples == result.extra["orders"] > 0
    assert result.extra["denied"] == 0
