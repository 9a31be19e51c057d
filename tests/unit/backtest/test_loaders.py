"""Loaders: real recorded files parse to the right values; bad rows are skipped and named."""

from __future__ import annotations

import csv
import gzip
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bot4.backtest.loaders as loaders
from bot4.backtest.loaders import (
    LoadResult,
    TableKind,
    TimeUnit,
    TradeCsvColumns,
    load_bars,
    load_binance_jsonl,
    load_parquet,
    load_path,
    load_quotes_csv,
    load_trades_csv,
)
from bot4.core.errors import InvalidDataError, InvalidInputError
from bot4.core.ids import InstrumentId, TradeId
from bot4.core.numbers import Currency, Price, Quantity
from bot4.model.book import OrderBook
from bot4.model.data import (
    Bar,
    BarType,
    BookDeltas,
    BookLevel,
    BookSnapshot,
    QuoteTick,
    TradeTick,
)
from bot4.model.enums import AggressorSide, BookAction, OrderSide
from bot4.model.instrument import Instrument

REPO_ROOT = Path(__file__).resolve().parents[3]
REAL = REPO_ROOT.parent / "shared" / "data" / "real"
SPOT = "hftbacktest/binance_spot/btcusdt_20240808.jsonl.gz"
USDM = "hftbacktest/binance_usdm/btcusdt_20240808.jsonl.gz"


def real(relative: str) -> Path:
    path = REAL / relative
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"real data file missing in CI: {path}")
        pytest.skip(f"real data not available: {path}")
    return path


def make(symbol: str, tick: str, step: str, base: str = "BTC", quote: str = "USDT") -> Instrument:
    return Instrument.create(
        instrument_id=InstrumentId.from_str(f"{symbol}.BINANCE"),
        base=Currency(base, 8),
        quote=Currency(quote, 8),
        tick_size=tick,
        step_size=step,
        min_quantity=step,
    )


# Real Binance filters: BTCUSDT today, BTCUSDT in 2020 (step 0.000001), BTCUSDT USDⓈ-M perp.
BTCUSDT = Instrument.create(
    instrument_id=InstrumentId.from_str("BTCUSDT.BINANCE"),
    base=Currency("BTC", 8),
    quote=Currency("USDT", 8),
    tick_size="0.01",
    step_size="0.00001",
    min_quantity="0.00001",
    min_notional="5",
)
BTCUSDT_2020 = make("BTCUSDT", "0.01", "0.000001")
BTCUSDT_PERP = make("BTCUSDT", "0.1", "0.001")
ADABTC = make("ADABTC", "0.00000001", "0.1", "ADA", "BTC")
ETHBTC = make("ETHBTC", "0.00000001", "0.0001", "ETH", "BTC")
XRPETH = make("XRPETH", "0.00000001", "1", "XRP", "ETH")


def px(text: str, instrument: Instrument = BTCUSDT) -> Price:
    return Price.of(text, instrument.price_precision)


def qty(text: str, instrument: Instrument = BTCUSDT) -> Quantity:
    return Quantity.of(text, instrument.size_precision)


def of_type(result: LoadResult, kind: type) -> list[Any]:
    return [event for event in result.events if isinstance(event, kind)]


def assert_accounted(result: LoadResult) -> None:
    report = result.report
    assert report.loaded == len(result.events)
    assert report.rows == report.loaded + report.skipped + sum(report.dropped.values())


def error_at(result: LoadResult, row: int) -> InvalidDataError:
    found = [error for error in result.report.errors if error.context["row"] == row]
    assert len(found) == 1, result.report.errors
    return found[0]


# -- the real Binance spot capture ---------------------------------------------------------


@pytest.fixture(scope="module")
def spot() -> LoadResult:
    return load_binance_jsonl(real(SPOT), BTCUSDT)


def test_binance_spot_first_trade_has_the_recorded_values(spot: LoadResult) -> None:
    # {"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000",
    #  "q":"0.02000000","T":1723161255342,"m":true} received at 1723161254087896568
    trade = of_type(spot, TradeTick)[0]
    assert trade == TradeTick(
        BTCUSDT.id,
        px("61837.63"),
        qty("0.02"),
        AggressorSide.SELLER,
        TradeId("3735683259"),
        1723161255342000000,
        1723161254087896568,
    )


def test_binance_spot_first_book_ticker_becomes_a_quote(spot: LoadResult) -> None:
    # {"u":50093239212,"s":"BTCUSDT","b":"61837.63000000","B":"3.78826000","a":"61837.64000000",
    #  "A":"1.54698000"} received at 1723161254087891268: spot bookTicker has no event time
    quote = of_type(spot, QuoteTick)[0]
    assert (quote.bid_price, quote.bid_size) == (px("61837.63"), qty("3.78826"))
    assert (quote.ask_price, quote.ask_size) == (px("61837.64"), qty("1.54698"))
    assert quote.ts_event == quote.ts_init == 1723161254087891268


