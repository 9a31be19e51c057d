"""A journaled paper session to be killed, and the restart that recovers it.

Run by ``test_crash_recovery.py`` as a subprocess::

    python crash_session.py --db URL --venue-log PATH --seed N [--spill-dir DIR]
    python crash_session.py --db URL --venue-log PATH --seed N [--spill-dir DIR] --recover

Without ``--recover`` it trades at random until it is killed: a :class:`PaperWorld` on the
store, its simulated venue behind a :class:`WriteAheadClient` (an order reaches the venue only
once its intent is committed), and a *venue log*: the venue's own truth (every order it
answered, every fill it made), committed to a SQLite file of its own before the event reaches
the node, as a real exchange keeps its records whatever happens to us. After every 50 steps it
prints ``steps N appended A committed C sent S`` (flushed; S orders reached the venue), so the
test can kill it at a point of its choosing.

With ``--recover`` it restarts the node: opens the store, builds a fresh world, reads the venue
log as a :class:`VenueReport` (the orders still open there, every fill) and runs
:func:`recover`; it prints the :class:`RecoveryReport` as one JSON line and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
from harness import PaperWorld

from bot4.core.ids import AccountId, ClientOrderId, TradeId, Venue, VenueOrderId
from bot4.core.numbers import Money, Quantity
from bot4.execution.reconciliation import FillReport, OrderStatusReport, VenueReport
from bot4.model.enums import LiquiditySide, OrderSide, OrderStatus, OrderType
from bot4.model.events import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
)
from bot4.model.orders import Order
from bot4.store.recovery import recover
from bot4.store.store import Store, StoreConfig
from bot4.store.writeahead import WriteAheadClient
from bot4.testkit import BTC, USDT
from bot4.venues.sim.config import SimVenueConfig
from bot4.venues.sim.venue import SimulatedVenue

NODE_ID = "crash"
HEARTBEAT_STEPS = 50
VENUE_CONFIG = SimVenueConfig(starting_balances={"USDT": "1000000", "BTC": "10"}, queue_position=False)

VENUE_LOG_SCHEMA = """
CREATE TABLE IF NOT EXISTS venue_orders (
    client_order_id TEXT PRIMARY KEY, venue_order_id TEXT, side TEXT NOT NULL, order_type TEXT NOT NULL,
    quantity TEXT NOT NULL, price TEXT, status TEXT NOT NULL, filled_qty TEXT NOT NULL, ts_last INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS venue_fills (
    trade_id TEXT PRIMARY KEY, client_order_id TEXT NOT NULL, venue_order_id TEXT NOT NULL, side TEXT NOT NULL,
    qty TEXT NOT NULL, price TEXT NOT NULL, commission TEXT NOT NULL, commission_currency TEXT NOT NULL,
    liquidity_side TEXT NOT NULL, ts_event INTEGER NOT NULL
);
"""


def open_venue_log(path: Path) -> sqlite3.Connection:
    """The venue log's connection: autocommit, WAL.

    ``synchronous=NORMAL``: a commit survives the death of the process (what the test does),
    not of the machine; FULL would add an fsync per venue event for nothing here.
    """
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(VENUE_LOG_SCHEMA)
    return conn


class VenueLog:
    """The venue's records: written as the venue answers, before the node hears of it."""

    def __init__(self, path: Path) -> None:
        self._conn = open_venue_log(path)
        self._received: dict[ClientOrderId, Order] = {}
        self._filled: dict[ClientOrderId, Decimal] = {}
        self._venue_ids: dict[ClientOrderId, str | None] = {}

    def received(self, order: Order) -> None:
        """The venue got ``order``; it is recorded with the venue's first answer."""
        self._received[order.client_order_id] = order

    def sink(self, forward: Callable[[Any], None]) -> Callable[[Any], None]:
        """The venue's event sink: record the event (one transaction), then pass it on."""

        def record_then_forward(event: Any) -> None:
            if isinstance(event, OrderEvent):
                self._record(event)
            forward(event)

        return record_then_forward

    def _record(self, event: OrderEvent) -> None:
        cid = event.client_order_id
        order = self._received.get(cid)
        if order is None:
            return  # a cancel refused for an order the venue never had
        if isinstance(event, OrderAccepted):
            self._venue_ids[cid] = str(event.venue_order_id)
            self._write_order(order, OrderStatus.ACCEPTED, event.ts_event)
        elif isinstance(event, OrderRejected):
            self._venue_ids.setdefault(cid, None)
            self._write_order(order, OrderStatus.REJECTED, event.ts_event)
        elif isinstance(event, OrderFilled):
            filled = self._filled.get(cid, Decimal(0)) + event.last_qty.as_decimal()
            self._filled[cid] = filled
            venue_order_id = str(event.venue_order_id)
            self._venue_ids[cid] = venue_order_id
            status = OrderStatus.FILLED if filled >= order.quantity.as_decimal() else OrderStatus.PARTIALLY_FILLED
            self._conn.execute("BEGIN")
            self._conn.execute(
                "INSERT INTO venue_fills VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    str(event.trade_id), str(cid), venue_order_id, event.order_side.name, str(event.last_qty),
                    str(event.last_px), str(event.commission.as_decimal()), event.commission.currency.code,
                    event.liquidity_side.value, event.ts_event,
                ),
            )
            self._write_order(order, status, event.ts_event)
            self._conn.execute("COMMIT")
        elif isinstance(event, OrderCanceled | OrderExpired):
            status = OrderStatus.CANCELED if isinstance(event, OrderCanceled) else OrderStatus.EXPIRED
            self._write_order(order, status, event.ts_event)

    def _write_order(self, order: Order, status: OrderStatus, ts: int) -> None:
        cid = order.client_order_id
        filled = self._filled.get(cid, Decimal(0))
        self._conn.execute(
            "INSERT OR REPLACE INTO venue_orders VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                str(cid), self._venue_ids.get(cid), order.side.name, order.order_type.value, str(order.quantity),
                None if order.price is None else str(order.price), status.value,
                str(Quantity.of(filled, order.quantity.precision)), ts,
            ),
        )


