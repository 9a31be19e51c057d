"""ccxt's unified structures (markets, orders, trades, balances, books) to Bot4's domain types.

ccxt hands numbers over as floats parsed from the venue's decimal strings. Each is turned back
into an exact decimal through its shortest repr (``repr(0.1) == '0.1'``) and checked against the
instrument's tick or step: a value off the grid is reported, never silently rounded.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from bot4.core.errors import InvalidDataError
from bot4.core.ids import AccountId, ClientOrderId, InstrumentId, StrategyId, TradeId, VenueOrderId
from bot4.core.numbers import Currency, Money, Price, Quantity
from bot4.execution.reconciliation import FillReport, OrderStatusReport
from bot4.model.account import AccountBalance, AccountState
from bot4.model.data import BookLevel, BookSnapshot, TradeTick
from bot4.model.enums import (
    AccountType,
    AggressorSide,
    LiquiditySide,
    OrderSide,
    OrderStatus,
    OrderType,
)
from bot4.model.events import OrderFilled
from bot4.model.instrument import Instrument

__all__ = [
    "book_snapshot",
    "decimal_of",
    "fill_event",
    "fill_report",
    "instrument_from_market",
    "order_status_report",
    "account_state",
    "trade_tick",
]

_STATUS = {
    "open": OrderStatus.ACCEPTED,
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "cancelled": OrderStatus.CANCELED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
}


def decimal_of(value: Any, field: str) -> Decimal:
    """An exact decimal from a ccxt number (float, int or string); bad values raise InvalidDataError."""
    if isinstance(value, bool) or value is None:
        raise InvalidDataError("expected a number", field=field, value=value)
    try:
        result = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    except ArithmeticError:
        raise InvalidDataError("expected a number", field=field, value=value) from None
    if not result.is_finite():
        raise InvalidDataError("expected a finite number", field=field, value=value)
    return result


def _price(inst: Instrument, value: Any, field: str) -> Price:
    return inst.make_price(decimal_of(value, field))


def _qty(inst: Instrument, value: Any, field: str) -> Quantity:
    return inst.make_qty(decimal_of(value, field))


def _increment(value: Any, mode: Any, field: str) -> str:
    """A tick or step as a decimal string, whichever precision mode the exchange uses."""
    number = decimal_of(value, field)
    if mode == 4:  # ccxt.TICK_SIZE
        return format(number.normalize(), "f")
    return format(Decimal(1).scaleb(-int(number)), "f")  # DECIMAL_PLACES / SIGNIFICANT_DIGITS


def instrument_from_market(market: Mapping[str, Any], venue: str, precision_mode: Any) -> Instrument:
    """An instrument from a ccxt market (its venue id is our symbol)."""
    precision = market.get("precision") or {}
    limits = market.get("limits") or {}
    amount = limits.get("amount") or {}
    cost = limits.get("cost") or {}
    price_limits = limits.get("price") or {}

    def opt(value: Any, field: str) -> str | None:
        return None if value in (None, 0) else format(decimal_of(value, field).normalize(), "f")

    base = str(market["base"])
    quote = str(market["quote"])
    tick = _increment(precision.get("price"), precision_mode, "precision.price")
    step = _increment(precision.get("amount"), precision_mode, "precision.amount")
    maker = market.get("maker")
    taker = market.get("taker")
    return Instrument.create(
        instrument_id=InstrumentId.from_str(f"{market['id']}.{venue}"),
        base=Currency(base, 8),
        quote=Currency(quote, 8),
        tick_size=tick,
        step_size=step,
        min_quantity=opt(amount.get("min"), "limits.amount.min"),
        max_quantity=opt(amount.get("max"), "limits.amount.max"),
        min_notional=opt(cost.get("min"), "limits.cost.min"),
        min_price=opt(price_limits.get("min"), "limits.price.min"),
        max_price=opt(price_limits.get("max"), "limits.price.max"),
        maker_fee=format(decimal_of(maker, "maker"), "f") if maker is not None else "0.001",
        taker_fee=format(decimal_of(taker, "taker"), "f") if taker is not None else "0.001",
    )


def _side(value: Any) -> OrderSide:
    if value == "buy":
        return OrderSide.BUY
    if value == "sell":
        return OrderSide.SELL
    raise InvalidDataError("expected side buy or sell", field="side", value=value)


def fill_event(
    trade: Mapping[str, Any], inst: Instrument, client_order_id: ClientOrderId, strategy_id: StrategyId, ts_init: int
) -> OrderFilled:
    """One of our trades as an ``OrderFilled``; the venue's fee is the commission."""
    fee = trade.get("fee") or {}
    currency = Currency(str(fee.get("currency") or inst.quote_currency.code), 8)
    commission = Money.of(decimal_of(fee.get("cost") or 0, "fee.cost"), currency)
    ts = int(trade.get("timestamp") or 0) * 1_000_000
    return OrderFilled(
        client_order_id=client_order_id,
        instrument_id=inst.id,
        strategy_id=strategy_id,
        venue_order_id=VenueOrderId(str(trade["order"])),
        trade_id=TradeId(str(trade["id"])),
        order_side=_side(trade.get("side")),
        last_qty=_qty(inst, trade.get("amount"), "amount"),
        last_px=_price(inst, trade.get("price"), "price"),
        commission=commission,
        liquidity_side=LiquiditySide.MAKER if trade.get("takerOrMaker") == "maker" else LiquiditySide.TAKER,
        ts_event=ts or ts_init,
        ts_init=ts_init,
    )