def test_binance_spot_snapshot_is_followed_by_the_straddling_buffered_diff(spot: LoadResult) -> None:
    snapshots = of_type(spot, BookSnapshot)
    assert len(snapshots) == 1
    snapshot = snapshots[0]
    assert snapshot.sequence == 50093239218
    assert snapshot.bids[0] == BookLevel(px("61837.63"), qty("3.78826"))
    assert snapshot.ts_init == snapshot.ts_event == 1723161254206652067
    assert of_type(spot, BookDeltas)[0] is spot.events[spot.events.index(snapshot) + 1]

    # The diff U=50093239208 u=50093239224 arrived before the snapshot and was buffered; the
    # two older diffs (u <= lastUpdateId) were dropped.
    first = spot.events[spot.events.index(snapshot) + 1]
    assert isinstance(first, BookDeltas)
    assert first.first_sequence <= snapshot.sequence + 1 <= first.sequence
    assert (first.first_sequence, first.sequence) == (50093239208, 50093239224)
    assert first.ts_event == 1723161255408000000
    assert first.ts_init == snapshot.ts_init  # emitted with the snapshot: time never goes back
    bid = first.deltas[0]
    assert (bid.side, bid.action, bid.price, bid.size) == (OrderSide.BUY, BookAction.UPDATE, px("61837.63"), qty("3.78826"))
    delete = first.deltas[1]
    assert (delete.action, delete.price, delete.size.raw) == (BookAction.DELETE, px("61820.99"), 0)
    assert {d.sequence for d in first.deltas} == {50093239224}
    assert spot.report.dropped["stale_diff"] == 2


def test_binance_spot_whole_capture_chains_without_gaps(spot: LoadResult) -> None:
    report = spot.report
    assert (report.rows, report.skipped, report.gaps) == (41249, 0, 0)
    assert len(of_type(spot, QuoteTick)) == 28040
    assert len(of_type(spot, TradeTick)) == 9757
    diffs = of_type(spot, BookDeltas)
    assert len(diffs) == 3449
    assert all(b.first_sequence == a.sequence + 1 for a, b in zip(diffs, diffs[1:], strict=False))
    ts_init = [event.ts_init for event in spot.events]
    assert ts_init == sorted(ts_init)
    assert_accounted(spot)


def test_binance_spot_keeps_sizes_finer_than_todays_step_exact(spot: LoadResult) -> None:
    # The depth stream carries resting orders from before BTCUSDT's step went to 0.00001,
    # e.g. an ask size of 25.426189; it is kept exact rather than breaking the book.
    assert spot.report.notes["size_finer_than_step"] > 0
    sizes = {d.size for diff in of_type(spot, BookDeltas) for d in diff.deltas}
    assert Quantity(25_426_189_000, 6) in sizes


class _ReferenceBook:
    """A dict per side: the simplest book that can be trusted."""

    def __init__(self) -> None:
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.sequence = 0

    def apply(self, event: object) -> None:
        if isinstance(event, BookSnapshot):
            self.bids = {level.price.raw: level.size.raw for level in event.bids if level.size.raw}
            self.asks = {level.price.raw: level.size.raw for level in event.asks if level.size.raw}
            self.sequence = event.sequence
        elif isinstance(event, BookDeltas):
            for delta in event.deltas:
                side = self.bids if delta.side is OrderSide.BUY else self.asks
                if delta.action is BookAction.DELETE:
                    side.pop(delta.price.raw, None)
                else:
                    side[delta.price.raw] = delta.size.raw
            self.sequence = event.sequence

    def top(self) -> tuple[int, int, int, int]:
        bid, ask = max(self.bids), min(self.asks)
        return bid, self.bids[bid], ask, self.asks[ask]


def _ticker_update_ids(path: Path) -> list[int]:
    """Each bookTicker's ``u``, in file order, read straight from the raw capture."""
    ids = []
    with gzip.open(path, "rt") as file:
        for line in file:
            message = json.loads(line.split(" ", 1)[1])
            data = message.get("data", message)
            if "B" in data and "A" in data and data.get("e", "bookTicker") == "bookTicker":
                ids.append(data["u"])
    return ids


def _compare_book_with_tickers(result: LoadResult, ticker_ids: list[int]) -> int:
    """After each applied diff, compare the book with the bookTicker of the same update id.

    The ticker stream is real time while @depth@100ms batches, so that ticker usually arrives
    before the diff that brings the book to its update id: match by id, not by arrival.
    """
    quotes = of_type(result, QuoteTick)
    assert len(quotes) == len(ticker_ids)
    tops = {
        u: (q.bid_price.raw, q.bid_size.raw, q.ask_price.raw, q.ask_size.raw)
        for u, q in zip(ticker_ids, quotes, strict=True)
    }
    book, compared = _ReferenceBook(), 0
    for event in result.events:
        book.apply(event)
        if isinstance(event, BookDeltas) and event.sequence in tops:
            assert book.top() == tops[event.sequence], f"book differs from bookTicker u={event.sequence}"
            compared += 1
    return compared


def test_binance_spot_book_matches_every_book_ticker_at_the_same_update_id(spot: LoadResult) -> None:
    compared = _compare_book_with_tickers(spot, _ticker_update_ids(real(SPOT)))
    assert compared > 300


