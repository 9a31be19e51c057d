"""Rate limits per venue, shared by every client of that venue in this process.

Each :class:`RateLimit` keeps a sliding-window log: a unit spent at time ``t`` comes back at
exactly ``t + window``. So within any interval of length ``window`` the costs granted never sum
to more than ``limit``. A refilling token bucket would be simpler but can grant almost twice the
limit inside one window (a full bucket, then a full refill), which venues that count per fixed
window (Binance: per minute) punish with 429s and then an IP ban; the log is never over.

A request names its cost in each limit (``{"REQUEST_WEIGHT": 20, "ORDERS": 1}``) and takes from
all of them at once, only when all have room: holding part of a grant while waiting for the rest
would waste capacity that others could use. Waiters are served in arrival order (FIFO), so a
heavy request is not starved by a stream of light ones.

The venue's view wins when it is stricter: :meth:`RateLimiter.update_from_headers` adds what
other processes on our IP spent, :meth:`RateLimiter.pause` honours a 429's ``Retry-After`` and
:meth:`RateLimiter.ban` stops all calls after a 418, tripping the venue's circuit breakers.

The limiter waits on an :class:`asyncio.Lock`, which binds to the first event loop that waits on
it: use one limiter per loop (one live node runs one loop; tests call
:func:`reset_shared_limiters`).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

import msgspec

from bot4.core.errors import ConfigError, InvalidInputError, RateLimitedError, VenueBannedError
from bot4.core.ids import Venue
from bot4.net.breaker import BreakerRegistry

__all__ = [
    "CostExceedsLimitError",
    "RateLimit",
    "RateLimiter",
    "RateLimiterStats",
    "reset_shared_limiters",
    "shared_limiter",
]

_log = logging.getLogger("bot4.net.ratelimit")


class CostExceedsLimitError(InvalidInputError):
    """A request costs more than a limit allows in a whole window: it could never be granted."""


@dataclass(frozen=True, kw_only=True)
class RateLimit:
    """At most ``limit`` units per ``window`` seconds; ``header`` is where the venue reports use.

    For example ``RateLimit(name="REQUEST_WEIGHT", limit=6000, window=60,
    header="X-MBX-USED-WEIGHT-1M")``.
    """

    name: str
    limit: int
    window: float
    header: str | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigError("rate limit name must not be empty", key="name", value=self.name)
        if self.limit < 1:
            raise ConfigError(
                "rate limit must be >= 1", key="limit", value=self.limit, limit=self.name
            )
        if not (self.window > 0 and math.isfinite(self.window)):
            raise ConfigError(
                "rate limit window must be > 0 seconds",
                key="window",
                value=self.window,
                limit=self.name,
            )


class RateLimiterStats(msgspec.Struct, frozen=True, kw_only=True):
    """A snapshot of one limiter: counters since it was built and each limit's use now.

    ``paused_until`` and ``banned_until`` are on the limiter's own clock (its ``now``).
    """

    granted: int
    waits: int
    waited_seconds: float
    rejected: int
    header_corrections: int
    bad_headers: int
    paused: bool
    paused_until: float | None
    banned: bool
    banned_until: float | None
    used: dict[str, int]


class _Log:
    """The sliding-window log of one limit: (time spent, units) oldest first."""

    __slots__ = ("entries", "limit", "used")

    def __init__(self, limit: RateLimit) -> None:
        self.limit = limit
        self.entries: deque[tuple[float, int]] = deque()
        self.used = 0

    def expire(self, now: float) -> None:
        window = self.limit.window
        entries = self.entries
        while entries and entries[0][0] + window <= now:
            self.used -= entries.popleft()[1]

    def wait_for(self, cost: int, now: float) -> float:
        """Seconds until ``cost`` more units fit (call after :meth:`expire`)."""
        excess = self.used + cost - self.limit.limit
        if excess <= 0:
            return 0.0
        for spent_at, units in self.entries:
            excess -= units
            if excess <= 0:
                return spent_at + self.limit.window - now
        raise AssertionError("a cost within the limit always fits once the log has expired")

    def spend(self, cost: int, now: float) -> None:
        if cost:
            self.entries.append((now, cost))
            self.used += cost


class RateLimiter:
    """The rate limits of one venue; ``acquire`` before every request to it.

    ``now`` and ``sleep`` are injectable so tests control time; they must agree (``sleep(d)``
    lets ``now()`` advance by about ``d``).
    """

    def __init__(
        self,
        venue: Venue,
        limits: Sequence[RateLimit],
        *,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        breakers: BreakerRegistry | None = None,
    ) -> None:
        names = [limit.name for limit in limits]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ConfigError(
                "rate limit names must be unique", key="name", venue=str(venue), value=duplicates
            )
        self.venue = venue
        self.limits: tuple[RateLimit, ...] = tuple(limits)
        self.breakers = breakers
        self._now = now
        self._sleep = sleep
        self._logs = {limit.name: _Log(limit) for limit in limits}
        self._by_header = {
            limit.header.lower(): self._logs[limit.name] for limit in limits if limit.header
        }
        self._lock = asyncio.Lock()
        self._paused_until = -math.inf
        self._banned = False
        self._banned_until: float | None = None  # None while banned: until lift_ban()
        self._granted = 0
        self._waits = 0
        self._waited = 0.0
        self._rejected = 0
        self._header_corrections = 0
        self._bad_headers = 0

    def __repr__(self) -> str:
        return f"RateLimiter({self.venue}, {[limit.name for limit in self.limits]})"

    async def acquire(self, costs: Mapping[str, int], *, max_wait: float | None = None) -> float:
        """Wait until every limit has room for its cost, spend them all, return seconds waited.

        Raise :class:`VenueBannedError` while banned, :class:`RateLimitedError` (nothing spent,
        nothing sent) with ``retry_after`` = the wait needed when that is more than
        ``max_wait``, and :class:`InvalidInputError` for costs that name no limit or could never
        fit. Cancelling a waiting call spends nothing.
        """
        self._check_costs(costs)
        start = self._now()
        self._raise_if_banned()
        if max_wait is None:
            await self._lock.acquire()
        else:
            # Bounded even when the lock looks free: right after a release it is already
            # promised to the next waiter, and a caller arriving then queues behind it. (An
            # uncontended acquire does not suspend, so the timeout cannot fire on it.)
            try:
                async with asyncio.timeout(max_wait):
                    await self._lock.acquire()
            except TimeoutError:
                self._rejected += 1
                raise RateLimitedError(
                    "rate limit: waiters ahead would take longer than max_wait",
                    retry_after=self._needed_wait(costs, self._now()),
                    venue=str(self.venue),
                    max_wait=max_wait,
                ) from None
        try:
            while True:
                self._raise_if_banned()
                now = self._now()
                wait = self._needed_wait(costs, now)
                if wait <= 0:
                    for name, cost in costs.items():
                        self._logs[name].spend(cost, now)
                    waited = max(0.0, now - start)
                    self._granted += 1
                    if waited > 0:
                        self._waits += 1
                        self._waited += waited
                    return waited
                if max_wait is not None and (now - start) + wait > max_wait:
                    self._rejected += 1
                    raise RateLimitedError(
                        "rate limit: the wait needed is longer than max_wait",
                        retry_after=wait,
                        venue=str(self.venue),
                        max_wait=max_wait,
                        limits=self._blocking(costs, now),
                    )
                await self._sleep(wait)
        finally:
            self._lock.release()

    def update_from_headers(self, headers: Mapping[str, str]) -> None:
        """Count what the venue says we used when it is more than we counted (never less).

        Other processes behind our IP spend from the same venue budget; their use shows up
        only in these headers, so it is added as spent now.
        """
        if not self._by_header:
            return
        now = self._now()
        for key, raw in headers.items():
            log = self._by_header.get(key.lower())
            if log is None:
                continue
            try:
                reported = int(str(raw).strip())
            except ValueError:
                self._bad_headers += 1
                _log.warning(
                    "rate limit header is not an integer, ignored: venue=%s header=%s value=%r",
                    self.venue,
                    key,
                    raw,
                )
                continue
            log.expire(now)
            if reported > log.used:
                extra = reported - log.used
                log.spend(extra, now)
                self._header_corrections += 1
                _log.info(
                    "rate limit %s of %s: venue counts %d used, we counted %d; added %d",
                    log.limit.name,
                    self.venue,
                    reported,
                    reported - extra,
                    extra,
                )

    def pause(self, seconds: float, reason: str) -> None:
        """Grant nothing for ``seconds`` (a 429's Retry-After); a longer pause already set wins."""
        until = self._now() + max(0.0, seconds)
        if until > self._paused_until:
            self._paused_until = until
        _log.warning("rate limiter %s paused for %.3fs: %s", self.venue, seconds, reason)

    def ban(self, seconds: float | None, reason: str) -> None:
        """Stop every call to the venue for ``seconds`` (None: until :meth:`lift_ban`).

        A banned venue answers nothing, so every breaker of the venue is tripped too.
        """
        now = self._now()
        until = None if seconds is None else now + max(0.0, seconds)
        if self._is_banned(now):
            current = self._banned_until
            if current is None or (until is not None and until < current):
                until = current  # a longer ban already in force stays
        self._banned = True
        self._banned_until = until
        _log.error(
            "venue %s banned us %s: %s",
            self.venue,
            "until lifted" if seconds is None else f"for {seconds}s",
            reason,
        )
        if self.breakers is not None:
            self.breakers.trip_venue(self.venue, f"banned: {reason}")

    def lift_ban(self) -> None:
        """End a ban now (an operator's decision, or the venue said so)."""
        if self._banned:
            _log.warning("ban on venue %s lifted", self.venue)
        self._banned = False
        self._banned_until = None

    @property
    def stats(self) -> RateLimiterStats:
        now = self._now()
        self._is_banned(now)
        for log in self._logs.values():
            log.expire(now)
        paused = self._paused_until > now
        return RateLimiterStats(
            granted=self._granted,
            waits=self._waits,
            waited_seconds=self._waited,
            rejected=self._rejected,
            header_corrections=self._header_corrections,
            bad_headers=self._bad_headers,
            paused=paused,
            paused_until=self._paused_until if paused else None,
            banned=self._banned,
            banned_until=self._banned_until,
            used={name: log.used for name, log in self._logs.items()},
        )

    # -- helpers ------------------------------------------------------------------------

    def _check_costs(self, costs: Mapping[str, int]) -> None:
        for name, cost in costs.items():
            log = self._logs.get(name)
            if log is None:
                raise InvalidInputError(
                    "cost names an unknown rate limit",
                    venue=str(self.venue),
                    limit=name,
                    known=sorted(self._logs),
                )
            if cost < 0:
                raise InvalidInputError(
                    "rate limit cost must be >= 0", venue=str(self.venue), limit=name, value=cost
                )
            if cost > log.limit.limit:
                raise CostExceedsLimitError(
                    "cost is larger than the whole limit",
                    venue=str(self.venue),
                    limit=name,
                    expected=f"<= {log.limit.limit}",
                    found=cost,
                )

    def _is_banned(self, now: float) -> bool:
        if self._banned and self._banned_until is not None and now >= self._banned_until:
            self.lift_ban()
        return self._banned

    def _raise_if_banned(self) -> None:
        now = self._now()
        if self._is_banned(now):
            retry_after = None if self._banned_until is None else self._banned_until - now
            self._rejected += 1
            raise VenueBannedError(
                "venue banned us: nothing is sent", retry_after=retry_after, venue=str(self.venue)
            )

    def _needed_wait(self, costs: Mapping[str, int], now: float) -> float:
        wait = self._paused_until - now
        for name, cost in costs.items():
            log = self._logs[name]
            log.expire(now)
            wait = max(wait, log.wait_for(cost, now))
        return max(0.0, wait)

    def _blocking(self, costs: Mapping[str, int], now: float) -> list[str]:
        blocked = [name for name, cost in costs.items() if self._logs[name].wait_for(cost, now) > 0]
        if self._paused_until > now:
            blocked.append("paused")
        return blocked


_SHARED: dict[Venue, RateLimiter] = {}


def shared_limiter(
    venue: Venue, limits: Sequence[RateLimit], *, breakers: BreakerRegistry | None = None
) -> RateLimiter:
    """Return this process's limiter of ``venue``, building it on first use.

    Every client of a venue must spend from the one budget the venue enforces, so asking with
    different limits is a ConfigError, not a second limiter. ``breakers`` is attached on first
    use (or later, if none was attached yet) so that a ban trips the venue's breakers.
    """
    limiter = _SHARED.get(venue)
    if limiter is None:
        limiter = RateLimiter(venue, limits, breakers=breakers)
        _SHARED[venue] = limiter
        return limiter
    if limiter.limits != tuple(limits):
        raise ConfigError(
            "venue already has a shared rate limiter with other limits",
            key="limits",
            venue=str(venue),
            expected=[limit.name for limit in limiter.limits],
            found=[limit.name for limit in limits],
        )
    if breakers is not None:
        if limiter.breakers is None:
            limiter.breakers = breakers
        elif limiter.breakers is not breakers:
            raise ConfigError(
                "venue's shared rate limiter already trips another breaker registry",
                key="breakers",
                venue=str(venue),
            )
    return limiter


def reset_shared_limiters() -> None:
    """Forget every shared limiter (tests: each test gets a fresh process-wide state)."""
    _SHARED.clear()
