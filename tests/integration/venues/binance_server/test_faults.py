"""Injected faults: gateway errors, slow answers, dropped and stalled streams, clean shutdown."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from bot4.model.data import BookDelta, BookDeltas
from bot4.model.enums import BookAction, OrderSide
from bot4.testkit import book_snapshot, trade
from bot4.venues.sim.binance_server import DropMode, StreamKind

from .support import Client, instrument, nothing_arrives, recv_json, run, server

INST = instrument()


def level(price: str, size: str, ts: int) -> BookDeltas:
    delta = BookDelta(INST.id, BookAction.UPDATE, OrderSide.BUY, INST.make_price(price), INST.make_qty(size), 0, ts, ts)
    return BookDeltas(INST.id, [delta], 0, 0, ts, ts)


def test_injected_http_errors_are_html_pages_and_run_out() -> None:
    async def body() -> None:
        async with server() as srv, aiohttp.ClientSession() as session:
            client = Client(session, srv)
            srv.faults.fail_http("/api/v3/depth", status=503, times=2)
            for _ in range(2):
                failed = await client.public("GET", "/api/v3/depth", symbol="BTCUSDT")
                assert failed.status == 503
                assert failed.headers["Content-Type"].startswith("text/html")
                assert "<h1>503 Service Unavailable</h1>" in failed.body
                assert "X-MBX-USED-WEIGHT-1M" not in failed.headers
            assert (await client.public("GET", "/api/v3/depth", symbol="BTCUSDT")).status == 200
            srv.faults.fail_http("*", status=500, times=None, method="POST")
            assert (await client.order(quantity="1", price="100")).status == 500
            assert (await client.public("GET", "/api/v3/ping")).status == 200
            srv.faults.clear()
            assert (await client.keyed("POST", "/api/v3/userDataStream")).status == 200
            assert [r.status for r in srv.requests] == [503, 503, 200, 500, 200, 200]
            assert srv.account().open_orders() == []

    run(body)


def test_injected_delay_holds_the_answer() -> None:
    async def body() -> None:
        async with server() as srv, aiohttp.ClientSession() as session:
            client = Client(session, srv)
            srv.faults.delay_http("/api/v3/time", 0.3)
            start = time.monotonic()
            assert (await client.public("GET", "/api/v3/time")).status == 200
            assert time.monotonic() - start >= 0.3
            start = time.monotonic()
            await client.public("GET", "/api/v3/ping")
            assert time.monotonic() - start < 0.3

    run(body)


def test_drop_ws_aborts_or_closes_connections_of_one_kind() -> None:
    async def body() -> None:
        async with server() as srv, aiohttp.ClientSession() as session:
            key = await Client(session, srv).listen_key()
            market = await session.ws_connect(f"{srv.ws_url}/ws/btcusdt@trade")
            user = await session.ws_connect(f"{srv.ws_url}/ws/{key}")
            try:
                await asyncio.sleep(0.05)
                assert await srv.drop_ws(StreamKind.MARKET) == 1
                message = await market.receive(timeout=2)
                assert message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
                assert market.close_code == 1006  # no close frame: an abnormal closure
                assert not user.closed
                assert await srv.drop_ws(mode=DropMode.CLOSE) == 1
                message = await user.receive(timeout=2)
                assert (message.type, message.data) == (aiohttp.WSMsgType.CLOSE, 1001)
            finally:
                await market.close()
                await user.close()

    run(body)


def test_connections_are_dropped_after_n_frames() -> None:
    async def body() -> None:
        async with server() as srv, aiohttp.ClientSession() as session:
            srv.faults.drop_ws_after(3, kind=StreamKind.MARKET)
            async with session.ws_connect(f"{srv.ws_url}/ws/btcusdt@trade") as ws:
                srv.push(*[trade(INST, "100.00", "1", ts) for ts in range(1, 6)])
                assert [(await recv_json(ws))["t"] for _ in range(3)] == [1, 2, 3]
                message = await ws.receive(timeout=2)
                assert message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
            srv.faults.drop_ws_after(None)
            async with session.ws_connect(f"{srv.ws_url}/ws/btcusdt@trade") as ws:
                srv.push(*[trade(INST, "100.00", "1", ts) for ts in range(6, 11)])
                assert [(await recv_json(ws))["t"] for _ in range(5)] == [6, 7, 8, 9, 10]

    run(body)


def test_stalled_market_data_withholds_frames_and_leaves_a_gap() -> None:
    async def body() -> None:
        async with server(ws_heartbeat_s=0.1) as srv, aiohttp.ClientSession() as session:
            srv.push(book_snapshot(INST, [("100.00", "1")], [("100.10", "1")], 1))
            async with session.ws_connect(f"{srv.ws_url}/ws/btcusdt@depth@100ms") as ws:
                srv.push(level("99.00", "1", 2))
                first = await recv_json(ws)
                srv.stall_market_data()
                srv.push(level("98.00", "1", 3))
                assert await nothing_arrives(ws, 0.4)  # pings went on meanwhile (autopong)
                assert not ws.closed
                srv.resume_market_data()
                srv.push(level("97.00", "1", 4))
                after = await recv_json(ws)
                assert after["U"] == first["u"] + 2  # the withheld update is a gap for the client
                assert srv.exchange.hub.withheld == 1

    run(body)


def test_slow_consumer_is_disconnected_when_its_queue_overflows() -> None:
    async def body() -> None:
        async with server(ws_queue_size=2) as srv, aiohttp.ClientSession() as session:
            async with session.ws_connect(f"{srv.ws_url}/ws/btcusdt@trade") as ws:
                await asyncio.sleep(0.05)
                srv.push(*[trade(INST, "100.00", "1", ts) for ts in range(1, 10)])  # no chance to drain
                received = 0
                while (await ws.receive(timeout=2)).type is aiohttp.WSMsgType.TEXT:
                    received += 1
                assert received <= 2  # at most what fitted in its queue, then the connection ended
                assert srv.exchange.hub.slow_disconnects == 1

    run(body)


def test_stop_closes_clients_with_1001_and_leaves_no_tasks() -> None:
    async def body() -> None:
        srv = server([trade(INST, "100.00", "1", ts * 100_000_000) for ts in range(100)], speed=1.0, autostart=True)
        async with aiohttp.ClientSession() as session:
            async with srv:
                ws = await session.ws_connect(f"{srv.ws_url}/ws/btcusdt@trade")
                await recv_json(ws)
            message = await ws.receive(timeout=2)
            assert (message.type, message.data) == (aiohttp.WSMsgType.CLOSE, 1001)
            await ws.close()
            await srv.stop()  # a second stop does nothing
            assert srv.errors == []

    run(body)  # run() fails if any task is left running