def test_binance_spot_events_drive_the_model_order_book(spot: LoadResult) -> None:
    book = OrderBook(BTCUSDT.id, BTCUSDT.price_precision, BTCUSDT.size_precision)
    reference = _ReferenceBook()
    for event in spot.events:
        if isinstance(event, BookSnapshot):
            book.apply_snapshot(event)
        elif isinstance(event, BookDeltas):
            book.apply_deltas(event)
        else:
            continue
        reference.apply(event)
        bid, bid_size, ask, ask_size = reference.top()
        assert (book.best_bid_raw(), book.best_ask_raw()) == (bid, ask)
        assert (book.best_bid_size_raw(), book.best_ask_size_raw()) == (bid_size, ask_size)
    assert book.sequence == of_type(spot, BookDeltas)[-1].sequence


def test_binance_usdm_capture_syncs_through_pu_and_matches_book_tickers() -> None:
    path = real(USDM)
    result = load_binance_jsonl(path, BTCUSDT_PERP)
    assert (result.report.skipped, result.report.gaps) == (0, 0)
    diffs = of_type(result, BookDeltas)
    assert len(diffs) == 6547
    snapshot = of_type(result, BookSnapshot)[0]
    assert snapshot.sequence == 5123107852948
    assert snapshot.ts_event == 1723161256493000000  # futures snapshot carries T
    assert diffs[0].first_sequence <= snapshot.sequence <= diffs[0].sequence
    trade = of_type(result, TradeTick)[0]
    # {"e":"trade","E":1723161256322,"T":1723161256322,"t":5266583935,"p":"61800.30","q":"0.006","m":false}
    assert (trade.price, trade.size, trade.aggressor_side) == (px("61800.3", BTCUSDT_PERP), qty("0.006", BTCUSDT_PERP), AggressorSide.BUYER)
    assert (trade.trade_id, trade.ts_event, trade.ts_init) == (TradeId("5266583935"), 1723161256322000000, 1723161255088176367)
    assert _compare_book_with_tickers(result, _ticker_update_ids(path)) > 500
    assert_accounted(result)


def _spot_excerpt(lines: int = 1200) -> list[str]:
    with gzip.open(real(SPOT), "rt") as file:
        return [next(file) for _ in range(lines)]


def _diff_ids(line: str) -> tuple[int, int] | None:
    data = json.loads(line.split(" ", 1)[1]).get("data", {})
    return (data["U"], data["u"]) if data.get("e") == "depthUpdate" else None


def test_binance_gap_is_counted_and_no_diff_is_emitted_after_it_until_a_resync(tmp_path: Path) -> None:
    lines = _spot_excerpt()
    diff_rows = [i for i, line in enumerate(lines) if _diff_ids(line)]
    removed = diff_rows[10]  # well after the snapshot (line 8)
    resync_after = diff_rows[20]
    last_before_resync = _diff_ids(lines[resync_after])
    assert last_before_resync is not None
    # A new snapshot whose lastUpdateId is the u of a later diff: the one after it straddles.
    snapshot = json.loads(lines[7].split(" ", 1)[1])
    assert "lastUpdateId" in snapshot
    snapshot["lastUpdateId"] = last_before_resync[1]
    local = int(lines[resync_after].split(" ", 1)[0]) + 1
    edited = lines[:removed] + lines[removed + 1 : resync_after + 1]
    edited += [f"{local} {json.dumps(snapshot)}\n"] + lines[resync_after + 1 :]
    path = tmp_path / "gap.jsonl"
    path.write_text("".join(edited))

    result = load_binance_jsonl(path, BTCUSDT)

    assert result.report.gaps == 1
    diffs = of_type(result, BookDeltas)
    gap_at = int(lines[removed + 1].split(" ", 1)[0])
    before = [d for d in diffs if d.ts_init < gap_at]
    after = [d for d in diffs if d.ts_init >= gap_at]
    assert before[-1].sequence == _diff_ids(lines[diff_rows[9]])[1]  # type: ignore[index]
    assert all(d.ts_init >= local for d in after)  # nothing between the gap and the resync
    resynced = of_type(result, BookSnapshot)[1]
    assert result.events.index(after[0]) > result.events.index(resynced)
    assert after[0].first_sequence == resynced.sequence + 1
    assert all(b.first_sequence == a.sequence + 1 for a, b in zip(after, after[1:], strict=False))
    assert result.report.dropped["stale_diff"] >= 9  # the diffs held since the gap
    assert_accounted(result)


def test_binance_gap_without_a_later_snapshot_drops_the_rest(tmp_path: Path) -> None:
    lines = _spot_excerpt()
    removed = [i for i, line in enumerate(lines) if _diff_ids(line)][10]
    path = tmp_path / "gap.jsonl.gz"
    with gzip.open(path, "wt") as file:
        file.writelines(lines[:removed] + lines[removed + 1 :])
    result = load_binance_jsonl(path, BTCUSDT)
    assert result.report.gaps == 1
    gap_at = int(lines[removed + 1].split(" ", 1)[0])
    assert not [d for d in of_type(result, BookDeltas) if d.ts_init >= gap_at]
    assert result.report.dropped["unsynced_diff"] > 0
    assert_accounted(result)


# -- Binance stream: synthetic lines ---------------------------------------------------------

TRADE = '{"e":"trade","E":1000,"s":"BTCUSDT","t":7,"p":"100.01","q":"0.5","T":999,"m":false}'


