"""Binance's rate limits: request weight per IP, new orders per account, and IP bans.

- Every REST request costs its endpoint's weight (Binance's published weights). The weight
  used in the current window is sent back in ``X-MBX-USED-WEIGHT-<n><unit>`` (``-1M`` for
  Binance's one-minute window) on every answer. A request that would pass the limit is
  refused with HTTP 429, ``Retry-After`` (seconds to the end of the window) and -1003.
- Each new order counts against its account: ``X-MBX-ORDER-COUNT-10S`` and
  ``X-MBX-ORDER-COUNT-1D`` on order answers; past either limit, HTTP 429 and -1015.
- An IP that keeps going after ``ban_after`` 429 answers in one weight window is banned: HTTP
  418 with -1003 "... IP banned until <ms> ..." and ``Retry-After`` until the ban ends.

Windows are fixed and start with their first request (see :class:`RateLimitConfig`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from bot4.venues.sim.binance_server.config import RateLimitConfig
from bot4.venues.sim.binance_server.errors import ApiError
from bot4.venues.sim.binance_server.wire import Json, rate_limit

__all__ = ["RateLimits", "interval_code", "interval_words"]

_UNITS = ((86_400, "D", "DAY"), (3_600, "H", "HOUR"), (60, "M", "MINUTE"), (1, "S", "SECOND"))


def interval_code(seconds: int) -> str:
    """``60`` -> ``"1M"``, ``10`` -> ``"10S"``: the suffix of Binance's limit headers."""
    for size, code, _ in _UNITS:
        if seconds % size == 0:
            return f"{seconds // size}{code}"
    raise AssertionError("unreachable")


def interval_words(seconds: int) -> str:
    """``60`` -> ``"1 MINUTE"``, as Binance writes a window in its error texts."""
    for size, _, word in _UNITS:
        if seconds % size == 0:
            return f"{seconds // size} {word}"
    raise AssertionError("unreachable")


class _Window:
    __slots__ = ("length", "start", "strikes", "used")

    def __init__(self, length: float) -> None:
        self.length = length
        self.start: float | None = None
        self.used = 0
        self.strikes = 0

    def roll(self, now: float) -> None:
        if self.start is None or now >= self.start + self.length:
            self.start = now
            self.used = 0
            self.strikes = 0

    def retry_after(self, now: float) -> int:
        start = now if self.start is None else self.start
        return max(1, math.ceil(start + self.length - now))


class RateLimits:
    """Weight per IP, orders per account, bans per IP."""

    def __init__(
        self,
        config: RateLimitConfig,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self.config = config
        self._monotonic = monotonic
        self._wall_ms = wall_ms
        self._weights: dict[str, _Window] = {}
        self._orders: dict[str, tuple[_Window, _Window]] = {}
        self._bans: dict[str, float] = {}
        self.weight_header = f"X-MBX-USED-WEIGHT-{interval_code(config.weight_window_s)}"
        self.order_header = f"X-MBX-ORDER-COUNT-{interval_code(config.order_window_s)}"
        self.day_order_header = "X-MBX-ORDER-COUNT-1D"

    def exchange_info(self) -> list[Json]:
        """The ``rateLimits`` of ``exchangeInfo``."""
        c = self.config
        return [
            rate_limit("REQUEST_WEIGHT", c.weight_window_s, c.request_weight),
            rate_limit("ORDERS", c.order_window_s, c.orders),
            rate_limit("ORDERS", 86_400, c.orders_per_day),
        ]

    # -- weight ---------------------------------------------------------------------------

    def charge_weight(self, ip: str, weight: int) -> None:
        """Count ``weight`` for ``ip``, or raise the 429/418 answer refusing the request."""
        now = self._monotonic()
        banned_until = self._bans.get(ip)
        if banned_until is not None:
            if now < banned_until:
                raise self._banned(banned_until, now)
            del self._bans[ip]
        window = self._weights.setdefault(ip, _Window(self.config.weight_window_s))
        window.roll(now)
        if window.used + weight <= self.config.request_weight:
            window.used += weight
            return
        window.strikes += 1
        if window.strikes > self.config.ban_after:
            until = now + self.config.ban_s
            self._bans[ip] = until
            raise self._banned(until, now)
        c = self.config
        raise ApiError(
            -1003,
            f"Too much request weight used; current limit is {c.request_weight} request weight per "
            f"{interval_words(c.weight_window_s)}. Please use WebSocket Streams for live updates to avoid polling the API.",
            status=429,
            retry_after=window.retry_after(now),
        )

    def used_weight(self, ip: str) -> int:
        window = self._weights.get(ip)
        if window is None:
            return 0
        window.roll(self._monotonic())
        return window.used

    def _banned(self, until: float, now: float) -> ApiError:
        until_ms = self._wall_ms() + int((until - now) * 1000)
        return ApiError(
            -1003,
            f"Way too much request weight used; IP banned until {until_ms}. "
            "Please use WebSocket Streams for live updates to avoid bans.",
            status=418,
            retry_after=max(1, math.ceil(until - now)),
        )

    # -- orders ---------------------------------------------------------------------------

    def charge_order(self, account: str) -> None:
        """Count one new order for ``account``, or raise the 429 answer (-1015) refusing it."""
        now = self._monotonic()
        short, day = self._order_windows(account, now)
        c = self.config
        for window, limit, length in ((short, c.orders, c.order_window_s), (day, c.orders_per_day, 86_400)):
            if window.used + 1 > limit:
                raise ApiError(
                    -1015,
                    f"Too many new orders; current limit is {limit} orders per {interval_words(length)}.",
                    status=429,
                    retry_after=window.retry_after(now),
                )
        short.used += 1
        day.used += 1

    def order_counts(self, account: str) -> tuple[int, int]:
        """Orders counted for ``account`` in the short window and in the day."""
        short, day = self._order_windows(account, self._monotonic())
        return short.used, day.used

    def _order_windows(self, account: str, now: float) -> tuple[_Window, _Window]:
        windows = self._orders.get(account)
        if windows is None:
            windows = self._orders[account] = (_Window(self.config.order_window_s), _Window(86_400))
        for window in windows:
            window.roll(now)
        return windows

    def reset(self) -> None:
        """Forget all counts and bans (a test's "the window has passed")."""
        self._weights.clear()
        self._orders.clear()
        self._bans.clear()
