"""The public API of bot4.venues.binance is deliberate: pinned here."""

from __future__ import annotations

import bot4.venues.binance as binance
from bot4.venues.binance import book, config, credentials, errors, parsing, schemas, signing


def test_package_exports_are_pinned():
    assert sorted(binance.__all__) == sorted(
        [
            "ERROR_CODES",
            "TESTNET_REST_URL",
            "TESTNET_WS_URL",
            "BinanceConfig",
            "BookSync",
            "ClockSkewError",
            "Credentials",
            "InvalidListenKeyError",
            "InvalidRequestError",
            "ParseProblem",
            "ParseStats",
            "Parser",
            "ProblemReason",
            "SyncAction",
            "SyncResult",
            "SyncState",
            "SyncStats",
            "UserData",
            "UserStreamEnded",
            "decode",
            "instruments_from_exchange_info",
            "map_error",
            "parse_instrument",
            "query_string",
            "retry_after",
            "sign",
            "signed_params",
            "signed_query",
            "used_weights",
        ]
    )
    for name in binance.__all__:
        assert getattr(binance, name) is not None


def test_every_module_lists_only_what_it_defines():
    for module in (book, config, credentials, errors, parsing, schemas, signing):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"
