"""The simulated venue's own record of an order, and the venue's rejection texts.

The venue never touches the caller's :class:`~bot4.model.orders.Order`: it copies what it
needs when the command is sent (:meth:`SimOrder.from_order`) and reports every change as an
event. Rejection reasons mirror Binance's spot error texts, so a strategy sees the same
``reason`` from the simulated venue as from the real adapter; ``code`` is a stable token a
program can branch on.
"""

from __future__ import annotations

from typing import Final

from bot4.core.ids import ClientOrderId, InstrumentId, StrategyId, VenueOrderId
from bot4.core.numbers import Currency, Price, Quantity
from bot4.model.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from bot4.model.instrument import OrderCheck
from bot4.model.orders import Order

__all__ = ["Reject", "SimOrder", "filter_rejection"]


class Reject:
    """Codes and Binance-like reasons of the venue's refusals."""

    UNKNOWN_INSTRUMENT: Final = ("UNKNOWN_INSTRUMENT", "Invalid symbol.")
    DUPLICATE_ORDER: Final = ("DUPLICATE_ORDER", "Duplicate order sent.")
    NO_MARKET_DATA: Final = ("NO_MARKET_DATA", "no market data for instrument")
    INSUFFICIENT_BALANCE: Final = (
        "INSUFFICIENT_BALANCE",
        "Account has insufficient balance for requested action.",
    )
    POST_ONLY_WOULD_TAKE: Final = ("POST_ONLY_WOULD_TAKE", "Order would immediately match and take.")
    STOP_WOULD_TRIGGER: Final = ("STOP_WOULD_TRIGGER_IMMEDIATELY", "Order would trigger immediately.")
    REDUCE_ONLY_WOULD_INCREASE: Final = (
        "REDUCE_ONLY_WOULD_INCREASE",
        "Reduce-only order would open or increase a position.",
    )
    UNKNOWN_ORDER: Final = "Unknown order sent."


# Instrument check codes -> the Binance filter that refuses such an order.
_FILTER_OF_CHECK: Final[dict[str, str]] = {
    "QTY_NOT_POSITIVE": "LOT_SIZE",
    "QTY_OFF_STEP": "LOT_SIZE",
    "QTY_BELOW_MIN": "LOT_SIZE",
    "QTY_ABOVE_MAX": "LOT_SIZE",
    "PRICE_NOT_POSITIVE": "PRICE_FILTER",
    "PRICE_OFF_TICK": "PRICE_FILTER",
    "PRICE_BELOW_MIN": "PRICE_FILTER",
    "PRICE_ABOVE_MAX": "PRICE_FILTER",
    "NOTIONAL_BELOW_MIN": "NOTIONAL",
}


def filter_rejection(check: OrderCheck) -> tuple[str, str]:
    """``(code, reason)`` for a failed instrument check, as Binance words it.

    The code is the Binance filter name (``PRICE_FILTER``, ``LOT_SIZE``, ``NOTIONAL``) and the
    reason its exact text (``Filter failure: LOT_SIZE``); an unknown check keeps its own code.
    """
    name = _FILTER_OF_CHECK.get(check.code)
    if name is None:
        return check.code, check.reason
    return name, f"Filter failure: {name}"


class SimOrder:
    """What the venue knows about one order: its terms, fills, lock and queue position.

    Prices and quantities are raw ints (1e-9 units). ``lock_raw`` is the amount of
    ``lock_currency`` set aside for it; ``queue_ahead_raw`` is the visible size ahead of it at
    its price; ``priority`` orders it within its price level (lower is earlier);
    ``rested_at`` is the matching engine's data counter when it started resting, so a trade
    can only fill orders that were resting before it printed.
    """

    __slots__ = (
        "client_order_id",
        "expire_time_ns",
        "filled_raw",
        "instrument_id",
        "lock_currency",
        "lock_raw",
        "order_type",
        "post_only",
        "price_raw",
        "priority",
        "quantity_raw",
        "queue_ahead_raw",
        "reduce_only",
        "rested_at",
        "side",
        "status",
        "strategy_id",
        "time_in_force",
        "trigger_raw",
        "triggered",
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
        quantity_raw: int,
        price_raw: int | None = None,
        trigger_raw: int | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        expire_time_ns: int | None = None,
        post_only: bool = False,
        reduce_only: bool = False,
    ) -> None:
        self.client_order_id = client_order_id
        self.strategy_id = strategy_id
        self.instrument_id = instrument_id
        self.side = side
        self.order_type = order_type
        self.quantity_raw = quantity_raw
        self.price_raw = price_raw
        self.trigger_raw = trigger_raw
        self.time_in_force = time_in_force
        self.expire_time_ns = expire_time_ns
        self.post_only = post_only
        self.reduce_only = reduce_only
        self.venue_order_id: VenueOrderId | None = None
        self.status = OrderStatus.SUBMITTED
        self.filled_raw = 0
        self.lock_currency: Currency | None = None
        self.lock_raw = 0
        self.queue_ahead_raw = 0
        self.priority = 0
        self.rested_at = 0
        self.triggered = False

    @classmethod
    def from_order(cls, order: Order) -> SimOrder:
        """Copy the terms of ``order`` as they are now (later changes to it are not seen)."""
        return cls(
            client_order_id=order.client_order_id,
            strategy_id=order.strategy_id,
            instrument_id=order.instrument_id,
            side=order.side,
            order_type=order.order_type,
            quantity_raw=order.quantity.raw,
            price_raw=None if order.price is None else order.price.raw,
            trigger_raw=None if order.trigger_price is None else order.trigger_price.raw,
            time_in_force=order.time_in_force,
            expire_time_ns=order.expire_time_ns,
            post_only=order.post_only,
            reduce_only=order.reduce_only,
        )

    @property
    def leaves_raw(self) -> int:
        return self.quantity_raw - self.filled_raw

    @property
    def is_open(self) -> bool:
        return self.status.is_open

    @property
    def is_stop(self) -> bool:
        return self.order_type in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT)

    @property
    def is_pending_stop(self) -> bool:
        """A stop order still waiting for its trigger."""
        return self.is_stop and not self.triggered

    def quantity(self, precision: int) -> Quantity:
        return Quantity(self.quantity_raw, precision)

    def price(self, precision: int) -> Price | None:
        return None if self.price_raw is None else Price(self.price_raw, precision)

    def trigger_price(self, precision: int) -> Price | None:
        return None if self.trigger_raw is None else Price(self.trigger_raw, precision)

    def __repr__(self) -> str:
        return (
            f"SimOrder({self.client_order_id} {self.venue_order_id} {self.side.name} "
            f"{self.order_type.value} qty={self.quantity_raw} px={self.price_raw} "
            f"trigger={self.trigger_raw} filled={self.filled_raw} {self.status.value})"
        )
