"""Binance raw stream captures (hftbacktest collector layout) into Bot4 events.

Each line is ``<local receive ns> <raw JSON>`` or just the JSON. Combined-stream wrappers
``{"stream": ..., "data": ...}`` are unwrapped. The book is synchronised here, following
Binance's documented procedure, so that a consumer applying the events in order always holds
a correct book (see :class:`_BookSync`).
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any, NamedTuple

import msgspec

from bot4.backtest.loaders._common import BadField, LoadResult, Sink, Values
from bot4.backtest.loaders._files import check_path, numbered_lines, open_bytes
from bot4.core.ids import TradeId
from bot4.model.data import BookDelta, BookDeltas, BookLevel, BookSnapshot, QuoteTick, TradeTick
from bot4.model.enums import AggressorSide, BookAction, OrderSide
from bot4.model.instrument import Instrument

__all__ = ["load_binance_jsonl"]

_MAX_BUFFER = 10_000  # diffs waiting for a snapshot; ~17 min of @depth@100ms
_decode = msgspec.json.Decoder().decode


class _Diff(NamedTuple):
    """A parsed depthUpdate, kept until it can be emitted (its ts_init may change)."""

    first: int  # U
    last: int  # u
    prev: int | None  # pu (futures only)
    ts_event: int
    ts_init: int
    bids: list[tuple[Any, Any]]
    asks: list[tuple[Any, Any]]


def load_binance_jsonl(path: str | Path, instrument: Instrument) -> LoadResult:
    """Load a Binance spot or USDⓈ-M futures stream capture (gzip or plain) for one instrument.

    Produces TradeTick (trade, aggTrade), QuoteTick (bookTicker), BookSnapshot (the REST depth
    snapshot line) and BookDeltas (depthUpdate, only once synchronised with a snapshot).
    Prices must fit the instrument's precision; sizes may be finer than its step (old resting
    orders) and are then kept exact and counted in ``report.notes``. Messages for another
    symbol are dropped (``other_symbol``).

    Times: trades ts_event = T; depth ts_event = E; bookTicker and the REST snapshot carry T/E
    only on futures, else ts_event = ts_init. ts_init is the line's receive-time prefix; a
    line without one uses its E, or else the previous line's time.
    """
    file = check_path(path)
    sink = Sink(file)
    parser = _Parser(instrument, sink)
    with open_bytes(file) as stream:
        for row, line in numbered_lines(stream, sink):
            line = line.strip()
            if not line:
                continue
            sink.report.rows += 1
            try:
                parser.feed(line)
            except BadField as error:
                sink.bad(row, error)
    parser.book.finish()
    if parser.values.fine_sizes:
        sink.report.notes["size_finer_than_step"] = parser.values.fine_sizes
    return sink.result()


def _get(data: dict[str, Any], key: str) -> Any:
    try:
        return data[key]
    except KeyError:
        raise BadField(key, None, "missing field") from None


def _int(data: dict[str, Any], key: str) -> int:
    value = _get(data, key)
    if type(value) is not int:
        raise BadField(key, value, "expected an integer")
    return value


def _ms(data: dict[str, Any], key: str) -> int:
    value = _int(data, key)
    if value < 0:
        raise BadField(key, value, "timestamp must not be negative")
    return value * 1_000_000


class _Parser:
    __slots__ = ("book", "iid", "last_local", "sink", "symbol", "values")

    def __init__(self, instrument: Instrument, sink: Sink) -> None:
        self.iid = instrument.id
        self.symbol = instrument.id.symbol.value.upper()
        self.values = Values(instrument, allow_fine_sizes=True)
        self.sink = sink
        self.book = _BookSync(self, sink)
        self.last_local: int | None = None

    def feed(self, line: bytes) -> None:
        head, space, rest = line.partition(b" ")
        local: int | None = None
        if space and head.isdigit():
            local, line = int(head), rest.lstrip()
        try:
            msg = _decode(line)
        except msgspec.DecodeError:
            raise BadField("json", line, "malformed JSON") from None
        if not isinstance(msg, dict):
            raise BadField("json", line, "expected a JSON object")
        data = msg.get("data") if "stream" in msg else msg
        if not isinstance(data, dict):
            raise BadField("data", data, "expected a JSON object")
        if local is None:  # no receive time: use the event time, else the previous line's time
            event_ms = data.get("E")
            if type(event_ms) is int:
                local = event_ms * 1_000_000
            elif self.last_local is not None:
                local = self.last_local
            else:
                raise BadField("E", None, "no receive-time prefix and no event time")
        self.last_local = local
        kind = data.get("e")
        symbol = data.get("s")
        if symbol is not None and (not isinstance(symbol, str) or symbol.upper() != self.symbol):
            self.sink.drop("other_symbol")
        elif kind == "trade":
            self.sink.events.append(self._trade(data, "t", local))
        elif kind == "depthUpdate":
            self.book.on_diff(self._diff(data, local))
        elif kind == "bookTicker" or (kind is None and "B" in data and "A" in data):
            self.sink.events.append(self._quote(data, local))
        elif kind == "aggTrade":
            self.sink.events.append(self._trade(data, "a", local))
        elif kind is None and "lastUpdateId" in data:
            self._snapshot(data, local)
        elif kind is None and "result" in data and "id" in data:
            self.sink.drop("control")  # subscription acknowledgement
        else:
            raise BadField("e", kind, "unknown event type")

    def _trade(self, data: dict[str, Any], id_key: str, local: int) -> TradeTick:
        values = self.values
        buyer_maker = _get(data, "m")
        if type(buyer_maker) is not bool:
            raise BadField("m", buyer_maker, "expected true or false")
        trade_id = _int(data, id_key)
        return TradeTick(
            self.iid,
            values.price(_get(data, "p"), "p"),
            values.qty(_get(data, "q"), "q", positive=True),
            AggressorSide.SELLER if buyer_maker else AggressorSide.BUYER,
            TradeId(str(trade_id)),
            _ms(data, "T"),
            local,
        )

    def _quote(self, data: dict[str, Any], local: int) -> QuoteTick:
        values = self.values
        # spot bookTicker has no event time; futures carries T (transaction) and E
        ts_event = _ms(data, "T") if "T" in data else _ms(data, "E") if "E" in data else local
        return QuoteTick(
            self.iid,
            values.price(_get(data, "b"), "b"),
            values.price(_get(data, "a"), "a"),
            values.qty(_get(data, "B"), "B"),
            values.qty(_get(data, "A"), "A"),
            ts_event,
            local,
        )

    def _levels(self, data: dict[str, Any], key: str) -> list[tuple[Any, Any]]:
        levels = _get(data, key)
        if not isinstance(levels, list):
            raise BadField(key, levels, "expected a list of [price, quantity]")
        values = self.values
        out = []
        for level in levels:
            if not isinstance(level, list) or len(level) < 2:
                raise BadField(key, level, "expected [price, quantity]")
            out.append((values.price(level[0], key), values.qty(level[1], key)))
        return out

    def _diff(self, data: dict[str, Any], local: int) -> _Diff:
        first, last = _int(data, "U"), _int(data, "u")
        if first > last:
            raise BadField("U", first, f"first update id is after the last ({last})")
        prev = _int(data, "pu") if "pu" in data else None
        bids, asks = self._levels(data, "b"), self._levels(data, "a")
        return _Diff(first, last, prev, _ms(data, "E"), local, bids, asks)

    def _snapshot(self, data: dict[str, Any], local: int) -> None:
        sequence = _int(data, "lastUpdateId")
        bids = [BookLevel(p, q) for p, q in self._levels(data, "bids")]
        asks = [BookLevel(p, q) for p, q in self._levels(data, "asks")]
        ts_event = _ms(data, "T") if "T" in data else _ms(data, "E") if "E" in data else local
        self.book.on_snapshot(BookSnapshot(self.iid, bids, asks, sequence, ts_event, local))

    def deltas(self, diff: _Diff, ts_init: int) -> BookDeltas:
        iid, seq, ts_event = self.iid, diff.last, diff.ts_event
        update, delete = BookAction.UPDATE, BookAction.DELETE
        out = [
            BookDelta(iid, delete if q.raw == 0 else update, OrderSide.BUY, p, q, seq, ts_event, ts_init)
            for p, q in diff.bids
        ]
        out.extend(
            BookDelta(iid, delete if q.raw == 0 else update, OrderSide.SELL, p, q, seq, ts_event, ts_init)
            for p, q in diff.asks
        )
        return BookDeltas(iid, out, diff.first, diff.last, ts_event, ts_init)


class _BookSync:
    """Binance's book-sync procedure, applied to a recorded stream.

    Diffs are buffered until a snapshot (lastUpdateId L) arrives. Then stale diffs are dropped
    (spot: u <= L; futures: u < L); the first applied diff must straddle the snapshot (spot:
    U <= L+1 <= u; futures: U <= L <= u); each later diff must chain (spot: U == previous u + 1;
    futures: pu == previous u). A break is a gap: it is counted and diffs are buffered again
    until the next snapshot, so no diff is emitted onto a book that misses an update.
    Buffered diffs are emitted right after their snapshot, with the snapshot's ts_init, so
    ts_init never goes backwards.
    """

    __slots__ = ("buffer", "last", "parser", "sink", "snapshot_id", "synced")

    def __init__(self, parser: _Parser, sink: Sink) -> None:
        self.parser = parser
        self.sink = sink
        self.buffer: deque[_Diff] = deque()
        self.synced = False
        self.snapshot_id = 0
        self.last: int | None = None  # u of the last emitted diff since the snapshot

    def on_snapshot(self, snapshot: BookSnapshot) -> None:
        if self.synced and self.last is not None and snapshot.sequence <= self.last:
            self.sink.drop("stale_snapshot")  # older than the book we already hold
            return
        self.sink.events.append(snapshot)
        self.synced, self.snapshot_id, self.last = True, snapshot.sequence, None
        buffered, self.buffer = self.buffer, deque()
        for diff in buffered:
            if self.synced:
                self._apply(diff, snapshot.ts_init)
            else:
                self._hold(diff)

    def on_diff(self, diff: _Diff) -> None:
        if self.synced:
            self._apply(diff, diff.ts_init)
        else:
            self._hold(diff)

    def finish(self) -> None:
        if self.buffer:
            self.sink.drop("unsynced_diff", len(self.buffer))
            self.buffer.clear()

    def _hold(self, diff: _Diff) -> None:
        self.buffer.append(diff)
        if len(self.buffer) > _MAX_BUFFER:
            self.buffer.popleft()
            self.sink.drop("unsynced_diff")

    def _apply(self, diff: _Diff, ts_init: int) -> None:
        futures = diff.prev is not None
        last = self.last
        if last is None:
            lid = self.snapshot_id
            if diff.last < lid or (diff.last == lid and not futures):
                self.sink.drop("stale_diff")
                return
            chained = diff.first <= (lid if futures else lid + 1)
        else:
            chained = diff.prev == last if futures else diff.first == last + 1
            if not chained and diff.last <= last:
                self.sink.drop("stale_diff")
                return
        if chained:
            self.sink.events.append(self.parser.deltas(diff, ts_init))
            self.last = diff.last
        else:
            self.sink.report.gaps += 1
            self.synced, self.last = False, None
            self._hold(diff)
