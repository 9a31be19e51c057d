"""The bus side of the journal: every fact the engines publish becomes a journal entry.

The recorder is a plain synchronous bus subscriber, so the engines know nothing about storage:
they publish events as they always do and the recorder encodes each one and hands it to the
:class:`~bot4.store.writer.JournalWriter` (a queue append). An order's first event (submitted
or denied, or adopted by reconciliation) is preceded by the order's spec, so the order can be
rebuilt from the store alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import msgspec

from bot4.core.bus import MessageBus
from bot4.core.ids import ClientOrderId
from bot4.model.account import AccountState
from bot4.model.events import OrderDenied, OrderEvent, OrderSubmitted
from bot4.model.orders import Order
from bot4.model.position import PositionChanged
from bot4.model.status import CIRCUIT_TOPIC, STREAM_TOPIC
from bot4.store.records import EntryKind, OrderEventRecord, order_spec, order_state

__all__ = ["Journal", "Recorder"]

_encode = msgspec.json.Encoder().encode


class Journal(Protocol):
    """What the recorder needs from a writer."""

    def append(self, kind: str, payload: str, ts_ns: int) -> int: ...


class Recorder:
    """Subscribe to the engines' topics and journal what they publish."""

    def __init__(self, bus: MessageBus, journal: Journal, order_of: Callable[[ClientOrderId], Order | None]) -> None:
        self._bus = bus
        self._journal = journal
        self._order_of = order_of
        self._subscriptions: list[tuple[str, Callable[[Any], None]]] = [
            ("events.order.*", self._on_order_event),
            ("events.position", self._on_position),
            ("events.account", self._on_account),
            ("events.risk", self._make(EntryKind.RISK_STATE)),
            (CIRCUIT_TOPIC, self._make(EntryKind.CIRCUIT)),
            (STREAM_TOPIC, self._make(EntryKind.STREAM)),
        ]
        self.recorded = 0

    def attach(self) -> None:
        for topic, handler in self._subscriptions:
            self._bus.subscribe(topic, handler)

    def detach(self) -> None:
        for topic, handler in self._subscriptions:
            self._bus.unsubscribe(topic, handler)

    def record(self, kind: str, payload: Any, ts_ns: int) -> int:
        """Journal anything msgspec can encode (recovery summaries, run notes)."""
        self.recorded += 1
        return self._journal.append(kind, _encode(payload).decode(), ts_ns)

    def _on_order_event(self, event: OrderEvent) -> None:
        order = self._order_of(event.client_order_id)
        if order is None:
            return  # an event for an order we never knew: the execution engine keeps it as unmatched
        if isinstance(event, OrderSubmitted | OrderDenied):
            self.record(EntryKind.ORDER_SPEC, order_spec(order), event.ts_init)
        self.record(EntryKind.ORDER_EVENT, OrderEventRecord(event=event, state=order_state(order)), event.ts_init)  # type: ignore[arg-type]

    def _on_position(self, changed: PositionChanged) -> None:
        self.record(EntryKind.POSITION, changed, changed.ts_init)

    def _on_account(self, state: AccountState) -> None:
        self.record(EntryKind.ACCOUNT, state, state.ts_init)

    def _make(self, kind: str) -> Callable[[Any], None]:
        def handler(event: Any) -> None:
            self.record(kind, event, getattr(event, "ts_init", 0))

        return handler
