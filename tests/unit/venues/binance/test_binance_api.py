"""The public API of bot4.venues.binance is deliberate: pinned here."""

from __future__ import annotations

import bot4.venues.binance as binance
from bot4.venues.binance import (
    book,
    config,
    credentials,
    data,
    errors,
    execution,
    http,
    parsing,
    schemas,
    signing,
    ws,
)


def test_package_exports_are_pinned():
    assert sorted(binance.__all__) == sorted(
        [
            "ERROR_CODES",
            "TESTNET_REST_URL",
            "TESTNET_WS_URL",
            "BinanceConfig",
            "BinanceDataClient",
            "BinanceExecutionClient",
            "BinanceHttpClient",
            "BinanceRateLimits",
            "BookSync",
            "ClockSkewError",
            "Credentials",
            "DataClientStats",
            "DurabilityGate",
            "EndpointFamily",
            "ExecutionClientStats",
            "ExecutionHooks",
            "ExecutionSettings",
            "HttpSettings",
            "InvalidListenKeyError",
            "InvalidRequestError",
            "ParseProblem",
            "ParseStats",
            "Parser",
            "ProblemReason",
            "ResponseType",
            "StreamTiming",
            "SyncAction",
            "SyncResult",
            "SyncState",
            "SyncStats",
            "UserData",
            "UserDataStream",
            "UserStreamEnded",
            "UserStreamHooks",
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
    modules = (book, config, credentials, data, errors, execution, http, parsing, schemas, signing, ws)
    for module in modules:
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"
