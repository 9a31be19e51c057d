"""The one error tree of Bot4, split by what the caller can do about an error.

::

    Bot4Error
    ├── TransientError            retry later: the world may be different
    │   ├── VenueTimeoutError     sent, outcome unknown: retry only with the same client order id
    │   ├── DisconnectedError
    │   │   └── StreamGaveUpError the stream stopped reconnecting; carries what it never sent
    │   ├── RateLimitedError      the venue said "slow down" (HTTP 429), with ``retry_after``
    │   ├── StoreUnavailableError the database cannot be reached; writes wait (and spill)
    │   └── RequestNotSentError   the request surely never left this process: safe to retry
    │       ├── CircuitOpenError  the endpoint's circuit breaker refused the call
    │       ├── OutboundQueueFullError
    │       └── StreamClosedError the stream was closed by its owner
    ├── RejectedError             a reason, not a crash: report it and go on
    │   ├── VenueRejectedError
    │   ├── VenueAuthError        the venue refused our credentials: key, signature, permissions
    │   ├── VenueBannedError      the venue banned us (HTTP 418) until ``retry_after``
    │   └── NoRouteError          no venue can take the order; says why each was left out
    ├── InvalidInputError         fix the input: data, order, config
    │   ├── InvalidDataError      a malformed row or message (names file/row/field/value)
    │   ├── InvalidOrderError     an order that breaks the instrument's filters
    │   ├── PrecisionError        a number with more decimals than allowed
    │   ├── UnknownInstrumentError
    │   ├── UnknownVenueError
    │   ├── ConfigError           broken config or strategy path (names file and key)
    │   └── StoreSchemaError      a database at another schema version, foreign or corrupt
    └── InternalError             a bug or an impossible state: surfaces loudly in tests
        ├── InvalidStateTransition   an order event the transition table forbids
        ├── ImpossibleFillError      overfill, zero fill, fill for another order
        ├── DuplicateFillError       a trade id already applied
        └── StoreIntegrityError      a write the database refused (a constraint): kept, not lost

Every error carries its context as keyword fields (venue, instrument, field, value, ...),
rendered after the message so a log line says what was expected and what was found.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "Bot4Error",
    "CircuitOpenError",
    "ConfigError",
    "DisconnectedError",
    "DuplicateFillError",
    "ImpossibleFillError",
    "InternalError",
    "InvalidDataError",
    "InvalidInputError",
    "InvalidOrderError",
    "InvalidStateTransition",
    "NoRouteError",
    "OutboundQueueFullError",
    "PrecisionError",
    "RateLimitedError",
    "RejectedError",
    "RequestNotSentError",
    "StoreIntegrityError",
    "StoreSchemaError",
    "StoreUnavailableError",
    "StreamClosedError",
    "StreamGaveUpError",
    "TransientError",
    "UnknownInstrumentError",
    "UnknownVenueError",
    "VenueAuthError",
    "VenueBannedError",
    "VenueRejectedError",
    "VenueTimeoutError",
]


class Bot4Error(Exception):
    """Root of every error Bot4 raises on purpose."""

    def __init__(self, message: str, **context: Any) -> None:
        self.message = message
        self.context: dict[str, Any] = context
        super().__init__(self._render())

    def _render(self) -> str:
        if not self.context:
            return self.message
        details = ", ".join(f"{key}={value!r}" for key, value in self.context.items())
        return f"{self.message} ({details})"


class TransientError(Bot4Error):
    """A failure that may go away on retry (timeouts, disconnects)."""


class VenueTimeoutError(TransientError):
    """The venue did not answer in time."""


class DisconnectedError(TransientError):
    """The connection to the venue is down."""


class StreamGaveUpError(DisconnectedError):
    """A stream used up its reconnect attempts; ``undelivered`` holds what it never sent."""

    def __init__(self, message: str, *, undelivered: tuple[Any, ...] = (), **context: Any) -> None:
        self.undelivered = undelivered
        super().__init__(message, undelivered=len(undelivered), **context)


class RateLimitedError(TransientError):
    """The venue refused for rate (HTTP 429); wait ``retry_after`` seconds when it says so."""

    def __init__(self, message: str, *, retry_after: float | None = None, **context: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, retry_after=retry_after, **context)


class StoreUnavailableError(TransientError):
    """The database cannot be reached now; queued writes are kept and replayed later."""


class RequestNotSentError(TransientError):
    """The request never left this process, so retrying it cannot duplicate an order."""


class CircuitOpenError(RequestNotSentError):
    """The endpoint's circuit breaker is open: the call was refused without being made."""


class OutboundQueueFullError(RequestNotSentError):
    """A disconnected stream's outbound queue is full and its policy rejects new messages."""


class StreamClosedError(RequestNotSentError):
    """The stream was closed by its owner; nothing more can be sent on it."""


class RejectedError(Bot4Error):
    """A venue or risk said no; carries the reason."""


class VenueRejectedError(RejectedError):
    """The venue rejected a request, with its own reason text and code."""


class VenueAuthError(RejectedError):
    """The venue refused our credentials (bad key, signature or permissions); retrying cannot help."""


class NoRouteError(RejectedError):
    """No venue can take the order (all excluded, or none can fill a lot within its filters)."""


class VenueBannedError(RejectedError):
    """The venue banned this client (HTTP 418); nothing goes to it before ``retry_after``."""

    def __init__(self, message: str, *, retry_after: float | None = None, **context: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, retry_after=retry_after, **context)


class InvalidInputError(Bot4Error):
    """Input that can never succeed as given: fix it."""


class InvalidDataError(InvalidInputError):
    """A malformed market-data row or venue message."""


class InvalidOrderError(InvalidInputError):
    """An order that breaks its instrument's filters or its own type's rules."""


class PrecisionError(InvalidInputError):
    """A price or quantity with more decimals than its precision allows."""


class UnknownInstrumentError(InvalidInputError):
    """An instrument id nobody registered."""


class UnknownVenueError(InvalidInputError):
    """A venue nobody registered."""


class ConfigError(InvalidInputError):
    """Broken configuration, naming the file and the key."""


class StoreSchemaError(InvalidInputError):
    """The database is not what this code expects: another schema version, foreign, corrupt."""


class InternalError(Bot4Error):
    """A state that should be impossible: a bug here or a broken venue."""


class InvalidStateTransition(InternalError):
    """An order event that the transition table does not allow from the current status."""


class ImpossibleFillError(InternalError):
    """A fill that cannot be applied: overfill, non-positive quantity, wrong order."""


class DuplicateFillError(InternalError):
    """A fill whose trade id was already applied to the order."""


class StoreIntegrityError(InternalError):
    """The database refused a write (a constraint); the rows are set aside, never dropped."""
