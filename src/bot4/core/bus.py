"""In-process message bus: topics for publish/subscribe, endpoints for point-to-point.

Handlers run synchronously, one at a time, in subscription order: the order of effects in a
backtest is fixed by the order of messages, which is what makes runs reproducible.

Delivery runs to completion: a message published while a handler is running (a strategy's
order is filled inside its own ``on_trade``) is queued and delivered after that handler, and
every other handler of the current message, has returned. So no handler is ever re-entered
from inside itself, and a strategy sees its fill after ``on_trade`` returns, as it would live.
Queued messages are kept if a handler raises and go out with the next publish.

Topics are dot-separated strings (``data.trades.BTCUSDT.BINANCE``). A subscription may end in
``*`` to match every topic with that prefix. ``publish`` looks the topic up in a cache of
resolved handler tuples, so the hot path costs one dict lookup and a loop; the cache is
rebuilt only when subscriptions change.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from bot4.core.errors import InvalidInputError

__all__ = ["Handler", "MessageBus"]

Handler = Callable[[Any], None]


class MessageBus:
    """Topics and endpoints within one process."""

    def __init__(self) -> None:
        self._subscriptions: list[tuple[str, Handler]] = []
        self._resolved: dict[str, tuple[Handler, ...]] = {}
        self._endpoints: dict[str, Handler] = {}
        self._pending: deque[tuple[tuple[Handler, ...], Any]] = deque()
        self._delivering = False
        self.published_count = 0
        self.sent_count = 0

    def subscribe(self, topic: str, handler: Handler) -> None:
        """Call ``handler(msg)`` for every message on ``topic`` (``prefix*`` for a family)."""
        if not topic:
            raise InvalidInputError("topic must not be empty")
        if (topic, handler) in self._subscriptions:
            return
        self._subscriptions.append((topic, handler))
        self._resolved.clear()

    def unsubscribe(self, topic: str, handler: Handler) -> None:
        try:
            self._subscriptions.remove((topic, handler))
        except ValueError:
            return
        self._resolved.clear()

    def has_subscribers(self, topic: str) -> bool:
        return bool(self._handlers_for(topic))

    def publish(self, topic: str, msg: Any) -> None:
        handlers = self._resolved.get(topic)
        if handlers is None:
            handlers = self._handlers_for(topic)
        self.published_count += 1
        if self._delivering:
            self._pending.append((handlers, msg))
            return
        self._delivering = True
        try:
            for handler in handlers:
                handler(msg)
            pending = self._pending
            while pending:
                queued, queued_msg = pending.popleft()
                for handler in queued:
                    handler(queued_msg)
        finally:
            self._delivering = False

    def register(self, endpoint: str, handler: Handler) -> None:
        """Make ``handler`` the one receiver of messages sent to ``endpoint``."""
        if endpoint in self._endpoints:
            raise InvalidInputError("endpoint already registered", endpoint=endpoint)
        self._endpoints[endpoint] = handler

    def deregister(self, endpoint: str) -> None:
        self._endpoints.pop(endpoint, None)

    def send(self, endpoint: str, msg: Any) -> None:
        handler = self._endpoints.get(endpoint)
        if handler is None:
            raise InvalidInputError("no handler registered for endpoint", endpoint=endpoint)
        self.sent_count += 1
        handler(msg)

    def _handlers_for(self, topic: str) -> tuple[Handler, ...]:
        matched = tuple(
            handler
            for pattern, handler in self._subscriptions
            if pattern == topic or (pattern.endswith("*") and topic.startswith(pattern[:-1]))
        )
        self._resolved[topic] = matched
        return matched
