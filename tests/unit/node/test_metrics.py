"""Node metrics: the Prometheus series, the order-latency tracker and the /metrics endpoint."""

from __future__ import annotations

import asyncio
import socket
from decimal import Decimal

import aiohttp
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from bot4.core.errors import ConfigError, InvalidInputError
from bot4.core.ids import InstrumentId, Venue
from bot4.model.status import CircuitState
from bot4.node.metrics import (
    LATENCY_BUCKETS,
    LatencyTracker,
    MetricsServer,
    NodeMetrics,
    OrderOutcome,
    Point,
    Stage,
    histogram_quantile,
)
from bot4.risk.state import TradingState

US = 1_000  # nanoseconds


def _samples(metrics: NodeMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = metrics.render().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(metrics: NodeMetrics, name: str, **labels: str) -> float:
    return _samples(metrics)[(name, tuple(sorted(labels.items())))]


def _stage_count(metrics: NodeMetrics, stage: Stage) -> float:
    return _value(metrics, "bot4_stage_latency_seconds_count", stage=stage.value)


def _stage_sum(metrics: NodeMetrics, stage: Stage) -> float:
    return _value(metrics, "bot4_stage_latency_seconds_sum", stage=stage.value)


# -- the series ---------------------------------------------------------------------------------


def test_latency_buckets_run_from_10_microseconds_to_10_seconds() -> None:
    assert LATENCY_BUCKETS[0] == 1e-5
    assert LATENCY_BUCKETS[-1] == 10.0
    assert list(LATENCY_BUCKETS) == sorted(set(LATENCY_BUCKETS))
    assert 1e-3 in LATENCY_BUCKETS and 2.5e-4 in LATENCY_BUCKETS


def test_metrics_use_their_own_registry_not_the_global_one() -> None:
    first, second = NodeMetrics(), NodeMetrics()
    first.order(OrderOutcome.FILLED)
    assert _value(first, "bot4_orders_total", outcome="filled") == 1
    assert _value(second, "bot4_orders_total", outcome="filled") == 0
    assert REGISTRY.get_sample_value("bot4_orders_total", {"outcome": "filled"}) is None


def test_every_stage_and_outcome_series_exists_before_anything_happens() -> None:
    metrics = NodeMetrics()
    for stage in Stage:
        assert _stage_count(metrics, stage) == 0
    for outcome in OrderOutcome:
        assert _value(metrics, "bot4_orders_total", outcome=outcome.value) == 0


def test_counters_count_by_their_labels() -> None:
    metrics = NodeMetrics()
    metrics.order("submitted")
    metrics.order(OrderOutcome.SUBMITTED)
    metrics.order(OrderOutcome.DENIED)
    metrics.reject("MAX_NOTIONAL")
    metrics.reject("-2010")
    metrics.reject("-2010")
    metrics.reconnect(Venue("BINANCE"), "market")
    metrics.resync("BINANCE", InstrumentId.from_str("BTCUSDT.BINANCE"))
    metrics.rate_limit_wait(Venue("BINANCE"))
    metrics.rate_limit_wait(Venue("BINANCE"))
    assert _value(metrics, "bot4_orders_total", outcome="submitted") == 2
    assert _value(metrics, "bot4_orders_total", outcome="denied") == 1
    assert _value(metrics, "bot4_rejects_total", reason="-2010") == 2
    assert _value(metrics, "bot4_rejects_total", reason="MAX_NOTIONAL") == 1
    assert _value(metrics, "bot4_reconnects_total", venue="BINANCE", stream="market") == 1
    assert _value(metrics, "bot4_book_resyncs_total", venue="BINANCE",
                  instrument="BTCUSDT.BINANCE") == 1
    assert _value(metrics, "bot4_rate_limit_waits_total", venue="BINANCE") == 2


def test_unknown_order_outcome_or_stage_is_refused() -> None:
    metrics = NodeMetrics()
    with pytest.raises(ValueError):
        metrics.order("exploded")
    with pytest.raises(ValueError):
        metrics.observe_stage("tick_to_moon", 0.1)


def test_gauges_hold_the_last_value_set() -> None:
    metrics = NodeMetrics()
    metrics.breaker("BINANCE", "order", CircuitState.OPEN)
    metrics.breaker(Venue("BINANCE"), "account", CircuitState.HALF_OPEN)
    metrics.breaker("BINANCE", "market", CircuitState.CLOSED)
    metrics.set_store(7, {"size": 4, "in_use": 1, "idle": 3})
    metrics.set_store(3, {"in_use": 2})
    metrics.set_pnl("USDT", realized=Decimal("12.5"), unrealized=-3, equity=100_009.5)
    metrics.set_pnl("USDT", unrealized=Decimal("-1.25"))
    metrics.set_exposure(InstrumentId.from_str("BTCUSDT.BINANCE"), Decimal("-650.10"))
    metrics.set_trading_state(TradingState.REDUCING)
    assert _value(metrics, "bot4_breaker_state", venue="BINANCE", endpoint="order") == 2
    assert _value(metrics, "bot4_breaker_state", venue="BINANCE", endpoint="account") == 1
    assert _value(metrics, "bot4_breaker_state", venue="BINANCE", endpoint="market") == 0
    assert _value(metrics, "bot4_store_queue_depth") == 3
    assert _value(metrics, "bot4_store_pool", stat="size") == 4
    assert _value(metrics, "bot4_store_pool", stat="in_use") == 2
    assert _value(metrics, "bot4_pnl", currency="USDT", kind="realized") == 12.5
    assert _value(metrics, "bot4_pnl", currency="USDT", kind="unrealized") == -1.25
    assert _value(metrics, "bot4_pnl", currency="USDT", kind="equity") == 100_009.5
    assert _value(metrics, "bot4_exposure", instrument="BTCUSDT.BINANCE") == -650.10
    assert _value(metrics, "bot4_trading_state") == 1
    metrics.set_trading_state(TradingState.HALTED)
    assert _value(metrics, "bot4_trading_state") == 2


# -- the latency tracker ------------------------------------------------------------------------


def test_tracker_observes_every_stage_from_tick_to_fill() -> None:
    metrics = NodeMetrics()
    tracker = LatencyTracker(metrics)
    tracker.start("O-1", tick_ns=1_000 * US, signal_ns=1_020 * US, risk_ns=1_050 * US)
    tracker.record("O-1", Point.SENT, 1_100 * US)
    tracker.record("O-1", Point.ACK, 3_100 * US)
    tracker.record("O-1", Point.FILL, 4_100 * US)
    expected = {
        Stage.TICK_TO_SIGNAL: 20e-6,
        Stage.SIGNAL_TO_RISK: 30e-6,
        Stage.RISK_TO_ORDER_SENT: 50e-6,
        Stage.TICK_TO_ORDER: 100e-6,
        Stage.ORDER_SENT_TO_ACK: 2e-3,
        Stage.ACK_TO_FILL: 1e-3,
    }
    for stage, seconds in expected.items():
        assert _stage_count(metrics, stage) == 1, stage
        assert _stage_sum(metrics, stage) == pytest.approx(seconds), stage
        assert tracker.percentiles(stage) == pytest.approx((seconds, seconds)), stage
    assert len(tracker) == 0  # forgotten at its fill


def test_tracker_measures_only_stages_whose_two_ends_it_saw() -> None:
    metrics = NodeMetrics()
    tracker = LatencyTracker(metrics)
    tracker.record("O-1", Point.RISK, 0)  # an order placed on a timer: no tick, no signal
    tracker.record("O-1", Point.SENT, 40 * US)
    assert _stage_count(metrics, Stage.RISK_TO_ORDER_SENT) == 1
    assert _stage_count(metrics, Stage.TICK_TO_ORDER) == 0
    assert _stage_count(metrics, Stage.SIGNAL_TO_RISK) == 0


def test_tracker_keeps_the_first_time_of_a_repeated_point() -> None:
    metrics = NodeMetrics()
    tracker = LatencyTracker(metrics)
    tracker.record("O-1", Point.SENT, 0)
    tracker.record("O-1", Point.ACK, 1_000 * US)
    tracker.record("O-1", Point.ACK, 5_000 * US)  # a duplicate ack
    assert _stage_count(metrics, Stage.ORDER_SENT_TO_ACK) == 1
    assert _stage_sum(metrics, Stage.ORDER_SENT_TO_ACK) == pytest.approx(1e-3)


def test_tracker_ignores_an_ack_processed_after_its_fill() -> None:
    metrics = NodeMetrics()
    tracker = LatencyTracker(metrics)
    tracker.record("O-1", Point.SENT, 0)
    tracker.record("O-1", Point.FILL, 2_000 * US)  # the fill came first: no ack to measure from
    tracker.record("O-1", Point.ACK, 1_000 * US)  # a new entry, closed only by a later fill
    tracker.record("O-1", Point.FILL, 3_000 * US)
    assert _stage_count(metrics, Stage.ACK_TO_FILL) == 1
    assert _stage_sum(metrics, Stage.ACK_TO_FILL) == pytest.approx(2e-3)


def test_tracker_skips_a_stage_that_would_be_negative() -> None:
    metrics = NodeMetrics()
    tracker = LatencyTracker(metrics)
    tracker.record("O-1", Point.ACK, 5_000 * US)
    tracker.record("O-1", Point.FILL, 4_000 * US)
    assert _stage_count(metrics, Stage.ACK_TO_FILL) == 0


def test_tracker_stores_nothing_for_a_fill_of_an_order_it_does_not_follow() -> None:
    tracker = LatencyTracker(NodeMetrics())
    tracker.record("O-1", Point.FILL, 1)
    assert len(tracker) == 0


def test_tracker_forgets_canceled_orders_and_bounds_its_memory() -> None:
    metrics = NodeMetrics()
    tracker = LatencyTracker(metrics, max_orders=3)
    tracker.record("O-1", Point.SENT, 0)
    tracker.forget("O-1")
    tracker.forget("O-unknown")
    assert len(tracker) == 0
    for n in range(10):
        tracker.record(f"O-{n}", Point.SENT, n)
    assert len(tracker) == 3
    tracker.record("O-0", Point.ACK, 100)  # evicted long ago: no sent time left
    tracker.record("O-9", Point.ACK, 100)
    assert _stage_count(metrics, Stage.ORDER_SENT_TO_ACK) == 1


def test_percentiles_report_p50_and_p99_of_the_samples() -> None:
    metrics = NodeMetrics()
    assert metrics.percentiles(Stage.TICK_TO_ORDER) is None
    for n in range(1, 101):
        metrics.observe_stage(Stage.TICK_TO_ORDER, n / 1e6)
    p50, p99 = metrics.percentiles("tick_to_order") or (0.0, 0.0)
    assert p50 == pytest.approx(50e-6)
    assert p99 == pytest.approx(99e-6)
    assert metrics.stage_count(Stage.TICK_TO_ORDER) == 100


def test_reservoir_stays_bounded_and_still_represents_the_whole_session() -> None:
    metrics = NodeMetrics(reservoir_size=500)
    for n in range(20_000):
        metrics.observe_stage(Stage.TICK_TO_ORDER, (n % 1000) / 1e6)  # uniform 0..999 us
    p50, p99 = metrics.percentiles(Stage.TICK_TO_ORDER) or (0.0, 0.0)
    assert metrics.stage_count(Stage.TICK_TO_ORDER) == 20_000
    assert 400e-6 < p50 < 600e-6
    assert 950e-6 < p99 < 1000e-6


def test_histogram_quantile_estimates_from_scraped_buckets() -> None:
    metrics = NodeMetrics()
    assert histogram_quantile(metrics.render().decode(), Stage.TICK_TO_ORDER, 0.5) is None
    for _ in range(90):
        metrics.observe_stage(Stage.TICK_TO_ORDER, 30e-6)  # bucket (25 us, 50 us]
    for _ in range(10):
        metrics.observe_stage(Stage.TICK_TO_ORDER, 3e-3)  # bucket (2.5 ms, 5 ms]
    text = metrics.render().decode()
    p50 = histogram_quantile(text, Stage.TICK_TO_ORDER, 0.5)
    p99 = histogram_quantile(text, "tick_to_order", 0.99)
    assert p50 is not None and 25e-6 < p50 <= 50e-6
    assert p99 is not None and 2.5e-3 < p99 <= 5e-3
    with pytest.raises(ValueError):
        histogram_quantile(text, Stage.TICK_TO_ORDER, 1.5)


# -- the endpoint -------------------------------------------------------------------------------


def test_metrics_endpoint_serves_histogram_buckets_after_observations() -> None:
    metrics = NodeMetrics()
    tracker = LatencyTracker(metrics)
    tracker.start("O-1", tick_ns=0, signal_ns=10 * US, risk_ns=20 * US)
    tracker.record("O-1", Point.SENT, 120 * US)
    metrics.order(OrderOutcome.SUBMITTED)

    async def scrape() -> tuple[int, str, str]:
        async with MetricsServer(metrics) as server, aiohttp.ClientSession() as session:
            assert server.url.startswith("http://127.0.0.1:")
            async with session.get(f"{server.url}/metrics") as response:
                return response.status, response.headers["Content-Type"], await response.text()

    status, content_type, text = asyncio.run(scrape())
    assert status == 200
    assert content_type.startswith("text/plain")
    assert "# TYPE bot4_stage_latency_seconds histogram" in text
    assert 'bot4_stage_latency_seconds_bucket{le="0.0001",stage="tick_to_order"} 0.0' in text
    assert 'bot4_stage_latency_seconds_bucket{le="0.00025",stage="tick_to_order"} 1.0' in text
    assert 'bot4_stage_latency_seconds_bucket{le="+Inf",stage="tick_to_order"} 1.0' in text
    assert 'bot4_stage_latency_seconds_count{stage="tick_to_signal"} 1.0' in text
    assert 'bot4_orders_total{outcome="submitted"} 1.0' in text


def test_metrics_port_in_use_is_a_config_error_naming_the_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        async def start() -> None:
            server = MetricsServer(NodeMetrics(), port=port)
            await server.start()
            await server.stop()

        with pytest.raises(ConfigError) as caught:
            asyncio.run(start())
    assert caught.value.context["key"] == "metrics.port"
    assert f"port {port} is already in use" in str(caught.value)


def test_metrics_server_stop_is_idempotent_and_port_needs_a_start() -> None:
    server = MetricsServer(NodeMetrics())
    with pytest.raises(InvalidInputError, match="not started"):
        _ = server.port

    async def cycle() -> None:
        await server.start()
        await server.stop()
        await server.stop()

    asyncio.run(cycle())
