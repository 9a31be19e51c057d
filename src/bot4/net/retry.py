"""Named retry policies, one per kind of operation, run by tenacity.

What may be retried depends on what a repeat can cost. Reading is free to repeat. Sending an
order twice can open a position twice, and a duplicated order costs real money, so:

* Only :class:`~bot4.core.errors.TransientError` is ever retried (a policy's ``retry_on`` can
  only narrow that). A rejection (:class:`~bot4.core.errors.RejectedError`), invalid input or
  config (:class:`~bot4.core.errors.InvalidInputError`), a bug
  (:class:`~bot4.core.errors.InternalError`) or anything that is not a
  :class:`~bot4.core.errors.Bot4Error` would fail the same way again, or should surface
  loudly; cancellation always goes through. A :class:`~bot4.core.errors.StreamClosedError` is
  not retried either: its owner closed the stream on purpose.
* :func:`idempotent_read` retries every transient error.
* :func:`order_submit` with ``dedup_by_client_order_id=True`` (the venue refuses a second order
  with the same client order id) may retry any transient error: a repeat cannot duplicate.
  Without that guarantee it retries only what surely never reached the venue
  (:func:`surely_not_sent`: the request never left, or a 429 refused it before processing),
  and never a timeout or a disconnect, whose outcome is unknown: the order may be live.
* :func:`order_cancel` retries every transient error: cancelling by client order id is
  idempotent (a second cancel only says "unknown order").

The wait before a retry is the policy's :class:`~bot4.net.backoff.Backoff` delay, but never less
than the venue's ``Retry-After`` (``RateLimitedError.retry_after``) or an open breaker's
``retry_in``. ``max_elapsed`` is a budget: a retry whose wait would end past it is not made
(tenacity's ``stop_before_delay``), because an order sent a minute late is a different
decision. When the policy gives up, the last error is raised unchanged.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar, cast

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
)

from bot4.core.errors import (
    CircuitOpenError,
    ConfigError,
    RateLimitedError,
    RequestNotSentError,
    StreamClosedError,
    TransientError,
)
from bot4.net.backoff import Backoff

__all__ = [
    "RetryPolicy",
    "idempotent_read",
    "is_transient",
    "order_cancel",
    "order_submit",
    "surely_not_sent",
]

_log = logging.getLogger("bot4.net.retry")

T = TypeVar("T")


def is_transient(exc: BaseException) -> bool:
    """Say whether ``exc`` may go away on retry (a closed stream will not)."""
    return isinstance(exc, TransientError) and not isinstance(exc, StreamClosedError)


def surely_not_sent(exc: BaseException) -> bool:
    """Say whether the request surely never reached the venue's matching: safe to send again.

    A timeout or a disconnect is never "surely not sent": the order may be live.
    """
    return isinstance(exc, RequestNotSentError | RateLimitedError)


def _wait_floor(exc: BaseException | None) -> float:
    """The least wait the venue or a breaker asked for, 0 when none."""
    floor: object = None
    if isinstance(exc, RateLimitedError):
        floor = exc.retry_after
    elif isinstance(exc, CircuitOpenError):
        floor = exc.context.get("retry_in")
    if isinstance(floor, int | float) and math.isfinite(floor):
        return max(0.0, float(floor))
    return 0.0


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How often and how long to retry one kind of operation, and which errors qualify."""

    name: str
    max_attempts: int
    max_elapsed: float
    backoff: Backoff
    retry_on: Callable[[BaseException], bool]

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigError(
                "retry max_attempts must be >= 1",
                key="max_attempts",
                value=self.max_attempts,
                policy=self.name,
            )
        if not self.max_elapsed > 0:
            raise ConfigError(
                "retry max_elapsed must be > 0 seconds",
                key="max_elapsed",
                value=self.max_elapsed,
                policy=self.name,
            )

    async def run(
        self,
        operation: Callable[[], Awaitable[T]],
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> T:
        """Await ``operation()`` until it succeeds or the policy gives up; raise its last error."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_attempts) | stop_before_delay(self.max_elapsed),
            wait=self._wait,
            retry=retry_if_exception(self._should_retry),
            sleep=sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        return cast(T, await retrying(operation))

    def _should_retry(self, exc: BaseException) -> bool:
        return is_transient(exc) and self.retry_on(exc)

    def _wait(self, retry_state: RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome is not None else None
        return max(self.backoff(retry_state), _wait_floor(exc))

    def _log_retry(self, retry_state: RetryCallState) -> None:
        exc = retry_state.outcome.exception() if retry_state.outcome is not None else None
        _log.warning(
            "retry policy %s: attempt %d failed, retrying in %.3fs: %s: %s",
            self.name,
            retry_state.attempt_number,
            retry_state.upcoming_sleep,
            type(exc).__name__,
            exc,
        )


def idempotent_read(
    *,
    name: str = "idempotent_read",
    max_attempts: int = 5,
    max_elapsed: float = 30.0,
    backoff: Backoff | None = None,
    retry_on: Callable[[BaseException], bool] = is_transient,
) -> RetryPolicy:
    """A policy for reads (book snapshots, balances, open orders): retry any transient error."""
    return RetryPolicy(
        name=name,
        max_attempts=max_attempts,
        max_elapsed=max_elapsed,
        backoff=backoff if backoff is not None else Backoff(initial=0.25, max_delay=5.0),
        retry_on=retry_on,
    )


def order_submit(
    *,
    dedup_by_client_order_id: bool,
    name: str = "order_submit",
    max_attempts: int = 3,
    max_elapsed: float = 10.0,
    backoff: Backoff | None = None,
    retry_on: Callable[[BaseException], bool] | None = None,
) -> RetryPolicy:
    """A policy for new orders: retry an unknown outcome only if the venue deduplicates.

    ``dedup_by_client_order_id`` must say whether the venue refuses a second order with the same
    client order id; when unsure, pass False.
    """
    if retry_on is None:
        retry_on = is_transient if dedup_by_client_order_id else surely_not_sent
    return RetryPolicy(
        name=name,
        max_attempts=max_attempts,
        max_elapsed=max_elapsed,
        backoff=backoff if backoff is not None else Backoff(initial=0.1, max_delay=1.0),
        retry_on=retry_on,
    )


def order_cancel(
    *,
    name: str = "order_cancel",
    max_attempts: int = 5,
    max_elapsed: float = 15.0,
    backoff: Backoff | None = None,
    retry_on: Callable[[BaseException], bool] = is_transient,
) -> RetryPolicy:
    """A policy for cancels by client order id: idempotent, so retry any transient error."""
    return RetryPolicy(
        name=name,
        max_attempts=max_attempts,
        max_elapsed=max_elapsed,
        backoff=backoff if backoff is not None else Backoff(initial=0.1, max_delay=2.0),
        retry_on=retry_on,
    )
