"""API keys and request signatures, checked exactly as Binance checks them.

- ``X-MBX-APIKEY`` missing or not shaped like a key: -2014 "API-key format invalid."; a
  well-formed key the server does not know (or that may not trade, on a trading endpoint):
  -2015 "Invalid API-key, IP, or permissions for action." Both with HTTP 401.
- SIGNED endpoints: ``signature`` is the hex HMAC-SHA256, keyed with the secret, of the
  *total params*: the raw query string followed directly by the raw request body (no ``&``
  between them), each without its ``signature=...`` pair. The bytes are taken as received
  (still percent-encoded), which is what Binance signs. Missing: -1102; wrong: -1022.
- ``timestamp`` (ms) is required; the request is accepted when
  ``timestamp < serverTime + 1000`` and ``serverTime - timestamp <= recvWindow`` (default
  5000, at most 60000), else -1021 with Binance's text for "outside the window" or "ahead".
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from enum import Enum

from bot4.venues.sim.binance_server.config import ApiKeySpec
from bot4.venues.sim.binance_server.errors import ApiError, Msg
from bot4.venues.sim.binance_server.params import Params

__all__ = ["KeyRing", "Security", "check_timestamp", "signed_payload", "verify_signature"]

_KEY_SHAPE = re.compile(r"[A-Za-z0-9]{1,64}\Z")
_MAX_RECV_WINDOW_MS = 60_000
_DEFAULT_RECV_WINDOW_MS = 5_000
_AHEAD_MS = 1_000


class Security(Enum):
    """Binance's endpoint security types, reduced to what the server checks."""

    NONE = "NONE"  # public market data
    USER_STREAM = "USER_STREAM"  # API key only
    USER_DATA = "USER_DATA"  # API key and signature
    TRADE = "TRADE"  # API key and signature, and the key may trade

    @property
    def needs_key(self) -> bool:
        return self is not Security.NONE

    @property
    def signed(self) -> bool:
        return self in (Security.USER_DATA, Security.TRADE)


class KeyRing:
    """The API keys the server accepts."""

    def __init__(self, specs: Sequence[ApiKeySpec]) -> None:
        self._keys = {spec.api_key: spec for spec in specs}

    def resolve(self, header: str | None, security: Security) -> ApiKeySpec:
        """The key sent in ``X-MBX-APIKEY``, or the Binance error refusing it."""
        if header is None or not _KEY_SHAPE.match(header):
            raise ApiError(-2014, Msg.BAD_API_KEY_FMT, status=401)
        spec = self._keys.get(header)
        if spec is None or (security is Security.TRADE and not spec.can_trade):
            raise ApiError(-2015, Msg.REJECTED_MBX_KEY, status=401)
        return spec

    def __len__(self) -> int:
        return len(self._keys)


def signed_payload(query: str, body: str) -> tuple[str, str | None]:
    """``(total params without the signature, the signature)`` of a request's raw texts."""
    signature: str | None = None
    parts: list[str] = []
    for raw in (query, body):
        kept: list[str] = []
        for segment in raw.split("&") if raw else []:
            if segment.startswith("signature="):
                signature = segment[len("signature=") :]
            else:
                kept.append(segment)
        parts.append("&".join(kept))
    return "".join(parts), signature


def verify_signature(secret: str, query: str, body: str) -> None:
    payload, signature = signed_payload(query, body)
    if not signature:
        raise ApiError.mandatory("signature")
    expected = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.lower()):
        raise ApiError(-1022, Msg.BAD_SIGNATURE)


def check_timestamp(params: Params, server_ms: int) -> None:
    """Binance's recvWindow rule on ``timestamp`` (and the ``recvWindow`` parameter)."""
    timestamp = params.integer("timestamp")
    if timestamp is None:
        raise ApiError.mandatory("timestamp")
    window = params.integer("recvWindow")
    if window is None:
        window = _DEFAULT_RECV_WINDOW_MS
    elif not 0 < window <= _MAX_RECV_WINDOW_MS:
        raise ApiError.invalid_value("recvWindow")
    if timestamp >= server_ms + _AHEAD_MS:
        raise ApiError(-1021, Msg.AHEAD_OF_SERVER)
    if server_ms - timestamp > window:
        raise ApiError(-1021, Msg.OUTSIDE_RECV_WINDOW)
