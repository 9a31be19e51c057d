"""Request parameters, read and checked the way Binance reads them.

Binance takes parameters from the query string and, for POST/PUT/DELETE, from a
``application/x-www-form-urlencoded`` body, as one set: a name sent twice is -1101. Values are
checked by kind (symbol, decimal, integer, enum) with Binance's codes and texts, and an
endpoint that needs to can insist that every parameter sent was read (-1104).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import Enum
from typing import TypeVar
from urllib.parse import parse_qsl

import msgspec

from bot4.core.numbers import FIXED_PRECISION, to_raw
from bot4.model.enums import OrderSide
from bot4.model.instrument import Instrument
from bot4.venues.sim.binance_server.errors import ApiError, Msg
from bot4.venues.sim.binance_server.orders import OrderType, ResponseType, TimeInForce

__all__ = ["NewOrder", "Params", "parse_new_order", "split_pairs"]

E = TypeVar("E", bound=Enum)

_SYMBOL = re.compile(r"[A-Z0-9\-_.]{1,20}\Z")
_SYMBOL_LEGAL = "^[A-Z0-9-_.]{1,20}$"
_DECIMAL = re.compile(r"([0-9]{1,20})(\.[0-9]{1,20})?\Z")
_DECIMAL_LEGAL = "^([0-9]{1,20})(\\.[0-9]{1,20})?$"
_INTEGER = re.compile(r"-?[0-9]{1,20}\Z")
_INTEGER_LEGAL = "^[0-9]{1,20}$"
_CLIENT_ID = re.compile(r"[.A-Z:/a-z0-9_\-]{1,36}\Z")
_CLIENT_ID_LEGAL = "^[\\.A-Z\\:/a-z0-9_-]{1,36}$"


def split_pairs(raw: str) -> list[tuple[str, str]]:
    """``a=1&b=2`` -> ``[("a", "1"), ("b", "2")]``, percent- and plus-decoded, blanks kept."""
    if not raw:
        return []
    return parse_qsl(raw, keep_blank_values=True)


class Params:
    """One request's parameters (query string and form body together)."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.values: dict[str, str] = {}
        self.duplicated = False
        for name, value in pairs:
            self.duplicated = self.duplicated or name in self.values
            self.values[name] = value

    def check(self, allowed: frozenset[str] | None) -> None:
        """-1101 for a name sent twice; -1104 for a name the endpoint does not take."""
        if self.duplicated:
            raise ApiError(-1101, Msg.DUPLICATE_PARAM)
        if allowed is not None:
            sent = set(self.values) - {"signature"}
            if not sent <= allowed:
                raise ApiError.unread(len(sent & allowed), len(sent))

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def get(self, name: str) -> str | None:
        """The value, or None when absent; an empty value is -1105."""
        value = self.values.get(name)
        if value is not None and value == "":
            raise ApiError(-1105, f"Parameter '{name}' was empty.")
        return value

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise ApiError.mandatory(name)
        return value

    def symbol(self, instruments: Mapping[str, Instrument], name: str = "symbol") -> Instrument:
        return _instrument(self.require(name), instruments, name)

    def optional_symbol(self, instruments: Mapping[str, Instrument]) -> Instrument | None:
        value = self.get("symbol")
        return None if value is None else _instrument(value, instruments, "symbol")

    def decimal(self, name: str, precision: int) -> int | None:
        """A decimal amount as a raw int (1e-9 units), at most ``precision`` decimals."""
        value = self.get(name)
        if value is None:
            return None
        match = _DECIMAL.match(value)
        if match is None:
            raise ApiError.illegal(name, _DECIMAL_LEGAL)
        decimals = len((match.group(2) or ".")[1:].rstrip("0"))
        if decimals > min(precision, FIXED_PRECISION):
            raise ApiError.too_precise(name)
        return to_raw(value)[0]

    def integer(self, name: str) -> int | None:
        value = self.get(name)
        if value is None:
            return None
        if not _INTEGER.match(value):
            raise ApiError.illegal(name, _INTEGER_LEGAL)
        return int(value)

    def enum(self, name: str, kind: type[E], error: ApiError) -> E | None:
        value = self.get(name)
        if value is None:
            return None
        try:
            return kind(value)
        except ValueError:
            raise error from None

    def client_order_id(self, name: str) -> str | None:
        value = self.get(name)
        if value is not None and not _CLIENT_ID.match(value):
            raise ApiError.illegal(name, _CLIENT_ID_LEGAL)
        return value


