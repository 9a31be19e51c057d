"""Order events, fees and balance settlement of the simulated venue.

:class:`OrderAccounting` is the one place that turns a matching decision into facts: it mints
the venue's ids, builds every order event, charges commissions, moves balances in the
:class:`SimLedger` and reports them. The matching engines decide *what* trades; this decides
what that costs and tells the world.

Rules:

- Ids are deterministic: venue order ids ``{venue}-{n}`` and trade ids ``{venue}-T{n}``, each
  counted from 1 in the order the venue produces them.
- Every event has ``ts_event == ts_init ==`` the venue's time (``now_ns``), set by the venue
  before it processes each command, data event or expiry.
- A fill of ``qty`` at ``px`` moves ``notional = px x qty`` of quote (rounded half-even to the
  quote currency's precision; exact whenever tick x step fits that precision, as on every
  Binance spot pair) and charges ``commission = px x qty x rate`` in the quote currency,
  rounded half-even to the quote currency's precision, with the maker rate for resting fills
  and the taker rate for aggressive ones. A buy pays ``notional + commission``; a sell receives
  ``notional - commission``. A negative rate is a rebate.
- A CASH buy limit locks :func:`buy_lock_raw` of quote (notional at its limit price times
  ``1 + max(maker, taker, 0)``, rounded up, plus one unit of the quote precision per lot step
  to absorb per-fill rounding: enough for any fills at or better than the limit, e.g. 100.101
  USDT for 1 BTC at 100 with a 0.1% fee); a sell locks its base quantity. Each fill is paid
  from the order's lock; after a fill the lock is trimmed to what the rest of the order needs,
  and whatever is still locked when the order ends is released.
- Balance changes are reported by ``flush``: one :class:`AccountState` with the changed
  currencies after each command, data event or expiry that changed any.
"""

from __future__ import annotations

from decimal import Decimal

from bot4.core.errors import InternalError
from bot4.core.ids import AccountId, ClientOrderId, InstrumentId, StrategyId, TradeId, VenueOrderId
from bot4.core.numbers import FIXED_PRECISION, FIXED_SCALAR, Currency, Money, Price, Quantity
from bot4.execution.ports import EventSink
from bot4.model.enums import LiquiditySide, OrderSide, OrderStatus
from bot4.model.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderExpired,
    OrderFilled,
    OrderModifyRejected,
    OrderRejected,
    OrderTriggered,
    OrderUpdated,
)
from bot4.model.instrument import Instrument
from bot4.venues.sim.ledger import SimLedger
from bot4.venues.sim.orders import SimOrder

__all__ = [
    "OrderAccounting",
    "buy_lock_raw",
    "commission_raw",
    "round_half_even",
    "settled_notional_raw",
]


_POW10: list[int] = [10**i for i in range(FIXED_PRECISION + 1)]


