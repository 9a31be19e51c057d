"""The bookkeeping of a stream: what it counted, and why each connection ended.

:class:`StreamCounters` holds the running totals that :meth:`ReliableWebSocket.stats` freezes
into a :class:`~bot4.net.ws_config.StreamStats`; :func:`classify_close` reads the close frames
``websockets`` exchanged to tell a dropped TCP connection from a server's close, a keepalive
timeout, an oversize message or a malformed frame. Neither does I/O or reports anything: the
stream decides what to tell its owner.
"""

from __future__ import annotations

import time
from collections import Counter

from websockets.asyncio.client import ClientConnection
from websockets.frames import Close, CloseCode

from bot4.net.outbox import Outbox, Payload
from bot4.net.ws_config import DisconnectCause, StreamState, StreamStats

__all__ = ["StreamCounters", "classify_close", "wire_size"]


def wire_size(payload: Payload) -> int:
    """Bytes of ``payload`` in its frame: a text frame carries UTF-8, not characters."""
    if isinstance(payload, str) and not payload.isascii():
        return len(payload.encode())
    return len(payload)


class StreamCounters:
    """The running totals of one stream since it was built (monotonic seconds for durations)."""

    def __init__(self) -> None:
        self.connects = 0  # WebSocket handshakes completed, whether or not on_connect then failed
        self.connect_failures = 0
        self.reconnect_attempts = 0
        self.disconnects: Counter[str] = Counter()
        self.close_codes: Counter[int] = Counter()
        self.messages_in = 0
        self.bytes_in = 0
        self.messages_out = 0
        self.bytes_out = 0
        self.resent = 0
        self.malformed = 0
        self.handler_errors = 0
        self.gaps = 0
        self.last_pong_rtt: float | None = None
        self.connected_total = 0.0
        self.open_since: float | None = None
        self.last_in = time.monotonic()  # drives the idle watchdog
        self.last_in_ns = 0  # on the stream's clock: where a gap starts

    def count_in(self, raw: Payload, ts_ns: int) -> None:
        self.messages_in += 1
        self.bytes_in += wire_size(raw)
        self.last_in = time.monotonic()
        self.last_in_ns = ts_ns

    def count_out(self, payload: Payload) -> None:
        self.messages_out += 1
        self.bytes_out += wire_size(payload)

    def opened(self, ts_ns: int) -> None:
        """A connection is OPEN: time it, and let the idle watchdog start from now."""
        self.open_since = time.monotonic()
        self.last_in = self.open_since
        self.last_in_ns = ts_ns

    def closed(self, rtt: float) -> None:
        """The open connection ended; ``rtt`` is its last pong round trip (0: none measured)."""
        if self.open_since is not None:
            self.connected_total += time.monotonic() - self.open_since
            self.open_since = None
        self.last_pong_rtt = rtt or self.last_pong_rtt

    def snapshot(
        self, *, name: str, state: StreamState, outbox: Outbox, live_rtt: float | None
    ) -> StreamStats:
        connected = self.connected_total
        if self.open_since is not None:
            connected += time.monotonic() - self.open_since
        return StreamStats(
            name=name,
            state=state.value,
            connects=self.connects,
            connect_failures=self.connect_failures,
            reconnect_attempts=self.reconnect_attempts,
            disconnects=dict(self.disconnects),
            close_codes=dict(self.close_codes),
            messages_in=self.messages_in,
            bytes_in=self.bytes_in,
            messages_out=self.messages_out,
            bytes_out=self.bytes_out,
            queue_depth=outbox.queued,
            in_flight=outbox.in_flight,
            dropped=outbox.dropped,
            rejected=outbox.rejected,
            resent=self.resent,
            malformed=self.malformed,
            handler_errors=self.handler_errors,
            gaps=self.gaps,
            last_pong_rtt=live_rtt or self.last_pong_rtt,
            connected_seconds=connected,
        )


def classify_close(ws: ClientConnection) -> tuple[DisconnectCause, Close | None]:
    """Say why the library ended ``ws``, with the close frame that tells (None: no frame).

    Only for connections the stream did not end itself (its owner's close, the idle watchdog).
    """
    protocol = ws.protocol
    sent, rcvd = protocol.close_sent, protocol.close_rcvd
    if sent is not None and (rcvd is None or not protocol.close_rcvd_then_sent):
        # We closed first: the library failed the connection for a reason of its own.
        if sent.code == CloseCode.INTERNAL_ERROR and "keepalive" in sent.reason:
            return DisconnectCause.PONG_TIMEOUT, sent
        if sent.code == CloseCode.MESSAGE_TOO_BIG:
            return DisconnectCause.OVERSIZE, sent
        if sent.code in (CloseCode.INVALID_DATA, CloseCode.PROTOCOL_ERROR):
            return DisconnectCause.MALFORMED_FRAME, sent
    if rcvd is not None:
        return DisconnectCause.REMOTE_CLOSE, rcvd
    return DisconnectCause.CONNECTION_LOST, None
