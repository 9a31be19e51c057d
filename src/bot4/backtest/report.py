"""One self-contained HTML report of a backtest: statistics, charts, orders and fills.

The file has no external references (no scripts, fonts, stylesheets or images from anywhere):
the charts are inline SVG drawn here, tooltips are SVG ``<title>`` elements, and it opens the
same offline. Output is deterministic: the same result and prices give the same bytes (times
are printed in UTC, floats with fixed formats, and no wall-clock time is written).

Long series are reduced to at most ``MAX_POINTS`` points by keeping each bucket's minimum and
maximum, so spikes and drawdowns stay visible while a day of ticks still makes a small file.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bot4 import __version__
from bot4.backtest.result import BacktestResult, FillRecord, OrderRecord

__all__ = [
    "MAX_POINTS",
    "MAX_ROWS",
    "downsample",
    "format_duration",
    "format_time",
    "render_report",
    "write_report",
]

MAX_POINTS = 2000
MAX_ROWS = 200
MAX_MARKERS = 2000

_W, _H = 960, 280
_PAD_L, _PAD_R, _PAD_T, _PAD_B = 72, 16, 14, 30
_BUY, _SELL = "#1a9850", "#d73027"

_TIME_STEPS_S = [
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
    86400, 2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400, 91 * 86400, 182 * 86400, 365 * 86400,
]


def write_report(
    result: BacktestResult,
    path: Path,
    title: str,
    prices: Sequence[tuple[int, float]] | None = None,
) -> Path:
    """Write the report to ``path`` (a file name, usually ``report.html``) and return it.

    ``prices`` is the traded instrument's price series, ``(ts_ns, price)`` in time order; fills
    are drawn on it as buy and sell markers.
    """
    path = Path(path)
    path.write_bytes(render_report(result, title, prices).encode("utf-8"))
    return path


def render_report(
    result: BacktestResult, title: str, prices: Sequence[tuple[int, float]] | None = None
) -> str:
    """The report as one HTML string."""
    stats = result.statistics
    ccy = result.equity_currency
    equity = list(result.equity_curve)
    drawdown = _drawdown(equity)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f"<style>{_CSS}</style></head><body><main>",
        f"<h1>{_e(title)}</h1>",
        '<p class="meta">'
        + " &middot; ".join([
            _e(", ".join(result.strategies)) or "no strategy",
            _e(", ".join(result.instruments)),
            f"{format_time(result.start_ns, True)} &rarr; {format_time(result.end_ns, True)} UTC"
            f" ({format_duration(result.end_ns - result.start_ns)})",
            f"{result.events:,} events",
        ])
        + "</p>",
        "<h2>Summary</h2>",
        _summary(result),
        "<h2>Equity</h2>",
        _chart([equity], ["#3366cc"], f"equity ({ccy})", fill=False),
        "<h2>Drawdown</h2>",
        _chart([drawdown], [_SELL], "drawdown (%)", fill=True),
        "<h2>Price and fills</h2>",
        _price_chart(prices or [], result.fills),
    ]
    if result.positions:
        parts += ["<h2>Positions at the end</h2>", _positions_table(result)]
    parts += [
        f"<h2>Orders <span class=\"count\">{len(result.orders):,}</span></h2>",
        _orders_table(result.orders),
        f"<h2>Fills <span class=\"count\">{len(result.fills):,}</span></h2>",
        _fills_table(result.fills),
    ]
    if result.data_errors:
        parts += [
            f"<h2>Data problems <span class=\"count\">{result.skipped_events:,}</span></h2>",
            "<ul class=\"errors\">"
            + "".join(f"<li>{_e(e)}</li>" for e in result.data_errors[:MAX_ROWS])
            + "</ul>",
        ]
    parts += [
        f'<footer>bot4 {_e(__version__)} &middot; starting equity {stats.starting_equity:,.2f} {_e(ccy)}'
        " &middot; all data in result.json</footer>",
        "</main></body></html>",
        "",
    ]
    return "\n".join(parts)


def downsample(series: Sequence[tuple[int, float]], max_points: int = MAX_POINTS) -> list[tuple[int, float]]:
    """Keep at most ``max_points`` points: each bucket's min and max, in time order."""
    n = len(series)
    if n <= max_points:
        return list(series)
    buckets = max(1, max_points // 2)
    out: list[tuple[int, float]] = []
    for b in range(buckets):
        lo = b * n // buckets
        hi = (b + 1) * n // buckets
        if lo >= hi:
            continue
        chunk = series[lo:hi]
        i_min = min(range(len(chunk)), key=lambda i: chunk[i][1])
        i_max = max(range(len(chunk)), key=lambda i: chunk[i][1])
        for i in sorted({i_min, i_max}):
            out.append(chunk[i])
    return out


# -- sections ----------------------------------------------------------------------------------


def _summary(result: BacktestResult) -> str:
    s = result.statistics
    ccy = _e(result.equity_currency)
    rows = [
        ("Starting equity", f"{s.starting_equity:,.2f} {ccy}"),
        ("Ending equity", f"{s.ending_equity:,.2f} {ccy}"),
        ("Total return", _pct(s.total_return)),
        ("Sharpe (annualised)", f"{s.sharpe:.2f}"),
        ("Sortino (annualised)", f"{s.sortino:.2f}"),
        ("Max drawdown", _pct(-s.max_drawdown)),
        ("Fills", f"{s.fills:,}"),
        ("Closed trades", f"{s.closed_trades:,}"),
        ("Win rate", _pct(s.win_rate, signed=False)),
        ("Fees paid", f"{s.fees_paid:,.2f} {ccy}"),
        ("Turnover", f"{s.turnover:,.2f} {ccy}"),
        ("Events", f"{result.events:,}"),
        ("Skipped events", f"{result.skipped_events:,}"),
        ("Strategy errors", f"{result.strategy_errors:,}"),
    ]
    cells = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="summary">{cells}</table>'


def _positions_table(result: BacktestResult) -> str:
    header = ["instrument", "side", "quantity", "avg px open", "realized PnL", "unrealized PnL", "fees"]
    rows = [
        [p.instrument_id, p.side, p.quantity, p.avg_px_open or "", p.realized_pnl,
         p.unrealized_pnl or "", p.fees_paid]
        for p in result.positions
    ]
    return _table(header, rows, numeric={2, 3, 4, 5, 6})


def _orders_table(orders: Sequence[OrderRecord]) -> str:
    header = ["time (UTC)", "client order id", "side", "type", "qty", "price", "status", "filled",
              "avg px", "reason"]
    rows = [
        [format_time(o.ts_init), o.client_order_id, o.side, o.order_type, o.quantity, o.price or "",
         o.status, o.filled_qty, o.avg_px or "", o.reason or ""]
        for o in orders[:MAX_ROWS]
    ]
    return _table(header, rows, numeric={4, 5, 7, 8}, side_col=2) + _more(len(orders), "orders")


def _fills_table(fills: Sequence[FillRecord]) -> str:
    header = ["time (UTC)", "client order id", "side", "qty", "price", "notional", "fee", "liquidity"]
    rows = [
        [format_time(f.ts_event), f.client_order_id, f.side, f.quantity, f.price, f.notional,
         f"{f.commission} {f.commission_currency}", f.liquidity]
        for f in fills[:MAX_ROWS]
    ]
    return _table(header, rows, numeric={3, 4, 5, 6}, side_col=2) + _more(len(fills), "fills")


def _table(header: list[str], rows: list[list[str]], numeric: set[int], side_col: int | None = None) -> str:
    if not rows:
        return '<p class="note">none</p>'
    num = ' class="num"'
    head = "".join(f"<th{num if i in numeric else ''}>{_e(h)}</th>" for i, h in enumerate(header))
    body = []
    for row in rows:
        cells = []
        for i, value in enumerate(row):
            cls = []
            if i in numeric:
                cls.append("num")
            if i == side_col:
                cls.append("buy" if value == "BUY" else "sell" if value == "SELL" else "")
            attr = f' class="{" ".join(c for c in cls if c)}"' if any(cls) else ""
            cells.append(f"<td{attr}>{_e(value)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<div class="scroll"><table class="data"><thead><tr>{head}</tr></thead><tbody>' \
        + "".join(body) + "</tbody></table></div>"


def _more(total: int, what: str) -> str:
    if total <= MAX_ROWS:
        return ""
    return f'<p class="note">Showing the first {MAX_ROWS:,} of {total:,} {what}; all are in result.json.</p>'


# -- charts ------------------------------------------------------------------------------------


class _Frame:
    """Maps (ts_ns, value) into the plot area and draws the axes."""

    def __init__(self, t0: int, t1: int, v0: float, v1: float, margin: float = 0.0) -> None:
        if t1 <= t0:
            t1 = t0 + 1
        if not v1 > v0:
            pad = abs(v0) * 0.01 or 1.0
            v0, v1 = v0 - pad, v1 + pad
        if margin:  # room for markers drawn at the extremes
            pad = (v1 - v0) * margin
            v0, v1 = v0 - pad, v1 + pad
        self.y_ticks, self.y_step = _nice_ticks(v0, v1)
        self.v0 = min(v0, self.y_ticks[0])
        self.v1 = max(v1, self.y_ticks[-1])
        self.t0, self.t1 = t0, t1
        self.x0, self.x1 = _PAD_L, _W - _PAD_R
        self.y0, self.y1 = _H - _PAD_B, _PAD_T

    def x(self, t: int) -> float:
        return self.x0 + (t - self.t0) / (self.t1 - self.t0) * (self.x1 - self.x0)

    def y(self, v: float) -> float:
        return self.y0 - (v - self.v0) / (self.v1 - self.v0) * (self.y0 - self.y1)

    def axes(self) -> str:
        out = []
        decimals = max(0, -math.floor(math.log10(self.y_step))) if self.y_step > 0 else 0
        for v in self.y_ticks:
            y = self.y(v)
            out.append(f'<line class="grid" x1="{self.x0}" y1="{y:.1f}" x2="{self.x1}" y2="{y:.1f}"/>')
            out.append(f'<text class="yl" x="{self.x0 - 6}" y="{y + 4:.1f}">{v:,.{decimals}f}</text>')
        step_s, with_date = _time_step(self.t0, self.t1)
        step_ns = step_s * 1_000_000_000
        first = -(-self.t0 // step_ns) * step_ns
        t = first
        while t <= self.t1:
            x = self.x(t)
            out.append(f'<line class="grid" x1="{x:.1f}" y1="{self.y1}" x2="{x:.1f}" y2="{self.y0}"/>')
            out.append(f'<text class="xl" x="{x:.1f}" y="{self.y0 + 18}">{_tick_label(t, step_s, with_date)}</text>')
            t += step_ns
        out.append(f'<rect class="frame" x="{self.x0}" y="{self.y1}" width="{self.x1 - self.x0}" '
                   f'height="{self.y0 - self.y1}"/>')
        return "".join(out)

    def path(self, series: Sequence[tuple[int, float]]) -> str:
        return "M" + " L".join(f"{self.x(t):.1f},{self.y(v):.1f}" for t, v in series)


def _svg(label: str, body: str) -> str:
    return (f'<figure><svg viewBox="0 0 {_W} {_H}" role="img" aria-label="{_e(label)}">{body}</svg><figcaption>{_e(label)}</figcaption></figure>')


def _empty(label: str, why: str) -> str:
    return f'<figure class="empty"><p>{_e(why)}</p><figcaption>{_e(label)}</figcaption></figure>'


def _chart(series_list: list[list[tuple[int, float]]], colors: list[str], label: str, *, fill: bool) -> str:
    series_list = [downsample(s) for s in series_list]
    points = [p for s in series_list for p in s]
    if len(points) < 2:
        return _empty(label, "not enough samples to draw (the run is shorter than two equity samples)")
    frame = _Frame(min(t for t, _ in points), max(t for t, _ in points),
                   min(v for _, v in points), max(v for _, v in points))
    body = [frame.axes()]
    for series, color in zip(series_list, colors, strict=True):
        if len(series) < 2:
            continue
        d = frame.path(series)
        if fill:
            base = frame.y(min(max(0.0, frame.v0), frame.v1))
            area = f"{d} L{frame.x(series[-1][0]):.1f},{base:.1f} L{frame.x(series[0][0]):.1f},{base:.1f} Z"
            body.append(f'<path d="{area}" fill="{color}" fill-opacity="0.18" stroke="none"/>')
        body.append(f'<path d="{d}" fill="none" stroke="{color}" stroke-width="1.4"/>')
    return _svg(label, "".join(body))


def _price_chart(prices: Sequence[tuple[int, float]], fills: Sequence[FillRecord]) -> str:
    label = "price, with buys (green, up) and sells (red, down)"
    line = downsample(prices)
    marks = [(f.ts_event, float(f.price), f) for f in fills]
    note = ""
    if len(marks) > MAX_MARKERS:
        step = len(marks) / MAX_MARKERS
        marks = [marks[int(i * step)] for i in range(MAX_MARKERS)]
        note = f'<p class="note">Showing {MAX_MARKERS:,} of {len(fills):,} fills as markers.</p>'
    points = [(t, v) for t, v in line] + [(t, v) for t, v, _ in marks]
    if len(points) < 2:
        return _empty(label, "no price series and fewer than two fills")
    frame = _Frame(min(t for t, _ in points), max(t for t, _ in points),
                   min(v for _, v in points), max(v for _, v in points), margin=0.04)
    body = [frame.axes()]
    if len(line) >= 2:
        body.append(f'<path d="{frame.path(line)}" fill="none" stroke="#555" stroke-width="1"/>')
    for t, v, f in marks:
        x, y = frame.x(t), frame.y(v)
        tip = _e(f"{f.side} {f.quantity} @ {f.price} ({format_time(f.ts_event)} UTC)")
        if f.side == "BUY":
            shape = f'<path d="M{x:.1f},{y - 1:.1f} l-5,9 h10 z" fill="{_BUY}"><title>{tip}</title></path>'
        else:
            shape = f'<path d="M{x:.1f},{y + 1:.1f} l-5,-9 h10 z" fill="{_SELL}"><title>{tip}</title></path>'
        body.append(shape)
    return _svg(label, "".join(body)) + note


def _drawdown(equity: Sequence[tuple[int, float]]) -> list[tuple[int, float]]:
    out = []
    peak = -math.inf
    for t, v in equity:
        peak = max(peak, v)
        out.append((t, (v / peak - 1.0) * 100.0 if peak > 0 else 0.0))
    return out


def _nice_ticks(lo: float, hi: float, target: int = 5) -> tuple[list[float], float]:
    raw_step = (hi - lo) / target
    magnitude = 10 ** math.floor(math.log10(raw_step))
    step = magnitude
    for mult in (1, 2, 2.5, 5, 10):
        step = mult * magnitude
        if step >= raw_step:
            break
    start = math.floor(lo / step) * step
    ticks = []
    v = start
    while v <= hi + step * 1e-9:
        ticks.append(round(v, 12))
        v += step
    if ticks[-1] < hi:
        ticks.append(round(ticks[-1] + step, 12))
    return ticks, step


def _time_step(t0: int, t1: int) -> tuple[int, bool]:
    span_s = (t1 - t0) / 1e9
    step = next((s for s in _TIME_STEPS_S if span_s / s <= 8), _TIME_STEPS_S[-1])
    return step, span_s > 2 * 86400


def _tick_label(ts: int, step_s: int, with_date: bool) -> str:
    moment = datetime.fromtimestamp(ts // 1_000_000_000, UTC)
    if with_date or step_s >= 86400:
        return moment.strftime("%Y-%m-%d")
    if step_s < 60:
        return moment.strftime("%H:%M:%S")
    return moment.strftime("%H:%M")


# -- formatting --------------------------------------------------------------------------------


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _pct(value: float, signed: bool = True) -> str:
    return f"{value * 100:+.2f}%" if signed else f"{value * 100:.2f}%"


def format_time(ts: int, seconds_only: bool = False) -> str:
    """UTC ``YYYY-MM-DD HH:MM:SS.mmm`` (or to the second) of a ns timestamp."""
    moment = datetime.fromtimestamp(ts // 1_000_000_000, UTC)
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    if seconds_only:
        return text
    return f"{text}.{(ts % 1_000_000_000) // 1_000_000:03d}"


def format_duration(ns: int) -> str:
    """``1d 2h 3m``, ``2h 3m`` or ``3m 4s``."""
    seconds = ns // 1_000_000_000
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h {minutes}m"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s"


_CSS = """
:root{--fg:#1d2330;--muted:#667085;--line:#e4e7ec;--bg:#fff;--band:#f8f9fb}
*{box-sizing:border-box}
body{margin:0;background:var(--band);color:var(--fg);
font:14px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1040px;margin:0 auto;padding:24px 28px 40px;background:var(--bg);min-height:100vh}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:16px;margin:28px 0 10px;padding-bottom:4px;border-bottom:1px solid var(--line)}
.meta,.note,footer,figcaption{color:var(--muted)}
.count{color:var(--muted);font-weight:normal;font-size:13px;margin-left:6px}
table{border-collapse:collapse}
table.summary th{text-align:left;font-weight:normal;color:var(--muted);padding:3px 24px 3px 0}
table.summary td{text-align:right;font-variant-numeric:tabular-nums;padding:3px 0}
.scroll{overflow-x:auto;max-height:520px;overflow-y:auto;border:1px solid var(--line)}
table.data{width:100%;font-size:12.5px}
table.data th{position:sticky;top:0;background:var(--band);text-align:left;padding:5px 8px;
border-bottom:1px solid var(--line);white-space:nowrap}
table.data td{padding:3px 8px;border-bottom:1px solid var(--line);white-space:nowrap}
table.data tbody tr:nth-child(even){background:#fbfbfd}
.num{text-align:right;font-variant-numeric:tabular-nums}
.buy{color:#1a9850;font-weight:600}.sell{color:#d73027;font-weight:600}
figure{margin:0}
svg{width:100%;height:auto;display:block}
svg .grid{stroke:#eef0f3;stroke-width:1}
svg .frame{fill:none;stroke:#cfd4dc}
svg text{font-size:11px;fill:#667085;font-family:inherit}
svg .yl{text-anchor:end}
svg .xl{text-anchor:middle}
figcaption{font-size:12px;margin-top:2px}
figure.empty p{padding:28px;text-align:center;border:1px dashed var(--line);color:var(--muted)}
ul.errors{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}
footer{margin-top:32px;font-size:12px}
""".strip()