def fill_report(trade: Mapping[str, Any], inst: Instrument, client_order_id: ClientOrderId | None) -> FillReport:
    fee = trade.get("fee") or {}
    currency = Currency(str(fee.get("currency") or inst.quote_currency.code), 8)
    return FillReport(
        instrument_id=inst.id,
        venue_order_id=VenueOrderId(str(trade["order"])),
        client_order_id=client_order_id,
        trade_id=TradeId(str(trade["id"])),
        side=_side(trade.get("side")),
        last_qty=_qty(inst, trade.get("amount"), "amount"),
        last_px=_price(inst, trade.get("price"), "price"),
        commission=Money.of(decimal_of(fee.get("cost") or 0, "fee.cost"), currency),
        liquidity_side=LiquiditySide.MAKER if trade.get("takerOrMaker") == "maker" else LiquiditySide.TAKER,
        ts_event=int(trade.get("timestamp") or 0) * 1_000_000,
    )


def order_status_report(order: Mapping[str, Any], inst: Instrument) -> OrderStatusReport:
    status = _STATUS.get(str(order.get("status")))
    if status is None:
        raise InvalidDataError("unknown order status", field="status", value=order.get("status"))
    filled = _qty(inst, order.get("filled") or 0, "filled")
    if status is OrderStatus.ACCEPTED and filled.raw > 0:
        status = OrderStatus.PARTIALLY_FILLED
    kind = OrderType.MARKET if order.get("type") == "market" else OrderType.LIMIT
    price = order.get("price")
    average = order.get("average")
    client = order.get("clientOrderId")
    return OrderStatusReport(
        instrument_id=inst.id,
        venue_order_id=VenueOrderId(str(order["id"])),
        client_order_id=ClientOrderId(str(client)) if client else None,
        side=_side(order.get("side")),
        order_type=kind,
        quantity=_qty(inst, order.get("amount"), "amount"),
        price=None if price in (None, 0) or kind is OrderType.MARKET else _price(inst, price, "price"),
        filled_qty=filled,
        avg_px=None if not average else inst.round_price(decimal_of(average, "average")),
        status=status,
        ts_last=int(order.get("lastTradeTimestamp") or order.get("timestamp") or 0) * 1_000_000,
    )


def account_state(balance: Mapping[str, Any], account_id: AccountId, ts: int) -> AccountState:
    """ccxt's ``fetch_balance`` result: ``total`` and ``used`` per currency code."""
    totals = balance.get("total") or {}
    used = balance.get("used") or {}
    balances = []
    for code, total in sorted(totals.items()):
        if total is None:
            continue
        currency = Currency(str(code), 8)
        total_money = Money.from_decimal(decimal_of(total, f"total.{code}"), currency)
        locked = Money.from_decimal(decimal_of(used.get(code) or 0, f"used.{code}"), currency)
        balances.append(AccountBalance.of(total_money, locked))
    return AccountState(account_id=account_id, account_type=AccountType.CASH, balances=balances, ts_event=ts, ts_init=ts)


def trade_tick(trade: Mapping[str, Any], inst: Instrument, ts_init: int) -> TradeTick:
    side = trade.get("side")
    return TradeTick(
        inst.id,
        _price(inst, trade.get("price"), "price"),
        _qty(inst, trade.get("amount"), "amount"),
        AggressorSide.BUYER if side == "buy" else AggressorSide.SELLER if side == "sell" else AggressorSide.NO_AGGRESSOR,
        TradeId(str(trade.get("id"))),
        int(trade.get("timestamp") or 0) * 1_000_000 or ts_init,
        ts_init,
    )


def book_snapshot(book: Mapping[str, Any], inst: Instrument, ts_init: int, depth: int = 50) -> BookSnapshot:
    def levels(rows: Any, field: str) -> list[BookLevel]:
        return [
            BookLevel(_price(inst, row[0], f"{field}.price"), _qty(inst, row[1], f"{field}.size"))
            for row in list(rows or [])[:depth]
        ]

    nonce = book.get("nonce")
    ts = book.get("timestamp")
    return BookSnapshot(
        inst.id,
        levels(book.get("bids"), "bids"),
        levels(book.get("asks"), "asks"),
        int(nonce) if isinstance(nonce, int) else 0,
        int(ts) * 1_000_000 if ts else ts_init,
        ts_init,
    )
