"""Bad input never raises: it becomes a ParseProblem with the reason and the payload kept."""

from __future__ import annotations

import pytest

from bot4.core.errors import InvalidDataError, UnknownInstrumentError
from bot4.venues.binance import ParseProblem, Parser, ProblemReason

HTML = (
    b'<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">\n<HTML><HEAD><TITLE>ERROR: '
    b"The request could not be satisfied</TITLE></HEAD><BODY><H1>403 ERROR</H1></BODY></HTML>"
)


@pytest.fixture
def trade(hft_lines) -> bytes:
    return next(raw for _, raw in hft_lines if b"@trade" in raw)


@pytest.fixture
def diff(hft_lines) -> bytes:
    return hft_lines[0][1]


def problem_of(parser: Parser, raw: bytes | str, ts_init: int = 11) -> ParseProblem:
    out = parser.parse_market(raw, ts_init)
    assert isinstance(out, ParseProblem), out
    return out


def test_html_error_page_is_not_json_and_kept_whole(parser):
    problem = problem_of(parser, HTML)
    assert problem.reason is ProblemReason.NOT_JSON
    assert (problem.raw, problem.raw_size, problem.ts_init, problem.truncated) == (
        HTML.decode(),
        len(HTML),
        11,
        False,
    )


def test_truncated_frame_is_malformed_json(parser, trade):
    problem = problem_of(parser, trade[:-7])
    assert problem.reason is ProblemReason.MALFORMED_JSON
    assert problem.raw == trade[:-7].decode()


@pytest.mark.parametrize("raw", [b"", b"   ", b"\x00\xff\xfe garbage", b"null", b"42"])
def test_empty_binary_and_non_object_input_are_problems(parser, raw):
    assert problem_of(parser, raw).reason in (ProblemReason.NOT_JSON, ProblemReason.INVALID_FIELD)


def test_wrong_type_is_an_invalid_field_naming_the_path(parser, trade):
    problem = problem_of(parser, trade.replace(b'"m":true', b'"m":"true"'))
    assert problem.reason is ProblemReason.INVALID_FIELD
    assert "$.m" in problem.message


def test_missing_field_is_an_invalid_field_naming_it(parser, diff):
    problem = problem_of(parser, diff.replace(b'"U":50093239189,', b""))
    assert problem.reason is ProblemReason.INVALID_FIELD
    assert "`U`" in problem.message


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        (b'"p":"61837.63000000"', b'"p":"61837.63.0"', "p"),
        (b'"p":"61837.63000000"', b'"p":"-61837.63"', "p"),
        (b'"q":"0.02000000"', b'"q":"0.0000000001"', "q"),
        (b'"p":"61837.63000000"', b'"p":"NaN"', "p"),
        (b'"p":"61837.63000000"', b'"p":"1e400"', "p"),
    ],
)
def test_impossible_decimal_is_an_invalid_value_naming_the_field(parser, trade, old, new, field):
    problem = problem_of(parser, trade.replace(old, new))
    assert problem.reason is ProblemReason.INVALID_VALUE
    assert problem.context["field"] == field


def test_update_ids_out_of_order_are_an_invalid_value(parser, diff):
    problem = problem_of(parser, diff.replace(b'"U":50093239189', b'"U":50093239299'))
    assert problem.reason is ProblemReason.INVALID_VALUE
    assert (problem.context["U"], problem.context["u"]) == ("50093239299", "50093239202")


def test_unknown_event_type_is_counted_as_unknown_event(parser, nautilus_ws):
    problem = problem_of(parser, nautilus_ws("ws_spot_ticker_24hr.json"))
    assert (problem.reason, problem.context) == (
        ProblemReason.UNKNOWN_EVENT,
        {"event_type": "24hrTicker"},
    )


def test_unknown_symbol_is_a_problem_that_becomes_unknown_instrument_error(parser, trade):
    problem = problem_of(parser, trade.replace(b'"s":"BTCUSDT"', b'"s":"FOOBAR"'))
    assert problem.reason is ProblemReason.UNKNOWN_INSTRUMENT
    error = problem.to_error()
    assert isinstance(error, UnknownInstrumentError)
    assert error.context == {"symbol": "FOOBAR", "venue": "BINANCE"}
    with pytest.raises(UnknownInstrumentError):
        parser.instrument("FOOBAR")


def test_problem_to_error_is_invalid_data_error_with_reason_and_raw(parser, trade):
    error = problem_of(parser, trade[:50]).to_error()
    assert isinstance(error, InvalidDataError)
    assert error.context["reason"] == "malformed_json"
    assert error.context["raw"] == trade[:50].decode()


def test_stream_error_reply_is_an_error_reply_and_subscription_ack_is_control(parser):
    problem = problem_of(
        parser, b'{"error":{"code":2,"msg":"Invalid request: unknown variant"},"id":3}'
    )
    assert (problem.reason, problem.context["code"]) == (ProblemReason.ERROR_REPLY, "2")
    assert parser.parse_market(b'{"result":null,"id":1}', 1) == []
    assert parser.stats.control == 1


def test_user_stream_rejects_market_events_and_event_less_objects(parser, nautilus_ws):
    problem = parser.parse_user(nautilus_ws("ws_spot_trade.json"), 1)
    assert isinstance(problem, ParseProblem) and problem.reason is ProblemReason.UNKNOWN_EVENT
    problem = parser.parse_user(b'{"E":1,"s":"BTCUSDT"}', 1)
    assert isinstance(problem, ParseProblem) and problem.reason is ProblemReason.INVALID_FIELD


def test_unknown_execution_type_is_an_unknown_event(parser, nautilus_ws):
    raw = nautilus_ws("ws_spot_execution_report_new.json").replace(
        b'"x": "NEW"', b'"x": "TELEPORTED"'
    )
    problem = parser.parse_user(raw, 1)
    assert isinstance(problem, ParseProblem)
    assert (problem.reason, problem.context["execution_type"]) == (
        ProblemReason.UNKNOWN_EVENT,
        "TELEPORTED",
    )


def test_huge_payload_is_kept_truncated_with_its_size(instruments):
    parser = Parser(instruments.values(), max_raw_chars=1000)
    raw = b"<html>" + b"x" * 100_000
    problem = parser.parse_market(raw, 1)
    assert isinstance(problem, ParseProblem)
    assert (len(problem.raw), problem.raw_size, problem.truncated) == (1000, len(raw), True)
    assert problem.raw == raw[:1000].decode()


def test_text_input_parses_like_bytes(parser, trade):
    assert parser.parse_market(trade.decode(), 1) == parser.parse_market(trade, 1)
    problem = parser.parse_market('{"stream": "x", "data": \ud800}', 1)
    assert isinstance(problem, ParseProblem)


def test_stats_count_parsed_messages_and_problems_per_reason(parser, trade, diff):
    parser.parse_market(trade, 1)
    parser.parse_market(diff, 1)
    parser.parse_market(HTML, 1)
    parser.parse_market(HTML, 2)
    parser.parse_market(trade[:-3], 3)
    assert parser.stats.as_dict() == {
        "parsed": 2,
        "control": 0,
        "problem.malformed_json": 1,
        "problem.not_json": 2,
    }
    assert [p.ts_init for p in parser.stats.recent] == [1, 2, 3]
    assert parser.stats.problem_count == 3
