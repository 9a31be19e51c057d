"""The node's Prometheus metrics, the order-latency tracker that feeds them, and ``/metrics``.

::

    bot4_stage_latency_seconds{stage}        histogram, 10 us .. 10 s; stages below
    bot4_orders_total{outcome}               submitted, accepted, filled, canceled, rejected, denied
    bot4_rejects_total{reason}               the venue's or risk's reason code
    bot4_reconnects_total{venue,stream}
    bot4_book_resyncs_total{venue,instrument}
    bot4_rate_limit_waits_total{venue}
    bot4_breaker_state{venue,endpoint}       0 closed, 1 half-open, 2 open
    bot4_store_queue_depth                   writes appended and not committed yet
    bot4_store_pool{stat}                    the store's connection pool (size, in_use, ...)
    bot4_pnl{currency,kind}                  realized, unrealized, equity
    bot4_exposure{instrument}                signed notional, in the instrument's quote currency
    bot4_trading_state                       0 active, 1 reducing, 2 halted

Every :class:`NodeMetrics` has its own ``CollectorRegistry`` (never prometheus-client's global
one), so two nodes, or two tests, in one process do not share counters.

The order stages follow one order from the market event that caused it to its first fill::

    tick --tick_to_signal--> signal --signal_to_risk--> risk --risk_to_order_sent--> sent
         --order_sent_to_ack--> ack --ack_to_fill--> fill;   tick_to_order = tick -> sent

:class:`LatencyTracker` takes the timestamps per client order id and observes each stage
whose two ends it has seen. Besides the histogram (what Prometheus scrapes), each stage keeps
a uniform reservoir of raw samples, so a session can report exact p50/p99 at its end;
:func:`histogram_quantile` estimates them from a scraped ``/metrics`` text instead.
"""

from __future__ import annotations

import math
import random
from collections import OrderedDict
from collections.abc import Mapping
from decimal import Decimal
from enum import Enum, StrEnum

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from bot4.core.ids import InstrumentId, Venue
from bot4.core.numbers import Money
from bot4.model.status import CircuitState
from bot4.node.api import LoopbackServer
from bot4.risk.state import TradingState

__all__ = [
    "LATENCY_BUCKETS",
    "LatencyTracker",
    "MetricsServer",
    "NodeMetrics",
    "OrderOutcome",
    "Point",
    "Stage",
    "histogram_quantile",
]

# 1-2.5-5 per decade from 10 us to 10 s: loopback stages take tens of microseconds, a venue
# round trip milliseconds, a resting limit order's wait for a fill seconds.
LATENCY_BUCKETS: tuple[float, ...] = tuple(
    round(mantissa * 10.0**exponent, 9) for exponent in range(-5, 1) for mantissa in (1.0, 2.5, 5.0)
) + (10.0,)

_RESERVOIR_SIZE = 10_000
_MAX_TRACKED_ORDERS = 10_000


class Stage(StrEnum):
    """One measured step of an order's way from a market event to its first fill."""

    TICK_TO_SIGNAL = "tick_to_signal"
    SIGNAL_TO_RISK = "signal_to_risk"
    RISK_TO_ORDER_SENT = "risk_to_order_sent"
    ORDER_SENT_TO_ACK = "order_sent_to_ack"
    ACK_TO_FILL = "ack_to_fill"
    TICK_TO_ORDER = "tick_to_order"


class OrderOutcome(StrEnum):
    """What happened to an order, counted in ``bot4_orders_total``."""

    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    DENIED = "denied"


class Point(Enum):
    """A moment in an order's life that :class:`LatencyTracker` records."""

    TICK = "tick"  # the market event the strategy reacted to arrived (its ts_init)
    SIGNAL = "signal"  # the strategy emitted the signal or order intent
    RISK = "risk"  # pre-trade risk passed the order
    SENT = "sent"  # the order was written to the venue
    ACK = "ack"  # the venue accepted it
    FILL = "fill"  # its first fill arrived


# (from, to, stage): the stages each point closes, looked up when the later point arrives.
_STAGES: dict[Point, tuple[tuple[Point, Stage], ...]] = {
    Point.SIGNAL: ((Point.TICK, Stage.TICK_TO_SIGNAL),),
    Point.RISK: ((Point.SIGNAL, Stage.SIGNAL_TO_RISK),),
    Point.SENT: ((Point.RISK, Stage.RISK_TO_ORDER_SENT), (Point.TICK, Stage.TICK_TO_ORDER)),
    Point.ACK: ((Point.SENT, Stage.ORDER_SENT_TO_ACK),),
    Point.FILL: ((Point.ACK, Stage.ACK_TO_FILL),),
}

_BREAKER_VALUE = {CircuitState.CLOSED: 0, CircuitState.HALF_OPEN: 1, CircuitState.OPEN: 2}

_Number = float | int | Decimal | Money


