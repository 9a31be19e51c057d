"""Paper trading on live data: prices from a real venue's feed, fills from the simulated venue.

A :class:`PaperVenue` is a venue client like any other (the execution engine cannot tell it from
a live one), whose orders are matched by :class:`~bot4.venues.sim.venue.SimulatedVenue` against
the market data a real adapter delivers. Feed it every market data event *before* the data
engine sees it (as the backtest loop does), so a strategy reacting to a tick finds the venue
already at that tick. Orders are processed at once (zero latency unless the config says
otherwise), on the node's clock.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot4.core.clock import Clock
from bot4.core.ids import AccountId, Venue
from bot4.core.numbers import Price, Quantity
from bot4.execution.ports import EventSink
from bot4.model.account import AccountState
from bot4.model.data import MarketData
from bot4.model.instrument import Instrument
from bot4.model.orders import Order
from bot4.venues.sim.config import SimVenueConfig
from bot4.venues.sim.venue import SimulatedVenue

__all__ = ["PaperVenue"]


class PaperVenue:
    """A simulated account trading against live prices."""

    def __init__(self, config: SimVenueConfig, instruments: Sequence[Instrument], clock: Clock, sink: EventSink) -> None:
        self._clock = clock
        self._sim = SimulatedVenue(config, instruments, clock, sink)

    @property
    def venue(self) -> Venue:
        return self._sim.venue

    @property
    def account_id(self) -> AccountId:
        return self._sim.account_id

    @property
    def supports_amend(self) -> bool:
        return self._sim.supports_amend

    def submit_order(self, order: Order) -> None:
        self._sim.submit_order(order)
        self._catch_up()

    def cancel_order(self, order: Order) -> None:
        self._sim.cancel_order(order)
        self._catch_up()

    def modify_order(
        self, order: Order, quantity: Quantity | None = None, price: Price | None = None, trigger_price: Price | None = None
    ) -> None:
        self._sim.modify_order(order, quantity, price, trigger_price)
        self._catch_up()

    def on_data(self, data: MarketData) -> None:
        """Give the simulated venue the next live market data event (before the data engine)."""
        self._sim.process_data(data)

    def account_state(self) -> AccountState:
        return self._sim.account_state()

    def advance_time(self, ts_ns: int | None = None) -> None:
        """Process what is due by ``ts_ns`` (default now): latency and GTD expiries."""
        self._sim.advance_time(self._clock.timestamp_ns() if ts_ns is None else ts_ns)

    def _catch_up(self) -> None:
        # Live data time and the node's clock differ by the feed's delay; commands are due on the
        # venue's own time, which is the later of the two, so nothing waits for the next tick.
        self._sim.advance_time(max(self._sim.now_ns, self._clock.timestamp_ns()))
