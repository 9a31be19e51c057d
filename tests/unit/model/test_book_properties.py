"""Property tests: the book against a plain-dict reference model, under random updates."""

from __future__ import annotations

from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from bot4.core.ids import InstrumentId
from bot4.core.numbers import Price, Quantity
from bot4.model.book import OrderBook
from bot4.model.data import BookDelta, BookDeltas, BookLevel, BookSnapshot
from bot4.model.enums import BookAction, OrderSide

BUY = OrderSide.BUY
SELL = OrderSide.SELL
IID = InstrumentId.from_str("BTCUSDT.BINANCE")
TICK = 10_000_000  # 0.01 in raw units
BASE = 60_000 * 10**9

# Few distinct prices so that updates hit existing levels, deletes hit present levels and
# sides overlap; sizes include 0 (remove) and values large enough to exercise big ints.
sides = st.sampled_from([BUY, SELL])
prices = st.integers(min_value=0, max_value=40).map(lambda i: BASE + i * TICK)
sizes = st.one_of(st.just(0), st.integers(min_value=1, max_value=10**12))
updates = st.lists(st.tuples(sides, prices, sizes), max_size=80)


class Reference:
    """The obviously-correct model: one dict per side, sorted on every read."""

    def __init__(self) -> None:
        self.sides: dict[OrderSide, dict[int, int]] = {BUY: {}, SELL: {}}

    def update(self, side: OrderSide, price: int, size: int) -> None:
        if size:
            self.sides[side][price] = size
        else:
            self.sides[side].pop(price, None)

    def levels(self, side: OrderSide) -> list[tuple[int, int]]:
        return sorted(self.sides[side].items(), reverse=side is BUY)

    def best(self, side: OrderSide) -> int | None:
        levels = self.levels(side)
        return levels[0][0] if levels else None

    def walk(self, side: OrderSide, qty: int, limit: int | None) -> tuple[int, int]:
        filled = notional = 0
        for price, size in self.levels(side.opposite):
            if limit is not None and (price > limit if side is BUY else price < limit):
                break
            take = min(size, qty - filled)
            filled += take
            notional += price * take
        return filled, notional


def assert_same(book: OrderBook, ref: Reference) -> None:
    for side in (BUY, SELL):
        expected = ref.levels(side)
        assert list(book.levels(side)) == expected
        assert book.level_count(side) == len(expected)
        assert book.total_size_raw(side) == sum(size for _, size in expected)
    assert book.best_bid_raw() == ref.best(BUY)
    assert book.best_ask_raw() == ref.best(SELL)
    assert book.best_bid_size_raw() == (ref.levels(BUY)[0][1] if ref.levels(BUY) else 0)
    assert book.best_ask_size_raw() == (ref.levels(SELL)[0][1] if ref.levels(SELL) else 0)


def assert_strictly_ordered(book: OrderBook) -> None:
    bids = [price for price, _ in book.levels(BUY)]
    asks = [price for price, _ in book.levels(SELL)]
    assert all(a > b for a, b in zip(bids, bids[1:], strict=False))
    assert all(a < b for a, b in zip(asks, asks[1:], strict=False))
    assert all(size > 0 for _, size in book.levels(BUY))
    assert all(size > 0 for _, size in book.levels(SELL))


@given(updates)
def test_book_non_crossing_updates_never_cross_and_stay_ordered(
    ops: list[tuple[OrderSide, int, int]],
) -> None:
    book = OrderBook(IID, 2, 5)
    for side, price, size in ops:
        best_bid, best_ask = book.best_bid_raw(), book.best_ask_raw()
        if size and side is BUY and best_ask is not None and price >= best_ask:
            continue
        if size and side is SELL and best_bid is not None and price <= best_bid:
            continue
        book.update(side, price, size)
        assert not book.is_crossed()
        assert_strictly_ordered(book)


@given(updates)
def test_book_random_updates_match_reference_model(ops: list[tuple[OrderSide, int, int]]) -> None:
    book = OrderBook(IID, 2, 5)
    ref = Reference()
    for side, price, size in ops:
        book.update(side, price, size)
        ref.update(side, price, size)
        assert_same(book, ref)
    assert_strictly_ordered(book)


@given(updates, st.integers(min_value=0, max_value=4 * 10**12), st.one_of(st.none(), prices))
def test_book_walk_bounded_by_request_and_depth_at_prices_no_better_than_best(
    ops: list[tuple[OrderSide, int, int]], qty: int, limit: int | None
) -> None:
    book = OrderBook(IID, 2, 5)
    ref = Reference()
    for side, price, size in ops:
        book.update(side, price, size)
        ref.update(side, price, size)
    for taker in (BUY, SELL):
        filled, notional = book.walk(taker, qty, limit)
        assert 0 <= filled <= qty
        assert filled <= book.total_size_raw(taker.opposite)
        assert (filled, notional) == ref.walk(taker, qty, limit)
        if limit is None:
            assert filled == min(qty, book.total_size_raw(taker.opposite))
        if filled == 0:
            assert notional == 0
            continue
        best = book.best_ask_raw() if taker is BUY else book.best_bid_raw()
        worst = ref.levels(taker.opposite)[-1][0]
        assert best is not None
        if taker is BUY:
            # Every unit paid at or above the best ask, at or below the limit and the worst ask.
            assert notional >= best * filled
            assert notional <= worst * filled
            if limit is not None:
                assert notional <= limit * filled
        else:
            assert notional <= best * filled
            assert notional >= worst * filled
            if limit is not None:
                assert notional >= limit * filled


