"""A real WebSocket server on loopback that misbehaves on purpose, the way venues do.

Venue streams fail in a handful of recurring ways, and a client that has only met a polite test
server will meet them first in production. ``FaultServer`` reproduces them on demand, on a real
socket and through the real ``websockets`` protocol stack, so that adapter tests, chaos tests and
users' own clients can be driven through each failure and checked for the recovery they promise.
Every fault lives in one mutable :class:`Faults` object; change a field while the server runs
and it applies from the next message or ping on.

What each fault simulates:

- ``drop_after`` / ``drop_probability`` with ``DropMode.ABORT``: the silent TCP drop. A load
  balancer or NAT box forgets the connection, or the venue restarts a gateway, and the socket
  simply ends: no close frame, so the client sees close code 1006 (abnormal closure).
- ``DropMode.CLOSE`` with ``close_code`` / ``close_reason``: an orderly close for a reason, such
  as venue maintenance (1001 going away, 1012 service restart, 1013 try again later) or a
  server-side error (1011), which a client may treat differently from a drop.
- ``answer_pings=False``: the half-open connection. The TCP connection still looks established
  but nobody answers, so the only way to notice is an application or protocol keepalive that
  times out.
- ``stall=True``: the stalled stream. The venue keeps the connection up, accepts and answers
  pings, but stops sending data; only a data-staleness watchdog can notice.
- ``delay``: a slow or congested path; every outgoing message is late by that many seconds.
- :meth:`FaultServer.send_malformed`: frames a parser must survive: text that is not JSON, a
  binary frame in a text protocol, an oversized message (past the client's ``max_size``), and a
  text frame that is not valid UTF-8 (a ``websockets`` client fails the connection with 1007).

The server answers pings itself (its own keepalive is off, so it only reacts) and never
compresses, so a frame's size on the wire is the size asked for. Callbacks run on the connection's
reading task: ``on_connect`` once, then ``on_message`` for each recorded message, so replies keep
their order. A failing callback is logged, counted in ``handler_errors`` and closes only its own
connection with 1011.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from types import TracebackType
from typing import Any, ClassVar

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode, Frame, Opcode
from websockets.protocol import State

from bot4.core.errors import ConfigError, InvalidInputError

__all__ = [
    "DropMode",
    "FaultServer",
    "Faults",
    "MalformedKind",
    "Received",
    "Session",
]

_log = logging.getLogger("bot4.testkit.faultserver")

# How long a closing handshake may take before websockets aborts the TCP connection. Loopback
# peers answer in microseconds; one second keeps stop() quick when a client never answers.
_CLOSE_TIMEOUT = 1.0
# How long stop() lets connection handlers finish before cancelling them (a callback that sleeps
# through the shutdown must not make stop() hang).
_STOP_GRACE = 2.0
_NOT_JSON = '{"broken": '
_BINARY_JUNK = b"\x00\x01\x02\xfe\xff\x80binary"
_INVALID_UTF8 = b'{"text": "\xff\xfe\xc3\x28"}'


class DropMode(Enum):
    """How the server ends a connection it drops."""

    ABORT = "abort"  # close the TCP transport, no close frame: the client sees 1006
    CLOSE = "close"  # send a close frame with Faults.close_code and Faults.close_reason


class MalformedKind(Enum):
    """Frames that a text/JSON venue protocol should never send, but sometimes does."""

    NOT_JSON = "not_json"  # a text frame that does not parse as JSON
    BINARY = "binary"  # a binary frame where text is expected
    OVERSIZE = "oversize"  # a valid JSON text frame of exactly ``size`` bytes
    INVALID_UTF8 = "invalid_utf8"  # a text frame whose payload is not UTF-8


@dataclass(kw_only=True)
class Faults:
    """The faults in force; mutable on purpose, read anew for each message and ping."""

    drop_after: int | None = None
    drop_probability: float = 0.0
    drop_mode: DropMode = DropMode.ABORT
    close_code: int = 1011
    close_reason: str = "fault injected"
    answer_pings: bool = True
    stall: bool = False
    delay: float = 0.0

    def __post_init__(self) -> None:
        if self.drop_after is not None and self.drop_after < 1:
            raise ConfigError(
                "drop_after must be >= 1 message or None", key="drop_after", value=self.drop_after
            )
        if not 0.0 <= self.drop_probability <= 1.0:
            raise ConfigError(
                "drop_probability must be within [0, 1]",
                key="drop_probability",
                value=self.drop_probability,
            )
        if not self.delay >= 0.0:
            raise ConfigError("delay must be >= 0 seconds", key="delay", value=self.delay)


@dataclass(frozen=True)
class Received:
    """One message the server received: on which session, what, and when (monotonic seconds)."""

    session: int
    data: str | bytes
    ts: float


class Session:
    """One accepted connection: what it received, and how the server talks to it.

    Sending goes through the faults: a stalled server withholds the message (counted in
    ``FaultServer.withheld``) and a delayed one waits ``Faults.delay`` first.
    """

    def __init__(self, session_id: int, connection: ServerConnection, server: FaultServer) -> None:
        self.id = session_id
        self.received: list[str | bytes] = []
        self._connection = connection
        self._server = server

    def __repr__(self) -> str:
        return f"Session(id={self.id}, open={self.open}, received={len(self.received)})"

    @property
    def open(self) -> bool:
        """Whether the WebSocket is open (not closing, not closed)."""
        return self._connection.state is State.OPEN

    async def send(self, data: str | bytes) -> None:
        """Send one message (text for ``str``, binary for ``bytes``) unless the server stalls.

        Raises ``websockets.exceptions.ConnectionClosed`` if the connection is closed.
        """
        await self._deliver(data)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close with a close frame and wait for the closing handshake (at most one second)."""
        await self._connection.close(code, reason)

    def abort(self) -> None:
        """End the TCP connection at once, without a close frame."""
        self._connection.transport.abort()

    async def _recv(self) -> str | bytes:
        return await self._connection.recv()

    async def _deliver(self, data: str | bytes, *, text: bool | None = None) -> bool:
        """Send ``data`` as the faults allow; return whether it went out (False: withheld)."""
        faults = self._server.faults
        if faults.stall:
            self._server._note_withheld()
            return False
        if faults.delay > 0:
            await asyncio.sleep(faults.delay)
        await self._connection.send(data, text=text)
        return True


