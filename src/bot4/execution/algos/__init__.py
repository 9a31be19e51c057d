"""Execution algorithms: parent orders worked through child orders.

:class:`Twap` spreads a quantity over time in slices; :class:`Iceberg` shows a limit order a
display quantity at a time. Both are plain synchronous objects driven by the clock's timers
and the order events on the bus, so they run unchanged in backtest, paper and live. Every
child goes through :meth:`ExecutionEngine.submit_order` (filters, risk, OMS) like any other
order. Shared bookkeeping and the report types are in :mod:`.base`.
"""

from bot4.execution.algos.base import (
    ALGO_TOPIC_PREFIX,
    BELOW_VENUE_MINIMUM,
    AlgoKind,
    AlgoReport,
    AlgoStatus,
    ExecutionAlgorithm,
    SliceOutcome,
    SliceReport,
)
from bot4.execution.algos.iceberg import Iceberg, IcebergConfig
from bot4.execution.algos.twap import Twap, TwapConfig, twap_schedule

__all__ = [
    "ALGO_TOPIC_PREFIX",
    "BELOW_VENUE_MINIMUM",
    "AlgoKind",
    "AlgoReport",
    "AlgoStatus",
    "ExecutionAlgorithm",
    "Iceberg",
    "IcebergConfig",
    "SliceOutcome",
    "SliceReport",
    "Twap",
    "TwapConfig",
    "twap_schedule",
]
