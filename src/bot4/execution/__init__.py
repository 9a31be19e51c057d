"""Order management: the execution engine and the ports venue adapters implement."""

from bot4.execution.engine import ExecutionEngine, ExecutionStats, UnmatchedEvent
from bot4.execution.ports import Denial, EventSink, PreTradeCheck, VenueClient, VenueEvent

__all__ = ["Denial", "EventSink", "PreTradeCheck", "ExecutionEngine", "ExecutionStats", "UnmatchedEvent", "VenueClient", "VenueEvent"]
