"""Crash recovery against real databases: SIGKILL a journaled session, restart, check the store.

``crash_session.py`` trades at random on a store, its venue behind the write-ahead gate, and
keeps a venue log (the venue's own truth, committed before the node hears of an event). The
test kills it with SIGKILL at a point chosen from ``BOT4_CRASH_SEED`` (after a random number of
heartbeats, plus a random delay), then checks what the store holds against that truth:

- the journal is a gap-free sequence 1..N;
- the ``orders`` table is exactly what replaying each order's stored spec and events gives;
- every order the venue answered has its intent in the store (write-ahead), and every stored
  fill is one the venue made;

then restarts it with ``--recover`` and checks that reconciliation repaired exactly what was in
flight (the fills the venue made that never reached the store, the orders whose stored state
is behind the venue's) and that afterwards the store agrees with the venue, every fill stored
exactly once. Loop it with different seeds to move the kill point::

    for i in $(seq 20); do BOT4_CRASH_SEED=$i pytest -q tests/integration/store/test_crash_recovery.py -k sqlite || break; done

A second test kills the PostgreSQL backends serving the writer while it commits small batches.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot4.model.enums import OrderStatus
from bot4.model.events import OrderFilled
from bot4.store.records import decode_order_event
from bot4.store.recovery import rebuild_order
from bot4.store.store import Store, StoreConfig
from bot4.store.writer import WriterConfig

from .conftest import terminate_backends
from .harness import PaperWorld

SCRIPT = Path(__file__).with_name("crash_session.py")
SEED = int(os.environ.get("BOT4_CRASH_SEED", "7"))
NODE_ID = "crash"  # crash_session.NODE_ID
MAX_HEARTBEATS = 30  # 50 steps each; ~1,800 steps/s
KILL_SESSION_STEPS = 800
KILLS = 6
OPEN = {s.value for s in OrderStatus if s.is_open}


def run(coro: Coroutine[Any, Any, Any], timeout: float = 60.0) -> Any:
    async def bounded() -> Any:
        async with asyncio.timeout(timeout):
            return await coro

    return asyncio.run(bounded())


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db' / 'bot4.db'}"
    else:
        yield request.getfixturevalue("pg_fresh_dsn")


# -- what the store and the venue hold ----------------------------------------------------------


@dataclass
class StoredState:
    seqs: list[int]
    last_kind: str
    orders: dict[str, dict[str, Any]]
    events: dict[str, list[dict[str, Any]]]
    fills: dict[str, dict[str, Any]]  # by trade id
    fill_events: list[str]  # trade id of every stored OrderFilled event
    replayed_from_spill: int


async def read_store(url: str, spill_dir: Path) -> StoredState:
    store = await Store.open(StoreConfig(url=url, spill_dir=spill_dir), node_id=NODE_ID)
    try:
        orders = {r["client_order_id"]: r for r in await store.orders()}
        events: dict[str, list[dict[str, Any]]] = {}
        for event in await store.order_events(list(orders)):
            events.setdefault(event["client_order_id"], []).append(event)
        fills = {r["trade_id"]: r for r in await store.fills()}
        fill_events = [str(decode_order_event(r["payload"]).event.trade_id) for r in await store.fill_events()]  # type: ignore[union-attr]
        kinds = await store.backend.fetch("SELECT kind FROM journal WHERE node_id = ? ORDER BY seq DESC LIMIT 1", (NODE_ID,))
        return StoredState(
            seqs=await store.journal_seqs(),
            last_kind=str(kinds[0][0]) if kinds else "",
            orders=orders,
            events=events,
            fills=fills,
            fill_events=fill_events,
            replayed_from_spill=store.replayed_from_spill,
        )
    finally:
        await store.close()


@dataclass
class VenueTruth:
    orders: dict[str, dict[str, Any]]
    fills: dict[str, dict[str, Any]]


def read_venue_log(path: Path) -> VenueTruth:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        orders = {r["client_order_id"]: dict(r) for r in conn.execute("SELECT * FROM venue_orders")}
        fills = {r["trade_id"]: dict(r) for r in conn.execute("SELECT * FROM venue_fills")}
    finally:
        conn.close()
    return VenueTruth(orders, fills)


# -- the session, killed and restarted ----------------------------------------------------------


def session_args(url: str, tmp_path: Path) -> list[str]:
    return [
        sys.executable, str(SCRIPT), "--db", url, "--venue-log", str(tmp_path / "venue.db"),
        "--seed", str(SEED), "--spill-dir", str(tmp_path / "spill"),
    ]


def run_and_kill(url: str, tmp_path: Path, rng: random.Random) -> str:
    """Start the session, SIGKILL it at a random point; return its last heartbeat.

    The point: a random number of heartbeats (50 steps each) after orders began reaching the
    venue (PostgreSQL's first commits can take longer than the first 50 steps), plus a random
    fraction of the time between two heartbeats.
    """
    heartbeats = rng.randint(1, MAX_HEARTBEATS)
    stderr = open(tmp_path / "session.stderr", "wb")
    proc = subprocess.Popen(session_args(url, tmp_path), stdout=subprocess.PIPE, stderr=stderr, cwd=SCRIPT.parent)
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            lines.put(raw.decode())
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen, last = 0, ""
    try:
        deadline = time.monotonic() + 60
        while seen < heartbeats:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"no heartbeat within 60 s (saw {seen} of {heartbeats}); last: {last!r}")
            if line is None:
                pytest.fail(f"session ended by itself: {(tmp_path / 'session.stderr').read_text()[-3000:]}")
            last = line.strip()
            if seen or int(last.rsplit(" sent ", 1)[1]) > 0:  # count from the first order at the venue
                seen += 1
        time.sleep(rng.uniform(0, 0.03))  # anywhere between two heartbeats
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        stderr.close()
    return last


def restart_and_recover(url: str, tmp_path: Path) -> dict[str, Any]:
    done = subprocess.run(
        [*session_args(url, tmp_path), "--recover"], capture_output=True, text=True, timeout=60, cwd=SCRIPT.parent
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


# -- the checks -----------------------------------------------------------------------------------


def assert_gap_free(state: StoredState) -> None:
    assert state.seqs, "nothing was journaled"
    assert state.seqs == list(range(1, len(state.seqs) + 1)), "journal has gaps or duplicates"


def assert_orders_match_their_events(state: StoredState) -> None:
    """The ``orders`` table is what the stored spec and events of each order give."""
    assert set(state.events) <= set(state.orders), "order events without an order"
    for cid, row in state.orders.items():
        events = state.events.get(cid, [])
        rebuilt = rebuild_order(row["spec"], [e["payload"] for e in events])
        assert (row["status"], Decimal(row["filled_qty"])) == (rebuilt.status.value, rebuilt.filled_qty.as_decimal()), cid
        if events:
            assert row["last_seq"] == events[-1]["seq"], cid


def assert_venue_saw_only_journaled_orders(state: StoredState, venue: VenueTruth) -> None:
    """Write-ahead: no order reached the venue before its intent was committed."""
    for cid, v in venue.orders.items():
        row = state.orders.get(cid)
        assert row is not None, f"{cid} reached the venue but its intent is not in the store"
        assert (row["side"], Decimal(row["quantity"])) == (v["side"], Decimal(v["quantity"])), cid
        assert (row["price"] is None and v["price"] is None) or Decimal(row["price"]) == Decimal(v["price"]), cid


def assert_stored_fills_are_the_venues(state: StoredState, venue: VenueTruth) -> None:
    for trade_id, fill in state.fills.items():
        v = venue.fills.get(trade_id)
        assert v is not None, f"stored fill {trade_id} was never made by the venue"
        assert (fill["client_order_id"], Decimal(fill["last_qty"]), Decimal(fill["last_px"])) == (
            v["client_order_id"], Decimal(v["qty"]), Decimal(v["price"]),
        ), trade_id
    assert sorted(state.fill_events) == sorted(state.fills), "fill events and fills disagree"


def venue_view(venue: VenueTruth, cid: str) -> tuple[str | None, Decimal]:
    """The order's status and filled quantity at the venue (None: the venue never answered it)."""
    v = venue.orders.get(cid)
    return (None, Decimal(0)) if v is None else (v["status"], Decimal(v["filled_qty"]))


def expected_repairs(state: StoredState, venue: VenueTruth) -> tuple[set[str], set[str]]:
    """The fills recovery must add (trade ids) and the orders it must touch (client ids)."""
    missing_fills = set(venue.fills) - set(state.fills)
    behind = {
        cid for cid, row in state.orders.items()
        if row["status"] in OPEN and venue_view(venue, cid) != (row["status"], Decimal(row["filled_qty"]))
    }
    return missing_fills, behind | {venue.fills[t]["client_order_id"] for t in missing_fills}


def assert_closed_orders_agree_with_the_venue(state: StoredState, venue: VenueTruth) -> None:
    """What the store holds as finished, the venue finished the same way (or never saw)."""
    for cid, row in state.orders.items():
        if row["status"] in OPEN:
            continue
        status, filled = venue_view(venue, cid)
        if status is None:
            assert row["status"] in ("DENIED", "REJECTED", "CANCELED"), (cid, row["status"])
        else:
            assert (row["status"], Decimal(row["filled_qty"])) == (status, filled), cid


def assert_store_agrees_with_the_venue(state: StoredState, venue: VenueTruth) -> None:
    """After recovery: every order the venue has is stored as the venue has it."""
    for cid, row in state.orders.items():
        status, filled = venue_view(venue, cid)
        if status is None or status == "REJECTED":  # never reached (or refused by) the venue
            assert row["status"] not in OPEN, (cid, row["status"])
            assert Decimal(row["filled_qty"]) == 0, cid
        else:
            assert (row["status"], Decimal(row["filled_qty"])) == (status, filled), cid


@pytest.mark.parametrize("kill_seed", [SEED])
def test_killed_session_restarts_with_the_committed_state_and_repairs_what_was_in_flight(
    db_url: str, tmp_path: Path, kill_seed: int
) -> None:
    rng = random.Random(kill_seed)
    last_heartbeat = run_and_kill(db_url, tmp_path, rng)
    venue = read_venue_log(tmp_path / "venue.db")
    before = run(read_store(db_url, tmp_path / "spill"))

    assert before.replayed_from_spill == 0  # the database never went away: nothing was spilled
    assert_gap_free(before)
    assert_orders_match_their_events(before)
    assert_venue_saw_only_journaled_orders(before, venue)
    assert_stored_fills_are_the_venues(before, venue)
    assert_closed_orders_agree_with_the_venue(before, venue)
    assert venue.orders, last_heartbeat

    missing_fills, touched = expected_repairs(before, venue)
    report = restart_and_recover(db_url, tmp_path)
    repairs = [r.split(" ", 2) for r in report["repairs"]]  # "kind O-12: detail"
    repaired_fills = {r[2].rsplit(" trade ", 1)[1] for r in repairs if r[0] == "missing_fill"}
    assert repaired_fills == missing_fills
    assert {r[1].rstrip(":") for r in repairs} == touched
    assert {r[0] for r in repairs} <= {"missing_fill", "missing_ack", "canceled_while_away"}
    assert report["external_orders"] == []
    assert report["position_mismatches"] == []
    assert report["last_seq"] == len(before.seqs)
    assert set(report["open_orders"]) == {c for c, r in before.orders.items() if r["status"] in OPEN}

    after = run(read_store(db_url, tmp_path / "spill"))
    assert_gap_free(after)
    assert after.seqs[: len(before.seqs)] == before.seqs and after.last_kind == "recovery"
    assert sorted(after.fill_events) == sorted(venue.fills)  # every venue fill, each exactly once
    assert set(after.fills) == set(venue.fills)
    assert_orders_match_their_events(after)
    assert_store_agrees_with_the_venue(after, venue)
    for cid, row in before.orders.items():  # what was committed stays as it was, only moved on
        if row["status"] not in OPEN:
            assert after.orders[cid]["last_seq"] == row["last_seq"], cid


# -- PostgreSQL: the writer's backends killed mid-batch --------------------------------------------


def test_writer_survives_killed_backends_and_stores_every_event_exactly_once(pg_fresh_dsn: str, tmp_path: Path) -> None:
    """Kill every backend of the store's database again and again while the writer commits
    batches of 5: each kill lands in a batch (or between two) and the writer retries the batch."""

    async def main() -> None:
        config = StoreConfig(url=pg_fresh_dsn, spill_dir=tmp_path / "spill", writer=WriterConfig(batch_size=5))
        store = await Store.open(config, node_id="n1")
        await store.begin_run(mode="paper", strategy="kill_backends")
        world = PaperWorld(store)
        world.start()
        rng = random.Random(SEED)

        async def session() -> None:
            for _ in range(KILL_SESSION_STEPS):
                world.random_step(rng)
                await asyncio.sleep(0.001)

        async def killer() -> int:
            killed = 0
            for _ in range(KILLS):
                await asyncio.sleep(rng.uniform(0.1, 0.3))
                killed += await asyncio.to_thread(terminate_backends, pg_fresh_dsn)
            return killed

        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(session())
            kills = tasks.create_task(killer())
        try:
            await store.writer.flush(60)
            stats = store.writer.stats()
            assert kills.result() >= KILLS  # every kill found the writer's connections
            assert stats.failures > 0, "no batch was ever interrupted: the test proved nothing"
            assert stats.rejected == 0 and stats.spilled == 0
            seqs = await store.journal_seqs()
            assert seqs == list(range(1, store.writer.last_seq + 1))
            rows = await store.backend.fetch("SELECT count(*), count(DISTINCT seq) FROM journal")
            assert tuple(rows[0]) == (len(seqs), len(seqs))
            fills = await store.fills()
            fill_events = await store.fill_events()
            assert len(fills) == len({f["trade_id"] for f in fills}) == len(fill_events) > 0
            engine_fills = [e for o in world.execution.orders() for e in o.events if isinstance(e, OrderFilled)]
            assert {f["trade_id"] for f in fills} == {str(e.trade_id) for e in engine_fills}
            stored = {r["client_order_id"]: r for r in await store.orders()}
            engine_orders = world.execution.orders()
            assert len(stored) == len(engine_orders)
            for order in engine_orders:
                row = stored[str(order.client_order_id)]
                assert (row["status"], Decimal(row["filled_qty"])) == (order.status.value, order.filled_qty.as_decimal())
        finally:
            await store.close()

    run(main(), timeout=120)
