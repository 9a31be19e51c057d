"""Canonical instruments with real Binance spot filters."""

from __future__ import annotations

from bot4.core.ids import InstrumentId
from bot4.core.numbers import Currency
from bot4.model.instrument import Instrument

__all__ = ["BTC", "ETH", "USDT", "btcusdt", "ethusdt"]

BTC = Currency("BTC", 8)
ETH = Currency("ETH", 8)
USDT = Currency("USDT", 8)


def btcusdt(venue: str = "SIM", maker_fee: str = "0.001", taker_fee: str = "0.001") -> Instrument:
    """BTCUSDT with Binance's spot filters (PRICE_FILTER 0.01, LOT_SIZE 0.00001, NOTIONAL 5)."""
    return _binance_spot("BTCUSDT", BTC, "0.00001", venue, maker_fee, taker_fee)


def ethusdt(venue: str = "SIM", maker_fee: str = "0.001", taker_fee: str = "0.001") -> Instrument:
    """ETHUSDT with Binance's spot filters (PRICE_FILTER 0.01, LOT_SIZE 0.0001, NOTIONAL 5)."""
    return _binance_spot("ETHUSDT", ETH, "0.0001", venue, maker_fee, taker_fee)


def _binance_spot(
    symbol: str, base: Currency, step: str, venue: str, maker_fee: str, taker_fee: str
) -> Instrument:
    return Instrument.create(
        instrument_id=InstrumentId.from_str(f"{symbol}.{venue}"),
        base=base,
        quote=USDT,
        tick_size="0.01",
        step_size=step,
        min_quantity=step,
        max_quantity="9000",
        min_notional="5",
        min_price="0.01",
        max_price="1000000",
        maker_fee=maker_fee,
        taker_fee=taker_fee,
    )
