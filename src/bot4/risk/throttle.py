"""A token bucket for order rates, driven by the engine's clock (never the wall clock).

The bucket holds up to ``burst`` tokens and refills at ``rate`` tokens per second of clock time;
an order may go when a whole token is there. Checking and taking are separate steps because
the risk engine checks every order but takes a token only for those that really left.

Everything is integer arithmetic: one token is ``10**18`` units and the rate is kept as a raw
fixed-point number (orders per second x 1e9), which is exactly the number of units that one
nanosecond adds. Fractional rates ("0.5" orders per second) cost nothing extra.
"""

from __future__ import annotations

from bot4.core.errors import InvalidInputError
from bot4.core.numbers import FIXED_SCALAR

__all__ = ["TOKEN", "TokenBucket"]

TOKEN = 10**18  # units per token; one ns refills ``rate_raw`` units


class TokenBucket:
    """``burst`` tokens, refilled at ``rate_raw`` / 1e9 tokens per second of clock time."""

    __slots__ = ("capacity", "last_ns", "rate_raw", "units")

    def __init__(self, rate_raw: int, burst: int | None, now_ns: int) -> None:
        if rate_raw <= 0:
            raise InvalidInputError("order rate must be positive", rate_raw=rate_raw)
        if burst is None:
            burst = max(1, -(-rate_raw // FIXED_SCALAR))  # the rate per second, rounded up
        if burst < 1:
            raise InvalidInputError("order burst must be at least 1", burst=burst)
        self.rate_raw = rate_raw
        self.capacity = burst * TOKEN
        self.units = self.capacity  # starts full
        self.last_ns = now_ns

    def has_token(self, now_ns: int) -> bool:
        """Refill up to ``now_ns`` and say whether a whole token is available."""
        elapsed = now_ns - self.last_ns
        if elapsed > 0:
            units = self.units + elapsed * self.rate_raw
            self.units = units if units < self.capacity else self.capacity
            self.last_ns = now_ns
        return self.units >= TOKEN

    def take(self, now_ns: int) -> None:
        """Take one token for an order that left; the level may go below zero (a debt)."""
        self.has_token(now_ns)
        self.units -= TOKEN

    @property
    def tokens(self) -> float:
        """Tokens available at the last refill (for display only)."""
        return self.units / TOKEN

    def wait_ns(self) -> int:
        """Clock time until the next whole token, counted from the last refill."""
        missing = TOKEN - self.units
        if missing <= 0:
            return 0
        return -(-missing // self.rate_raw)
