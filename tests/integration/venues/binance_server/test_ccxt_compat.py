"""A third-party Binance client (ccxt, unchanged but for its URLs) against the local exchange.

If ccxt understands the server's answers, errors and streams without any adaptation, the
server speaks Binance's protocol well enough for clients we did not write.
"""

from __future__ import annotations

from typing import Any

# ccxt is a dev dependency: a missing install is a failure here, never a skip.
import ccxt.async_support as ccxt
import ccxt.pro as ccxtpro
import pytest

from bot4.testkit import book_snapshot
from bot4.venues.sim.binance_server import BinanceServer, RateLimitConfig

from .support import KEY, SECRET, instrument, run, sample_events, server

INST = instrument()
OPTIONS = {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False}


def client(srv: BinanceServer, module: Any = None, secret: str = SECRET) -> Any:
    exchange = (module or ccxt).binance({"apiKey": KEY, "secret": secret, "enableRateLimit": False, "options": dict(OPTIONS)})
    exchange.urls["api"]["public"] = exchange.urls["api"]["private"] = f"{srv.rest_url}/api/v3"
    if "ws" in exchange.urls["api"]:  # ccxt.pro only
        exchange.urls["api"]["ws"]["spot"] = f"{srv.ws_url}/ws"
    return exchange


def test_ccxt_trades_through_the_rest_api() -> None:
    async def body() -> None:
        async with server() as srv:
            srv.push(book_snapshot(INST, [("100.00", "1")], [("100.10", "1")], 1))
            exchange = client(srv)
            try:
                markets = await exchange.load_markets()
                market = markets["BTC/USDT"]
                assert (market["precision"]["price"], market["limits"]["cost"]["min"]) == (0.01, 5.0)
                book = await exchange.fetch_order_book("BTC/USDT")
                assert (book["bids"], book["asks"], book["nonce"]) == ([[100.0, 1.0]], [[100.1, 1.0]], 2)
                resting = await exchange.create_order("BTC/USDT", "limit", "buy", 0.5, 99)
                assert resting["status"] == "open"
                assert [o["id"] for o in await exchange.fetch_open_orders("BTC/USDT")] == [resting["id"]]
                assert (await exchange.cancel_order(resting["id"], "BTC/USDT"))["status"] == "canceled"
                bought = await exchange.create_order("BTC/USDT", "market", "buy", 0.5)
                assert (bought["status"], bought["filled"], bought["average"]) == ("closed", 0.5, 100.1)
                (fill,) = await exchange.fetch_my_trades("BTC/USDT")
                assert (fill["price"], fill["amount"], fill["fee"]["cost"], fill["takerOrMaker"]) == (100.1, 0.5, 0.05005, "taker")
                balance = await exchange.fetch_balance()
                assert (balance["BTC"]["total"], balance["USDT"]["free"]) == (2.5, 99949.89995)
            finally:
                await exchange.close()
            assert srv.errors == []

    run(body)


def test_ccxt_maps_the_servers_error_codes_to_its_own_errors() -> None:
    async def body() -> None:
        async with server(rate_limits=RateLimitConfig(request_weight=100)) as srv:
            srv.push(book_snapshot(INST, [("100.00", "1")], [("100.10", "1")], 1))
            exchange = client(srv)
            wrong = client(srv, secret="not-the-secret")
            try:
                await exchange.load_markets()
                wrong.markets, wrong.markets_by_id, wrong.symbols = exchange.markets, exchange.markets_by_id, exchange.symbols
                with pytest.raises(ccxt.InsufficientFunds):
                    await exchange.create_order("BTC/USDT", "limit", "buy", 5000, 99)
                with pytest.raises(ccxt.BadRequest, match="Filter failure: NOTIONAL"):  # ccxt's class for -1013
                    await exchange.create_order("BTC/USDT", "limit", "buy", 0.01, 99)
                with pytest.raises(ccxt.OrderNotFound):
                    await exchange.cancel_order("424242", "BTC/USDT")
                with pytest.raises(ccxt.AuthenticationError):
                    await wrong.fetch_balance()
                with pytest.raises(ccxt.DDoSProtection, match="-1003"):  # ccxt's class for HTTP 429
                    for _ in range(5):
                        await exchange.fetch_balance()  # weight 20 each
            finally:
                await exchange.close()
                await wrong.close()

    run(body)


def test_ccxt_pro_keeps_a_book_equal_to_the_servers_from_the_diff_stream() -> None:
    events = sample_events()[:6000]

    async def body() -> None:
        async with server(events) as srv:
            exchange = client(srv, ccxtpro)
            try:
                await exchange.load_markets()
                book = await exchange.watch_order_book("BTC/USDT")
                srv.start_replay()
                market = srv.exchange.market("BTCUSDT")
                while not (srv.replay.done.is_set() and book["nonce"] == market.update_id):
                    book = await exchange.watch_order_book("BTC/USDT")
                depth = market.depth(20)
                assert book["bids"][:20] == [[float(p), float(q)] for p, q in depth["bids"]]
                assert book["asks"][:20] == [[float(p), float(q)] for p, q in depth["asks"]]
            finally:
                await exchange.close()
            assert [m.text for m in srv.ws_messages] == ['{"method":"SUBSCRIBE","params":["btcusdt@depth@100ms"],"id":1}']

    run(body)
