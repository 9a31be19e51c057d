"""Circuit breakers: stop calling an endpoint of a venue that keeps failing, then probe it.

A breaker is CLOSED while calls go through. Failures that say the venue is unwell (timeouts,
disconnects, 429s: :class:`~bot4.core.errors.TransientError`) open it, either after
``failure_threshold`` consecutive failures or, when ``failure_rate`` is set, once that share of
the last ``window`` calls failed (given at least ``min_calls`` of them). While OPEN every call is
refused at once with :class:`~bot4.core.errors.CircuitOpenError`, so a sick venue is not
hammered and callers fail fast instead of queueing on timeouts. Once ``cooldown`` seconds have
passed on the injected clock the breaker becomes HALF_OPEN and lets at most
``half_open_max_calls`` trial calls through at a time; ``success_threshold`` successful trials
close it, one failed trial opens it again.

A venue that answers, even with "no" (a rejection, invalid input), is healthy, so those count as
successes. A call that ends for a reason that says nothing about the venue (cancellation, a bug,
another breaker's refusal) records no outcome at all but always gives its trial slot back.
Outcomes of calls admitted before the last state change are stale and move no state: a slow
call from before the outage must not close (or reopen) a circuit that has moved on.

Every state change is logged and, when a bus is given, published as a
:class:`~bot4.model.status.CircuitStateChanged` on :data:`~bot4.model.status.CIRCUIT_TOPIC`.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from types import TracebackType

import msgspec

from bot4.core.bus import MessageBus
from bot4.core.clock import Clock
from bot4.core.errors import (
    CircuitOpenError,
    ConfigError,
    InvalidInputError,
    RejectedError,
    TransientError,
    VenueBannedError,
)
from bot4.core.ids import Venue
from bot4.model.status import CIRCUIT_TOPIC, CircuitState, CircuitStateChanged

__all__ = [
    "DEFAULT_BREAKER_CONFIG",
    "BreakerConfig",
    "BreakerPermit",
    "BreakerRegistry",
    "BreakerStats",
    "CircuitBreaker",
]

_log = logging.getLogger("bot4.net.breaker")

_NS = 1_000_000_000


@dataclass(frozen=True, kw_only=True)
class BreakerConfig:
    """When a breaker opens, how long it stays open, and how it probes before closing."""

    failure_threshold: int = 5
    failure_rate: float | None = None
    window: int = 20
    min_calls: int = 10
    cooldown: float = 30.0
    half_open_max_calls: int = 1
    success_threshold: int = 1

    def __post_init__(self) -> None:
        _require(self.failure_threshold >= 1, "failure_threshold", self.failure_threshold, ">= 1")
        if self.failure_rate is not None:
            _require(0.0 < self.failure_rate <= 1.0, "failure_rate", self.failure_rate, "in (0, 1]")
        _require(self.window >= 1, "window", self.window, ">= 1")
        _require(1 <= self.min_calls <= self.window, "min_calls", self.min_calls, "in [1, window]")
        _require(self.cooldown >= 0.0, "cooldown", self.cooldown, ">= 0 seconds")
        _require(
            self.half_open_max_calls >= 1, "half_open_max_calls", self.half_open_max_calls, ">= 1"
        )
        _require(self.success_threshold >= 1, "success_threshold", self.success_threshold, ">= 1")


def _require(ok: bool, key: str, value: object, expected: str) -> None:
    if not ok:
        raise ConfigError(f"breaker {key} must be {expected}", key=key, value=value)


DEFAULT_BREAKER_CONFIG = BreakerConfig()


class BreakerStats(msgspec.Struct, frozen=True, kw_only=True):
    """A snapshot of one breaker: its state and what it has counted since it was built.

    ``calls`` counts finished calls: ``successes + failures + abandoned_calls``.
    """

    state: CircuitState
    calls: int
    failures: int
    successes: int
    abandoned_calls: int
    rejected_calls: int
    opened_count: int
    last_reason: str


class _Outcome(Enum):
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    NONE = "NONE"


def _classify(exc: BaseException | None) -> _Outcome:
    """Say what an exception that ended a call tells about the venue's health."""
    if exc is None:
        return _Outcome.SUCCESS
    if isinstance(exc, CircuitOpenError):
        return _Outcome.NONE  # another breaker refused: the venue was never asked
    if isinstance(exc, VenueBannedError):
        return _Outcome.FAILURE  # the venue answered "stop calling": stay away
    if isinstance(exc, TransientError):
        return _Outcome.FAILURE
    if isinstance(exc, RejectedError | InvalidInputError):
        return _Outcome.SUCCESS  # the venue answered
    return _Outcome.NONE  # cancellation, interrupts, bugs: nothing learned about the venue


