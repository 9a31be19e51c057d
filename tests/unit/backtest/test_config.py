"""The backtest TOML config: a good file loads; every broken one names its file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot4.backtest.config import BacktestSpec, DataKind, load_backtest_config
from bot4.backtest.runner import sample_config_path, sample_data_dir
from bot4.core.errors import ConfigError
from bot4.core.ids import InstrumentId
from bot4.model.enums import AccountType
from bot4.strategy.examples import EmaCross, EmaCrossConfig

BACKTEST = """
[backtest]
trader_id = "T1"
equity_sample_ns = 1_000_000_000
"""

VENUES = """
[[venues]]
venue = "SIM"
account_type = "MARGIN"
starting_balances = { USDT = "100000" }
leverage = "3"
latency_ns = 1_000_000
"""

INSTRUMENTS = """
[[instruments]]
symbol = "BTCUSDT"
venue = "SIM"
base = "BTC"
quote = "USDT"
tick_size = "0.01"
step_size = "0.00001"
min_quantity = "0.00001"
min_notional = "5"
maker_fee = "0.001"
taker_fee = "0.001"
"""

DATA = """
[[data]]
path = "data/trades.csv"
instrument = "BTCUSDT.SIM"
"""

STRATEGY = """
[strategy]
name = "ema_cross"

