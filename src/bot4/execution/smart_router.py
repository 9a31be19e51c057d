"""The router wired to a node: live books, balances, fees and breakers in; child orders out.

:func:`~bot4.execution.routing.route` decides from a snapshot; :class:`SmartOrderRouter` takes
that snapshot from the running engines (the data engine's books, the portfolio's balances, the
fee schedules, the circuit breakers), publishes every decision on ``events.routing`` (with its
audit line, so it is logged and journaled like any other fact), and sends each leg as an IOC
limit order at the leg's worst planned price: a child can fill better than planned, never worse.
The children go through the execution engine, so risk checks each one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal

from bot4.core.bus import MessageBus
from bot4.core.clock import Clock
from bot4.core.ids import InstrumentId, StrategyId, TraderId, Venue
from bot4.core.numbers import FIXED_SCALAR
from bot4.execution.engine import ExecutionEngine
from bot4.execution.routing import RouteDecision, RouterConfig, RouteRequest, VenueState, route
from bot4.model.book import OrderBook
from bot4.model.enums import OrderSide, TimeInForce
from bot4.model.instrument import Instrument
from bot4.model.orders import Order
from bot4.portfolio.portfolio import Portfolio

__all__ = ["ROUTING_TOPIC", "SmartOrderRouter"]

ROUTING_TOPIC = "events.routing"

_log = logging.getLogger("bot4.execution.routing")

BookSource = Callable[[InstrumentId], OrderBook | None]
FeeSource = Callable[[Instrument], Decimal]
BreakerSource = Callable[[Venue], bool]  # True when the venue's order breaker is open


class SmartOrderRouter:
    """Route and send orders for one asset pair listed at several venues."""

    def __init__(
        self,
        *,
        execution: ExecutionEngine,
        books: BookSource,
        portfolio: Portfolio,
        clock: Clock,
        bus: MessageBus,
        fees: FeeSource | None = None,
        breaker_open: BreakerSource | None = None,
        penalties_bps: Mapping[Venue, Decimal] | None = None,
        config: RouterConfig | None = None,
    ) -> None:
        """``fees`` gives the taker rate of an instrument (a fee schedule); the instrument's own
        ``taker_fee`` is used when it is None."""
        self._execution = execution
        self._books = books
        self._portfolio = portfolio
        self._clock = clock
        self._bus = bus
        self._fees = fees
        self._breaker_open = breaker_open
        self._penalties = dict(penalties_bps or {})
        self.config = config or RouterConfig()
        self.decisions: list[RouteDecision] = []

    def book(self, instrument_id: InstrumentId) -> OrderBook | None:
        return self._books(instrument_id)

    def venue_states(
        self, instruments: Sequence[Instrument], side: OrderSide, caps: Mapping[Venue, int] | None = None
    ) -> list[VenueState]:
        """Snapshot every venue: book, taker fee, what we can trade there, breaker state."""
        states = []
        for inst in instruments:
            venue = inst.id.venue
            book = self._books(inst.id)
            fee = self._fees(inst) if self._fees is not None else inst.taker_fee
            available = self._available_raw(inst, side, book, fee)
            if caps is not None and venue in caps:
                cap = caps[venue]
                available = cap if available is None else min(available, cap)
            states.append(
                VenueState(
                    instrument=inst,
                    book=book,
                    taker_fee=fee,
                    available_raw=available,
                    penalty_bps=self._penalties.get(venue, Decimal(0)),
                    breaker_open=self._breaker_open(venue) if self._breaker_open is not None else False,
                )
            )
        return states

    def decide(
        self,
        instruments: Sequence[Instrument],
        side: OrderSide,
        quantity_raw: int,
        *,
        limit_raw: int | None = None,
        caps: Mapping[Venue, int] | None = None,
        label: str = "",
    ) -> RouteDecision:
        """Route without sending; raises NoRouteError / UnknownVenueError like :func:`route`."""
        request = RouteRequest(side=side, quantity_raw=quantity_raw, limit_raw=limit_raw, label=label)
        decision = route(request, self.venue_states(instruments, side, caps), self._clock.timestamp_ns(), self.config)
        self.decisions.append(decision)
        _log.info("%s", decision.audit())
        self._bus.publish(ROUTING_TOPIC, decision)
        return decision

    def children(
        self, decision: RouteDecision, *, strategy_id: StrategyId, trader_id: TraderId, reduce_only: bool = False
    ) -> list[Order]:
        """One IOC limit order per leg at the leg's worst planned price (not sent yet)."""
        now = self._clock.timestamp_ns()
        return [
            Order.limit(
                client_order_id=self._execution.next_client_order_id(trader_id, strategy_id),
                strategy_id=strategy_id,
                instrument_id=leg.instrument_id,
                side=decision.side,
                quantity=leg.quantity,
                price=leg.limit_price,
                time_in_force=TimeInForce.IOC,
                reduce_only=reduce_only,
                ts_init=now,
            )
            for leg in decision.legs
        ]

    def send(
        self, decision: RouteDecision, *, strategy_id: StrategyId, trader_id: TraderId, reduce_only: bool = False
    ) -> list[Order]:
        """Build and submit the children; a venue may fill them before this returns."""
        orders = self.children(decision, strategy_id=strategy_id, trader_id=trader_id, reduce_only=reduce_only)
        for order in orders:
            self._execution.submit_order(order)
        return orders

    def _available_raw(self, inst: Instrument, side: OrderSide, book: OrderBook | None, fee: Decimal) -> int | None:
        account = self._portfolio.account(inst.id.venue)
        if account is None:
            return None  # no account report: the venue will say if we cannot afford it
        if side is OrderSide.SELL:
            balance = account.balances.get(inst.base_currency)
            return 0 if balance is None else max(balance.free.raw, 0)
        balance = account.balances.get(inst.quote_currency)
        if balance is None:
            return 0
        ask = None if book is None else book.best_ask_raw()
        if not ask:
            return None
        # What the free quote buys at the best ask with the fee on top: an upper bound that the
        # walk's deeper levels only lower, and the venue's own check has the last word.
        per_unit = Decimal(ask) * (1 + max(fee, Decimal(0)))
        return int(Decimal(max(balance.free.raw, 0)) * FIXED_SCALAR / per_unit)