class _FaultConnection(ServerConnection):
    """A server connection whose automatic Pong replies its FaultServer can mute.

    websockets answers a Ping inside the sans-I/O protocol (``recv_frame`` calls
    ``send_frame(PONG)``), so muting means filtering PONG frames at ``protocol.send_frame``.
    The server never sends unsolicited Pongs, so every PONG filtered is an ignored ping.
    """

    fault_server: ClassVar[FaultServer]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        send_frame = self.protocol.send_frame
        fault_server = self.fault_server

        def send_frame_unless_muted(frame: Frame) -> None:
            if frame.opcode is Opcode.PONG and not fault_server.faults.answer_pings:
                fault_server._note_ping_ignored()
                return
            send_frame(frame)

        self.protocol.send_frame = send_frame_unless_muted  # type: ignore[method-assign]


def _connection_class(fault_server: FaultServer) -> type[ServerConnection]:
    """Bind the connection class to one server; websockets wants a class, not a factory."""

    class _BoundFaultConnection(_FaultConnection):
        pass

    _BoundFaultConnection.fault_server = fault_server
    return _BoundFaultConnection


class FaultServer:
    """A WebSocket server on loopback that injects the faults in ``faults``.

    Use it as ``async with FaultServer(...) as server:`` or call ``start()`` and ``stop()``.
    ``received`` holds every message from every connection in arrival order; ``sessions`` the
    connections open now. ``drops`` counts connections the server dropped through a fault or
    ``drop_all`` (not explicit ``Session.close``/``abort`` calls, nor peers that left).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Faults | None = None,
        seed: int = 0,
        on_connect: Callable[[Session], Awaitable[None]] | None = None,
        on_message: Callable[[Session, str | bytes], Awaitable[None]] | None = None,
        max_size: int | None = 2**20,
    ) -> None:
        self.faults = faults if faults is not None else Faults()
        self._host = host
        self._port = port
        self._rng = random.Random(seed)
        self._on_connect = on_connect
        self._on_message = on_message
        self._max_size = max_size
        self._server: Server | None = None
        self._received: list[Received] = []
        self._sessions: list[Session] = []
        self._handler_tasks: set[asyncio.Task[Any]] = set()
        self._progress = asyncio.Event()
        self._connections_total = 0
        self._drops = 0
        self._pings_ignored = 0
        self._withheld = 0
        self._handler_errors = 0

    async def __aenter__(self) -> FaultServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The bound port (the one the OS picked when constructed with ``port=0``)."""
        if self._server is None:
            raise RuntimeError("FaultServer is not started: call start() or use `async with`")
        return self._port

    @property
    def url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"ws://{host}:{self.port}"

    @property
    def received(self) -> list[Received]:
        return self._received

    @property
    def sessions(self) -> list[Session]:
        """The sessions whose connection is open now, in accept order."""
        return [session for session in self._sessions if session.open]

    @property
    def connections_total(self) -> int:
        return self._connections_total

    @property
    def drops(self) -> int:
        return self._drops

    @property
    def pings_ignored(self) -> int:
        return self._pings_ignored

    @property
    def withheld(self) -> int:
        """Messages not sent because ``faults.stall`` was set."""
        return self._withheld

    @property
    def handler_errors(self) -> int:
        """Connections closed with 1011 because ``on_connect`` or ``on_message`` raised."""
        return self._handler_errors

    async def start(self) -> None:
        """Bind and start accepting connections.

        After ``stop()`` this binds the port bound before, so a client sees a venue restart at the
        same URL.
        """
        if self._server is not None:
            raise RuntimeError(f"FaultServer is already serving on {self.url}")
        self._progress = asyncio.Event()  # bind waiters to this start's event loop
        server = await serve(
            self._serve_connection,
            self._host,
            self._port,
            create_connection=_connection_class(self),
            ping_interval=None,  # the server only reacts; keepalive is the client's job
            close_timeout=_CLOSE_TIMEOUT,
            compression=None,  # frame sizes on the wire are the sizes asked for
            max_size=self._max_size,
        )
        self._port = server.sockets[0].getsockname()[1]
        self._server = server

    async def stop(self) -> None:
        """Close every connection (1001 going away), stop listening and wait for every handler."""
        server = self._server
        if server is None:
            return
        server.close()
        try:
            async with asyncio.timeout(_STOP_GRACE):
                await server.wait_closed()
        except TimeoutError:
            _log.warning(
                "fault server %s: handlers still running %.1fs after stop(); cancelling %d",
                self.url,
                _STOP_GRACE,
                len(self._handler_tasks),
            )
            for session in self._sessions:
                session.abort()
            for task in self._handler_tasks:
                task.cancel()
            await server.wait_closed()
        self._server = None

    async def broadcast(self, data: str | bytes) -> int:
        """Send ``data`` to every open session; return how many sent it (withheld ones do not)."""
        return await self._send_to_all(data)

    async def send_malformed(self, kind: MalformedKind, size: int = 0) -> None:
        """Send one malformed frame of ``kind`` to every open session (``size`` for OVERSIZE)."""
        text: bool | None = None
        payload: str | bytes
        if kind is MalformedKind.NOT_JSON:
            payload = _NOT_JSON
        elif kind is MalformedKind.BINARY:
            payload = _BINARY_JUNK
        elif kind is MalformedKind.OVERSIZE:
            payload = _json_of_size(size)
        else:
            payload, text = _INVALID_UTF8, True
        await self._send_to_all(payload, text=text)

    async def drop_all(self, mode: DropMode | None = None) -> int:
        """Drop every open connection now (``faults.drop_mode`` by default); return how many."""
        chosen = mode if mode is not None else self.faults.drop_mode
        dropped = await asyncio.gather(*(self._drop(s, chosen) for s in self.sessions))
        return sum(dropped)

    async def wait_for_connections(self, n: int, timeout: float = 5.0) -> None:
        """Wait until ``connections_total >= n``; raise ``TimeoutError`` saying what was seen."""
        await self._wait_until(
            lambda: self._connections_total >= n,
            timeout,
            lambda: f"expected >= {n} connections within {timeout}s, got {self._connections_total}",
        )

    async def wait_for_received(self, n: int, timeout: float = 5.0) -> None:
        """Wait until ``len(received) >= n``; raise ``TimeoutError`` saying what was seen."""
        await self._wait_until(
            lambda: len(self._received) >= n,
            timeout,
            lambda: f"expected >= {n} messages within {timeout}s, got {len(self._received)}",
        )

    async def _serve_connection(self, connection: ServerConnection) -> None:
        self._connections_total += 1
        session = Session(self._connections_total, connection, self)
        task = asyncio.current_task()
        assert task is not None
        self._handler_tasks.add(task)
        self._sessions.append(session)
        self._notify()
        try:
            await self._run_session(session)
        except ConnectionClosed as closed:
            _log.debug("fault server session %d ended: %s", session.id, closed)
        except Exception:  # noqa: BLE001 - task boundary: a failing callback must not stop the server
            self._handler_errors += 1
            _log.exception(
                "fault server %s: callback failed on session %d after %d messages; closing with 1011",
                self.url,
                session.id,
                len(session.received),
            )
            await session.close(CloseCode.INTERNAL_ERROR, "handler error")
        finally:
            self._sessions.remove(session)
            self._handler_tasks.discard(task)
            self._notify()

    async def _run_session(self, session: Session) -> None:
        """Greet, then record, answer and maybe drop, one message at a time, until closed."""
        if self._on_connect is not None:
            await self._on_connect(session)
        while True:
            data = await session._recv()
            session.received.append(data)
            self._received.append(Received(session=session.id, data=data, ts=time.monotonic()))
            self._notify()
            if self._on_message is not None:
                await self._on_message(session, data)
            if self._should_drop(session):
                await self._drop(session, self.faults.drop_mode)
                return

    def _should_drop(self, session: Session) -> bool:
        faults = self.faults
        if faults.drop_after is not None and len(session.received) >= faults.drop_after:
            return True
        return faults.drop_probability > 0.0 and self._rng.random() < faults.drop_probability

    async def _drop(self, session: Session, mode: DropMode) -> bool:
        # The open check and the state change below run without suspending, so a session that a
        # fault and drop_all both target is counted once.
        if not session.open:
            return False
        self._drops += 1
        if mode is DropMode.ABORT:
            session.abort()
        else:
            await session.close(self.faults.close_code, self.faults.close_reason)
        return True

    async def _send_to_all(self, data: str | bytes, *, text: bool | None = None) -> int:
        # Concurrent, so that faults.delay holds every session up once, not once per session.
        sent = await asyncio.gather(*(self._send_quietly(s, data, text) for s in self.sessions))
        return sum(sent)

    @staticmethod
    async def _send_quietly(session: Session, data: str | bytes, text: bool | None) -> bool:
        try:
            return await session._deliver(data, text=text)
        except ConnectionClosed:
            return False  # it closed while we sent: not sent, and not an error for a broadcast

    async def _wait_until(
        self, predicate: Callable[[], bool], timeout: float, describe: Callable[[], str]
    ) -> None:
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    await self._progress.wait()
        except TimeoutError:
            raise TimeoutError(describe()) from None

    def _notify(self) -> None:
        """Wake every waiter; each gets a fresh event to wait on next."""
        self._progress.set()
        self._progress = asyncio.Event()

    def _note_withheld(self) -> None:
        self._withheld += 1

    def _note_ping_ignored(self) -> None:
        self._pings_ignored += 1


def _json_of_size(size: int) -> str:
    """A JSON object of exactly ``size`` bytes (ASCII, so bytes == characters)."""
    frame = '{"pad":""}'
    if size < len(frame):
        raise InvalidInputError(
            f"an OVERSIZE frame is a JSON object of at least {len(frame)} bytes",
            key="size",
            value=size,
        )
    return '{"pad":"' + "x" * (size - len(frame)) + '"}'
