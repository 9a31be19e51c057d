"""Property tests: risk never lets an order break a configured limit, and denies only for one.

Each example builds a real world (balances, positions from fills, marks, working orders sent
through the execution engine), then a risk engine with random limits, then checks a random
order. The expectations are computed here independently, in Decimal, from the portfolio's own
figures; an order passes exactly when no configured limit would be broken.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot4.model import OrderSide, OrderType
from bot4.risk import RiskConfig, TradingState
from bot4.testkit import BTC, USDT

BUY = OrderSide.BUY
SELL = OrderSide.SELL
Make = Callable[..., Any]
E9 = Decimal(10**9)
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def dec(raw: int) -> Decimal:
    return Decimal(raw) / E9


def btc_qty(units: int) -> str:
    return str(Decimal(units) / 100_000)  # 0.00001 steps


def usd(cents: int) -> str:
    return str(Decimal(cents) / 100)


optional = st.one_of


@st.composite
def worlds(draw: st.DrawFn) -> dict[str, Any]:
    mark = draw(st.integers(5_000_000, 7_000_000))  # cents: 50000.00 .. 70000.00
    return {
        "limits": {
            "max_order_qty": draw(optional(st.none(), st.integers(1, 200_000).map(btc_qty))),
            "max_order_notional": draw(optional(st.none(), st.integers(1, 50_000).map(str))),
            "max_position": draw(optional(st.none(), st.integers(1, 200_000).map(btc_qty))),
            "max_gross_exposure": draw(optional(st.none(), st.integers(1, 200_000).map(str))),
            "price_band_bps": draw(optional(st.none(), st.integers(0, 400))),
            "check_balance": draw(st.booleans()),
        },
        "mark": usd(mark),
        "eth_mark": usd(draw(st.integers(200_000, 400_000))),
        "btc_position": draw(st.integers(-100_000, 100_000)),
        "eth_position": draw(st.integers(-20_000, 20_000)),  # 0.0001 ETH steps
        "usdt": usd(draw(st.integers(0, 20_000_000))),
        "btc": btc_qty(draw(st.integers(0, 200_000))),
        "working": draw(
            st.lists(st.tuples(st.sampled_from([BUY, SELL]), st.integers(10, 50_000)), max_size=3)
        ),
        "side": draw(st.sampled_from([BUY, SELL])),
        "market": draw(st.booleans()),
        "qty": draw(st.integers(1, 150_000)),
        "offset_bps": draw(st.integers(-400, 400)),
    }


def build(make: Make, world: dict[str, Any], config: RiskConfig) -> Any:
    h = make(None, usdt=world["usdt"], btc=world["btc"], mark=None, eth_mark=None)
    if world["btc_position"]:
        side = BUY if world["btc_position"] > 0 else SELL
        h.position_fill(side, btc_qty(abs(world["btc_position"])), world["mark"])
    if world["eth_position"]:
        side = BUY if world["eth_position"] > 0 else SELL
        qty = str(Decimal(abs(world["eth_position"])) / 10_000)
        h.position_fill(side, qty, world["eth_mark"], instrument=h.eth)
    h.mark(world["mark"])
    h.mark(world["eth_mark"], h.eth)
    for side, units in world["working"]:
        h.execution.submit_order(h.limit(side, btc_qty(units), world["mark"]))  # no risk yet
    h.attach(config)
    return h


def order_of(h: Any, world: dict[str, Any]) -> Any:
    qty = btc_qty(world["qty"])
    if world["market"]:
        return h.market(world["side"], qty)
    mark = Decimal(world["mark"])
    price = (mark * (1 + Decimal(world["offset_bps"]) / 10_000)).quantize(Decimal("0.01"))
    return h.limit(world["side"], qty, str(price))


def broken_limits(h: Any, config: RiskConfig, order: Any) -> set[str]:
    """Every limit the order would break, computed from the portfolio's figures in Decimal."""
    broken: set[str] = set()
    btc_id = h.btc.id
    qty = dec(order.quantity.raw)
    mark = dec(h.portfolio.mark_raw(btc_id))
    price = dec(order.price.raw) if order.order_type is OrderType.LIMIT else mark
    notional = price * qty
    sign = 1 if order.side is BUY else -1
    position = dec(h.portfolio.position(btc_id).signed_raw)
    working = sum(
        (dec(o.leaves_raw) for o in h.execution.open_orders(btc_id) if o.side is order.side), Decimal(0)
    )
    projected = position + sign * (qty + working)
    grows = abs(projected) > abs(position)
    if config.max_order_qty is not None and qty > Decimal(config.max_order_qty):
        broken.add("MAX_ORDER_QTY")
    if config.max_order_notional is not None and notional > Decimal(config.max_order_notional):
        broken.add("MAX_ORDER_NOTIONAL")
    if config.max_position is not None and grows and abs(projected) > Decimal(config.max_position):
        broken.add("MAX_POSITION")
    if config.max_gross_exposure is not None and grows:
        others = dec(h.portfolio.gross_exposure_raw(USDT) - h.portfolio.exposure_raw(btc_id))
        own = dec(int(abs(projected) * mark * E9))  # floored to 1e-9 like every exposure figure
        if others + own > Decimal(config.max_gross_exposure):
            broken.add("MAX_GROSS_EXPOSURE")
    bps = config.price_band_bps
    if bps is not None and order.order_type is OrderType.LIMIT and abs(price - mark) * 10_000 > bps * mark:
        broken.add("PRICE_BAND")
    if config.check_balance:
        account = h.portfolio.accounts()[0]
        if order.side is BUY:
            free = dec(account.free(USDT).raw)
            if free < notional * (1 + h.btc.taker_fee):
                broken.add("INSUFFICIENT_BALANCE")
        elif dec(account.free(BTC).raw) < qty:
            broken.add("INSUFFICIENT_BALANCE")
    return broken


