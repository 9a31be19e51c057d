"""The node's operator API: a small JSON-over-HTTP server on 127.0.0.1 with token auth.

::

    GET  /status                 what the node is doing (mode, trading state, uptime, counters)
    GET  /positions              open positions
    GET  /orders                 open orders
    GET  /fills?limit=N          the N most recent fills (default 50, at most 1000)
    POST /kill-switch            {"state": "halt" | "reduce" | "resume", "reason": "..."}

Every request, an unknown path included, needs ``Authorization: Bearer <token>``; the token is
compared in constant time. Every answer is a JSON document: errors are
``{"error": "..."}`` with 400 (bad query or body), 401 (missing or wrong token), 404, 405,
409 (the node refused the change) or 500. Decimals, prices, quantities, money and ids are
rendered as strings so nothing loses precision on the way.

The server reads the node only through :class:`NodeView`, whose methods are synchronous and
called on the event loop: the node's state lives on that loop, so no locking is needed.
:class:`LoopbackServer` is the shared HTTP lifecycle (also used by the metrics endpoint): a
port already in use becomes a :class:`~bot4.core.errors.ConfigError` naming the port and the
config key, not an ``OSError`` traceback.
"""

from __future__ import annotations

import errno
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from enum import Enum, StrEnum
from types import TracebackType
from typing import Any, Protocol, Self

from aiohttp import web

from bot4.core.errors import ConfigError, InvalidInputError, RejectedError
from bot4.core.ids import Identifier, InstrumentId
from bot4.core.numbers import Currency, Money, Price, Quantity
from bot4.node.logs import redact

__all__ = [
    "DEFAULT_FILLS_LIMIT",
    "MAX_FILLS_LIMIT",
    "KillSwitch",
    "LoopbackServer",
    "NodeView",
    "StatusApi",
    "to_json",
]

DEFAULT_FILLS_LIMIT = 50
MAX_FILLS_LIMIT = 1000
_MAX_BODY_BYTES = 64 * 1024
_MAX_REASON_CHARS = 500
_SHUTDOWN_TIMEOUT_S = 2.0

_log = logging.getLogger("bot4.node.api")

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class KillSwitch(StrEnum):
    """What the operator asks of the trading state: halt, reduce-only, or resume trading."""

    HALT = "halt"
    REDUCE = "reduce"
    RESUME = "resume"


class NodeView(Protocol):
    """What the API may read from, and ask of, the running node.

    The dictionaries may hold ``Decimal``, ``Price``, ``Quantity``, ``Money``, ids and enums:
    the API renders them as strings (enums by value). ``set_trading_state`` returns the new
    state as a dictionary; it raises :class:`~bot4.core.errors.RejectedError` (answered 409)
    or :class:`~bot4.core.errors.InvalidInputError` (400) when it refuses.
    """

    def status(self) -> dict[str, Any]: ...

    def positions(self) -> list[dict[str, Any]]: ...

    def open_orders(self) -> list[dict[str, Any]]: ...

    def recent_fills(self, limit: int) -> list[dict[str, Any]]: ...

    def set_trading_state(self, state: KillSwitch, reason: str) -> dict[str, Any]: ...


# -- the HTTP lifecycle ----------------------------------------------------------------------


class LoopbackServer:
    """Serve an aiohttp application on ``host:port`` (0: any free port) until stopped.

    ``config_key`` names the setting that chose the port (``api.port``, ``metrics.port``): a
    port that cannot be bound is reported as a :class:`ConfigError` under that key.
    """

    def __init__(self, *, host: str, port: int, config_key: str, what: str) -> None:
        self.host = host
        self._requested_port = port
        self._config_key = config_key
        self._what = what
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    def _application(self) -> web.Application:
        raise NotImplementedError

    async def start(self) -> None:
        """Bind and listen; raise :class:`ConfigError` when the port is taken or not allowed."""
        if self._runner is not None:
            raise InvalidInputError(f"the {self._what} is already started", port=self._port)
        runner = web.AppRunner(self._application(), access_log=None,
                               shutdown_timeout=_SHUTDOWN_TIMEOUT_S)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._requested_port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            where = f"{self.host}:{self._requested_port}"
            if exc.errno == errno.EADDRINUSE:
                message = f"port {self._requested_port} is already in use ({where}); " \
                          f"stop what holds it or choose another {self._config_key}"
            else:
                message = f"cannot listen on {where}: {exc.strerror or exc}"
            raise ConfigError(message, key=self._config_key, port=self._requested_port,
                              server=self._what) from exc
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        """Close the listener and any open connections. Idempotent."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The port listened on (the one the OS chose when started with port 0)."""
        if self._port is None:
            raise InvalidInputError(f"the {self._what} is not started")
        return self._port

    @property
    def url(self) -> str:
        """``http://host:port`` of the running server."""
        return f"http://{self.host}:{self.port}"


