"""Market-data replay: hand recorded events to the exchange at a chosen speed.

The replay keeps the gaps between events' ``ts_init`` divided by ``speed`` (1.0 real time,
N times faster, 0 as fast as possible, yielding to the event loop after each event so clients
and requests are served in between). Pausing and changing speed restart the pacing from the
next event, so a pause never turns into a burst. ``position_ns`` is the data time reached
(the replay's clock); ``done`` is set when the events run out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable

from bot4.model.data import MarketData

__all__ = ["Replay"]


class Replay:
    """Paces ``events`` into ``deliver``; run it as one task (``run``)."""

    def __init__(self, events: Iterable[MarketData], deliver: Callable[[MarketData], None], speed: float) -> None:
        self._events = iter(events)
        self._deliver = deliver
        self._speed = speed
        self._running = asyncio.Event()
        self._running.set()
        self._anchor: tuple[float, int] | None = None  # (monotonic, ts_init) pacing starts from
        self.done = asyncio.Event()
        self.delivered = 0
        self.position_ns: int | None = None

    @property
    def speed(self) -> float:
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        if value < 0:
            raise ValueError(f"speed must not be negative, got {value}")
        self._speed = value
        self._anchor = None

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._anchor = None
        self._running.set()

    async def run(self) -> None:
        for event in self._events:
            if not self._running.is_set():
                await self._running.wait()
            speed = self._speed
            if speed > 0:
                ts = event.ts_init
                if self._anchor is None:
                    self._anchor = (time.monotonic(), ts)
                start, start_ts = self._anchor
                delay = start + (ts - start_ts) / 1e9 / speed - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                    if not self._running.is_set():  # paused while sleeping: wait, then re-pace
                        await self._running.wait()
            self._deliver(event)
            self.delivered += 1
            self.position_ns = event.ts_init
            if speed <= 0:
                await asyncio.sleep(0)
        self.done.set()
