"""Slippage and impact: book walks checked against VWAPs computed by hand from real snapshots.

The snapshots are Binance REST depth responses (see shared/data/real/SOURCES.md): BTCUSDT,
1000 levels a side, from the hftbacktest capture of 2024-08-08, and four 2021 snapshots
(NKNUSDT, BLZETH, LRCBTC, RUNEEUR) from cryptofeed's recorded sessions. Expected values
are computed from the JSON strings with Decimal, never through the book.
"""

from __future__ import annotations

import gzip
import json
import os
from decimal import ROUND_HALF_EVEN, Context, Decimal
from pathlib import Path
from typing import Any

import pytest

from bot4.core.errors import InvalidInputError
from bot4.core.ids import InstrumentId
from bot4.core.numbers import FIXED_SCALAR, Price, Quantity
from bot4.costs.slippage import (
    BookWalk,
    EstimateMethod,
    SquareRootImpact,
    estimate_fill,
    slippage_bps,
    walk_book,
)
from bot4.model.book import OrderBook
from bot4.model.data import BookLevel, BookSnapshot
from bot4.model.enums import OrderSide

REPO_ROOT = Path(__file__).resolve().parents[3]
REAL_DATA = REPO_ROOT.parent / "shared" / "data" / "real"
HFT_SPOT = REAL_DATA / "hftbacktest" / "binance_spot" / "btcusdt_20240808.jsonl.gz"
CRYPTOFEED_DEPTH = REAL_DATA / "cryptofeed" / "sample_data" / "BINANCE.http.0.0.txt"

BUY, SELL = OrderSide.BUY, OrderSide.SELL
CTX = Context(prec=28, rounding=ROUND_HALF_EVEN)  # what a 28-digit VWAP division gives


def real(path: Path) -> Path:
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"real data file missing in CI: {path}")
        pytest.skip(f"real data not available: {path}")
    return path


def btcusdt_snapshot() -> dict[str, Any]:
    """The REST depth snapshot inside the hftbacktest capture (its 8th line)."""
    with gzip.open(real(HFT_SPOT), "rt", encoding="utf-8") as lines:
        for line in lines:
            if "lastUpdateId" in line:
                snapshot: dict[str, Any] = json.loads(line.partition(" ")[2])
                return snapshot
    raise AssertionError("capture has no REST depth snapshot")


def cryptofeed_snapshots() -> dict[str, dict[str, Any]]:
    """Symbol -> REST depth snapshot, from lines ``<url> -> <ts>: <json>``."""
    found: dict[str, dict[str, Any]] = {}
    for line in real(CRYPTOFEED_DEPTH).read_text(encoding="utf-8").splitlines():
        url, arrow, rest = line.partition(" -> ")
        if not arrow:
            continue
        symbol = url.split("symbol=")[1].split("&")[0]
        found[symbol] = json.loads(rest.partition(": ")[2])
    return found


def make_book(symbol: str, snapshot: dict[str, Any]) -> OrderBook:
    instrument_id = InstrumentId.from_str(f"{symbol}.BINANCE")

    def levels(rows: list[list[str]]) -> list[BookLevel]:
        return [BookLevel(Price.from_str(p), Quantity.from_str(q)) for p, q in rows]

    book = OrderBook(instrument_id, 8, 8)
    book.apply_snapshot(
        BookSnapshot(instrument_id, levels(snapshot["bids"]), levels(snapshot["asks"]), 1, 0, 0)
    )
    return book


def hand_walk(rows: list[list[str]], side: OrderSide, qty: Decimal) -> tuple[Decimal, Decimal, Decimal, int]:
    """Walk JSON levels by hand: (filled, vwap, worst price, levels touched)."""
    parsed = [(Decimal(p), Decimal(q)) for p, q in rows if Decimal(q) > 0]
    parsed.sort(key=lambda level: level[0], reverse=side is SELL)  # best first
    remaining, notional, filled, worst, touched = qty, Decimal(0), Decimal(0), Decimal(0), 0
    for price, size in parsed:
        if remaining <= 0:
            break
        take = min(size, remaining)
        notional += price * take
        filled += take
        remaining -= take
        worst = price
        touched += 1
    return filled, CTX.divide(notional, filled), worst, touched


