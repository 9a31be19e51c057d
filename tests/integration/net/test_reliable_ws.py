"""ReliableWebSocket against the fault-injecting server: real sockets on loopback only."""

from __future__ import annotations

import asyncio
import json
import random
import time
from typing import Any

import pytest

from bot4.core.bus import MessageBus
from bot4.core.clock import TestClock
from bot4.core.errors import (
    InvalidDataError,
    OutboundQueueFullError,
    StreamClosedError,
    StreamGaveUpError,
)
from bot4.core.ids import Venue
from bot4.model.status import CIRCUIT_TOPIC, CircuitState, StreamGap, StreamResynced
from bot4.net.backoff import Backoff
from bot4.net.breaker import BreakerConfig, CircuitBreaker
from bot4.net.outbox import OverflowPolicy
from bot4.net.ws import ReliableWebSocket, Session, StreamHooks
from bot4.net.ws_config import StreamProfile, StreamState
from bot4.testkit.faultserver import DropMode, Faults, FaultServer, MalformedKind

from .support import FAST, Recorder, config, eventually, free_port, run


def seq_of(data: str | bytes) -> int:
    return int(json.loads(data)["n"])


# -- delivery across disconnects --------------------------------------------------------------


def test_stream_survives_100_random_disconnects_delivering_each_message_once_in_order() -> None:
    total = 3000

    async def main() -> None:
        recorded: list[int] = []

        async def greet(session: Any) -> None:
            # The resume handshake: tell the client the last sequence this server holds.
            await session.send(json.dumps({"resume": recorded[-1] if recorded else 0}))

        async def ack(session: Any, data: str | bytes) -> None:
            recorded.append(seq_of(data))
            await session.send(json.dumps({"ack": seq_of(data)}))

        faults = Faults(drop_probability=0.05, drop_mode=DropMode.ABORT)
        async with FaultServer(faults=faults, seed=7, on_connect=greet, on_message=ack) as server:
            stream: ReliableWebSocket

            async def resume(session: Session) -> None:
                hello = await session.recv(timeout=2.0)
                stream.acknowledge(hello["resume"], cumulative=True)

            def on_message(msg: dict[str, int]) -> None:
                stream.acknowledge(msg["ack"])

            stream = ReliableWebSocket(
                config(server.url, queue_size=total),
                StreamHooks(on_message=on_message, on_connect=resume),
            )
            await stream.start()
            rng = random.Random(3)
            n = 0
            while n < total:
                for _ in range(rng.randint(1, 40)):
                    if n < total:
                        n += 1
                        stream.send(json.dumps({"n": n}), ack_key=n)
                await asyncio.sleep(rng.uniform(0, 0.003))
            await eventually(lambda: len(recorded) >= total and stream.stats().in_flight == 0, 30, "all acked")
            stats = stream.stats()
            undelivered = await stream.close()

        assert server.drops >= 100, f"only {server.drops} disconnects were forced"
        assert recorded == list(range(1, total + 1)), "lost, duplicated or reordered messages"
        assert undelivered == []
        assert stats.disconnects.get("connection_lost", 0) >= 100
        assert stats.connects == server.connections_total

    run(main())


def test_unacknowledged_messages_are_resent_first_after_reconnect() -> None:
    async def main() -> None:
        async with FaultServer(faults=Faults(drop_after=3)) as server:
            stream = ReliableWebSocket(config(server.url), StreamHooks(on_message=lambda m: None))
            await stream.start()
            for n in range(1, 6):
                stream.send(json.dumps({"n": n}), ack_key=n)
            await server.wait_for_received(3)
            server.faults.drop_after = None
            await server.wait_for_received(6)
            # 1-3 reached the first connection and were never acknowledged: resent, in order.
            assert [seq_of(r.data) for r in server.received][:3] == [1, 2, 3]
            assert [seq_of(r.data) for r in server.received if r.session == 2][:3] == [1, 2, 3]
            assert stream.stats().resent >= 3
            await stream.close()

    run(main())


