"""The simulated venue's balances: per currency a total and a locked part, in raw ints.

Rules (the venue's side of the account; :class:`bot4.model.account.Account` mirrors it):

- Every amount is a raw fixed-point int (1e-9 units). ``free = total - locked``.
- ``lock`` sets funds aside for a working order and ``unlock`` gives them back; the matching
  engine locks when it accepts an order and unlocks as the order fills or ends.
- ``adjust`` moves a total (a fill's base and quote legs, a commission).
- CASH: a total never goes negative and ``locked <= total`` always holds; spending needs free
  balance (``can_spend``). A settlement that would break this is a bug in the caller and
  raises :class:`InternalError` without changing anything.
- MARGIN: totals may go negative (borrowed) and nothing is locked; instead an order that
  increases exposure is refused when the resulting position notional, at the order's expected
  price, exceeds ``leverage x equity``. Equity is counted in the order's quote currency: the
  quote total plus each base currency's total marked at the last price of its instrument
  against that quote (currencies without a mark, or in other quotes, count as zero).
- Every change marks its currency; ``changed_state`` reports exactly those currencies (sorted by
  code, so the output never depends on set order) and ``state`` reports all of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from bot4.core.errors import InternalError, InvalidInputError
from bot4.core.ids import AccountId
from bot4.core.numbers import FIXED_SCALAR, Currency, Money
from bot4.model.account import AccountBalance, AccountState
from bot4.model.enums import AccountType

__all__ = ["DEFAULT_PRECISION", "SimLedger"]

DEFAULT_PRECISION = 8
"""Precision of a currency that only appears in the starting balances, not in an instrument."""


class SimLedger:
    """Balances of the one account the simulated venue holds."""

    __slots__ = ("_changed", "_currencies", "_locked", "_total", "account_id", "account_type", "leverage")

    def __init__(
        self,
        *,
        account_id: AccountId,
        account_type: AccountType,
        currencies: Iterable[Currency],
        starting_raw: Mapping[str, int],
        leverage: Decimal = Decimal(1),
    ) -> None:
        self.account_id = account_id
        self.account_type = account_type
        self.leverage = leverage
        self._currencies: dict[str, Currency] = {}
        for currency in currencies:
            known = self._currencies.setdefault(currency.code, currency)
            if known != currency:
                raise InvalidInputError(
                    "one currency code with two precisions",
                    currency=currency.code,
                    precisions=(known.precision, currency.precision),
                )
        for code in starting_raw:
            self._currencies.setdefault(code, Currency(code, DEFAULT_PRECISION))
        self._total: dict[str, int] = {code: 0 for code in self._currencies}
        self._locked: dict[str, int] = {code: 0 for code in self._currencies}
        for code, raw in starting_raw.items():
            if raw < 0 and account_type is AccountType.CASH:
                raise InvalidInputError("a cash account cannot start negative", currency=code, raw=raw)
            self._total[code] = raw
        self._changed: set[str] = set()

    # -- reading --------------------------------------------------------------------------

    @property
    def is_cash(self) -> bool:
        return self.account_type is AccountType.CASH

    def currency(self, code: str) -> Currency:
        return self._currencies[code]

    def total_raw(self, currency: Currency) -> int:
        return self._total.get(currency.code, 0)

    def locked_raw(self, currency: Currency) -> int:
        return self._locked.get(currency.code, 0)

    def free_raw(self, currency: Currency) -> int:
        return self.total_raw(currency) - self.locked_raw(currency)

    def can_spend(self, currency: Currency, raw: int) -> bool:
        """Whether ``raw`` can be locked or spent now: CASH needs it free, MARGIN always can."""
        return not self.is_cash or raw <= self.free_raw(currency)

    # -- changing -------------------------------------------------------------------------

    def lock(self, currency: Currency, raw: int) -> None:
        """Set ``raw`` aside; a cash account must have it free (else :class:`InternalError`)."""
        if raw < 0:
            raise InternalError("cannot lock a negative amount", currency=currency.code, raw=raw)
        if raw == 0:
            return
        if self.is_cash and raw > self.free_raw(currency):
            raise InternalError(
                "lock exceeds the free balance",
                account=str(self.account_id),
                currency=currency.code,
                lock=raw,
                free=self.free_raw(currency),
            )
        self._register(currency)
        self._locked[currency.code] += raw
        self._changed.add(currency.code)

    def unlock(self, currency: Currency, raw: int) -> None:
        """Release ``raw`` of what was locked (more than is locked raises :class:`InternalError`)."""
        if raw < 0 or raw > self.locked_raw(currency):
            raise InternalError(
                "unlock must be between zero and the locked amount",
                account=str(self.account_id),
                currency=currency.code,
                unlock=raw,
                locked=self.locked_raw(currency),
            )
        if raw == 0:
            return
        self._locked[currency.code] -= raw
        self._changed.add(currency.code)

    def adjust(self, currency: Currency, delta_raw: int) -> None:
        """Add ``delta_raw`` to the total; a cash total may not drop below what is locked."""
        if delta_raw == 0:
            return
        self._register(currency)
        new_total = self._total[currency.code] + delta_raw
        if self.is_cash and (new_total < 0 or new_total < self._locked[currency.code]):
            raise InternalError(
                "cash balance would go negative or below its locked part",
                account=str(self.account_id),
                currency=currency.code,
                total=self._total[currency.code],
                locked=self._locked[currency.code],
                delta=delta_raw,
            )
        self._total[currency.code] = new_total
        self._changed.add(currency.code)

    # -- margin ---------------------------------------------------------------------------

    def equity_raw(self, quote: Currency, marks: Mapping[Currency, int]) -> int:
        """Quote total plus each marked base total at its mark (raw quote units, floored)."""
        equity = self.total_raw(quote)
        for base, mark_raw in marks.items():
            if base.code != quote.code:
                equity += self.total_raw(base) * mark_raw // FIXED_SCALAR
        return equity

    def margin_allows(
        self,
        *,
        quote: Currency,
        current_raw: int,
        resulting_raw: int,
        price_raw: int,
        marks: Mapping[Currency, int],
    ) -> bool:
        """Whether a position going from ``current_raw`` to ``resulting_raw`` units is allowed.

        Reducing exposure (``|resulting| <= |current|``) is always allowed; otherwise the
        resulting notional ``|resulting| x price`` must not exceed ``leverage x equity``. A
        cash account answers True: its limit is the free balance, checked by ``can_spend``.
        """
        if self.is_cash or abs(resulting_raw) <= abs(current_raw):
            return True
        num, den = self.leverage.as_integer_ratio()
        notional_e18 = abs(resulting_raw) * price_raw
        return notional_e18 * den <= num * self.equity_raw(quote, marks) * FIXED_SCALAR

    # -- reporting ------------------------------------------------------------------------

    def state(self, ts_ns: int) -> AccountState:
        """All balances, sorted by currency code (change marks are left as they are)."""
        return self._state(sorted(self._currencies), ts_ns)

    def changed_state(self, ts_ns: int) -> AccountState | None:
        """The balances changed since the last report, or None when nothing changed."""
        if not self._changed:
            return None
        codes = sorted(self._changed)
        self._changed.clear()
        return self._state(codes, ts_ns)

    def _state(self, codes: list[str], ts_ns: int) -> AccountState:
        balances = []
        for code in codes:
            currency = self._currencies[code]
            balances.append(
                AccountBalance.of(Money(self._total[code], currency), Money(self._locked[code], currency))
            )
        return AccountState(
            account_id=self.account_id,
            account_type=self.account_type,
            balances=balances,
            ts_event=ts_ns,
            ts_init=ts_ns,
        )

    def _register(self, currency: Currency) -> None:
        if currency.code not in self._currencies:
            self._currencies[currency.code] = currency
            self._total[currency.code] = 0
            self._locked[currency.code] = 0

    def __repr__(self) -> str:
        parts = ", ".join(
            f"{code}={self._total[code]}/{self._locked[code]}" for code in sorted(self._currencies)
        )
        return f"SimLedger({self.account_id} {self.account_type.value}: {parts})"
