"""Fee schedules: tiers, rebates, discounts, TOML loading and its errors, shipped defaults."""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from bot4.core.errors import ConfigError, InvalidInputError, UnknownVenueError
from bot4.core.ids import (
    ClientOrderId,
    InstrumentId,
    StrategyId,
    TradeId,
    VenueOrderId,
)
from bot4.core.numbers import Currency, Money, Price, Quantity
from bot4.costs.fees import FeeBook, FeeCheck, FeeSchedule, FeeTier, fee_check
from bot4.model.enums import LiquiditySide, OrderSide
from bot4.model.events import OrderFilled
from bot4.testkit import BTC, USDT, btcusdt

MAKER, TAKER = LiquiditySide.MAKER, LiquiditySide.TAKER

TIERED = """
[[schedule]]
venue = "VENUEX"
source = "https://example.com/fees"
as_of = "2026-01-31"
discount = 0.2
tiers = [
  { min_volume_30d = 0,          maker = 0.001,    taker = 0.002 },
  { min_volume_30d = 50_000,     maker = 0.0005,   taker = 0.0015 },
  { min_volume_30d = 10_000_000, maker = -0.0001,  taker = 0.0007 },
]
"""


def tiered() -> FeeSchedule:
    return FeeBook.from_toml(TIERED).schedule("VENUEX")


# -- rates, rebates, discounts -----------------------------------------------------------------


def test_rates_pick_the_last_tier_starting_at_or_below_the_volume() -> None:
    schedule = tiered()
    assert schedule.rates() == (Decimal("0.001"), Decimal("0.002"))
    assert schedule.rates(Decimal("49999.99")) == (Decimal("0.001"), Decimal("0.002"))
    assert schedule.rates(Decimal(50_000)) == (Decimal("0.0005"), Decimal("0.0015"))
    assert schedule.rates(9_999_999) == (Decimal("0.0005"), Decimal("0.0015"))
    assert schedule.rates(10_000_000) == (Decimal("-0.0001"), Decimal("0.0007"))
    assert schedule.rates(10**12) == (Decimal("-0.0001"), Decimal("0.0007"))


def test_fee_is_exact_and_signed_negative_for_a_rebate() -> None:
    schedule = tiered()
    assert schedule.fee(Decimal("12345.678912"), TAKER) == Decimal("24.691357824")
    assert schedule.fee(Decimal("12345.678912"), MAKER, 50_000) == Decimal("6.172839456")
    assert schedule.fee(Decimal("1000"), MAKER, 20_000_000) == Decimal("-0.1")  # rebate
    assert schedule.fee(Decimal("1000"), TAKER, 20_000_000) == Decimal("0.7")
    assert schedule.fee(Decimal(0), TAKER) == 0


def test_discount_applies_only_when_asked_and_never_to_a_rebate() -> None:
    schedule = tiered()
    assert schedule.rates(use_discount=True) == (Decimal("0.0008"), Decimal("0.0016"))
    assert schedule.fee(Decimal(1000), TAKER, use_discount=True) == Decimal("1.6")
    assert schedule.fee(Decimal(1000), TAKER) == Decimal("2")
    assert schedule.rates(10_000_000, use_discount=True) == (Decimal("-0.0001"), Decimal("0.00056"))


def test_binance_bnb_discount_takes_a_quarter_off() -> None:
    binance = FeeBook.defaults().schedule("BINANCE")
    assert binance.discount == Decimal("0.25")
    assert binance.rates() == (Decimal("0.001"), Decimal("0.001"))
    assert binance.rates(use_discount=True) == (Decimal("0.00075"), Decimal("0.00075"))
    assert binance.rates(1_000_000, use_discount=True) == (Decimal("0.000675"), Decimal("0.00075"))


def test_fee_rejects_nan_negative_notional_and_negative_volume() -> None:
    schedule = tiered()
    for bad in (Decimal("NaN"), Decimal("-1"), Decimal("Infinity")):
        with pytest.raises(InvalidInputError) as caught:
            schedule.fee(bad, TAKER)
        assert caught.value.context["venue"] == "VENUEX"
    with pytest.raises(InvalidInputError):
        schedule.rates(Decimal(-5))
    with pytest.raises(InvalidInputError):
        schedule.fee(1.5, TAKER)  # type: ignore[arg-type]  # a float is refused, not rounded


def test_schedule_built_in_code_is_checked_too() -> None:
    tier = FeeTier(min_volume_30d=Decimal(0), maker=Decimal("0.2"), taker=Decimal("0.001"))
    with pytest.raises(InvalidInputError) as caught:
        FeeSchedule(venue="V", tiers=(tier,), source="doc", as_of="2026-01-01")
    assert caught.value.context["key"] == "tiers[0].maker"


# -- the fee book ------------------------------------------------------------------------------


