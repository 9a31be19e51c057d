"""New orders and cancels: from a checked request to the simulated venue and back.

Order of checks for a new order, after the request's shape (:func:`.params.parse_new_order`):
a ``newClientOrderId`` already used by an open order of the account and symbol (-2010
"Duplicate order sent."), the symbol's filters on quantity, price and stop price (-1013
"Filter failure: LOT_SIZE|PRICE_FILTER|NOTIONAL"), then the simulated venue's own checks
(notional of a market order at the book, LIMIT_MAKER that would take, funds), mapped to
Binance's codes by :func:`rejection`.

Binance order types map to Bot4's: LIMIT -> limit, LIMIT_MAKER -> post-only limit, MARKET ->
market (IOC; a ``quoteOrderQty`` is turned into the quantity the book gives for it, rounded
down to the lot step), STOP_LOSS -> stop-market, STOP_LOSS_LIMIT -> stop-limit.
"""

from __future__ import annotations

import secrets
import string

from bot4.core.ids import ClientOrderId
from bot4.core.numbers import FIXED_PRECISION, FIXED_SCALAR, Price, Quantity
from bot4.model.enums import OrderSide
from bot4.model.enums import TimeInForce as Bot4TimeInForce
from bot4.model.instrument import Instrument
from bot4.model.orders import Order
from bot4.venues.sim.binance_server.errors import ApiError, Msg
from bot4.venues.sim.binance_server.orders import OrderRecord, OrderType
from bot4.venues.sim.binance_server.params import NewOrder
from bot4.venues.sim.binance_server.state import Account, IdSource, ServerClock
from bot4.venues.sim.orders import Reject, filter_rejection

__all__ = ["cancel", "cancel_all", "new_client_order_id", "place", "rejection"]

_ID_ALPHABET = string.ascii_letters + string.digits

_REJECTIONS: dict[str, tuple[int, str]] = {
    Reject.UNKNOWN_INSTRUMENT[0]: (-1121, Msg.BAD_SYMBOL),
    Reject.DUPLICATE_ORDER[0]: (-2010, Msg.DUPLICATE_ORDER),
    Reject.NO_MARKET_DATA[0]: (-2010, Msg.NO_LIQUIDITY),
    Reject.INSUFFICIENT_BALANCE[0]: (-2010, Msg.INSUFFICIENT_BALANCE),
    Reject.POST_ONLY_WOULD_TAKE[0]: (-2010, Msg.WOULD_TAKE),
    Reject.STOP_WOULD_TRIGGER[0]: (-2010, Msg.WOULD_TRIGGER),
}


def new_client_order_id() -> str:
    """A generated ``clientOrderId``, 22 letters and digits like Binance's."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(22))


def rejection(code: str, reason: str) -> ApiError:
    """The Binance error for a simulated venue's refusal (``Reject`` codes, filter names)."""
    if code in ("PRICE_FILTER", "LOT_SIZE", "NOTIONAL"):
        return ApiError.filter_failure(code)
    known = _REJECTIONS.get(code)
    if known is not None:
        return ApiError(*known)
    return ApiError(-2010, Msg.UNSUPPORTED_COMBINATION)


def place(account: Account, request: NewOrder, ids: IdSource, clock: ServerClock) -> OrderRecord:
    """Place a new order for ``account``; raise :class:`ApiError` when it is refused."""
    inst = request.instrument
    symbol = inst.id.symbol.value
    client_order_id = request.client_order_id or new_client_order_id()
    if account.is_open_client_id(symbol, client_order_id):
        raise ApiError(-2010, Msg.DUPLICATE_ORDER)
    quantity = request.quantity_raw
    if quantity is None:
        quantity = _quantity_for_quote(account, inst, request.side, request.quote_qty_raw or 0)
    _check_filters(inst, request, quantity)
    order_id = ids.next_order()
    rec = OrderRecord(
        order_id=order_id,
        instrument=inst,
        client_order_id=client_order_id,
        side=request.side,
        order_type=request.order_type,
        time_in_force=request.time_in_force,
        qty_raw=quantity,
        price_raw=request.price_raw or 0,
        stop_raw=request.stop_raw or 0,
        quote_qty_raw=request.quote_qty_raw or 0,
        time_ms=clock.now_ms(),
        order=_bot4_order(account, request, quantity, ClientOrderId(str(order_id)), clock.timestamp_ns()),
    )
    account.submit(rec)
    if rec.reject is not None:
        raise rejection(*rec.reject)
    return rec


