"""SignalProcessor and sizing policies: hand-computed sizes, lot rounding, caps, every drop reason.

Positions come from real fills published on the bus into a real Portfolio; marks from
``update_mark``; equity from a reported account state. BTCUSDT has Binance's filters: step
0.00001 BTC, min qty 0.00001, max qty 9000, min notional 5 USDT. The default mark is 60,000.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bot4.strategy.signals as signals_pkg
from bot4.core import (
    FIXED_SCALAR,
    AccountId,
    ClientOrderId,
    Currency,
    InstrumentId,
    InvalidInputError,
    MessageBus,
    Money,
    Price,
    Quantity,
    TradeId,
    UnknownInstrumentError,
    VenueOrderId,
)
from bot4.model import (
    AccountBalance,
    AccountState,
    AccountType,
    Instrument,
    LiquiditySide,
    OrderFilled,
    OrderSide,
)
from bot4.portfolio import Portfolio
from bot4.strategy.signals import (
    DropReason,
    EwmaVolatility,
    FixedQuantity,
    FractionOfEquity,
    OrderIntent,
    Signal,
    SignalProcessor,
    SignalProcessorConfig,
    SignalStats,
    SizingPolicy,
    VolatilityScaled,
    WorkingOrders,
)
from bot4.testkit import BTC, USDT, btcusdt, ethusdt, strategy_id

BTCUSDT = btcusdt()
ETHUSDT = ethusdt()
LOT = Currency("LOT", 8)
# Min quantity above the step and a small max quantity, to reach those two checks.
LOTUSDT = Instrument.create(
    instrument_id=InstrumentId.from_str("LOTUSDT.SIM"),
    base=LOT,
    quote=USDT,
    tick_size="0.01",
    step_size="0.00001",
    min_quantity="0.001",
    max_quantity="0.02",
    min_notional="5",
)
S = FIXED_SCALAR
PX = 60_000 * S  # default mark, raw


# -- rig ------------------------------------------------------------------------------------


class Rig:
    """A bus, a real portfolio knowing the instruments, and a processor over both."""

    def __init__(
        self,
        policy: SizingPolicy,
        *,
        instruments: tuple[Instrument, ...] = (BTCUSDT,),
        mark: int | None = PX,
        working_orders: WorkingOrders | None = None,
        max_position: str | None = None,
        max_positions: dict[InstrumentId, str] | None = None,
        clamp_strength: bool = False,
        equity_max_age_ns: int = 0,
    ) -> None:
        self.bus = MessageBus()
        self.portfolio = Portfolio(self.bus)
        self.instruments = {i.id: i for i in instruments}
        for instrument in instruments:
            self.portfolio.add_instrument(instrument)
            if mark is not None:
                self.portfolio.update_mark(instrument.id, mark)
        config = SignalProcessorConfig(
            policy=policy,
            max_position=max_position,
            max_positions=dict(max_positions or {}),
            clamp_strength=clamp_strength,
            equity_max_age_ns=equity_max_age_ns,
        )
        self.processor = SignalProcessor(
            config, self.instruments.get, self.portfolio, working_orders=working_orders
        )
        self.fills = 0

    def fill(self, side: OrderSide, qty_raw: int, px: int = PX, instrument: Instrument = BTCUSDT) -> None:
        """Publish a fill on the bus, as the execution engine does; the portfolio applies it."""
        self.fills += 1
        self.bus.publish(
            "events.fills",
            OrderFilled(
                client_order_id=ClientOrderId(f"O-{self.fills}"),
                instrument_id=instrument.id,
                strategy_id=strategy_id(),
                venue_order_id=VenueOrderId(f"V-{self.fills}"),
                trade_id=TradeId(f"T-{self.fills}"),
                order_side=side,
                last_qty=Quantity(qty_raw, instrument.size_precision),
                last_px=Price(px, instrument.price_precision),
                commission=Money.zero(USDT),
                liquidity_side=LiquiditySide.TAKER,
                ts_event=self.fills,
                ts_init=self.fills,
            ),
        )

    def hold(self, signed_raw: int, instrument: Instrument = BTCUSDT) -> None:
        """Add a signed quantity to the position with one fill at the mark."""
        if signed_raw:
            side = OrderSide.BUY if signed_raw > 0 else OrderSide.SELL
            self.fill(side, abs(signed_raw), self.portfolio.mark_raw(instrument.id) or PX, instrument)

    def set_balances(self, usdt: str, btc: str = "0") -> None:
        """Report the account's balances: what equity is made of."""
        self.bus.publish(
            "events.account",
            AccountState(
                account_id=AccountId("SIM-001"),
                account_type=AccountType.CASH,
                balances=[
                    AccountBalance.of(Money.of(usdt, USDT), Money.zero(USDT)),
                    AccountBalance.of(Money.of(btc, BTC), Money.zero(BTC)),
                ],
                ts_event=0,
                ts_init=0,
            ),
        )

    def position_raw(self, instrument: Instrument = BTCUSDT) -> int:
        return self.portfolio.position(instrument.id).signed_raw

    def process(self, strength: float, confidence: float | None = None,
                instrument: Instrument = BTCUSDT) -> OrderIntent | None:
        return self.processor.process(signal(strength, confidence, instrument.id))


