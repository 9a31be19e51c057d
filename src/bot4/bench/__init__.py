"""``bot4 bench``: the performance suite that the hot-path budgets of DESIGN.md are measured with.

Scenarios (``bot4 bench --list``), each in its own module under :mod:`bot4.bench.scenarios`:

- ``book_delta``: ``OrderBook.update`` + best bid/ask on a 1,000-level BTCUSDT book, per op;
- ``book_delta_real``: the bundled sample's real Binance depth diffs via ``apply_deltas``, per level;
- ``signal_to_intent``: ``SignalProcessor.process`` per signal, one result per sizing policy;
- ``risk_check``: ``RiskEngine.check`` per order with every check on;
- ``order_build``: a client order id plus ``Order.market``, as ``Strategy.market`` builds one;
- ``oms_submit`` / ``oms_submit_no_risk``: ``ExecutionEngine.submit_order`` through the filters,
  risk (or none) and the OMS to a no-op venue client, per order;
- ``tick_to_order``: trade tick in -> strategy -> signal -> risk -> order at the venue client,
  per-event latency distribution, with a per-stage breakdown;
- ``backtest_trades_no_orders`` / ``backtest_trades``: the peer workload, 1,000,000 trade ticks
  with an SMA cross strategy, without and with (~27,000) market orders, ticks/s;
- ``backtest_memory``: peak RSS of ``backtest_trades`` in a fresh interpreter;
- ``backtest_sample``: the bundled capture with the EmaCross example, events/s;
- ``object_pool``: plain construction of ``OrderSubmitted`` / ``TradeTick`` against free lists.

The order-path scenarios share one wiring, :mod:`bot4.bench.hotpath` (real engines, a no-op
venue client, the risk limits every check runs with).

How things are measured (batch timing, single-op timing, tracemalloc in a separate pass, peak
RSS, CPU time next to wall time) is written once, in :mod:`bot4.bench.harness`. Workloads are
deterministic (:mod:`bot4.bench.workloads`, fixed seeds). Benchmarks are not tests: the test
suite only checks that ``--quick`` runs every scenario and reports sane fields.
"""

from bot4.bench.harness import BenchOptions, ScenarioResult
from bot4.bench.scenarios import SCENARIOS

__all__ = ["SCENARIOS", "BenchOptions", "ScenarioResult"]
