"""Clocks: simulated time, timers and alerts, and the wall clock."""

from __future__ import annotations

import time

import pytest

from bot4.core.clock import LiveClock, TestClock, TimeEvent, TimeEventHandler
from bot4.core.errors import InvalidInputError


def noop(event: TimeEvent) -> None:
    pass


def due(fired: list[tuple[TimeEvent, TimeEventHandler]]) -> list[tuple[str, int]]:
    """(name, ts_event) of each fired event, in the order returned."""
    return [(event.name, event.ts_event) for event, _ in fired]


# -- TestClock: time ------------------------------------------------------------------------


def test_test_clock_starts_at_given_time() -> None:
    assert TestClock().timestamp_ns() == 0
    assert TestClock(1_700_000_000_000_000_000).timestamp_ns() == 1_700_000_000_000_000_000


def test_test_clock_advance_time_moves_now() -> None:
    clock = TestClock(100)
    assert clock.advance_time(250) == []
    assert clock.timestamp_ns() == 250


def test_test_clock_advance_to_same_time_is_allowed() -> None:
    clock = TestClock(100)
    clock.advance_time(100)
    assert clock.timestamp_ns() == 100


def test_test_clock_advance_backwards_raises_and_keeps_time() -> None:
    clock = TestClock(100)
    clock.set_time_alert("a", 50, noop)
    with pytest.raises(InvalidInputError) as excinfo:
        clock.advance_time(99)
    assert excinfo.value.context == {"now": 100, "to": 99}
    assert clock.timestamp_ns() == 100
    assert clock.timer_names == ["a"]  # nothing fired or consumed


def test_test_clock_set_time_jumps_without_firing_timers() -> None:
    clock = TestClock(0)
    clock.set_timer("t", 10, noop)
    clock.set_time(35)
    assert clock.timestamp_ns() == 35
    assert clock.next_due_ns() == 10
    # The next advance delivers everything that fell due, stamped with the advance time.
    fired = clock.advance_time(35)
    assert due(fired) == [("t", 10), ("t", 20), ("t", 30)]
    assert {event.ts_init for event, _ in fired} == {35}


# -- TestClock: timers ----------------------------------------------------------------------


def test_timer_fires_every_interval_from_now() -> None:
    clock = TestClock(1_000)
    clock.set_timer("bar", 10, noop)
    fired = clock.advance_time(1_035)
    assert due(fired) == [("bar", 1_010), ("bar", 1_020), ("bar", 1_030)]
    assert [event.ts_init for event, _ in fired] == [1_035, 1_035, 1_035]
    assert clock.next_due_ns() == 1_040


def test_timer_fires_from_explicit_start() -> None:
    clock = TestClock(0)
    clock.set_timer("t", 10, noop, start_ns=100)
    assert due(clock.advance_time(105)) == []
    assert due(clock.advance_time(125)) == [("t", 110), ("t", 120)]


def test_timer_due_exactly_at_advance_time_fires() -> None:
    clock = TestClock(0)
    clock.set_timer("t", 10, noop)
    assert due(clock.advance_time(9)) == []
    assert due(clock.advance_time(10)) == [("t", 10)]


def test_timer_returns_its_own_callback_with_the_event() -> None:
    clock = TestClock(0)
    seen: list[tuple[str, TimeEvent]] = []
    clock.set_timer("a", 10, lambda e: seen.append(("a", e)))
    clock.set_timer("b", 15, lambda e: seen.append(("b", e)))
    for event, handler in clock.advance_time(15):
        handler(event)
    assert [(tag, event.name, event.ts_event) for tag, event in seen] == [
        ("a", "a", 10),
        ("b", "b", 15),
    ]


def test_multiple_timers_fire_in_time_order() -> None:
    clock = TestClock(0)
    clock.set_timer("a", 10, noop)
    clock.set_timer("b", 15, noop)
    clock.set_time_alert("c", 12, noop)
    assert due(clock.advance_time(29)) == [("a", 10), ("c", 12), ("b", 15), ("a", 20)]
    assert due(clock.advance_time(45)) == [("b", 30), ("a", 30), ("a", 40), ("b", 45)]


def test_timers_due_at_the_same_time_fire_in_the_order_they_were_set() -> None:
    clock = TestClock(0)
    clock.set_time_alert("second", 10, noop)
    clock.set_time_alert("first", 5, noop)
    clock.set_time_alert("third", 10, noop)
    assert due(clock.advance_time(10)) == [("first", 5), ("second", 10), ("third", 10)]


def test_timer_over_several_advances_never_repeats_a_due_time() -> None:
    clock = TestClock(0)
    clock.set_timer("t", 7, noop)
    seen: list[int] = []
    for to in (3, 7, 7, 20, 21, 22, 50):
        seen += [event.ts_event for event, _ in clock.advance_time(to)]
    assert seen == [7, 14, 21, 28, 35, 42, 49]


def test_timer_with_stop_time_fires_up_to_and_including_stop() -> None:
    clock = TestClock(0)
    clock.set_timer("t", 10, noop, stop_ns=30)
    assert due(clock.advance_time(100)) == [("t", 10), ("t", 20), ("t", 30)]
    assert clock.timer_names == []
    assert clock.next_due_ns() is None


def test_timer_with_stop_time_off_the_grid_stops_before_it() -> None:
    clock = TestClock(0)
    clock.set_timer("t", 10, noop, stop_ns=25)
    assert due(clock.advance_time(100)) == [("t", 10), ("t", 20)]
    assert clock.timer_names == []


def test_timer_with_stop_time_before_first_due_never_fires() -> None:
    clock = TestClock(0)
    clock.set_timer("t", 10, noop, stop_ns=5)
    fired = clock.advance_time(100)
    assert [event.ts_event for event, _ in fired if event.ts_event > 5] == []


