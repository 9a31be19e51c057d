"""Fixed-point numbers: parsing into raw units, Price/Quantity/Money construction and arithmetic."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot4.core.errors import InvalidInputError, PrecisionError
from bot4.core.numbers import FIXED_SCALAR, Currency, Money, Price, Quantity, to_raw

USDT = Currency("USDT", 8)
BTC = Currency("BTC", 8)
USD2 = Currency("USD", 2)


# -- to_raw: accepted inputs ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "raw", "decimals"),
    [
        ("61837.63000000", 61_837_630_000_000, 8),
        ("0.00001", 10_000, 5),
        ("1", 1_000_000_000, 0),
        ("0", 0, 0),
        ("-1.5", -1_500_000_000, 1),
        ("-0.5", -500_000_000, 1),
        (".5", 500_000_000, 1),
        ("-.25", -250_000_000, 2),
        ("5.", 5_000_000_000, 0),
        ("+2.25", 2_250_000_000, 2),
        ("  3.1\n", 3_100_000_000, 1),
        ("0.000000001", 1, 9),
        ("-0.000000001", -1, 9),
        ("123456789012.123456789", 123_456_789_012_123_456_789, 9),
    ],
)
def test_to_raw_decimal_string_returns_raw_units_and_written_decimals(
    text: str, raw: int, decimals: int
) -> None:
    assert to_raw(text) == (raw, decimals)


@pytest.mark.parametrize(
    ("text", "raw", "decimals"),
    [
        ("1e-5", 10_000, 5),
        ("1E-9", 1, 9),
        ("1.5E+3", 1_500_000_000_000, 0),
        ("-2.5e-3", -2_500_000, 4),
        ("1e2", 100_000_000_000, 0),
        ("6.183763e4", 61_837_630_000_000, 2),
    ],
)
def test_to_raw_exponent_string_returns_exact_value(text: str, raw: int, decimals: int) -> None:
    assert to_raw(text) == (raw, decimals)


@pytest.mark.parametrize(
    ("value", "raw"),
    [(42, 42_000_000_000), (-7, -7_000_000_000), (0, 0), (10**15, 10**24)],
)
def test_to_raw_int_returns_whole_units_with_zero_decimals(value: int, raw: int) -> None:
    assert to_raw(value) == (raw, 0)


@pytest.mark.parametrize(
    ("value", "raw", "decimals"),
    [
        (0.1, 100_000_000, 1),
        (60000.01, 60_000_010_000_000, 2),
        (-2.5, -2_500_000_000, 1),
        (1e-05, 10_000, 5),  # repr is "1e-05": goes through the exponent path
        (1e16, 10**25, 0),  # repr is "1e+16"
        (3.0, 3_000_000_000, 1),
    ],
)
def test_to_raw_float_uses_shortest_repr(value: float, raw: int, decimals: int) -> None:
    assert to_raw(value) == (raw, decimals)


@pytest.mark.parametrize("value", [0.1 + 0.2, 1 / 3, 2**-40])
def test_to_raw_float_that_is_not_a_short_decimal_raises_precision_error(value: float) -> None:
    with pytest.raises(PrecisionError):
        to_raw(value)


@pytest.mark.parametrize(
    ("value", "raw", "decimals"),
    [
        (Decimal("1.50"), 1_500_000_000, 2),
        (Decimal("1E+2"), 100_000_000_000, 0),
        (Decimal("-0.000000001"), -1, 9),
        (Decimal("7"), 7_000_000_000, 0),
        (Decimal("1E-7"), 100, 7),
    ],
)
def test_to_raw_decimal_object_returns_exact_value(value: Decimal, raw: int, decimals: int) -> None:
    assert to_raw(value) == (raw, decimals)


@pytest.mark.parametrize(
    ("text", "raw"),
    [
        ("1.5000000000", 1_500_000_000),
        ("1.5000000000000000", 1_500_000_000),
        ("0.0000000010", 1),
        ("2.0000000000", 2_000_000_000),
        ("-0.12345678900", -123_456_789),
    ],
)
def test_to_raw_more_than_nine_decimals_with_only_trailing_zeros_is_accepted(
    text: str, raw: int
) -> None:
    assert to_raw(text) == (raw, 9)


@pytest.mark.parametrize("text", ["0.0000000015", "1.0000000001", "1e-10", "-0.00000000001"])
def test_to_raw_more_than_nine_significant_decimals_raises_precision_error(text: str) -> None:
    with pytest.raises(PrecisionError):
        to_raw(text)


# -- to_raw: refused inputs -------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        float("inf"),
        float("-inf"),
        Decimal("NaN"),
        Decimal("sNaN"),
        Decimal("Infinity"),
        Decimal("-Infinity"),
        "nan",
        "NaN",
        "inf",
        "-Infinity",
        "",
        "   ",
        "abc",
        "1.2.3",
        "1,5",
        "1.-5",
        "--1",
        "1e",
        "e5",
        "1e5e5",
        "0x10",
        "1_000.5",
        "1.0_0",
        "1 000",
        True,
        False,
        None,
        [1],
        b"1.5",
    ],
    ids=repr,
)
def test_to_raw_non_number_raises_invalid_input_error(value: object) -> None:
    with pytest.raises(InvalidInputError) as excinfo:
        to_raw(value)  # type: ignore[arg-type]
    assert excinfo.type is InvalidInputError


@pytest.mark.parametrize("text", [".", "-.", "+.", "1_000", "-1_0"])
def test_to_raw_string_without_proper_digits_raises_invalid_input_error(text: str) -> None:
    with pytest.raises(InvalidInputError) as excinfo:
        to_raw(text)
    assert excinfo.type is InvalidInputError


def test_to_raw_invalid_input_error_names_the_value() -> None:
    with pytest.raises(InvalidInputError) as excinfo:
        to_raw("12x")
    assert excinfo.value.context == {"value": "12x"}
    assert "'12x'" in str(excinfo.value)


# -- to_raw: precision checks -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "precision", "raw"),
    [
        ("1.23", 2, 1_230_000_000),
        ("1.230", 2, 1_230_000_000),  # a written trailing zero does not break precision 2
        ("-4.5", 1, -4_500_000_000),
        (5, 0, 5_000_000_000),
        ("0.000000001", 9, 1),
        (0.25, 2, 250_000_000),
    ],
)
def test_to_raw_value_within_precision_is_accepted(value: object, precision: int, raw: int) -> None:
    assert to_raw(value, precision)[0] == raw  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "precision"),
    [("1.234", 2), ("-1.005", 2), ("0.5", 0), (0.5, 0), ("1e-3", 2), (Decimal("0.001"), 2)],
)
def test_to_raw_value_beyond_precision_raises_precision_error(value: object, precision: int) -> None:
    with pytest.raises(PrecisionError) as excinfo:
        to_raw(value, precision)  # type: ignore[arg-type]
    assert excinfo.value.context["precision"] == precision


decimals_within_9 = st.integers(min_value=0, max_value=9).flatmap(
    lambda places: st.decimals(
        min_value=-(10**12),
        max_value=10**12,
        places=places,
        allow_nan=False,
        allow_infinity=False,
    )
)


@settings(max_examples=200, deadline=None)
@given(decimals_within_9)
def test_to_raw_str_of_decimal_round_trips_exactly(value: Decimal) -> None:
    raw, decimals = to_raw(str(value))  # str() may use exponent notation ("1E-7", "0E-9")
    assert raw == int(value.scaleb(9))
    assert Decimal(raw).scaleb(-9) == value
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    assert decimals == max(0, -exponent)
    price = Price.from_str(str(value))
    assert price.as_decimal() == value
    assert Decimal(str(price)) == value


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=-(10**14), max_value=10**14), st.integers(min_value=0, max_value=9))
def test_to_raw_float_of_short_decimal_is_exact(units: int, places: int) -> None:
    value = units / 10**places
    raw, _ = to_raw(value, places)
    assert raw == units * 10 ** (9 - places)


# -- Price ------------------------------------------------------------------------------------


def test_price_of_builds_exact_raw_and_precision() -> None:
    price = Price.of("60000.01", 2)
    assert price.raw == 60_000_010_000_000
    assert price.precision == 2


@pytest.mark.parametrize(
    ("value", "precision", "text"),
    [
        ("60000.1", 2, "60000.10"),
        ("60000", 2, "60000.00"),
        (60000, 0, "60000"),
        ("-1.5", 1, "-1.5"),
        ("-0.05", 2, "-0.05"),
        ("0.000000001", 9, "0.000000001"),
        ("0", 3, "0.000"),
    ],
)
def test_price_str_pads_to_precision(value: str, precision: int, text: str) -> None:
    assert str(Price.of(value, precision)) == text


def test_price_of_value_beyond_precision_raises_precision_error() -> None:
    with pytest.raises(PrecisionError):
        Price.of("60000.001", 2)


@pytest.mark.parametrize("precision", [-1, 10])
def test_price_of_precision_out_of_range_raises_precision_error(precision: int) -> None:
    with pytest.raises(PrecisionError) as excinfo:
        Price.of("1", precision)
    assert excinfo.value.context == {"precision": precision}


def test_price_from_str_takes_precision_from_written_decimals() -> None:
    price = Price.from_str("61837.63000000")
    assert price == Price(61_837_630_000_000, 8)
    assert str(price) == "61837.63000000"


def test_price_as_decimal_keeps_precision() -> None:
    value = Price.of("60000.1", 2).as_decimal()
    assert value == Decimal("60000.10")
    assert value.as_tuple().exponent == -2


def test_price_as_double_returns_float_value() -> None:
    assert Price.of("-1.25", 2).as_double() == -1.25


def test_price_add_takes_the_finer_precision() -> None:
    total = Price.of("1.5", 1) + Price.of("0.25", 2)
    assert total == Price(1_750_000_000, 2)
    assert str(total) == "1.75"


def test_price_sub_may_go_negative() -> None:
    diff = Price.of("1.00", 2) - Price.of("2.5", 1)
    assert diff == Price(-1_500_000_000, 2)
    assert str(diff) == "-1.50"


def test_price_neg_flips_sign_and_keeps_precision() -> None:
    assert -Price.of("3.10", 2) == Price(-3_100_000_000, 2)


def test_price_equality_includes_precision() -> None:
    assert Price.from_str("1.0") != Price.from_str("1.00")
    assert Price.from_str("1.00") == Price.of("1", 2)


def test_price_ordering_is_by_value_before_precision() -> None:
    assert Price.of("1.01", 2) < Price.of("1.1", 1)
    assert Price.of("2", 0) > Price.of("1.99", 2)
    assert Price.of("-5", 0) < Price.of("0.01", 2)
    prices = [Price.of("3.5", 1), Price.of("-1", 0), Price.of("3.25", 2), Price.of("0.001", 3)]
    assert [str(p) for p in sorted(prices)] == ["-1", "0.001", "3.25", "3.5"]


# -- Quantity ---------------------------------------------------------------------------------


def test_quantity_of_builds_exact_value() -> None:
    qty = Quantity.of("0.00001", 5)
    assert qty == Quantity(10_000, 5)
    assert str(qty) == "0.00001"


@pytest.mark.parametrize("value", ["-0.1", -1, Decimal("-0.000000001")])
def test_quantity_of_negative_raises_invalid_input_error(value: object) -> None:
    with pytest.raises(InvalidInputError) as excinfo:
        Quantity.of(value, 9)  # type: ignore[arg-type]
    assert excinfo.type is InvalidInputError


def test_quantity_from_str_negative_raises_invalid_input_error() -> None:
    with pytest.raises(InvalidInputError):
        Quantity.from_str("-0.5")


def test_quantity_from_str_takes_precision_from_written_decimals() -> None:
    assert Quantity.from_str("1.50000") == Quantity(1_500_000_000, 5)


def test_quantity_of_beyond_precision_raises_precision_error() -> None:
    with pytest.raises(PrecisionError):
        Quantity.of("0.000001", 5)


def test_quantity_zero_is_zero_with_given_precision() -> None:
    zero = Quantity.zero(5)
    assert zero.is_zero()
    assert str(zero) == "0.00000"
    assert not Quantity.of("0.00001", 5).is_zero()


def test_quantity_add_and_sub_are_exact() -> None:
    a = Quantity.of("0.3", 1)
    b = Quantity.of("0.00001", 5)
    assert a + b == Quantity(300_010_000, 5)
    assert a - b == Quantity(299_990_000, 5)
    assert str(a - b) == "0.29999"


def test_quantity_sub_to_exactly_zero_is_allowed() -> None:
    assert (Quantity.of("1.5", 1) - Quantity.of("1.50", 2)) == Quantity(0, 2)


def test_quantity_sub_below_zero_raises_invalid_input_error() -> None:
    with pytest.raises(InvalidInputError) as excinfo:
        Quantity.of("1", 0) - Quantity.of("1.00001", 5)
    assert excinfo.value.context == {"left": "1", "right": "1.00001"}


def test_quantity_ordering_is_by_value() -> None:
    assert Quantity.of("0.1", 1) > Quantity.of("0.09999", 5)
    assert Quantity.of("2", 0) > Quantity.of("1.9", 1)


def test_quantity_as_decimal_keeps_precision() -> None:
    assert str(Quantity.of("2", 3).as_decimal()) == "2.000"


# -- Money ------------------------------------------------------------------------------------


def test_money_of_builds_exact_amount_in_currency() -> None:
    money = Money.of("1.5", USDT)
    assert money.raw == 1_500_000_000
    assert money.currency == USDT
    assert str(money) == "1.50000000 USDT"


def test_money_of_beyond_currency_precision_raises_precision_error() -> None:
    with pytest.raises(PrecisionError):
        Money.of("1.005", USD2)


def test_money_str_shows_negative_amount() -> None:
    assert str(Money.of("-0.05", USD2)) == "-0.05 USD"


def test_money_add_sub_neg_are_exact() -> None:
    a = Money.of("10.25", USDT)
    b = Money.of("0.00000001", USDT)
    assert a + b == Money(10_250_000_010, USDT)
    assert a - b == Money(10_249_999_990, USDT)
    assert b - a == Money(-10_249_999_990, USDT)
    assert -a == Money(-10_250_000_000, USDT)


def test_money_zero_has_zero_raw() -> None:
    assert Money.zero(BTC) == Money(0, BTC)
    assert str(Money.zero(USD2)) == "0.00 USD"


@pytest.mark.parametrize("op", ["add", "sub"])
def test_money_of_different_currencies_raises_invalid_input_error(op: str) -> None:
    usdt = Money.of("1", USDT)
    btc = Money.of("1", BTC)
    with pytest.raises(InvalidInputError) as excinfo:
        _ = usdt + btc if op == "add" else usdt - btc
    assert excinfo.value.context == {"left": "USDT", "right": "BTC"}


def test_money_same_code_different_precision_is_a_different_currency() -> None:
    with pytest.raises(InvalidInputError):
        _ = Money.of("1", Currency("USDT", 8)) + Money.of("1", Currency("USDT", 2))


@pytest.mark.parametrize(
    ("value", "expected_raw"),
    [
        ("0.125", 120_000_000),  # tie rounds to even
        ("0.135", 140_000_000),  # tie rounds to even
        ("0.1251", 130_000_000),  # above the tie rounds up
        ("0.1249999", 120_000_000),
        ("-0.125", -120_000_000),
        ("-0.135", -140_000_000),
        ("2.5", 2_500_000_000),  # already exact
        ("0.005", 0),
        ("0.015", 20_000_000),
    ],
)
def test_money_from_decimal_rounds_half_even_to_currency_precision(
    value: str, expected_raw: int
) -> None:
    assert Money.from_decimal(Decimal(value), USD2) == Money(expected_raw, USD2)


def test_money_from_decimal_with_nine_decimals_rounds_below_one_raw_unit() -> None:
    nine = Currency("X", 9)
    assert Money.from_decimal(Decimal("0.0000000015"), nine).raw == 2
    assert Money.from_decimal(Decimal("0.0000000025"), nine).raw == 2


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_money_from_decimal_non_finite_raises_invalid_input_error(value: Decimal) -> None:
    with pytest.raises(InvalidInputError):
        Money.from_decimal(value, USDT)


def test_money_as_decimal_and_as_double() -> None:
    money = Money.of("12.5", USD2)
    assert money.as_decimal() == Decimal("12.50")
    assert str(money.as_decimal()) == "12.50"
    assert money.as_double() == 12.5


def test_fixed_scalar_is_one_billion() -> None:
    assert FIXED_SCALAR == 1_000_000_000