def raw(value: str | int | Decimal) -> int:
    return int(Decimal(value) * FIXED_SCALAR)


# -- walk_book on real snapshots ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "qty"),
    [(BUY, "0.5"), (BUY, "2.5"), (BUY, "17.123"), (SELL, "0.5"), (SELL, "4.00001"), (SELL, "25")],
)
def test_walk_book_vwap_equals_hand_computed_vwap_on_binance_btcusdt_snapshot(
    side: OrderSide, qty: str
) -> None:
    snapshot = btcusdt_snapshot()
    book = make_book("BTCUSDT", snapshot)
    rows = snapshot["asks"] if side is BUY else snapshot["bids"]
    filled, vwap, worst, touched = hand_walk(rows, side, Decimal(qty))

    walk = walk_book(book, side, raw(qty))

    assert filled == Decimal(qty)  # the snapshot is deep enough for each size here
    assert walk.filled_raw == raw(qty) and walk.unfilled_raw == 0
    assert walk.vwap == vwap
    assert walk.worst_price == worst
    assert walk.levels == touched
    assert touched == 1 if qty == "0.5" else touched > 1  # 0.5 fits in the best level
    assert walk.vwap == book.vwap(side, raw(qty))


def test_walk_book_first_levels_of_btcusdt_snapshot_by_the_numbers() -> None:
    # asks: 61837.64 x 1.54698, 61837.65 x 0.00843, 61837.68 x 0.00016, ...
    book = make_book("BTCUSDT", btcusdt_snapshot())
    walk = walk_book(book, BUY, raw("1.55"))
    expected = (
        Decimal("61837.64") * Decimal("1.54698")
        + Decimal("61837.65") * Decimal("0.00302")
    ) / Decimal("1.55")
    assert walk.vwap == expected
    assert walk.worst_price == Decimal("61837.65")
    assert walk.levels == 2


@pytest.mark.parametrize("symbol", ["NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR"])
def test_walk_book_vwap_equals_hand_computed_vwap_on_cryptofeed_binance_snapshots(symbol: str) -> None:
    snapshot = cryptofeed_snapshots()[symbol]
    book = make_book(symbol, snapshot)
    for side, rows in ((BUY, snapshot["asks"]), (SELL, snapshot["bids"])):
        depth = sum((Decimal(q) for _, q in rows), Decimal(0))
        for qty in (depth / 7, depth / 2, depth * 2):  # shallow, deep, beyond the whole side
            qty = qty.quantize(Decimal("0.00000001"))
            filled, vwap, worst, touched = hand_walk(rows, side, qty)
            walk = walk_book(book, side, raw(qty))
            assert walk.requested_raw == raw(qty)
            assert walk.filled_raw == raw(filled)
            assert walk.unfilled_raw == raw(qty) - raw(filled)
            assert walk.vwap == vwap, (symbol, side, qty)
            assert walk.worst_price == worst
            assert walk.levels == touched


def test_walk_book_stops_at_the_limit_price() -> None:
    snapshot = btcusdt_snapshot()
    book = make_book("BTCUSDT", snapshot)
    limit = Decimal("61838")
    rows = [[p, q] for p, q in snapshot["asks"] if Decimal(p) <= limit]
    within = sum((Decimal(q) for _, q in rows), Decimal(0))
    filled, vwap, worst, touched = hand_walk(rows, BUY, Decimal(10))

    walk = walk_book(book, BUY, raw(10), limit_raw=raw(limit))

    assert walk.filled_raw == raw(within) == raw(filled)
    assert walk.unfilled_raw == raw(10) - raw(within)
    assert walk.vwap == vwap and walk.worst_price == worst and walk.levels == touched
    assert walk.worst_price is not None and walk.worst_price <= limit


def test_walk_book_on_empty_side_fills_nothing() -> None:
    book = OrderBook(InstrumentId.from_str("BTCUSDT.BINANCE"), 2, 5)
    assert walk_book(book, BUY, raw(1)) == BookWalk(
        requested_raw=raw(1), filled_raw=0, vwap=None, worst_price=None, levels=0, unfilled_raw=raw(1)
    )


# -- estimate_fill -----------------------------------------------------------------------------