@pytest.mark.parametrize("interval", [0, -1])
def test_timer_non_positive_interval_raises_invalid_input_error(interval: int) -> None:
    clock = TestClock(0)
    with pytest.raises(InvalidInputError):
        clock.set_timer("t", interval, noop)
    assert clock.timer_names == []


def test_timer_duplicate_name_raises_invalid_input_error() -> None:
    clock = TestClock(0)
    clock.set_timer("t", 10, noop)
    with pytest.raises(InvalidInputError) as excinfo:
        clock.set_time_alert("t", 5, noop)
    assert excinfo.value.context == {"name": "t"}
    assert due(clock.advance_time(10)) == [("t", 10)]


def test_timer_names_are_sorted() -> None:
    clock = TestClock(0)
    clock.set_timer("zeta", 10, noop)
    clock.set_time_alert("alpha", 10, noop)
    clock.set_timer("mid", 10, noop)
    assert clock.timer_names == ["alpha", "mid", "zeta"]


def test_cancel_timer_stops_it_firing() -> None:
    clock = TestClock(0)
    clock.set_timer("a", 10, noop)
    clock.set_timer("b", 10, noop)
    clock.advance_time(10)
    clock.cancel_timer("a")
    assert clock.timer_names == ["b"]
    assert due(clock.advance_time(30)) == [("b", 20), ("b", 30)]


def test_cancel_unknown_timer_does_nothing() -> None:
    clock = TestClock(0)
    clock.set_timer("a", 10, noop)
    clock.cancel_timer("nope")
    assert due(clock.advance_time(10)) == [("a", 10)]


def test_cancel_then_set_same_name_fires_only_the_new_schedule() -> None:
    clock = TestClock(0)
    clock.set_timer("t", 10, noop)
    clock.cancel_timer("t")
    clock.set_timer("t", 4, noop, start_ns=2)
    assert due(clock.advance_time(20)) == [("t", 6), ("t", 10), ("t", 14), ("t", 18)]


def test_cancel_timers_removes_every_timer() -> None:
    clock = TestClock(0)
    clock.set_timer("a", 10, noop)
    clock.set_time_alert("b", 5, noop)
    clock.cancel_timers()
    assert clock.timer_names == []
    assert clock.next_due_ns() is None
    assert clock.advance_time(100) == []


# -- TestClock: time alerts -----------------------------------------------------------------


def test_time_alert_fires_once_at_its_time() -> None:
    clock = TestClock(0)
    clock.set_time_alert("alert", 50, noop)
    assert due(clock.advance_time(49)) == []
    fired = clock.advance_time(60)
    assert due(fired) == [("alert", 50)]
    assert fired[0][0] == TimeEvent("alert", 50, 60)
    assert clock.timer_names == []
    assert clock.advance_time(1_000) == []


def test_time_alert_in_the_past_fires_on_next_advance() -> None:
    clock = TestClock(100)
    clock.set_time_alert("late", 40, noop)
    fired = clock.advance_time(100)
    assert fired[0][0] == TimeEvent("late", 40, 100)


def test_time_alert_name_is_free_again_after_firing() -> None:
    clock = TestClock(0)
    clock.set_time_alert("a", 5, noop)
    clock.advance_time(5)
    clock.set_time_alert("a", 8, noop)
    assert due(clock.advance_time(10)) == [("a", 8)]


# -- next_due_ns ----------------------------------------------------------------------------


def test_next_due_ns_is_none_without_timers() -> None:
    assert TestClock(0).next_due_ns() is None


def test_next_due_ns_returns_earliest_live_timer() -> None:
    clock = TestClock(0)
    clock.set_timer("slow", 100, noop)
    clock.set_time_alert("soon", 30, noop)
    clock.set_timer("fast", 40, noop)
    assert clock.next_due_ns() == 30
    clock.cancel_timer("soon")
    assert clock.next_due_ns() == 40
    clock.advance_time(40)
    assert clock.next_due_ns() == 80
    clock.cancel_timer("fast")
    assert clock.next_due_ns() == 100


# -- LiveClock ------------------------------------------------------------------------------


def test_live_clock_reads_wall_time_in_nanoseconds() -> None:
    before = time.time_ns()
    now = LiveClock().timestamp_ns()
    after = time.time_ns()
    assert before <= now <= after


def test_live_clock_successive_reads_do_not_go_back() -> None:
    clock = LiveClock()
    reads = [clock.timestamp_ns() for _ in range(1_000)]
    assert all(b >= a for a, b in zip(reads, reads[1:], strict=False))


def test_live_clock_advance_time_without_argument_uses_now() -> None:
    clock = LiveClock()
    now = clock.timestamp_ns()
    clock.set_time_alert("past", now - 1_000, noop)
    clock.set_time_alert("future", now + 3_600_000_000_000, noop)
    fired = clock.advance_time()
    assert due(fired) == [("past", now - 1_000)]
    assert fired[0][0].ts_init >= now
    assert clock.timer_names == ["future"]


def test_live_clock_advance_time_to_explicit_time_fires_timers_due_by_then() -> None:
    clock = LiveClock()
    clock.set_timer("t", 10, noop, start_ns=0)
    assert due(clock.advance_time(25)) == [("t", 10), ("t", 20)]


def test_live_clock_timer_default_start_is_now() -> None:
    clock = LiveClock()
    before = clock.timestamp_ns()
    clock.set_timer("t", 1_000_000_000, noop)
    after = clock.timestamp_ns()
    next_due = clock.next_due_ns()
    assert next_due is not None
    assert before + 1_000_000_000 <= next_due <= after + 1_000_000_000
