"""Rows for the status API and the summaries: positions, open orders, fills, PnL.

Plain functions over the engines' state; values stay exact (``Decimal``, ``Price``,
``Quantity``, ``Money``, ids) and the API renders them as strings.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from fractions import Fraction
from typing import Any

from bot4.core.numbers import FIXED_SCALAR, Currency
from bot4.execution.engine import ExecutionEngine
from bot4.model.events import OrderFilled
from bot4.portfolio.portfolio import Portfolio

__all__ = ["Pnl", "fill_rows", "order_rows", "pnl", "position_rows"]


class Pnl:
    """Realised (net of fees) and unrealised PnL of every position quoted in ``currency``."""

    __slots__ = ("currency", "realized", "unrealized")

    def __init__(self, currency: Currency, realized: Decimal, unrealized: Decimal) -> None:
        self.currency = currency
        self.realized = realized
        self.unrealized = unrealized

    @property
    def total(self) -> Decimal:
        return self.realized + self.unrealized

    def text(self) -> str:
        return f"{self.total:+,.2f} {self.currency.code}"


def pnl(portfolio: Portfolio, currency: Currency) -> Pnl:
    """The positions' PnL in ``currency``: what the strategies made, not the account's drift."""
    realized = Fraction(0)
    unrealized = Fraction(0)
    for position in portfolio.positions():
        if position.quote_currency != currency:
            continue
        realized += position.exact_realized() - position.exact_fees()
        mark = portfolio.mark_raw(position.instrument_id)
        if mark is not None and position.signed_raw:
            unrealized += position.exact_unrealized(mark)
    return Pnl(currency, _decimal(realized), _decimal(unrealized))


def position_rows(portfolio: Portfolio) -> list[dict[str, Any]]:
    """Every position that is not flat."""
    rows = []
    for position in sorted(portfolio.positions(), key=lambda p: str(p.instrument_id)):
        if position.is_flat:
            continue
        mark = portfolio.mark_raw(position.instrument_id)
        rows.append({
            "instrument_id": position.instrument_id,
            "side": position.side,
            "quantity": position.signed_qty,
            "avg_px_open": position.avg_px_open,
            "mark": None if mark is None else Decimal(mark) / FIXED_SCALAR,
            "realized_pnl": position.net_realized_pnl,
            "unrealized_pnl": portfolio.unrealized_pnl(position.instrument_id),
        })
    return rows


def order_rows(execution: ExecutionEngine) -> list[dict[str, Any]]:
    """Every open order, oldest first."""
    return [
        {
            "client_order_id": order.client_order_id,
            "strategy_id": order.strategy_id,
            "instrument_id": order.instrument_id,
            "side": order.side.name,
            "type": order.order_type,
            "quantity": order.quantity,
            "price": order.price,
            "filled": order.filled_qty,
            "status": order.status,
            "venue_order_id": order.venue_order_id,
        }
        for order in sorted(execution.open_orders(), key=lambda o: (o.ts_init, str(o.client_order_id)))
    ]


def fill_rows(fills: Iterable[OrderFilled], limit: int) -> list[dict[str, Any]]:
    """The ``limit`` most recent fills, newest first."""
    recent = list(fills)[-limit:] if limit > 0 else []
    return [
        {
            "ts_event": fill.ts_event,
            "client_order_id": fill.client_order_id,
            "instrument_id": fill.instrument_id,
            "side": fill.order_side.name,
            "quantity": fill.last_qty,
            "price": fill.last_px,
            "commission": fill.commission,
            "trade_id": fill.trade_id,
            "liquidity": fill.liquidity_side,
        }
        for fill in reversed(recent)
    ]


def _decimal(value: Fraction) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator) / FIXED_SCALAR).quantize(Decimal("1e-8"))
