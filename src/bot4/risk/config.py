"""Configuration of the pre-trade risk engine.

:class:`RiskConfig` holds the global limits and, under ``instruments``, per-instrument
:class:`InstrumentRiskLimits` keyed by instrument id (``"BTCUSDT.BINANCE"``). For every check
the instrument's own value wins when it is set; otherwise the global value applies; when neither
is set the check is off. Every limit is optional and off by default, so an empty config lets
everything through.

Money and quantities are decimal strings (``"0.5"``, ``"250000"``), read exactly; quantities are
in the instrument's base asset, money in its quote currency. In TOML::

    [risk]
    max_order_notional = "50000"
    max_gross_exposure = "250000"
    max_open_orders_total = 50
    daily_loss_limit = "2000"
    on_daily_loss_limit = "HALTED"
    max_drawdown_bps = 500            # 5% below the equity high-water mark
    on_max_drawdown = "REDUCING"

    [risk.instruments."BTCUSDT.BINANCE"]
    max_order_qty = "0.5"
    max_position = "2"
    price_band_bps = 100              # limit price within 1% of the mark

Values are checked when the struct is built or decoded; a bad one raises :class:`ConfigError`
naming the key (``instruments.BTCUSDT.BINANCE.max_position``) and the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from bot4.core.config import convert_config, join_key
from bot4.core.errors import Bot4Error, ConfigError
from bot4.core.ids import InstrumentId
from bot4.core.numbers import to_raw
from bot4.risk.state import TradingState

__all__ = ["InstrumentRiskLimits", "RiskConfig", "every_check_config", "parse_amount", "parse_rate"]


class InstrumentRiskLimits(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Limits that apply per instrument; in :class:`RiskConfig` they are the defaults.

    - ``max_order_qty``: largest quantity of one order (base asset).
    - ``max_order_notional``: largest price x quantity of one order (quote currency); a market
      order is valued at the mark, a stop-market at its trigger price.
    - ``max_position``: largest absolute position after the order, counting the order's full
      quantity plus the other working orders on the same side (base asset).
    - ``max_gross_exposure``: largest sum of absolute position values of every instrument quoted
      in this instrument's quote currency, after the order (counted as for ``max_position``).
    - ``price_band_bps``: how far a limit price may be from the mark (last trade or mid), in
      basis points; a stop-limit's price is compared with its trigger price. Market orders pass.
    - ``max_open_orders``: working orders in this instrument, counting the new one.
    - ``max_orders_per_second`` / ``order_burst``: token bucket on the engine's clock; the rate
      may be fractional (``"0.5"``), the burst (bucket size) defaults to the rate rounded up.
    - ``check_balance``: a CASH account must hold the free quote (notional plus taker fee) for a
      buy and the free base for a sell; MARGIN accounts are not checked here.
    """

    max_order_qty: str | None = None
    max_order_notional: str | None = None
    max_position: str | None = None
    max_gross_exposure: str | None = None
    price_band_bps: int | None = None
    max_open_orders: int | None = None
    max_orders_per_second: int | str | None = None
    order_burst: int | None = None
    check_balance: bool | None = None


