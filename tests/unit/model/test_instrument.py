"""Instrument: creation from venue strings, exact and rounded prices/quantities, filter checks."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from bot4.core.errors import InvalidInputError, InvalidOrderError, PrecisionError
from bot4.core.ids import InstrumentId
from bot4.core.numbers import Currency, Money, Price, Quantity
from bot4.model.enums import OrderSide
from bot4.model.instrument import Instrument
from bot4.testkit import BTC, USDT, btcusdt

BTCUSDT = btcusdt()


def qty(text: str) -> Quantity:
    return Quantity.from_str(text)


def px(text: str) -> Price:
    return Price.from_str(text)


def make(tick: str = "0.01", step: str = "0.00001", **kwargs: str) -> Instrument:
    return Instrument.create(
        instrument_id=InstrumentId.from_str("XYZUSDT.SIM"),
        base=Currency("XYZ", 8),
        quote=USDT,
        tick_size=tick,
        step_size=step,
        **kwargs,  # type: ignore[arg-type]
    )


# -- create -----------------------------------------------------------------------------------


def test_btcusdt_carries_binance_filters_in_raw_units() -> None:
    assert BTCUSDT.id == InstrumentId.from_str("BTCUSDT.SIM")
    assert BTCUSDT.base_currency == BTC
    assert BTCUSDT.quote_currency == USDT
    assert BTCUSDT.price_precision == 2
    assert BTCUSDT.size_precision == 5
    assert BTCUSDT.tick_size == 10_000_000
    assert BTCUSDT.step_size == 10_000
    assert BTCUSDT.min_quantity == 10_000
    assert BTCUSDT.max_quantity == 9_000_000_000_000
    assert BTCUSDT.min_notional == 5_000_000_000
    assert BTCUSDT.min_price == 10_000_000
    assert BTCUSDT.max_price == 1_000_000_000_000_000
    assert BTCUSDT.maker_fee == Decimal("0.001")
    assert BTCUSDT.taker_fee == Decimal("0.001")
    assert str(BTCUSDT) == "BTCUSDT.SIM"


def test_btcusdt_increments_are_typed_values() -> None:
    assert BTCUSDT.price_increment == Price(10_000_000, 2)
    assert str(BTCUSDT.price_increment) == "0.01"
    assert BTCUSDT.size_increment == Quantity(10_000, 5)
    assert str(BTCUSDT.size_increment) == "0.00001"


def test_btcusdt_takes_venue_and_fees() -> None:
    inst = btcusdt(venue="BINANCE", maker_fee="0.00075", taker_fee="0.0002")
    assert str(inst.id) == "BTCUSDT.BINANCE"
    assert inst.maker_fee == Decimal("0.00075")
    assert inst.taker_fee == Decimal("0.0002")


@pytest.mark.parametrize(
    ("tick", "step", "price_precision", "size_precision"),
    [
        ("0.01", "0.00001", 2, 5),
        ("0.010000", "0.00100000", 2, 3),  # Binance pads with zeros: precision follows the value
        ("0.5", "1", 1, 0),
        ("10", "100", 0, 0),
        ("0.00000001", "0.000000001", 8, 9),
        ("0.05", "0.025", 2, 3),
    ],
)
def test_instrument_create_derives_precisions_from_tick_and_step(
    tick: str, step: str, price_precision: int, size_precision: int
) -> None:
    inst = make(tick=tick, step=step)
    assert inst.price_precision == price_precision
    assert inst.size_precision == size_precision


def test_instrument_create_without_min_quantity_uses_the_step() -> None:
    inst = make(step="0.001")
    assert inst.min_quantity == 1_000_000
    assert inst.max_quantity is None
    assert inst.min_notional is None
    assert inst.min_price is None
    assert inst.max_price is None


@pytest.mark.parametrize(("tick", "step"), [("0", "0.01"), ("-0.01", "0.01"), ("0.01", "0"), ("0.01", "-1")])
def test_instrument_create_non_positive_tick_or_step_raises_invalid_order_error(
    tick: str, step: str
) -> None:
    with pytest.raises(InvalidOrderError) as excinfo:
        make(tick=tick, step=step)
    assert excinfo.value.context == {
        "instrument": "XYZUSDT.SIM",
        "tick_size": tick,
        "step_size": step,
    }


def test_instrument_create_tick_below_one_nano_raises_precision_error() -> None:
    with pytest.raises(PrecisionError):
        make(tick="0.0000000001")


# -- make_price / make_qty --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("60000.01", "60000.01"),
        ("60000.1", "60000.10"),
        ("60000.010", "60000.01"),
        (60000, "60000.00"),
        (60000.5, "60000.50"),
        (Decimal("0.01"), "0.01"),
        ("6.000001e4", "60000.01"),
    ],
)
def test_make_price_on_tick_returns_exact_price_at_instrument_precision(
    value: object, text: str
) -> None:
    price = BTCUSDT.make_price(value)  # type: ignore[arg-type]
    assert price.precision == 2
    assert str(price) == text


@pytest.mark.parametrize("value", ["60000.001", "0.005", 60000.015, Decimal("1.234")])
def test_make_price_off_tick_raises_invalid_order_error_naming_tick(value: object) -> None:
    with pytest.raises(InvalidOrderError) as excinfo:
        BTCUSDT.make_price(value)  # type: ignore[arg-type]
    assert excinfo.value.context == {
        "instrument": "BTCUSDT.SIM",
        "price": str(value),
        "tick_size": "0.01",
    }


def test_make_price_garbage_raises_invalid_input_error() -> None:
    with pytest.raises(InvalidInputError):
        BTCUSDT.make_price("sixty thousand")


@pytest.mark.parametrize(
    ("value", "text"),
    [("0.00001", "0.00001"), ("1.5", "1.50000"), (2, "2.00000"), ("0", "0.00000"), (0.00002, "0.00002")],
)
def test_make_qty_on_step_returns_exact_quantity(value: object, text: str) -> None:
    quantity = BTCUSDT.make_qty(value)  # type: ignore[arg-type]
    assert quantity.precision == 5
    assert str(quantity) == text


@pytest.mark.parametrize("value", ["0.000015", "1.000001", "-0.00001", -1])
def test_make_qty_off_step_or_negative_raises_invalid_order_error(value: object) -> None:
    with pytest.raises(InvalidOrderError) as excinfo:
        BTCUSDT.make_qty(value)  # type: ignore[arg-type]
    assert excinfo.value.context["step_size"] == "0.00001"
    assert excinfo.value.context["quantity"] == str(value)


# -- round_price / round_qty ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "mode", "text"),
    [
        ("60000.005", "nearest", "60000.00"),  # tie to even
        ("60000.015", "nearest", "60000.02"),  # tie to even
        ("60000.0051", "nearest", "60000.01"),
        ("60000.0049", "nearest", "60000.00"),
        ("60000.009", "down", "60000.00"),
        ("60000.001", "up", "60000.01"),
        ("60000.01", "nearest", "60000.01"),
        ("60000.01", "down", "60000.01"),
        ("60000.01", "up", "60000.01"),
        ("-0.005", "down", "-0.01"),  # down is toward minus infinity
        ("-0.015", "up", "-0.01"),
        (60000.005, "nearest", "60000.00"),  # float via its repr, not its binary value
        (60000.005, "up", "60000.01"),
        (Decimal("60000.0050000001"), "nearest", "60000.01"),
        (59999, "up", "59999.00"),
    ],
)
def test_round_price_rounds_to_tick_by_mode(value: object, mode: str, text: str) -> None:
    price = BTCUSDT.round_price(value, mode)  # type: ignore[arg-type]
    assert price.precision == 2
    assert str(price) == text


def test_round_price_default_mode_is_nearest_half_even() -> None:
    assert str(BTCUSDT.round_price("100.125")) == "100.12"
    assert str(BTCUSDT.round_price("100.135")) == "100.14"


def test_round_price_on_coarse_tick_rounds_to_multiples_of_tick() -> None:
    inst = make(tick="0.05")
    assert str(inst.round_price("1.024")) == "1.00"
    assert str(inst.round_price("1.025")) == "1.00"  # 20.5 ticks: tie to even -> 20
    assert str(inst.round_price("1.075")) == "1.10"  # 21.5 ticks: tie to even -> 22
    assert str(inst.round_price("1.01", "up")) == "1.05"


@pytest.mark.parametrize(
    ("value", "mode", "text"),
    [
        ("0.123456789", "down", "0.12345"),
        ("0.123456789", "up", "0.12346"),
        ("0.000015", "nearest", "0.00002"),
        ("0.000025", "nearest", "0.00002"),
        ("0.0000251", "nearest", "0.00003"),
        ("0.000009", "down", "0.00000"),
        ("1", "down", "1.00000"),
        (0.123456, "down", "0.12345"),
    ],
)
def test_round_qty_rounds_to_step_by_mode(value: object, mode: str, text: str) -> None:
    quantity = BTCUSDT.round_qty(value, mode)  # type: ignore[arg-type]
    assert quantity.precision == 5
    assert str(quantity) == text


def test_round_qty_default_mode_rounds_down() -> None:
    assert str(BTCUSDT.round_qty("0.999999")) == "0.99999"


def test_round_qty_below_zero_after_rounding_raises_invalid_order_error() -> None:
    with pytest.raises(InvalidOrderError):
        BTCUSDT.round_qty("-0.000001", "down")


@pytest.mark.parametrize("mode", ["half-up", "NEAREST", "", "ceil"])
def test_round_unknown_mode_raises_invalid_order_error(mode: str) -> None:
    with pytest.raises(InvalidOrderError) as excinfo:
        BTCUSDT.round_price("1.005", mode)
    assert excinfo.value.context == {"mode": mode}
    with pytest.raises(InvalidOrderError):
        BTCUSDT.round_qty("1.005", mode)


@pytest.mark.parametrize(
    "value", [float("nan"), float("inf"), float("-inf"), Decimal("NaN"), Decimal("Infinity")], ids=repr
)
def test_round_non_finite_raises_invalid_order_error(value: object) -> None:
    with pytest.raises(InvalidOrderError):
        BTCUSDT.round_price(value)  # type: ignore[arg-type]
    with pytest.raises(InvalidOrderError):
        BTCUSDT.round_qty(value)  # type: ignore[arg-type]


# -- notional ---------------------------------------------------------------------------------


def test_notional_is_price_times_quantity_in_quote() -> None:
    notional = BTCUSDT.notional(px("60000.01"), qty("0.00123"))
    assert notional == Money(73_800_012_300, USDT)
    assert str(notional) == "73.80001230 USDT"


def test_notional_raw_floors_at_one_raw_unit() -> None:
    assert BTCUSDT.notional_raw(1, 1) == 0
    assert BTCUSDT.notional_raw(1_999_999_999, 1) == 1
    assert BTCUSDT.notional_raw(-1, 1) == -1  # floored; prices are positive in practice
    assert BTCUSDT.notional_raw(-1_999_999_999, 1) == -2


# -- check_order ------------------------------------------------------------------------------

# (quantity, price or None, expected code or None). Each threshold appears with a value just
# failing it and a value just passing it.
BTCUSDT_CHECKS = [
    # QTY_NOT_POSITIVE
    ("0", None, "QTY_NOT_POSITIVE"),
    ("0.00000", "60000.00", "QTY_NOT_POSITIVE"),
    ("0.00001", None, None),
    # QTY_OFF_STEP
    ("0.000015", None, "QTY_OFF_STEP"),
    ("0.000001", None, "QTY_OFF_STEP"),
    ("1.000009", "60000.00", "QTY_OFF_STEP"),
    ("0.00002", None, None),
    # QTY_ABOVE_MAX
    ("9000.00001", None, "QTY_ABOVE_MAX"),
    ("9000.00000", None, None),
    ("9000", "1.00", None),
    # PRICE_NOT_POSITIVE
    ("0.001", "0", "PRICE_NOT_POSITIVE"),
    ("0.001", "-0.01", "PRICE_NOT_POSITIVE"),
    ("0.001", "0.01", "NOTIONAL_BELOW_MIN"),  # positive: passes on to the later checks
    # PRICE_OFF_TICK
    ("0.001", "60000.001", "PRICE_OFF_TICK"),
    ("0.001", "60000.009", "PRICE_OFF_TICK"),
    ("0.001", "60000.010", None),
    # PRICE_ABOVE_MAX
    ("0.001", "1000000.01", "PRICE_ABOVE_MAX"),
    ("0.001", "1000000.00", None),
    # NOTIONAL_BELOW_MIN (5 USDT)
    ("0.0001", "50000.00", None),  # exactly 5
    ("0.00009", "50000.00", "NOTIONAL_BELOW_MIN"),  # 4.5
    ("0.0001", "49999.99", "NOTIONAL_BELOW_MIN"),  # 4.999999
    ("500", "0.01", None),  # exactly 5
    ("499.99999", "0.01", "NOTIONAL_BELOW_MIN"),  # 4.9999999
    ("0.00001", "500000.00", None),  # exactly 5 with the smallest lot
    ("0.00001", "499999.99", "NOTIONAL_BELOW_MIN"),
    # The first failing filter wins.
    ("0.000015", "60000.001", "QTY_OFF_STEP"),
    ("9000.00001", "0", "QTY_ABOVE_MAX"),
    ("0.00001", "60000.001", "PRICE_OFF_TICK"),
    ("0.00001", None, None),  # no price: notional not checked
]


@pytest.mark.parametrize("side", [OrderSide.BUY, OrderSide.SELL], ids=lambda s: s.name)
@pytest.mark.parametrize(("quantity", "price", "code"), BTCUSDT_CHECKS)
def test_check_order_btcusdt_reports_first_failing_filter(
    side: OrderSide, quantity: str, price: str | None, code: str | None
) -> None:
    result = BTCUSDT.check_order(side, qty(quantity), None if price is None else px(price))
    assert (result.code if result is not None else None) == code


def test_check_order_negative_raw_quantity_is_not_positive() -> None:
    result = BTCUSDT.check_order(OrderSide.BUY, Quantity(-10_000, 5), None)
    assert result is not None
    assert result.code == "QTY_NOT_POSITIVE"


def test_check_order_btcusdt_smallest_lot_passes_min_quantity() -> None:
    # Binance's minQty equals the step, so QTY_BELOW_MIN cannot trigger on BTCUSDT itself.
    assert BTCUSDT.check_order(OrderSide.BUY, BTCUSDT.size_increment, None) is None


def test_check_order_btcusdt_smallest_tick_passes_min_price() -> None:
    # Binance's minPrice equals the tick, so PRICE_BELOW_MIN cannot trigger on BTCUSDT itself.
    assert BTCUSDT.check_order(OrderSide.SELL, qty("500"), BTCUSDT.price_increment) is None


@pytest.mark.parametrize("side", [OrderSide.BUY, OrderSide.SELL], ids=lambda s: s.name)
@pytest.mark.parametrize(
    ("quantity", "code"), [("0.00099", "QTY_BELOW_MIN"), ("0.00001", "QTY_BELOW_MIN"), ("0.001", None)]
)
def test_check_order_quantity_below_raised_min_quantity_fails(
    side: OrderSide, quantity: str, code: str | None
) -> None:
    inst = msgspec.structs.replace(BTCUSDT, min_quantity=1_000_000)  # min qty 0.001
    result = inst.check_order(side, qty(quantity), None)
    assert (result.code if result is not None else None) == code


@pytest.mark.parametrize("side", [OrderSide.BUY, OrderSide.SELL], ids=lambda s: s.name)
@pytest.mark.parametrize(("price", "code"), [("0.99", "PRICE_BELOW_MIN"), ("1.00", None)])
def test_check_order_price_below_raised_min_price_fails(
    side: OrderSide, price: str, code: str | None
) -> None:
    inst = msgspec.structs.replace(BTCUSDT, min_price=1_000_000_000)  # min price 1.00
    result = inst.check_order(side, qty("10"), px(price))
    assert (result.code if result is not None else None) == code


def test_check_order_without_optional_filters_passes_large_and_tiny_orders() -> None:
    inst = make()
    assert inst.check_order(OrderSide.BUY, qty("1000000"), px("0.01")) is None
    assert inst.check_order(OrderSide.BUY, qty("0.00001"), px("99999999.99")) is None


@pytest.mark.parametrize(
    ("quantity", "price", "code", "reason"),
    [
        ("0", None, "QTY_NOT_POSITIVE", "quantity 0 must be positive"),
        (
            "0.000015",
            None,
            "QTY_OFF_STEP",
            "quantity 0.000015 is not a multiple of step size 0.00001",
        ),
        (
            "9000.00001",
            None,
            "QTY_ABOVE_MAX",
            "quantity 9000.00001 is above max quantity 9000.00000",
        ),
        ("1", "-0.01", "PRICE_NOT_POSITIVE", "price -0.01 must be positive"),
        ("1", "60000.001", "PRICE_OFF_TICK", "price 60000.001 is not a multiple of tick size 0.01"),
        (
            "0.001",
            "1000000.01",
            "PRICE_ABOVE_MAX",
            "price 1000000.01 is above max price 1000000.00",
        ),
        (
            "0.0001",
            "49999.99",
            "NOTIONAL_BELOW_MIN",
            "notional 4.99999900 USDT is below min notional 5.00000000",
        ),
    ],
)
def test_check_order_reason_states_found_and_expected_values(
    quantity: str, price: str | None, code: str, reason: str
) -> None:
    result = BTCUSDT.check_order(OrderSide.BUY, qty(quantity), None if price is None else px(price))
    assert result is not None
    assert result.code == code
    assert result.reason == reason