# -- health: pong timeout and idle stall -------------------------------------------------------


def test_missing_pong_reconnects_within_ping_interval_plus_pong_timeout() -> None:
    async def main() -> None:
        async with FaultServer(faults=Faults(answer_pings=False)) as server:
            cfg = config(server.url, ping_interval=0.05, pong_timeout=0.1, open_timeout=1.0)
            stream = ReliableWebSocket(cfg, Recorder().hooks())
            started = time.monotonic()
            await stream.start()
            await eventually(lambda: "pong_timeout" in stream.stats().disconnects, 5, "pong timeout")
            detected = time.monotonic() - started
            await server.wait_for_connections(2)
            reconnected = time.monotonic() - started
            # Measured from before start(): a dial (at most open_timeout), the first ping after
            # ping_interval, its pong awaited for pong_timeout, then the closing handshake (at
            # most close_timeout); the reconnect adds one backoff wait and one more dial.
            detect_bound = cfg.open_timeout + cfg.ping_interval + cfg.pong_timeout + cfg.close_timeout
            assert cfg.ping_interval + cfg.pong_timeout <= detected <= detect_bound
            assert reconnected <= detect_bound + FAST.ceiling(1) + cfg.open_timeout
            assert server.pings_ignored >= 1
            await stream.close()

    run(main())


def test_answered_pings_keep_a_quiet_stream_open_and_measure_rtt() -> None:
    async def main() -> None:
        async with FaultServer() as server:
            # A pong_timeout far above loopback round trips: only a bug can miss it.
            stream = ReliableWebSocket(
                config(server.url, ping_interval=0.03, pong_timeout=2.0), Recorder().hooks()
            )
            await stream.start()
            await stream.wait_open(2)
            await asyncio.sleep(0.3)
            stats = stream.stats()
            assert server.connections_total == 1
            assert stats.last_pong_rtt is not None and stats.last_pong_rtt > 0
            await stream.close()

    run(main())


def test_idle_stream_is_reconnected_within_idle_timeout() -> None:
    async def main() -> None:
        async with FaultServer(faults=Faults(stall=True)) as server:
            # Pings are still answered: only the idle detector can see this stall.
            cfg = config(
                server.url, ping_interval=0.02, pong_timeout=1.0, idle_timeout=0.2, open_timeout=1.0
            )
            assert cfg.idle_timeout is not None
            stream = ReliableWebSocket(cfg, Recorder().hooks())
            started = time.monotonic()
            await stream.start()
            await eventually(lambda: "idle_timeout" in stream.stats().disconnects, 5, "idle stall")
            detected = time.monotonic() - started
            await server.wait_for_connections(2)
            reconnected = time.monotonic() - started
            # Measured from before start(): the idle clock starts once the stream is open (after
            # a dial of at most open_timeout), then the closing handshake takes at most
            # close_timeout; the reconnect adds one backoff wait and one more dial.
            detect_bound = cfg.open_timeout + cfg.idle_timeout + cfg.close_timeout
            assert cfg.idle_timeout <= detected <= detect_bound
            assert reconnected <= detect_bound + FAST.ceiling(1) + cfg.open_timeout
            assert stream.stats().disconnects == {"idle_timeout": 1}
            await stream.close()

    run(main())


def test_messages_keep_an_idle_watched_stream_open() -> None:
    async def main() -> None:
        async with FaultServer() as server:
            cfg = config(server.url, idle_timeout=0.25)
            assert cfg.idle_timeout is not None
            stream = ReliableWebSocket(cfg, Recorder().hooks())
            await stream.start()
            await stream.wait_open(2)
            started = time.monotonic()
            for _ in range(9):  # one every 0.05 s, a fifth of idle_timeout
                await server.broadcast('{"tick": 1}')
                await asyncio.sleep(0.05)
            # Long enough that, without the messages, the watchdog would have fired.
            assert time.monotonic() - started > cfg.idle_timeout
            assert server.connections_total == 1
            assert stream.stats().messages_in == 9
            await stream.close()

    run(main())