class VenueLogClient:
    """The venue as the node's client sees it: each order is noted by the venue log on arrival."""

    def __init__(self, venue: SimulatedVenue, log: VenueLog) -> None:
        self._venue = venue
        self._log = log

    @property
    def venue(self) -> Venue:
        return self._venue.venue

    @property
    def account_id(self) -> AccountId:
        return self._venue.account_id

    @property
    def supports_amend(self) -> bool:
        return self._venue.supports_amend

    def submit_order(self, order: Order) -> None:
        self._log.received(order)
        self._venue.submit_order(order)

    def cancel_order(self, order: Order) -> None:
        self._venue.cancel_order(order)

    def modify_order(self, order: Order, *args: Any) -> None:
        self._venue.modify_order(order, *args)


def store_config(args: argparse.Namespace) -> StoreConfig:
    spill_dir = Path(args.spill_dir) if args.spill_dir else Path(args.venue_log).parent / "spill"
    return StoreConfig(url=args.db, spill_dir=spill_dir)


async def trade_until_killed(args: argparse.Namespace) -> None:
    store = await Store.open(store_config(args), node_id=NODE_ID)
    await store.begin_run(mode="paper", strategy="crash_session")
    world = PaperWorld(store)
    log = VenueLog(Path(args.venue_log))
    # The world's own venue is replaced by one whose events pass through the venue log.
    world.venue = SimulatedVenue(VENUE_CONFIG, [world.instrument], world.clock, log.sink(world.execution.process))
    gate = WriteAheadClient(VenueLogClient(world.venue, log), store.writer, world.execution.process, world.clock)
    world.execution.register_client(gate)
    world.start()
    await gate.start()
    rng = random.Random(args.seed)
    steps = 0
    while True:
        world.random_step(rng)
        steps += 1
        # The writer and the gate run between steps. sleep(0) alone is not enough on SQLite:
        # measured, 120 entries committed in 11,800 steps (5 s) until the gate's queue
        # overflowed. The loop never idles, so the SQLite worker thread hardly gets the GIL
        # (likely a convoy: it needs it back for every row it binds). A real session waits for
        # market data; 1 ms idle every 10 steps stands for that (~1,800 steps/s, writer keeps up).
        await asyncio.sleep(0.001 if steps % 10 == 0 else 0)
        if steps % HEARTBEAT_STEPS == 0:
            writer = store.writer
            print(f"steps {steps} appended {writer.last_seq} committed {writer.committed_seq} sent {gate.sent}", flush=True)


