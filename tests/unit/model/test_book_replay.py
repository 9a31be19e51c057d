"""Replay a real Binance spot capture through the book and check it against bookTicker.

The capture (hftbacktest, BTCUSDT 2024-08-08, see shared/data/real/SOURCES.md) holds the
``@depth@100ms`` diff stream, the ``@bookTicker`` stream and one REST depth snapshot inserted
in-stream. Binance's sync recipe: buffer diffs from the stream start, drop those with
``u <= lastUpdateId``, the first applied one must straddle ``lastUpdateId + 1`` and each next
one must start at the previous ``u + 1``. A bookTicker whose update id ``u`` equals a diff's
final ``u`` describes the very book state after that diff, so its best bid/ask (price and size)
must equal the book's; that is an exact, timing-independent check.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

import pytest

from bot4.core.ids import InstrumentId
from bot4.core.numbers import Price, Quantity
from bot4.model.book import OrderBook
from bot4.model.data import BookDelta, BookDeltas, BookLevel, BookSnapshot
from bot4.model.enums import BookAction, OrderSide

REPO_ROOT = Path(__file__).resolve().parents[3]
REAL_DATA = REPO_ROOT.parent / "shared" / "data" / "real"
CAPTURE = REAL_DATA / "hftbacktest" / "binance_spot" / "btcusdt_20240808.jsonl.gz"
BTCUSDT = InstrumentId.from_str("BTCUSDT.BINANCE")


def load_capture() -> tuple[dict[str, Any], list[dict[str, Any]], dict[int, dict[str, Any]]]:
    """Return the REST snapshot, every depth diff in arrival order and bookTickers by ``u``."""
    if not CAPTURE.exists():
        if os.environ.get("CI"):
            pytest.fail(f"real-data capture missing in CI: {CAPTURE}")
        pytest.skip(f"real-data capture not present: {CAPTURE}")
    snapshot: dict[str, Any] | None = None
    diffs: list[dict[str, Any]] = []
    tickers: dict[int, dict[str, Any]] = {}
    with gzip.open(CAPTURE, "rt", encoding="utf-8") as lines:
        for line in lines:
            _local_ns, _, payload = line.partition(" ")
            message = json.loads(payload)
            if "lastUpdateId" in message:
                snapshot = message
                continue
            data = message["data"]
            if message["stream"].endswith("@bookTicker"):
                tickers[data["u"]] = data
            elif data.get("e") == "depthUpdate":
                diffs.append(data)
    assert snapshot is not None, "capture has no REST depth snapshot"
    return snapshot, diffs, tickers


def to_levels(rows: list[list[str]]) -> list[BookLevel]:
    return [BookLevel(Price.from_str(p), Quantity.from_str(q)) for p, q in rows]


def to_deltas(diff: dict[str, Any]) -> BookDeltas:
    deltas = []
    for side, key in ((OrderSide.BUY, "b"), (OrderSide.SELL, "a")):
        for price, size in diff[key]:
            quantity = Quantity.from_str(size)
            action = BookAction.DELETE if quantity.is_zero() else BookAction.UPDATE
            deltas.append(
                BookDelta(
                    BTCUSDT,
                    action,
                    side,
                    Price.from_str(price),
                    quantity,
                    diff["u"],
                    diff["E"] * 1_000_000,
                    diff["E"] * 1_000_000,
                )
            )
    ts = diff["E"] * 1_000_000
    return BookDeltas(BTCUSDT, deltas, diff["U"], diff["u"], ts, ts)


def test_book_binance_replay_best_matches_every_bookticker_at_same_update_id() -> None:
    rest, diffs, tickers = load_capture()
    last_update_id = rest["lastUpdateId"]
    book = OrderBook(BTCUSDT, 2, 5)
    book.apply_snapshot(
        BookSnapshot(
            BTCUSDT, to_levels(rest["bids"]), to_levels(rest["asks"]), last_update_id, 0, 0
        )
    )
    assert book.level_count(OrderSide.BUY) == len(rest["bids"])

    pending = [d for d in diffs if d["u"] > last_update_id]
    first = pending[0]
    assert first["U"] <= last_update_id + 1 <= first["u"], "first diff must straddle the snapshot"

    compared = 0
    mismatches: list[str] = []
    previous_u = last_update_id
    for diff in pending:
        if diff is not first:
            assert diff["U"] == previous_u + 1, f"gap in diff stream before U={diff['U']}"
        book.apply_deltas(to_deltas(diff))
        previous_u = diff["u"]
        assert book.sequence == diff["u"]
        assert not book.is_crossed()
        ticker = tickers.get(diff["u"])
        if ticker is None:
            continue
        compared += 1
        expected = (
            Price.from_str(ticker["b"]).raw,
            Quantity.from_str(ticker["B"]).raw,
            Price.from_str(ticker["a"]).raw,
            Quantity.from_str(ticker["A"]).raw,
        )
        found = (
            book.best_bid_raw(),
            book.best_bid_size_raw(),
            book.best_ask_raw(),
            book.best_ask_size_raw(),
        )
        if found != expected:
            mismatches.append(f"u={diff['u']}: book {found} != bookTicker {expected}")

    assert len(pending) > 3_000
    assert compared > 500
    assert mismatches == []
    assert book.update_count == 1 + sum(len(d["b"]) + len(d["a"]) for d in pending)
