"""A small paper-trading world for store tests: real engines, a simulated venue, a real store.

Orders are placed by the test (or by ``random_step``) and filled by the simulated venue from
quotes the session publishes; every event goes over the bus, so the recorder journals exactly
what a node would.
"""

from __future__ import annotations

import random

from bot4.core.bus import MessageBus
from bot4.core.clock import TestClock
from bot4.core.ids import ClientOrderId
from bot4.execution.engine import ExecutionEngine
from bot4.model.data import QuoteTick
from bot4.model.enums import OrderSide
from bot4.model.orders import Order
from bot4.portfolio.portfolio import Portfolio
from bot4.store.recorder import Recorder
from bot4.store.store import Store
from bot4.testkit import btcusdt, quote, strategy_id
from bot4.venues.sim.config import SimVenueConfig
from bot4.venues.sim.venue import SimulatedVenue

START_NS = 1_700_000_000_000_000_000


class PaperWorld:
    """Bus, clock, execution, portfolio and a simulated venue; optionally journaled."""

    def __init__(self, store: Store | None = None, *, start_ns: int = START_NS, prefix: str = "O") -> None:
        self.bus = MessageBus()
        self.clock = TestClock(start_ns)
        self.instrument = btcusdt()
        self.portfolio = Portfolio(self.bus)
        self.execution = ExecutionEngine(self.bus, self.clock)
        self.venue = SimulatedVenue(
            SimVenueConfig(starting_balances={"USDT": "1000000", "BTC": "10"}, queue_position=False),
            [self.instrument],
            self.clock,
            self.execution.process,
        )
        self.execution.register_client(self.venue)
        self.portfolio.add_instrument(self.instrument)
        self.execution.add_instrument(self.instrument)
        self.recorder = Recorder(self.bus, store.writer, self.execution.order) if store is not None else None
        self._n = 0
        self._prefix = prefix
        self.mid = 60_000.0

    def start(self, *, attach: bool = True) -> None:
        if self.recorder is not None and attach:
            self.recorder.attach()
        self.execution.process(self.venue.account_state())

    def tick(self, mid: float | None = None, step_ns: int = 1_000_000) -> QuoteTick:
        """Move time and publish a quote around ``mid`` to the venue (which may fill orders)."""
        if mid is not None:
            self.mid = mid
        self.clock.set_time(self.clock.timestamp_ns() + step_ns)
        q = quote(
            self.instrument, f"{self.mid - 0.5:.2f}", f"{self.mid + 0.5:.2f}", "5", "5", self.clock.timestamp_ns()
        )
        self.venue.process_data(q)
        self.portfolio.update_mark(self.instrument.id, self.instrument.make_price(f"{self.mid:.2f}").raw)
        return q

    def _id(self) -> ClientOrderId:
        self._n += 1
        return ClientOrderId(f"{self._prefix}-{self._n}")

    def limit(self, side: OrderSide, qty: str, price: str) -> Order:
        order = Order.limit(
            client_order_id=self._id(),
            strategy_id=strategy_id(),
            instrument_id=self.instrument.id,
            side=side,
            quantity=self.instrument.make_qty(qty),
            price=self.instrument.make_price(price),
            ts_init=self.clock.timestamp_ns(),
        )
        self.execution.submit_order(order)
        return order

    def market(self, side: OrderSide, qty: str) -> Order:
        order = Order.market(
            client_order_id=self._id(),
            strategy_id=strategy_id(),
            instrument_id=self.instrument.id,
            side=side,
            quantity=self.instrument.make_qty(qty),
            ts_init=self.clock.timestamp_ns(),
        )
        self.execution.submit_order(order)
        return order

    def random_step(self, rng: random.Random) -> None:
        """One step of a random session: a quote move and maybe an order or a cancel."""
        self.tick(self.mid + rng.choice((-2.0, -1.0, 0.0, 1.0, 2.0)))
        roll = rng.random()
        side = rng.choice((OrderSide.BUY, OrderSide.SELL))
        if roll < 0.3:
            self.market(side, f"{rng.randint(1, 20) / 1000:.3f}")
        elif roll < 0.7:
            offset = rng.choice((-3.0, -1.0, 1.0, 3.0))
            self.limit(side, f"{rng.randint(1, 20) / 1000:.3f}", f"{self.mid + offset:.2f}")
        elif roll < 0.85:
            open_orders = self.execution.open_orders()
            if open_orders:
                self.execution.cancel_order(rng.choice(open_orders))
