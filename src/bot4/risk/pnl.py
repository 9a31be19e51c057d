"""The account-wide loss limits: daily realised loss and drawdown from the equity high-water mark.

**Daily loss** is the net realised PnL (after fees, from ``Portfolio.net_realized_raw``) lost
since 00:00 UTC: ``baseline - realised``, where the baseline is the realised PnL when the day
began. Realised PnL moves only on fills, and the monitor sees every fill, so the baseline of a
new day is the value before the first fill stamped on or after midnight. The monitor started
mid-day counts from its start (earlier fills of that day are not known as such).

**Drawdown** is ``high-water mark - equity``, equity being ``Portfolio.equity_raw`` in the
monitor's currency: every balance valued at the latest marks. Equity changes with balances
(account states) and with marks (market data, which sends no event), so it is re-read on every
fill, every account state and every order check (~0.25 us a read on a BTC + USDT account, now
that the portfolio plans the valuation once per balance change).

A breach is reported, not acted on: the risk engine moves the trading state.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot4.core.errors import ConfigError
from bot4.core.ids import InstrumentId
from bot4.core.numbers import Currency
from bot4.model.instrument import Instrument
from bot4.portfolio.portfolio import Portfolio
from bot4.risk.config import RiskConfig, parse_amount
from bot4.risk.denials import fmt
from bot4.risk.state import StateChangeCause

__all__ = ["DAY_NS", "LossMonitor", "pnl_currency", "unpriced_holding"]

DAY_NS = 86_400 * 10**9


class LossMonitor:
    """Daily realised loss and drawdown in one currency, kept up to date by the risk engine."""

    __slots__ = (
        "baseline_raw",
        "currency",
        "daily_limit",
        "day_end_ns",
        "day_start_ns",
        "drawdown_bps",
        "drawdown_limit",
        "equity_known",
        "equity_raw",
        "hwm_raw",
        "realized_raw",
        "watches_equity",
    )

    def __init__(self, config: RiskConfig, currency: Currency, realized_raw: int, now_ns: int) -> None:
        self.currency = currency
        self.daily_limit = None if config.daily_loss_limit is None else parse_amount(
            "daily_loss_limit", config.daily_loss_limit
        )
        self.drawdown_limit = None if config.max_drawdown is None else parse_amount(
            "max_drawdown", config.max_drawdown
        )
        self.drawdown_bps = config.max_drawdown_bps
        self.watches_equity = self.drawdown_limit is not None or self.drawdown_bps is not None
        self.equity_known = True  # False while a held currency cannot be valued
        self.day_start_ns = now_ns - now_ns % DAY_NS
        self.day_end_ns = self.day_start_ns + DAY_NS
        self.realized_raw = realized_raw
        self.baseline_raw = realized_raw
        self.equity_raw: int | None = None
        self.hwm_raw: int | None = None

    # -- daily realised loss ---------------------------------------------------------------------

    def roll_day(self, now_ns: int) -> None:
        """Start a new UTC day if ``now_ns`` is past the current one; the loss restarts at 0."""
        if now_ns >= self.day_end_ns:
            self.day_start_ns = now_ns - now_ns % DAY_NS
            self.day_end_ns = self.day_start_ns + DAY_NS
            self.baseline_raw = self.realized_raw

    def set_realized(self, realized_raw: int, now_ns: int) -> None:
        """Take the portfolio's net realised PnL after a fill stamped ``now_ns``."""
        self.roll_day(now_ns)  # before: the baseline is the value before this fill
        self.realized_raw = realized_raw

    @property
    def daily_loss_raw(self) -> int:
        """Net realised loss since the day began (negative when in profit)."""
        return self.baseline_raw - self.realized_raw

    def daily_breached(self) -> bool:
        limit = self.daily_limit
        return limit is not None and self.baseline_raw - self.realized_raw > limit

    # -- equity and drawdown ----------------------------------------------------------------------

    def update_equity(self, equity_raw: int | None) -> bool:
        """Take the portfolio's equity, raise the high-water mark; True on a drawdown breach.

        Called for every order check: one method doing the whole job (a Python call costs
        ~0.1 us here). None (a held currency without a mark) leaves the figures as they were
        and sets ``equity_known`` False.
        """
        if equity_raw is None:
            self.equity_known = False
            return False
        self.equity_known = True
        self.equity_raw = equity_raw
        hwm = self.hwm_raw
        if hwm is None or equity_raw >= hwm:
            self.hwm_raw = equity_raw
            return False
        drawdown = hwm - equity_raw
        limit = self.drawdown_limit
        if limit is not None and drawdown > limit:
            return True
        bps = self.drawdown_bps
        return bps is not None and drawdown * 10_000 > bps * hwm

    @property
    def drawdown_raw(self) -> int:
        """How far equity is below its high-water mark (0 before equity is known)."""
        if self.hwm_raw is None or self.equity_raw is None:
            return 0
        return self.hwm_raw - self.equity_raw

    def describe_breach(self, cause: StateChangeCause) -> tuple[str, dict[str, str]]:
        """The sentence and the numbers of a breach, for the state change it causes."""
        code, p = self.currency.code, self.currency.precision
        if cause is StateChangeCause.DAILY_LOSS_LIMIT:
            limit = fmt(self.daily_limit or 0, p)
            loss = fmt(self.daily_loss_raw, p)
            reason = f"daily net realised loss {loss} {code} exceeded the limit {limit} {code}"
            return reason, {"limit": limit, "value": loss, "currency": code}
        equity, drawdown, hwm = fmt(self.equity_raw or 0, p), fmt(self.drawdown_raw, p), fmt(self.hwm_raw or 0, p)
        reason = f"equity {equity} {code} is {drawdown} below its high-water mark {hwm} {code}, beyond the max drawdown"
        details = {"value": drawdown, "equity": equity, "high_water_mark": hwm, "currency": code}
        if self.drawdown_limit is not None:
            details["limit"] = fmt(self.drawdown_limit, p)
        if self.drawdown_bps is not None:
            details["limit_bps"] = str(self.drawdown_bps)
        return reason, details

    def rearm(self) -> None:
        """Count again from here (after an operator's decision): loss from now, mark at equity."""
        self.baseline_raw = self.realized_raw
        self.hwm_raw = self.equity_raw


