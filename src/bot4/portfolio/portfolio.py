"""The portfolio: positions, accounts, marks and the equity curve.

It listens on the bus (fills, account states, market data marks) and answers questions:
what is my position, what are my balances, what is my equity in a currency. Equity marks
every non-quote balance at the last price of the instrument that prices it in that currency,
so a spot account holding BTC and USDT is valued in USDT at the last BTCUSDT price.
"""

from __future__ import annotations

from decimal import Decimal

from bot4.core.bus import MessageBus
from bot4.core.errors import UnknownInstrumentError
from bot4.core.ids import AccountId, InstrumentId, Venue
from bot4.core.numbers import FIXED_SCALAR, Currency, Money
from bot4.model.account import Account, AccountState
from bot4.model.events import OrderFilled
from bot4.model.instrument import Instrument
from bot4.model.position import Position, PositionChanged

__all__ = ["Portfolio"]


class Portfolio:
    """Positions and balances across venues, marked to the last seen prices."""

    def __init__(self, bus: MessageBus) -> None:
        self._bus = bus
        self._instruments: dict[InstrumentId, Instrument] = {}
        self._positions: dict[InstrumentId, Position] = {}
        self._accounts: dict[Venue, Account] = {}
        self._marks: dict[InstrumentId, int] = {}
        # (base, quote) -> instrument used to value base in quote
        self._pricing: dict[tuple[Currency, Currency], InstrumentId] = {}
        self._equity_plans: dict[Currency, tuple[int, tuple[tuple[int, InstrumentId | None], ...]]] = {}
        self.fill_count = 0
        bus.subscribe("events.fills", self.on_fill)
        bus.subscribe("events.account", self.on_account_state)

    def add_instrument(self, instrument: Instrument) -> None:
        self._instruments[instrument.id] = instrument
        self._pricing.setdefault((instrument.base_currency, instrument.quote_currency), instrument.id)
        self._equity_plans.clear()

    # -- inputs -------------------------------------------------------------------------------

    def on_fill(self, fill: OrderFilled) -> None:
        position = self.position(fill.instrument_id)
        changed: PositionChanged = position.apply(fill)
        self._marks[fill.instrument_id] = fill.last_px.raw
        self.fill_count += 1
        self._bus.publish("events.position", changed)

    def on_account_state(self, state: AccountState) -> None:
        venue = Venue(state.account_id.value.rsplit("-", 1)[0])  # "VENUE-NNN"
        account = self._accounts.get(venue)
        if account is None:
            account = self._accounts[venue] = Account(state.account_id, state.account_type)
        account.apply(state)
        self._equity_plans.clear()

    def update_mark(self, instrument_id: InstrumentId, price_raw: int) -> None:
        """Record the latest price of an instrument (last trade, mid or bar close)."""
        self._marks[instrument_id] = price_raw

    # -- queries ------------------------------------------------------------------------------

    def position(self, instrument_id: InstrumentId) -> Position:
        position = self._positions.get(instrument_id)
        if position is None:
            instrument = self._instruments.get(instrument_id)
            if instrument is None:
                raise UnknownInstrumentError("instrument is not registered", instrument=str(instrument_id))
            position = Position(
                instrument_id,
                base_currency=instrument.base_currency,
                quote_currency=instrument.quote_currency,
                price_precision=instrument.price_precision,
                size_precision=instrument.size_precision,
            )
            self._positions[instrument_id] = position
        return position

    def positions(self) -> list[Position]:
        return list(self._positions.values())

    def account(self, venue: Venue) -> Account | None:
        return self._accounts.get(venue)

    def accounts(self) -> list[Account]:
        return list(self._accounts.values())

    def account_ids(self) -> list[AccountId]:
        return [a.account_id for a in self._accounts.values()]

    def mark_raw(self, instrument_id: InstrumentId) -> int | None:
        return self._marks.get(instrument_id)

    def equity_raw(self, currency: Currency) -> int | None:
        """Total of all balances valued in ``currency`` (raw units), None if a mark is missing.

        How each balance is valued is planned once per currency and re-planned when balances
        or instruments change (594 ns -> ~300 ns per call on a BTC + USDT account): risk and
        signal sizing read equity on every order.
        """
        plan = self._equity_plans.get(currency)
        if plan is None:
            plan = self._equity_plans[currency] = self._equity_plan(currency)
        total, valued = plan
        marks = self._marks
        for raw, instrument_id in valued:
            mark = None if instrument_id is None else marks.get(instrument_id)
            if mark is None:
                return None
            total += raw * mark // FIXED_SCALAR
        return total

    def _equity_plan(self, currency: Currency) -> tuple[int, tuple[tuple[int, InstrumentId | None], ...]]:
        base = 0
        valued: list[tuple[int, InstrumentId | None]] = []
        for account in self._accounts.values():
            for balance in account.balances.values():
                raw = balance.total.raw
                if raw == 0:
                    continue
                if balance.currency == currency:
                    base += raw
                else:
                    valued.append((raw, self._pricing.get((balance.currency, currency))))
        return base, tuple(valued)

    def equity(self, currency: Currency) -> Money | None:
        raw = self.equity_raw(currency)
        return None if raw is None else Money(raw, currency)

    def unrealized_pnl(self, instrument_id: InstrumentId) -> Money | None:
        mark = self._marks.get(instrument_id)
        position = self._positions.get(instrument_id)
        if mark is None or position is None:
            return None
        instrument = self._instruments[instrument_id]
        return Money.from_decimal(
            Decimal(position.exact_unrealized(mark).numerator)
            / Decimal(position.exact_unrealized(mark).denominator)
            / FIXED_SCALAR,
            instrument.quote_currency,
        )

    # -- exposure and PnL for risk ----------------------------------------------------------

    def exposure_raw(self, instrument_id: InstrumentId) -> int:
        """Absolute position value at the last mark, raw quote units (0 without a mark)."""
        position = self._positions.get(instrument_id)
        mark = self._marks.get(instrument_id)
        if position is None or mark is None or position.signed_raw == 0:
            return 0
        return abs(position.signed_raw) * mark // FIXED_SCALAR

    def gross_exposure_raw(self, currency: Currency) -> int:
        """Sum of absolute position values of instruments quoted in ``currency``."""
        total = 0
        for instrument_id, position in self._positions.items():
            if position.signed_raw and position.quote_currency == currency:
                total += self.exposure_raw(instrument_id)
        return total

    def net_realized_raw(self, currency: Currency) -> int:
        """Realised PnL net of fees over all positions quoted in ``currency``, raw units."""
        total = 0
        for position in self._positions.values():
            if position.quote_currency == currency:
                total += position.net_realized_pnl.raw
        return total
