"""Order management: the execution engine and the ports venue adapters implement."""

from bot4.execution.engine import ExecutionEngine, ExecutionStats, UnmatchedEvent
from bot4.execution.ports import EventSink, VenueClient, VenueEvent

__all__ = ["EventSink", "ExecutionEngine", "ExecutionStats", "UnmatchedEvent", "VenueClient", "VenueEvent"]