@PROPS
@given(world=worlds())
def test_risk_passes_exactly_the_orders_that_break_no_configured_limit(make: Make, world: dict[str, Any]) -> None:
    config = RiskConfig(**world["limits"])
    h = build(make, world, config)
    order = order_of(h, world)
    broken = broken_limits(h, config, order)
    denial = h.risk.check(order)
    if denial is None:
        assert broken == set(), f"passed an order breaking {broken}"
    else:
        assert denial.code in broken, f"denied for {denial.code} ({denial.reason}); broken: {broken}"


@PROPS
@given(
    position=st.integers(-50_000, 50_000),
    working=st.lists(st.tuples(st.sampled_from([BUY, SELL]), st.integers(10, 30_000)), max_size=3),
    side=st.sampled_from([BUY, SELL]),
    qty=st.integers(1, 100_000),
)
def test_reducing_never_passes_an_order_that_opens_grows_or_flips(
    make: Make, position: int, working: list[tuple[OrderSide, int]], side: OrderSide, qty: int
) -> None:
    h = make(None)
    if position:
        h.position_fill(BUY if position > 0 else SELL, btc_qty(abs(position)), "60000")
    for working_side, units in working:
        h.execution.submit_order(h.limit(working_side, btc_qty(units), "60000"))
    h.attach(RiskConfig())
    h.risk.set_trading_state(TradingState.REDUCING, "test")
    same_side = sum(units for s, units in working if s is side)
    reduces = position != 0 and (position > 0) != (side is BUY)
    allowed = reduces and qty <= abs(position) - same_side
    denial = h.risk.check(h.market(side, btc_qty(qty)))
    assert (denial is None) == allowed
    if denial is not None:
        assert denial.code == "REDUCING_ONLY"


@PROPS
@given(
    rate=st.sampled_from(["0.5", "1", "3", "10"]),
    burst=st.one_of(st.none(), st.integers(1, 5)),
    gaps=st.lists(st.integers(0, 2_000_000_000), min_size=1, max_size=40),
)
def test_rate_limit_never_lets_more_than_burst_plus_rate_times_time_through(
    make: Make, rate: str, burst: int | None, gaps: list[int]
) -> None:
    h = make(RiskConfig(max_orders_per_second=rate, order_burst=burst))
    sent: list[int] = []
    for gap in gaps:
        h.advance(gap)
        order = h.market(BUY, "0.0001")
        if h.risk.check(order) is None:
            h.submit(order)
            sent.append(h.clock.timestamp_ns())
    capacity = burst if burst is not None else math.ceil(Decimal(rate))
    for i in range(len(sent)):
        for j in range(i, len(sent)):
            assert j - i + 1 <= capacity + Decimal(rate) * Decimal(sent[j] - sent[i]) / E9


@PROPS
@given(
    limit_cents=st.integers(1, 2_000_000),
    marks=st.lists(st.integers(3_000_000, 9_000_000), min_size=1, max_size=30),
)
def test_drawdown_halts_exactly_when_equity_falls_more_than_the_limit_below_its_peak(
    make: Make, limit_cents: int, marks: list[int]
) -> None:
    h = make(RiskConfig(max_drawdown=usd(limit_cents)), usdt="100000", btc="1", mark="60000.00")
    peak = Decimal(160_000)
    breached = False
    for mark_cents in marks:
        h.mark(usd(mark_cents))
        h.risk.check(h.market(BUY, "0.0001"))
        equity = Decimal(100_000) + Decimal(mark_cents) / 100
        peak = max(peak, equity)
        breached = breached or peak - equity > Decimal(limit_cents) / 100
        assert (h.risk.trading_state is TradingState.HALTED) == breached
        assert h.risk.loss_monitor.equity_raw == h.portfolio.equity_raw(USDT)
