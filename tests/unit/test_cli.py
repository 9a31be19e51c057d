"""The bot4 command's dispatch: version, usage errors, external subcommands."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from bot4 import __version__, cli


def test_version_prints_and_returns_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"bot4 {__version__}"


def test_no_command_prints_help_and_returns_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "backtest" in capsys.readouterr().err


def test_unknown_option_returns_2() -> None:
    assert cli.main(["backtest", "--no-such-option"]) == 2


def test_bench_gets_the_remaining_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    fake = types.ModuleType("fake_bench_cli")

    def fake_main(argv: list[str]) -> int:
        seen.append(argv)
        return 7

    fake.main = fake_main  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_bench_cli", fake)
    monkeypatch.setitem(cli._EXTERNAL, "bench", ("fake_bench_cli:main", "bench"))
    assert cli.main(["bench", "--quick", "--only", "book_delta"]) == 7
    assert seen == [["--quick", "--only", "book_delta"]]


def test_missing_external_subcommand_is_a_clear_error(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(cli._EXTERNAL, "paper", ("bot4.no_such_package.cli:main", "paper trading"))
    assert cli.main(["paper"]) == 2
    assert capsys.readouterr().err.startswith("error: 'bot4 paper' is not available")


def test_backtest_instrument_without_data_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["backtest", "--strategy", "ema_cross", "--instrument", "BTCUSDT.SIM"]) == 2
    assert "--instrument and --bar-type describe --data PATH" in capsys.readouterr().err


def test_same_class_recognises_one_file_loaded_twice(tmp_path: Path) -> None:
    from bot4.cli import _same_class
    from bot4.strategy.loader import load_strategy_class

    path = tmp_path / "mine.py"
    path.write_text("from bot4.strategy import Strategy\n\nclass Mine(Strategy):\n    pass\n\nclass Other(Strategy):\n    pass\n")
    first = load_strategy_class(f"{path}:Mine")
    second = load_strategy_class(f"{path}:Mine")
    assert first is not second
    assert _same_class(first, second)
    assert not _same_class(first, load_strategy_class(f"{path}:Other"))