def round_half_even(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half-even to an int (``denominator > 0``)."""
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient


def _quantum(currency: Currency) -> int:
    return _POW10[FIXED_PRECISION - currency.precision]


def settled_notional_raw(px_raw: int, qty_raw: int, quote: Currency) -> int:
    """``px x qty`` in raw quote units, rounded half-even to the quote precision."""
    q = _quantum(quote)
    return round_half_even(px_raw * qty_raw, FIXED_SCALAR * q) * q


def commission_raw(px_raw: int, qty_raw: int, rate: Decimal, quote: Currency) -> int:
    """``px x qty x rate`` in raw quote units, rounded half-even to the quote precision."""
    num, den = rate.as_integer_ratio()
    q = _quantum(quote)
    return round_half_even(px_raw * qty_raw * num, den * FIXED_SCALAR * q) * q


def buy_lock_raw(price_raw: int, qty_raw: int, rate: Decimal, quote: Currency, step_raw: int) -> int:
    """Quote to lock for a buy of ``qty`` at up to ``price``: covers any fills and their fees.

    ``price x qty x (1 + rate)`` rounded up to the quote precision, plus one unit of that
    precision per lot step of ``qty``: each fill (at least one step) rounds its notional and
    its commission by at most half a unit each, so no split of the order into fills at or
    better than ``price`` can cost more than the lock.
    """
    if qty_raw <= 0:
        return 0
    num, den = max(rate, Decimal(0)).as_integer_ratio()
    q = _quantum(quote)
    units = -(-(price_raw * qty_raw * (den + num)) // (den * FIXED_SCALAR * q))
    steps = -(-qty_raw // max(step_raw, 1))
    return (units + steps) * q


class OrderAccounting:
    """Builds and sends the venue's events and settles fills in the ledger."""

    __slots__ = (
        "_order_count", "_order_prefix", "_sink", "_trade_count", "_trade_prefix", "_venue", "account_id", "ledger",
        "now_ns",
    )

    def __init__(
        self, *, venue: str, account_id: AccountId, ledger: SimLedger, sink: EventSink, id_prefix: str | None = None
    ) -> None:
        self._venue = venue
        self.account_id = account_id
        self.ledger = ledger
        self._sink = sink
        self._order_count = 0
        self._trade_count = 0
        self._order_prefix = f"{venue}-" if id_prefix is None else f"{venue}-{id_prefix}-"
        self._trade_prefix = f"{venue}-T" if id_prefix is None else f"{venue}-T{id_prefix}-"
        self.now_ns = 0

    # -- order lifecycle ------------------------------------------------------------------

    def reject(self, order: SimOrder, code: str, reason: str) -> None:
        """Refuse the order (before acceptance, or when a triggered stop cannot proceed)."""
        self._release(order)
        order.status = OrderStatus.REJECTED
        now = self.now_ns
        self._sink(
            OrderRejected(
                client_order_id=order.client_order_id,
                instrument_id=order.instrument_id,
                strategy_id=order.strategy_id,
                ts_event=now,
                ts_init=now,
                code=code,
                reason=reason,
            )
        )

    def accept(self, order: SimOrder) -> None:
        self._order_count += 1
        venue_order_id = VenueOrderId(f"{self._order_prefix}{self._order_count}")
        order.venue_order_id = venue_order_id
        order.status = OrderStatus.ACCEPTED
        now = self.now_ns
        self._sink(
            OrderAccepted(
                client_order_id=order.client_order_id,
                instrument_id=order.instrument_id,
                strategy_id=order.strategy_id,
                ts_event=now,
                ts_init=now,
                venue_order_id=venue_order_id,
            )
        )

    def triggered(self, order: SimOrder) -> None:
        order.triggered = True
        order.status = OrderStatus.TRIGGERED
        now = self.now_ns
        self._sink(
            OrderTriggered(
                client_order_id=order.client_order_id,
                instrument_id=order.instrument_id,
                strategy_id=order.strategy_id,
                ts_event=now,
                ts_init=now,
                venue_order_id=order.venue_order_id,
            )
        )

    def canceled(self, order: SimOrder, reason: str = "") -> None:
        self._ended(order, OrderStatus.CANCELED)
        now = self.now_ns
        self._sink(
            OrderCanceled(
                client_order_id=order.client_order_id,
                instrument_id=order.instrument_id,
                strategy_id=order.strategy_id,
                ts_event=now,
                ts_init=now,
                venue_order_id=order.venue_order_id,
                reason=reason,
            )
        )

    def expired(self, order: SimOrder) -> None:
        self._ended(order, OrderStatus.EXPIRED)
        now = self.now_ns
        self._sink(
            OrderExpired(
                client_order_id=order.client_order_id,
                instrument_id=order.instrument_id,
                strategy_id=order.strategy_id,
                ts_event=now,
                ts_init=now,
                venue_order_id=order.venue_order_id,
            )
        )

    def _ended(self, order: SimOrder, status: OrderStatus) -> None:
        """Release what the order locked and mark it finished before its event goes out."""
        self._release(order)
        order.status = status

    def updated(self, order: SimOrder, instrument: Instrument) -> None:
        now = self.now_ns
        self._sink(
            OrderUpdated(
                client_order_id=order.client_order_id,
                instrument_id=order.instrument_id,
                strategy_id=order.strategy_id,
                ts_event=now,
                ts_init=now,
                quantity=Quantity(order.quantity_raw, instrument.size_precision),
                price=order.price(instrument.price_precision),
                trigger_price=order.trigger_price(instrument.price_precision),
                venue_order_id=order.venue_order_id,
            )
        )

    def cancel_rejected(
        self, client_order_id: ClientOrderId, instrument_id: InstrumentId, strategy_id: StrategyId, reason: str
    ) -> None:
        self._refused(OrderCancelRejected, client_order_id, instrument_id, strategy_id, reason)

    def modify_rejected(
        self, client_order_id: ClientOrderId, instrument_id: InstrumentId, strategy_id: StrategyId, reason: str
    ) -> None:
        self._refused(OrderModifyRejected, client_order_id, instrument_id, strategy_id, reason)

    def _refused(
        self,
        event_type: type[OrderCancelRejected] | type[OrderModifyRejected],
        client_order_id: ClientOrderId,
        instrument_id: InstrumentId,
        strategy_id: StrategyId,
        reason: str,
    ) -> None:
        now = self.now_ns
        self._sink(
            event_type(
                client_order_id=client_order_id,
                instrument_id=instrument_id,
                strategy_id=strategy_id,
                ts_event=now,
                ts_init=now,
                reason=reason,
            )
        )

    def set_lock(self, order: SimOrder, currency: Currency, raw: int) -> None:
        """Make the order's lock exactly ``raw`` of ``currency`` (locking or releasing)."""
        if order.lock_currency is not None and order.lock_currency != currency:
            self._release(order)
        order.lock_currency = currency
        if raw > order.lock_raw:
            self.ledger.lock(currency, raw - order.lock_raw)
        elif raw < order.lock_raw:
            self.ledger.unlock(currency, order.lock_raw - raw)
        order.lock_raw = raw

    def trim_lock(self, order: SimOrder, needed_raw: int) -> None:
        """Release whatever the order has locked beyond ``needed_raw``."""
        if order.lock_currency is not None and order.lock_raw > needed_raw:
            self.set_lock(order, order.lock_currency, max(needed_raw, 0))

    def fill(
        self,
        order: SimOrder,
        instrument: Instrument,
        px_raw: int,
        qty_raw: int,
        liquidity: LiquiditySide,
        rate: Decimal,
    ) -> None:
        """Record one fill: settle balances, paying from the order's lock first, then report it."""
        base = instrument.base_currency
        quote = instrument.quote_currency
        ledger = self.ledger
        notional = settled_notional_raw(px_raw, qty_raw, quote)
        fee = commission_raw(px_raw, qty_raw, rate, quote)
        if order.side is OrderSide.BUY:
            self._use_lock(order, quote, notional + fee)
            ledger.adjust(base, qty_raw)
            ledger.adjust(quote, -(notional + fee))
        else:
            self._use_lock(order, base, qty_raw)
            ledger.adjust(base, -qty_raw)
            ledger.adjust(quote, notional - fee)
        order.filled_raw += qty_raw
        if order.leaves_raw == 0:
            order.status = OrderStatus.FILLED
            self._release(order)
        else:
            order.status = OrderStatus.PARTIALLY_FILLED
        self._trade_count += 1
        now = self.now_ns
        if order.venue_order_id is None:
            raise InternalError("fill for an order the venue never accepted", order=str(order.client_order_id))
        self._sink(
            OrderFilled(
                client_order_id=order.client_order_id,
                instrument_id=order.instrument_id,
                strategy_id=order.strategy_id,
                ts_event=now,
                ts_init=now,
                venue_order_id=order.venue_order_id,
                trade_id=TradeId(f"{self._trade_prefix}{self._trade_count}"),
                order_side=order.side,
                last_qty=Quantity(qty_raw, instrument.size_precision),
                last_px=Price(px_raw, instrument.price_precision),
                commission=Money(fee, quote),
                liquidity_side=liquidity,
            )
        )

    def flush(self) -> None:
        """Report the balances changed since the last report, if any."""
        state = self.ledger.changed_state(self.now_ns)
        if state is not None:
            self._sink(state)

    def _use_lock(self, order: SimOrder, currency: Currency, amount_raw: int) -> None:
        if order.lock_currency != currency or order.lock_raw <= 0 or amount_raw <= 0:
            return
        use = min(order.lock_raw, amount_raw)
        self.ledger.unlock(currency, use)
        order.lock_raw -= use

    def _release(self, order: SimOrder) -> None:
        if order.lock_currency is not None and order.lock_raw:
            self.ledger.unlock(order.lock_currency, order.lock_raw)
        order.lock_raw = 0
