"""Accounts, ids, listen keys and the server clock of the local exchange.

Each account trades on its own :class:`SimulatedVenue` (matching, balances and fees), fed the
same market data as every other account; the venue runs with zero latency, so a command is
processed inside the request that sent it and its events (acceptance, fills, cancel) are
known before the answer is written. :class:`Account` turns those events into Binance's
records and user-stream payloads (``executionReport`` then ``outboundAccountPosition``, the
order Binance sends them in).

Binance ids are integers: ``orderId`` counts across the server, the trade ids of our fills
per symbol (their own sequence, apart from the public trades' ids), execution ids (``I``)
across the server. Our fills trade against replayed liquidity and do not print on the
public ``trade`` stream.
"""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Callable, Iterator, Mapping, Sequence

from bot4.core.clock import Clock
from bot4.core.errors import InternalError
from bot4.core.ids import ClientOrderId, StrategyId
from bot4.model.account import AccountState
from bot4.model.data import MarketData
from bot4.model.enums import LiquiditySide
from bot4.model.events import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderTriggered,
)
from bot4.model.instrument import Instrument
from bot4.venues.sim.accounting import settled_notional_raw
from bot4.venues.sim.binance_server import wire
from bot4.venues.sim.binance_server.config import AccountSpec, BinanceServerConfig
from bot4.venues.sim.binance_server.orders import (
    ExecutionType,
    FillRecord,
    OrderRecord,
    OrderStatus,
)
from bot4.venues.sim.config import SimVenueConfig
from bot4.venues.sim.venue import SimulatedVenue

__all__ = ["Account", "IdSource", "ListenKeys", "ServerClock", "UserPublisher"]

UserPublisher = Callable[[str, wire.Json], None]
"""Sends a user-data payload to every user stream of the named account."""

_KEY_ALPHABET = string.ascii_letters + string.digits
# Binance's ``r`` (order reject reason) values that a simulated venue's codes can take.
_REJECT_REASONS = frozenset({"INSUFFICIENT_BALANCE", "UNKNOWN_INSTRUMENT", "DUPLICATE_ORDER"})


class ServerClock(Clock):
    """The exchange's time: the wall clock plus a skew (``offset_ms``) tests can change."""

    def __init__(self, offset_ms: int = 0) -> None:
        super().__init__()
        self.offset_ms = offset_ms

    def timestamp_ns(self) -> int:
        return time.time_ns() + self.offset_ms * 1_000_000

    def now_ms(self) -> int:
        return self.timestamp_ns() // 1_000_000


class IdSource:
    """Binance's integer ids: order ids and execution ids server-wide, trade ids per symbol."""

    def __init__(self) -> None:
        self._order = 0
        self._execution = 0
        self._trades: dict[str, int] = {}

    def next_order(self) -> int:
        self._order += 1
        return self._order

    def next_execution(self) -> int:
        self._execution += 1
        return self._execution

    def next_trade(self, symbol: str) -> int:
        value = self._trades.get(symbol, 0) + 1
        self._trades[symbol] = value
        return value


