"""Market data: real Binance frames -> TradeTick, QuoteTick, BookDeltas, BookSnapshot, Bar."""

from __future__ import annotations

import json
from decimal import Decimal

import msgspec

from bot4.core.ids import InstrumentId, TradeId
from bot4.core.numbers import FIXED_SCALAR, Price, Quantity
from bot4.model.data import (
    Bar,
    BarType,
    BookDelta,
    BookDeltas,
    BookLevel,
    BookSnapshot,
    QuoteTick,
    TradeTick,
)
from bot4.model.enums import AggressorSide, BarAggregation, BookAction, OrderSide
from bot4.venues.binance import ParseProblem

BTCUSDT = InstrumentId.from_str("BTCUSDT.BINANCE")
MS = 1_000_000


def raw_of(text: str) -> int:
    return int(Decimal(text) * FIXED_SCALAR)


def test_trade_frame_becomes_trade_tick_with_exact_values(parser, hft_lines):
    ts_init, raw = next((ts, raw) for ts, raw in hft_lines if b"@trade" in raw)
    assert parser.parse_market(raw, ts_init) == [
        TradeTick(
            BTCUSDT,
            Price.of("61837.63", 2),
            Quantity.of("0.02", 5),
            AggressorSide.SELLER,  # m = true: the buyer was the maker, a seller took
            TradeId("3735683259"),
            1723161255342 * MS,
            ts_init,
        )
    ]


def test_book_ticker_becomes_quote_tick_timed_on_arrival(parser, hft_lines):
    ts_init, raw = next((ts, raw) for ts, raw in hft_lines if b"@bookTicker" in raw)
    assert parser.parse_market(raw, ts_init) == [
        QuoteTick(
            BTCUSDT,
            Price.of("61837.63", 2),
            Price.of("61837.64", 2),
            Quantity.of("3.78826", 5),
            Quantity.of("1.54698", 5),
            ts_init,  # spot bookTicker carries no time
            ts_init,
        )
    ]


def test_depth_update_becomes_book_deltas_with_u_and_deletes_for_zero(parser, hft_lines):
    ts_init, raw = hft_lines[0]
    [deltas] = parser.parse_market(raw, ts_init)
    assert isinstance(deltas, BookDeltas)
    assert (deltas.first_sequence, deltas.sequence, deltas.ts_event) == (
        50093239189,
        50093239202,
        1723161255208 * MS,
    )
    assert len(deltas.deltas) == 12
    assert deltas.deltas[0] == BookDelta(
        BTCUSDT,
        BookAction.DELETE,
        OrderSide.BUY,
        Price.of("61737.63", 2),
        Quantity.of("0", 5),
        50093239202,
        1723161255208 * MS,
        ts_init,
    )
    assert deltas.deltas[3] == BookDelta(
        BTCUSDT,
        BookAction.UPDATE,
        OrderSide.SELL,
        Price.of("61837.64", 2),
        Quantity.of("1.54698", 5),
        50093239202,
        1723161255208 * MS,
        ts_init,
    )


def test_every_frame_of_the_hftbacktest_capture_parses_to_its_exact_values(parser, hft_lines):
    """Each parsed value equals the decimal in the frame, for all 41,249 frames."""
    seen = {"trade": 0, "bookTicker": 0, "depth": 0, "snapshot": 0}
    for ts_init, raw in hft_lines:
        message = json.loads(raw)
        out = parser.parse_market(raw, ts_init, symbol="BTCUSDT")
        assert not isinstance(out, ParseProblem), out
        [item] = out
        data = message.get("data", message)
        if isinstance(item, TradeTick):
            seen["trade"] += 1
            assert (item.price.raw, item.size.raw, item.trade_id.value) == (
                raw_of(data["p"]),
                raw_of(data["q"]),
                str(data["t"]),
            )
            assert item.aggressor_side is (
                AggressorSide.SELLER if data["m"] else AggressorSide.BUYER
            )
        elif isinstance(item, QuoteTick):
            seen["bookTicker"] += 1
            assert (
                item.bid_price.raw,
                item.bid_size.raw,
                item.ask_price.raw,
                item.ask_size.raw,
            ) == tuple(raw_of(data[k]) for k in ("b", "B", "a", "A"))
        elif isinstance(item, BookDeltas):
            seen["depth"] += 1
            expected = [(OrderSide.BUY, raw_of(p), raw_of(q)) for p, q in data["b"]]
            expected += [(OrderSide.SELL, raw_of(p), raw_of(q)) for p, q in data["a"]]
            assert [(d.side, d.price.raw, d.size.raw) for d in item.deltas] == expected
            assert all((d.action is BookAction.DELETE) == (d.size.raw == 0) for d in item.deltas)
            assert (item.first_sequence, item.sequence) == (data["U"], data["u"])
        else:
            assert isinstance(item, BookSnapshot)
            seen["snapshot"] += 1
            assert item.sequence == data["lastUpdateId"]
            assert [(lv.price.raw, lv.size.raw) for lv in item.bids] == [
                (raw_of(p), raw_of(q)) for p, q in data["bids"]
            ]
    assert seen == {"trade": 9757, "bookTicker": 28040, "depth": 3451, "snapshot": 1}
    assert parser.stats.problem_count == 0