# -- the status API --------------------------------------------------------------------------


class StatusApi(LoopbackServer):
    """The operator API over ``view``, answering only requests that carry ``token``."""

    def __init__(self, view: NodeView, token: str, host: str = "127.0.0.1", port: int = 0) -> None:
        if not token or token.strip() != token:
            raise ConfigError("the status API needs a non-empty token without surrounding spaces",
                              key="api.token")
        super().__init__(host=host, port=port, config_key="api.port", what="status API")
        self._view = view
        self._token = token.encode()

    def _application(self) -> web.Application:
        app = web.Application(middlewares=[self._guard], client_max_size=_MAX_BODY_BYTES)
        app.add_routes([
            web.get("/status", self._status),
            web.get("/positions", self._positions),
            web.get("/orders", self._orders),
            web.get("/fills", self._fills),
            web.post("/kill-switch", self._kill_switch),
        ])
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        """Check the token first (unknown paths included), then turn every failure into JSON."""
        refusal = self._refuse_auth(request)
        if refusal is not None:
            return refusal
        try:
            return await handler(request)
        except web.HTTPException as exc:  # 404, 405, 413 raised by aiohttp itself
            return _error(exc.status, exc.reason)
        except RejectedError as exc:
            return _error(409, str(exc))
        except InvalidInputError as exc:
            return _error(400, str(exc))
        except Exception as exc:  # noqa: BLE001 - one request's task boundary: log, answer 500
            _log.exception("status API: %s %s failed", request.method, request.path)
            return _error(500, redact(f"internal error: {type(exc).__name__}: {exc}"))

    def _refuse_auth(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        scheme, _, presented = header.partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            return _error(401, "missing bearer token: send 'Authorization: Bearer <token>'",
                          headers={"WWW-Authenticate": 'Bearer realm="bot4"'})
        if not hmac.compare_digest(presented.strip().encode(), self._token):
            return _error(401, "invalid token", headers={"WWW-Authenticate": 'Bearer realm="bot4"'})
        return None

    async def _status(self, request: web.Request) -> web.Response:
        return _json(200, self._view.status())

    async def _positions(self, request: web.Request) -> web.Response:
        return _json(200, self._view.positions())

    async def _orders(self, request: web.Request) -> web.Response:
        return _json(200, self._view.open_orders())

    async def _fills(self, request: web.Request) -> web.Response:
        raw = request.query.get("limit")
        limit = DEFAULT_FILLS_LIMIT
        if raw is not None:
            try:
                limit = int(raw)
            except ValueError:
                limit = 0
            if not 1 <= limit <= MAX_FILLS_LIMIT:
                return _error(400, f"limit must be an integer from 1 to {MAX_FILLS_LIMIT}, got {raw!r}")
        return _json(200, self._view.recent_fills(limit))

    async def _kill_switch(self, request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.read() or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            return _error(400, f"body must be JSON: {exc}")
        if not isinstance(body, dict):
            return _error(400, 'body must be a JSON object: {"state": "halt|reduce|resume", '
                               '"reason": "..."}')
        unknown = sorted(set(body) - {"state", "reason"})
        if unknown:
            return _error(400, f"unknown keys {unknown}; expected 'state' and 'reason'")
        states = ", ".join(s.value for s in KillSwitch)
        try:
            state = KillSwitch(str(body.get("state")))
        except ValueError:
            return _error(400, f"state must be one of {states}, got {body.get('state')!r}")
        reason = body.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            return _error(400, "reason must be a non-empty string saying why")
        if len(reason) > _MAX_REASON_CHARS:
            return _error(400, f"reason must be at most {_MAX_REASON_CHARS} characters, "
                               f"got {len(reason)}")
        _log.warning("kill switch: %s requested through the status API: %s", state.value, reason)
        return _json(200, self._view.set_trading_state(state, reason.strip()))


# -- JSON --------------------------------------------------------------------------------------


def to_json(value: Any) -> str:
    """``value`` as JSON text, exact numbers (``Decimal``, ``Price``, ...) and ids as strings."""
    return json.dumps(value, default=_encode, separators=(",", ":"))


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")  # never exponent notation: 1E-7 reads as 0.0000001
    if isinstance(value, Price | Quantity | Money | Currency | Identifier | InstrumentId):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    raise TypeError(f"cannot render {type(value).__name__} as JSON: {value!r}")


def _json(status: int, value: Any) -> web.Response:
    return web.Response(status=status, text=to_json(value), content_type="application/json")


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=to_json({"error": message}),
                        content_type="application/json", headers=headers)
