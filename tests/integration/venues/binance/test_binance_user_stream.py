"""The user data stream against the local exchange: listen key keep-alive, expiry and renewal."""

from __future__ import annotations

import asyncio

from bot4.model.enums import AggressorSide, OrderSide, OrderStatus
from bot4.model.status import StreamGap, StreamResynced
from bot4.net.ws_config import StreamState
from bot4.testkit import book_snapshot, trade

from .support import Rig, run, server_config, until


def test_expired_listen_key_is_renewed_and_order_events_keep_flowing() -> None:
    async def body() -> None:
        async with Rig() as rig:
            inst = rig.instrument
            rig.server.push(book_snapshot(inst, [("100.00", "5")], [("100.01", "5")], 1))
            await rig.start_trading()
            (first_key,) = rig.server.exchange.listen_keys.keys_of("main")

            assert rig.server.expire_listen_keys() == 1  # listenKeyExpired, then the stream closes
            await until(lambda: rig.execution.stats().listen_key_renewals == 1, what="the renewal")
            await rig.execution.wait_ready(5)
            await until(lambda: rig.server.exchange.listen_keys.keys_of("main") != [], what="a new key")
            (second_key,) = rig.server.exchange.listen_keys.keys_of("main")
            assert second_key != first_key

            order = rig.limit(OrderSide.BUY, "0.2", "99.00")
            await until(lambda: order.status is OrderStatus.ACCEPTED, what="the ack")
            rig.server.push(trade(inst, "98.90", "1", 2, aggressor=AggressorSide.SELLER))
            # Only the user stream tells about a resting order's fill.
            await until(lambda: order.status is OrderStatus.FILLED, what="the fill over the new stream")

            renewal = [s for s in rig.stream_signals if s.stream == "binance-user"]
            assert isinstance(renewal[0], StreamGap) and renewal[0].cause == "listen key renewed: listenKeyExpired"
            assert isinstance(renewal[-1], StreamResynced)
            assert rig.execution.stats().stream is not None
            assert rig.execution.stats().stream.state == StreamState.OPEN.value
            assert rig.errors == []

    run(body)


def test_listen_key_is_kept_alive_past_its_time_to_live() -> None:
    async def body() -> None:
        async with Rig(server=server_config(listen_key_ttl_s=1.5), keepalive_s=1) as rig:
            rig.server.push(book_snapshot(rig.instrument, [("100.00", "5")], [("100.01", "5")], 1))
            await rig.start_trading()
            (key,) = rig.server.exchange.listen_keys.keys_of("main")
            await asyncio.sleep(2.6)  # past the time to live, twice kept alive
            assert rig.server.exchange.listen_keys.keys_of("main") == [key]
            keepalives = [r for r in rig.server.requests if r.method == "PUT" and r.path == "/api/v3/userDataStream"]
            assert len(keepalives) >= 2 and all(r.status == 200 for r in keepalives)
            assert rig.execution.stats().listen_key_renewals == 0

            order = rig.limit(OrderSide.BUY, "0.2", "99.00")
            await until(lambda: order.status is OrderStatus.ACCEPTED, what="the ack")
            rig.server.push(trade(rig.instrument, "98.90", "1", 2, aggressor=AggressorSide.SELLER))
            await until(lambda: order.status is OrderStatus.FILLED, what="the fill over the same stream")

    run(body)


def test_failed_keep_alive_renews_the_listen_key() -> None:
    async def body() -> None:
        async with Rig(keepalive_s=1) as rig:
            await rig.start_trading()
            (key,) = rig.server.exchange.listen_keys.keys_of("main")
            rig.server.exchange.listen_keys.delete(key)  # Binance forgot it: the keep-alive gets -1125
            await until(lambda: rig.execution.stats().listen_key_renewals == 1, timeout=5, what="the renewal")
            await rig.execution.wait_ready(5)
            assert [type(e).__name__ for e in rig.errors] == ["InvalidListenKeyError"]
            assert rig.errors[0].context["code"] == -1125
            (new_key,) = rig.server.exchange.listen_keys.keys_of("main")
            assert new_key != key

    run(body)
