"""The pre-trade risk engine: every new order passes ``check`` before it reaches a venue.

:class:`RiskEngine` implements the execution engine's :class:`PreTradeCheck` port. ``check``
answers None (the order may go) or a :class:`Denial` with a stable code (:class:`DenialCode`)
and the numbers that caused it; it never raises for a bad order. The checks, in order:

1. the instrument is known (to the instruments lookup and the portfolio);
2. the loss limits are re-evaluated (day roll-over, equity against its high-water mark) and
   the trading state gates the order: HALTED refuses everything, REDUCING lets through only an
   order on the side opposite the position whose quantity is at most the position minus the
   other working orders already reducing it; equity that cannot be valued is NO_MARK_PRICE;
3. max order quantity; max open orders (instrument, then total); order rate (instrument, then
   total token bucket, on the injected clock);
4. price band of a limit price against the mark (a stop-limit's against its trigger);
5. max order notional (a market order valued at the mark, a stop-market at its trigger);
6. max position and max gross exposure after the order, counting the order and the other
   working orders on the same side. An order that leaves the absolute position no larger than
   it is now always passes these two, so a position above a lowered limit can still be closed;
7. balance: on a CASH account a buy needs free quote >= notional + taker fee, a sell free base
   >= quantity, as last reported by the venue (the venue stays the final judge of orders that
   are in flight). MARGIN accounts are not checked here.

Working orders are tracked (:mod:`bot4.risk.book`) from ``on_submitted`` and from the order
events on the bus (``events.order.*``); fills (``events.position``) and account states (``events.account``)
update the daily loss and drawdown. Breaching either moves the trading state to the configured
REDUCING or HALTED, publishing :class:`TradingStateChanged` on ``events.risk``. Automatic moves
only ever tighten the state; only an operator (:meth:`RiskEngine.set_trading_state`) relaxes
it, and doing so re-arms the limits from the present (the day's loss and the high-water mark
count from that moment), so a resume is not tripped again by the same loss.

Performance: limits are resolved once per instrument into raw ints (:class:`InstrumentRisk`);
the pass path compares ints and reads slotted attributes, and builds strings only to deny.
Measured on the bench's order stream (``bot4 bench --only risk_check``, every check on):
~1.3 us per check median, ~0.4 us of it with no check configured; each Python-level call
costs ~0.1 us here, so the pass path makes five (``check`` itself, the clock, the mark, the
portfolio's equity and the loss monitor's update).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import msgspec

from bot4.core.bus import MessageBus
from bot4.core.clock import Clock
from bot4.core.ids import InstrumentId
from bot4.core.numbers import FIXED_SCALAR
from bot4.execution.ports import Denial
from bot4.model.account import AccountState
from bot4.model.enums import AccountType, OrderSide, OrderType
from bot4.model.instrument import Instrument
from bot4.model.orders import Order
from bot4.model.position import PositionChanged
from bot4.model.status import CIRCUIT_TOPIC, CircuitState, CircuitStateChanged
from bot4.portfolio.portfolio import Portfolio
from bot4.risk import denials
from bot4.risk.book import OrdersView, RiskBook
from bot4.risk.config import RiskConfig, parse_rate
from bot4.risk.denials import DenialCode
from bot4.risk.limits import InstrumentRisk
from bot4.risk.pnl import LossMonitor, pnl_currency, unpriced_holding
from bot4.risk.state import StateChangeCause, TradingState, TradingStateChanged, TradingStateMachine
from bot4.risk.throttle import TOKEN, TokenBucket

__all__ = ["RiskEngine", "RiskStats"]

_log = logging.getLogger("bot4.risk")

_ACTIVE = TradingState.ACTIVE
_HALTED = TradingState.HALTED
_BUY = OrderSide.BUY
_MARKET = OrderType.MARKET
_LIMIT = OrderType.LIMIT
_CASH = AccountType.CASH
_SCALAR = FIXED_SCALAR
_TOKEN = TOKEN


class RiskStats(msgspec.Struct, kw_only=True):
    """Counters: orders checked, denied (in all and per code), submitted, state changes."""

    checks: int = 0
    denied: int = 0
    submitted: int = 0
    state_changes: int = 0
    by_code: dict[str, int] = msgspec.field(default_factory=dict)


class RiskEngine:
    """Pre-trade checks, the trading state and the loss limits."""

    def __init__(
        self,
        config: RiskConfig,
        clock: Clock,
        bus: MessageBus,
        portfolio: Portfolio,
        instruments: Mapping[InstrumentId, Instrument],
        orders: OrdersView | None = None,
    ) -> None:
        """Wire the engine; ``instruments`` is read live, so instruments added later are seen.

        Build it after the portfolio: it listens to the bus after the portfolio has applied
        each fill and account state. Raises :class:`ConfigError` when a loss limit is set and
        its currency cannot be told from ``config.currency`` or the instruments.
        """
        self._config = config
        self._clock = clock
        self._bus = bus
        self._portfolio = portfolio
        self._instruments = instruments
        self._book = RiskBook(config, clock, portfolio, instruments, orders)
        self._by_id = self._book.by_id  # the same dicts, one attribute load less per check
        self._tracked = self._book.tracked
        self._machine = TradingStateMachine(bus, clock)
        self.stats = RiskStats()
        now = clock.timestamp_ns()
        self._max_open_total = config.max_open_orders_total
        self._bucket: TokenBucket | None = None
        if config.max_orders_per_second_total is not None:
            rate = parse_rate("max_orders_per_second_total", config.max_orders_per_second_total)
            self._bucket = TokenBucket(rate, config.order_burst_total, now)
        self._monitor: LossMonitor | None = None
        self._mark_of = portfolio.mark_raw
        self._equity_of = portfolio.equity_raw
        if config.watches_pnl:
            currency = pnl_currency(config, instruments)
            self._monitor = LossMonitor(config, currency, portfolio.net_realized_raw(currency), now)
        known = {str(instrument_id) for instrument_id in instruments}
        for key in config.instruments:
            if key not in known:
                _log.warning("risk limits for %s: no such instrument (yet); they apply once it is added", key)
        bus.subscribe("events.order.*", self._book.on_order_event)
        bus.subscribe("events.position", self._on_position_changed)
        bus.subscribe("events.account", self._on_account_state)
        bus.subscribe(CIRCUIT_TOPIC, self._on_circuit)
        self._book.sync()
        if self._monitor is not None:
            self._evaluate(self._monitor, now)

    # -- the port -----------------------------------------------------------------------------

    def check(self, order: Order) -> Denial | None:
        """None when ``order`` may go, else why not. Never raises for a bad order."""
        self.stats.checks += 1
        ir = self._by_id.get(order.instrument_id)
        if ir is None:
            resolved = self._book.resolve(order.instrument_id)
            if not isinstance(resolved, InstrumentRisk):
                return self._denied(denials.unknown_instrument(order, resolved))
            ir = resolved
        now = self._clock.timestamp_ns()
        instrument_id = ir.instrument_id
        mark = self._mark_of(instrument_id) if ir.uses_mark else None
        monitor = self._monitor
        if monitor is not None:
            # Realised PnL moves only on fills (handled as they come); here the day may roll
            # over and equity moves with the marks.
            if now >= monitor.day_end_ns:
                monitor.roll_day(now)
            if monitor.watches_equity and monitor.update_equity(self._equity_of(monitor.currency)):
                self._trip(monitor, StateChangeCause.MAX_DRAWDOWN, self._config.on_max_drawdown)
        if self._machine.state is not _ACTIVE:
            gated = self._gate(order, ir)
            if gated is not None:
                return self._denied(gated)
        if monitor is not None and not monitor.equity_known:
            what = unpriced_holding(self._portfolio, self._instruments, monitor.currency)
            return self._denied(denials.no_equity(order, monitor.currency.code, what))

        qty = order.quantity.raw
        limit = ir.max_qty
        if limit is not None and qty > limit:
            return self._denied(denials.max_qty(ir, qty, limit))
        limit = ir.max_open
        if limit is not None and ir.open_count >= limit:
            return self._denied(denials.max_open(ir, ir.open_count, limit, "instrument"))
        limit = self._max_open_total
        if limit is not None and len(self._tracked) >= limit:
            return self._denied(denials.max_open(ir, len(self._tracked), limit, "total"))
        # A bucket holding a whole token needs no refill to say yes (saves a call per check).
        bucket = ir.bucket
        if bucket is not None and bucket.units < _TOKEN and not bucket.has_token(now):
            return self._denied(denials.rate_limited(ir, bucket, "instrument"))
        bucket = self._bucket
        if bucket is not None and bucket.units < _TOKEN and not bucket.has_token(now):
            return self._denied(denials.rate_limited(ir, bucket, "total"))

        # The order's own price: limit price, else a stop-market's trigger, else None (market).
        order_type = order.order_type
        limit_price = order.price
        price: int | None
        if limit_price is not None:
            price = limit_price.raw
        elif order_type is _MARKET or order.trigger_price is None:
            price = None
        else:
            price = order.trigger_price.raw

        bps = ir.band_bps
        if bps is not None and price is not None and limit_price is not None:
            if order_type is _LIMIT:
                ref, ref_name = mark, "mark"
            else:
                trigger = order.trigger_price
                ref, ref_name = (None if trigger is None else trigger.raw), "trigger"
            if ref is None:
                return self._denied(denials.no_mark(ir, DenialCode.PRICE_BAND))
            off = price - ref if price > ref else ref - price
            if off * 10_000 > bps * ref:
                return self._denied(denials.price_band(ir, price, ref, bps, ref_name))

        notional = 0
        value_px = 0  # what the order is valued at: its own price, else the mark
        if ir.uses_notional:
            px = price if price is not None else mark
            if px is None:
                return self._denied(denials.no_mark(ir, ir.notional_check))
            notional = px * qty // _SCALAR
            value_px = mark if mark is not None else px
            limit = ir.max_notional
            if limit is not None and notional > limit:
                return self._denied(denials.max_notional(ir, notional, limit, px, qty))

        is_buy = order.side is _BUY
        position = ir.position.signed_raw
        if is_buy:
            working = ir.buy_leaves
            projected = position + qty + working
        else:
            working = ir.sell_leaves
            projected = position - qty - working
        after = projected if projected >= 0 else -projected
        if after > (position if position >= 0 else -position):
            limit = ir.max_position
            if limit is not None and after > limit:
                return self._denied(denials.max_position(ir, position, working, qty, projected, limit))
            limit = ir.max_gross
            if limit is not None:  # uses_notional is set, so value_px is the mark or the price
                # Portfolio.gross_exposure_raw's sum with this position replaced by ``after``,
                # over cached positions: ~0.1 us here against ~0.45 us a call (one position).
                gross = after * value_px // _SCALAR
                own = ir.position
                for other, other_id in ir.group:
                    signed = other.signed_raw
                    if signed and other is not own:
                        other_mark = self._mark_of(other_id)
                        if other_mark is not None:
                            gross += (signed if signed > 0 else -signed) * other_mark // _SCALAR
                if gross > limit:
                    return self._denied(denials.max_gross(ir, gross, limit, projected, value_px))

        if ir.check_balance:
            account = ir.account
            if account is None:
                account = ir.account = self._portfolio.account(ir.venue)
                if account is None:
                    return self._denied(denials.no_account(ir))
            if account.account_type is _CASH:
                if is_buy:
                    currency = ir.quote
                    need = notional - (-notional * ir.fee_num // ir.fee_den)  # + fee rounded up
                else:
                    currency = ir.base
                    need = qty
                balance = account.balances.get(currency)
                free = 0 if balance is None else balance.free.raw
                if free < need:
                    return self._denied(denials.insufficient(ir, currency.code, currency.precision, free, need))
        return None

    def on_submitted(self, order: Order) -> None:
        """The order passed and left: take its rate tokens and count it as working."""
        self.stats.submitted += 1
        ir = self._by_id.get(order.instrument_id)
        if ir is None:
            return  # never checked here (risk was set after it was sent): nothing to count
        now = self._clock.timestamp_ns()
        if ir.bucket is not None:
            ir.bucket.take(now)
        if self._bucket is not None:
            self._bucket.take(now)
        if ir.track(order):
            self._tracked[order.client_order_id] = ir

    # -- the trading state --------------------------------------------------------------------

    @property
    def trading_state(self) -> TradingState:
        return self._machine.state

    @property
    def state_history(self) -> list[TradingStateChanged]:
        """Every state change so far, oldest first."""
        return self._machine.history

    def set_trading_state(self, state: TradingState, reason: str) -> TradingStateChanged:
        """The kill switch: halt, reduce or resume, whatever the state is now.

        The only way out of a state the loss limits moved to. It re-arms them from the present:
        the day's realised loss counts from now and the high-water mark restarts at the current
        equity, so the loss that tripped them does not trip them again at once.
        """
        if self._monitor is not None:
            self._monitor.rearm()
        self.stats.state_changes += 1
        return self._machine.set_by_operator(state, reason)

    @property
    def config(self) -> RiskConfig:
        return self._config

    @property
    def loss_monitor(self) -> LossMonitor | None:
        """Daily loss and drawdown figures (None when no loss limit is configured)."""
        return self._monitor

    def open_order_count(self, instrument_id: InstrumentId | None = None) -> int:
        """Working orders the engine counts, in one instrument or in all."""
        return self._book.open_count(instrument_id)

    def sync_orders(self) -> None:
        """Count every open order the orders view knows (at start and after reconciliation)."""
        self._book.sync()

    # -- bus handlers -------------------------------------------------------------------------

    def _on_position_changed(self, event: PositionChanged) -> None:
        self._book.on_position(event.instrument_id)
        monitor = self._monitor
        if monitor is not None:
            now = self._clock.timestamp_ns()
            monitor.set_realized(self._portfolio.net_realized_raw(monitor.currency), now)
            self._evaluate(monitor, now)

    def _on_account_state(self, state: AccountState) -> None:
        monitor = self._monitor
        if monitor is not None:
            self._evaluate(monitor, self._clock.timestamp_ns())

    def _on_circuit(self, event: CircuitStateChanged) -> None:
        """An order path to a venue broke: stop adding risk we could not see fills for."""
        target = self._config.on_circuit_open
        if not event.critical or event.state is not CircuitState.OPEN or target is TradingState.ACTIVE:
            return
        if target.severity <= self._machine.state.severity:
            return
        self.stats.state_changes += 1
        self._machine.escalate(
            target,
            StateChangeCause.CIRCUIT_OPEN,
            f"circuit {event.endpoint} at {event.venue} opened: {event.reason}",
            {"venue": str(event.venue), "endpoint": event.endpoint, "reason": event.reason},
        )

    # -- internals ----------------------------------------------------------------------------

    def _denied(self, denial: Denial) -> Denial:
        stats = self.stats
        stats.denied += 1
        stats.by_code[denial.code] = stats.by_code.get(denial.code, 0) + 1
        return denial

    def _gate(self, order: Order, ir: InstrumentRisk) -> Denial | None:
        machine = self._machine
        if machine.state is _HALTED:
            return denials.halted(order, machine)
        position = ir.position.signed_raw
        if order.side is _BUY:
            working, reduces = ir.buy_leaves, position < 0
        else:
            working, reduces = ir.sell_leaves, position > 0
        if reduces and order.quantity.raw <= abs(position) - working:
            return None
        return denials.not_reducing(order, ir, machine, position, working)

    def _evaluate(self, monitor: LossMonitor, now: int) -> None:
        """Roll the day, value equity, and tighten the trading state on a breach."""
        monitor.roll_day(now)
        if monitor.watches_equity and monitor.update_equity(self._equity_of(monitor.currency)):
            self._trip(monitor, StateChangeCause.MAX_DRAWDOWN, self._config.on_max_drawdown)
        if monitor.daily_breached():
            self._trip(monitor, StateChangeCause.DAILY_LOSS_LIMIT, self._config.on_daily_loss_limit)

    def _trip(self, monitor: LossMonitor, cause: StateChangeCause, target: TradingState) -> None:
        machine = self._machine
        if target.severity <= machine.state.severity:
            return  # already at least as strict: nothing to publish
        reason, details = monitor.describe_breach(cause)
        self.stats.state_changes += 1
        machine.escalate(target, cause, reason, details)

