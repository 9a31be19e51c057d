"""Binance spot adapter.

The pure part lives here: :mod:`.config` (endpoints, windows), :mod:`.credentials` (keys that
never leak into logs), :mod:`.signing` (HMAC-SHA256 request signing), :mod:`.schemas` (wire
structs in Binance's field names), :mod:`.parsing` (the only route from wire to domain, never
raising on bad input), :mod:`.errors` (every Binance error code mapped onto the error tree)
and :mod:`.book` (Binance's local order book procedure as a state machine). The network side
builds on these: :mod:`.http` (REST, guarded by the venue's breakers and rate limiter, retried
per operation), :mod:`.ws` (the market-data and user-data streams), :mod:`.data` (trades,
quotes and a synced book per instrument) and :mod:`.execution` (the ``VenueClient``).
"""

from bot4.venues.binance.book import BookSync, SyncAction, SyncResult, SyncState, SyncStats
from bot4.venues.binance.config import TESTNET_REST_URL, TESTNET_WS_URL, BinanceConfig
from bot4.venues.binance.credentials import Credentials
from bot4.venues.binance.data import BinanceDataClient, DataClientStats
from bot4.venues.binance.errors import (
    ERROR_CODES,
    ClockSkewError,
    InvalidListenKeyError,
    InvalidRequestError,
    map_error,
    retry_after,
    used_weights,
)
from bot4.venues.binance.execution import (
    BinanceExecutionClient,
    DurabilityGate,
    ExecutionClientStats,
    ExecutionHooks,
    ExecutionSettings,
)
from bot4.venues.binance.http import (
    BinanceHttpClient,
    BinanceRateLimits,
    EndpointFamily,
    HttpSettings,
    ResponseType,
)
from bot4.venues.binance.parsing import (
    ParseProblem,
    Parser,
    ParseStats,
    ProblemReason,
    UserData,
    UserStreamEnded,
    decode,
    instruments_from_exchange_info,
    parse_instrument,
)
from bot4.venues.binance.signing import query_string, sign, signed_params, signed_query
from bot4.venues.binance.ws import StreamTiming, UserDataStream, UserStreamHooks

__all__ = [
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