def small_book() -> OrderBook:
    """bids 99 x 1, 98 x 2; asks 101 x 1, 102 x 2: mid 100."""
    instrument_id = InstrumentId.from_str("X.SIM")
    book = OrderBook(instrument_id, 2, 2)
    for side, price, size in ((BUY, "99", "1"), (BUY, "98", "2"), (SELL, "101", "1"), (SELL, "102", "2")):
        book.update(side, raw(price), raw(size))
    return book


def test_estimate_from_book_is_the_walk_vwap_with_slippage_against_the_mid() -> None:
    estimate = estimate_fill(BUY, raw(2), book=small_book())
    assert estimate is not None
    assert estimate.method is EstimateMethod.BOOK and f"{estimate.method}" == "book"
    assert estimate.price == Decimal("101.5")
    assert estimate.reference_mid == Decimal("100")
    assert estimate.slippage_bps == Decimal("150")  # (101.5 - 100) / 100 * 1e4
    assert (estimate.visible_raw, estimate.beyond_raw) == (raw(2), 0)
    assert estimate.is_complete


def test_estimate_on_real_snapshot_matches_hand_computed_slippage() -> None:
    snapshot = btcusdt_snapshot()
    book = make_book("BTCUSDT", snapshot)
    _, vwap, _, _ = hand_walk(snapshot["bids"], SELL, Decimal(3))
    mid = (Decimal(snapshot["bids"][0][0]) + Decimal(snapshot["asks"][0][0])) / 2
    estimate = estimate_fill(SELL, raw(3), book=book)
    assert estimate is not None
    assert estimate.price == vwap
    assert estimate.reference_mid == mid
    assert estimate.slippage_bps == CTX.divide((mid - vwap) * 10_000, mid)
    assert estimate.slippage_bps > 0  # selling through the bids is worse than the mid


def test_estimate_prices_size_beyond_visible_depth_with_the_impact_model() -> None:
    impact = SquareRootImpact(daily_volume_raw=raw(100), coefficient=Decimal("0.1"))
    estimate = estimate_fill(BUY, raw(4), book=small_book(), impact=impact)
    assert estimate is not None
    assert estimate.method is EstimateMethod.BOOK_IMPACT
    assert (estimate.visible_raw, estimate.beyond_raw) == (raw(3), raw(1))
    # the last 1 beyond depth: worst visible ask 102 moved up by 0.1 * sqrt(1/100) = 1%
    assert impact.impact_fraction(raw(1)) == Decimal("0.01")
    expected = (Decimal(101) + Decimal(102) * 2 + Decimal("103.02")) / 4
    assert estimate.price == expected
    assert estimate.slippage_bps == (expected - 100) * 100
    assert estimate.is_complete and estimate.quantity_raw == raw(4)


def test_estimate_sell_beyond_depth_moves_the_remainder_down() -> None:
    impact = SquareRootImpact(daily_volume_raw=raw(100))
    estimate = estimate_fill(SELL, raw(4), book=small_book(), impact=impact)
    assert estimate is not None
    expected = (Decimal(99) + Decimal(98) * 2 + Decimal("97.02")) / 4
    assert estimate.price == expected
    assert estimate.slippage_bps == (100 - expected) * 100 > 0


def test_estimate_beyond_depth_without_impact_covers_only_the_visible_part() -> None:
    estimate = estimate_fill(BUY, raw(10), book=small_book())
    assert estimate is not None
    assert estimate.method is EstimateMethod.BOOK
    assert (estimate.visible_raw, estimate.beyond_raw) == (raw(3), raw(7))
    assert estimate.price == CTX.divide(Decimal(305), Decimal(3))
    assert not estimate.is_complete and estimate.quantity_raw == raw(3)


def test_estimate_without_book_uses_reference_mid_and_impact_only() -> None:
    impact = SquareRootImpact(daily_volume_raw=raw(10_000), coefficient=Decimal("0.2"))
    buy = estimate_fill(BUY, raw(25), book=None, reference_mid=Decimal("60000"), impact=impact)
    sell = estimate_fill(SELL, raw(25), book=None, reference_mid=Decimal("60000"), impact=impact)
    assert buy is not None and sell is not None
    # 0.2 * sqrt(25 / 10000) = 0.01
    assert buy.price == Decimal("60600") and sell.price == Decimal("59400")
    assert buy.slippage_bps == sell.slippage_bps == Decimal(100)
    assert buy.method is EstimateMethod.IMPACT and (buy.visible_raw, buy.beyond_raw) == (0, raw(25))


