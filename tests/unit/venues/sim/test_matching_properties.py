"""Property tests: random books and random order sequences against the simulated venue.

Every event also passes through the harness's local ``Order``/``Account`` mirrors, so any
transition the order state machine forbids, any overfill and any incoherent balance fails too.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot4.core.numbers import FIXED_SCALAR, Price, Quantity
from bot4.model.enums import AccountType, LiquiditySide, OrderSide, TimeInForce
from bot4.model.events import OrderFilled

MAKER_FEE = Decimal("0.0002")
TAKER_FEE = Decimal("0.00075")
TICK = 10_000_000  # 0.01 in raw units
BASE_PX = 100 * FIXED_SCALAR
STEP = 10_000  # 0.00001
_EXACT = Context(prec=80)

SIDES = st.sampled_from([OrderSide.BUY, OrderSide.SELL])
OFFSETS = st.integers(min_value=-12, max_value=12)  # price = 100.00 + 0.05 x offset
SIZES = st.integers(min_value=1, max_value=300).map(lambda n: n * 1_000 * STEP)  # 0.01 .. 3


def price_text(offset: int) -> str:
    return str(Price(BASE_PX + offset * 5 * TICK, 2))


def qty_text(raw: int) -> str:
    return str(Quantity(raw, 5))


@st.composite
def books(draw):
    mid = draw(st.integers(min_value=-6, max_value=6))
    bids = draw(st.lists(st.tuples(st.integers(0, 5), SIZES), max_size=4, unique_by=lambda t: t[0]))
    asks = draw(st.lists(st.tuples(st.integers(0, 5), SIZES), max_size=4, unique_by=lambda t: t[0]))
    return (
        [(price_text(mid - 1 - k), qty_text(size)) for k, size in bids],
        [(price_text(mid + 1 + k), qty_text(size)) for k, size in asks],
    )


SNAPSHOT = st.tuples(st.just("snapshot"), books())
TRADE = st.tuples(st.just("trade"), OFFSETS, SIZES)
DELTA = st.tuples(st.just("delta"), SIDES, OFFSETS, st.one_of(st.just(0), SIZES))
ACTIONS = st.one_of(
    SNAPSHOT,
    TRADE,
    TRADE,
    DELTA,
    st.tuples(st.just("market"), SIDES, SIZES, st.sampled_from([TimeInForce.IOC, TimeInForce.FOK])),
    st.tuples(
        st.just("limit"),
        SIDES,
        SIZES,
        OFFSETS,
        st.sampled_from([TimeInForce.GTC, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK]),
        st.booleans(),
    ),
    st.tuples(st.just("limit"), SIDES, SIZES, OFFSETS, st.just(TimeInForce.GTC), st.booleans()),
    st.tuples(st.just("stop"), SIDES, SIZES, OFFSETS),
    st.tuples(st.just("cancel"), st.integers(0, 10)),
    st.tuples(st.just("modify"), st.integers(0, 10), st.one_of(st.none(), SIZES), st.one_of(st.none(), OFFSETS)),
)

SESSIONS = st.tuples(
    books(),
    st.lists(ACTIONS, min_size=8, max_size=50),
    st.sampled_from([AccountType.CASH, AccountType.MARGIN]),
    st.booleans(),
    st.booleans(),
)


def expected_commission_raw(px_raw: int, qty_raw: int, rate: Decimal) -> int:
    amount = _EXACT.multiply(Decimal(px_raw * qty_raw).scaleb(-2 * 9, _EXACT), rate)
    rounded = amount.quantize(Decimal("1e-8"), rounding=ROUND_HALF_EVEN, context=_EXACT)
    return int(rounded.scaleb(9, _EXACT))


def run_session(make_sim, session):
    first_book, actions, account_type, queue_position, through_full = session
    sim = make_sim(
        account_type=account_type,
        starting_balances={"USDT": "2000", "BTC": "5"},
        leverage="3",
        maker_fee=str(MAKER_FEE),
        taker_fee=str(TAKER_FEE),
        queue_position=queue_position,
        trade_through_fills_full=through_full,
    )
    sim.on_event = lambda event: check_maker_price(sim, event)
    sim.snapshot(*first_book)
    initial = {b.currency.code: b.total.raw for b in sim.venue.account_state().balances}
    for action in actions:
        before = len(sim.events)
        book = sim.venue.book(sim.instrument.id)
        best_bid, best_ask = book.best_bid_raw(), book.best_ask_raw()
        sizes = {OrderSide.BUY: dict(book.levels(OrderSide.SELL)), OrderSide.SELL: dict(book.levels(OrderSide.BUY))}
        apply_action(sim, action)
        check_taker_fills(sim, sim.events[before:], best_bid, best_ask, sizes)
    return sim, initial


def apply_action(sim, action):
    kind = action[0]
    if kind == "snapshot":
        sim.snapshot(*action[1])
    elif kind == "trade":
        sim.trade(price_text(action[1]), qty_text(action[2]))
    elif kind == "delta":
        _, side, offset, size = action
        sim.delta(side, price_text(offset), qty_text(size))
    elif kind == "market":
        sim.market(action[1], qty_text(action[2]), time_in_force=action[3])
    elif kind == "limit":
        _, side, size, offset, tif, post_only = action
        sim.limit(side, qty_text(size), price_text(offset), time_in_force=tif, post_only=post_only and tif is TimeInForce.GTC)
    elif kind == "stop":
        _, side, size, offset = action
        sim.stop_market(side, qty_text(size), price_text(offset))
    else:
        working = [o for o in sim.orders.values() if o.is_open]
        if not working:
            return
        order = working[action[1] % len(working)]
        if kind == "cancel":
            sim.venue.cancel_order(order)
        else:
            _, _, size, offset = action
            price = None if offset is None or order.price is None else Price.from_str(price_text(offset))
            quantity = None if size is None else Quantity(size, 5)
            sim.venue.modify_order(order, quantity=quantity, price=price)


def check_maker_price(sim, event):
    if isinstance(event, OrderFilled) and event.liquidity_side is LiquiditySide.MAKER:
        assert event.last_px.raw == sim.orders[event.client_order_id].price.raw


def check_taker_fills(sim, events, best_bid, best_ask, sizes):
    taken: dict[tuple[OrderSide, int], int] = {}
    for event in events:
        if not isinstance(event, OrderFilled) or event.liquidity_side is not LiquiditySide.TAKER:
            continue
        order = sim.orders[event.client_order_id]
        if order.trigger_price is not None:
            continue  # stops trigger inside data events, against the book of that moment
        px = event.last_px.raw
        if event.order_side is OrderSide.BUY:
            assert best_ask is not None and px >= best_ask
            assert order.price is None or px <= order.price.raw
        else:
            assert best_bid is not None and px <= best_bid
            assert order.price is None or px >= order.price.raw
        key = (event.order_side, px)
        taken[key] = taken.get(key, 0) + event.last_qty.raw
        assert taken[key] <= sizes[event.order_side].get(px, 0)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(session=SESSIONS, mark_offset=OFFSETS)
def test_matching_random_sessions_keep_fills_fees_positions_and_cash_exact(make_sim, session, mark_offset):
    sim, initial = run_session(make_sim, session)
    fills = sim.of(OrderFilled)

    # filled quantity never exceeds the order's quantity
    for order in sim.orders.values():
        assert 0 <= order.filled_raw <= order.quantity.raw
        assert order.filled_raw == sum(f.last_qty.raw for f in fills if f.client_order_id == order.client_order_id)

    # each commission is the rate x price x quantity, rounded half-even to 1e-8 USDT
    for fill in fills:
        rate = MAKER_FEE if fill.liquidity_side is LiquiditySide.MAKER else TAKER_FEE
        assert fill.commission.raw == expected_commission_raw(fill.last_px.raw, fill.last_qty.raw, rate)
        assert fill.commission.currency.code == "USDT"

    # trade ids are unique
    assert len({f.trade_id for f in fills}) == len(fills)

    # the venue-side position is the signed sum of the fills
    signed = sum(f.order_side.sign * f.last_qty.raw for f in fills)
    assert sim.venue.position_raw(sim.instrument.id) == signed

    # value conservation, exact in raw ints for any mark price P
    final = {b.currency.code: b.total.raw for b in sim.venue.account_state().balances}
    mark = BASE_PX + mark_offset * 5 * TICK
    change = (final["USDT"] - initial["USDT"]) * FIXED_SCALAR + (final["BTC"] - initial["BTC"]) * mark
    flows = sum(f.order_side.sign * f.last_qty.raw * (mark - f.last_px.raw) for f in fills)
    fees = sum(f.commission.raw for f in fills) * FIXED_SCALAR
    assert change == flows - fees

    # the local mirror saw every balance change; nothing stays locked without working orders
    mirrored = {b.currency.code: (b.total.raw, b.locked.raw) for b in sim.account.balances.values()}
    reported = {b.currency.code: (b.total.raw, b.locked.raw) for b in sim.venue.account_state().balances}
    assert mirrored == reported
    if not sim.venue.open_orders():
        assert all(locked == 0 for _, locked in reported.values())
    if session[2] is AccountType.CASH:
        assert all(total >= locked >= 0 for total, locked in reported.values())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(session=SESSIONS)
def test_matching_same_session_twice_gives_identical_events(make_sim, session):
    first, _ = run_session(make_sim, session)
    second, _ = run_session(make_sim, session)
    assert [msgspec.json.encode(e) for e in first.events] == [msgspec.json.encode(e) for e in second.events]
