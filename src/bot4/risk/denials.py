"""Denial codes and the denials themselves: a stable code, a sentence, and the numbers as text.

Strings are built here and only here, when an order is refused: the pass path of the risk
engine compares raw ints and never formats anything. ``details`` always carries ``instrument``;
limit checks add ``limit`` and ``value`` (the figure compared with the limit) plus what went into
``value``. Numbers are decimal strings in the instrument's precision (more decimals only when
the raw value has them, so ``limit`` and ``value`` never print alike when they differ).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal
from enum import StrEnum

from bot4.core.numbers import FIXED_SCALAR
from bot4.execution.ports import Denial
from bot4.model.orders import Order
from bot4.risk.limits import InstrumentRisk
from bot4.risk.state import StateChangeCause, TradingState, TradingStateMachine
from bot4.risk.throttle import TOKEN, TokenBucket

__all__ = ["DenialCode", "fmt"]


class DenialCode(StrEnum):
    """Why risk refused an order. Stable: programs and dashboards branch on these."""

    UNKNOWN_INSTRUMENT = "UNKNOWN_INSTRUMENT"
    TRADING_HALTED = "TRADING_HALTED"  # halted by an operator
    REDUCING_ONLY = "REDUCING_ONLY"  # reducing by an operator; the order does not reduce
    DAILY_LOSS_LIMIT = "DAILY_LOSS_LIMIT"  # halted or reducing because the daily loss tripped
    MAX_DRAWDOWN = "MAX_DRAWDOWN"  # halted or reducing because the drawdown tripped
    MAX_ORDER_QTY = "MAX_ORDER_QTY"
    MAX_ORDER_NOTIONAL = "MAX_ORDER_NOTIONAL"
    MAX_POSITION = "MAX_POSITION"
    MAX_GROSS_EXPOSURE = "MAX_GROSS_EXPOSURE"
    PRICE_BAND = "PRICE_BAND"
    MAX_OPEN_ORDERS = "MAX_OPEN_ORDERS"
    RATE_LIMIT = "RATE_LIMIT"
    INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"
    NO_ACCOUNT = "NO_ACCOUNT"  # balance check on, but the venue has reported no account yet
    NO_MARK_PRICE = "NO_MARK_PRICE"  # a check needs a price and there is none


def fmt(raw: int, precision: int) -> str:
    """``raw`` as a decimal string with ``precision`` decimals, or more if it has them."""
    whole, frac = divmod(-raw if raw < 0 else raw, FIXED_SCALAR)
    digits = f"{frac:09d}"
    keep = max(precision, len(digits.rstrip("0")))
    text = f"{whole}.{digits[:keep]}" if keep else str(whole)
    return "-" + text if raw < 0 else text


def _qty(ir: InstrumentRisk, raw: int) -> str:
    return fmt(raw, ir.instrument.size_precision)


def _px(ir: InstrumentRisk, raw: int) -> str:
    return fmt(raw, ir.instrument.price_precision)


def _money(ir: InstrumentRisk, raw: int) -> str:
    return fmt(raw, ir.quote.precision)


def unknown_instrument(order: Order, where: str) -> Denial:
    return Denial(
        DenialCode.UNKNOWN_INSTRUMENT,
        f"instrument {order.instrument_id} is not known to the {where}",
        {"instrument": str(order.instrument_id)},
    )


def state_code(machine: TradingStateMachine) -> DenialCode:
    """The code for an order the trading state stops: the automatic cause, or the operator's state."""
    cause = machine.cause
    if cause is StateChangeCause.DAILY_LOSS_LIMIT:
        return DenialCode.DAILY_LOSS_LIMIT
    if cause is StateChangeCause.MAX_DRAWDOWN:
        return DenialCode.MAX_DRAWDOWN
    if machine.state is TradingState.HALTED:
        return DenialCode.TRADING_HALTED
    return DenialCode.REDUCING_ONLY


def halted(order: Order, machine: TradingStateMachine) -> Denial:
    details = {"instrument": str(order.instrument_id), "state": machine.state.value, "cause": machine.cause.value}
    details.update(machine.details)
    return Denial(state_code(machine), f"trading is halted: {machine.reason}", details)


def not_reducing(
    order: Order, ir: InstrumentRisk, machine: TradingStateMachine, position: int, working: int
) -> Denial:
    """In REDUCING: the order opens, increases or flips the position, or reduces by too much."""
    reducible = abs(position) - working
    if position == 0:
        why = "there is no position to reduce"
    elif (position > 0) == order.is_buy:
        why = "the order would increase the position"
    else:
        why = f"the order's quantity is above the {_qty(ir, max(reducible, 0))} left to reduce"
    details = {
        "instrument": str(ir.instrument_id),
        "state": machine.state.value,
        "cause": machine.cause.value,
        "side": order.side.name,
        "quantity": _qty(ir, order.quantity.raw),
        "position": _qty(ir, position),
        "working_reducing": _qty(ir, working),
        "reducible": _qty(ir, max(reducible, 0)),
    }
    details.update(machine.details)
    return Denial(state_code(machine), f"only reducing orders pass ({machine.reason}): {why}", details)


