"""Enumerations of the trading domain; never a bare string constant."""

from __future__ import annotations

from enum import Enum, IntEnum

__all__ = [
    "AccountType",
    "AggressorSide",
    "BarAggregation",
    "BookAction",
    "LiquiditySide",
    "OrderSide",
    "OrderStatus",
    "OrderType",
    "PositionSide",
    "TimeInForce",
]


class OrderSide(IntEnum):
    BUY = 1
    SELL = 2

    @property
    def opposite(self) -> OrderSide:
        return OrderSide.SELL if self is OrderSide.BUY else OrderSide.BUY

    @property
    def sign(self) -> int:
        """+1 for buys, -1 for sells: the direction a fill moves a position."""
        return 1 if self is OrderSide.BUY else -1


class AggressorSide(IntEnum):
    """Which side took liquidity in a public trade."""

    NO_AGGRESSOR = 0
    BUYER = 1
    SELLER = 2


class BookAction(IntEnum):
    ADD = 1
    UPDATE = 2
    DELETE = 3
    CLEAR = 4


class OrderType(Enum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOP_MARKET = "STOP_MARKET"
    STOP_LIMIT = "STOP_LIMIT"


class TimeInForce(Enum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"
    GTD = "GTD"


class OrderStatus(Enum):
    INITIALIZED = "INITIALIZED"
    DENIED = "DENIED"
    SUBMITTED = "SUBMITTED"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    TRIGGERED = "TRIGGERED"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    @property
    def is_open(self) -> bool:
        """Working at the venue: can still fill or be canceled."""
        return self in _OPEN


_TERMINAL = frozenset(
    {OrderStatus.DENIED, OrderStatus.REJECTED, OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.EXPIRED}
)
_OPEN = frozenset(
    {OrderStatus.SUBMITTED, OrderStatus.ACCEPTED, OrderStatus.TRIGGERED, OrderStatus.PARTIALLY_FILLED}
)


class LiquiditySide(Enum):
    MAKER = "MAKER"
    TAKER = "TAKER"


class PositionSide(Enum):
    FLAT = "FLAT"
    LONG = "LONG"
    SHORT = "SHORT"


class AccountType(Enum):
    """CASH spends only what it holds (spot); MARGIN may borrow, up to a leverage limit."""

    CASH = "CASH"
    MARGIN = "MARGIN"


class BarAggregation(Enum):
    SECOND = "SECOND"
    MINUTE = "MINUTE"
    HOUR = "HOUR"
    DAY = "DAY"
