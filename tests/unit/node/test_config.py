"""The node config: broken files each give their exact message; the example is a valid config."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot4.core.errors import ConfigError
from bot4.node.cli import check_live, config_main
from bot4.node.config import NodeConfig, VenueKind, default_config, load_node_config
from bot4.node.example import EXAMPLE_CONFIG
from bot4.risk import TradingState

BASE = """
[[venues]]
kind = "local"

[[strategies]]
name = "ema_cross"

[strategies.config]
instrument_id = "BTCUSDT.BINANCE"
"""

LIVE = """
[[venues]]
kind = "binance"
credentials_env = "TESTKEYS"

[[strategies]]
name = "ema_cross"

[strategies.config]
instrument_id = "BTCUSDT.BINANCE"

[risk]
max_order_qty = "0.1"
"""

# (case, file text, the error's exact text with {file} for the file's path)
BROKEN: list[tuple[str, str, str]] = [
    ("unknown key", '[node]\nnmae = "x"\n' + BASE,
     "unknown key in [node] (file='{file}', key='node.nmae', expected='one of name, trader_id, "
     "data_dir, cancel_on_stop, shutdown_timeout_s, start_timeout_s')"),
    ("unknown section", '[nodes]\nname = "x"\n' + BASE,
     "unknown section in node config (file='{file}', key='nodes', expected='one of node, store, "
     "venues, strategies, risk, metrics, api, logging, live')"),
    ("wrong type", '[node]\ncancel_on_stop = "yes"\n' + BASE,
     "wrong type in [node] (file='{file}', key='node.cancel_on_stop', expected='boolean', "
     "found=\"'yes' (string)\")"),
    ("missing strategy", '[[venues]]\nkind = "local"\n',
     "no strategy: add a [[strategies]] table with a name (file='{file}', key='strategies')"),
    ("unknown strategy", BASE.replace('"ema_cross"', '"ema_crosss"'),
     "unknown strategy: expected an example name (ema_cross, market_maker), 'package.module:Class' "
     "or 'path/to/file.py:Class' (file='{file}', key='strategies[0].name', spec='ema_crosss')"),
    ("strategy config wrong type", BASE + 'fast_period = "ten"\n',
     "wrong type in config of strategy EmaCross (EmaCrossConfig) (file='{file}', "
     "key='strategies[0].config.fast_period', expected='integer', found=\"'ten' (string)\")"),
    ("strategy trades an unlisted instrument", BASE.replace("BTCUSDT.BINANCE", "BTCUSDT.SIM"),
     "the strategy trades an instrument no [[venues]] entry lists (file='{file}', "
     "key='strategies[0].config.instrument_id', expected='one of BTCUSDT.BINANCE', found='BTCUSDT.SIM')"),
    ("no venue", '[[strategies]]\nname = "ema_cross"\n',
     "no venue: add a [[venues]] table (kind = \"local\" or \"binance\") (file='{file}', key='venues')"),
    ("bad venue kind", BASE.replace('kind = "local"', 'kind = "kraken"'),
     "unknown value in [[venues]] (file='{file}', key='venues[0].kind', expected='one of binance, local', "
     "found=\"'kraken' (string)\")"),
    ("missing venue kind", BASE.replace('kind = "local"', 'name = "X"'),
     "missing required key in [[venues]] (file='{file}', key='venues[0].kind')"),
    ("two venues with one name", BASE.replace('kind = "local"', 'kind = "local"\n\n[[venues]]\nkind = "binance"'),
     "two venues share a name; set name on one of them (file='{file}', key='venues[1].name', found='BINANCE')"),
    ("local venue given a url", BASE.replace('kind = "local"', 'kind = "local"\nrest_url = "http://x"'),
     "rest_url is for kind = \"binance\"; the local exchange picks its own address (file='{file}', "
     "key='venues[0].rest_url')"),
    ("binance venue given a replay speed", BASE.replace('kind = "local"', 'kind = "binance"\nspeed = 2.0'),
     "speed is for kind = \"local\" (the local exchange's replay) (file='{file}', key='venues[0].speed')"),
    ("bad url", BASE.replace('kind = "local"', 'kind = "binance"\nrest_url = "ftp://x"'),
     "rest_url must be a URL starting with https:// or http:// (file='{file}', key='venues[0].rest_url', "
     "found='ftp://x')"),
    ("secret in a venue", BASE.replace('kind = "local"', 'kind = "binance"\napi_key = "abc"'),
     "secrets are never read from the config file (file='{file}', key='venues[0].api_key', "
     "expected='the environment variables BINANCE_API_KEY and BINANCE_API_SECRET')"),
    ("api token in the file", '[api]\ntoken = "abc"\n' + BASE,
     "secrets are never read from the config file (file='{file}', key='api.token', "
     "expected='the environment variable BOT4_API_TOKEN')"),
    ("database password in the url", '[store]\nurl = "postgresql://bot4:hunter2@127.0.0.1:5432/bot4"\n' + BASE,
     "secrets are never read from the config file: leave the password out of the url (file='{file}', "
     "key='store.url', expected='the environment variable PGPASSWORD')"),
    ("port out of range", "[metrics]\nport = 70000\n" + BASE,
     "port must be within 0..65535 (0: any free port) (file='{file}', key='metrics.port', found=70000)"),
    ("port as a string", '[api]\nport = "9465"\n' + BASE,
     "wrong type in [api] (file='{file}', key='api.port', expected='integer', found=\"'9465' (string)\")"),
    ("one port for two servers", "[metrics]\nport = 9000\n[api]\nport = 9000\n" + BASE,
     "metrics and api need different ports (file='{file}', key='api.port', found=9000)"),
    ("bad risk value", '[risk]\nmax_order_qty = "lots"\n' + BASE,
     "expected a decimal string (key='risk.max_order_qty', value='lots', file='{file}')"),
    ("bad log level", '[logging]\nlevel = "LOUD"\n' + BASE,
     "unknown log level (file='{file}', key='logging.level', expected='one of DEBUG, INFO, WARNING, "
     "ERROR', found='LOUD')"),
    ("bad start state", '[live]\nstart_state = "PAUSED"\n' + BASE,
     "unknown value in [live] (file='{file}', key='live.start_state', expected='one of ACTIVE, REDUCING, "
     "HALTED', found=\"'PAUSED' (string)\")"),
    ("invalid TOML", "[node\n",
     "invalid TOML: Expected ']' at the end of a table declaration (at line 1, column 6) (file='{file}')"),
]


@pytest.mark.parametrize(("case", "text", "message"), BROKEN, ids=[c[0] for c in BROKEN])
def test_broken_config_is_refused_with_a_message_naming_file_and_key(
    tmp_path: Path, case: str, text: str, message: str
) -> None:
    path = tmp_path / "node.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_node_config(path)
    assert str(caught.value) == message.format(file=path)


def test_config_check_prints_the_error_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "node.toml"
    path.write_text("[metrics]\nport = -1\n" + BASE)
    assert config_main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: port must be within 0..65535 (0: any free port) (file='{path}', key='metrics.port', found=-1)\n"


def test_config_example_passes_config_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert config_main(["example"]) == 0
    example = capsys.readouterr().out
    assert example == EXAMPLE_CONFIG
    path = tmp_path / "node.toml"
    path.write_text(example)
    assert config_main(["check", str(path)]) == 0
    assert capsys.readouterr().out.startswith(f"ok: {path}: venues BINANCE (local); strategies ema_cross;")


def test_default_config_is_the_paper_demo_with_the_sample_risk_limits() -> None:
    config = default_config()
    (venue,) = config.venues
    assert (venue.kind, venue.name, venue.symbols, venue.data, venue.speed) == (
        VenueKind.LOCAL, "BINANCE", ["BTCUSDT"], "sample", 1.0)
    assert venue.balances == {"USDT": "100000", "BTC": "1"}
    (strategy,) = config.strategies
    assert strategy.name == "ema_cross"
    assert strategy.table["instrument_id"] == "BTCUSDT.BINANCE"
    assert config.risk is not None
    assert (config.risk.max_order_qty, config.risk.max_position, config.risk.daily_loss_limit) == ("1", "0.5", "2000")
    assert config.store_url == f"sqlite:///{Path.cwd() / 'bot4-data' / 'bot4.db'}"
    assert config.live.start_state is TradingState.HALTED


def test_a_file_takes_defaults_for_what_it_leaves_out(tmp_path: Path) -> None:
    path = tmp_path / "node.toml"
    path.write_text('[node]\ndata_dir = "' + str(tmp_path / "d") + '"\n' + BASE)
    config = load_node_config(path)
    assert config.node.cancel_on_stop is True
    assert config.node.shutdown_timeout_s == 10.0
    assert config.store_url == f"sqlite:///{tmp_path / 'd' / 'bot4.db'}"
    assert config.store.trade_during_outage is False
    assert (config.metrics.enabled, config.metrics.port, config.api.port) == (True, 9464, 9465)
    assert (config.logging.level, config.logging.json) == ("INFO", False)
    assert config.risk is None


def test_environment_never_overrides_a_setting_that_is_not_a_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOT4_NODE_NAME", "other")
    monkeypatch.setenv("BOT4_METRICS_PORT", "1")
    path = tmp_path / "node.toml"
    path.write_text(BASE)
    config = load_node_config(path)
    assert (config.node.name, config.metrics.port) == ("node", 9464)


def _live_config(tmp_path: Path, text: str = LIVE) -> NodeConfig:
    path = tmp_path / "live.toml"
    path.write_text(text)
    return load_node_config(path)


def test_live_refuses_to_start_without_the_explicit_confirmation(tmp_path: Path) -> None:
    config = _live_config(tmp_path)
    keys = {"TESTKEYS_API_KEY": "k", "TESTKEYS_API_SECRET": "s"}
    with pytest.raises(ConfigError, match="live trading needs an explicit confirmation: pass "
                                          "--i-understand-this-trades-real-money"):
        check_live(config, confirmed=False, environ=keys)
    check_live(config, confirmed=True, environ=keys)
    flagged = _live_config(tmp_path, LIVE + "\n[live]\ni_understand_this_trades_real_money = true\n")
    check_live(flagged, confirmed=False, environ=keys)


def test_live_refuses_missing_keys_a_local_venue_and_a_config_without_risk(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no API keys for venue BINANCE: set the environment variable "
                                          "TESTKEYS_API_SECRET"):
        check_live(_live_config(tmp_path), confirmed=True, environ={"TESTKEYS_API_KEY": "k"})
    keys = {"BINANCE_API_KEY": "k", "BINANCE_API_SECRET": "s"}
    with pytest.raises(ConfigError, match="live trades on real venues only"):
        check_live(_live_config(tmp_path, BASE), confirmed=True, environ=keys)
    no_risk = LIVE.split("[risk]")[0]
    with pytest.raises(ConfigError, match=r"live trading needs a \[risk\] table"):
        check_live(_live_config(tmp_path, no_risk), confirmed=True,
                   environ={"TESTKEYS_API_KEY": "k", "TESTKEYS_API_SECRET": "s"})


def test_the_node_package_exports_its_public_api_lazily() -> None:
    import bot4.node as node

    assert sorted(node.__all__) == [
        "KillSwitch", "MetricsServer", "Mode", "NodeConfig", "NodeMetrics", "NodeStartError", "NodeView",
        "StatusApi", "TradingNode", "VenueConfig", "VenueKind", "configure_logging", "default_config",
        "load_node_config", "run_session",
    ]
    for name in node.__all__:
        assert getattr(node, name) is not None
    with pytest.raises(AttributeError):
        node.Nothing  # noqa: B018