def signal(strength: float, confidence: float | None = None, instrument_id: InstrumentId = BTCUSDT.id,
           ts: int = 7, source: str | None = None) -> Signal:
    return Signal(instrument_id=instrument_id, strength=strength, confidence=confidence,
                  ts_event=ts, ts_init=ts + 1, source=source)


def expect(intent: OrderIntent | None, side: OrderSide, qty: str) -> OrderIntent:
    assert intent is not None
    assert (intent.side, intent.quantity) == (side, BTCUSDT.make_qty(qty))
    return intent


# -- the types ------------------------------------------------------------------------------


def test_signals_package_exports_exactly_its_public_api() -> None:
    assert sorted(signals_pkg.__all__) == [
        "DropReason", "EwmaVolatility", "FixedQuantity", "FractionOfEquity", "InstrumentLookup",
        "OrderIntent", "Signal", "SignalProcessor", "SignalProcessorConfig", "SignalStats",
        "SizingPolicy", "SizingState", "VolatilityScaled", "WorkingOrders",
    ]
    for name in signals_pkg.__all__:
        assert getattr(signals_pkg, name) is not None


def test_signal_and_intent_are_immutable_facts() -> None:
    sig = signal(0.5)
    with pytest.raises(AttributeError):
        sig.strength = 1.0  # type: ignore[misc]
    intent = expect(Rig(FixedQuantity("0.01")).process(0.5), OrderSide.BUY, "0.005")
    with pytest.raises(AttributeError):
        intent.target_raw = 0  # type: ignore[misc]


def test_drop_reasons_are_dense_indexes_into_the_stats() -> None:
    assert [int(r) for r in DropReason] == list(range(len(DropReason)))
    assert len(SignalStats().dropped) == len(DropReason)


# -- sizing math: FixedQuantity -------------------------------------------------------------


def test_fixed_quantity_buys_strength_times_quantity_from_flat() -> None:
    intent = expect(Rig(FixedQuantity("0.01")).process(0.5), OrderSide.BUY, "0.005")
    assert (intent.target_raw, intent.basis_raw, intent.mark_raw) == (5_000_000, 0, PX)


def test_fixed_quantity_negative_strength_sells_to_a_short_target() -> None:
    intent = expect(Rig(FixedQuantity("0.01")).process(-0.25), OrderSide.SELL, "0.0025")
    assert intent.target_raw == -2_500_000
    assert intent.signed_raw == -2_500_000


def test_confidence_multiplies_strength() -> None:
    # 0.8 x 0.5 x 0.01 = 0.004
    intent = expect(Rig(FixedQuantity("0.01")).process(0.8, confidence=0.5), OrderSide.BUY, "0.004")
    assert intent.target_raw == 4_000_000


def test_zero_confidence_sizes_a_flat_target() -> None:
    rig = Rig(FixedQuantity("0.01"))
    rig.hold(3_000_000)
    expect(rig.process(1.0, confidence=0.0), OrderSide.SELL, "0.003")


def test_intent_carries_the_signals_timestamps_and_source() -> None:
    rig = Rig(FixedQuantity("0.01"))
    intent = rig.processor.process(signal(0.5, ts=100, source="lgbm-v3"))
    assert intent is not None
    assert (intent.ts_event, intent.ts_init, intent.source) == (100, 101, "lgbm-v3")
    assert intent.instrument_id == BTCUSDT.id


# -- sizing math: FractionOfEquity ----------------------------------------------------------


def test_fraction_of_equity_sizes_notional_over_the_mark() -> None:
    rig = Rig(FractionOfEquity(0.25))
    rig.set_balances(usdt="10000")
    # 0.5 x 0.25 x 10,000 USDT = 1,250 USDT; / 60,000 = 0.0208333.. BTC -> 0.02083 (lot 0.00001)
    intent = expect(rig.process(0.5), OrderSide.BUY, "0.02083")
    assert intent.target_raw == 20_833_333


