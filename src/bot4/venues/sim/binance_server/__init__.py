"""A local exchange that speaks Binance spot's REST and WebSocket protocol, on 127.0.0.1.

Backed by the simulated venue (matching, balances, fees), it replays recorded or generated
market data at a chosen speed, validates API keys and HMAC signatures, enforces symbol
filters and rate limits with Binance's error codes and texts, and injects faults on demand.
The Binance adapter, ccxt and the paper-trading demo talk to it exactly as they would to
Binance, so the whole network path is exercised.

Modules: :mod:`.app` (the server and its controls), :mod:`.exchange` (shared state, the
market-data path), :mod:`.rest` (endpoints), :mod:`.streams` (WebSockets), :mod:`.market`
(book, update ids, frames), :mod:`.replay`, :mod:`.state` (accounts, ids, listen keys),
:mod:`.trading` (orders), :mod:`.params` and :mod:`.auth` (request checks), :mod:`.limits`,
:mod:`.faults`, :mod:`.wire` (JSON shapes), :mod:`.errors` and :mod:`.config`.
"""

from bot4.venues.sim.binance_server.app import BinanceServer
from bot4.venues.sim.binance_server.config import (
    AccountSpec,
    ApiKeySpec,
    BinanceServerConfig,
    RateLimitConfig,
)
from bot4.venues.sim.binance_server.faults import (
    DropMode,
    Faults,
    RecordedRequest,
    RecordedWsMessage,
    StreamKind,
)

__all__ = [
    "AccountSpec",
    "ApiKeySpec",
    "BinanceServer",
    "BinanceServerConfig",
    "DropMode",
    "Faults",
    "RateLimitConfig",
    "RecordedRequest",
    "RecordedWsMessage",
    "StreamKind",
]
