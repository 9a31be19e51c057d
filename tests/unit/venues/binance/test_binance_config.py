"""BinanceConfig: defaults, testnet, and errors that name the key."""

from __future__ import annotations

import pytest

from bot4.core.errors import ConfigError
from bot4.venues.binance import BinanceConfig


def test_config_defaults_point_at_binance_production():
    config = BinanceConfig()
    assert config.venue == "BINANCE"
    assert config.rest_url == "https://api.binance.com"
    assert config.ws_url == "wss://stream.binance.com:9443"
    assert config.recv_window_ms == 5000
    assert config.depth_speed_ms == 100
    assert config.symbols == []


def test_config_testnet_points_at_binance_vision():
    config = BinanceConfig.testnet(symbols=["BTCUSDT"])
    assert config.rest_url == "https://testnet.binance.vision"
    assert config.ws_url == "wss://stream.testnet.binance.vision"
    assert config.symbols == ["BTCUSDT"]


def test_config_is_frozen_and_keyword_only():
    config = BinanceConfig()
    with pytest.raises(AttributeError):
        config.venue = "X"  # type: ignore[misc]
    with pytest.raises(TypeError):
        BinanceConfig("BINANCE")  # type: ignore[misc]


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"recv_window_ms": 0}, "recv_window_ms"),
        ({"recv_window_ms": 60_001}, "recv_window_ms"),
        ({"depth_speed_ms": 250}, "depth_speed_ms"),
        ({"rest_url": "ftp://api.binance.com"}, "rest_url"),
        ({"rest_url": "https://api.binance.com/"}, "rest_url"),
        ({"ws_url": "https://stream.binance.com"}, "ws_url"),
        ({"venue": "BIN ANCE"}, "venue"),
        ({"symbols": ["btcusdt"]}, "symbols[0]"),
        ({"symbols": ["BTCUSDT", "BTCUSDT"]}, "symbols[1]"),
        ({"listen_key_keepalive_s": 3600}, "listen_key_keepalive_s"),
    ],
)
def test_config_rejects_bad_value_naming_the_key(values, key):
    with pytest.raises(ConfigError) as excinfo:
        BinanceConfig(**values)
    assert excinfo.value.context["key"] == key


def test_config_from_mapping_names_file_and_table_for_a_bad_value():
    with pytest.raises(ConfigError) as excinfo:
        BinanceConfig.from_mapping(
            {"recv_window_ms": 90_000}, source="bot.toml", key="venues.binance"
        )
    assert excinfo.value.context["file"] == "bot.toml"
    assert excinfo.value.context["key"] == "venues.binance.recv_window_ms"


def test_config_from_mapping_rejects_unknown_key_naming_it():
    with pytest.raises(ConfigError) as excinfo:
        BinanceConfig.from_mapping({"recv_window": 5000}, source="bot.toml")
    assert excinfo.value.context["key"] == "recv_window"
    assert excinfo.value.context["file"] == "bot.toml"
    assert "recv_window_ms" in excinfo.value.context["expected"]


def test_config_from_mapping_rejects_wrong_type_naming_the_key():
    with pytest.raises(ConfigError) as excinfo:
        BinanceConfig.from_mapping({"recv_window_ms": "5000"})
    assert excinfo.value.context["key"] == "recv_window_ms"
    assert excinfo.value.context["expected"] == "integer"


def test_config_from_mapping_reads_a_full_table():
    config = BinanceConfig.from_mapping(
        {
            "rest_url": "http://127.0.0.1:8080",
            "ws_url": "ws://127.0.0.1:8081",
            "symbols": ["BTCUSDT", "ETHUSDT"],
        }
    )
    assert config.rest_url == "http://127.0.0.1:8080"
    assert config.symbols == ["BTCUSDT", "ETHUSDT"]