def test_fraction_of_equity_values_base_balances_at_the_mark() -> None:
    rig = Rig(FractionOfEquity(1.0), mark=50_000 * S)
    rig.set_balances(usdt="5000", btc="0.1")
    # equity = 5,000 + 0.1 x 50,000 = 10,000 USDT; -0.2 x 10,000 / 50,000 = -0.04 BTC
    expect(rig.process(-0.2), OrderSide.SELL, "0.04")


def test_fraction_of_equity_orders_the_difference_to_the_held_position() -> None:
    rig = Rig(FractionOfEquity(0.25))
    rig.set_balances(usdt="10000")
    rig.hold(10_000_000)  # long 0.01
    intent = expect(rig.process(0.5), OrderSide.BUY, "0.01083")
    assert intent.basis_raw == 10_000_000


# -- sizing math: VolatilityScaled ----------------------------------------------------------


def alternate(rig: Rig, n: int, low: int = 100 * S, high: int = 110 * S) -> None:
    """Feed prices 100, 110, 100, ...: every log return is +-ln(1.1)."""
    for k in range(n + 1):
        assert rig.processor.update_price(BTCUSDT.id, high if k % 2 else low)


def test_volatility_scaled_sizes_by_target_over_realised_volatility() -> None:
    sigma = math.log(1.1)  # realised vol per sample of the alternating series
    rig = Rig(VolatilityScaled(sigma / 2, lookback=10, min_samples=5))
    rig.set_balances(usdt="10000")
    alternate(rig, 6)
    # scale 0.5 -> 1.0 x 0.5 x 10,000 = 5,000 USDT; / 60,000 = 0.083333.. -> 0.08333
    expect(rig.process(1.0), OrderSide.BUY, "0.08333")


def test_volatility_scaled_annualises_with_periods_per_year() -> None:
    sigma = math.log(1.1)
    # 4 periods per year doubles the realised vol, so target_vol = sigma gives scale 0.5.
    rig = Rig(VolatilityScaled(sigma, lookback=10, min_samples=5, periods_per_year=4.0))
    rig.set_balances(usdt="10000")
    alternate(rig, 6)
    expect(rig.process(-1.0), OrderSide.SELL, "0.08333")


def test_volatility_scaled_caps_the_scale_at_max_leverage() -> None:
    sigma = math.log(1.1)
    rig = Rig(VolatilityScaled(10 * sigma, lookback=10, min_samples=5, max_leverage=2.0))
    rig.set_balances(usdt="10000")
    alternate(rig, 6)
    # scale 10 capped to 2 -> 20,000 USDT; x 0.3 = 6,000; / 60,000 = 0.1 BTC
    expect(rig.process(0.3), OrderSide.BUY, "0.1")


def test_volatility_scaled_is_not_ready_during_warm_up() -> None:
    rig = Rig(VolatilityScaled(0.01, lookback=10, min_samples=5))
    rig.set_balances(usdt="10000")
    alternate(rig, 4)  # four returns < five
    assert rig.process(1.0) is None
    assert rig.processor.last_drop is DropReason.NOT_READY
    assert rig.processor.update_price(BTCUSDT.id, 100 * S)
    assert rig.process(1.0) is not None


def test_volatility_scaled_is_not_ready_when_prices_never_moved() -> None:
    rig = Rig(VolatilityScaled(0.01, lookback=10, min_samples=2))
    rig.set_balances(usdt="10000")
    for _ in range(10):
        rig.processor.update_price(BTCUSDT.id, 100 * S)
    assert rig.process(1.0) is None
    assert rig.processor.last_drop is DropReason.NOT_READY


def test_ewma_volatility_is_bias_corrected_in_its_first_samples() -> None:
    vol = EwmaVolatility(lookback=3, min_samples=1)  # alpha = 0.5
    assert vol.value() is None
    vol.update(100 * S)
    vol.update(110 * S)
    r1 = math.log(1.1)
    assert vol.value() == pytest.approx(r1)  # one return: its own size, not shrunk by alpha
    vol.update(99 * S)
    r2 = math.log(99 / 110)
    # weights 0.25, 0.5 over their sum 0.75
    assert vol.value() == pytest.approx(math.sqrt((0.25 * r1 * r1 + 0.5 * r2 * r2) / 0.75))
    assert vol.samples == 2


def test_update_price_refuses_bad_prices_unknown_instruments_and_volatility_free_policies() -> None:
    rig = Rig(VolatilityScaled(0.01))
    assert not rig.processor.update_price(BTCUSDT.id, 0)
    assert not rig.processor.update_price(BTCUSDT.id, -5)
    assert not rig.processor.update_price(ETHUSDT.id, 100 * S)
    assert not Rig(FixedQuantity("1")).processor.update_price(BTCUSDT.id, 100 * S)


