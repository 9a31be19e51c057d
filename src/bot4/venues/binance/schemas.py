"""Binance spot wire messages as typed structs, in Binance's own field names.

Each struct maps readable attribute names to Binance's wire names (``rename``), so the wire
name of every field is written here once: ``Trade.price`` is ``"p"`` on the wire. Prices and
quantities stay the exact decimal strings Binance sends; :mod:`.parsing` turns them into
domain values. Unknown extra fields are ignored (Binance adds fields over time); a missing
required field or a wrong type raises ``msgspec.ValidationError``, which :mod:`.parsing`
turns into a ``ParseProblem``.

Three decoding entry points:

- :func:`decode_market` for market streams, raw (``{"e": "trade", ...}``) or combined
  (``{"stream": "btcusdt@trade", "data": {...}}``); events are told apart by their ``e``
  field, and the two without one (``bookTicker``, partial ``depthN``) by their stream name or
  shape. An event type nobody declared comes back as :class:`Unknown`, not an exception.
- :func:`decode_user` for user-data streams: raw, combined (``stream`` = listen key) or the
  WebSocket API's ``{"subscriptionId": n, "event": {...}}``.
- :func:`decode_rest` for REST response bodies into any struct here.
"""

from __future__ import annotations

from typing import Any, NamedTuple, TypeVar

import msgspec

__all__ = [
    "AccountInfo",
    "AggTrade",
    "Balance",
    "BalanceEntry",
    "BalanceUpdate",
    "BookTicker",
    "CancelResponse",
    "CombinedStream",
    "DepthSnapshot",
    "DepthUpdate",
    "ErrorBody",
    "EventStreamTerminated",
    "ExchangeInfo",
    "ExecutionReport",
    "ExternalLockUpdate",
    "Fill",
    "Kline",
    "KlineData",
    "ListOrder",
    "ListStatus",
    "ListenKey",
    "ListenKeyExpired",
    "LotSize",
    "MarketLotSize",
    "MarketMessage",
    "MarketPayload",
    "MinNotional",
    "MyTrade",
    "NewOrderResponse",
    "Notional",
    "Order",
    "OtherFilter",
    "OutboundAccountPosition",
    "PriceFilter",
    "RateLimit",
    "ServerTime",
    "StreamError",
    "SubscriptionResponse",
    "SymbolFilter",
    "SymbolInfo",
    "Trade",
    "Unknown",
    "UserMessage",
    "UserPayload",
    "decode_market",
    "decode_rest",
    "decode_user",
]

T = TypeVar("T")
Level = tuple[str, str]  # [price, quantity] as Binance sends them


def _mask(secret: str | None) -> str:
    return "None" if secret is None else repr(secret[:4] + "***")


# -- market streams -----------------------------------------------------------------------------


class Trade(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    tag_field="e",
    tag="trade",
    rename={
        "event_time": "E",
        "symbol": "s",
        "trade_id": "t",
        "price": "p",
        "quantity": "q",
        "trade_time": "T",
        "buyer_is_maker": "m",
        "ignore": "M",
        "buyer_order_id": "b",
        "seller_order_id": "a",
    },
):
    """``<symbol>@trade``: one trade between a buyer and a seller."""

    event_time: int
    symbol: str
    trade_id: int
    price: str
    quantity: str
    trade_time: int
    buyer_is_maker: bool
    ignore: bool | None = None
    buyer_order_id: int | None = None  # dropped from the stream by Binance in 2023
    seller_order_id: int | None = None


class AggTrade(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    tag_field="e",
    tag="aggTrade",
    rename={
        "event_time": "E",
        "symbol": "s",
        "agg_trade_id": "a",
        "price": "p",
        "quantity": "q",
        "first_trade_id": "f",
        "last_trade_id": "l",
        "trade_time": "T",
        "buyer_is_maker": "m",
        "ignore": "M",
    },
):
    """``<symbol>@aggTrade``: trades of one taker order at one price, aggregated."""

    event_time: int
    symbol: str
    agg_trade_id: int
    price: str
    quantity: str
    first_trade_id: int
    last_trade_id: int
    trade_time: int
    buyer_is_maker: bool
    ignore: bool | None = None


