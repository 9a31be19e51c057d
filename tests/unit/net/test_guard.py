"""One guarded attempt: breaker first, then rate limit; all released, venue answers fed back."""

from __future__ import annotations

import asyncio

import pytest

from bot4.core.clock import TestClock
from bot4.core.errors import (
    CircuitOpenError,
    InternalError,
    RateLimitedError,
    VenueBannedError,
    VenueTimeoutError,
)
from bot4.core.ids import Venue
from bot4.model.status import CircuitState
from bot4.net.breaker import BreakerConfig, BreakerRegistry, CircuitBreaker
from bot4.net.guard import attempt
from bot4.net.ratelimit import RateLimit, RateLimiter

BINANCE = Venue("BINANCE")
SEC = 1_000_000_000
WEIGHT = RateLimit(name="REQUEST_WEIGHT", limit=10, window=1.0)


class FakeTime:
    """Time that moves only when the limiter sleeps; ``hold`` (an unset event) blocks sleeps."""

    def __init__(self) -> None:
        self.t = 0.0
        self.hold: asyncio.Event | None = None

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        if self.hold is not None:
            await self.hold.wait()
        self.t += seconds
        await asyncio.sleep(0)


class Setup:
    """A breaker registry on a TestClock and a limiter on fake time, for one venue."""

    def __init__(self) -> None:
        self.clock = TestClock()
        self.breakers = BreakerRegistry(
            self.clock, default=BreakerConfig(failure_threshold=1, cooldown=5.0)
        )
        self.breaker = self.breakers.get(BINANCE, "order", critical=True)
        self.time = FakeTime()
        self.limiter = RateLimiter(
            BINANCE, [WEIGHT], now=self.time.now, sleep=self.time.sleep, breakers=self.breakers
        )

    def half_open(self) -> CircuitBreaker:
        self.breaker.trip("test")
        self.clock.set_time(self.clock.timestamp_ns() + 5 * SEC)
        assert self.breaker.state is CircuitState.HALF_OPEN
        return self.breaker


COSTS = {"REQUEST_WEIGHT": 1}


def test_attempt_success_spends_rate_limit_and_records_success() -> None:
    s = Setup()
    breaker = s.half_open()

    async def main() -> None:
        async with attempt(breaker=breaker, limiter=s.limiter, costs=COSTS):
            assert not breaker.allow()  # the trial slot is held during the call

    asyncio.run(main())
    assert breaker.state is CircuitState.CLOSED
    assert s.limiter.stats.used == {"REQUEST_WEIGHT": 1}


def test_attempt_without_breaker_or_limiter_just_runs() -> None:
    async def main() -> str:
        async with attempt():
            return "ran"

    assert asyncio.run(main()) == "ran"


def test_attempt_releases_half_open_slot_on_exception() -> None:
    s = Setup()
    breaker = s.half_open()

    async def main() -> None:
        async with attempt(breaker=breaker, limiter=s.limiter, costs=COSTS):
            raise InternalError("bug in the adapter")

    with pytest.raises(InternalError):
        asyncio.run(main())
    assert breaker.state is CircuitState.HALF_OPEN
    assert breaker.allow()


def test_attempt_records_transient_failure_through_the_permit() -> None:
    s = Setup()
    breaker = s.half_open()

    async def main() -> None:
        async with attempt(breaker=breaker, limiter=s.limiter, costs=COSTS):
            raise VenueTimeoutError("no answer")

    with pytest.raises(VenueTimeoutError):
        asyncio.run(main())
    assert breaker.state is CircuitState.OPEN


def test_attempt_releases_half_open_slot_on_cancellation() -> None:
    s = Setup()
    breaker = s.half_open()

    async def call() -> None:
        async with attempt(breaker=breaker, limiter=s.limiter, costs=COSTS):
            await asyncio.Event().wait()

    async def main() -> None:
        task = asyncio.create_task(call())
        await asyncio.sleep(0)
        assert not breaker.allow()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert breaker.state is CircuitState.HALF_OPEN
    assert breaker.allow()
    assert breaker.stats.abandoned_calls == 1