# -- equity reuse ---------------------------------------------------------------------------


def equity_rig(max_age_ns: int) -> Rig:
    rig = Rig(FractionOfEquity(1.0), equity_max_age_ns=max_age_ns)
    rig.set_balances(usdt="6000")  # 0.1 BTC at 60,000 for strength 1
    return rig


def test_equity_is_read_for_every_signal_by_default() -> None:
    rig = equity_rig(0)
    assert rig.processor.process(signal(1.0, ts=10)) is not None
    rig.set_balances(usdt="12000")
    intent = rig.processor.process(signal(1.0, ts=11))
    assert intent is not None and intent.target_raw == 200_000_000


def test_equity_reading_is_reused_within_its_max_age() -> None:
    rig = equity_rig(1_000)
    rig.processor.process(signal(1.0, ts=10))
    rig.set_balances(usdt="12000")  # not seen until the reading is 1,000 ns old
    intent = rig.processor.process(signal(1.0, ts=1_009))
    assert intent is not None and intent.target_raw == 100_000_000
    intent = rig.processor.process(signal(1.0, ts=1_010))
    assert intent is not None and intent.target_raw == 200_000_000


def test_equity_reading_is_refreshed_after_a_fill_or_when_time_goes_back() -> None:
    rig = equity_rig(1_000)
    rig.processor.process(signal(1.0, ts=10))
    rig.set_balances(usdt="12000")
    intent = rig.processor.process(signal(1.0, ts=5))  # earlier than the reading
    assert intent is not None and intent.target_raw == 200_000_000
    rig.set_balances(usdt="3000")
    rig.fill(OrderSide.BUY, 10_000_000)
    intent = rig.processor.process(signal(1.0, ts=6))
    assert intent is not None and intent.target_raw == 50_000_000


def test_negative_equity_max_age_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="equity_max_age_ns"):
        equity_rig(-1)


# -- delta to the position and lot rounding -------------------------------------------------


def test_orders_the_difference_between_target_and_held_position() -> None:
    rig = Rig(FixedQuantity("0.01"))
    rig.hold(3_000_000)
    intent = expect(rig.process(0.5), OrderSide.BUY, "0.002")
    assert (intent.target_raw, intent.basis_raw) == (5_000_000, 3_000_000)


def test_flips_from_long_to_short_in_one_intent() -> None:
    rig = Rig(FixedQuantity("0.01"))
    rig.hold(4_000_000)
    expect(rig.process(-0.5), OrderSide.SELL, "0.009")


def test_lot_rounding_goes_toward_zero_on_both_sides() -> None:
    rig = Rig(FixedQuantity("0.012345678"))
    expect(rig.process(1.0), OrderSide.BUY, "0.01234")
    expect(rig.process(-1.0), OrderSide.SELL, "0.01234")


def test_lot_rounding_of_a_reduction_never_overshoots_the_target() -> None:
    rig = Rig(FixedQuantity("0.012345678"))
    rig.hold(20_000_000)  # long 0.02, target 0.012345678: sell 0.007654322 -> 0.00765
    intent = expect(rig.process(1.0), OrderSide.SELL, "0.00765")
    assert rig.position_raw() + intent.signed_raw >= intent.target_raw


@pytest.mark.parametrize(("strength", "qty"), [(0.3, "0.0003"), (0.7, "0.0007"), (0.1, "0.0001")])
def test_float_noise_in_the_target_does_not_lose_a_lot(strength: float, qty: str) -> None:
    # 0.3 x 1,000,000 raw is 300000.00000000006 or 299999.99999999994 in binary floating point;
    # the target is rounded to a whole raw unit before flooring to the step.
    expect(Rig(FixedQuantity("0.001")).process(strength), OrderSide.BUY, qty)


# -- caps -----------------------------------------------------------------------------------


def test_target_is_capped_by_max_position_on_both_sides() -> None:
    rig = Rig(FixedQuantity("1"), max_position="0.05")
    assert expect(rig.process(1.0), OrderSide.BUY, "0.05").target_raw == 50_000_000
    assert expect(rig.process(-1.0), OrderSide.SELL, "0.05").target_raw == -50_000_000


def test_capped_target_orders_only_the_room_left() -> None:
    rig = Rig(FixedQuantity("1"), max_position="0.05")
    rig.hold(30_000_000)
    expect(rig.process(1.0), OrderSide.BUY, "0.02")


