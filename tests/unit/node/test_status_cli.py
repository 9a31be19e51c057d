"""``bot4 status`` against a real status API on loopback (with a fake node view)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest

from bot4 import cli
from bot4.core.errors import RejectedError
from bot4.node.api import KillSwitch, StatusApi
from bot4.node.status_cli import format_table, main

TOKEN = "t0ken"


class FakeView:
    def __init__(self) -> None:
        self.kill_calls: list[tuple[KillSwitch, str]] = []
        self.refuse = False

    def status(self) -> dict[str, Any]:
        return {"mode": "paper", "trading_state": "ACTIVE", "uptime_s": 42,
                "pnl": {"realized": Decimal("12.50"), "unrealized": Decimal("-1.25")},
                "strategies": ["ema_cross"]}

    def positions(self) -> list[dict[str, Any]]:
        return [{"instrument_id": "BTCUSDT.SIM", "side": "LONG", "quantity": Decimal("0.00100"),
                 "avg_px_open": Decimal("65000.10")}]

    def open_orders(self) -> list[dict[str, Any]]:
        return []

    def recent_fills(self, limit: int) -> list[dict[str, Any]]:
        return []

    def set_trading_state(self, state: KillSwitch, reason: str) -> dict[str, Any]:
        if self.refuse:
            raise RejectedError("trading state is already HALTED")
        self.kill_calls.append((state, reason))
        return {"trading_state": "HALTED", "previous": "ACTIVE", "reason": reason}


def _run_cli(view: FakeView, argv: Sequence[str], *, with_url: bool = True,
             entry: Any = main) -> int:
    """Serve ``view`` and run the command (in a thread: it blocks) with --url pointing at it."""

    async def scenario() -> int:
        async with StatusApi(view, TOKEN) as api:
            args = [*argv, "--url", api.url] if with_url else list(argv)
            code: int = await asyncio.to_thread(entry, args)
            return code

    return asyncio.run(scenario())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BOT4_API_TOKEN", raising=False)
    monkeypatch.delenv("BOT4_API_URL", raising=False)


def test_status_prints_the_status_then_positions_and_orders(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run_cli(FakeView(), ["--token", TOKEN]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.splitlines() == [
        "mode            paper",
        "trading_state   ACTIVE",
        "uptime_s        42",
        "pnl.realized    12.50",
        "pnl.unrealized  -1.25",
        'strategies      ["ema_cross"]',
        "",
        "positions (1):",
        "instrument_id  side  quantity  avg_px_open",
        "BTCUSDT.SIM    LONG   0.00100     65000.10",
        "",
        "no open orders",
    ]


def test_status_json_prints_one_object(capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT4_API_TOKEN", TOKEN)  # the token from the environment
    assert _run_cli(FakeView(), ["--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["status"]["pnl"] == {"realized": "12.50", "unrealized": "-1.25"}
    assert document["positions"][0]["quantity"] == "0.00100"
    assert document["orders"] == []


def test_status_is_reachable_through_the_bot4_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run_cli(FakeView(), ["status", "--token", TOKEN], entry=cli.main) == 0
    assert "trading_state   ACTIVE" in capsys.readouterr().out


def test_node_not_running_is_one_line_on_stderr_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    assert main(["--token", TOKEN, "--url", url]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (f"error: no node is answering at {url} (connection refused); "
                   "is it running, and is that its api.port?\n")


def test_a_refused_token_is_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run_cli(FakeView(), ["--token", "wrong"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("error: token refused by the node at http://127.0.0.1:")
    assert len(err.splitlines()) == 1


def test_no_token_at_all_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert capsys.readouterr().err == (
        "error: no API token: pass --token or set BOT4_API_TOKEN (the node's api token)\n")


def test_a_node_that_does_not_answer_times_out(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as silent:  # listens (the kernel accepts) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        assert main(["--token", TOKEN, "--url", url, "--timeout", "0.2"]) == 1
    assert capsys.readouterr().err == f"error: the node at {url} did not answer within 0.2 s\n"


def test_kill_switch_posts_the_state_and_reason(capsys: pytest.CaptureFixture[str]) -> None:
    view = FakeView()
    assert _run_cli(view, ["--token", TOKEN, "--kill", "halt", "--reason", "venue looks wrong"]) == 0
    assert view.kill_calls == [(KillSwitch.HALT, "venue looks wrong")]
    assert capsys.readouterr().out.splitlines() == [
        "trading_state: HALTED", "previous: ACTIVE", "reason: venue looks wrong",
    ]


def test_kill_switch_refused_by_the_node_is_exit_1_with_its_reason(
        capsys: pytest.CaptureFixture[str]) -> None:
    view = FakeView()
    view.refuse = True
    assert _run_cli(view, ["--token", TOKEN, "--kill", "halt", "--reason", "x"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: POST http://127.0.0.1:")
    assert err.endswith("/kill-switch answered 409: trading state is already HALTED\n")


@pytest.mark.parametrize("argv", [["--kill", "halt"], ["--reason", "why"], ["--kill", "explode", "--reason", "x"]])
def test_kill_and_reason_go_together_and_kill_takes_a_known_state(argv: list[str]) -> None:
    assert main(["--token", TOKEN, *argv]) == 2


def test_format_table_aligns_numbers_right_and_marks_missing_cells() -> None:
    rows = [{"id": "O-1", "qty": "0.5", "px": None}, {"id": "O-22", "qty": "10.25", "extra": True}]
    assert format_table(rows) == [
        "id      qty  px  extra",
        "O-1     0.5   -  -",
        "O-22  10.25   -  yes",
    ]
