"""Listen keys and the user data stream: create, keep alive, close, expire."""

from __future__ import annotations

import asyncio

import aiohttp

from bot4.testkit import book_snapshot

from .support import (
    OTHER_KEY,
    OTHER_SECRET,
    Client,
    instrument,
    nothing_arrives,
    recv_json,
    run,
    server,
)

BOOK = book_snapshot(instrument(), [("100.00", "1")], [("100.10", "1")], 1)


def test_listen_key_create_keep_alive_and_close() -> None:
    async def body() -> None:
        async with server() as srv, aiohttp.ClientSession() as session:
            client = Client(session, srv)
            key = await client.listen_key()
            assert len(key) == 60 and key.isalnum()
            assert await client.listen_key() == key  # an account's active key is returned again
            other = await Client(session, srv, OTHER_KEY, OTHER_SECRET).listen_key()
            assert other != key
            kept = await client.keyed("PUT", "/api/v3/userDataStream", listenKey=key)
            assert (kept.status, kept.body, kept.headers["X-MBX-USED-WEIGHT-1M"]) == (200, {}, "8")
            foreign = await client.keyed("PUT", "/api/v3/userDataStream", listenKey=other)
            assert foreign.code == -1125  # another account's key does not exist for this API key
            async with session.ws_connect(f"{srv.ws_url}/ws/{key}") as ws:
                closed = await client.keyed("DELETE", "/api/v3/userDataStream", listenKey=key)
                assert (closed.status, closed.body) == (200, {})
                message = await ws.receive(timeout=2)
                assert message.type is aiohttp.WSMsgType.CLOSE
            assert (await client.keyed("PUT", "/api/v3/userDataStream", listenKey=key)).code == -1125
            assert await client.listen_key() != key

    run(body)


def test_listen_key_expires_unless_kept_alive_with_a_listen_key_expired_event() -> None:
    async def body() -> None:
        async with server(listen_key_ttl_s=0.6) as srv, aiohttp.ClientSession() as session:
            main = Client(session, srv)
            other = Client(session, srv, OTHER_KEY, OTHER_SECRET)
            lapsing, kept = await main.listen_key(), await other.listen_key()
            async with (
                session.ws_connect(f"{srv.ws_url}/ws/{lapsing}") as lapsing_ws,
                session.ws_connect(f"{srv.ws_url}/ws/{kept}") as kept_ws,
            ):
                for _ in range(6):
                    await asyncio.sleep(0.2)
                    assert (await other.keyed("PUT", "/api/v3/userDataStream", listenKey=kept)).status == 200
                expired = await recv_json(lapsing_ws)
                assert set(expired) == {"e", "E", "listenKey"}
                assert (expired["e"], expired["listenKey"]) == ("listenKeyExpired", lapsing)
                closing = await lapsing_ws.receive(timeout=2)
                assert closing.type is aiohttp.WSMsgType.CLOSE
                assert await nothing_arrives(kept_ws)
                assert not kept_ws.closed
            assert (await main.keyed("PUT", "/api/v3/userDataStream", listenKey=lapsing)).code == -1125

    run(body)


def test_expire_listen_keys_now_and_unknown_keys_are_closed_on_connect() -> None:
    async def body() -> None:
        async with server() as srv, aiohttp.ClientSession() as session:
            client = Client(session, srv)
            key = await client.listen_key()
            async with session.ws_connect(f"{srv.ws_url}/ws/{key}") as ws:
                assert srv.expire_listen_keys() == 1
                assert (await recv_json(ws))["e"] == "listenKeyExpired"
                assert (await ws.receive(timeout=2)).type is aiohttp.WSMsgType.CLOSE
            async with session.ws_connect(f"{srv.ws_url}/ws/{key}") as stale:
                message = await stale.receive(timeout=2)
                assert message.type is aiohttp.WSMsgType.CLOSE
                assert (stale.close_code, message.extra) == (1008, "This listenKey does not exist.")

    run(body)


def test_user_events_reach_only_their_account_and_ride_combined_streams() -> None:
    async def body() -> None:
        async with server() as srv, aiohttp.ClientSession() as session:
            srv.push(BOOK)
            main, other = Client(session, srv), Client(session, srv, OTHER_KEY, OTHER_SECRET)
            key, other_key = await main.listen_key(), await other.listen_key()
            url = f"{srv.ws_url}/stream?streams={key}/btcusdt@bookTicker"
            async with session.ws_connect(url) as combined, session.ws_connect(f"{srv.ws_url}/ws/{other_key}") as others:
                await main.order(quantity="0.1", price="99", newClientOrderId="combined-1")
                wrapped = await recv_json(combined)
                assert set(wrapped) == {"stream", "data"}
                assert wrapped["stream"] == key
                assert (wrapped["data"]["e"], wrapped["data"]["c"]) == ("executionReport", "combined-1")
                assert (await recv_json(combined))["data"]["e"] == "outboundAccountPosition"
                assert await nothing_arrives(others)

    run(body)