def test_missing_schedule_raises_unknown_venue_naming_it_and_the_known_ones() -> None:
    book = FeeBook.defaults()
    with pytest.raises(UnknownVenueError) as caught:
        book.schedule("FTX")
    assert "no fee schedule for venue FTX" in str(caught.value)
    assert caught.value.context["venue"] == "FTX"
    assert caught.value.context["known"] == ["BINANCE", "BYBIT", "COINBASE", "KRAKEN", "OKX"]
    with pytest.raises(UnknownVenueError):
        book.schedule("BINANCE", "perpetual")
    assert book.get("FTX") is None


def test_user_file_overrides_shipped_schedule_per_venue_and_class() -> None:
    mine = FeeBook.from_toml(TIERED.replace("VENUEX", "BINANCE"))
    book = FeeBook.defaults().merged(mine)
    assert book.schedule("BINANCE").source == "https://example.com/fees"
    assert book.schedule("BINANCE").rates() == (Decimal("0.001"), Decimal("0.002"))
    assert book.schedule("KRAKEN") == FeeBook.defaults().schedule("KRAKEN")
    assert book.venues() == FeeBook.defaults().venues()
    assert FeeBook.defaults().schedule("BINANCE").source != "https://example.com/fees"


def test_from_toml_reads_a_file_given_as_path_or_string(tmp_path: Path) -> None:
    path = tmp_path / "my_fees.toml"
    path.write_text(TIERED, encoding="utf-8")
    assert FeeBook.from_toml(path).schedule("VENUEX") == tiered()
    assert FeeBook.from_toml(str(path)).schedule("VENUEX") == tiered()


# -- TOML errors -------------------------------------------------------------------------------


def toml_error(text: str, tmp_path: Path) -> ConfigError:
    path = tmp_path / "fees.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        FeeBook.from_toml(path)
    assert caught.value.context["file"] == str(path)
    return caught.value


def test_unknown_key_in_a_tier_is_rejected_naming_file_and_key(tmp_path: Path) -> None:
    error = toml_error(TIERED.replace("taker = 0.0015", "takr = 0.0015"), tmp_path)
    assert error.context["key"] == "schedule[0].tiers[1].takr"
    assert "unknown key" in error.message


def test_unknown_key_in_a_schedule_and_at_top_level_are_rejected(tmp_path: Path) -> None:
    error = toml_error(TIERED.replace('as_of = "2026-01-31"', 'as_of = "2026-01-31"\nrebate = true'), tmp_path)
    assert error.context["key"] == "schedule[0].rebate"
    error = toml_error("version = 2\n" + TIERED, tmp_path)
    assert error.context["key"] == "version"


@pytest.mark.parametrize("rate", ["0.2", "-0.02", "nan"])
def test_rate_outside_the_allowed_range_is_rejected(rate: str, tmp_path: Path) -> None:
    error = toml_error(TIERED.replace("taker = 0.0015", f"taker = {rate}"), tmp_path)
    assert error.context["key"] == "schedule[0].tiers[1].taker"
    assert "[-0.01, 0.1]" in error.message


def test_tiers_must_start_at_zero_and_increase(tmp_path: Path) -> None:
    error = toml_error(TIERED.replace("min_volume_30d = 0,", "min_volume_30d = 100,"), tmp_path)
    assert error.context["key"] == "schedule[0].tiers[0].min_volume_30d"
    assert "start at 0" in error.message
    error = toml_error(TIERED.replace("10_000_000", "50_000"), tmp_path)
    assert error.context["key"] == "schedule[0].tiers[2].min_volume_30d"
    assert "increase" in error.message


def test_missing_source_and_bad_date_are_rejected(tmp_path: Path) -> None:
    error = toml_error(TIERED.replace('source = "https://example.com/fees"\n', ""), tmp_path)
    assert error.context["key"] == "schedule[0].source"
    assert "missing" in error.message
    error = toml_error(TIERED.replace("2026-01-31", "January 2026"), tmp_path)
    assert error.context["key"] == "schedule[0].as_of"


def test_wrong_types_and_duplicates_and_broken_toml_name_the_file(tmp_path: Path) -> None:
    error = toml_error(TIERED.replace("maker = 0.001,", 'maker = "cheap",'), tmp_path)
    assert error.context["key"] == "schedule[0].tiers[0].maker"
    error = toml_error(TIERED + TIERED, tmp_path)
    assert error.context["key"] == "schedule[1].venue"
    error = toml_error("[[schedule]\n", tmp_path)
    assert "invalid TOML" in error.message
    error = toml_error("", tmp_path)
    assert error.context["key"] == "schedule"


def test_text_errors_are_named_and_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        FeeBook.from_toml(TIERED.replace("0.0007", "7"), name="inline fees")
    assert caught.value.context == {
        "file": "inline fees", "key": "schedule[0].tiers[2].taker", "venue": "VENUEX", "found": "7",
    }
    with pytest.raises(ConfigError) as caught:
        FeeBook.from_toml(tmp_path / "absent.toml")
    assert caught.value.context["file"] == str(tmp_path / "absent.toml")


