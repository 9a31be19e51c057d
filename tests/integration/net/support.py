"""Helpers shared by the ReliableWebSocket tests: config, hook recorder, waiting, ports."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Coroutine
from typing import Any

from bot4.core.errors import Bot4Error
from bot4.model.status import StreamGap, StreamResynced
from bot4.net.backoff import Backoff
from bot4.net.ws import StreamHooks
from bot4.net.ws_config import StreamConfig

FAST = Backoff(initial=0.005, multiplier=2.0, max_delay=0.05)


def run(coro: Coroutine[Any, Any, None], timeout: float = 60.0) -> None:
    """Run ``coro`` in a fresh event loop, failing it after ``timeout`` seconds."""

    async def bounded() -> None:
        async with asyncio.timeout(timeout):
            await coro

    asyncio.run(bounded())


def free_port() -> int:
    """A loopback port nothing listens on (for a server that is down, or starts later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def config(url: str, **overrides: Any) -> StreamConfig:
    """A stream config with test-sized timeouts; keepalive and idle detection off by default."""
    values: dict[str, Any] = {
        "url": url,
        "name": "test",
        "backoff": FAST,
        "ping_interval": 5.0,
        "pong_timeout": 5.0,
        "idle_timeout": None,
        "open_timeout": 2.0,
        "close_timeout": 0.5,
    }
    values.update(overrides)
    return StreamConfig(**values)


class Recorder:
    """Collects what the stream hands to its hooks."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.errors: list[Bot4Error] = []
        self.events: list[StreamGap | StreamResynced] = []

    def hooks(self, **extra: Any) -> StreamHooks:
        return StreamHooks(
            on_message=extra.pop("on_message", self.messages.append),
            on_error=extra.pop("on_error", self.errors.append),
            on_event=extra.pop("on_event", self.events.append),
            **extra,
        )


async def eventually(check: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> float:
    """Wait until ``check()`` holds; return how long it took."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.002)
    return time.monotonic() - start
