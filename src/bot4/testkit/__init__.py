"""Test kit for users' own strategy tests: canonical instruments, fixed ids, builders.

Everything here is deterministic. The BTCUSDT instruments carry Binance's real spot filters
(tick 0.01, step 0.00001, min qty 0.00001, min notional 5 USDT, 0.1% maker/taker).
:class:`FaultServer` is a real WebSocket server on loopback that misbehaves on request, for
testing a client's recovery (see ``docs/networking.md``).
"""

from bot4.testkit.builders import (
    CapturingSink,
    book_snapshot,
    quote,
    strategy_id,
    trade,
    trader_id,
)
from bot4.testkit.faultserver import DropMode, Faults, FaultServer, MalformedKind
from bot4.testkit.instruments import BTC, ETH, USDT, btcusdt, ethusdt

__all__ = [
    "BTC",
    "ETH",
    "USDT",
    "CapturingSink",
    "DropMode",
    "FaultServer",
    "Faults",
    "MalformedKind",
    "book_snapshot",
    "btcusdt",
    "ethusdt",
    "quote",
    "strategy_id",
    "trade",
    "trader_id",
]