class NodeMetrics:
    """Every metric of one node, in one registry of its own."""

    def __init__(self, registry: CollectorRegistry | None = None, *,
                 reservoir_size: int = _RESERVOIR_SIZE, seed: int = 0) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self._stage_latency = Histogram(
            "bot4_stage_latency_seconds", "Time an order spends in each stage, tick to first fill",
            ["stage"], registry=r, buckets=LATENCY_BUCKETS,
        )
        self._orders = Counter("bot4_orders", "Orders by outcome", ["outcome"], registry=r)
        self._rejects = Counter("bot4_rejects", "Rejected or denied orders by reason code",
                                ["reason"], registry=r)
        self._reconnects = Counter("bot4_reconnects", "Stream reconnects", ["venue", "stream"],
                                   registry=r)
        self._resyncs = Counter("bot4_book_resyncs", "Order book resynchronisations",
                                ["venue", "instrument"], registry=r)
        self._rate_limit_waits = Counter("bot4_rate_limit_waits",
                                         "Requests that waited for the rate limiter", ["venue"],
                                         registry=r)
        self._breaker = Gauge("bot4_breaker_state",
                              "Circuit breaker state: 0 closed, 1 half-open, 2 open",
                              ["venue", "endpoint"], registry=r)
        self._store_queue = Gauge("bot4_store_queue_depth",
                                  "Store writes appended and not committed yet", registry=r)
        self._store_pool = Gauge("bot4_store_pool", "The store's connection pool", ["stat"],
                                 registry=r)
        self._pnl = Gauge("bot4_pnl", "Profit and loss and equity", ["currency", "kind"], registry=r)
        self._exposure = Gauge("bot4_exposure",
                               "Signed position notional in the instrument's quote currency",
                               ["instrument"], registry=r)
        self._trading_state = Gauge("bot4_trading_state",
                                    "Trading state: 0 active, 1 reducing, 2 halted", registry=r)
        for stage in Stage:  # every series exists from the start: a scrape shows empty buckets
            self._stage_latency.labels(stage=stage.value)
        for outcome in OrderOutcome:
            self._orders.labels(outcome=outcome.value)
        self._samples = {stage: _Reservoir(reservoir_size, random.Random(f"{seed}:{stage}"))
                         for stage in Stage}

    # -- latency ------------------------------------------------------------------------------

    def observe_stage(self, stage: Stage | str, seconds: float) -> None:
        """Record that one order spent ``seconds`` in ``stage``."""
        stage = Stage(stage)
        self._stage_latency.labels(stage=stage.value).observe(seconds)
        self._samples[stage].add(seconds)

    def percentiles(self, stage: Stage | str) -> tuple[float, float] | None:
        """``(p50, p99)`` in seconds of the stage's sampled durations; None before any."""
        return self._samples[Stage(stage)].percentiles()

    def stage_count(self, stage: Stage | str) -> int:
        """How many durations ``stage`` has recorded."""
        return self._samples[Stage(stage)].seen

    # -- counters -----------------------------------------------------------------------------

    def order(self, outcome: OrderOutcome | str) -> None:
        """Count one order reaching ``outcome``."""
        self._orders.labels(outcome=OrderOutcome(outcome).value).inc()

    def reject(self, reason: str) -> None:
        """Count one rejection or denial under its reason code (``-2010``, ``MAX_NOTIONAL``)."""
        self._rejects.labels(reason=reason or "unknown").inc()

    def reconnect(self, venue: Venue | str, stream: str) -> None:
        """Count one reconnect of ``stream`` at ``venue``."""
        self._reconnects.labels(venue=str(venue), stream=stream).inc()

    def resync(self, venue: Venue | str, instrument: InstrumentId | str) -> None:
        """Count one order book rebuilt from a fresh snapshot."""
        self._resyncs.labels(venue=str(venue), instrument=str(instrument)).inc()

    def rate_limit_wait(self, venue: Venue | str) -> None:
        """Count one request that had to wait for the venue's rate limiter."""
        self._rate_limit_waits.labels(venue=str(venue)).inc()

    # -- gauges -------------------------------------------------------------------------------

    def breaker(self, venue: Venue | str, endpoint: str, state: CircuitState) -> None:
        """Set the breaker state of ``endpoint`` at ``venue``."""
        self._breaker.labels(venue=str(venue), endpoint=endpoint).set(_BREAKER_VALUE[state])

    def set_store(self, queue_depth: int, pool_stats: Mapping[str, float] | None = None) -> None:
        """Set the store's queue depth and its pool figures (``size``, ``in_use``, ``idle``...)."""
        self._store_queue.set(queue_depth)
        for stat, value in (pool_stats or {}).items():
            self._store_pool.labels(stat=stat).set(value)

    def set_pnl(self, currency: str, *, realized: _Number | None = None,
                unrealized: _Number | None = None, equity: _Number | None = None) -> None:
        """Set the PnL figures of ``currency`` that are given; the others keep their value."""
        for kind, value in (("realized", realized), ("unrealized", unrealized), ("equity", equity)):
            if value is not None:
                self._pnl.labels(currency=str(currency), kind=kind).set(_to_float(value))

    def set_exposure(self, instrument: InstrumentId | str, notional: _Number) -> None:
        """Set the signed notional held in ``instrument`` (negative when short)."""
        self._exposure.labels(instrument=str(instrument)).set(_to_float(notional))

    def set_trading_state(self, state: TradingState) -> None:
        """Set the trading state: 0 active, 1 reducing, 2 halted."""
        self._trading_state.set(state.severity)

    # -- exposition ---------------------------------------------------------------------------

    def render(self) -> bytes:
        """The registry in the Prometheus text format, as ``/metrics`` serves it."""
        return generate_latest(self.registry)