def test_position_above_a_lowered_cap_is_reduced_to_the_cap() -> None:
    rig = Rig(FixedQuantity("1"), max_position="0.05")
    rig.hold(80_000_000)
    expect(rig.process(1.0), OrderSide.SELL, "0.03")


def test_per_instrument_cap_overrides_the_default() -> None:
    rig = Rig(FixedQuantity("10"), instruments=(BTCUSDT, ETHUSDT), mark=3_000 * S,
              max_position="0.05", max_positions={ETHUSDT.id: "2"})
    expect(rig.process(1.0), OrderSide.BUY, "0.05")
    intent = rig.process(1.0, instrument=ETHUSDT)
    assert intent is not None and intent.quantity == ETHUSDT.make_qty("2")
    assert rig.processor.max_position_raw(ETHUSDT.id) == 2 * S
    assert rig.processor.max_position_raw(BTCUSDT.id) == 50_000_000


def test_zero_max_position_only_ever_flattens() -> None:
    rig = Rig(FixedQuantity("1"), max_position="0")
    assert rig.process(1.0) is None and rig.processor.last_drop is DropReason.AT_TARGET
    rig.hold(-7_000_000)
    expect(rig.process(-1.0), OrderSide.BUY, "0.007")


def test_order_above_the_instruments_max_quantity_is_clipped_and_counted() -> None:
    rig = Rig(FixedQuantity("1"), instruments=(LOTUSDT,))
    intent = rig.process(1.0, instrument=LOTUSDT)
    assert intent is not None and intent.quantity == LOTUSDT.make_qty("0.02")
    assert intent.target_raw == S  # the target stays what the policy asked for
    assert rig.processor.stats.clipped == 1


# -- working orders -------------------------------------------------------------------------


def test_working_orders_count_toward_the_basis() -> None:
    working = {BTCUSDT.id: 2_000_000}  # a buy of 0.002 still open
    rig = Rig(FixedQuantity("0.01"), working_orders=lambda iid: working.get(iid, 0))
    rig.hold(1_000_000)
    intent = expect(rig.process(0.5), OrderSide.BUY, "0.002")
    assert intent.basis_raw == 3_000_000
    working[BTCUSDT.id] = 2_000_000 + intent.signed_raw  # it is working too now
    assert rig.process(0.5) is None
    assert rig.processor.last_drop is DropReason.AT_TARGET


def test_without_working_orders_the_same_signal_orders_again_until_filled() -> None:
    rig = Rig(FixedQuantity("0.01"))
    first = expect(rig.process(0.5), OrderSide.BUY, "0.005")
    expect(rig.process(0.5), OrderSide.BUY, "0.005")  # in flight is invisible
    rig.fill(first.side, first.quantity.raw)
    assert rig.process(0.5) is None
    assert rig.processor.last_drop is DropReason.AT_TARGET


# -- drop reasons ---------------------------------------------------------------------------


def assert_dropped(rig: Rig, result: OrderIntent | None, reason: DropReason) -> None:
    assert result is None
    assert rig.processor.last_drop is reason
    assert rig.processor.stats.dropped_for(reason) >= 1


def test_unknown_instrument_is_dropped_not_raised() -> None:
    rig = Rig(FixedQuantity("0.01"))
    assert_dropped(rig, rig.process(0.5, instrument=ETHUSDT), DropReason.UNKNOWN_INSTRUMENT)


def test_instrument_lookup_that_raises_unknown_is_a_drop() -> None:
    def lookup(instrument_id: InstrumentId) -> Instrument:
        raise UnknownInstrumentError("instrument is not registered", instrument=str(instrument_id))

    portfolio = Portfolio(MessageBus())
    processor = SignalProcessor(SignalProcessorConfig(policy=FixedQuantity("1")), lookup, portfolio)
    assert processor.process(signal(0.5)) is None
    assert processor.last_drop is DropReason.UNKNOWN_INSTRUMENT


def test_instrument_missing_from_the_portfolio_is_a_drop_and_not_remembered() -> None:
    bus = MessageBus()
    portfolio = Portfolio(bus)
    processor = SignalProcessor(SignalProcessorConfig(policy=FixedQuantity("0.01")),
                                {BTCUSDT.id: BTCUSDT}.get, portfolio)
    assert processor.process(signal(0.5)) is None
    assert processor.last_drop is DropReason.UNKNOWN_INSTRUMENT
    portfolio.add_instrument(BTCUSDT)  # registered later: the next signal trades
    portfolio.update_mark(BTCUSDT.id, PX)
    expect(processor.process(signal(0.5)), OrderSide.BUY, "0.005")


