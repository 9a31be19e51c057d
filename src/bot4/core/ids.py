"""Identifiers: one small immutable type per kind of id, never a bare ``str``.

They are frozen msgspec structs: hashable, cheap to build (the hot path builds a ``TradeId``
per trade tick) and serialisable. Validation lives in ``from_str`` constructors used at the
edges (parsers, config, CLI); engines pass ids through without re-checking them.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec

from bot4.core.errors import InvalidInputError

__all__ = [
    "AccountId",
    "ClientOrderId",
    "Identifier",
    "InstrumentId",
    "StrategyId",
    "Symbol",
    "TradeId",
    "TraderId",
    "Venue",
    "VenueOrderId",
]

_I = TypeVar("_I", bound="Identifier")


class Identifier(msgspec.Struct, frozen=True, gc=False):
    """A non-empty token without whitespace."""

    value: str

    @classmethod
    def from_str(cls: type[_I], value: str) -> _I:
        if not isinstance(value, str) or not value or any(c.isspace() for c in value):
            raise InvalidInputError(
                f"{cls.__name__} must be a non-empty string without spaces", value=value
            )
        return cls(value)

    def __str__(self) -> str:
        return self.value


class Symbol(Identifier, frozen=True, gc=False):
    """The venue's own name for an instrument, e.g. ``BTCUSDT``."""


class Venue(Identifier, frozen=True, gc=False):
    """A trading venue, e.g. ``BINANCE`` or ``SIM``."""


class ClientOrderId(Identifier, frozen=True, gc=False):
    """Our id for an order; idempotency key at the venue."""


class VenueOrderId(Identifier, frozen=True, gc=False):
    """The venue's id for an order."""


class TradeId(Identifier, frozen=True, gc=False):
    """The venue's id for one trade (a fill or a public trade print)."""


class AccountId(Identifier, frozen=True, gc=False):
    """An account at a venue, ``VENUE-NAME`` by convention."""


class StrategyId(Identifier, frozen=True, gc=False):
    """A running strategy instance."""


class TraderId(Identifier, frozen=True, gc=False):
    """A trading node; part of every client order id it mints."""


class InstrumentId(msgspec.Struct, frozen=True, gc=False):
    """``SYMBOL.VENUE``, e.g. ``BTCUSDT.BINANCE``; the venue is after the last dot."""

    symbol: Symbol
    venue: Venue

    @classmethod
    def from_str(cls, value: str) -> InstrumentId:
        if not isinstance(value, str):
            raise InvalidInputError("instrument id must be a string", value=value)
        symbol, dot, venue = value.rpartition(".")
        if not dot or not symbol or not venue:
            raise InvalidInputError(
                "instrument id must look like SYMBOL.VENUE", value=value
            )
        return cls(Symbol.from_str(symbol), Venue.from_str(venue))

    def __str__(self) -> str:
        return f"{self.symbol.value}.{self.venue.value}"