class LatencyTracker:
    """Follow orders by client order id and observe each stage when its later end arrives.

    ``record`` keeps the first time of each point (a repeated ack changes nothing) and ignores
    a stage that would be negative (an ack processed after the fill). At most ``max_orders``
    orders are followed: the oldest is dropped first. An order is forgotten at its first fill
    (nothing is measured after it) or when ``forget`` is called for a cancel, rejection or
    denial.
    """

    def __init__(self, metrics: NodeMetrics, *, max_orders: int = _MAX_TRACKED_ORDERS) -> None:
        if max_orders < 1:
            raise ValueError(f"max_orders must be at least 1, got {max_orders}")
        self.metrics = metrics
        self.max_orders = max_orders
        self._orders: OrderedDict[str, dict[Point, int]] = OrderedDict()

    def record(self, client_order_id: object, point: Point, ts_ns: int) -> None:
        """Note that the order reached ``point`` at ``ts_ns`` and observe the stages it closes."""
        key = str(client_order_id)
        points = self._orders.get(key)
        if points is None:
            if point is Point.FILL:  # its start is unknown (or already forgotten): nothing to do
                return
            points = {}
            self._orders[key] = points
            if len(self._orders) > self.max_orders:
                self._orders.popitem(last=False)
        if point in points:
            return
        points[point] = ts_ns
        for start, stage in _STAGES.get(point, ()):
            began = points.get(start)
            if began is not None and ts_ns >= began:
                self.metrics.observe_stage(stage, (ts_ns - began) / 1e9)
        if point is Point.FILL:
            del self._orders[key]

    def start(self, client_order_id: object, *, tick_ns: int | None = None,
              signal_ns: int | None = None, risk_ns: int | None = None) -> None:
        """Record the points reached before the order had its id (tick, signal, risk) at once."""
        for point, ts in ((Point.TICK, tick_ns), (Point.SIGNAL, signal_ns), (Point.RISK, risk_ns)):
            if ts is not None:
                self.record(client_order_id, point, ts)

    def forget(self, client_order_id: object) -> None:
        """Stop following an order that ended without a fill (canceled, rejected, denied)."""
        self._orders.pop(str(client_order_id), None)

    def percentiles(self, stage: Stage | str) -> tuple[float, float] | None:
        """``(p50, p99)`` in seconds of ``stage`` so far; None before the first sample."""
        return self.metrics.percentiles(stage)

    def __len__(self) -> int:
        return len(self._orders)


class MetricsServer(LoopbackServer):
    """Serve ``GET /metrics`` (Prometheus text format) for ``metrics`` on ``host:port``."""

    def __init__(self, metrics: NodeMetrics, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host=host, port=port, config_key="metrics.port", what="metrics endpoint")
        self.metrics = metrics

    def _application(self) -> web.Application:
        app = web.Application()
        app.add_routes([web.get("/metrics", self._serve)])
        return app

    async def _serve(self, request: web.Request) -> web.Response:
        response = web.Response(body=self.metrics.render())
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response


def histogram_quantile(metrics_text: str, stage: Stage | str, q: float) -> float | None:
    """Estimate the ``q`` quantile (seconds) of ``stage`` from a scraped ``/metrics`` text.

    Interpolate linearly inside the bucket that holds the rank, as Prometheus's
    ``histogram_quantile`` does; None when the stage has no observation.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be within [0, 1], got {q}")
    wanted = Stage(stage).value
    buckets: list[tuple[float, float]] = []
    for family in text_string_to_metric_families(metrics_text):
        if family.name != "bot4_stage_latency_seconds":
            continue
        for sample in family.samples:
            if sample.name.endswith("_bucket") and sample.labels.get("stage") == wanted:
                buckets.append((float(sample.labels["le"]), sample.value))
    buckets.sort()
    if not buckets or buckets[-1][1] == 0:
        return None
    total = buckets[-1][1]
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):  # beyond the last finite bucket: its bound is all we know
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return buckets[-1][0]


class _Reservoir:
    """A uniform sample of at most ``size`` values of a stream (Vitter's algorithm R)."""

    def __init__(self, size: int, rng: random.Random) -> None:
        self._size = size
        self._rng = rng
        self._values: list[float] = []
        self.seen = 0

    def add(self, value: float) -> None:
        self.seen += 1
        if len(self._values) < self._size:
            self._values.append(value)
            return
        slot = self._rng.randrange(self.seen)
        if slot < self._size:
            self._values[slot] = value

    def percentiles(self) -> tuple[float, float] | None:
        if not self._values:
            return None
        ordered = sorted(self._values)
        return _nearest_rank(ordered, 0.50), _nearest_rank(ordered, 0.99)


def _nearest_rank(ordered: list[float], q: float) -> float:
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _to_float(value: _Number) -> float:
    return value.as_double() if isinstance(value, Money) else float(value)