class BreakerPermit:
    """One admitted call: enter to be admitted, exit to record how it went.

    Entering raises :class:`CircuitOpenError` when the breaker refuses. Exiting releases the
    half-open trial slot, if one was taken, whatever happened, and never swallows the exception.
    """

    __slots__ = ("_breaker", "_discarded", "_entered", "_epoch", "_trial")

    def __init__(self, breaker: CircuitBreaker) -> None:
        self._breaker = breaker
        self._epoch = -1
        self._trial = False
        self._entered = False
        self._discarded = False

    def discard(self) -> None:
        """Record no outcome on exit: the call was never made (e.g. a rate limit refused it)."""
        self._discarded = True

    def __enter__(self) -> BreakerPermit:
        if self._entered:
            raise RuntimeError("a breaker permit can be entered only once")
        self._epoch, self._trial = self._breaker._admit()
        self._entered = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        outcome = _Outcome.NONE if self._discarded else _classify(exc)
        reason = "" if exc is None else f"{type(exc).__name__}: {exc}"
        self._breaker._finish(self._epoch, self._trial, outcome, reason)


class CircuitBreaker:
    """The breaker of one endpoint (``"order"``, ``"rest"``, ``"user_stream"``) at one venue.

    Synchronous and loop-free, so the same object guards sync and async code; time comes only
    from the injected clock. ``critical`` marks endpoints that carry orders, so that the risk
    engine can stop trading when one of them opens.
    """

    def __init__(
        self,
        venue: Venue,
        endpoint: str,
        config: BreakerConfig,
        clock: Clock,
        bus: MessageBus | None = None,
        *,
        critical: bool = False,
    ) -> None:
        self.venue = venue
        self.endpoint = endpoint
        self.config = config
        self.critical = critical
        self._clock = clock
        self._bus = bus
        self._state = CircuitState.CLOSED
        self._epoch = 0  # bumped on every state change: outcomes of older permits are stale
        self._opened_at_ns = 0
        self._consecutive_failures = 0
        self._recent: deque[bool] = deque(maxlen=config.window)  # True = failure, CLOSED only
        self._trials_in_flight = 0
        self._trial_successes = 0
        self._successes = 0
        self._failures = 0
        self._abandoned = 0
        self._rejected = 0
        self._opened_count = 0
        self._last_reason = ""

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.venue}, {self.endpoint!r}, {self._state.value})"

    @property
    def state(self) -> CircuitState:
        """The current state; an OPEN breaker whose cooldown has elapsed turns HALF_OPEN here."""
        self._refresh()
        return self._state

    @property
    def stats(self) -> BreakerStats:
        state = self.state
        return BreakerStats(
            state=state,
            calls=self._successes + self._failures + self._abandoned,
            failures=self._failures,
            successes=self._successes,
            abandoned_calls=self._abandoned,
            rejected_calls=self._rejected,
            opened_count=self._opened_count,
            last_reason=self._last_reason,
        )

    def retry_in(self) -> float:
        """Seconds until an OPEN breaker lets a trial through (0 when not OPEN)."""
        if self.state is not CircuitState.OPEN:
            return 0.0
        elapsed = (self._clock.timestamp_ns() - self._opened_at_ns) / _NS
        return max(0.0, self.config.cooldown - elapsed)

    def allow(self) -> bool:
        """Say whether a call would be admitted now, without taking a trial slot."""
        state = self.state
        if state is CircuitState.CLOSED:
            return True
        if state is CircuitState.HALF_OPEN:
            return self._trials_in_flight < self.config.half_open_max_calls
        return False

    def permit(self) -> BreakerPermit:
        """Guard one call: ``with breaker.permit(): await venue_call()``.

        The returned context manager raises :class:`CircuitOpenError` on entry when refused and
        records the outcome on exit (see the module docstring for which errors count).
        """
        return BreakerPermit(self)

    def record_success(self) -> None:
        """Record a successful call made without :meth:`permit`."""
        self._record(_Outcome.SUCCESS, "", stale=False)

    def record_failure(self, reason: str) -> None:
        """Record a failed call made without :meth:`permit`."""
        self._record(_Outcome.FAILURE, reason, stale=False)

    def trip(self, reason: str) -> None:
        """Force OPEN now (a ban, a stream that gave up); an open breaker restarts its cooldown."""
        if self._state is CircuitState.OPEN:
            self._opened_at_ns = self._clock.timestamp_ns()
            self._last_reason = reason
            _log.warning(
                "circuit %s %s stays OPEN, cooldown restarted: %s",
                self.venue,
                self.endpoint,
                reason,
            )
            return
        self._transition(CircuitState.OPEN, reason)

    def reset(self, reason: str) -> None:
        """Force CLOSED (an operator's decision) and forget the failures counted so far."""
        if self._state is CircuitState.CLOSED:
            self._consecutive_failures = 0
            self._recent.clear()
            return
        self._transition(CircuitState.CLOSED, reason)

    # -- internals used by BreakerPermit ---------------------------------------------------

    def _admit(self) -> tuple[int, bool]:
        state = self.state
        if state is CircuitState.CLOSED:
            return self._epoch, False
        if (
            state is CircuitState.HALF_OPEN
            and self._trials_in_flight < self.config.half_open_max_calls
        ):
            self._trials_in_flight += 1
            return self._epoch, True
        self._rejected += 1
        if state is CircuitState.OPEN:
            raise CircuitOpenError(
                "circuit is open: the call was not made",
                venue=str(self.venue),
                endpoint=self.endpoint,
                retry_in=round(self.retry_in(), 6),
            )
        raise CircuitOpenError(
            "circuit is half-open and every trial slot is taken: the call was not made",
            venue=str(self.venue),
            endpoint=self.endpoint,
            retry_in=0.0,
            trials_in_flight=self._trials_in_flight,
        )

    def _finish(self, epoch: int, trial: bool, outcome: _Outcome, reason: str) -> None:
        stale = epoch != self._epoch
        if trial and not stale:
            self._trials_in_flight -= 1
        self._record(outcome, reason, stale=stale)

    def _record(self, outcome: _Outcome, reason: str, *, stale: bool) -> None:
        if outcome is _Outcome.NONE:
            self._abandoned += 1
            return
        failed = outcome is _Outcome.FAILURE
        if failed:
            self._failures += 1
        else:
            self._successes += 1
        if stale:
            return
        state = self.state
        if state is CircuitState.CLOSED:
            self._recent.append(failed)
            self._consecutive_failures = self._consecutive_failures + 1 if failed else 0
            if failed:
                why = self._why_open()
                if why:
                    self._transition(CircuitState.OPEN, f"{why}; last: {reason}")
        elif state is CircuitState.HALF_OPEN:
            if failed:
                self._transition(CircuitState.OPEN, f"trial call failed: {reason}")
            else:
                self._trial_successes += 1
                if self._trial_successes >= self.config.success_threshold:
                    self._transition(
                        CircuitState.CLOSED, f"{self._trial_successes} trial call(s) succeeded"
                    )
        # OPEN: a call that slipped through before it opened changes nothing.

    def _why_open(self) -> str:
        cfg = self.config
        if self._consecutive_failures >= cfg.failure_threshold:
            return f"{self._consecutive_failures} consecutive failures"
        if cfg.failure_rate is not None and len(self._recent) >= cfg.min_calls:
            failures = sum(self._recent)
            if failures / len(self._recent) >= cfg.failure_rate:
                return f"{failures} of the last {len(self._recent)} calls failed"
        return ""

    def _refresh(self) -> None:
        if self._state is CircuitState.OPEN:
            elapsed_ns = self._clock.timestamp_ns() - self._opened_at_ns
            if elapsed_ns >= self.config.cooldown * _NS:
                self._transition(
                    CircuitState.HALF_OPEN, f"cooldown of {self.config.cooldown}s elapsed"
                )

    def _transition(self, state: CircuitState, reason: str) -> None:
        previous = self._state
        now = self._clock.timestamp_ns()
        self._state = state
        self._epoch += 1
        self._last_reason = reason
        self._trials_in_flight = 0
        self._trial_successes = 0
        self._consecutive_failures = 0
        self._recent.clear()
        if state is CircuitState.OPEN:
            self._opened_at_ns = now
            self._opened_count += 1
        level = logging.INFO if state is CircuitState.CLOSED else logging.WARNING
        _log.log(
            level,
            "circuit %s %s %s -> %s: %s",
            self.venue,
            self.endpoint,
            previous.value,
            state.value,
            reason,
        )
        if self._bus is not None:
            self._bus.publish(
                CIRCUIT_TOPIC,
                CircuitStateChanged(
                    venue=self.venue,
                    endpoint=self.endpoint,
                    state=state,
                    previous=previous,
                    reason=reason,
                    critical=self.critical,
                    ts_event=now,
                    ts_init=now,
                ),
            )


