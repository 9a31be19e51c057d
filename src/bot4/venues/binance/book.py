"""Binance's local order book procedure as a pure state machine.

Binance documents how to keep a correct local book from the diff-depth stream and a REST
snapshot (spot, "How to manage a local order book correctly"):

1. Open the stream and buffer the diffs; remember the first one's ``U``.
2. Fetch a depth snapshot (``lastUpdateId`` = L).
3. If L is older than the first buffered diff (L + 1 < its ``U``), fetch another snapshot.
4. Drop buffered diffs with ``u <= L``; the first one applied must straddle L + 1
   (``U <= L + 1 <= u``).
5. Apply every following diff only if ``U == previous u + 1``; anything else is a gap: the
   book is no longer the venue's, so discard it and start again from step 1.

:class:`BookSync` does exactly that without I/O. Feed it parsed :class:`BookDeltas`
(``first_sequence = U``, ``sequence = u``) and :class:`BookSnapshot` (``sequence = L``);
each call returns a :class:`SyncResult` with what it applied to its :class:`OrderBook` (in
order, to publish so other books stay identical), the :class:`StreamGap` /
:class:`StreamResynced` signals, and :attr:`SyncAction.NEED_SNAPSHOT` when the caller must
fetch a (new) snapshot. Diffs older than the book (``u <= book u``) are dropped and counted.
"""

from __future__ import annotations

from collections import deque
from enum import Enum

import msgspec

from bot4.core.errors import InvalidDataError
from bot4.core.ids import Venue
from bot4.model.book import OrderBook
from bot4.model.data import BookDeltas, BookSnapshot
from bot4.model.instrument import Instrument
from bot4.model.status import StreamGap, StreamResynced

__all__ = ["BookSync", "SyncAction", "SyncResult", "SyncState", "SyncStats"]


class SyncState(Enum):
    """AWAITING_SNAPSHOT: diffs are buffered; SYNCED: the book is the venue's."""

    AWAITING_SNAPSHOT = "AWAITING_SNAPSHOT"
    SYNCED = "SYNCED"


class SyncAction(Enum):
    """What the caller must do after a call: nothing, or fetch a depth snapshot now."""

    NONE = "NONE"
    NEED_SNAPSHOT = "NEED_SNAPSHOT"


class SyncResult(msgspec.Struct, frozen=True, kw_only=True):
    """What one call did: ``applied`` in order, the stream signals, and the next action."""

    applied: list[BookSnapshot | BookDeltas] = msgspec.field(default_factory=list)
    signals: list[StreamGap | StreamResynced] = msgspec.field(default_factory=list)
    action: SyncAction = SyncAction.NONE

    @property
    def needs_snapshot(self) -> bool:
        return self.action is SyncAction.NEED_SNAPSHOT


class SyncStats(msgspec.Struct, kw_only=True):
    """Counters: diffs applied, stale ones dropped, gaps, resyncs, snapshots refused."""

    applied: int = 0
    stale: int = 0
    gaps: int = 0
    resyncs: int = 0
    old_snapshots: int = 0
    overflowed: int = 0


