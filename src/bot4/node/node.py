"""The trading node: one config, the whole pipeline, started and stopped in a fixed order.

::

    venue data clients -> DataEngine (books) -> strategies (signals sized into orders)
        -> OrderGate -> RiskEngine -> ExecutionEngine -> HandOff -> venue execution clients
    Portfolio (positions, balances), Store (journal, write-ahead, recovery), NodeMetrics

Start-up (:meth:`TradingNode.start`), each step relying on the one before:

1. the data directory exists and is writable; the metrics endpoint and the status API listen
   (a port in use fails here, before anything trades);
2. the store opens (schema checked, spill files of a crash replayed) and a run begins;
3. each venue connects: the local exchange starts (kind local), the instruments are read from
   ``exchangeInfo``, the user data stream opens. Venue events are held back until step 4 is done;
4. recovery: open orders are rebuilt from the store, positions from every stored fill, balances
   from the last account state; then each venue's report (open orders, our trades, balances)
   is reconciled, every repair journaled (:func:`bot4.store.recover`);
5. the risk engine is built on the recovered state (a live node then moves to ``[live]
   start_state``); the held-back venue events are applied;
6. market data streams open; strategies attach (``fail_fast=False``: a handler that raises is
   logged and counted, and the node and risk go on) and start; timers and housekeeping run;
   the local exchange starts its replay.

If any step fails, everything already started is stopped in reverse order and
:class:`NodeStartError` says what failed; nothing is left running.

Stop (:meth:`TradingNode.stop`, idempotent): new orders are refused (``NODE_STOPPING``), market
data stops, strategies stop, open orders are canceled (``cancel_on_stop``), the node waits up to
``shutdown_timeout_s`` for every in-flight order to be acknowledged (and, when canceling, to
end), closes the venues, drains the store and stops the servers.

After a user data stream reconnects, the node reconciles that venue again: its new orders are
denied (``RECONCILING``) until every in-flight order is acknowledged, the venue's report is
taken and reconciled, so a snapshot can never mistake an order in flight for one that ended.

Every task the node starts is its own and is cancelled and awaited by ``stop``: the timer task
that fires strategy timers from the live clock, the housekeeping task that refreshes the gauges,
a watcher per local exchange that asks the node to stop when the replay is over, and the
reconciliation after a reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import tempfile
import time
from collections.abc import Mapping, Sequence
from decimal import Decimal
from enum import StrEnum
from typing import Any

from bot4.core.bus import MessageBus
from bot4.core.clock import LiveClock
from bot4.core.errors import Bot4Error, ConfigError, InvalidInputError, RejectedError
from bot4.core.ids import ClientOrderId, InstrumentId, StrategyId, TraderId
from bot4.core.numbers import Currency
from bot4.data.engine import DataEngine
from bot4.execution.engine import ExecutionEngine
from bot4.execution.ports import VenueEvent
from bot4.model.book import OrderBook
from bot4.model.data import MarketData
from bot4.model.enums import OrderStatus
from bot4.model.instrument import Instrument
from bot4.model.status import STREAM_TOPIC, StreamGap, StreamResynced
from bot4.net.breaker import BreakerRegistry
from bot4.node.api import KillSwitch, StatusApi
from bot4.node.config import NodeConfig, VenueKind
from bot4.node.metrics import MetricsServer, NodeMetrics
from bot4.node.observe import HandOff, LateSeqGate, OrderGate, SessionObserver
from bot4.node.tasks import Gauges, guarded, reconcile_after_reconnect, run_timers
from bot4.node.venues import Mode, VenueConnection
from bot4.node.view import Pnl, fill_rows, order_rows, pnl, position_rows
from bot4.portfolio.portfolio import Portfolio
from bot4.risk import RiskConfig, RiskEngine, TradingState
from bot4.store import Recorder, RecoveryReport, Store, StoreConfig, recover
from bot4.strategy.loader import build_strategy
from bot4.strategy.strategy import Strategy
from bot4.venues.binance import Credentials

__all__ = ["Mode", "NodeStartError", "NodeState", "TradingNode"]

_log = logging.getLogger("bot4.node")

_KILL_STATES = {KillSwitch.HALT: TradingState.HALTED, KillSwitch.REDUCE: TradingState.REDUCING,
                KillSwitch.RESUME: TradingState.ACTIVE}
_HOUSEKEEPING_S = 1.0


class NodeState(StrEnum):
    """Where the node is in its life: created -> starting -> running -> stopping -> stopped,
    or starting -> failed."""

    CREATED = "created"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


class NodeStartError(Bot4Error):
    """Start-up failed; everything that had started was stopped again."""


class TradingNode:
    """Build and run the pipeline of ``config`` in ``mode`` (module docstring)."""

    def __init__(
        self,
        config: NodeConfig,
        mode: Mode = Mode.PAPER,
        *,
        strategies: Sequence[Strategy] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.mode = mode
        self._env = os.environ if environ is None else environ
        self._trader_id = TraderId.from_str(config.node.trader_id)
        self._clock = LiveClock()
        self._bus = MessageBus()
        self.portfolio = Portfolio(self._bus)
        self._execution = ExecutionEngine(self._bus, self._clock)
        self.data_engine = DataEngine(self._bus, self.portfolio)
        self._breakers = BreakerRegistry(self._clock, self._bus)
        self.metrics = NodeMetrics()
        self.observer = SessionObserver(self._bus, self.metrics)
        self._gate = OrderGate(None, self.observer)
        self._execution.set_risk(self._gate)
        self.risk: RiskEngine | None = None
        self.strategies: list[Strategy] = list(strategies) if strategies is not None else [
            build_strategy(spec.cls, spec.table, file=str(config.file) if config.file else None, key=spec.key)
            for spec in config.strategies
        ]
        self._instruments: dict[InstrumentId, Instrument] = {}
        self.venues: list[VenueConnection] = []
        self.store: Store | None = None
        self.run_id: str | None = None
        self.recovery: RecoveryReport | None = None
        self.api_token = self._env.get("BOT4_API_TOKEN") or secrets.token_urlsafe(24)
        self.api_token_generated = not self._env.get("BOT4_API_TOKEN")
        self.metrics_server: MetricsServer | None = None
        self.api_server: StatusApi | None = None
        self._held: list[VenueEvent] | None = None  # venue events held back during recovery
        self._tasks: set[asyncio.Task[None]] = set()
        self._stack: contextlib.AsyncExitStack | None = None
        self._stop_requested = asyncio.Event()
        self.stop_reason = ""
        self._stopping: asyncio.Task[None] | None = None
        self._started_ns = 0
        self.state = NodeState.CREATED
        self.store_errors = 0
        self.venue_errors = 0
        self.reconciliations = 0
        self._currency: Currency | None = None
        self._gauges = Gauges(self.metrics)
        self._realized_at_start = Decimal(0)

    # -- StrategyContext ------------------------------------------------------------------------

    @property
    def trader_id(self) -> TraderId:
        return self._trader_id

    @property
    def clock(self) -> LiveClock:
        return self._clock

    @property
    def bus(self) -> MessageBus:
        return self._bus

    @property
    def execution(self) -> ExecutionEngine:
        return self._execution

    def book(self, instrument_id: InstrumentId) -> OrderBook | None:
        return self.data_engine.book(instrument_id)

    def instrument(self, instrument_id: InstrumentId) -> Instrument:
        return self._execution.instrument(instrument_id)

    # -- start ------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Run the start-up steps; on failure stop what started and raise :class:`NodeStartError`."""
        if self.state is not NodeState.CREATED:
            raise NodeStartError("a node starts once", state=self.state)
        self.state = NodeState.STARTING
        self._started_ns = time.time_ns()
        stack = contextlib.AsyncExitStack()
        try:
            await self._start(stack)
        except BaseException as exc:
            self.state = NodeState.FAILED
            self._gate.stopping = True
            await self._cancel_tasks()
            with contextlib.suppress(Exception):
                await stack.aclose()
            if isinstance(exc, NodeStartError) or not isinstance(exc, Bot4Error | OSError):
                raise
            raise NodeStartError(str(exc)) from exc
        self._stack = stack
        self.state = NodeState.RUNNING

    async def _start(self, stack: contextlib.AsyncExitStack) -> None:
        config = self.config
        self._check_data_dir()
        if config.metrics.enabled:
            self.metrics_server = MetricsServer(self.metrics, port=config.metrics.port)
            await self.metrics_server.start()
            stack.push_async_callback(self.metrics_server.stop)
        if config.api.enabled:
            self.api_server = StatusApi(self, self.api_token, port=config.api.port)
            await self.api_server.start()
            stack.push_async_callback(self.api_server.stop)

        store_config = StoreConfig(url=config.store_url, trade_during_outage=config.store.trade_during_outage)
        try:
            store = await Store.open(store_config, node_id=config.node.name)
        except Bot4Error as exc:
            raise NodeStartError(f"cannot open the store: {exc}") from None
        self.store = store
        stack.push_async_callback(self._close_store)
        labels = ",".join(str(s.id) for s in self.strategies)
        self.run_id = await store.begin_run(mode=self.mode.value, strategy=labels, config_text=config.text,
                                            on_error=self._on_store_error)
        recorder = Recorder(self._bus, store.writer, self._execution.order)

        self._held = []
        timeout = config.node.start_timeout_s
        for venue_config in config.venues:
            connection = VenueConnection(
                venue_config, self.mode, clock=self._clock, bus=self._bus, breakers=self._breakers,
                on_event=self._on_venue_event, on_market=self._on_market, on_error=self._on_venue_error,
                strategy_for=self._strategy_for, write_ahead=LateSeqGate(store.writer),
                write_ahead_timeout=config.store.write_ahead_timeout_s,
                credentials=self._credentials(venue_config.kind, venue_config.credentials_env),
                on_user_resynced=self._on_user_resynced,
            )
            self.venues.append(connection)
            stack.push_async_callback(connection.close)
            for instrument in await connection.connect(timeout):
                self._add_instrument(instrument)
            self._execution.register_client(HandOff(connection.client, self.observer))

        reports = [await connection.report(timeout) for connection in self.venues]
        self.recovery = await recover(store, self._execution, self.portfolio, recorder, self._clock, reports)
        if not self.recovery.clean:
            _log.warning("recovery repaired state: %s", _recovery_text(self.recovery))

        if self._currency is not None:  # what earlier runs realised is not this run's PnL
            self._realized_at_start = pnl(self.portfolio, self._currency).realized
        self.risk = RiskEngine(config.risk or RiskConfig(), self._clock, self._bus, self.portfolio,
                               self._instruments, self._execution)
        self._gate.risk = self.risk
        if self.mode is Mode.LIVE and config.live.start_state is not TradingState.ACTIVE:
            self.risk.set_trading_state(config.live.start_state,
                                        "live node starts in its configured safe state ([live] start_state)")
        self.metrics.set_trading_state(self.risk.trading_state)
        held, self._held = self._held, None
        for event in held:
            self._execution.process(event)

        for connection in self.venues:
            await connection.start_data(timeout)
        for strategy in self.strategies:
            strategy.attach(self, fail_fast=False)
        for strategy in self.strategies:
            strategy.start()
        self._spawn(run_timers(self._clock, [c.paper for c in self.venues if c.paper is not None]), "timers")
        self._spawn(self._housekeeping(), "housekeeping")
        for connection in self.venues:
            done = connection.replay_done
            if done is not None:
                self._spawn(self._watch_replay(connection, done), f"replay-{connection.config.name}")
                connection.start_replay()
        _log.info("node %s started in %s mode: run %s, store %s", config.node.name, self.mode.value,
                  self.run_id, config.store_url)

    def _check_data_dir(self) -> None:
        path = self.config.data_dir
        try:
            path.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
                pass
        except OSError as exc:
            raise NodeStartError(f"the data directory is not writable: {exc.strerror or exc}",
                                 key="node.data_dir", path=str(path)) from None

    def _credentials(self, kind: VenueKind, prefix: str) -> Credentials | None:
        if kind is VenueKind.LOCAL or self.mode is Mode.PAPER:
            return None  # the local exchange makes its own key; paper on Binance reads public data only
        try:
            return Credentials.from_env(prefix, self._env)
        except ConfigError as exc:
            raise NodeStartError(f"no API keys: {exc}") from None

    def _add_instrument(self, instrument: Instrument) -> None:
        if instrument.id in self._instruments:
            raise NodeStartError("instrument listed by two venues", instrument=str(instrument.id))
        self._instruments[instrument.id] = instrument
        self._execution.add_instrument(instrument)
        self.portfolio.add_instrument(instrument)
        self.data_engine.add_instrument(instrument)
        if self._currency is None:
            self._currency = instrument.quote_currency

    # -- run and stop -----------------------------------------------------------------------------

    async def run(self, duration: float | None = None) -> None:
        """Start, run until :meth:`request_stop` (or ``duration`` seconds), stop."""
        await self.start()
        try:
            await self.wait_stop_requested(duration)
        finally:
            await self.stop()

    def request_stop(self, reason: str) -> None:
        """Ask :meth:`run` to stop the node (from a signal handler, a watcher, the API)."""
        if not self._stop_requested.is_set():
            self.stop_reason = reason
            self._stop_requested.set()

    async def wait_stop_requested(self, timeout: float | None = None) -> None:
        """Wait for :meth:`request_stop` (or ``timeout`` seconds, then request it)."""
        try:
            async with asyncio.timeout(timeout):
                await self._stop_requested.wait()
        except TimeoutError:
            self.request_stop("duration reached")

    async def stop(self) -> None:
        """Stop in order (module docstring); concurrent and repeated calls wait for the one stop."""
        if self._stopping is None:
            self._stopping = asyncio.get_running_loop().create_task(self._stop(), name="bot4.node.stop")
        await asyncio.shield(self._stopping)

    async def _stop(self) -> None:
        if self.state not in (NodeState.RUNNING, NodeState.STARTING):
            return
        self.state = NodeState.STOPPING
        self.request_stop(self.stop_reason or "stop requested")
        _log.info("node %s stopping: %s", self.config.node.name, self.stop_reason)
        self._gate.stopping = True
        for connection in self.venues:
            await connection.close_data()
        for strategy in self.strategies:
            strategy.stop()
        await self._cancel_tasks()
        ours = {s.id for s in self.strategies}
        if self.config.node.cancel_on_stop:
            for strategy_id in ours:
                self._execution.cancel_all(strategy_id=strategy_id)
        await self._wait_in_flight(ours)
        self._refresh_gauges()
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()
        self.state = NodeState.STOPPED
        _log.info("node %s stopped", self.config.node.name)

    async def _wait_in_flight(self, ours: set[StrategyId]) -> None:
        """Until no order awaits its acknowledgement (nor, when canceling, is still open)."""
        cancel = self.config.node.cancel_on_stop
        timeout = self.config.node.shutdown_timeout_s
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout

        def waiting() -> list[str]:
            return [str(o.client_order_id) for o in self._execution.open_orders()
                    if o.status is OrderStatus.SUBMITTED or (cancel and o.strategy_id in ours)]

        pending = waiting()
        while pending and loop.time() < deadline:
            await asyncio.sleep(0.02)
            pending = waiting()
        if pending:
            _log.warning("stopping with %d orders not acknowledged after %g s: %s", len(pending), timeout,
                         ", ".join(pending[:10]))

    async def _close_store(self) -> None:
        store, self.store = self.store, None
        if store is None:
            return
        left = await store.close(self.config.node.shutdown_timeout_s)
        if left:
            _log.error("store closed with %d journal entries not committed (kept in the spill file)", left)

    async def _cancel_tasks(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=f"bot4.node.{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the node's tasks -------------------------------------------------------------------------

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(_HOUSEKEEPING_S)
            guarded(lambda _: self._refresh_gauges(), None, "housekeeping")

    async def _watch_replay(self, connection: VenueConnection, done: asyncio.Event) -> None:
        await done.wait()
        await asyncio.sleep(0.5)  # let the last frames and order answers arrive
        self.request_stop(f"the local exchange {connection.config.name} finished its replay")

    async def _reconcile(self, connection: VenueConnection) -> None:
        result = await reconcile_after_reconnect(connection, self._execution, self._gate,
                                                 self.config.node.start_timeout_s)
        if result is not None:
            self.reconciliations += 1

    def _refresh_gauges(self) -> None:
        self._gauges.refresh(self.portfolio, self._currency, self.store, self.venues)

    # -- sinks ------------------------------------------------------------------------------------

    def _on_venue_event(self, event: VenueEvent) -> None:
        held = self._held
        if held is not None:
            held.append(event)  # recovery is running: applied once the restored state is in place
            return
        self._execution.process(event)

    def _on_market(self, item: MarketData | StreamGap | StreamResynced) -> None:
        if isinstance(item, StreamGap | StreamResynced):
            self._bus.publish(STREAM_TOPIC, item)
            return
        for connection in self.venues:
            if connection.paper is not None and connection.venue == item.instrument_id.venue:
                connection.paper.on_data(item)  # the simulated venue sees the tick first
        observer = self.observer
        observer.tick_ns = item.ts_init
        try:
            self.data_engine.process(item)
        finally:
            observer.tick_ns = 0

    def _on_user_resynced(self, connection: VenueConnection) -> None:
        if self.state is NodeState.RUNNING and connection.venue not in self._gate.reconciling:
            self._gate.reconciling.add(connection.venue)
            self._spawn(self._reconcile(connection), f"reconcile-{connection.config.name}")

    def _on_venue_error(self, error: Bot4Error) -> None:
        self.venue_errors += 1
        _log.warning("venue: %s", error)

    def _on_store_error(self, error: Bot4Error) -> None:
        self.store_errors += 1
        _log.error("store: %s", error)

    def _strategy_for(self, client_order_id: ClientOrderId) -> StrategyId | None:
        order = self._execution.order(client_order_id)
        return None if order is None else order.strategy_id

    # -- NodeView (the status API) ----------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """What the node is doing now (the status API's ``/status`` and the status line)."""
        observer = self.observer
        figures = self.pnl()
        latency = observer.tick_to_order()
        return {
            "node": self.config.node.name,
            "mode": self.mode.value,
            "state": self.state,
            "run_id": self.run_id,
            "trading_state": self.risk.trading_state if self.risk is not None else TradingState.ACTIVE,
            "uptime_s": round((time.time_ns() - self._started_ns) / 1e9, 1) if self._started_ns else 0.0,
            "progress": None if (progress := self.progress()) is None else round(progress, 4),
            "orders": observer.orders,
            "denied": observer.denied,
            "rejected": observer.rejected,
            "fills": observer.fills,
            "open_orders": len(self._execution.open_orders()),
            "pnl": None if figures is None else figures.total,
            "pnl_currency": None if figures is None else figures.currency.code,
            "reconnects": sum(c.reconnects() for c in self.venues),
            "strategy_errors": sum(s.error_count for s in self.strategies),
            "venue_errors": self.venue_errors,
            "store_errors": self.store_errors,
            "tick_to_order_p50_us": None if latency is None else round(latency[0] * 1e6, 1),
            "tick_to_order_p99_us": None if latency is None else round(latency[1] * 1e6, 1),
            "venues": {c.config.name: {"kind": c.config.kind.value, "url": c.rest_url} for c in self.venues},
            "store": self.config.store_url,
        }

    def positions(self) -> list[dict[str, Any]]:
        return position_rows(self.portfolio)

    def open_orders(self) -> list[dict[str, Any]]:
        return order_rows(self._execution)

    def recent_fills(self, limit: int) -> list[dict[str, Any]]:
        return fill_rows(self.observer.recent_fills, limit)

    def set_trading_state(self, state: KillSwitch, reason: str) -> dict[str, Any]:
        if self.risk is None or self.state is not NodeState.RUNNING:
            raise RejectedError("the node is not running: no trading state to change", state=self.state)
        target = _KILL_STATES[KillSwitch(state)]
        changed = self.risk.set_trading_state(target, f"operator: {reason}")
        self.metrics.set_trading_state(changed.state)
        return {"trading_state": changed.state, "previous": changed.previous, "reason": changed.reason}

    # -- figures ----------------------------------------------------------------------------------

    def pnl(self) -> Pnl | None:
        """This run's PnL: realised (net of fees) since the start, plus the open positions'
        unrealised PnL. Positions carried over from earlier runs count from their own entry,
        as ``bot4 positions`` shows them."""
        if self._currency is None:
            return None
        now = pnl(self.portfolio, self._currency)
        return Pnl(now.currency, now.realized - self._realized_at_start, now.unrealized)

    def progress(self) -> float | None:
        """Share of the local replays delivered (the slowest), or None without a local venue."""
        shares = [p for p in (c.progress() for c in self.venues) if p is not None]
        return min(shares) if shares else None

    @property
    def metrics_url(self) -> str | None:
        url = _url_of(self.metrics_server)
        return None if url is None else url + "/metrics"

    @property
    def api_url(self) -> str | None:
        return _url_of(self.api_server)


def _recovery_text(report: RecoveryReport) -> str:
    parts = [f"{len(report.open_orders)} open orders restored", f"{report.fills_replayed} fills replayed"]
    if report.repairs:
        parts.append(f"{len(report.repairs)} repairs: " + "; ".join(report.repairs[:5]))
    if report.external_orders:
        parts.append(f"{len(report.external_orders)} external orders adopted")
    if report.position_mismatches:
        parts.append("position mismatches: " + "; ".join(report.position_mismatches))
    return ", ".join(parts)


def _url_of(server: MetricsServer | StatusApi | None) -> str | None:
    if server is None:
        return None
    try:
        return server.url
    except InvalidInputError:  # not started
        return None