def _diff(first: int, last: int, price: str = "100.00", size: str = "1") -> str:
    return (
        '{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":2000,"s":"BTCUSDT",'
        f'"U":{first},"u":{last},"b":[["{price}","{size}"]],"a":[]}}}}'
    )


def test_binance_bad_lines_are_skipped_named_and_good_lines_around_them_load(tmp_path: Path) -> None:
    path = tmp_path / "capture.jsonl"
    path.write_text(
        f"10 {TRADE}\n"
        '11 {"e":"trade","E":1000,"s":"BTCUSDT","t":8,"p":"100.0\n'  # truncated
        '12 {"e":"kline","E":1000,"s":"BTCUSDT"}\n'  # unknown event type
        '13 {"e":"trade","E":1000,"s":"BTCUSDT","t":9,"p":"1x0","q":"0.5","T":999,"m":false}\n'
        '14 {"e":"trade","E":1000,"s":"BTCUSDT","t":9,"p":"100.001","q":"0.5","T":999,"m":false}\n'
        '15 {"e":"trade","E":1000,"s":"BTCUSDT","t":9,"p":"100","q":"-0.5","T":999,"m":false}\n'
        '16 {"e":"trade","E":1000,"s":"BTCUSDT","p":"100","q":"0.5","T":999,"m":false}\n'  # no t
        '17 {"e":"aggTrade","E":1000,"s":"BTCUSDT","a":42,"p":"100.02","q":"0.25","f":1,"l":2,"T":998,"m":true}\n'
        '18 {"e":"trade","E":1000,"s":"ETHUSDT","t":1,"p":"1","q":"1","T":999,"m":true}\n'
        f"{TRADE}\n"  # no receive-time prefix: E is the receive time
    )
    result = load_binance_jsonl(path, BTCUSDT)
    trades = of_type(result, TradeTick)
    assert [t.trade_id.value for t in trades] == ["7", "42", "7"]
    assert trades[1].aggressor_side is AggressorSide.SELLER and trades[1].ts_event == 998_000_000
    assert trades[2].ts_init == 1_000_000_000
    assert result.report.skipped == 6
    assert result.report.dropped == {"other_symbol": 1}
    expected = {2: "json", 3: "e", 4: "p", 5: "p", 6: "q", 7: "t"}
    for row, field in expected.items():
        error = error_at(result, row)
        assert error.context["file"] == str(path)
        assert error.context["field"] == field
    assert error_at(result, 3).context["value"] == "kline"
    assert error_at(result, 5).context["value"] == "100.001"
    assert "decimals" in str(error_at(result, 5))
    assert_accounted(result)


def test_binance_diffs_with_no_snapshot_are_never_emitted(tmp_path: Path) -> None:
    path = tmp_path / "diffs.jsonl"
    path.write_text("".join(f"{i} {_diff(i * 10, i * 10 + 9)}\n" for i in range(1, 6)))
    result = load_binance_jsonl(path, BTCUSDT)
    assert result.events == []
    assert result.report.dropped == {"unsynced_diff": 5}
    assert_accounted(result)


def test_binance_snapshot_older_than_the_first_buffered_diff_is_a_gap(tmp_path: Path) -> None:
    snapshot = '{"lastUpdateId":5,"bids":[["99.00","1"]],"asks":[["101.00","1"]]}'
    path = tmp_path / "early.jsonl"
    path.write_text(f"1 {_diff(10, 19)}\n2 {snapshot}\n3 {_diff(20, 29)}\n")
    result = load_binance_jsonl(path, BTCUSDT)
    assert [type(e) for e in result.events] == [BookSnapshot]
    assert result.report.gaps == 1
    assert result.report.dropped == {"unsynced_diff": 2}


def test_binance_snapshot_mid_stream_older_than_the_book_is_dropped(tmp_path: Path) -> None:
    snapshot = '{{"lastUpdateId":{},"bids":[["99.00","1"]],"asks":[["101.00","1"]]}}'
    path = tmp_path / "two.jsonl"
    path.write_text(
        f"1 {snapshot.format(10)}\n2 {_diff(9, 19)}\n3 {_diff(20, 29)}\n"
        f"4 {snapshot.format(15)}\n5 {_diff(30, 39)}\n"
    )
    result = load_binance_jsonl(path, BTCUSDT)
    assert [type(e) for e in result.events] == [BookSnapshot, BookDeltas, BookDeltas, BookDeltas]
    assert result.report.dropped == {"stale_snapshot": 1}
    assert result.report.gaps == 0


def test_binance_truncated_gzip_keeps_the_lines_before_the_damage(tmp_path: Path) -> None:
    data = gzip.compress("".join(_spot_excerpt(400)[10:]).encode())  # after the 64 kB snapshot
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) * 8 // 10])
    result = load_binance_jsonl(path, BTCUSDT)
    assert 100 < result.report.rows < 390
    last = result.report.errors[-1]
    assert last.context["field"] == "file" and "truncated" in str(last)
    assert_accounted(result)


