"""Binance request signing: HMAC-SHA256 over the exact query string that is sent.

Binance signs the percent-encoded ``key=value&...`` payload in the order the parameters are
sent, with ``recvWindow`` and ``timestamp`` among them, and expects the hex digest as the last
parameter ``signature``. Non-ASCII values are UTF-8 percent-encoded before signing (Binance's
second documented example). Pure functions: the caller supplies the time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Protocol
from urllib.parse import quote, urlencode

__all__ = ["Params", "Signer", "query_string", "sign", "signed_params", "signed_query"]

# Values are str, int, bool, Decimal or anything whose str() is the wire text (Price, Quantity).
Params = Mapping[str, object] | Iterable[tuple[str, object]]


class Signer(Protocol):
    """Anything that signs a payload with a secret it keeps (``Credentials``)."""

    def sign(self, payload: str) -> str: ...


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):  # never "1e-05": Binance wants plain decimals
        return format(Decimal(repr(value)), "f")
    return str(value)


def _pairs(params: Params) -> list[tuple[str, str]]:
    items = params.items() if isinstance(params, Mapping) else params
    return [(str(key), _text(value)) for key, value in items if value is not None]


def query_string(params: Params) -> str:
    """Return ``params`` percent-encoded in the given order; ``None`` values are left out.

    Booleans become ``true``/``false``; ``Price``/``Quantity``/``Decimal`` their plain decimal
    text. Spaces become ``%20`` (not ``+``), which Binance accepts and signs the same way.
    """
    return urlencode(_pairs(params), quote_via=quote, safe="")


def sign(payload: str, secret: str) -> str:
    """Return the lower-case hex HMAC-SHA256 of ``payload`` keyed with ``secret``."""
    return hmac.new(secret.encode("utf-8"), payload.encode("utf-8"), hashlib.sha256).hexdigest()


def signed_params(
    params: Params, secret: str | Signer, timestamp_ms: int, recv_window_ms: int | None = 5000
) -> list[tuple[str, str]]:
    """Return ``params`` + ``recvWindow`` + ``timestamp`` + ``signature``, in sending order.

    ``secret`` is the secret itself or a :class:`Signer` (``Credentials``) that keeps it.
    Pass ``recv_window_ms=None`` to leave ``recvWindow`` out (Binance then uses 5000 ms).
    Send the result with :func:`query_string` unchanged: the signature covers that exact text.
    """
    pairs = _pairs(params)
    if recv_window_ms is not None:
        pairs.append(("recvWindow", str(int(recv_window_ms))))
    pairs.append(("timestamp", str(int(timestamp_ms))))
    payload = query_string(pairs)
    signature = sign(payload, secret) if isinstance(secret, str) else secret.sign(payload)
    pairs.append(("signature", signature))
    return pairs


def signed_query(
    params: Params, secret: str | Signer, timestamp_ms: int, recv_window_ms: int | None = 5000
) -> str:
    """Return the signed query string ready to send (``...&timestamp=...&signature=...``)."""
    return query_string(signed_params(params, secret, timestamp_ms, recv_window_ms))