def test_attempt_cancelled_while_waiting_for_rate_limit_releases_slot_and_spends_nothing() -> None:
    s = Setup()
    breaker = s.half_open()

    async def main() -> None:
        s.time.hold = asyncio.Event()  # never set: the call waits for the limiter until cancelled
        await s.limiter.acquire({"REQUEST_WEIGHT": 10})
        entered = False

        async def call() -> None:
            nonlocal entered
            async with attempt(breaker=breaker, limiter=s.limiter, costs=COSTS):
                entered = True

        task = asyncio.create_task(call())
        await asyncio.sleep(0)
        assert not breaker.allow()  # the slot is held while it waits for the limiter
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not entered

    asyncio.run(main())
    assert breaker.state is CircuitState.HALF_OPEN
    assert breaker.allow()
    assert s.limiter.stats.granted == 1


def test_attempt_refused_by_limiter_tells_the_breaker_nothing() -> None:
    s = Setup()
    breaker = s.half_open()

    async def main() -> None:
        await s.limiter.acquire({"REQUEST_WEIGHT": 10})
        async with attempt(breaker=breaker, limiter=s.limiter, costs=COSTS, max_wait=0.1):
            pytest.fail("the call must not be made")

    with pytest.raises(RateLimitedError) as info:
        asyncio.run(main())
    assert info.value.retry_after == 1.0
    assert breaker.state is CircuitState.HALF_OPEN  # neither reopened nor closed
    assert breaker.allow()
    stats = s.limiter.stats
    assert not stats.paused  # our own refusal is not the venue's 429


def test_attempt_open_circuit_refuses_before_spending_rate_limit() -> None:
    s = Setup()
    s.breaker.trip("venue down")

    async def main() -> None:
        async with attempt(breaker=s.breaker, limiter=s.limiter, costs={"REQUEST_WEIGHT": 5}):
            pytest.fail("the call must not be made")

    with pytest.raises(CircuitOpenError):
        asyncio.run(main())
    stats = s.limiter.stats
    assert stats.used == {"REQUEST_WEIGHT": 0}
    assert stats.granted == 0


def test_attempt_pauses_limiter_on_429_with_retry_after() -> None:
    s = Setup()

    async def main() -> None:
        async with attempt(breaker=s.breaker, limiter=s.limiter, costs=COSTS):
            raise RateLimitedError("429 Too Many Requests", retry_after=2.0)

    with pytest.raises(RateLimitedError):
        asyncio.run(main())
    assert s.limiter.stats.paused_until == 2.0

    async def next_call() -> float:
        return await s.limiter.acquire(COSTS)

    assert asyncio.run(next_call()) == 2.0


def test_attempt_429_without_retry_after_does_not_pause() -> None:
    s = Setup()

    async def main() -> None:
        async with attempt(limiter=s.limiter, costs=COSTS):
            raise RateLimitedError("429 Too Many Requests")

    with pytest.raises(RateLimitedError):
        asyncio.run(main())
    assert not s.limiter.stats.paused


def test_attempt_bans_venue_on_418_and_trips_its_breakers() -> None:
    s = Setup()
    rest = s.breakers.get(BINANCE, "rest")

    async def main() -> None:
        async with attempt(breaker=s.breaker, limiter=s.limiter, costs=COSTS):
            raise VenueBannedError("418 I'm a teapot", retry_after=120.0)

    with pytest.raises(VenueBannedError):
        asyncio.run(main())
    stats = s.limiter.stats
    assert stats.banned
    assert stats.banned_until == 120.0
    assert (s.breaker.state, rest.state) == (CircuitState.OPEN, CircuitState.OPEN)

    async def next_call() -> None:
        await s.limiter.acquire(COSTS)

    with pytest.raises(VenueBannedError):
        asyncio.run(next_call())