_JSON_PIECES = st.sampled_from([
    TRADE, _diff(1, 2), '{"lastUpdateId":3,"bids":[["1.00","1"]],"asks":[]}', '{"e":"trade"}',
    '{"stream":"x","data":[]}', '{"u":1,"s":"BTCUSDT","b":"1","B":"1","a":"2","A":"x"}', "[1,2]",
    '{"e":"depthUpdate","U":5,"u":4,"E":1,"b":[],"a":[]}', '{"result":null,"id":1}', "",
])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 2**64)), st.one_of(_JSON_PIECES, st.text())), max_size=20))
def test_binance_loader_never_raises_on_any_line(tmp_path: Path, lines: list[tuple[int | None, str]]) -> None:
    path = tmp_path / "fuzz.jsonl"
    text = "\n".join(piece if ts is None else f"{ts} {piece}" for ts, piece in lines)
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    result = load_binance_jsonl(path, BTCUSDT)
    assert_accounted(result)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(st.one_of(st.text(max_size=8), st.sampled_from(["1", "1.5", "-1", "BUYER", "1e3", ""])), max_size=6), max_size=20))
def test_trades_csv_loader_never_raises_on_any_row(tmp_path: Path, rows: list[list[str]]) -> None:
    path = tmp_path / "fuzz.csv"
    with path.open("w", newline="", encoding="utf-8", errors="surrogatepass") as file:
        file.write(TRADES_HEADER)
        csv.writer(file).writerows(rows)
    result = load_trades_csv(path, BTCUSDT)
    assert_accounted(result)


# -- trade tables ----------------------------------------------------------------------------


def test_gocryptotrader_trades_first_rows_keep_file_order_within_a_second() -> None:
    result = load_trades_csv(real("gocryptotrader/binance_BTCUSDT_24h-trades_2020_11_16.csv"), BTCUSDT_2020)
    assert (result.report.rows, result.report.loaded, result.report.skipped) == (1000, 1000, 0)
    first, second = of_type(result, TradeTick)[:2]
    # 1605499846,15993.5,0.026472,ANY / 1605499846,15994.96,0.227,ANY
    assert first == TradeTick(
        BTCUSDT_2020.id, px("15993.5"), qty("0.026472", BTCUSDT_2020), AggressorSide.NO_AGGRESSOR,
        TradeId("1"), 1605499846_000000000, 1605499846_000000000,
    )
    assert (second.price, second.size, second.trade_id) == (px("15994.96"), qty("0.227", BTCUSDT_2020), TradeId("2"))
    assert second.ts_event == 1605499846_000000001
    times = [t.ts_event for t in result.events]
    assert times == sorted(times) and len(set(times)) == len(times)


def test_gocryptotrader_sizes_finer_than_todays_step_are_bad_rows() -> None:
    path = real("gocryptotrader/binance_BTCUSDT_24h-trades_2020_11_16.csv")
    result = load_trades_csv(path, BTCUSDT)  # today's 0.00001 step
    assert result.report.skipped > 0 and result.report.loaded > 0
    error = error_at(result, 1)
    assert (error.context["field"], error.context["value"]) == ("amount", "0.026472")
    assert_accounted(result)


def test_nautilus_trades_parquet_reads_float_columns_and_buyer_maker_flags() -> None:
    result = load_parquet(real("nautilus_trader/binance/btcusdt-trades-2021-01-08.parquet"), BTCUSDT_2020, "trades")
    assert (result.report.loaded, result.report.skipped) == (2001, 0)
    first, second = of_type(result, TradeTick)[:2]
    # 2021-01-08 00:00:00.278, id 553287559, 39432.48, 0.000263, buyer_maker "True"
    assert first == TradeTick(
        BTCUSDT_2020.id, px("39432.48"), qty("0.000263", BTCUSDT_2020), AggressorSide.SELLER,
        TradeId("553287559"), 1610064000278000000, 1610064000278000000,
    )
    assert second.aggressor_side is AggressorSide.BUYER


def test_freqtrade_trades_parquet_loads_with_rounded_floats() -> None:
    result = load_path(real("freqtrade/trades/XRP_ETH-trades.parquet"), XRPETH)
    assert (result.report.loaded, result.report.skipped) == (12477, 0)
    first = of_type(result, TradeTick)[0]
    # [1570752011620, "13519807", null, "sell", 0.00141342, 23.0, 0.03250866]
    assert first == TradeTick(
        XRPETH.id, px("0.00141342", XRPETH), qty("23", XRPETH), AggressorSide.SELLER,
        TradeId("13519807"), 1570752011620000000, 1570752011620000000,
    )


def test_nautilus_quotes_parquet_first_quote() -> None:
    result = load_parquet(real("nautilus_trader/binance/btcusdt-quotes-2021-01-08.parquet"), BTCUSDT_2020, TableKind.QUOTES)
    assert (result.report.loaded, result.report.skipped) == (451, 0)
    quote = of_type(result, QuoteTick)[0]
    assert quote == QuoteTick(
        BTCUSDT_2020.id, px("39432.99"), px("39433.62"), qty("0.0031", BTCUSDT_2020),
        qty("0.066851", BTCUSDT_2020), 1610064001076000000, 1610064001076000000,
    )


TRADES_HEADER = "ts_event,price,size,aggressor_side,trade_id\n"


