"""write_report: one self-contained, deterministic HTML file with inline SVG charts."""

from __future__ import annotations

import re
from pathlib import Path

from bot4.backtest.report import MAX_POINTS, MAX_ROWS, downsample, render_report, write_report
from bot4.backtest.result import BacktestResult, FillRecord, OrderRecord, PositionRecord
from bot4.backtest.stats import compute_statistics

T0 = 1_723_161_253_000_000_000
S = 1_000_000_000


def fill(i: int, side: str, price: str) -> FillRecord:
    return FillRecord(
        ts_event=T0 + i * 10 * S, client_order_id=f"BOT4-S-1-{i}", venue_order_id=f"SIM-{i}",
        trade_id=f"SIM-T{i}", instrument_id="BTCUSDT.SIM", side=side, quantity="0.01000",
        price=price, notional="618.37", commission="0.61837", commission_currency="USDT",
        commission_quote="0.61837", liquidity="TAKER",
    )


def order(i: int, side: str) -> OrderRecord:
    return OrderRecord(
        client_order_id=f"BOT4-S-1-{i}", instrument_id="BTCUSDT.SIM", side=side, order_type="MARKET",
        quantity="0.01000", price=None, trigger_price=None, time_in_force="GTC", status="FILLED",
        filled_qty="0.01000", avg_px="61837.63", ts_init=T0 + i * 10 * S, ts_last=T0 + i * 10 * S,
        reason=None,
    )


def make_result(n_fills: int = 6, n_equity: int = 360) -> BacktestResult:
    equity = [(T0 + i * S, 100_000.0 + 50.0 * ((i * 7919) % 13 - 6) - i * 0.5) for i in range(n_equity)]
    fills = [fill(i, "BUY" if i % 2 == 0 else "SELL", f"{61800 + i % 50}.63") for i in range(n_fills)]
    orders = [order(i, f.side) for i, f in enumerate(fills)]
    return BacktestResult(
        trader_id="BOT4", strategies=["EmaCross"], instruments=["BTCUSDT.SIM"], start_ns=T0,
        end_ns=T0 + n_equity * S, events=41_249, skipped_events=0, data_errors=[], equity_currency="USDT",
        equity_curve=equity, orders=orders, fills=fills,
        positions=[PositionRecord(instrument_id="BTCUSDT.SIM", side="FLAT", quantity="0.00000",
                                  avg_px_open=None, realized_pnl="-1.20 USDT", unrealized_pnl=None,
                                  fees_paid="3.71 USDT")],
        statistics=compute_statistics(equity, S, [1.0, -2.0], n_fills, 3.71, 3710.2),
        strategy_errors=0,
    )


def prices() -> list[tuple[int, float]]:
    return [(T0 + i * 100_000_000, 61_800.0 + (i % 97) * 0.37) for i in range(5_000)]


def test_report_is_self_contained_with_svg_charts(tmp_path: Path) -> None:
    path = write_report(make_result(), tmp_path / "report.html", "Backtest <ema_cross>", prices())
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert text.count("<svg") == 3  # equity, drawdown, price with fills
    assert "<title>Backtest &lt;ema_cross&gt;</title>" in text
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, re.IGNORECASE)
    assert "http://" not in text and "https://" not in text
    assert "<script" not in text and "<link" not in text and "@import" not in text


def test_report_marks_buys_and_sells_on_price_chart() -> None:
    text = render_report(make_result(n_fills=6), "t", prices())
    assert text.count('fill="#1a9850"><title>BUY') == 3
    assert text.count('fill="#d73027"><title>SELL') == 3


def test_report_is_byte_identical_for_the_same_result(tmp_path: Path) -> None:
    a = write_report(make_result(), tmp_path / "a.html", "t", prices()).read_bytes()
    b = write_report(make_result(), tmp_path / "b.html", "t", prices()).read_bytes()
    assert a == b


def test_report_shows_summary_statistics() -> None:
    text = render_report(make_result(), "t", prices())
    for label in ("Total return", "Sharpe", "Max drawdown", "Win rate", "Fees paid"):
        assert label in text
    assert "41,249" in text


def test_report_caps_table_rows_with_a_note() -> None:
    text = render_report(make_result(n_fills=MAX_ROWS + 50), "t", prices())
    assert f"Showing the first {MAX_ROWS:,} of {MAX_ROWS + 50:,} fills" in text
    assert f"Showing the first {MAX_ROWS:,} of {MAX_ROWS + 50:,} orders" in text


def test_report_handles_run_without_fills_or_prices() -> None:
    text = render_report(make_result(n_fills=0, n_equity=1), "empty", None)
    assert "not enough samples" in text
    assert "no price series" in text


def test_downsample_keeps_at_most_max_points_and_the_extremes() -> None:
    series = [(i, float(i % 1000)) for i in range(100_000)]
    series[54_321] = (54_321, 5_000.0)
    series[12_345] = (12_345, -5_000.0)
    out = downsample(series)
    assert len(out) <= MAX_POINTS
    assert (54_321, 5_000.0) in out and (12_345, -5_000.0) in out
    assert [t for t, _ in out] == sorted(t for t, _ in out)


def test_report_size_stays_small_for_long_series() -> None:
    long_prices = [(T0 + i * 1_000_000, 60_000.0 + (i % 1000)) for i in range(500_000)]
    text = render_report(make_result(n_equity=100_000), "t", long_prices)
    assert len(text) < 400_000
