"""Clocks: the only source of time for engines.

A backtest drives a :class:`TestClock` forward with the data; live and paper run a
:class:`LiveClock` that reads the wall clock. Timers work the same on both: the owner of the
loop calls ``advance_time(to_ns)`` and gets the timer events that fell due, in time order,
and fires them. Nothing here sleeps or starts tasks, so engines stay synchronous.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable

import msgspec

from bot4.core.errors import InvalidInputError

__all__ = ["NO_TIMER", "Clock", "LiveClock", "TestClock", "TimeEvent", "TimeEventHandler"]


class TimeEvent(msgspec.Struct, frozen=True, gc=False):
    """A timer fired: ``name`` is the timer, ``ts_event`` when it was due."""

    name: str
    ts_event: int
    ts_init: int


TimeEventHandler = Callable[[TimeEvent], None]

NO_TIMER = 2**63 - 1  # later than any timestamp: "no timer set"


class _Timer:
    __slots__ = ("callback", "interval_ns", "name", "next_ns", "stop_ns")

    def __init__(
        self, name: str, callback: TimeEventHandler, next_ns: int, interval_ns: int, stop_ns: int | None
    ) -> None:
        self.name = name
        self.callback = callback
        self.next_ns = next_ns
        self.interval_ns = interval_ns
        self.stop_ns = stop_ns


class Clock:
    """Time plus named timers; subclasses say where 'now' comes from."""

    __test__ = False

    def __init__(self) -> None:
        self._timers: dict[str, _Timer] = {}
        self._heap: list[tuple[int, int, str]] = []
        # A lower bound on the next due time (NO_TIMER when none): loops compare one int per
        # event instead of calling next_due_ns(); it may be stale-low after a cancel, which
        # costs only an extra next_due_ns() call.
        self.earliest_ns = NO_TIMER
        self._seq = 0

    def timestamp_ns(self) -> int:
        raise NotImplementedError

    @property
    def timer_names(self) -> list[str]:
        return sorted(self._timers)

    def set_time_alert(self, name: str, alert_ns: int, callback: TimeEventHandler) -> None:
        """Fire ``callback`` once at ``alert_ns`` (immediately on the next advance if past)."""
        self._add(_Timer(name, callback, alert_ns, 0, alert_ns))

    def set_timer(
        self,
        name: str,
        interval_ns: int,
        callback: TimeEventHandler,
        start_ns: int | None = None,
        stop_ns: int | None = None,
    ) -> None:
        """Fire ``callback`` every ``interval_ns`` from ``start_ns`` (default now) + interval."""
        if interval_ns <= 0:
            raise InvalidInputError("timer interval must be positive", name=name, interval_ns=interval_ns)
        start = self.timestamp_ns() if start_ns is None else start_ns
        self._add(_Timer(name, callback, start + interval_ns, interval_ns, stop_ns))

    def cancel_timer(self, name: str) -> None:
        self._timers.pop(name, None)

    def cancel_timers(self) -> None:
        self._timers.clear()
        self._heap.clear()
        self.earliest_ns = NO_TIMER

    def next_due_ns(self) -> int | None:
        """When the earliest live timer falls due, or None."""
        while self._heap:
            due, _, name = self._heap[0]
            timer = self._timers.get(name)
            if timer is not None and timer.next_ns == due:
                self.earliest_ns = due
                return due
            heapq.heappop(self._heap)
        self.earliest_ns = NO_TIMER
        return None

    def _add(self, timer: _Timer) -> None:
        if timer.name in self._timers:
            raise InvalidInputError("a timer with this name is already set", name=timer.name)
        self._timers[timer.name] = timer
        self._push(timer)

    def _push(self, timer: _Timer) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (timer.next_ns, self._seq, timer.name))
        if timer.next_ns < self.earliest_ns:
            self.earliest_ns = timer.next_ns

    def _due_until(self, to_ns: int) -> list[tuple[TimeEvent, TimeEventHandler]]:
        fired: list[tuple[TimeEvent, TimeEventHandler]] = []
        heap = self._heap
        while heap and heap[0][0] <= to_ns:
            due, _, name = heapq.heappop(heap)
            timer = self._timers.get(name)
            if timer is None or timer.next_ns != due:
                continue  # cancelled or rescheduled: a stale heap entry
            if timer.stop_ns is not None and due > timer.stop_ns:
                del self._timers[name]  # its first due time was already past its stop time
                continue
            fired.append((TimeEvent(name, due, to_ns), timer.callback))
            if timer.interval_ns and (timer.stop_ns is None or due + timer.interval_ns <= timer.stop_ns):
                timer.next_ns = due + timer.interval_ns
                self._push(timer)
            else:
                del self._timers[name]
        self.earliest_ns = heap[0][0] if heap else NO_TIMER
        return fired


class TestClock(Clock):
    """Simulated time: moves only when told, never backwards."""

    def __init__(self, start_ns: int = 0) -> None:
        super().__init__()
        self._now = start_ns

    def timestamp_ns(self) -> int:
        return self._now

    def set_time(self, to_ns: int) -> None:
        """Jump to ``to_ns`` without firing timers (used to seed a run and after timers)."""
        if to_ns < self._now:
            raise InvalidInputError("simulated time cannot go backwards", now=self._now, to=to_ns)
        self._now = to_ns

    def advance_time(self, to_ns: int) -> list[tuple[TimeEvent, TimeEventHandler]]:
        """Move to ``to_ns`` and return the timer events due by then, in time order.

        The caller fires them (``handler(event)``). To let each handler see its own due time,
        advance to ``next_due_ns()`` one step at a time, as the backtest engine does.
        """
        if to_ns < self._now:
            raise InvalidInputError("simulated time cannot go backwards", now=self._now, to=to_ns)
        fired = self._due_until(to_ns)
        self._now = to_ns
        return fired


class LiveClock(Clock):
    """Wall-clock time; the live loop calls ``advance_time`` to collect due timers."""

    def timestamp_ns(self) -> int:
        return time.time_ns()

    def advance_time(self, to_ns: int | None = None) -> list[tuple[TimeEvent, TimeEventHandler]]:
        return self._due_until(self.timestamp_ns() if to_ns is None else to_ns)