def unpriced_holding(portfolio: Portfolio, instruments: Mapping[InstrumentId, Instrument], currency: Currency) -> str:
    """What keeps equity in ``currency`` from being valued, for a denial's details (slow path)."""
    for account in portfolio.accounts():
        for balance in account.balances.values():
            held = balance.currency
            if balance.total.raw == 0 or held == currency:
                continue
            pricing = next(
                (i.id for i in instruments.values() if i.base_currency == held and i.quote_currency == currency),
                None,
            )
            if pricing is None:
                return f"{held.code} (no instrument prices it in {currency.code})"
            if portfolio.mark_raw(pricing) is None:
                return str(pricing)
    return currency.code


def pnl_currency(config: RiskConfig, instruments: Mapping[InstrumentId, Instrument]) -> Currency:
    """The loss limits' currency: ``config.currency`` among the instruments' quote currencies,
    or the one quote currency they all share; :class:`ConfigError` otherwise."""
    quotes = {instrument.quote_currency for instrument in instruments.values()}
    codes = ", ".join(sorted(c.code for c in quotes))
    if config.currency is not None:
        for currency in quotes:
            if currency.code == config.currency:
                return currency
        raise ConfigError(
            "the loss limits' currency is not the quote currency of any instrument",
            key="currency",
            value=config.currency,
            expected=codes or "an instrument",
        )
    if len(quotes) == 1:
        return next(iter(quotes))
    raise ConfigError(
        f"set currency: the loss limits need one currency and the instruments are quoted in {codes or 'nothing yet'}",
        key="currency",
    )
