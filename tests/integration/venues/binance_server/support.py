"""Helpers for the local Binance exchange tests: servers, a signing REST client, WS reading."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import json
import os
import re
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
import yarl

from bot4.backtest.loaders import load_path
from bot4.backtest.runner import sample_data_dir
from bot4.model.data import MarketData
from bot4.model.instrument import Instrument
from bot4.testkit import btcusdt
from bot4.venues.sim.binance_server import (
    AccountSpec,
    ApiKeySpec,
    BinanceServer,
    BinanceServerConfig,
)

REPO_ROOT = Path(__file__).resolve().parents[4]
CATALOG = REPO_ROOT.parent / "shared" / "data" / "real" / "binance_spot_api_docs" / "binance_spot_error_catalog.derived.json"
SIGNING = REPO_ROOT.parent / "shared" / "data" / "real" / "binance_spot_api_docs" / "signing_test_vectors.json"

KEY, SECRET = "testKey01", "testSecret01"
OTHER_KEY, OTHER_SECRET = "otherKey02", "otherSecret02"
QUIET = 0.3  # seconds after which "nothing arrived" counts as nothing arriving


def run(test: Callable[[], Coroutine[Any, Any, None]], timeout: float = 20.0) -> None:
    """Run one async test body on a fresh loop, bounded so a hang fails instead of blocking."""

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
    """The bundled BTCUSDT capture (2024-08-08, ~6 minutes) as Bot4 events."""
    return tuple(load_path(sample_data_dir() / "btcusdt_20240808.jsonl.gz", instrument()).events)


def config(**overrides: Any) -> BinanceServerConfig:
    """Two accounts (main, other) with keys; no replay unless asked."""
    values: dict[str, Any] = {
        "accounts": [
            AccountSpec(name="main", balances={"USDT": "100000", "BTC": "2"}),
            AccountSpec(name="other", balances={"USDT": "1000"}),
        ],
        "api_keys": [
            ApiKeySpec(api_key=KEY, secret_key=SECRET, account="main"),
            ApiKeySpec(api_key=OTHER_KEY, secret_key=OTHER_SECRET, account="other"),
        ],
        "autostart": False,
    }
    values.update(overrides)
    return BinanceServerConfig(**values)


def server(events: Iterable[MarketData] = (), **overrides: Any) -> BinanceServer:
    return BinanceServer([instrument()], events, config(**overrides))


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any

    @property
    def code(self) -> int | None:
        return self.body.get("code") if isinstance(self.body, dict) else None

    @property
    def msg(self) -> str | None:
        return self.body.get("msg") if isinstance(self.body, dict) else None


def sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


class Client:
    """A Binance REST client in a few lines: public, keyed and signed calls."""

    def __init__(self, session: aiohttp.ClientSession, server: BinanceServer, key: str = KEY, secret: str = SECRET) -> None:
        self.session = session
        self.server = server
        self.key = key
        self.secret = secret

    async def raw(self, method: str, path: str, query: str = "", body: str = "", headers: dict[str, str] | None = None) -> Reply:
        url = yarl.URL(self.server.rest_url + path + (f"?{query}" if query else ""), encoded=True)
        send_headers = dict(headers or {})
        if body:
            send_headers["Content-Type"] = "application/x-www-form-urlencoded"
        async with self.session.request(method, url, data=body or None, headers=send_headers) as response:
            text = await response.text()
            content = json.loads(text) if response.content_type == "application/json" else text
            return Reply(response.status, dict(response.headers), content)

    async def public(self, method: str, path: str, **params: Any) -> Reply:
        return await self.raw(method, path, urlencode(params))

    async def keyed(self, method: str, path: str, **params: Any) -> Reply:
        return await self.raw(method, path, urlencode(params), headers={"X-MBX-APIKEY": self.key})

    async def signed(self, method: str, path: str, *, in_body: bool = False, **params: Any) -> Reply:
        params.setdefault("timestamp", self.server.server_time_ms())
        payload = urlencode(params)
        payload += "&signature=" + sign(self.secret, payload)
        headers = {"X-MBX-APIKEY": self.key}
        if in_body:
            return await self.raw(method, path, body=payload, headers=headers)
        return await self.raw(method, path, payload, headers=headers)

    async def order(self, **params: Any) -> Reply:
        values: dict[str, Any] = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT"}
        values.update(params)
        if "timeInForce" not in params and values["type"] in ("LIMIT", "STOP_LOSS_LIMIT"):
            values["timeInForce"] = "GTC"
        return await self.signed("POST", "/api/v3/order", **{k: v for k, v in values.items() if v is not None})

    async def listen_key(self) -> str:
        reply = await self.keyed("POST", "/api/v3/userDataStream")
        assert reply.status == 200, reply
        key: str = reply.body["listenKey"]
        return key


async def recv_json(ws: aiohttp.ClientWebSocketResponse, timeout: float = 3.0) -> Any:
    message = await asyncio.wait_for(ws.receive(), timeout)
    assert message.type is aiohttp.WSMsgType.TEXT, message
    return json.loads(message.data)


async def recv_until(
    ws: aiohttp.ClientWebSocketResponse, predicate: Callable[[Any], bool], timeout: float = 3.0
) -> Any:
    """The first message matching ``predicate`` (earlier ones are skipped)."""
    async with asyncio.timeout(timeout):
        while True:
            payload = await recv_json(ws, timeout)
            if predicate(payload):
                return payload


async def nothing_arrives(ws: aiohttp.ClientWebSocketResponse, quiet: float = QUIET) -> bool:
    try:
        message = await asyncio.wait_for(ws.receive(), quiet)
    except TimeoutError:
        return True
    return message.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY)


@functools.cache
def catalog() -> dict[int, list[re.Pattern[str]]]:
    """Binance's error catalog: code -> its message texts as patterns (``%s`` = anything)."""
    if not CATALOG.exists():
        if os.environ.get("CI"):
            pytest.fail(f"Binance error catalog missing in CI: {CATALOG}")
        pytest.skip(f"Binance error catalog not available: {CATALOG}")
    data = json.loads(CATALOG.read_text())
    texts: dict[int, list[str]] = {e["code"]: list(e["messages"]) for e in data["error_codes"]}
    engine = [m["msg"] for m in data["matching_engine_messages_for_-1010_-2010_-2011_-2038"]]
    filters = [m["msg"] for m in data["filter_failure_messages_for_-1013"]]
    for code in (-1010, -2010, -2011, -2038):
        texts.setdefault(code, []).extend(engine)
    texts.setdefault(-1013, []).extend(filters)
    patterns: dict[int, list[re.Pattern[str]]] = {}
    for code, messages in texts.items():
        patterns[code] = [re.compile(".+".join(re.escape(part) for part in m.split("%s")) + r"\Z") for m in messages]
    return patterns


def assert_error(reply: Reply, code: int, msg: str, status: int = 400) -> None:
    """The reply is Binance's error ``code``/``msg`` exactly, and the catalog knows that text."""
    assert (reply.status, reply.code, reply.msg) == (status, code, msg), reply
    assert any(p.match(msg) for p in catalog().get(code, [])), f"{code} {msg!r} is not in Binance's catalog"
