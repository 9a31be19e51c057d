"""``bot4 bench``: the performance suite that the hot-path budgets of DESIGN.md are measured with.

Scenarios (``bot4 bench --list``), each in its own module under :mod:`bot4.bench.scenarios`:

- ``book_delta``: ``OrderBook.update`` + best bid/ask on a 1,000-level BTCUSDT book, per op;
- ``book_delta_real``: the bundled sample's real Binance depth diffs via ``apply_deltas``, per level;
- ``backtest_trades_no_orders`` / ``backtest_trades``: the peer workload, 1,000,000 trade ticks
  with an SMA cross strategy, without and with (~27,000) market orders, ticks/s;
- ``backtest_memory``: peak RSS of ``backtest_trades`` in a fresh interpreter;
- ``backtest_sample``: the bundled capture with the EmaCross example, events/s.

How things are measured (batch timing, single-op timing, tracemalloc in a separate pass, peak
RSS, CPU time next to wall time) is written once, in :mod:`bot4.bench.harness`. Workloads are
deterministic (:mod:`bot4.bench.workloads`, fixed seeds). Benchmarks are not tests: the test
suite only checks that ``--quick`` runs every scenario and reports sane fields.
"""

from bot4.bench.harness import BenchOptions, ScenarioResult
from bot4.bench.scenarios import SCENARIOS

__all__ = ["SCENARIOS", "BenchOptions", "ScenarioResult"]