class BreakerRegistry:
    """The breakers of one node, one per (venue, endpoint), all on one clock and bus.

    ``overrides`` maps an endpoint name to its own config (orders may deserve a shorter
    cooldown than market data); every other endpoint uses ``default``.
    """

    def __init__(
        self,
        clock: Clock,
        bus: MessageBus | None = None,
        default: BreakerConfig = DEFAULT_BREAKER_CONFIG,
        overrides: Mapping[str, BreakerConfig] | None = None,
    ) -> None:
        self._clock = clock
        self._bus = bus
        self._default = default
        self._overrides = dict(overrides or {})
        self._breakers: dict[tuple[Venue, str], CircuitBreaker] = {}

    def get(self, venue: Venue, endpoint: str, *, critical: bool = False) -> CircuitBreaker:
        """Return the breaker of ``endpoint`` at ``venue``, building it on first use.

        Every caller must agree on ``critical``: an order endpoint that some client registered
        as non-critical would hide its outages from risk, so a mismatch is a ConfigError.
        """
        key = (venue, endpoint)
        breaker = self._breakers.get(key)
        if breaker is None:
            config = self._overrides.get(endpoint, self._default)
            breaker = CircuitBreaker(
                venue, endpoint, config, self._clock, self._bus, critical=critical
            )
            self._breakers[key] = breaker
        elif breaker.critical != critical:
            raise ConfigError(
                "breaker asked for again with a different critical flag",
                key="critical",
                venue=str(venue),
                endpoint=endpoint,
                expected=breaker.critical,
                found=critical,
            )
        return breaker

    def trip_venue(self, venue: Venue, reason: str) -> None:
        """Open every breaker of ``venue`` (it banned us, or it is down as a whole)."""
        for (breaker_venue, _), breaker in self._breakers.items():
            if breaker_venue == venue:
                breaker.trip(reason)

    def breakers(self) -> list[CircuitBreaker]:
        return list(self._breakers.values())
