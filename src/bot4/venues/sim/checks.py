"""What the simulated venue checks before it accepts or modifies an order.

The checks run in this order and the first failure is the answer (``Reject`` codes and
Binance-like reasons from :mod:`.orders`):

1. a market order for an instrument without any market data yet: ``NO_MARKET_DATA``;
2. the instrument's filters (``Instrument.check_order``) on the quantity and the limit price;
   a market order checks the notional at the best opposite price (else the last price), a
   stop-market at its trigger price, and a stop-limit checks its trigger price as well:
   ``PRICE_FILTER`` / ``LOT_SIZE`` / ``NOTIONAL`` with ``Filter failure: ...`` reasons;
3. a stop whose trigger is already reached: ``STOP_WOULD_TRIGGER_IMMEDIATELY``;
4. a reduce-only order that would open or increase the venue-side position;
5. a post-only limit that would take liquidity: ``POST_ONLY_WOULD_TAKE``;
6. funds, ``INSUFFICIENT_BALANCE``: CASH needs the order's lock free (a buy limit or
   stop-limit locks quote for its notional plus fees, any sell locks its base quantity) and a
   market buy needs the cost of the fills the book would give it (notional plus taker fee);
   a stop-market buy has nothing to lock and is checked when it triggers. MARGIN checks
   exposure instead (see :mod:`.ledger`): the base total plus this order plus the other
   working orders on the same side, at the order's expected price (limit price, trigger
   price, or the walked average for market orders).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from bot4.core.numbers import Currency, Price, Quantity
from bot4.model.enums import OrderSide, OrderType
from bot4.venues.sim.accounting import buy_lock_raw, commission_raw, settled_notional_raw
from bot4.venues.sim.ledger import SimLedger
from bot4.venues.sim.orders import Reject, SimOrder, filter_rejection

if TYPE_CHECKING:
    from bot4.venues.sim.matching import MarksProvider, MatchingEngine

__all__ = ["OrderChecks"]


class OrderChecks:
    """Pre-trade checks and lock sizes for one matching engine's orders."""

    __slots__ = ("_engine", "_inst", "_ledger", "_lock_rate", "_marks", "_taker_rate")

    def __init__(
        self,
        engine: MatchingEngine,
        ledger: SimLedger,
        marks: MarksProvider,
        taker_rate: Decimal,
        lock_rate: Decimal,
    ) -> None:
        self._engine = engine
        self._inst = engine.instrument
        self._ledger = ledger
        self._marks = marks
        self._taker_rate = taker_rate
        self._lock_rate = lock_rate

    def check_new(self, order: SimOrder) -> tuple[str, str] | None:
        """``(code, reason)`` refusing a new order, or None to accept it."""
        engine, inst = self._engine, self._inst
        is_market = order.order_type is OrderType.MARKET
        if is_market and not engine.market.has_data:
            return Reject.NO_MARKET_DATA
        qty = Quantity(order.quantity_raw, inst.size_precision)
        ref = engine.market.opposite_best(order.side) if is_market else order.price_raw or order.trigger_raw
        check = inst.check_order(order.side, qty, None if ref is None else Price(ref, inst.price_precision))
        if check is None and order.trigger_raw is not None and order.price_raw is not None:
            check = inst.check_order(order.side, qty, Price(order.trigger_raw, inst.price_precision))
        if check is not None:
            return filter_rejection(check)
        if order.is_stop and engine.market.stop_reached(order.side, order.trigger_raw or 0):
            return Reject.STOP_WOULD_TRIGGER
        if order.reduce_only and engine.reducible(order) == 0:
            return Reject.REDUCE_ONLY_WOULD_INCREASE
        if order.post_only and order.order_type is OrderType.LIMIT and self._marketable(order):
            return Reject.POST_ONLY_WOULD_TAKE
        currency, need = self.lock_need(order)
        if currency is not None and not self._ledger.can_spend(currency, need):
            return Reject.INSUFFICIENT_BALANCE
        if not self.funds_ok(order, order.leaves_raw):
            return Reject.INSUFFICIENT_BALANCE
        return None

    def check_modify(
        self, order: SimOrder, quantity_raw: int | None, price_raw: int | None, trigger_raw: int | None
    ) -> str | None:
        """The reason refusing a modification of a working order, or None to apply it."""
        engine, inst = self._engine, self._inst
        if quantity_raw is None and price_raw is None and trigger_raw is None:
            return "nothing to modify: give a quantity, price or trigger price"
        if price_raw is not None and order.price_raw is None:
            return "this order has no limit price to modify"
        if trigger_raw is not None and not order.is_pending_stop:
            return "only a stop order that has not triggered has a trigger price to modify"
        new_qty = order.quantity_raw if quantity_raw is None else quantity_raw
        if new_qty <= order.filled_raw:
            filled = Quantity(order.filled_raw, inst.size_precision)
            return f"quantity must be above the filled quantity {filled}"
        qty = Quantity(new_qty, inst.size_precision)
        new_price = order.price_raw if price_raw is None else price_raw
        new_trigger = order.trigger_raw if trigger_raw is None else trigger_raw
        for raw in (new_price, new_trigger if order.is_pending_stop else None):
            if raw is not None:
                check = inst.check_order(order.side, qty, Price(raw, inst.price_precision))
                if check is not None:
                    return filter_rejection(check)[1]
        if trigger_raw is not None and engine.market.stop_reached(order.side, trigger_raw):
            return Reject.STOP_WOULD_TRIGGER[1]
        if price_raw is not None and order.post_only and engine.is_resting(order):
            if engine.market.marketable(order.side, price_raw):
                return Reject.POST_ONLY_WOULD_TAKE[1]
        probe = SimOrder(
            client_order_id=order.client_order_id,
            strategy_id=order.strategy_id,
            instrument_id=order.instrument_id,
            side=order.side,
            order_type=order.order_type,
            quantity_raw=new_qty - order.filled_raw,
            price_raw=new_price,
            trigger_raw=new_trigger,
        )
        currency, need = self.lock_need(probe)
        if currency is not None and currency == order.lock_currency:
            if not self._ledger.can_spend(currency, need - order.lock_raw):
                return Reject.INSUFFICIENT_BALANCE[1]
        if new_qty > order.quantity_raw and not self.funds_ok(probe, probe.quantity_raw, order):
            return Reject.INSUFFICIENT_BALANCE[1]
        return None

    def lock_need(self, order: SimOrder) -> tuple[Currency | None, int]:
        """What a CASH account locks for the order's leaves: ``(currency, raw)``, or ``(None, 0)``."""
        if not self._ledger.is_cash:
            return None, 0
        if order.side is OrderSide.SELL:
            return self._inst.base_currency, order.leaves_raw
        if order.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
            quote = self._inst.quote_currency
            price = order.price_raw or 0
            return quote, buy_lock_raw(price, order.leaves_raw, self._lock_rate, quote, self._inst.step_size)
        return None, 0

    def funds_ok(self, order: SimOrder, qty_raw: int, exclude: SimOrder | None = None) -> bool:
        """CASH: a market(-like) buy's walked cost is free. MARGIN: the exposure limit holds."""
        engine, inst, ledger = self._engine, self._inst, self._ledger
        quote = inst.quote_currency
        is_market = order.order_type is OrderType.MARKET or (
            order.order_type is OrderType.STOP_MARKET and order.triggered
        )
        if ledger.is_cash:
            if not (is_market and order.side is OrderSide.BUY):
                return True
            takes = engine.market.take(OrderSide.BUY, min(qty_raw, engine.reducible(order)), None, consume=False)
            rate = self._taker_rate
            cost = sum(settled_notional_raw(p, q, quote) + commission_raw(p, q, rate, quote) for p, q in takes)
            return ledger.can_spend(quote, cost)
        current = ledger.total_raw(inst.base_currency)
        pending = engine.working_leaves(order.side, exclude=(order, exclude))
        resulting = current + order.side.sign * (qty_raw + pending)
        if abs(resulting) <= abs(current):
            # Reducing exposure is always allowed (``margin_allows``' first rule): skip walking
            # the book and building the marks. Measured for a flipping market order: 2.6 us ->
            # 0.95 us.
            return True
        if is_market:
            takes = engine.market.take(order.side, qty_raw, None, consume=False)
            filled = sum(q for _, q in takes)
            if filled == 0:
                return True
            price = sum(p * q for p, q in takes) // filled
        else:
            price = order.price_raw or order.trigger_raw or 0
        return ledger.margin_allows(
            quote=quote, current_raw=current, resulting_raw=resulting, price_raw=price, marks=self._marks(quote)
        )

    def _marketable(self, order: SimOrder) -> bool:
        return order.price_raw is not None and self._engine.market.marketable(order.side, order.price_raw)
