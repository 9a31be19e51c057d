"""FaultServer on real loopback sockets, driven by a real ``websockets`` client."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, ConnectionClosedOK

from bot4.core.errors import ConfigError, InvalidInputError
from bot4.testkit.faultserver import (
    DropMode,
    Faults,
    FaultServer,
    MalformedKind,
    Session,
)

QUIET = 0.2  # seconds after which "nothing arrived" counts as nothing arriving


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run one async test body on a fresh loop, bounded so a hang fails instead of blocking."""

    async def bounded() -> None:
        async with asyncio.timeout(5):
            await test()

    asyncio.run(bounded())


def client(server: FaultServer, **kwargs: Any) -> connect:
    # No keepalive and no proxy: the test decides every ping and talks to loopback only.
    return connect(server.url, ping_interval=None, close_timeout=1, proxy=None, **kwargs)


async def ack(session: Session, data: str | bytes) -> None:
    await session.send(f"ack:{data!s}")


async def nothing_arrives(ws: ClientConnection) -> bool:
    try:
        async with asyncio.timeout(QUIET):
            await ws.recv()
    except TimeoutError:
        return True
    return False


async def closed_error(ws: ClientConnection) -> ConnectionClosed:
    """Wait for the connection to end and return how it ended."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await ws.recv()
    return closed.value


def test_drop_after_n_messages_aborts_connection_after_exactly_n() -> None:
    async def body() -> None:
        async with FaultServer(faults=Faults(drop_after=3)) as server, client(server) as ws:
            for i in range(5):
                await ws.send(f"m{i}")
            closed = await closed_error(ws)
            assert isinstance(closed, ConnectionClosedError)
            assert closed.rcvd is None  # no close frame: a TCP drop
            assert [r.data for r in server.received] == ["m0", "m1", "m2"]
            assert {r.session for r in server.received} == {1}
            assert server.drops == 1
            assert server.sessions == []

    run(body)


def test_drop_after_is_counted_per_connection() -> None:
    async def body() -> None:
        async with FaultServer(faults=Faults(drop_after=2), on_message=ack) as server:
            for _ in range(2):
                async with client(server) as ws:
                    for i in range(2):
                        await ws.send(f"m{i}")
                        assert await ws.recv() == f"ack:m{i}"
                    await closed_error(ws)
            assert Counter(r.session for r in server.received) == {1: 2, 2: 2}
            assert server.drops == 2

    run(body)


async def _messages_per_session(seed: int) -> list[int]:
    """Send 20 acked messages, reconnecting after each drop; return messages per connection."""
    faults = Faults(drop_probability=0.3)
    async with FaultServer(faults=faults, seed=seed, on_message=ack) as server:
        ws = await client(server)
        for i in range(20):
            while True:
                try:
                    await ws.send(f"m{i}")
                    assert await ws.recv() == f"ack:m{i}"
                    break
                except ConnectionClosed:
                    ws = await client(server)
        await ws.close()
        assert server.drops >= 1
        assert len(server.received) == 20
        counts = Counter(r.session for r in server.received)
        return [counts[session] for session in sorted(counts)]


def test_drop_probability_with_same_seed_drops_at_same_messages() -> None:
    async def body() -> None:
        first = await _messages_per_session(seed=7)
        again = await _messages_per_session(seed=7)
        other = await _messages_per_session(seed=8)
        assert len(first) > 1
        assert first == again
        assert first != other

    run(body)


def test_drop_mode_close_delivers_configured_close_code_and_reason() -> None:
    async def body() -> None:
        faults = Faults(
            drop_after=1, drop_mode=DropMode.CLOSE, close_code=1012, close_reason="maint"
        )
        async with FaultServer(faults=faults) as server, client(server) as ws:
            await ws.send("hello")
            closed = await closed_error(ws)
            assert closed.rcvd is not None
            assert (closed.rcvd.code, closed.rcvd.reason) == (1012, "maint")
            assert server.drops == 1

    run(body)


def test_pings_with_answer_pings_false_go_unanswered_until_reenabled() -> None:
    async def body() -> None:
        faults = Faults(answer_pings=False)
        async with FaultServer(faults=faults) as server, client(server) as ws:
            pong = await ws.ping()
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(QUIET):
                    await asyncio.shield(pong)
            assert server.pings_ignored == 1

            faults.answer_pings = True
            async with asyncio.timeout(1):
                await (await ws.ping())
            assert server.pings_ignored == 1

    run(body)


def test_stall_withholds_replies_and_broadcasts_but_records_and_answers_pings() -> None:
    async def body() -> None:
        faults = Faults(stall=True)
        async with FaultServer(faults=faults, on_message=ack) as server, client(server) as ws:
            await ws.send("a")
            await ws.send("b")
            await server.wait_for_received(2)
            assert await server.broadcast("tick") == 0
            assert await nothing_arrives(ws)
            assert [r.data for r in server.received] == ["a", "b"]
            assert server.withheld == 3  # two acks and one broadcast
            async with asyncio.timeout(1):
                await (await ws.ping())

            faults.stall = False
            assert await server.broadcast("tick") == 1
            assert await ws.recv() == "tick"

    run(body)


def test_delay_holds_each_outgoing_message_back() -> None:
    async def body() -> None:
        delay = 0.2
        async with FaultServer(faults=Faults(delay=delay)) as server:
            async with client(server) as first, client(server) as second:
                await server.wait_for_connections(2)
                started = time.monotonic()
                assert await server.broadcast("tick") == 2
                assert await first.recv() == "tick"
                assert await second.recv() == "tick"
                elapsed = time.monotonic() - started
                # Delayed together: one delay in all, where one session after another takes two.
                assert delay <= elapsed < 2 * delay

    run(body)


def test_send_malformed_not_json_arrives_as_unparseable_text() -> None:
    async def body() -> None:
        async with FaultServer() as server, client(server) as ws:
            await server.wait_for_connections(1)
            await server.send_malformed(MalformedKind.NOT_JSON)
            message = await ws.recv()
            assert isinstance(message, str)
            with pytest.raises(json.JSONDecodeError):
                json.loads(message)

    run(body)


def test_send_malformed_binary_arrives_as_binary_frame() -> None:
    async def body() -> None:
        async with FaultServer() as server, client(server) as ws:
            await server.wait_for_connections(1)
            await server.send_malformed(MalformedKind.BINARY)
            message = await ws.recv()
            assert isinstance(message, bytes)
            assert message != b""

    run(body)


def test_send_malformed_oversize_is_valid_json_of_exact_size() -> None:
    async def body() -> None:
        async with FaultServer() as server, client(server) as ws:
            await server.wait_for_connections(1)
            await server.send_malformed(MalformedKind.OVERSIZE, size=4096)
            message = await ws.recv()
            assert isinstance(message, str)
            assert len(message.encode()) == 4096
            assert set(json.loads(message)) == {"pad"}

    run(body)


def test_send_malformed_oversize_past_client_max_size_fails_client_with_1009() -> None:
    async def body() -> None:
        async with FaultServer() as server, client(server, max_size=1024) as ws:
            await server.wait_for_connections(1)
            await server.send_malformed(MalformedKind.OVERSIZE, size=2048)
            closed = await closed_error(ws)
            assert closed.sent is not None
            assert closed.sent.code == 1009

    run(body)


def test_send_malformed_oversize_below_minimal_json_raises() -> None:
    async def body() -> None:
        async with FaultServer() as server, client(server):
            await server.wait_for_connections(1)
            with pytest.raises(InvalidInputError):
                await server.send_malformed(MalformedKind.OVERSIZE, size=3)

    run(body)


def test_send_malformed_invalid_utf8_fails_client_with_1007() -> None:
    async def body() -> None:
        async with FaultServer() as server, client(server) as ws:
            await server.wait_for_connections(1)
            await server.send_malformed(MalformedKind.INVALID_UTF8)
            closed = await closed_error(ws)
            assert isinstance(closed, ConnectionClosedError)
            assert closed.sent is not None
            assert closed.sent.code == 1007

    run(body)


def test_drop_all_aborts_every_open_connection() -> None:
    async def body() -> None:
        async with FaultServer() as server:
            async with client(server) as first, client(server) as second:
                await server.wait_for_connections(2)
                assert len(server.sessions) == 2
                assert await server.drop_all() == 2
                for ws in (first, second):
                    closed = await closed_error(ws)
                    assert closed.rcvd is None
                assert server.drops == 2
                assert server.sessions == []
                assert await server.drop_all() == 0

    run(body)


def test_drop_all_in_close_mode_sends_configured_close_code() -> None:
    async def body() -> None:
        async with FaultServer(faults=Faults(close_code=1013)) as server, client(server) as ws:
            await server.wait_for_connections(1)
            assert await server.drop_all(DropMode.CLOSE) == 1
            closed = await closed_error(ws)
            assert closed.rcvd is not None
            assert closed.rcvd.code == 1013
            assert server.drops == 1

    run(body)


def test_on_connect_and_on_message_replies_arrive_in_order() -> None:
    async def greet(session: Session) -> None:
        await session.send(f"hello {session.id}")

    async def body() -> None:
        async with FaultServer(on_connect=greet, on_message=ack) as server:
            async with client(server) as ws:
                for i in range(10):
                    await ws.send(f"m{i}")
                replies = [await ws.recv() for _ in range(11)]
            assert replies == ["hello 1"] + [f"ack:m{i}" for i in range(10)]
            assert [r.data for r in server.received] == [f"m{i}" for i in range(10)]

    run(body)


def test_raising_on_message_closes_that_connection_with_1011_and_server_keeps_serving(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def fragile(session: Session, data: str | bytes) -> None:
        if data == "boom":
            raise ValueError("handler bug")
        await ack(session, data)

    async def body() -> None:
        async with FaultServer(on_message=fragile) as server:
            async with client(server) as ws:
                await ws.send("boom")
                closed = await closed_error(ws)
                assert closed.rcvd is not None
                assert closed.rcvd.code == 1011
            async with client(server) as ws:
                await ws.send("ok")
                assert await ws.recv() == "ack:ok"
            assert server.handler_errors == 1
            assert [r.data for r in server.received] == ["boom", "ok"]

    with caplog.at_level(logging.ERROR, logger="bot4.testkit.faultserver"):
        run(body)
    [record] = [r for r in caplog.records if r.name == "bot4.testkit.faultserver"]
    assert "session 1" in record.getMessage()
    assert record.exc_info is not None


def test_wait_for_received_times_out_saying_what_it_saw() -> None:
    async def body() -> None:
        async with FaultServer() as server:
            with pytest.raises(TimeoutError, match="expected >= 1 messages .* got 0"):
                await server.wait_for_received(1, timeout=0.05)

    run(body)


def test_faults_out_of_range_are_rejected() -> None:
    with pytest.raises(ConfigError, match="drop_probability"):
        Faults(drop_probability=1.5)
    with pytest.raises(ConfigError, match="drop_after"):
        Faults(drop_after=0)
    with pytest.raises(ConfigError, match="delay"):
        Faults(delay=-1.0)


def test_stop_closes_every_connection_and_leaves_no_tasks() -> None:
    async def body() -> None:
        server = FaultServer()
        await server.start()
        port = server.port
        assert server.url == f"ws://127.0.0.1:{port}"
        first = await client(server)
        second = await client(server)
        await server.wait_for_connections(2)

        await server.stop()

        assert server.sessions == []
        for ws in (first, second):
            closed = await closed_error(ws)
            assert isinstance(closed, ConnectionClosedOK)
            assert closed.rcvd is not None
            assert closed.rcvd.code == 1001
        assert asyncio.all_tasks() == {asyncio.current_task()}
        with pytest.raises(OSError):
            await connect(f"ws://127.0.0.1:{port}", proxy=None, open_timeout=1)
        with pytest.raises(RuntimeError, match="not started"):
            _ = server.url

    run(body)


def test_stop_cancels_a_callback_that_ignores_the_shutdown() -> None:
    async def sleepy(session: Session, data: str | bytes) -> None:
        await asyncio.sleep(30)

    async def body() -> None:
        async with FaultServer(on_message=sleepy) as server, client(server) as ws:
            await ws.send("stuck")
            await server.wait_for_received(1)
            begun = time.monotonic()
            await server.stop()
            assert time.monotonic() - begun < 3.0
            assert server.sessions == []
            assert asyncio.all_tasks() == {asyncio.current_task()}

    run(body)


def test_restart_after_stop_serves_again_on_the_same_url() -> None:
    async def body() -> None:
        server = FaultServer(on_message=ack)
        await server.start()
        url = server.url
        await server.stop()
        await server.start()
        try:
            assert server.url == url
            async with client(server) as ws:
                await ws.send("again")
                assert await ws.recv() == "ack:again"
        finally:
            await server.stop()

    run(body)
