"""The status API over a fake node view: token auth, every endpoint, the kill switch, errors."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from bot4.core.errors import ConfigError, RejectedError
from bot4.core.ids import ClientOrderId, InstrumentId
from bot4.core.numbers import Price, Quantity
from bot4.node.api import KillSwitch, StatusApi, to_json
from bot4.risk.state import TradingState

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class FakeView:
    """A node as the API sees it: canned answers, and the kill-switch calls it received."""

    def __init__(self) -> None:
        self.state = TradingState.ACTIVE
        self.kill_calls: list[tuple[KillSwitch, str]] = []
        self.fill_limits: list[int] = []
        self.refuse_resume = False

    def status(self) -> dict[str, Any]:
        return {"mode": "paper", "trading_state": self.state, "uptime_s": 12.5,
                "equity": Decimal("100012.34000000"), "orders": {"open": 1, "filled": 3}}

    def positions(self) -> list[dict[str, Any]]:
        return [{"instrument_id": InstrumentId.from_str("BTCUSDT.SIM"),
                 "quantity": Quantity.from_str("0.00100"), "avg_px_open": Price.from_str("65000.10"),
                 "unrealized_pnl": Decimal("0.0000001")}]

    def open_orders(self) -> list[dict[str, Any]]:
        return [{"client_order_id": ClientOrderId("O-1"), "side": "BUY",
                 "price": Price.from_str("64000.00"), "quantity": Quantity.from_str("0.00100")}]

    def recent_fills(self, limit: int) -> list[dict[str, Any]]:
        self.fill_limits.append(limit)
        return [{"trade_id": str(n), "last_px": Decimal("65000.1")} for n in range(min(limit, 3))]

    def set_trading_state(self, state: KillSwitch, reason: str) -> dict[str, Any]:
        if state is KillSwitch.RESUME and self.refuse_resume:
            raise RejectedError("cannot resume: the daily loss limit is still breached")
        self.kill_calls.append((state, reason))
        self.state = {KillSwitch.HALT: TradingState.HALTED, KillSwitch.REDUCE: TradingState.REDUCING,
                      KillSwitch.RESUME: TradingState.ACTIVE}[state]
        return {"trading_state": self.state, "reason": reason}


class BrokenView(FakeView):
    def status(self) -> dict[str, Any]:
        raise RuntimeError("portfolio exploded; api_key=abc123")


Scenario = Callable[[aiohttp.ClientSession, str], Awaitable[Any]]


def _run(view: FakeView, scenario: Scenario) -> Any:
    async def main() -> Any:
        async with StatusApi(view, TOKEN) as api, aiohttp.ClientSession() as session:
            return await scenario(session, api.url)

    return asyncio.run(main())


async def _get(session: aiohttp.ClientSession, url: str,
               headers: dict[str, str] | None = None) -> tuple[int, Any]:
    async with session.get(url, headers=AUTH if headers is None else headers) as response:
        assert response.content_type == "application/json"
        return response.status, await response.json()


async def _post(session: aiohttp.ClientSession, url: str, *, data: Any = None,
                json: Any = None) -> tuple[int, Any]:
    async with session.post(url, headers=AUTH, data=data, json=json) as response:
        assert response.content_type == "application/json"
        return response.status, await response.json()


# -- auth -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/status", "/positions", "/orders", "/fills", "/no-such-path"])
@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer wrong-token"},
    {"Authorization": TOKEN},  # no scheme
    {"Authorization": f"Basic {TOKEN}"},
    {"Authorization": "Bearer "},
])
def test_every_endpoint_refuses_a_missing_or_wrong_token_with_401(path: str,
                                                                  headers: dict[str, str]) -> None:
    async def scenario(session: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
        return await _get(session, url + path, headers=headers)

    status, body = _run(FakeView(), scenario)
    assert status == 401
    assert "token" in body["error"]


def test_kill_switch_refuses_a_wrong_token_and_changes_nothing() -> None:
    view = FakeView()

    async def scenario(session: aiohttp.ClientSession, url: str) -> int:
        async with session.post(url + "/kill-switch", json={"state": "halt", "reason": "x"},
                                headers={"Authorization": "Bearer nope"}) as response:
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            return response.status

    assert _run(view, scenario) == 401
    assert view.kill_calls == []


def test_an_empty_token_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        StatusApi(FakeView(), "")
    assert caught.value.context["key"] == "api.token"


# -- reading --------------------------------------------------------------------------------------


def test_status_positions_and_orders_render_exact_numbers_as_strings() -> None:
    async def scenario(session: aiohttp.ClientSession, url: str) -> list[tuple[int, Any]]:
        return [await _get(session, url + path) for path in ("/status", "/positions", "/orders")]

    (s1, status), (s2, positions), (s3, orders) = _run(FakeView(), scenario)
    assert (s1, s2, s3) == (200, 200, 200)
    assert status == {"mode": "paper", "trading_state": "ACTIVE", "uptime_s": 12.5,
                      "equity": "100012.34000000", "orders": {"open": 1, "filled": 3}}
    assert positions == [{"instrument_id": "BTCUSDT.SIM", "quantity": "0.00100",
                          "avg_px_open": "65000.10", "unrealized_pnl": "0.0000001"}]
    assert orders == [{"client_order_id": "O-1", "side": "BUY", "price": "64000.00",
                       "quantity": "0.00100"}]


def test_fills_default_to_50_and_take_a_limit() -> None:
    view = FakeView()

    async def scenario(session: aiohttp.ClientSession, url: str) -> list[tuple[int, Any]]:
        return [await _get(session, url + "/fills"), await _get(session, url + "/fills?limit=2")]

    (s1, default), (s2, two) = _run(view, scenario)
    assert (s1, s2) == (200, 200)
    assert view.fill_limits == [50, 2]
    assert two == [{"trade_id": "0", "last_px": "65000.1"}, {"trade_id": "1", "last_px": "65000.1"}]
    assert len(default) == 3


@pytest.mark.parametrize("limit", ["0", "-1", "abc", "1001", "2.5"])
def test_fills_with_a_bad_limit_is_a_400_saying_the_range(limit: str) -> None:
    async def scenario(session: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
        return await _get(session, f"{url}/fills?limit={limit}")

    status, body = _run(FakeView(), scenario)
    assert status == 400
    assert body == {"error": f"limit must be an integer from 1 to 1000, got {limit!r}"}


def test_unknown_path_and_wrong_method_are_json_errors() -> None:
    async def scenario(session: aiohttp.ClientSession, url: str) -> list[tuple[int, Any]]:
        missing = await _get(session, url + "/nope")
        async with session.post(url + "/status", headers=AUTH) as response:
            wrong = (response.status, await response.json())
        return [missing, wrong]

    (s1, b1), (s2, b2) = _run(FakeView(), scenario)
    assert (s1, b1) == (404, {"error": "Not Found"})
    assert (s2, b2) == (405, {"error": "Method Not Allowed"})


def test_a_view_that_raises_is_a_500_without_secrets_and_the_server_keeps_serving() -> None:
    async def scenario(session: aiohttp.ClientSession, url: str) -> list[tuple[int, Any]]:
        return [await _get(session, url + "/status"), await _get(session, url + "/orders")]

    (s1, broken), (s2, _) = _run(BrokenView(), scenario)
    assert s1 == 500
    assert broken["error"].startswith("internal error: RuntimeError: portfolio exploded")
    assert "abc123" not in broken["error"]
    assert s2 == 200


# -- the kill switch ------------------------------------------------------------------------------


@pytest.mark.parametrize(("state", "expected"), [
    ("halt", "HALTED"), ("reduce", "REDUCING"), ("resume", "ACTIVE"),
])
def test_kill_switch_sets_the_trading_state(state: str, expected: str) -> None:
    view = FakeView()

    async def scenario(session: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
        return await _post(session, url + "/kill-switch",
                           json={"state": state, "reason": "  operator check  "})

    status, body = _run(view, scenario)
    assert status == 200
    assert body == {"trading_state": expected, "reason": "operator check"}
    assert view.kill_calls == [(KillSwitch(state), "operator check")]


@pytest.mark.parametrize(("body", "message"), [
    (b"", "body must be a JSON object"),
    (b"{not json", "body must be JSON"),
    (b"[1, 2]", "body must be a JSON object"),
    (b'{"state": "explode", "reason": "x"}', "state must be one of halt, reduce, resume, got 'explode'"),
    (b'{"reason": "x"}', "state must be one of halt, reduce, resume, got None"),
    (b'{"state": "halt"}', "reason must be a non-empty string"),
    (b'{"state": "halt", "reason": "   "}', "reason must be a non-empty string"),
    (b'{"state": "halt", "reason": 5}', "reason must be a non-empty string"),
    (b'{"state": "halt", "reason": "x", "force": true}', "unknown keys ['force']"),
    (b'{"state": "halt", "reason": "' + b"x" * 501 + b'"}', "reason must be at most 500 characters"),
])
def test_kill_switch_with_a_bad_body_is_a_400_saying_what_is_wrong(body: bytes, message: str) -> None:
    view = FakeView()

    async def scenario(session: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
        return await _post(session, url + "/kill-switch", data=body)

    status, answer = _run(view, scenario)
    assert status == 400
    assert message in answer["error"]
    assert view.kill_calls == []


def test_kill_switch_refused_by_the_node_is_a_409_with_its_reason() -> None:
    view = FakeView()
    view.refuse_resume = True

    async def scenario(session: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
        return await _post(session, url + "/kill-switch", json={"state": "resume", "reason": "ok"})

    status, body = _run(view, scenario)
    assert status == 409
    assert "daily loss limit is still breached" in body["error"]


# -- the server -----------------------------------------------------------------------------------


def test_api_port_in_use_is_a_config_error_naming_the_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError) as caught:
            asyncio.run(StatusApi(FakeView(), TOKEN, port=port).start())
    assert caught.value.context["key"] == "api.port"
    assert caught.value.context["port"] == port
    assert f"port {port} is already in use" in str(caught.value)


def test_to_json_refuses_what_it_cannot_render_exactly() -> None:
    assert to_json({"x": Decimal("1E-7")}) == '{"x":"0.0000001"}'
    with pytest.raises(TypeError, match="cannot render object"):
        to_json({"x": object()})
