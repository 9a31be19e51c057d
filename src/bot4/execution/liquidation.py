"""The liquidation engine: unwind a position held at several venues, in protected slices.

A job unwinds the net position of one asset pair (e.g. BTC/USDT held at three venues). Every
``interval_ns`` it cuts a slice:

- size: what is left, capped by ``max_slice`` and by ``participation`` of the visible depth
  within the price band at all usable venues (so one slice never sweeps the books);
- protection: every child is an IOC limit inside ``band_bps`` of the consolidated mid, so a
  slice can never fill worse than that band (the per-slice slippage bound);
- route: the smart router splits it across venues by total cost, each venue capped by what we
  hold there; venues whose order breaker is open are left out;
- outcome: fills, partial fills (the IOC remainder is canceled by the venue), rejects and
  denials are recorded per leg. A rejected leg counts as a failure on that venue's ``orders``
  breaker, so a venue that keeps failing is excluded and the unwind carries on elsewhere.

What is not filled is simply part of the next slice: that is the retry. Slices that execute
nothing back off (:class:`~bot4.net.backoff.Backoff`) and after ``max_idle_slices`` of them in a
row the job stops with the residual and the reason. Each slice reports what it sent and what it
got; a slice with no execution says so, it never carries a made-up price. The job's report gives
the total cost against the mid at arrival.

Start a job on demand (:meth:`Liquidator.liquidate`) or let the risk engine start one: with
``trigger_states`` set, a move of the trading state into one of them unwinds every registered
pair. It works the same in backtest, paper and live: it only uses the clock's timers, the bus
and the execution engine.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum

import msgspec

from bot4.core.bus import MessageBus
from bot4.core.clock import Clock, TimeEvent
from bot4.core.errors import NoRouteError
from bot4.core.ids import ClientOrderId, StrategyId, TraderId, Venue
from bot4.core.numbers import FIXED_PRECISION
from bot4.execution.engine import ExecutionEngine
from bot4.execution.smart_router import SmartOrderRouter
from bot4.model.enums import OrderSide
from bot4.model.events import (
    OrderCanceled,
    OrderDenied,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
)
from bot4.model.instrument import Instrument
from bot4.model.orders import Order
from bot4.net.backoff import Backoff
from bot4.net.breaker import BreakerRegistry
from bot4.portfolio.portfolio import Portfolio
from bot4.risk.state import RISK_TOPIC, TradingState, TradingStateChanged

__all__ = [
    "LEG_OUTCOMES",
    "JobStatus",
    "LegReport",
    "LiquidationConfig",
    "LiquidationReport",
    "Liquidator",
    "SliceReport",
]

_log = logging.getLogger("bot4.execution.liquidation")
_BPS = Decimal(10_000)
LEG_OUTCOMES = ("working", "filled", "partially filled", "no execution", "rejected", "denied")


class JobStatus(Enum):
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"  # nothing left (below one lot everywhere)
    STOPPED = "STOPPED"  # gave up or was stopped, with a residual and its reason


@dataclass(frozen=True, kw_only=True)
class LiquidationConfig:
    """How aggressive an unwind is, and what starts one.

    ``max_slice`` is in base units (decimal string). ``trigger_states``: trading states of the
    risk engine that unwind every registered pair. ``margin_floor``: equity divided by gross
    exposure (both in the registered pairs' quote currency) below which every registered pair
    is unwound, checked on each account and position change; e.g. ``Decimal("0.2")`` for a 5x
    leveraged book that must not go beyond it.
    """

    band_bps: Decimal = Decimal(50)
    participation: Decimal = Decimal("0.5")
    max_slice: str | None = None
    interval_ns: int = 1_000_000_000
    max_idle_slices: int = 10
    backoff: Backoff = field(default_factory=lambda: Backoff(initial=1.0, max_delay=30.0, jitter=False))
    trigger_states: frozenset[TradingState] = frozenset()
    margin_floor: Decimal | None = None
    strategy_id: str = "LIQUIDATOR"


class LegReport(msgspec.Struct, kw_only=True):
    venue: str
    client_order_id: str
    quantity: str
    limit_price: str
    filled: str = "0"
    avg_price: str | None = None  # None when nothing executed: never a made-up price
    outcome: str = "working"
    reason: str | None = None


class SliceReport(msgspec.Struct, kw_only=True):
    index: int
    ts_ns: int
    mid: str
    band: str
    quantity: str
    legs: list[LegReport]
    filled: str = "0"
    outcome: str = "working"  # filled | partially filled | no execution | no route
    reason: str | None = None


class LiquidationReport(msgspec.Struct, kw_only=True):
    job_id: str
    reason: str
    side: OrderSide
    instruments: list[str]
    target: str
    filled: str
    arrival_mid: str
    avg_price: str | None
    cost: str  # against the arrival mid, fees included, in quote currency
    cost_bps: str
    fees: str
    slices: list[SliceReport]
    residual: str
    residual_reason: str | None
    status: JobStatus


class _Job:
    def __init__(self, job_id: str, reason: str, instruments: Sequence[Instrument], side: OrderSide, target_raw: int, mid: Decimal) -> None:
        self.job_id = job_id
        self.reason = reason
        self.instruments = list(instruments)
        self.side = side
        self.target_raw = target_raw
        self.arrival_mid = mid
        self.slices: list[SliceReport] = []
        self.legs: dict[ClientOrderId, LegReport] = {}
        self.open_legs: set[ClientOrderId] = set()
        self.filled_raw = 0
        self.notional = Decimal(0)
        self.fees = Decimal(0)
        self.idle = 0
        self.status = JobStatus.RUNNING
        self.residual_reason: str | None = None


class Liquidator:
    """Runs liquidation jobs; one job per asset pair at a time."""

    def __init__(
        self,
        config: LiquidationConfig,
        *,
        router: SmartOrderRouter,
        clock: Clock,
        bus: MessageBus,
        execution: ExecutionEngine,
        portfolio: Portfolio,
        trader_id: TraderId,
        breakers: BreakerRegistry | None = None,
    ) -> None:
        self.config = config
        self._router = router
        self._clock = clock
        self._bus = bus
        self._execution = execution
        self._portfolio = portfolio
        self._trader_id = trader_id
        self._breakers = breakers
        self._strategy_id = StrategyId(config.strategy_id)
        self._jobs: dict[str, _Job] = {}
        self._pairs: list[list[Instrument]] = []
        self._count = 0
        bus.subscribe(f"events.order.{self._strategy_id}", self._on_order_event)
        if config.trigger_states:
            bus.subscribe(RISK_TOPIC, self._on_risk_state)
        if config.margin_floor is not None:
            bus.subscribe("events.position", self._check_margin)
            bus.subscribe("events.account", self._check_margin)

    # -- starting ---------------------------------------------------------------------------

    def register(self, instruments: Sequence[Instrument]) -> None:
        """One asset pair at several venues, unwound together when the risk engine triggers."""
        self._pairs.append(list(instruments))

    def liquidate(self, instruments: Sequence[Instrument], reason: str) -> str | None:
        """Start unwinding the net position in ``instruments``; return the job id (None if flat)."""
        net = sum(self._portfolio.position(i.id).signed_raw for i in instruments)
        step = min(i.step_size for i in instruments)
        if abs(net) < step:
            return None
        key = ",".join(sorted(str(i.id) for i in instruments))
        running = self._jobs.get(key)
        if running is not None and running.status is JobStatus.RUNNING:
            return running.job_id
        self._count += 1
        job_id = f"LIQ-{self._count}"
        side = OrderSide.SELL if net > 0 else OrderSide.BUY
        job = _Job(job_id, reason, instruments, side, abs(net), self._mid(instruments) or Decimal(0))
        self._jobs[key] = job
        _log.warning("%s: unwinding %s %s (%s)", job_id, side.name, _fmt(abs(net)), reason)
        self._clock.set_time_alert(f"{job_id}.slice.1", self._clock.timestamp_ns(), self._handler(job))
        return job_id

    def stop(self, job_id: str, reason: str) -> None:
        for job in self._jobs.values():
            if job.job_id == job_id and job.status is JobStatus.RUNNING:
                self._finish(job, JobStatus.STOPPED, reason)

    def report(self, job_id: str) -> LiquidationReport:
        for job in self._jobs.values():
            if job.job_id == job_id:
                return self._report(job)
        raise KeyError(job_id)

    def reports(self) -> list[LiquidationReport]:
        return [self._report(job) for job in self._jobs.values()]

    def _on_risk_state(self, event: TradingStateChanged) -> None:
        if event.state in self.config.trigger_states:
            for pair in self._pairs:
                self.liquidate(pair, f"trading state {event.state.value}: {event.reason}")

    def margin_ratio(self) -> Decimal | None:
        """Equity over gross exposure in the registered pairs' quote currency (None if unknown)."""
        if not self._pairs:
            return None
        currency = self._pairs[0][0].quote_currency
        exposure = self._portfolio.gross_exposure_raw(currency)
        equity = self._portfolio.equity_raw(currency)
        if exposure <= 0 or equity is None:
            return None
        return Decimal(equity) / Decimal(exposure)

    def _check_margin(self, _event: object) -> None:
        floor = self.config.margin_floor
        ratio = self.margin_ratio()
        if floor is None or ratio is None or ratio >= floor:
            return
        for pair in self._pairs:
            self.liquidate(pair, f"margin ratio {ratio:.4f} below the floor {floor}")

    # -- slices -----------------------------------------------------------------------------

    def _slice(self, job: _Job) -> None:
        if job.status is not JobStatus.RUNNING:
            return
        if job.open_legs:
            self._schedule(job, self.config.interval_ns)  # the last slice is still working
            return
        remaining = self._remaining(job)
        lot = min(i.step_size for i in job.instruments)
        if remaining < lot:
            self._finish(job, JobStatus.COMPLETED, None)
            return
        mid = self._mid(job.instruments)
        if mid is None:
            self._idle(job, SliceReport(index=len(job.slices) + 1, ts_ns=self._now(), mid="", band="", quantity=_fmt(remaining), legs=[], outcome="no route", reason="no mid price at any venue"))
            return
        band = mid * self.config.band_bps / _BPS
        limit = mid - band if job.side is OrderSide.SELL else mid + band
        limit_raw = int(limit.scaleb(FIXED_PRECISION))
        quantity = self._slice_size(job, remaining, limit_raw)
        index = len(job.slices) + 1
        report = SliceReport(index=index, ts_ns=self._now(), mid=_dec(mid), band=_dec(limit), quantity=_fmt(quantity), legs=[])
        caps = {i.id.venue: self._held(i, job.side) for i in job.instruments}
        try:
            decision = self._router.decide(job.instruments, job.side, quantity, limit_raw=limit_raw, caps=caps, label=job.job_id)
        except NoRouteError as exc:
            report.outcome, report.reason = "no route", exc.message + f" {exc.context.get('excluded', '')}".rstrip()
            self._idle(job, report)
            return
        children = self._router.children(decision, strategy_id=self._strategy_id, trader_id=self._trader_id)
        job.slices.append(report)
        # Register every leg before sending: a venue may fill a child inside submit_order.
        for leg, order in zip(decision.legs, children, strict=True):
            leg_report = LegReport(venue=str(leg.venue), client_order_id=str(order.client_order_id), quantity=str(leg.quantity), limit_price=str(leg.limit_price))
            report.legs.append(leg_report)
            job.legs[order.client_order_id] = leg_report
            job.open_legs.add(order.client_order_id)
        for order in children:
            self._execution.submit_order(order)
        for order in children:
            self._settle_if_final(job, order.client_order_id)
        self._slice_done_check(job, report)

    def _slice_size(self, job: _Job, remaining: int, limit_raw: int) -> int:
        size = remaining
        if self.config.max_slice is not None:
            size = min(size, int(Decimal(self.config.max_slice).scaleb(FIXED_PRECISION)))
        depth = 0
        taking = OrderSide.BUY if job.side is OrderSide.SELL else OrderSide.SELL  # a seller takes bids
        for inst in job.instruments:
            book = self._router.book(inst.id)
            if book is None:
                continue
            for price, qty in book.levels(taking):
                if (job.side is OrderSide.SELL and price < limit_raw) or (job.side is OrderSide.BUY and price > limit_raw):
                    break
                depth += qty
        if depth:
            size = min(size, int(Decimal(depth) * self.config.participation))
        return max(size, min(i.step_size for i in job.instruments))

    # -- events -----------------------------------------------------------------------------

    def _on_order_event(self, event: OrderEvent) -> None:
        for job in self._jobs.values():
            leg = job.legs.get(event.client_order_id)
            if leg is None:
                continue
            if isinstance(event, OrderFilled):
                self._breaker_success(leg.venue)
            elif isinstance(event, OrderRejected):
                leg.reason = event.reason
                self._breaker_failure(leg.venue, f"order rejected: {event.reason}")
            elif isinstance(event, OrderDenied):
                leg.reason = f"{event.code}: {event.reason}"
            self._settle_if_final(job, event.client_order_id)
            if job.slices:
                self._slice_done_check(job, job.slices[-1])
            return

    def _settle_if_final(self, job: _Job, cid: ClientOrderId) -> None:
        order = self._execution.order(cid)
        leg = job.legs[cid]
        if order is None:
            return
        leg.filled = str(order.filled_qty)
        avg = order.avg_px
        leg.avg_price = None if avg is None else _dec(avg)
        if not order.is_closed:
            return
        if cid in job.open_legs:
            job.open_legs.discard(cid)
            self._account(job, order)
        last = order.last_event
        if order.filled_raw == order.quantity.raw:
            leg.outcome = "filled"
        elif order.filled_raw > 0:
            leg.outcome = "partially filled"
        elif isinstance(last, OrderRejected):
            leg.outcome = "rejected"
        elif isinstance(last, OrderDenied):
            leg.outcome = "denied"
        elif isinstance(last, OrderCanceled | OrderExpired):
            leg.outcome = "no execution"
            leg.reason = leg.reason or "IOC found nothing within its limit"

    def _account(self, job: _Job, order: Order) -> None:
        """Add a finished child's fills to the job (the order holds the exact totals)."""
        if order.filled_raw == 0:
            return
        job.filled_raw += order.filled_raw
        avg = order.avg_px or Decimal(0)
        job.notional += avg * Decimal(order.filled_raw).scaleb(-FIXED_PRECISION)
        job.fees += sum((money.as_decimal() for money in order.commissions.values()), Decimal(0))

    def _slice_done_check(self, job: _Job, report: SliceReport) -> None:
        if any(ClientOrderId(leg.client_order_id) in job.open_legs for leg in report.legs):
            return
        if report.outcome != "working":
            return
        filled = sum(_raw(leg.filled) for leg in report.legs)
        report.filled = _fmt(filled)
        if filled == 0:
            report.outcome = "no execution"
            self._idle(job, report, append=False)
            return
        report.outcome = "filled" if filled >= _raw(report.quantity) else "partially filled"
        job.idle = 0
        self._schedule(job, self.config.interval_ns)

    def _idle(self, job: _Job, report: SliceReport, *, append: bool = True) -> None:
        if append:
            job.slices.append(report)
        job.idle += 1
        if job.idle >= self.config.max_idle_slices:
            self._finish(job, JobStatus.STOPPED, f"{job.idle} slices in a row executed nothing; last: {report.reason or report.outcome}")
            return
        self._schedule(job, self.config.interval_ns + int(self.config.backoff.delay(job.idle) * 1e9))

    def _schedule(self, job: _Job, delay_ns: int) -> None:
        name = f"{job.job_id}.slice.{len(job.slices) + 1}.{self._now()}"
        self._clock.set_time_alert(name, self._now() + delay_ns, self._handler(job))

    def _handler(self, job: _Job) -> Callable[[TimeEvent], None]:
        def fire(event: TimeEvent) -> None:
            self._slice(job)

        return fire

    def _finish(self, job: _Job, status: JobStatus, reason: str | None) -> None:
        job.status = status
        job.residual_reason = reason
        for cid in list(job.open_legs):
            order = self._execution.order(cid)
            if order is not None and order.is_open:
                self._execution.cancel_order(order)
        _log.warning("%s %s: filled %s of %s%s", job.job_id, status.value, _fmt(job.filled_raw), _fmt(job.target_raw), f" ({reason})" if reason else "")

    # -- helpers ----------------------------------------------------------------------------

    def _remaining(self, job: _Job) -> int:
        net = sum(self._portfolio.position(i.id).signed_raw for i in job.instruments)
        if job.side is OrderSide.SELL:
            return max(net, 0)
        return max(-net, 0)

    def _held(self, inst: Instrument, side: OrderSide) -> int:
        position = self._portfolio.position(inst.id).signed_raw
        return max(position, 0) if side is OrderSide.SELL else max(-position, 0)


    def _mid(self, instruments: Sequence[Instrument]) -> Decimal | None:
        bids, asks = [], []
        for inst in instruments:
            book = self._router.book(inst.id)
            if book is None:
                continue
            bid, ask = book.best_bid_raw(), book.best_ask_raw()
            if bid is not None:
                bids.append(bid)
            if ask is not None:
                asks.append(ask)
        if not bids or not asks:
            return None
        return (Decimal(max(bids) + min(asks)) / 2).scaleb(-FIXED_PRECISION)

    def _breaker_failure(self, venue: str, reason: str) -> None:
        if self._breakers is not None:
            self._breakers.get(Venue(venue), "orders", critical=True).record_failure(reason)

    def _breaker_success(self, venue: str) -> None:
        if self._breakers is not None:
            self._breakers.get(Venue(venue), "orders", critical=True).record_success()

    def _report(self, job: _Job) -> LiquidationReport:
        filled = Decimal(job.filled_raw).scaleb(-FIXED_PRECISION)
        avg = job.notional / filled if filled else None
        if avg is None:
            slip = Decimal(0)
        elif job.side is OrderSide.SELL:
            slip = (job.arrival_mid - avg) * filled
        else:
            slip = (avg - job.arrival_mid) * filled
        cost = slip + job.fees
        at_mid = job.arrival_mid * filled
        residual = max(job.target_raw - job.filled_raw, 0) if job.status is not JobStatus.RUNNING else self._remaining(job)
        return LiquidationReport(
            job_id=job.job_id,
            reason=job.reason,
            side=job.side,
            instruments=[str(i.id) for i in job.instruments],
            target=_fmt(job.target_raw),
            filled=_fmt(job.filled_raw),
            arrival_mid=_dec(job.arrival_mid),
            avg_price=None if avg is None else _dec(avg),
            cost=_dec(cost),
            cost_bps=_dec(cost / at_mid * _BPS if at_mid else Decimal(0), 2),
            fees=_dec(job.fees),
            slices=job.slices,
            residual=_fmt(residual),
            residual_reason=job.residual_reason,
            status=job.status,
        )

    def _now(self) -> int:
        return self._clock.timestamp_ns()


def _fmt(raw: int) -> str:
    return format(Decimal(raw).scaleb(-FIXED_PRECISION).normalize(), "f")


def _raw(text: str) -> int:
    return int(Decimal(text).scaleb(FIXED_PRECISION))


def _dec(value: Decimal, places: int = 8) -> str:
    return format(value.quantize(Decimal(1).scaleb(-places)).normalize(), "f")

