"""Market streams: book sync against the REST snapshot, stream shapes, live subscriptions, pacing."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp

from bot4.model.enums import AggressorSide
from bot4.testkit import book_snapshot, trade

from .support import (
    Client,
    instrument,
    nothing_arrives,
    recv_json,
    recv_until,
    run,
    sample_events,
    server,
)

INST = instrument()


class LocalBook:
    """Binance's documented procedure for a local order book, in a few lines.

    Levels are keyed by float price (for ordering) and keep the exact strings sent.
    """

    def __init__(self) -> None:
        self.buffer: list[dict[str, Any]] = []
        self.bids: dict[float, list[str]] = {}
        self.asks: dict[float, list[str]] = {}
        self.last_u: int | None = None
        self.snapshot_id: int | None = None
        self.applied = 0

    def on_diff(self, diff: dict[str, Any]) -> None:
        if self.snapshot_id is None:
            self.buffer.append(diff)
        else:
            self._apply(diff)

    def on_snapshot(self, snapshot: dict[str, Any]) -> None:
        self.snapshot_id = snapshot["lastUpdateId"]
        self.bids = {float(p): [p, q] for p, q in snapshot["bids"]}
        self.asks = {float(p): [p, q] for p, q in snapshot["asks"]}
        buffered, self.buffer = self.buffer, []
        for diff in buffered:
            self._apply(diff)

    def _apply(self, diff: dict[str, Any]) -> None:
        assert self.snapshot_id is not None
        if diff["u"] <= self.snapshot_id:
            return  # older than the snapshot
        if self.last_u is None:
            assert diff["U"] <= self.snapshot_id + 1 <= diff["u"], (diff["U"], diff["u"], self.snapshot_id)
        else:
            assert diff["U"] == self.last_u + 1, (diff["U"], self.last_u)
        for side, levels in ((self.bids, diff["b"]), (self.asks, diff["a"])):
            for price, qty in levels:
                if float(qty) == 0:
                    side.pop(float(price), None)
                else:
                    side[float(price)] = [price, qty]
        self.last_u = diff["u"]
        self.applied += 1

    def best(self) -> tuple[list[str], list[str]]:
        return self.bids[max(self.bids)], self.asks[min(self.asks)]

    def levels(self, side: str, n: int) -> list[list[str]]:
        book = self.bids if side == "bids" else self.asks
        return [book[p] for p in sorted(book, reverse=side == "bids")[:n]]


def test_depth_snapshot_and_diff_stream_give_the_book_the_book_ticker_shows() -> None:
    events = sample_events()

    async def body() -> None:
        async with server(events) as srv, aiohttp.ClientSession() as session:
            client = Client(session, srv)
            url = f"{srv.ws_url}/stream?streams=btcusdt@depth@100ms/btcusdt@bookTicker"
            book = LocalBook()
            checked = 0
            async with session.ws_connect(url, max_msg_size=0) as ws:
                srv.start_replay()
                diffs_seen = 0
                while True:
                    try:
                        message = await ws.receive(timeout=0.5)
                    except TimeoutError:
                        if srv.replay.done.is_set():
                            break  # replayed, and every frame read
                        raise
                    assert message.type is aiohttp.WSMsgType.TEXT, message
                    frame = json.loads(message.data)
                    data = frame["data"]
                    if frame["stream"] == "btcusdt@depth@100ms":
                        book.on_diff(data)
                        diffs_seen += 1
                        if diffs_seen == 300:  # fetch the snapshot mid-stream, as a client does
                            snapshot = await client.public("GET", "/api/v3/depth", symbol="BTCUSDT", limit=5000)
                            assert snapshot.headers["X-MBX-USED-WEIGHT-1M"] == "250"
                            book.on_snapshot(snapshot.body)
                    elif book.last_u is not None and data["u"] == book.last_u:
                        (bid, bid_qty), (ask, ask_qty) = book.best()
                        assert (bid, bid_qty, ask, ask_qty) == (data["b"], data["B"], data["a"], data["A"])
                        checked += 1
            assert srv.replay.delivered == len(events)
            assert book.applied > 2_000
            assert checked > 1_000, checked
            final = await client.public("GET", "/api/v3/depth", symbol="BTCUSDT", limit=5000)
            assert final.body["lastUpdateId"] == book.last_u
            assert final.body["bids"] == book.levels("bids", 5000)
            assert final.body["asks"] == book.levels("asks", 5000)
            assert srv.exchange.data_errors == 0 and srv.errors == []

    run(body, timeout=30)


def test_raw_streams_send_trade_agg_trade_ticker_and_partial_depth_shapes() -> None:
    async def body() -> None:
        async with server() as srv, aiohttp.ClientSession() as session:
            names = ["btcusdt@trade", "btcusdt@aggTrade", "btcusdt@bookTicker", "btcusdt@depth5"]
            sockets = [await session.ws_connect(f"{srv.ws_url}/ws/{name}") for name in names]
            try:
                srv.push(book_snapshot(INST, [("100.00", "1"), ("99.99", "2")], [("100.01", "3")], 1))
                srv.push(trade(INST, "100.01", "0.25", 2, AggressorSide.BUYER, trade_id="1000"))
                trade_ws, agg_ws, ticker_ws, depth_ws = sockets
                got = await recv_json(trade_ws)
                assert list(got) == ["e", "E", "s", "t", "p", "q", "T", "m", "M"]
                assert (got["e"], got["s"], got["t"], got["p"], got["q"], got["m"]) == (
                    "trade", "BTCUSDT", 1000, "100.01000000", "0.25000000", False,
                )  # fmt: skip
                assert abs(got["E"] - time.time() * 1000) < 5_000
                agg = await recv_json(agg_ws)
                assert list(agg) == ["e", "E", "s", "a", "p", "q", "f", "l", "T", "m", "M"]
                assert (agg["e"], agg["a"], agg["f"], agg["l"]) == ("aggTrade", 1, 1000, 1000)
                ticker = await recv_json(ticker_ws)
                assert ticker == {
                    "u": 3,
                    "s": "BTCUSDT",
                    "b": "100.00000000",
                    "B": "1.00000000",
                    "a": "100.01000000",
                    "A": "3.00000000",
                }
                depth = await recv_json(depth_ws)
                assert depth == {
                    "lastUpdateId": 3,
                    "bids": [["100.00000000", "1.00000000"], ["99.99000000", "2.00000000"]],
                    "asks": [["100.01000000", "3.00000000"]],
                }
            finally:
                for ws in sockets:
                    await ws.close()

    run(body)


def test_live_subscribe_unsubscribe_list_and_properties() -> None:
    async def body() -> None:
        async with server() as srv, aiohttp.ClientSession() as session:
            async with session.ws_connect(f"{srv.ws_url}/ws") as ws:
                await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@trade", "btcusdt@depth"], "id": 1}))
                assert await recv_json(ws) == {"result": None, "id": 1}
                await ws.send_str(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": "list-2"}))
                assert await recv_json(ws) == {"result": ["btcusdt@trade", "btcusdt@depth"], "id": "list-2"}
                srv.push(trade(INST, "100.00", "1", 1))
                assert (await recv_json(ws))["e"] == "trade"  # raw payload on /ws
                await ws.send_str(json.dumps({"method": "SET_PROPERTY", "params": ["combined", True], "id": 3}))
                assert await recv_json(ws) == {"result": None, "id": 3}
                await ws.send_str(json.dumps({"method": "GET_PROPERTY", "params": ["combined"], "id": 4}))
                assert await recv_json(ws) == {"result": True, "id": 4}
                srv.push(trade(INST, "100.00", "1", 2))
                assert (await recv_json(ws))["stream"] == "btcusdt@trade"
                await ws.send_str(json.dumps({"method": "UNSUBSCRIBE", "params": ["btcusdt@trade"], "id": 5}))
                assert await recv_json(ws) == {"result": None, "id": 5}
                srv.push(trade(INST, "100.00", "1", 3))
                assert await nothing_arrives(ws)
                assert [m.text for m in srv.ws_messages][0].startswith('{"method": "SUBSCRIBE"')

    run(body)


def test_bad_control_messages_get_binance_error_codes() -> None:
    cases: list[tuple[str, dict[str, Any]]] = [
        ("{not json", {"code": 3}),
        (json.dumps({"method": "PUBLISH", "id": 1}), {"code": 2, "id": 1}),
        (json.dumps({"method": "SUBSCRIBE", "params": ["BTCUSDT"], "id": 2}), {"code": 2, "id": 2}),
        (json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": -5}), {"code": 2, "id": None}),
        (json.dumps({"method": "GET_PROPERTY", "params": ["colour"], "id": 6}), {"code": 0, "id": 6}),
        (json.dumps({"method": "SET_PROPERTY", "params": ["combined", "yes"], "id": 7}), {"code": 1, "id": 7}),
    ]

    async def body() -> None:
        async with server() as srv, aiohttp.ClientSession() as session:
            async with session.ws_connect(f"{srv.ws_url}/stream?streams=btcusdt@trade") as ws:
                for text, expected in cases:
                    await ws.send_str(text)
                    reply = await recv_json(ws)
                    assert reply["error"]["code"] == expected["code"], (text, reply)
                    assert isinstance(reply["error"]["msg"], str)
                    assert reply["id"] == expected.get("id"), (text, reply)
                await ws.send_str(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 9}))
                assert await recv_json(ws) == {"result": ["btcusdt@trade"], "id": 9}

    run(body)


def test_replay_speed_paces_events_and_pause_holds_them() -> None:
    ticks = [trade(INST, "100.00", "1", i * 100_000_000) for i in range(11)]  # one second of data

    async def body() -> None:
        async with server(ticks, speed=4.0) as srv, aiohttp.ClientSession() as session:
            async with session.ws_connect(f"{srv.ws_url}/ws/btcusdt@trade") as ws:
                start = time.monotonic()
                srv.start_replay()
                await recv_until(ws, lambda _: srv.replay.delivered >= 5)
                srv.replay.pause()
                held = srv.replay.delivered
                await asyncio.sleep(0.3)
                assert srv.replay.delivered == held
                paused_for = 0.3
                srv.replay.resume()
                await srv.wait_replay_done(5)
                elapsed = time.monotonic() - start - paused_for
                assert 0.2 <= elapsed <= 0.8, elapsed  # 1 s of data at 4x
                assert srv.replay.delivered == 11 and srv.replay.position_ns == 1_000_000_000

    run(body)


def test_server_pings_every_connection() -> None:
    async def body() -> None:
        async with server(ws_heartbeat_s=0.2) as srv, aiohttp.ClientSession() as session:
            async with session.ws_connect(f"{srv.ws_url}/ws/btcusdt@trade", autoping=False) as ws:
                message = await ws.receive(timeout=2)
                assert message.type is aiohttp.WSMsgType.PING
                await ws.pong(message.data)

    run(body)
