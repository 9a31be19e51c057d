"""Rate limits: weight and order-count headers, 429 with Retry-After, and the 418 ban."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from bot4.testkit import book_snapshot
from bot4.venues.sim.binance_server import RateLimitConfig

from .support import OTHER_KEY, OTHER_SECRET, Client, assert_error, instrument, run, server


def test_request_weight_is_reported_and_enforced_with_429_then_418() -> None:
    limits = RateLimitConfig(request_weight=10, ban_after=2, ban_s=1.0, weight_window_s=1)

    async def body() -> None:
        async with server(rate_limits=limits) as srv, aiohttp.ClientSession() as session:
            client = Client(session, srv)
            info = await client.public("GET", "/api/v3/exchangeInfo")  # weight 20 > 10
            assert info.headers["X-MBX-USED-WEIGHT-1S"] == "0"
            assert info.body["code"] == -1003
            srv.reset_rate_limits()
            used = [(await client.public("GET", "/api/v3/ping")).headers["X-MBX-USED-WEIGHT-1S"] for _ in range(10)]
            assert used == [str(n) for n in range(1, 11)]
            limited = await client.public("GET", "/api/v3/ping")
            assert_error(
                limited,
                -1003,
                "Too much request weight used; current limit is 10 request weight per 1 SECOND. "
                "Please use WebSocket Streams for live updates to avoid polling the API.",
                429,
            )
            assert limited.headers["Retry-After"] == "1"
            assert limited.headers["X-MBX-USED-WEIGHT-1S"] == "10"
            assert (await client.public("GET", "/api/v3/ping")).status == 429
            banned = await client.public("GET", "/api/v3/ping")
            assert banned.status == 418
            assert banned.code == -1003
            until = int(banned.msg.split("until ")[1].split(".")[0])
            assert 0 < until - time.time() * 1000 <= 1_500
            assert_error(
                banned,
                -1003,
                f"Way too much request weight used; IP banned until {until}. "
                "Please use WebSocket Streams for live updates to avoid bans.",
                418,
            )
            assert banned.headers["Retry-After"] == "1"
            await asyncio.sleep(1.1)  # the ban and the one-second window are over
            assert (await client.public("GET", "/api/v3/ping")).status == 200

    run(body)


def test_default_weight_header_and_limits_in_exchange_info() -> None:
    async def body() -> None:
        limits = RateLimitConfig(request_weight=50, orders=3, order_window_s=10, orders_per_day=7)
        async with server(rate_limits=limits) as srv, aiohttp.ClientSession() as session:
            reply = await Client(session, srv).public("GET", "/api/v3/exchangeInfo")
            assert reply.headers["X-MBX-USED-WEIGHT-1M"] == "20"
            assert reply.body["rateLimits"] == [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 50},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 3},
                {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 7},
            ]

    run(body)


def test_new_orders_are_counted_per_account_and_limited_with_1015() -> None:
    async def body() -> None:
        limits = RateLimitConfig(orders=3, order_window_s=10)
        async with server(rate_limits=limits) as srv, aiohttp.ClientSession() as session:
            srv.push(book_snapshot(instrument(), [("100.00", "1")], [("100.10", "1")], 1))
            client = Client(session, srv)
            counts = []
            for _ in range(3):
                reply = await client.order(quantity="0.1", price="99")
                counts.append((reply.headers["X-MBX-ORDER-COUNT-10S"], reply.headers["X-MBX-ORDER-COUNT-1D"]))
            assert counts == [("1", "1"), ("2", "2"), ("3", "3")]
            refused = await client.order(quantity="0.1", price="99")
            assert_error(refused, -1015, "Too many new orders; current limit is 3 orders per 10 SECOND.", 429)
            assert 1 <= int(refused.headers["Retry-After"]) <= 10
            assert refused.headers["X-MBX-ORDER-COUNT-10S"] == "3"
            assert len(srv.account().open_orders()) == 3
            # cancels and queries are not new orders; another account has its own count
            cancel = await client.signed("DELETE", "/api/v3/openOrders", symbol="BTCUSDT")
            assert cancel.status == 200 and "X-MBX-ORDER-COUNT-10S" not in cancel.headers
            other = await Client(session, srv, OTHER_KEY, OTHER_SECRET).order(quantity="0.1", price="99")
            assert (other.status, other.headers["X-MBX-ORDER-COUNT-10S"]) == (200, "1")

    run(body)
