"""Exponential backoff with full jitter, the one delay policy of reconnects and retries.

The n-th wait (n from 1) is drawn uniformly from ``[0, min(max_delay, initial * multiplier**(n-1))]``
("full jitter"): many clients dropped by one venue outage spread their reconnects over the
whole window instead of arriving together. The random source is injectable so tests can pin
the draw, and the object is also a tenacity wait strategy, so retries use the same policy.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from bot4.core.errors import ConfigError

__all__ = ["Backoff"]


@dataclass(frozen=True, kw_only=True)
class Backoff:
    """Delays in seconds: ``initial`` for the first wait, times ``multiplier`` up to ``max_delay``."""

    initial: float = 1.0
    multiplier: float = 2.0
    max_delay: float = 60.0
    jitter: bool = True
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.initial > 0:
            raise ConfigError("backoff initial delay must be > 0 seconds", key="initial", value=self.initial)
        if not self.multiplier >= 1:
            raise ConfigError("backoff multiplier must be >= 1", key="multiplier", value=self.multiplier)
        if not self.max_delay >= self.initial:
            raise ConfigError(
                "backoff max_delay must be >= initial", key="max_delay", value=self.max_delay
            )

    def ceiling(self, attempt: int) -> float:
        """The largest wait before retry number ``attempt`` (1-based)."""
        if attempt < 1:
            raise ValueError(f"attempt is 1-based, got {attempt}")
        # Cap the exponent first: multiplier**attempt overflows a float long before 60 s matters.
        exponent = min(attempt - 1, 1024)
        try:
            raw = self.initial * self.multiplier**exponent
        except OverflowError:
            return self.max_delay
        return min(self.max_delay, raw)

    def delay(self, attempt: int) -> float:
        """The wait before retry number ``attempt``: a uniform draw below the ceiling."""
        ceiling = self.ceiling(attempt)
        return self.rng.uniform(0.0, ceiling) if self.jitter else ceiling

    def __call__(self, retry_state: Any) -> float:
        """Tenacity's wait protocol: the delay after attempt ``retry_state.attempt_number``."""
        return self.delay(int(retry_state.attempt_number))