def test_no_mark_price_is_a_drop() -> None:
    rig = Rig(FixedQuantity("0.01"), mark=None)
    assert_dropped(rig, rig.process(0.5), DropReason.NO_MARK)
    rig.portfolio.update_mark(BTCUSDT.id, 0)
    assert_dropped(rig, rig.process(0.5), DropReason.NO_MARK)


@pytest.mark.parametrize("usdt", [None, "0"])
def test_equity_policy_without_equity_is_a_drop(usdt: str | None) -> None:
    rig = Rig(FractionOfEquity(0.5))
    if usdt is not None:
        rig.set_balances(usdt=usdt)
    assert_dropped(rig, rig.process(0.5), DropReason.NO_EQUITY)


def test_equity_that_cannot_be_valued_is_a_drop() -> None:
    rig = Rig(FractionOfEquity(0.5), instruments=(BTCUSDT, ETHUSDT), mark=None)
    rig.set_balances(usdt="100", btc="1")  # BTC has no BTCUSDT mark to value it
    rig.portfolio.update_mark(ETHUSDT.id, 3_000 * S)
    assert_dropped(rig, rig.process(0.5, instrument=ETHUSDT), DropReason.NO_EQUITY)


def test_non_finite_target_is_a_drop() -> None:
    rig = Rig(FractionOfEquity(1e300))  # x equity x 1e9: overflows to inf
    rig.set_balances(usdt="10000")
    assert_dropped(rig, rig.process(1.0), DropReason.INVALID_TARGET)
    rig_capped = Rig(FractionOfEquity(1e300), max_position="1")
    rig_capped.set_balances(usdt="10000")
    assert_dropped(rig_capped, rig_capped.process(1.0), DropReason.INVALID_TARGET)


def test_already_at_target_is_a_drop() -> None:
    rig = Rig(FixedQuantity("0.01"))
    rig.hold(5_000_000)
    assert_dropped(rig, rig.process(0.5), DropReason.AT_TARGET)
    assert_dropped(rig, rig.process(0.5004), DropReason.AT_TARGET)  # 0.000004 short: under a lot


def test_below_min_quantity_is_a_drop() -> None:
    rig = Rig(FixedQuantity("0.01"), instruments=(LOTUSDT,))
    # 0.05 x 0.01 = 0.0005 < min qty 0.001 (yet 50 lots)
    assert_dropped(rig, rig.process(0.05, instrument=LOTUSDT), DropReason.BELOW_MIN_QUANTITY)
    assert rig.process(0.1, instrument=LOTUSDT) is not None  # 0.001: exactly the minimum


def test_below_min_notional_at_the_mark_is_a_drop() -> None:
    rig = Rig(FixedQuantity("0.00008"))
    # 0.00008 x 60,000 = 4.8 USDT < 5
    assert_dropped(rig, rig.process(1.0), DropReason.BELOW_MIN_NOTIONAL)
    rig_ok = Rig(FixedQuantity("0.00009"))  # 5.4 USDT
    expect(rig_ok.process(1.0), OrderSide.BUY, "0.00009")


def test_dust_position_under_min_notional_cannot_be_closed_by_a_signal() -> None:
    rig = Rig(FixedQuantity("0.01"))
    rig.hold(5_000)  # 0.000005 BTC: half a lot
    assert_dropped(rig, rig.process(0.0), DropReason.AT_TARGET)
    rig.hold(50_000)  # now 0.000055: sell 5 lots = 0.00005 x 60,000 = 3 USDT
    assert_dropped(rig, rig.process(0.0), DropReason.BELOW_MIN_NOTIONAL)


# -- bad strength and confidence ------------------------------------------------------------


@pytest.mark.parametrize(
    ("strength", "reason"),
    [
        (math.nan, DropReason.STRENGTH_NOT_FINITE),
        (math.inf, DropReason.STRENGTH_NOT_FINITE),
        (-math.inf, DropReason.STRENGTH_NOT_FINITE),
        (1.5, DropReason.STRENGTH_OUT_OF_RANGE),
        (-2.0, DropReason.STRENGTH_OUT_OF_RANGE),
        (1.0000000000000002, DropReason.STRENGTH_OUT_OF_RANGE),
    ],
)
def test_bad_strength_is_counted_never_raised(strength: float, reason: DropReason) -> None:
    rig = Rig(FixedQuantity("0.01"))
    assert_dropped(rig, rig.process(strength), reason)
    assert rig.processor.stats.drops() == {reason: 1}


