"""The only route from Binance wire messages to Bot4 domain objects.

A :class:`Parser` knows the instruments by Binance symbol and how to find the strategy of a
client order id. Its ``parse_*`` methods take raw bytes (or text) and never raise for bad
input: they return domain objects, or a :class:`ParseProblem` that keeps the payload
(truncated to ``max_raw_chars``) and the reason, counted per reason in :attr:`Parser.stats`.
The struct-level methods (``trade_tick``, ``order_events``, ...) take decoded
:mod:`.schemas` structs and raise typed errors (:class:`InvalidDataError`,
:class:`UnknownInstrumentError`, :class:`PrecisionError`) for values that make no sense.

Mapping rules worth knowing:

- Prices and sizes are exact. They carry the instrument's precision when they fit its tick
  and step, else the decimals they need (a book level finer than today's step stays exact).
- ``depthUpdate`` -> :class:`BookDeltas` with ``first_sequence = U``, ``sequence = u``; a
  size of 0 is a DELETE. Sync the book with :class:`~bot4.venues.binance.book.BookSync`.
- ``bookTicker`` has no time on spot: ``ts_event = ts_init`` unless ``E``/``T`` are present.
- ``executionReport`` (``ts_event`` = its transaction time ``T``) by execution type ``x``:
  NEW -> OrderAccepted; TRADE/CALCULATED -> OrderFilled when ``l`` > 0, followed by
  OrderCanceled/OrderExpired when the status ``X`` says the order ended; CANCELED ->
  OrderCanceled (status ``PENDING_CANCEL`` -> nothing yet); REJECTED -> OrderRejected (code =
  Binance's reject reason); EXPIRED, and TRADE_PREVENTION with status EXPIRED_IN_MATCH (STP)
  -> OrderExpired; REPLACED (amended) -> OrderUpdated; PENDING_NEW -> nothing yet. Our
  order's id is ``C`` (the order a cancel canceled) when set, else ``c``; an order without
  one is ``EXT-<order id>``, as reconciliation names external orders. A client order id the
  strategy lookup does not know belongs to strategy ``EXTERNAL``.
- A fill reported with ``L`` = 0 takes the order's limit price; without one it is a problem.
- Money (commissions, balances) uses one currency object per asset (the instruments');
  an amount finer than that currency's precision is rounded half-even rather than dropped.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

import msgspec

from bot4.core.errors import Bot4Error, InvalidDataError, InvalidInputError, UnknownInstrumentError
from bot4.core.ids import (
    AccountId,
    ClientOrderId,
    InstrumentId,
    StrategyId,
    Symbol,
    TradeId,
    Venue,
    VenueOrderId,
)
from bot4.core.numbers import (
    FIXED_PRECISION,
    FIXED_SCALAR,
    Currency,
    Money,
    Price,
    Quantity,
    to_raw,
)
from bot4.execution.reconciliation import EXTERNAL_STRATEGY, FillReport, OrderStatusReport
from bot4.model.account import AccountBalance, AccountState
from bot4.model.data import (
    Bar,
    BarType,
    BookDelta,
    BookDeltas,
    BookLevel,
    BookSnapshot,
    MarketData,
    QuoteTick,
    TradeTick,
)
from bot4.model.enums import (
    AccountType,
    AggressorSide,
    BarAggregation,
    BookAction,
    LiquiditySide,
    OrderSide,
    OrderStatus,
    OrderType,
)
from bot4.model.events import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderUpdated,
)
from bot4.model.instrument import Instrument
from bot4.venues.binance import schemas as wire

__all__ = [
    "ParseProblem",
    "ParseStats",
    "Parser",
    "ProblemReason",
    "UserData",
    "UserStreamEnded",
    "decode",
    "instruments_from_exchange_info",
    "parse_instrument",
]

T = TypeVar("T")

MAX_RAW_CHARS = 4096
_POW10 = [10**i for i in range(FIXED_PRECISION + 1)]
_MAX_RAW = 10**30  # 10^21 units: far beyond any real price or size, refuses absurd input
_MS = 1_000_000


class ProblemReason(Enum):
    """Why a message could not be turned into domain objects."""

    NOT_JSON = "not_json"  # an HTML page, an empty body, binary garbage
    MALFORMED_JSON = "malformed_json"  # truncated or broken JSON
    INVALID_FIELD = "invalid_field"  # a missing field, a wrong type, a wrong shape
    INVALID_VALUE = "invalid_value"  # well-formed but impossible: bad decimal, U > u, side "UP"
    UNKNOWN_EVENT = "unknown_event"  # an event or execution type this adapter does not know
    UNKNOWN_INSTRUMENT = "unknown_instrument"  # a symbol without an instrument
    UNSUPPORTED = "unsupported"  # known to Binance, not mappable here (a weekly kline)
    ERROR_REPLY = "error_reply"  # the venue answered with an error on a stream


class ParseProblem(msgspec.Struct, frozen=True, kw_only=True):
    """A message that produced nothing, with why and the payload as received (truncated)."""

    reason: ProblemReason
    message: str
    raw: str
    raw_size: int
    ts_init: int
    context: dict[str, str] = msgspec.field(default_factory=dict)

    @property
    def truncated(self) -> bool:
        return len(self.raw) < self.raw_size

    def to_error(self) -> InvalidInputError:
        """The typed error for this problem, e.g. to raise where bad input must stop a run."""
        if self.reason is ProblemReason.UNKNOWN_INSTRUMENT:
            return UnknownInstrumentError(self.message, **self.context)
        return InvalidDataError(
            self.message, **{**self.context, "reason": self.reason.value, "raw": self.raw[:200]}
        )


class UserStreamEnded(msgspec.Struct, frozen=True, kw_only=True):
    """The user-data stream ended (listen key expired or subscription terminated): renew it."""

    reason: str
    ts_event: int
    ts_init: int


UserData = OrderEvent | AccountState | UserStreamEnded


class ParseStats:
    """What a parser saw: messages understood (``parsed``, even those that carry no domain
    object, like an unfinished kline), control frames (subscription replies), problems."""

    __slots__ = ("control", "parsed", "problems", "recent")

    def __init__(self, keep: int) -> None:
        self.parsed = 0
        self.control = 0
        self.problems: Counter[ProblemReason] = Counter()
        self.recent: deque[ParseProblem] = deque(maxlen=keep)

    @property
    def problem_count(self) -> int:
        return sum(self.problems.values())

    def as_dict(self) -> dict[str, int]:
        out = {"parsed": self.parsed, "control": self.control}
        out.update(
            {
                f"problem.{reason.value}": n
                for reason, n in sorted(self.problems.items(), key=lambda i: i[0].value)
            }
        )
        return out


# -- numbers ------------------------------------------------------------------------------------


def _raw(text: str, field: str) -> int:
    """Exact raw value (1e-9 units) of a Binance decimal string; non-negative."""
    whole, _, frac = text.partition(".")
    # Fast path for the plain "123.4500" Binance sends: 0.7 us against to_raw's 1.3 us, and a
    # depth diff carries ~36 levels (two decimals each) in the BTCUSDT capture.
    if (
        whole.isascii()
        and whole.isdigit()
        and len(whole) <= 21
        and (not frac or (frac.isascii() and frac.isdigit()))
    ):
        if len(frac) <= FIXED_PRECISION:
            raw = int(whole) * FIXED_SCALAR + (
                int(frac) * _POW10[FIXED_PRECISION - len(frac)] if frac else 0
            )
            if raw <= _MAX_RAW:
                return raw
    try:
        raw, _ = to_raw(text)
    except InvalidInputError as error:
        raise InvalidDataError(
            "expected a decimal string", field=field, value=text[:40], problem=error.message
        ) from None
    if raw < 0 or raw > _MAX_RAW:
        raise InvalidDataError("decimal out of range", field=field, value=text[:40])
    return raw


def _decimals_needed(raw: int) -> int:
    decimals = FIXED_PRECISION
    while decimals > 0 and raw % 10 == 0:
        raw //= 10
        decimals -= 1
    return decimals


def _precision(raw: int, precision: int) -> int:
    return precision if raw % _POW10[FIXED_PRECISION - precision] == 0 else _decimals_needed(raw)


def _ns(ms: int, field: str) -> int:
    if ms < 0 or ms > 10**14:
        raise InvalidDataError(
            "timestamp out of range (milliseconds expected)", field=field, value=ms
        )
    return ms * _MS


def _side(text: str, field: str = "S") -> OrderSide:
    if text == "BUY":
        return OrderSide.BUY
    if text == "SELL":
        return OrderSide.SELL
    raise InvalidDataError("side must be BUY or SELL", field=field, value=text[:40])


_ORDER_TYPES = {
    "LIMIT": OrderType.LIMIT,
    "LIMIT_MAKER": OrderType.LIMIT,
    "MARKET": OrderType.MARKET,
    "STOP_LOSS": OrderType.STOP_MARKET,
    "TAKE_PROFIT": OrderType.STOP_MARKET,
    "STOP_LOSS_LIMIT": OrderType.STOP_LIMIT,
    "TAKE_PROFIT_LIMIT": OrderType.STOP_LIMIT,
}
_ORDER_STATUSES = {
    "NEW": OrderStatus.ACCEPTED,
    "PENDING_NEW": OrderStatus.SUBMITTED,  # an order list's pending order: not on the book yet
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELED,
    "PENDING_CANCEL": OrderStatus.ACCEPTED,  # still working until the cancel completes
    "REJECTED": OrderStatus.REJECTED,
    "EXPIRED": OrderStatus.EXPIRED,
    "EXPIRED_IN_MATCH": OrderStatus.EXPIRED,
}
_INTERVALS = {
    "s": BarAggregation.SECOND,
    "m": BarAggregation.MINUTE,
    "h": BarAggregation.HOUR,
    "d": BarAggregation.DAY,
}


# -- instruments --------------------------------------------------------------------------------


def _currency_map(symbols: Iterable[wire.SymbolInfo]) -> dict[str, Currency]:
    """One :class:`Currency` per asset, at the largest precision any symbol quotes it in.

    One object per code keeps money of one asset addable across instruments.
    """
    precision: dict[str, int] = {}
    for info in symbols:
        for code, digits in (
            (info.base_asset, info.base_asset_precision),
            (info.quote_asset, info.quote_asset_precision),
        ):
            precision[code] = max(precision.get(code, 0), min(max(digits, 0), FIXED_PRECISION))
    out: dict[str, Currency] = {}
    for code, digits in precision.items():
        try:
            out[code] = Currency(code, digits)
        except InvalidInputError:
            continue  # reported when an instrument needs it
    return out


def parse_instrument(
    info: wire.SymbolInfo,
    *,
    venue: Venue | str = "BINANCE",
    currencies: Mapping[str, Currency] | None = None,
) -> Instrument:
    """Build the instrument of one ``exchangeInfo`` symbol from its filters; raise if unusable.

    PRICE_FILTER gives the tick and price bounds, LOT_SIZE the step and quantity bounds,
    NOTIONAL (else MIN_NOTIONAL) the minimum notional; a bound of 0 means none.
    """
    venue_id = venue if isinstance(venue, Venue) else Venue.from_str(venue)
    instrument_id = InstrumentId(Symbol.from_str(info.symbol), venue_id)
    try:
        filters = info.typed_filters()
    except (msgspec.ValidationError, InvalidInputError) as error:
        raise InvalidDataError("malformed filter", symbol=info.symbol, problem=str(error)) from None
    price = next((f for f in filters if isinstance(f, wire.PriceFilter)), None)
    lot = next((f for f in filters if isinstance(f, wire.LotSize)), None)
    notional: wire.Notional | wire.MinNotional | None = next(
        (f for f in filters if isinstance(f, wire.Notional)), None
    )
    if notional is None:
        notional = next((f for f in filters if isinstance(f, wire.MinNotional)), None)
    if price is None or lot is None:
        raise InvalidDataError("symbol lacks PRICE_FILTER or LOT_SIZE", symbol=info.symbol)

    def bound(text: str | None, field: str) -> str | None:
        return None if text is None or _raw(text, field) == 0 else text

    known = currencies or {}
    base = known.get(info.base_asset) or Currency(
        info.base_asset, min(max(info.base_asset_precision, 0), FIXED_PRECISION)
    )
    quote = known.get(info.quote_asset) or Currency(
        info.quote_asset, min(max(info.quote_asset_precision, 0), FIXED_PRECISION)
    )
    return Instrument.create(
        instrument_id=instrument_id,
        base=base,
        quote=quote,
        tick_size=price.tick_size,
        step_size=lot.step_size,
        min_quantity=bound(lot.min_qty, "minQty"),
        max_quantity=bound(lot.max_qty, "maxQty"),
        min_notional=None if notional is None else bound(notional.min_notional, "minNotional"),
        min_price=bound(price.min_price, "minPrice"),
        max_price=bound(price.max_price, "maxPrice"),
    )


def instruments_from_exchange_info(
    info: wire.ExchangeInfo,
    *,
    venue: Venue | str = "BINANCE",
    symbols: Iterable[str] | None = None,
    trading_only: bool = False,
) -> tuple[list[Instrument], list[ParseProblem]]:
    """Build the instruments of ``exchangeInfo`` (only ``symbols`` when given).

    A symbol that cannot become an instrument is reported as a problem and skipped; so is a
    requested symbol Binance does not list. ``trading_only`` skips symbols not TRADING.
    """
    wanted = None if symbols is None else set(symbols)
    currencies = _currency_map(info.symbols)
    instruments: list[Instrument] = []
    problems: list[ParseProblem] = []
    seen: set[str] = set()
    for symbol_info in info.symbols:
        if wanted is not None and symbol_info.symbol not in wanted:
            continue
        seen.add(symbol_info.symbol)
        if trading_only and symbol_info.status != "TRADING":
            continue
        try:
            instruments.append(parse_instrument(symbol_info, venue=venue, currencies=currencies))
        except InvalidInputError as error:
            raw = msgspec.json.encode(symbol_info).decode()
            problems.append(_problem(ProblemReason.INVALID_VALUE, error, raw, 0))
    for missing in sorted((wanted or set()) - seen):
        problems.append(
            ParseProblem(
                reason=ProblemReason.UNKNOWN_INSTRUMENT,
                message="exchangeInfo does not list this symbol",
                raw="",
                raw_size=0,
                ts_init=0,
                context={"symbol": missing},
            )
        )
    return instruments, problems


# -- problems -----------------------------------------------------------------------------------


def _clip(raw: bytes | str, limit: int) -> str:
    if isinstance(raw, str):
        return raw[:limit]
    return raw[:limit].decode("utf-8", "replace")


def _problem(
    reason: ProblemReason,
    error: BaseException | str,
    raw: bytes | str,
    ts_init: int,
    limit: int = MAX_RAW_CHARS,
) -> ParseProblem:
    if isinstance(error, Bot4Error):
        message = error.message
        context = {key: str(value)[:200] for key, value in error.context.items()}
    else:
        message, context = str(error)[:500], {}
    return ParseProblem(
        reason=reason,
        message=message,
        raw=_clip(raw, limit),
        raw_size=len(raw),
        ts_init=ts_init,
        context=context,
    )


def _classify(error: Exception, raw: bytes | str) -> ProblemReason:
    if isinstance(error, msgspec.ValidationError):
        return ProblemReason.INVALID_FIELD
    if isinstance(error, RecursionError):
        return ProblemReason.MALFORMED_JSON
    if isinstance(error, msgspec.DecodeError):
        head = raw[:64].lstrip()
        opener = head[:1] if isinstance(head, bytes) else head[:1].encode("utf-8", "replace")
        return ProblemReason.MALFORMED_JSON if opener in (b"{", b"[") else ProblemReason.NOT_JSON
    if isinstance(error, UnknownInstrumentError):
        return ProblemReason.UNKNOWN_INSTRUMENT
    if isinstance(error, _UnknownEvent):
        return ProblemReason.UNKNOWN_EVENT
    if isinstance(error, _Unsupported):
        return ProblemReason.UNSUPPORTED
    if isinstance(error, _ErrorReply):
        return ProblemReason.ERROR_REPLY
    if isinstance(error, UnicodeError):
        return ProblemReason.NOT_JSON
    return ProblemReason.INVALID_VALUE


class _UnknownEvent(InvalidDataError):
    pass


class _Unsupported(InvalidDataError):
    pass


class _ErrorReply(InvalidDataError):
    pass


# Everything bad input can raise below: msgspec's errors (ValueError subclasses), our typed
# errors, ValueError/ArithmeticError from decimal work and RecursionError from absurdly deep
# JSON (msgspec raises it). Anything else is a bug here and must surface (the fuzz tests
# check none does).
_BAD_INPUT = (ValueError, ArithmeticError, RecursionError, Bot4Error)


def decode(
    raw: bytes | str, type_: type[T], *, ts_init: int = 0, max_raw_chars: int = MAX_RAW_CHARS
) -> T | ParseProblem:
    """Decode a REST body into a :mod:`.schemas` type, or return the problem."""
    try:
        return wire.decode_rest(raw, type_)
    except _BAD_INPUT as error:
        return _problem(_classify(error, raw), error, raw, ts_init, max_raw_chars)


# -- the parser ---------------------------------------------------------------------------------


class Parser:
    """Binance wire messages -> Bot4 domain objects, for a known set of instruments."""

    def __init__(
        self,
        instruments: Iterable[Instrument],
        *,
        venue: Venue | str = "BINANCE",
        account_id: AccountId | None = None,
        strategy_for: Callable[[ClientOrderId], StrategyId | None] | None = None,
        max_raw_chars: int = MAX_RAW_CHARS,
        keep_problems: int = 64,
    ) -> None:
        self.venue = venue if isinstance(venue, Venue) else Venue.from_str(venue)
        self.account_id = account_id or AccountId(f"{self.venue}-SPOT")
        self.max_raw_chars = max_raw_chars
        self.stats = ParseStats(keep_problems)
        self._strategy_for = strategy_for
        self._instruments: dict[str, Instrument] = {}
        self._currencies: dict[str, Currency] = {}
        for instrument in instruments:
            self.add_instrument(instrument)

    def add_instrument(self, instrument: Instrument) -> None:
        """Know ``instrument`` under its symbol; its currencies become the commission assets."""
        self._instruments[instrument.id.symbol.value] = instrument
        for currency in (instrument.base_currency, instrument.quote_currency):
            self._currencies.setdefault(currency.code, currency)

    def instrument(self, symbol: str) -> Instrument:
        """The instrument of a Binance symbol; :class:`UnknownInstrumentError` if none."""
        found = self._instruments.get(symbol)
        if found is None:
            raise UnknownInstrumentError(
                "no instrument for this Binance symbol", symbol=symbol[:40], venue=str(self.venue)
            )
        return found

    def currency(self, code: str) -> Currency:
        """The currency of an asset code: from the instruments, else 8 decimals (Binance's)."""
        found = self._currencies.get(code)
        return found if found is not None else Currency(code, 8)

    # -- raw entry points (never raise for bad input) ---------------------------------------

    def parse_market(
        self, raw: bytes | str, ts_init: int, *, symbol: str | None = None
    ) -> list[MarketData] | ParseProblem:
        """Parse one market-stream frame; ``symbol`` names a bare REST-style depth snapshot."""
        try:
            stream, payload = wire.decode_market(raw)
            if isinstance(payload, wire.SubscriptionResponse):
                self.stats.control += 1
                return []
            out = self._market(payload, stream, ts_init, symbol)
        except _BAD_INPUT as error:
            return self._record(error, raw, ts_init)
        self.stats.parsed += 1
        return out

    def parse_user(self, raw: bytes | str, ts_init: int) -> list[UserData] | ParseProblem:
        """Parse one user-data frame into order events, account states or a stream ending."""
        try:
            _, payload = wire.decode_user(raw)
            if isinstance(payload, wire.SubscriptionResponse):
                self.stats.control += 1
                return []
            out = self._user(payload, ts_init)
        except _BAD_INPUT as error:
            return self._record(error, raw, ts_init)
        self.stats.parsed += 1
        return out

    def parse_snapshot(
        self, raw: bytes | str, symbol: str, ts_init: int
    ) -> BookSnapshot | ParseProblem:
        """Parse a REST ``/api/v3/depth`` body for ``symbol``."""
        return self._guard(
            raw,
            ts_init,
            lambda: self.book_snapshot(wire.decode_rest(raw, wire.DepthSnapshot), symbol, ts_init),
        )

    def parse_order(self, raw: bytes | str, ts_init: int = 0) -> OrderStatusReport | ParseProblem:
        """Parse ``GET /api/v3/order``."""
        return self._guard(
            raw, ts_init, lambda: self.order_report(wire.decode_rest(raw, wire.Order))
        )

    def parse_cancel(self, raw: bytes | str, ts_init: int = 0) -> OrderStatusReport | ParseProblem:
        """Parse ``DELETE /api/v3/order``: the canceled order's final state."""
        return self._guard(
            raw, ts_init, lambda: self.order_report(wire.decode_rest(raw, wire.CancelResponse))
        )

    def parse_open_orders(
        self, raw: bytes | str, ts_init: int = 0
    ) -> list[OrderStatusReport] | ParseProblem:
        """Parse ``GET /api/v3/openOrders`` (or ``allOrders``)."""
        return self._guard(
            raw,
            ts_init,
            lambda: [self.order_report(o) for o in wire.decode_rest(raw, list[wire.Order])],
        )

    def parse_new_order(self, raw: bytes | str, ts_init: int) -> list[OrderEvent] | ParseProblem:
        """Parse ``POST /api/v3/order`` into OrderAccepted, the FULL response's fills, and an end."""
        return self._guard(
            raw,
            ts_init,
            lambda: self.new_order_events(wire.decode_rest(raw, wire.NewOrderResponse), ts_init),
        )

    def parse_my_trades(
        self, raw: bytes | str, ts_init: int = 0
    ) -> list[FillReport] | ParseProblem:
        """Parse ``GET /api/v3/myTrades``."""
        return self._guard(
            raw,
            ts_init,
            lambda: [self.fill_report(t) for t in wire.decode_rest(raw, list[wire.MyTrade])],
        )

    def parse_account(self, raw: bytes | str, ts_init: int) -> AccountState | ParseProblem:
        """Parse ``GET /api/v3/account``."""
        return self._guard(
            raw,
            ts_init,
            lambda: self.account_state(wire.decode_rest(raw, wire.AccountInfo), ts_init),
        )

    # -- struct -> domain (raise typed errors) ----------------------------------------------

    def trade_tick(self, msg: wire.Trade | wire.AggTrade, ts_init: int) -> TradeTick:
        inst = self.instrument(msg.symbol)
        price = self._price(inst, msg.price, "p")
        size = self._qty(inst, msg.quantity, "q")
        if price.raw <= 0 or size.raw <= 0:
            raise InvalidDataError(
                "trade price and quantity must be positive",
                symbol=msg.symbol,
                price=msg.price,
                quantity=msg.quantity,
            )
        trade_id = msg.trade_id if isinstance(msg, wire.Trade) else msg.agg_trade_id
        aggressor = AggressorSide.SELLER if msg.buyer_is_maker else AggressorSide.BUYER
        return TradeTick(
            inst.id,
            price,
            size,
            aggressor,
            TradeId(str(trade_id)),
            _ns(msg.trade_time, "T"),
            ts_init,
        )

    def quote_tick(self, msg: wire.BookTicker, ts_init: int) -> QuoteTick:
        inst = self.instrument(msg.symbol)
        when = msg.event_time if msg.event_time is not None else msg.transaction_time
        return QuoteTick(
            inst.id,
            self._price(inst, msg.bid_price, "b"),
            self._price(inst, msg.ask_price, "a"),
            self._qty(inst, msg.bid_qty, "B"),
            self._qty(inst, msg.ask_qty, "A"),
            ts_init if when is None else _ns(when, "E"),
            ts_init,
        )

    def book_deltas(self, msg: wire.DepthUpdate, ts_init: int) -> BookDeltas:
        inst = self.instrument(msg.symbol)
        first, last = msg.first_update_id, msg.final_update_id
        if first <= 0 or first > last:
            raise InvalidDataError(
                "update ids must satisfy 0 < U <= u", symbol=msg.symbol, U=first, u=last
            )
        iid, ts_event = inst.id, _ns(msg.event_time, "E")
        update, delete = BookAction.UPDATE, BookAction.DELETE
        deltas: list[BookDelta] = []
        for side, levels, field in (
            (OrderSide.BUY, msg.bids, "b"),
            (OrderSide.SELL, msg.asks, "a"),
        ):
            for price_text, size_text in levels:
                price = self._price(inst, price_text, field)
                size = self._qty(inst, size_text, field)
                deltas.append(
                    BookDelta(
                        iid,
                        delete if size.raw == 0 else update,
                        side,
                        price,
                        size,
                        last,
                        ts_event,
                        ts_init,
                    )
                )
        return BookDeltas(iid, deltas, first, last, ts_event, ts_init)

    def book_snapshot(self, msg: wire.DepthSnapshot, symbol: str, ts_init: int) -> BookSnapshot:
        inst = self.instrument(symbol)
        if msg.last_update_id <= 0:
            raise InvalidDataError(
                "lastUpdateId must be positive", symbol=symbol, value=msg.last_update_id
            )
        bids = [
            BookLevel(self._price(inst, p, "bids"), self._qty(inst, q, "bids")) for p, q in msg.bids
        ]
        asks = [
            BookLevel(self._price(inst, p, "asks"), self._qty(inst, q, "asks")) for p, q in msg.asks
        ]
        return BookSnapshot(inst.id, bids, asks, msg.last_update_id, ts_init, ts_init)

    def bar(self, msg: wire.Kline, ts_init: int) -> Bar | None:
        """A closed kline as a bar (``ts_event`` = close); an open one gives None."""
        k = msg.kline
        if not k.closed:
            return None
        inst = self.instrument(msg.symbol)
        step_text, unit = k.interval[:-1], k.interval[-1:]
        aggregation = _INTERVALS.get(unit)
        if (
            aggregation is None
            or not step_text.isascii()
            or not step_text.isdigit()
            or int(step_text) <= 0
        ):
            raise _Unsupported(
                "kline interval has no bar aggregation", symbol=msg.symbol, interval=k.interval[:20]
            )
        bar_type = BarType(inst.id, int(step_text), aggregation)
        open_, high, low, close = (
            self._price(inst, v, f)
            for v, f in ((k.open, "o"), (k.high, "h"), (k.low, "l"), (k.close, "c"))
        )
        if high.raw < max(open_.raw, close.raw, low.raw) or low.raw > min(open_.raw, close.raw):
            raise InvalidDataError(
                "kline high/low do not bound open and close",
                symbol=msg.symbol,
                high=k.high,
                low=k.low,
            )
        volume = self._qty(inst, k.volume, "v")
        return Bar(
            bar_type,
            open_,
            high,
            low,
            close,
            volume,
            _ns(k.open_time, "t") + bar_type.interval_ns,
            ts_init,
        )

    def order_events(self, report: wire.ExecutionReport, ts_init: int) -> list[OrderEvent]:
        """The order events one ``executionReport`` stands for (often one, sometimes none)."""
        inst = self.instrument(report.symbol)
        kind, status = report.execution_type, report.order_status
        client_id = self._client_id(
            report.orig_client_order_id or report.client_order_id, report.order_id
        )
        venue_id = VenueOrderId(str(report.order_id))
        common: dict[str, Any] = {
            "client_order_id": client_id,
            "instrument_id": inst.id,
            "strategy_id": self._strategy(client_id),
            "ts_event": _ns(report.transaction_time, "T"),
            "ts_init": ts_init,
        }
        if kind == "NEW":
            return [OrderAccepted(venue_order_id=venue_id, **common)]
        if kind in ("TRADE", "CALCULATED"):
            events: list[OrderEvent] = []
            if self._qty(inst, report.last_qty, "l").raw > 0:
                events.append(self._fill(inst, report, venue_id, common))
            end = self._final(status, report, venue_id, common)
            if end is not None:
                events.append(end)
            return events
        if kind == "CANCELED":
            if status == "PENDING_CANCEL":
                return []  # the cancel is on its way; the CANCELED report follows
            return [
                OrderCanceled(
                    venue_order_id=venue_id, reason=_reason(report.reject_reason), **common
                )
            ]
        if kind == "REJECTED":
            return [
                OrderRejected(
                    code=report.reject_reason[:64],
                    reason=f"{self.venue} rejected the order: {report.reject_reason[:200]}",
                    **common,
                )
            ]
        if kind in ("EXPIRED", "TRADE_PREVENTION"):
            if kind == "TRADE_PREVENTION" and status not in ("EXPIRED", "EXPIRED_IN_MATCH"):
                return []  # STP decremented the order; it keeps working
            return [OrderExpired(venue_order_id=venue_id, **common)]
        if kind == "REPLACED":
            price = self._price(inst, report.price, "p")
            trigger = self._price(inst, report.stop_price, "P")
            return [
                OrderUpdated(
                    quantity=self._qty(inst, report.quantity, "q"),
                    price=price if price.raw else None,
                    trigger_price=trigger if trigger.raw else None,
                    venue_order_id=venue_id,
                    **common,
                )
            ]
        if kind == "PENDING_NEW":
            return []  # an order list's pending order: accepted once it is placed
        raise _UnknownEvent(
            "unknown execution type", execution_type=kind[:40], symbol=report.symbol
        )

    def account_state(
        self, msg: wire.OutboundAccountPosition | wire.AccountInfo, ts_init: int
    ) -> AccountState:
        if isinstance(msg, wire.OutboundAccountPosition):
            entries = [(b.asset, b.free, b.locked) for b in msg.balances]
            ts_event = _ns(msg.event_time, "E")
        else:
            entries = [(b.asset, b.free, b.locked) for b in msg.balances]
            ts_event = _ns(msg.update_time, "updateTime") if msg.update_time > 0 else ts_init
        balances = []
        for asset, free_text, locked_text in entries:
            currency = self.currency(asset)
            free = _money(free_text, currency, "free")
            locked = _money(locked_text, currency, "locked")
            balances.append(AccountBalance.of(free + locked, locked))
        return AccountState(
            account_id=self.account_id,
            account_type=AccountType.CASH,
            balances=balances,
            ts_event=ts_event,
            ts_init=ts_init,
        )

    def order_report(
        self, order: wire.Order | wire.NewOrderResponse | wire.CancelResponse
    ) -> OrderStatusReport:
        """One order's state as reconciliation reads it (an ACK new-order response has none)."""
        inst = self.instrument(order.symbol)
        if isinstance(order, wire.Order):
            ts_last, client = order.update_time, order.client_order_id
        elif isinstance(order, wire.CancelResponse):
            ts_last, client = order.transact_time or 0, order.orig_client_order_id
        else:
            ts_last, client = order.transact_time, order.client_order_id
        state = (
            order.status,
            order.type,
            order.side,
            order.price,
            order.orig_qty,
            order.executed_qty,
            order.cummulative_quote_qty,
        )
        status, type_text, side, price_text, qty_text, executed_text, quote_text = state
        if (
            status is None
            or type_text is None
            or side is None
            or qty_text is None
            or executed_text is None
        ):
            raise InvalidDataError(
                "an ACK response carries no order state",
                symbol=order.symbol,
                order_id=order.order_id,
            )
        order_status = _ORDER_STATUSES.get(status)
        order_type = _ORDER_TYPES.get(type_text)
        if order_status is None or order_type is None:
            raise InvalidDataError(
                "unknown order status or type",
                symbol=order.symbol,
                status=status[:40],
                type=type_text[:40],
            )
        price = None if price_text is None else self._price(inst, price_text, "price")
        trigger = (
            None if order.stop_price is None else self._price(inst, order.stop_price, "stopPrice")
        )
        filled = self._qty(inst, executed_text, "executedQty")
        return OrderStatusReport(
            instrument_id=inst.id,
            venue_order_id=VenueOrderId(str(order.order_id)),
            client_order_id=ClientOrderId(client) if client else None,
            side=_side(side, "side"),
            order_type=order_type,
            quantity=self._qty(inst, qty_text, "origQty"),
            price=price
            if price is not None
            and price.raw
            and order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
            else None,
            trigger_price=trigger if trigger is not None and trigger.raw else None,
            filled_qty=filled,
            avg_px=None if quote_text is None else self._average(inst, quote_text, filled),
            status=order_status,
            ts_last=_ns(ts_last, "updateTime"),
        )

    def fill_report(self, trade: wire.MyTrade) -> FillReport:
        inst = self.instrument(trade.symbol)
        return FillReport(
            instrument_id=inst.id,
            venue_order_id=VenueOrderId(str(trade.order_id)),
            client_order_id=None,  # myTrades does not say; reconciliation matches the order id
            trade_id=TradeId(str(trade.id)),
            side=OrderSide.BUY if trade.is_buyer else OrderSide.SELL,
            last_qty=self._positive_qty(inst, trade.qty, "qty"),
            last_px=self._positive_price(inst, trade.price, "price"),
            commission=self._commission(inst, trade.commission, trade.commission_asset),
            liquidity_side=LiquiditySide.MAKER if trade.is_maker else LiquiditySide.TAKER,
            ts_event=_ns(trade.time, "time"),
        )

    def new_order_events(self, resp: wire.NewOrderResponse, ts_init: int) -> list[OrderEvent]:
        """OrderAccepted, then one OrderFilled per FULL-response fill (taker: they filled at
        placement), then OrderExpired/OrderCanceled/OrderRejected if the status says so."""
        inst = self.instrument(resp.symbol)
        client_id = self._client_id(resp.client_order_id, resp.order_id)
        venue_id = VenueOrderId(str(resp.order_id))
        common: dict[str, Any] = {
            "client_order_id": client_id,
            "instrument_id": inst.id,
            "strategy_id": self._strategy(client_id),
            "ts_event": _ns(resp.transact_time, "transactTime"),
            "ts_init": ts_init,
        }
        if resp.status == "REJECTED":
            return [
                OrderRejected(code="REJECTED", reason=f"{self.venue} rejected the order", **common)
            ]
        events: list[OrderEvent] = [OrderAccepted(venue_order_id=venue_id, **common)]
        if resp.fills:
            side = _side(resp.side or "", "side")
            for fill in resp.fills:
                events.append(
                    OrderFilled(
                        venue_order_id=venue_id,
                        trade_id=TradeId(str(fill.trade_id)),
                        order_side=side,
                        last_qty=self._positive_qty(inst, fill.qty, "qty"),
                        last_px=self._positive_price(inst, fill.price, "price"),
                        commission=self._commission(inst, fill.commission, fill.commission_asset),
                        liquidity_side=LiquiditySide.TAKER,
                        **common,
                    )
                )
        if resp.status in ("EXPIRED", "EXPIRED_IN_MATCH"):
            events.append(OrderExpired(venue_order_id=venue_id, **common))
        elif resp.status == "CANCELED":
            events.append(OrderCanceled(venue_order_id=venue_id, **common))
        return events

    # -- internals --------------------------------------------------------------------------

    def _market(
        self, payload: wire.MarketPayload, stream: str | None, ts_init: int, symbol: str | None
    ) -> list[MarketData]:
        if isinstance(payload, wire.DepthUpdate):
            return [self.book_deltas(payload, ts_init)]
        if isinstance(payload, wire.BookTicker):
            return [self.quote_tick(payload, ts_init)]
        if isinstance(payload, wire.Trade | wire.AggTrade):
            return [self.trade_tick(payload, ts_init)]
        if isinstance(payload, wire.DepthSnapshot):
            name = stream.partition("@")[0].upper() if stream else symbol
            if not name:
                raise InvalidDataError("a depth snapshot without a stream needs the symbol")
            return [self.book_snapshot(payload, name, ts_init)]
        if isinstance(payload, wire.Kline):
            bar = self.bar(payload, ts_init)
            return [] if bar is None else [bar]
        return self._other(payload)

    def _user(self, payload: wire.UserPayload, ts_init: int) -> list[UserData]:
        if isinstance(payload, wire.ExecutionReport):
            return list(self.order_events(payload, ts_init))
        if isinstance(payload, wire.OutboundAccountPosition):
            return [self.account_state(payload, ts_init)]
        if isinstance(payload, wire.ListenKeyExpired | wire.EventStreamTerminated):
            reason = (
                "listenKeyExpired"
                if isinstance(payload, wire.ListenKeyExpired)
                else "eventStreamTerminated"
            )
            return [
                UserStreamEnded(
                    reason=reason, ts_event=_ns(payload.event_time, "E"), ts_init=ts_init
                )
            ]
        if isinstance(payload, wire.BalanceUpdate | wire.ExternalLockUpdate | wire.ListStatus):
            return []  # an outboundAccountPosition / executionReport carries the effect
        return self._other(payload)

    def _other(self, payload: wire.StreamError | wire.Unknown | object) -> list[Any]:
        if isinstance(payload, wire.StreamError):
            raise _ErrorReply(
                "the stream answered with an error",
                code=payload.error.code,
                msg=payload.error.msg[:200],
            )
        if isinstance(payload, wire.Unknown):
            raise _UnknownEvent("unknown event type", event_type=payload.event_type[:40])
        raise _UnknownEvent(
            "message of a type not expected on this stream", type=type(payload).__name__
        )

    def _guard(self, raw: bytes | str, ts_init: int, run: Callable[[], T]) -> T | ParseProblem:
        try:
            out = run()
        except _BAD_INPUT as error:
            return self._record(error, raw, ts_init)
        self.stats.parsed += 1
        return out

    def _record(self, error: Exception, raw: bytes | str, ts_init: int) -> ParseProblem:
        problem = _problem(_classify(error, raw), error, raw, ts_init, self.max_raw_chars)
        self.stats.problems[problem.reason] += 1
        self.stats.recent.append(problem)
        return problem

    def _price(self, inst: Instrument, text: str, field: str) -> Price:
        raw = _raw(text, field)
        return Price(raw, _precision(raw, inst.price_precision))

    def _qty(self, inst: Instrument, text: str, field: str) -> Quantity:
        raw = _raw(text, field)
        return Quantity(raw, _precision(raw, inst.size_precision))

    def _positive_price(self, inst: Instrument, text: str, field: str) -> Price:
        price = self._price(inst, text, field)
        if price.raw <= 0:
            raise InvalidDataError(
                "price must be positive", symbol=inst.id.symbol.value, field=field, value=text[:40]
            )
        return price

    def _positive_qty(self, inst: Instrument, text: str, field: str) -> Quantity:
        qty = self._qty(inst, text, field)
        if qty.raw <= 0:
            raise InvalidDataError(
                "quantity must be positive",
                symbol=inst.id.symbol.value,
                field=field,
                value=text[:40],
            )
        return qty

    def _commission(self, inst: Instrument, amount: str, asset: str | None) -> Money:
        raw = _raw(amount, "commission")
        if asset is None or not asset:
            if raw:
                raise InvalidDataError(
                    "commission without an asset",
                    symbol=inst.id.symbol.value,
                    commission=amount[:40],
                )
            return Money.zero(inst.quote_currency)
        return _money(amount, self.currency(asset), "commission")

    def _average(self, inst: Instrument, quote_text: str, filled: Quantity) -> Price | None:
        if filled.raw == 0:
            return None
        quote = _raw(quote_text, "cummulativeQuoteQty")
        raw, rest = divmod(quote * FIXED_SCALAR, filled.raw)  # rounded half-even to 1e-9
        if 2 * rest > filled.raw or (2 * rest == filled.raw and raw % 2):
            raw += 1
        return Price(raw, _precision(raw, inst.price_precision))

    def _fill(
        self,
        inst: Instrument,
        report: wire.ExecutionReport,
        venue_id: VenueOrderId,
        common: dict[str, Any],
    ) -> OrderFilled:
        if report.trade_id < 0:
            raise InvalidDataError(
                "a fill without a trade id", symbol=report.symbol, order_id=report.order_id
            )
        price = self._price(inst, report.last_price, "L")
        if price.raw == 0:
            price = self._positive_price(
                inst, report.price, "p"
            )  # L = 0 seen from Binance: use the limit
        return OrderFilled(
            venue_order_id=venue_id,
            trade_id=TradeId(str(report.trade_id)),
            order_side=_side(report.side),
            last_qty=self._qty(inst, report.last_qty, "l"),
            last_px=price,
            commission=self._commission(inst, report.commission, report.commission_asset),
            liquidity_side=LiquiditySide.MAKER if report.is_maker else LiquiditySide.TAKER,
            **common,
        )

    def _final(
        self,
        status: str,
        report: wire.ExecutionReport,
        venue_id: VenueOrderId,
        common: dict[str, Any],
    ) -> OrderEvent | None:
        if status == "CANCELED":
            return OrderCanceled(
                venue_order_id=venue_id, reason=_reason(report.reject_reason), **common
            )
        if status in ("EXPIRED", "EXPIRED_IN_MATCH"):
            return OrderExpired(venue_order_id=venue_id, **common)
        return None

    def _client_id(self, text: str, order_id: int) -> ClientOrderId:
        if not text:
            return ClientOrderId(f"EXT-{order_id}")
        return ClientOrderId.from_str(text)

    def _strategy(self, client_id: ClientOrderId) -> StrategyId:
        if self._strategy_for is None:
            return EXTERNAL_STRATEGY
        return self._strategy_for(client_id) or EXTERNAL_STRATEGY


def _money(text: str, currency: Currency, field: str) -> Money:
    """Exact money; an amount finer than the currency's precision is rounded half-even.

    Money of one currency must share its precision to add up, and dropping a fill or a
    balance over commission dust would be worse than rounding the dust.
    """
    raw = _raw(text, field)
    if raw % _POW10[FIXED_PRECISION - currency.precision] == 0:
        return Money(raw, currency)
    return Money.from_decimal(Decimal(raw).scaleb(-FIXED_PRECISION), currency)


def _reason(reject_reason: str) -> str:
    return "" if reject_reason == "NONE" else reject_reason[:200]
