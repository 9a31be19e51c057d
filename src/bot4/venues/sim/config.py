"""Configuration of the simulated venue.

:class:`SimVenueConfig` is a frozen, keyword-only msgspec struct that rejects unknown keys when
decoded (``SimVenueConfig.from_mapping`` or ``msgspec.convert``). Every value is checked when the
struct is built or decoded, and a bad one raises :class:`ConfigError` naming the field and the
value, so a typo in a TOML file fails at load time rather than in the middle of a backtest.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec

from bot4.core.errors import Bot4Error, ConfigError
from bot4.core.numbers import to_raw
from bot4.model.enums import AccountType

__all__ = ["SimVenueConfig"]


class SimVenueConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How the simulated venue behaves.

    - ``venue``: the venue name; order ids are ``{venue}-{n}``, the account ``{venue}-001``.
    - ``account_type``: CASH spends only free balances; MARGIN may borrow up to ``leverage``.
    - ``starting_balances``: currency code -> decimal string, e.g. ``{"USDT": "100000"}``.
    - ``leverage``: MARGIN only, at least 1 (decimal string).
    - ``latency_ns``: delay between a command and the moment the venue sees it.
    - ``queue_position``: a resting order waits for the visible size ahead of it at its price
      to trade before a trade at its price fills it; False fills on touch.
    - ``maker_fee`` / ``taker_fee``: override the instruments' fee rates (decimal strings).
    - ``trade_through_fills_full``: a trade printing through a resting order's price fills it
      completely; False fills at most the trade's size.
    - ``id_prefix``: put into every venue order id and trade id (``SIM-<prefix>-1``,
      ``SIM-T<prefix>-1``). A backtest leaves it out (ids are reproducible); a paper session
      sets one per run, so trade ids never repeat across runs in one store, which keeps fills
      unique by venue and trade id.
    """

    venue: str = "SIM"
    account_type: AccountType = AccountType.CASH
    starting_balances: dict[str, str] = msgspec.field(default_factory=dict)
    leverage: str = "1"
    latency_ns: int = 0
    queue_position: bool = True
    maker_fee: str | None = None
    taker_fee: str | None = None
    trade_through_fills_full: bool = True
    id_prefix: str | None = None

    def __post_init__(self) -> None:
        if not self.venue or any(c.isspace() or c == "." for c in self.venue):
            raise ConfigError(
                "venue must be a non-empty name without spaces or dots", field="venue", value=self.venue
            )
        if isinstance(self.latency_ns, bool) or self.latency_ns < 0:
            raise ConfigError(
                "latency_ns must be a non-negative integer", field="latency_ns", value=self.latency_ns
            )
        if self.id_prefix is not None and (not self.id_prefix.isalnum()):
            raise ConfigError("id_prefix must be letters and digits", field="id_prefix", value=self.id_prefix)
        leverage = _decimal("leverage", self.leverage)
        if leverage < 1:
            raise ConfigError("leverage must be at least 1", field="leverage", value=self.leverage)
        for name in ("maker_fee", "taker_fee"):
            text = getattr(self, name)
            if text is not None:
                rate = _decimal(name, text)
                if not Decimal("-0.01") <= rate <= Decimal("0.1"):
                    raise ConfigError(
                        f"{name} must be a rate between -0.01 and 0.1 (e.g. 0.001 for 0.1%)", field=name, value=text
                    )
        for code, amount in self.starting_balances.items():
            key = f"starting_balances.{code}"
            if not code or any(c.isspace() for c in code):
                raise ConfigError("currency code must be non-empty without spaces", field=key, value=code)
            try:
                raw, _ = to_raw(amount)
            except Bot4Error:
                raise ConfigError("expected a decimal string", field=key, value=amount) from None
            if not isinstance(amount, str):
                raise ConfigError("expected a decimal string", field=key, value=amount)
            if raw < 0 and self.account_type is AccountType.CASH:
                raise ConfigError("a cash account cannot start negative", field=key, value=amount)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "<config>") -> SimVenueConfig:
        """Decode a parsed TOML table; unknown keys and wrong types raise :class:`ConfigError`."""
        try:
            return msgspec.convert(dict(data), cls)
        except msgspec.ValidationError as error:
            raise ConfigError(str(error), file=source) from None

    @property
    def leverage_decimal(self) -> Decimal:
        return Decimal(self.leverage)

    def starting_raw(self) -> dict[str, int]:
        """Starting balances as raw fixed-point ints, in the order they were given."""
        return {code: to_raw(amount)[0] for code, amount in self.starting_balances.items()}

    def fee_rates(self, maker: Decimal, taker: Decimal) -> tuple[Decimal, Decimal]:
        """The (maker, taker) rates to charge: the overrides where set, else the given ones."""
        return (
            maker if self.maker_fee is None else Decimal(self.maker_fee),
            taker if self.taker_fee is None else Decimal(self.taker_fee),
        )


def _decimal(field: str, text: object) -> Decimal:
    if not isinstance(text, str):
        raise ConfigError("expected a decimal string", field=field, value=text)
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ConfigError("expected a decimal string", field=field, value=text) from None
    if not value.is_finite():
        raise ConfigError("expected a finite decimal", field=field, value=text)
    return value
