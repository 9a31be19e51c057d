"""Mutations of real recorded messages never make the parsers raise.

Two layers: a fast seeded mutator runs 100,000 cases per parser (market, user) and 20,000
over the REST parsers and the error mapper in one go; hypothesis then explores fewer cases
with shrinking. Every case must give domain objects or a ParseProblem that kept the payload
(truncated) and its size.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot4.core.errors import Bot4Error
from bot4.execution.reconciliation import FillReport, OrderStatusReport
from bot4.model.account import AccountState
from bot4.model.data import Bar, BookDeltas, BookSnapshot, QuoteTick, TradeTick
from bot4.model.events import OrderEvent
from bot4.venues.binance import ParseProblem, Parser, UserStreamEnded, map_error

MARKET_TYPES = (TradeTick, QuoteTick, BookDeltas, BookSnapshot, Bar)
USER_TYPES = (OrderEvent, AccountState, UserStreamEnded)
REST_TYPES = (OrderStatusReport, FillReport, AccountState, OrderEvent, BookSnapshot)

WEIRD_VALUES: list[Any] = [
    None,
    0,
    -1,
    1,
    2**63,
    -(2**70),
    1.5,
    -0.0,
    True,
    False,
    "",
    " ",
    "abc",
    "-1",
    "0",
    "1e400",
    "1E-3",
    "NaN",
    "-Infinity",
    "0x10",
    "１２",
    "١٢٣",
    "1_000",
    " 1.0",
    "1.2.3",
    "9" * 40,
    "0." + "0" * 30 + "1",
    "0.0000000001",
    "<html>",
    "\u0000",
    "\ud7ff",
    [],
    [[]],
    [["1"]],
    [["1", "2", "3"]],
    [[1, 2]],
    {},
    {"e": "trade"},
    "BUY",
    "SELL",
    "TRADE",
    "NEW",
    "CANCELED",
    "EXPIRED",
    "REPLACED",
    "PENDING_CANCEL",
    "REJECTED",
    "TRADE_PREVENTION",
    "CALCULATED",
    "EXPIRED_IN_MATCH",
    "FILLED",
    "BTCUSDT",
    "ETHUSDT",
    "NOPE",
]
EVENT_TYPES = [
    "trade",
    "aggTrade",
    "depthUpdate",
    "kline",
    "bookTicker",
    "24hrTicker",
    "executionReport",
    "outboundAccountPosition",
    "balanceUpdate",
    "listStatus",
    "listenKeyExpired",
    "eventStreamTerminated",
    "externalLockUpdate",
    "",
    "EXECUTIONREPORT",
]
HTML_PAGES = [
    b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>",
    b"<!DOCTYPE html><html><body>Service Unavailable</body></html>",
    b"",
    b"null",
    b"[]",
    b"{}",
    b"\xff\xfe\x00\x01",
    b"Internal Server Error",
    b"[" * 50_000 + b"]" * 50_000,
    b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
]


def _containers(node: Any, out: list[Any]) -> None:
    if isinstance(node, dict):
        out.append(node)
        for value in node.values():
            _containers(value, out)
    elif isinstance(node, list):
        out.append(node)
        for value in node:
            _containers(value, out)


class Mutator:
    """Seeded structural and byte-level mutations of one JSON message."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def __call__(self, raw: bytes) -> bytes:
        rng = self.rng
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            op = rng.randrange(10)
            if op <= 4:
                raw = self.structural(raw)
            elif op == 5:
                raw = raw[: rng.randrange(len(raw) + 1)]
            elif op == 6:
                at = rng.randrange(len(raw) + 1)
                raw = raw[:at] + rng.randbytes(rng.randrange(1, 8)) + raw[at:]
            elif op == 7:
                at = rng.randrange(len(raw) + 1)
                raw = (
                    raw[:at]
                    + rng.choice((b"{", b"}", b"[", b"]", b",", b":", b'"', b"\\", b"null"))
                    + raw[at:]
                )
            elif op == 8:
                raw = rng.choice(HTML_PAGES)
            else:
                raw = raw.replace(b'"', b"'", rng.randrange(1, 4))
        return raw

    def structural(self, raw: bytes) -> bytes:
        rng = self.rng
        try:
            message = msgspec.json.decode(raw)
        except (ValueError, RecursionError):  # not JSON (any more): leave it to byte mutations
            return raw
        nodes: list[Any] = []
        _containers(message, nodes)
        if not nodes:
            return msgspec.json.encode(rng.choice(WEIRD_VALUES))
        node = rng.choice(nodes)
        op = rng.randrange(6)
        if isinstance(node, dict) and node:
            key = rng.choice(list(node))
            if op == 5:  # Binance adds fields over time: an unknown one must not matter
                node[f"new{rng.randrange(99)}"] = rng.choice(WEIRD_VALUES)
            elif op == 0:
                del node[key]
            elif op == 1 and "e" in node:
                node["e"] = rng.choice(EVENT_TYPES)
            elif op == 2:
                node[rng.choice(list(node))], node[key] = node[key], node[rng.choice(list(node))]
            else:
                node[key] = rng.choice(WEIRD_VALUES)
        elif isinstance(node, list) and node:
            at = rng.randrange(len(node))
            if op == 0:
                del node[at]
            elif op == 1:
                node.insert(at, rng.choice(WEIRD_VALUES))
            else:
                node[at] = rng.choice(WEIRD_VALUES)
        else:
            return msgspec.json.encode([message])
        try:
            return json.dumps(message, ensure_ascii=rng.random() < 0.5).encode(
                "utf-8", "surrogatepass"
            )
        except ValueError:
            return raw


