"""Account: mirroring the venue's AccountState and refusing incoherent balances."""

from __future__ import annotations

import pytest

from bot4.core.errors import InvalidDataError
from bot4.core.ids import AccountId
from bot4.core.numbers import Currency, Money
from bot4.model.account import Account, AccountBalance, AccountState
from bot4.model.enums import AccountType
from bot4.testkit import BTC, ETH, USDT

ACCOUNT = AccountId("SIM-001")


def money(text: str, currency: Currency = USDT) -> Money:
    return Money.of(text, currency)


def state(*balances: AccountBalance, ts: int = 1_000, account_id: AccountId = ACCOUNT,
          account_type: AccountType = AccountType.CASH) -> AccountState:
    return AccountState(
        account_id=account_id,
        account_type=account_type,
        balances=list(balances),
        ts_event=ts,
        ts_init=ts + 1,
    )


def test_account_balance_of_derives_free_from_total_and_locked() -> None:
    balance = AccountBalance.of(money("100"), money("30.5"))
    assert balance.total == money("100")
    assert balance.locked == money("30.5")
    assert balance.free == money("69.5")
    assert balance.currency == USDT


def test_account_apply_takes_reported_balances() -> None:
    account = Account(ACCOUNT, AccountType.CASH)
    account.apply(
        state(
            AccountBalance.of(money("10000"), money("600.25")),
            AccountBalance.of(money("0.5", BTC), money("0", BTC)),
            ts=5_000,
        )
    )
    assert account.total(USDT) == money("10000")
    assert account.locked(USDT) == money("600.25")
    assert account.free(USDT) == money("9399.75")
    assert account.total(BTC) == money("0.5", BTC)
    assert account.free(BTC) == money("0.5", BTC)
    assert account.ts_last == 5_000


def test_account_apply_replaces_listed_currencies_and_keeps_others() -> None:
    account = Account(ACCOUNT, AccountType.CASH)
    account.apply(
        state(
            AccountBalance.of(money("100"), money("0")),
            AccountBalance.of(money("1", BTC), money("0", BTC)),
        )
    )
    account.apply(state(AccountBalance.of(money("40"), money("10")), ts=2_000))
    assert account.balance(USDT) == AccountBalance(money("40"), money("10"), money("30"))
    assert account.total(BTC) == money("1", BTC)
    assert account.ts_last == 2_000


def test_account_unknown_currency_returns_zero_balance() -> None:
    account = Account(ACCOUNT, AccountType.CASH)
    account.apply(state(AccountBalance.of(money("100"), money("0"))))
    balance = account.balance(ETH)
    assert balance == AccountBalance(Money.zero(ETH), Money.zero(ETH), Money.zero(ETH))
    assert balance.currency == ETH
    assert account.total(ETH) == Money.zero(ETH)
    assert account.free(ETH) == Money.zero(ETH)
    assert account.locked(ETH) == Money.zero(ETH)
    assert ETH not in account.balances


def test_account_state_for_another_account_raises_and_changes_nothing() -> None:
    account = Account(ACCOUNT, AccountType.CASH)
    account.apply(state(AccountBalance.of(money("100"), money("0"))))
    with pytest.raises(InvalidDataError) as excinfo:
        account.apply(
            state(AccountBalance.of(money("1"), money("0")), account_id=AccountId("SIM-002"), ts=9)
        )
    assert excinfo.value.context == {"account": "SIM-001", "reported": "SIM-002"}
    assert account.total(USDT) == money("100")
    assert account.ts_last == 1_000


def test_account_total_not_free_plus_locked_raises() -> None:
    account = Account(ACCOUNT, AccountType.CASH)
    bad = AccountBalance(total=money("100"), locked=money("30"), free=money("70.00000001"))
    with pytest.raises(InvalidDataError) as excinfo:
        account.apply(state(bad))
    assert excinfo.value.context["total"] == "100.00000000 USDT"
    assert excinfo.value.context["free"] == "70.00000001 USDT"
    assert excinfo.value.context["locked"] == "30.00000000 USDT"
    assert account.balances == {}


@pytest.mark.parametrize("account_type", list(AccountType), ids=lambda t: t.value)
def test_account_negative_locked_raises(account_type: AccountType) -> None:
    account = Account(ACCOUNT, account_type)
    bad = AccountBalance(total=money("100"), locked=money("-1"), free=money("101"))
    with pytest.raises(InvalidDataError):
        account.apply(state(bad, account_type=account_type))
    assert account.balances == {}


def test_cash_account_negative_total_raises() -> None:
    account = Account(ACCOUNT, AccountType.CASH)
    with pytest.raises(InvalidDataError) as excinfo:
        account.apply(state(AccountBalance.of(money("-5"), money("0"))))
    assert excinfo.value.context["total"] == "-5.00000000 USDT"
    assert account.balances == {}


def test_margin_account_negative_total_is_accepted() -> None:
    account = Account(ACCOUNT, AccountType.MARGIN)
    account.apply(state(AccountBalance.of(money("-5"), money("0")), account_type=AccountType.MARGIN))
    assert account.total(USDT) == money("-5")
    assert account.free(USDT) == money("-5")


def test_account_balance_mixing_currencies_raises() -> None:
    account = Account(ACCOUNT, AccountType.CASH)
    bad = AccountBalance(total=money("1", BTC), locked=money("0"), free=money("1", BTC))
    with pytest.raises(InvalidDataError):
        account.apply(state(bad))
    assert account.balances == {}


def test_account_one_bad_balance_rejects_the_whole_state() -> None:
    account = Account(ACCOUNT, AccountType.CASH)
    account.apply(state(AccountBalance.of(money("100"), money("0"))))
    good_btc = AccountBalance.of(money("2", BTC), money("1", BTC))
    good_usdt = AccountBalance.of(money("50"), money("0"))
    bad_eth = AccountBalance(total=money("1", ETH), locked=money("0", ETH), free=money("2", ETH))
    with pytest.raises(InvalidDataError):
        account.apply(state(good_btc, good_usdt, bad_eth, ts=7_000))
    assert account.total(USDT) == money("100")
    assert BTC not in account.balances
    assert ETH not in account.balances
    assert account.ts_last == 1_000


def test_account_repr_lists_totals() -> None:
    account = Account(ACCOUNT, AccountType.CASH)
    account.apply(state(AccountBalance.of(money("1.5"), money("0"))))
    assert repr(account) == "Account(SIM-001 CASH: 1.50000000 USDT)"
