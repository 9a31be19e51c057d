"""Ports the execution side defines and venue adapters implement.

An engine never imports an adapter. A venue adapter (the simulated venue, Binance, ccxt)
implements :class:`VenueClient` and reports what happens through the :data:`EventSink` it
was given: order events, account states and anything else the venue tells us.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import msgspec

from bot4.core.ids import AccountId, Venue
from bot4.core.numbers import Price, Quantity
from bot4.model.account import AccountState
from bot4.model.events import OrderEvent
from bot4.model.orders import Order

__all__ = ["Denial", "EventSink", "PreTradeCheck", "VenueClient", "VenueEvent"]

VenueEvent = OrderEvent | AccountState
EventSink = Callable[[VenueEvent], None]


class VenueClient(Protocol):
    """Sends order commands to one venue. Methods return at once; results come as events.

    The order passed in is read, never modified: the venue keeps its own view of it and
    reports changes as events, which the execution engine applies to the order.
    """

    @property
    def venue(self) -> Venue: ...

    @property
    def account_id(self) -> AccountId: ...

    @property
    def supports_amend(self) -> bool:
        """True when the venue changes a working order in place; else Bot4 cancels and replaces."""
        ...

    def submit_order(self, order: Order) -> None: ...

    def cancel_order(self, order: Order) -> None: ...

    def modify_order(
        self,
        order: Order,
        quantity: Quantity | None = None,
        price: Price | None = None,
        trigger_price: Price | None = None,
    ) -> None: ...


class Denial(msgspec.Struct, frozen=True, gc=False):
    """Why a pre-trade check refused an order: a stable code, a sentence, and the numbers."""

    code: str
    reason: str
    details: dict[str, str] = msgspec.field(default_factory=dict)


class PreTradeCheck(Protocol):
    """The risk engine as the execution engine sees it: every new order passes ``check``.

    ``check`` returns None to let the order go or a :class:`Denial`; it never raises for a bad
    order. ``on_submitted`` is called after an order passed and was handed to its venue, so
    throttles and counters see only what really left.
    """

    def check(self, order: Order) -> Denial | None: ...

    def on_submitted(self, order: Order) -> None: ...
