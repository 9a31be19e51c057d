from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot4.core.errors import InternalError
from bot4.core.ids import AccountId
from bot4.core.numbers import Currency
from bot4.model.enums import AccountType
from bot4.venues.sim import (
    SimLedger,
    buy_lock_raw,
    commission_raw,
    round_half_even,
    settled_notional_raw,
)

BTC = Currency("BTC", 8)
USDT = Currency("USDT", 8)
E9 = 1_000_000_000


def ledger(account_type=AccountType.CASH, leverage="1", **balances):
    return SimLedger(
        account_id=AccountId("SIM-001"),
        account_type=account_type,
        currencies=[BTC, USDT],
        starting_raw={code: int(Decimal(v) * E9) for code, v in balances.items()},
        leverage=Decimal(leverage),
    )


def test_ledger_lock_moves_free_to_locked_and_unlock_restores():
    book = ledger(USDT="100")
    book.lock(USDT, 30 * E9)
    assert (book.total_raw(USDT), book.locked_raw(USDT), book.free_raw(USDT)) == (100 * E9, 30 * E9, 70 * E9)
    book.unlock(USDT, 30 * E9)
    assert book.free_raw(USDT) == 100 * E9


def test_ledger_cash_lock_beyond_free_raises_internal_error():
    book = ledger(USDT="100")
    with pytest.raises(InternalError):
        book.lock(USDT, 101 * E9)
    assert book.locked_raw(USDT) == 0


def test_ledger_unlock_more_than_locked_raises_internal_error():
    book = ledger(USDT="100")
    book.lock(USDT, E9)
    with pytest.raises(InternalError):
        book.unlock(USDT, 2 * E9)


def test_ledger_cash_adjust_below_locked_raises_and_changes_nothing():
    book = ledger(USDT="100")
    book.lock(USDT, 60 * E9)
    with pytest.raises(InternalError):
        book.adjust(USDT, -50 * E9)
    assert book.total_raw(USDT) == 100 * E9


def test_ledger_cash_can_spend_needs_free_balance():
    book = ledger(USDT="100")
    book.lock(USDT, 60 * E9)
    assert book.can_spend(USDT, 40 * E9)
    assert not book.can_spend(USDT, 40 * E9 + 1)


def test_ledger_margin_balance_may_go_negative():
    book = ledger(AccountType.MARGIN, USDT="100")
    book.adjust(USDT, -300 * E9)
    book.adjust(BTC, -E9)
    assert book.total_raw(USDT) == -200 * E9
    assert book.total_raw(BTC) == -E9
    assert book.can_spend(USDT, 10**15)


def test_ledger_margin_allows_exposure_up_to_leverage_times_equity():
    book = ledger(AccountType.MARGIN, leverage="3", USDT="1000")
    # equity 1000 USDT, leverage 3: 30 units at 100 = 3000 is the limit
    allowed = book.margin_allows(quote=USDT, current_raw=0, resulting_raw=30 * E9, price_raw=100 * E9, marks={})
    refused = book.margin_allows(
        quote=USDT, current_raw=0, resulting_raw=30 * E9 + 1, price_raw=100 * E9, marks={}
    )
    assert allowed and not refused


def test_ledger_margin_equity_marks_base_at_last_price():
    book = ledger(AccountType.MARGIN, USDT="-500", BTC="2")
    assert book.equity_raw(USDT, {BTC: 400 * E9}) == 300 * E9
    assert book.equity_raw(USDT, {}) == -500 * E9


def test_ledger_margin_reducing_exposure_is_always_allowed():
    book = ledger(AccountType.MARGIN, USDT="-10000", BTC="5")
    assert book.margin_allows(quote=USDT, current_raw=5 * E9, resulting_raw=4 * E9, price_raw=E9, marks={})
    assert not book.margin_allows(quote=USDT, current_raw=5 * E9, resulting_raw=6 * E9, price_raw=E9, marks={})


