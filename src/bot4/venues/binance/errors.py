"""The one place Binance errors become Bot4 errors.

:func:`map_error` takes what came back from a failed REST call (HTTP status, body, headers)
and returns the typed error from :mod:`bot4.core.errors` that tells the caller what to do:

- transient, outcome known to be "not done": :class:`RateLimitedError` (429, -1003, -1015,
  -1008, ...; ``retry_after`` from the ``Retry-After`` header), :class:`DisconnectedError`;
- transient, outcome unknown (HTTP 5xx, -1000, -1006, -1007): :class:`VenueTimeoutError`
  ("retry only with the same client order id"), HTML bodies kept truncated;
- :class:`ClockSkewError` (-1021): our timestamp is outside ``recvWindow``: resync the clock
  with ``GET /api/v3/time``, then retry;
- :class:`VenueAuthError`: key, signature or permissions refused (-1002, -1022, -2014, -2015);
- :class:`VenueBannedError`: HTTP 418 (IP banned until ``retry_after``) and 403 (WAF);
- :class:`VenueRejectedError`: the venue said no to a sound request (-2010 insufficient
  balance, -1013 filter failure, -2011 cancel rejected, -2013 no such order, ...);
- :class:`InvalidRequestError` (a :class:`VenueRejectedError`): the request itself was wrong
  (bad or missing parameter); a bug on our side, still reported as a rejection;
- :class:`InvalidListenKeyError`: -1125, the listen key is gone: create a new one.

Every code of Binance's published error catalog is listed in :data:`ERROR_CODES` with its
class; an unlisted code (a new one, or another product's) falls back by HTTP status.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import msgspec

from bot4.core.errors import (
    Bot4Error,
    DisconnectedError,
    RateLimitedError,
    TransientError,
    VenueAuthError,
    VenueBannedError,
    VenueRejectedError,
    VenueTimeoutError,
)

__all__ = [
    "ERROR_CODES",
    "ClockSkewError",
    "InvalidListenKeyError",
    "InvalidRequestError",
    "map_error",
    "retry_after",
    "used_weights",
]

_MAX_BODY_CHARS = 2048


class ClockSkewError(TransientError):
    """Binance refused our ``timestamp`` (-1021): resync the clock, then retry the request."""


class InvalidRequestError(VenueRejectedError):
    """Binance refused a malformed request (bad, missing or extra parameter): a bug here."""


class InvalidListenKeyError(VenueRejectedError):
    """The user-data listen key does not exist (-1125): create a new one and reconnect."""


_Rej = VenueRejectedError
_Req = InvalidRequestError
_Auth = VenueAuthError
_Rate = RateLimitedError
_Down = DisconnectedError
_Unknown = VenueTimeoutError  # outcome unknown: may have been executed

# Every code in Binance's errors.md (binance_spot_error_catalog.derived.json), plus -1010,
# -1099, -1131, -2008 and -2038 which the docs mention elsewhere. Keep the names as Binance
# spells them: they go into the error's context.
ERROR_CODES: dict[int, tuple[type[Bot4Error], str]] = {
    # 10xx: general server or network issues
    -1000: (_Unknown, "UNKNOWN"),
    -1001: (_Down, "DISCONNECTED"),
    -1002: (_Auth, "UNAUTHORIZED"),
    -1003: (_Rate, "TOO_MANY_REQUESTS"),
    -1006: (_Unknown, "UNEXPECTED_RESP"),
    -1007: (_Unknown, "TIMEOUT"),
    -1008: (_Rate, "SERVER_BUSY"),
    -1010: (_Rej, "ERROR_MSG_RECEIVED"),
    -1013: (_Rej, "INVALID_MESSAGE"),
    -1014: (_Req, "UNKNOWN_ORDER_COMPOSITION"),
    -1015: (_Rate, "TOO_MANY_ORDERS"),
    -1016: (_Down, "SERVICE_SHUTTING_DOWN"),
    -1020: (_Req, "UNSUPPORTED_OPERATION"),
    -1021: (ClockSkewError, "INVALID_TIMESTAMP"),
    -1022: (_Auth, "INVALID_SIGNATURE"),
    -1033: (_Req, "COMP_ID_IN_USE"),
    -1034: (_Rate, "TOO_MANY_CONNECTIONS"),
    -1035: (_Req, "LOGGED_OUT"),
    -1099: (_Auth, "NOT_FOUND_AUTHENTICATED_OR_AUTHORIZED"),
    # 11xx: request issues
    -1100: (_Req, "ILLEGAL_CHARS"),
    -1101: (_Req, "TOO_MANY_PARAMETERS"),
    -1102: (_Req, "MANDATORY_PARAM_EMPTY_OR_MALFORMED"),
    -1103: (_Req, "UNKNOWN_PARAM"),
    -1104: (_Req, "UNREAD_PARAMETERS"),
    -1105: (_Req, "PARAM_EMPTY"),
    -1106: (_Req, "PARAM_NOT_REQUIRED"),
    -1108: (_Req, "PARAM_OVERFLOW"),
    -1111: (_Req, "BAD_PRECISION"),
    -1112: (_Rej, "NO_DEPTH"),
    -1114: (_Req, "TIF_NOT_REQUIRED"),
    -1115: (_Req, "INVALID_TIF"),
    -1116: (_Req, "INVALID_ORDER_TYPE"),
    -1117: (_Req, "INVALID_SIDE"),
    -1118: (_Req, "EMPTY_NEW_CL_ORD_ID"),
    -1119: (_Req, "EMPTY_ORG_CL_ORD_ID"),
    -1120: (_Req, "BAD_INTERVAL"),
    -1121: (_Req, "BAD_SYMBOL"),
    -1122: (_Req, "INVALID_SYMBOLSTATUS"),
    -1125: (InvalidListenKeyError, "INVALID_LISTEN_KEY"),
    -1127: (_Req, "MORE_THAN_XX_HOURS"),
    -1128: (_Req, "OPTIONAL_PARAMS_BAD_COMBO"),
    -1130: (_Req, "INVALID_PARAMETER"),
    -1131: (_Req, "BAD_RECV_WINDOW"),
    -1134: (_Req, "BAD_STRATEGY_TYPE"),
    -1135: (_Req, "INVALID_JSON"),
    -1139: (_Req, "INVALID_TICKER_TYPE"),
    -1145: (_Req, "INVALID_CANCEL_RESTRICTIONS"),
    -1151: (_Req, "DUPLICATE_SYMBOLS"),
    -1152: (_Req, "INVALID_SBE_HEADER"),
    -1153: (_Req, "UNSUPPORTED_SCHEMA_ID"),
    -1155: (_Req, "SBE_DISABLED"),
    -1158: (_Req, "OCO_ORDER_TYPE_REJECTED"),
    -1160: (_Req, "OCO_ICEBERGQTY_TIMEINFORCE"),
    -1161: (_Req, "DEPRECATED_SCHEMA"),
    -1165: (_Req, "BUY_OCO_LIMIT_MUST_BE_BELOW"),
    -1166: (_Req, "SELL_OCO_LIMIT_MUST_BE_ABOVE"),
    -1168: (_Req, "BOTH_OCO_ORDERS_CANNOT_BE_LIMIT"),
    -1169: (_Req, "INVALID_TAG_NUMBER"),
    -1170: (_Req, "TAG_NOT_DEFINED_IN_MESSAGE"),
    -1171: (_Req, "TAG_APPEARS_MORE_THAN_ONCE"),
    -1172: (_Req, "TAG_OUT_OF_ORDER"),
    -1173: (_Req, "GROUP_FIELDS_OUT_OF_ORDER"),
    -1174: (_Req, "INVALID_COMPONENT"),
    -1175: (_Req, "RESET_SEQ_NUM_SUPPORT"),
    -1176: (_Req, "ALREADY_LOGGED_IN"),
    -1177: (_Req, "GARBLED_MESSAGE"),
    -1178: (_Req, "BAD_SENDER_COMPID"),
    -1179: (_Req, "BAD_SEQ_NUM"),
    -1180: (_Req, "EXPECTED_LOGON"),
    -1181: (_Rate, "TOO_MANY_MESSAGES"),
    -1182: (_Req, "PARAMS_BAD_COMBO"),
    -1183: (_Req, "NOT_ALLOWED_IN_DROP_COPY_SESSIONS"),
    -1184: (_Req, "DROP_COPY_SESSION_NOT_ALLOWED"),
    -1185: (_Req, "DROP_COPY_SESSION_REQUIRED"),
    -1186: (_Req, "NOT_ALLOWED_IN_ORDER_ENTRY_SESSIONS"),
    -1187: (_Req, "NOT_ALLOWED_IN_MARKET_DATA_SESSIONS"),
    -1188: (_Req, "INCORRECT_NUM_IN_GROUP_COUNT"),
    -1189: (_Req, "DUPLICATE_ENTRIES_IN_A_GROUP"),
    -1190: (_Req, "INVALID_REQUEST_ID"),
    -1191: (_Req, "TOO_MANY_SUBSCRIPTIONS"),
    -1194: (_Req, "INVALID_TIME_UNIT"),
    -1196: (_Req, "BUY_OCO_STOP_LOSS_MUST_BE_ABOVE"),
    -1197: (_Req, "SELL_OCO_STOP_LOSS_MUST_BE_BELOW"),
    -1198: (_Req, "BUY_OCO_TAKE_PROFIT_MUST_BE_BELOW"),
    -1199: (_Req, "SELL_OCO_TAKE_PROFIT_MUST_BE_ABOVE"),
    -1210: (_Req, "INVALID_PEG_PRICE_TYPE"),
    -1211: (_Req, "INVALID_PEG_OFFSET_TYPE"),
    -1220: (_Req, "SYMBOL_DOES_NOT_MATCH_STATUS"),
    -1221: (_Req, "INVALID_SBE_MESSAGE_FIELD"),
    -1222: (_Req, "OPO_WORKING_MUST_BE_BUY"),
    -1223: (_Req, "OPO_PENDING_MUST_BE_SELL"),
    -1224: (_Req, "WORKING_PARAM_REQUIRED"),
    -1225: (_Req, "PENDING_PARAM_NOT_REQUIRED"),
    # 20xx: the matching engine or the account said no
    -2008: (_Auth, "BAD_API_ID"),
    -2010: (_Rej, "NEW_ORDER_REJECTED"),
    -2011: (_Rej, "CANCEL_REJECTED"),
    -2013: (_Rej, "NO_SUCH_ORDER"),
    -2014: (_Auth, "BAD_API_KEY_FMT"),
    -2015: (_Auth, "REJECTED_MBX_KEY"),
    -2016: (_Rej, "NO_TRADING_WINDOW"),
    -2021: (_Rej, "CANCEL_REPLACE_PARTIALLY_FAILED"),
    -2022: (_Rej, "CANCEL_REPLACE_FAILED"),
    -2026: (_Rej, "ORDER_ARCHIVED"),
    -2035: (_Req, "SUBSCRIPTION_ACTIVE"),
    -2036: (_Req, "SUBSCRIPTION_INACTIVE"),
    -2038: (_Rej, "ORDER_AMEND_REJECTED"),
    -2039: (_Rej, "CLIENT_ORDER_ID_INVALID"),
    -2042: (_Req, "MAXIMUM_SUBSCRIPTION_IDS"),
    -2043: (_Rej, "NO_REFERENCE_PRICE"),
}

_BANNED_UNTIL = re.compile(r"banned until (\d{10,16})")


def map_error(
    status: int,
    body: bytes | str | None,
    headers: Mapping[str, str] | None = None,
    *,
    venue: str = "BINANCE",
    endpoint: str | None = None,
    now_ms: int | None = None,
) -> Bot4Error:
    """Return the typed error for a failed Binance REST response (never raises).

    ``status`` is the HTTP status, ``body`` the response body (JSON ``{code, msg}`` or an HTML
    page), ``headers`` the response headers (``Retry-After`` is read case-insensitively).
    ``endpoint`` (e.g. ``POST /api/v3/order``) goes into the context. ``now_ms`` turns a
    "banned until <ms>" message into ``retry_after`` seconds.
    """
    wait = retry_after(headers)
    text = _text(body)
    error_body = _error_body(text)
    context: dict[str, object] = {"venue": venue, "status": status}
    if endpoint is not None:
        context["endpoint"] = endpoint
    if error_body is not None:
        context["code"] = error_body.code
        context["msg"] = error_body.msg[:_MAX_BODY_CHARS]
    elif text:
        context["body"] = text[:_MAX_BODY_CHARS]
    banned_until = _banned_until(error_body)
    if banned_until is not None:
        context["banned_until_ms"] = banned_until
        if wait is None and now_ms is not None:
            wait = max(0.0, (banned_until - now_ms) / 1000)

    known = None if error_body is None else ERROR_CODES.get(error_body.code)
    if known is not None:
        context["name"] = known[1]
    if status == 418 or banned_until is not None:
        return VenueBannedError(
            f"{venue} banned this IP (HTTP {status})", retry_after=wait, **context
        )
    if status == 429:
        return RateLimitedError(
            f"{venue} rate limit exceeded (HTTP 429)", retry_after=wait, **context
        )
    if error_body is not None and known is not None:
        cls, name = known
        message = f"{venue} error {error_body.code} {name}: {error_body.msg[:_MAX_BODY_CHARS]}"
        if cls is RateLimitedError:
            return RateLimitedError(message, retry_after=wait, **context)
        return cls(message, **context)
    if status == 403:
        return VenueBannedError(
            f"{venue} web application firewall blocked the request (HTTP 403)",
            retry_after=wait,
            **context,
        )
    if status >= 500:
        # Binance: a 5xx "is NOT a failure operation; the execution status is UNKNOWN".
        return VenueTimeoutError(
            f"{venue} answered HTTP {status}; the outcome is unknown", **context
        )
    if error_body is not None:  # a code this table does not know (new, or another product's)
        context["known"] = False
        message = f"{venue} error {error_body.code}: {error_body.msg[:_MAX_BODY_CHARS]}"
        return VenueRejectedError(message, **context)
    if status in (404, 405):
        return InvalidRequestError(f"{venue} has no such endpoint (HTTP {status})", **context)
    # No Binance error body (an HTML page from a proxy or load balancer): whether the request
    # reached the matching engine is unknown.
    return VenueTimeoutError(
        f"{venue} answered HTTP {status} without an error code; the outcome is unknown", **context
    )


def _banned_until(error_body: _ErrorBody | None) -> int | None:
    """The ban end of -1003 "Way too much request weight used; IP banned until <ms>"."""
    if error_body is None or error_body.code != -1003:
        return None
    found = _BANNED_UNTIL.search(error_body.msg)
    if found is None:
        return None
    until = int(found.group(1))
    return until * 1000 if until < 10**12 else until  # seconds or milliseconds


def _text(body: bytes | str | None) -> str:
    if body is None:
        return ""
    if isinstance(body, bytes):
        return body[: _MAX_BODY_CHARS * 4].decode("utf-8", "replace").strip()
    return body.strip()


class _ErrorBody(msgspec.Struct):
    code: int
    msg: str = ""


_ERROR_BODY = msgspec.json.Decoder(_ErrorBody)


def _error_body(text: str) -> _ErrorBody | None:
    if not text.startswith("{"):
        return None
    try:
        return _ERROR_BODY.decode(text)
    except (ValueError, RecursionError):  # msgspec errors, bad surrogates in text, deep nesting
        return None


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name)
    if value is not None:
        return value
    lower = name.lower()
    for key, found in headers.items():
        if key.lower() == lower:
            return found
    return None


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Return the ``Retry-After`` header in seconds, or None (absent, a date, or garbage)."""
    value = _header(headers, "Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if seconds != seconds or seconds < 0 or seconds == float("inf"):
        return None
    return seconds


def used_weights(headers: Mapping[str, str] | None) -> dict[str, int]:
    """Return Binance's usage headers: ``X-MBX-USED-WEIGHT-1M`` -> ``{"USED-WEIGHT-1M": n}``.

    Covers ``X-MBX-USED-WEIGHT-<interval>`` and ``X-MBX-ORDER-COUNT-<interval>``; the rate
    limiter compares them with the limits from ``exchangeInfo``. Malformed values are skipped.
    """
    found: dict[str, int] = {}
    if not headers:
        return found
    for key, value in headers.items():
        upper = key.upper()
        if upper.startswith(("X-MBX-USED-WEIGHT-", "X-MBX-ORDER-COUNT-")):
            text = value.strip()
            if text.isascii() and text.isdigit():
                found[upper[len("X-MBX-") :]] = int(text)
    return found
