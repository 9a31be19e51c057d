"""``journal_write``: the event journal's write path, on SQLite and on PostgreSQL.

The entries are what a paper session journals: order specs, order events with the order's state,
position changes and account states, recorded (untimed, beforehand) from real engines: an
:class:`ExecutionEngine` trading against a :class:`SimulatedVenue` on moving quotes, with a
:class:`Recorder` on the bus. Each backend gets a fresh database and measures two things through
the store's own :class:`JournalWriter` (default config: batches of up to 1,000 entries):

- **throughput** (``ops``, ``ops_per_s``, ``wall_s``): ``entries`` entries appended at once, timed
  from the first append until ``flush()`` returns: entries committed per second when the writer
  batches. ``cpu_ops_per_s`` is over this process's CPU time (the SQLite worker thread included,
  the PostgreSQL server not). ``extra.batches`` transactions were committed;
  ``extra.batch_commit_p50_ms``/``p99_ms`` is one batch's transaction.
- **write-ahead latency** (``latency_*``, and ``extra.commit_p50_ms``/``commit_p99_ms``): one order
  intent at a time (its spec and ``OrderSubmitted`` entries, appended as the recorder does),
  timed from the first append until ``wait_durable`` of the second returns. This is what
  :class:`~bot4.store.writeahead.WriteAheadClient` adds to every order before it may go to the
  venue. SQLite runs with ``synchronous=FULL``, PostgreSQL with its server's settings (default
  ``synchronous_commit=on``): both wait for the disk's fsync, which dominates.

Results: ``journal_write.sqlite`` (a file in a temporary directory) and
``journal_write.postgresql``: a scratch database created on the server named by ``BOT4_BENCH_PG``
(default ``postgresql://postgres@127.0.0.1:5432/postgres``) and dropped afterwards. When that
server cannot be reached, the PostgreSQL result is ``skipped`` with the reason.
"""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot4.bench.harness import BenchOptions, ScenarioResult, peak_rss_mb, percentile
from bot4.core.bus import MessageBus
from bot4.core.clock import TestClock
from bot4.core.ids import ClientOrderId
from bot4.execution.engine import ExecutionEngine
from bot4.model.enums import OrderSide
from bot4.model.orders import Order
from bot4.portfolio.portfolio import Portfolio
from bot4.store.recorder import Recorder
from bot4.store.records import EntryKind
from bot4.store.store import Store, StoreConfig
from bot4.testkit import btcusdt, quote, strategy_id
from bot4.venues.sim.config import SimVenueConfig
from bot4.venues.sim.venue import SimulatedVenue

__all__ = ["DEFAULT_PG", "pg_unreachable", "record_session", "run_journal_write"]

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
ENTRIES = 50_000  # under the writer's in-memory queue (100,000): nothing spills
INTENTS = 2_000
START_NS = 1_700_000_000_000_000_000

Entry = tuple[str, str, int]  # kind, JSON payload, ts_ns: the arguments of JournalWriter.append


class _Collector:
    """A journal that keeps what the recorder hands it."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []

    def append(self, kind: str, payload: str, ts_ns: int) -> int:
        self.entries.append((kind, payload, ts_ns))
        return len(self.entries)


def record_session(n: int, *, prefix: str, seed: int = 5) -> list[Entry]:
    """The first ``n`` entries a random paper session journals (orders named ``prefix-1``, ...)."""
    bus = MessageBus()
    clock = TestClock(START_NS)
    instrument = btcusdt()
    portfolio = Portfolio(bus)
    execution = ExecutionEngine(bus, clock)
    venue = SimulatedVenue(
        SimVenueConfig(starting_balances={"USDT": "1000000", "BTC": "10"}, queue_position=False),
        [instrument],
        clock,
        execution.process,
    )
    execution.register_client(venue)
    portfolio.add_instrument(instrument)
    execution.add_instrument(instrument)
    journal = _Collector()
    Recorder(bus, journal, execution.order).attach()
    execution.process(venue.account_state())
    rng = random.Random(seed)
    mid = 60_000.0
    orders = 0
    while len(journal.entries) < n:
        mid += rng.choice((-2.0, -1.0, 0.0, 1.0, 2.0))
        clock.set_time(clock.timestamp_ns() + 1_000_000)
        venue.process_data(quote(instrument, f"{mid - 0.5:.2f}", f"{mid + 0.5:.2f}", "5", "5", clock.timestamp_ns()))
        portfolio.update_mark(instrument.id, instrument.make_price(f"{mid:.2f}").raw)
        roll = rng.random()
        side = rng.choice((OrderSide.BUY, OrderSide.SELL))
        qty = instrument.make_qty(f"{rng.randint(1, 20) / 1000:.3f}")
        if roll < 0.7:
            orders += 1
            common: dict[str, Any] = {
                "client_order_id": ClientOrderId(f"{prefix}-{orders}"),
                "strategy_id": strategy_id(),
                "instrument_id": instrument.id,
                "side": side,
                "quantity": qty,
                "ts_init": clock.timestamp_ns(),
            }
            if roll < 0.3:
                execution.submit_order(Order.market(**common))
            else:
                price = instrument.make_price(f"{mid + rng.choice((-3.0, -1.0, 1.0, 3.0)):.2f}")
                execution.submit_order(Order.limit(price=price, **common))
        elif roll < 0.85:
            working = execution.open_orders()
            if working:
                execution.cancel_order(rng.choice(working))
    return journal.entries[:n]


def _intents(entries: list[Entry]) -> list[tuple[Entry, Entry]]:
    """Each order's spec and the event journaled right after it (its OrderSubmitted)."""
    return [
        (entries[i], entries[i + 1])
        for i in range(len(entries) - 1)
        if entries[i][0] == EntryKind.ORDER_SPEC and entries[i + 1][0] == EntryKind.ORDER_EVENT
    ]


