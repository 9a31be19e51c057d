"""Request signing, checked against every example in Binance's own documentation."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from bot4.core.numbers import Price
from bot4.venues.binance import Credentials, query_string, sign, signed_params, signed_query


@pytest.fixture
def vectors(real):
    return json.loads(
        real("binance_spot_api_docs/signing_test_vectors.json").read_text(encoding="utf-8")
    )


def test_signing_reproduces_every_documented_payload_and_signature(vectors):
    assert len(vectors["vectors"]) == 2
    for vector in vectors["vectors"]:
        payload = query_string(vector["params"])
        assert payload == vector["payload"]
        assert sign(payload, vectors["secretKey"]) == vector["signature"]


def test_signed_params_append_recv_window_timestamp_and_signature_in_order(vectors):
    for vector in vectors["vectors"]:
        params = vector["params"][:-2]  # everything before recvWindow and timestamp
        assert [k for k, _ in vector["params"][-2:]] == ["recvWindow", "timestamp"]
        pairs = signed_params(
            params, vectors["secretKey"], timestamp_ms=1499827319559, recv_window_ms=5000
        )
        assert pairs[-1] == ("signature", vector["signature"])
        assert query_string(pairs) == f"{vector['payload']}&signature={vector['signature']}"


def test_signed_query_with_credentials_matches_the_documented_signature(vectors):
    credentials = Credentials(vectors["apiKey"], vectors["secretKey"])
    vector = vectors["vectors"][0]
    query = signed_query(vector["params"][:-2], credentials, 1499827319559, 5000)
    assert query.endswith(f"&signature={vector['signature']}")


def test_query_string_keeps_order_skips_none_and_writes_values_as_binance_reads_them():
    query = query_string(
        [
            ("symbol", "BTCUSDT"),
            ("price", Price.of("61837.63", 2)),
            ("quantity", Decimal("0.00100")),
            ("newClientOrderId", "O-LZ6J-1A2B-1"),
            ("icebergQty", None),
            ("test", True),
        ]
    )
    assert (
        query
        == "symbol=BTCUSDT&price=61837.63&quantity=0.00100&newClientOrderId=O-LZ6J-1A2B-1&test=true"
    )


def test_query_string_writes_floats_without_exponent():
    assert (
        query_string([("quantity", 0.00001), ("price", 65000.5)])
        == "quantity=0.00001&price=65000.5"
    )


def test_signed_params_can_leave_recv_window_out():
    pairs = signed_params({"symbol": "BTCUSDT"}, "secret", timestamp_ms=1, recv_window_ms=None)
    assert [k for k, _ in pairs] == ["symbol", "timestamp", "signature"]
    assert pairs[-1][1] == sign("symbol=BTCUSDT&timestamp=1", "secret")
