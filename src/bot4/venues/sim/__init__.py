"""The simulated venue: matching against market data, fees, latency, queue position, balances.

Used by backtests and paper trading; it behaves like a Binance-like spot venue and publishes the
same order events a real adapter does. Rules live in the module docstrings: :mod:`.venue` (time,
latency, commands), :mod:`.market` (book copy, data sources), :mod:`.matching` (triggering and
matching), :mod:`.checks` (what is refused), :mod:`.accounting` (ids, fees, settlement) and
:mod:`.ledger` (balances, margin).
"""

from bot4.venues.sim.accounting import (
    OrderAccounting,
    buy_lock_raw,
    commission_raw,
    round_half_even,
    settled_notional_raw,
)
from bot4.venues.sim.checks import OrderChecks
from bot4.venues.sim.config import SimVenueConfig
from bot4.venues.sim.ledger import SimLedger
from bot4.venues.sim.market import BookSource, MarketView, Takes
from bot4.venues.sim.matching import MarksProvider, MatchingEngine
from bot4.venues.sim.orders import Reject, SimOrder, filter_rejection
from bot4.venues.sim.resting import RestingOrders
from bot4.venues.sim.venue import SimulatedVenue

__all__ = [
    "BookSource",
    "MarketView",
    "MarksProvider",
    "MatchingEngine",
    "OrderAccounting",
    "OrderChecks",
    "Reject",
    "RestingOrders",
    "SimLedger",
    "SimOrder",
    "SimVenueConfig",
    "SimulatedVenue",
    "Takes",
    "buy_lock_raw",
    "commission_raw",
    "filter_rejection",
    "round_half_even",
    "settled_notional_raw",
]
