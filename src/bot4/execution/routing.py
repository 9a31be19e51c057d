"""Smart order routing: send each order where fees plus slippage cost least.

:func:`route` is a pure function of the request and a snapshot of every candidate venue (its
book, taker fee, what we can trade there, its breaker), so it is the same in backtest, paper
and live, and a test can drive it with hand-made books.

The cost of taking liquidity at a venue is what the walk through its book pays, fees included:
for a buy, every unit of a level costs ``price * (1 + taker_fee + penalty)``; for a sell it
brings ``price * (1 - taker_fee - penalty)``. Within one venue that unit cost only gets worse
level by level, so the cheapest way to fill ``q`` across venues is to take the cheapest units
of all venues' levels first: a merge of the level lists by unit cost (greedy is optimal for
this convex problem). Two things break convexity and are handled on top:

- lot steps: each venue's allocation is rounded down to its step as it is taken;
- minimums (min quantity, min notional): a venue either gets nothing or at least its minimum.
  When the plain merge leaves a venue with a leg below its minimum, every subset of venues is
  tried with each member forced to its minimum first (its cheapest units) and the merge for the
  rest; the cheapest feasible subset wins. With at most a handful of venues that is cheap, and
  it is exact on each venue's lot grid.

Filling more beats filling cheaper: a route that fills the whole quantity is preferred to one
that does not, then the lowest cost. Costs are reported against the consolidated mid (best bid
over all venues and best ask over all venues), so legs at different venues compare in one
currency and one reference. ``RouteMode.BEST`` sends everything to the single cheapest venue.

Venues are excluded, with the reason kept in the decision, when their circuit breaker is open,
their book is missing, stale, crossed or empty on the side we take, or we cannot trade there
(no balance). Every decision carries its inputs and a one-line audit a user can read.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum

import msgspec

from bot4.core.errors import InvalidInputError, NoRouteError, UnknownVenueError
from bot4.core.ids import InstrumentId, Venue
from bot4.core.numbers import FIXED_PRECISION, FIXED_SCALAR, Price, Quantity
from bot4.model.book import OrderBook
from bot4.model.enums import OrderSide
from bot4.model.instrument import Instrument

__all__ = [
    "RouteDecision",
    "RouteLeg",
    "RouteMode",
    "RouteRequest",
    "RouterConfig",
    "VenueInput",
    "VenueState",
    "route",
]

_BPS = Decimal(10_000)
_ONE = Decimal(1)
# Unit costs are compared as integers: price_raw * (RATE_SCALE +/- rate * RATE_SCALE). Fee and
# penalty rates have at most 10 decimals, so this is exact, and integer keys make the merge
# about 3x cheaper than Decimal keys (measured with bot4 bench --only route_decision).
_RATE_SCALE = 10**10
_MAX_SUBSET_VENUES = 8  # 2**8 subsets at most; beyond that legs below minimum are dropped


class RouteMode(Enum):
    BEST = "BEST"  # the whole order to the single cheapest venue
    SPLIT = "SPLIT"  # across venues, to minimise the total cost


@dataclass(frozen=True, kw_only=True)
class RouterConfig:
    """``max_book_age_ns``: a book older than this is stale and its venue excluded."""

    mode: RouteMode = RouteMode.SPLIT
    max_book_age_ns: int = 5_000_000_000


@dataclass(frozen=True, kw_only=True)
class VenueState:
    """One candidate venue at decision time.

    ``available_raw`` caps what we can trade there (free quote converted for a buy, free base
    for a sell); None means no cap. ``penalty_bps`` adds a cost per unit traded (latency,
    counterparty risk); ``breaker_open`` excludes the venue.
    """

    instrument: Instrument
    book: OrderBook | None
    taker_fee: Decimal
    available_raw: int | None = None
    penalty_bps: Decimal = Decimal(0)
    breaker_open: bool = False

    @property
    def venue(self) -> Venue:
        return self.instrument.id.venue


@dataclass(frozen=True, kw_only=True)
class RouteRequest:
    """Route ``quantity`` (raw, 1e-9 units of the base asset) on ``side``.

    ``limit_raw`` is the worst price any leg may reach; ``venues`` restricts the candidates
    (an unknown name is an error, not a silent skip).
    """

    side: OrderSide
    quantity_raw: int
    limit_raw: int | None = None
    venues: tuple[Venue, ...] | None = None
    label: str = ""


class VenueInput(msgspec.Struct, frozen=True, kw_only=True):
    """What the router saw at one venue (kept with the decision for the audit)."""

    venue: Venue
    best_bid: Price | None
    best_ask: Price | None
    taker_fee: Decimal
    available: Quantity | None
    book_age_ns: int | None


class RouteLeg(msgspec.Struct, frozen=True, kw_only=True):
    """One child order: ``quantity`` at ``venue``, expected to fill at ``expected_price``.

    ``limit_price`` is the worst level the leg reaches: sent as an IOC limit there, the child
    cannot fill worse than planned. ``cost`` is slippage against the reference mid plus fees
    plus penalty, in quote currency; ``cost_bps`` the same per notional at the mid.
    """

    venue: Venue
    instrument_id: InstrumentId
    quantity: Quantity
    limit_price: Price
    expected_price: Decimal
    notional: Decimal
    fee: Decimal
    slippage: Decimal
    cost: Decimal
    cost_bps: Decimal
    levels: int


class RouteDecision(msgspec.Struct, frozen=True, kw_only=True):
    label: str
    side: OrderSide
    quantity_raw: int
    routed_raw: int
    mode: RouteMode
    reference_mid: Decimal
    legs: list[RouteLeg]
    total_cost: Decimal
    cost_bps: Decimal
    excluded: dict[str, str]
    inputs: list[VenueInput]
    subsets_tried: int
    ts_ns: int

    @property
    def unrouted_raw(self) -> int:
        return self.quantity_raw - self.routed_raw

    def audit(self) -> str:
        """One line saying what was decided, from what, and why venues were left out."""
        qty = _fmt_raw(self.quantity_raw)
        legs = "; ".join(
            f"{leg.venue} {leg.quantity} @ {_fmt_dec(leg.expected_price)} (limit {leg.limit_price}, "
            f"fee {_fmt_dec(leg.fee)}, cost {_fmt_dec(leg.cost_bps, 2)} bps)"
            for leg in self.legs
        ) or "no legs"
        seen = ", ".join(
            f"{i.venue} bid {i.best_bid} ask {i.best_ask} fee {i.taker_fee}" for i in self.inputs
        )
        text = (
            f"route {self.label or ''} {self.side.name} {qty} ({self.mode.value}): {legs}; "
            f"total cost {_fmt_dec(self.total_cost)} = {_fmt_dec(self.cost_bps, 2)} bps vs mid "
            f"{_fmt_dec(self.reference_mid)}"
        )
        if self.unrouted_raw:
            text += f"; unrouted {_fmt_raw(self.unrouted_raw)}"
        if self.excluded:
            text += "; excluded: " + ", ".join(f"{v} ({why})" for v, why in sorted(self.excluded.items()))
        return f"{text}; seen: {seen}"


@dataclass
class _Venue:
    state: VenueState
    levels: list[tuple[int, int]]  # (price_raw, size_raw) in taking order
    unit_cost: list[int]  # per raw unit at _RATE_SCALE, signed so that smaller is better
    cap_raw: int
    step: int
    min_raw: int | None = None  # smallest allocation that passes its filters (None: none does)


@dataclass
class _Plan:
    taken: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # venue index -> (price, qty)
    filled: int = 0
    value: int = 0  # sum of unit_cost * qty: smaller is better


def route(
    request: RouteRequest, venues: Sequence[VenueState], now_ns: int, config: RouterConfig | None = None
) -> RouteDecision:
    """Decide where ``request`` goes; raises :class:`NoRouteError` when no venue can take it."""
    config = config or RouterConfig()
    if request.quantity_raw <= 0:
        raise InvalidInputError("route quantity must be positive", quantity_raw=request.quantity_raw)
    candidates = list(venues)
    if request.venues is not None:
        known = {v.venue for v in candidates}
        unknown = [str(v) for v in request.venues if v not in known]
        if unknown:
            raise UnknownVenueError(
                "cannot route to unknown venue", venue=unknown[0], known=sorted(str(v) for v in known)
            )
        candidates = [v for v in candidates if v.venue in request.venues]
    excluded: dict[str, str] = {}
    eligible: list[_Venue] = []
    inputs: list[VenueInput] = []
    for state in candidates:
        inputs.append(_input(state, now_ns))
        reason = _exclusion(state, request, now_ns, config)
        if reason is not None:
            excluded[str(state.venue)] = reason
            continue
        eligible.append(_prepare(state, request))
    eligible = [v for v in eligible if _usable(v, excluded)]
    if not eligible:
        raise NoRouteError(
            f"no venue can take this {request.side.name} order",
            quantity=_fmt_raw(request.quantity_raw),
            excluded=excluded,
        )
    mid = _reference_mid(eligible)
    if config.mode is RouteMode.BEST:
        plan, tried = _best_single(eligible, request), len(eligible)
    else:
        plan, tried = _best_split(eligible, request)
    if plan is None or plan.filled == 0:
        raise NoRouteError(
            "no venue can fill a lot of this order within its filters and limit",
            quantity=_fmt_raw(request.quantity_raw),
            excluded=excluded,
        )
    legs = [_leg(eligible[i], taken, request.side, mid) for i, taken in sorted(plan.taken.items()) if taken]
    legs = [leg for leg in legs if leg.quantity.raw > 0]
    total = sum((leg.cost for leg in legs), Decimal(0))
    routed = sum(leg.quantity.raw for leg in legs)
    at_mid = mid * Decimal(routed).scaleb(-FIXED_PRECISION)
    return RouteDecision(
        label=request.label,
        side=request.side,
        quantity_raw=request.quantity_raw,
        routed_raw=routed,
        mode=config.mode,
        reference_mid=mid,
        legs=legs,
        total_cost=total,
        cost_bps=(total / at_mid * _BPS) if at_mid else Decimal(0),
        excluded=excluded,
        inputs=inputs,
        subsets_tried=tried,
        ts_ns=now_ns,
    )


# -- eligibility ------------------------------------------------------------------------------


def _exclusion(state: VenueState, request: RouteRequest, now_ns: int, config: RouterConfig) -> str | None:
    if state.breaker_open:
        return "circuit breaker open"
    book = state.book
    if book is None:
        return "no order book"
    age = now_ns - book.ts_last
    if age > config.max_book_age_ns:
        return f"book stale ({age / 1e9:.3f} s old > {config.max_book_age_ns / 1e9:.3f} s)"
    if book.is_crossed():
        return "book crossed"
    taking = book.best_ask_raw() if request.side is OrderSide.BUY else book.best_bid_raw()
    if taking is None:
        return f"no liquidity to {request.side.name.lower()}"
    if state.available_raw is not None and state.available_raw < state.instrument.step_size:
        return "no balance to trade"
    if not (Decimal("-0.01") <= state.taker_fee <= Decimal("0.1")) or state.penalty_bps < 0:
        return f"fee {state.taker_fee} or penalty {state.penalty_bps} out of range"
    return None


def _prepare(state: VenueState, request: RouteRequest) -> _Venue:
    book = state.book
    if book is None:  # pragma: no cover - excluded before
        raise InvalidInputError("venue without a book", venue=str(state.venue))
    buy = request.side is OrderSide.BUY
    side = OrderSide.SELL if buy else OrderSide.BUY  # a buyer takes the asks
    rate = state.taker_fee + state.penalty_bps / _BPS
    scaled = int((rate * _RATE_SCALE).to_integral_value())
    factor = (_RATE_SCALE + scaled) if buy else -(_RATE_SCALE - scaled)
    levels: list[tuple[int, int]] = []
    costs: list[int] = []
    depth = 0
    cap = request.quantity_raw if state.available_raw is None else min(request.quantity_raw, state.available_raw)
    limit = request.limit_raw
    for price, size in book.levels(side):
        if limit is not None and ((buy and price > limit) or (not buy and price < limit)):
            break
        levels.append((price, size))
        costs.append(price * factor)
        depth += size
        if depth >= cap:
            break
    step = state.instrument.step_size
    cap = min(cap, depth) // step * step
    venue = _Venue(state, levels, costs, cap, step)
    venue.min_raw = _minimum(venue, request.side)
    return venue


def _usable(v: _Venue, excluded: dict[str, str]) -> bool:
    if v.cap_raw <= 0:
        excluded[str(v.state.venue)] = "no depth within the limit price"
        return False
    if v.min_raw is None:
        excluded[str(v.state.venue)] = "its minimum quantity or notional exceeds what it can take"
        return False
    return True


def _minimum(v: _Venue, side: OrderSide) -> int | None:
    """The smallest allocation (on the lot grid) that passes the venue's size and notional minimums."""
    inst = v.state.instrument
    step = v.step
    qty = -(-max(inst.min_quantity, step) // step) * step
    for _ in range(64):
        if qty > v.cap_raw:
            return None
        worst = _worst_price(v, qty)
        if inst.min_notional is None or worst * qty // FIXED_SCALAR >= inst.min_notional:
            return qty
        # Grow to the notional the worst price needs, on the lot grid, and check again.
        needed = -(-inst.min_notional * FIXED_SCALAR // worst)
        qty = max(qty + step, -(-needed // step) * step)
    return None


def _worst_price(v: _Venue, qty: int) -> int:
    depth = 0
    for price, size in v.levels:
        depth += size
        if depth >= qty:
            return price
    return v.levels[-1][0]


def _reference_mid(venues: Sequence[_Venue]) -> Decimal:
    bids = [b for v in venues if v.state.book is not None and (b := v.state.book.best_bid_raw()) is not None]
    asks = [a for v in venues if v.state.book is not None and (a := v.state.book.best_ask_raw()) is not None]
    if bids and asks:
        raw = Decimal(max(bids) + min(asks)) / 2
    else:
        raw = Decimal((bids or asks)[0])
    return raw.scaleb(-FIXED_PRECISION)


# -- allocation -------------------------------------------------------------------------------


def _greedy(venues: Sequence[_Venue], members: Sequence[int], want: int, forced: bool) -> _Plan | None:
    """Merge the members' levels by unit cost; with ``forced``, each member first gets its minimum."""
    plan = _Plan()
    remaining = want
    cursor: dict[int, tuple[int, int]] = {}  # venue -> (level index, already taken from that level)
    cap_left: dict[int, int] = {i: venues[i].cap_raw for i in members}
    if forced:
        for i in members:
            m = venues[i].min_raw
            if m is None or m > remaining or m > cap_left[i]:
                return None
            level, taken = _take_first(i, venues[i], m, plan)
            cursor[i] = (level, taken)
            cap_left[i] -= m
            remaining -= m
    heap: list[tuple[int, int, int]] = []
    for i in members:
        level, taken = cursor.get(i, (0, 0))
        if level < len(venues[i].levels):
            heapq.heappush(heap, (venues[i].unit_cost[level], i, level))
            cursor[i] = (level, taken)
    while heap and remaining > 0:
        _, i, level = heapq.heappop(heap)
        v = venues[i]
        price, size = v.levels[level]
        _, taken_here = cursor[i]
        allowed = min(size - taken_here, remaining, cap_left[i])
        allowed = allowed // v.step * v.step
        if allowed <= 0:
            # Not a whole lot left at this level: go deeper if the venue still could take one.
            if level + 1 < len(v.levels) and min(remaining, cap_left[i]) >= v.step:
                cursor[i] = (level + 1, 0)
                heapq.heappush(heap, (v.unit_cost[level + 1], i, level + 1))
            continue
        plan.taken.setdefault(i, []).append((price, allowed))
        plan.filled += allowed
        plan.value += v.unit_cost[level] * allowed
        remaining -= allowed
        cap_left[i] -= allowed
        if taken_here + allowed < size:
            cursor[i] = (level, taken_here + allowed)
            heapq.heappush(heap, (v.unit_cost[level], i, level))
        elif level + 1 < len(v.levels):
            cursor[i] = (level + 1, 0)
            heapq.heappush(heap, (v.unit_cost[level + 1], i, level + 1))
    return plan


def _take_first(i: int, v: _Venue, qty: int, plan: _Plan) -> tuple[int, int]:
    """Give venue ``i`` its first ``qty`` units; return where its cursor ends (level, taken there)."""
    remaining = qty
    for level, (price, size) in enumerate(v.levels):
        take = min(size, remaining)
        plan.taken.setdefault(i, []).append((price, take))
        plan.filled += take
        plan.value += v.unit_cost[level] * take
        remaining -= take
        if remaining == 0:
            return (level, take) if take < size else (level + 1, 0)
    return len(v.levels), 0


def _feasible(venues: Sequence[_Venue], plan: _Plan, side: OrderSide) -> bool:
    for i, taken in plan.taken.items():
        qty = sum(q for _, q in taken)
        if qty == 0:
            continue
        inst = venues[i].state.instrument
        worst = taken[-1][0]
        if inst.check_order(side, Quantity(qty, inst.size_precision), Price(worst, inst.price_precision)) is not None:
            return False
    return True


def _better(a: _Plan | None, b: _Plan | None) -> bool:
    """True when ``a`` is better than ``b``: fills more, or as much for less."""
    if a is None:
        return False
    if b is None:
        return True
    return (a.filled, -a.value) > (b.filled, -b.value)


def _best_split(venues: Sequence[_Venue], request: RouteRequest) -> tuple[_Plan | None, int]:
    indices = list(range(len(venues)))
    plain = _greedy(venues, indices, request.quantity_raw, forced=False)
    if plain is not None and _feasible(venues, plain, request.side):
        return plain, 1
    best: _Plan | None = None
    tried = 1
    if len(venues) <= _MAX_SUBSET_VENUES:
        for size in range(1, len(venues) + 1):
            for members in itertools.combinations(indices, size):
                tried += 1
                plan = _greedy(venues, members, request.quantity_raw, forced=True)
                if plan is not None and _feasible(venues, plan, request.side) and _better(plan, best):
                    best = plan
    else:  # too many venues to try every subset: drop the legs below minimum from the plain plan
        if plain is not None:
            kept = [i for i, taken in plain.taken.items() if _feasible(venues, _Plan({i: taken}), request.side)]
            best = _greedy(venues, kept, request.quantity_raw, forced=True)
    return best, tried


def _best_single(venues: Sequence[_Venue], request: RouteRequest) -> _Plan | None:
    best: _Plan | None = None
    for i in range(len(venues)):
        plan = _greedy(venues, [i], request.quantity_raw, forced=True)
        if plan is not None and _feasible(venues, plan, request.side) and _better(plan, best):
            best = plan
    return best


# -- results ----------------------------------------------------------------------------------


def _leg(v: _Venue, taken: list[tuple[int, int]], side: OrderSide, mid: Decimal) -> RouteLeg:
    inst = v.state.instrument
    qty = sum(q for _, q in taken)
    notional_raw = sum(p * q for p, q in taken)  # scale 1e18
    notional = Decimal(notional_raw).scaleb(-2 * FIXED_PRECISION)
    qty_dec = Decimal(qty).scaleb(-FIXED_PRECISION)
    vwap = notional / qty_dec if qty else Decimal(0)
    fee = notional * v.state.taker_fee
    penalty = notional * v.state.penalty_bps / _BPS
    slippage = (vwap - mid) * qty_dec if side is OrderSide.BUY else (mid - vwap) * qty_dec
    cost = slippage + fee + penalty
    at_mid = mid * qty_dec
    worst = max(p for p, _ in taken) if side is OrderSide.BUY else min(p for p, _ in taken)
    return RouteLeg(
        venue=v.state.venue,
        instrument_id=inst.id,
        quantity=Quantity(qty, inst.size_precision),
        limit_price=Price(worst, inst.price_precision),
        expected_price=vwap,
        notional=notional,
        fee=fee,
        slippage=slippage,
        cost=cost,
        cost_bps=(cost / at_mid * _BPS) if at_mid else Decimal(0),
        levels=len({p for p, _ in taken}),
    )


def _input(state: VenueState, now_ns: int) -> VenueInput:
    book = state.book
    return VenueInput(
        venue=state.venue,
        best_bid=None if book is None else book.best_bid_price(),
        best_ask=None if book is None else book.best_ask_price(),
        taker_fee=state.taker_fee,
        available=None if state.available_raw is None else Quantity(state.available_raw, state.instrument.size_precision),
        book_age_ns=None if book is None else now_ns - book.ts_last,
    )


def _fmt_raw(raw: int) -> str:
    return format(Decimal(raw).scaleb(-FIXED_PRECISION).normalize(), "f")


def _fmt_dec(value: Decimal, places: int = 8) -> str:
    return format(value.quantize(Decimal(1).scaleb(-places)).normalize(), "f")