def venue_report(path: Path, world: PaperWorld) -> VenueReport:
    """What the venue says now: its open orders and every fill, from its log."""
    instrument = world.instrument
    conn = open_venue_log(path)
    try:
        orders = conn.execute(
            "SELECT client_order_id, venue_order_id, side, order_type, quantity, price, status, filled_qty, ts_last "
            "FROM venue_orders WHERE status IN (?, ?) ORDER BY client_order_id",
            (OrderStatus.ACCEPTED.value, OrderStatus.PARTIALLY_FILLED.value),
        ).fetchall()
        fills = conn.execute(
            "SELECT trade_id, client_order_id, venue_order_id, side, qty, price, commission, commission_currency, "
            "liquidity_side, ts_event FROM venue_fills ORDER BY ts_event, trade_id"
        ).fetchall()
    finally:
        conn.close()
    currencies = {USDT.code: USDT, BTC.code: BTC}
    open_orders = [
        OrderStatusReport(
            instrument_id=instrument.id,
            venue_order_id=VenueOrderId(venue_order_id),
            client_order_id=ClientOrderId(cid),
            side=OrderSide[side],
            order_type=OrderType(order_type),
            quantity=instrument.make_qty(quantity),
            price=None if price is None else instrument.make_price(price),
            filled_qty=instrument.make_qty(filled),
            avg_px=None,
            status=OrderStatus(status),
            ts_last=ts_last,
        )
        for cid, venue_order_id, side, order_type, quantity, price, status, filled, ts_last in orders
    ]
    fill_reports = [
        FillReport(
            instrument_id=instrument.id,
            venue_order_id=VenueOrderId(venue_order_id),
            client_order_id=ClientOrderId(cid),
            trade_id=TradeId(trade_id),
            side=OrderSide[side],
            last_qty=instrument.make_qty(qty),
            last_px=instrument.make_price(price),
            commission=Money.of(commission, currencies[currency]),
            liquidity_side=LiquiditySide(liquidity),
            ts_event=ts_event,
        )
        for trade_id, cid, venue_order_id, side, qty, price, commission, currency, liquidity, ts_event in fills
    ]
    last_ts = max([r.ts_last for r in open_orders] + [f.ts_event for f in fill_reports] + [0])
    world.clock.set_time(max(world.clock.timestamp_ns(), last_ts) + 1_000_000)
    return VenueReport(
        venue=world.instrument.id.venue, open_orders=open_orders, fills=fill_reports, ts=world.clock.timestamp_ns()
    )


async def restart_and_recover(args: argparse.Namespace) -> int:
    store = await Store.open(store_config(args), node_id=NODE_ID)
    await store.begin_run(mode="paper", strategy="crash_session.recover")
    world = PaperWorld(store, prefix="R")
    try:
        report = venue_report(Path(args.venue_log), world)
        assert world.recorder is not None
        result = await recover(store, world.execution, world.portfolio, world.recorder, world.clock, [report])
    finally:
        left = await store.close()
    print(msgspec.json.encode(result).decode(), flush=True)
    return 0 if left == 0 else 1


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="store url (sqlite:///PATH or postgresql://...)")
    parser.add_argument("--venue-log", required=True, help="the simulated venue's SQLite log file")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--spill-dir", help="the writer's spill directory (default: next to the venue log)")
    parser.add_argument("--recover", action="store_true", help="restart: recover and print the report")
    args = parser.parse_args(argv)
    if args.recover:
        return asyncio.run(restart_and_recover(args))
    asyncio.run(trade_until_killed(args))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
