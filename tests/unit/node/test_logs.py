"""Node logging: JSON lines and text, order ids and venue on order lines, no secret ever."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot4.core.errors import ConfigError
from bot4.core.ids import ClientOrderId, InstrumentId
from bot4.node.logs import REDACTED, configure_logging, is_secret_key, order_log, redact

API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
SIGNATURE = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
LISTEN_KEY = "pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1"
SECRETS = (API_KEY, SECRET, SIGNATURE, LISTEN_KEY, "hunter2", "tok-123")


class _Order:
    client_order_id = ClientOrderId("O-LX3K9-1ABC-1")
    instrument_id = InstrumentId.from_str("BTCUSDT.BINANCE")


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Install the node's logging into a buffer, and restore the root logger afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield io.StringIO()
    root.handlers[:] = handlers
    root.setLevel(level)


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_ts_level_logger_msg_and_extra_fields(captured: io.StringIO) -> None:
    configure_logging("INFO", json=True, stream=captured)
    logging.getLogger("bot4.execution").info("order %s accepted", "O-1",
                                             extra={"venue": "BINANCE", "attempt": 2})
    logging.getLogger("bot4.execution").debug("not shown at INFO")
    [line] = _lines(captured)
    assert line["level"] == "INFO"
    assert line["logger"] == "bot4.execution"
    assert line["msg"] == "order O-1 accepted"
    assert line["venue"] == "BINANCE" and line["attempt"] == 2
    assert isinstance(line["ts"], str) and line["ts"].endswith("Z") and "T" in line["ts"]
    assert list(line)[:4] == ["ts", "level", "logger", "msg"]


def test_order_log_always_names_the_client_order_id_instrument_and_venue(captured: io.StringIO) -> None:
    configure_logging("INFO", json=True, stream=captured)
    order_log(logging.getLogger("bot4.execution"), _Order(), "order filled", last_qty="0.001")
    order_log(logging.getLogger("bot4.execution"), _Order(), "order rejected", level=logging.WARNING,
              reason="-2010")
    filled, rejected = _lines(captured)
    assert filled == {"ts": filled["ts"], "level": "INFO", "logger": "bot4.execution",
                      "msg": "order filled", "client_order_id": "O-LX3K9-1ABC-1",
                      "instrument_id": "BTCUSDT.BINANCE", "venue": "BINANCE", "last_qty": "0.001"}
    assert rejected["level"] == "WARNING" and rejected["reason"] == "-2010"


def test_order_log_refuses_a_field_that_clashes_with_the_record() -> None:
    with pytest.raises(ValueError, match="'msg' clashes"):
        order_log(logging.getLogger("bot4.test"), _Order(), "x", msg="y")


def test_text_lines_append_the_extra_fields(captured: io.StringIO) -> None:
    configure_logging("DEBUG", stream=captured)
    order_log(logging.getLogger("bot4.execution"), _Order(), "order sent", level=logging.DEBUG)
    line = captured.getvalue().strip()
    assert line.endswith("DEBUG bot4.execution: order sent client_order_id=O-LX3K9-1ABC-1 "
                         "instrument_id=BTCUSDT.BINANCE venue=BINANCE")


def test_configure_logging_twice_replaces_its_own_handler(captured: io.StringIO) -> None:
    other = io.StringIO()
    configure_logging("INFO", stream=other)
    configure_logging("INFO", json=True, stream=captured)
    logging.getLogger("bot4.test").info("once")
    assert other.getvalue() == ""
    assert len(_lines(captured)) == 1


def test_unknown_level_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        configure_logging("LOUD")
    assert caught.value.context["key"] == "log.level"


@pytest.mark.parametrize("as_json", [True, False])
def test_no_secret_reaches_the_log_in_any_form(captured: io.StringIO, as_json: bool) -> None:
    configure_logging("DEBUG", json=as_json, stream=captured)
    log = logging.getLogger("bot4.venues.binance")
    log.info("GET https://api.binance.com/api/v3/order?symbol=BTCUSDT&timestamp=1&signature=%s",
             SIGNATURE)
    log.info("headers %s", {"X-MBX-APIKEY": API_KEY, "Content-Type": "application/json"})
    log.info("config", extra={"api_key": API_KEY, "api_secret": SECRET,
                              "venue": {"name": "BINANCE", "secret": SECRET, "listenKey": LISTEN_KEY}})
    log.info("user stream %s", f"wss://stream.binance.com:9443/ws/{LISTEN_KEY}")
    log.info('answer {"listenKey": "%s"}', LISTEN_KEY)
    log.info("login password=hunter2 Authorization: Bearer tok-123")
    order_log(log, _Order(), "signed", token="tok-123", signature=SIGNATURE)
    try:
        raise RuntimeError(f"401 for url https://x/api/v3/account?signature={SIGNATURE}")
    except RuntimeError:
        log.exception("request failed with secret=%s", SECRET)
    text = captured.getvalue()
    for secret in SECRETS:
        assert secret not in text
    assert text.count(REDACTED) >= 12
    assert "O-LX3K9-1ABC-1" in text and "401 for url" in text
    if as_json:
        lines = _lines(captured)
        assert lines[2]["api_key"] == REDACTED
        assert lines[2]["venue"] == {"name": "BINANCE", "secret": REDACTED, "listenKey": REDACTED}
        assert "exc" in lines[7] and "RuntimeError" in str(lines[7]["exc"])


def test_a_call_whose_arguments_do_not_fit_keeps_its_line_redacted() -> None:
    stream = io.StringIO()
    handler = configure_logging("INFO", json=True, stream=stream)
    logging.getLogger().removeHandler(handler)  # pytest's own capture would fail on this line
    log = logging.getLogger("bot4.test.bad_args")
    log.propagate = False
    log.addHandler(handler)
    try:
        log.info("bad args %s %s secret=%s", SECRET)
    finally:
        log.removeHandler(handler)
        log.propagate = True
    [line] = _lines(stream)
    assert str(line["msg"]).startswith("bad args %s %s secret=[REDACTED] (log arguments did not fit")
    assert SECRET not in stream.getvalue()


@pytest.mark.parametrize(("text", "expected"), [
    ("a?symbol=BTCUSDT&signature=abc&x=1", "a?symbol=BTCUSDT&signature=[REDACTED]&x=1"),
    ("{'apiKey': 'abc', 'side': 'BUY'}", "{'apiKey': '[REDACTED]', 'side': 'BUY'}"),
    ('{"token":"abc"}', '{"token":"[REDACTED]"}'),
    ("api_key=[REDACTED] again", "api_key=[REDACTED] again"),  # redacting twice changes nothing
    ("token bucket has 5 left", "token bucket has 5 left"),
    ("O-LX3K9-1ABC-1 filled 0.00100 @ 65000.10", "O-LX3K9-1ABC-1 filled 0.00100 @ 65000.10"),
    ("Bearer abc.def", "Bearer [REDACTED]"),
])
def test_redact_replaces_only_what_looks_like_a_secret(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_secret_key_names_match_whatever_the_case_and_separators() -> None:
    for key in ("api_key", "apiKey", "X-MBX-APIKEY", "secret", "signature", "listenKey",
                "listen_key", "token", "password"):
        assert is_secret_key(key), key
    for key in ("client_order_id", "venue", "tokens", "side"):
        assert not is_secret_key(key), key
