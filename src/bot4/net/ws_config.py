"""Configuration of a :class:`~bot4.net.ws.ReliableWebSocket` and the snapshot of its statistics."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import msgspec

from bot4.core.errors import ConfigError
from bot4.net.backoff import Backoff
from bot4.net.outbox import OverflowPolicy

__all__ = [
    "DisconnectCause",
    "PayloadKind",
    "StreamConfig",
    "StreamProfile",
    "StreamState",
    "StreamStats",
]


class StreamProfile(Enum):
    """How hard a stream tries to stay connected.

    MARKET_DATA never gives up: missing prices are recoverable, so it keeps trying for as long
    as it lives. ORDERS (order entry, user data) gives up after ``max_attempts`` failed connects
    in a row and trips its circuit breaker: trading blind on fills is worse than not trading, so
    the risk engine must hear about it and move to REDUCING or HALTED.
    """

    MARKET_DATA = "market_data"
    ORDERS = "orders"


class StreamState(Enum):
    CONNECTING = "CONNECTING"  # first connection not yet open
    OPEN = "OPEN"
    RECONNECTING = "RECONNECTING"  # was open (or tried), waiting or dialling again
    CLOSED = "CLOSED"  # closed by its owner, or gave up (ORDERS profile)


class PayloadKind(Enum):
    """What frames the protocol carries; the other kind is reported as malformed."""

    TEXT = "text"
    BINARY = "binary"
    ANY = "any"


class DisconnectCause(Enum):
    """Why a connection ended; counted per cause in :class:`StreamStats`."""

    CONNECTION_LOST = "connection_lost"  # TCP dropped with no close frame
    REMOTE_CLOSE = "remote_close"  # the server sent a close frame (code counted separately)
    PONG_TIMEOUT = "pong_timeout"  # our ping went unanswered for pong_timeout
    IDLE_TIMEOUT = "idle_timeout"  # no message for idle_timeout: a stalled stream
    OVERSIZE = "oversize"  # a message above max_message_size
    MALFORMED_FRAME = "malformed_frame"  # invalid UTF-8 in a text frame, or a protocol violation
    HANDSHAKE_FAILED = "handshake_failed"  # on_connect or on_resync failed (auth, resume, snapshot)
    LOCAL_CLOSE = "local_close"  # close() by the owner
    INTERNAL_ERROR = "internal_error"  # a bug in the stream's own tasks (logged and reported)


@dataclass(frozen=True, kw_only=True)
class StreamConfig:
    """One logical stream. Times are seconds; tests use milliseconds.

    ``max_attempts`` counts failed connects in a row and applies to the ORDERS profile only.
    A connection that stays open ``stable_after`` seconds resets the backoff; one that dies
    sooner makes the next wait longer, like a failed connect.
    ``max_in_flight`` is a send window: at most that many keyed messages written but not yet
    acknowledged. Everything in flight is sent again after a reconnect, so the window bounds
    that replay; None leaves it to ``queue_size``.
    ``idle_timeout=None`` turns the stall detector off for streams that are legitimately quiet
    (a user-data stream with no orders); keepalive pings still guard those.
    """

    url: str
    name: str = "stream"
    venue: str = "SIM"
    profile: StreamProfile = StreamProfile.MARKET_DATA
    backoff: Backoff = field(default_factory=Backoff)
    max_attempts: int = 10
    ping_interval: float = 30.0
    pong_timeout: float = 10.0
    idle_timeout: float | None = 90.0
    open_timeout: float = 10.0
    close_timeout: float = 2.0
    stable_after: float = 10.0
    queue_size: int = 1000
    max_in_flight: int | None = None
    overflow: OverflowPolicy = OverflowPolicy.REJECT_NEW
    max_message_size: int = 4 * 2**20
    payload: PayloadKind = PayloadKind.TEXT

    def __post_init__(self) -> None:
        if not self.url.startswith(("ws://", "wss://")):
            raise ConfigError("stream url must start with ws:// or wss://", key="url", value=self.url)
        positive = {
            "ping_interval": self.ping_interval,
            "pong_timeout": self.pong_timeout,
            "open_timeout": self.open_timeout,
            "close_timeout": self.close_timeout,
            "stable_after": self.stable_after,
        }
        if self.idle_timeout is not None:
            positive["idle_timeout"] = self.idle_timeout
        for key, value in positive.items():
            if not value > 0:
                raise ConfigError("must be > 0 seconds", key=key, value=value, stream=self.name)
        if self.max_in_flight is not None and self.max_in_flight < 1:
            raise ConfigError("must be >= 1 or unset", key="max_in_flight", value=self.max_in_flight)
        for key, count in (
            ("max_attempts", self.max_attempts),
            ("queue_size", self.queue_size),
            ("max_message_size", self.max_message_size),
        ):
            if count < 1:
                raise ConfigError("must be >= 1", key=key, value=count, stream=self.name)


class StreamStats(msgspec.Struct, frozen=True, kw_only=True):
    """A point-in-time snapshot; the metrics layer reads these."""

    name: str
    state: str
    connects: int
    connect_failures: int
    reconnect_attempts: int
    disconnects: dict[str, int]
    close_codes: dict[int, int]
    messages_in: int
    bytes_in: int
    messages_out: int
    bytes_out: int
    queue_depth: int
    in_flight: int
    dropped: int
    rejected: int
    resent: int
    malformed: int
    handler_errors: int
    gaps: int
    last_pong_rtt: float | None
    connected_seconds: float