[strategy.config]
instrument_id = "BTCUSDT.SIM"
fast_period = 5
slow_period = 20
"""

SECTIONS = {"backtest": BACKTEST, "venues": VENUES, "instruments": INSTRUMENTS, "data": DATA,
            "strategy": STRATEGY}


def write_config(tmp_path: Path, **replace: str) -> Path:
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "trades.csv").write_text("ts_event,price,size\n1,100.00,0.1\n")
    text = "\n".join(replace.get(name, body) for name, body in SECTIONS.items())
    text += replace.get("extra", "")
    path = tmp_path / "bt.toml"
    path.write_text(text)
    return path


def test_good_config_loads_into_typed_spec(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    spec = load_backtest_config(path)
    assert isinstance(spec, BacktestSpec)
    assert spec.file == path
    assert spec.backtest.trader_id == "T1"
    assert spec.backtest.equity_sample_ns == 1_000_000_000
    (venue,) = spec.venues
    assert venue.venue == "SIM" and venue.account_type is AccountType.MARGIN
    assert venue.starting_balances == {"USDT": "100000"} and venue.latency_ns == 1_000_000
    (instrument,) = spec.instruments
    assert instrument.id == InstrumentId.from_str("BTCUSDT.SIM")
    assert str(instrument.price_increment) == "0.01" and str(instrument.size_increment) == "0.00001"
    assert instrument.base_currency.code == "BTC" and instrument.base_currency.precision == 8
    (data,) = spec.data
    assert data.path == (tmp_path / "data" / "trades.csv").resolve()
    assert data.instrument_id == instrument.id and data.kind is None
    assert spec.strategy is not None and spec.strategy.cls is EmaCross
    assert spec.strategy.config == EmaCrossConfig(instrument_id="BTCUSDT.SIM", fast_period=5, slow_period=20)


def test_config_sections_other_than_venues_are_optional(tmp_path: Path) -> None:
    path = write_config(tmp_path, backtest="", data="", strategy="")
    spec = load_backtest_config(path)
    assert spec.data == () and spec.strategy is None
    assert spec.backtest.equity_sample_ns == 60_000_000_000


def test_data_kind_is_read_as_enum(tmp_path: Path) -> None:
    path = write_config(tmp_path, data=DATA + 'kind = "trades_csv"\n')
    assert load_backtest_config(path).data[0].kind is DataKind.TRADES_CSV


def test_bundled_sample_config_loads() -> None:
    spec = load_backtest_config(sample_config_path())
    assert [str(i.id) for i in spec.instruments] == ["BTCUSDT.SIM"]
    assert spec.data[0].path == sample_data_dir().resolve() / "btcusdt_20240808.jsonl.gz"
    assert spec.venues[0].account_type is AccountType.MARGIN
    assert spec.strategy is not None and spec.strategy.cls is EmaCross


BROKEN = [
    # (case id, section replacements, expected key, words in the message)
    ("backtest-wrong-type", {"backtest": '[backtest]\nequity_sample_ns = "60s"\n'},
     "backtest.equity_sample_ns", ["expected='integer'", "'60s' (string)"]),
    ("backtest-unknown-key", {"backtest": "[backtest]\nfail_fastt = true\n"},
     "backtest.fail_fastt", ["unknown key", "fail_fast"]),
    ("backtest-zero-sampling", {"backtest": "[backtest]\nequity_sample_ns = 0\n"},
     "backtest.equity_sample_ns", ["must be positive"]),
    ("venue-latency-type", {"venues": VENUES.replace("latency_ns = 1_000_000", 'latency_ns = "1ms"')},
     "venues[0].latency_ns", ["expected='integer'", "'1ms' (string)"]),
    ("venue-negative-latency", {"venues": VENUES.replace("latency_ns = 1_000_000", "latency_ns = -1")},
     "venues[0].latency_ns", ["latency_ns"]),
    ("venue-account-type", {"venues": VENUES.replace('"MARGIN"', '"SPOT"')},
     "venues[0].account_type", ["CASH", "MARGIN", "'SPOT'"]),
    ("venue-balance-not-string", {"venues": VENUES.replace('USDT = "100000"', "USDT = 100000")},
     "venues[0].starting_balances.USDT", ["expected='string'", "100000 (integer)"]),
    ("venue-unknown-key", {"venues": VENUES + "latency = 5\n"},
     "venues[0].latency", ["unknown key", "latency_ns"]),
    ("venue-duplicate", {"venues": VENUES + VENUES}, "venues[1].venue", ["venue defined twice"]),
    ("venues-not-array", {"venues": '[venues]\nvenue = "SIM"\n'}, "venues", ["[[venues]]"]),
    ("instrument-missing-tick", {"instruments": INSTRUMENTS.replace('tick_size = "0.01"\n', "")},
     "instruments[0].tick_size", ["missing required key"]),
    ("instrument-bad-tick", {"instruments": INSTRUMENTS.replace('"0.01"', '"0.0x1"')},
     "instruments[0].tick_size", ["decimal", "0.0x1"]),
    ("instrument-zero-step", {"instruments": INSTRUMENTS.replace('step_size = "0.00001"', 'step_size = "0"')},
     "instruments[0].step_size", ["must be positive"]),
    ("instrument-fee-not-rate", {"instruments": INSTRUMENTS.replace('maker_fee = "0.001"', 'maker_fee = "2"')},
     "instruments[0].maker_fee", ["rate between -0.01 and 0.1"]),
    ("instrument-precision", {"instruments": INSTRUMENTS + "base_precision = 12\n"},
     "instruments[0].base_precision", ["between 0 and 9"]),
    ("instrument-unknown-venue", {"instruments": INSTRUMENTS.replace('venue = "SIM"', 'venue = "BINANCE"')},
     "instruments[0].venue", ["no [[venues]] table", "one of SIM", "'BINANCE'"]),
    ("instrument-tick-as-float", {"instruments": INSTRUMENTS.replace('"0.01"', "0.01")},
     "instruments[0].tick_size", ["expected='string'", "0.01 (float)"]),
    ("data-missing-file", {"data": DATA.replace("data/trades.csv", "data/nope.csv")},
     "data[0].path", ["data file not found", "nope.csv"]),
    ("data-unknown-instrument", {"data": DATA.replace('"BTCUSDT.SIM"', '"ETHUSDT.SIM"')},
     "data[0].instrument", ["one of BTCUSDT.SIM", "'ETHUSDT.SIM'"]),
    ("data-unknown-kind", {"data": DATA + 'kind = "csv"\n'},
     "data[0].kind", ["binance_jsonl", "trades_csv", "'csv'"]),
    ("data-bad-bar-type", {"data": DATA + 'bar_type = "1m"\n'},
     "data[0].bar_type", ["INSTRUMENT-STEP-AGGREGATION"]),
    ("data-bars-without-bar-type", {"data": DATA + 'kind = "bars"\n'},
     "data[0].bar_type", ["needs a bar_type"]),
    ("strategy-unknown-name", {"strategy": '[strategy]\nname = "ema_crosss"\n'},
     "strategy.name", ["unknown strategy", "ema_cross"]),
    ("strategy-missing-name", {"strategy": "[strategy]\n[strategy.config]\nfast_period = 3\n"},
     "strategy.name", ["missing required key"]),
    ("strategy-missing-file", {"strategy": '[strategy]\nname = "nope.py:Mine"\n'},
     "strategy.name", ["strategy file not found"]),
    ("strategy-config-type", {"strategy": STRATEGY.replace("fast_period = 5", 'fast_period = "5"')},
     "strategy.config.fast_period", ["expected='integer'", "'5' (string)"]),
    ("strategy-config-unknown", {"strategy": STRATEGY + "fast = 3\n"},
     "strategy.config.fast", ["unknown key", "fast_period"]),
    ("unknown-section", {"extra": "\n[riskz]\nmax_notional = 5\n"}, "riskz", ["unknown section"]),
    ("risk-unknown-key", {"extra": "\n[risk]\nmax_notional = 5\n"}, "risk.max_notional", ["max_notional"]),
]


@pytest.mark.parametrize(("replace", "key", "words"), [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN])
def test_broken_config_names_file_and_key(tmp_path: Path, replace: dict[str, str], key: str,
                                          words: list[str]) -> None:
    path = write_config(tmp_path, **replace)
    with pytest.raises(ConfigError) as exc:
        load_backtest_config(path)
    message = str(exc.value)
    assert exc.value.context.get("file") == str(path), message
    assert exc.value.context.get("key") == key, message
    assert str(path) in message and f"key='{key}'" in message
    for word in words:
        assert word in message, message


def test_invalid_toml_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bt.toml"
    path.write_text("[backtest]\ntrader_id = \n")
    with pytest.raises(ConfigError) as exc:
        load_backtest_config(path)
    assert "invalid TOML" in str(exc.value) and "line 2" in str(exc.value)
    assert exc.value.context["file"] == str(path)


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_backtest_config(tmp_path / "nope.toml")
    assert exc.value.context["file"] == str(tmp_path / "nope.toml")


def test_strategy_file_path_is_relative_to_config_dir(tmp_path: Path) -> None:
    (tmp_path / "strategies").mkdir()
    (tmp_path / "strategies" / "mine.py").write_text(
        "from bot4.strategy import Strategy\n\nclass Mine(Strategy):\n    pass\n"
    )
    path = write_config(tmp_path, strategy='[strategy]\nname = "strategies/mine.py:Mine"\n')
    spec = load_backtest_config(path)
    assert spec.strategy is not None and spec.strategy.cls.__name__ == "Mine"