def test_trades_csv_bad_rows_are_skipped_and_named(tmp_path: Path) -> None:
    path = tmp_path / "trades.csv"
    path.write_text(
        TRADES_HEADER
        + "1000,100.01,0.5,BUYER,a1\n"  # line 2
        + "1001,1OO.01,0.5,BUYER,a2\n"  # malformed number
        + "1002,100.001,0.5,SELLER,a3\n"  # too many decimals
        + "1003,100.02,-0.5,SELLER,a4\n"  # negative size
        + "1004,100.02,0.5\n"  # missing columns
        + "999,100.02,0.5,buy,a6\n"  # out of order
        + "1005,100.02,0.5,sideways,a7\n"  # unknown aggressor
        + "1005,100.03,0.25,sell,a8\n"  # line 9: equal time is fine
    )
    result = load_trades_csv(path, BTCUSDT)
    trades = of_type(result, TradeTick)
    assert [t.trade_id.value for t in trades] == ["a1", "a8"]
    assert trades[1] == TradeTick(BTCUSDT.id, px("100.03"), qty("0.25"), AggressorSide.SELLER, TradeId("a8"), 1005, 1005)
    expected = {3: ("price", "1OO.01"), 4: ("price", "100.001"), 5: ("size", "-0.5"),
                6: ("aggressor_side", None), 7: ("ts_event", "999"), 8: ("aggressor_side", "sideways")}
    for row, (field, value) in expected.items():
        error = error_at(result, row)
        assert (error.context["file"], error.context["field"], error.context["value"]) == (str(path), field, value)
    assert "1004000000000" not in str(error_at(result, 7))  # ns column: no unit scaling
    assert "999" in str(error_at(result, 7)) and "1000" in str(error_at(result, 7))
    assert result.report.skipped == 6
    assert_accounted(result)


