"""The ccxt adapter against the local Binance-compatible exchange, over real loopback sockets."""

from __future__ import annotations

import asyncio
from typing import Any

import ccxt.async_support as ccxt

from bot4.core.bus import MessageBus
from bot4.core.clock import LiveClock
from bot4.core.ids import ClientOrderId
from bot4.execution.engine import ExecutionEngine
from bot4.execution.reconciliation import reconcile
from bot4.model.enums import OrderSide, OrderStatus, TimeInForce
from bot4.model.orders import Order
from bot4.portfolio.portfolio import Portfolio
from bot4.testkit import book_snapshot, btcusdt, strategy_id
from bot4.venues.ccxt import CcxtConfig, CcxtExecutionClient
from bot4.venues.sim.binance_server import (
    AccountSpec,
    ApiKeySpec,
    BinanceServer,
    BinanceServerConfig,
)

KEY, SECRET = "ccxtKey01", "ccxtSecret01"
INST = btcusdt("BINANCE")


def run(body: Any, timeout: float = 30.0) -> None:
    async def bounded() -> None:
        async with asyncio.timeout(timeout):
            await body()

    asyncio.run(bounded())


def exchange_for(server: BinanceServer) -> Any:
    options = {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False}
    exchange = ccxt.binance({"apiKey": KEY, "secret": SECRET, "enableRateLimit": False, "options": options})
    exchange.urls["api"]["public"] = exchange.urls["api"]["private"] = f"{server.rest_url}/api/v3"
    return exchange


class World:
    def __init__(self, server: BinanceServer) -> None:
        self.bus = MessageBus()
        self.clock = LiveClock()
        self.portfolio = Portfolio(self.bus)
        self.execution = ExecutionEngine(self.bus, self.clock)
        self.client = CcxtExecutionClient(
            exchange_for(server), CcxtConfig(venue="BINANCE", symbols=("BTC/USDT",), poll_interval=0.05), self.clock,
            self.execution.process,
        )
        self.n = 0

    async def start(self) -> None:
        await self.client.start()
        self.execution.register_client(self.client)
        for inst in self.client.instruments.values():
            self.execution.add_instrument(inst)
            self.portfolio.add_instrument(inst)
        self.execution.process(await self.client.account())

    def limit(self, side: OrderSide, qty: str, price: str, tif: TimeInForce = TimeInForce.GTC) -> Order:
        self.n += 1
        inst = next(iter(self.client.instruments.values()))
        order = Order.limit(client_order_id=ClientOrderId(f"C-{self.n}"), strategy_id=strategy_id(), instrument_id=inst.id,
                            side=side, quantity=inst.make_qty(qty), price=inst.make_price(price), time_in_force=tif,
                            ts_init=self.clock.timestamp_ns())
        self.execution.submit_order(order)
        return order


