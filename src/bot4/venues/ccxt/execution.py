"""Trading on any exchange ccxt supports, through ccxt's unified REST API.

:class:`CcxtExecutionClient` is a :class:`~bot4.execution.ports.VenueClient`: the execution
engine calls ``submit_order`` / ``cancel_order`` synchronously, and the client runs each
request as a task it owns, reporting what the venue says as order events through the sink.
Orders carry our client order id (ccxt's ``clientOrderId``) so they can be found again after a
timeout whose outcome is unknown. Fills and the end of orders are learnt by polling open orders
and our trades every ``poll_interval`` seconds; every trade is reported once (by trade id).
Errors go through :func:`~bot4.venues.ccxt.errors.map_ccxt_error`: a rejection becomes
``OrderRejected`` with the venue's reason, a transient error leaves the order to the poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot4.core.clock import Clock
from bot4.core.errors import Bot4Error, RejectedError, TransientError, UnknownInstrumentError
from bot4.core.ids import AccountId, ClientOrderId, InstrumentId, Venue, VenueOrderId
from bot4.core.numbers import Price, Quantity
from bot4.execution.ports import EventSink
from bot4.execution.reconciliation import VenueReport
from bot4.model.enums import OrderSide, OrderType, TimeInForce
from bot4.model.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderExpired,
    OrderRejected,
)
from bot4.model.instrument import Instrument
from bot4.model.orders import Order
from bot4.venues.ccxt.errors import map_ccxt_error
from bot4.venues.ccxt.parsing import (
    account_state,
    fill_event,
    fill_report,
    instrument_from_market,
    order_status_report,
)

__all__ = ["CcxtConfig", "CcxtExecutionClient"]

_log = logging.getLogger("bot4.venues.ccxt")


@dataclass(frozen=True, kw_only=True)
class CcxtConfig:
    """``venue`` names the venue in Bot4 (instrument ids are ``<ccxt market id>.<venue>``)."""

    venue: str
    symbols: tuple[str, ...]  # ccxt unified symbols, e.g. ("BTC/USDT",)
    poll_interval: float = 1.0
    unknown_after: float = 10.0  # an order neither seen nor refused after this long is looked up
    params: Mapping[str, Any] = field(default_factory=dict)  # extra params for create_order


class CcxtExecutionClient:
    """Orders and balances at one venue through a ccxt (async) exchange object."""

    def __init__(self, exchange: Any, config: CcxtConfig, clock: Clock, sink: EventSink) -> None:
        self._ex = exchange
        self.config = config
        self._clock = clock
        self._sink = sink
        self._venue = Venue(config.venue)
        self._account_id = AccountId(f"{config.venue}-001")
        self.instruments: dict[InstrumentId, Instrument] = {}
        self._symbol_of: dict[InstrumentId, str] = {}
        self._orders: dict[ClientOrderId, Order] = {}
        self._venue_ids: dict[ClientOrderId, VenueOrderId] = {}
        self._by_venue_id: dict[str, ClientOrderId] = {}
        self._accepted: set[ClientOrderId] = set()
        self._trades_seen: set[str] = set()
        self._pending: dict[ClientOrderId, float] = {}  # submitted, outcome unknown -> since
        self._tasks: set[asyncio.Task[None]] = set()
        self._poller: asyncio.Task[None] | None = None
        self.errors: list[Bot4Error] = []

    # -- VenueClient ----------------------------------------------------------------------------

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
        self._orders[order.client_order_id] = order
        self._spawn(self._submit(order), f"submit {order.client_order_id}")

    def cancel_order(self, order: Order) -> None:
        self._spawn(self._cancel(order), f"cancel {order.client_order_id}")

    def modify_order(
        self, order: Order, quantity: Quantity | None = None, price: Price | None = None, trigger_price: Price | None = None
    ) -> None:
        now = self._clock.timestamp_ns()
        self._sink(OrderCancelRejected(
            client_order_id=order.client_order_id, instrument_id=order.instrument_id, strategy_id=order.strategy_id,
            reason="amend is not supported through ccxt; the engine uses cancel-replace", ts_event=now, ts_init=now,
        ))

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the venue's markets (the instruments) and start polling."""
        try:
            await self._ex.load_markets()
        except Exception as exc:
            raise map_ccxt_error(exc, venue=self.config.venue, operation="load_markets") from exc
        for symbol in self.config.symbols:
            market = self._ex.markets.get(symbol)
            if market is None:
                raise UnknownInstrumentError("the venue does not list this symbol", venue=self.config.venue, symbol=symbol)
            inst = instrument_from_market(market, self.config.venue, self._ex.precisionMode)
            self.instruments[inst.id] = inst
            self._symbol_of[inst.id] = symbol
        self._poller = asyncio.get_running_loop().create_task(self._poll_forever(), name=f"bot4.ccxt.{self.config.venue}.poll")

    async def close(self) -> None:
        tasks = list(self._tasks)
        if self._poller is not None:
            tasks.append(self._poller)
            self._poller = None
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._ex.close()

    async def account(self) -> Any:
        """The account's balances now, as an ``AccountState``."""
        balance = await self._call("fetch_balance")
        return account_state(balance, self._account_id, self._clock.timestamp_ns())

    async def report(self) -> VenueReport:
        """Open orders and recent trades for reconciliation."""
        open_orders, fills = [], []
        for inst_id, symbol in self._symbol_of.items():
            inst = self.instruments[inst_id]
            for raw in await self._call("fetch_open_orders", symbol):
                open_orders.append(order_status_report(raw, inst))
            for trade in await self._call("fetch_my_trades", symbol):
                cid = self._by_venue_id.get(str(trade.get("order")))
                fills.append(fill_report(trade, inst, cid))
        return VenueReport(venue=self._venue, open_orders=open_orders, fills=fills, account=await self.account(),
                           ts=self._clock.timestamp_ns())

    # -- requests -------------------------------------------------------------------------------

    async def _submit(self, order: Order) -> None:
        symbol = self._symbol(order.instrument_id)
        kind = "market" if order.order_type is OrderType.MARKET else "limit"
        params: dict[str, Any] = {"clientOrderId": str(order.client_order_id), **self.config.params}
        if kind == "limit":
            params["timeInForce"] = order.time_in_force.value if order.time_in_force is not TimeInForce.GTD else "GTC"
            if order.post_only:
                params["postOnly"] = True
        side = "buy" if order.side is OrderSide.BUY else "sell"
        price = None if order.price is None else str(order.price)
        self._pending[order.client_order_id] = asyncio.get_running_loop().time()
        try:
            raw = await self._ex.create_order(symbol, kind, side, str(order.quantity), price, params)
        except Exception as exc:  # noqa: BLE001 - translated in one place, then acted on by kind
            error = map_ccxt_error(exc, venue=self.config.venue, operation="create_order", order=str(order.client_order_id))
            if isinstance(error, TransientError):
                self._report(error)  # outcome unknown: the poll finds it by client order id, or refuses it later
                return
            self._pending.pop(order.client_order_id, None)
            self._reject(order, error)
            return
        self._pending.pop(order.client_order_id, None)
        self._on_order(order, raw)

    async def _cancel(self, order: Order) -> None:
        venue_id = self._venue_ids.get(order.client_order_id)
        symbol = self._symbol(order.instrument_id)
        try:
            if venue_id is None:
                raw = await self._ex.cancel_order(None, symbol, {"clientOrderId": str(order.client_order_id)})
            else:
                raw = await self._ex.cancel_order(str(venue_id), symbol)
        except Exception as exc:  # noqa: BLE001 - translated in one place
            error = map_ccxt_error(exc, venue=self.config.venue, operation="cancel_order", order=str(order.client_order_id))
            now = self._clock.timestamp_ns()
            self._sink(OrderCancelRejected(
                client_order_id=order.client_order_id, instrument_id=order.instrument_id, strategy_id=order.strategy_id,
                reason=error.message, ts_event=now, ts_init=now,
            ))
            return
        self._on_order(order, raw)

    # -- what the venue told us -------------------------------------------------------------------

    def _on_order(self, order: Order, raw: Mapping[str, Any]) -> None:
        cid = order.client_order_id
        inst = self.instruments[order.instrument_id]
        now = self._clock.timestamp_ns()
        if raw.get("id") and cid not in self._accepted:
            venue_id = VenueOrderId(str(raw["id"]))
            self._venue_ids[cid] = venue_id
            self._by_venue_id[str(venue_id)] = cid
            self._accepted.add(cid)
            self._sink(OrderAccepted(
                client_order_id=cid, instrument_id=order.instrument_id, strategy_id=order.strategy_id,
                venue_order_id=venue_id, ts_event=now, ts_init=now,
            ))
        for trade in raw.get("trades") or []:
            self._on_trade(trade, inst)
        status = raw.get("status")
        if status in ("canceled", "cancelled"):
            self._sink(OrderCanceled(
                client_order_id=cid, instrument_id=order.instrument_id, strategy_id=order.strategy_id, ts_event=now, ts_init=now,
            ))
        elif status == "expired":
            self._sink(OrderExpired(
                client_order_id=cid, instrument_id=order.instrument_id, strategy_id=order.strategy_id, ts_event=now, ts_init=now,
            ))
        elif status == "rejected":
            self._reject(order, RejectedError("the venue rejected the order", venue=self.config.venue))

    def _on_trade(self, trade: Mapping[str, Any], inst: Instrument) -> None:
        trade_id = str(trade.get("id"))
        cid = self._by_venue_id.get(str(trade.get("order")))
        if cid is None or trade_id in self._trades_seen:
            return
        order = self._orders.get(cid)
        if order is None:
            return
        self._trades_seen.add(trade_id)
        try:
            event = fill_event(trade, inst, cid, order.strategy_id, self._clock.timestamp_ns())
        except Bot4Error as exc:
            self._report(exc)
            return
        self._sink(event)

    def _reject(self, order: Order, error: Bot4Error) -> None:
        now = self._clock.timestamp_ns()
        self._sink(OrderRejected(
            client_order_id=order.client_order_id, instrument_id=order.instrument_id, strategy_id=order.strategy_id,
            code=str(error.context.get("kind", type(error).__name__)), reason=error.message, ts_event=now, ts_init=now,
        ))

    # -- polling ----------------------------------------------------------------------------------

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.poll_interval)
            try:
                await self.poll()
            except Bot4Error as exc:
                self._report(exc)

    async def poll(self) -> None:
        """One round: our trades, then orders that left the open list, then unknown outcomes."""
        for inst_id, symbol in self._symbol_of.items():
            working = [cid for cid in self._accepted if self._orders[cid].instrument_id == inst_id and self._orders[cid].is_open]
            if not working and not self._pending:
                continue
            inst = self.instruments[inst_id]
            for trade in await self._call("fetch_my_trades", symbol):
                self._on_trade(trade, inst)
            open_ids = {str(raw.get("id")) for raw in await self._call("fetch_open_orders", symbol)}
            for cid in working:
                venue_id = self._venue_ids.get(cid)
                if venue_id is not None and str(venue_id) not in open_ids and self._orders[cid].is_open:
                    self._on_order(self._orders[cid], await self._call("fetch_order", str(venue_id), symbol))
        await self._resolve_unknown()

    async def _resolve_unknown(self) -> None:
        now = asyncio.get_running_loop().time()
        for cid, since in list(self._pending.items()):
            if now - since < self.config.unknown_after:
                continue
            order = self._orders[cid]
            self._pending.pop(cid, None)
            try:
                raw = await self._ex.fetch_order(None, self._symbol(order.instrument_id), {"clientOrderId": str(cid)})
            except Exception as exc:  # noqa: BLE001 - translated in one place
                error = map_ccxt_error(exc, venue=self.config.venue, operation="fetch_order", order=str(cid))
                if isinstance(error, RejectedError):  # the venue does not know it: it never arrived
                    self._reject(order, RejectedError("order not found at the venue after an unanswered submit"))
                else:
                    self._pending[cid] = since  # still unknown: try again next round
                    self._report(error)
                continue
            self._on_order(order, raw)

    async def _call(self, method: str, *args: Any) -> Any:
        try:
            return await getattr(self._ex, method)(*args)
        except Exception as exc:
            raise map_ccxt_error(exc, venue=self.config.venue, operation=method) from exc

    def _symbol(self, instrument_id: InstrumentId) -> str:
        symbol = self._symbol_of.get(instrument_id)
        if symbol is None:
            raise UnknownInstrumentError("instrument not traded through this ccxt client", instrument=str(instrument_id))
        return symbol

    def _spawn(self, coro: Any, what: str) -> None:
        task = asyncio.get_running_loop().create_task(self._guard(coro, what))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guard(self, coro: Any, what: str) -> None:
        try:
            await coro
        except Bot4Error as exc:
            self._report(exc)
        except Exception as exc:  # noqa: BLE001 - a request task's boundary: log, count, keep the client
            _log.exception("ccxt %s: %s failed", self.config.venue, what)
            self._report(map_ccxt_error(exc, venue=self.config.venue, operation=what))

    def _report(self, error: Bot4Error) -> None:
        self.errors.append(error)
        _log.warning("ccxt %s: %s", self.config.venue, error)



