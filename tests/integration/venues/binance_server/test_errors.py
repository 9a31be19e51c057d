"""Every refusal of the local Binance exchange: Binance's code and exact text, from its catalog."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from bot4.testkit import book_snapshot

from .support import Client, assert_error, catalog, instrument, run, server

INST = instrument()
BOOK = book_snapshot(INST, [("100.00", "1")], [("100.10", "1")], 1)

# (order parameters, code, message)
ORDER_ERRORS: list[tuple[dict[str, Any], int, str]] = [
    ({"symbol": "DOGEUSDT", "quantity": "1", "price": "1"}, -1121, "Invalid symbol."),
    ({"side": "BUYY", "quantity": "1", "price": "100"}, -1117, "Invalid side."),
    ({"type": "TRAILING", "quantity": "1", "price": "100"}, -1116, "Invalid orderType."),
    ({"timeInForce": "GTX", "quantity": "1", "price": "100"}, -1115, "Invalid timeInForce."),
    ({"price": "100"}, -1102, "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed."),
    ({"quantity": "1"}, -1102, "Mandatory parameter 'price' was not sent, was empty/null, or malformed."),
    ({"timeInForce": None, "quantity": "1", "price": "100"}, -1102,
     "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed."),
    ({"type": "MARKET"}, -1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!"),
    ({"type": "MARKET", "quantity": "1", "price": "100"}, -1106, "Parameter 'price' sent when not required."),
    ({"type": "MARKET", "quantity": "1", "quoteOrderQty": "10"}, -1106,
     "Parameter 'quoteOrderQty' sent when not required."),
    ({"type": "STOP_LOSS", "quantity": "1"}, -1102,
     "Mandatory parameter 'stopPrice' was not sent, was empty/null, or malformed."),
    ({"quantity": "1e3", "price": "100"}, -1100,
     "Illegal characters found in parameter 'quantity'; legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'."),
    ({"quantity": "1", "price": "100", "newClientOrderId": "has space"}, -1100,
     "Illegal characters found in parameter 'newClientOrderId'; legal range is '^[\\.A-Z\\:/a-z0-9_-]{1,36}$'."),
    ({"quantity": "0.000000001", "price": "100"}, -1111, "Parameter 'quantity' has too much precision."),
    ({"quantity": "", "price": "100"}, -1105, "Parameter 'quantity' was empty."),
    ({"quantity": "1", "price": "100", "newOrderRespType": "ALL"}, -1130,
     "Data sent for parameter 'newOrderRespType' is not valid."),
    ({"quantity": "1", "price": "100", "trailingDelta": "10"}, -1104,
     "Not all sent parameters were read; read '7' parameter(s) but was sent '8'."),
    ({"quantity": "0.000015", "price": "100"}, -1013, "Filter failure: LOT_SIZE"),
    ({"quantity": "0", "price": "100"}, -1013, "Filter failure: LOT_SIZE"),
    ({"quantity": "9001", "price": "100"}, -1013, "Filter failure: LOT_SIZE"),
    ({"quantity": "1", "price": "100.001"}, -1013, "Filter failure: PRICE_FILTER"),
    ({"quantity": "1", "price": "1000001"}, -1013, "Filter failure: PRICE_FILTER"),
    ({"quantity": "0.01", "price": "100"}, -1013, "Filter failure: NOTIONAL"),
    ({"type": "MARKET", "quantity": "0.01"}, -1013, "Filter failure: NOTIONAL"),
    ({"quantity": "1001", "price": "100"}, -2010, "Account has insufficient balance for requested action."),
    ({"side": "SELL", "quantity": "3", "price": "100"}, -2010, "Account has insufficient balance for requested action."),
    ({"type": "LIMIT_MAKER", "quantity": "1", "price": "100.10"}, -2010, "Order would immediately match and take."),
    ({"type": "LIMIT_MAKER", "quantity": "1", "price": "100.10", "timeInForce": "GTC"}, -1114,
     "TimeInForce parameter sent when not required."),
    ({"type": "STOP_LOSS_LIMIT", "timeInForce": "GTC", "quantity": "1", "price": "99", "stopPrice": "99"}, -2010,
     "Order would trigger immediately."),
    ({"quantity": "1", "price": "100", "icebergQty": "0.5"}, -2010, "Iceberg orders are not supported for this symbol."),
]  # fmt: skip


@pytest.mark.parametrize(("params", "code", "msg"), ORDER_ERRORS, ids=[f"{c}:{m[:40]}" for _, c, m in ORDER_ERRORS])
def test_new_order_refusal_has_binance_code_and_text(params: dict[str, Any], code: int, msg: str) -> None:
    async def body() -> None:
        async with server() as srv, aiohttp.ClientSession() as session:
            srv.push(BOOK)
            reply = await Client(session, srv).order(**params)
            assert_error(reply, code, msg)
            assert srv.account().open_orders() == []

    run(body)


def test_market_order_on_an_empty_book_and_duplicate_client_order_id() -> None:
    async def body() -> None:
        async with server() as srv, aiohttp.ClientSession() as session:
            client = Client(session, srv)
            assert_error(
                await client.order(type="MARKET", quantity="1"),
                -2010,
                "Order book liquidity is less than symbol minimum quantity.",
            )
            assert_error(
                await client.order(type="MARKET", quoteOrderQty="100"),
                -2010,
                "Order book liquidity is less than symbol minimum quantity.",
            )
            srv.push(BOOK)
            first = await client.order(quantity="1", price="99", newClientOrderId="dup")
            assert first.status == 200
            assert_error(await client.order(quantity="1", price="98", newClientOrderId="dup"), -2010, "Duplicate order sent.")
            await client.signed("DELETE", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="dup")
            again = await client.order(quantity="1", price="98", newClientOrderId="dup")
            assert again.status == 200  # a client order id is free again once its order is done

    run(body)


def test_duplicate_and_empty_parameters() -> None:
    async def body() -> None:
        async with server() as srv, aiohttp.ClientSession() as session:
            client = Client(session, srv)
            reply = await client.raw("GET", "/api/v3/depth", "symbol=BTCUSDT&symbol=ETHUSDT")
            assert_error(reply, -1101, "Duplicate values for a parameter detected.")

    run(body)


def test_cancel_and_query_of_unknown_orders() -> None:
    async def body() -> None:
        async with server() as srv, aiohttp.ClientSession() as session:
            client = Client(session, srv)
            path = "/api/v3/order"
            assert_error(await client.signed("DELETE", path, symbol="BTCUSDT", orderId=42), -2011, "Unknown order sent.")
            assert_error(
                await client.signed("DELETE", path, symbol="BTCUSDT", origClientOrderId="nope"), -2011, "Unknown order sent."
            )
            assert_error(
                await client.signed("DELETE", path, symbol="BTCUSDT"),
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            )
            assert_error(await client.signed("GET", path, symbol="BTCUSDT", orderId=42), -2013, "Order does not exist.")
            srv.push(BOOK)
            placed = await client.order(quantity="1", price="99", newClientOrderId="mine")
            mismatch = await client.signed(
                "DELETE", path, symbol="BTCUSDT", orderId=placed.body["orderId"], origClientOrderId="other"
            )
            assert_error(mismatch, -2011, "Unknown order sent.")

    run(body)


def test_listen_key_errors() -> None:
    async def body() -> None:
        async with server() as srv, aiohttp.ClientSession() as session:
            client = Client(session, srv)
            path = "/api/v3/userDataStream"
            assert_error(await client.keyed("PUT", path, listenKey="x" * 60), -1125, "This listenKey does not exist.")
            assert_error(await client.keyed("DELETE", path, listenKey="x" * 60), -1125, "This listenKey does not exist.")
            assert_error(
                await client.keyed("PUT", path),
                -1102,
                "Mandatory parameter 'listenKey' was not sent, was empty/null, or malformed.",
            )

    run(body)


def test_every_text_the_server_can_send_is_in_binances_catalog() -> None:
    from bot4.venues.sim.binance_server.errors import Msg

    codes = {
        Msg.UNKNOWN: -1000, Msg.BAD_SYMBOL: -1121, Msg.DUPLICATE_PARAM: -1101, Msg.INVALID_SIDE: -1117,
        Msg.INVALID_ORDER_TYPE: -1116, Msg.INVALID_TIF: -1115, Msg.INVALID_LISTEN_KEY: -1125,
        Msg.OUTSIDE_RECV_WINDOW: -1021, Msg.AHEAD_OF_SERVER: -1021, Msg.BAD_SIGNATURE: -1022,
        Msg.BAD_API_KEY_FMT: -2014, Msg.REJECTED_MBX_KEY: -2015, Msg.UNKNOWN_ORDER: -2011,
        Msg.DUPLICATE_ORDER: -2010, Msg.NO_SUCH_ORDER: -2013, Msg.INSUFFICIENT_BALANCE: -2010,
        Msg.WOULD_TAKE: -2010, Msg.WOULD_TRIGGER: -2010, Msg.NO_LIQUIDITY: -2010, Msg.ICEBERG_UNSUPPORTED: -2010,
        Msg.UNSUPPORTED_COMBINATION: -2010, Msg.TIF_NOT_REQUIRED: -1114,
    }  # fmt: skip
    texts = {value for name, value in vars(Msg).items() if name.isupper()}
    assert texts == set(codes)
    for text, code in codes.items():
        assert any(p.match(text) for p in catalog()[code]), (code, text)
