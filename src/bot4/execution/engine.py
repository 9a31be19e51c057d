"""The execution engine: owns every order's state between strategies and venues.

Commands go out (submit, cancel, modify) to the :class:`VenueClient` of the order's venue;
events come back through :meth:`ExecutionEngine.process` and are applied to the order through
its transition table, then published. Nothing from a venue crashes the engine: an event for
an unknown order is kept for reconciliation, a repeated fill is ignored and counted, and an
event the table forbids is kept and counted as well.

Topics published (all on the message bus):

- ``events.order.<strategy_id>``: every applied order event, for the owning strategy;
- ``events.fills``: every applied fill (portfolio, reports);
- ``events.account``: account states reported by venues;
- ``events.unmatched``: events that could not be applied, with the reason.
"""

from __future__ import annotations

import msgspec

from bot4.core.bus import MessageBus
from bot4.core.clock import Clock
from bot4.core.errors import (
    DuplicateFillError,
    ImpossibleFillError,
    InvalidStateTransition,
    UnknownInstrumentError,
    UnknownVenueError,
)
from bot4.core.ids import AccountId, ClientOrderId, InstrumentId, StrategyId, TraderId, Venue
from bot4.core.numbers import Price, Quantity
from bot4.execution.ids import ClientOrderIdGenerator
from bot4.execution.ports import PreTradeCheck, VenueClient, VenueEvent
from bot4.model.account import AccountState
from bot4.model.events import (
    OrderCanceled,
    OrderCancelRejected,
    OrderDenied,
    OrderEvent,
    OrderFilled,
    OrderModifyRejected,
    OrderSubmitted,
)
from bot4.model.instrument import Instrument
from bot4.model.orders import Order

__all__ = ["ExecutionEngine", "ExecutionStats", "UnmatchedEvent"]


class UnmatchedEvent(msgspec.Struct, frozen=True, gc=False):
    """A venue event that could not be applied, kept so reconciliation can look at it."""

    event: OrderEvent
    reason: str


class ExecutionStats(msgspec.Struct, kw_only=True):
    submitted: int = 0
    denied: int = 0
    events_applied: int = 0
    duplicate_fills: int = 0
    unknown_order_events: int = 0
    invalid_transitions: int = 0


