"""Trading on Binance spot: orders over REST, their fate over the user data stream.

:class:`BinanceExecutionClient` is a :class:`~bot4.execution.ports.VenueClient`. The execution
engine calls ``submit_order`` / ``cancel_order`` synchronously; each request runs as a task the
client owns (a cancel waits for its order's submit to finish, so Binance sees them in order),
and what Binance says comes back as events through the sink:

- a new order is ``POST /api/v3/order`` with ``newClientOrderId`` = our client order id; its
  answer gives ``OrderAccepted`` (and, with ``FULL``, the fills made at placement). A refusal
  is ``OrderRejected`` with Binance's code (``-2010``) and message; so is a request that surely
  never left (circuit open, rate limit, clock skew). A timeout, a disconnect or a 5xx leaves
  the outcome unknown: the order is looked up by client order id once Binance would refuse it
  anyway (``recvWindow`` after its timestamp), and ``-2013`` (no such order) rejects it;
- a cancel is ``DELETE /api/v3/order`` by ``origClientOrderId``: ``OrderCanceled``, after any
  fill the answer's executed quantity shows and we have not seen (fetched from ``myTrades``),
  or ``OrderCancelRejected`` with Binance's code and message;
- the user data stream (:class:`~bot4.venues.binance.ws.UserDataStream`) delivers
  ``executionReport`` -> order events and ``outboundAccountPosition`` -> ``AccountState``
  through the parser; ``listenKeyExpired`` renews the listen key on a new connection.

Every event reaches the sink once, whichever path brought it first: a fill once per trade id,
an acknowledgement once per order (a fill whose acknowledgement was missed brings one first),
an end (canceled, expired, rejected) once per order. Events carry the strategy of the order we
sent and this client's account id. :meth:`report` returns the venue's view (open orders, our
trades, balances) for :func:`~bot4.execution.reconciliation.reconcile`; after every reconnect
of the user stream it is handed to ``hooks.on_reconnect`` so the missed events can be repaired.

With ``write_ahead`` (the journal writer) an order goes out only once the journal entry that
was last when ``submit_order`` was called (its ``OrderSubmitted``) is durable; past
``settings.write_ahead_timeout`` it is rejected with ``JOURNAL_NOT_DURABLE``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import msgspec

from bot4.core.clock import Clock
from bot4.core.errors import (
    Bot4Error,
    CircuitOpenError,
    InternalError,
    InvalidInputError,
    RateLimitedError,
    RejectedError,
    RequestNotSentError,
    TransientError,
    VenueBannedError,
)
from bot4.core.ids import AccountId, ClientOrderId, InstrumentId, TradeId, Venue, VenueOrderId
from bot4.core.numbers import Price, Quantity
from bot4.execution.ports import EventSink
from bot4.execution.reconciliation import FillReport, OrderStatusReport, VenueReport
from bot4.model.account import AccountState
from bot4.model.enums import OrderStatus
from bot4.model.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderModifyRejected,
    OrderRejected,
)
from bot4.model.orders import Order
from bot4.model.status import StreamGap, StreamResynced
from bot4.net.ws_config import StreamStats
from bot4.venues.binance.config import BinanceConfig
from bot4.venues.binance.errors import ClockSkewError
from bot4.venues.binance.http import BinanceHttpClient, ResponseType
from bot4.venues.binance.parsing import ParseProblem, Parser, UserStreamEnded
from bot4.venues.binance.ws import StreamTiming, UserDataStream, UserStreamHooks

__all__ = [
    "BinanceExecutionClient",
    "DurabilityGate",
    "ExecutionClientStats",
    "ExecutionHooks",
    "ExecutionSettings",
]

_log = logging.getLogger("bot4.venues.binance.execution")

_NO_SUCH_ORDER = -2013

T = TypeVar("T")


class DurabilityGate(Protocol):
    """The part of the journal writer write-ahead needs (:class:`bot4.store.JournalWriter`)."""

    @property
    def last_seq(self) -> int: ...

    async def wait_durable(self, seq: int, timeout: float | None = None) -> None: ...


@dataclass(frozen=True, kw_only=True)
class ExecutionSettings:
    """How orders are sent: the new-order answer type, the write-ahead wait, stream timing."""

    response_type: ResponseType = ResponseType.FULL
    write_ahead_timeout: float = 5.0
    timing: StreamTiming | None = None


@dataclass(frozen=True, kw_only=True)
class ExecutionHooks:
    """Optional callbacks: errors the client survived, the user stream's gap signals (for the
    bus topic ``events.stream``) and the venue's report after each user-stream reconnect."""

    on_error: Callable[[Bot4Error], None] | None = None
    on_stream_event: Callable[[StreamGap | StreamResynced], None] | None = None
    on_reconnect: Callable[[VenueReport], object] | None = None