def test_all_bad_strengths_are_counted_by_reason() -> None:
    rig = Rig(FixedQuantity("0.01"))
    for strength in (math.nan, math.inf, 1.5, -2.0, 0.5):
        rig.process(strength)
    stats = rig.processor.stats
    assert (stats.signals_in, stats.intents_out, stats.dropped_total) == (5, 1, 4)
    assert stats.drops() == {DropReason.STRENGTH_NOT_FINITE: 2, DropReason.STRENGTH_OUT_OF_RANGE: 2}
    counters = stats.as_dict()
    assert counters["signals_in"] == 5 and counters["dropped.STRENGTH_OUT_OF_RANGE"] == 2
    assert counters["dropped.NO_MARK"] == 0
    assert "STRENGTH_NOT_FINITE=2" in repr(stats)


def test_clamp_strength_clamps_finite_out_of_range_values_and_counts_them() -> None:
    rig = Rig(FixedQuantity("0.01"), clamp_strength=True)
    expect(rig.process(1.5), OrderSide.BUY, "0.01")
    expect(rig.process(-2.0), OrderSide.SELL, "0.01")
    assert rig.processor.stats.clamped == 2
    assert_dropped(rig, rig.process(math.nan), DropReason.STRENGTH_NOT_FINITE)
    assert_dropped(rig, rig.process(-math.inf), DropReason.STRENGTH_NOT_FINITE)


@pytest.mark.parametrize("confidence", [math.nan, math.inf, -0.1, 1.5])
def test_bad_confidence_is_a_drop(confidence: float) -> None:
    rig = Rig(FixedQuantity("0.01"))
    assert_dropped(rig, rig.process(0.5, confidence=confidence), DropReason.INVALID_CONFIDENCE)


def test_last_drop_clears_when_an_intent_is_produced() -> None:
    rig = Rig(FixedQuantity("0.01"))
    rig.process(math.nan)
    assert rig.processor.last_drop is DropReason.STRENGTH_NOT_FINITE
    rig.process(0.5)
    assert rig.processor.last_drop is None


# -- construction errors (these are programming or config errors: they raise) ---------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: FixedQuantity("0"),
        lambda: FixedQuantity("-1"),
        lambda: FixedQuantity("abc"),
        lambda: FractionOfEquity(0.0),
        lambda: FractionOfEquity(math.nan),
        lambda: FractionOfEquity(math.inf),
        lambda: VolatilityScaled(0.0),
        lambda: VolatilityScaled(0.1, lookback=0),
        lambda: VolatilityScaled(0.1, min_samples=0),
        lambda: VolatilityScaled(0.1, max_leverage=math.nan),
        lambda: VolatilityScaled(0.1, periods_per_year=-1.0),
    ],
)
def test_policy_with_bad_parameters_is_refused(build: object) -> None:
    with pytest.raises(InvalidInputError):
        build()  # type: ignore[operator]


def test_negative_max_position_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="max position"):
        Rig(FixedQuantity("1"), max_position="-1")
    with pytest.raises(InvalidInputError, match="max position"):
        Rig(FixedQuantity("1"), max_positions={BTCUSDT.id: "-0.1"})


def test_policy_must_be_a_sizing_policy() -> None:
    config = SignalProcessorConfig(policy="fixed")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="SizingPolicy"):
        SignalProcessor(config, dict[InstrumentId, Instrument]().get, Portfolio(MessageBus()))


# -- properties -----------------------------------------------------------------------------

# Mostly usable inputs (so most examples produce an intent), with every kind of bad value mixed in.
usable_strengths = st.floats(min_value=0.05, max_value=1.0) | st.floats(min_value=-1.0, max_value=-0.05)
strengths = st.one_of(
    usable_strengths,
    usable_strengths,
    st.floats(min_value=-1.0, max_value=1.0),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 1.0, -1.0, math.nan, math.inf, 1.5, -2.0]),
)
confidences = st.one_of(
    st.none(), st.none(), st.floats(min_value=0.2, max_value=1.0), st.none(), st.floats(allow_nan=True)
)
lot_quantities = st.integers(1, 500).map(lambda n: n * 1_000_000)
raw_quantities = st.one_of(st.integers(min_value=1, max_value=5 * S), lot_quantities, lot_quantities)
lot_caps = st.integers(1, 300).map(lambda n: n * 10_000_000)
raw_caps = st.one_of(st.integers(min_value=0, max_value=3 * S), lot_caps, lot_caps)
# Ticks of 0.01: anywhere up to 1,000,000, or a BTC-like 1,000..100,000.
mark_ticks = st.integers(min_value=1, max_value=100_000_000) | st.integers(100_000, 10_000_000)


