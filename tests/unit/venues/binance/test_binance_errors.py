"""Every Binance error code maps to one typed error; HTTP statuses and headers are read."""

from __future__ import annotations

import json

import pytest

from bot4.core.errors import (
    Bot4Error,
    DisconnectedError,
    RateLimitedError,
    RejectedError,
    TransientError,
    VenueAuthError,
    VenueBannedError,
    VenueRejectedError,
    VenueTimeoutError,
)
from bot4.venues.binance import (
    ERROR_CODES,
    ClockSkewError,
    InvalidListenKeyError,
    InvalidRequestError,
    map_error,
    retry_after,
    used_weights,
)


@pytest.fixture
def catalog(real) -> dict:
    return json.loads(
        real("binance_spot_api_docs/binance_spot_error_catalog.derived.json").read_text(
            encoding="utf-8"
        )
    )


def test_every_catalog_code_is_mapped_explicitly(catalog):
    codes = {entry["code"] for entry in catalog["error_codes"]}
    assert len(codes) == 104
    assert codes - ERROR_CODES.keys() == set()
    # The codes the catalog's message lists name (-1010, -2038) are mapped too.
    for key in catalog:
        if key.startswith("matching_engine_messages_for_"):
            listed = {
                int(code)
                for code in key.removeprefix("matching_engine_messages_for_")
                .replace("_-", " -")
                .split()
            }
            assert listed - ERROR_CODES.keys() == set()


def test_mapped_names_are_binance_names(catalog):
    for entry in catalog["error_codes"]:
        name = entry["name"]
        if name.isupper():  # the cancel-replace entries carry sentences instead of names
            assert ERROR_CODES[entry["code"]][1] == name


def test_each_catalog_code_maps_to_its_class_with_code_name_and_message(catalog):
    for entry in catalog["error_codes"]:
        code, message = entry["code"], entry["messages"][0]
        error = map_error(
            400, json.dumps({"code": code, "msg": message}), endpoint="POST /api/v3/order"
        )
        cls, name = ERROR_CODES[code]
        assert type(error) is (VenueBannedError if "banned until" in message else cls), code
        assert error.context["code"] == code
        assert error.context["name"] == name
        assert error.context["endpoint"] == "POST /api/v3/order"
        assert message in str(error)


@pytest.mark.parametrize(
    ("code", "msg", "cls"),
    [
        (-2010, "Account has insufficient balance for requested action.", VenueRejectedError),
        (-1013, "Filter failure: LOT_SIZE", VenueRejectedError),
        (-2011, "Unknown order sent.", VenueRejectedError),
        (-2013, "Order does not exist.", VenueRejectedError),
        (-1021, "Timestamp for this request is outside of the recvWindow.", ClockSkewError),
        (-1022, "Signature for this request is not valid.", VenueAuthError),
        (-2015, "Invalid API-key, IP, or permissions for action.", VenueAuthError),
        (-1125, "This listenKey does not exist.", InvalidListenKeyError),
        (
            -1102,
            "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.",
            InvalidRequestError,
        ),
        (
            -1003,
            "Too much request weight used; current limit is 6000 request weight per 1 MINUTE.",
            RateLimitedError,
        ),
        (
            -1015,
            "Too many new orders; current limit is 100 orders per 10 SECOND.",
            RateLimitedError,
        ),
        (
            -1001,
            "Internal error; unable to process your request. Please try again.",
            DisconnectedError,
        ),
        (
            -1007,
            "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
            VenueTimeoutError,
        ),
    ],
)
def test_documented_errors_map_by_what_the_caller_can_do(code, msg, cls):
    error = map_error(400, json.dumps({"code": code, "msg": msg}).encode())
    assert type(error) is cls
    assert error.context["msg"] == msg


def test_clock_skew_is_transient_and_distinct_from_other_rejections():
    error = map_error(
        400,
        b'{"code":-1021,"msg":"Timestamp for this request was 1000ms ahead of the server\'s time."}',
    )
    assert isinstance(error, ClockSkewError) and isinstance(error, TransientError)
    assert not isinstance(error, RejectedError)


def test_invalid_request_is_still_a_venue_rejection():
    error = map_error(400, b'{"code":-1100,"msg":"Illegal characters found in a parameter."}')
    assert isinstance(error, InvalidRequestError) and isinstance(error, VenueRejectedError)


