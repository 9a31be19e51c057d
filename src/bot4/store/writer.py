"""The journal writer: engines hand it entries, it commits them in batches, in order, off the hot path.

``append`` is synchronous and cheap (it numbers the entry and queues it); one writer task takes
batches of up to ``batch_size`` entries and commits each in one transaction. Entries are
committed strictly in sequence order, so what is in the database is always a gap-free prefix of
what was appended, and ``committed_seq`` says how far it goes. ``wait_durable(seq)`` is how a
caller waits for its entry: the write-ahead gate waits for an order intent before the order
goes to the venue.

Nothing is lost when the database goes away:

- a failed batch is kept and retried (with backoff) until it commits; inserts are idempotent,
  so a batch that did commit before the connection died is harmless to write again;
- memory is bounded: past ``queue_size`` queued entries, new ones go to an append-only spill file
  (one JSON line each) and are read back in order once the database keeps up again;
- during an outage with ``durable_on_spill``, every queued entry is moved to the spill file and
  fsync'ed, and an entry counts as durable once it is there: the node may keep trading on local
  durability, and a spill file left by a crash is replayed at the next start;
- a row the database refuses (a constraint) is never silently dropped: its journal row is still
  written, and the entry is set aside in ``rejected-<run>.jsonl`` and reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import msgspec

from bot4.core.errors import Bot4Error, InternalError, StoreIntegrityError, StoreUnavailableError
from bot4.net.backoff import Backoff
from bot4.store.backend import Backend, WriteGroup
from bot4.store.records import Entry, project

__all__ = ["JournalWriter", "WriterConfig", "WriterStats", "replay_spill_file"]

_log = logging.getLogger("bot4.store")
_encoder = msgspec.json.Encoder()
_line_decoder = msgspec.json.Decoder(Entry)


@dataclass(frozen=True, kw_only=True)
class WriterConfig:
    """``queue_size`` entries live in memory; past it they spill to disk (see module doc)."""

    queue_size: int = 100_000
    batch_size: int = 1_000
    spill_dir: Path | None = None
    durable_on_spill: bool = False
    retry: Backoff = field(default_factory=lambda: Backoff(initial=0.05, max_delay=5.0))
    latency_samples: int = 10_000


class WriterStats(msgspec.Struct, frozen=True, kw_only=True):
    appended: int
    committed: int
    last_seq: int
    committed_seq: int
    queued: int
    spilled: int
    spill_pending: int
    batches: int
    failures: int
    rejected: int
    available: bool
    commit_p50_ms: float | None
    commit_p99_ms: float | None


class JournalWriter:
    """Numbers, queues and commits journal entries for one node and run."""

    def __init__(
        self,
        backend: Backend,
        *,
        node_id: str,
        run_id: str,
        next_seq: int,
        config: WriterConfig | None = None,
        on_error: Callable[[Bot4Error], None] | None = None,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        self._backend = backend
        self.node_id = node_id
        self.run_id = run_id
        self.config = config or WriterConfig()
        self._on_error = on_error
        self._seq = next_seq - 1
        self._committed_seq = next_seq - 1
        self._spill_durable_seq = next_seq - 1
        self._mem: deque[Entry] = deque()
        self._pending: list[Entry] = []  # the batch being committed (kept until it is)
        self._spill = _SpillFile(self.config.spill_dir, run_id) if self.config.spill_dir else None
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._available = True
        self._appended = 0
        self._committed = 0
        self._batches = 0
        self._failures = 0
        self._rejected = 0
        self._latencies: deque[float] = deque(maxlen=self.config.latency_samples)

    # -- the producer side (synchronous, called from engines on the bus) -----------------------

    def append(self, kind: str, payload: str, ts_ns: int) -> int:
        """Queue one entry and return its sequence number; never blocks, never drops."""
        if self._closing:
            raise StoreUnavailableError("journal writer is closed", database=self._backend.name, kind=kind)
        self._seq += 1
        entry = Entry(self._seq, ts_ns, kind, payload)
        self._appended += 1
        spill = self._spill
        if spill is not None and (spill.active or len(self._mem) >= self.config.queue_size):
            spill.append(entry)
        else:
            self._mem.append(entry)
        self._wake.set()
        return self._seq

    @property
    def last_seq(self) -> int:
        """The sequence number of the last entry appended."""
        return self._seq

    @property
    def committed_seq(self) -> int:
        """Every entry up to this one is committed to the database."""
        return self._committed_seq

    @property
    def available(self) -> bool:
        """False while the database cannot be reached."""
        return self._available

    def is_durable(self, seq: int) -> bool:
        if seq <= self._committed_seq:
            return True
        return self.config.durable_on_spill and seq <= self._spill_durable_seq

    async def wait_durable(self, seq: int, timeout: float | None = None) -> None:
        """Wait until entry ``seq`` is durable; raises ``TimeoutError`` after ``timeout``."""
        async with asyncio.timeout(timeout):
            while not self.is_durable(seq):
                self._progress.clear()
                await self._progress.wait()

    async def flush(self, timeout: float | None = None) -> None:
        """Wait until everything appended so far is committed to the database."""
        target = self._seq
        async with asyncio.timeout(timeout):
            while self._committed_seq < target:
                self._progress.clear()
                await self._progress.wait()

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"bot4.store.writer.{self.run_id}")

    async def close(self, timeout: float = 10.0) -> int:
        """Commit what is queued (up to ``timeout``), then stop; return entries left uncommitted.

        Entries still uncommitted (the database is down) are written to the spill file when
        there is one, to be replayed at the next start; without one they are reported lost.
        """
        self._closing = True
        with contextlib.suppress(TimeoutError):
            await self.flush(timeout)
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        left = self._seq - self._committed_seq
        if left and self._spill is not None:
            self._spill.rewrite(self._pending + list(self._mem), self._committed_seq)
            self._pending.clear()
            self._mem.clear()
            _log.warning("journal: %d entries not committed; kept in %s for the next start", left, self._spill.path)
        elif left:
            self._report(StoreUnavailableError(
                "journal closed with entries that were never committed and no spill file",
                database=self._backend.name, entries=left,
            ))
        if self._spill is not None:
            self._spill.close(remove_if_empty=not left)
        return left

    # -- the writer task -----------------------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        while True:
            if not self._pending:
                self._pending = self._take(self.config.batch_size)
            if not self._pending:
                self._wake.clear()
                await self._wake.wait()
                continue
            try:
                await self._commit(self._pending)
            except StoreUnavailableError as exc:
                attempt += 1
                self._failures += 1
                self._outage(exc)
                delay = self.config.retry.delay(attempt)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        # Keep spilling what arrives meanwhile, so it is durable locally.
                        while True:
                            self._wake.clear()
                            await self._wake.wait()
                            self._secure_locally()
                continue
            except StoreIntegrityError:
                await self._commit_one_by_one(self._pending)
            except Exception as exc:  # noqa: BLE001 - the writer task's boundary: a bug must not stop the journal
                attempt += 1
                self._failures += 1
                _log.exception("journal: unexpected error committing a batch; retrying")
                self._report(InternalError("journal writer failed to commit a batch", error=repr(exc)))
                await asyncio.sleep(self.config.retry.delay(attempt))
                continue
            attempt = 0
            if not self._available:
                self._available = True
                _log.warning("journal: database %s is back", self._backend.name)
            self._done(self._pending)
            self._pending = []

    async def _commit(self, batch: list[Entry]) -> None:
        groups = project(batch, self.node_id, self.run_id)
        started = time.perf_counter()
        await self._backend.write(groups)
        self._latencies.append(time.perf_counter() - started)
        self._batches += 1

    async def _commit_one_by_one(self, batch: list[Entry]) -> None:
        """A batch with a refused row: commit each entry alone; set the refused ones aside."""
        for entry in batch:
            try:
                await self._commit([entry])
            except StoreIntegrityError as exc:
                self._rejected += 1
                # The history keeps the entry even when a projection of it is refused.
                await self._backend.write(project_journal_only(entry, self.node_id, self.run_id))
                if self._spill is not None:
                    self._spill.reject(entry, str(exc))
                _log.error("journal: entry %d (%s) refused by the database: %s", entry.seq, entry.kind, exc)
                self._report(exc)

    def _take(self, limit: int) -> list[Entry]:
        batch: list[Entry] = []
        mem = self._mem
        while mem and len(batch) < limit:
            batch.append(mem.popleft())
        spill = self._spill
        if not batch and spill is not None and spill.active:
            batch = [e for e in spill.read(limit) if e.seq > self._committed_seq]
        return batch

    def _done(self, batch: list[Entry]) -> None:
        self._committed += len(batch)
        if batch:
            self._committed_seq = max(self._committed_seq, batch[-1].seq)
        self._progress.set()

    def _outage(self, exc: StoreUnavailableError) -> None:
        if self._available:
            self._available = False
            _log.error("journal: database unavailable, keeping entries: %s", exc)
            self._report(exc)
        self._secure_locally()

    def _secure_locally(self) -> None:
        """During an outage: move everything queued to the fsync'ed spill file."""
        spill = self._spill
        if spill is None or not self.config.durable_on_spill:
            return
        if self._mem or not spill.active:
            spill.rewrite(self._pending + list(self._mem), self._committed_seq)
            self._mem.clear()
            # The pending batch stays in memory for the retry; the file also holds it (harmless).
        else:
            spill.sync()
        self._spill_durable_seq = self._seq
        self._progress.set()

    def _report(self, error: Bot4Error) -> None:
        if self._on_error is not None:
            self._on_error(error)

    def stats(self) -> WriterStats:
        ordered = sorted(self._latencies)
        p50 = ordered[len(ordered) // 2] * 1e3 if ordered else None
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e3 if ordered else None
        spill = self._spill
        return WriterStats(
            appended=self._appended,
            committed=self._committed,
            last_seq=self._seq,
            committed_seq=self._committed_seq,
            queued=len(self._mem) + len(self._pending),
            spilled=spill.written if spill else 0,
            spill_pending=spill.pending if spill else 0,
            batches=self._batches,
            failures=self._failures,
            rejected=self._rejected,
            available=self._available,
            commit_p50_ms=p50,
            commit_p99_ms=p99,
        )


def project_journal_only(entry: Entry, node_id: str, run_id: str) -> list[WriteGroup]:
    """Only the journal row of ``entry``: its kind is marked so nothing else is projected."""
    return project([Entry(entry.seq, entry.ts_ns, "rejected:" + entry.kind, entry.payload)], node_id, run_id)


class _SpillFile:
    """An append-only file of entries (JSON lines) with a read cursor; per run."""

    def __init__(self, directory: Path, run_id: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"spill-{run_id}.jsonl"
        self.rejected_path = directory / f"rejected-{run_id}.jsonl"
        self._out: IO[bytes] | None = None
        self._read_pos = 0
        self.active = False
        self.written = 0
        self.pending = 0

    def append(self, entry: Entry) -> None:
        if self._out is None:
            self._out = open(self.path, "ab")
        self._out.write(_encoder.encode(entry) + b"\n")
        self.active = True
        self.written += 1
        self.pending += 1

    def sync(self) -> None:
        if self._out is not None:
            self._out.flush()
            os.fsync(self._out.fileno())

    def read(self, limit: int) -> list[Entry]:
        if self._out is not None:
            self._out.flush()
        entries: list[Entry] = []
        with open(self.path, "rb") as f:
            f.seek(self._read_pos)
            while len(entries) < limit:
                line = f.readline()
                if not line:
                    break
                if not line.endswith(b"\n"):
                    break  # a torn last line: written by a crash, not yet complete
                self._read_pos = f.tell()
                entries.append(_line_decoder.decode(line))
        self.pending = max(0, self.pending - len(entries))
        if not entries:
            self._reset()
        return entries

    def rewrite(self, older: list[Entry], committed_seq: int) -> None:
        """Put ``older`` entries first, then whatever the file still holds; fsync; atomically."""
        rest: list[bytes] = []
        if self.active and self.path.exists():
            if self._out is not None:
                self._out.flush()
            with open(self.path, "rb") as f:
                f.seek(self._read_pos)
                rest = [line for line in f.read().splitlines(keepends=True) if line.endswith(b"\n")]
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            for entry in older:
                if entry.seq > committed_seq:
                    f.write(_encoder.encode(entry) + b"\n")
            f.writelines(rest)
            f.flush()
            os.fsync(f.fileno())
        if self._out is not None:
            self._out.close()
            self._out = None
        os.replace(tmp, self.path)
        self._read_pos = 0
        self.active = True
        self.pending = len([e for e in older if e.seq > committed_seq]) + len(rest)
        self.written += len(older)
        self._out = open(self.path, "ab")
        os.fsync(self._out.fileno())

    def reject(self, entry: Entry, reason: str) -> None:
        with open(self.rejected_path, "ab") as f:
            f.write(_encoder.encode({"entry": entry, "reason": reason}) + b"\n")
            f.flush()
            os.fsync(f.fileno())

    def _reset(self) -> None:
        """Everything spilled has been read back: empty the file and stop spilling."""
        if self._out is not None:
            self._out.close()
            self._out = None
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.path)
        self._read_pos = 0
        self.active = False
        self.pending = 0

    def close(self, *, remove_if_empty: bool) -> None:
        if self._out is not None:
            self._out.flush()
            os.fsync(self._out.fileno())
            self._out.close()
            self._out = None
        if remove_if_empty and self.path.exists() and not self.active:
            self.path.unlink()


async def replay_spill_file(backend: Backend, path: Path, node_id: str, batch_size: int = 1_000) -> int:
    """Commit the entries a crashed (or cut-off) run left in ``path``; return how many.

    The file name carries the run id (``spill-<run>.jsonl``). Inserts are idempotent, so
    entries that did reach the database before are harmless. The file is removed once done.
    """
    run_id = path.stem.removeprefix("spill-")
    entries: list[Entry] = []
    with open(path, "rb") as f:
        for line in f:
            if line.endswith(b"\n"):
                entries.append(_line_decoder.decode(line))
    for start in range(0, len(entries), batch_size):
        await backend.write(project(entries[start : start + batch_size], node_id, run_id))
    path.unlink()
    return len(entries)
