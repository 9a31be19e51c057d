"""API keys, HMAC signatures and timestamps, checked the way Binance checks them."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from bot4.core.ids import InstrumentId
from bot4.core.numbers import Currency
from bot4.model.instrument import Instrument
from bot4.venues.sim.binance_server import (
    AccountSpec,
    ApiKeySpec,
    BinanceServer,
    BinanceServerConfig,
)

from .support import KEY, SECRET, SIGNING, Client, assert_error, config, run, server, sign

LTCBTC = Instrument.create(
    instrument_id=InstrumentId.from_str("LTCBTC.BINANCE"),
    base=Currency("LTC", 8),
    quote=Currency("BTC", 8),
    tick_size="0.000001",
    step_size="0.01",
    min_notional="0.0001",
)


def vectors() -> dict[str, Any]:
    if not SIGNING.exists():
        pytest.skip(f"Binance signing examples not available: {SIGNING}")
    data: dict[str, Any] = json.loads(SIGNING.read_text())
    return data


def test_binance_documentation_signature_examples_are_accepted() -> None:
    doc = vectors()
    vector, unicode_vector = doc["vectors"]
    timestamp = 1499827319559

    async def body() -> None:
        cfg = BinanceServerConfig(
            accounts=[AccountSpec(balances={"BTC": "10"})],
            api_keys=[ApiKeySpec(api_key=str(doc["apiKey"]), secret_key=str(doc["secretKey"]))],
            autostart=False,
        )
        async with BinanceServer([LTCBTC], config=cfg) as srv, aiohttp.ClientSession() as session:
            srv.set_time_offset(timestamp + 500 - time.time_ns() // 1_000_000)
            client = Client(session, srv, str(doc["apiKey"]), str(doc["secretKey"]))
            headers = {"X-MBX-APIKEY": str(doc["apiKey"])}
            payload, signature = vector["payload"], vector["signature"]
            # example 1: everything in the query string
            placed = await client.raw("POST", "/api/v3/order", f"{payload}&signature={signature}", headers=headers)
            assert placed.status == 200, placed
            assert (placed.body["symbol"], placed.body["price"], placed.body["origQty"]) == (
                "LTCBTC", "0.10000000", "1.00000000",
            )  # fmt: skip
            # example 2: everything in the body
            in_body = await client.raw("POST", "/api/v3/order", body=f"{payload}&signature={signature}", headers=headers)
            assert in_body.status == 200, in_body
            # example 3: query and body; the signature covers them concatenated with no '&'
            query, rest = payload.split("&quantity=")
            form = "quantity=" + rest
            mixed_signature = sign(str(doc["secretKey"]), query + form)
            mixed = await client.raw("POST", "/api/v3/order", query, f"{form}&signature={mixed_signature}", headers)
            assert mixed.status == 200, mixed
            wrong_join = sign(str(doc["secretKey"]), query + "&" + form)
            refused = await client.raw("POST", "/api/v3/order", query, f"{form}&signature={wrong_join}", headers)
            assert_error(refused, -1022, "Signature for this request is not valid.")
            # the non-ASCII example is signed over its percent-encoded bytes: the signature
            # passes and the symbol itself is what gets refused
            odd = await client.raw(
                "POST", "/api/v3/order", f"{unicode_vector['payload']}&signature={unicode_vector['signature']}", headers=headers
            )
            assert odd.code == -1100, odd
            assert len(srv.account().open_orders()) == 3

    run(body)


def test_bad_or_missing_signature_and_timestamp() -> None:
    async def body() -> None:
        async with server() as srv, aiohttp.ClientSession() as session:
            client = Client(session, srv)
            params = urlencode({"timestamp": srv.server_time_ms()})
            good = sign(SECRET, params)
            headers = {"X-MBX-APIKEY": KEY}
            bad = ("0" if good[0] != "0" else "1") + good[1:]
            assert_error(
                await client.raw("GET", "/api/v3/account", f"{params}&signature={bad}", headers=headers),
                -1022,
                "Signature for this request is not valid.",
            )
            upper = await client.raw("GET", "/api/v3/account", f"{params}&signature={good.upper()}", headers=headers)
            assert upper.status == 200  # hex is not case sensitive
            assert_error(
                await client.raw("GET", "/api/v3/account", params, headers=headers),
                -1102,
                "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.",
            )
            no_time = "omitZeroBalances=true"
            assert_error(
                await client.raw("GET", "/api/v3/account", f"{no_time}&signature={sign(SECRET, no_time)}", headers=headers),
                -1102,
                "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.",
            )

    run(body)


def test_timestamp_outside_recv_window_or_ahead_is_refused() -> None:
    async def body() -> None:
        async with server() as srv, aiohttp.ClientSession() as session:
            client = Client(session, srv)
            now = srv.server_time_ms()
            old = await client.signed("GET", "/api/v3/account", timestamp=now - 10_000)
            assert_error(old, -1021, "Timestamp for this request is outside of the recvWindow.")
            wide = await client.signed("GET", "/api/v3/account", timestamp=now - 10_000, recvWindow=20_000)
            assert wide.status == 200
            ahead = await client.signed("GET", "/api/v3/account", timestamp=now + 5_000)
            assert_error(ahead, -1021, "Timestamp for this request was 1000ms ahead of the server's time.")
            too_wide = await client.signed("GET", "/api/v3/account", recvWindow=60_001)
            assert_error(too_wide, -1130, "Data sent for parameter 'recvWindow' is not valid.")

    run(body)


def test_skewed_server_clock_refuses_local_time_until_the_client_syncs() -> None:
    async def body() -> None:
        async with server(time_offset_ms=30_000) as srv, aiohttp.ClientSession() as session:
            client = Client(session, srv)
            local = await client.signed("GET", "/api/v3/account", timestamp=time.time_ns() // 1_000_000)
            assert_error(local, -1021, "Timestamp for this request is outside of the recvWindow.")
            server_time = (await client.public("GET", "/api/v3/time")).body["serverTime"]
            offset = server_time - time.time_ns() // 1_000_000
            synced = await client.signed("GET", "/api/v3/account", timestamp=time.time_ns() // 1_000_000 + offset)
            assert synced.status == 200

    run(body)


def test_api_key_missing_malformed_unknown_or_not_allowed_to_trade() -> None:
    async def body() -> None:
        cfg = config(
            api_keys=[
                ApiKeySpec(api_key=KEY, secret_key=SECRET),
                ApiKeySpec(api_key="readOnly", secret_key="ro-secret", can_trade=False),
            ]
        )
        async with BinanceServer([LTCBTC], config=cfg) as srv, aiohttp.ClientSession() as session:
            assert_error(
                await Client(session, srv).public("POST", "/api/v3/userDataStream"), -2014, "API-key format invalid.", 401
            )
            bad_shape = Client(session, srv, "not a key!", SECRET)
            assert_error(await bad_shape.signed("GET", "/api/v3/account"), -2014, "API-key format invalid.", 401)
            unknown = Client(session, srv, "unknownKey", SECRET)
            assert_error(
                await unknown.signed("GET", "/api/v3/account"), -2015, "Invalid API-key, IP, or permissions for action.", 401
            )
            read_only = Client(session, srv, "readOnly", "ro-secret")
            account = await read_only.signed("GET", "/api/v3/account")
            assert (account.status, account.body["canTrade"]) == (200, False)
            refused = await read_only.order(symbol="LTCBTC", quantity="1", price="0.1")
            assert_error(refused, -2015, "Invalid API-key, IP, or permissions for action.", 401)

    run(body)


def test_recorded_requests_never_hold_the_api_key_or_secret() -> None:
    async def body() -> None:
        async with server() as srv, aiohttp.ClientSession() as session:
            client = Client(session, srv)
            await client.signed("GET", "/api/v3/account")
            await client.keyed("POST", "/api/v3/userDataStream")
            for recorded in srv.requests:
                assert recorded.account == "main"
                assert recorded.headers["X-MBX-APIKEY"] == "<redacted>"
                text = repr(recorded)
                assert KEY not in text and SECRET not in text
            assert "timestamp" in srv.requests[0].params
            assert KEY not in repr(srv.config) and SECRET not in repr(srv.config)

    run(body)
