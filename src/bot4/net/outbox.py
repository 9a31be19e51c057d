"""The outbound side of a stream: a bounded queue of unsent messages and the unacknowledged.

A WebSocket ``send`` returning only means the bytes reached the kernel: a connection that dies
a moment later may take them along. So a message that names an ``ack_key`` stays *in flight*
after it is written, until the protocol acknowledges it (the venue's reply echoing its id, or a
resume handshake telling the last sequence it got), and goes out again, first in line, after a
reconnect. Messages without a key are fire-and-forget once written.

Both kinds count against one bound (``capacity``), so a venue that stops acknowledging cannot
grow memory without limit. What happens at the bound is the caller's explicit choice
(:class:`OverflowPolicy`) and every refusal or drop is counted.

The writer takes the head with :meth:`Outbox.take` and settles it with :meth:`Outbox.written`
or :meth:`Outbox.unwritten` once the send has returned. While a send waits on a full socket the
message is being written: it has left the queue, so it is neither dropped to make room (it is
already on its way) nor counted against ``capacity``, but :meth:`Outbox.drain` still returns it,
and an acknowledgement that overtakes the send is not lost.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Hashable
from dataclasses import dataclass
from enum import Enum

from bot4.core.errors import OutboundQueueFullError

__all__ = ["MessageKind", "Outbox", "Outgoing", "OverflowPolicy", "Payload"]

Payload = str | bytes


class OverflowPolicy(Enum):
    """What ``send`` does when the outbox is full."""

    REJECT_NEW = "reject_new"  # raise OutboundQueueFullError: the caller decides
    DROP_OLDEST = "drop_oldest"  # make room by dropping the oldest message, counted


class MessageKind(Enum):
    """Why a message is in the queue; subscription changes are replaced by the replay."""

    DATA = "data"
    SUBSCRIPTION = "subscription"


@dataclass(slots=True)
class Outgoing:
    payload: Payload
    ack_key: Hashable | None = None
    kind: MessageKind = MessageKind.DATA


class Outbox:
    """Unsent messages in order, then in-flight ones until acknowledged; bounded together."""

    def __init__(self, capacity: int, overflow: OverflowPolicy) -> None:
        if capacity < 1:
            raise ValueError(f"outbox capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.overflow = overflow
        self._queue: deque[Outgoing] = deque()
        self._in_flight: OrderedDict[Hashable, Outgoing] = OrderedDict()
        self._queued_keys: set[Hashable] = set()
        self._writing: Outgoing | None = None  # taken by the writer, send not yet returned
        self._writing_acked = False
        self.dropped = 0
        self.rejected = 0

    def __len__(self) -> int:
        return len(self._queue) + len(self._in_flight)

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def put(self, item: Outgoing) -> Outgoing | None:
        """Queue ``item``; return the message dropped to make room, if any.

        Raises :class:`OutboundQueueFullError` under REJECT_NEW when full, and ``ValueError``
        for an ``ack_key`` already waiting (the key is how the acknowledgement finds it).
        """
        key = item.ack_key
        if key is not None and self._waiting(key):
            raise ValueError(f"ack_key {item.ack_key!r} is already waiting for an acknowledgement")
        dropped: Outgoing | None = None
        if len(self) >= self.capacity:
            if self.overflow is OverflowPolicy.REJECT_NEW:
                self.rejected += 1
                raise OutboundQueueFullError(
                    "outbound queue is full; message not queued",
                    capacity=self.capacity,
                    queued=len(self._queue),
                    in_flight=len(self._in_flight),
                )
            dropped = self._drop_oldest()
        self._queue.append(item)
        if key is not None:
            self._queued_keys.add(key)
        return dropped

    def _waiting(self, key: Hashable) -> bool:
        writing = self._writing
        if writing is not None and writing.ack_key == key and not self._writing_acked:
            return True
        return key in self._in_flight or key in self._queued_keys

    def _drop_oldest(self) -> Outgoing:
        self.dropped += 1
        if self._in_flight:
            _, oldest = self._in_flight.popitem(last=False)
            return oldest
        oldest = self._queue.popleft()
        self._queued_keys.discard(oldest.ack_key)
        return oldest

    def peek(self) -> Outgoing | None:
        return self._queue[0] if self._queue else None

    def take(self) -> Outgoing:
        """Take the head to write it; settle it with :meth:`written` or :meth:`unwritten`."""
        if self._writing is not None:
            raise RuntimeError("a message is already being written; settle it first")
        item = self._queue.popleft()
        self._queued_keys.discard(item.ack_key)
        self._writing, self._writing_acked = item, False
        return item

    def written(self, item: Outgoing) -> None:
        """``item`` went onto the wire: forget it, or keep it until acknowledged."""
        if item is not self._writing:
            return  # drained while it was being written: its owner has it
        self._writing = None
        if item.ack_key is not None and not self._writing_acked:
            self._in_flight[item.ack_key] = item

    def unwritten(self, item: Outgoing) -> None:
        """``item`` did not go out (or may not have): put it back at the head.

        It was accepted already, so it goes back even into an outbox that filled meanwhile,
        which then holds one more than ``capacity`` until it is written.
        """
        if item is not self._writing:
            return
        self._writing = None
        if item.ack_key is not None and self._writing_acked:
            return  # the peer has it already
        self._queue.appendleft(item)
        if item.ack_key is not None:
            self._queued_keys.add(item.ack_key)

    def acknowledge(self, key: Hashable, *, cumulative: bool = False) -> int:
        """Forget the in-flight message ``key`` (and every older one if ``cumulative``).

        Returns how many were forgotten; an unknown key forgets nothing (it was acknowledged
        already, or never tracked), so duplicate acknowledgements are harmless. The message
        being written counts as in flight, newest: its acknowledgement can overtake the send.
        """
        writing = self._writing
        if writing is not None and writing.ack_key is not None and writing.ack_key == key:
            if self._writing_acked:
                return 0
            self._writing_acked = True
            count = 1
            if cumulative:
                count += len(self._in_flight)
                self._in_flight.clear()
            return count
        if key not in self._in_flight:
            return 0
        if not cumulative:
            del self._in_flight[key]
            return 1
        count = 0
        while self._in_flight:
            popped, _ = self._in_flight.popitem(last=False)
            count += 1
            if popped == key:
                break
        return count

    def requeue_in_flight(self) -> int:
        """After a reconnect: unacknowledged messages go back to the head, oldest first."""
        count = len(self._in_flight)
        if count:
            self._queue.extendleft(reversed(list(self._in_flight.values())))
            self._queued_keys.update(self._in_flight)
            self._in_flight.clear()
        return count

    def discard_subscriptions(self) -> int:
        """Drop queued subscription changes: the reconnect replays the current set instead."""
        before = len(self._queue)
        if before:
            self._queue = deque(
                item for item in self._queue if item.kind is not MessageKind.SUBSCRIPTION
            )
        return before - len(self._queue)

    def drain(self) -> list[Outgoing]:
        """Empty the outbox and return what was in it, oldest first: in flight, being written,
        then unsent."""
        items = list(self._in_flight.values())
        if self._writing is not None and not self._writing_acked:
            items.append(self._writing)
        items.extend(self._queue)
        self._in_flight.clear()
        self._queue.clear()
        self._queued_keys.clear()
        self._writing = None
        return items
