"""ReliableWebSocket lifecycle and task boundaries: close() racing each phase, hooks that raise.

Real sockets on loopback only: ``FaultServer`` for WebSocket peers, a bare TCP listener for a
peer that accepts and never answers the opening handshake.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from bot4.core.bus import MessageBus
from bot4.core.clock import TestClock
from bot4.core.errors import Bot4Error, InvalidDataError, StreamClosedError, StreamGaveUpError
from bot4.core.ids import Venue
from bot4.model.status import CIRCUIT_TOPIC
from bot4.net.backoff import Backoff
from bot4.net.breaker import BreakerConfig, CircuitBreaker
from bot4.net.outbox import OverflowPolicy
from bot4.net.ws import ReliableWebSocket, Session
from bot4.net.ws_config import StreamState
from bot4.testkit.faultserver import FaultServer

from .support import Recorder, config, eventually, free_port, run


def stream_tasks() -> list[asyncio.Task[Any]]:
    """The tasks a stream owns that are still running (they are all named ``bot4.ws.*``)."""
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("bot4.ws.")]


# -- close() racing each phase of a connection ---------------------------------------------------


def test_close_while_the_opening_handshake_hangs_returns_at_once_and_leaves_no_tasks() -> None:
    async def main() -> None:
        accepted: list[asyncio.StreamWriter] = []
        gone = asyncio.Event()

        async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted.append(writer)
            await reader.read()  # never answers the HTTP upgrade; returns at EOF
            gone.set()

        tcp = await asyncio.start_server(mute, "127.0.0.1", 0)
        port = tcp.sockets[0].getsockname()[1]
        cfg = config(f"ws://127.0.0.1:{port}", open_timeout=10.0)
        stream = ReliableWebSocket(cfg, Recorder().hooks())
        await stream.start()
        stream.send("queued")
        await eventually(lambda: bool(accepted), 2, "TCP accept")
        started = time.monotonic()
        assert await stream.close() == ["queued"]
        assert time.monotonic() - started < cfg.open_timeout / 10  # it did not wait the dial out
        async with asyncio.timeout(2):
            await gone.wait()  # the half-open connection was closed, not left behind
        assert stream.state is StreamState.CLOSED
        assert stream_tasks() == []
        tcp.close()
        await tcp.wait_closed()

    run(main())


def test_close_during_the_backoff_sleep_returns_at_once() -> None:
    async def main() -> None:
        slow = Backoff(initial=30.0, multiplier=1.0, max_delay=30.0, jitter=False)
        stream = ReliableWebSocket(
            config(f"ws://127.0.0.1:{free_port()}", backoff=slow), Recorder().hooks()
        )
        await stream.start()
        stream.send("queued")
        await eventually(lambda: stream.stats().reconnect_attempts == 1, 2, "first backoff wait")
        started = time.monotonic()
        assert await stream.close() == ["queued"]
        assert time.monotonic() - started < slow.initial / 10  # it did not sleep the wait out
        assert stream.state is StreamState.CLOSED

    run(main())


def test_close_from_another_task_during_on_connect_returns_the_queue_and_leaves_no_tasks() -> None:
    async def main() -> None:
        async with FaultServer() as server:
            entered = asyncio.Event()

            async def slow_auth(session: Session) -> None:
                entered.set()
                await asyncio.sleep(30)

            stream = ReliableWebSocket(
                config(server.url, open_timeout=60.0), Recorder().hooks(on_connect=slow_auth)
            )
            await stream.start()
            stream.send("queued", ack_key=1)
            await entered.wait()
            assert await stream.close() == ["queued"]
            assert stream.state is StreamState.CLOSED
            assert stream.stats().disconnects == {"local_close": 1}
            assert stream_tasks() == []
            await eventually(lambda: not server.sessions, 2, "server sees the close")

    run(main())


def test_close_called_by_the_on_connect_hook_stops_the_stream_for_good() -> None:
    async def main() -> None:
        async with FaultServer() as server:
            returned: list[list[Any]] = []
            recorder = Recorder()
            stream: ReliableWebSocket

            async def refuse(session: Session) -> None:
                # e.g. the venue answered "API key revoked": retrying cannot help
                returned.append(await stream.close())

            stream = ReliableWebSocket(config(server.url), recorder.hooks(on_connect=refuse))
            stream.send("queued")
            await stream.start()
            await eventually(lambda: bool(returned), 2, "close() inside the hook returned")
            assert returned == [["queued"]]
            with pytest.raises(Bot4Error):
                await stream.wait_open(1)
            await asyncio.sleep(0.1)
            assert stream.state is StreamState.CLOSED
            assert server.connections_total == 1, "a closed stream must not reconnect"
            assert stream.stats().connect_failures == 0, "closing is not a failed connect"
            assert recorder.errors == []
            await stream.close()

    run(main())


def test_close_called_by_the_on_resync_hook_leaves_the_stream_closed() -> None:
    async def main() -> None:
        async with FaultServer() as server:
            stream: ReliableWebSocket

            async def resync() -> None:
                await stream.close()

            stream = ReliableWebSocket(config(server.url), Recorder().hooks(on_resync=resync))
            await stream.start()
            await server.wait_for_connections(1)
            await asyncio.sleep(0.1)
            assert stream.state is StreamState.CLOSED
            with pytest.raises(StreamClosedError):
                stream.send("late")
            await eventually(lambda: not server.sessions, 2, "server sees the close")
            await stream.close()

    run(main())


def test_concurrent_close_calls_all_wait_until_the_stream_has_stopped() -> None:
    async def main() -> None:
        async with FaultServer() as server:
            entered = asyncio.Event()
            cleaning_up = asyncio.Event()

            async def auth_with_cleanup(session: Session) -> None:
                entered.set()
                try:
                    await asyncio.sleep(30)
                finally:
                    cleaning_up.set()
                    await asyncio.sleep(0.2)  # e.g. a logout request on the way out

            stream = ReliableWebSocket(
                config(server.url, open_timeout=60.0),
                Recorder().hooks(on_connect=auth_with_cleanup),
            )
            await stream.start()
            stream.send("a")
            stream.send("b")
            await entered.wait()
            first = asyncio.create_task(stream.close())
            await cleaning_up.wait()
            second = await stream.close()
            assert stream_tasks() == [], "close() returned while the stream's task still ran"
            assert sorted(second + await first) == ["a", "b"]

    run(main())


def test_cancelling_a_caller_blocked_in_close_cancels_the_caller() -> None:
    async def main() -> None:
        async with FaultServer() as server:
            entered = asyncio.Event()

            async def auth_with_cleanup(session: Session) -> None:
                entered.set()
                try:
                    await asyncio.sleep(30)
                finally:
                    await asyncio.sleep(0.3)

            stream = ReliableWebSocket(
                config(server.url, open_timeout=60.0),
                Recorder().hooks(on_connect=auth_with_cleanup),
            )
            await stream.start()
            await entered.wait()
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.05):
                    await stream.close()
            assert stream.state is StreamState.CLOSED
            await stream.close()
            assert server.connections_total == 1

    run(main())


# -- hooks and subscribers that raise: counted and reported, never the end of the stream ---------


def test_raising_on_event_hook_is_counted_and_the_stream_still_reopens() -> None:
    async def main() -> None:
        async with FaultServer() as server:
            recorder = Recorder()

            def on_event(event: Any) -> None:
                raise RuntimeError("bus handler bug")

            stream = ReliableWebSocket(config(server.url), recorder.hooks(on_event=on_event))
            await stream.start()
            await stream.wait_open(2)
            await server.drop_all()
            await server.wait_for_connections(2)
            await stream.wait_open(2)
            stream.send("after")
            await server.wait_for_received(1)
            assert stream.stats().handler_errors == 2  # StreamGap and StreamResynced
            assert stream.stats().gaps == 1
            assert len(recorder.errors) == 2 and all(
                "bus handler bug" in str(e) for e in recorder.errors
            )
            await stream.close()

    run(main())


def test_raising_circuit_subscriber_does_not_stop_the_stream_reconnecting() -> None:
    async def main() -> None:
        bus = MessageBus()

        def risk_bug(event: Any) -> None:
            raise RuntimeError("risk handler bug")

        bus.subscribe(CIRCUIT_TOPIC, risk_bug)
        breaker = CircuitBreaker(
            Venue("SIM"),
            "ws:md",
            BreakerConfig(failure_threshold=2, cooldown=0.0),
            TestClock(),
            bus,
        )
        recorder = Recorder()
        port = free_port()
        stream = ReliableWebSocket(
            config(f"ws://127.0.0.1:{port}"), recorder.hooks(), breaker=breaker
        )
        await stream.start()
        await eventually(
            lambda: stream.stats().connect_failures >= 3, 5, "failed connects past the trip"
        )
        async with FaultServer(port=port):
            await stream.wait_open(5)
        assert stream.stats().handler_errors >= 1
        assert any("risk handler bug" in str(e) for e in recorder.errors)
        await stream.close()

    run(main())


def test_raising_decode_hook_counts_a_malformed_message_and_keeps_the_connection() -> None:
    async def main() -> None:
        async with FaultServer() as server:
            recorder = Recorder()

            def decode(raw: str | bytes) -> Any:
                return json.loads(raw)["data"]  # KeyError on a message without "data"

            stream = ReliableWebSocket(config(server.url), recorder.hooks(decode=decode))
            await stream.start()
            await stream.wait_open(2)
            await server.broadcast('{"event": "heartbeat"}')
            await server.broadcast('{"data": 1}')
            await eventually(lambda: recorder.messages == [1], 2, "the good message")
            stats = stream.stats()
            assert (stats.malformed, server.connections_total, stats.disconnects) == (1, 1, {})
            assert len(recorder.errors) == 1 and isinstance(recorder.errors[0], InvalidDataError)
            await stream.close()

    run(main())


def test_subscribe_while_on_resync_runs_is_sent_on_that_connection() -> None:
    async def main() -> None:
        async with FaultServer() as server:
            stream: ReliableWebSocket
            resyncs = 0

            async def resync() -> None:
                nonlocal resyncs
                resyncs += 1
                if resyncs == 2:
                    # A strategy subscribes while the adapter is still fetching a snapshot.
                    stream.subscribe("depth", "sub:depth")

            stream = ReliableWebSocket(config(server.url), Recorder().hooks(on_resync=resync))
            await stream.start()
            await stream.wait_open(2)
            stream.subscribe("trades", "sub:trades")
            await server.wait_for_received(1)
            await server.drop_all()
            await server.wait_for_received(3)
            second = [r.data for r in server.received if r.session == 2]
            assert second == ["sub:trades", "sub:depth"]
            assert stream.subscriptions == ["trades", "depth"]
            await stream.close()

    run(main())


def test_drop_oldest_while_the_head_is_being_written_keeps_the_connection() -> None:
    size = 256 * 1024

    async def main() -> None:
        release = asyncio.Event()

        async def stop_reading(session: Any) -> None:
            await release.wait()  # the server reads nothing until released: TCP backs up

        async with FaultServer(on_connect=stop_reading, max_size=None) as server:
            cfg = config(server.url, queue_size=4, overflow=OverflowPolicy.DROP_OLDEST)
            stream = ReliableWebSocket(cfg, Recorder().hooks())
            await stream.start()
            await stream.wait_open(2)
            sent = 0
            # Keep producing until the writer is stuck in a send and the full queue has
            # dropped several messages.
            while stream.stats().dropped < 8:
                sent += 1
                stream.send(f"{sent:06d}" + "x" * size)
                await asyncio.sleep(0.002)
                assert sent < 2000, "the writer never blocked"
            release.set()
            await eventually(lambda: stream.stats().queue_depth == 0, 5, "queue flushed")
            await asyncio.sleep(0.05)
            got = [int(r.data[:6]) for r in server.received]
            assert server.connections_total == 1, "dropping a message must not end the connection"
            assert got == sorted(set(got)), "duplicated or reordered"
            assert len(got) + stream.stats().dropped == sent
            await stream.close()

    run(main())


def test_send_refuses_a_payload_that_could_never_be_sent_at_the_call() -> None:
    async def main() -> None:
        async with FaultServer() as server:
            stream = ReliableWebSocket(config(server.url), Recorder().hooks())
            await stream.start()
            await stream.wait_open(2)
            with pytest.raises(TypeError):
                stream.send({"op": "ping"})  # type: ignore[arg-type]
            with pytest.raises(UnicodeEncodeError):
                stream.send('{"note": "\ud800"}')  # a lone surrogate has no UTF-8 form
            stream.send("fine")
            await server.wait_for_received(1)
            await asyncio.sleep(0.05)
            assert [r.data for r in server.received] == ["fine"]
            assert server.connections_total == 1
            await stream.close()

    run(main())


# -- statistics and states -----------------------------------------------------------------------


def test_bytes_in_and_out_count_utf8_bytes_not_characters() -> None:
    async def main() -> None:
        async def echo(session: Any, data: str | bytes) -> None:
            await session.send(data)

        async with FaultServer(on_message=echo) as server:
            recorder = Recorder()
            stream = ReliableWebSocket(config(server.url), recorder.hooks())
            await stream.start()
            await stream.wait_open(2)
            text = json.dumps({"sym": "€/₿"}, ensure_ascii=False)
            stream.send(text)
            await eventually(lambda: len(recorder.messages) == 1, 2, "echo")
            stats = stream.stats()
            assert stats.bytes_out == stats.bytes_in == len(text.encode()) != len(text)
            await stream.close()

    run(main())


def test_a_stream_whose_first_handshake_keeps_failing_is_still_connecting() -> None:
    async def main() -> None:
        async with FaultServer() as server:

            async def refuse(session: Session) -> None:
                raise PermissionError("auth refused")

            stream = ReliableWebSocket(config(server.url), Recorder().hooks(on_connect=refuse))
            await stream.start()
            await eventually(lambda: stream.stats().connect_failures >= 3, 5, "failed handshakes")
            assert stream.state is StreamState.CONNECTING, "it has never been open"
            await stream.close()

    run(main())


def test_an_error_that_reaches_the_supervisor_closes_the_stream_and_reports_the_queue() -> None:
    async def main() -> None:
        async def broken_sleep(delay: float) -> None:
            raise RuntimeError("clock bug")

        recorder = Recorder()
        stream = ReliableWebSocket(
            config(f"ws://127.0.0.1:{free_port()}"), recorder.hooks(), sleep=broken_sleep
        )
        stream.send("queued")
        await stream.start()
        with pytest.raises(Bot4Error):
            await stream.wait_open(2)  # raises at once: it must not hang on a dead stream
        assert stream.state is StreamState.CLOSED
        gave_up = [e for e in recorder.errors if isinstance(e, StreamGaveUpError)]
        assert len(gave_up) == 1 and gave_up[0].undelivered == ("queued",)
        assert "clock bug" in str(gave_up[0])
        assert stream_tasks() == []
        assert await stream.close() == []

    run(main())