class BookTicker(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    rename={
        "update_id": "u",
        "symbol": "s",
        "bid_price": "b",
        "bid_qty": "B",
        "ask_price": "a",
        "ask_qty": "A",
        "event_time": "E",
        "transaction_time": "T",
    },
):
    """``<symbol>@bookTicker``: best bid and ask; ``update_id`` is the order book's update id.

    Spot sends no event type and no time; some captures carry ``E``/``T`` (kept when present).
    """

    update_id: int
    symbol: str
    bid_price: str
    bid_qty: str
    ask_price: str
    ask_qty: str
    event_time: int | None = None
    transaction_time: int | None = None


class DepthUpdate(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    tag_field="e",
    tag="depthUpdate",
    rename={
        "event_time": "E",
        "symbol": "s",
        "first_update_id": "U",
        "final_update_id": "u",
        "bids": "b",
        "asks": "a",
        "transaction_time": "T",
        "previous_final_update_id": "pu",
    },
):
    """``<symbol>@depth[@100ms]``: level changes for update ids ``U..u``; quantity 0 removes."""

    event_time: int
    symbol: str
    first_update_id: int
    final_update_id: int
    bids: list[Level]
    asks: list[Level]
    transaction_time: int | None = None  # futures only
    previous_final_update_id: int | None = None  # futures only