# -- backoff and giving up ---------------------------------------------------------------------


class RecordingSleep:
    """Stands in for ``asyncio.sleep`` in the reconnect loop: records and yields, no waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


def test_reconnect_waits_follow_the_full_jitter_policy() -> None:
    policy = Backoff(initial=1.0, multiplier=2.0, max_delay=60.0, rng=random.Random(42))
    expected_policy = Backoff(initial=1.0, multiplier=2.0, max_delay=60.0, rng=random.Random(42))

    async def main() -> None:
        sleep = RecordingSleep()
        url = f"ws://127.0.0.1:{free_port()}"
        stream = ReliableWebSocket(config(url, backoff=policy), Recorder().hooks(), sleep=sleep)
        await stream.start()
        await eventually(lambda: len(sleep.delays) >= 10, 10, "10 reconnect waits")
        await stream.close()
        delays = sleep.delays[:10]
        assert delays == [expected_policy.delay(n) for n in range(1, 11)]
        for n, delay in enumerate(delays, start=1):
            assert 0 <= delay <= min(60.0, 2.0 ** (n - 1))
        assert stream.stats().reconnect_attempts >= 10

    run(main())


def test_orders_stream_gives_up_after_max_attempts_and_opens_its_breaker() -> None:
    async def main() -> None:
        bus = MessageBus()
        seen: list[Any] = []
        bus.subscribe(CIRCUIT_TOPIC, seen.append)
        breaker = CircuitBreaker(
            Venue("SIM"), "ws:orders", BreakerConfig(failure_threshold=100), TestClock(), bus, critical=True
        )
        recorder = Recorder()
        url = f"ws://127.0.0.1:{free_port()}"
        cfg = config(url, profile=StreamProfile.ORDERS, max_attempts=4)
        stream = ReliableWebSocket(cfg, recorder.hooks(), breaker=breaker, sleep=RecordingSleep())
        stream.send("order-1")  # queued before it ever connects
        await stream.start()
        await eventually(lambda: stream.state is StreamState.CLOSED, 10, "give up")
        assert stream.stats().connect_failures == 4
        gave_up = [e for e in recorder.errors if isinstance(e, StreamGaveUpError)]
        assert len(gave_up) == 1 and gave_up[0].undelivered == ("order-1",)
        assert breaker.state is CircuitState.OPEN
        assert seen and seen[-1].state is CircuitState.OPEN and seen[-1].critical
        with pytest.raises(StreamClosedError):
            stream.send("order-2")
        assert await stream.close() == []

    run(main())


def test_market_data_stream_keeps_trying_past_max_attempts_and_connects_when_server_returns() -> None:
    async def main() -> None:
        port = free_port()
        sleep = RecordingSleep()
        cfg = config(f"ws://127.0.0.1:{port}", profile=StreamProfile.MARKET_DATA, max_attempts=3)
        stream = ReliableWebSocket(cfg, Recorder().hooks(), sleep=sleep)
        await stream.start()
        await eventually(lambda: stream.stats().connect_failures >= 12, 10, "12 failed connects")
        assert stream.state is StreamState.CONNECTING
        async with FaultServer(port=port) as server:
            await stream.wait_open(5)
            assert server.connections_total == 1
        await stream.close()

    run(main())


# -- the outbound queue ------------------------------------------------------------------------


def test_full_queue_rejects_new_messages_under_reject_policy_and_counts_them() -> None:
    async def main() -> None:
        port = free_port()
        cfg = config(f"ws://127.0.0.1:{port}", queue_size=3, overflow=OverflowPolicy.REJECT_NEW)
        stream = ReliableWebSocket(cfg, Recorder().hooks())
        await stream.start()
        for n in range(1, 4):
            stream.send(f"m{n}")
        with pytest.raises(OutboundQueueFullError):
            stream.send("m4")
        assert stream.stats().rejected == 1 and stream.stats().queue_depth == 3
        async with FaultServer(port=port) as server:
            await server.wait_for_received(3)
            await asyncio.sleep(0.05)
            assert [r.data for r in server.received] == ["m1", "m2", "m3"]
        await stream.close()

    run(main())


def test_full_queue_drops_oldest_under_drop_policy_and_flushes_the_rest_in_order() -> None:
    async def main() -> None:
        port = free_port()
        cfg = config(f"ws://127.0.0.1:{port}", queue_size=3, overflow=OverflowPolicy.DROP_OLDEST)
        stream = ReliableWebSocket(cfg, Recorder().hooks())
        await stream.start()
        for n in range(1, 6):
            stream.send(f"m{n}")
        assert stream.stats().dropped == 2
        async with FaultServer(port=port) as server:
            await server.wait_for_received(3)
            await asyncio.sleep(0.05)
            assert [r.data for r in server.received] == ["m3", "m4", "m5"]
        await stream.close()

    run(main())


def test_close_returns_every_unsent_message_and_leaves_no_tasks() -> None:
    async def main() -> None:
        before = asyncio.all_tasks()
        stream = ReliableWebSocket(config(f"ws://127.0.0.1:{free_port()}"), Recorder().hooks())
        await stream.start()
        stream.send("a")
        stream.send("b", ack_key=1)
        await asyncio.sleep(0.05)
        assert await stream.close() == ["a", "b"]
        assert stream.state is StreamState.CLOSED
        await asyncio.sleep(0)
        assert asyncio.all_tasks() == before

    run(main())


# -- subscriptions, hooks, gap events ----------------------------------------------------------


def test_reconnect_replays_subscriptions_then_resyncs_then_flushes_queue() -> None:
    async def main() -> None:
        async with FaultServer() as server:
            recorder = Recorder()
            order: list[str] = []

            async def on_connect(session: Session) -> None:
                order.append(f"connect{session.number}")
                await session.send("auth")

            async def on_resync() -> None:
                order.append("resync")

            backoff_gate = asyncio.Event()

            async def held_backoff(delay: float) -> None:
                await backoff_gate.wait()  # keeps the stream down until the test has sent

            stream = ReliableWebSocket(
                config(server.url),
                recorder.hooks(on_connect=on_connect, on_resync=on_resync),
                sleep=held_backoff,
            )
            await stream.start()
            await stream.wait_open(2)
            stream.subscribe("trades", "sub:trades", unsubscribe="unsub:trades")
            stream.subscribe("depth", "sub:depth")
            await server.wait_for_received(3)
            await server.drop_all()
            await eventually(lambda: stream.state is StreamState.RECONNECTING, 2, "drop seen")
            stream.send("queued-while-down")
            backoff_gate.set()
            await server.wait_for_received(7)
            second = [r.data for r in server.received if r.session == 2]
            assert second == ["auth", "sub:trades", "sub:depth", "queued-while-down"]
            assert order == ["connect1", "resync", "connect2", "resync"]
            gaps = [e for e in recorder.events if isinstance(e, StreamGap)]
            resyncs = [e for e in recorder.events if isinstance(e, StreamResynced)]
            assert len(gaps) == 1 and len(resyncs) == 1
            assert gaps[0].since_ns <= gaps[0].until_ns and gaps[0].cause == "connection_lost"
            assert recorder.events.index(gaps[0]) < recorder.events.index(resyncs[0])
            stream.unsubscribe("trades")
            await server.wait_for_received(8)
            assert server.received[-1].data == "unsub:trades"
            assert stream.subscriptions == ["depth"]
            await stream.close()

    run(main())


def test_failing_on_connect_hook_counts_as_failed_attempt_and_is_retried() -> None:
    async def main() -> None:
        async with FaultServer() as server:
            calls = 0

            async def flaky(session: Session) -> None:
                nonlocal calls
                calls += 1
                if calls < 3:
                    raise ValueError("auth refused")

            recorder = Recorder()
            stream = ReliableWebSocket(config(server.url), recorder.hooks(on_connect=flaky))
            await stream.start()
            await stream.wait_open(5)
            stats = stream.stats()
            assert calls == 3 and stats.connect_failures == 2
            assert stats.disconnects == {"handshake_failed": 2}
            assert len(recorder.errors) == 2
            await stream.close()

    run(main())


# -- bad input ----------------------------------------------------------------------------------


def test_malformed_frames_are_counted_and_reported_and_the_stream_keeps_delivering() -> None:
    async def main() -> None:
        async with FaultServer(max_size=None) as server:
            recorder = Recorder()
            stream = ReliableWebSocket(config(server.url, max_message_size=1000), recorder.hooks())
            await stream.start()
            await stream.wait_open(2)
            await server.send_malformed(MalformedKind.NOT_JSON)
            await server.send_malformed(MalformedKind.BINARY)
            await server.broadcast('{"ok": 1}')
            await eventually(lambda: len(recorder.messages) == 1, 2, "valid message")
            assert stream.stats().malformed == 2 and server.connections_total == 1
            await server.send_malformed(MalformedKind.OVERSIZE, size=5000)
            await eventually(lambda: server.connections_total == 2, 3, "reconnect after oversize")
            await stream.wait_open(2)
            await server.send_malformed(MalformedKind.INVALID_UTF8)
            await eventually(lambda: server.connections_total == 3, 3, "reconnect after bad utf-8")
            await stream.wait_open(2)
            await server.broadcast('{"ok": 2}')
            await eventually(lambda: len(recorder.messages) == 2, 2, "valid message after faults")
            stats = stream.stats()
            assert recorder.messages == [{"ok": 1}, {"ok": 2}]
            assert stats.disconnects == {"oversize": 1, "malformed_frame": 1}
            assert stats.malformed == 3
            assert all(isinstance(e, InvalidDataError) for e in recorder.errors)
            assert len(recorder.errors) == 4
            await stream.close()

    run(main())


def test_raising_message_handler_is_counted_and_later_messages_still_arrive() -> None:
    async def main() -> None:
        async with FaultServer() as server:
            recorder = Recorder()
            got: list[Any] = []

            def handler(msg: Any) -> None:
                if msg == {"bad": True}:
                    raise KeyError("strategy bug")
                got.append(msg)

            stream = ReliableWebSocket(config(server.url), recorder.hooks(on_message=handler))
            await stream.start()
            await stream.wait_open(2)
            await server.broadcast('{"bad": true}')
            await server.broadcast('{"good": true}')
            await eventually(lambda: got == [{"good": True}], 2, "good message")
            assert stream.stats().handler_errors == 1
            assert "strategy bug" in str(recorder.errors[0])
            await stream.close()

    run(main())


def test_stats_count_messages_and_bytes_both_ways() -> None:
    async def main() -> None:
        async def echo(session: Any, data: str | bytes) -> None:
            await session.send(data)

        async with FaultServer(on_message=echo) as server:
            recorder = Recorder()
            stream = ReliableWebSocket(config(server.url), recorder.hooks())
            await stream.start()
            await stream.wait_open(2)
            for n in range(5):
                stream.send(json.dumps({"n": n}))
            await eventually(lambda: len(recorder.messages) == 5, 2, "echoes")
            stats = stream.stats()
            size = sum(len(json.dumps({"n": n})) for n in range(5))
            assert (stats.messages_out, stats.bytes_out) == (5, size)
            assert (stats.messages_in, stats.bytes_in) == (5, size)
            assert stats.connects == 1 and stats.state == "OPEN" and stats.connected_seconds > 0
            await stream.close()

    run(main())
