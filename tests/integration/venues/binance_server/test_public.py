"""Public REST endpoints of the local Binance exchange, over real loopback sockets."""

from __future__ import annotations

import time

import aiohttp

from bot4.testkit import book_snapshot, trade
from bot4.testkit.instruments import ethusdt
from bot4.venues.sim.binance_server import BinanceServer

from .support import Client, assert_error, config, instrument, run, server


def test_exchange_info_lists_symbols_with_real_filter_shapes_and_rate_limits() -> None:
    async def body() -> None:
        async with server() as srv, aiohttp.ClientSession() as session:
            reply = await Client(session, srv).public("GET", "/api/v3/exchangeInfo")
            assert reply.status == 200
            info = reply.body
            assert info["timezone"] == "UTC"
            assert abs(info["serverTime"] - time.time() * 1000) < 5_000
            assert info["rateLimits"] == [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
                {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
            ]
            (symbol,) = info["symbols"]
            assert symbol["symbol"] == "BTCUSDT"
            assert (symbol["status"], symbol["baseAsset"], symbol["quoteAsset"]) == ("TRADING", "BTC", "USDT")
            assert (symbol["baseAssetPrecision"], symbol["quoteAssetPrecision"]) == (8, 8)
            assert symbol["orderTypes"] == ["LIMIT", "MARKET", "LIMIT_MAKER", "STOP_LOSS", "STOP_LOSS_LIMIT"]
            assert symbol["quoteOrderQtyMarketAllowed"] is True
            assert symbol["permissionSets"] == [["SPOT"]]
            filters = {f["filterType"]: f for f in symbol["filters"]}
            assert filters["PRICE_FILTER"] == {
                "filterType": "PRICE_FILTER",
                "minPrice": "0.01000000",
                "maxPrice": "1000000.00000000",
                "tickSize": "0.01000000",
            }
            assert filters["LOT_SIZE"] == {
                "filterType": "LOT_SIZE",
                "minQty": "0.00001000",
                "maxQty": "9000.00000000",
                "stepSize": "0.00001000",
            }
            assert filters["NOTIONAL"]["minNotional"] == "5.00000000"
            assert filters["NOTIONAL"]["applyMinToMarket"] is True

    run(body)


def test_exchange_info_filters_by_symbol_and_refuses_unknown_ones() -> None:
    async def body() -> None:
        srv = BinanceServer([instrument(), ethusdt("BINANCE")], config=config())
        async with srv, aiohttp.ClientSession() as session:
            client = Client(session, srv)
            both = await client.public("GET", "/api/v3/exchangeInfo")
            assert [s["symbol"] for s in both.body["symbols"]] == ["BTCUSDT", "ETHUSDT"]
            one = await client.public("GET", "/api/v3/exchangeInfo", symbol="ETHUSDT")
            assert [s["symbol"] for s in one.body["symbols"]] == ["ETHUSDT"]
            some = await client.public("GET", "/api/v3/exchangeInfo", symbols='["ETHUSDT","BTCUSDT"]')
            assert [s["symbol"] for s in some.body["symbols"]] == ["ETHUSDT", "BTCUSDT"]
            assert_error(await client.public("GET", "/api/v3/exchangeInfo", symbol="DOGEUSDT"), -1121, "Invalid symbol.")
            assert_error(
                await client.public("GET", "/api/v3/depth", symbol="btcusdt"),
                -1100,
                "Illegal characters found in parameter 'symbol'; legal range is '^[A-Z0-9-_.]{1,20}$'.",
            )
            assert_error(
                await client.public("GET", "/api/v3/depth"),
                -1102,
                "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
            )

    run(body)


def test_ping_time_and_skewed_server_clock() -> None:
    async def body() -> None:
        async with server(time_offset_ms=-30_000) as srv, aiohttp.ClientSession() as session:
            client = Client(session, srv)
            assert (await client.public("GET", "/api/v3/ping")).body == {}
            server_time = (await client.public("GET", "/api/v3/time")).body["serverTime"]
            assert abs(server_time - (time.time() * 1000 - 30_000)) < 2_000
            srv.set_time_offset(0)
            server_time = (await client.public("GET", "/api/v3/time")).body["serverTime"]
            assert abs(server_time - time.time() * 1000) < 2_000

    run(body)


def test_depth_trades_and_book_ticker_answer_from_the_server_book() -> None:
    inst = instrument()

    async def body() -> None:
        async with server() as srv, aiohttp.ClientSession() as session:
            client = Client(session, srv)
            empty = await client.public("GET", "/api/v3/depth", symbol="BTCUSDT")
            assert empty.body == {"lastUpdateId": 0, "bids": [], "asks": []}
            srv.push(
                book_snapshot(inst, [("100.00", "1"), ("99.99", "2"), ("99.98", "3")], [("100.01", "4"), ("100.02", "5")], 1),
                trade(inst, "100.01", "0.5", 2, trade_id="77"),
                trade(inst, "100.00", "0.25", 3, trade_id="xyz"),
            )
            depth = await client.public("GET", "/api/v3/depth", symbol="BTCUSDT", limit=2)
            assert depth.headers["X-MBX-USED-WEIGHT-1M"] == "10"  # two depth calls of weight 5
            assert depth.body == {
                "lastUpdateId": 5,
                "bids": [["100.00000000", "1.00000000"], ["99.99000000", "2.00000000"]],
                "asks": [["100.01000000", "4.00000000"], ["100.02000000", "5.00000000"]],
            }
            trades = (await client.public("GET", "/api/v3/trades", symbol="BTCUSDT")).body
            assert [(t["id"], t["price"], t["qty"], t["quoteQty"], t["isBuyerMaker"]) for t in trades] == [
                (77, "100.01000000", "0.50000000", "50.00500000", False),
                (78, "100.00000000", "0.25000000", "25.00000000", False),
            ]
            ticker = (await client.public("GET", "/api/v3/ticker/bookTicker", symbol="BTCUSDT")).body
            assert ticker == {
                "symbol": "BTCUSDT",
                "bidPrice": "100.00000000",
                "bidQty": "1.00000000",
                "askPrice": "100.01000000",
                "askQty": "4.00000000",
            }

    run(body)


def test_unknown_endpoint_is_404_and_every_request_is_recorded() -> None:
    async def body() -> None:
        async with server() as srv, aiohttp.ClientSession() as session:
            client = Client(session, srv)
            missing = await client.public("GET", "/api/v3/nothingHere")
            assert missing.status == 404
            await client.public("GET", "/api/v3/ping", note="x")
            recorded = srv.requests[-1]
            assert (recorded.method, recorded.path, recorded.params, recorded.status) == (
                "GET",
                "/api/v3/ping",
                {"note": "x"},
                200,
            )

    run(body)