class ExecutionClientStats(msgspec.Struct, frozen=True, kw_only=True):
    """Counters since the client was built, and the user stream's own statistics."""

    submitted: int
    rejected: int
    cancels: int
    cancel_rejected: int
    events: int
    fills: int
    duplicates_suppressed: int
    unknown_outcomes: int
    problems: int
    errors: int
    user_stream_reconnects: int
    listen_key_renewals: int
    stream: StreamStats | None


class BinanceExecutionClient:
    """Orders and balances of one Binance spot account (module docstring)."""

    def __init__(
        self,
        config: BinanceConfig,
        http: BinanceHttpClient,
        parser: Parser,
        sink: EventSink,
        clock: Clock,
        *,
        write_ahead: DurabilityGate | None = None,
        settings: ExecutionSettings | None = None,
        hooks: ExecutionHooks | None = None,
    ) -> None:
        self.config = config
        self._venue = Venue(config.venue)
        self._account_id = AccountId(f"{config.venue}-001")
        self._http = http
        self._parser = parser
        self._sink = sink
        self._clock = clock
        self._write_ahead = write_ahead
        self.settings = settings or ExecutionSettings()
        self.hooks = hooks or ExecutionHooks()
        self._user: UserDataStream | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._submits: dict[ClientOrderId, asyncio.Task[None]] = {}
        self._closing = False
        self._user_connected = False
        # What reached the sink, per order: deduplication across REST answers and the stream.
        self._orders: dict[ClientOrderId, Order] = {}
        self._accepted: set[ClientOrderId] = set()
        self._ended: set[ClientOrderId] = set()
        self._fills: set[tuple[InstrumentId, TradeId]] = set()
        self._filled_raw: dict[ClientOrderId, int] = {}
        self._venue_ids: dict[VenueOrderId, ClientOrderId] = {}
        self._submitted = 0
        self._rejected = 0
        self._cancels = 0
        self._cancel_rejected = 0
        self._events = 0
        self._fill_count = 0
        self._duplicates = 0
        self._unknown = 0
        self._problems = 0
        self._errors = 0
        self._reconnects = 0

    # -- VenueClient ----------------------------------------------------------------------

    @property
    def venue(self) -> Venue:
        return self._venue

    @property
    def account_id(self) -> AccountId:
        return self._account_id

    @property
    def supports_amend(self) -> bool:
        return False

    def submit_order(self, order: Order) -> None:
        """Send ``order`` in a task; its fate comes back as events."""
        cid = order.client_order_id
        self._orders[cid] = order
        if self._closing:
            self._reject(order, "CLIENT_CLOSED", "the Binance execution client is closed; not sent")
            return
        self._submitted += 1
        seq = None if self._write_ahead is None else self._write_ahead.last_seq
        task = self._spawn(self._submit(order, seq), f"submit {cid}")
        self._submits[cid] = task
        task.add_done_callback(lambda _: self._submits.pop(cid, None))

    def cancel_order(self, order: Order) -> None:
        """Cancel ``order`` by its client order id in a task (after its submit has finished)."""
        self._orders.setdefault(order.client_order_id, order)
        if self._closing:
            self._cancel_rejected_event(order, "the Binance execution client is closed; not sent")
            return
        self._cancels += 1
        self._spawn(self._cancel(order), f"cancel {order.client_order_id}")

    def modify_order(
        self,
        order: Order,
        quantity: Quantity | None = None,
        price: Price | None = None,
        trigger_price: Price | None = None,
    ) -> None:
        """Binance spot cannot amend in place (``supports_amend`` is False): refused."""
        now = self._clock.timestamp_ns()
        self._deliver(
            OrderModifyRejected(
                client_order_id=order.client_order_id,
                instrument_id=order.instrument_id,
                strategy_id=order.strategy_id,
                reason="Binance spot does not amend orders in place; the engine cancels and replaces",
                ts_event=now,
                ts_init=now,
            )
        )

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the user data stream (in the background; see :meth:`wait_ready`)."""
        if self._user is not None or self._closing:
            raise InternalError("execution client already started or closed", venue=str(self.venue))
        self._user = UserDataStream(
            self.config,
            self._http,
            UserStreamHooks(
                on_message=self._on_user_message,
                on_error=self._report,
                on_event=self.hooks.on_stream_event,
                on_resync=self._on_user_resync,
            ),
            clock=self._clock,
            timing=self.settings.timing,
        )
        await self._user.start()

    async def wait_ready(self, timeout: float | None = None) -> None:
        """Wait until the user data stream is open with its listen key subscribed."""
        if self._user is None:
            raise InternalError("execution client not started", venue=str(self.venue))
        await self._user.wait_open(timeout)

    async def close(self) -> None:
        """Cancel every request task and close the user data stream."""
        self._closing = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        user, self._user = self._user, None
        if user is not None:
            await user.close()

    def stats(self) -> ExecutionClientStats:
        user = self._user
        return ExecutionClientStats(
            submitted=self._submitted,
            rejected=self._rejected,
            cancels=self._cancels,
            cancel_rejected=self._cancel_rejected,
            events=self._events,
            fills=self._fill_count,
            duplicates_suppressed=self._duplicates,
            unknown_outcomes=self._unknown,
            problems=self._problems,
            errors=self._errors,
            user_stream_reconnects=self._reconnects,
            listen_key_renewals=0 if user is None else user.renewals,
            stream=None if user is None else user.stats(),
        )

    # -- reconciliation -------------------------------------------------------------------

    async def report(self) -> VenueReport:
        """The venue's view now: open orders, our recent trades, balances.

        Trades carry our client order id whenever the order is known (from an answer, the
        stream or the open orders), so reconciliation can match fills of orders whose
        acknowledgement was missed. Raise what the REST calls raise.
        """
        now = self._clock.timestamp_ns()
        symbols = list(self.config.symbols)
        open_raw = await self._http.open_orders(symbols[0] if len(symbols) == 1 else None)
        open_orders = _unwrap(self._parser.parse_open_orders(open_raw, now))
        venue_ids = dict(self._venue_ids)
        for status in open_orders:
            if status.client_order_id is not None:
                venue_ids.setdefault(status.venue_order_id, status.client_order_id)
        if not symbols:
            symbols = sorted(
                {o.instrument_id.symbol.value for o in self._orders.values()}
                | {s.instrument_id.symbol.value for s in open_orders}
            )
        fills: list[FillReport] = []
        for symbol in symbols:
            raw = await self._http.my_trades(symbol, limit=1000)
            for fill in _unwrap(self._parser.parse_my_trades(raw, now)):
                cid = venue_ids.get(fill.venue_order_id)
                fills.append(fill if cid is None else msgspec.structs.replace(fill, client_order_id=cid))
        account = _unwrap(self._parser.parse_account(await self._http.account(), now))
        return VenueReport(
            venue=self._venue,
            open_orders=open_orders,
            fills=fills,
            account=self._own_account(account),
            ts=self._clock.timestamp_ns(),
        )

    # -- requests -------------------------------------------------------------------------

    async def _submit(self, order: Order, seq: int | None) -> None:
        if self._write_ahead is not None and seq is not None:
            timeout = self.settings.write_ahead_timeout
            try:
                await self._write_ahead.wait_durable(seq, timeout)
            except TimeoutError:
                self._reject(
                    order,
                    "JOURNAL_NOT_DURABLE",
                    f"order intent not durable in the journal within {timeout} s; not sent",
                )
                return
        try:
            raw = await self._http.new_order(order, response_type=self.settings.response_type)
        except (RequestNotSentError, RateLimitedError, ClockSkewError) as exc:
            self._reject_error(order, exc)  # surely not placed
            return
        except (RejectedError, InvalidInputError) as exc:
            self._reject_error(order, exc)
            return
        except TransientError as exc:
            self._report(exc)  # sent, outcome unknown: look it up
            await self._resolve_unknown(order)
            return
        events = self._parser.parse_new_order(raw, self._clock.timestamp_ns())
        if isinstance(events, ParseProblem):
            self._problem(events)
            await self._resolve_unknown(order)
            return
        for event in events:
            self._deliver(event)

    async def _cancel(self, order: Order) -> None:
        pending = self._submits.get(order.client_order_id)
        if pending is not None and not pending.done():
            await asyncio.wait([pending])
        try:
            raw = await self._http.cancel_order(
                order.instrument_id.symbol.value, order.client_order_id
            )
        except Bot4Error as exc:
            self._cancel_rejected_event(order, _reason(exc))
            return
        status = self._parser.parse_cancel(raw, self._clock.timestamp_ns())
        if isinstance(status, ParseProblem):
            self._problem(status)
            return
        await self._apply_status(order, status)

    async def _resolve_unknown(self, order: Order) -> None:
        """Find out whether an order whose submit went unanswered is at the venue."""
        self._unknown += 1
        # Binance refuses a request arriving later than its timestamp + recvWindow: after
        # that, an order the venue does not know will never be placed.
        await asyncio.sleep(self.config.recv_window_ms / 1000)
        try:
            raw = await self._http.query_order(
                order.instrument_id.symbol.value, order.client_order_id
            )
        except RejectedError as exc:
            if exc.context.get("code") == _NO_SUCH_ORDER:
                self._reject(
                    order,
                    str(_NO_SUCH_ORDER),
                    "the order's submit went unanswered and Binance has no such order",
                )
            else:
                self._report(exc)
            return
        except Bot4Error as exc:
            self._report(exc)  # still unknown: reconciliation settles it
            return
        status = self._parser.parse_order(raw, self._clock.timestamp_ns())
        if isinstance(status, ParseProblem):
            self._problem(status)
            return
        await self._apply_status(order, status)

    async def _apply_status(self, order: Order, status: OrderStatusReport) -> None:
        """Turn a REST view of one order into the events not yet delivered, in order."""
        now = self._clock.timestamp_ns()
        common: dict[str, Any] = {
            "client_order_id": order.client_order_id,
            "instrument_id": order.instrument_id,
            "strategy_id": order.strategy_id,
            "ts_event": status.ts_last,
            "ts_init": now,
        }
        if status.status is OrderStatus.REJECTED:
            self._deliver(OrderRejected(code="REJECTED", reason="Binance rejected the order", **common))
            return
        self._deliver(OrderAccepted(venue_order_id=status.venue_order_id, **common))
        if status.filled_qty.raw > self._filled_raw.get(order.client_order_id, 0):
            await self._fetch_fills(order, status.venue_order_id)
        if status.status is OrderStatus.CANCELED:
            self._deliver(OrderCanceled(venue_order_id=status.venue_order_id, **common))
        elif status.status is OrderStatus.EXPIRED:
            self._deliver(OrderExpired(venue_order_id=status.venue_order_id, **common))

    async def _fetch_fills(self, order: Order, venue_order_id: VenueOrderId) -> None:
        try:
            order_id = int(venue_order_id.value)
            raw = await self._http.my_trades(order.instrument_id.symbol.value, order_id=order_id)
        except (Bot4Error, ValueError) as exc:
            self._report(exc if isinstance(exc, Bot4Error) else InvalidInputError(str(exc)))
            return
        fills = self._parser.parse_my_trades(raw, self._clock.timestamp_ns())
        if isinstance(fills, ParseProblem):
            self._problem(fills)
            return
        now = self._clock.timestamp_ns()
        for fill in sorted(fills, key=lambda f: (f.ts_event, f.trade_id.value)):
            self._deliver(
                OrderFilled(
                    client_order_id=order.client_order_id,
                    instrument_id=order.instrument_id,
                    strategy_id=order.strategy_id,
                    venue_order_id=fill.venue_order_id,
                    trade_id=fill.trade_id,
                    order_side=fill.side,
                    last_qty=fill.last_qty,
                    last_px=fill.last_px,
                    commission=fill.commission,
                    liquidity_side=fill.liquidity_side,
                    ts_event=fill.ts_event,
                    ts_init=now,
                )
            )

    # -- the user data stream -------------------------------------------------------------

    def _on_user_message(self, raw: str) -> None:
        parsed = self._parser.parse_user(raw, self._clock.timestamp_ns())
        if isinstance(parsed, ParseProblem):
            self._problem(parsed)
            return
        for item in parsed:
            if isinstance(item, UserStreamEnded):
                _log.warning("%s user stream ended: %s", self.venue, item.reason)
                if self._user is not None:
                    self._user.renew(item.reason)
            else:
                self._deliver(item)

    async def _on_user_resync(self) -> None:
        """On every user-stream connection but the first: hand the venue's report over."""
        if not self._user_connected:
            self._user_connected = True
            return
        self._reconnects += 1
        callback = self.hooks.on_reconnect
        if callback is None:
            return
        report = await self.report()  # raising fails this connect; the stream tries again
        try:
            callback(report)
        except Exception as exc:  # noqa: BLE001 - the owner's callback must not end the stream
            _log.exception("%s: on_reconnect raised", self.venue)
            self._report(InternalError("on_reconnect raised", error=repr(exc)))

    # -- delivery -------------------------------------------------------------------------

    def _deliver(self, event: OrderEvent | AccountState) -> None:
        """Hand ``event`` to the sink unless it was delivered already (module docstring)."""
        if isinstance(event, AccountState):
            self._emit(self._own_account(event))
            return
        cid = event.client_order_id
        order = self._orders.get(cid)
        if order is not None and event.strategy_id != order.strategy_id:
            event = msgspec.structs.replace(event, strategy_id=order.strategy_id)
        if isinstance(event, OrderAccepted):
            if cid in self._accepted or cid in self._ended:
                self._duplicates += 1
                return
            self._accepted.add(cid)
            self._venue_ids[event.venue_order_id] = cid
        elif isinstance(event, OrderFilled):
            key = (event.instrument_id, event.trade_id)
            if key in self._fills:
                self._duplicates += 1
                return
            self._fills.add(key)
            self._fill_count += 1
            self._filled_raw[cid] = self._filled_raw.get(cid, 0) + event.last_qty.raw
            if cid not in self._accepted and cid not in self._ended:
                # The acknowledgement was missed (or is still on its way): a fill implies it.
                self._accepted.add(cid)
                self._venue_ids[event.venue_order_id] = cid
                self._emit(
                    OrderAccepted(
                        client_order_id=cid,
                        instrument_id=event.instrument_id,
                        strategy_id=event.strategy_id,
                        venue_order_id=event.venue_order_id,
                        ts_event=event.ts_event,
                        ts_init=event.ts_init,
                    )
                )
        elif isinstance(event, OrderCanceled | OrderExpired | OrderRejected):
            if cid in self._ended:
                self._duplicates += 1
                return
            self._ended.add(cid)
            if isinstance(event, OrderRejected):
                self._rejected += 1
        self._emit(event)

    def _emit(self, event: OrderEvent | AccountState) -> None:
        self._events += 1
        self._sink(event)

    def _own_account(self, state: AccountState) -> AccountState:
        if state.account_id == self._account_id:
            return state
        return msgspec.structs.replace(state, account_id=self._account_id)

    def _reject_error(self, order: Order, error: Bot4Error) -> None:
        self._reject(order, _code(error), _reason(error, with_code=False))

    def _reject(self, order: Order, code: str, reason: str) -> None:
        now = self._clock.timestamp_ns()
        _log.warning("%s rejected %s: %s %s", self.venue, order.client_order_id, code, reason)
        self._deliver(
            OrderRejected(
                client_order_id=order.client_order_id,
                instrument_id=order.instrument_id,
                strategy_id=order.strategy_id,
                code=code,
                reason=reason,
                ts_event=now,
                ts_init=now,
            )
        )

    def _cancel_rejected_event(self, order: Order, reason: str) -> None:
        self._cancel_rejected += 1
        now = self._clock.timestamp_ns()
        self._emit(
            OrderCancelRejected(
                client_order_id=order.client_order_id,
                instrument_id=order.instrument_id,
                strategy_id=order.strategy_id,
                reason=reason,
                ts_event=now,
                ts_init=now,
            )
        )

    # -- tasks and errors -----------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None], what: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(
            self._guard(coro, what), name=f"bot4.binance.{what}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _guard(self, coro: Coroutine[Any, Any, None], what: str) -> None:
        try:
            await coro
        except Bot4Error as exc:
            self._report(exc)
        except Exception as exc:  # noqa: BLE001 - a request task's boundary: log, count, go on
            _log.exception("%s: %s failed", self.venue, what)
            self._report(InternalError(f"{what} failed", venue=str(self.venue), error=repr(exc)))

    def _problem(self, problem: ParseProblem) -> None:
        self._problems += 1
        self._report(problem.to_error())

    def _report(self, error: Bot4Error) -> None:
        self._errors += 1
        if self.hooks.on_error is None:
            _log.warning("%s execution: %s", self.venue, error)
            return
        try:
            self.hooks.on_error(error)
        except Exception:  # noqa: BLE001 - a broken error handler must not stop trading
            _log.exception("%s: on_error raised", self.venue)


def _code(error: Bot4Error) -> str:
    """Binance's code when it gave one (``-2010``), else what kept the order from going."""
    code = error.context.get("code")
    if isinstance(code, int):
        return str(code)
    if isinstance(error, CircuitOpenError):
        return "CIRCUIT_OPEN"
    if isinstance(error, RateLimitedError):
        return "RATE_LIMITED"
    if isinstance(error, VenueBannedError):
        return "BANNED"
    if isinstance(error, RequestNotSentError):
        return "NOT_SENT"
    if isinstance(error, InvalidInputError):
        return "INVALID_ORDER"
    return type(error).__name__


def _reason(error: Bot4Error, *, with_code: bool = True) -> str:
    """Binance's message when it gave one (after its code), else the error's own message."""
    msg = error.context.get("msg")
    code = error.context.get("code")
    if isinstance(msg, str) and msg:
        return f"{code} {msg}" if with_code and isinstance(code, int) else msg
    return error.message


def _unwrap(parsed: T | ParseProblem) -> T:
    if isinstance(parsed, ParseProblem):
        raise parsed.to_error()
    return parsed
