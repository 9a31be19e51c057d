"""Retry policies: what is retried per operation, how long the waits are, what is raised."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import pytest

from bot4.core.errors import (
    CircuitOpenError,
    ConfigError,
    DisconnectedError,
    InternalError,
    InvalidOrderError,
    OutboundQueueFullError,
    RateLimitedError,
    RequestNotSentError,
    StreamClosedError,
    StreamGaveUpError,
    VenueBannedError,
    VenueRejectedError,
    VenueTimeoutError,
)
from bot4.net.backoff import Backoff
from bot4.net.retry import (
    RetryPolicy,
    idempotent_read,
    is_transient,
    order_cancel,
    order_submit,
    surely_not_sent,
)

STEADY = Backoff(initial=0.5, multiplier=2.0, max_delay=4.0, jitter=False)


class Script:
    """An operation that raises the given errors in turn, then returns ``"ok"``."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.raised: list[BaseException] = []
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            exc = self.errors.pop(0)
            self.raised.append(exc)
            raise exc
        return "ok"


class Sleeps:
    """A sleep that only records the delays asked for."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def run(policy: RetryPolicy, operation: Callable[[], Awaitable[str]], sleeps: Sleeps) -> str:
    return asyncio.run(policy.run(operation, sleep=sleeps))


# -- what is retried ------------------------------------------------------------------------


def test_transient_error_is_retried_until_success() -> None:
    script, sleeps = Script(VenueTimeoutError("slow"), DisconnectedError("gone")), Sleeps()
    assert run(idempotent_read(backoff=STEADY), script, sleeps) == "ok"
    assert script.calls == 3
    assert sleeps.delays == [0.5, 1.0]


def test_transient_error_is_retried_up_to_max_attempts_then_reraised_unchanged() -> None:
    errors = [VenueTimeoutError(f"slow #{i}", venue="BINANCE") for i in range(10)]
    script, sleeps = Script(*errors), Sleeps()
    with pytest.raises(VenueTimeoutError) as info:
        run(idempotent_read(max_attempts=4, backoff=STEADY), script, sleeps)
    assert script.calls == 4
    assert info.value is script.raised[-1]  # the real error, not a tenacity RetryError
    assert sleeps.delays == [0.5, 1.0, 2.0]


@pytest.mark.parametrize(
    "error",
    [
        VenueRejectedError("insufficient balance"),
        VenueBannedError("418", retry_after=60.0),
        InvalidOrderError("below min notional"),
        InternalError("impossible state"),
        ValueError("not a Bot4Error"),
        StreamClosedError("closed by owner"),
    ],
    ids=lambda exc: type(exc).__name__,
)
@pytest.mark.parametrize("retry_on", [is_transient, lambda exc: True], ids=["default", "retry-all"])
def test_non_transient_error_is_never_retried(
    error: BaseException, retry_on: Callable[[BaseException], bool]
) -> None:
    script, sleeps = Script(error), Sleeps()
    with pytest.raises(type(error)) as info:
        run(idempotent_read(retry_on=retry_on, backoff=STEADY), script, sleeps)
    assert info.value is error
    assert script.calls == 1
    assert sleeps.delays == []


def test_cancellation_is_never_retried() -> None:
    script, sleeps = Script(asyncio.CancelledError()), Sleeps()
    with pytest.raises(asyncio.CancelledError):
        run(idempotent_read(backoff=STEADY), script, sleeps)
    assert script.calls == 1


@pytest.mark.parametrize(
    "error",
    [
        RequestNotSentError("connect refused"),
        OutboundQueueFullError("queue full"),
        CircuitOpenError("open", retry_in=0.0),
        RateLimitedError("429"),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_order_submit_without_dedup_retries_what_surely_was_not_sent(error: BaseException) -> None:
    script, sleeps = Script(error), Sleeps()
    assert run(order_submit(dedup_by_client_order_id=False, backoff=STEADY), script, sleeps) == "ok"
    assert script.calls == 2


@pytest.mark.parametrize(
    "error",
    [VenueTimeoutError("no answer"), DisconnectedError("dropped"), StreamGaveUpError("gave up")],
    ids=lambda exc: type(exc).__name__,
)
def test_order_submit_without_dedup_never_retries_unknown_outcome(error: BaseException) -> None:
    script, sleeps = Script(error), Sleeps()
    with pytest.raises(type(error)):
        run(order_submit(dedup_by_client_order_id=False, backoff=STEADY), script, sleeps)
    assert script.calls == 1


def test_order_submit_with_dedup_retries_timeout() -> None:
    script, sleeps = Script(VenueTimeoutError("no answer"), DisconnectedError("dropped")), Sleeps()
    assert run(order_submit(dedup_by_client_order_id=True, backoff=STEADY), script, sleeps) == "ok"
    assert script.calls == 3


def test_order_submit_with_dedup_never_retries_rejection() -> None:
    script, sleeps = Script(VenueRejectedError("duplicate client order id")), Sleeps()
    with pytest.raises(VenueRejectedError):
        run(order_submit(dedup_by_client_order_id=True, backoff=STEADY), script, sleeps)
    assert script.calls == 1


def test_order_cancel_retries_transient_errors() -> None:
    script, sleeps = Script(VenueTimeoutError("slow"), DisconnectedError("gone")), Sleeps()
    assert run(order_cancel(backoff=STEADY), script, sleeps) == "ok"
    assert script.calls == 3


# -- waits ----------------------------------------------------------------------------------


def test_retry_after_longer_than_backoff_is_used() -> None:
    script, sleeps = (
        Script(RateLimitedError("429", retry_after=3.0), VenueTimeoutError("slow")),
        Sleeps(),
    )
    assert run(idempotent_read(backoff=STEADY), script, sleeps) == "ok"
    assert sleeps.delays == [3.0, 1.0]


def test_retry_after_shorter_than_backoff_leaves_backoff() -> None:
    script, sleeps = Script(RateLimitedError("429", retry_after=0.1)), Sleeps()
    run(idempotent_read(backoff=STEADY), script, sleeps)
    assert sleeps.delays == [0.5]


def test_open_breaker_retry_in_is_waited_out() -> None:
    script, sleeps = Script(CircuitOpenError("open", retry_in=2.5)), Sleeps()
    run(idempotent_read(backoff=STEADY), script, sleeps)
    assert sleeps.delays == [2.5]


def test_each_retry_is_logged_with_policy_attempt_delay_and_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    script, sleeps = Script(VenueTimeoutError("slow")), Sleeps()
    with caplog.at_level(logging.WARNING, logger="bot4.net.retry"):
        run(idempotent_read(name="book_snapshot", backoff=STEADY), script, sleeps)
    assert (
        "retry policy book_snapshot: attempt 1 failed, retrying in 0.500s: VenueTimeoutError: slow"
        in caplog.text
    )


# -- max_elapsed ----------------------------------------------------------------------------


def test_retry_is_not_made_when_its_wait_would_end_past_max_elapsed() -> None:
    # Retry-After of 5 s with a 1 s budget: give up now rather than send a stale order later.
    error = RateLimitedError("429", retry_after=5.0)
    script, sleeps = Script(error), Sleeps()
    with pytest.raises(RateLimitedError) as info:
        run(
            order_submit(dedup_by_client_order_id=False, max_elapsed=1.0, backoff=STEADY),
            script,
            sleeps,
        )
    assert info.value is error
    assert script.calls == 1
    assert sleeps.delays == []


def test_backoff_growth_stops_at_max_elapsed_budget() -> None:
    # The sleep here takes no real time, so only the planned wait counts: the third wait
    # (2.0 s) would end past the 1.9 s budget, so it is not taken.
    script, sleeps = Script(*[VenueTimeoutError("slow")] * 10), Sleeps()
    with pytest.raises(VenueTimeoutError):
        run(idempotent_read(max_attempts=10, max_elapsed=1.9, backoff=STEADY), script, sleeps)
    assert sleeps.delays == [0.5, 1.0]
    assert script.calls == 3


def test_max_elapsed_counts_real_time_spent_in_attempts() -> None:
    # tenacity measures elapsed time with time.monotonic: let real attempts take real time.
    attempts: list[float] = []

    async def slow_failure() -> str:
        attempts.append(time.monotonic())
        await asyncio.sleep(0.02)
        raise VenueTimeoutError("slow")

    tiny = Backoff(initial=0.001, max_delay=0.001, jitter=False)
    policy = idempotent_read(max_attempts=1000, max_elapsed=0.1, backoff=tiny)
    started = time.monotonic()
    with pytest.raises(VenueTimeoutError):
        asyncio.run(policy.run(slow_failure))
    elapsed = time.monotonic() - started
    assert 3 <= len(attempts) <= 6  # ~0.021 s per attempt inside a 0.1 s budget
    assert elapsed < 0.1 + 0.05


# -- config and predicates ------------------------------------------------------------------


@pytest.mark.parametrize(("key", "value"), [("max_attempts", 0), ("max_elapsed", 0.0)])
def test_retry_policy_rejects_bad_config_naming_key(key: str, value: float) -> None:
    kwargs: dict[str, float] = {"max_attempts": 3, "max_elapsed": 1.0, key: value}
    with pytest.raises(ConfigError) as info:
        RetryPolicy(
            name="p",
            max_attempts=int(kwargs["max_attempts"]),
            max_elapsed=kwargs["max_elapsed"],
            backoff=STEADY,
            retry_on=is_transient,
        )
    assert info.value.context["key"] == key


def test_factories_take_overrides() -> None:
    policy = order_submit(
        dedup_by_client_order_id=True, name="binance_submit", max_attempts=7, max_elapsed=2.0
    )
    assert (policy.name, policy.max_attempts, policy.max_elapsed) == ("binance_submit", 7, 2.0)
    assert order_submit(dedup_by_client_order_id=True).retry_on is is_transient
    assert order_submit(dedup_by_client_order_id=False).retry_on is surely_not_sent
    assert order_cancel(max_attempts=2).max_attempts == 2
    assert idempotent_read(backoff=STEADY).backoff is STEADY


@pytest.mark.parametrize(
    ("error", "transient", "not_sent"),
    [
        (VenueTimeoutError("x"), True, False),
        (DisconnectedError("x"), True, False),
        (StreamGaveUpError("x"), True, False),
        (RateLimitedError("x"), True, True),
        (RequestNotSentError("x"), True, True),
        (CircuitOpenError("x"), True, True),
        (StreamClosedError("x"), False, True),
        (VenueRejectedError("x"), False, False),
        (InvalidOrderError("x"), False, False),
        (InternalError("x"), False, False),
        (OSError("x"), False, False),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_predicates(error: BaseException, transient: bool, not_sent: bool) -> None:
    assert is_transient(error) is transient
    assert surely_not_sent(error) is not_sent
