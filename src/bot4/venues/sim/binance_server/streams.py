"""WebSocket streams: connections, subscriptions and fan-out, in Binance's stream protocol.

Endpoints (one port with REST):

- ``/ws/<stream>[/<stream>...]``: raw payloads; ``/ws/<listenKey>``: a user data stream;
  ``/ws`` alone starts with no stream. Any name is accepted, as at Binance (clients such as
  ccxt connect to ``/ws/0`` and then subscribe), except a listen-key-shaped name (60 letters
  and digits) that is not a live key: that connection is closed at once with 1008 and
  Binance's -1125 text, so a client reconnecting with an expired key learns it.
- ``/stream?streams=<a>/<b>``: combined payloads ``{"stream": <name>, "data": <payload>}``.
- Live control messages on any connection, answered in order with the data:
  ``SUBSCRIBE``/``UNSUBSCRIBE`` (``{"result": null, "id": ..}``), ``LIST_SUBSCRIPTIONS``,
  ``SET_PROPERTY``/``GET_PROPERTY`` ``combined``; a bad one gets
  ``{"error": {"code": .., "msg": ..}, "id": ..}`` with Binance's codes (0 unknown property,
  1 invalid value type, 2 invalid request, 3 invalid JSON).

The server pings every connection (aiohttp heartbeat, ``ws_heartbeat_s``) and closes one
whose pong does not come back. Each connection has a bounded queue drained by its own writer
task; a client too slow to keep up with ``ws_queue_size`` frames is disconnected, like a
slow consumer at Binance. Publishing never waits: it encodes a payload once and queues it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable, Iterable
from typing import Any

import msgspec
from aiohttp import WSMsgType, web

from bot4.venues.sim.binance_server.errors import Msg
from bot4.venues.sim.binance_server.faults import DropMode, Faults, RecordedWsMessage, StreamKind
from bot4.venues.sim.binance_server.wire import Json

__all__ = ["Connection", "StreamHub"]

_STREAM_NAME = re.compile(r"[a-z0-9!_.\-]+@[A-Za-z0-9@_]+\Z")
_LISTEN_KEY_SHAPE = re.compile(r"[A-Za-z0-9]{60}\Z")
# How long a close handshake may wait for the client's answer: loopback clients answer in
# microseconds, and one that does not read must not hold up ``stop()`` or ``drop_ws()``.
_CLOSE_TIMEOUT_S = 1.0
_METHODS = "SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY, GET_PROPERTY"
_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


class _Close:
    """Queued after the last frame a connection should get before it is closed."""

    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason


_Item = str | _Close


class Connection:
    """One WebSocket client: its subscriptions, queue and writer task."""

    def __init__(self, conn_id: int, path: str, ws: web.WebSocketResponse, transport: Any, combined: bool, queue_size: int) -> None:
        self.id = conn_id
        self.path = path
        self.ws = ws
        self.transport = transport
        self.combined = combined
        self.streams: list[str] = []
        self.listen_keys: set[str] = set()
        self.queue: asyncio.Queue[_Item] = asyncio.Queue(maxsize=queue_size)
        self.frames_sent = 0
        self.writer: asyncio.Task[None] | None = None

    @property
    def kind(self) -> StreamKind:
        return StreamKind.USER if self.listen_keys else StreamKind.MARKET

    def abort(self) -> None:
        """End the connection without a close frame (the client sees 1006)."""
        if self.transport is not None:
            self.transport.abort()

    def __repr__(self) -> str:
        return f"Connection({self.id} {self.path} streams={self.streams} sent={self.frames_sent})"


class StreamHub:
    """Every open connection and who listens to which stream."""

    def __init__(
        self,
        *,
        faults: Faults,
        queue_size: int,
        heartbeat_s: float,
        is_listen_key: Callable[[str], bool],
        now_ms: Callable[[], int],
    ) -> None:
        self._faults = faults
        self._queue_size = queue_size
        self._heartbeat_s = heartbeat_s
        self._is_listen_key = is_listen_key
        self._now_ms = now_ms
        self._subs: dict[str, set[Connection]] = {}
        self.connections: dict[int, Connection] = {}
        self.messages: list[RecordedWsMessage] = []
        self.market_stalled = False
        self.withheld = 0
        self.slow_disconnects = 0
        self.connections_total = 0

    # -- publishing -----------------------------------------------------------------------

    def wanted(self, names: tuple[str, ...]) -> bool:
        subs = self._subs
        return any(subs.get(name) for name in names)

    def publish(self, names: Iterable[str], payload: Json, *, market: bool = True) -> None:
        """Queue ``payload`` for every subscriber of any of ``names`` (raw or combined)."""
        raw: str | None = None
        for name in names:
            subscribers = self._subs.get(name)
            if not subscribers:
                continue
            if market and self.market_stalled:
                self.withheld += 1
                continue
            if raw is None:
                raw = _encode(payload).decode()
            combined = f'{{"stream":"{name}","data":{raw}}}'
            for conn in list(subscribers):
                self._queue(conn, combined if conn.combined else raw)

    def _queue(self, conn: Connection, item: _Item) -> None:
        try:
            conn.queue.put_nowait(item)
        except asyncio.QueueFull:
            # A slow consumer: it gets nothing more and its connection is ended.
            self.slow_disconnects += 1
            self._unsubscribe(conn, list(conn.streams))
            conn.abort()

    def close_stream(self, name: str, code: int, reason: str) -> None:
        """End stream ``name``: a connection carrying only it is closed after its queued
        frames; one carrying other streams too just stops getting it."""
        for conn in list(self._subs.get(name, ())):
            if conn.streams == [name]:
                self._queue(conn, _Close(code, reason))
            else:
                self._unsubscribe(conn, [name])

    # -- faults ---------------------------------------------------------------------------

    async def drop(self, kind: StreamKind | None = None, mode: DropMode = DropMode.ABORT) -> int:
        """End every connection (of ``kind``) now; return how many were ended."""
        victims = [c for c in self.connections.values() if kind is None or c.kind is kind]
        for conn in victims:
            await self._end(conn, mode)
        return len(victims)

    async def _end(self, conn: Connection, mode: DropMode) -> None:
        if mode is DropMode.ABORT:
            conn.abort()
        else:
            with contextlib.suppress(ConnectionError):
                await conn.ws.close(code=1001, message=b"going away")

    # -- connections ----------------------------------------------------------------------

    async def serve(self, request: web.Request, streams: list[str], combined: bool) -> web.WebSocketResponse:
        """Run one WebSocket connection until it ends (the aiohttp handler's body)."""
        ws = web.WebSocketResponse(heartbeat=self._heartbeat_s, autoping=True, timeout=_CLOSE_TIMEOUT_S)
        await ws.prepare(request)
        self.connections_total += 1
        conn = Connection(self.connections_total, request.path_qs, ws, request.transport, combined, self._queue_size)
        stale = [name for name in streams if _LISTEN_KEY_SHAPE.match(name) and not self._is_listen_key(name)]
        if stale:
            await ws.close(code=1008, message=Msg.INVALID_LISTEN_KEY.encode())
            return ws
        self.connections[conn.id] = conn
        self._subscribe(conn, streams)
        conn.writer = asyncio.create_task(self._write(conn), name=f"binance-server-ws-{conn.id}")
        try:
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    self.messages.append(
                        RecordedWsMessage(connection=conn.id, path=conn.path, text=message.data, ts_ms=self._now_ms())
                    )
                    self._queue(conn, _encode(self._control(conn, message.data)).decode())
                elif message.type is WSMsgType.ERROR:
                    break
        finally:
            await self._forget(conn)
        return ws

    async def _forget(self, conn: Connection) -> None:
        self.connections.pop(conn.id, None)
        self._unsubscribe(conn, list(conn.streams))
        writer = conn.writer
        if writer is not None and not writer.done():
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    async def close_all(self) -> None:
        """Close every connection with 1001 (the server is going away), all at once."""
        await asyncio.gather(*(self._end(conn, DropMode.CLOSE) for conn in list(self.connections.values())))

    async def _write(self, conn: Connection) -> None:
        faults = self._faults
        try:
            while True:
                item = await conn.queue.get()
                if isinstance(item, _Close):
                    await conn.ws.close(code=item.code, message=item.reason.encode())
                    return
                if faults.should_drop(conn.kind, conn.frames_sent):
                    await self._end(conn, faults.ws_drop_mode)
                    return
                await conn.ws.send_str(item)
                conn.frames_sent += 1
        except ConnectionError:
            conn.abort()  # the peer is gone; the reading side ends the connection

    # -- subscriptions --------------------------------------------------------------------

    def _subscribe(self, conn: Connection, names: Iterable[str]) -> None:
        for name in names:
            if name in conn.streams:
                continue
            conn.streams.append(name)
            if self._is_listen_key(name):
                conn.listen_keys.add(name)
            self._subs.setdefault(name, set()).add(conn)

    def _unsubscribe(self, conn: Connection, names: Iterable[str]) -> None:
        for name in names:
            if name in conn.streams:
                conn.streams.remove(name)
            conn.listen_keys.discard(name)
            subscribers = self._subs.get(name)
            if subscribers is not None:
                subscribers.discard(conn)
                if not subscribers:
                    del self._subs[name]

    def _control(self, conn: Connection, text: str) -> Json:
        """Answer one control message (Binance's live subscribe protocol)."""
        try:
            request = _decode(text)
        except msgspec.DecodeError as error:
            return _error(3, f"Invalid JSON: {error}", None)
        if not isinstance(request, dict):
            return _error(2, "Invalid request: expected an object", None)
        request_id = request.get("id")
        if not _valid_id(request_id):
            return _error(2, "Invalid request: request ID must be an unsigned integer", None)
        method = request.get("method")
        params = request.get("params", [])
        if method is None:
            return _error(2, "Invalid request: missing field `method`", request_id)
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if not isinstance(params, list) or not all(isinstance(p, str) and _valid_stream(p, self._is_listen_key) for p in params):
                return _error(2, "Invalid request: invalid stream name", request_id)
            if method == "SUBSCRIBE":
                self._subscribe(conn, params)
            else:
                self._unsubscribe(conn, params)
            return {"result": None, "id": request_id}
        if method == "LIST_SUBSCRIPTIONS":
            return {"result": list(conn.streams), "id": request_id}
        if method in ("SET_PROPERTY", "GET_PROPERTY"):
            return self._property(conn, method, params, request_id)
        return _error(2, f"Invalid request: unknown variant `{method}`, expected one of {_METHODS}", request_id)

    def _property(self, conn: Connection, method: str, params: Any, request_id: Any) -> Json:
        if not isinstance(params, list) or not params or not isinstance(params[0], str):
            return _error(2, "Invalid request: property name must be a string", request_id)
        if params[0] != "combined":
            return _error(0, "Unknown property", request_id)
        if method == "GET_PROPERTY":
            return {"result": conn.combined, "id": request_id}
        if len(params) != 2 or not isinstance(params[1], bool):
            return _error(1, "Invalid value type: expected Boolean", request_id)
        conn.combined = params[1]
        return {"result": None, "id": request_id}


def _valid_id(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value >= 0
    return isinstance(value, str) and 0 < len(value) <= 36


def _valid_stream(name: str, is_listen_key: Callable[[str], bool]) -> bool:
    return bool(_STREAM_NAME.match(name)) or is_listen_key(name)


def _error(code: int, msg: str, request_id: Any) -> Json:
    return {"error": {"code": code, "msg": msg}, "id": request_id}