async def until(check: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def server_config() -> BinanceServerConfig:
    return BinanceServerConfig(
        accounts=[AccountSpec(name="main", balances={"USDT": "10000", "BTC": "1"})],
        api_keys=[ApiKeySpec(api_key=KEY, secret_key=SECRET, account="main")],
        autostart=False,
    )


def test_ccxt_client_places_fills_and_cancels_through_the_local_exchange() -> None:
    async def body() -> None:
        async with BinanceServer([INST], config=server_config()) as server:
            server.push(book_snapshot(INST, [("100.00", "5")], [("100.10", "5")], 1))
            world = World(server)
            await world.start()
            try:
                resting = world.limit(OrderSide.BUY, "0.5", "99.00")
                crossing = world.limit(OrderSide.BUY, "0.2", "100.10")
                await until(lambda: resting.status is OrderStatus.ACCEPTED and crossing.status is OrderStatus.FILLED)
                assert str(crossing.avg_px) == "100.1" and crossing.venue_order_id is not None
                fills = [e for e in crossing.events if type(e).__name__ == "OrderFilled"]
                assert len(fills) == 1  # seen in the response and by the poll: reported once
                # The market trades down through the resting bid: only the poll can see that fill.
                server.push(book_snapshot(INST, [("98.00", "5")], [("98.50", "5")], 2))
                await until(lambda: resting.status is OrderStatus.FILLED)
                assert len([e for e in resting.events if type(e).__name__ == "OrderFilled"]) >= 1
                assert resting.filled_qty == resting.quantity
                parked = world.limit(OrderSide.BUY, "0.1", "90.00")
                await until(lambda: parked.status is OrderStatus.ACCEPTED)
                world.execution.cancel_order(parked)
                await until(lambda: parked.status is OrderStatus.CANCELED)
                assert world.client.errors == []
                assert server.errors == []
            finally:
                await world.client.close()

    run(body)


def test_ccxt_client_reports_venue_rejections_with_the_reason() -> None:
    async def body() -> None:
        async with BinanceServer([INST], config=server_config()) as server:
            server.push(book_snapshot(INST, [("100.00", "5")], [("100.10", "5")], 1))
            world = World(server)
            await world.start()
            try:
                too_big = world.limit(OrderSide.BUY, "500", "100.00")  # 50,000 USDT on a 10,000 account
                await until(lambda: too_big.status is OrderStatus.REJECTED)
                rejected = too_big.last_event
                assert rejected is not None and "insufficient balance" in rejected.reason.lower()  # type: ignore[attr-defined]
                assert rejected.code == "insufficient_funds"  # type: ignore[attr-defined]
            finally:
                await world.client.close()

    run(body)


def test_ccxt_client_report_reconciles_an_order_filled_while_we_were_not_looking() -> None:
    async def body() -> None:
        async with BinanceServer([INST], config=server_config()) as server:
            server.push(book_snapshot(INST, [("100.00", "5")], [("100.10", "5")], 1))
            world = World(server)
            await world.start()
            try:
                order = world.limit(OrderSide.BUY, "0.3", "99.50")
                await until(lambda: order.status is OrderStatus.ACCEPTED)
                world.client._accepted.clear()  # stop polling for it, as if the node had been down
                server.push(book_snapshot(INST, [("99.00", "5")], [("99.40", "5")], 2))  # asks below our bid: filled
                await asyncio.sleep(0.2)
                assert order.status is OrderStatus.ACCEPTED
                result = reconcile(world.execution, await world.client.report())
                assert order.status is OrderStatus.FILLED
                assert any(r.client_order_id == "C-1" for r in result.repairs)
            finally:
                await world.client.close()

    run(body)


def test_ccxt_data_client_streams_trades_and_books_from_the_local_exchange() -> None:
    import ccxt.pro as ccxtpro

    from bot4.backtest.loaders import load_path
    from bot4.backtest.runner import sample_data_dir
    from bot4.model.data import BookSnapshot, TradeTick
    from bot4.venues.ccxt import CcxtDataClient
    from bot4.venues.ccxt.parsing import instrument_from_market

    events = list(load_path(sample_data_dir() / "btcusdt_20240808.jsonl.gz", INST).events)[:3000]

    async def body() -> None:
        async with BinanceServer([INST], events, config=server_config()) as server:
            options = {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False}
            exchange = ccxtpro.binance({"enableRateLimit": False, "options": options})
            exchange.urls["api"]["public"] = exchange.urls["api"]["private"] = f"{server.rest_url}/api/v3"
            exchange.urls["api"]["ws"]["spot"] = f"{server.ws_url}/ws"
            got: list[Any] = []
            client = CcxtDataClient(exchange, "BINANCE", LiveClock(), got.append)
            try:
                markets = await exchange.load_markets()
                inst = instrument_from_market(markets["BTC/USDT"], "BINANCE", exchange.precisionMode)
                client.subscribe(inst, "BTC/USDT")
                await asyncio.sleep(0.3)  # both watches subscribed before the replay starts
                server.start_replay()
                await until(lambda: server.replay.done.is_set(), timeout=20)
                await until(lambda: any(isinstance(e, TradeTick) for e in got) and any(isinstance(e, BookSnapshot) for e in got))
                trades = [e for e in got if isinstance(e, TradeTick)]
                assert len({t.trade_id for t in trades}) == len(trades)  # each trade once
                book = [e for e in got if isinstance(e, BookSnapshot)][-1]
                assert book.bids and book.asks and book.bids[0].price < book.asks[0].price
                assert client.errors == 0
            finally:
                await client.close()
                await exchange.close()

    run(body, timeout=60)