def test_ledger_changed_state_lists_only_changed_currencies_once():
    book = ledger(USDT="100", BTC="1")
    assert book.changed_state(5) is None
    book.adjust(USDT, -E9)
    state = book.changed_state(7)
    assert state is not None
    assert [b.currency.code for b in state.balances] == ["USDT"]
    assert str(state.balances[0].total) == "99.00000000 USDT"
    assert (state.ts_event, state.ts_init) == (7, 7)
    assert book.changed_state(8) is None


def test_ledger_state_lists_every_balance_sorted_by_code():
    book = ledger(USDT="100", BTC="1")
    book.lock(BTC, E9 // 2)
    state = book.state(3)
    assert [(str(b.total), str(b.locked), str(b.free)) for b in state.balances] == [
        ("1.00000000 BTC", "0.50000000 BTC", "0.50000000 BTC"),
        ("100.00000000 USDT", "0.00000000 USDT", "100.00000000 USDT"),
    ]


def test_ledger_currency_only_in_balances_gets_default_precision():
    book = SimLedger(
        account_id=AccountId("SIM-001"), account_type=AccountType.CASH, currencies=[], starting_raw={"BNB": E9}
    )
    assert book.currency("BNB") == Currency("BNB", 8)


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [(5, 2, 2), (7, 2, 4), (-5, 2, -2), (-7, 2, -4), (4, 3, 1), (5, 3, 2), (-4, 3, -1), (0, 7, 0)],
)
def test_round_half_even_matches_decimal(numerator, denominator, expected):
    assert round_half_even(numerator, denominator) == expected
    assert expected == int((Decimal(numerator) / Decimal(denominator)).quantize(Decimal(1), ROUND_HALF_EVEN))


def test_commission_rounds_half_even_to_quote_precision():
    # 0.01 x 0.00005 = 0.0000005 USDT notional; x 0.01 = 0.000000005: half a unit of 1e-8
    px, qty = 1 * 10**7, 5 * 10**4
    assert commission_raw(px, qty, Decimal("0.01"), USDT) == 0  # 0.000000005 -> half -> even 0
    assert commission_raw(px, qty * 3, Decimal("0.01"), USDT) == 20  # 0.000000015 -> 0.00000002
    assert commission_raw(100 * E9, E9, Decimal("0.001"), USDT) == 100_000_000


def test_commission_negative_rate_is_a_rebate():
    assert commission_raw(100 * E9, E9, Decimal("-0.0001"), USDT) == -10_000_000


def test_settled_notional_is_exact_for_binance_tick_and_step():
    # 61837.63 x 0.00017 = 10.5124... exactly 10.5124 -> raw 10_512_397_100
    assert settled_notional_raw(61_837_630_000_000, 170_000, USDT) == 10_512_397_100


def test_buy_lock_covers_notional_fee_and_one_unit_of_rounding_per_step():
    step = 10_000  # 0.00001
    lock = buy_lock_raw(100 * E9, E9, Decimal("0.001"), USDT, step)
    assert lock == 100_100_000_000 + 100_000 * 10  # 100.1 + 100000 steps x 0.00000001
    assert buy_lock_raw(100 * E9, 0, Decimal("0.001"), USDT, step) == 0


@settings(max_examples=200, deadline=None)
@given(
    price_raw=st.integers(min_value=10**3, max_value=10**8).map(lambda n: n * 1_000),
    pieces=st.lists(st.integers(min_value=1, max_value=50), min_size=5, max_size=30),
    rate=st.integers(min_value=0, max_value=100).map(lambda n: Decimal(n).scaleb(-4)),
    better=st.integers(min_value=0, max_value=5),
)
@example(price_raw=1_600_000, pieces=[1] * 30, rate=Decimal(0), better=0)  # each fill rounds up 0.4 unit
def test_buy_lock_covers_any_split_into_fills_at_or_better_than_the_limit(price_raw, pieces, rate, better):
    step = 10_000
    qty = sum(pieces) * step
    fill_px = max(price_raw - better * 1_000, 1_000)
    cost = sum(
        settled_notional_raw(fill_px, n * step, USDT) + commission_raw(fill_px, n * step, rate, USDT) for n in pieces
    )
    assert cost <= buy_lock_raw(price_raw, qty, rate, USDT, step)