def _instrument(value: str, instruments: Mapping[str, Instrument], name: str) -> Instrument:
    if not _SYMBOL.match(value):
        raise ApiError.illegal(name, _SYMBOL_LEGAL)
    instrument = instruments.get(value)
    if instrument is None:
        raise ApiError(-1121, Msg.BAD_SYMBOL)
    return instrument


class _Side(Enum):
    BUY = "BUY"
    SELL = "SELL"


class NewOrder(msgspec.Struct, frozen=True, kw_only=True):
    """A ``POST /api/v3/order`` request, checked for shape (not yet for filters or funds)."""

    instrument: Instrument
    side: OrderSide
    order_type: OrderType
    time_in_force: TimeInForce | None
    quantity_raw: int | None
    quote_qty_raw: int | None
    price_raw: int | None
    stop_raw: int | None
    client_order_id: str | None
    response_type: ResponseType


def parse_new_order(params: Params, instruments: Mapping[str, Instrument]) -> NewOrder:
    """Read a new order's parameters in Binance's order of checks."""
    instrument = params.symbol(instruments)
    side = params.enum("side", _Side, ApiError(-1117, Msg.INVALID_SIDE))
    if side is None:
        raise ApiError.mandatory("side")
    order_type = params.enum("type", OrderType, ApiError(-1116, Msg.INVALID_ORDER_TYPE))
    if order_type is None:
        raise ApiError.mandatory("type")
    tif = params.enum("timeInForce", TimeInForce, ApiError(-1115, Msg.INVALID_TIF))
    if order_type.has_time_in_force and tif is None:
        raise ApiError.mandatory("timeInForce")
    if not order_type.has_time_in_force and tif is not None:
        raise ApiError(-1114, Msg.TIF_NOT_REQUIRED)
    base_dp = instrument.base_currency.precision
    quote_dp = instrument.quote_currency.precision
    quantity = params.decimal("quantity", base_dp)
    quote_qty = params.decimal("quoteOrderQty", quote_dp)
    if order_type is OrderType.MARKET:
        if quantity is None and quote_qty is None:
            raise ApiError.either("quantity", "quoteOrderQty")
        if quantity is not None and quote_qty is not None:
            raise ApiError.not_required("quoteOrderQty")
    else:
        if quantity is None:
            raise ApiError.mandatory("quantity")
        if quote_qty is not None:
            raise ApiError.not_required("quoteOrderQty")
    price = params.decimal("price", quote_dp)
    if order_type.has_price and price is None:
        raise ApiError.mandatory("price")
    if not order_type.has_price and price is not None:
        raise ApiError.not_required("price")
    stop = params.decimal("stopPrice", quote_dp)
    if order_type.has_stop and stop is None:
        raise ApiError.mandatory("stopPrice")
    if not order_type.has_stop and stop is not None:
        raise ApiError.not_required("stopPrice")
    client_order_id = params.client_order_id("newClientOrderId")
    response_type = params.enum("newOrderRespType", ResponseType, ApiError.invalid_value("newOrderRespType"))
    if response_type is None:
        plain = order_type in (OrderType.LIMIT, OrderType.MARKET)
        response_type = ResponseType.FULL if plain else ResponseType.ACK
    iceberg = params.decimal("icebergQty", base_dp)
    if iceberg:
        raise ApiError(-2010, Msg.ICEBERG_UNSUPPORTED)
    return NewOrder(
        instrument=instrument,
        side=OrderSide.BUY if side is _Side.BUY else OrderSide.SELL,
        order_type=order_type,
        time_in_force=tif,
        quantity_raw=quantity,
        quote_qty_raw=quote_qty,
        price_raw=price,
        stop_raw=stop,
        client_order_id=client_order_id,
        response_type=response_type,
    )
