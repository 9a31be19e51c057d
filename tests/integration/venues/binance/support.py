"""A live rig for the Binance adapter tests: the local exchange, the adapter, real engines.

Everything talks over real loopback sockets: the adapter's REST client and WebSocket streams
reach a :class:`BinanceServer` on 127.0.0.1 exactly as they would reach Binance. The rig wires
the adapter's execution client into a real :class:`ExecutionEngine` on a real bus (like the
store harness does with the simulated venue), records every event the adapter hands over and
every error it reports.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from bot4.backtest.loaders import load_path
from bot4.backtest.runner import sample_data_dir
from bot4.core.bus import MessageBus
from bot4.core.clock import LiveClock
from bot4.core.errors import Bot4Error
from bot4.core.ids import AccountId, ClientOrderId, StrategyId, Venue
from bot4.execution.engine import ExecutionEngine
from bot4.execution.ports import VenueEvent
from bot4.execution.reconciliation import VenueReport
from bot4.model.data import MarketData, TradeTick
from bot4.model.enums import OrderSide
from bot4.model.instrument import Instrument
from bot4.model.orders import Order
from bot4.model.status import StreamGap, StreamResynced
from bot4.net.backoff import Backoff
from bot4.net.breaker import BreakerRegistry
from bot4.net.ratelimit import RateLimiter
from bot4.net.retry import idempotent_read, order_cancel, order_submit
from bot4.testkit import btcusdt, strategy_id
from bot4.venues.binance import BinanceConfig, Credentials, Parser, instruments_from_exchange_info
from bot4.venues.binance.data import BinanceDataClient
from bot4.venues.binance.execution import (
    BinanceExecutionClient,
    DurabilityGate,
    ExecutionHooks,
    ExecutionSettings,
)
from bot4.venues.binance.http import BinanceHttpClient, BinanceRateLimits, HttpSettings
from bot4.venues.binance.ws import StreamTiming
from bot4.venues.sim.binance_server import (
    AccountSpec,
    ApiKeySpec,
    BinanceServer,
    BinanceServerConfig,
)

KEY = "adapterKey01"
SECRET = "adapterSecretNeverLogged9f3c"
VENUE = Venue("BINANCE")

FAST_STREAMS = StreamTiming(
    backoff=Backoff(initial=0.2, multiplier=2.0, max_delay=1.0),
    max_attempts=20,
    ping_interval=5.0,
    pong_timeout=5.0,
    idle_timeout=None,
    open_timeout=5.0,
    stable_after=1.0,
)

FAST_HTTP = HttpSettings(
    timeout_s=5.0,
    max_wait_s=10.0,
    read=idempotent_read(backoff=Backoff(initial=0.05, max_delay=0.5), max_elapsed=10.0),
    submit=order_submit(
        dedup_by_client_order_id=False, backoff=Backoff(initial=0.05, max_delay=0.5)
    ),
    cancel=order_cancel(backoff=Backoff(initial=0.05, max_delay=0.5)),
)


def run(test: Callable[[], Coroutine[Any, Any, None]], timeout: float = 30.0) -> None:
    """Run one async test body on a fresh loop; a hang fails, and no task may be left over."""

    async def bounded() -> None:
        async with asyncio.timeout(timeout):
            await test()
        leftover = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert not leftover, f"tasks left running: {leftover}"

    asyncio.run(bounded())


def instrument() -> Instrument:
    return btcusdt("BINANCE")


@functools.cache
def sample_events() -> tuple[MarketData, ...]:
    """The bundled BTCUSDT capture (2024-08-08) as Bot4 events: real book and trades."""
    return tuple(load_path(sample_data_dir() / "btcusdt_20240808.jsonl.gz", instrument()).events)


def first_events(count: int) -> list[MarketData]:
    return list(itertools.islice(sample_events(), count))


def server_config(**overrides: Any) -> BinanceServerConfig:
    values: dict[str, Any] = {
        "accounts": [AccountSpec(name="main", balances={"USDT": "100000", "BTC": "2"})],
        "api_keys": [ApiKeySpec(api_key=KEY, secret_key=SECRET, account="main")],
        "autostart": False,
    }
    values.update(overrides)
    return BinanceServerConfig(**values)


async def until(predicate: Callable[[], bool], timeout: float = 5.0, what: str = "") -> None:
    """Wait until ``predicate()`` holds, polling; fail with ``what`` after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        await asyncio.sleep(0.01)