def cancel(
    account: Account,
    instrument: Instrument,
    order_id: int | None,
    orig_client_order_id: str | None,
    new_client_order_id_: str | None,
) -> OrderRecord:
    """Cancel one open order; -2011 "Unknown order sent." when there is none to cancel."""
    rec = account.find(instrument.id.symbol.value, order_id, orig_client_order_id)
    if rec is None or not rec.is_open:
        raise ApiError(-2011, Msg.UNKNOWN_ORDER)
    if not account.cancel(rec, new_client_order_id_ or new_client_order_id()):
        raise ApiError(-2011, Msg.UNKNOWN_ORDER)
    return rec


def cancel_all(account: Account, instrument: Instrument) -> list[OrderRecord]:
    """Cancel every open order of the symbol; -2011 when it has none."""
    records = account.open_orders(instrument.id.symbol.value)
    if not records:
        raise ApiError(-2011, Msg.UNKNOWN_ORDER)
    return [rec for rec in records if account.cancel(rec, new_client_order_id())]


def _quantity_for_quote(account: Account, inst: Instrument, side: OrderSide, budget_raw: int) -> int:
    """The quantity a market order of ``side`` gets for ``budget_raw`` of quote, on step."""
    market = account.venue.engine(inst.id).market
    if market.has_book:
        levels = list(market.book.levels(side.opposite))
    elif market.last_raw is not None:
        levels = [(market.last_raw, budget_raw * FIXED_SCALAR // market.last_raw + inst.step_size)]
    else:
        levels = []
    if not levels:
        raise ApiError(-2010, Msg.NO_LIQUIDITY)
    quantity = spent = 0
    for price, size in levels:
        cost = price * size // FIXED_SCALAR
        if spent + cost <= budget_raw:
            quantity += size
            spent += cost
            continue
        quantity += (budget_raw - spent) * FIXED_SCALAR // price
        break
    return quantity - quantity % inst.step_size


def _check_filters(inst: Instrument, request: NewOrder, quantity: int) -> None:
    qty = Quantity(quantity, FIXED_PRECISION)
    prices: list[int | None] = [raw for raw in (request.price_raw, request.stop_raw) if raw is not None]
    for price in prices or [None]:
        check = inst.check_order(request.side, qty, None if price is None else Price(price, FIXED_PRECISION))
        if check is not None:
            raise ApiError(-1013, filter_rejection(check)[1])


def _bot4_order(account: Account, request: NewOrder, quantity: int, client_order_id: ClientOrderId, now_ns: int) -> Order:
    inst = request.instrument
    qty = Quantity(quantity, inst.size_precision)
    price = None if request.price_raw is None else Price(request.price_raw, inst.price_precision)
    stop = None if request.stop_raw is None else Price(request.stop_raw, inst.price_precision)
    tif = Bot4TimeInForce(request.time_in_force.value) if request.time_in_force is not None else Bot4TimeInForce.GTC
    ids = (client_order_id, account.strategy_id, inst.id)
    kind = request.order_type
    if kind is OrderType.MARKET:
        return Order.market(
            client_order_id=ids[0], strategy_id=ids[1], instrument_id=ids[2], side=request.side, quantity=qty, ts_init=now_ns
        )
    if kind in (OrderType.LIMIT, OrderType.LIMIT_MAKER) and price is not None:
        maker = kind is OrderType.LIMIT_MAKER
        return Order.limit(
            client_order_id=ids[0],
            strategy_id=ids[1],
            instrument_id=ids[2],
            side=request.side,
            quantity=qty,
            price=price,
            ts_init=now_ns,
            time_in_force=Bot4TimeInForce.GTC if maker else tif,
            post_only=maker,
        )
    if kind is OrderType.STOP_LOSS and stop is not None:
        return Order.stop_market(
            client_order_id=ids[0],
            strategy_id=ids[1],
            instrument_id=ids[2],
            side=request.side,
            quantity=qty,
            trigger_price=stop,
            ts_init=now_ns,
        )
    if kind is OrderType.STOP_LOSS_LIMIT and price is not None and stop is not None:
        return Order.stop_limit(
            client_order_id=ids[0],
            strategy_id=ids[1],
            instrument_id=ids[2],
            side=request.side,
            quantity=qty,
            price=price,
            trigger_price=stop,
            ts_init=now_ns,
            time_in_force=tif,
        )
    raise ApiError(-1014, "Unsupported order combination.")
