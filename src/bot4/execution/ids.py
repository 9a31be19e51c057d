"""Client order ids that stay unique across restarts and fit every venue.

Format: ``O-<start>-<tag>-<seq>``, all base 36, upper case, e.g. ``O-LZ3K9Q2A-1E5GQ7-1F``:

- ``start``: the generator's start time in milliseconds (the clock's time when the node or
  backtest started), so a restarted node never repeats an id from an earlier run unless it
  restarts within the same millisecond;
- ``tag``: CRC-32 of ``trader/strategy``, so two strategies on one node never collide and an
  id can be traced back to its strategy;
- ``seq``: a counter per generator, from 1.

At most 2 + 9 + 1 + 7 + 1 + 9 = 29 characters from the alphabet ``[0-9A-Z-]``, inside
Binance's ``newClientOrderId`` rule (``^[.A-Z:/a-z0-9_-]{1,36}$``) and the others we target.
A restored node can skip past ids already used with ``advance_to``.
"""

from __future__ import annotations

import zlib

from bot4.core.ids import ClientOrderId, StrategyId, TraderId

__all__ = ["ClientOrderIdGenerator", "base36"]

_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def base36(value: int) -> str:
    if value < 0:
        raise ValueError("base36 takes a non-negative integer")
    if value == 0:
        return "0"
    out = []
    while value:
        value, digit = divmod(value, 36)
        out.append(_DIGITS[digit])
    return "".join(reversed(out))


class ClientOrderIdGenerator:
    """Mints the client order ids of one strategy."""

    __slots__ = ("_prefix", "seq")

    def __init__(self, trader_id: TraderId, strategy_id: StrategyId, start_ns: int) -> None:
        tag = base36(zlib.crc32(f"{trader_id}/{strategy_id}".encode()))
        self._prefix = f"O-{base36(start_ns // 1_000_000)}-{tag}-"
        self.seq = 0

    def next(self) -> ClientOrderId:
        self.seq += 1
        return ClientOrderId(self._prefix + base36(self.seq))

    def advance_to(self, seq: int) -> None:
        """Continue after ``seq`` (used when restoring a run from its store)."""
        self.seq = max(self.seq, seq)
