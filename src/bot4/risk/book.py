"""What the risk engine knows between checks: resolved instruments and the orders still working.

:class:`RiskBook` resolves an instrument once (its limits as raw ints, its portfolio position,
the other positions quoted in the same currency) and keeps count of working orders per
instrument. Orders are counted from the moment they leave (``RiskEngine.on_submitted``) and
followed through their events on the bus; orders the risk engine never saw leave (sent before
it existed, adopted by reconciliation) are picked up from the orders view, at start and on
their first event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from bot4.core.clock import Clock
from bot4.core.errors import UnknownInstrumentError
from bot4.core.ids import ClientOrderId, InstrumentId, StrategyId
from bot4.core.numbers import Currency
from bot4.model.events import OrderEvent
from bot4.model.instrument import Instrument
from bot4.model.orders import Order
from bot4.portfolio.portfolio import Portfolio
from bot4.risk.config import RiskConfig
from bot4.risk.limits import ExposureGroup, InstrumentRisk

__all__ = ["OrdersView", "RiskBook"]


class OrdersView(Protocol):
    """Where the risk engine reads orders it did not see leave (the execution engine is one)."""

    def open_orders(
        self, instrument_id: InstrumentId | None = None, strategy_id: StrategyId | None = None
    ) -> list[Order]: ...

    def order(self, client_order_id: ClientOrderId) -> Order | None: ...


class RiskBook:
    """Resolved instruments (``by_id``) and working orders (``tracked``: id -> instrument)."""

    __slots__ = ("_clock", "_config", "_grouped", "_groups", "_instruments", "_orders", "_portfolio", "by_id", "tracked")

    def __init__(
        self,
        config: RiskConfig,
        clock: Clock,
        portfolio: Portfolio,
        instruments: Mapping[InstrumentId, Instrument],
        orders: OrdersView | None,
    ) -> None:
        self._config = config
        self._clock = clock
        self._portfolio = portfolio
        self._instruments = instruments
        self._orders = orders
        self.by_id: dict[InstrumentId, InstrumentRisk] = {}
        self.tracked: dict[ClientOrderId, InstrumentRisk] = {}
        self._groups: dict[Currency, ExposureGroup] = {}
        self._grouped: set[InstrumentId] = set()

    def resolve(self, instrument_id: InstrumentId) -> InstrumentRisk | str:
        """The instrument's risk state, built on first sight; else who does not know it."""
        found = self.by_id.get(instrument_id)
        if found is not None:
            return found
        instrument = self._instruments.get(instrument_id)
        if instrument is None:
            return "risk engine's instruments"
        try:
            position = self._portfolio.position(instrument_id)
        except UnknownInstrumentError:
            return "portfolio"
        group = self._groups.setdefault(instrument.quote_currency, [])
        ir = InstrumentRisk(self._config, instrument, position, group, self._clock.timestamp_ns())
        self.by_id[instrument_id] = ir
        self._refresh_groups()
        return ir

    # -- working orders -----------------------------------------------------------------------

    def track(self, order: Order) -> None:
        """Count ``order`` as working while it is open (idempotent)."""
        ir = self.resolve(order.instrument_id)
        if isinstance(ir, InstrumentRisk) and ir.track(order):
            self.tracked[order.client_order_id] = ir

    def on_order_event(self, event: OrderEvent) -> None:
        """Re-read the order's leaves after each of its events; forget it once it ends."""
        coid = event.client_order_id
        ir = self.tracked.get(coid)
        if ir is not None:
            if not ir.track(ir.working[coid]):
                del self.tracked[coid]
            return
        if self._orders is not None:
            order = self._orders.order(coid)
            if order is not None and order.is_open:
                self.track(order)

    def sync(self) -> None:
        """Count every open order the orders view knows (at start and after reconciliation)."""
        if self._orders is not None:
            for order in self._orders.open_orders():
                self.track(order)

    def open_count(self, instrument_id: InstrumentId | None = None) -> int:
        if instrument_id is None:
            return len(self.tracked)
        ir = self.by_id.get(instrument_id)
        return 0 if ir is None else ir.open_count

    # -- positions ----------------------------------------------------------------------------

    def on_position(self, instrument_id: InstrumentId) -> None:
        """A position changed; a position never seen before joins its currency's group."""
        if instrument_id not in self._grouped:
            self._refresh_groups()

    def _refresh_groups(self) -> None:
        """Re-list the portfolio's positions per quote currency, in the shared group lists."""
        for group in self._groups.values():
            group.clear()
        self._grouped.clear()
        for position in self._portfolio.positions():
            self._groups.setdefault(position.quote_currency, []).append((position, position.instrument_id))
            self._grouped.add(position.instrument_id)