def test_agg_trade_from_cryptofeed_capture_becomes_trade_tick(parser, cryptofeed_events):
    ts_init, raw = next(
        (ts, raw) for ts, kind, _, raw in cryptofeed_events if "lrcbtc@aggTrade" in raw
    )
    assert parser.parse_market(raw, ts_init) == [
        TradeTick(
            InstrumentId.from_str("LRCBTC.BINANCE"),
            Price.of("0.00000638", 8),
            Quantity.of("177", 0),
            AggressorSide.BUYER,
            TradeId("9213679"),
            1633998534486 * MS,
            ts_init,
        )
    ]


def test_every_cryptofeed_ws_frame_parses_without_problem(parser, cryptofeed_events):
    kinds: dict[str, int] = {}
    for ts_init, kind, _, raw in cryptofeed_events:
        if kind != "ws":
            continue
        out = parser.parse_market(raw, ts_init)
        assert not isinstance(out, ParseProblem), out
        for item in out:
            kinds[type(item).__name__] = kinds.get(type(item).__name__, 0) + 1
    # The two klines are unfinished candles: no bar yet.
    assert kinds == {"BookDeltas": 177, "QuoteTick": 84, "TradeTick": 2}


def test_closed_kline_becomes_bar_closing_at_the_end_of_its_minute(parser, cryptofeed_events):
    raw = next(raw for _, _, _, raw in cryptofeed_events if "nknusdt@kline_1m" in raw)
    assert parser.parse_market(raw, 1) == []  # "x": false
    closed = raw.replace('"x":false', '"x":true')
    nkn = InstrumentId.from_str("NKNUSDT.BINANCE")
    assert parser.parse_market(closed, 7) == [
        Bar(
            BarType(nkn, 1, BarAggregation.MINUTE),
            Price.of("0.3527", 4),
            Price.of("0.3528", 4),
            Price.of("0.3522", 4),
            Price.of("0.3528", 4),
            Quantity.of("25877", 0),
            1633998540000 * MS,
            7,
        )
    ]


def test_nautilus_captured_trade_agg_trade_and_ticker_parse(parser, nautilus_ws):
    ethusdt = InstrumentId.from_str("ETHUSDT.BINANCE")
    [trade] = parser.parse_market(nautilus_ws("ws_spot_trade.json"), 5)
    assert (trade.instrument_id, str(trade.price), str(trade.size), trade.trade_id) == (
        ethusdt,
        "4149.74",
        "0.4387",
        TradeId("705291099"),
    )
    [agg] = parser.parse_market(nautilus_ws("ws_spot_agg_trade.json"), 5)
    assert (str(agg.price), agg.trade_id, agg.aggressor_side) == (
        "1632.46",
        TradeId("226532"),
        AggressorSide.BUYER,
    )
    assert str(agg.size) == "0.34305"  # finer than the 2021 step (0.0001): kept exact
    [quote] = parser.parse_market(nautilus_ws("ws_spot_ticker_book.json"), 5)
    assert (str(quote.bid_price), str(quote.ask_size), quote.ts_event) == (
        "4507.24",
        "2.8457",
        1646199228123 * MS,
    )


def test_partial_depth_stream_takes_the_symbol_from_the_stream_name(parser, hft_lines):
    snapshot = json.loads(next(raw for _, raw in hft_lines if raw.startswith(b'{"lastUpdateId"')))
    top = {
        "lastUpdateId": snapshot["lastUpdateId"],
        "bids": snapshot["bids"][:5],
        "asks": snapshot["asks"][:5],
    }
    frame = msgspec.json.encode({"stream": "btcusdt@depth5@100ms", "data": top})
    [book] = parser.parse_market(frame, 9)
    assert isinstance(book, BookSnapshot)
    assert book.instrument_id == BTCUSDT
    assert book.bids[0] == BookLevel(Price.of("61837.63", 2), Quantity.of("3.78826", 5))
    assert (len(book.bids), book.sequence, book.ts_init) == (5, 50093239218, 9)


def test_rest_depth_snapshot_from_cryptofeed_parses_for_its_symbol(parser, cryptofeed_events):
    ts_init, symbol, body = next(
        (ts, sym, raw) for ts, kind, sym, raw in cryptofeed_events if kind == "rest"
    )
    snapshot = parser.parse_snapshot(body, symbol, ts_init)
    assert isinstance(snapshot, BookSnapshot)
    assert (symbol, snapshot.sequence) == ("NKNUSDT", 499869752)
    assert snapshot.bids[0] == BookLevel(Price.of("0.3521", 4), Quantity.of("672", 0))
    assert len(snapshot.bids) == len(json.loads(body)["bids"])
