"""The backtest engine: the same engines as live, a simulated clock and simulated venues.

Data streams are merged by ``ts_init`` with ``heapq.merge``, which is stable: on equal
timestamps, events keep the order of the streams as added and, within a stream, file order.
For each event the engine moves the clock (firing due timers first, each at its own time),
lets the venue see the event (it fills resting orders against it), then hands it to the data
engine, which publishes it to strategies. Orders a strategy sends while handling an event
reach the venue with its configured latency. Nothing reads the wall clock, so the same inputs
give the same result, byte for byte.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Sized
from decimal import Decimal
from fractions import Fraction

import msgspec

from bot4.backtest.loaders import LoadReport
from bot4.backtest.result import BacktestResult, FillRecord, OrderRecord, PositionRecord
from bot4.backtest.stats import compute_statistics
from bot4.core.bus import MessageBus
from bot4.core.clock import TestClock
from bot4.core.errors import ConfigError, UnknownInstrumentError
from bot4.core.ids import InstrumentId, TraderId, Venue
from bot4.core.numbers import FIXED_SCALAR, Currency
from bot4.data.engine import DataEngine
from bot4.execution.engine import ExecutionEngine
from bot4.model.book import OrderBook
from bot4.model.data import MarketData
from bot4.model.events import OrderFilled
from bot4.model.instrument import Instrument
from bot4.portfolio.portfolio import Portfolio
from bot4.risk import RiskConfig, RiskEngine
from bot4.strategy.strategy import Strategy
from bot4.venues.sim import SimulatedVenue, SimVenueConfig

__all__ = ["BacktestConfig", "BacktestEngine"]

ProgressCallback = Callable[[int, int], None]


class BacktestConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """How to run: who we are, how often to sample equity, how to treat strategy errors."""

    trader_id: str = "BOT4"
    equity_sample_ns: int = 60_000_000_000
    fail_fast: bool = True
    base_currency: str | None = None  # currency equity is measured in; default: first quote
    cancel_open_orders_on_stop: bool = True


class BacktestEngine:
    """Wire venues, instruments, data and strategies; ``run`` returns a :class:`BacktestResult`."""

    def __init__(self, config: BacktestConfig | None = None) -> None:
        self.config = config or BacktestConfig()
        if self.config.equity_sample_ns <= 0:
            raise ConfigError("equity_sample_ns must be positive", key="equity_sample_ns",
                              value=self.config.equity_sample_ns)
        self._trader_id = TraderId.from_str(self.config.trader_id)
        self._clock = TestClock()
        self._bus = MessageBus()
        self.portfolio = Portfolio(self._bus)
        self.execution = ExecutionEngine(self._bus, self._clock)
        self.data_engine = DataEngine(self._bus, self.portfolio)
        self._venues: dict[Venue, SimulatedVenue] = {}
        self._venue_configs: list[SimVenueConfig] = []
        self._instruments: dict[InstrumentId, Instrument] = {}
        self._streams: list[Iterable[MarketData]] = []
        self._strategies: list[Strategy] = []
        self._fills: list[OrderFilled] = []
        self._closing_pnls: list[float] = []
        self._last_pnl: dict[InstrumentId, tuple[int, Fraction]] = {}
        # Subscribed after the portfolio, so the position already holds this fill.
        self._bus.subscribe("events.fills", self._record_fill)
        self.skipped_events = 0
        self.data_errors: list[str] = []
        self._risk_config: RiskConfig | None = None
        self._risk: RiskEngine | None = None

    # -- StrategyContext ------------------------------------------------------------------------

    @property
    def trader_id(self) -> TraderId:
        return self._trader_id

    @property
    def clock(self) -> TestClock:
        return self._clock

    @property
    def bus(self) -> MessageBus:
        return self._bus

    def book(self, instrument_id: InstrumentId) -> OrderBook | None:
        return self.data_engine.book(instrument_id)

    def instrument(self, instrument_id: InstrumentId) -> Instrument:
        found = self._instruments.get(instrument_id)
        if found is None:
            raise UnknownInstrumentError("instrument is not registered", instrument=str(instrument_id))
        return found

    # -- setup --------------------------------------------------------------------------------

    def set_risk(self, config: RiskConfig) -> None:
        """Check every order with a risk engine built from ``config`` (built when the run starts,
        after the venues, so it sees the starting balances)."""
        self._risk_config = config

    @property
    def risk(self) -> RiskEngine | None:
        return self._risk

    def add_venue(self, config: SimVenueConfig) -> None:
        venue = Venue.from_str(config.venue)
        if venue in self._venues or any(c.venue == config.venue for c in self._venue_configs):
            raise ConfigError("venue added twice", venue=config.venue)
        self._venue_configs.append(config)

    def add_instrument(self, instrument: Instrument) -> None:
        if not any(c.venue == instrument.id.venue.value for c in self._venue_configs):
            raise ConfigError("add the instrument's venue first", instrument=str(instrument.id),
                              venue=instrument.id.venue.value)
        self._instruments[instrument.id] = instrument
        self.execution.add_instrument(instrument)
        self.portfolio.add_instrument(instrument)
        self.data_engine.add_instrument(instrument)

    def add_data(self, events: Iterable[MarketData], report: LoadReport | None = None) -> None:
        """Add one time-ordered stream: a loader's ``events`` list, or any iterable.

        An iterator (a generator reading a large file, say) is consumed lazily, so a long
        backtest need not hold its data in memory; progress then reports no total. Pass the
        loader's ``report`` so the result counts the rows it skipped and keeps their errors.
        """
        self._streams.append(events)
        if report is not None:
            self.skipped_events += report.skipped
            for error in report.errors:
                if len(self.data_errors) < 100:
                    self.data_errors.append(str(error))

    def add_strategy(self, strategy: Strategy) -> None:
        if any(s.id == strategy.id for s in self._strategies):
            raise ConfigError("two strategies share an id; set strategy_id in their configs",
                              strategy=str(strategy.id))
        self._strategies.append(strategy)

    # -- run ----------------------------------------------------------------------------------

    def run(self, progress: ProgressCallback | None = None, progress_every: int = 100_000) -> BacktestResult:
        if not self._strategies:
            raise ConfigError("no strategy added")
        total = sum(len(s) for s in self._streams if isinstance(s, Sized))
        merged = self._merged()
        first = next(merged, None)
        if first is None:
            raise ConfigError("no market data to run on")
        start_ns = first.ts_init
        self._clock.set_time(start_ns)
        self._build_venues()
        if self._risk_config is not None:
            self._risk = RiskEngine(self._risk_config, self._clock, self._bus, self.portfolio,
                                    self._instruments, self.execution)
            self.execution.set_risk(self._risk)
        quote = self._equity_currency()
        for strategy in self._strategies:
            strategy.attach(self, fail_fast=self.config.fail_fast)
        for strategy in self._strategies:
            strategy.start()

        equity: list[tuple[int, float]] = []
        next_sample = start_ns
        clock = self._clock
        venues = self._venues
        process_data = self.data_engine.process
        count = 0
        now = start_ns
        for data in _chain(first, merged):
            ts = data.ts_init
            if ts > now:
                if clock.earliest_ns <= ts:
                    self._fire_timers(ts)
                clock.set_time(ts)
                now = ts
            venue = venues.get(data.instrument_id.venue)
            if venue is None:
                self._skip(f"no venue {data.instrument_id.venue} for {data.instrument_id}; event at {ts} skipped")
                continue
            try:
                venue.process_data(data)
            except UnknownInstrumentError:
                self._skip(f"no instrument {data.instrument_id} registered; event at {ts} skipped")
                continue
            process_data(data)
            count += 1
            if ts >= next_sample:
                next_sample = self._sample_due(equity, ts, next_sample, quote)
            if progress is not None and count % progress_every == 0:
                progress(count, total)
        for strategy in self._strategies:
            strategy.stop()
        if self.config.cancel_open_orders_on_stop:
            self.execution.cancel_all()
        # Let commands still travelling (latency) reach their venue, so nothing sent is left
        # in flight: the venues, not the clock, move on by their latency.
        for config in self._venue_configs:
            venues[Venue(config.venue)].advance_time(now + config.latency_ns)
        self._sample(equity, now, quote)
        if progress is not None:
            progress(count, total)
        return self._result(start_ns, now, count, equity, quote)

    # -- internals ----------------------------------------------------------------------------

    def _merged(self) -> Iterator[MarketData]:
        if len(self._streams) == 1:
            return iter(self._streams[0])
        return heapq.merge(*self._streams, key=_ts_init)

    def _build_venues(self) -> None:
        for config in self._venue_configs:
            instruments = [i for i in self._instruments.values() if i.id.venue.value == config.venue]
            venue = SimulatedVenue(config, instruments, self._clock, self.execution.process)
            self._venues[venue.venue] = venue
            self.execution.register_client(venue)
            self.execution.process(venue.account_state())

    def _record_fill(self, fill: OrderFilled) -> None:
        """Keep the fill; if it reduced a position, keep its realised PnL net of fees."""
        self._fills.append(fill)
        position = self.portfolio.position(fill.instrument_id)
        before_qty, before_net = self._last_pnl.get(fill.instrument_id, (0, Fraction(0)))
        net = position.exact_realized() - position.exact_fees()
        self._last_pnl[fill.instrument_id] = (position.signed_raw, net)
        if before_qty != 0 and (before_qty > 0) != (fill.order_side.sign > 0):
            self._closing_pnls.append(float(net - before_net) / FIXED_SCALAR)

    def _fire_timers(self, to_ns: int) -> None:
        """Fire timers due by ``to_ns``, each with the clock at its own due time.

        Stepping one due time at a time also catches timers that handlers set on the way.
        """
        clock = self._clock
        due = clock.next_due_ns()
        while due is not None and due <= to_ns:
            for venue in self._venues.values():
                venue.advance_time(due)
            for event, handler in clock.advance_time(due):
                handler(event)
            due = clock.next_due_ns()

    def _equity_currency(self) -> Currency:
        code = self.config.base_currency
        for instrument in self._instruments.values():
            if code is None or instrument.quote_currency.code == code:
                return instrument.quote_currency
        raise ConfigError("base_currency is not the quote currency of any instrument", key="base_currency",
                          value=code)

    def _sample_due(self, equity: list[tuple[int, float]], ts: int, due: int, quote: Currency) -> int:
        """Record equity on the fixed sampling grid up to ``ts``; return the next grid time.

        Grid points with no event between them repeat the last value (nothing changed), so
        returns are always one interval apart and the annualised ratios stay honest on
        sparse data. Runs of more than 10,000 empty points are collapsed to one.
        """
        step = self.config.equity_sample_ns
        missed = (ts - due) // step
        if equity and 0 < missed <= 10_000:
            last = equity[-1][1]
            equity.extend((due + i * step, last) for i in range(missed))
        self._sample(equity, ts, quote)
        return due + (missed + 1) * step

    def _sample(self, equity: list[tuple[int, float]], ts: int, quote: Currency) -> None:
        raw = self.portfolio.equity_raw(quote)
        if raw is not None:
            if equity and equity[-1][0] == ts:
                equity[-1] = (ts, raw / FIXED_SCALAR)
            else:
                equity.append((ts, raw / FIXED_SCALAR))

    def _skip(self, message: str) -> None:
        self.skipped_events += 1
        if len(self.data_errors) < 100:
            self.data_errors.append(message)

    def _result(self, start_ns: int, end_ns: int, count: int, equity: list[tuple[int, float]],
                quote: Currency) -> BacktestResult:
        fills = [FillRecord.from_fill(f, self._instruments[f.instrument_id]) for f in self._fills]
        orders = [OrderRecord.from_order(o) for o in self.execution.orders()]
        positions = []
        for position in self.portfolio.positions():
            mark = self.portfolio.mark_raw(position.instrument_id)
            positions.append(PositionRecord.from_position(position, mark))
        closing = self._closing_pnls
        fees = sum((Decimal(f.commission_quote) for f in fills), Decimal(0))
        turnover = sum((Decimal(f.notional) for f in fills), Decimal(0))
        stats = compute_statistics(equity, self.config.equity_sample_ns, closing, len(fills),
                                   float(fees), float(turnover))
        return BacktestResult(
            trader_id=str(self._trader_id),
            strategies=[str(s.id) for s in self._strategies],
            instruments=sorted(str(i) for i in self._instruments),
            start_ns=start_ns,
            end_ns=end_ns,
            events=count,
            skipped_events=self.skipped_events,
            data_errors=self.data_errors,
            equity_currency=quote.code,
            equity_curve=equity,
            orders=orders,
            fills=fills,
            positions=positions,
            statistics=stats,
            strategy_errors=sum(s.error_count for s in self._strategies),
        )


def _ts_init(data: MarketData) -> int:
    return data.ts_init


def _chain(first: MarketData, rest: Iterator[MarketData]) -> Iterable[MarketData]:
    yield first
    yield from rest