# -- shipped defaults --------------------------------------------------------------------------


def test_shipped_schedules_load_and_each_names_its_source_and_date() -> None:
    book = FeeBook.defaults()
    assert book.venues() == ["BINANCE", "BYBIT", "COINBASE", "KRAKEN", "OKX"]
    for schedule in book.schedules():
        assert schedule.instrument_class == "spot"
        assert schedule.source.startswith("https://"), schedule.venue
        datetime.date.fromisoformat(schedule.as_of)
        assert schedule.tiers[0].min_volume_30d == 0


def test_shipped_base_rates_are_the_published_ones() -> None:
    book = FeeBook.defaults()
    assert book.schedule("BINANCE").rates() == (Decimal("0.001"), Decimal("0.001"))
    assert book.schedule("COINBASE").rates() == (Decimal("0.006"), Decimal("0.012"))
    assert book.schedule("COINBASE").rates(10_000) == (Decimal("0.0025"), Decimal("0.004"))
    assert book.schedule("KRAKEN").rates() == (Decimal("0.0025"), Decimal("0.004"))
    assert book.schedule("OKX").rates() == (Decimal("0.0008"), Decimal("0.001"))
    assert book.schedule("OKX").rates(500_000_000) == (Decimal("-0.00002"), Decimal("0.0003"))
    assert book.schedule("BYBIT").rates() == (Decimal("0.001"), Decimal("0.001"))


def test_shipped_file_warns_that_fees_change() -> None:
    import bot4.costs

    text = (Path(bot4.costs.__file__).parent / "schedules" / "spot.toml").read_text(encoding="utf-8")
    assert "FEES CHANGE" in text and "FeeBook.from_toml" in text


# -- fee_check ---------------------------------------------------------------------------------

BNB = Currency("BNB", 8)


def fill(commission: Money, side: OrderSide = OrderSide.BUY, liquidity: LiquiditySide = TAKER) -> OrderFilled:
    return OrderFilled(
        client_order_id=ClientOrderId("O-1"),
        instrument_id=InstrumentId.from_str("BTCUSDT.BINANCE"),
        strategy_id=StrategyId("S-001"),
        ts_event=1,
        ts_init=1,
        venue_order_id=VenueOrderId("V-1"),
        trade_id=TradeId("T-1"),
        order_side=side,
        last_qty=Quantity.from_str("0.25000"),
        last_px=Price.from_str("61837.64"),
        commission=commission,
        liquidity_side=liquidity,
    )


def test_fee_check_records_the_difference_in_the_quote_currency() -> None:
    binance = FeeBook.defaults().schedule("BINANCE")
    # notional 15459.41; model 0.1% = 15.45941; the venue reported 15.46 USDT
    check = fee_check(fill(Money.of("15.46", USDT), OrderSide.SELL), binance, instrument=btcusdt("BINANCE"))
    assert check == FeeCheck(
        expected=Decimal("15.45941"),
        reported=Decimal("15.46000000"),
        difference=Decimal("0.00059"),
        currency="USDT",
        expected_currency="USDT",
    )


def test_fee_check_converts_a_fee_taken_in_the_base_asset() -> None:
    binance = FeeBook.defaults().schedule("BINANCE")
    check = fee_check(fill(Money.of("0.00025", BTC)), binance, instrument=btcusdt("BINANCE"))
    assert check.currency == check.expected_currency == "BTC"
    assert check.expected == Decimal("0.00025")  # 0.1% of 0.25 BTC, via the fill price
    assert check.difference == 0


def test_fee_check_cannot_compare_a_fee_paid_in_a_discount_token() -> None:
    binance = FeeBook.defaults().schedule("BINANCE")
    check = fee_check(fill(Money.of("0.0212", BNB)), binance, use_discount=True, instrument=btcusdt("BINANCE"))
    assert check.difference is None
    assert check.currency == "BNB" and check.expected_currency == "USDT"
    assert check.expected == Decimal("11.5945575")  # 0.075% of 15459.41


def test_fee_check_rebate_and_wrong_venue() -> None:
    okx = FeeBook.defaults().schedule("OKX")
    with pytest.raises(InvalidInputError) as caught:
        fee_check(fill(Money.of("1", USDT)), okx)
    assert caught.value.context == {"expected": "BINANCE", "found": "OKX", "instrument": "BTCUSDT.BINANCE"}
    rebate = FeeBook.from_toml(TIERED.replace("VENUEX", "BINANCE")).schedule("BINANCE")
    check = fee_check(fill(Money.of("-1.5", USDT), liquidity=MAKER), rebate, volume_30d=10_000_000)
    assert check.expected == Decimal("-1.545941")
    assert check.difference == Decimal("0.045941")
