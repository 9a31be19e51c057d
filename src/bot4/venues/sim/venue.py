"""The simulated venue: a :class:`VenueClient` backed by one matching engine per instrument.

Used by backtests and paper trading. It publishes the same events a real adapter does, in a
deterministic order: the same config, instruments, commands and data give the same events,
byte for byte (no randomness, no wall clock beyond the injected :class:`Clock`, no iteration
over sets).

Time and latency:

- A command (submit, cancel, modify) reaches the venue at ``clock now + latency_ns``. Commands
  are processed in arrival order (FIFO for equal times) when the venue's time passes their
  arrival: ``advance_time`` and ``process_data`` move it. With zero latency a command is
  processed inside the call; one sent from inside an event handler (the sink) is processed as
  soon as the venue finishes the work in progress.
- GTD orders expire when the venue's time reaches ``expire_time_ns``; at equal times an expiry
  comes before a command.
- The venue's time never goes backwards; every event is stamped with it
  (``ts_event == ts_init``): a command's arrival, an expiry's time or the data's ``ts_init``.
- After each command, expiry or data event that changed balances, one ``AccountState`` with the
  changed currencies follows the order events.

Errors: an order for an unknown instrument is rejected (``UNKNOWN_INSTRUMENT``, "Invalid
symbol."), never raised; a cancel or modify of an order that is not working is refused with
``OrderCancelRejected``/``OrderModifyRejected``; market data for an unknown instrument raises
:class:`UnknownInstrumentError` so the caller can count it.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from bot4.core.clock import Clock
from bot4.core.errors import ConfigError, InternalError, InvalidInputError, UnknownInstrumentError
from bot4.core.ids import AccountId, ClientOrderId, InstrumentId, StrategyId, Venue
from bot4.core.numbers import FIXED_PRECISION, Currency, Price, Quantity
from bot4.execution.ports import EventSink
from bot4.model.account import AccountState
from bot4.model.book import OrderBook
from bot4.model.data import MarketData
from bot4.model.enums import OrderStatus
from bot4.model.instrument import Instrument
from bot4.model.orders import Order
from bot4.venues.sim.accounting import OrderAccounting
from bot4.venues.sim.config import SimVenueConfig
from bot4.venues.sim.ledger import SimLedger
from bot4.venues.sim.matching import MatchingEngine
from bot4.venues.sim.orders import Reject, SimOrder

__all__ = ["SimulatedVenue"]


class _Cancel:
    __slots__ = ("client_order_id", "instrument_id", "strategy_id")

    def __init__(self, order: Order) -> None:
        self.client_order_id: ClientOrderId = order.client_order_id
        self.instrument_id: InstrumentId = order.instrument_id
        self.strategy_id: StrategyId = order.strategy_id


class _Modify(_Cancel):
    __slots__ = ("price_raw", "quantity_raw", "trigger_raw")

    def __init__(
        self, order: Order, quantity: Quantity | None, price: Price | None, trigger_price: Price | None
    ) -> None:
        super().__init__(order)
        self.quantity_raw = None if quantity is None else quantity.raw
        self.price_raw = None if price is None else price.raw
        self.trigger_raw = None if trigger_price is None else trigger_price.raw


_Command = SimOrder | _Cancel | _Modify


class SimulatedVenue:
    """A simulated spot venue holding one account (rules: this module and :mod:`.matching`)."""

    def __init__(
        self,
        config: SimVenueConfig,
        instruments: Sequence[Instrument],
        clock: Clock,
        sink: EventSink,
    ) -> None:
        self._config = config
        self._clock = clock
        self._venue = Venue.from_str(config.venue)
        self._account_id = AccountId(f"{config.venue}-001")
        currencies: list[Currency] = []
        for instrument in instruments:
            currencies += [instrument.base_currency, instrument.quote_currency]
        _check_balance_precision(config, currencies)
        self._ledger = SimLedger(
            account_id=self._account_id,
            account_type=config.account_type,
            currencies=currencies,
            starting_raw=config.starting_raw(),
            leverage=config.leverage_decimal,
        )
        self._acct = OrderAccounting(
            venue=config.venue, account_id=self._account_id, ledger=self._ledger, sink=sink, id_prefix=config.id_prefix
        )
        self._engines: dict[InstrumentId, MatchingEngine] = {}
        for instrument in instruments:
            if instrument.id in self._engines:
                raise InvalidInputError("instrument given twice", instrument=str(instrument.id))
            self._engines[instrument.id] = MatchingEngine(instrument, config, self._acct, self._marks)
        self._latency = config.latency_ns
        self._commands: list[tuple[int, int, _Command]] = []
        self._expiries: list[tuple[int, int, SimOrder]] = []
        self._seq = 0
        self._orders: dict[ClientOrderId, SimOrder] = {}
        self._busy = False
        self._due_ns = 0  # zero-latency commands sent while busy are due by then
        self._now = clock.timestamp_ns()
        self._acct.now_ns = self._now

    # -- VenueClient ----------------------------------------------------------------------

    @property
    def venue(self) -> Venue:
        return self._venue

    @property
    def account_id(self) -> AccountId:
        return self._account_id

    @property
    def supports_amend(self) -> bool:
        """The simulated venue amends working orders in place (``OrderUpdated``)."""
        return True

    def submit_order(self, order: Order) -> None:
        self._enqueue(SimOrder.from_order(order))

    def cancel_order(self, order: Order) -> None:
        self._enqueue(_Cancel(order))

    def modify_order(
        self,
        order: Order,
        quantity: Quantity | None = None,
        price: Price | None = None,
        trigger_price: Price | None = None,
    ) -> None:
        self._enqueue(_Modify(order, quantity, price, trigger_price))

    # -- driving --------------------------------------------------------------------------

    def process_data(self, data: MarketData) -> None:
        """Move time to ``data.ts_init``, then let the instrument's engine see the data."""
        engine = self._engines.get(data.instrument_id)
        if engine is None:
            raise UnknownInstrumentError(
                "market data for an instrument the venue does not list",
                venue=self._venue.value,
                instrument=str(data.instrument_id),
            )
        if self._busy:
            raise InternalError(
                "process_data called from inside a venue event handler", venue=self._venue.value
            )
        # Commands and expiries due by ``ts`` come first. Most events find nothing queued:
        # then only time moves, as in ``_run``, without the call.
        ts = data.ts_init
        if self._commands or self._expiries:
            self._run(ts)
        elif ts > self._now:
            self._now = self._acct.now_ns = ts
        if engine.is_idle:
            # No order works on this instrument, so the data can only change the engine's
            # market view: no event, balance change or command can follow, and the busy flag,
            # flush and second run below have nothing to do. Measured with a no-op sink, per
            # trade tick: 2.0 us -> 0.28 us (backtest_trades_no_orders: 3.3 s -> 1.3 s CPU).
            engine.process(data)
            return
        self._busy = True
        try:
            engine.process(data)
            self._acct.flush()
        finally:
            self._busy = False
        if self._commands:
            # commands the sink sent meanwhile (the expiries due were run above, and only a
            # command can add one)
            self._run(self._now)

    def advance_time(self, ts_ns: int) -> None:
        """Process the commands and GTD expiries due by ``ts_ns``, in time order."""
        self._run(ts_ns)

    # -- reading --------------------------------------------------------------------------

    @property
    def now_ns(self) -> int:
        """The venue's time: the latest command, expiry or data it has processed."""
        return self._now

    @property
    def ledger(self) -> SimLedger:
        return self._ledger

    def account_state(self) -> AccountState:
        """Every balance of the account now (the backtest seeds the local account from it)."""
        return self._ledger.state(self._now)

    def book(self, instrument_id: InstrumentId) -> OrderBook:
        """The venue's copy of the book, including liquidity our orders consumed."""
        return self.engine(instrument_id).book

    def position_raw(self, instrument_id: InstrumentId) -> int:
        """The venue-side net position from our fills (+ long, - short), raw units."""
        return self.engine(instrument_id).position_raw

    def open_orders(self) -> list[SimOrder]:
        """Working orders, by instrument in the order given, then by arrival."""
        return [order for engine in self._engines.values() for order in engine.open_orders()]

    def engine(self, instrument_id: InstrumentId) -> MatchingEngine:
        engine = self._engines.get(instrument_id)
        if engine is None:
            raise UnknownInstrumentError(
                "the venue does not list this instrument", venue=self._venue.value, instrument=str(instrument_id)
            )
        return engine

    # -- internals ------------------------------------------------------------------------

    def _enqueue(self, command: _Command) -> None:
        latency = self._latency
        arrival = self._clock.timestamp_ns() + latency
        if latency == 0:
            if arrival < self._now:
                arrival = self._now
            if arrival > self._due_ns:
                self._due_ns = arrival
        heapq.heappush(self._commands, (arrival, self._seq, command))
        self._seq += 1
        if latency == 0:
            self._run(arrival)

    def _run(self, target_ns: int) -> None:
        if self._busy:
            return  # the call in progress picks the work up when it finishes
        commands, expiries = self._commands, self._expiries
        if not commands and not expiries:
            # Nothing is queued, so nothing is due and only time moves; every zero-latency
            # command has been processed, so ``_due_ns <= _now``. Measured: 0.28 us -> 0.07 us
            # per call against entering the loop below.
            if target_ns > self._now:
                self._now = self._acct.now_ns = target_ns
            return
        self._busy = True
        try:
            while True:
                target = target_ns if target_ns > self._due_ns else self._due_ns
                next_command = commands[0][0] if commands and commands[0][0] <= target else None
                next_expiry = expiries[0][0] if expiries and expiries[0][0] <= target else None
                if next_expiry is not None and (next_command is None or next_expiry <= next_command):
                    _, _, order = heapq.heappop(expiries)
                    self._set_now(next_expiry)
                    if order.is_open:
                        self.engine(order.instrument_id).expire(order.client_order_id)
                elif next_command is not None:
                    _, _, command = heapq.heappop(commands)
                    self._set_now(next_command)
                    self._execute(command)
                else:
                    break
                self._acct.flush()
            self._set_now(target)
        finally:
            self._busy = False

    def _set_now(self, ts_ns: int) -> None:
        if ts_ns > self._now:
            self._now = ts_ns
            self._acct.now_ns = ts_ns

    def _execute(self, command: _Command) -> None:
        if isinstance(command, SimOrder):
            self._submit(command)
            return
        engine = self._engines.get(command.instrument_id)
        order = None if engine is None else engine.get_open(command.client_order_id)
        if engine is None or order is None:
            reason = self._not_working_reason(command.client_order_id)
            args = (command.client_order_id, command.instrument_id, command.strategy_id, reason)
            if isinstance(command, _Modify):
                self._acct.modify_rejected(*args)
            else:
                self._acct.cancel_rejected(*args)
        elif isinstance(command, _Modify):
            engine.modify(order, command.quantity_raw, command.price_raw, command.trigger_raw)
        else:
            engine.cancel(command.client_order_id)

    def _submit(self, order: SimOrder) -> None:
        engine = self._engines.get(order.instrument_id)
        if engine is None:
            self._acct.reject(order, *Reject.UNKNOWN_INSTRUMENT)
            return
        known = self._orders.get(order.client_order_id)
        if known is not None and known.is_open:
            self._acct.reject(order, *Reject.DUPLICATE_ORDER)
            return
        self._orders[order.client_order_id] = order
        engine.submit(order)
        if order.expire_time_ns is not None and order.is_open:
            heapq.heappush(self._expiries, (order.expire_time_ns, self._seq, order))
            self._seq += 1

    def _not_working_reason(self, client_order_id: ClientOrderId) -> str:
        known = self._orders.get(client_order_id)
        if known is None or known.status is OrderStatus.REJECTED:
            return Reject.UNKNOWN_ORDER
        return f"Order is no longer working: {known.status.value}."

    def _marks(self, quote: Currency) -> dict[Currency, int]:
        marks: dict[Currency, int] = {}
        for engine in self._engines.values():
            instrument = engine.instrument
            if instrument.quote_currency == quote and instrument.base_currency not in marks:
                mark = engine.market.mark_raw()
                if mark is not None:
                    marks[instrument.base_currency] = mark
        return marks

    def __repr__(self) -> str:
        return f"SimulatedVenue({self._venue}, instruments={len(self._engines)}, now={self._now})"


def _check_balance_precision(config: SimVenueConfig, currencies: Sequence[Currency]) -> None:
    precisions = {currency.code: currency.precision for currency in currencies}
    for code, raw in config.starting_raw().items():
        precision = precisions.get(code)
        if precision is not None and raw % 10 ** (FIXED_PRECISION - precision):
            raise ConfigError(
                f"starting balance has more decimals than {code}'s precision {precision}",
                field=f"starting_balances.{code}",
                value=config.starting_balances[code],
            )