@given(updates, st.integers(min_value=1, max_value=4 * 10**12))
def test_book_vwap_lies_between_best_and_worst_level(
    ops: list[tuple[OrderSide, int, int]], qty: int
) -> None:
    book = OrderBook(IID, 2, 5)
    for side, price, size in ops:
        book.update(side, price, size)
    for taker in (BUY, SELL):
        vwap = book.vwap(taker, qty)
        levels = list(book.levels(taker.opposite))
        if not levels:
            assert vwap is None
            continue
        assert vwap is not None
        low, high = sorted((levels[0][0], levels[-1][0]))
        assert Price(low, 9).as_decimal() <= vwap <= Price(high, 9).as_decimal()


actions = st.sampled_from([BookAction.ADD, BookAction.UPDATE, BookAction.DELETE])
# CLEAR wipes the book, so keep it rare inside batches or books never grow.
batch_actions = st.sampled_from(
    [*[BookAction.ADD, BookAction.UPDATE, BookAction.DELETE] * 5, BookAction.CLEAR]
)


def make_delta(action: BookAction, side: OrderSide, price: int, size: int, seq: int) -> BookDelta:
    return BookDelta(IID, action, side, Price(price, 2), Quantity(size, 5), seq, seq * 10, 0)


class BookMachine(RuleBasedStateMachine):
    """Drive every mutating entry point in random order; the book must equal the reference."""

    def __init__(self) -> None:
        super().__init__()
        self.book = OrderBook(IID, 2, 5)
        self.ref = Reference()
        self.seq = 0
        self.count = 0

    def _apply_ref(self, action: BookAction, side: OrderSide, price: int, size: int) -> None:
        if action is BookAction.CLEAR:
            self.ref = Reference()
        else:
            self.ref.update(side, price, 0 if action is BookAction.DELETE else size)

    @rule(side=sides, price=prices, size=sizes)
    def update(self, side: OrderSide, price: int, size: int) -> None:
        self.book.update(side, price, size)
        self.ref.update(side, price, size)

    @rule(action=actions, side=sides, price=prices, size=sizes)
    def apply_delta(self, action: BookAction, side: OrderSide, price: int, size: int) -> None:
        self.seq += 1
        self.book.apply_delta(make_delta(action, side, price, size, self.seq))
        self._apply_ref(action, side, price, size)
        self.count += 1
        assert self.book.sequence == self.seq
        assert self.book.ts_last == self.seq * 10

    @rule(
        batch=st.lists(
            st.tuples(batch_actions, sides, prices, sizes),
            max_size=12,
        )
    )
    def apply_deltas(self, batch: list[tuple[BookAction, OrderSide, int, int]]) -> None:
        self.seq += 1
        deltas = [make_delta(a, s, p, q, 0) for a, s, p, q in batch]
        self.book.apply_deltas(BookDeltas(IID, deltas, self.seq, self.seq, 5, 5))
        for action, side, price, size in batch:
            self._apply_ref(action, side, price, size)
        self.count += len(batch)
        assert self.book.sequence == self.seq

    @rule(
        bids=st.dictionaries(prices, sizes, max_size=15),
        asks=st.dictionaries(prices, sizes, max_size=15),
    )
    def apply_snapshot(self, bids: dict[int, int], asks: dict[int, int]) -> None:
        self.seq += 1
        snapshot = BookSnapshot(
            IID,
            [BookLevel(Price(p, 2), Quantity(q, 5)) for p, q in bids.items()],
            [BookLevel(Price(p, 2), Quantity(q, 5)) for p, q in asks.items()],
            self.seq,
            0,
            0,
        )
        self.book.apply_snapshot(snapshot)
        self.ref = Reference()
        for side, levels in ((BUY, bids), (SELL, asks)):
            for price, size in levels.items():
                self.ref.update(side, price, size)
        self.count += 1

    @rule(roll=st.integers(min_value=0, max_value=9))
    def clear(self, roll: int) -> None:
        if roll == 0:  # one time in ten: a rule of its own would empty the book too often
            self.book.clear()
            self.ref = Reference()

    @invariant()
    def matches_reference(self) -> None:
        assert_same(self.book, self.ref)
        assert self.book.update_count == self.count

    @invariant()
    def crossed_agrees_with_best_prices(self) -> None:
        bid, ask = self.ref.best(BUY), self.ref.best(SELL)
        assert self.book.is_crossed() == (bid is not None and ask is not None and bid >= ask)


# No explain phase: on a failure it re-runs the machine for minutes, past pytest's timeout.
BookMachine.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=50,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
)
test_book_machine_matches_reference_model = BookMachine.TestCase
