"""Deterministic workloads: a realistic L2 book with its update stream, and BTCUSDT trade ticks.

Everything is drawn from ``random.Random(seed).random()`` only: Python guarantees that method's
sequence for a given seed across versions (other ``random`` methods may change), so the same
seed gives the same workload on every machine and every run.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left, insort
from collections.abc import Iterator
from itertools import repeat

from bot4.core.ids import TradeId
from bot4.core.numbers import FIXED_SCALAR, Price, Quantity
from bot4.model.data import TradeTick
from bot4.model.enums import AggressorSide, OrderSide
from bot4.model.instrument import Instrument

__all__ = [
    "BOOK_SEED",
    "TRADES_SEED",
    "BookWorkload",
    "book_workload",
    "iter_chunks",
    "trade_ticks",
]

BOOK_SEED = 20240808
TRADES_SEED = 42

_TICK_RAW = FIXED_SCALAR // 100  # 0.01 USDT
_STEP_RAW = FIXED_SCALAR // 100_000  # 0.00001 BTC, Binance's BTCUSDT lot step
_START_NS = 1_723_075_200_000_000_000  # 2024-08-08 00:00:00 UTC


class BookWorkload:
    """An initial book (raw ``price -> size`` per side) and a stream of level updates.

    ``updates`` holds ``(side, price_raw, size_raw)`` tuples valid against the initial book in
    order (size 0 deletes a level that exists); applying them never crosses the book.
    ``kinds`` counts the changes, inserts and deletes drawn.
    """

    __slots__ = ("asks", "bids", "kinds", "updates")

    def __init__(
        self,
        bids: dict[int, int],
        asks: dict[int, int],
        updates: list[tuple[OrderSide, int, int]],
        kinds: dict[str, int],
    ) -> None:
        self.bids = bids
        self.asks = asks
        self.updates = updates
        self.kinds = kinds


def _size_steps(rng: random.Random) -> int:
    """A resting size in lot steps: log-uniform from 0.00001 to ~2 BTC, as on Binance BTCUSDT."""
    return 1 + int(10 ** (rng.random() * 5.3))


def _initial_side(rng: random.Random, levels: int) -> list[int]:
    """Distances in ticks from the best level: dense at the top, gaps widening with depth."""
    offsets = []
    offset = 0
    for k in range(levels):
        offsets.append(offset)
        offset += 1 if k < 30 else 1 + int(rng.random() * min(20.0, k / 25))
    return offsets


def book_workload(n_updates: int, levels: int = 1000, seed: int = BOOK_SEED) -> BookWorkload:
    """Build a book of ``levels`` levels a side around 60000.00 and ``n_updates`` updates.

    Updates hit a level whose rank from the top is exponential with mean 6 (the top of the book
    is where venues send most changes). 70% change the size of an existing level, 15% insert a
    new level and 15% delete one; inserts and deletes lean toward keeping ``levels`` levels.
    Inserts may improve the best price but never reach the other side, so no update crosses.
    """
    rng = random.Random(seed)
    rnd = rng.random
    best_bid = 5_999_999  # ticks: 59999.99
    best_ask = 6_000_000  # 60000.00
    # Keys are arranged so that the best level is last: bids by price ascending, asks by
    # negated price ascending (the same layout as OrderBook, so the model is easy to check).
    bid_keys = sorted(best_bid - d for d in _initial_side(rng, levels))
    ask_keys = sorted(-(best_ask + d) for d in _initial_side(rng, levels))
    bid_sizes = {k: _size_steps(rng) for k in bid_keys}
    ask_sizes = {k: _size_steps(rng) for k in ask_keys}
    initial_bids = {k * _TICK_RAW: s * _STEP_RAW for k, s in bid_sizes.items()}
    initial_asks = {-k * _TICK_RAW: s * _STEP_RAW for k, s in ask_sizes.items()}

    kinds = {"change": 0, "insert": 0, "delete": 0}
    updates: list[tuple[OrderSide, int, int]] = []
    append = updates.append
    buy, sell = OrderSide.BUY, OrderSide.SELL
    for _ in range(n_updates):
        is_bid = rnd() < 0.5
        keys, sizes = (bid_keys, bid_sizes) if is_bid else (ask_keys, ask_sizes)
        other_best = ask_keys[-1] if is_bid else bid_keys[-1]  # in the other side's key space
        rank = min(int(-math.log(1.0 - rnd()) * 6), len(keys) - 1)
        free: int | None = None
        delete = False
        if rnd() >= 0.70:  # 30% structural: insert or delete, leaning toward ``levels`` levels
            lean = 0.5 + (levels - len(keys)) / 100
            if rnd() < min(max(lean, 0.05), 0.95):
                free = _free_key(rng, keys, sizes, other_best)
            else:
                delete = len(keys) > 1
        if free is not None:
            kind = "insert"
            key = free
            size = _size_steps(rng)
            sizes[key] = size
            insort(keys, key)
        elif delete:
            kind = "delete"
            key = keys[-1 - rank]
            del sizes[key]
            del keys[bisect_left(keys, key)]
            size = 0
        else:  # a size change (also the fallback when no free price was found)
            kind = "change"
            key = keys[-1 - rank]
            size = _size_steps(rng)
            while size == sizes[key]:
                size = _size_steps(rng)
            sizes[key] = size
        kinds[kind] += 1
        price_ticks = key if is_bid else -key
        append((buy if is_bid else sell, price_ticks * _TICK_RAW, size * _STEP_RAW))
    return BookWorkload(initial_bids, initial_asks, updates, kinds)


def _free_key(rng: random.Random, keys: list[int], sizes: dict[int, int], other_best: int) -> int | None:
    """A key with no level, near the top; one in ten tries improves the best inside the spread."""
    best = keys[-1]
    # The other side's best, in this side's key space, is -other_best; stay strictly below it.
    limit = -other_best
    for _ in range(20):
        if rng.random() < 0.1:
            key = best + 1
        else:
            key = best - int(-math.log(1.0 - rng.random()) * 10)
        if key < limit and key not in sizes:
            return key
    return None


def trade_ticks(instrument: Instrument, n: int, seed: int = TRADES_SEED) -> list[TradeTick]:
    """``n`` BTCUSDT trades: a random walk on the 0.01 tick from 60000.00, 1-3 ms apart.

    Each step is 0 (40%), one tick up or down (25% each) or 2-5 ticks up or down (5% each); the
    aggressor follows the move (a random side when flat). Sizes are log-uniform from 0.00001 to
    ~1 BTC. Trade ids count up from 3,000,000,000 like Binance's. Prices and sizes are built
    once per distinct value and shared, as a loader's cache does.
    """
    rng = random.Random(seed)
    rnd = rng.random
    iid = instrument.id
    pp, sp = instrument.price_precision, instrument.size_precision
    prices: dict[int, Price] = {}
    sizes: dict[int, Quantity] = {}
    buyer, seller = AggressorSide.BUYER, AggressorSide.SELLER
    ticks: list[TradeTick] = []
    append = ticks.append
    price = 6_000_000
    ts = _START_NS
    trade_id = 3_000_000_000
    for _ in repeat(None, n):
        r = rnd()
        if r < 0.40:
            step = 0
        elif r < 0.65:
            step = 1
        elif r < 0.90:
            step = -1
        elif r < 0.95:
            step = 2 + int(rnd() * 4)
        else:
            step = -2 - int(rnd() * 4)
        price += step
        if step > 0:
            side = buyer
        elif step < 0:
            side = seller
        else:
            side = buyer if rnd() < 0.5 else seller
        ts += 1_000_000 + int(rnd() * 2_000_001)
        raw = price * _TICK_RAW
        px = prices.get(raw)
        if px is None:
            px = prices[raw] = Price(raw, pp)
        size_raw = (1 + int(10 ** (rnd() * 5))) * _STEP_RAW
        qty = sizes.get(size_raw)
        if qty is None:
            qty = sizes[size_raw] = Quantity(size_raw, sp)
        trade_id += 1
        append(TradeTick(iid, px, qty, side, TradeId(str(trade_id)), ts, ts))
    return ticks


def iter_chunks(items: list[tuple[OrderSide, int, int]], size: int) -> Iterator[list[tuple[OrderSide, int, int]]]:
    """Cut ``items`` into consecutive lists of ``size`` (the last may be shorter)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