def check_intent(instrument: Instrument, intent: OrderIntent, before: int, cap: int) -> None:
    """Everything a produced intent must satisfy, whatever the inputs."""
    qty = intent.quantity.raw
    assert qty > 0 and qty % instrument.step_size == 0
    assert intent.quantity.precision == instrument.size_precision
    assert qty >= instrument.min_quantity
    assert instrument.max_quantity is None or qty <= instrument.max_quantity
    assert instrument.min_notional is None or qty * intent.mark_raw // S >= instrument.min_notional
    mark = Price(intent.mark_raw, instrument.price_precision)
    assert instrument.check_order(intent.side, intent.quantity, mark) is None
    after = before + intent.signed_raw
    assert abs(after) <= cap
    assert abs(intent.target_raw) <= cap
    # moves toward the target and never past it
    assert abs(intent.target_raw - after) < abs(intent.target_raw - before)
    assert (intent.target_raw - after) * (intent.target_raw - before) >= 0


@settings(max_examples=300, deadline=None)
@given(
    instrument=st.sampled_from([BTCUSDT, ETHUSDT, LOTUSDT]),
    quantity_raw=raw_quantities,
    cap_raw=raw_caps,
    start=st.floats(min_value=-1.0, max_value=1.0),
    mark_ticks=mark_ticks,
    strength=strengths,
    confidence=confidences,
)
def test_property_fixed_quantity_intents_are_valid_capped_and_idempotent(
    instrument: Instrument, quantity_raw: int, cap_raw: int, start: float, mark_ticks: int,
    strength: float, confidence: float | None,
) -> None:
    mark = mark_ticks * instrument.tick_size
    rig = Rig(FixedQuantity(f"{quantity_raw // S}.{quantity_raw % S:09d}"), instruments=(instrument,),
              mark=mark, max_position=f"{cap_raw // S}.{cap_raw % S:09d}")
    held = int(start * cap_raw)
    held -= held % instrument.step_size if held >= 0 else -((-held) % instrument.step_size)
    rig.hold(held, instrument)
    assert rig.position_raw(instrument) == held

    intent = rig.processor.process(signal(strength, confidence, instrument.id))
    stats = rig.processor.stats
    assert stats.signals_in == stats.intents_out + stats.dropped_total == 1
    if intent is None:
        assert rig.processor.last_drop is not None
        return
    check_intent(instrument, intent, held, cap_raw)
    # Once the intent fills, the same signal asks for nothing more (unless it was clipped).
    rig.fill(intent.side, intent.quantity.raw, mark, instrument)
    again = rig.processor.process(signal(strength, confidence, instrument.id))
    if stats.clipped == 0:
        assert again is None and rig.processor.last_drop is DropReason.AT_TARGET
    elif again is not None:  # clipped: the rest follows, within the same rules
        check_intent(instrument, again, rig.position_raw(instrument), cap_raw)


@settings(max_examples=200, deadline=None)
@given(
    use_vol=st.booleans(),
    fraction=st.floats(min_value=1e-6, max_value=5.0),
    usdt=st.integers(min_value=0, max_value=10**8) | st.integers(1_000, 1_000_000),
    cap_raw=raw_caps,
    start=st.floats(min_value=-1.0, max_value=1.0),
    mark_ticks=mark_ticks,
    moves=st.lists(st.integers(min_value=-500, max_value=500), min_size=0, max_size=30)
    | st.lists(st.integers(min_value=-500, max_value=500), min_size=8, max_size=30),
    strength=strengths,
    confidence=confidences,
)
def test_property_equity_policies_never_raise_and_respect_every_filter(
    use_vol: bool, fraction: float, usdt: int, cap_raw: int, start: float, mark_ticks: int,
    moves: list[int], strength: float, confidence: float | None,
) -> None:
    policy: SizingPolicy = (
        VolatilityScaled(fraction / 100, lookback=10, min_samples=5, max_leverage=3.0)
        if use_vol else FractionOfEquity(fraction)
    )
    mark = mark_ticks * BTCUSDT.tick_size
    rig = Rig(policy, mark=mark, max_position=f"{cap_raw // S}.{cap_raw % S:09d}")
    rig.set_balances(usdt=str(usdt))
    price = mark
    for move in moves:
        price = max(price + move * BTCUSDT.tick_size, BTCUSDT.tick_size)
        rig.processor.update_price(BTCUSDT.id, price)
    held = int(start * cap_raw)
    held -= held % BTCUSDT.step_size if held >= 0 else -((-held) % BTCUSDT.step_size)
    rig.hold(held)

    intent = rig.processor.process(signal(strength, confidence))
    if intent is None:
        assert rig.processor.last_drop is not None
    else:
        check_intent(BTCUSDT, intent, held, cap_raw)
