"""BookSync on the real captures: the book equals the stream's own bookTicker throughout.

Binance's bookTicker ``u`` is the order book update id its best bid/ask belong to, and it is
pushed on every change of the top. So after applying a diff that ends at ``u``, the book's
top must equal (a) the bookTicker with that same ``u`` when there is one, and (b) in general
the last bookTicker whose ``u`` is at or before the diff's ``u``. Both are checked for every
diff of both captures, prices and sizes, exactly.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import pytest

from bot4.core.errors import InvalidDataError
from bot4.core.ids import InstrumentId, Venue
from bot4.core.numbers import Currency, Price, Quantity
from bot4.model.data import BookDelta, BookDeltas, BookLevel, BookSnapshot, QuoteTick
from bot4.model.enums import BookAction, OrderSide
from bot4.model.instrument import Instrument
from bot4.model.status import StreamGap, StreamResynced
from bot4.venues.binance import BookSync, ParseProblem, Parser, SyncAction

Top = tuple[int | None, int, int | None, int]


def top_of(sync: BookSync) -> Top:
    book = sync.book
    return (
        book.best_bid_raw(),
        book.best_bid_size_raw(),
        book.best_ask_raw(),
        book.best_ask_size_raw(),
    )


def top_of_quote(quote: QuoteTick) -> Top:
    return (quote.bid_price.raw, quote.bid_size.raw, quote.ask_price.raw, quote.ask_size.raw)


@dataclass
class Replay:
    """What a replay saw: the top after every applied diff, tickers by u, signals, actions."""

    tops: dict[int, Top] = field(default_factory=dict)
    tickers: dict[int, Top] = field(default_factory=dict)
    signals: list[StreamGap | StreamResynced] = field(default_factory=list)
    snapshot_requests: int = 0

    def feed(self, sync: BookSync, item: BookDeltas | BookSnapshot) -> None:
        result = sync.on_diff(item) if isinstance(item, BookDeltas) else sync.on_snapshot(item)
        self.signals.extend(result.signals)
        self.snapshot_requests += result.needs_snapshot
        for applied in result.applied:
            if isinstance(applied, BookDeltas):
                assert sync.book.sequence == applied.sequence
                assert not sync.book.is_crossed()
                self.tops[applied.sequence] = top_of(sync)

    def compare(self) -> tuple[int, int, list[str]]:
        """(exact-u matches, diffs checked against the latest ticker, mismatches)."""
        ids = sorted(self.tickers)
        exact = latest = 0
        mismatches = []
        for u, top in self.tops.items():
            if u in self.tickers:
                exact += 1
            at = bisect.bisect_right(ids, u) - 1
            if at < 0:
                continue
            latest += 1
            if top != self.tickers[ids[at]]:
                mismatches.append(
                    f"u={u}: book {top} != bookTicker u={ids[at]} {self.tickers[ids[at]]}"
                )
        return exact, latest, mismatches


def replay_hft(
    parser: Parser,
    lines,
    instrument: Instrument,
    drop: int | None = None,
    snapshot_at: dict | None = None,
):
    """Feed the capture through parser and BookSync; optionally drop the diff with u == drop
    and, once the diff ending at ``snapshot_at["u"]`` arrived, feed ``snapshot_at["snapshot"]``."""
    sync = BookSync(instrument, stream="btcusdt@depth@100ms")
    replay = Replay()
    for ts_init, raw in lines:
        out = parser.parse_market(raw, ts_init, symbol="BTCUSDT")
        assert not isinstance(out, ParseProblem), out
        for item in out:
            if isinstance(item, QuoteTick):
                replay.tickers[_ticker_u(raw)] = top_of_quote(item)
            elif isinstance(item, BookDeltas | BookSnapshot):
                if isinstance(item, BookDeltas) and item.sequence == drop:
                    continue
                replay.feed(sync, item)
                if (
                    snapshot_at is not None
                    and isinstance(item, BookDeltas)
                    and item.sequence == snapshot_at["u"]
                ):
                    replay.feed(sync, snapshot_at["snapshot"])
    return sync, replay


def _ticker_u(raw: bytes) -> int:
    start = raw.index(b'"u":') + 4
    return int(raw[start : raw.index(b",", start)])


def test_hftbacktest_book_matches_every_book_ticker(parser, hft_lines, instruments):
    sync, replay = replay_hft(parser, hft_lines, instruments["BTCUSDT"])
    assert sync.is_synced
    assert replay.snapshot_requests == 1  # on the first buffered diff
    assert replay.signals == []
    # 3 diffs arrive before the inline snapshot (lastUpdateId 50093239218): two end at or
    # before it and are dropped; the third straddles it and is the first applied.
    assert (sync.stats.applied, sync.stats.stale, sync.stats.gaps) == (3449, 2, 0)
    assert min(replay.tops) == 50093239224
    exact, latest, mismatches = replay.compare()
    assert mismatches == []
    assert exact == 564
    assert latest == 3449  # every applied diff was checked


def test_cryptofeed_books_match_their_book_tickers_for_all_four_symbols(
    parser, cryptofeed_events, instruments
):
    syncs: dict[str, BookSync] = {}
    replays: dict[str, Replay] = {}
    for symbol in ("NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR"):
        syncs[symbol] = BookSync(instruments[symbol])
        replays[symbol] = Replay()
    for ts_init, kind, symbol, raw in cryptofeed_events:
        out = (
            parser.parse_snapshot(raw, symbol, ts_init)
            if kind == "rest"
            else parser.parse_market(raw, ts_init)
        )
        assert not isinstance(out, ParseProblem), out
        for item in out if isinstance(out, list) else [out]:
            name = item.instrument_id.symbol.value
            if isinstance(item, QuoteTick):
                replays[name].tickers[int(raw.split('"u":')[1].split(",")[0])] = top_of_quote(item)
            elif isinstance(item, BookDeltas | BookSnapshot):
                replays[name].feed(syncs[name], item)
    checked = {}
    for symbol, sync in syncs.items():
        replay = replays[symbol]
        assert sync.is_synced, symbol
        assert (sync.stats.gaps, replay.signals, replay.snapshot_requests) == (0, [], 1), symbol
        exact, latest, mismatches = replay.compare()
        assert mismatches == [], symbol
        checked[symbol] = (sync.stats.applied, exact, latest)
    assert checked == {
        "NKNUSDT": (149, 19, 143),
        "BLZETH": (9, 1, 3),
        "LRCBTC": (13, 6, 13),
        "RUNEEUR": (1, 0, 0),
    }


def test_dropped_diff_raises_gap_then_next_snapshot_resyncs_the_book(
    parser, hft_lines, instruments
):
    btc = instruments["BTCUSDT"]
    reference, full = replay_hft(parser, hft_lines, btc)
    applied = sorted(full.tops)
    dropped, resync_at = applied[1000], applied[1020]
    # The "next snapshot": the venue's book at update id ``resync_at``, taken from a replay
    # of the complete stream (it matched every bookTicker above).
    truth = BookSync(btc)
    snapshot = None
    for ts_init, raw in hft_lines:
        out = parser.parse_market(raw, ts_init, symbol="BTCUSDT")
        for item in out:
            if isinstance(item, BookDeltas):
                truth.on_diff(item)
            elif isinstance(item, BookSnapshot):
                truth.on_snapshot(item)
        if truth.last_update_id == resync_at and snapshot is None:
            book = truth.book
            snapshot = BookSnapshot(
                btc.id,
                book.depth(OrderSide.BUY, 10**6),
                book.depth(OrderSide.SELL, 10**6),
                resync_at,
                ts_init,
                ts_init,
            )
    assert snapshot is not None

    sync, replay = replay_hft(
        parser, hft_lines, btc, drop=dropped, snapshot_at={"u": resync_at, "snapshot": snapshot}
    )

    gap, resynced = replay.signals
    assert isinstance(gap, StreamGap)
    assert (gap.venue, gap.stream) == (Venue("BINANCE"), "btcusdt@depth@100ms")
    assert gap.cause == f"sequence gap: expected U={applied[999] + 1}, got U={dropped + 1}"
    assert gap.since_ns < gap.until_ns
    assert isinstance(resynced, StreamResynced)
    assert resynced.gap_ns == snapshot.ts_init - gap.since_ns > 0
    assert replay.snapshot_requests == 2  # the first sync, and the gap
    assert (sync.stats.gaps, sync.stats.resyncs) == (1, 1)
    # Nothing was applied between the gap and the snapshot; everything after matches.
    assert [u for u in replay.tops if dropped <= u <= resync_at] == []
    exact, latest, mismatches = replay.compare()
    assert mismatches == []
    assert latest == len(applied) - 21
    assert sync.book.sequence == reference.book.sequence
    for side in (OrderSide.BUY, OrderSide.SELL):
        assert list(sync.book.levels(side)) == list(reference.book.levels(side))


# -- the state machine on small hand-made books ---------------------------------------------------

INSTRUMENT = Instrument.create(
    instrument_id=InstrumentId.from_str("BTCUSDT.BINANCE"),
    base=Currency("BTC", 8),
    quote=Currency("USDT", 8),
    tick_size="0.01",
    step_size="0.00001",
)
IID = INSTRUMENT.id


def diff(
    first: int, last: int, bid: str = "100.00", size: str = "1", ts: int | None = None
) -> BookDeltas:
    ts = last if ts is None else ts
    level = BookDelta(
        IID,
        BookAction.UPDATE,
        OrderSide.BUY,
        Price.from_str(bid),
        Quantity.from_str(size),
        last,
        ts,
        ts,
    )
    return BookDeltas(IID, [level], first, last, ts, ts)


def snapshot(last_update_id: int, bid: str = "99.00", ts: int = 0) -> BookSnapshot:
    bids = [BookLevel(Price.from_str(bid), Quantity.from_str("5"))]
    asks = [BookLevel(Price.from_str("101.00"), Quantity.from_str("5"))]
    return BookSnapshot(IID, bids, asks, last_update_id, ts, ts)


def test_first_diff_asks_for_a_snapshot_once_and_buffers():
    sync = BookSync(INSTRUMENT)
    assert sync.on_diff(diff(10, 12)).action is SyncAction.NEED_SNAPSHOT
    assert sync.on_diff(diff(13, 15)).action is SyncAction.NONE
    assert (sync.is_synced, sync.buffered) == (False, 2)


def test_snapshot_older_than_the_buffer_asks_for_another_and_keeps_the_buffer():
    sync = BookSync(INSTRUMENT)
    sync.on_diff(diff(10, 12))
    result = sync.on_snapshot(snapshot(8))  # L + 1 = 9 < U = 10: updates 9 are in neither
    assert (result.action, result.applied, sync.is_synced, sync.buffered) == (
        SyncAction.NEED_SNAPSHOT,
        [],
        False,
        1,
    )
    result = sync.on_snapshot(snapshot(11))
    assert [type(a) for a in result.applied] == [BookSnapshot, BookDeltas]
    assert (sync.is_synced, sync.last_update_id, sync.stats.old_snapshots) == (True, 12, 1)


def test_snapshot_before_any_diff_syncs_and_the_first_diff_may_straddle():
    sync = BookSync(INSTRUMENT)
    assert sync.on_snapshot(snapshot(20)).applied == [snapshot(20)]
    assert sync.on_diff(diff(15, 20)).applied == []  # u <= L: stale
    assert sync.on_diff(diff(18, 25, bid="100.50")).applied  # U <= L + 1 <= u
    assert sync.book.best_bid_price() == Price.from_str("100.50")
    assert sync.on_diff(diff(26, 26)).applied
    assert sync.stats.stale == 1


def test_diff_not_chaining_is_a_gap_that_holds_it_for_the_next_snapshot():
    sync = BookSync(INSTRUMENT, stream="btcusdt@depth@100ms")
    sync.on_snapshot(snapshot(10))
    sync.on_diff(diff(11, 12, ts=100))
    result = sync.on_diff(diff(14, 15, ts=200))
    assert result.action is SyncAction.NEED_SNAPSHOT
    assert result.signals == [
        StreamGap(
            venue=Venue("BINANCE"),
            stream="btcusdt@depth@100ms",
            since_ns=100,
            until_ns=200,
            cause="sequence gap: expected U=13, got U=14",
            ts_event=200,
            ts_init=200,
        )
    ]
    assert sync.on_diff(diff(16, 16, ts=300)).action is SyncAction.NONE  # asked once
    result = sync.on_snapshot(snapshot(14, ts=400))
    assert result.signals == [
        StreamResynced(
            venue=Venue("BINANCE"),
            stream="btcusdt@depth@100ms",
            gap_ns=300,
            ts_event=400,
            ts_init=400,
        )
    ]
    assert [a.sequence for a in result.applied] == [14, 15, 16]
    assert sync.is_synced


def test_gap_inside_the_buffer_applies_up_to_it_and_asks_again():
    sync = BookSync(INSTRUMENT)
    for first, last in ((5, 6), (7, 9), (11, 12)):
        sync.on_diff(diff(first, last))
    result = sync.on_snapshot(snapshot(6))
    assert [a.sequence for a in result.applied] == [6, 9]
    assert [type(s) for s in result.signals] == [StreamGap]
    assert (result.action, sync.is_synced, sync.buffered) == (SyncAction.NEED_SNAPSHOT, False, 1)


def test_stale_and_duplicate_diffs_are_dropped_while_synced():
    sync = BookSync(INSTRUMENT)
    sync.on_snapshot(snapshot(10))
    sync.on_diff(diff(11, 12))
    assert sync.on_diff(diff(11, 12)).applied == []
    assert (sync.stats.stale, sync.is_synced) == (1, True)


def test_older_snapshot_while_synced_is_ignored_and_newer_one_replaces_the_book():
    sync = BookSync(INSTRUMENT)
    sync.on_snapshot(snapshot(10))
    sync.on_diff(diff(11, 12))
    assert sync.on_snapshot(snapshot(11)).applied == []
    assert sync.stats.old_snapshots == 1
    assert sync.on_snapshot(snapshot(30, bid="98.00")).applied == [snapshot(30, bid="98.00")]
    assert sync.book.best_bid_price() == Price.from_str("98.00")  # the whole book was replaced
    assert sync.on_diff(diff(25, 31)).applied  # straddles the new snapshot


def test_reset_after_a_disconnect_signals_a_gap_and_asks_on_the_next_diff():
    sync = BookSync(INSTRUMENT)
    sync.on_snapshot(snapshot(10))
    sync.on_diff(diff(11, 12, ts=50))
    result = sync.reset("disconnected", 90)
    assert result.action is SyncAction.NONE
    [gap] = result.signals
    assert (gap.cause, gap.since_ns, gap.until_ns) == ("disconnected", 50, 90)
    assert sync.on_diff(diff(40, 41)).action is SyncAction.NEED_SNAPSHOT


def test_buffer_keeps_only_the_newest_diffs():
    sync = BookSync(INSTRUMENT, max_buffer=3)
    for n in range(1, 6):
        sync.on_diff(diff(n, n))
    assert (sync.buffered, sync.stats.overflowed) == (3, 2)


def test_depth_for_another_instrument_is_a_caller_bug():
    other = BookDeltas(InstrumentId.from_str("ETHUSDT.BINANCE"), [], 1, 1, 0, 0)
    with pytest.raises(InvalidDataError):
        BookSync(INSTRUMENT).on_diff(other)
