"""Faults to inject into the local exchange, and the record of everything it received.

:class:`Faults` is mutable and read on every request and frame, so a change applies from the
next one on:

- ``fail_http(path, status=503, times=1)``: answer with that status and an HTML error page
  (what a load balancer or gateway in front of Binance sends), before any other processing;
- ``delay_http(path, seconds)``: hold the answer that long (a slow or congested path);
- ``drop_ws_after(frames, kind=..., mode=...)``: end each WebSocket connection (of that
  kind) once it has been sent that many frames: ``DropMode.ABORT`` closes the TCP socket
  without a close frame (the client sees 1006), ``DropMode.CLOSE`` sends close code 1001.

The server adds controls that act at once: ``drop_ws()``, ``stall_market_data()``,
``expire_listen_keys()``, ``set_time_offset()``. ``path`` ``"*"`` matches every path; a
``method`` of None matches every method.

Recorded requests keep method, path, parameters, headers (API keys and other credentials
replaced by ``<redacted>``), the answer's status and Binance code, and the account the key
acts for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

import msgspec

__all__ = [
    "DropMode",
    "Faults",
    "RecordedRequest",
    "RecordedWsMessage",
    "StreamKind",
    "html_error_page",
    "redact_headers",
]

_SECRET_HEADERS = frozenset({"x-mbx-apikey", "authorization", "cookie", "proxy-authorization"})
_REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


class StreamKind(Enum):
    """What a WebSocket connection carries."""

    MARKET = "MARKET"  # market streams only
    USER = "USER"  # at least one listen key


class DropMode(Enum):
    ABORT = "ABORT"  # close the TCP transport, no close frame: the client sees 1006
    CLOSE = "CLOSE"  # close frame 1001 (going away)


class RecordedRequest(msgspec.Struct, frozen=True, kw_only=True):
    """One REST request as received, and how it was answered."""

    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    status: int
    code: int | None
    account: str | None
    ts_ms: int


class RecordedWsMessage(msgspec.Struct, frozen=True, kw_only=True):
    """One text message a WebSocket client sent (SUBSCRIBE and friends)."""

    connection: int
    path: str
    text: str
    ts_ms: int


@dataclass
class _HttpFailure:
    path: str
    method: str | None
    status: int
    remaining: int | None


@dataclass
class _HttpDelay:
    path: str
    method: str | None
    seconds: float


def _matches(rule_path: str, rule_method: str | None, method: str, path: str) -> bool:
    return (rule_path == "*" or rule_path == path) and (rule_method is None or rule_method == method)


class Faults:
    """Faults to inject; see the module docstring."""

    def __init__(self) -> None:
        self._failures: list[_HttpFailure] = []
        self._delays: list[_HttpDelay] = []
        self.ws_drop_after: int | None = None
        self.ws_drop_kind: StreamKind | None = None
        self.ws_drop_mode = DropMode.ABORT

    def fail_http(self, path: str, *, status: int = 503, times: int | None = 1, method: str | None = None) -> None:
        """Answer the next ``times`` requests to ``path`` (None: all, until cleared) with ``status``."""
        if not 400 <= status <= 599:
            raise ValueError(f"an injected failure needs an HTTP error status, got {status}")
        self._failures.append(_HttpFailure(path, method, status, times))

    def delay_http(self, path: str, seconds: float, *, method: str | None = None) -> None:
        """Hold every answer to ``path`` for ``seconds`` (until cleared)."""
        self._delays.append(_HttpDelay(path, method, seconds))

    def drop_ws_after(self, frames: int | None, *, kind: StreamKind | None = None, mode: DropMode = DropMode.ABORT) -> None:
        """End connections (of ``kind``, or all) after ``frames`` frames each; None stops it."""
        self.ws_drop_after = frames
        self.ws_drop_kind = kind
        self.ws_drop_mode = mode

    def clear(self) -> None:
        self._failures.clear()
        self._delays.clear()
        self.ws_drop_after = None
        self.ws_drop_kind = None

    def take_http_failure(self, method: str, path: str) -> int | None:
        """The status to fail this request with, using up one of a limited failure."""
        for failure in self._failures:
            if _matches(failure.path, failure.method, method, path):
                if failure.remaining is not None:
                    failure.remaining -= 1
                    if failure.remaining <= 0:
                        self._failures.remove(failure)
                return failure.status
        return None

    def http_delay(self, method: str, path: str) -> float:
        return sum(d.seconds for d in self._delays if _matches(d.path, d.method, method, path))

    def should_drop(self, kind: StreamKind, frames_sent: int) -> bool:
        limit = self.ws_drop_after
        return limit is not None and frames_sent >= limit and self.ws_drop_kind in (None, kind)


def html_error_page(status: int) -> str:
    reason = _REASONS.get(status, "Error")
    return (
        f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {reason}</h1></center>\r\n</body>\r\n</html>\r\n"
    )


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers with credentials replaced by ``<redacted>``."""
    return {name: "<redacted>" if name.lower() in _SECRET_HEADERS else value for name, value in headers.items()}
