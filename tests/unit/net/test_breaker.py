"""Circuit breakers: every transition, what counts as a failure, events on the bus."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot4.core.bus import MessageBus
from bot4.core.clock import TestClock
from bot4.core.errors import (
    CircuitOpenError,
    ConfigError,
    DisconnectedError,
    InternalError,
    InvalidOrderError,
    RateLimitedError,
    VenueBannedError,
    VenueRejectedError,
    VenueTimeoutError,
)
from bot4.core.ids import Venue
from bot4.model.status import CIRCUIT_TOPIC, CircuitState, CircuitStateChanged
from bot4.net.breaker import BreakerConfig, BreakerRegistry, CircuitBreaker

BINANCE = Venue("BINANCE")
SEC = 1_000_000_000
CLOSED, OPEN, HALF_OPEN = CircuitState.CLOSED, CircuitState.OPEN, CircuitState.HALF_OPEN


class Harness:
    """A breaker on a TestClock with every published CircuitStateChanged captured."""

    def __init__(self, config: BreakerConfig, *, critical: bool = False) -> None:
        self.clock = TestClock(1_000 * SEC)
        self.bus = MessageBus()
        self.events: list[CircuitStateChanged] = []
        self.bus.subscribe(CIRCUIT_TOPIC, self.events.append)
        self.breaker = CircuitBreaker(
            BINANCE, "order", config, self.clock, self.bus, critical=critical
        )

    def advance(self, seconds: float) -> None:
        self.clock.set_time(self.clock.timestamp_ns() + int(seconds * SEC))

    def transitions(self) -> list[tuple[CircuitState, CircuitState]]:
        return [(event.previous, event.state) for event in self.events]


def fail_through_permit(breaker: CircuitBreaker, exc: BaseException) -> None:
    with pytest.raises(type(exc)), breaker.permit():
        raise exc


def open_breaker(h: Harness) -> None:
    h.breaker.trip("test")
    assert h.breaker.state is OPEN


# -- config ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("failure_threshold", 0),
        ("failure_rate", 0.0),
        ("failure_rate", 1.5),
        ("window", 0),
        ("min_calls", 0),
        ("min_calls", 21),
        ("cooldown", -1.0),
        ("half_open_max_calls", 0),
        ("success_threshold", 0),
    ],
)
def test_breaker_config_rejects_bad_value_naming_key(key: str, value: Any) -> None:
    with pytest.raises(ConfigError) as info:
        BreakerConfig(**{key: value})
    assert info.value.context["key"] == key


# -- CLOSED -> OPEN -------------------------------------------------------------------------


def test_breaker_opens_after_consecutive_failures() -> None:
    h = Harness(BreakerConfig(failure_threshold=3))
    for _ in range(2):
        fail_through_permit(h.breaker, VenueTimeoutError("slow"))
    assert h.breaker.state is CLOSED
    fail_through_permit(h.breaker, DisconnectedError("gone"))
    assert h.breaker.state is OPEN
    assert h.transitions() == [(CLOSED, OPEN)]
    assert "3 consecutive failures" in h.events[0].reason
    assert "DisconnectedError" in h.events[0].reason


def test_breaker_success_resets_consecutive_failures() -> None:
    h = Harness(BreakerConfig(failure_threshold=3))
    for _ in range(5):
        h.breaker.record_failure("timeout")
        h.breaker.record_failure("timeout")
        h.breaker.record_success()
    assert h.breaker.state is CLOSED
    assert h.events == []


def test_breaker_opens_on_failure_rate_over_window() -> None:
    config = BreakerConfig(failure_threshold=100, failure_rate=0.5, window=10, min_calls=6)
    h = Harness(config)
    # Alternate: never two failures in a row, so only the rate can open it.
    h.breaker.record_failure("a")
    h.breaker.record_success()
    h.breaker.record_failure("b")
    h.breaker.record_success()
    h.breaker.record_failure("c")
    assert h.breaker.state is CLOSED  # 3/5 failed but fewer than min_calls calls
    h.breaker.record_success()  # 3/6: exactly at the rate, but only a failure re-checks
    assert h.breaker.state is CLOSED
    h.breaker.record_failure("d")  # 4/7 >= 0.5
    assert h.breaker.state is OPEN
    assert "4 of the last 7 calls failed" in h.events[0].reason


def test_breaker_failure_rate_looks_only_at_last_window_calls() -> None:
    config = BreakerConfig(failure_threshold=100, failure_rate=0.5, window=4, min_calls=4)
    h = Harness(config)
    for _ in range(3):
        h.breaker.record_failure("old")
    for _ in range(4):
        h.breaker.record_success()  # pushes the old failures out of the window
    h.breaker.record_failure("new")  # 1 of the last 4
    assert h.breaker.state is CLOSED


def test_breaker_counts_rejection_and_invalid_input_as_success() -> None:
    h = Harness(BreakerConfig(failure_threshold=2))
    fail_through_permit(h.breaker, VenueTimeoutError("slow"))
    fail_through_permit(h.breaker, VenueRejectedError("insufficient balance"))
    fail_through_permit(h.breaker, VenueTimeoutError("slow"))
    fail_through_permit(h.breaker, InvalidOrderError("below min notional"))
    fail_through_permit(h.breaker, RateLimitedError("429", retry_after=1.0))
    assert h.breaker.state is CLOSED
    stats = h.breaker.stats
    assert (stats.successes, stats.failures, stats.calls) == (2, 3, 5)


def test_breaker_counts_ban_as_failure() -> None:
    h = Harness(BreakerConfig(failure_threshold=1))
    fail_through_permit(h.breaker, VenueBannedError("418", retry_after=60.0))
    assert h.breaker.state is OPEN


def test_breaker_records_nothing_for_bugs_and_foreign_breaker_refusals() -> None:
    h = Harness(BreakerConfig(failure_threshold=1))
    fail_through_permit(h.breaker, InternalError("impossible"))
    fail_through_permit(h.breaker, ValueError("bug"))
    fail_through_permit(h.breaker, CircuitOpenError("inner breaker open"))
    assert h.breaker.state is CLOSED
    stats = h.breaker.stats
    assert (stats.successes, stats.failures, stats.abandoned_calls, stats.calls) == (0, 0, 3, 3)


# -- OPEN -----------------------------------------------------------------------------------


def test_open_breaker_refuses_with_circuit_open_error() -> None:
    h = Harness(BreakerConfig(cooldown=30.0))
    open_breaker(h)
    h.advance(10)
    assert not h.breaker.allow()
    ran = False
    with pytest.raises(CircuitOpenError) as info, h.breaker.permit():
        ran = True
    assert not ran
    assert info.value.context["venue"] == "BINANCE"
    assert info.value.context["endpoint"] == "order"
    assert info.value.context["retry_in"] == pytest.approx(20.0)
    assert h.breaker.stats.rejected_calls == 1


def test_open_breaker_ignores_late_outcomes() -> None:
    h = Harness(BreakerConfig())
    open_breaker(h)
    h.breaker.record_success()
    h.breaker.record_failure("late")
    assert h.breaker.state is OPEN
    assert h.transitions() == [(CLOSED, OPEN)]


def test_open_breaker_turns_half_open_after_cooldown() -> None:
    h = Harness(BreakerConfig(cooldown=30.0))
    open_breaker(h)
    h.advance(29.999)
    assert h.breaker.state is OPEN
    assert h.breaker.retry_in() == pytest.approx(0.001)
    h.advance(0.001)
    assert h.breaker.state is HALF_OPEN
    assert h.transitions() == [(CLOSED, OPEN), (OPEN, HALF_OPEN)]
    assert h.events[-1].ts_event == h.clock.timestamp_ns()
    assert h.breaker.allow()


# -- HALF_OPEN ------------------------------------------------------------------------------


def half_open(config: BreakerConfig) -> Harness:
    h = Harness(config)
    open_breaker(h)
    h.advance(config.cooldown)
    assert h.breaker.state is HALF_OPEN
    return h


def test_half_open_admits_at_most_max_calls_at_once() -> None:
    h = half_open(BreakerConfig(cooldown=5.0, half_open_max_calls=2, success_threshold=3))
    first, second, third = h.breaker.permit(), h.breaker.permit(), h.breaker.permit()
    first.__enter__()
    second.__enter__()
    assert not h.breaker.allow()
    with pytest.raises(CircuitOpenError):
        third.__enter__()
    first.__exit__(None, None, None)  # a success frees its slot
    assert h.breaker.allow()
    with h.breaker.permit():
        assert not h.breaker.allow()
    second.__exit__(None, None, None)
    assert h.breaker.state is CLOSED  # three trial successes


def test_half_open_trial_success_closes_the_circuit() -> None:
    h = half_open(BreakerConfig(cooldown=5.0))
    with h.breaker.permit():
        pass
    assert h.breaker.state is CLOSED
    assert h.transitions() == [(CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, CLOSED)]
    assert h.events[-1].reason == "1 trial call(s) succeeded"


def test_half_open_needs_success_threshold_trials_to_close() -> None:
    h = half_open(BreakerConfig(cooldown=5.0, success_threshold=2))
    with h.breaker.permit():
        pass
    assert h.breaker.state is HALF_OPEN
    with h.breaker.permit():
        pass
    assert h.breaker.state is CLOSED


def test_half_open_trial_failure_reopens_and_restarts_cooldown() -> None:
    h = half_open(BreakerConfig(cooldown=5.0, success_threshold=2))
    with h.breaker.permit():
        pass
    fail_through_permit(h.breaker, VenueTimeoutError("still slow"))
    assert h.breaker.state is OPEN
    assert h.transitions()[-1] == (HALF_OPEN, OPEN)
    assert h.events[-1].reason.startswith("trial call failed: VenueTimeoutError")
    h.advance(4.9)
    assert h.breaker.state is OPEN
    h.advance(0.1)
    assert h.breaker.state is HALF_OPEN


def test_recovered_breaker_starts_counting_failures_afresh() -> None:
    h = half_open(BreakerConfig(cooldown=5.0, failure_threshold=2))
    with h.breaker.permit():
        pass
    h.breaker.record_failure("one")
    assert h.breaker.state is CLOSED
    h.breaker.record_failure("two")
    assert h.breaker.state is OPEN
    assert h.breaker.stats.opened_count == 2


def test_cancelled_trial_releases_slot_without_recording() -> None:
    h = half_open(BreakerConfig(cooldown=5.0))

    async def trial() -> None:
        with h.breaker.permit():
            await asyncio.sleep(10)

    async def main() -> None:
        task = asyncio.create_task(trial())
        await asyncio.sleep(0)
        assert not h.breaker.allow()  # the trial holds the only slot
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert h.breaker.state is HALF_OPEN
    assert h.breaker.allow()
    stats = h.breaker.stats
    assert (stats.successes, stats.failures, stats.abandoned_calls) == (0, 0, 1)


def test_keyboard_interrupt_releases_slot_and_propagates() -> None:
    h = half_open(BreakerConfig(cooldown=5.0))
    with pytest.raises(KeyboardInterrupt), h.breaker.permit():
        raise KeyboardInterrupt
    assert h.breaker.state is HALF_OPEN
    assert h.breaker.allow()


def test_discarded_permit_records_nothing() -> None:
    h = half_open(BreakerConfig(cooldown=5.0))
    with pytest.raises(VenueTimeoutError), h.breaker.permit() as permit:
        permit.discard()
        raise VenueTimeoutError("never sent")
    assert h.breaker.state is HALF_OPEN
    assert h.breaker.allow()


def test_stale_outcome_from_before_the_outage_moves_no_state() -> None:
    h = Harness(BreakerConfig(cooldown=5.0))
    slow = h.breaker.permit()
    slow.__enter__()  # admitted while CLOSED
    open_breaker(h)
    h.advance(5)
    assert h.breaker.state is HALF_OPEN
    slow.__exit__(None, None, None)  # its success says nothing about the venue now
    assert h.breaker.state is HALF_OPEN
    assert h.breaker.stats.successes == 1


# -- trip / reset ---------------------------------------------------------------------------


def test_trip_forces_open_and_reset_forces_closed() -> None:
    h = Harness(BreakerConfig(cooldown=5.0))
    h.breaker.trip("banned")
    assert h.breaker.state is OPEN
    h.breaker.reset("operator")
    assert h.breaker.state is CLOSED
    assert [(e.previous, e.state, e.reason) for e in h.events] == [
        (CLOSED, OPEN, "banned"),
        (OPEN, CLOSED, "operator"),
    ]


def test_trip_of_open_breaker_restarts_cooldown_without_event() -> None:
    h = Harness(BreakerConfig(cooldown=5.0))
    h.breaker.trip("first")
    h.advance(4)
    h.breaker.trip("again")
    h.advance(4)
    assert h.breaker.state is OPEN
    assert len(h.events) == 1
    assert h.breaker.stats.last_reason == "again"


def test_trip_during_half_open_trial_ignores_its_late_outcome() -> None:
    h = half_open(BreakerConfig(cooldown=5.0))
    permit = h.breaker.permit()
    permit.__enter__()
    h.breaker.trip("stream gave up")
    permit.__exit__(None, None, None)
    assert h.breaker.state is OPEN


# -- events ---------------------------------------------------------------------------------


def test_breaker_publishes_every_change_in_order_with_fields() -> None:
    h = Harness(BreakerConfig(failure_threshold=1, cooldown=2.0), critical=True)
    t0 = h.clock.timestamp_ns()
    h.breaker.record_failure("timeout")
    h.advance(2)
    assert h.breaker.state is HALF_OPEN
    h.breaker.record_success()
    assert h.events == [
        CircuitStateChanged(
            venue=BINANCE,
            endpoint="order",
            state=OPEN,
            previous=CLOSED,
            reason="1 consecutive failures; last: timeout",
            critical=True,
            ts_event=t0,
            ts_init=t0,
        ),
        CircuitStateChanged(
            venue=BINANCE,
            endpoint="order",
            state=HALF_OPEN,
            previous=OPEN,
            reason="cooldown of 2.0s elapsed",
            critical=True,
            ts_event=t0 + 2 * SEC,
            ts_init=t0 + 2 * SEC,
        ),
        CircuitStateChanged(
            venue=BINANCE,
            endpoint="order",
            state=CLOSED,
            previous=HALF_OPEN,
            reason="1 trial call(s) succeeded",
            critical=True,
            ts_event=t0 + 2 * SEC,
            ts_init=t0 + 2 * SEC,
        ),
    ]


def test_breaker_without_bus_still_works() -> None:
    breaker = CircuitBreaker(BINANCE, "rest", BreakerConfig(failure_threshold=1), TestClock())
    breaker.record_failure("x")
    assert breaker.state is OPEN
    assert breaker.stats.opened_count == 1


# -- registry -------------------------------------------------------------------------------


def test_registry_returns_same_breaker_per_venue_and_endpoint() -> None:
    registry = BreakerRegistry(TestClock())
    order = registry.get(BINANCE, "order", critical=True)
    assert registry.get(BINANCE, "order", critical=True) is order
    assert registry.get(BINANCE, "rest") is not order
    assert registry.get(Venue("BYBIT"), "order", critical=True) is not order
    assert len(registry.breakers()) == 3


def test_registry_applies_endpoint_overrides() -> None:
    fast = BreakerConfig(cooldown=1.0)
    registry = BreakerRegistry(
        TestClock(), default=BreakerConfig(cooldown=60.0), overrides={"order": fast}
    )
    assert registry.get(BINANCE, "order").config is fast
    assert registry.get(BINANCE, "rest").config.cooldown == 60.0


def test_registry_rejects_conflicting_critical_flag() -> None:
    registry = BreakerRegistry(TestClock())
    registry.get(BINANCE, "order", critical=True)
    with pytest.raises(ConfigError) as info:
        registry.get(BINANCE, "order")
    assert info.value.context["key"] == "critical"


def test_registry_trip_venue_opens_only_that_venues_breakers() -> None:
    bus = MessageBus()
    events: list[CircuitStateChanged] = []
    bus.subscribe(CIRCUIT_TOPIC, events.append)
    registry = BreakerRegistry(TestClock(), bus)
    order, rest = registry.get(BINANCE, "order", critical=True), registry.get(BINANCE, "rest")
    other = registry.get(Venue("BYBIT"), "order", critical=True)
    registry.trip_venue(BINANCE, "banned")
    assert (order.state, rest.state, other.state) == (OPEN, OPEN, CLOSED)
    assert [(e.endpoint, e.critical, e.reason) for e in events] == [
        ("order", True, "banned"),
        ("rest", False, "banned"),
    ]
