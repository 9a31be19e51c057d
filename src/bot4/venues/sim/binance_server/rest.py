"""The REST API of the local exchange: Binance spot endpoints, checks in Binance's order.

Every request goes through :meth:`RestApi.dispatch`:

1. injected faults: delay, then an HTML error page (500/503...) instead of an answer;
2. request weight for the IP (429 -1003 / 418 ban), then duplicate and unknown parameters
   (-1101 / -1104, the latter on keyed endpoints only);
3. API key (-2014 / -2015), signature (-1102 / -1022) and ``timestamp``/``recvWindow``
   (-1021) where the endpoint's security type asks for them;
4. the order count of the account for new orders (429 -1015);
5. the endpoint itself.

Every answer carries ``X-MBX-USED-WEIGHT-1M``; order answers carry ``X-MBX-ORDER-COUNT-10S``
and ``-1D``; errors are ``{"code", "msg"}`` with ``Retry-After`` on 429/418. The request
and its outcome are recorded (credentials redacted). An unexpected exception is the one case
answered with -1000 and HTTP 500; it is kept in ``errors`` so tests see it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from aiohttp import web

from bot4.venues.sim.binance_server import trading, wire
from bot4.venues.sim.binance_server.auth import Security, check_timestamp, verify_signature
from bot4.venues.sim.binance_server.errors import ApiError, Msg
from bot4.venues.sim.binance_server.exchange import Exchange
from bot4.venues.sim.binance_server.faults import RecordedRequest, html_error_page, redact_headers
from bot4.venues.sim.binance_server.params import Params, parse_new_order, split_pairs
from bot4.venues.sim.binance_server.state import Account

__all__ = ["RestApi"]

_log = logging.getLogger("bot4.venues.sim.binance_server")
_encode = msgspec.json.Encoder().encode
_SIGNED = frozenset({"recvWindow", "timestamp"})
_BODY_METHODS = frozenset({"POST", "PUT", "DELETE"})

Result = wire.Json | list[wire.Json]


@dataclass(frozen=True, slots=True)
class Context:
    params: Params
    account: Account | None
    can_trade: bool
    now_ms: int

    @property
    def acct(self) -> Account:
        if self.account is None:
            raise AssertionError("a keyed endpoint always has an account")
        return self.account


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    security: Security
    weight: Callable[[dict[str, str]], int]
    handler: Callable[[Context], Result]
    allowed: frozenset[str] | None = None
    new_order: bool = False


def _fixed(weight: int) -> Callable[[dict[str, str]], int]:
    return lambda _: weight


def _depth_weight(values: dict[str, str]) -> int:
    limit = _int_or(values.get("limit"), 100)
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250


def _int_or(text: str | None, default: int) -> int:
    return int(text) if text is not None and text.isdigit() else default


class RestApi:
    """Binds the Binance endpoints to one :class:`Exchange`."""

    def __init__(self, exchange: Exchange) -> None:
        self.ex = exchange
        self.errors: list[BaseException] = []
        signed = _SIGNED
        self.endpoints = [
            Endpoint("GET", "/api/v3/ping", Security.NONE, _fixed(1), lambda _: {}),
            Endpoint("GET", "/api/v3/time", Security.NONE, _fixed(1), lambda c: {"serverTime": c.now_ms}),
            Endpoint("GET", "/api/v3/exchangeInfo", Security.NONE, _fixed(20), self._exchange_info),
            Endpoint("GET", "/api/v3/depth", Security.NONE, _depth_weight, self._depth),
            Endpoint("GET", "/api/v3/trades", Security.NONE, _fixed(25), self._trades),
            Endpoint(
                "GET", "/api/v3/ticker/bookTicker", Security.NONE,
                lambda v: 2 if "symbol" in v else 4, self._book_ticker,
            ),
            Endpoint(
                "POST", "/api/v3/order", Security.TRADE, _fixed(1), self._new_order,
                signed | {"symbol", "side", "type", "timeInForce", "quantity", "quoteOrderQty", "price",
                          "newClientOrderId", "stopPrice", "icebergQty", "newOrderRespType",
                          "selfTradePreventionMode", "strategyId", "strategyType"},
                new_order=True,
            ),
            Endpoint(
                "DELETE", "/api/v3/order", Security.TRADE, _fixed(1), self._cancel_order,
                signed | {"symbol", "orderId", "origClientOrderId", "newClientOrderId", "cancelRestrictions"},
            ),
            Endpoint(
                "GET", "/api/v3/order", Security.USER_DATA, _fixed(4), self._query_order,
                signed | {"symbol", "orderId", "origClientOrderId"},
            ),
            Endpoint(
                "GET", "/api/v3/openOrders", Security.USER_DATA,
                lambda v: 6 if "symbol" in v else 80, self._open_orders, signed | {"symbol"},
            ),
            Endpoint(
                "DELETE", "/api/v3/openOrders", Security.TRADE, _fixed(1), self._cancel_open_orders,
                signed | {"symbol"},
            ),
            Endpoint(
                "GET", "/api/v3/allOrders", Security.USER_DATA, _fixed(20), self._all_orders,
                signed | {"symbol", "orderId", "startTime", "endTime", "limit"},
            ),
            Endpoint(
                "GET", "/api/v3/account", Security.USER_DATA, _fixed(20), self._account,
                signed | {"omitZeroBalances"},
            ),
            Endpoint(
                "GET", "/api/v3/myTrades", Security.USER_DATA, _fixed(20), self._my_trades,
                signed | {"symbol", "orderId", "startTime", "endTime", "fromId", "limit"},
            ),
            Endpoint("POST", "/api/v3/userDataStream", Security.USER_STREAM, _fixed(2), self._new_listen_key, frozenset()),
            Endpoint(
                "PUT", "/api/v3/userDataStream", Security.USER_STREAM, _fixed(2), self._keep_listen_key,
                frozenset({"listenKey"}),
            ),
            Endpoint(
                "DELETE", "/api/v3/userDataStream", Security.USER_STREAM, _fixed(2), self._close_listen_key,
                frozenset({"listenKey"}),
            ),
        ]

    def routes(self) -> list[web.RouteDef]:
        return [web.route(e.method, e.path, self._bind(e)) for e in self.endpoints]

    def _bind(self, endpoint: Endpoint) -> Callable[[web.Request], Any]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self.dispatch(endpoint, request)

        return handle

    # -- the pipeline ---------------------------------------------------------------------

    async def dispatch(self, endpoint: Endpoint, request: web.Request) -> web.StreamResponse:
        ex = self.ex
        method, path = request.method, request.path
        query = request.rel_url.raw_query_string
        body = await request.text() if method in _BODY_METHODS and request.can_read_body else ""
        params = Params(split_pairs(query) + split_pairs(body))
        delay = ex.faults.http_delay(method, path)
        if delay > 0:
            await asyncio.sleep(delay)
        failure = ex.faults.take_http_failure(method, path)
        if failure is not None:
            self._record(request, params, failure, None, None)
            return web.Response(status=failure, text=html_error_page(failure), content_type="text/html")
        ip = request.remote or "127.0.0.1"
        headers: dict[str, str] = {}
        account: Account | None = None
        status, code = 200, None
        try:
            ex.limits.charge_weight(ip, endpoint.weight(params.values))
            security = endpoint.security
            params.check(endpoint.allowed if security.needs_key else None)
            can_trade = False
            if security.needs_key:
                key = ex.keys.resolve(request.headers.get("X-MBX-APIKEY"), security)
                account = ex.accounts[key.account]
                can_trade = key.can_trade
                if security.signed:
                    verify_signature(key.secret_key, query, body)
                    check_timestamp(params, ex.clock.now_ms())
            if endpoint.new_order and account is not None:
                ex.limits.charge_order(account.name)
            answer = _encode(endpoint.handler(Context(params, account, can_trade, ex.clock.now_ms())))
        except ApiError as error:
            status, code = error.status, error.code
            if error.retry_after is not None:
                headers["Retry-After"] = str(error.retry_after)
            answer = _encode(error.body())
        except Exception as error:  # noqa: BLE001 - the request boundary: a server bug becomes -1000, kept in errors
            _log.exception("local Binance exchange failed on %s %s", method, path)
            self.errors.append(error)
            status, code = 500, -1000
            answer = _encode({"code": -1000, "msg": Msg.UNKNOWN})
        headers[ex.limits.weight_header] = str(ex.limits.used_weight(ip))
        if endpoint.new_order and account is not None:
            short, day = ex.limits.order_counts(account.name)
            headers[ex.limits.order_header] = str(short)
            headers[ex.limits.day_order_header] = str(day)
        self._record(request, params, status, code, account)
        return web.Response(status=status, body=answer, content_type="application/json", headers=headers)

    def _record(
        self, request: web.Request, params: Params, status: int, code: int | None, account: Account | None
    ) -> None:
        self.ex.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                params=dict(params.values),
                headers=redact_headers(request.headers),
                status=status,
                code=code,
                account=None if account is None else account.name,
                ts_ms=self.ex.clock.now_ms(),
            )
        )

    # -- public ---------------------------------------------------------------------------

    def _exchange_info(self, ctx: Context) -> Result:
        ex = self.ex
        params = ctx.params
        symbols: list[str]
        one = params.get("symbol")
        many = params.get("symbols")
        if one is not None:
            symbols = [params.symbol(ex.instruments).id.symbol.value]
        elif many is not None:
            try:
                names = msgspec.json.decode(many)
            except msgspec.DecodeError:
                raise ApiError.illegal("symbols", '["SYMBOL1","SYMBOL2"]') from None
            if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
                raise ApiError.illegal("symbols", '["SYMBOL1","SYMBOL2"]')
            for name in names:
                if name not in ex.instruments:
                    raise ApiError(-1121, Msg.BAD_SYMBOL)
            symbols = names
        else:
            symbols = list(ex.instruments)
        return {
            "timezone": "UTC",
            "serverTime": ctx.now_ms,
            "rateLimits": ex.limits.exchange_info(),
            "exchangeFilters": [],
            "symbols": [wire.symbol_info(ex.instruments[s]) for s in symbols],
        }

    def _depth(self, ctx: Context) -> Result:
        instrument = ctx.params.symbol(self.ex.instruments)
        limit = ctx.params.integer("limit")
        if limit is None:
            limit = 100
        elif limit < 1:
            raise ApiError.invalid_value("limit")
        return self.ex.market(instrument.id.symbol.value).depth(min(limit, 5000))

    def _trades(self, ctx: Context) -> Result:
        instrument = ctx.params.symbol(self.ex.instruments)
        limit = ctx.params.integer("limit") or 500
        trades = list(self.ex.market(instrument.id.symbol.value).trades)
        return trades[-min(max(limit, 1), 1000) :]

    def _book_ticker(self, ctx: Context) -> Result:
        ex = self.ex
        one = ctx.params.optional_symbol(ex.instruments)
        symbols = [one.id.symbol.value] if one is not None else list(ex.instruments)
        out = []
        for symbol in symbols:
            market = ex.market(symbol)
            px, qty = wire.decimals_of(market.instrument)
            (bid, bid_size), (ask, ask_size) = market.top()
            out.append(
                {
                    "symbol": symbol,
                    "bidPrice": wire.fmt(bid, px),
                    "bidQty": wire.fmt(bid_size, qty),
                    "askPrice": wire.fmt(ask, px),
                    "askQty": wire.fmt(ask_size, qty),
                }
            )
        return out[0] if one is not None else out

    # -- trading --------------------------------------------------------------------------

    def _new_order(self, ctx: Context) -> Result:
        request = parse_new_order(ctx.params, self.ex.instruments)
        rec = trading.place(ctx.acct, request, self.ex.ids, self.ex.clock)
        return wire.new_order_result(rec, request.response_type, rec.time_ms)

    def _cancel_order(self, ctx: Context) -> Result:
        params = ctx.params
        instrument = params.symbol(self.ex.instruments)
        order_id = params.integer("orderId")
        orig = params.get("origClientOrderId")
        if order_id is None and orig is None:
            raise ApiError.either("origClientOrderId", "orderId")
        new_id = params.client_order_id("newClientOrderId")
        params.get("cancelRestrictions")
        rec = trading.cancel(ctx.acct, instrument, order_id, orig, new_id)
        return wire.cancel_result(rec, ctx.now_ms)

    def _query_order(self, ctx: Context) -> Result:
        params = ctx.params
        instrument = params.symbol(self.ex.instruments)
        order_id = params.integer("orderId")
        orig = params.get("origClientOrderId")
        if order_id is None and orig is None:
            raise ApiError.either("origClientOrderId", "orderId")
        rec = ctx.acct.find(instrument.id.symbol.value, order_id, orig)
        if rec is None:
            raise ApiError(-2013, Msg.NO_SUCH_ORDER)
        return wire.order(rec)

    def _open_orders(self, ctx: Context) -> Result:
        instrument = ctx.params.optional_symbol(self.ex.instruments)
        symbol = None if instrument is None else instrument.id.symbol.value
        return [wire.order(rec) for rec in ctx.acct.open_orders(symbol)]

    def _cancel_open_orders(self, ctx: Context) -> Result:
        instrument = ctx.params.symbol(self.ex.instruments)
        return [wire.cancel_result(rec, ctx.now_ms) for rec in trading.cancel_all(ctx.acct, instrument)]

    def _all_orders(self, ctx: Context) -> Result:
        params = ctx.params
        symbol = params.symbol(self.ex.instruments).id.symbol.value
        from_id = params.integer("orderId")
        start, end = params.integer("startTime"), params.integer("endTime")
        limit = min(max(params.integer("limit") or 500, 1), 1000)
        rows = [
            rec
            for rec in ctx.acct.orders.values()
            if rec.symbol == symbol
            and (from_id is None or rec.order_id >= from_id)
            and (start is None or rec.time_ms >= start)
            and (end is None or rec.time_ms <= end)
        ]
        rows = rows[:limit] if from_id is not None else rows[-limit:]
        return [wire.order(rec) for rec in rows]

    def _account(self, ctx: Context) -> Result:
        acct = ctx.acct
        omit = ctx.params.get("omitZeroBalances") == "true"
        balances = [row for row in acct.balances() if not (omit and row[1] == 0 and row[2] == 0)]
        return wire.account(
            maker_fee=acct.maker_fee,
            taker_fee=acct.taker_fee,
            can_trade=ctx.can_trade,
            update_ms=acct.update_ms,
            balances=balances,
            uid=acct.uid,
        )

    def _my_trades(self, ctx: Context) -> Result:
        params = ctx.params
        instrument = params.symbol(self.ex.instruments)
        symbol = instrument.id.symbol.value
        order_id = params.integer("orderId")
        from_id = params.integer("fromId")
        start, end = params.integer("startTime"), params.integer("endTime")
        limit = min(max(params.integer("limit") or 500, 1), 1000)
        fills = [
            fill
            for fill in ctx.acct.trades.get(symbol, [])
            if (order_id is None or fill.order_id == order_id)
            and (from_id is None or fill.trade_id >= from_id)
            and (start is None or fill.time_ms >= start)
            and (end is None or fill.time_ms <= end)
        ]
        fills = fills[:limit] if from_id is not None else fills[-limit:]
        return [wire.my_trade(instrument, fill) for fill in fills]

    # -- listen keys ----------------------------------------------------------------------

    def _new_listen_key(self, ctx: Context) -> Result:
        return {"listenKey": self.ex.listen_keys.create(ctx.acct.name)}

    def _keep_listen_key(self, ctx: Context) -> Result:
        key = ctx.params.require("listenKey")
        if self.ex.listen_keys.account_of(key) != ctx.acct.name or not self.ex.listen_keys.keep_alive(key):
            raise ApiError(-1125, Msg.INVALID_LISTEN_KEY)
        return {}

    def _close_listen_key(self, ctx: Context) -> Result:
        key = ctx.params.require("listenKey")
        if self.ex.listen_keys.account_of(key) != ctx.acct.name:
            raise ApiError(-1125, Msg.INVALID_LISTEN_KEY)
        self.ex.listen_keys.delete(key)
        self.ex.hub.close_stream(key, 1000, "listenKey closed")
        return {}

