"""BacktestEngine: wiring, equity sampling, end of run, data reports."""

from __future__ import annotations

from bot4.backtest.engine import BacktestConfig, BacktestEngine
from bot4.backtest.loaders import LoadReport
from bot4.core import InvalidDataError
from bot4.model import AccountType, OrderSide, OrderStatus, TradeTick
from bot4.strategy import Strategy
from bot4.testkit import btcusdt, trade
from bot4.venues.sim import SimVenueConfig

INSTRUMENT = btcusdt()
SECOND = 1_000_000_000


def ticks(times: list[int], price: str = "60000.00") -> list[TradeTick]:
    return [trade(INSTRUMENT, price, "0.01", ts, trade_id=f"T{i}") for i, ts in enumerate(times)]


class BuyOnce(Strategy):
    def on_start(self) -> None:
        self.subscribe_trades(INSTRUMENT.id)
        self.sent = False

    def on_trade(self, tick: TradeTick) -> None:
        if not self.sent:
            self.sent = True
            self.order = self.market(INSTRUMENT.id, OrderSide.BUY, INSTRUMENT.make_qty("0.01"))


def engine(latency_ns: int = 0, sample_ns: int = SECOND) -> BacktestEngine:
    e = BacktestEngine(BacktestConfig(equity_sample_ns=sample_ns))
    e.add_venue(SimVenueConfig(venue="SIM", account_type=AccountType.MARGIN,
                               starting_balances={"USDT": "10000"}, leverage="3", latency_ns=latency_ns))
    e.add_instrument(INSTRUMENT)
    return e


def test_run_equity_curve_fills_sparse_gaps_on_fixed_grid() -> None:
    e = engine()
    e.add_data(ticks([0, 10 * SECOND]))
    e.add_strategy(BuyOnce())
    result = e.run()
    times = [t for t, _ in result.equity_curve]
    assert times == [i * SECOND for i in range(11)]
    assert all(b - a == SECOND for a, b in zip(times, times[1:], strict=False))


def test_run_order_still_in_latency_at_end_reaches_venue() -> None:
    e = engine(latency_ns=5 * SECOND)
    e.add_data(ticks([0, SECOND]))
    strategy = BuyOnce()
    e.add_strategy(strategy)
    e.run()
    # Sent at t=0 with 5 s latency but the data ends at 1 s: the venue still sees it.
    assert strategy.order.status is OrderStatus.FILLED


def test_add_data_report_counts_skipped_rows_in_result() -> None:
    e = engine()
    report = LoadReport(path="x.csv", rows=3, loaded=2, skipped=1,
                        errors=[InvalidDataError("bad price", file="x.csv", row=2, field="price", value="abc")])
    e.add_data(ticks([0, SECOND]), report)
    e.add_strategy(BuyOnce())
    result = e.run()
    assert result.skipped_events == 1
    assert "row=2" in result.data_errors[0] and "x.csv" in result.data_errors[0]


def test_strategy_fill_arrives_after_on_trade_returns() -> None:
    seen: list[str] = []

    class Probe(BuyOnce):
        def on_trade(self, tick: TradeTick) -> None:
            seen.append("trade:start")
            super().on_trade(tick)
            seen.append("trade:end")

        def on_order_event(self, event: object) -> None:
            seen.append(type(event).__name__)

    e = engine()
    e.add_data(ticks([0]))
    e.add_strategy(Probe())
    e.run()
    assert seen[:2] == ["trade:start", "trade:end"]
    assert "OrderFilled" in seen


def test_strategy_signal_sizes_and_submits_then_reaches_target() -> None:
    from bot4.strategy import FixedQuantity, SignalProcessorConfig

    class Signals(Strategy):
        def on_start(self) -> None:
            self.subscribe_trades(INSTRUMENT.id)
            self.set_sizing(SignalProcessorConfig(policy=FixedQuantity("0.02"),
                                                  max_position="0.02"))
            self.sent: list[object] = []

        def on_trade(self, tick: TradeTick) -> None:
            self.sent.append(self.signal(INSTRUMENT.id, 0.5))

    e = engine()
    e.add_data(ticks([0, SECOND, 2 * SECOND]))
    strategy = Signals()
    e.add_strategy(strategy)
    e.run()
    first, *rest = strategy.sent
    assert first is not None and first.quantity == INSTRUMENT.make_qty("0.01")
    assert rest == [None, None]  # already at the target: nothing more is sent
    assert strategy.position(INSTRUMENT.id).signed_raw == INSTRUMENT.make_qty("0.01").raw


def test_risk_config_denies_oversized_order_in_backtest() -> None:
    from bot4.model import OrderDenied
    from bot4.risk import RiskConfig

    class Big(Strategy):
        def on_start(self) -> None:
            self.subscribe_trades(INSTRUMENT.id)
            self.denials: list[OrderDenied] = []

        def on_trade(self, tick: TradeTick) -> None:
            if not self.denials:
                self.market(INSTRUMENT.id, OrderSide.BUY, INSTRUMENT.make_qty("0.05"))

        def on_order_event(self, event: object) -> None:
            if isinstance(event, OrderDenied):
                self.denials.append(event)

    e = engine()
    e.set_risk(RiskConfig(max_order_qty="0.01"))
    e.add_data(ticks([0]))
    strategy = Big()
    e.add_strategy(strategy)
    result = e.run()
    assert strategy.denials[0].code == "MAX_ORDER_QTY"
    assert strategy.denials[0].details["limit"] == "0.01000"  # at the instrument's size precision
    assert result.fills == []