class ListenKeys:
    """User-data listen keys: one per account, valid ``ttl_s`` after the last keep-alive."""

    def __init__(self, ttl_s: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._monotonic = monotonic
        self._accounts: dict[str, str] = {}  # key -> account
        self._expiry: dict[str, float] = {}

    def create(self, account: str) -> str:
        """The account's active key (kept alive), or a new one: Binance returns the same key."""
        for key, owner in self._accounts.items():
            if owner == account:
                self._expiry[key] = self._monotonic() + self.ttl_s
                return key
        key = "".join(secrets.choice(_KEY_ALPHABET) for _ in range(60))
        self._accounts[key] = account
        self._expiry[key] = self._monotonic() + self.ttl_s
        return key

    def keep_alive(self, key: str) -> bool:
        if key not in self._accounts:
            return False
        self._expiry[key] = self._monotonic() + self.ttl_s
        return True

    def delete(self, key: str) -> str | None:
        """Forget ``key``; return its account, or None when it did not exist."""
        self._expiry.pop(key, None)
        return self._accounts.pop(key, None)

    def account_of(self, key: str) -> str | None:
        return self._accounts.get(key)

    def keys_of(self, account: str) -> list[str]:
        return [key for key, owner in self._accounts.items() if owner == account]

    def pop_expired(self, *, all_keys: bool = False) -> list[tuple[str, str]]:
        """Remove and return ``(key, account)`` of the keys past their expiry (or all of them)."""
        now = self._monotonic()
        gone = [key for key, expiry in self._expiry.items() if all_keys or expiry <= now]
        return [(key, account) for key in gone if (account := self.delete(key)) is not None]

    def __len__(self) -> int:
        return len(self._accounts)


class Account:
    """One account: its simulated venue, its orders and fills as Binance reports them."""

    def __init__(
        self,
        spec: AccountSpec,
        *,
        uid: int,
        instruments: Sequence[Instrument],
        config: BinanceServerConfig,
        clock: ServerClock,
        ids: IdSource,
        publish: UserPublisher,
    ) -> None:
        self.name = spec.name
        self.uid = uid
        self._clock = clock
        self._ids = ids
        self._publish = publish
        sim_config = SimVenueConfig(
            venue=config.venue,
            starting_balances=dict(spec.balances),
            queue_position=config.queue_position,
            maker_fee=config.maker_fee,
            taker_fee=config.taker_fee,
            id_prefix=spec.name,
        )
        self.venue = SimulatedVenue(sim_config, instruments, clock, self._on_event)
        if not instruments:
            raise InternalError("an account needs at least one instrument", account=spec.name)
        first = instruments[0]
        self.maker_fee, self.taker_fee = sim_config.fee_rates(first.maker_fee, first.taker_fee)
        self.orders: dict[int, OrderRecord] = {}
        self.open: dict[int, OrderRecord] = {}
        self._latest: dict[tuple[str, str], OrderRecord] = {}  # (symbol, clientOrderId) -> newest
        self._pending: dict[ClientOrderId, OrderRecord] = {}  # venue's client id -> record
        self.trades: dict[str, list[FillRecord]] = {}
        self.update_ms = clock.now_ms()
        self.strategy_id = StrategyId(f"API-{spec.name}")

    # -- lookups ----------------------------------------------------------------------------

    def find(self, symbol: str, order_id: int | None, client_order_id: str | None) -> OrderRecord | None:
        """Binance's lookup: by ``orderId`` first (its client id must then match), else by client id."""
        if order_id is not None:
            rec = self.orders.get(order_id)
            if rec is None or rec.symbol != symbol:
                return None
            if client_order_id is not None and rec.client_order_id != client_order_id:
                return None
            return rec
        if client_order_id is not None:
            return self._latest.get((symbol, client_order_id))
        return None

    def open_orders(self, symbol: str | None = None) -> list[OrderRecord]:
        return [rec for rec in self.open.values() if symbol is None or rec.symbol == symbol]

    def is_open_client_id(self, symbol: str, client_order_id: str) -> bool:
        rec = self._latest.get((symbol, client_order_id))
        return rec is not None and rec.is_open

    def balances(self) -> Iterator[tuple[str, int, int, int]]:
        """``(asset, free_raw, locked_raw, decimals)`` of every asset, sorted by asset."""
        for balance in self.venue.account_state().balances:
            yield _balance_row(balance.currency.code, balance.free.raw, balance.locked.raw, balance.currency.precision)

    # -- commands -------------------------------------------------------------------------

    def submit(self, rec: OrderRecord) -> None:
        """Hand a new order to the venue; afterwards ``rec.reject`` says if it was refused."""
        self._pending[rec.order.client_order_id] = rec
        try:
            self.venue.submit_order(rec.order)
        finally:
            if not rec.accepted:
                self._pending.pop(rec.order.client_order_id, None)

    def cancel(self, rec: OrderRecord, cancel_client_order_id: str) -> bool:
        """Cancel a working order; False when the venue no longer has it working."""
        rec.cancel_client_order_id = cancel_client_order_id
        self.venue.cancel_order(rec.order)
        return rec.status is OrderStatus.CANCELED

    def process(self, data: MarketData) -> None:
        self.venue.process_data(data)

    # -- venue events ---------------------------------------------------------------------

    def _on_event(self, event: OrderEvent | AccountState) -> None:
        now = self._clock.now_ms()
        if isinstance(event, AccountState):
            self.update_ms = now
            rows = [
                _balance_row(b.currency.code, b.free.raw, b.locked.raw, b.currency.precision) for b in event.balances
            ]
            self._publish(self.name, wire.account_position(now, rows))
            return
        rec = self._pending.get(event.client_order_id)
        if rec is None:
            raise InternalError("venue event for an order the exchange does not know", event=repr(event))
        rec.update_time_ms = now
        if isinstance(event, OrderAccepted):
            rec.accepted = True
            rec.status = OrderStatus.NEW
            if not rec.order_type.has_stop:
                rec.is_working = True
                rec.working_time_ms = now
            self.orders[rec.order_id] = rec
            self.open[rec.order_id] = rec
            self._latest[(rec.symbol, rec.client_order_id)] = rec
            self._report(rec, ExecutionType.NEW, now)
        elif isinstance(event, OrderTriggered):
            rec.is_working = True
            rec.working_time_ms = now
        elif isinstance(event, OrderFilled):
            self._fill(rec, event, now)
        elif isinstance(event, OrderCanceled):
            self._end(rec, OrderStatus.CANCELED, ExecutionType.CANCELED, now)
        elif isinstance(event, OrderExpired):
            self._end(rec, OrderStatus.EXPIRED, ExecutionType.EXPIRED, now)
        elif isinstance(event, OrderRejected):
            if rec.accepted:
                reason = event.code if event.code in _REJECT_REASONS else "NONE"
                self._end(rec, OrderStatus.REJECTED, ExecutionType.REJECTED, now, reason=reason)
            else:
                rec.status = OrderStatus.REJECTED
                rec.reject = (event.code, event.reason)
        # OrderCancelRejected leaves the record as it is: the cancel path reads the status.

    def _fill(self, rec: OrderRecord, event: OrderFilled, now: int) -> None:
        inst = rec.instrument
        price, qty = event.last_px.raw, event.last_qty.raw
        fill = FillRecord(
            trade_id=self._ids.next_trade(rec.symbol),
            order_id=rec.order_id,
            symbol=rec.symbol,
            side=rec.side,
            price_raw=price,
            qty_raw=qty,
            quote_raw=settled_notional_raw(price, qty, inst.quote_currency),
            commission_raw=event.commission.raw,
            commission_asset=event.commission.currency.code,
            time_ms=now,
            is_maker=event.liquidity_side is LiquiditySide.MAKER,
        )
        rec.fills.append(fill)
        rec.executed_raw += qty
        rec.cum_quote_raw += fill.quote_raw
        self.trades.setdefault(rec.symbol, []).append(fill)
        if rec.executed_raw >= rec.qty_raw:
            rec.status = OrderStatus.FILLED
            self._close(rec)
        else:
            rec.status = OrderStatus.PARTIALLY_FILLED
        self._report(rec, ExecutionType.TRADE, now, fill=fill)

    def _end(self, rec: OrderRecord, status: OrderStatus, execution: ExecutionType, now: int, reason: str = "NONE") -> None:
        rec.status = status
        self._close(rec)
        self._report(rec, execution, now, reject_reason=reason)

    def _close(self, rec: OrderRecord) -> None:
        self.open.pop(rec.order_id, None)
        self._pending.pop(rec.order.client_order_id, None)

    def _report(
        self, rec: OrderRecord, execution: ExecutionType, now: int, *, fill: FillRecord | None = None, reject_reason: str = "NONE"
    ) -> None:
        payload = wire.execution_report(
            rec, execution, event_ms=now, execution_id=self._ids.next_execution(), fill=fill, reject_reason=reject_reason
        )
        self._publish(self.name, payload)

    def __repr__(self) -> str:
        return f"Account({self.name!r}, orders={len(self.orders)}, open={len(self.open)})"


def _balance_row(asset: str, free: int, locked: int, precision: int) -> tuple[str, int, int, int]:
    return asset, free, locked, max(8, precision)


def build_accounts(
    config: BinanceServerConfig,
    instruments: Sequence[Instrument],
    clock: ServerClock,
    ids: IdSource,
    publish: UserPublisher,
) -> Mapping[str, Account]:
    return {
        spec.name: Account(
            spec, uid=index + 1, instruments=instruments, config=config, clock=clock, ids=ids, publish=publish
        )
        for index, spec in enumerate(config.accounts)
    }

