"""The Binance data client against the local exchange: a synced book, and resync after drops."""

from __future__ import annotations

from bot4.model.data import BookDeltas, BookSnapshot, QuoteTick, TradeTick
from bot4.model.status import StreamGap, StreamResynced
from bot4.venues.sim.binance_server import StreamKind

from .support import Rig, first_events, run, until


class TopChecker:
    """On every quote (bookTicker) while the book is synced: the book's top must be the quote.

    Right after a snapshot the book can be ahead of the stream: frames the venue sent before
    it answered the snapshot are still on their way (their diffs are dropped as stale, their
    quotes are older than the book). Once a diff has been applied after the snapshot, the
    stream and the book are at the same update and every quote must match.
    """

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.matched = 0
        self.mismatched: list[tuple[QuoteTick, object]] = []
        self.aligned = False

    def __call__(self, item: object) -> None:
        if isinstance(item, BookSnapshot):
            self.aligned = False
        elif isinstance(item, BookDeltas):
            self.aligned = True
        if not isinstance(item, QuoteTick):
            return
        data = self.rig.data
        if not (self.aligned and data.is_synced(item.instrument_id)):
            return
        book = data.book(item.instrument_id)
        assert book is not None
        top = (book.best_bid_price(), book.best_bid_size(), book.best_ask_price(), book.best_ask_size())
        if top == (item.bid_price, item.bid_size, item.ask_price, item.ask_size):
            self.matched += 1
        else:
            self.mismatched.append((item, top))


def _server_top(rig: Rig) -> tuple[tuple[int, int], tuple[int, int]]:
    return rig.server.exchange.market("BTCUSDT").top()


def _client_top(rig: Rig) -> tuple[tuple[int, int], tuple[int, int]]:
    book = rig.data.book(rig.instrument.id)
    assert book is not None
    bid, ask = book.best_bid_raw(), book.best_ask_raw()
    return (bid or 0, book.best_bid_size_raw()), (ask or 0, book.best_ask_size_raw())


def _caught_up(rig: Rig) -> bool:
    """The synced book has applied the server's last update id."""
    book = rig.data.book(rig.instrument.id)
    return (
        rig.data.is_synced(rig.instrument.id)
        and book is not None
        and book.sequence == rig.server.exchange.market("BTCUSDT").update_id
    )


def test_synced_book_matches_every_book_ticker_of_the_replayed_capture() -> None:
    async def body() -> None:
        async with Rig(first_events(6_000)) as rig:
            checker = TopChecker(rig)
            rig.market_hook = checker
            await rig.data.start()
            await rig.data.wait_open(5)
            rig.data.subscribe(rig.instrument.id)  # a live SUBSCRIBE on the open stream
            await until(lambda: rig.data.stats().parser["control"] == 1, what="the subscription")
            rig.server.start_replay()
            await rig.server.wait_replay_done(20)
            await until(lambda: _caught_up(rig), timeout=10, what="the book to catch up")

            (subscribe,) = [m.text for m in rig.server.ws_messages]
            assert subscribe == (
                '{"method":"SUBSCRIBE","params":["btcusdt@trade","btcusdt@bookTicker",'
                '"btcusdt@depth@100ms"],"id":1}'
            )
            assert checker.mismatched == []
            assert checker.matched > 300
            assert _client_top(rig) == _server_top(rig)
            kinds = {type(item) for item in rig.market}
            assert {TradeTick, QuoteTick, BookSnapshot, BookDeltas} <= kinds
            assert not any(isinstance(item, StreamGap) for item in rig.market)
            stats = rig.data.stats()
            assert stats.problems == 0 and stats.books["BTCUSDT"].gaps == 0
            assert rig.errors == []

    run(body, timeout=40)


def test_forced_disconnects_report_gap_then_resync_and_the_book_is_right_again() -> None:
    async def body() -> None:
        async with Rig(first_events(8_000)) as rig:
            checker = TopChecker(rig)
            rig.market_hook = checker
            rig.data.subscribe(rig.instrument.id)
            await rig.data.start()
            await rig.data.wait_open(5)
            rig.server.replay.speed = 40.0  # about 2 s for the slice: time to drop it twice
            rig.server.start_replay()
            for drop in range(2):
                await until(lambda: _caught_up(rig) and checker.matched > 20, timeout=10, what="a synced book")
                assert await rig.server.drop_ws(StreamKind.MARKET) == 1
                resynced = 2 * (drop + 1)  # the stream's and the book's
                await until(
                    lambda n=resynced: sum(isinstance(i, StreamResynced) for i in rig.market) >= n,  # type: ignore[misc]
                    timeout=10,
                    what="the resync",
                )
            await rig.server.wait_replay_done(20)
            await until(lambda: _caught_up(rig), timeout=10, what="the book to catch up")

            signals = [i for i in rig.market if isinstance(i, StreamGap | StreamResynced)]
            # The stream's pair brackets the reconnect; the book's gap opens with it and closes
            # once the snapshot fetched after the reconnect is applied.
            assert [(type(s).__name__, s.stream, getattr(s, "cause", "")) for s in signals] == 2 * [
                ("StreamGap", "binance-market", "connection_lost"),
                ("StreamGap", "btcusdt@depth@100ms", "stream reconnected"),
                ("StreamResynced", "binance-market", ""),
                ("StreamResynced", "btcusdt@depth@100ms", ""),
            ]
            assert checker.mismatched == []
            assert _client_top(rig) == _server_top(rig)
            assert rig.data.stats().snapshots >= 3  # the first sync and one per reconnect
            assert rig.data.stats().stream is not None and rig.data.stats().stream.connects == 3

    run(body, timeout=40)


def test_aggregated_trade_stream_delivers_trade_ticks_when_configured() -> None:
    async def body() -> None:
        async with Rig(first_events(3_000), trade_stream="aggTrade") as rig:
            await rig.data.start()
            await rig.data.wait_open(5)
            rig.data.subscribe(rig.instrument.id)
            await until(lambda: rig.data.stats().parser["control"] == 1, what="the subscription")
            rig.server.start_replay()
            await rig.server.wait_replay_done(20)
            await until(lambda: any(isinstance(item, TradeTick) for item in rig.market), what="a trade")
            (subscribe,) = [m.text for m in rig.server.ws_messages]
            assert '"btcusdt@aggTrade"' in subscribe and '"btcusdt@trade"' not in subscribe
            assert rig.data.stats().problems == 0 and rig.errors == []

    run(body, timeout=40)