def no_mark(ir: InstrumentRisk, check: str) -> Denial:
    return Denial(
        DenialCode.NO_MARK_PRICE,
        f"no mark price for {ir.instrument_id} yet, needed by the {check} check",
        {"instrument": str(ir.instrument_id), "check": check},
    )


def no_equity(order: Order, currency: str, what: str) -> Denial:
    return Denial(
        DenialCode.NO_MARK_PRICE,
        f"equity in {currency} cannot be valued for the drawdown check: no mark for {what}",
        {"instrument": str(order.instrument_id), "check": DenialCode.MAX_DRAWDOWN.value, "unpriced": what},
    )


def max_qty(ir: InstrumentRisk, qty: int, limit: int) -> Denial:
    return Denial(
        DenialCode.MAX_ORDER_QTY,
        f"quantity {_qty(ir, qty)} is above the max order quantity {_qty(ir, limit)}",
        {"instrument": str(ir.instrument_id), "limit": _qty(ir, limit), "value": _qty(ir, qty)},
    )


def max_open(ir: InstrumentRisk, count: int, limit: int, scope: str) -> Denial:
    return Denial(
        DenialCode.MAX_OPEN_ORDERS,
        f"{count} orders already working ({scope}), the max is {limit}",
        {"instrument": str(ir.instrument_id), "scope": scope, "limit": str(limit), "value": str(count + 1)},
    )


def rate_limited(ir: InstrumentRisk, bucket: TokenBucket, scope: str) -> Denial:
    rate = fmt(bucket.rate_raw, 0)
    wait_ns = bucket.wait_ns()
    return Denial(
        DenialCode.RATE_LIMIT,
        f"order rate above {rate} per second ({scope}); next order in {wait_ns} ns",
        {
            "instrument": str(ir.instrument_id),
            "scope": scope,
            "limit": rate,
            "burst": str(bucket.capacity // TOKEN),
            "retry_after_ns": str(wait_ns),
        },
    )


def price_band(ir: InstrumentRisk, price: int, ref: int, bps: int, ref_name: str) -> Denial:
    off = Decimal(abs(price - ref) * 10_000) / Decimal(ref)
    value = format(off.quantize(Decimal("0.0001"), rounding=ROUND_CEILING), "f")
    return Denial(
        DenialCode.PRICE_BAND,
        f"price {_px(ir, price)} is {value} bps from the {ref_name} {_px(ir, ref)}, above the band of {bps} bps",
        {
            "instrument": str(ir.instrument_id),
            "limit": str(bps),
            "value": value,
            "price": _px(ir, price),
            ref_name: _px(ir, ref),
        },
    )


def max_notional(ir: InstrumentRisk, notional: int, limit: int, price: int, qty: int) -> Denial:
    return Denial(
        DenialCode.MAX_ORDER_NOTIONAL,
        f"notional {_money(ir, notional)} {ir.quote} is above the max order notional {_money(ir, limit)}",
        {
            "instrument": str(ir.instrument_id),
            "limit": _money(ir, limit),
            "value": _money(ir, notional),
            "price": _px(ir, price),
            "quantity": _qty(ir, qty),
        },
    )


def max_position(ir: InstrumentRisk, position: int, working: int, qty: int, projected: int, limit: int) -> Denial:
    return Denial(
        DenialCode.MAX_POSITION,
        f"position would reach {_qty(ir, projected)} (now {_qty(ir, position)}, working on this side "
        f"{_qty(ir, working)}, order {_qty(ir, qty)}), above the max position {_qty(ir, limit)}",
        {
            "instrument": str(ir.instrument_id),
            "limit": _qty(ir, limit),
            "value": _qty(ir, abs(projected)),
            "position": _qty(ir, position),
            "working_same_side": _qty(ir, working),
            "quantity": _qty(ir, qty),
        },
    )


def max_gross(ir: InstrumentRisk, gross: int, limit: int, projected: int, price: int) -> Denial:
    return Denial(
        DenialCode.MAX_GROSS_EXPOSURE,
        f"gross exposure would reach {_money(ir, gross)} {ir.quote}, above the max {_money(ir, limit)}",
        {
            "instrument": str(ir.instrument_id),
            "currency": ir.quote.code,
            "limit": _money(ir, limit),
            "value": _money(ir, gross),
            "position_after": _qty(ir, projected),
            "price": _px(ir, price),
        },
    )


def insufficient(ir: InstrumentRisk, currency: str, precision: int, free: int, need: int) -> Denial:
    return Denial(
        DenialCode.INSUFFICIENT_BALANCE,
        f"free {currency} {fmt(free, precision)} is below the {fmt(need, precision)} the order needs",
        {
            "instrument": str(ir.instrument_id),
            "currency": currency,
            "limit": fmt(free, precision),
            "value": fmt(need, precision),
        },
    )


def no_account(ir: InstrumentRisk) -> Denial:
    return Denial(
        DenialCode.NO_ACCOUNT,
        f"no account state reported for venue {ir.venue} yet; balances cannot be checked",
        {"instrument": str(ir.instrument_id), "venue": str(ir.venue)},
    )
