"""The documented routing example, run as a user would: real Binance data, three venues, costs per fill."""

from __future__ import annotations

import importlib.util
from decimal import Decimal
from pathlib import Path
from types import ModuleType

from bot4.execution.liquidation import JobStatus

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "route_and_liquidate.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("route_and_liquidate", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_routes_across_venues_reports_cost_per_fill_and_unwinds_everything(capsys) -> None:  # type: ignore[no-untyped-def]
    example = load_example()
    engine, strategy = example.build(example.sample_data_dir() / "btcusdt_20240808.jsonl.gz")
    engine.run()
    decisions = strategy.router.decisions
    buys = [d for d in decisions if d.label.startswith("clip")]
    assert len(buys) == 5
    assert any(len(d.legs) > 1 for d in buys)  # real splits across venues
    for d in buys:
        assert "KRAKEN" not in {str(leg.venue) for leg in d.legs}  # its 0.40% taker fee never pays
        assert sum(leg.quantity.raw for leg in d.legs) == d.quantity_raw
    fills = strategy.costs.fills
    engine_fills = [e for o in engine.execution.orders() for e in o.events if type(e).__name__ == "OrderFilled"]
    assert len(fills) == len(engine_fills) > 5  # one cost row per fill
    for row in fills:
        assert row.arrival_mid is not None and row.slippage_bps is not None
        assert row.fee_reported > 0 and row.fee_difference is not None and abs(row.fee_difference) < Decimal("0.000001")
    (report,) = strategy.liquidator.reports()
    assert report.status is JobStatus.COMPLETED and Decimal(report.residual) == 0
    assert Decimal(report.filled) == Decimal("3")
    assert len(report.slices) >= 3  # at most 1 BTC per slice
    for inst in strategy.instruments:
        assert engine.portfolio.position(inst.id).signed_qty == 0
    by_id = {str(f.client_order_id): f for f in fills}
    for s in report.slices:
        for leg in s.legs:
            row = by_id.get(leg.client_order_id)
            if row is not None:
                assert row.price.as_decimal() >= Decimal(s.band)  # the band held


def test_example_main_prints_audit_lines_cost_table_and_liquidation(capsys) -> None:  # type: ignore[no-untyped-def]
    example = load_example()
    assert example.main([]) == 0
    out = capsys.readouterr().out
    assert "route clip 1 BUY 0.6" in out and "vs mid" in out
    assert "cost per fill:" in out and "slip bps" in out
    assert "liquidation LIQ-1: SELL 3 -> filled 3" in out