def check(parse: Callable[[bytes], Any], raw: bytes, allowed: tuple[type, ...], limit: int) -> bool:
    """Run one case; return True when it produced a problem."""
    try:
        out = parse(raw)
    except Exception as error:  # annotate which input broke the parser, then fail
        raise AssertionError(f"parser raised {type(error).__name__} on {raw[:300]!r}") from error
    if isinstance(out, ParseProblem):
        assert out.raw_size == len(raw)
        assert out.raw == raw[:limit].decode("utf-8", "replace")
        assert out.message
        return True
    items = out if isinstance(out, list) else [out]
    assert all(isinstance(item, allowed) for item in items), items
    return False


@pytest.fixture(scope="module")
def market_corpus(hft_lines, cryptofeed_events, nautilus_ws) -> list[bytes]:
    tickers = [raw for _, raw in hft_lines if b"@bookTicker" in raw][:200]
    trades = [raw for _, raw in hft_lines if b"@trade" in raw][:200]
    diffs = sorted((raw for _, raw in hft_lines if b"depthUpdate" in raw), key=len)[:100]
    snapshot = msgspec.json.decode(
        next(raw for _, raw in hft_lines if raw.startswith(b'{"lastUpdateId"'))
    )
    partial = {
        "stream": "btcusdt@depth10@100ms",
        "data": {**snapshot, "bids": snapshot["bids"][:10], "asks": snapshot["asks"][:10]},
    }
    frames = [raw.encode() for _, kind, _, raw in cryptofeed_events if kind == "ws"]
    nautilus = [
        nautilus_ws(name)
        for name in (
            "ws_spot_trade.json",
            "ws_spot_agg_trade.json",
            "ws_spot_ticker_book.json",
            "ws_spot_ticker_24hr.json",
        )
    ]
    closed_kline = next(f for f in frames if b"@kline" in f).replace(b'"x":false', b'"x":true')
    control = [b'{"result":null,"id":1}', b'{"error":{"code":2,"msg":"Invalid request"},"id":2}']
    return (
        tickers
        + trades
        + diffs
        + [msgspec.json.encode(partial), closed_kline]
        + frames
        + nautilus
        + control
    )


@pytest.fixture(scope="module")
def user_corpus(real) -> list[bytes]:
    ws_dir = real("nautilus_trader/py_binance_resources/ws_messages")
    user_dir = real("nautilus_trader/adapter_fixtures/binance/spot/user_data_json")
    corpus = [p.read_bytes() for p in sorted(ws_dir.glob("ws_spot_execution_report_*.json"))]
    corpus += [p.read_bytes() for p in sorted(user_dir.glob("*.json"))]
    corpus += [
        b'{"e":"listenKeyExpired","E":1699596037418,"listenKey":"OfYGbUzi3PraNagEkdKuFwUHn48brFsItTdsuiIXrucEvD0rhRXZ7I6URWfE8YE8"}',
        b'{"subscriptionId":0,"event":{"e":"eventStreamTerminated","E":1728973001334}}',
    ]
    return corpus