def test_estimate_on_empty_book_uses_impact_from_the_reference_mid() -> None:
    empty = OrderBook(InstrumentId.from_str("X.SIM"), 2, 2)
    impact = SquareRootImpact(daily_volume_raw=raw(100))
    estimate = estimate_fill(BUY, raw(1), book=empty, reference_mid=Decimal(100), impact=impact)
    assert estimate is not None and estimate.method is EstimateMethod.IMPACT
    assert estimate.price == Decimal(101)


def test_estimate_is_none_without_liquidity_or_impact() -> None:
    empty = OrderBook(InstrumentId.from_str("X.SIM"), 2, 2)
    impact = SquareRootImpact(daily_volume_raw=raw(100))
    assert estimate_fill(BUY, raw(1), book=empty) is None
    assert estimate_fill(SELL, raw(1), book=empty, reference_mid=Decimal(100)) is None
    assert estimate_fill(BUY, raw(1), book=None) is None
    assert estimate_fill(BUY, raw(1), book=None, reference_mid=Decimal(100)) is None
    assert estimate_fill(BUY, raw(1), book=None, impact=impact) is None  # nothing to move from
    assert estimate_fill(BUY, raw(1), book=empty, impact=impact) is None


def test_estimate_of_zero_quantity_is_the_touch() -> None:
    estimate = estimate_fill(SELL, 0, book=small_book())
    assert estimate is not None
    assert estimate.price == Decimal(99) and estimate.slippage_bps == Decimal(100)
    assert (estimate.visible_raw, estimate.beyond_raw) == (0, 0)


def test_sell_impact_is_capped_so_price_stays_non_negative() -> None:
    impact = SquareRootImpact(daily_volume_raw=raw(1), coefficient=Decimal(1))
    estimate = estimate_fill(SELL, raw(4), book=None, reference_mid=Decimal(100), impact=impact)
    assert estimate is not None and estimate.price == 0


# -- slippage sign and bad input ---------------------------------------------------------------


def test_slippage_bps_is_positive_when_worse_for_the_taker() -> None:
    mid = Decimal("100")
    assert slippage_bps(BUY, Decimal("100.5"), mid) == Decimal(50)
    assert slippage_bps(BUY, Decimal("99.5"), mid) == Decimal(-50)
    assert slippage_bps(SELL, Decimal("99.5"), mid) == Decimal(50)
    assert slippage_bps(SELL, Decimal("100.5"), mid) == Decimal(-50)
    assert slippage_bps(SELL, mid, mid) == 0


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity", "0", "-1"])
def test_bad_prices_raise_invalid_input_naming_the_value(bad: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        slippage_bps(BUY, Decimal(bad), Decimal(100))
    assert caught.value.context["fill_price"] == bad
    with pytest.raises(InvalidInputError) as caught:
        slippage_bps(BUY, Decimal(100), Decimal(bad))
    assert caught.value.context["arrival_mid"] == bad
    with pytest.raises(InvalidInputError) as caught:
        estimate_fill(BUY, raw(1), book=small_book(), reference_mid=Decimal(bad))
    assert caught.value.context["reference_mid"] == bad


def test_negative_quantity_raises_invalid_input() -> None:
    with pytest.raises(InvalidInputError) as caught:
        estimate_fill(BUY, -1, book=small_book())
    assert caught.value.context["quantity_raw"] == -1
    with pytest.raises(InvalidInputError):
        walk_book(small_book(), SELL, -5)
    with pytest.raises(InvalidInputError):
        SquareRootImpact(daily_volume_raw=raw(1)).impact_fraction(-1)


def test_impact_model_rejects_non_positive_volume_and_negative_coefficient() -> None:
    with pytest.raises(InvalidInputError):
        SquareRootImpact(daily_volume_raw=0)
    with pytest.raises(InvalidInputError):
        SquareRootImpact(daily_volume_raw=raw(1), coefficient=Decimal("-0.1"))
    with pytest.raises(InvalidInputError):
        SquareRootImpact(daily_volume_raw=raw(1), coefficient=Decimal("NaN"))