def test_trades_csv_without_optional_columns_gets_no_aggressor_and_row_ids(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("ts_event,price,size\n5,1.5,2\n")
    (trade,) = load_trades_csv(path, BTCUSDT).events
    assert trade == TradeTick(BTCUSDT.id, px("1.5"), qty("2"), AggressorSide.NO_AGGRESSOR, TradeId("2"), 5, 5)


def test_binance_vision_trades_csv_headerless_and_with_header(tmp_path: Path) -> None:
    rows = "3735683259,61837.63000000,0.02000000,1236.75260000,1723161255342,True,True\n"
    rows += "3735683260,61837.64000000,0.00100000,61.83764000,1723161255342123,False,True\n"  # µs
    headerless = tmp_path / "BTCUSDT-trades-2024-08-08.csv"
    headerless.write_text(rows)
    with_header = tmp_path / "with_header.csv"
    with_header.write_text("id,price,qty,quote_qty,time,is_buyer_maker,is_best_match\n" + rows)
    for path in (headerless, with_header):
        first, second = load_trades_csv(path, BTCUSDT).events
        assert first == TradeTick(
            BTCUSDT.id, px("61837.63"), qty("0.02"), AggressorSide.SELLER, TradeId("3735683259"),
            1723161255342000000, 1723161255342000000,
        )
        assert isinstance(second, TradeTick)
        assert second.aggressor_side is AggressorSide.BUYER
        assert second.ts_event == 1723161255342123000


def test_binance_vision_agg_trades_csv_headerless(tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT-aggTrades.csv"
    path.write_text("26129,0.01633102,4.70443515,27781,27781,1498793709153,True,True\n")
    (trade,) = load_trades_csv(path, make("ETHBTC", "0.00000001", "0.00000001")).events
    assert isinstance(trade, TradeTick)
    assert (trade.trade_id, trade.ts_event, trade.aggressor_side) == (TradeId("26129"), 1498793709153000000, AggressorSide.SELLER)


def test_trades_csv_with_custom_columns(tmp_path: Path) -> None:
    path = tmp_path / "custom.csv"
    path.write_text("when,px,amt,who\n1700000000,10.5,3,S\n")
    columns = TradeCsvColumns(ts_event="when", price="px", size="amt", aggressor_side="who",
                              trade_id=None, ts_unit=TimeUnit.SECONDS)
    (trade,) = load_trades_csv(path, BTCUSDT, columns=columns).events
    assert trade == TradeTick(BTCUSDT.id, px("10.5"), qty("3"), AggressorSide.SELLER, TradeId("2"),
                              1700000000_000000000, 1700000000_000000000)
    positional = tmp_path / "positional.csv"
    positional.write_text("x,7,1.25,0.5,true\n")
    columns = TradeCsvColumns(ts_event=1, price=2, size=3, aggressor_side=4, trade_id=None,
                              buyer_maker=True, header=False)
    (trade,) = load_trades_csv(positional, BTCUSDT, columns=columns).events
    assert isinstance(trade, TradeTick)
    assert (trade.ts_event, trade.price, trade.aggressor_side) == (7, px("1.25"), AggressorSide.SELLER)
    with pytest.raises(InvalidDataError, match="no such column"):
        load_trades_csv(path, BTCUSDT, columns=TradeCsvColumns(price="nope"))


def test_quotes_csv_loads_and_skips_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "quotes.csv"
    path.write_text(
        "ts_event,bid_price,ask_price,bid_size,ask_size\n"
        "10,100.00,100.01,1.5,2\n"
        "11,100.00,abc,1.5,2\n"
        "9,100.00,100.01,1.5,2\n"
        "12,100.00,100.02,0,2.00001\n"
    )
    result = load_quotes_csv(path, BTCUSDT)
    assert of_type(result, QuoteTick) == [
        QuoteTick(BTCUSDT.id, px("100"), px("100.01"), qty("1.5"), qty("2"), 10, 10),
        QuoteTick(BTCUSDT.id, px("100"), px("100.02"), qty("0"), qty("2.00001"), 12, 12),
    ]
    assert error_at(result, 3).context["field"] == "ask_price"
    assert error_at(result, 4).context["field"] == "ts_event"
    assert_accounted(result)


def test_parquet_string_columns_are_exact_and_float_columns_are_rounded(tmp_path: Path) -> None:
    path = tmp_path / "trades.parquet"
    pq.write_table(pa.table({
        "ts_event": pa.array([1, 2, 3], pa.int64()),
        "price": ["100.01", "100.015", "100.02"],  # the middle one has too many decimals
        "size": [0.1 + 0.2, 1.0, 2.0],  # 0.30000000000000004 rounds to 0.3
        "aggressor_side": ["BUYER", "SELLER", None],
        "trade_id": ["x", "y", "z"],
    }), path)
    result = load_parquet(path, BTCUSDT, "trades")
    first, third = of_type(result, TradeTick)
    assert (first.price, first.size, first.aggressor_side) == (px("100.01"), qty("0.3"), AggressorSide.BUYER)
    assert third.aggressor_side is AggressorSide.NO_AGGRESSOR
    error = error_at(result, 2)
    assert (error.context["field"], error.context["value"]) == ("price", "100.015")


# -- bars --------------------------------------------------------------------------------------


def test_freqtrade_feather_first_bar_closes_one_interval_after_its_date() -> None:
    bar_type = BarType.from_str("ETHBTC.BINANCE-5-MINUTE")
    result = load_bars(real("freqtrade/ohlcv/ETH_BTC-5m.feather"), bar_type, ETHBTC)
    assert (result.report.loaded, result.report.skipped) == (5760, 0)
    first, second = of_type(result, Bar)[:2]
    # date 2018-01-10 04:55 UTC, o 0.0984, h 0.0994766, l 0.09828605, c 0.0994766, v 1820.54447418
    assert first == Bar(
        bar_type, px("0.0984", ETHBTC), px("0.0994766", ETHBTC), px("0.09828605", ETHBTC),
        px("0.0994766", ETHBTC), qty("1820.5445", ETHBTC), 1515560400000000000, 1515560400000000000,
    )
    assert second.open == px("0.09946999", ETHBTC)  # stored as 0.09946999000000001


def test_binance_kline_csv_first_bar() -> None:
    bar_type = BarType.from_str("ADABTC.BINANCE-1-MINUTE")
    result = load_path(real("nautilus_trader/binance_vision/ADABTC-1m-2021-11-27.csv"), ADABTC, bar_type)
    assert (result.report.loaded, result.report.skipped) == (10, 0)
    # 1637971200000,0.00002853,0.00002854,0.00002851,0.00002854,36304.20000000,1637971259999,...
    assert result.events[0] == Bar(
        bar_type, px("0.00002853", ADABTC), px("0.00002854", ADABTC), px("0.00002851", ADABTC),
        px("0.00002854", ADABTC), qty("36304.2", ADABTC), 1637971260000000000, 1637971260000000000,
    )


def test_binance_kline_csv_with_the_wrong_bar_type_is_all_bad_rows() -> None:
    bar_type = BarType.from_str("ADABTC.BINANCE-5-MINUTE")
    result = load_bars(real("nautilus_trader/binance_vision/ADABTC-1m-2021-11-27.csv"), bar_type, ADABTC)
    assert (result.report.loaded, result.report.skipped) == (0, 10)
    assert error_at(result, 1).context["field"] == "close_time"


def test_gocryptotrader_candles_with_the_broken_high_column_are_caught() -> None:
    # SOURCES.md: the "high" column equals close in all 365 rows, so every day that closed
    # below its open has high < open.
    path = real("gocryptotrader/binance_BTCUSDT_24h_2019_01_01_2020_01_01.csv")
    bar_type = BarType.from_str("BTCUSDT.BINANCE-1-DAY")
    result = load_bars(path, bar_type, BTCUSDT_2020)
    down_days = sum(1 for line in path.read_text().splitlines() if float(line.split(",")[2]) > float(line.split(",")[5]))
    assert result.report.skipped == down_days > 100
    assert result.report.loaded == 365 - down_days
    error = error_at(result, 3)  # 1546473600,29406.948359,3857.57,3766.78,3730,3766.78
    assert (error.context["field"], error.context["value"]) == ("high", "3766.78")
    first = result.events[0]
    assert isinstance(first, Bar) and first.ts_event == (1546300800 + 86400) * 10**9


def test_bars_csv_bad_rows(tmp_path: Path) -> None:
    bar_type = BarType.from_str("BTCUSDT.BINANCE-1-MINUTE")
    path = tmp_path / "bars.csv"
    path.write_text(
        "ts_event,open,high,low,close,volume\n"
        "60,10,12,9,11,5\n"
        "120,10,10.5,9,11,5\n"  # high below close
        "180,10,12,10.5,11,5\n"  # low above open
        "240,10,12,9,11,-1\n"  # negative volume
        "30,10,12,9,11,5\n"  # out of order
        "300,10,12,9,11\n"  # missing volume
        "360,10,12,9,11,0\n"
    )
    result = load_bars(path, bar_type, BTCUSDT)
    assert [bar.ts_event for bar in of_type(result, Bar)] == [60, 360]
    expected = {3: "high", 4: "low", 5: "volume", 6: "ts_event", 7: "volume"}
    assert {row: error_at(result, row).context["field"] for row in expected} == expected
    assert_accounted(result)


def test_bars_parquet_with_date_column_and_csv_with_iso_dates(tmp_path: Path) -> None:
    bar_type = BarType.from_str("BTCUSDT.BINANCE-1-HOUR")
    table = pa.table({
        "date": pa.array([0, 3_600_000], pa.timestamp("ms", tz="UTC")),
        "open": [1.0, 2.0], "high": [2.0, 3.0], "low": [0.5, 1.5], "close": [1.5, 2.5], "volume": [10.0, 20.0],
    })
    parquet = tmp_path / "bars.parquet"
    pq.write_table(table, parquet)
    arrow = tmp_path / "bars.feather"
    feather.write_feather(table, arrow)
    csv_file = tmp_path / "bars.csv"
    csv_file.write_text("date,open,high,low,close,volume\n1970-01-01 00:00:00+00:00,1,2,0.5,1.5,10\n1970-01-01T01:00:00Z,2,3,1.5,2.5,20\n")
    for path in (parquet, arrow, csv_file):
        bars = load_bars(path, bar_type, BTCUSDT).events
        assert [b.ts_event for b in bars] == [3_600 * 10**9, 7_200 * 10**9], path
        assert bars[1] == Bar(bar_type, px("2"), px("3"), px("1.5"), px("2.5"), qty("20"), 7_200 * 10**9, 7_200 * 10**9)


# -- files that cannot be read ---------------------------------------------------------------


def test_missing_file_raises_naming_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    loads: list[Callable[[], LoadResult]] = [
        lambda: load_trades_csv(missing, BTCUSDT),
        lambda: load_binance_jsonl(missing, BTCUSDT),
        lambda: load_path(missing, BTCUSDT),
    ]
    for load in loads:
        with pytest.raises(InvalidDataError) as caught:
            load()
        assert caught.value.context["file"] == str(missing)


def test_unrecognised_header_raises_naming_the_path(tmp_path: Path) -> None:
    path = tmp_path / "weird.csv"
    path.write_text("foo,bar\n1,2\n")
    for load in (load_trades_csv, load_quotes_csv, load_path):
        with pytest.raises(InvalidDataError) as caught:
            load(path, BTCUSDT)
        assert caught.value.context["file"] == str(path)
        assert caught.value.context["header"] == "foo,bar"
    with pytest.raises(InvalidDataError):
        load_bars(path, BarType.from_str("BTCUSDT.BINANCE-1-MINUTE"), BTCUSDT)


def test_bars_for_another_instrument_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    path.write_text("ts_event,open,high,low,close,volume\n")
    with pytest.raises(InvalidInputError):
        load_bars(path, BarType.from_str("ETHUSDT.BINANCE-1-MINUTE"), BTCUSDT)


def test_load_path_dispatches_on_extension_and_header(tmp_path: Path) -> None:
    trades = tmp_path / "t.csv"
    trades.write_text(TRADES_HEADER + "1,1.00,1,BUYER,x\n")
    quotes = tmp_path / "q.csv"
    quotes.write_text("ts_event,bid_price,ask_price,bid_size,ask_size\n1,1,2,1,1\n")
    capture = tmp_path / "c.gz"
    with gzip.open(capture, "wt") as file:
        file.write(f"5 {TRADE}\n")
    bars = tmp_path / "b.csv"
    bars.write_text("ts_event,open,high,low,close,volume\n60,1,1,1,1,1\n")
    assert isinstance(load_path(trades, BTCUSDT).events[0], TradeTick)
    assert isinstance(load_path(quotes, BTCUSDT).events[0], QuoteTick)
    assert isinstance(load_path(capture, BTCUSDT).events[0], TradeTick)
    assert isinstance(load_path(bars, BTCUSDT, BarType.from_str("BTCUSDT.BINANCE-1-MINUTE")).events[0], Bar)
    with pytest.raises(InvalidInputError, match="bar_type"):
        load_path(bars, BTCUSDT)


def test_only_the_first_hundred_errors_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(TRADES_HEADER + "".join(f"{i},x,1,BUYER,{i}\n" for i in range(250)) + "999,1,1,BUYER,ok\n")
    result = load_trades_csv(path, BTCUSDT)
    assert (result.report.skipped, len(result.report.errors), result.report.loaded) == (250, 100, 1)


def test_public_api_is_pinned() -> None:
    assert sorted(loaders.__all__) == sorted([
        "LoadReport", "LoadResult", "TableKind", "TimeUnit", "TradeCsvColumns", "load_bars",
        "load_binance_jsonl", "load_parquet", "load_path", "load_quotes_csv", "load_trades_csv",
    ])
