"""ccxt's exceptions translated into Bot4's error tree, in this one place.

ccxt already sorts venue errors into a hierarchy; what matters here is what the caller may do:
retry (network trouble, timeouts, rate limits), report a rejection (the venue said no), or fix
the input (an unknown symbol). The most specific class is checked first; the order of
:data:`_MAP` is that order.
"""

from __future__ import annotations

import ccxt

from bot4.core.errors import (
    Bot4Error,
    DisconnectedError,
    InvalidInputError,
    RateLimitedError,
    UnknownInstrumentError,
    VenueBannedError,
    VenueRejectedError,
    VenueTimeoutError,
)

__all__ = ["map_ccxt_error"]

# (ccxt class, Bot4 class, short kind for the error's context); most specific first.
_MAP: tuple[tuple[type[BaseException], type[Bot4Error], str], ...] = (
    (ccxt.RequestTimeout, VenueTimeoutError, "timeout"),
    (ccxt.RateLimitExceeded, RateLimitedError, "rate_limit"),
    (ccxt.DDoSProtection, VenueBannedError, "ddos_protection"),
    (ccxt.OnMaintenance, DisconnectedError, "maintenance"),
    (ccxt.ExchangeNotAvailable, DisconnectedError, "not_available"),
    (ccxt.InvalidNonce, VenueTimeoutError, "nonce_or_clock"),
    (ccxt.NetworkError, DisconnectedError, "network"),
    (ccxt.BadSymbol, UnknownInstrumentError, "bad_symbol"),
    (ccxt.AuthenticationError, VenueRejectedError, "auth"),
    (ccxt.InsufficientFunds, VenueRejectedError, "insufficient_funds"),
    (ccxt.OrderNotFound, VenueRejectedError, "order_not_found"),
    (ccxt.DuplicateOrderId, VenueRejectedError, "duplicate_order_id"),
    (ccxt.InvalidOrder, VenueRejectedError, "invalid_order"),
    (ccxt.NotSupported, InvalidInputError, "not_supported"),
    (ccxt.ArgumentsRequired, InvalidInputError, "arguments_required"),
    (ccxt.BadRequest, VenueRejectedError, "bad_request"),
    (ccxt.OperationRejected, VenueRejectedError, "rejected"),
    (ccxt.BadResponse, DisconnectedError, "bad_response"),
    (ccxt.ExchangeError, VenueRejectedError, "exchange_error"),
    (ccxt.BaseError, DisconnectedError, "unknown"),
)


def map_ccxt_error(exc: BaseException, *, venue: str, operation: str, **context: object) -> Bot4Error:
    """The Bot4 error for ``exc``; the message keeps ccxt's text (it holds the venue's reason)."""
    text = str(exc)[:500]
    for ccxt_class, bot4_class, kind in _MAP:
        if isinstance(exc, ccxt_class):
            if bot4_class in (RateLimitedError, VenueBannedError):
                return bot4_class(text, retry_after=None, venue=venue, operation=operation, kind=kind, **context)
            return bot4_class(text, venue=venue, operation=operation, kind=kind, **context)
    return DisconnectedError(text, venue=venue, operation=operation, kind="not_ccxt", error=type(exc).__name__, **context)
