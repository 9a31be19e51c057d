"""Reliable networking: the WebSocket stream, retries, circuit breakers and rate limits.

Every live venue connection goes through this package (see ``docs/networking.md``):

- :class:`ReliableWebSocket` keeps one logical stream alive across reconnects;
- :class:`RetryPolicy` (``idempotent_read``, ``order_submit``, ``order_cancel``) decides what
  may be tried again, on tenacity;
- :class:`CircuitBreaker` stops calling an endpoint that keeps failing, and says so on the bus;
- :class:`RateLimiter` keeps every client of a venue under the venue's limits;
- :func:`attempt` wraps one venue call in the breaker and the limiter and releases both.
"""

from bot4.net.backoff import Backoff
from bot4.net.breaker import BreakerConfig, BreakerRegistry, BreakerStats, CircuitBreaker
from bot4.net.guard import attempt
from bot4.net.outbox import OverflowPolicy
from bot4.net.ratelimit import RateLimit, RateLimiter, RateLimiterStats, shared_limiter
from bot4.net.retry import RetryPolicy, idempotent_read, order_cancel, order_submit
from bot4.net.ws import ReliableWebSocket, Session, StreamHooks
from bot4.net.ws_config import (
    DisconnectCause,
    PayloadKind,
    StreamConfig,
    StreamProfile,
    StreamState,
    StreamStats,
)

__all__ = [
    "Backoff",
    "BreakerConfig",
    "BreakerRegistry",
    "BreakerStats",
    "CircuitBreaker",
    "DisconnectCause",
    "OverflowPolicy",
    "PayloadKind",
    "RateLimit",
    "RateLimiter",
    "RateLimiterStats",
    "ReliableWebSocket",
    "RetryPolicy",
    "Session",
    "StreamConfig",
    "StreamHooks",
    "StreamProfile",
    "StreamState",
    "StreamStats",
    "attempt",
    "idempotent_read",
    "order_cancel",
    "order_submit",
    "shared_limiter",
]
