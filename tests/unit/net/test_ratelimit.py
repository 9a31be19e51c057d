"""Rate limiter: the sliding-window bound, FIFO waiting, and what the venue tells us."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator, Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot4.core.clock import TestClock
from bot4.core.errors import (
    ConfigError,
    InvalidInputError,
    RateLimitedError,
    VenueBannedError,
)
from bot4.core.ids import Venue
from bot4.model.status import CircuitState
from bot4.net.breaker import BreakerRegistry
from bot4.net.ratelimit import (
    CostExceedsLimitError,
    RateLimit,
    RateLimiter,
    reset_shared_limiters,
    shared_limiter,
)

BINANCE = Venue("BINANCE")
WEIGHT = RateLimit(name="REQUEST_WEIGHT", limit=10, window=1.0, header="X-MBX-USED-WEIGHT-1M")
ORDERS = RateLimit(name="ORDERS", limit=100, window=10.0)


class FakeTime:
    """Time that moves only when the limiter sleeps; every sleep is recorded.

    ``before_sleep`` runs as a sleep starts (to look at the limiter while a request waits);
    while ``hold`` is set to an unset event, a sleep blocks until the event is set.
    """

    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []
        self.before_sleep: Callable[[], None] | None = None
        self.hold: asyncio.Event | None = None

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.before_sleep is not None:
            self.before_sleep()
        if self.hold is not None:
            await self.hold.wait()
        self.t += seconds
        await asyncio.sleep(0)


def fake_limiter(
    *limits: RateLimit, breakers: BreakerRegistry | None = None
) -> tuple[RateLimiter, FakeTime]:
    clock = FakeTime()
    limiter = RateLimiter(
        BINANCE, limits or (WEIGHT,), now=clock.now, sleep=clock.sleep, breakers=breakers
    )
    return limiter, clock


@pytest.fixture(autouse=True)
def _fresh_shared_limiters() -> Iterator[None]:
    reset_shared_limiters()
    yield
    reset_shared_limiters()


# -- the sliding-window bound, under concurrency, in real time ------------------------------


class RecordingNow:
    """The limiter's clock; ``last`` is the time of the last reading.

    The limiter reads the clock to grant and returns without yielding, so right after
    ``await acquire`` returns, ``last`` is the exact time it granted at.
    """

    def __init__(self) -> None:
        self.last = 0.0

    def __call__(self) -> float:
        self.last = time.monotonic()
        return self.last


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[RateLimit], list[list[tuple[dict[str, int], float]]]]:
    limits = [
        RateLimit(
            name=f"L{i}",
            limit=draw(st.integers(1, 8)),
            window=draw(st.floats(0.02, 0.1)),
        )
        for i in range(draw(st.integers(1, 3)))
    ]
    request = st.tuples(
        st.fixed_dictionaries({}, optional={lim.name: st.integers(0, lim.limit) for lim in limits}),
        # Think time before the next request: long ones land late in a window, where a
        # unit that came back too early would be caught.
        st.sampled_from([0.0, 0.0, 0.002, 0.01, 0.03]),
    )
    callers = draw(st.lists(st.lists(request, min_size=1, max_size=3), min_size=2, max_size=4))
    return limits, callers


@settings(max_examples=25, deadline=None)
@given(scenarios())
def test_limiter_never_grants_more_than_limit_in_any_window(
    scenario: tuple[list[RateLimit], list[list[tuple[dict[str, int], float]]]],
) -> None:
    limits, callers = scenario
    now = RecordingNow()
    limiter = RateLimiter(BINANCE, limits, now=now)
    grants: list[tuple[float, Mapping[str, int]]] = []

    async def caller(plan: list[tuple[dict[str, int], float]]) -> None:
        for costs, think in plan:
            await limiter.acquire(costs)
            grants.append((now.last, costs))
            await asyncio.sleep(think)

    async def main() -> None:
        async with asyncio.TaskGroup() as group:
            for plan in callers:
                group.create_task(caller(plan))

    asyncio.run(main())

    assert len(grants) == sum(len(plan) for plan in callers)
    for limit in limits:
        spent = [(t, costs.get(limit.name, 0)) for t, costs in grants]
        # The busiest window of length `window` starts at some grant: check each of those.
        for start, _ in spent:
            in_window = sum(cost for t, cost in spent if start <= t < start + limit.window)
            assert in_window <= limit.limit, (limit, start, spent)


# -- the sliding-window log, step by step on fake time --------------------------------------


def test_limiter_grants_at_once_within_limit() -> None:
    limiter, clock = fake_limiter()
    assert asyncio.run(limiter.acquire({"REQUEST_WEIGHT": 10})) == 0.0
    assert clock.sleeps == []
    assert limiter.stats.used == {"REQUEST_WEIGHT": 10}


def test_limiter_returns_units_exactly_one_window_after_they_were_spent() -> None:
    limiter, clock = fake_limiter()

    async def main() -> float:
        await limiter.acquire({"REQUEST_WEIGHT": 6})  # t=0
        clock.t = 0.5
        await limiter.acquire({"REQUEST_WEIGHT": 4})  # full now
        clock.t = 0.75
        return await limiter.acquire({"REQUEST_WEIGHT": 3})  # the 6 come back at t=1.0

    assert asyncio.run(main()) == 0.25
    assert clock.t == 1.0
    assert limiter.stats.used == {"REQUEST_WEIGHT": 7}


def test_limiter_keeps_spent_units_for_the_whole_window() -> None:
    limiter, clock = fake_limiter()

    async def main() -> float:
        await limiter.acquire({"REQUEST_WEIGHT": 10})  # t=0
        clock.t = 0.9375
        return await limiter.acquire({"REQUEST_WEIGHT": 1})

    assert asyncio.run(main()) == 0.0625  # not one unit before t=1.0
    assert clock.t == 1.0


def test_limiter_takes_from_all_limits_at_once_or_from_none() -> None:
    limiter, clock = fake_limiter(WEIGHT, ORDERS)
    orders_used_while_waiting: list[int] = []
    clock.before_sleep = lambda: orders_used_while_waiting.append(limiter.stats.used["ORDERS"])

    async def main() -> None:
        await limiter.acquire({"REQUEST_WEIGHT": 10})
        await limiter.acquire({"REQUEST_WEIGHT": 1, "ORDERS": 50})

    asyncio.run(main())
    assert orders_used_while_waiting == [0]
    assert limiter.stats.used == {"REQUEST_WEIGHT": 1, "ORDERS": 50}


def test_limiter_serves_waiters_in_arrival_order() -> None:
    limiter, clock = fake_limiter()
    order: list[str] = []

    async def request(name: str, cost: int) -> None:
        await limiter.acquire({"REQUEST_WEIGHT": cost})
        order.append(name)

    async def main() -> None:
        await limiter.acquire({"REQUEST_WEIGHT": 10})
        async with asyncio.TaskGroup() as group:
            group.create_task(request("heavy", 10))
            group.create_task(request("light-1", 1))
            group.create_task(request("light-2", 1))

    asyncio.run(main())
    # The light ones would fit before the heavy one, but must not overtake it.
    assert order == ["heavy", "light-1", "light-2"]
    assert clock.t == 2.0


def test_cancelled_waiter_spends_nothing_and_lets_the_next_one_in() -> None:
    limiter, clock = fake_limiter()

    async def main() -> None:
        clock.hold = asyncio.Event()  # never set: the waiter sleeps until cancelled
        await limiter.acquire({"REQUEST_WEIGHT": 10})
        waiter = asyncio.create_task(limiter.acquire({"REQUEST_WEIGHT": 5}))
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert limiter.stats.used == {"REQUEST_WEIGHT": 10}
        # Nothing left holding the queue: a request that fits goes through at once.
        assert await asyncio.wait_for(limiter.acquire({"REQUEST_WEIGHT": 0}), 1.0) == 0.0

    asyncio.run(main())


# -- bad costs ------------------------------------------------------------------------------


def test_limiter_rejects_cost_larger_than_limit_naming_it() -> None:
    limiter, _ = fake_limiter()
    with pytest.raises(CostExceedsLimitError) as info:
        asyncio.run(limiter.acquire({"REQUEST_WEIGHT": 11}))
    assert isinstance(info.value, InvalidInputError)
    assert info.value.context["limit"] == "REQUEST_WEIGHT"


def test_limiter_rejects_unknown_limit_naming_it() -> None:
    limiter, _ = fake_limiter()
    with pytest.raises(InvalidInputError) as info:
        asyncio.run(limiter.acquire({"RAW_REQUESTS": 1}))
    assert info.value.context["limit"] == "RAW_REQUESTS"


def test_limiter_rejects_negative_cost() -> None:
    limiter, _ = fake_limiter()
    with pytest.raises(InvalidInputError):
        asyncio.run(limiter.acquire({"REQUEST_WEIGHT": -1}))


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"name": "", "limit": 1, "window": 1.0}, "name"),
        ({"name": "W", "limit": 0, "window": 1.0}, "limit"),
        ({"name": "W", "limit": 1, "window": 0.0}, "window"),
        ({"name": "W", "limit": 1, "window": float("inf")}, "window"),
    ],
)
def test_rate_limit_rejects_bad_config_naming_key(kwargs: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        RateLimit(**kwargs)  # type: ignore[arg-type]
    assert info.value.context["key"] == key


def test_limiter_rejects_duplicate_limit_names() -> None:
    with pytest.raises(ConfigError):
        RateLimiter(BINANCE, [WEIGHT, WEIGHT])


# -- max_wait -------------------------------------------------------------------------------


def test_limiter_raises_rate_limited_when_wait_exceeds_max_wait() -> None:
    limiter, clock = fake_limiter()

    async def main() -> None:
        await limiter.acquire({"REQUEST_WEIGHT": 10})
        clock.t = 0.25
        await limiter.acquire({"REQUEST_WEIGHT": 1}, max_wait=0.5)

    with pytest.raises(RateLimitedError) as info:
        asyncio.run(main())
    assert info.value.retry_after == 0.75
    assert clock.sleeps == []
    stats = limiter.stats
    assert stats.used == {"REQUEST_WEIGHT": 10}  # nothing was spent
    assert stats.rejected == 1


def test_limiter_waits_when_wait_fits_max_wait() -> None:
    limiter, _ = fake_limiter()

    async def main() -> float:
        await limiter.acquire({"REQUEST_WEIGHT": 10})
        return await limiter.acquire({"REQUEST_WEIGHT": 1}, max_wait=1.0)

    assert asyncio.run(main()) == 1.0


def test_limiter_counts_time_queued_behind_others_against_max_wait() -> None:
    limiter = RateLimiter(BINANCE, [RateLimit(name="W", limit=1, window=0.2)])

    async def main() -> None:
        await limiter.acquire({"W": 1})
        ahead = asyncio.create_task(limiter.acquire({"W": 1}))  # holds the queue for ~0.2 s
        await asyncio.sleep(0)
        started = time.monotonic()
        with pytest.raises(RateLimitedError):
            await limiter.acquire({"W": 0}, max_wait=0.03)
        assert time.monotonic() - started < 0.15
        await ahead

    asyncio.run(main())


def test_max_wait_bounds_a_call_made_as_the_queue_is_handed_to_the_next_waiter() -> None:
    window, max_wait = 0.3, 0.03
    limiter = RateLimiter(BINANCE, [RateLimit(name="W", limit=1, window=window)])

    async def main() -> None:
        await limiter.acquire({"W": 1})

        async def two_requests() -> float:
            await limiter.acquire({"W": 1})  # waits a window for the unit, heading the queue
            # Right as that call hands the queue over (same step: nobody else has run yet),
            # the next request comes; a whole window is queued ahead of it.
            started = time.monotonic()
            with pytest.raises(RateLimitedError):
                await limiter.acquire({"W": 0}, max_wait=max_wait)
            return time.monotonic() - started

        first = asyncio.create_task(two_requests())
        await asyncio.sleep(0)
        behind = asyncio.create_task(limiter.acquire({"W": 1}))  # will wait another window
        took = await first
        assert took < window / 2, f"waited {took:.3f} s with max_wait={max_wait}"
        await behind

    asyncio.run(main())


# -- pause (429 Retry-After) ----------------------------------------------------------------


def test_limiter_grants_nothing_before_pause_ends() -> None:
    limiter, clock = fake_limiter()
    limiter.pause(2.5, "429")
    assert limiter.stats.paused_until == 2.5
    waited = asyncio.run(limiter.acquire({"REQUEST_WEIGHT": 1}))
    assert waited == 2.5
    assert clock.t == 2.5
    assert not limiter.stats.paused


def test_limiter_pause_keeps_the_longer_pause() -> None:
    limiter, _ = fake_limiter()
    limiter.pause(5.0, "first")
    limiter.pause(1.0, "second")
    assert limiter.stats.paused_until == 5.0


def test_limiter_pause_applies_max_wait() -> None:
    limiter, _ = fake_limiter()
    limiter.pause(3.0, "429")
    with pytest.raises(RateLimitedError) as info:
        asyncio.run(limiter.acquire({}, max_wait=1.0))
    assert info.value.retry_after == 3.0


def test_limiter_pause_is_honoured_in_real_time() -> None:
    now = RecordingNow()
    limiter = RateLimiter(BINANCE, [WEIGHT], now=now)
    limiter.pause(0.05, "429")
    paused_until = now.last + 0.05

    async def main() -> None:
        await limiter.acquire({"REQUEST_WEIGHT": 1})

    asyncio.run(main())
    assert now.last >= paused_until


# -- headers --------------------------------------------------------------------------------


def test_limiter_header_correction_reduces_capacity() -> None:
    limiter, clock = fake_limiter()

    async def main() -> float:
        await limiter.acquire({"REQUEST_WEIGHT": 2})
        limiter.update_from_headers({"x-mbx-used-weight-1m": "8", "Content-Type": "json"})
        assert limiter.stats.used == {"REQUEST_WEIGHT": 8}
        clock.t = 0.5
        return await limiter.acquire({"REQUEST_WEIGHT": 3})

    # Our 2 and the other processes' 6 were both counted at t=0: they come back at t=1.0.
    assert asyncio.run(main()) == 0.5
    assert limiter.stats.header_corrections == 1


def test_limiter_header_never_lowers_our_count() -> None:
    limiter, _ = fake_limiter()
    asyncio.run(limiter.acquire({"REQUEST_WEIGHT": 5}))
    limiter.update_from_headers({"X-MBX-USED-WEIGHT-1M": "3"})
    assert limiter.stats.used == {"REQUEST_WEIGHT": 5}
    assert limiter.stats.header_corrections == 0


def test_limiter_ignores_non_integer_header_with_warning(caplog: pytest.LogCaptureFixture) -> None:
    limiter, _ = fake_limiter()
    with caplog.at_level(logging.WARNING, logger="bot4.net.ratelimit"):
        limiter.update_from_headers({"X-MBX-USED-WEIGHT-1M": "lots"})
    assert limiter.stats.bad_headers == 1
    assert limiter.stats.used == {"REQUEST_WEIGHT": 0}
    assert "'lots'" in caplog.text


# -- ban (418) ------------------------------------------------------------------------------


def test_limiter_ban_raises_and_trips_every_breaker_of_the_venue() -> None:
    breakers = BreakerRegistry(TestClock())
    order, rest = breakers.get(BINANCE, "order", critical=True), breakers.get(BINANCE, "rest")
    other = breakers.get(Venue("BYBIT"), "rest")
    limiter, clock = fake_limiter(breakers=breakers)
    limiter.ban(60.0, "418 I'm a teapot")
    assert (order.state, rest.state, other.state) == (
        CircuitState.OPEN,
        CircuitState.OPEN,
        CircuitState.CLOSED,
    )
    clock.t = 15.0
    with pytest.raises(VenueBannedError) as info:
        asyncio.run(limiter.acquire({"REQUEST_WEIGHT": 1}))
    assert info.value.retry_after == 45.0
    assert limiter.stats.banned
    clock.t = 60.0
    assert asyncio.run(limiter.acquire({"REQUEST_WEIGHT": 1})) == 0.0
    assert not limiter.stats.banned


def test_limiter_indefinite_ban_lasts_until_lifted() -> None:
    limiter, clock = fake_limiter()
    limiter.ban(None, "418 without Retry-After")
    clock.t = 1e6
    with pytest.raises(VenueBannedError) as info:
        asyncio.run(limiter.acquire({}))
    assert info.value.retry_after is None
    limiter.lift_ban()
    assert asyncio.run(limiter.acquire({})) == 0.0


def test_limiter_shorter_ban_does_not_shorten_a_longer_one() -> None:
    limiter, _ = fake_limiter()
    limiter.ban(100.0, "first")
    limiter.ban(10.0, "second")
    assert limiter.stats.banned_until == 100.0


def test_ban_reaches_a_request_already_waiting() -> None:
    limiter, clock = fake_limiter()

    clock.before_sleep = lambda: limiter.ban(30.0, "418 while waiting")

    async def main() -> None:
        await limiter.acquire({"REQUEST_WEIGHT": 10})
        await limiter.acquire({"REQUEST_WEIGHT": 1})

    with pytest.raises(VenueBannedError):
        asyncio.run(main())
    assert limiter.stats.granted == 1


# -- shared limiters ------------------------------------------------------------------------


def test_shared_limiter_returns_one_instance_per_venue() -> None:
    first = shared_limiter(BINANCE, [WEIGHT, ORDERS])
    assert shared_limiter(BINANCE, [WEIGHT, ORDERS]) is first
    assert shared_limiter(Venue("BYBIT"), [WEIGHT]) is not first


def test_shared_limiter_rejects_other_limits_for_same_venue() -> None:
    shared_limiter(BINANCE, [WEIGHT])
    with pytest.raises(ConfigError) as info:
        shared_limiter(BINANCE, [WEIGHT, ORDERS])
    assert info.value.context["venue"] == "BINANCE"


def test_shared_limiter_attaches_breakers_once() -> None:
    breakers = BreakerRegistry(TestClock())
    limiter = shared_limiter(BINANCE, [WEIGHT])
    assert shared_limiter(BINANCE, [WEIGHT], breakers=breakers).breakers is breakers
    assert limiter.breakers is breakers
    with pytest.raises(ConfigError):
        shared_limiter(BINANCE, [WEIGHT], breakers=BreakerRegistry(TestClock()))


def test_reset_shared_limiters_forgets_instances() -> None:
    first = shared_limiter(BINANCE, [WEIGHT])
    reset_shared_limiters()
    assert shared_limiter(BINANCE, [WEIGHT, ORDERS]) is not first