async def _measure(config: StoreConfig, entries: list[Entry], intents: list[tuple[Entry, Entry]]) -> dict[str, Any]:
    store = await Store.open(config, node_id="bench")
    try:
        await store.begin_run(mode="bench", strategy="journal_write")
        writer = store.writer
        # Throughput: everything appended at once, the writer batching as it can.
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        for kind, payload, ts in entries:
            writer.append(kind, payload, ts)
        await writer.flush()
        wall = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        batched = writer.stats()
        # Write-ahead: one order intent at a time, each waited for.
        latencies: list[float] = []
        perf = time.perf_counter_ns
        for (k1, p1, t1), (k2, p2, t2) in intents:
            start = perf()
            writer.append(k1, p1, t1)
            seq = writer.append(k2, p2, t2)
            await writer.wait_durable(seq)
            latencies.append(perf() - start)
        stored = await store.last_seq()
    finally:
        left = await store.close()
    return {
        "wall": wall,
        "cpu": cpu,
        "batches": batched.batches,
        "batch_p50_ms": batched.commit_p50_ms,
        "batch_p99_ms": batched.commit_p99_ms,
        "latencies": sorted(latencies),
        "stored": stored,
        "left": left,
    }


def _result(backend: str, options: BenchOptions, where: str) -> ScenarioResult:
    return ScenarioResult(
        name=f"journal_write.{backend}",
        description=f"journal entries through JournalWriter into {where}: batched throughput, "
        "and write-ahead latency of one order intent",
        unit="event",
        quick=options.quick,
    )


def _fill(result: ScenarioResult, figures: dict[str, Any], entries: int, intents: int) -> None:
    if figures["left"] or figures["stored"] != entries + 2 * intents:
        raise RuntimeError(
            f"journal_write: expected {entries + 2 * intents} entries stored, found {figures['stored']} "
            f"({figures['left']} left uncommitted)"
        )
    wall, cpu, latencies = figures["wall"], figures["cpu"], figures["latencies"]
    result.ops = entries
    result.wall_s = round(wall, 4)
    result.ops_per_s = round(entries / wall, 1)
    result.cpu_s = round(cpu, 4)
    result.cpu_ops_per_s = round(entries / cpu, 1) if cpu else None
    result.latency_what = "order intent (spec + OrderSubmitted) appended -> wait_durable returns, one at a time"
    result.latency_samples = len(latencies)
    result.latency_median_ns = round(percentile(latencies, 50), 1)
    result.latency_p99_ns = round(percentile(latencies, 99), 1)
    result.latency_max_ns = round(float(latencies[-1]), 1)
    result.peak_rss_mb = peak_rss_mb()

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value, 3)

    result.extra.update({
        "entries": entries,
        "batches": figures["batches"],
        "entries_per_batch": round(entries / figures["batches"], 1) if figures["batches"] else None,
        "batch_commit_p50_ms": ms(figures["batch_p50_ms"]),
        "batch_commit_p99_ms": ms(figures["batch_p99_ms"]),
        "commit_p50_ms": ms(result.latency_median_ns / 1e6),
        "commit_p99_ms": ms(result.latency_p99_ns / 1e6),
        "intents": len(latencies),
    })


def _admin_dsn() -> str:
    return os.environ.get("BOT4_BENCH_PG", DEFAULT_PG)


def pg_unreachable() -> str | None:
    """Why the PostgreSQL server of ``BOT4_BENCH_PG`` cannot be used, or None when it can."""
    dsn = _admin_dsn()
    try:
        import psycopg
    except ImportError as exc:
        return f"psycopg is not installed: {exc}"
    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL at {_where(dsn)} unreachable (set BOT4_BENCH_PG): {str(exc).strip()}"
    return None


def _where(dsn: str) -> str:
    parts = urlsplit(dsn)
    return f"{parts.hostname}:{parts.port or 5432}"


@contextmanager
def _scratch_database(admin_dsn: str) -> Iterator[str]:
    """A fresh database on the server of ``admin_dsn``; its URL; dropped afterwards."""
    import psycopg

    name = f"bot4_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=3) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlsplit(admin_dsn)._replace(path="/" + name).geturl()
    finally:
        with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=3) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


def run_journal_write(options: BenchOptions) -> list[ScenarioResult]:
    n_entries = max(2_000, ENTRIES // options.scale)
    n_intents = max(50, INTENTS // options.scale)
    entries = record_session(n_entries, prefix="B")
    intents = _intents(record_session(12 * n_intents, prefix="W"))[:n_intents]  # ~6 entries per order
    if len(intents) < n_intents:
        raise RuntimeError(f"journal_write: the session gave {len(intents)} order intents, {n_intents} wanted")
    results: list[ScenarioResult] = []

    with tempfile.TemporaryDirectory(prefix="bot4-bench-journal-") as tmp:
        path = Path(tmp) / "bench.db"
        result = _result("sqlite", options, "a SQLite file (WAL, synchronous=FULL)")
        config = StoreConfig(url=f"sqlite:///{path}", spill_dir=Path(tmp) / "spill")
        _fill(result, asyncio.run(_measure(config, entries, intents)), n_entries, len(intents))
        results.append(result)

    result = _result("postgresql", options, "PostgreSQL (psycopg pool)")
    reason = pg_unreachable()
    if reason is not None:
        result.skipped = reason
    else:
        with tempfile.TemporaryDirectory(prefix="bot4-bench-journal-") as tmp, _scratch_database(_admin_dsn()) as url:
            config = StoreConfig(url=url, spill_dir=Path(tmp) / "spill")
            _fill(result, asyncio.run(_measure(config, entries, intents)), n_entries, len(intents))
    results.append(result)
    return results