class DepthSnapshot(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """REST ``GET /api/v3/depth`` and the partial ``<symbol>@depth<N>`` stream."""

    last_update_id: int
    bids: list[Level]
    asks: list[Level]


class KlineData(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    rename={
        "open_time": "t",
        "close_time": "T",
        "symbol": "s",
        "interval": "i",
        "first_trade_id": "f",
        "last_trade_id": "L",
        "open": "o",
        "close": "c",
        "high": "h",
        "low": "l",
        "volume": "v",
        "trade_count": "n",
        "closed": "x",
        "quote_volume": "q",
        "taker_buy_volume": "V",
        "taker_buy_quote_volume": "Q",
    },
):
    open_time: int
    close_time: int
    symbol: str
    interval: str
    open: str
    close: str
    high: str
    low: str
    volume: str
    closed: bool
    first_trade_id: int | None = None
    last_trade_id: int | None = None
    trade_count: int | None = None
    quote_volume: str | None = None
    taker_buy_volume: str | None = None
    taker_buy_quote_volume: str | None = None


class Kline(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    tag_field="e",
    tag="kline",
    rename={"event_time": "E", "symbol": "s", "kline": "k"},
):
    """``<symbol>@kline_<interval>``: the current candle; ``kline.closed`` once it is final."""

    event_time: int
    symbol: str
    kline: KlineData


class CombinedStream(msgspec.Struct, frozen=True, kw_only=True):
    """The ``/stream?streams=...`` envelope; ``data`` is the stream's own message, undecoded."""

    stream: str
    data: msgspec.Raw


class SubscriptionResponse(msgspec.Struct, frozen=True, kw_only=True):
    """The reply to a SUBSCRIBE/UNSUBSCRIBE/LIST_SUBSCRIPTIONS request on a stream connection."""

    result: Any
    id: int | str | None


class ErrorBody(msgspec.Struct, frozen=True, kw_only=True):
    """Binance's error body: ``{"code": -2010, "msg": "..."}``."""

    code: int
    msg: str


class StreamError(msgspec.Struct, frozen=True, kw_only=True):
    """An error reply on a stream connection: ``{"error": {"code": 2, "msg": ...}, "id": 1}``."""

    error: ErrorBody
    id: int | str | None = None


class Unknown(msgspec.Struct, frozen=True, kw_only=True):
    """A well-formed message of a type this adapter does not know; kept for diagnosis."""

    event_type: str
    payload: bytes


MarketPayload = (
    Trade
    | AggTrade
    | BookTicker
    | DepthUpdate
    | DepthSnapshot
    | Kline
    | SubscriptionResponse
    | StreamError
    | Unknown
)


class MarketMessage(NamedTuple):
    """A decoded market message and the stream it came on (None on a raw stream)."""

    stream: str | None
    payload: MarketPayload


# -- user data streams --------------------------------------------------------------------------


class ExecutionReport(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    tag_field="e",
    tag="executionReport",
    rename={
        "event_time": "E",
        "symbol": "s",
        "client_order_id": "c",
        "side": "S",
        "order_type": "o",
        "time_in_force": "f",
        "quantity": "q",
        "price": "p",
        "stop_price": "P",
        "iceberg_qty": "F",
        "order_list_id": "g",
        "orig_client_order_id": "C",
        "execution_type": "x",
        "order_status": "X",
        "reject_reason": "r",
        "order_id": "i",
        "last_qty": "l",
        "cumulative_qty": "z",
        "last_price": "L",
        "commission": "n",
        "commission_asset": "N",
        "transaction_time": "T",
        "trade_id": "t",
        "execution_id": "I",
        "is_working": "w",
        "is_maker": "m",
        "ignore": "M",
        "order_creation_time": "O",
        "cumulative_quote_qty": "Z",
        "last_quote_qty": "Y",
        "quote_order_qty": "Q",
        "working_time": "W",
        "self_trade_prevention_mode": "V",
        "trailing_delta": "d",
        "trailing_time": "D",
        "strategy_id": "j",
        "strategy_type": "J",
        "prevented_match_id": "v",
        "prevented_qty": "A",
        "last_prevented_qty": "B",
        "trade_group_id": "u",
        "counter_order_id": "U",
        "counter_symbol": "Cs",
        "prevented_execution_qty": "pl",
        "prevented_execution_price": "pL",
        "prevented_execution_quote_qty": "pY",
        "match_type": "b",
        "allocation_id": "a",
        "working_floor": "k",
        "used_sor": "uS",
        "pegged_price_type": "gP",
        "pegged_offset_type": "gOT",
        "pegged_offset_value": "gOV",
        "pegged_price": "gp",
        "expiry_reason": "eR",
    },
):
    """``executionReport``: one change to one order (new, trade, canceled, expired, ...).

    ``client_order_id`` (``c``) is the id of the request that caused the report: for a cancel
    it is the cancel's own id and the order's id is ``orig_client_order_id`` (``C``).
    """

    event_time: int
    symbol: str
    client_order_id: str
    side: str
    order_type: str
    time_in_force: str
    quantity: str
    price: str
    execution_type: str
    order_status: str
    reject_reason: str
    order_id: int
    last_qty: str
    cumulative_qty: str
    last_price: str
    commission: str
    commission_asset: str | None
    transaction_time: int
    trade_id: int
    is_maker: bool
    stop_price: str = "0"
    iceberg_qty: str = "0"
    order_list_id: int = -1
    orig_client_order_id: str = ""
    execution_id: int | None = None
    is_working: bool | None = None
    ignore: bool | None = None
    order_creation_time: int | None = None
    cumulative_quote_qty: str | None = None
    last_quote_qty: str | None = None
    quote_order_qty: str | None = None
    working_time: int | None = None
    self_trade_prevention_mode: str | None = None
    trailing_delta: int | None = None
    trailing_time: int | None = None
    strategy_id: int | None = None
    strategy_type: int | None = None
    prevented_match_id: int | None = None
    prevented_qty: str | None = None
    last_prevented_qty: str | None = None
    trade_group_id: int | None = None
    counter_order_id: int | None = None
    counter_symbol: str | None = None
    prevented_execution_qty: str | None = None
    prevented_execution_price: str | None = None
    prevented_execution_quote_qty: str | None = None
    match_type: str | None = None
    allocation_id: int | None = None
    working_floor: str | None = None
    used_sor: bool | None = None
    pegged_price_type: str | None = None
    pegged_offset_type: str | None = None
    pegged_offset_value: int | None = None
    pegged_price: str | None = None
    expiry_reason: str | None = None


class BalanceEntry(
    msgspec.Struct, frozen=True, kw_only=True, rename={"asset": "a", "free": "f", "locked": "l"}
):
    asset: str
    free: str
    locked: str


class OutboundAccountPosition(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    tag_field="e",
    tag="outboundAccountPosition",
    rename={"event_time": "E", "last_update_time": "u", "balances": "B"},
):
    """``outboundAccountPosition``: the balances that may have changed, in full."""

    event_time: int
    last_update_time: int
    balances: list[BalanceEntry]


class BalanceUpdate(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    tag_field="e",
    tag="balanceUpdate",
    rename={"event_time": "E", "asset": "a", "delta": "d", "clear_time": "T"},
):
    """``balanceUpdate``: a deposit, withdrawal or transfer changed one asset by ``delta``."""

    event_time: int
    asset: str
    delta: str
    clear_time: int


class ExternalLockUpdate(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    tag_field="e",
    tag="externalLockUpdate",
    rename={"event_time": "E", "asset": "a", "delta": "d", "transaction_time": "T"},
):
    """``externalLockUpdate``: part of a balance was locked or unlocked by another service."""

    event_time: int
    asset: str
    delta: str
    transaction_time: int


class ListOrder(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    rename={"symbol": "s", "order_id": "i", "client_order_id": "c"},
):
    symbol: str
    order_id: int
    client_order_id: str


class ListStatus(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    tag_field="e",
    tag="listStatus",
    rename={
        "event_time": "E",
        "symbol": "s",
        "order_list_id": "g",
        "contingency_type": "c",
        "list_status_type": "l",
        "list_order_status": "L",
        "list_reject_reason": "r",
        "list_client_order_id": "C",
        "transaction_time": "T",
        "orders": "O",
    },
):
    """``listStatus``: an order list (OCO, OTO, ...) changed; its orders report separately."""

    event_time: int
    symbol: str
    order_list_id: int
    contingency_type: str
    list_status_type: str
    list_order_status: str
    list_reject_reason: str
    list_client_order_id: str
    transaction_time: int
    orders: list[ListOrder]


class ListenKeyExpired(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    tag_field="e",
    tag="listenKeyExpired",
    rename={"event_time": "E", "listen_key": "listenKey"},
):
    """``listenKeyExpired``: the stream's listen key expired; create a new one and reconnect."""

    event_time: int
    listen_key: str | None = None

    def __repr__(self) -> str:
        return (
            f"ListenKeyExpired(event_time={self.event_time}, listen_key={_mask(self.listen_key)})"
        )


class EventStreamTerminated(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    tag_field="e",
    tag="eventStreamTerminated",
    rename={"event_time": "E"},
):
    """``eventStreamTerminated``: the WebSocket API user-data subscription ended."""

    event_time: int


UserPayload = (
    ExecutionReport
    | OutboundAccountPosition
    | BalanceUpdate
    | ExternalLockUpdate
    | ListStatus
    | ListenKeyExpired
    | EventStreamTerminated
    | SubscriptionResponse
    | StreamError
    | Unknown
)


class UserMessage(NamedTuple):
    """A decoded user-data message and where it came from (stream name or subscription id)."""

    source: str | None
    payload: UserPayload


# -- REST -----------------------------------------------------------------------------------------


class ServerTime(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """``GET /api/v3/time``."""

    server_time: int


class ListenKey(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """``POST /api/v3/userDataStream``: the key that opens the user-data stream."""

    listen_key: str

    def __repr__(self) -> str:
        return f"ListenKey(listen_key={_mask(self.listen_key)})"


class RateLimit(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    rate_limit_type: str
    interval: str
    interval_num: int
    limit: int
    count: int | None = None


class PriceFilter(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    tag_field="filterType",
    tag="PRICE_FILTER",
    rename="camel",
):
    """Prices must be within ``min_price..max_price`` (0 = no bound) on the ``tick_size`` grid."""

    min_price: str
    max_price: str
    tick_size: str


class LotSize(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    tag_field="filterType",
    tag="LOT_SIZE",
    rename="camel",
):
    """Quantities must be within ``min_qty..max_qty`` on the ``step_size`` grid."""

    min_qty: str
    max_qty: str
    step_size: str


class MarketLotSize(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    tag_field="filterType",
    tag="MARKET_LOT_SIZE",
    rename="camel",
):
    """LOT_SIZE for MARKET orders (a step of 0 means the LOT_SIZE step applies)."""

    min_qty: str
    max_qty: str
    step_size: str


class MinNotional(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    tag_field="filterType",
    tag="MIN_NOTIONAL",
    rename="camel",
):
    """Price x quantity must reach ``min_notional`` (replaced by NOTIONAL on newer symbols)."""

    min_notional: str
    apply_to_market: bool | None = None
    avg_price_mins: int | None = None


class Notional(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    tag_field="filterType",
    tag="NOTIONAL",
    rename="camel",
):
    """Price x quantity must be within ``min_notional..max_notional``."""

    min_notional: str
    apply_min_to_market: bool | None = None
    max_notional: str | None = None
    apply_max_to_market: bool | None = None
    avg_price_mins: int | None = None


class OtherFilter(msgspec.Struct, frozen=True, kw_only=True):
    """A filter type this adapter does not check itself (PERCENT_PRICE, ICEBERG_PARTS, ...)."""

    filter_type: str
    params: dict[str, Any]


SymbolFilter = PriceFilter | LotSize | MarketLotSize | MinNotional | Notional
_FILTER_TYPES: dict[str, type[SymbolFilter]] = {
    "PRICE_FILTER": PriceFilter,
    "LOT_SIZE": LotSize,
    "MARKET_LOT_SIZE": MarketLotSize,
    "MIN_NOTIONAL": MinNotional,
    "NOTIONAL": Notional,
}


class SymbolInfo(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One symbol of ``exchangeInfo``; ``filters`` are kept as sent, typed by :meth:`typed_filters`."""

    symbol: str
    status: str
    base_asset: str
    base_asset_precision: int
    quote_asset: str
    quote_asset_precision: int
    filters: list[dict[str, Any]]
    quote_precision: int | None = None
    base_commission_precision: int | None = None
    quote_commission_precision: int | None = None
    order_types: list[str] = msgspec.field(default_factory=list)
    iceberg_allowed: bool | None = None
    oco_allowed: bool | None = None
    oto_allowed: bool | None = None
    quote_order_qty_market_allowed: bool | None = None
    allow_trailing_stop: bool | None = None
    cancel_replace_allowed: bool | None = None
    amend_allowed: bool | None = None
    is_spot_trading_allowed: bool | None = None
    is_margin_trading_allowed: bool | None = None
    permissions: list[str] = msgspec.field(default_factory=list)
    permission_sets: list[list[str]] = msgspec.field(default_factory=list)
    default_self_trade_prevention_mode: str | None = None
    allowed_self_trade_prevention_modes: list[str] = msgspec.field(default_factory=list)

    def typed_filters(self) -> list[SymbolFilter | OtherFilter]:
        """Return every filter, typed where this adapter knows it; raise on a malformed one."""
        out: list[SymbolFilter | OtherFilter] = []
        for raw in self.filters:
            kind = raw.get("filterType")
            if not isinstance(kind, str):
                raise msgspec.ValidationError(f"filter without a filterType in {self.symbol}")
            known = _FILTER_TYPES.get(kind)
            if known is None:
                params = {k: v for k, v in raw.items() if k != "filterType"}
                out.append(OtherFilter(filter_type=kind, params=params))
            else:
                out.append(msgspec.convert(raw, known))
        return out


class ExchangeInfo(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """``GET /api/v3/exchangeInfo``."""

    timezone: str
    server_time: int
    rate_limits: list[RateLimit]
    exchange_filters: list[dict[str, Any]]
    symbols: list[SymbolInfo]


class Fill(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One trade inside a FULL new-order response."""

    price: str
    qty: str
    commission: str
    commission_asset: str
    trade_id: int


class NewOrderResponse(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """``POST /api/v3/order``: ACK has the ids only, RESULT adds the state, FULL adds ``fills``."""

    symbol: str
    order_id: int
    client_order_id: str
    transact_time: int
    order_list_id: int = -1
    price: str | None = None
    orig_qty: str | None = None
    executed_qty: str | None = None
    orig_quote_order_qty: str | None = None
    cummulative_quote_qty: str | None = None  # sic: Binance's spelling
    status: str | None = None
    time_in_force: str | None = None
    type: str | None = None
    side: str | None = None
    stop_price: str | None = None
    working_time: int | None = None
    self_trade_prevention_mode: str | None = None
    fills: list[Fill] = msgspec.field(default_factory=list)


class Order(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """``GET /api/v3/order``, ``/openOrders`` and ``/allOrders``: one order as Binance sees it."""

    symbol: str
    order_id: int
    client_order_id: str
    price: str
    orig_qty: str
    executed_qty: str
    cummulative_quote_qty: str
    status: str
    time_in_force: str
    type: str
    side: str
    time: int
    update_time: int
    order_list_id: int = -1
    stop_price: str = "0"
    iceberg_qty: str | None = None
    is_working: bool | None = None
    working_time: int | None = None
    orig_quote_order_qty: str | None = None
    self_trade_prevention_mode: str | None = None


class CancelResponse(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """``DELETE /api/v3/order``: the canceled order; ``orig_client_order_id`` is ours."""

    symbol: str
    orig_client_order_id: str
    order_id: int
    client_order_id: str
    price: str
    orig_qty: str
    executed_qty: str
    cummulative_quote_qty: str
    status: str
    time_in_force: str
    type: str
    side: str
    order_list_id: int = -1
    transact_time: int | None = None
    stop_price: str | None = None
    orig_quote_order_qty: str | None = None
    self_trade_prevention_mode: str | None = None


class Balance(msgspec.Struct, frozen=True, kw_only=True):
    asset: str
    free: str
    locked: str


class AccountInfo(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """``GET /api/v3/account``."""

    balances: list[Balance]
    update_time: int
    can_trade: bool | None = None
    can_withdraw: bool | None = None
    can_deposit: bool | None = None
    account_type: str | None = None
    maker_commission: int | None = None
    taker_commission: int | None = None
    commission_rates: dict[str, str] | None = None
    permissions: list[str] = msgspec.field(default_factory=list)
    uid: int | None = None


class MyTrade(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """``GET /api/v3/myTrades``: one of our fills."""

    symbol: str
    id: int
    order_id: int
    price: str
    qty: str
    quote_qty: str
    commission: str
    commission_asset: str
    time: int
    is_buyer: bool
    is_maker: bool
    order_list_id: int = -1
    is_best_match: bool | None = None


# -- decoding -------------------------------------------------------------------------------------


# ``msgspec.Raw`` cannot sit in a union (``Raw | None`` only ever accepts null), so an absent
# payload is the empty ``Raw()``.
_ABSENT = msgspec.Raw()


class _MarketFrame(msgspec.Struct):
    stream: str | None = None
    data: msgspec.Raw = _ABSENT
    result: Any = msgspec.UNSET
    error: Any = msgspec.UNSET


class _UserFrame(msgspec.Struct, rename="camel"):
    stream: str | None = None
    data: msgspec.Raw = _ABSENT
    subscription_id: int | None = None
    event: msgspec.Raw = _ABSENT
    result: Any = msgspec.UNSET
    error: Any = msgspec.UNSET


class _Probe(msgspec.Struct, rename={"event_type": "e", "last_update_id": "lastUpdateId"}):
    event_type: str | None = None
    last_update_id: Any = None


_MARKET_FRAME = msgspec.json.Decoder(_MarketFrame)
_USER_FRAME = msgspec.json.Decoder(_UserFrame)
_PROBE = msgspec.json.Decoder(_Probe)
_BOOK_TICKER = msgspec.json.Decoder(BookTicker)
_SNAPSHOT = msgspec.json.Decoder(DepthSnapshot)
_SUBSCRIPTION = msgspec.json.Decoder(SubscriptionResponse)
_STREAM_ERROR = msgspec.json.Decoder(StreamError)

_MARKET_EVENTS: dict[str, msgspec.json.Decoder[Any]] = {
    "trade": msgspec.json.Decoder(Trade),
    "aggTrade": msgspec.json.Decoder(AggTrade),
    "depthUpdate": msgspec.json.Decoder(DepthUpdate),
    "kline": msgspec.json.Decoder(Kline),
}
_USER_EVENTS: dict[str, msgspec.json.Decoder[Any]] = {
    "executionReport": msgspec.json.Decoder(ExecutionReport),
    "outboundAccountPosition": msgspec.json.Decoder(OutboundAccountPosition),
    "balanceUpdate": msgspec.json.Decoder(BalanceUpdate),
    "externalLockUpdate": msgspec.json.Decoder(ExternalLockUpdate),
    "listStatus": msgspec.json.Decoder(ListStatus),
    "listenKeyExpired": msgspec.json.Decoder(ListenKeyExpired),
    "eventStreamTerminated": msgspec.json.Decoder(EventStreamTerminated),
}


def _control(
    raw: bytes | str | msgspec.Raw, result: Any, error: Any
) -> SubscriptionResponse | StreamError | None:
    if error is not msgspec.UNSET:
        return _STREAM_ERROR.decode(raw)
    if result is not msgspec.UNSET:
        return _SUBSCRIPTION.decode(raw)
    return None


def decode_market(raw: bytes | str) -> MarketMessage:
    """Decode one market-stream frame; raise ``msgspec.DecodeError``/``ValidationError`` if bad."""
    frame = _MARKET_FRAME.decode(raw)
    if frame.stream is not None or frame.data:
        if frame.stream is None or not frame.data:
            raise msgspec.ValidationError("a combined-stream frame needs both `stream` and `data`")
        return MarketMessage(frame.stream, _market_payload(frame.data, frame.stream))
    control = _control(raw, frame.result, frame.error)
    if control is not None:
        return MarketMessage(None, control)
    return MarketMessage(None, _market_payload(raw, None))


def _market_payload(data: bytes | str | msgspec.Raw, stream: str | None) -> MarketPayload:
    probe = _PROBE.decode(data)
    kind = probe.event_type
    if kind is not None:
        decoder = _MARKET_EVENTS.get(kind)
        if decoder is None:
            return Unknown(event_type=kind, payload=_as_bytes(data))
        payload: MarketPayload = decoder.decode(data)
        return payload
    if probe.last_update_id is not None:
        return _SNAPSHOT.decode(data)  # REST snapshot or the partial depth<N> stream
    if stream is None or stream.endswith("@bookTicker"):
        return _BOOK_TICKER.decode(data)
    return Unknown(event_type=stream.rpartition("@")[2] or stream, payload=_as_bytes(data))


def decode_user(raw: bytes | str) -> UserMessage:
    """Decode one user-data frame (raw, combined or WebSocket API); raise if malformed."""
    frame = _USER_FRAME.decode(raw)
    if frame.event:
        source = None if frame.subscription_id is None else str(frame.subscription_id)
        return UserMessage(source, _user_payload(frame.event))
    if frame.stream is not None or frame.data:
        if frame.stream is None or not frame.data:
            raise msgspec.ValidationError("a combined-stream frame needs both `stream` and `data`")
        return UserMessage(frame.stream, _user_payload(frame.data))
    control = _control(raw, frame.result, frame.error)
    if control is not None:
        return UserMessage(None, control)
    return UserMessage(None, _user_payload(raw))


def _user_payload(data: bytes | str | msgspec.Raw) -> UserPayload:
    kind = _PROBE.decode(data).event_type
    if kind is None:
        raise msgspec.ValidationError("Object missing required field `e`")
    decoder = _USER_EVENTS.get(kind)
    if decoder is None:
        return Unknown(event_type=kind, payload=_as_bytes(data))
    payload: UserPayload = decoder.decode(data)
    return payload


_REST_DECODERS: dict[Any, msgspec.json.Decoder[Any]] = {}


def _rest_decoder(type_: Any) -> msgspec.json.Decoder[Any]:
    decoder = _REST_DECODERS.get(type_)
    if decoder is None:
        decoder = _REST_DECODERS[type_] = msgspec.json.Decoder(type_)
    return decoder


def decode_rest(raw: bytes | str, type_: type[T]) -> T:
    """Decode a REST body into ``type_`` (a struct here, or e.g. ``list[Order]``)."""
    result: T = _rest_decoder(type_).decode(raw)
    return result


def _as_bytes(data: bytes | str | msgspec.Raw) -> bytes:
    if isinstance(data, str):
        return data.encode("utf-8", "replace")
    return bytes(data)
