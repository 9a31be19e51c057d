"""Signed order flow on the local Binance exchange: place, fill from market data, cancel."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import aiohttp

from bot4.model.enums import AggressorSide
from bot4.testkit import book_snapshot, trade

from .support import Client, assert_error, instrument, recv_json, recv_until, run, server

INST = instrument()
BOOK = book_snapshot(INST, [("100.00", "1"), ("99.90", "2")], [("100.10", "1"), ("100.20", "2")], 1)

EXECUTION_REPORT_FIELDS = [
    "e", "E", "s", "c", "S", "o", "f", "q", "p", "P", "F", "g", "C", "x", "X", "r", "i", "l", "z",
    "L", "n", "N", "T", "t", "I", "w", "m", "M", "O", "Z", "Y", "Q", "W", "V",
]  # fmt: skip


def report(payload: dict[str, Any]) -> bool:
    return payload.get("e") == "executionReport"


def position(payload: dict[str, Any]) -> bool:
    return payload.get("e") == "outboundAccountPosition"


def balances(account_body: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {b["asset"]: (b["free"], b["locked"]) for b in account_body["balances"]}


def test_limit_order_rests_fills_from_market_data_and_reports_on_the_user_stream() -> None:
    async def body() -> None:
        async with server() as srv, aiohttp.ClientSession() as session:
            srv.push(BOOK)
            client = Client(session, srv)
            key = await client.listen_key()
            async with session.ws_connect(f"{srv.ws_url}/ws/{key}") as user:
                placed = await client.order(side="BUY", quantity="1", price="100.05", newClientOrderId="my-order-1")
                assert placed.status == 200, placed
                assert placed.headers["X-MBX-ORDER-COUNT-10S"] == "1"
                order_id = placed.body["orderId"]
                assert placed.body["status"] == "NEW"
                assert placed.body["fills"] == []

                new = await recv_json(user)
                assert list(new) == EXECUTION_REPORT_FIELDS
                assert (new["x"], new["X"], new["c"], new["i"], new["S"], new["o"], new["f"]) == (
                    "NEW", "NEW", "my-order-1", order_id, "BUY", "LIMIT", "GTC",
                )  # fmt: skip
                assert (new["q"], new["p"], new["z"], new["t"], new["N"], new["w"]) == (
                    "1.00000000", "100.05000000", "0.00000000", -1, None, True,
                )  # fmt: skip
                locked = await recv_until(user, position)
                # the simulated venue locks notional x (1 + fee) plus one quote unit per lot step
                assert locked["B"] == [{"a": "USDT", "f": "99899.84895000", "l": "100.15105000"}]

                opened = await client.signed("GET", "/api/v3/openOrders", symbol="BTCUSDT")
                assert [(o["orderId"], o["clientOrderId"], o["status"], o["isWorking"]) for o in opened.body] == [
                    (order_id, "my-order-1", "NEW", True)
                ]

                srv.push(trade(INST, "100.00", "0.5", 2, AggressorSide.SELLER))  # prints through our 100.05
                filled = await recv_until(user, report)
                assert list(filled) == EXECUTION_REPORT_FIELDS
                assert (filled["x"], filled["X"], filled["l"], filled["z"], filled["L"], filled["m"]) == (
                    "TRADE", "FILLED", "1.00000000", "1.00000000", "100.05000000", True,
                )  # fmt: skip
                assert (filled["n"], filled["N"], filled["Z"], filled["Y"]) == (
                    "0.10005000", "USDT", "100.05000000", "100.05000000",
                )  # fmt: skip
                settled = await recv_until(user, position)
                assert settled["B"] == [
                    {"a": "BTC", "f": "3.00000000", "l": "0.00000000"},
                    {"a": "USDT", "f": "99899.84995000", "l": "0.00000000"},
                ]

            trades = await client.signed("GET", "/api/v3/myTrades", symbol="BTCUSDT")
            assert [
                (t["orderId"], t["price"], t["qty"], t["quoteQty"], t["commission"], t["isBuyer"], t["isMaker"])
                for t in trades.body
            ] == [(order_id, "100.05000000", "1.00000000", "100.05000000", "0.10005000", True, True)]
            assert trades.body[0]["id"] == filled["t"]
            queried = await client.signed("GET", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="my-order-1")
            assert (queried.body["status"], queried.body["executedQty"], queried.body["cummulativeQuoteQty"]) == (
                "FILLED", "1.00000000", "100.05000000",
            )  # fmt: skip
            assert (await client.signed("GET", "/api/v3/openOrders")).body == []
            account = await client.signed("GET", "/api/v3/account")
            assert balances(account.body) == {"BTC": ("3.00000000", "0.00000000"), "USDT": ("99899.84995000", "0.00000000")}
            assert (account.body["makerCommission"], account.body["commissionRates"]["taker"]) == (10, "0.00100000")
            assert srv.errors == []

    run(body)


def test_cancel_by_client_order_id_reports_canceled_with_both_ids() -> None:
    async def body() -> None:
        async with server() as srv, aiohttp.ClientSession() as session:
            srv.push(BOOK)
            client = Client(session, srv)
            key = await client.listen_key()
            async with session.ws_connect(f"{srv.ws_url}/ws/{key}") as user:
                placed = await client.order(side="SELL", quantity="0.5", price="101", newClientOrderId="ask-1")
                await recv_until(user, report)
                canceled = await client.signed(
                    "DELETE", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="ask-1", newClientOrderId="cxl-1"
                )
                assert canceled.status == 200, canceled
                assert (
                    canceled.body["orderId"],
                    canceled.body["origClientOrderId"],
                    canceled.body["clientOrderId"],
                    canceled.body["status"],
                    canceled.body["origQty"],
                ) == (placed.body["orderId"], "ask-1", "cxl-1", "CANCELED", "0.50000000")
                event = await recv_until(user, report)
                assert (event["x"], event["X"], event["c"], event["C"]) == ("CANCELED", "CANCELED", "cxl-1", "ask-1")
                released = await recv_until(user, position)
                assert released["B"] == [{"a": "BTC", "f": "2.00000000", "l": "0.00000000"}]
            again = await client.signed("DELETE", "/api/v3/order", symbol="BTCUSDT", orderId=placed.body["orderId"])
            assert_error(again, -2011, "Unknown order sent.")
            queried = await client.signed("GET", "/api/v3/order", symbol="BTCUSDT", orderId=placed.body["orderId"])
            assert queried.body["status"] == "CANCELED"

    run(body)


def test_cancel_all_open_orders_of_a_symbol() -> None:
    async def body() -> None:
        async with server() as srv, aiohttp.ClientSession() as session:
            srv.push(BOOK)
            client = Client(session, srv)
            ids = [(await client.order(quantity="0.1", price=price)).body["orderId"] for price in ("99", "98")]
            canceled = await client.signed("DELETE", "/api/v3/openOrders", symbol="BTCUSDT", in_body=True)
            assert [(c["orderId"], c["status"]) for c in canceled.body] == [(ids[0], "CANCELED"), (ids[1], "CANCELED")]
            assert_error(await client.signed("DELETE", "/api/v3/openOrders", symbol="BTCUSDT"), -2011, "Unknown order sent.")

    run(body)


def test_market_order_full_response_walks_the_book_and_quote_quantity_buys_what_it_pays_for() -> None:
    async def body() -> None:
        async with server() as srv, aiohttp.ClientSession() as session:
            srv.push(BOOK)
            client = Client(session, srv)
            bought = await client.order(type="MARKET", quantity="2")
            assert bought.status == 200, bought
            assert (bought.body["status"], bought.body["type"], bought.body["executedQty"]) == ("FILLED", "MARKET", "2.00000000")
            assert bought.body["cummulativeQuoteQty"] == "200.30000000"
            assert [(f["price"], f["qty"], f["commission"], f["commissionAsset"]) for f in bought.body["fills"]] == [
                ("100.10000000", "1.00000000", "0.10010000", "USDT"),
                ("100.20000000", "1.00000000", "0.10020000", "USDT"),
            ]
            assert bought.body["fills"][1]["tradeId"] == bought.body["fills"][0]["tradeId"] + 1

            sold = await client.order(side="SELL", type="MARKET", quoteOrderQty="150", newOrderRespType="RESULT")
            assert sold.status == 200, sold
            # 1 BTC at 100.00 pays 100; the other 50 buys 0.50050 at 99.90, rounded down to the step
            assert (sold.body["executedQty"], sold.body["origQuoteOrderQty"], sold.body["cummulativeQuoteQty"]) == (
                "1.50050000", "150.00000000", "149.99995000",
            )  # fmt: skip
            assert "fills" not in sold.body

            ack = await client.order(type="LIMIT", quantity="0.1", price="90", newOrderRespType="ACK")
            assert set(ack.body) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}

    run(body)


def test_partial_fill_ioc_fok_and_limit_maker() -> None:
    async def body() -> None:
        async with server() as srv, aiohttp.ClientSession() as session:
            srv.push(BOOK)
            client = Client(session, srv)
            partial = await client.order(quantity="3", price="100.10")
            assert (partial.body["status"], partial.body["executedQty"]) == ("PARTIALLY_FILLED", "1.00000000")
            assert [(f["price"], f["qty"]) for f in partial.body["fills"]] == [("100.10000000", "1.00000000")]

            ioc = await client.order(side="SELL", quantity="3", price="100.00", timeInForce="IOC")
            assert (ioc.body["status"], ioc.body["executedQty"]) == ("EXPIRED", "1.00000000")  # only 1 bid at 100.00
            fok = await client.order(side="BUY", quantity="5", price="100.20", timeInForce="FOK")
            assert fok.status == 200, fok
            assert (fok.body["status"], fok.body["executedQty"]) == ("EXPIRED", "0.00000000")

            assert_error(
                await client.order(type="LIMIT_MAKER", quantity="0.1", price="100.20"),
                -2010,
                "Order would immediately match and take.",
            )
            maker = await client.order(type="LIMIT_MAKER", side="SELL", quantity="0.1", price="105", newOrderRespType="RESULT")
            assert (maker.body["status"], maker.body["type"], maker.body["timeInForce"]) == ("NEW", "LIMIT_MAKER", "GTC")

    run(body)


def test_ioc_remainder_is_reported_expired_after_its_trade() -> None:
    async def body() -> None:
        async with server() as srv, aiohttp.ClientSession() as session:
            srv.push(BOOK)
            client = Client(session, srv)
            key = await client.listen_key()
            async with session.ws_connect(f"{srv.ws_url}/ws/{key}") as user:
                placed = await client.order(quantity="2", price="100.10", timeInForce="IOC", newClientOrderId="ioc-1")
                assert (placed.body["status"], placed.body["executedQty"]) == ("EXPIRED", "1.00000000")
                reports = [await recv_until(user, report) for _ in range(3)]
                assert [(r["x"], r["X"], r["z"], r["f"]) for r in reports] == [
                    ("NEW", "NEW", "0.00000000", "IOC"),
                    ("TRADE", "PARTIALLY_FILLED", "1.00000000", "IOC"),
                    ("EXPIRED", "EXPIRED", "1.00000000", "IOC"),
                ]
                assert all(list(r) == EXECUTION_REPORT_FIELDS for r in reports)
                assert reports[1]["m"] is False  # it took liquidity

    run(body)


def test_stop_loss_that_cannot_be_paid_when_triggered_is_reported_rejected() -> None:
    async def body() -> None:
        async with server() as srv, aiohttp.ClientSession() as session:
            srv.push(book_snapshot(INST, [("100.00", "1")], [("100.10", "5000")], 1))
            client = Client(session, srv)
            key = await client.listen_key()
            async with session.ws_connect(f"{srv.ws_url}/ws/{key}") as user:
                # nothing is locked for a stop-market buy; at the trigger its cost (2000 x ~100.10) is checked
                stop = await client.order(type="STOP_LOSS", quantity="2000", stopPrice="101")
                assert stop.status == 200, stop
                assert set(stop.body) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}
                new = await recv_until(user, report)
                assert (new["x"], new["o"], new["P"], new["w"]) == ("NEW", "STOP_LOSS", "101.00000000", False)
                assert "W" not in new
                srv.push(trade(INST, "101.00", "0.1", 2))
                rejected = await recv_until(user, report)
                assert (rejected["x"], rejected["X"], rejected["r"]) == ("REJECTED", "REJECTED", "INSUFFICIENT_BALANCE")
            queried = await client.signed("GET", "/api/v3/order", symbol="BTCUSDT", orderId=stop.body["orderId"])
            assert (queried.body["status"], queried.body["stopPrice"]) == ("REJECTED", "101.00000000")

    run(body)


def test_accounts_are_separate_and_all_orders_lists_history() -> None:
    async def body() -> None:
        from .support import OTHER_KEY, OTHER_SECRET

        async with server() as srv, aiohttp.ClientSession() as session:
            srv.push(BOOK)
            main = Client(session, srv)
            other = Client(session, srv, OTHER_KEY, OTHER_SECRET)
            await main.order(quantity="0.1", price="99", newClientOrderId="same-id")
            placed = await other.order(quantity="0.1", price="99", newClientOrderId="same-id")
            assert placed.status == 200  # client order ids are per account
            assert len((await other.signed("GET", "/api/v3/openOrders")).body) == 1
            account = await other.signed("GET", "/api/v3/account", omitZeroBalances="true")
            assert balances(account.body) == {"USDT": ("990.09000000", "9.91000000")}  # 9.9 + fee + 0.01 for 10000 steps
            history = await main.signed("GET", "/api/v3/allOrders", symbol="BTCUSDT")
            assert [o["clientOrderId"] for o in history.body] == ["same-id"]
            assert Decimal(history.body[0]["price"]) == Decimal("99")

    run(body)
