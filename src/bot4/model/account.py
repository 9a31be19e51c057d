"""Accounts: per-currency balances, split into free and locked.

The venue is the source of truth for balances; it reports them as :class:`AccountState`
events and the local :class:`Account` only mirrors what it is told, checking that each
reported balance is coherent (``total == free + locked``, nothing locked below zero).
"""

from __future__ import annotations

import msgspec

from bot4.core.errors import InvalidDataError
from bot4.core.ids import AccountId
from bot4.core.numbers import Currency, Money
from bot4.model.enums import AccountType

__all__ = ["Account", "AccountBalance", "AccountState"]


class AccountBalance(msgspec.Struct, frozen=True, gc=False):
    """One currency's balance. ``free`` can be spent; ``locked`` backs working orders."""

    total: Money
    locked: Money
    free: Money

    @classmethod
    def of(cls, total: Money, locked: Money) -> AccountBalance:
        return cls(total, locked, total - locked)

    @property
    def currency(self) -> Currency:
        return self.total.currency


class AccountState(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """The venue's report of an account's balances (those listed replace ours)."""

    account_id: AccountId
    account_type: AccountType
    balances: list[AccountBalance]
    ts_event: int
    ts_init: int


class Account:
    """Balances of one account at one venue, as last reported."""

    __slots__ = ("account_id", "account_type", "balances", "ts_last")

    def __init__(self, account_id: AccountId, account_type: AccountType) -> None:
        self.account_id = account_id
        self.account_type = account_type
        self.balances: dict[Currency, AccountBalance] = {}
        self.ts_last = 0

    def apply(self, state: AccountState) -> None:
        """Take the reported balances; an incoherent balance raises and changes nothing."""
        if state.account_id != self.account_id:
            raise InvalidDataError(
                "account state is for another account",
                account=str(self.account_id),
                reported=str(state.account_id),
            )
        for balance in state.balances:
            _check(self.account_id, self.account_type, balance)
        for balance in state.balances:
            self.balances[balance.currency] = balance
        self.ts_last = state.ts_event

    def balance(self, currency: Currency) -> AccountBalance:
        found = self.balances.get(currency)
        if found is None:
            zero = Money.zero(currency)
            return AccountBalance(zero, zero, zero)
        return found

    def total(self, currency: Currency) -> Money:
        return self.balance(currency).total

    def free(self, currency: Currency) -> Money:
        return self.balance(currency).free

    def locked(self, currency: Currency) -> Money:
        return self.balance(currency).locked

    def __repr__(self) -> str:
        parts = ", ".join(f"{b.total}" for b in self.balances.values())
        return f"Account({self.account_id} {self.account_type.value}: {parts})"


def _check(account_id: AccountId, account_type: AccountType, balance: AccountBalance) -> None:
    total, locked, free = balance.total, balance.locked, balance.free
    if not (total.currency == locked.currency == free.currency):
        raise InvalidDataError("balance mixes currencies", account=str(account_id), currency=total.currency.code)
    if total.raw != free.raw + locked.raw:
        raise InvalidDataError(
            "balance total must equal free + locked",
            account=str(account_id),
            currency=total.currency.code,
            total=str(total),
            free=str(free),
            locked=str(locked),
        )
    if locked.raw < 0:
        raise InvalidDataError("locked balance is negative", account=str(account_id), locked=str(locked))
    if account_type is AccountType.CASH and total.raw < 0:
        raise InvalidDataError(
            "a cash account cannot hold a negative balance", account=str(account_id), total=str(total)
        )
    if account_type is AccountType.CASH and free.raw < 0:
        raise InvalidDataError(
            "a cash account cannot lock more than it holds", account=str(account_id), free=str(free)
        )