@pytest.fixture(scope="module")
def rest_corpus(real) -> list[tuple[str, bytes]]:
    http = real("nautilus_trader/adapter_fixtures/binance/spot/http_json")
    depth = (
        real("cryptofeed/sample_data/BINANCE.http.0.0.txt")
        .read_text(encoding="utf-8")
        .splitlines()[0]
    )
    snapshot = msgspec.json.decode(depth.split(": ", 1)[1])
    small = {**snapshot, "bids": snapshot["bids"][:20], "asks": snapshot["asks"][:20]}
    return [
        ("parse_order", (http / "order_response.json").read_bytes()),
        ("parse_open_orders", (http / "open_orders_response.json").read_bytes()),
        ("parse_cancel", (http / "cancel_order_response.json").read_bytes()),
        ("parse_new_order", (http / "new_order_full_response.json").read_bytes()),
        ("parse_my_trades", (http / "account_trades_response.json").read_bytes()),
        ("parse_account", (http / "account_response.json").read_bytes()),
        ("parse_snapshot", msgspec.json.encode(small)),
    ]


def run_cases(
    parse: Callable[[bytes], Any],
    corpus: list[bytes],
    allowed: tuple[type, ...],
    cases: int,
    seed: int,
    limit: int,
) -> tuple[int, int]:
    rng = random.Random(seed)
    mutate = Mutator(rng)
    problems = 0
    for _ in range(cases):
        problems += check(parse, mutate(rng.choice(corpus)), allowed, limit)
    return problems, cases - problems


def test_market_parser_survives_100k_mutations_of_real_frames(instruments, market_corpus):
    parser = Parser(instruments.values(), max_raw_chars=2048)
    problems, parsed = run_cases(
        lambda raw: parser.parse_market(raw, 1),
        market_corpus,
        MARKET_TYPES,
        100_000,
        20240808,
        2048,
    )
    assert parser.stats.problem_count == problems
    assert problems > 50_000 and parsed > 5_000  # the mutations both break and keep messages


def test_user_parser_survives_100k_mutations_of_recorded_reports(instruments, user_corpus):
    parser = Parser(instruments.values(), max_raw_chars=2048)
    problems, parsed = run_cases(
        lambda raw: parser.parse_user(raw, 1), user_corpus, USER_TYPES, 100_000, 20211012, 2048
    )
    assert parser.stats.problem_count == problems
    assert problems > 50_000 and parsed > 5_000


def test_rest_parsers_and_error_mapping_survive_mutated_bodies(instruments, rest_corpus):
    parser = Parser(instruments.values(), max_raw_chars=2048)
    rng = random.Random(7)
    mutate = Mutator(rng)
    for case in range(20_000):
        method, body = rng.choice(rest_corpus)
        raw = mutate(body)
        if method == "parse_snapshot":
            check(lambda b: parser.parse_snapshot(b, "NKNUSDT", 1), raw, REST_TYPES, 2048)
        else:
            check(lambda b, m=method: getattr(parser, m)(b, 1), raw, REST_TYPES, 2048)
        status = rng.choice((200, 400, 401, 403, 404, 409, 418, 429, 500, 502, 503, 504))
        headers = {
            "Retry-After": rng.choice(("1", "x", "-1", "1e999", "")),
            "X-MBX-USED-WEIGHT-1M": "7",
        }
        assert isinstance(
            map_error(status, raw if case % 2 else raw.decode("utf-8", "replace"), headers),
            Bot4Error,
        )


@st.composite
def mutated(draw: st.DrawFn, corpus: list[bytes]) -> bytes:
    raw = draw(st.sampled_from(corpus))
    rng = random.Random(draw(st.integers(0, 2**32)))
    kind = draw(st.sampled_from(("mutator", "truncate", "splice", "replace")))
    if kind == "mutator":
        return Mutator(rng)(raw)
    if kind == "truncate":
        return raw[: draw(st.integers(0, len(raw)))]
    if kind == "splice":
        at = draw(st.integers(0, len(raw)))
        return raw[:at] + draw(st.binary(max_size=16)) + raw[at:]
    old = draw(
        st.sampled_from(
            (
                b'"p":',
                b'"q":',
                b'"e":',
                b'"s":',
                b'"u":',
                b'"x":',
                b'"X":',
                b'"l":',
                b'"L":',
                b'"n":',
            )
        )
    )
    new = draw(
        st.sampled_from(
            (b'"p":null,"_":', b'"q":[],"_":', b'"e":"x","_":', b'"s":1,"_":', b'"u":-5,"_":')
        )
    )
    return raw.replace(old, new, 1)


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_hypothesis_mutations_never_break_either_parser(
    instruments, market_corpus, user_corpus, data
):
    parser = Parser(instruments.values(), max_raw_chars=512)
    raw = data.draw(mutated(market_corpus))
    check(lambda b: parser.parse_market(b, 1), raw, MARKET_TYPES, 512)
    raw = data.draw(mutated(user_corpus))
    check(lambda b: parser.parse_user(b, 1), raw, USER_TYPES, 512)