class RiskConfig(InstrumentRiskLimits, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Global limits, per-instrument overrides, and the account-wide loss limits.

    Besides the per-instrument defaults it inherits:

    - ``max_open_orders_total`` / ``max_orders_per_second_total`` / ``order_burst_total``:
      the same checks over all instruments together.
    - ``currency``: the currency equity and realised PnL are counted in; may be left out when
      every instrument is quoted in the same currency.
    - ``daily_loss_limit``: net realised loss (after fees) since 00:00 UTC that moves the trading
      state to ``on_daily_loss_limit`` when exceeded.
    - ``max_drawdown`` / ``max_drawdown_bps``: fall of equity below its high-water mark, as an
      amount or in basis points of the mark, that moves the state to ``on_max_drawdown``.
    - ``on_circuit_open``: the state to move to when the circuit breaker of an endpoint that
      carries orders opens (an order stream that gave up, a venue ban), because fills may then
      go unseen; ``ACTIVE`` ignores it. Default REDUCING: positions can still be closed.
    """

    instruments: dict[str, InstrumentRiskLimits] = msgspec.field(default_factory=dict)
    max_open_orders_total: int | None = None
    max_orders_per_second_total: int | str | None = None
    order_burst_total: int | None = None
    currency: str | None = None
    daily_loss_limit: str | None = None
    on_daily_loss_limit: TradingState = TradingState.HALTED
    max_drawdown: str | None = None
    max_drawdown_bps: int | None = None
    on_max_drawdown: TradingState = TradingState.HALTED
    on_circuit_open: TradingState = TradingState.REDUCING

    def __post_init__(self) -> None:
        _check_limits(self, "")
        _check_count("max_open_orders_total", self.max_open_orders_total)
        _check_rate(
            "max_orders_per_second_total", self.max_orders_per_second_total,
            "order_burst_total", self.order_burst_total,
        )
        _check_amount("daily_loss_limit", self.daily_loss_limit)
        _check_amount("max_drawdown", self.max_drawdown)
        _check_count("max_drawdown_bps", self.max_drawdown_bps)
        if self.max_drawdown_bps is not None and self.max_drawdown_bps > 10_000:
            raise _InvalidValue("max_drawdown_bps must be at most 10000", key="max_drawdown_bps", value=self.max_drawdown_bps)
        for name in ("on_daily_loss_limit", "on_max_drawdown"):
            if getattr(self, name) is TradingState.ACTIVE:
                raise _InvalidValue(f"{name} must be REDUCING or HALTED", key=name, value="ACTIVE")
        if self.currency is not None and (not self.currency or not self.currency.isalnum()):
            raise _InvalidValue("currency must be an alphanumeric code", key="currency", value=self.currency)
        for name, limits in self.instruments.items():
            try:
                InstrumentId.from_str(name)
            except Bot4Error:
                raise _InvalidValue(
                    "instrument key must look like SYMBOL.VENUE", key=f"instruments.{name}", value=name
                ) from None
            _check_limits(limits, f"instruments.{name}.")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, file: str | None = None, key: str = "risk") -> RiskConfig:
        """Decode a parsed TOML table; errors name the file and the full key."""
        what = "risk config"
        instruments = data.get("instruments")
        if isinstance(instruments, Mapping):
            # Decoded one by one first, so an error inside names the instrument (a path through
            # a dict value reaches msgspec's message without its key).
            for name, table in instruments.items():
                convert_config(table, InstrumentRiskLimits, file=file, key=join_key(key, f"instruments.{name}"), what=what)
        try:
            return convert_config(data, cls, file=file, key=key, what=what)
        except _InvalidValue as exc:
            context = dict(exc.context)
            context["key"] = join_key(key, str(context.get("key", "")))
            if file is not None:
                context["file"] = file
            raise ConfigError(exc.message, **context) from None

    def limits_for(self, instrument_id: InstrumentId) -> InstrumentRiskLimits | None:
        """The override table for ``instrument_id``, if the config has one."""
        return self.instruments.get(str(instrument_id))

    @property
    def watches_pnl(self) -> bool:
        """Whether a daily-loss or drawdown limit is set (these need equity and PnL)."""
        return (
            self.daily_loss_limit is not None
            or self.max_drawdown is not None
            or self.max_drawdown_bps is not None
        )


def every_check_config(
    *,
    max_order_qty: str = "100",
    max_order_notional: str = "10000000",
    max_position: str = "1000",
    max_gross_exposure: str = "100000000",
    price_band_bps: int = 1_000,
    max_open_orders: int = 10_000,
    max_open_orders_total: int = 100_000,
    max_orders_per_second: int | str = 1_000_000_000,
    max_orders_per_second_total: int | str = 1_000_000_000,
    daily_loss_limit: str = "1000000",
    max_drawdown_bps: int = 9_999,
    currency: str | None = None,
) -> RiskConfig:
    """A config with every check switched on and limits wide enough for ordinary orders.

    Meant for benchmarks and smoke tests: each order pays for every check, and an order of a
    sensible size near the market passes them all. Pass narrower values to exercise denials.
    """
    return RiskConfig(
        max_order_qty=max_order_qty,
        max_order_notional=max_order_notional,
        max_position=max_position,
        max_gross_exposure=max_gross_exposure,
        price_band_bps=price_band_bps,
        max_open_orders=max_open_orders,
        max_orders_per_second=max_orders_per_second,
        check_balance=True,
        max_open_orders_total=max_open_orders_total,
        max_orders_per_second_total=max_orders_per_second_total,
        daily_loss_limit=daily_loss_limit,
        max_drawdown_bps=max_drawdown_bps,
        currency=currency,
    )


class _InvalidValue(ConfigError):
    """A value the structs' own checks refuse; ``key`` is relative to the risk table."""


def parse_amount(key: str, text: str) -> int:
    """A positive decimal string as a raw int (1e-9 units); :class:`ConfigError` otherwise."""
    if not isinstance(text, str):
        raise _InvalidValue("expected a decimal string", key=key, value=text)
    try:
        raw, _ = to_raw(text)
    except Bot4Error:
        raise _InvalidValue("expected a decimal string", key=key, value=text) from None
    if raw <= 0:
        raise _InvalidValue("must be positive", key=key, value=text)
    return raw


def parse_rate(key: str, value: int | str) -> int:
    """Orders per second as a raw int (1e-9 orders per second)."""
    if isinstance(value, bool):
        raise _InvalidValue("expected orders per second (integer or decimal string)", key=key, value=value)
    if isinstance(value, int):
        if value <= 0:
            raise _InvalidValue("must be positive", key=key, value=value)
        return value * 10**9
    return parse_amount(key, value)


def _check_limits(limits: InstrumentRiskLimits, prefix: str) -> None:
    for name in ("max_order_qty", "max_order_notional", "max_position", "max_gross_exposure"):
        _check_amount(prefix + name, getattr(limits, name))
    _check_count(prefix + "price_band_bps", limits.price_band_bps)
    _check_count(prefix + "max_open_orders", limits.max_open_orders)
    _check_rate(
        prefix + "max_orders_per_second", limits.max_orders_per_second, prefix + "order_burst", limits.order_burst
    )


def _check_amount(key: str, text: str | None) -> None:
    if text is not None:
        parse_amount(key, text)


def _check_count(key: str, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or value < 0):
        raise _InvalidValue("must be a non-negative integer", key=key, value=value)


def _check_rate(rate_key: str, rate: int | str | None, burst_key: str, burst: int | None) -> None:
    if rate is not None:
        parse_rate(rate_key, rate)
    if burst is None:
        return
    if isinstance(burst, bool) or burst < 1:
        raise _InvalidValue("must be a positive integer", key=burst_key, value=burst)
    if rate is None:
        raise _InvalidValue(f"a burst needs a rate: set {rate_key} too", key=burst_key, value=burst)
