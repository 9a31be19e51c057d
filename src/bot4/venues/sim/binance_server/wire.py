"""The JSON shapes the local exchange sends, in Binance spot's own field names and order.

Shapes follow Binance's documented responses and stream payloads (the examples in Binance's
spot API docs): numbers are decimal strings with 8 decimals (more when an instrument needs
them), times are epoch milliseconds, ids are integers. Every function returns plain dicts and
lists, ready for ``msgspec.json.encode``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from bot4.core.numbers import FIXED_PRECISION, FIXED_SCALAR
from bot4.model.enums import OrderSide
from bot4.model.instrument import Instrument
from bot4.venues.sim.binance_server.orders import (
    ExecutionType,
    FillRecord,
    OrderRecord,
    OrderType,
    ResponseType,
)

__all__ = [
    "Json",
    "account",
    "account_position",
    "agg_trade_frame",
    "book_ticker_frame",
    "cancel_result",
    "decimals_of",
    "depth_update_frame",
    "execution_report",
    "fmt",
    "listen_key_expired",
    "my_trade",
    "new_order_result",
    "order",
    "partial_depth_frame",
    "rate_limit",
    "recent_trade",
    "symbol_info",
    "trade_frame",
]

Json = dict[str, Any]
Level = tuple[int, int]

_DEFAULT_DECIMALS = 8
COMMISSION_DECIMALS = 8  # Binance sends commissions with 8 decimals, whatever the symbol
ORDER_TYPES = [t.value for t in OrderType]


def fmt(raw: int, decimals: int = _DEFAULT_DECIMALS) -> str:
    """A raw fixed-point int (1e-9 units) as Binance writes it: ``"61837.63000000"``.

    Digits beyond ``decimals`` are cut (callers pass enough decimals for their values).
    """
    sign = "-" if raw < 0 else ""
    whole, frac = divmod(abs(raw), FIXED_SCALAR)
    if decimals <= 0:
        return f"{sign}{whole}"
    digits = f"{frac:0{FIXED_PRECISION}d}"[:decimals].ljust(decimals, "0")
    return f"{sign}{whole}.{digits}"


def decimals_of(instrument: Instrument) -> tuple[int, int]:
    """Decimals for (prices and quote amounts, quantities) of ``instrument``."""
    price = max(_DEFAULT_DECIMALS, instrument.price_precision, instrument.quote_currency.precision)
    qty = max(_DEFAULT_DECIMALS, instrument.size_precision, instrument.base_currency.precision)
    return price, qty


def _rate(rate: Decimal) -> str:
    return f"{rate:.8f}"


# -- REST: exchange ------------------------------------------------------------------------


def rate_limit(kind: str, window_s: int, limit: int) -> Json:
    """A ``rateLimits`` entry; the window is written in its largest whole unit."""
    for seconds, unit in ((86_400, "DAY"), (3_600, "HOUR"), (60, "MINUTE"), (1, "SECOND")):
        if window_s % seconds == 0:
            return {"rateLimitType": kind, "interval": unit, "intervalNum": window_s // seconds, "limit": limit}
    raise AssertionError("unreachable: every whole second count divides by 1")


def symbol_info(instrument: Instrument) -> Json:
    """One ``exchangeInfo`` symbol with its real filter shapes (0 disables a bound)."""
    px, qty = decimals_of(instrument)
    base, quote = instrument.base_currency, instrument.quote_currency
    return {
        "symbol": instrument.id.symbol.value,
        "status": "TRADING",
        "baseAsset": base.code,
        "baseAssetPrecision": base.precision,
        "quoteAsset": quote.code,
        "quotePrecision": quote.precision,
        "quoteAssetPrecision": quote.precision,
        "baseCommissionPrecision": base.precision,
        "quoteCommissionPrecision": quote.precision,
        "orderTypes": ORDER_TYPES,
        "icebergAllowed": False,
        "ocoAllowed": False,
        "otoAllowed": False,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": False,
        "cancelReplaceAllowed": False,
        "amendAllowed": False,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": fmt(instrument.min_price or 0, px),
                "maxPrice": fmt(instrument.max_price or 0, px),
                "tickSize": fmt(instrument.tick_size, px),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": fmt(instrument.min_quantity, qty),
                "maxQty": fmt(instrument.max_quantity or 9_000_000_000 * FIXED_SCALAR, qty),
                "stepSize": fmt(instrument.step_size, qty),
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": fmt(instrument.min_notional or 0, px),
                "applyMinToMarket": True,
                "maxNotional": fmt(9_000_000 * FIXED_SCALAR, px),
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "NONE",
        "allowedSelfTradePreventionModes": ["NONE"],
    }


# -- REST: orders and trades ---------------------------------------------------------------


def _amounts(rec: OrderRecord) -> Json:
    px, qty = decimals_of(rec.instrument)
    return {
        "price": fmt(rec.price_raw, px),
        "origQty": fmt(rec.qty_raw, qty),
        "executedQty": fmt(rec.executed_raw, qty),
        "origQuoteOrderQty": fmt(rec.quote_qty_raw, px),
        "cummulativeQuoteQty": fmt(rec.cum_quote_raw, px),
        "status": rec.status.value,
        "timeInForce": (rec.time_in_force.value if rec.time_in_force is not None else "GTC"),
        "type": rec.order_type.value,
        "side": rec.side.name,
    }


def order(rec: OrderRecord) -> Json:
    """``GET /api/v3/order`` and ``openOrders`` entries."""
    px, qty = decimals_of(rec.instrument)
    amounts = _amounts(rec)
    return {
        "symbol": rec.symbol,
        "orderId": rec.order_id,
        "orderListId": -1,
        "clientOrderId": rec.client_order_id,
        "price": amounts["price"],
        "origQty": amounts["origQty"],
        "executedQty": amounts["executedQty"],
        "cummulativeQuoteQty": amounts["cummulativeQuoteQty"],
        "status": amounts["status"],
        "timeInForce": amounts["timeInForce"],
        "type": amounts["type"],
        "side": amounts["side"],
        "stopPrice": fmt(rec.stop_raw, px),
        "icebergQty": fmt(0, qty),
        "time": rec.time_ms,
        "updateTime": rec.update_time_ms,
        "isWorking": rec.is_working,
        "workingTime": rec.working_time_ms,
        "origQuoteOrderQty": amounts["origQuoteOrderQty"],
        "selfTradePreventionMode": "NONE",
    }


def new_order_result(rec: OrderRecord, response_type: ResponseType, transact_ms: int) -> Json:
    """``POST /api/v3/order``: ACK, RESULT or FULL (with ``fills``)."""
    out: Json = {
        "symbol": rec.symbol,
        "orderId": rec.order_id,
        "orderListId": -1,
        "clientOrderId": rec.client_order_id,
        "transactTime": transact_ms,
    }
    if response_type is ResponseType.ACK:
        return out
    out.update(_amounts(rec))
    if rec.order_type.has_stop:
        out["stopPrice"] = fmt(rec.stop_raw, decimals_of(rec.instrument)[0])
    out["workingTime"] = rec.working_time_ms
    out["selfTradePreventionMode"] = "NONE"
    if response_type is ResponseType.FULL:
        out["fills"] = [_fill(rec.instrument, fill) for fill in rec.fills]
    return out


def _fill(instrument: Instrument, fill: FillRecord) -> Json:
    px, qty = decimals_of(instrument)
    return {
        "price": fmt(fill.price_raw, px),
        "qty": fmt(fill.qty_raw, qty),
        "commission": fmt(fill.commission_raw, COMMISSION_DECIMALS),
        "commissionAsset": fill.commission_asset,
        "tradeId": fill.trade_id,
    }


def cancel_result(rec: OrderRecord, transact_ms: int) -> Json:
    """``DELETE /api/v3/order`` and each entry of ``DELETE /api/v3/openOrders``."""
    out: Json = {
        "symbol": rec.symbol,
        "origClientOrderId": rec.client_order_id,
        "orderId": rec.order_id,
        "orderListId": -1,
        "clientOrderId": rec.cancel_client_order_id or rec.client_order_id,
        "transactTime": transact_ms,
    }
    out.update(_amounts(rec))
    if rec.order_type.has_stop:
        out["stopPrice"] = fmt(rec.stop_raw, decimals_of(rec.instrument)[0])
    out["selfTradePreventionMode"] = "NONE"
    return out


def my_trade(instrument: Instrument, fill: FillRecord) -> Json:
    """A ``GET /api/v3/myTrades`` row."""
    px, qty = decimals_of(instrument)
    return {
        "symbol": fill.symbol,
        "id": fill.trade_id,
        "orderId": fill.order_id,
        "orderListId": -1,
        "price": fmt(fill.price_raw, px),
        "qty": fmt(fill.qty_raw, qty),
        "quoteQty": fmt(fill.quote_raw, px),
        "commission": fmt(fill.commission_raw, COMMISSION_DECIMALS),
        "commissionAsset": fill.commission_asset,
        "time": fill.time_ms,
        "isBuyer": fill.side is OrderSide.BUY,
        "isMaker": fill.is_maker,
        "isBestMatch": True,
    }


def recent_trade(instrument: Instrument, trade_id: int, price_raw: int, qty_raw: int, time_ms: int, buyer_maker: bool) -> Json:
    """A ``GET /api/v3/trades`` row."""
    px, qty = decimals_of(instrument)
    return {
        "id": trade_id,
        "price": fmt(price_raw, px),
        "qty": fmt(qty_raw, qty),
        "quoteQty": fmt(price_raw * qty_raw // FIXED_SCALAR, px),
        "time": time_ms,
        "isBuyerMaker": buyer_maker,
        "isBestMatch": True,
    }


def account(
    *,
    maker_fee: Decimal,
    taker_fee: Decimal,
    can_trade: bool,
    update_ms: int,
    balances: Iterable[tuple[str, int, int, int]],
    uid: int,
) -> Json:
    """``GET /api/v3/account``; ``balances`` holds ``(asset, free_raw, locked_raw, decimals)``."""
    return {
        "makerCommission": int(maker_fee * 10_000),
        "takerCommission": int(taker_fee * 10_000),
        "buyerCommission": 0,
        "sellerCommission": 0,
        "commissionRates": {
            "maker": _rate(maker_fee),
            "taker": _rate(taker_fee),
            "buyer": _rate(Decimal(0)),
            "seller": _rate(Decimal(0)),
        },
        "canTrade": can_trade,
        "canWithdraw": False,
        "canDeposit": False,
        "brokered": False,
        "requireSelfTradePrevention": False,
        "preventSor": False,
        "updateTime": update_ms,
        "accountType": "SPOT",
        "balances": [
            {"asset": asset, "free": fmt(free, dp), "locked": fmt(locked, dp)}
            for asset, free, locked, dp in balances
        ],
        "permissions": ["SPOT"],
        "uid": uid,
    }


# -- user data stream ----------------------------------------------------------------------


def execution_report(
    rec: OrderRecord,
    execution: ExecutionType,
    *,
    event_ms: int,
    execution_id: int,
    fill: FillRecord | None = None,
    reject_reason: str = "NONE",
) -> Json:
    """An ``executionReport`` with every field Binance sends, in its order."""
    px, qty = decimals_of(rec.instrument)
    canceled = execution is ExecutionType.CANCELED
    out: Json = {
        "e": "executionReport",
        "E": event_ms,
        "s": rec.symbol,
        "c": (rec.cancel_client_order_id or rec.client_order_id) if canceled else rec.client_order_id,
        "S": rec.side.name,
        "o": rec.order_type.value,
        "f": rec.time_in_force.value if rec.time_in_force is not None else "GTC",
        "q": fmt(rec.qty_raw, qty),
        "p": fmt(rec.price_raw, px),
        "P": fmt(rec.stop_raw, px),
        "F": fmt(0, qty),
        "g": -1,
        "C": rec.client_order_id if canceled else "",
        "x": execution.value,
        "X": rec.status.value,
        "r": reject_reason,
        "i": rec.order_id,
        "l": fmt(fill.qty_raw if fill else 0, qty),
        "z": fmt(rec.executed_raw, qty),
        "L": fmt(fill.price_raw if fill else 0, px),
        "n": fmt(fill.commission_raw, COMMISSION_DECIMALS) if fill else "0",
        "N": fill.commission_asset if fill else None,
        "T": fill.time_ms if fill else event_ms,
        "t": fill.trade_id if fill else -1,
        "I": execution_id,
        "w": rec.is_working,
        "m": fill.is_maker if fill else False,
        "M": False,
        "O": rec.time_ms,
        "Z": fmt(rec.cum_quote_raw, px),
        "Y": fmt(fill.quote_raw if fill else 0, px),
        "Q": fmt(rec.quote_qty_raw, px),
    }
    if rec.working_time_ms >= 0:
        out["W"] = rec.working_time_ms
    out["V"] = "NONE"
    return out


def account_position(event_ms: int, balances: Iterable[tuple[str, int, int, int]]) -> Json:
    """``outboundAccountPosition`` listing the assets that changed."""
    return {
        "e": "outboundAccountPosition",
        "E": event_ms,
        "u": event_ms,
        "B": [{"a": asset, "f": fmt(free, dp), "l": fmt(locked, dp)} for asset, free, locked, dp in balances],
    }


def listen_key_expired(event_ms: int, listen_key: str) -> Json:
    return {"e": "listenKeyExpired", "E": event_ms, "listenKey": listen_key}


# -- market streams ------------------------------------------------------------------------


def trade_frame(
    instrument: Instrument, *, event_ms: int, trade_id: int, price_raw: int, qty_raw: int, buyer_maker: bool
) -> Json:
    px, qty = decimals_of(instrument)
    return {
        "e": "trade",
        "E": event_ms,
        "s": instrument.id.symbol.value,
        "t": trade_id,
        "p": fmt(price_raw, px),
        "q": fmt(qty_raw, qty),
        "T": event_ms,
        "m": buyer_maker,
        "M": True,
    }


def agg_trade_frame(
    instrument: Instrument,
    *,
    event_ms: int,
    agg_id: int,
    trade_id: int,
    price_raw: int,
    qty_raw: int,
    buyer_maker: bool,
) -> Json:
    px, qty = decimals_of(instrument)
    return {
        "e": "aggTrade",
        "E": event_ms,
        "s": instrument.id.symbol.value,
        "a": agg_id,
        "p": fmt(price_raw, px),
        "q": fmt(qty_raw, qty),
        "f": trade_id,
        "l": trade_id,
        "T": event_ms,
        "m": buyer_maker,
        "M": True,
    }


def book_ticker_frame(instrument: Instrument, update_id: int, bid: Level, ask: Level) -> Json:
    """Spot ``bookTicker``: ``u`` is the book's update id; an empty side is all zeros."""
    px, qty = decimals_of(instrument)
    return {
        "u": update_id,
        "s": instrument.id.symbol.value,
        "b": fmt(bid[0], px),
        "B": fmt(bid[1], qty),
        "a": fmt(ask[0], px),
        "A": fmt(ask[1], qty),
    }


def _levels(levels: Iterable[Level], px: int, qty: int) -> list[list[str]]:
    return [[fmt(price, px), fmt(size, qty)] for price, size in levels]


def depth_update_frame(
    instrument: Instrument, *, event_ms: int, first_id: int, last_id: int, bids: Sequence[Level], asks: Sequence[Level]
) -> Json:
    """A ``depthUpdate`` diff: levels to set (size 0 removes), ids ``U``..``u``."""
    px, qty = decimals_of(instrument)
    return {
        "e": "depthUpdate",
        "E": event_ms,
        "s": instrument.id.symbol.value,
        "U": first_id,
        "u": last_id,
        "b": _levels(bids, px, qty),
        "a": _levels(asks, px, qty),
    }


def partial_depth_frame(instrument: Instrument, update_id: int, bids: Sequence[Level], asks: Sequence[Level]) -> Json:
    """A partial book (``<symbol>@depth5`` and ``GET /api/v3/depth``): best levels first."""
    px, qty = decimals_of(instrument)
    return {"lastUpdateId": update_id, "bids": _levels(bids, px, qty), "asks": _levels(asks, px, qty)}
