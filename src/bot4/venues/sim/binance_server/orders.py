"""What the local exchange remembers about each order and fill, in Binance's terms.

The simulated venue matches and settles; an :class:`OrderRecord` keeps what Binance reports
about the order (its int ``orderId``, ``clientOrderId``, status, executed and quote amounts,
times and fills). Records change only in :mod:`.state`, from the simulated venue's events.
"""

from __future__ import annotations

from enum import Enum

import msgspec

from bot4.model.enums import OrderSide
from bot4.model.instrument import Instrument
from bot4.model.orders import Order

__all__ = [
    "ExecutionType",
    "FillRecord",
    "OrderRecord",
    "OrderStatus",
    "OrderType",
    "ResponseType",
    "TimeInForce",
]


class OrderType(Enum):
    """The spot order types the exchange accepts (``exchangeInfo`` lists them)."""

    LIMIT = "LIMIT"
    MARKET = "MARKET"
    LIMIT_MAKER = "LIMIT_MAKER"
    STOP_LOSS = "STOP_LOSS"
    STOP_LOSS_LIMIT = "STOP_LOSS_LIMIT"

    @property
    def has_price(self) -> bool:
        return self in (OrderType.LIMIT, OrderType.LIMIT_MAKER, OrderType.STOP_LOSS_LIMIT)

    @property
    def has_stop(self) -> bool:
        return self in (OrderType.STOP_LOSS, OrderType.STOP_LOSS_LIMIT)

    @property
    def has_time_in_force(self) -> bool:
        return self in (OrderType.LIMIT, OrderType.STOP_LOSS_LIMIT)


class TimeInForce(Enum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


class OrderStatus(Enum):
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"

    @property
    def is_open(self) -> bool:
        return self in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


class ExecutionType(Enum):
    """``x`` of an ``executionReport``."""

    NEW = "NEW"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    TRADE = "TRADE"
    EXPIRED = "EXPIRED"


class ResponseType(Enum):
    """``newOrderRespType``: how much a new-order answer says."""

    ACK = "ACK"
    RESULT = "RESULT"
    FULL = "FULL"


class FillRecord(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """One fill of one of our orders (``myTrades`` row, ``fills`` entry, ``TRADE`` report)."""

    trade_id: int
    order_id: int
    symbol: str
    side: OrderSide
    price_raw: int
    qty_raw: int
    quote_raw: int
    commission_raw: int
    commission_asset: str
    time_ms: int
    is_maker: bool


class OrderRecord:
    """One order as Binance reports it. ``order`` is the Bot4 order handed to the venue."""

    __slots__ = (
        "accepted",
        "cancel_client_order_id",
        "client_order_id",
        "cum_quote_raw",
        "executed_raw",
        "fills",
        "instrument",
        "is_working",
        "order",
        "order_id",
        "order_type",
        "price_raw",
        "qty_raw",
        "quote_qty_raw",
        "reject",
        "side",
        "status",
        "stop_raw",
        "symbol",
        "time_in_force",
        "time_ms",
        "update_time_ms",
        "working_time_ms",
    )

    def __init__(
        self,
        *,
        order_id: int,
        instrument: Instrument,
        client_order_id: str,
        side: OrderSide,
        order_type: OrderType,
        time_in_force: TimeInForce | None,
        qty_raw: int,
        price_raw: int,
        stop_raw: int,
        quote_qty_raw: int,
        time_ms: int,
        order: Order,
    ) -> None:
        self.order_id = order_id
        self.instrument = instrument
        self.symbol = instrument.id.symbol.value
        self.client_order_id = client_order_id
        self.side = side
        self.order_type = order_type
        self.time_in_force = time_in_force
        self.qty_raw = qty_raw
        self.price_raw = price_raw
        self.stop_raw = stop_raw
        self.quote_qty_raw = quote_qty_raw
        self.time_ms = time_ms
        self.update_time_ms = time_ms
        self.working_time_ms = -1
        self.order = order
        self.status = OrderStatus.NEW
        self.accepted = False
        self.is_working = False
        self.executed_raw = 0
        self.cum_quote_raw = 0
        self.fills: list[FillRecord] = []
        self.reject: tuple[str, str] | None = None  # the venue's (code, reason) refusal
        self.cancel_client_order_id: str | None = None

    @property
    def is_open(self) -> bool:
        return self.accepted and self.status.is_open

    def __repr__(self) -> str:
        return (
            f"OrderRecord({self.order_id} {self.client_order_id!r} {self.symbol} {self.side.name} "
            f"{self.order_type.value} {self.status.value} executed={self.executed_raw}/{self.qty_raw})"
        )
