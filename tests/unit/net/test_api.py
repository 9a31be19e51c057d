"""What ``bot4.net`` exports is deliberate."""

from __future__ import annotations

import bot4.net
import bot4.testkit


def test_net_exports_exactly_the_documented_api() -> None:
    assert sorted(bot4.net.__all__) == [
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
    for name in bot4.net.__all__:
        assert getattr(bot4.net, name) is not None


def test_testkit_exports_the_fault_server() -> None:
    for name in ("FaultServer", "Faults", "DropMode", "MalformedKind"):
        assert name in bot4.testkit.__all__
        assert getattr(bot4.testkit, name) is not None
