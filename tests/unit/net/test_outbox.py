"""The outbound queue: order, bounds, overflow policies, acknowledgements."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot4.core.errors import OutboundQueueFullError
from bot4.net.outbox import MessageKind, Outbox, Outgoing, OverflowPolicy


def write_all(box: Outbox) -> list[str | bytes]:
    sent = []
    while box.peek() is not None:
        item = box.take()
        box.written(item)
        sent.append(item.payload)
    return sent


def test_outbox_releases_messages_in_the_order_they_were_put() -> None:
    box = Outbox(10, OverflowPolicy.REJECT_NEW)
    for n in range(5):
        box.put(Outgoing(f"m{n}"))
    assert write_all(box) == ["m0", "m1", "m2", "m3", "m4"]
    assert len(box) == 0


def test_outbox_full_under_reject_policy_raises_and_counts() -> None:
    box = Outbox(2, OverflowPolicy.REJECT_NEW)
    box.put(Outgoing("a"))
    box.put(Outgoing("b"))
    with pytest.raises(OutboundQueueFullError) as err:
        box.put(Outgoing("c"))
    assert err.value.context["capacity"] == 2
    assert box.rejected == 1 and write_all(box) == ["a", "b"]


def test_outbox_full_under_drop_policy_drops_oldest_in_flight_first() -> None:
    box = Outbox(2, OverflowPolicy.DROP_OLDEST)
    box.put(Outgoing("a", ack_key=1))
    box.written(box.take())
    box.put(Outgoing("b"))
    dropped = box.put(Outgoing("c"))
    assert dropped is not None and dropped.payload == "a"
    assert box.dropped == 1 and write_all(box) == ["b", "c"]


def test_keyed_message_stays_in_flight_until_acknowledged() -> None:
    box = Outbox(10, OverflowPolicy.REJECT_NEW)
    box.put(Outgoing("a", ack_key=1))
    box.put(Outgoing("b", ack_key=2))
    write_all(box)
    assert box.in_flight == 2
    assert box.acknowledge(1) == 1
    assert box.acknowledge(1) == 0  # duplicate acknowledgements are harmless
    assert box.requeue_in_flight() == 1
    assert write_all(box) == ["b"]


def test_cumulative_acknowledgement_forgets_every_older_message() -> None:
    box = Outbox(10, OverflowPolicy.REJECT_NEW)
    for n in range(1, 6):
        box.put(Outgoing(f"m{n}", ack_key=n))
    write_all(box)
    assert box.acknowledge(3, cumulative=True) == 3
    assert box.acknowledge(99, cumulative=True) == 0  # unknown key: forget nothing
    box.requeue_in_flight()
    assert write_all(box) == ["m4", "m5"]


def test_requeued_in_flight_messages_go_before_unsent_ones() -> None:
    box = Outbox(10, OverflowPolicy.REJECT_NEW)
    box.put(Outgoing("old", ack_key="k"))
    write_all(box)
    box.put(Outgoing("new"))
    box.requeue_in_flight()
    assert write_all(box) == ["old", "new"]


def test_duplicate_waiting_ack_key_is_refused() -> None:
    box = Outbox(10, OverflowPolicy.REJECT_NEW)
    box.put(Outgoing("a", ack_key=1))
    with pytest.raises(ValueError, match="already waiting"):
        box.put(Outgoing("b", ack_key=1))


def test_queued_subscription_changes_are_discarded_before_replay() -> None:
    box = Outbox(10, OverflowPolicy.REJECT_NEW)
    box.put(Outgoing("sub", kind=MessageKind.SUBSCRIPTION))
    box.put(Outgoing("data"))
    assert box.discard_subscriptions() == 1
    assert write_all(box) == ["data"]


def test_drain_returns_in_flight_then_unsent() -> None:
    box = Outbox(10, OverflowPolicy.REJECT_NEW)
    box.put(Outgoing("a", ack_key=1))
    write_all(box)
    box.put(Outgoing("b"))
    assert [i.payload for i in box.drain()] == ["a", "b"]
    assert len(box) == 0


def test_message_being_written_is_never_dropped_to_make_room() -> None:
    box = Outbox(2, OverflowPolicy.DROP_OLDEST)
    box.put(Outgoing("a"))
    writing = box.take()  # the send is waiting on a full socket
    box.put(Outgoing("b"))
    box.put(Outgoing("c"))
    dropped = box.put(Outgoing("d"))
    assert dropped is not None and dropped.payload == "b"
    box.written(writing)
    assert box.dropped == 1 and write_all(box) == ["c", "d"]


def test_acknowledgement_that_overtakes_the_write_is_not_lost() -> None:
    box = Outbox(10, OverflowPolicy.REJECT_NEW)
    box.put(Outgoing("a", ack_key=1))
    box.put(Outgoing("b", ack_key=2))
    box.written(box.take())
    writing = box.take()
    assert box.acknowledge(2, cumulative=True) == 2
    box.written(writing)
    assert box.in_flight == 0 and len(box) == 0


def test_unwritten_message_goes_back_to_the_head() -> None:
    box = Outbox(10, OverflowPolicy.REJECT_NEW)
    box.put(Outgoing("a", ack_key=1))
    box.put(Outgoing("b"))
    box.unwritten(box.take())
    with pytest.raises(ValueError, match="already waiting"):
        box.put(Outgoing("again", ack_key=1))
    assert write_all(box) == ["a", "b"]


def test_drain_returns_the_message_being_written_and_ignores_its_late_settlement() -> None:
    box = Outbox(10, OverflowPolicy.REJECT_NEW)
    box.put(Outgoing("a", ack_key=1))
    box.put(Outgoing("b"))
    box.put(Outgoing("c"))
    box.written(box.take())
    writing = box.take()
    assert [i.payload for i in box.drain()] == ["a", "b", "c"]
    box.unwritten(writing)
    assert len(box) == 0 and box.peek() is None


@given(
    st.lists(st.sampled_from(["put", "take", "write", "fail", "ack", "requeue"]), max_size=200),
    st.integers(1, 8),
    st.sampled_from(list(OverflowPolicy)),
)
def test_outbox_never_exceeds_capacity_and_keeps_order(ops: list[str], capacity: int, policy: OverflowPolicy) -> None:
    box = Outbox(capacity, policy)
    n = 0
    written: list[int] = []
    writing: Outgoing | None = None
    for op in ops:
        if op == "put":
            n += 1
            try:
                box.put(Outgoing(str(n), ack_key=n))
            except OutboundQueueFullError:
                pass
        elif op == "take" and writing is None and box.peek() is not None:
            writing = box.take()
        elif op == "write" and writing is not None:
            box.written(writing)
            written.append(int(writing.payload))
            writing = None
        elif op == "fail" and writing is not None:
            box.unwritten(writing)
            writing = None
        elif op == "ack" and written:
            box.acknowledge(written[0], cumulative=True)
        elif op == "requeue" and writing is None:  # the writer is stopped during a reconnect
            box.requeue_in_flight()
        # A send that did not complete puts its message back even into a full outbox.
        assert len(box) <= capacity + 1
    remaining = [int(i.payload) for i in box.drain()]
    assert remaining == sorted(remaining)
