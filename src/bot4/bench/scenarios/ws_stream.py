"""``ws_roundtrip`` and ``ws_chaos``: the reliable WebSocket over real loopback sockets.

``ws_roundtrip`` sends one small JSON message at a time through a
:class:`~bot4.net.ws.ReliableWebSocket` to a :class:`~bot4.testkit.faultserver.FaultServer`
that echoes it, and times send-to-decoded-echo (both ends in this process, so the figure is
the whole Python path twice plus loopback TCP). It also counts the memory the stream, the
websockets library and asyncio keep per message in steady state (it should be about zero:
anything else is a leak); the server's own recording of every message is left out.

``ws_chaos`` is the reconnect proof as a figure: the client sends a numbered sequence with
acknowledgement keys while the server drops the connection at random (each received message
ends its connection with probability 1/30, TCP reset, no close frame), and a resume handshake
tells the client where to pick up. The send window is 64 messages. It reports the disconnects survived and the messages lost,
duplicated or reordered, which must all be zero.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import tracemalloc
from typing import Any

from bot4.bench.harness import BenchOptions, ScenarioResult, peak_rss_mb, percentile
from bot4.net.backoff import Backoff
from bot4.net.ws import ReliableWebSocket, Session, StreamHooks
from bot4.net.ws_config import StreamConfig
from bot4.testkit.faultserver import DropMode, Faults, FaultServer

__all__ = ["run_ws_chaos", "run_ws_roundtrip"]

ROUNDTRIPS = 20_000
CHAOS_MESSAGES = 6_000
CHAOS_DROP_PROBABILITY = 1 / 30
CHAOS_WINDOW = 64  # send window: what a reconnect may have to send again


def _config(url: str, **overrides: Any) -> StreamConfig:
    values: dict[str, Any] = {
        "url": url,
        "name": "bench",
        "backoff": Backoff(initial=0.005, max_delay=0.05),
        "idle_timeout": None,
        "queue_size": 100_000,
        "close_timeout": 0.5,
    }
    values.update(overrides)
    return StreamConfig(**values)


ALLOC_ROUNDTRIPS = 2_000  # measured apart: tracemalloc with deep tracebacks is slow


async def _roundtrips(n: int) -> tuple[list[float], float, float, float]:
    async def echo(session: Any, data: str | bytes) -> None:
        await session.send(data)

    async with FaultServer(on_message=echo) as server:
        arrived = asyncio.Event()
        stream = ReliableWebSocket(_config(server.url), StreamHooks(on_message=lambda _: arrived.set()))
        await stream.start()
        await stream.wait_open(5)
        payload = json.dumps({"op": "ping", "id": 1})
        deltas: list[float] = []
        perf = time.perf_counter_ns
        cpu_start = time.process_time()
        cpu = 0.0
        for i in range(n + ALLOC_ROUNDTRIPS):
            if i == n:
                cpu = time.process_time() - cpu_start
                tracemalloc.start(30)  # deep enough to see the server's frames and exclude them
                before, blocks_before = _client_memory()
            arrived.clear()
            t0 = perf()
            stream.send(payload)
            await arrived.wait()
            deltas.append(perf() - t0)
        after, blocks_after = _client_memory()
        tracemalloc.stop()
        await stream.close()
    kept = (after - before) / ALLOC_ROUNDTRIPS
    return deltas[:n], cpu, kept, (blocks_after - blocks_before) / ALLOC_ROUNDTRIPS


_CLIENT_FILES = [
    tracemalloc.Filter(True, "*/bot4/net/*"),
    tracemalloc.Filter(True, "*/websockets/*"),
    tracemalloc.Filter(True, "*/asyncio/*"),
    tracemalloc.Filter(False, "*/testkit/faultserver.py", all_frames=True),
]


def _client_memory() -> tuple[int, int]:
    """Bytes and blocks held by the stream, websockets and asyncio (not the recording server)."""
    stats = tracemalloc.take_snapshot().filter_traces(_CLIENT_FILES).statistics("filename")
    return sum(s.size for s in stats), sum(s.count for s in stats)


def run_ws_roundtrip(options: BenchOptions) -> list[ScenarioResult]:
    result = ScenarioResult(
        name="ws_roundtrip",
        description="ReliableWebSocket send -> loopback echo server -> decoded on_message, one at a time",
        unit="roundtrip",
        quick=options.quick,
    )
    n = max(1_000, ROUNDTRIPS // options.scale)
    start = time.perf_counter()
    deltas, cpu, kept_bytes, kept_blocks = asyncio.run(_roundtrips(n))
    wall = time.perf_counter() - start
    timed = sorted(deltas)
    result.ops = n
    result.samples = len(timed)
    result.median_ns = round(percentile(timed, 50), 1)
    result.p99_ns = round(percentile(timed, 99), 1)
    result.ops_per_s = round(1e9 / (sum(timed) / len(timed)), 1)
    result.wall_s = round(wall, 3)
    result.cpu_s = round(cpu, 3)
    result.cpu_ops_per_s = round(n / cpu, 1) if cpu else None
    result.alloc_bytes_per_op = round(kept_bytes, 1)
    result.alloc_blocks_per_op = round(kept_blocks, 2)
    result.peak_rss_mb = peak_rss_mb()
    return [result]


async def _chaos(total: int, seed: int) -> dict[str, Any]:
    recorded: list[int] = []

    async def greet(session: Any) -> None:
        await session.send(json.dumps({"resume": recorded[-1] if recorded else 0}))

    async def ack(session: Any, data: str | bytes) -> None:
        n = int(json.loads(data)["n"])
        recorded.append(n)
        await session.send(json.dumps({"ack": n}))

    faults = Faults(drop_probability=CHAOS_DROP_PROBABILITY, drop_mode=DropMode.ABORT)
    async with FaultServer(faults=faults, seed=seed, on_connect=greet, on_message=ack) as server:
        stream: ReliableWebSocket

        async def resume(session: Session) -> None:
            hello = await session.recv(timeout=2.0)
            stream.acknowledge(hello["resume"], cumulative=True)

        stream = ReliableWebSocket(
            _config(server.url, stable_after=0.05, max_in_flight=CHAOS_WINDOW),
            StreamHooks(on_message=lambda msg: stream.acknowledge(msg["ack"]), on_connect=resume),
        )
        await stream.start()
        rng = random.Random(seed)
        started = time.perf_counter()
        n = 0
        while n < total:
            for _ in range(rng.randint(1, 40)):
                if n < total:
                    n += 1
                    stream.send(json.dumps({"n": n}), ack_key=n)
            await asyncio.sleep(rng.uniform(0, 0.002))
        deadline = time.monotonic() + 120
        while (len(recorded) < total or stream.stats().in_flight) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
        stats = stream.stats()
        undelivered = await stream.close()
    seen = set(recorded)
    return {
        "messages": total,
        "disconnects_forced": server.drops,
        "disconnects_survived": stats.disconnects.get("connection_lost", 0),
        "reconnects": stats.connects - 1,
        "received": len(recorded),
        "lost": total - len(seen & set(range(1, total + 1))),
        "duplicated": len(recorded) - len(seen),
        "out_of_order": sum(1 for a, b in zip(recorded, recorded[1:], strict=False) if b <= a),
        "resent": stats.resent,
        "undelivered_at_close": len(undelivered),
        "elapsed_s": round(elapsed, 3),
    }


def run_ws_chaos(options: BenchOptions) -> list[ScenarioResult]:
    # Each forced disconnect is logged as a warning; 200 of them would bury the report.
    logging.getLogger("bot4.net.ws").setLevel(logging.ERROR)
    result = ScenarioResult(
        name="ws_chaos",
        description=(
            "numbered messages with ack keys while the server resets the connection at random "
            f"(p={CHAOS_DROP_PROBABILITY:.3f} per message); resume handshake on reconnect"
        ),
        unit="message",
        goal="0 lost, 0 duplicated, 0 out of order",
        quick=options.quick,
    )
    total = max(1_500, CHAOS_MESSAGES // max(1, options.scale // 10))
    cpu_start = time.process_time()
    figures = asyncio.run(_chaos(total, seed=11))
    cpu = time.process_time() - cpu_start
    result.ops = total
    result.cpu_s = round(cpu, 3)
    result.cpu_ops_per_s = round(total / cpu, 1) if cpu else None
    result.peak_rss_mb = peak_rss_mb()
    result.wall_s = figures["elapsed_s"]
    result.ops_per_s = round(total / figures["elapsed_s"], 1) if figures["elapsed_s"] else None
    result.extra.update(figures)
    result.goal_met = figures["lost"] == 0 and figures["duplicated"] == 0 and figures["out_of_order"] == 0
    return [result]
