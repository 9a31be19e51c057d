"""One attempt of a venue call, guarded by its circuit breaker and its venue's rate limiter.

::

    policy = order_submit(dedup_by_client_order_id=True)

    async def send_once() -> Ack:
        async with attempt(breaker=orders_breaker, limiter=limiter, costs={"ORDERS": 1}):
            return await transport.send(request)

    ack = await policy.run(send_once)

The breaker is asked first, so an open circuit fails fast without spending rate-limit capacity
that other endpoints of the venue could use. A call that the limiter then refuses (too long a
wait, a ban) or that is cancelled while waiting was never made, so it tells the breaker nothing;
its half-open trial slot goes back all the same. What the venue says in the call itself is fed
back: a 429 with ``retry_after`` pauses the limiter, a 418 bans the venue.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping

from bot4.core.errors import RateLimitedError, VenueBannedError
from bot4.net.breaker import CircuitBreaker
from bot4.net.ratelimit import RateLimiter

__all__ = ["attempt"]


@contextlib.asynccontextmanager
async def attempt(
    *,
    breaker: CircuitBreaker | None = None,
    limiter: RateLimiter | None = None,
    costs: Mapping[str, int] | None = None,
    max_wait: float | None = None,
) -> AsyncIterator[None]:
    """Guard one attempt of a venue call; every error is re-raised unchanged.

    Raise :class:`~bot4.core.errors.CircuitOpenError` when the breaker refuses, and whatever
    :meth:`RateLimiter.acquire` raises when the limiter does; neither call was made.
    """
    async with contextlib.AsyncExitStack() as stack:
        permit = stack.enter_context(breaker.permit()) if breaker is not None else None
        if limiter is not None:
            try:
                await limiter.acquire(costs or {}, max_wait=max_wait)
            except BaseException:
                if permit is not None:
                    permit.discard()  # not sent: nothing learned about the venue
                raise
        try:
            yield
        except RateLimitedError as exc:
            if limiter is not None and exc.retry_after is not None:
                limiter.pause(exc.retry_after, f"venue said 429: {exc}")
            raise
        except VenueBannedError as exc:
            if limiter is not None:
                limiter.ban(exc.retry_after, f"venue said 418: {exc}")
            raise