class BookSync:
    """Keeps one instrument's :class:`OrderBook` equal to Binance's, or says it is not.

    The first sync emits no signal; every later one (after a gap or :meth:`reset`) emits
    :class:`StreamResynced`. Between a gap and the resync :attr:`book` keeps its last state
    but :attr:`is_synced` is False and nothing is applied.
    """

    def __init__(
        self,
        instrument: Instrument,
        *,
        stream: str | None = None,
        venue: Venue | None = None,
        max_buffer: int = 10_000,
    ) -> None:
        self.instrument_id = instrument.id
        self.venue = venue or instrument.id.venue
        self.stream = stream or f"{instrument.id.symbol.value.lower()}@depth"
        self.book = OrderBook(instrument.id, instrument.price_precision, instrument.size_precision)
        self.state = SyncState.AWAITING_SNAPSHOT
        self.stats = SyncStats()
        self._max_buffer = max_buffer
        self._buffer: deque[BookDeltas] = deque()
        self._asked = False  # NEED_SNAPSHOT returned for the current wait
        self._fresh = False  # no diff applied since the snapshot: the next one may straddle
        self._last_seen_ns = 0  # ts_init of the last diff applied (for StreamGap.since_ns)
        self._gap_since_ns: int | None = None  # set while resyncing after a gap

    @property
    def is_synced(self) -> bool:
        return self.state is SyncState.SYNCED

    @property
    def needs_snapshot(self) -> bool:
        """True until a usable snapshot arrived (poll it to retry a failed snapshot fetch)."""
        return self.state is SyncState.AWAITING_SNAPSHOT

    @property
    def last_update_id(self) -> int:
        """The ``u`` the book is at (the snapshot's L before any diff); 0 before a snapshot."""
        return self.book.sequence

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def on_diff(self, deltas: BookDeltas) -> SyncResult:
        """Take one diff: apply it when it chains, buffer it while waiting, or flag a gap."""
        self._check(deltas.instrument_id)
        if self.state is SyncState.AWAITING_SNAPSHOT:
            self._hold(deltas)
            return self._ask()
        return self._accept(deltas)

    def on_snapshot(self, snapshot: BookSnapshot) -> SyncResult:
        """Take a depth snapshot: sync from it and the buffered diffs, or ask for a newer one.

        While synced, a snapshot no newer than the book is ignored (counted); a newer one
        replaces the book (a periodic check, say) and the next diff must straddle it.
        """
        self._check(snapshot.instrument_id)
        lid = snapshot.sequence
        if self.state is SyncState.SYNCED:
            if lid <= self.book.sequence:
                self.stats.old_snapshots += 1
                return SyncResult()
            self.book.apply_snapshot(snapshot)
            self._fresh = True
            return SyncResult(applied=[snapshot])
        while self._buffer and self._buffer[0].sequence <= lid:
            self._buffer.popleft()
            self.stats.stale += 1
        if self._buffer and self._buffer[0].first_sequence > lid + 1:
            # Older than the first diff we hold: the updates in between are in neither.
            self.stats.old_snapshots += 1
            self._asked = True
            return SyncResult(action=SyncAction.NEED_SNAPSHOT)
        self.book.apply_snapshot(snapshot)
        self.state = SyncState.SYNCED
        self._fresh = True
        self._asked = False
        self._last_seen_ns = snapshot.ts_init
        applied: list[BookSnapshot | BookDeltas] = [snapshot]
        signals: list[StreamGap | StreamResynced] = []
        if self._gap_since_ns is not None:
            self.stats.resyncs += 1
            signals.append(
                StreamResynced(
                    venue=self.venue,
                    stream=self.stream,
                    gap_ns=max(0, snapshot.ts_init - self._gap_since_ns),
                    ts_event=snapshot.ts_event,
                    ts_init=snapshot.ts_init,
                )
            )
            self._gap_since_ns = None
        buffered, self._buffer = self._buffer, deque()
        while buffered:
            step = self._accept(buffered.popleft())
            applied.extend(step.applied)
            signals.extend(step.signals)
            if step.needs_snapshot:  # a gap inside the buffer: the rest waits for the next one
                self._buffer.extend(buffered)
                return SyncResult(applied=applied, signals=signals, action=step.action)
        return SyncResult(applied=applied, signals=signals)

    def reset(self, cause: str, ts_init: int) -> SyncResult:
        """The stream was interrupted (a reconnect): drop the book's claim and ask for a snapshot.

        Emits :class:`StreamGap` from the last diff seen to ``ts_init``. Buffered diffs are
        dropped too: after a reconnect the old ones cannot chain into the new stream.
        """
        self._buffer.clear()
        if self.state is SyncState.SYNCED:
            return self._gap_signal(cause, ts_init, ts_init, ask=False)
        self._asked = False
        return SyncResult()

    # -- internals --------------------------------------------------------------------------

    def _accept(self, deltas: BookDeltas) -> SyncResult:
        last = self.book.sequence
        if deltas.sequence <= last:
            self.stats.stale += 1
            return SyncResult()
        # The first diff after a snapshot must straddle L + 1; every later one must chain.
        chained = (
            deltas.first_sequence <= last + 1 if self._fresh else deltas.first_sequence == last + 1
        )
        if not chained:
            return self._gap(
                deltas, f"sequence gap: expected U={last + 1}, got U={deltas.first_sequence}"
            )
        try:
            self.book.apply_deltas(deltas)
        except InvalidDataError as error:  # a negative size: the book cannot be trusted
            return self._gap(deltas, f"invalid diff: {error.message}")
        self._fresh = False
        self.stats.applied += 1
        self._last_seen_ns = deltas.ts_init
        return SyncResult(applied=[deltas])

    def _gap(self, deltas: BookDeltas, cause: str) -> SyncResult:
        result = self._gap_signal(cause, deltas.ts_event, deltas.ts_init, ask=True)
        self._hold(deltas)  # may start the next sync (it straddles a newer snapshot)
        return result

    def _gap_signal(self, cause: str, ts_event: int, ts_init: int, *, ask: bool) -> SyncResult:
        self.stats.gaps += 1
        self.state = SyncState.AWAITING_SNAPSHOT
        if self._gap_since_ns is None:
            self._gap_since_ns = self._last_seen_ns
        gap = StreamGap(
            venue=self.venue,
            stream=self.stream,
            since_ns=self._last_seen_ns,
            until_ns=ts_init,
            cause=cause,
            ts_event=ts_event,
            ts_init=ts_init,
        )
        self._asked = ask
        return SyncResult(
            signals=[gap], action=SyncAction.NEED_SNAPSHOT if ask else SyncAction.NONE
        )

    def _hold(self, deltas: BookDeltas) -> None:
        self._buffer.append(deltas)
        if len(self._buffer) > self._max_buffer:
            self._buffer.popleft()
            self.stats.overflowed += 1

    def _ask(self) -> SyncResult:
        if self._asked:
            return SyncResult()
        self._asked = True
        return SyncResult(action=SyncAction.NEED_SNAPSHOT)

    def _check(self, instrument_id: object) -> None:
        if instrument_id != self.instrument_id:
            raise InvalidDataError(
                "depth data for another instrument",
                expected=str(self.instrument_id),
                found=str(instrument_id),
            )
