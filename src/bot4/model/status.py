"""Facts about connections rather than markets: circuit breakers and gaps in streams.

A strategy that keeps a view of the market must know when that view stopped being complete:
a :class:`StreamGap` says data may be missing from ``since_ns`` to ``until_ns``, and a later
:class:`StreamResynced` says the adapter has rebuilt its state (a fresh book snapshot, a
re-fetched order list). A :class:`CircuitStateChanged` tells the risk engine and the
operator that an endpoint of a venue stopped (or resumed) taking calls.
"""

from __future__ import annotations

from enum import Enum

import msgspec

from bot4.core.ids import Venue

__all__ = [
    "CIRCUIT_TOPIC",
    "STREAM_TOPIC",
    "CircuitState",
    "CircuitStateChanged",
    "StreamGap",
    "StreamResynced",
]

CIRCUIT_TOPIC = "events.circuit"
STREAM_TOPIC = "events.stream"


class CircuitState(Enum):
    """A circuit breaker lets calls through (CLOSED), refuses them (OPEN), or tries a few."""

    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"


class CircuitStateChanged(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """The breaker of ``endpoint`` at ``venue`` moved; ``critical`` endpoints carry orders."""

    venue: Venue
    endpoint: str
    state: CircuitState
    previous: CircuitState
    reason: str
    critical: bool
    ts_event: int
    ts_init: int


class StreamGap(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """Messages of ``stream`` may be missing between ``since_ns`` and ``until_ns``.

    ``since_ns`` is when the last message arrived before the connection was lost,
    ``until_ns`` when the stream was open again; ``cause`` names why it was lost.
    """

    venue: Venue
    stream: str
    since_ns: int
    until_ns: int
    cause: str
    ts_event: int
    ts_init: int


class StreamResynced(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """``stream`` is whole again after a gap: subscriptions replayed and state rebuilt."""

    venue: Venue
    stream: str
    gap_ns: int
    ts_event: int
    ts_init: int
