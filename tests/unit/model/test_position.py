"""Position: opening, adding, reducing, closing and flipping; PnL, fees and exact accounting."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot4.core.errors import ImpossibleFillError
from bot4.core.ids import ClientOrderId, InstrumentId, TradeId, VenueOrderId
from bot4.core.numbers import FIXED_SCALAR, Money, Price, Quantity
from bot4.model.enums import LiquiditySide, OrderSide, PositionSide
from bot4.model.events import OrderFilled
from bot4.model.position import Position, PositionChanged
from bot4.testkit import BTC, ETH, USDT, btcusdt, strategy_id

INST = btcusdt()
BUY = OrderSide.BUY
SELL = OrderSide.SELL


def new_position() -> Position:
    return Position(
        INST.id,
        base_currency=BTC,
        quote_currency=USDT,
        price_precision=INST.price_precision,
        size_precision=INST.size_precision,
    )


_trade_seq = 0


def fill(
    side: OrderSide,
    qty: str,
    price: str,
    commission: Money | None = None,
    ts: int = 1_000,
    **overrides: Any,
) -> OrderFilled:
    global _trade_seq
    _trade_seq += 1
    fields: dict[str, Any] = {
        "client_order_id": ClientOrderId(f"O-{_trade_seq}"),
        "instrument_id": INST.id,
        "strategy_id": strategy_id(),
        "ts_event": ts,
        "ts_init": ts + 1,
        "venue_order_id": VenueOrderId(f"V-{_trade_seq}"),
        "trade_id": TradeId(f"T-{_trade_seq}"),
        "order_side": side,
        "last_qty": INST.make_qty(qty),
        "last_px": INST.make_price(price),
        "commission": commission if commission is not None else Money.zero(USDT),
        "liquidity_side": LiquiditySide.TAKER,
    }
    fields.update(overrides)
    return OrderFilled(**fields)


def usdt(text: str) -> Money:
    return Money.of(text, USDT)


def mark(text: str) -> Price:
    return INST.make_price(text)


def state(position: Position) -> tuple[Any, ...]:
    return (
        position.signed_raw,
        position.avg_px_open,
        position.exact_realized(),
        position.exact_fees(),
        position.fill_count,
        position.ts_opened,
        position.ts_last,
        position.last_px,
    )


# -- a fresh position -------------------------------------------------------------------------


def test_new_position_is_flat_with_zero_pnl() -> None:
    position = new_position()
    assert position.side is PositionSide.FLAT
    assert position.is_flat
    assert position.quantity == Quantity(0, 5)
    assert position.signed_qty == 0
    assert position.avg_px_open is None
    assert position.realized_pnl == Money.zero(USDT)
    assert position.fees_paid == Money.zero(USDT)
    assert position.unrealized_pnl(mark("60000")) == Money.zero(USDT)
    assert position.fill_count == 0
    assert position.ts_opened is None
    assert position.last_px is None


# -- long -------------------------------------------------------------------------------------


def test_long_open_add_reduce_close_hand_computed() -> None:
    position = new_position()

    position.apply(fill(BUY, "0.5", "60000.00", ts=1_000))
    assert position.side is PositionSide.LONG
    assert position.quantity == INST.make_qty("0.5")
    assert position.signed_qty == Decimal("0.5")
    assert position.avg_px_open == Decimal("60000")
    assert position.ts_opened == 1_000

    position.apply(fill(BUY, "0.5", "62000.00", ts=2_000))  # add
    assert position.quantity == INST.make_qty("1")
    assert position.avg_px_open == Decimal("61000")
    assert position.realized_pnl == usdt("0")
    assert position.ts_opened == 1_000

    position.apply(fill(SELL, "0.4", "63000.00", ts=3_000))  # reduce: (63000 - 61000) * 0.4
    assert position.side is PositionSide.LONG
    assert position.quantity == INST.make_qty("0.6")
    assert position.avg_px_open == Decimal("61000")
    assert position.realized_pnl == usdt("800")

    position.apply(fill(SELL, "0.6", "60000.00", ts=4_000))  # close: (60000 - 61000) * 0.6
    assert position.is_flat
    assert position.side is PositionSide.FLAT
    assert position.avg_px_open is None
    assert position.realized_pnl == usdt("200")
    assert position.unrealized_pnl(mark("70000")) == usdt("0")
    assert position.fill_count == 4
    assert position.ts_last == 4_000
    assert position.last_px == INST.make_price("60000.00")


def test_long_unrealized_pnl_at_mark() -> None:
    position = new_position()
    position.apply(fill(BUY, "0.5", "60000.00"))
    assert position.unrealized_pnl(mark("60500.55")) == usdt("250.275")
    assert position.unrealized_pnl(mark("59000.00")) == usdt("-500")
    assert position.total_pnl(mark("60500.55")) == usdt("250.275")


# -- short ------------------------------------------------------------------------------------


def test_short_open_add_reduce_close_hand_computed() -> None:
    position = new_position()

    position.apply(fill(SELL, "1", "60000.00"))
    assert position.side is PositionSide.SHORT
    assert position.quantity == INST.make_qty("1")
    assert position.signed_qty == Decimal("-1")
    assert position.avg_px_open == Decimal("60000")

    position.apply(fill(SELL, "1", "58000.00"))  # add
    assert position.avg_px_open == Decimal("59000")
    assert position.signed_qty == Decimal("-2")

    position.apply(fill(BUY, "0.5", "57000.00"))  # reduce: (59000 - 57000) * 0.5
    assert position.realized_pnl == usdt("1000")
    assert position.signed_qty == Decimal("-1.5")
    assert position.avg_px_open == Decimal("59000")
    # Unrealised on -1.5 at 60000: (60000 - 59000) * -1.5
    assert position.unrealized_pnl(mark("60000.00")) == usdt("-1500")
    assert position.total_pnl(mark("60000.00")) == usdt("-500")

    position.apply(fill(BUY, "1.5", "59500.00"))  # close: (59000 - 59500) * 1.5
    assert position.is_flat
    assert position.realized_pnl == usdt("250")


# -- flips ------------------------------------------------------------------------------------


def test_long_flipping_short_realizes_the_closed_part_and_opens_at_fill_price() -> None:
    position = new_position()
    position.apply(fill(BUY, "0.5", "60000.00", ts=1_000))
    changed = position.apply(fill(SELL, "0.8", "61000.00", ts=2_000))
    assert position.realized_pnl == usdt("500")  # (61000 - 60000) * 0.5
    assert position.side is PositionSide.SHORT
    assert position.signed_qty == Decimal("-0.3")
    assert position.avg_px_open == Decimal("61000")
    assert position.ts_opened == 2_000
    assert position.unrealized_pnl(mark("60000.00")) == usdt("300")  # (60000 - 61000) * -0.3
    assert changed.side is PositionSide.SHORT
    assert changed.avg_px_open == Decimal("61000")


def test_short_flipping_long_realizes_the_closed_part_and_opens_at_fill_price() -> None:
    position = new_position()
    position.apply(fill(SELL, "0.2", "50000.00"))
    position.apply(fill(SELL, "0.2", "50001.00"))  # avg 50000.50
    position.apply(fill(BUY, "0.7", "49000.00"))
    assert position.realized_pnl == usdt("400.2")  # (50000.50 - 49000) * 0.4
    assert position.side is PositionSide.LONG
    assert position.signed_qty == Decimal("0.3")
    assert position.avg_px_open == Decimal("49000")


def test_reopen_after_close_starts_a_fresh_average() -> None:
    position = new_position()
    position.apply(fill(BUY, "1", "100.00", ts=1))
    position.apply(fill(SELL, "1", "110.00", ts=2))
    position.apply(fill(BUY, "2", "90.00", ts=3))
    assert position.avg_px_open == Decimal("90")
    assert position.ts_opened == 3
    assert position.realized_pnl == usdt("10")


def test_realized_pnl_is_exact_below_one_cent() -> None:
    position = new_position()
    position.apply(fill(BUY, "0.00001", "60000.00"))
    position.apply(fill(BUY, "0.00002", "60000.01"))  # avg 60000.00666...
    position.apply(fill(SELL, "0.00003", "60000.01"))
    # 0.00003 * 60000.01 - (0.00001 * 60000.00 + 0.00002 * 60000.01) = 0.0000001 USDT
    assert position.exact_realized() == Fraction(100)
    assert position.realized_pnl == usdt("0.0000001")
    assert position.is_flat


def test_money_values_round_half_even_to_quote_precision_on_read() -> None:
    position = new_position()
    # 0.00000001 BTC * 0.50 = 0.000000005 USDT: exactly half a unit of USDT's 8 decimals.
    position.apply(fill(BUY, "1", "0.50", Money.of("0.00000001", BTC)))
    assert position.exact_fees() == Fraction(5)
    assert position.fees_paid == usdt("0")  # tie rounds to even (0)
    # + 0.00000001 BTC * 1.00 = 0.000000015 USDT in total: the tie rounds to even (2).
    position.apply(fill(BUY, "1", "1.00", Money.of("0.00000001", BTC)))
    assert position.exact_fees() == Fraction(15)
    assert position.fees_paid == usdt("0.00000002")


def test_realized_pnl_with_repeating_average_rounds_on_read() -> None:
    position = new_position()
    position.apply(fill(BUY, "0.00001", "0.01"))
    position.apply(fill(BUY, "0.00002", "0.02"))  # avg 0.01666...
    position.apply(fill(SELL, "0.00001", "0.02"))  # 0.00001 * (0.02 - 0.0166...) = 0.0000000333...
    # The cost removed is floored at 1e-18; the remainder stays in the open cost basis.
    assert abs(position.exact_realized() - Fraction(100, 3)) < Fraction(1, 10**9)
    assert position.realized_pnl == usdt("0.00000003")
    mark = 20_000_000  # 0.02
    # Realised + unrealised is still exact: 0.00003 bought for 0.0000005, 0.00001 sold for 0.0000002.
    total = position.exact_realized() + position.exact_unrealized(mark)
    assert total == Fraction(-500 + 200 + 400)


# -- fees -------------------------------------------------------------------------------------


def test_fees_in_quote_are_summed_and_kept_apart_from_realized() -> None:
    position = new_position()
    position.apply(fill(BUY, "0.5", "60000.00", usdt("30")))
    position.apply(fill(SELL, "0.5", "61000.00", usdt("30.5")))
    assert position.realized_pnl == usdt("500")
    assert position.fees_paid == usdt("60.5")
    assert position.net_realized_pnl == usdt("439.5")


def test_fee_in_base_is_converted_at_fill_price() -> None:
    position = new_position()
    position.apply(fill(BUY, "0.5", "60000.00", Money.of("0.0005", BTC)))
    assert position.fees_paid == usdt("30")  # 0.0005 BTC * 60000
    assert position.exact_fees() == Fraction(30 * FIXED_SCALAR)


def test_fee_in_base_below_quote_precision_is_kept_exact_and_rounded_on_read() -> None:
    position = new_position()
    position.apply(fill(BUY, "0.001", "60000.01", Money.of("0.00000001", BTC)))
    # 0.00000001 BTC * 60000.01 = 0.0006000001 USDT
    assert position.exact_fees() == Fraction(6_000_001, 10)
    assert position.fees_paid == usdt("0.0006")


def test_fee_rebate_reduces_fees_paid() -> None:
    position = new_position()
    position.apply(fill(BUY, "0.1", "60000.00", usdt("6")))
    position.apply(fill(SELL, "0.1", "60000.00", usdt("-0.6")))
    assert position.fees_paid == usdt("5.4")
    assert position.net_realized_pnl == usdt("-5.4")


def test_fee_in_foreign_currency_raises_and_leaves_position_unchanged() -> None:
    position = new_position()
    position.apply(fill(BUY, "0.5", "60000.00"))
    before = state(position)
    with pytest.raises(ImpossibleFillError) as excinfo:
        position.apply(fill(BUY, "0.5", "62000.00", Money.of("0.001", ETH)))
    assert excinfo.value.context["fee_currency"] == "ETH"
    assert state(position) == before


# -- impossible fills -------------------------------------------------------------------------


def test_fill_for_another_instrument_raises_and_leaves_position_unchanged() -> None:
    position = new_position()
    position.apply(fill(BUY, "0.5", "60000.00"))
    before = state(position)
    with pytest.raises(ImpossibleFillError):
        position.apply(fill(BUY, "0.5", "60000.00", instrument_id=InstrumentId.from_str("ETHUSDT.SIM")))
    assert state(position) == before


@pytest.mark.parametrize(
    "overrides",
    [
        {"last_qty": Quantity(0, 5)},
        {"last_px": Price(0, 2)},
        {"last_px": Price(-10_000_000, 2)},
    ],
    ids=["zero-qty", "zero-price", "negative-price"],
)
def test_non_positive_fill_raises_and_leaves_position_unchanged(overrides: dict[str, Any]) -> None:
    position = new_position()
    position.apply(fill(BUY, "0.5", "60000.00"))
    before = state(position)
    with pytest.raises(ImpossibleFillError):
        position.apply(fill(SELL, "0.1", "60000.00", **overrides))
    assert state(position) == before


# -- PositionChanged --------------------------------------------------------------------------


def test_position_changed_carries_the_state_after_the_fill() -> None:
    position = new_position()
    position.apply(fill(BUY, "0.5", "60000.00", usdt("30"), ts=1_000))
    changed = position.apply(fill(SELL, "0.2", "61000.00", Money.of("0.0002", BTC), ts=2_000))
    assert changed == PositionChanged(
        instrument_id=INST.id,
        side=PositionSide.LONG,
        quantity=INST.make_qty("0.3"),
        signed_qty=Decimal("0.3"),
        avg_px_open=Decimal("60000"),
        realized_pnl=usdt("200"),
        fees_paid=usdt("42.2"),  # 30 + 0.0002 * 61000
        last_px=INST.make_price("61000.00"),
        ts_event=2_000,
        ts_init=2_001,
    )


def test_position_changed_on_close_has_no_average_price() -> None:
    position = new_position()
    position.apply(fill(SELL, "0.1", "60000.00"))
    changed = position.apply(fill(BUY, "0.1", "59000.00"))
    assert changed.side is PositionSide.FLAT
    assert changed.quantity == Quantity(0, 5)
    assert changed.signed_qty == 0
    assert changed.avg_px_open is None
    assert changed.realized_pnl == usdt("100")


# -- accounting property ----------------------------------------------------------------------

fills_strategy = st.lists(
    st.tuples(
        st.sampled_from([BUY, SELL]),
        st.integers(min_value=1, max_value=200_000),  # lots of 0.00001
        st.integers(min_value=1, max_value=100_000_000),  # ticks of 0.01, up to max price
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(fills_strategy, st.integers(min_value=1, max_value=100_000_000))
def test_position_accounting_is_exact_for_random_fills(
    fills: list[tuple[OrderSide, int, int]], mark_ticks: int
) -> None:
    position = new_position()
    mark_raw = mark_ticks * INST.tick_size
    signed_sum = 0
    cash_flow = Fraction(0)
    for n, (side, lots, ticks) in enumerate(fills):
        qty_raw = lots * INST.step_size
        px_raw = ticks * INST.tick_size
        position.apply(
            fill(side, "1", "1", ts=n, last_qty=Quantity(qty_raw, 5), last_px=Price(px_raw, 2))
        )
        signed = qty_raw * side.sign
        signed_sum += signed
        cash_flow += Fraction(signed * (mark_raw - px_raw), FIXED_SCALAR)
    assert position.signed_raw == signed_sum
    assert position.quantity == Quantity(abs(signed_sum), 5)
    assert position.exact_realized() + position.exact_unrealized(mark_raw) == cash_flow
    assert position.fill_count == len(fills)
    if signed_sum == 0:
        assert position.exact_unrealized(mark_raw) == 0
        assert position.avg_px_open is None
