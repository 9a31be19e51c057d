"""Order events: immutable facts, named in the past tense, that move an order's state.

Every event names its order by ``client_order_id`` and carries ``ts_event`` (when it happened
at the venue or in risk) and ``ts_init`` (when we built the event). ``Order.apply`` is the only
consumer allowed to change state from them.
"""

from __future__ import annotations

from enum import Enum
from typing import ClassVar

import msgspec

from bot4.core.ids import AccountId, ClientOrderId, InstrumentId, StrategyId, TradeId, VenueOrderId
from bot4.core.numbers import Money, Price, Quantity
from bot4.model.enums import LiquiditySide, OrderSide

__all__ = [
    "OrderAccepted",
    "OrderCancelRejected",
    "OrderCanceled",
    "OrderDenied",
    "OrderEvent",
    "OrderEventKind",
    "OrderExpired",
    "OrderFilled",
    "OrderModifyRejected",
    "OrderRejected",
    "OrderSubmitted",
    "OrderTriggered",
    "OrderUpdated",
]


class OrderEventKind(Enum):
    """What the transition table keys on; a fill is partial or full depending on the order."""

    DENIED = "DENIED"
    SUBMITTED = "SUBMITTED"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    TRIGGERED = "TRIGGERED"
    UPDATED = "UPDATED"
    FILLED_PARTIAL = "FILLED_PARTIAL"
    FILLED_FULL = "FILLED_FULL"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    CANCEL_REJECTED = "CANCEL_REJECTED"
    MODIFY_REJECTED = "MODIFY_REJECTED"


class OrderEvent(msgspec.Struct, frozen=True, gc=False, kw_only=True, tag=True):
    kind: ClassVar[OrderEventKind]

    client_order_id: ClientOrderId
    instrument_id: InstrumentId
    strategy_id: StrategyId
    ts_event: int
    ts_init: int


class OrderDenied(OrderEvent, frozen=True, gc=False, kw_only=True, tag=True):
    """Refused before it left: by risk or by the instrument's filters. ``code`` is stable."""

    kind: ClassVar[OrderEventKind] = OrderEventKind.DENIED
    code: str
    reason: str
    details: dict[str, str] = msgspec.field(default_factory=dict)  # the numbers that caused it


class OrderSubmitted(OrderEvent, frozen=True, gc=False, kw_only=True, tag=True):
    """Handed to the venue client."""

    kind: ClassVar[OrderEventKind] = OrderEventKind.SUBMITTED
    account_id: AccountId


class OrderAccepted(OrderEvent, frozen=True, gc=False, kw_only=True, tag=True):
    """Acknowledged by the venue, which gave it an id."""

    kind: ClassVar[OrderEventKind] = OrderEventKind.ACCEPTED
    venue_order_id: VenueOrderId


class OrderRejected(OrderEvent, frozen=True, gc=False, kw_only=True, tag=True):
    """Refused by the venue, with the venue's reason."""

    kind: ClassVar[OrderEventKind] = OrderEventKind.REJECTED
    code: str
    reason: str


class OrderTriggered(OrderEvent, frozen=True, gc=False, kw_only=True, tag=True):
    """A stop order's trigger price was reached."""

    kind: ClassVar[OrderEventKind] = OrderEventKind.TRIGGERED
    venue_order_id: VenueOrderId | None = None


class OrderUpdated(OrderEvent, frozen=True, gc=False, kw_only=True, tag=True):
    """The venue accepted new quantity or prices for a working order."""

    kind: ClassVar[OrderEventKind] = OrderEventKind.UPDATED
    quantity: Quantity
    price: Price | None = None
    trigger_price: Price | None = None
    venue_order_id: VenueOrderId | None = None


class OrderFilled(OrderEvent, frozen=True, gc=False, kw_only=True, tag=True):
    """Part or all of the order traded. ``trade_id`` is unique per fill at the venue."""

    kind: ClassVar[OrderEventKind] = OrderEventKind.FILLED_PARTIAL
    venue_order_id: VenueOrderId
    trade_id: TradeId
    order_side: OrderSide
    last_qty: Quantity
    last_px: Price
    commission: Money
    liquidity_side: LiquiditySide


class OrderCanceled(OrderEvent, frozen=True, gc=False, kw_only=True, tag=True):
    """No longer working; whatever filled before stays filled."""

    kind: ClassVar[OrderEventKind] = OrderEventKind.CANCELED
    venue_order_id: VenueOrderId | None = None
    reason: str = ""


class OrderExpired(OrderEvent, frozen=True, gc=False, kw_only=True, tag=True):
    """Ended by its time in force (GTD time, or IOC/market remainder with no liquidity)."""

    kind: ClassVar[OrderEventKind] = OrderEventKind.EXPIRED
    venue_order_id: VenueOrderId | None = None


class OrderCancelRejected(OrderEvent, frozen=True, gc=False, kw_only=True, tag=True):
    """The venue refused to cancel (often: the order already finished). Status is unchanged."""

    kind: ClassVar[OrderEventKind] = OrderEventKind.CANCEL_REJECTED
    reason: str


class OrderModifyRejected(OrderEvent, frozen=True, gc=False, kw_only=True, tag=True):
    """The venue refused a modification. Status is unchanged."""

    kind: ClassVar[OrderEventKind] = OrderEventKind.MODIFY_REJECTED
    reason: str
