"""RiskConfig: everything off by default, decimal strings, errors that name the key."""

from __future__ import annotations

import tomllib
from typing import Any

import msgspec
import pytest

from bot4.core import ConfigError, TestClock
from bot4.risk import (
    InstrumentRiskLimits,
    RiskConfig,
    TokenBucket,
    TradingState,
    every_check_config,
)

TOML = """
[risk]
max_order_notional = "50000"
max_gross_exposure = "250000"
max_open_orders_total = 50
max_orders_per_second = "0.5"
daily_loss_limit = "2000"
on_daily_loss_limit = "HALTED"
max_drawdown_bps = 500
on_max_drawdown = "REDUCING"

[risk.instruments."BTCUSDT.BINANCE"]
max_order_qty = "0.5"
max_position = "2"
price_band_bps = 100
check_balance = true
"""


def test_config_defaults_switch_every_check_off() -> None:
    config = RiskConfig()
    for name in InstrumentRiskLimits.__struct_fields__:
        assert getattr(config, name) is None, name
    assert config.instruments == {} and not config.watches_pnl


def test_config_reads_toml_with_per_instrument_tables() -> None:
    config = RiskConfig.from_mapping(tomllib.loads(TOML)["risk"], file="bot.toml")
    assert config.max_orders_per_second == "0.5"
    assert config.on_max_drawdown is TradingState.REDUCING
    btc = config.instruments["BTCUSDT.BINANCE"]
    assert btc.max_position == "2" and btc.check_balance is True and btc.max_order_notional is None
    assert config.watches_pnl


def test_config_rejects_unknown_key_naming_it() -> None:
    data = tomllib.loads(TOML)["risk"]
    data["instruments"]["BTCUSDT.BINANCE"]["max_postion"] = "1"
    with pytest.raises(ConfigError) as info:
        RiskConfig.from_mapping(data, file="bot.toml")
    assert info.value.context["key"] == "risk.instruments.BTCUSDT.BINANCE.max_postion"
    assert info.value.context["file"] == "bot.toml"


def test_config_rejects_a_number_where_a_decimal_string_belongs() -> None:
    with pytest.raises(ConfigError) as info:
        RiskConfig.from_mapping({"max_order_qty": 0.5})
    assert info.value.context["key"] == "risk.max_order_qty"
    assert info.value.context["expected"] == "string or nothing"


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"max_order_qty": "-1"}, "max_order_qty"),
        ({"max_order_notional": "abc"}, "max_order_notional"),
        ({"max_position": "0"}, "max_position"),
        ({"price_band_bps": -1}, "price_band_bps"),
        ({"max_orders_per_second": 0}, "max_orders_per_second"),
        ({"order_burst": 2}, "order_burst"),
        ({"max_orders_per_second": 1, "order_burst": 0}, "order_burst"),
        ({"order_burst_total": 3}, "order_burst_total"),
        ({"max_drawdown_bps": 10_001}, "max_drawdown_bps"),
        ({"instruments": {"BTCUSDT": {}}}, "instruments.BTCUSDT"),
        ({"instruments": {"BTCUSDT.SIM": {"max_position": "-2"}}}, "instruments.BTCUSDT.SIM.max_position"),
        ({"currency": "U S"}, "currency"),
    ],
)
def test_config_rejects_bad_values_naming_the_key(data: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        msgspec.convert(data, RiskConfig)
    assert info.value.context["key"] == key


def test_config_from_toml_names_file_and_full_key_of_a_bad_value() -> None:
    data = tomllib.loads(TOML)["risk"]
    data["instruments"]["BTCUSDT.BINANCE"]["max_position"] = "-2"
    with pytest.raises(ConfigError) as info:
        RiskConfig.from_mapping(data, file="bot.toml")
    assert info.value.context == {
        "key": "risk.instruments.BTCUSDT.BINANCE.max_position",
        "value": "-2",
        "file": "bot.toml",
    }


def test_config_refuses_active_as_the_state_a_breach_moves_to() -> None:
    with pytest.raises(ConfigError) as info:
        RiskConfig.from_mapping({"on_max_drawdown": "ACTIVE"})
    assert "REDUCING or HALTED" in str(info.value)


def test_every_check_config_turns_every_check_on() -> None:
    config = every_check_config()
    for name in InstrumentRiskLimits.__struct_fields__:
        if name != "order_burst":
            assert getattr(config, name) is not None, name
    assert config.daily_loss_limit is not None and config.max_drawdown_bps is not None
    assert config.max_open_orders_total is not None and config.max_orders_per_second_total is not None


def test_token_bucket_counts_in_integers_on_the_given_clock() -> None:
    clock = TestClock(0)
    bucket = TokenBucket(rate_raw=3 * 10**9, burst=None, now_ns=clock.timestamp_ns())  # 3/s, burst 3
    for _ in range(3):
        assert bucket.has_token(0)
        bucket.take(0)
    assert not bucket.has_token(0)
    assert bucket.wait_ns() == 333_333_334
    assert not bucket.has_token(333_333_333)
    assert bucket.has_token(333_333_334)
    bucket.take(333_333_334)
    bucket.take(333_333_334)  # taken without a check: a debt the refill pays first
    assert bucket.tokens < 0
    assert not bucket.has_token(666_666_667)
    assert bucket.has_token(10**12) and bucket.tokens == 3  # never above the burst


def test_risk_engine_warns_about_limits_for_an_instrument_it_does_not_know(
    make: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="bot4.risk"):
        make(RiskConfig(instruments={"DOGEUSDT.SIM": InstrumentRiskLimits(max_order_qty="1")}))
    assert any("DOGEUSDT.SIM" in record.getMessage() for record in caplog.records)
