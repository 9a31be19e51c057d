"""Rate limits, clock skew and credentials of the Binance REST client against the local exchange."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest

from bot4.model.enums import OrderSide, OrderStatus
from bot4.model.events import OrderAccepted, OrderCancelRejected, OrderRejected
from bot4.testkit import book_snapshot
from bot4.venues.binance.http import BinanceRateLimits
from bot4.venues.sim.binance_server import RateLimitConfig

from .support import KEY, SECRET, Rig, run, server_config, until


def test_burst_of_orders_stays_under_the_venue_order_limit() -> None:
    venue_limits = RateLimitConfig(orders=5, order_window_s=1)
    ours = BinanceRateLimits(orders=5, order_window_s=1, margin_s=0.2)

    async def body() -> None:
        async with Rig(server=server_config(rate_limits=venue_limits), limits=ours) as rig:
            rig.server.push(book_snapshot(rig.instrument, [("100.00", "5")], [("100.01", "5")], 1))
            await rig.start_trading()
            loop = asyncio.get_running_loop()
            started = loop.time()
            orders = [rig.limit(OrderSide.BUY, "0.1", f"{80 + i}.00") for i in range(12)]
            await until(lambda: all(o.status is OrderStatus.ACCEPTED for o in orders), timeout=10, what="the acks")
            elapsed = loop.time() - started

            new_orders = [r for r in rig.server.requests if r.path == "/api/v3/order" and r.method == "POST"]
            assert [r.status for r in new_orders] == [200] * 12  # never a 429
            assert elapsed >= 2 * 1.0  # 12 orders at 5 per second need three windows
            assert rig.limiter.stats.waits >= 7
            assert all(len(rig.events_of(o, OrderAccepted)) == 1 for o in orders)

    run(body)


def test_venue_429_pauses_the_limiter_for_retry_after_and_the_read_succeeds() -> None:
    # The venue allows 30 weight per 2 s; our limiter thinks it has 6000 a minute.
    venue_limits = RateLimitConfig(request_weight=30, weight_window_s=2)

    async def body() -> None:
        async with Rig(server=server_config(rate_limits=venue_limits)) as rig:
            loop = asyncio.get_running_loop()
            started = loop.time()
            bodies = [await rig.http.depth_snapshot("BTCUSDT", 5) for _ in range(4)]  # 20 + 4 x 5
            elapsed = loop.time() - started

            statuses = [(r.path, r.status, r.code) for r in rig.server.requests]
            assert statuses.count(("/api/v3/depth", 429, -1003)) == 1
            assert all(status != 418 for _, status, _ in statuses)
            assert len(bodies) == 4 and all(b.startswith(b'{"lastUpdateId"') for b in bodies)
            assert elapsed >= 0.9  # Retry-After (seconds to the end of the venue's window) honoured
            assert rig.limiter.stats.waits >= 1

    run(body)


def test_used_weight_header_adds_what_another_client_on_our_ip_spent() -> None:
    async def body() -> None:
        async with Rig() as rig, aiohttp.ClientSession() as other:
            async with other.get(f"{rig.server.rest_url}/api/v3/exchangeInfo") as reply:
                assert reply.status == 200  # weight 20 that our limiter never saw
            before = rig.limiter.stats.used["REQUEST_WEIGHT"]
            await rig.http.server_time()
            after = rig.limiter.stats
            assert after.header_corrections == 1
            assert after.used["REQUEST_WEIGHT"] == before + 1 + 20

    run(body)


def test_clock_skew_is_recovered_by_resyncing_server_time_and_retrying_once() -> None:
    async def body() -> None:
        async with Rig() as rig:
            rig.server.push(book_snapshot(rig.instrument, [("100.00", "5")], [("100.01", "5")], 1))
            await rig.start_trading()
            first = rig.limit(OrderSide.BUY, "0.1", "95.00")
            await until(lambda: first.status is OrderStatus.ACCEPTED, what="the first ack")
            assert abs(rig.http.time_offset_ms) < 1_000

            rig.server.set_time_offset(-30_000)  # the venue's clock is now 30 s behind ours
            second = rig.limit(OrderSide.BUY, "0.1", "96.00")
            await until(lambda: second.status is OrderStatus.ACCEPTED, what="the second ack")

            tail = [(r.method, r.path, r.status, r.code) for r in rig.server.requests][-3:]
            assert tail == [
                ("POST", "/api/v3/order", 400, -1021),
                ("GET", "/api/v3/time", 200, None),
                ("POST", "/api/v3/order", 200, None),
            ]
            assert abs(rig.http.time_offset_ms + 30_000) < 1_000
            assert rig.http.clock_skew_retries == 1
            assert rig.events_of(second, OrderRejected) == []

    run(body)


def test_credentials_never_appear_in_logs_errors_or_reprs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    async def body() -> None:
        async with Rig() as rig:
            rig.server.push(book_snapshot(rig.instrument, [("100.00", "5")], [("100.01", "5")], 1))
            await rig.start_trading()
            listen_key = rig.server.exchange.listen_keys.keys_of("main")[0]
            rig.server.set_time_offset(-30_000)  # a -1021 and a resync on the way
            ok = rig.limit(OrderSide.BUY, "0.1", "95.00")
            refused = rig.limit(OrderSide.BUY, "5000", "100.00")  # -2010
            await until(lambda: ok.status is OrderStatus.ACCEPTED and refused.status is OrderStatus.REJECTED)
            rig.server.faults.fail_http("/api/v3/order", status=503, method="DELETE", times=None)
            rig.engine.cancel_order(ok)  # 5xx until the cancel policy gives up
            await until(lambda: rig.events_of(ok, OrderCancelRejected), timeout=10, what="the refusal")
            rig.server.expire_listen_keys()
            await until(lambda: rig.execution.stats().listen_key_renewals == 1, what="the renewal")
            await rig.execution.wait_ready(5)

            texts = [caplog.text, repr(rig.http), repr(rig.execution), repr(rig.config)]
            texts += [str(e) for e in rig.errors] + [repr(e) for e in rig.errors]
            texts += [repr(e) for e in rig.events]
            (gave_up,) = rig.events_of(ok, OrderCancelRejected)
            assert "HTTP 503" in gave_up.reason
            for text in texts:
                assert SECRET not in text
                assert KEY not in text
                assert listen_key not in text  # the listen key opens the account's stream
            assert "adap***" in repr(rig.http)

    run(body)