def test_http_429_is_rate_limited_with_retry_after_from_header():
    error = map_error(
        429, b'{"code":-1003,"msg":"Too many requests queued."}', {"retry-after": "17"}
    )
    assert type(error) is RateLimitedError
    assert error.retry_after == 17.0
    assert (error.context["code"], error.context["name"]) == (-1003, "TOO_MANY_REQUESTS")


def test_http_418_is_a_ban_with_retry_after():
    error = map_error(
        418,
        b'{"code":-1003,"msg":"Way too much request weight used; IP banned until 1723161255342."}',
        {"Retry-After": "120"},
    )
    assert type(error) is VenueBannedError
    assert error.retry_after == 120.0
    assert error.context["banned_until_ms"] == 1723161255342


def test_ban_end_in_the_message_gives_retry_after_when_no_header():
    body = (
        b'{"code":-1003,"msg":"Way too much request weight used; IP banned until 1723161255342."}'
    )
    error = map_error(418, body, None, now_ms=1723161195342)
    assert isinstance(error, VenueBannedError)
    assert error.retry_after == 60.0


def test_real_captured_error_bodies_from_gocryptotrader(real):
    mock = json.loads(
        real("gocryptotrader/http_mock/binance_http.json").read_text(encoding="utf-8")
    )
    bodies = [
        response["data"]
        for methods in mock["routes"].values()
        for responses in methods.values()
        for response in responses
        if isinstance(response["data"], dict)
        and "code" in response["data"]
        and response["data"]["code"] < 0
    ]
    by_code = {body["code"]: body for body in bodies}
    assert by_code[-2014] == {"code": -2014, "msg": "API-key format invalid."}
    auth = map_error(401, json.dumps(by_code[-2014]))
    assert type(auth) is VenueAuthError and auth.context["name"] == "BAD_API_KEY_FMT"
    # -4088 is a futures code, not in the spot catalog: a rejection marked unknown.
    futures = map_error(400, json.dumps(by_code[-4088]))
    assert type(futures) is VenueRejectedError
    assert (futures.context["code"], futures.context["known"]) == (-4088, False)
    assert "Maximum time interval is 200 days." in str(futures)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_transient_with_unknown_outcome_and_body_kept(status):
    page = (
        b"<html><head><title>502 Bad Gateway</title></head><body>"
        + b"x" * 10_000
        + b"</body></html>"
    )
    error = map_error(status, page)
    assert type(error) is VenueTimeoutError
    assert error.context["body"].startswith("<html><head><title>502 Bad Gateway")
    assert len(error.context["body"]) == 2048


def test_server_error_with_known_code_maps_by_code():
    assert (
        type(
            map_error(
                503,
                b'{"code":-1008,"msg":"Server is currently overloaded with other requests. Please try again in a few minutes."}',
            )
        )
        is RateLimitedError
    )


def test_html_from_a_proxy_on_a_client_status_is_transient_but_404_is_our_bug():
    assert type(map_error(400, b"<html>Bad Request</html>")) is VenueTimeoutError
    assert type(map_error(404, b"<html>Not Found</html>")) is InvalidRequestError
    waf = map_error(403, b"<HTML>Request blocked.</HTML>")
    assert type(waf) is VenueBannedError


def test_map_error_survives_garbage_bodies_and_headers():
    for status in (0, 200, 400, 418, 429, 500, 999):
        for body in (
            None,
            b"",
            b"{",
            b'{"code":"x"}',
            b'{"code":-1021}',
            "\ud800",
            b"\xff\xfe",
            b"[1]",
        ):
            error = map_error(status, body, {"Retry-After": "soon", "X-MBX-USED-WEIGHT-1M": "x"})
            assert isinstance(error, Bot4Error)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 1.5 ", 1.5),
        ("Wed, 21 Oct 2015 07:28:00 GMT", None),
        ("-3", None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_retry_after_reads_seconds_only(value, expected):
    assert retry_after({"Retry-After": value}) == expected


def test_used_weights_reads_binance_usage_headers_case_insensitively():
    headers = {
        "x-mbx-used-weight-1m": "12",
        "X-MBX-ORDER-COUNT-10S": "3",
        "X-MBX-ORDER-COUNT-1D": "bad",
        "Content-Type": "application/json",
    }
    assert used_weights(headers) == {"USED-WEIGHT-1M": 12, "ORDER-COUNT-10S": 3}
    assert used_weights(None) == {}
