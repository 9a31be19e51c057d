"""What a backtest returns: orders, fills, positions, the equity curve and statistics.

Money and prices are written as exact decimal strings; statistics are floats (they are
ratios for reading, not balances). ``to_json`` is deterministic: the same run gives the same
bytes, which the determinism test checks.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import msgspec

from bot4.backtest.stats import Statistics
from bot4.core.numbers import FIXED_SCALAR
from bot4.model.events import OrderFilled
from bot4.model.instrument import Instrument
from bot4.model.orders import Order
from bot4.model.position import Position

__all__ = ["BacktestResult", "FillRecord", "OrderRecord", "PositionRecord"]


class FillRecord(msgspec.Struct, frozen=True, kw_only=True):
    ts_event: int
    client_order_id: str
    venue_order_id: str
    trade_id: str
    instrument_id: str
    side: str
    quantity: str
    price: str
    notional: str
    commission: str
    commission_currency: str
    commission_quote: str
    liquidity: str

    @classmethod
    def from_fill(cls, fill: OrderFilled, instrument: Instrument) -> FillRecord:
        notional = Decimal(fill.last_px.raw * fill.last_qty.raw) / FIXED_SCALAR / FIXED_SCALAR
        commission = fill.commission.as_decimal()
        if fill.commission.currency == instrument.quote_currency:
            in_quote = commission
        else:
            in_quote = commission * fill.last_px.as_decimal()
        return cls(
            ts_event=fill.ts_event,
            client_order_id=str(fill.client_order_id),
            venue_order_id=str(fill.venue_order_id),
            trade_id=str(fill.trade_id),
            instrument_id=str(fill.instrument_id),
            side=fill.order_side.name,
            quantity=str(fill.last_qty),
            price=str(fill.last_px),
            notional=_plain(notional),
            commission=str(commission),
            commission_currency=fill.commission.currency.code,
            commission_quote=_plain(in_quote),
            liquidity=fill.liquidity_side.value,
        )


class OrderRecord(msgspec.Struct, frozen=True, kw_only=True):
    client_order_id: str
    instrument_id: str
    side: str
    order_type: str
    quantity: str
    price: str | None
    trigger_price: str | None
    time_in_force: str
    status: str
    filled_qty: str
    avg_px: str | None
    ts_init: int
    ts_last: int
    reason: str | None

    @classmethod
    def from_order(cls, order: Order) -> OrderRecord:
        last = order.last_event
        reason = getattr(last, "reason", None) if last is not None else None
        avg = order.avg_px
        return cls(
            client_order_id=str(order.client_order_id),
            instrument_id=str(order.instrument_id),
            side=order.side.name,
            order_type=order.order_type.value,
            quantity=str(order.quantity),
            price=None if order.price is None else str(order.price),
            trigger_price=None if order.trigger_price is None else str(order.trigger_price),
            time_in_force=order.time_in_force.value,
            status=order.status.value,
            filled_qty=str(order.filled_qty),
            avg_px=None if avg is None else _plain(round(avg, 12)),
            ts_init=order.ts_init,
            ts_last=order.ts_last,
            reason=reason or None,
        )


class PositionRecord(msgspec.Struct, frozen=True, kw_only=True):
    instrument_id: str
    side: str
    quantity: str
    avg_px_open: str | None
    realized_pnl: str
    unrealized_pnl: str | None
    fees_paid: str

    @classmethod
    def from_position(cls, position: Position, mark_raw: int | None) -> PositionRecord:
        avg = position.avg_px_open
        from bot4.core.numbers import Price

        unrealized = None
        if mark_raw is not None:
            unrealized = str(position.unrealized_pnl(Price(mark_raw, position.price_precision)))
        return cls(
            instrument_id=str(position.instrument_id),
            side=position.side.value,
            quantity=str(position.quantity),
            avg_px_open=None if avg is None else _plain(round(avg, 12)),
            realized_pnl=str(position.realized_pnl),
            unrealized_pnl=unrealized,
            fees_paid=str(position.fees_paid),
        )


class BacktestResult(msgspec.Struct, kw_only=True):
    trader_id: str
    strategies: list[str]
    instruments: list[str]
    start_ns: int
    end_ns: int
    events: int
    skipped_events: int
    data_errors: list[str]
    equity_currency: str
    equity_curve: list[tuple[int, float]]
    orders: list[OrderRecord]
    fills: list[FillRecord]
    positions: list[PositionRecord]
    statistics: Statistics
    strategy_errors: int

    def to_json(self) -> bytes:
        return msgspec.json.format(msgspec.json.encode(self), indent=1)

    def write_json(self, path: Path) -> None:
        path.write_bytes(self.to_json())

    @classmethod
    def from_json(cls, data: bytes) -> BacktestResult:
        return msgspec.json.decode(data, type=cls)


def _plain(value: Decimal) -> str:
    """Fixed-point text without trailing zeros and never in exponent form ("600", not "6E+2")."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text
