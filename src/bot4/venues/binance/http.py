"""Binance spot REST over aiohttp: public and SIGNED calls, guarded, limited and retried.

Every call of :class:`BinanceHttpClient` goes through the same steps:

1. its circuit breaker (one per endpoint family: ``rest:market``, ``rest:orders`` which is
   critical, ``rest:account``) and the venue's shared :class:`~bot4.net.RateLimiter`, with the
   endpoint's weight (Binance's published weights) and, for a new order, one unit of each
   order limit, all inside :func:`bot4.net.guard.attempt`;
2. the request: SIGNED calls carry ``recvWindow``, a ``timestamp`` on the server's clock (our
   clock plus the offset measured with ``GET /api/v3/time``) and the ``signature`` last, over
   the exact query string sent; the key goes in ``X-MBX-APIKEY``;
3. the answer: the usage headers (``X-MBX-USED-WEIGHT-1M``, ``X-MBX-ORDER-COUNT-10S``, ...)
   update the limiter; an error goes through :func:`~bot4.venues.binance.errors.map_error`
   (a 429 pauses the limiter for ``Retry-After``, a 418 bans the venue, both in ``attempt``);
   a -1021 (our timestamp outside ``recvWindow``) re-syncs the clock and retries once;
4. the named :class:`~bot4.net.RetryPolicy` of the operation: ``idempotent_read`` for reads,
   ``order_submit(dedup_by_client_order_id=False)`` for new orders (Binance does not reliably
   refuse a resubmitted ``newClientOrderId``, so only a request that surely never reached the
   matching engine is sent again), ``order_cancel`` for cancels.

Nothing routes through an environment proxy (``trust_env=False``). The API secret never
leaves :class:`~bot4.venues.binance.credentials.Credentials`; no query string (signature,
listen key) is ever logged or put in an error. Successful bodies are returned as bytes for
the :class:`~bot4.venues.binance.parsing.Parser`, the only route from wire to domain.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from types import TracebackType
from typing import NamedTuple, TypeVar

import aiohttp
import msgspec
import yarl

from bot4.core.clock import Clock
from bot4.core.errors import (
    ConfigError,
    DisconnectedError,
    InvalidDataError,
    InvalidOrderError,
    RequestNotSentError,
    VenueAuthError,
    VenueTimeoutError,
)
from bot4.core.ids import ClientOrderId, Venue
from bot4.model.enums import OrderSide, OrderType, TimeInForce
from bot4.model.orders import Order
from bot4.net.breaker import BreakerRegistry, CircuitBreaker
from bot4.net.guard import attempt
from bot4.net.ratelimit import RateLimit, RateLimiter
from bot4.net.retry import RetryPolicy, idempotent_read, order_cancel, order_submit
from bot4.venues.binance import schemas as wire
from bot4.venues.binance.config import BinanceConfig
from bot4.venues.binance.credentials import Credentials
from bot4.venues.binance.errors import ClockSkewError, map_error
from bot4.venues.binance.parsing import ParseProblem, decode
from bot4.venues.binance.signing import Params, query_string, signed_query

__all__ = [
    "ORDERS",
    "ORDERS_DAY",
    "REQUEST_WEIGHT",
    "BinanceHttpClient",
    "BinanceRateLimits",
    "EndpointFamily",
    "HttpSettings",
    "ResponseType",
    "depth_weight",
    "order_params",
]

_log = logging.getLogger("bot4.venues.binance.http")

REQUEST_WEIGHT = "REQUEST_WEIGHT"
ORDERS = "ORDERS"
ORDERS_DAY = "ORDERS_DAY"

T = TypeVar("T")

_DAY_S = 86_400
_MS = 1_000_000


class EndpointFamily(Enum):
    """Which circuit breaker guards an endpoint; ``ORDERS`` carries orders (critical)."""

    MARKET = "rest:market"
    ORDERS = "rest:orders"
    ACCOUNT = "rest:account"


class _Security(Enum):
    NONE = "NONE"  # public
    API_KEY = "API_KEY"  # X-MBX-APIKEY only (listen keys)
    SIGNED = "SIGNED"  # key, timestamp, recvWindow, signature


class _Endpoint(NamedTuple):
    """One REST endpoint: how it is called, guarded and what it costs (Binance's weight)."""

    method: str
    path: str
    security: _Security
    family: EndpointFamily
    weight: int

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


_MARKET, _ORDERS, _ACCOUNT = EndpointFamily.MARKET, EndpointFamily.ORDERS, EndpointFamily.ACCOUNT
_NONE, _KEYED, _SIGNED = _Security.NONE, _Security.API_KEY, _Security.SIGNED
_TIME = _Endpoint("GET", "/api/v3/time", _NONE, _MARKET, 1)
_EXCHANGE_INFO = _Endpoint("GET", "/api/v3/exchangeInfo", _NONE, _MARKET, 20)
_DEPTH = _Endpoint("GET", "/api/v3/depth", _NONE, _MARKET, 5)  # by limit: depth_weight
_NEW_ORDER = _Endpoint("POST", "/api/v3/order", _SIGNED, _ORDERS, 1)  # and one of each ORDERS
_CANCEL_ORDER = _Endpoint("DELETE", "/api/v3/order", _SIGNED, _ORDERS, 1)
_QUERY_ORDER = _Endpoint("GET", "/api/v3/order", _SIGNED, _ACCOUNT, 4)
_OPEN_ORDERS = _Endpoint("GET", "/api/v3/openOrders", _SIGNED, _ACCOUNT, 6)  # 80 for all symbols
_ACCOUNT_INFO = _Endpoint("GET", "/api/v3/account", _SIGNED, _ACCOUNT, 20)
_MY_TRADES = _Endpoint("GET", "/api/v3/myTrades", _SIGNED, _ACCOUNT, 20)  # 5 with orderId
_NEW_LISTEN_KEY = _Endpoint("POST", "/api/v3/userDataStream", _KEYED, _ACCOUNT, 2)
_KEEP_LISTEN_KEY = _Endpoint("PUT", "/api/v3/userDataStream", _KEYED, _ACCOUNT, 2)
_CLOSE_LISTEN_KEY = _Endpoint("DELETE", "/api/v3/userDataStream", _KEYED, _ACCOUNT, 2)


class ResponseType(Enum):
    """``newOrderRespType``: RESULT adds the order's state to the ids, FULL adds its fills."""

    ACK = "ACK"
    RESULT = "RESULT"
    FULL = "FULL"


def _interval(seconds: int) -> str:
    """``60`` -> ``1M``, ``10`` -> ``10S``, ``86400`` -> ``1D``: Binance's header suffixes."""
    for size, unit in ((_DAY_S, "D"), (3600, "H"), (60, "M"), (1, "S")):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    raise AssertionError("every whole number of seconds has a suffix")


@dataclass(frozen=True, kw_only=True)
class BinanceRateLimits:
    """Binance spot's limits (defaults: the published ones), for the venue's RateLimiter.

    ``REQUEST_WEIGHT`` per IP and window, ``ORDERS`` per account and short window,
    ``ORDERS_DAY`` per account and day; the header names follow the windows
    (``X-MBX-USED-WEIGHT-1M``, ``X-MBX-ORDER-COUNT-10S``, ``X-MBX-ORDER-COUNT-1D``).
    ``margin_s`` lengthens our windows: Binance counts a request when it arrives, we count it
    when we send it, and a request whose latency differs from its predecessor's must not land
    in a window the venue already counts as full.
    """

    request_weight: int = 6000
    weight_window_s: int = 60
    orders: int = 100
    order_window_s: int = 10
    orders_per_day: int = 200_000
    margin_s: float = 0.5

    def __post_init__(self) -> None:
        for name in ("request_weight", "weight_window_s", "orders", "order_window_s", "orders_per_day"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError("rate limit must be a positive integer", key=name, value=value)
        if not self.margin_s >= 0:
            raise ConfigError("margin_s must be >= 0 seconds", key="margin_s", value=self.margin_s)

    def rate_limits(self) -> list[RateLimit]:
        """The limits to build the venue's (shared) :class:`RateLimiter` with."""
        return [
            RateLimit(
                name=REQUEST_WEIGHT,
                limit=self.request_weight,
                window=self.weight_window_s + self.margin_s,
                header=f"X-MBX-USED-WEIGHT-{_interval(self.weight_window_s)}",
            ),
            RateLimit(
                name=ORDERS,
                limit=self.orders,
                window=self.order_window_s + self.margin_s,
                header=f"X-MBX-ORDER-COUNT-{_interval(self.order_window_s)}",
            ),
            RateLimit(
                name=ORDERS_DAY,
                limit=self.orders_per_day,
                window=_DAY_S + self.margin_s,
                header="X-MBX-ORDER-COUNT-1D",
            ),
        ]


@dataclass(frozen=True, kw_only=True)
class HttpSettings:
    """Timeouts and retry policies of the REST client.

    ``timeout_s`` bounds one request (connect, send, answer); ``max_wait_s`` bounds the wait
    for rate-limit capacity (past it the call fails as not sent). ``read``/``submit``/``cancel``
    are the retry policies per kind of operation (see the module docstring).
    """

    timeout_s: float = 10.0
    max_wait_s: float | None = 10.0
    read: RetryPolicy = field(default_factory=idempotent_read)
    submit: RetryPolicy = field(
        default_factory=lambda: order_submit(dedup_by_client_order_id=False)
    )
    cancel: RetryPolicy = field(default_factory=order_cancel)

    def __post_init__(self) -> None:
        if not self.timeout_s > 0:
            raise ConfigError("timeout_s must be > 0 seconds", key="timeout_s", value=self.timeout_s)
        if self.max_wait_s is not None and not self.max_wait_s >= 0:
            raise ConfigError(
                "max_wait_s must be >= 0 seconds or None", key="max_wait_s", value=self.max_wait_s
            )


def depth_weight(limit: int) -> int:
    """Binance's weight of ``GET /api/v3/depth`` for ``limit`` levels per side."""
    if limit <= 100:
        return 5
    if limit <= 500:
        return 25
    if limit <= 1000:
        return 50
    return 250


_ORDER_TYPES = {
    OrderType.MARKET: "MARKET",
    OrderType.LIMIT: "LIMIT",
    OrderType.STOP_MARKET: "STOP_LOSS",
    OrderType.STOP_LIMIT: "STOP_LOSS_LIMIT",
}


def order_params(order: Order, response_type: ResponseType) -> list[tuple[str, object]]:
    """The ``POST /api/v3/order`` parameters of ``order``, ``newClientOrderId`` = its id.

    A post-only limit is a LIMIT_MAKER; a stop-market a STOP_LOSS (Binance triggers a BUY at
    or above, a SELL at or below the stop price, as Bot4 does). Raise
    :class:`InvalidOrderError` for what Binance spot cannot take (GTD, reduce-only).
    """
    kind = _ORDER_TYPES.get(order.order_type)
    if kind is None:  # every OrderType is mapped; a new one must be mapped here first
        raise InvalidOrderError(
            "order type not supported on Binance spot",
            order=str(order.client_order_id),
            order_type=order.order_type.value,
        )
    if order.reduce_only:
        raise InvalidOrderError(
            "Binance spot has no reduce-only orders", order=str(order.client_order_id)
        )
    if order.order_type is OrderType.LIMIT and order.post_only:
        kind = "LIMIT_MAKER"
    params: list[tuple[str, object]] = [
        ("symbol", order.instrument_id.symbol.value),
        ("side", "BUY" if order.side is OrderSide.BUY else "SELL"),
        ("type", kind),
    ]
    if kind in ("LIMIT", "STOP_LOSS_LIMIT"):
        if order.time_in_force is TimeInForce.GTD:
            raise InvalidOrderError(
                "Binance spot has no GTD time in force",
                order=str(order.client_order_id),
                expected="GTC, IOC or FOK",
            )
        params.append(("timeInForce", order.time_in_force.value))
    params.append(("quantity", order.quantity))
    if order.price is not None and kind != "MARKET":
        params.append(("price", order.price))
    if order.trigger_price is not None:
        params.append(("stopPrice", order.trigger_price))
    params.append(("newClientOrderId", order.client_order_id.value))
    params.append(("newOrderRespType", response_type.value))
    return params


class BinanceHttpClient:
    """Binance spot REST: one aiohttp session, the venue's limiter and breakers.

    ``credentials`` may be None for public data only; a keyed call then raises
    :class:`VenueAuthError`. Use ``async with`` or call :meth:`close`.
    """

    def __init__(
        self,
        config: BinanceConfig,
        credentials: Credentials | None,
        *,
        limiter: RateLimiter,
        breakers: BreakerRegistry,
        clock: Clock,
        settings: HttpSettings | None = None,
    ) -> None:
        self.config = config
        self.venue = Venue(config.venue)
        self.limiter = limiter
        self.breakers = breakers
        self.settings = settings or HttpSettings()
        self._credentials = credentials
        self._clock = clock
        self._breakers: dict[EndpointFamily, CircuitBreaker] = {
            family: breakers.get(self.venue, family.value, critical=family is EndpointFamily.ORDERS)
            for family in EndpointFamily
        }
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self._offset_ms = 0
        self._synced = False
        self._sync_lock: asyncio.Lock | None = None
        self.time_syncs = 0
        self.clock_skew_retries = 0

    def __repr__(self) -> str:
        keyed = "no key" if self._credentials is None else self._credentials.fingerprint
        return f"BinanceHttpClient({self.config.rest_url}, {keyed})"

    # -- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> BinanceHttpClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session; later calls fail as not sent."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _http(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RequestNotSentError("the Binance REST client is closed", venue=str(self.venue))
        if self._session is None:
            self._session = aiohttp.ClientSession(
                trust_env=False,  # never through an environment proxy
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout_s),
                headers={"User-Agent": "bot4"},
            )
        return self._session

    # -- time -----------------------------------------------------------------------------

    @property
    def time_offset_ms(self) -> int:
        """Server time minus our clock, as last measured (0 before the first sync)."""
        return self._offset_ms

    def timestamp_ms(self) -> int:
        """Now on the server's clock: our clock plus the measured offset."""
        return self._clock.timestamp_ns() // _MS + self._offset_ms

    async def server_time(self) -> int:
        """``GET /api/v3/time``: the server's time in milliseconds."""
        body = await self._call(_TIME, (), self.settings.read)
        return self._decode(body, wire.ServerTime, _TIME).server_time

    async def sync_time(self) -> int:
        """Measure the server's clock against ours (half the round trip) and return the offset."""
        async with self._lock():
            return await self._measure_offset()

    async def _ensure_synced(self) -> None:
        """Sync once before the first signed call; concurrent first calls share that sync."""
        if self._synced:
            return
        async with self._lock():
            if not self._synced:
                await self._measure_offset()

    def _lock(self) -> asyncio.Lock:
        lock = self._sync_lock
        if lock is None:
            lock = self._sync_lock = asyncio.Lock()
        return lock

    async def _measure_offset(self) -> int:
        before = self._clock.timestamp_ns() // _MS
        server = await self.server_time()
        after = self._clock.timestamp_ns() // _MS
        self._offset_ms = server - (before + after) // 2
        self._synced = True
        self.time_syncs += 1
        _log.info("%s server clock offset %d ms", self.venue, self._offset_ms)
        return self._offset_ms

    # -- public ---------------------------------------------------------------------------

    async def exchange_info(self, symbols: Sequence[str] | None = None) -> wire.ExchangeInfo:
        """``GET /api/v3/exchangeInfo`` (only ``symbols`` when given), decoded."""
        params = [("symbols", msgspec.json.encode(list(symbols)).decode())] if symbols else []
        body = await self._call(_EXCHANGE_INFO, params, self.settings.read)
        return self._decode(body, wire.ExchangeInfo, _EXCHANGE_INFO)

    async def depth_snapshot(self, symbol: str, limit: int | None = None) -> bytes:
        """``GET /api/v3/depth``: the book's best ``limit`` levels (config default) and its id."""
        levels = self.config.depth_snapshot_limit if limit is None else limit
        params = (("symbol", symbol), ("limit", levels))
        return await self._call(_DEPTH, params, self.settings.read, weight=depth_weight(levels))

    # -- trading --------------------------------------------------------------------------

    async def new_order(
        self, order: Order, *, response_type: ResponseType = ResponseType.FULL
    ) -> bytes:
        """``POST /api/v3/order`` with ``newClientOrderId`` = our client order id."""
        params = order_params(order, response_type)
        return await self._call(_NEW_ORDER, params, self.settings.submit, new_order=True)

    async def cancel_order(self, symbol: str, client_order_id: ClientOrderId) -> bytes:
        """``DELETE /api/v3/order`` by ``origClientOrderId`` (idempotent: retried)."""
        params = (("symbol", symbol), ("origClientOrderId", client_order_id.value))
        return await self._call(_CANCEL_ORDER, params, self.settings.cancel)

    async def query_order(self, symbol: str, client_order_id: ClientOrderId) -> bytes:
        """``GET /api/v3/order`` by ``origClientOrderId``."""
        params = (("symbol", symbol), ("origClientOrderId", client_order_id.value))
        return await self._call(_QUERY_ORDER, params, self.settings.read)

    async def open_orders(self, symbol: str | None = None) -> bytes:
        """``GET /api/v3/openOrders`` of one symbol (weight 6) or all (weight 80)."""
        if symbol is None:
            return await self._call(_OPEN_ORDERS, (), self.settings.read, weight=80)
        return await self._call(_OPEN_ORDERS, (("symbol", symbol),), self.settings.read)

    async def account(self) -> bytes:
        """``GET /api/v3/account``: balances (zero ones left out)."""
        return await self._call(_ACCOUNT_INFO, (("omitZeroBalances", "true"),), self.settings.read)

    async def my_trades(
        self,
        symbol: str,
        *,
        order_id: int | None = None,
        start_time_ms: int | None = None,
        limit: int | None = None,
    ) -> bytes:
        """``GET /api/v3/myTrades`` of one symbol (weight 20; 5 for one order)."""
        params = (
            ("symbol", symbol),
            ("orderId", order_id),
            ("startTime", start_time_ms),
            ("limit", limit),
        )  # None values are left out
        weight = 5 if order_id is not None else None
        return await self._call(_MY_TRADES, params, self.settings.read, weight=weight)

    # -- user data stream -----------------------------------------------------------------

    async def create_listen_key(self) -> str:
        """``POST /api/v3/userDataStream``: a listen key (Binance returns the live one)."""
        body = await self._call(_NEW_LISTEN_KEY, (), self.settings.read)
        return self._decode(body, wire.ListenKey, _NEW_LISTEN_KEY).listen_key

    async def keepalive_listen_key(self, listen_key: str) -> None:
        """``PUT /api/v3/userDataStream``; -1125 (:class:`InvalidListenKeyError`) when gone."""
        await self._call(_KEEP_LISTEN_KEY, (("listenKey", listen_key),), self.settings.read)

    async def close_listen_key(self, listen_key: str) -> None:
        """``DELETE /api/v3/userDataStream``: the stream ends."""
        await self._call(_CLOSE_LISTEN_KEY, (("listenKey", listen_key),), self.settings.read)

    # -- the pipeline ---------------------------------------------------------------------

    async def _call(
        self,
        endpoint: _Endpoint,
        params: Params,
        policy: RetryPolicy,
        *,
        weight: int | None = None,
        new_order: bool = False,
    ) -> bytes:
        """One call: breaker, limiter, request, answer, retried per ``policy``; the body."""
        costs = {REQUEST_WEIGHT: endpoint.weight if weight is None else weight}
        if new_order:
            costs[ORDERS] = 1
            costs[ORDERS_DAY] = 1
        breaker = self._breakers[endpoint.family]
        pairs = list(params.items()) if isinstance(params, Mapping) else list(params)
        signed = endpoint.security is _Security.SIGNED

        async def once() -> bytes:
            if signed:
                await self._ensure_synced()
            skew_retried = False
            while True:
                try:
                    async with attempt(
                        breaker=breaker,
                        limiter=self.limiter,
                        costs=costs,
                        max_wait=self.settings.max_wait_s,
                    ):
                        return await self._send(endpoint, pairs)
                except ClockSkewError:
                    if not signed or skew_retried:
                        raise
                    skew_retried = True
                    self.clock_skew_retries += 1
                    _log.warning("%s: -1021 clock skew, re-syncing time", endpoint)
                    await self.sync_time()

        return await policy.run(once)

    async def _send(self, endpoint: _Endpoint, pairs: list[tuple[str, object]]) -> bytes:
        security, name = endpoint.security, str(endpoint)
        headers: dict[str, str] = {}
        if security is not _Security.NONE:
            credentials = self._credentials
            if credentials is None:
                raise VenueAuthError(
                    "this Binance call needs API credentials and none were given",
                    venue=str(self.venue),
                    endpoint=name,
                )
            headers["X-MBX-APIKEY"] = credentials.api_key
            if security is _Security.SIGNED:
                query = signed_query(
                    pairs, credentials, self.timestamp_ms(), self.config.recv_window_ms
                )
            else:
                query = query_string(pairs)
        else:
            query = query_string(pairs)
        # encoded=True: the signature covers these exact bytes; yarl must not re-encode them.
        url = yarl.URL(
            f"{self.config.rest_url}{endpoint.path}{'?' + query if query else ''}", encoded=True
        )
        session = self._http()
        try:
            async with session.request(
                endpoint.method, url, headers=headers, allow_redirects=False
            ) as resp:
                body = await resp.read()
                status = resp.status
                answer_headers = {key: value for key, value in resp.headers.items()}
        except aiohttp.ClientConnectorError as exc:
            # No connection was made, so nothing was sent: safe to send again.
            raise RequestNotSentError(
                "could not connect to Binance",
                venue=str(self.venue),
                endpoint=name,
                error=_describe(exc),
            ) from None
        except TimeoutError:
            raise VenueTimeoutError(
                "Binance did not answer in time; the outcome is unknown",
                venue=str(self.venue),
                endpoint=name,
                timeout_s=self.settings.timeout_s,
            ) from None
        except aiohttp.ClientError as exc:
            raise DisconnectedError(
                "the connection to Binance failed during the request; the outcome is unknown",
                venue=str(self.venue),
                endpoint=name,
                error=_describe(exc),
            ) from None
        self.limiter.update_from_headers(answer_headers)
        if 200 <= status < 300:
            _log.debug("%s -> %d", name, status)
            return body
        error = map_error(
            status,
            body,
            answer_headers,
            venue=str(self.venue),
            endpoint=name,
            now_ms=self.timestamp_ms(),
        )
        _log.debug("%s -> %d: %s", name, status, error.message)
        raise error

    def _decode(self, body: bytes, type_: type[T], endpoint: _Endpoint) -> T:
        found = decode(body, type_)
        if isinstance(found, ParseProblem):
            raise InvalidDataError(
                "Binance answered with a body that does not parse",
                venue=str(self.venue),
                endpoint=str(endpoint),
                reason=found.reason.value,
                problem=found.message,
                raw=found.raw[:200],
            )
        return found


def _describe(exc: BaseException) -> str:
    """The class and OS reason of a transport error, without the URL (it holds the query)."""
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else ""
    return f"{type(exc).__name__}: {reason}" if reason else type(exc).__name__