class Rig:
    """The local exchange, the adapter (REST, data, execution) and a real execution engine."""

    def __init__(
        self,
        events: Iterable[MarketData] = (),
        *,
        server: BinanceServerConfig | None = None,
        limits: BinanceRateLimits | None = None,
        keepalive_s: int = 1800,
        reconcile_on_reconnect: bool = False,
        write_ahead: DurabilityGate | None = None,
        write_ahead_timeout: float = 5.0,
        trade_stream: str = "trade",
    ) -> None:
        self.server = BinanceServer([instrument()], events, server or server_config())
        self.trade_stream = trade_stream
        self.limits = limits or BinanceRateLimits()
        self.keepalive_s = keepalive_s
        self.reconcile_on_reconnect = reconcile_on_reconnect
        self.write_ahead = write_ahead
        self.write_ahead_timeout = write_ahead_timeout
        self.clock = LiveClock()
        self.bus = MessageBus()
        self.engine = ExecutionEngine(self.bus, self.clock)
        self.breakers = BreakerRegistry(self.clock, self.bus)
        self.limiter = RateLimiter(VENUE, self.limits.rate_limits(), breakers=self.breakers)
        self.events: list[VenueEvent] = []
        self.market: list[MarketData | StreamGap | StreamResynced] = []
        self.stream_signals: list[StreamGap | StreamResynced] = []
        self.errors: list[Bot4Error] = []
        self.reconciliations: list[Any] = []
        self.market_hook: Callable[[MarketData | StreamGap | StreamResynced], None] | None = None
        self._ids = itertools.count(1)
        self.strategy = strategy_id()

    async def __aenter__(self) -> Rig:
        await self.server.start()
        self.config = BinanceConfig(
            rest_url=self.server.rest_url,
            ws_url=self.server.ws_url,
            symbols=["BTCUSDT"],
            listen_key_keepalive_s=self.keepalive_s,
            depth_snapshot_limit=100,
            trade_stream=self.trade_stream,
        )
        self.http = BinanceHttpClient(
            self.config,
            Credentials(KEY, SECRET),
            limiter=self.limiter,
            breakers=self.breakers,
            clock=self.clock,
            settings=FAST_HTTP,
        )
        info = await self.http.exchange_info(["BTCUSDT"])
        instruments, problems = instruments_from_exchange_info(info)
        assert problems == []
        (self.instrument,) = instruments
        self.engine.add_instrument(self.instrument)
        self.parser = Parser(
            instruments, account_id=AccountId("BINANCE-001"), strategy_for=self._strategy_for
        )
        self.execution = BinanceExecutionClient(
            self.config,
            self.http,
            self.parser,
            self._on_event,
            self.clock,
            write_ahead=self.write_ahead,
            settings=ExecutionSettings(
                timing=FAST_STREAMS, write_ahead_timeout=self.write_ahead_timeout
            ),
            hooks=ExecutionHooks(
                on_error=self.errors.append,
                on_stream_event=self.stream_signals.append,
                on_reconnect=self._on_reconnect if self.reconcile_on_reconnect else None,
            ),
        )
        self.engine.register_client(self.execution)
        self.data = BinanceDataClient(
            self.config,
            self.http,
            Parser(instruments),
            self._on_market,
            self.clock,
            on_error=self.errors.append,
            timing=FAST_STREAMS,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.data.close()
        await self.execution.close()
        await self.http.close()
        await self.server.stop()

    # -- wiring ---------------------------------------------------------------------------

    def _strategy_for(self, client_order_id: ClientOrderId) -> StrategyId | None:
        order = self.engine.order(client_order_id)
        return None if order is None else order.strategy_id

    def _on_event(self, event: VenueEvent) -> None:
        self.events.append(event)
        self.engine.process(event)

    def _on_market(self, item: MarketData | StreamGap | StreamResynced) -> None:
        self.market.append(item)
        if self.market_hook is not None:
            self.market_hook(item)

    def _on_reconnect(self, report: VenueReport) -> None:
        from bot4.execution.reconciliation import reconcile

        self.reconciliations.append(reconcile(self.engine, report))

    async def start_trading(self) -> None:
        await self.execution.start()
        await self.execution.wait_ready(5.0)

    # -- orders ---------------------------------------------------------------------------

    def next_id(self) -> ClientOrderId:
        return ClientOrderId(f"O-T{next(self._ids)}")

    def limit(self, side: OrderSide, qty: str, price: str, *, submit: bool = True) -> Order:
        order = Order.limit(
            client_order_id=self.next_id(),
            strategy_id=self.strategy,
            instrument_id=self.instrument.id,
            side=side,
            quantity=self.instrument.make_qty(qty),
            price=self.instrument.make_price(price),
            ts_init=self.clock.timestamp_ns(),
        )
        if submit:
            self.engine.submit_order(order)
        return order

    def market_order(self, side: OrderSide, qty: str) -> Order:
        order = Order.market(
            client_order_id=self.next_id(),
            strategy_id=self.strategy,
            instrument_id=self.instrument.id,
            side=side,
            quantity=self.instrument.make_qty(qty),
            ts_init=self.clock.timestamp_ns(),
        )
        self.engine.submit_order(order)
        return order

    def events_of(self, order: Order, kind: type | tuple[type, ...]) -> list[Any]:
        return [
            e
            for e in self.events
            if isinstance(e, kind) and getattr(e, "client_order_id", None) == order.client_order_id
        ]

    def trades_at_server(self) -> list[Any]:
        return list(self.server.account().trades.get("BTCUSDT", []))


def trade_through(inst: Instrument, price: str, size: str, side: OrderSide) -> TradeTick:
    """A market trade at ``price``: a SELL aggressor fills resting bids at or above it."""
    from bot4.model.enums import AggressorSide
    from bot4.testkit import trade

    aggressor = AggressorSide.SELLER if side is OrderSide.SELL else AggressorSide.BUYER
    return trade(inst, price, size, 1, aggressor=aggressor)