class ExecutionEngine:
    """Order state, command routing and event application."""

    def __init__(self, bus: MessageBus, clock: Clock, risk: PreTradeCheck | None = None) -> None:
        self._bus = bus
        self._clock = clock
        self._risk = risk
        self._clients: dict[Venue, VenueClient] = {}
        self._instruments: dict[InstrumentId, Instrument] = {}
        self._orders: dict[ClientOrderId, Order] = {}
        self._open: dict[ClientOrderId, Order] = {}
        self._order_topics: dict[StrategyId, str] = {}
        self._id_generators: dict[StrategyId, ClientOrderIdGenerator] = {}
        self._trader_ids: dict[StrategyId, TraderId] = {}
        self._replacements: dict[ClientOrderId, Order] = {}  # original id -> its replacement
        self.unmatched: list[UnmatchedEvent] = []
        self.stats = ExecutionStats()

    # -- wiring -------------------------------------------------------------------------------

    def set_risk(self, risk: PreTradeCheck) -> None:
        """Put a pre-trade check in front of every new order."""
        self._risk = risk

    def register_client(self, client: VenueClient) -> None:
        self._clients[client.venue] = client

    def add_instrument(self, instrument: Instrument) -> None:
        self._instruments[instrument.id] = instrument

    def instrument(self, instrument_id: InstrumentId) -> Instrument:
        found = self._instruments.get(instrument_id)
        if found is None:
            raise UnknownInstrumentError("instrument is not registered", instrument=str(instrument_id))
        return found

    # -- queries ------------------------------------------------------------------------------

    def order(self, client_order_id: ClientOrderId) -> Order | None:
        return self._orders.get(client_order_id)

    def orders(self) -> list[Order]:
        return list(self._orders.values())

    def open_orders(
        self, instrument_id: InstrumentId | None = None, strategy_id: StrategyId | None = None
    ) -> list[Order]:
        return [
            o
            for o in self._open.values()
            if (instrument_id is None or o.instrument_id == instrument_id)
            and (strategy_id is None or o.strategy_id == strategy_id)
        ]

    def account_id_for(self, venue: Venue) -> AccountId:
        return self._client_for(venue).account_id

    def adopt(self, order: Order, ts: int) -> None:
        """Take over an order found at the venue that we never sent (reconciliation).

        It is recorded as submitted; the caller then applies what the venue reported.
        """
        if order.client_order_id in self._orders:
            raise InvalidStateTransition("an order with this id is already known", order=str(order.client_order_id))
        self._orders[order.client_order_id] = order
        self._apply(order, OrderSubmitted(
            client_order_id=order.client_order_id,
            instrument_id=order.instrument_id,
            strategy_id=order.strategy_id,
            account_id=self.account_id_for(order.instrument_id.venue),
            ts_event=ts,
            ts_init=ts,
        ))
        self._open[order.client_order_id] = order

    def restore(self, order: Order) -> None:
        """Take back an order rebuilt from the store after a restart; nothing is published.

        Its events are history the journal already holds; reconciliation with the venue then
        brings it up to date like any other order.
        """
        if order.client_order_id in self._orders:
            raise InvalidStateTransition("an order with this id is already known", order=str(order.client_order_id))
        self._orders[order.client_order_id] = order
        if order.is_open:
            self._open[order.client_order_id] = order

    # -- commands -----------------------------------------------------------------------------

    def submit_order(self, order: Order) -> None:
        """Send a new order, or deny it with a reason; never raises for a bad order."""
        if order.client_order_id in self._orders:
            self._deny(order, "DUPLICATE_CLIENT_ORDER_ID", "client order id already used")
            return
        self._orders[order.client_order_id] = order
        client = self._clients.get(order.instrument_id.venue)
        if client is None:
            self._deny(order, "UNKNOWN_VENUE", f"no venue client for {order.instrument_id.venue}")
            return
        instrument = self._instruments.get(order.instrument_id)
        if instrument is None:
            self._deny(order, "UNKNOWN_INSTRUMENT", f"instrument {order.instrument_id} is not registered")
            return
        problem = instrument.check_order(order.side, order.quantity, order.price)
        if problem is None and order.trigger_price is not None:
            problem = instrument.check_order(order.side, order.quantity, order.trigger_price)
        if problem is not None:
            self._deny(order, problem.code, problem.reason)
            return
        risk = self._risk
        if risk is not None:
            denial = risk.check(order)
            if denial is not None:
                self._deny(order, denial.code, denial.reason, denial.details)
                return
        now = self._clock.timestamp_ns()
        self._apply(
            order,
            OrderSubmitted(
                client_order_id=order.client_order_id,
                instrument_id=order.instrument_id,
                strategy_id=order.strategy_id,
                account_id=client.account_id,
                ts_event=now,
                ts_init=now,
            ),
        )
        self._open[order.client_order_id] = order
        self.stats.submitted += 1
        if risk is not None:
            risk.on_submitted(order)
        client.submit_order(order)

    def cancel_order(self, order: Order) -> None:
        if not order.is_open:
            return
        self._client_for(order.instrument_id.venue).cancel_order(order)

    def cancel_all(self, instrument_id: InstrumentId | None = None, strategy_id: StrategyId | None = None) -> int:
        """Cancel every open order matching the filters; returns how many were asked."""
        targets = self.open_orders(instrument_id, strategy_id)
        for order in targets:
            self.cancel_order(order)
        return len(targets)

    def next_client_order_id(self, trader_id: TraderId, strategy_id: StrategyId) -> ClientOrderId:
        """Mint an id for ``strategy_id``; one generator per strategy, started at first use."""
        generator = self._id_generators.get(strategy_id)
        if generator is None:
            generator = ClientOrderIdGenerator(trader_id, strategy_id, self._clock.timestamp_ns())
            self._id_generators[strategy_id] = generator
            self._trader_ids[strategy_id] = trader_id
        return generator.next()

    def modify_order(
        self,
        order: Order,
        quantity: Quantity | None = None,
        price: Price | None = None,
        trigger_price: Price | None = None,
    ) -> Order:
        """Change a working order's quantity (new total) or prices.

        The new values are checked against the instrument's filters first; a change that breaks
        one is refused here with ``OrderModifyRejected`` and never reaches the venue. (Risk
        limits are not re-checked for an in-place amend; a cancel-replace goes through risk.)

        A venue that amends in place gets a modify command and the same order comes back. For a
        venue that cannot (``supports_amend`` false) the order is canceled and, once the cancel
        is confirmed, a replacement for the unfilled rest is submitted under a new client order
        id; the replacement is returned at once so the caller can follow it. If the original
        fills or the cancel is refused first, the replacement is denied (``REPLACE_ABORTED``).
        """
        if not order.is_open:
            return order
        client = self._client_for(order.instrument_id.venue)
        instrument = self._instruments.get(order.instrument_id)
        new_qty = order.quantity if quantity is None else quantity
        new_price = order.price if price is None else price
        problem = None if instrument is None else instrument.check_order(order.side, new_qty, new_price)
        if problem is not None:
            now = self._clock.timestamp_ns()
            self._apply(order, OrderModifyRejected(
                client_order_id=order.client_order_id,
                instrument_id=order.instrument_id,
                strategy_id=order.strategy_id,
                reason=f"{problem.code}: {problem.reason}",
                ts_event=now,
                ts_init=now,
            ))
            return order
        if client.supports_amend:
            client.modify_order(order, quantity, price, trigger_price)
            return order
        total = order.quantity if quantity is None else quantity
        rest = total.raw - order.filled_raw
        trader_id = self._trader_ids.get(order.strategy_id, TraderId("BOT4"))
        replacement = Order(
            client_order_id=self.next_client_order_id(trader_id, order.strategy_id),
            strategy_id=order.strategy_id,
            instrument_id=order.instrument_id,
            side=order.side,
            order_type=order.order_type,
            quantity=Quantity(max(rest, 0), total.precision),
            ts_init=self._clock.timestamp_ns(),
            price=order.price if price is None else price,
            trigger_price=order.trigger_price if trigger_price is None else trigger_price,
            time_in_force=order.time_in_force,
            expire_time_ns=order.expire_time_ns,
            post_only=order.post_only,
            reduce_only=order.reduce_only,
        ) if rest > 0 else None
        if replacement is None:
            client.cancel_order(order)  # the new total is already filled: just stop the rest
            return order
        self._replacements[order.client_order_id] = replacement
        client.cancel_order(order)
        return replacement

    # -- events -------------------------------------------------------------------------------

    def process(self, event: VenueEvent) -> None:
        """Apply one venue event; problems are kept and counted, never raised."""
        if isinstance(event, AccountState):
            self._bus.publish("events.account", event)
            return
        order = self._orders.get(event.client_order_id)
        if order is None:
            self.stats.unknown_order_events += 1
            self._unmatched(event, "no such order")
            return
        try:
            self._apply(order, event)
        except DuplicateFillError:
            self.stats.duplicate_fills += 1
            return
        except (InvalidStateTransition, ImpossibleFillError) as exc:
            self.stats.invalid_transitions += 1
            self._unmatched(event, exc.message)
            return
        if order.is_closed:
            self._open.pop(order.client_order_id, None)
        if self._replacements:
            self._follow_replacement(order, event)

    def _follow_replacement(self, order: Order, event: OrderEvent) -> None:
        replacement = self._replacements.get(order.client_order_id)
        if replacement is None:
            return
        if isinstance(event, OrderCanceled):
            del self._replacements[order.client_order_id]
            self.submit_order(replacement)
        elif order.is_closed or isinstance(event, OrderCancelRejected):
            del self._replacements[order.client_order_id]
            self._deny(replacement, "REPLACE_ABORTED",
                       f"order {order.client_order_id} ended as {order.status.value} before it was replaced")

    def _apply(self, order: Order, event: OrderEvent) -> None:
        order.apply(event)
        self.stats.events_applied += 1
        topic = self._order_topics.get(order.strategy_id)
        if topic is None:
            topic = self._order_topics[order.strategy_id] = f"events.order.{order.strategy_id}"
        if isinstance(event, OrderFilled):
            self._bus.publish("events.fills", event)
        self._bus.publish(topic, event)

    def _deny(self, order: Order, code: str, reason: str, details: dict[str, str] | None = None) -> None:
        now = self._clock.timestamp_ns()
        self._orders.setdefault(order.client_order_id, order)
        self.stats.denied += 1
        event = OrderDenied(
            client_order_id=order.client_order_id,
            instrument_id=order.instrument_id,
            strategy_id=order.strategy_id,
            code=code,
            reason=reason,
            details=details or {},
            ts_event=now,
            ts_init=now,
        )
        if order.status.is_terminal or order.would_transition(event) is None:
            # A reused client order id: the stored order keeps its state; report the denial.
            self._bus.publish(f"events.order.{order.strategy_id}", event)
            return
        self._apply(order, event)

    def _unmatched(self, event: OrderEvent, reason: str) -> None:
        item = UnmatchedEvent(event, reason)
        self.unmatched.append(item)
        self._bus.publish("events.unmatched", item)

    def _client_for(self, venue: Venue) -> VenueClient:
        client = self._clients.get(venue)
        if client is None:
            raise UnknownVenueError("no venue client registered", venue=str(venue))
        return client
