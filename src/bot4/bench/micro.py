"""Helpers for the per-operation scenarios that time a plain function of one item.

``single_op_times(op, items)`` times each ``op(item)`` alone; ``call_overhead_ns()`` is the
median of the same loop around an empty function of one argument (the ``perf_counter_ns``
pair plus one Python call), which is what a scenario subtracts, so the single-op figures are
the cost of the operation's body. See :mod:`bot4.bench.harness` for the method as a whole.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from bot4.bench.harness import percentile

__all__ = ["call_overhead_ns", "single_op_times"]

_perf = time.perf_counter_ns


def single_op_times(op: Callable[[Any], object], items: Sequence[Any]) -> list[float]:
    """``perf_counter_ns`` around each ``op(item)``; one delta per item."""
    perf = _perf
    deltas: list[float] = []
    append = deltas.append
    for item in items:
        t0 = perf()
        op(item)
        t1 = perf()
        append(t1 - t0)
    return deltas


def _empty(_item: object) -> None:
    return None


def call_overhead_ns(samples: int = 20_000) -> float:
    """Median ns of the single-op loop around an empty one-argument function."""
    deltas = single_op_times(_empty, [None] * samples)
    deltas.sort()
    return percentile(deltas, 50)
