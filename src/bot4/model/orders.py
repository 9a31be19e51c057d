"""Orders and the one transition table that governs their status.

An order changes only through ``order.apply(event)``. The table below lists every allowed
``(status, event kind) -> status`` move; anything else raises :class:`InvalidStateTransition`.
A fill is classified as partial or full by comparing the filled quantity with the order's
quantity, so the table needs no special cases. Fills are also checked for being possible at
all: positive, not beyond the remaining quantity, and not a repeat of an applied trade id.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from bot4.core.errors import (
    DuplicateFillError,
    ImpossibleFillError,
    InvalidOrderError,
    InvalidStateTransition,
)
from bot4.core.ids import ClientOrderId, InstrumentId, StrategyId, TradeId, VenueOrderId
from bot4.core.numbers import FIXED_SCALAR, Currency, Money, Price, Quantity
from bot4.model.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from bot4.model.events import (
    OrderEvent,
    OrderEventKind,
    OrderFilled,
    OrderUpdated,
)

__all__ = ["TRANSITIONS", "Order"]

S = OrderStatus
K = OrderEventKind

TRANSITIONS: Final[dict[tuple[OrderStatus, OrderEventKind], OrderStatus]] = {
    # Not yet at the venue.
    (S.INITIALIZED, K.DENIED): S.DENIED,
    (S.INITIALIZED, K.SUBMITTED): S.SUBMITTED,
    (S.INITIALIZED, K.REJECTED): S.REJECTED,
    (S.INITIALIZED, K.CANCELED): S.CANCELED,
    # Sent, not yet acknowledged. Venues may report a fill or a cancel before the ack.
    (S.SUBMITTED, K.ACCEPTED): S.ACCEPTED,
    (S.SUBMITTED, K.REJECTED): S.REJECTED,
    (S.SUBMITTED, K.CANCELED): S.CANCELED,
    (S.SUBMITTED, K.EXPIRED): S.EXPIRED,
    (S.SUBMITTED, K.FILLED_PARTIAL): S.PARTIALLY_FILLED,
    (S.SUBMITTED, K.FILLED_FULL): S.FILLED,
    # Working at the venue.
    (S.ACCEPTED, K.TRIGGERED): S.TRIGGERED,
    (S.ACCEPTED, K.UPDATED): S.ACCEPTED,
    (S.ACCEPTED, K.CANCELED): S.CANCELED,
    (S.ACCEPTED, K.EXPIRED): S.EXPIRED,
    (S.ACCEPTED, K.FILLED_PARTIAL): S.PARTIALLY_FILLED,
    (S.ACCEPTED, K.FILLED_FULL): S.FILLED,
    (S.TRIGGERED, K.UPDATED): S.TRIGGERED,
    (S.TRIGGERED, K.REJECTED): S.REJECTED,
    (S.TRIGGERED, K.CANCELED): S.CANCELED,
    (S.TRIGGERED, K.EXPIRED): S.EXPIRED,
    (S.TRIGGERED, K.FILLED_PARTIAL): S.PARTIALLY_FILLED,
    (S.TRIGGERED, K.FILLED_FULL): S.FILLED,
    (S.PARTIALLY_FILLED, K.UPDATED): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, K.CANCELED): S.CANCELED,
    (S.PARTIALLY_FILLED, K.EXPIRED): S.EXPIRED,
    (S.PARTIALLY_FILLED, K.FILLED_PARTIAL): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, K.FILLED_FULL): S.FILLED,
    # A refused cancel or modify leaves a working order as it was.
    **{(status, kind): status for status in (S.SUBMITTED, S.ACCEPTED, S.TRIGGERED, S.PARTIALLY_FILLED)
       for kind in (K.CANCEL_REJECTED, K.MODIFY_REJECTED)},
    # DENIED, REJECTED, FILLED, CANCELED and EXPIRED are terminal: nothing leaves them.
}


class Order:
    """One order and its life so far.

    Build it with the class methods (``Order.market``, ``Order.limit``, ...), which check the
    rules of each order type; the instrument's filters are checked separately by risk and the
    venue, so an order can exist (and be denied with a reason) even when it breaks them.
    """

    __slots__ = (
        "_notional",
        "_trade_ids",
        "client_order_id",
        "commissions",
        "events",
        "expire_time_ns",
        "filled_raw",
        "instrument_id",
        "order_type",
        "post_only",
        "price",
        "quantity",
        "reduce_only",
        "side",
        "status",
        "strategy_id",
        "time_in_force",
        "trigger_price",
        "ts_init",
        "ts_last",
        "venue_order_id",
    )

    def __init__(
        self,
        *,
        client_order_id: ClientOrderId,
        strategy_id: StrategyId,
        instrument_id: InstrumentId,
        side: OrderSide,
        order_type: OrderType,
        quantity: Quantity,
        ts_init: int,
        price: Price | None = None,
        trigger_price: Price | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        expire_time_ns: int | None = None,
        post_only: bool = False,
        reduce_only: bool = False,
    ) -> None:
        _check_shape(client_order_id, order_type, quantity, price, trigger_price, time_in_force, expire_time_ns, post_only)
        self.client_order_id = client_order_id
        self.strategy_id = strategy_id
        self.instrument_id = instrument_id
        self.side = side
        self.order_type = order_type
        self.quantity = quantity
        self.price = price
        self.trigger_price = trigger_price
        self.time_in_force = time_in_force
        self.expire_time_ns = expire_time_ns
        self.post_only = post_only
        self.reduce_only = reduce_only
        self.ts_init = ts_init
        self.ts_last = ts_init
        self.status = OrderStatus.INITIALIZED
        self.venue_order_id: VenueOrderId | None = None
        self.filled_raw = 0
        self._notional = 0  # sum of price.raw * qty.raw over fills (scale 1e18), exact
        self._trade_ids: set[TradeId] = set()
        self.commissions: dict[Currency, Money] = {}
        self.events: list[OrderEvent] = []

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def market(
        cls,
        *,
        client_order_id: ClientOrderId,
        strategy_id: StrategyId,
        instrument_id: InstrumentId,
        side: OrderSide,
        quantity: Quantity,
        ts_init: int,
        time_in_force: TimeInForce = TimeInForce.IOC,
        reduce_only: bool = False,
    ) -> Order:
        """A market order; what the book cannot fill expires (it never rests)."""
        return cls(
            client_order_id=client_order_id,
            strategy_id=strategy_id,
            instrument_id=instrument_id,
            side=side,
            order_type=OrderType.MARKET,
            quantity=quantity,
            ts_init=ts_init,
            time_in_force=time_in_force,
            reduce_only=reduce_only,
        )

    @classmethod
    def limit(
        cls,
        *,
        client_order_id: ClientOrderId,
        strategy_id: StrategyId,
        instrument_id: InstrumentId,
        side: OrderSide,
        quantity: Quantity,
        price: Price,
        ts_init: int,
        time_in_force: TimeInForce = TimeInForce.GTC,
        expire_time_ns: int | None = None,
        post_only: bool = False,
        reduce_only: bool = False,
    ) -> Order:
        return cls(
            client_order_id=client_order_id,
            strategy_id=strategy_id,
            instrument_id=instrument_id,
            side=side,
            order_type=OrderType.LIMIT,
            quantity=quantity,
            price=price,
            ts_init=ts_init,
            time_in_force=time_in_force,
            expire_time_ns=expire_time_ns,
            post_only=post_only,
            reduce_only=reduce_only,
        )

    @classmethod
    def stop_market(
        cls,
        *,
        client_order_id: ClientOrderId,
        strategy_id: StrategyId,
        instrument_id: InstrumentId,
        side: OrderSide,
        quantity: Quantity,
        trigger_price: Price,
        ts_init: int,
        time_in_force: TimeInForce = TimeInForce.GTC,
        expire_time_ns: int | None = None,
        reduce_only: bool = False,
    ) -> Order:
        """Becomes a market order when the last price reaches ``trigger_price``."""
        return cls(
            client_order_id=client_order_id,
            strategy_id=strategy_id,
            instrument_id=instrument_id,
            side=side,
            order_type=OrderType.STOP_MARKET,
            quantity=quantity,
            trigger_price=trigger_price,
            ts_init=ts_init,
            time_in_force=time_in_force,
            expire_time_ns=expire_time_ns,
            reduce_only=reduce_only,
        )

    @classmethod
    def stop_limit(
        cls,
        *,
        client_order_id: ClientOrderId,
        strategy_id: StrategyId,
        instrument_id: InstrumentId,
        side: OrderSide,
        quantity: Quantity,
        price: Price,
        trigger_price: Price,
        ts_init: int,
        time_in_force: TimeInForce = TimeInForce.GTC,
        expire_time_ns: int | None = None,
        post_only: bool = False,
        reduce_only: bool = False,
    ) -> Order:
        """Becomes a limit order at ``price`` when the last price reaches ``trigger_price``."""
        return cls(
            client_order_id=client_order_id,
            strategy_id=strategy_id,
            instrument_id=instrument_id,
            side=side,
            order_type=OrderType.STOP_LIMIT,
            quantity=quantity,
            price=price,
            trigger_price=trigger_price,
            ts_init=ts_init,
            time_in_force=time_in_force,
            expire_time_ns=expire_time_ns,
            post_only=post_only,
            reduce_only=reduce_only,
        )

    # -- state --------------------------------------------------------------------------------

    @property
    def filled_qty(self) -> Quantity:
        return Quantity(self.filled_raw, self.quantity.precision)

    @property
    def leaves_raw(self) -> int:
        return self.quantity.raw - self.filled_raw

    @property
    def leaves_qty(self) -> Quantity:
        return Quantity(self.leaves_raw, self.quantity.precision)

    @property
    def avg_px(self) -> Decimal | None:
        """Exact volume-weighted fill price, or None before the first fill."""
        if self.filled_raw == 0:
            return None
        return Decimal(self._notional) / Decimal(self.filled_raw) / FIXED_SCALAR

    @property
    def is_open(self) -> bool:
        return self.status.is_open

    @property
    def is_closed(self) -> bool:
        return self.status.is_terminal

    @property
    def is_buy(self) -> bool:
        return self.side is OrderSide.BUY

    @property
    def last_event(self) -> OrderEvent | None:
        return self.events[-1] if self.events else None

    def would_transition(self, event: OrderEvent) -> OrderStatus | None:
        """The status ``event`` would lead to, or None if the table forbids it."""
        return TRANSITIONS.get((self.status, self._kind_of(event)))

    def apply(self, event: OrderEvent) -> None:
        """Apply one event, or raise without changing anything.

        Raises :class:`InvalidStateTransition` for a move the table forbids,
        :class:`DuplicateFillError` for a trade id already applied and
        :class:`ImpossibleFillError` for a fill that cannot belong to this order.
        """
        if event.client_order_id != self.client_order_id:
            raise ImpossibleFillError(
                "event is for another order",
                order=str(self.client_order_id),
                event_order=str(event.client_order_id),
            )
        if isinstance(event, OrderFilled) and event.trade_id in self._trade_ids:
            raise DuplicateFillError(
                "trade already applied to this order",
                order=str(self.client_order_id),
                trade_id=str(event.trade_id),
            )
        kind = self._kind_of(event)
        new_status = TRANSITIONS.get((self.status, kind))
        if new_status is None:
            raise InvalidStateTransition(
                f"order cannot go from {self.status.value} on {type(event).__name__}",
                order=str(self.client_order_id),
                status=self.status.value,
                event=kind.value,
            )
        if isinstance(event, OrderFilled):
            self._check_fill(event)
        elif isinstance(event, OrderUpdated) and event.quantity.raw < self.filled_raw:
            raise InvalidStateTransition(
                "update would leave the quantity below what has filled",
                order=str(self.client_order_id),
                quantity=str(event.quantity),
                filled_qty=str(self.filled_qty),
            )
        if isinstance(event, OrderFilled):
            self._fill(event)
        elif isinstance(event, OrderUpdated):
            self.quantity = event.quantity
            if event.price is not None:
                self.price = event.price
            if event.trigger_price is not None:
                self.trigger_price = event.trigger_price
        venue_order_id = getattr(event, "venue_order_id", None)
        if venue_order_id is not None:
            self.venue_order_id = venue_order_id
        self.status = new_status
        self.ts_last = event.ts_event
        self.events.append(event)

    def has_trade(self, trade_id: TradeId) -> bool:
        return trade_id in self._trade_ids

    def __repr__(self) -> str:
        px = f" @ {self.price}" if self.price is not None else ""
        trig = f" trigger {self.trigger_price}" if self.trigger_price is not None else ""
        return (
            f"Order({self.client_order_id} {self.side.name} {self.quantity} {self.instrument_id} "
            f"{self.order_type.value}{px}{trig} {self.time_in_force.value} {self.status.value}"
            f" filled={self.filled_qty})"
        )

    def _kind_of(self, event: OrderEvent) -> OrderEventKind:
        if isinstance(event, OrderFilled):
            if self.filled_raw + event.last_qty.raw >= self.quantity.raw:
                return OrderEventKind.FILLED_FULL
            return OrderEventKind.FILLED_PARTIAL
        return event.kind

    def _check_fill(self, fill: OrderFilled) -> None:
        if fill.last_qty.raw <= 0:
            raise ImpossibleFillError(
                "fill quantity must be positive", order=str(self.client_order_id), last_qty=str(fill.last_qty)
            )
        if fill.last_qty.raw > self.leaves_raw:
            raise ImpossibleFillError(
                "fill exceeds the order's remaining quantity",
                order=str(self.client_order_id),
                last_qty=str(fill.last_qty),
                leaves_qty=str(self.leaves_qty),
            )
        if fill.instrument_id != self.instrument_id or fill.order_side is not self.side:
            raise ImpossibleFillError(
                "fill instrument or side differs from the order",
                order=str(self.client_order_id),
                fill_instrument=str(fill.instrument_id),
                fill_side=fill.order_side.name,
            )
        if fill.last_px.raw <= 0:
            raise ImpossibleFillError(
                "fill price must be positive", order=str(self.client_order_id), last_px=str(fill.last_px)
            )

    def _fill(self, fill: OrderFilled) -> None:
        self.filled_raw += fill.last_qty.raw
        self._notional += fill.last_px.raw * fill.last_qty.raw
        self._trade_ids.add(fill.trade_id)
        currency = fill.commission.currency
        previous = self.commissions.get(currency)
        self.commissions[currency] = fill.commission if previous is None else previous + fill.commission


def _check_shape(
    client_order_id: ClientOrderId,
    order_type: OrderType,
    quantity: Quantity,
    price: Price | None,
    trigger_price: Price | None,
    time_in_force: TimeInForce,
    expire_time_ns: int | None,
    post_only: bool,
) -> None:
    def bad(reason: str, **context: object) -> InvalidOrderError:
        return InvalidOrderError(reason, order=str(client_order_id), order_type=order_type.value, **context)

    if quantity.raw <= 0:
        raise bad("quantity must be positive", quantity=str(quantity))
    needs_price = order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
    needs_trigger = order_type in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT)
    if needs_price and price is None:
        raise bad("this order type needs a price")
    if not needs_price and price is not None:
        raise bad("this order type takes no price", price=str(price))
    if price is not None and price.raw <= 0:
        raise bad("price must be positive", price=str(price))
    if needs_trigger and trigger_price is None:
        raise bad("this order type needs a trigger price")
    if not needs_trigger and trigger_price is not None:
        raise bad("this order type takes no trigger price", trigger_price=str(trigger_price))
    if trigger_price is not None and trigger_price.raw <= 0:
        raise bad("trigger price must be positive", trigger_price=str(trigger_price))
    if time_in_force is TimeInForce.GTD and expire_time_ns is None:
        raise bad("GTD needs an expire time")
    if time_in_force is not TimeInForce.GTD and expire_time_ns is not None:
        raise bad("only GTD orders take an expire time", time_in_force=time_in_force.value)
    if post_only and not needs_price:
        raise bad("only limit orders can be post-only")
    if post_only and time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
        raise bad("a post-only order cannot be IOC or FOK", time_in_force=time_in_force.value)
    if order_type is OrderType.MARKET and time_in_force is TimeInForce.GTD:
        raise bad("a market order cannot be GTD")

