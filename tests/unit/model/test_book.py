"""Unit tests for the L2 order book: every public method, with hand-computed expectations."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot4.core.errors import InvalidDataError, InvalidInputError
from bot4.core.ids import InstrumentId
from bot4.core.numbers import Price, Quantity
from bot4.model.book import OrderBook
from bot4.model.data import BookDelta, BookDeltas, BookLevel, BookSnapshot, QuoteTick
from bot4.model.enums import BookAction, OrderSide

BUY = OrderSide.BUY
SELL = OrderSide.SELL
BTCUSDT = InstrumentId.from_str("BTCUSDT.BINANCE")
ETHUSDT = InstrumentId.from_str("ETHUSDT.BINANCE")


def px(text: str) -> int:
    return Price.from_str(text).raw


def qty(text: str) -> int:
    return Quantity.from_str(text).raw


def level(price: str, size: str) -> BookLevel:
    return BookLevel(Price.of(price, 2), Quantity.of(size, 5))


def delta(
    action: BookAction,
    side: OrderSide,
    price: str,
    size: str,
    sequence: int = 0,
    ts_event: int = 0,
) -> BookDelta:
    return BookDelta(
        BTCUSDT, action, side, Price.of(price, 2), Quantity.of(size, 5), sequence, ts_event, 0
    )


def snapshot(
    bids: list[tuple[str, str]], asks: list[tuple[str, str]], sequence: int = 7
) -> BookSnapshot:
    return BookSnapshot(
        BTCUSDT,
        [level(p, s) for p, s in bids],
        [level(p, s) for p, s in asks],
        sequence,
        1_000,
        2_000,
    )


def quote(bid: str, ask: str, bid_size: str = "1", ask_size: str = "2") -> QuoteTick:
    return QuoteTick(
        BTCUSDT,
        Price.of(bid, 2),
        Price.of(ask, 2),
        Quantity.of(bid_size, 5),
        Quantity.of(ask_size, 5),
        5_000,
        6_000,
    )


@pytest.fixture
def book() -> OrderBook:
    """Three levels a side around 100.00/100.10."""
    b = OrderBook(BTCUSDT, 2, 5)
    b.apply_snapshot(
        snapshot(
            bids=[("100.00", "1"), ("99.90", "2"), ("99.50", "3")],
            asks=[("100.10", "1.5"), ("100.20", "2.5"), ("101.00", "4")],
        )
    )
    return b


# -- construction and repr ---------------------------------------------------------------


def test_book_new_is_empty_with_zero_counters() -> None:
    b = OrderBook(BTCUSDT, 2, 5)
    assert (b.instrument_id, b.price_precision, b.size_precision) == (BTCUSDT, 2, 5)
    assert (b.sequence, b.ts_last, b.update_count) == (0, 0, 0)
    assert b.best_bid_raw() is None and b.best_ask_raw() is None
    assert b.best_bid_size_raw() == 0 and b.best_ask_size_raw() == 0
    assert b.best_bid_price() is None and b.best_ask_price() is None
    assert b.best_bid_size() is None and b.best_ask_size() is None
    assert b.spread_raw() is None and b.spread() is None
    assert b.mid_raw() is None and b.mid() is None
    assert not b.is_crossed()
    assert list(b.levels(BUY)) == [] and b.depth(SELL, 5) == []
    assert b.level_count(BUY) == 0 and b.total_size_raw(SELL) == 0


def test_book_uses_slots_without_instance_dict() -> None:
    assert not hasattr(OrderBook(BTCUSDT, 2, 5), "__dict__")


def test_book_repr_names_instrument_levels_and_best(book: OrderBook) -> None:
    text = repr(book)
    assert text.startswith("OrderBook(BTCUSDT.BINANCE")
    assert "bids=3" in text and "asks=3" in text and f"{px('100.00')}/{px('100.10')}" in text


# -- update (raw fast path) --------------------------------------------------------------


def test_update_new_better_bid_becomes_best(book: OrderBook) -> None:
    book.update(BUY, px("100.05"), qty("0.5"))
    assert book.best_bid_raw() == px("100.05")
    assert book.best_bid_size_raw() == qty("0.5")
    assert book.level_count(BUY) == 4


def test_update_existing_level_replaces_size_without_new_level(book: OrderBook) -> None:
    book.update(SELL, px("100.20"), qty("9"))
    assert book.size_at(SELL, px("100.20")) == qty("9")
    assert book.level_count(SELL) == 3


def test_update_zero_size_removes_level_and_next_becomes_best(book: OrderBook) -> None:
    book.update(SELL, px("100.10"), 0)
    assert book.best_ask_raw() == px("100.20")
    assert book.size_at(SELL, px("100.10")) == 0
    assert book.level_count(SELL) == 2


def test_update_zero_size_for_missing_level_is_noop(book: OrderBook) -> None:
    book.update(BUY, px("42.00"), 0)
    assert list(book.levels(BUY)) == [
        (px("100.00"), qty("1")),
        (px("99.90"), qty("2")),
        (px("99.50"), qty("3")),
    ]


def test_update_negative_size_raises_invalid_data_with_context_and_keeps_book(
    book: OrderBook,
) -> None:
    with pytest.raises(InvalidDataError) as info:
        book.update(BUY, px("100.00"), -1)
    assert info.value.context["instrument"] == "BTCUSDT.BINANCE"
    assert info.value.context["size_raw"] == -1
    assert info.value.context["side"] == "BUY"
    assert book.best_bid_size_raw() == qty("1")


def test_update_unknown_side_raises_invalid_data(book: OrderBook) -> None:
    with pytest.raises(InvalidDataError):
        book.update(0, px("1.00"), 1)  # type: ignore[arg-type]


def test_update_does_not_touch_counters(book: OrderBook) -> None:
    before = (book.sequence, book.ts_last, book.update_count)
    book.update(BUY, px("99.00"), 1)
    assert (book.sequence, book.ts_last, book.update_count) == before


def test_update_emptying_a_side_leaves_no_best() -> None:
    b = OrderBook(BTCUSDT, 2, 5)
    b.update(SELL, px("10.00"), 1)
    b.update(SELL, px("10.00"), 0)
    assert b.best_ask_raw() is None and b.best_ask_size_raw() == 0 and b.level_count(SELL) == 0


# -- apply_delta / apply_deltas ----------------------------------------------------------


def test_apply_delta_add_sets_level_and_counters(book: OrderBook) -> None:
    book.apply_delta(delta(BookAction.ADD, BUY, "99.95", "0.25", sequence=11, ts_event=123))
    assert book.size_at(BUY, px("99.95")) == qty("0.25")
    assert (book.sequence, book.ts_last, book.update_count) == (11, 123, 2)


def test_apply_delta_update_replaces_size(book: OrderBook) -> None:
    book.apply_delta(delta(BookAction.UPDATE, SELL, "100.10", "0.75"))
    assert book.best_ask_size_raw() == qty("0.75")


def test_apply_delta_update_with_zero_size_removes_level(book: OrderBook) -> None:
    book.apply_delta(delta(BookAction.UPDATE, BUY, "100.00", "0"))
    assert book.best_bid_raw() == px("99.90")


def test_apply_delta_delete_removes_level_whatever_size_it_carries(book: OrderBook) -> None:
    book.apply_delta(delta(BookAction.DELETE, SELL, "100.10", "1.5"))
    assert book.best_ask_raw() == px("100.20")
    assert book.level_count(SELL) == 2


def test_apply_delta_clear_empties_both_sides(book: OrderBook) -> None:
    book.apply_delta(delta(BookAction.CLEAR, BUY, "0", "0", sequence=12, ts_event=9))
    assert book.level_count(BUY) == 0 and book.level_count(SELL) == 0
    assert (book.sequence, book.ts_last) == (12, 9)


def test_apply_delta_zero_sequence_keeps_previous_sequence(book: OrderBook) -> None:
    book.apply_delta(delta(BookAction.ADD, BUY, "99.00", "1", sequence=0, ts_event=50))
    assert book.sequence == 7
    assert book.ts_last == 50


def test_apply_delta_other_instrument_raises_invalid_data(book: OrderBook) -> None:
    other = BookDelta(ETHUSDT, BookAction.ADD, BUY, Price.of("1", 2), Quantity.of("1", 5), 0, 0, 0)
    with pytest.raises(InvalidDataError) as info:
        book.apply_delta(other)
    assert info.value.context == {"expected": "BTCUSDT.BINANCE", "found": "ETHUSDT.BINANCE"}
    assert book.size_at(BUY, px("1")) == 0


def test_apply_delta_equal_but_distinct_instrument_id_is_accepted(book: OrderBook) -> None:
    same = InstrumentId.from_str("BTCUSDT.BINANCE")
    book.apply_delta(
        BookDelta(same, BookAction.ADD, BUY, Price.of("99", 2), Quantity.of("1", 5), 0, 0, 0)
    )
    assert book.size_at(BUY, px("99")) == qty("1")


def test_apply_deltas_applies_in_order_and_takes_message_sequence(book: OrderBook) -> None:
    deltas = BookDeltas(
        BTCUSDT,
        [
            delta(BookAction.ADD, BUY, "100.05", "1"),
            delta(BookAction.UPDATE, BUY, "100.05", "3"),  # later wins
            delta(BookAction.DELETE, SELL, "100.10", "0"),
            delta(BookAction.UPDATE, SELL, "100.15", "2"),
            delta(BookAction.UPDATE, SELL, "555.55", "0"),  # absent: no-op
        ],
        first_sequence=8,
        sequence=12,
        ts_event=777,
        ts_init=778,
    )
    book.apply_deltas(deltas)
    assert book.best_bid_raw() == px("100.05") and book.best_bid_size_raw() == qty("3")
    assert book.best_ask_raw() == px("100.15") and book.best_ask_size_raw() == qty("2")
    assert (book.sequence, book.ts_last, book.update_count) == (12, 777, 6)


def test_apply_deltas_removing_inner_levels_keeps_the_others(book: OrderBook) -> None:
    deltas = BookDeltas(
        BTCUSDT,
        [
            delta(BookAction.DELETE, BUY, "99.90", "2"),
            delta(BookAction.UPDATE, SELL, "100.20", "0"),
        ],
        0,
        9,
        1,
        1,
    )
    book.apply_deltas(deltas)
    assert list(book.levels(BUY)) == [(px("100.00"), qty("1")), (px("99.50"), qty("3"))]
    assert list(book.levels(SELL)) == [(px("100.10"), qty("1.5")), (px("101.00"), qty("4"))]


def test_update_removing_inner_levels_keeps_the_others(book: OrderBook) -> None:
    book.update(BUY, px("99.90"), 0)
    book.update(SELL, px("100.20"), 0)
    assert [p for p, _ in book.levels(BUY)] == [px("100.00"), px("99.50")]
    assert [p for p, _ in book.levels(SELL)] == [px("100.10"), px("101.00")]


def test_apply_deltas_clear_in_the_middle_drops_levels_before_it(book: OrderBook) -> None:
    deltas = BookDeltas(
        BTCUSDT,
        [
            delta(BookAction.ADD, BUY, "100.05", "1"),
            delta(BookAction.CLEAR, BUY, "0", "0"),
            delta(BookAction.ADD, SELL, "200.00", "1"),
        ],
        0,
        20,
        1,
        1,
    )
    book.apply_deltas(deltas)
    assert book.level_count(BUY) == 0
    assert list(book.levels(SELL)) == [(px("200.00"), qty("1"))]


def test_apply_deltas_negative_size_raises_after_applying_earlier_deltas(book: OrderBook) -> None:
    bad = BookDelta(
        BTCUSDT, BookAction.UPDATE, SELL, Price.of("100.30", 2), Quantity(-5, 5), 0, 0, 0
    )
    deltas = BookDeltas(BTCUSDT, [delta(BookAction.ADD, BUY, "99.99", "1"), bad], 0, 30, 1, 1)
    with pytest.raises(InvalidDataError) as info:
        book.apply_deltas(deltas)
    assert info.value.context["side"] == "SELL"
    assert book.size_at(BUY, px("99.99")) == qty("1")
    assert book.size_at(SELL, px("100.30")) == 0


def test_apply_deltas_other_instrument_raises_before_applying(book: OrderBook) -> None:
    deltas = BookDeltas(ETHUSDT, [delta(BookAction.ADD, BUY, "99.99", "1")], 0, 30, 1, 1)
    with pytest.raises(InvalidDataError):
        book.apply_deltas(deltas)
    assert book.size_at(BUY, px("99.99")) == 0


def test_apply_deltas_zero_sequence_keeps_previous_sequence(book: OrderBook) -> None:
    book.apply_deltas(BookDeltas(BTCUSDT, [], 0, 0, 5, 5))
    assert book.sequence == 7 and book.ts_last == 5 and book.update_count == 1


# -- snapshot, quote, clear --------------------------------------------------------------


def test_apply_snapshot_sets_levels_sorted_and_counters(book: OrderBook) -> None:
    assert book.depth(BUY, 10) == [level("100.00", "1"), level("99.90", "2"), level("99.50", "3")]
    assert book.depth(SELL, 10) == [
        level("100.10", "1.5"),
        level("100.20", "2.5"),
        level("101.00", "4"),
    ]
    assert (book.sequence, book.ts_last, book.update_count) == (7, 1_000, 1)


def test_apply_snapshot_replaces_every_previous_level(book: OrderBook) -> None:
    book.apply_snapshot(snapshot(bids=[("50.00", "1")], asks=[("60.00", "2")], sequence=99))
    assert list(book.levels(BUY)) == [(px("50.00"), qty("1"))]
    assert list(book.levels(SELL)) == [(px("60.00"), qty("2"))]
    assert book.sequence == 99


def test_apply_snapshot_unsorted_input_is_sorted_and_zero_sizes_skipped() -> None:
    b = OrderBook(BTCUSDT, 2, 5)
    b.apply_snapshot(
        snapshot(
            bids=[("1.00", "1"), ("3.00", "3"), ("2.00", "0"), ("2.50", "2")],
            asks=[("9.00", "9"), ("7.00", "7"), ("8.00", "0")],
        )
    )
    assert [p for p, _ in b.levels(BUY)] == [px("3.00"), px("2.50"), px("1.00")]
    assert [p for p, _ in b.levels(SELL)] == [px("7.00"), px("9.00")]


def test_apply_snapshot_negative_size_raises_and_keeps_previous_book(book: OrderBook) -> None:
    bad = BookSnapshot(BTCUSDT, [BookLevel(Price.of("1", 2), Quantity(-1, 5))], [], 50, 0, 0)
    with pytest.raises(InvalidDataError):
        book.apply_snapshot(bad)
    assert book.best_bid_raw() == px("100.00") and book.sequence == 7


def test_apply_snapshot_other_instrument_raises(book: OrderBook) -> None:
    with pytest.raises(InvalidDataError):
        book.apply_snapshot(BookSnapshot(ETHUSDT, [], [], 1, 0, 0))
    assert book.level_count(BUY) == 3


def test_apply_quote_makes_top_of_book_only(book: OrderBook) -> None:
    book.apply_quote(quote("101.00", "101.05", "0.3", "0.4"))
    assert list(book.levels(BUY)) == [(px("101.00"), qty("0.3"))]
    assert list(book.levels(SELL)) == [(px("101.05"), qty("0.4"))]
    assert book.ts_last == 5_000 and book.update_count == 2 and book.sequence == 7


def test_apply_quote_zero_size_leaves_that_side_empty() -> None:
    b = OrderBook(BTCUSDT, 2, 5)
    b.apply_quote(quote("10.00", "10.01", bid_size="0", ask_size="1"))
    assert b.best_bid_raw() is None and b.best_ask_raw() == px("10.01")


def test_apply_quote_negative_size_raises_and_keeps_book(book: OrderBook) -> None:
    bad = QuoteTick(
        BTCUSDT, Price.of("1", 2), Price.of("2", 2), Quantity(-1, 5), Quantity(1, 5), 0, 0
    )
    with pytest.raises(InvalidDataError):
        book.apply_quote(bad)
    assert book.level_count(BUY) == 3


def test_apply_quote_other_instrument_raises(book: OrderBook) -> None:
    eth = QuoteTick(
        ETHUSDT, Price.of("1", 2), Price.of("2", 2), Quantity(1, 5), Quantity(1, 5), 0, 0
    )
    with pytest.raises(InvalidDataError):
        book.apply_quote(eth)


def test_clear_empties_sides_and_keeps_counters(book: OrderBook) -> None:
    book.clear()
    assert book.level_count(BUY) == 0 and book.level_count(SELL) == 0
    assert book.best_bid_raw() is None and book.best_ask_raw() is None
    assert (book.sequence, book.update_count) == (7, 1)


# -- top of book -------------------------------------------------------------------------


def test_best_typed_values_carry_book_precisions(book: OrderBook) -> None:
    assert book.best_bid_price() == Price.of("100.00", 2)
    assert book.best_ask_price() == Price.of("100.10", 2)
    assert book.best_bid_size() == Quantity.of("1", 5)
    assert book.best_ask_size() == Quantity.of("1.5", 5)


def test_spread_is_ask_minus_bid(book: OrderBook) -> None:
    assert book.spread_raw() == px("0.10")
    assert book.spread() == Price.of("0.10", 2)


def test_spread_one_side_empty_is_none() -> None:
    b = OrderBook(BTCUSDT, 2, 5)
    b.update(BUY, px("1.00"), 1)
    assert b.spread_raw() is None and b.mid() is None and b.mid_raw() is None


def test_mid_half_tick_is_exact_decimal_and_mid_raw_floors() -> None:
    b = OrderBook(BTCUSDT, 2, 5)
    b.update(BUY, px("61837.63"), 1)
    b.update(SELL, px("61837.64"), 1)
    assert b.mid() == Decimal("61837.635")
    assert b.mid_raw() == (px("61837.63") + px("61837.64")) // 2


def test_mid_odd_raw_sum_keeps_the_half_raw_unit() -> None:
    b = OrderBook(BTCUSDT, 9, 9)
    b.update(BUY, 1, 1)
    b.update(SELL, 4, 1)
    assert b.mid() == Decimal("2.5E-9")
    assert b.mid_raw() == 2


def test_mid_huge_values_stay_exact_beyond_28_digits() -> None:
    b = OrderBook(BTCUSDT, 9, 9)
    big = 10**40
    b.update(BUY, big + 1, 1)
    b.update(SELL, big + 2, 1)
    # (2 * big + 3) / 2 raw units = big + 1.5 raw units, 41 significant digits.
    assert b.mid() == Decimal(f"{big + 1}.5E-9")


def test_is_crossed_false_for_normal_book(book: OrderBook) -> None:
    assert not book.is_crossed()


def test_is_crossed_true_when_bid_above_ask(book: OrderBook) -> None:
    book.update(BUY, px("100.15"), 1)
    assert book.is_crossed()
    assert book.spread_raw() == px("100.10") - px("100.15")


def test_is_crossed_true_when_locked(book: OrderBook) -> None:
    book.update(BUY, px("100.10"), 1)
    assert book.is_crossed()


def test_is_crossed_false_with_one_side_empty() -> None:
    b = OrderBook(BTCUSDT, 2, 5)
    b.update(BUY, px("100.00"), 1)
    assert not b.is_crossed()


# -- depth and levels --------------------------------------------------------------------


def test_levels_bids_descending_asks_ascending(book: OrderBook) -> None:
    assert [p for p, _ in book.levels(BUY)] == [px("100.00"), px("99.90"), px("99.50")]
    assert [p for p, _ in book.levels(SELL)] == [px("100.10"), px("100.20"), px("101.00")]


def test_depth_truncates_to_n_and_handles_nonpositive_n(book: OrderBook) -> None:
    assert book.depth(SELL, 2) == [level("100.10", "1.5"), level("100.20", "2.5")]
    assert book.depth(BUY, 0) == []
    assert book.depth(BUY, -3) == []


def test_size_at_present_and_absent_levels(book: OrderBook) -> None:
    assert book.size_at(BUY, px("99.90")) == qty("2")
    assert book.size_at(SELL, px("99.90")) == 0


def test_level_count_and_total_size(book: OrderBook) -> None:
    assert book.level_count(BUY) == 3 and book.level_count(SELL) == 3
    assert book.total_size_raw(BUY) == qty("6")
    assert book.total_size_raw(SELL) == qty("8")


# -- walk and vwap -----------------------------------------------------------------------


def test_walk_buy_within_best_level_fills_at_best(book: OrderBook) -> None:
    assert book.walk(BUY, qty("1")) == (qty("1"), px("100.10") * qty("1"))


def test_walk_buy_consumes_asks_upward(book: OrderBook) -> None:
    filled, notional = book.walk(BUY, qty("3"))
    assert filled == qty("3")
    assert notional == px("100.10") * qty("1.5") + px("100.20") * qty("1.5")


def test_walk_sell_consumes_bids_downward(book: OrderBook) -> None:
    filled, notional = book.walk(SELL, qty("4"))
    assert filled == qty("4")
    assert notional == px("100.00") * qty("1") + px("99.90") * qty("2") + px("99.50") * qty("1")


def test_walk_beyond_depth_fills_what_is_available(book: OrderBook) -> None:
    filled, notional = book.walk(BUY, qty("100"))
    assert filled == qty("8")
    assert notional == (
        px("100.10") * qty("1.5") + px("100.20") * qty("2.5") + px("101.00") * qty("4")
    )


def test_walk_buy_limit_stops_at_levels_above_limit(book: OrderBook) -> None:
    filled, notional = book.walk(BUY, qty("100"), limit_raw=px("100.20"))
    assert filled == qty("4")
    assert notional == px("100.10") * qty("1.5") + px("100.20") * qty("2.5")


def test_walk_sell_limit_stops_at_levels_below_limit(book: OrderBook) -> None:
    assert book.walk(SELL, qty("100"), limit_raw=px("99.95")) == (qty("1"), px("100.00") * qty("1"))


def test_walk_limit_better_than_best_fills_nothing(book: OrderBook) -> None:
    assert book.walk(BUY, qty("1"), limit_raw=px("100.00")) == (0, 0)


def test_walk_zero_quantity_and_empty_book_fill_nothing(book: OrderBook) -> None:
    assert book.walk(BUY, 0) == (0, 0)
    assert OrderBook(BTCUSDT, 2, 5).walk(SELL, qty("1")) == (0, 0)


def test_walk_negative_quantity_raises_invalid_input(book: OrderBook) -> None:
    with pytest.raises(InvalidInputError):
        book.walk(BUY, -1)


def test_walk_does_not_mutate_book(book: OrderBook) -> None:
    before = (list(book.levels(BUY)), list(book.levels(SELL)))
    book.walk(BUY, qty("100"))
    book.walk(SELL, qty("100"))
    assert (list(book.levels(BUY)), list(book.levels(SELL))) == before


def test_vwap_buy_hand_computed(book: OrderBook) -> None:
    # (100.10 * 1.5 + 100.20 * 1.5) / 3 = 100.15
    assert book.vwap(BUY, qty("3")) == Decimal("100.15")


def test_vwap_sell_hand_computed(book: OrderBook) -> None:
    # (100.00 * 1 + 99.90 * 2 + 99.50 * 1) / 4 = 399.30 / 4 = 99.825
    assert book.vwap(SELL, qty("4")) == Decimal("99.825")


def test_vwap_single_level_is_that_price(book: OrderBook) -> None:
    assert book.vwap(SELL, qty("0.5")) == Decimal("100.00")


def test_vwap_insufficient_depth_is_vwap_of_available(book: OrderBook) -> None:
    # (100.10 * 1.5 + 100.20 * 2.5 + 101.00 * 4) / 8 = 804.65 / 8 = 100.58125
    assert book.vwap(BUY, qty("1000")) == Decimal("100.58125")


def test_vwap_non_terminating_quotient_rounds_to_28_digits() -> None:
    b = OrderBook(BTCUSDT, 2, 5)
    b.update(SELL, px("1.00"), qty("1"))
    b.update(SELL, px("2.00"), qty("2"))
    # (1 * 1 + 2 * 2) / 3 = 5/3
    assert b.vwap(BUY, qty("3")) == Decimal("1.666666666666666666666666667")


def test_vwap_nothing_fillable_is_none(book: OrderBook) -> None:
    assert OrderBook(BTCUSDT, 2, 5).vwap(BUY, qty("1")) is None
    assert book.vwap(BUY, 0) is None
