"""Smart order routing: cost ranking, splitting, filters, exclusions, and a brute-force optimum."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot4.core.errors import InvalidInputError, NoRouteError, UnknownVenueError
from bot4.core.ids import InstrumentId, Venue
from bot4.core.numbers import FIXED_SCALAR, to_raw
from bot4.execution.routing import RouteMode, RouterConfig, RouteRequest, VenueState, route
from bot4.model.book import OrderBook
from bot4.model.enums import OrderSide
from bot4.model.instrument import Instrument
from bot4.testkit import BTC, USDT

BUY, SELL = OrderSide.BUY, OrderSide.SELL
NOW = 1_700_000_000_000_000_000


def raw(text: str) -> int:
    return to_raw(text)[0]


def instrument(venue: str, step: str = "0.001", min_notional: str | None = None, min_qty: str | None = None) -> Instrument:
    return Instrument.create(
        instrument_id=InstrumentId.from_str(f"BTCUSDT.{venue}"),
        base=BTC,
        quote=USDT,
        tick_size="0.01",
        step_size=step,
        min_quantity=min_qty,
        min_notional=min_notional,
    )


def book(inst: Instrument, bids: list[tuple[str, str]], asks: list[tuple[str, str]], ts: int = NOW) -> OrderBook:
    b = OrderBook(inst.id, inst.price_precision, inst.size_precision)
    for price, size in bids:
        b.update(BUY, raw(price), raw(size))
    for price, size in asks:
        b.update(SELL, raw(price), raw(size))
    b.ts_last = ts
    return b


def venue(name: str, asks: list[tuple[str, str]], fee: str = "0.001", bids: list[tuple[str, str]] | None = None, **kw: object) -> VenueState:
    inst = instrument(name, **{k: v for k, v in kw.items() if k in ("step", "min_notional", "min_qty")})  # type: ignore[arg-type]
    return VenueState(
        instrument=inst,
        book=book(inst, bids or [("99.00", "10")], asks, ts=int(kw.get("ts", NOW))),  # type: ignore[call-overload]
        taker_fee=Decimal(fee),
        available_raw=kw.get("available"),  # type: ignore[arg-type]
        breaker_open=bool(kw.get("breaker_open", False)),
    )


def request(qty: str, side: OrderSide = BUY, **kw: object) -> RouteRequest:
    return RouteRequest(side=side, quantity_raw=raw(qty), **kw)  # type: ignore[arg-type]


def test_whole_order_goes_to_the_venue_cheapest_after_fees() -> None:
    # A has the better price but a 0.6% fee; B's 0.1% fee makes it cheaper in total.
    a = venue("A", [("100.00", "5")], fee="0.006")
    b = venue("B", [("100.20", "5")], fee="0.001")
    decision = route(request("1"), [a, b], NOW)
    assert [(str(leg.venue), str(leg.quantity)) for leg in decision.legs] == [("B", "1.000")]
    assert decision.legs[0].expected_price == Decimal("100.2")
    assert decision.legs[0].fee == Decimal("0.1002")


def test_order_larger_than_one_book_is_split_at_equal_marginal_cost() -> None:
    a = venue("A", [("100.00", "1"), ("101.00", "5")])
    b = venue("B", [("100.50", "1"), ("102.00", "5")])
    decision = route(request("3"), [a, b], NOW)
    legs = {str(leg.venue): leg for leg in decision.legs}
    # 1 @ 100 (A), 1 @ 100.5 (B), then 1 @ 101 (A): A gets 2, B gets 1.
    assert str(legs["A"].quantity) == "2.000" and str(legs["B"].quantity) == "1.000"
    assert legs["A"].expected_price == Decimal("100.5") and str(legs["A"].limit_price) == "101.00"
    assert decision.routed_raw == raw("3") and decision.unrouted_raw == 0
    # mid = (99 + 100) / 2 = 99.5; total = 301.5 paid + 0.1% fees - 3 * 99.5
    assert decision.reference_mid == Decimal("99.5")
    assert decision.total_cost == Decimal("301.5") * Decimal("1.001") - Decimal("298.5")


def test_sell_takes_the_highest_bids_net_of_fees() -> None:
    a = venue("A", [("101.00", "5")], bids=[("100.00", "1"), ("99.00", "5")])
    b = venue("B", [("101.00", "5")], bids=[("99.90", "2")], fee="0.0")
    decision = route(request("2", SELL), [a, b], NOW)
    legs = {str(leg.venue): str(leg.quantity) for leg in decision.legs}
    # Per unit: A 100 * 0.999 = 99.9, B 99.90 * 1 = 99.9 (tie), then A 99 * 0.999 < 99.9.
    assert sum(Decimal(q) for q in legs.values()) == 2
    assert "A" in legs and "B" in legs and legs["B"] != "0.000"


def test_best_mode_sends_everything_to_one_venue() -> None:
    a = venue("A", [("100.00", "1"), ("101.00", "5")])
    b = venue("B", [("100.50", "5")])
    decision = route(request("3"), [a, b], NOW, RouterConfig(mode=RouteMode.BEST))
    assert [str(leg.venue) for leg in decision.legs] == ["B"]


def test_breaker_stale_book_empty_side_and_no_balance_are_excluded_with_reasons() -> None:
    ok = venue("OK", [("100.00", "5")])
    broken = venue("BRK", [("99.50", "5")], breaker_open=True)
    stale = venue("OLD", [("99.50", "5")], ts=NOW - 10_000_000_000)
    empty = venue("EMPTY", [])
    poor = venue("POOR", [("99.50", "5")], available=0)
    decision = route(request("1"), [ok, broken, stale, empty, poor], NOW)
    assert [str(leg.venue) for leg in decision.legs] == ["OK"]
    assert decision.excluded["BRK"] == "circuit breaker open"
    assert decision.excluded["OLD"].startswith("book stale (10.000 s old")
    assert decision.excluded["EMPTY"] == "no liquidity to buy"
    assert decision.excluded["POOR"] == "no balance to trade"
    line = decision.audit()
    assert "OK 1.000 @ 100" in line and "BRK (circuit breaker open)" in line and "vs mid" in line


def test_no_venue_available_raises_no_route_error_naming_each_reason() -> None:
    with pytest.raises(NoRouteError) as err:
        route(request("1"), [venue("A", [("100.00", "5")], breaker_open=True)], NOW)
    assert err.value.context["excluded"] == {"A": "circuit breaker open"}


def test_unknown_requested_venue_is_a_typed_error_naming_it() -> None:
    with pytest.raises(UnknownVenueError) as err:
        route(request("1", venues=(Venue("NOPE"),)), [venue("A", [("100.00", "5")])], NOW)
    assert err.value.context["venue"] == "NOPE"


def test_non_positive_quantity_is_invalid_input() -> None:
    with pytest.raises(InvalidInputError):
        route(RouteRequest(side=BUY, quantity_raw=0), [venue("A", [("100.00", "5")])], NOW)


def test_limit_price_caps_every_leg_and_leaves_the_rest_unrouted() -> None:
    a = venue("A", [("100.00", "1"), ("105.00", "5")])
    decision = route(request("3", limit_raw=raw("101.00")), [a], NOW)
    assert decision.routed_raw == raw("1") and decision.unrouted_raw == raw("2")
    assert str(decision.legs[0].limit_price) == "100.00"


def test_balance_caps_a_venue_and_the_rest_goes_elsewhere() -> None:
    a = venue("A", [("100.00", "5")], available=raw("0.5"))
    b = venue("B", [("100.50", "5")])
    decision = route(request("2"), [a, b], NOW)
    legs = {str(leg.venue): str(leg.quantity) for leg in decision.legs}
    assert legs == {"A": "0.500", "B": "1.500"}


def test_leg_below_min_notional_is_moved_to_a_venue_that_can_take_it() -> None:
    # Greedy would put 0.05 at A (cheapest) and the rest at B, but A's min notional is 10.
    a = venue("A", [("100.00", "0.05"), ("100.30", "5")], min_notional="10")
    b = venue("B", [("100.10", "5")])
    decision = route(request("1"), [a, b], NOW)
    assert [(str(leg.venue), str(leg.quantity)) for leg in decision.legs] == [("B", "1.000")]
    assert decision.subsets_tried > 1


def test_quantity_below_every_minimum_cannot_be_routed() -> None:
    a = venue("A", [("100.00", "5")], min_notional="1000")
    with pytest.raises(NoRouteError):
        route(request("1"), [a], NOW)


# -- property: the route is the brute-force optimum on each venue's lot grid -------------------------


@st.composite
def markets(draw: st.DrawFn) -> tuple[list[VenueState], int, OrderSide]:
    n = draw(st.integers(2, 5))
    states = []
    for k in range(n):
        levels = draw(st.lists(st.tuples(st.integers(0, 30), st.integers(1, 6)), min_size=1, max_size=4))
        prices = sorted({p for p, _ in levels})
        sizes = [s for _, s in levels][: len(prices)]
        step = draw(st.sampled_from(["0.1", "0.5", "1"]))
        step_raw = raw(step)
        asks = [(f"{100 + p / 10:.2f}", format(Decimal(s * step_raw) / FIXED_SCALAR, "f")) for p, s in zip(prices, sizes, strict=False)]
        bids = [(f"{99.9 - p / 10:.2f}", format(Decimal(s * step_raw) / FIXED_SCALAR, "f")) for p, s in zip(prices, sizes, strict=False)]
        fee = draw(st.sampled_from(["-0.0001", "0", "0.001", "0.004", "0.006"]))
        min_notional = draw(st.sampled_from([None, None, "50", "150"]))
        inst = instrument(f"V{k}", step=step, min_notional=min_notional)
        states.append(VenueState(instrument=inst, book=book(inst, bids, asks), taker_fee=Decimal(fee)))
    qty_lots = draw(st.integers(1, 12))
    side = draw(st.sampled_from([BUY, SELL]))
    return states, qty_lots * raw("0.5"), side


def _levels(state: VenueState, side: OrderSide) -> list[tuple[int, int]]:
    assert state.book is not None
    return list(state.book.levels(SELL if side is BUY else BUY))


def _cost_of(state: VenueState, qty: int, side: OrderSide) -> tuple[Decimal, int] | None:
    """(signed unit-cost sum, worst price) of taking ``qty`` at ``state``; None if impossible."""
    remaining, value, worst = qty, Decimal(0), 0
    rate = state.taker_fee
    factor = (1 + rate) if side is BUY else -(1 - rate)
    for price, size in _levels(state, side):
        take = min(size, remaining)
        if take:
            value += Decimal(price) * factor * take
            worst = price
        remaining -= take
        if remaining == 0:
            return value, worst
    return None


def brute_force(states: list[VenueState], qty: int, side: OrderSide) -> tuple[int, Decimal] | None:
    """The best (filled, value) over every allocation on the venues' lot grids."""
    options: list[list[tuple[int, Decimal]]] = []
    for state in states:
        inst = state.instrument
        depth = sum(s for _, s in _levels(state, side))
        choices = [(0, Decimal(0))]
        q = inst.step_size
        while q <= min(depth, qty):
            cost = _cost_of(state, q, side)
            if cost is not None:
                from bot4.core.numbers import Price, Quantity

                if inst.check_order(side, Quantity(q, inst.size_precision), Price(cost[1], inst.price_precision)) is None:
                    choices.append((q, cost[0]))
            q += inst.step_size
        options.append(choices)
    best: tuple[int, Decimal] | None = None
    for combo in itertools.product(*options):
        filled = sum(q for q, _ in combo)
        if filled > qty:
            continue
        value = sum((v for _, v in combo), Decimal(0))
        if filled and (best is None or (filled, -value) > (best[0], -best[1])):
            best = (filled, value)
    return best


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markets())
def test_split_route_matches_brute_force_optimum_within_one_lot_and_breaks_no_filter(
    market: tuple[list[VenueState], int, OrderSide],
) -> None:
    states, qty, side = market
    optimum = brute_force(states, qty, side)
    try:
        decision = route(RouteRequest(side=side, quantity_raw=qty), states, NOW)
    except NoRouteError:
        assert optimum is None
        return
    assert optimum is not None
    for leg in decision.legs:  # never a leg that breaks its venue's filters
        inst = next(s.instrument for s in states if s.venue == leg.venue)
        assert inst.check_order(side, leg.quantity, leg.limit_price) is None
    lot = max(s.instrument.step_size for s in states)
    assert decision.routed_raw >= optimum[0] - lot
    value = sum(
        (_cost_of(next(s for s in states if s.venue == leg.venue), leg.quantity.raw, side) or (Decimal(0), 0))[0]
        for leg in decision.legs
    )
    if decision.routed_raw == optimum[0]:
        # Same quantity: cost within one lot's worth of the most expensive unit anywhere.
        worst_unit = max(
            abs(Decimal(p)) * (1 + abs(s.taker_fee)) for s in states for p, _ in _levels(s, side)
        )
        assert value <= optimum[1] + worst_unit * lot
