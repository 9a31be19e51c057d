"""`bot4 backtest` end to end, in a subprocess, as a user runs it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot4.backtest.result import BacktestResult

USER_STRATEGY = """
from bot4.core.ids import InstrumentId
from bot4.model.enums import OrderSide
from bot4.strategy import Strategy, StrategyConfig


class MyConfig(StrategyConfig, kw_only=True, forbid_unknown_fields=True):
    instrument_id: str = "BTCUSDT.SIM"
    every: int = 1000


class MyStrategy(Strategy):
    \"\"\"Buy 0.001 BTC on every 1000th trade, sell it back 1000 trades later.\"\"\"

    config_class = MyConfig

    def on_start(self) -> None:
        self.iid = InstrumentId.from_str(self.config.instrument_id)
        self.qty = self.instrument(self.iid).make_qty("0.001")
        self.seen = 0
        self.subscribe_trades(self.iid)

    def on_trade(self, tick) -> None:
        self.seen += 1
        if self.seen % self.config.every == 0:
            side = OrderSide.BUY if (self.seen // self.config.every) % 2 else OrderSide.SELL
            self.market(self.iid, side, self.qty)


class Crashes(MyStrategy):
    def on_trade(self, tick) -> None:
        raise ZeroDivisionError("bug in user code")
"""

CONFIG = """
[backtest]
equity_sample_ns = 1_000_000_000

[[venues]]
venue = "SIM"
account_type = "CASH"
starting_balances = { USDT = "10000", BTC = "1" }

[[instruments]]
symbol = "BTCUSDT"
venue = "SIM"
base = "BTC"
quote = "USDT"
tick_size = "0.01"
step_size = "0.00001"
min_notional = "5"

[[data]]
path = "trades.csv"
instrument = "BTCUSDT.SIM"

[strategy]
name = "my_strat.py:MyStrategy"

[strategy.config]
every = 2
"""

TRADES = """ts_event,price,size,aggressor_side,trade_id
1723161254000000000,61837.63,0.02000,SELLER,1
1723161255000000000,61838.00,0.01000,BUYER,2
1723161256000000000,not-a-price,0.01000,BUYER,3
1723161257000000000,61839.10,0.50000,BUYER,4
1723161258000000000,61836.55,0.10000,SELLER,5
1723161259000000000,61835.00,0.20000,SELLER,6
"""


def bot4(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot4.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=120,
    )


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    cwd = tmp_path_factory.mktemp("sample")
    done = bot4("backtest", "--strategy", "ema_cross", "--data", "sample", "--out", "out", cwd=cwd)
    return done, cwd / "out"


def test_backtest_ema_cross_on_sample_writes_result_and_report(
    sample_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, out = sample_run
    assert done.returncode == 0, done.stderr
    result = BacktestResult.from_json((out / "result.json").read_bytes())
    assert result.instruments == ["BTCUSDT.SIM"]
    assert result.events > 40_000
    assert len(result.fills) > 0 and result.statistics.fills == len(result.fills)
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "<svg" in report
    assert str(out / "result.json") in done.stdout and str(out / "report.html") in done.stdout
    assert "events/s" in done.stdout
    assert "41,249 rows" in done.stdout  # the data report


def test_backtest_is_deterministic(
    sample_run: tuple[subprocess.CompletedProcess[str], Path], tmp_path: Path,
) -> None:
    first, out = sample_run
    assert first.returncode == 0, first.stderr
    again = bot4("backtest", "--strategy", "ema_cross", "--data", "sample", "--out", "again", "--quiet",
                 cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "again" / "result.json").read_bytes() == (out / "result.json").read_bytes()
    assert (tmp_path / "again" / "report.html").read_bytes() == (out / "report.html").read_bytes()


def test_backtest_runs_user_strategy_file(tmp_path: Path) -> None:
    (tmp_path / "my_strat.py").write_text(textwrap.dedent(USER_STRATEGY))
    done = bot4("backtest", "--strategy", "my_strat.py:MyStrategy", "--data", "sample", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "bot4-out" / "backtest-MyStrategy"
    result = BacktestResult.from_json((out / "result.json").read_bytes())
    assert result.strategies == ["MyStrategy"]
    assert len(result.fills) >= 8  # 9 trades of 1000 in the sample's ~9,757
    assert (out / "report.html").is_file()


def test_backtest_with_config_reports_skipped_bad_rows(tmp_path: Path) -> None:
    (tmp_path / "my_strat.py").write_text(textwrap.dedent(USER_STRATEGY))
    (tmp_path / "trades.csv").write_text(TRADES)
    (tmp_path / "bt.toml").write_text(CONFIG)
    done = bot4("backtest", "--config", "bt.toml", "--out", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "6 rows, 5 events loaded, 1 bad rows skipped" in done.stdout
    assert "not-a-price" in done.stdout
    result = BacktestResult.from_json((tmp_path / "out" / "result.json").read_bytes())
    assert result.events == 5 and len(result.fills) == 2


def test_backtest_bad_strategy_path_exits_2_with_clear_message(tmp_path: Path) -> None:
    done = bot4("backtest", "--strategy", "missing.py:Mine", "--data", "sample", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("error: strategy file not found")
    assert "missing.py" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "bot4-out").exists()


def test_backtest_config_error_names_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "bt.toml").write_text(CONFIG.replace('account_type = "CASH"', 'account_type = "SPOT"'))
    done = bot4("backtest", "--config", "bt.toml", cwd=tmp_path)
    assert done.returncode == 2
    assert "bt.toml" in done.stderr and "venues[0].account_type" in done.stderr
    assert "Traceback" not in done.stderr


def test_backtest_strategy_exception_exits_1(tmp_path: Path) -> None:
    (tmp_path / "my_strat.py").write_text(textwrap.dedent(USER_STRATEGY))
    (tmp_path / "trades.csv").write_text(TRADES)
    (tmp_path / "bt.toml").write_text(CONFIG.replace("MyStrategy", "Crashes").replace("every = 2", ""))
    done = bot4("backtest", "--config", "bt.toml", cwd=tmp_path)
    assert done.returncode == 1
    assert "error: strategy raised in on_trade" in done.stderr
    assert "bug in user code" in done.stderr


def test_python_m_bot4_prints_version(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "bot4", "--version"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0
    assert done.stdout.startswith("bot4 ")


def test_backtest_market_maker_on_sample_quotes_and_fills(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    out = tmp_path / "mm"
    done = subprocess.run(
        [sys.executable, "-m", "bot4", "backtest", "--strategy", "market_maker", "--data", "sample",
         "--out", str(out), "--quiet"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((out / "result.json").read_text())
    assert result["strategy_errors"] == 0
    assert len(result["fills"]) > 0
    assert all(f["liquidity"] == "MAKER" for f in result["fills"])  # post-only quotes never take
