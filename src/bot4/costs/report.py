"""Per-fill cost records: slippage against the arrival mid and fees against the fee model.

:class:`CostReport` listens on a :class:`~bot4.core.bus.MessageBus`, so it works the same in a
backtest, a paper session and live:

- on ``OrderSubmitted`` (topic ``events.order.*``) it asks ``mid_of(instrument_id)`` for the
  mid at that moment: the order's *arrival mid*;
- on every ``OrderFilled`` (topic ``events.fills``) it records a :class:`FillCost`: price,
  slippage in bps against the arrival mid (positive = worse for us), the fee the venue
  reported, the fee the :class:`~bot4.costs.fees.FeeBook` predicted and their difference.

The reported fee is the one that counts (it is what the portfolio books); the expected fee
only measures the model. Example, in a backtest or a node that has a data engine::

    from bot4.costs import CostReport, FeeBook

    def mid_of(instrument_id):
        book = data_engine.book(instrument_id)
        return None if book is None else book.mid()

    costs = CostReport(bus, mid_of, fees=FeeBook.defaults(), instrument_of=instruments.get)
    ...                                   # run: strategies trade, fills arrive on the bus
    print(costs.render())                 # one line per fill, then the summary
    summary = costs.summary()             # total fees, notional-weighted slippage, model error
    costs.close()                         # stop listening

A fill whose order was submitted before the report started (or without a mid at the time)
has no arrival mid and no slippage; a venue without a fee schedule has no expected fee. Both
are counted in the summary, never guessed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal

import msgspec

from bot4.core.bus import MessageBus
from bot4.core.ids import ClientOrderId, InstrumentId, TradeId, Venue
from bot4.core.numbers import FIXED_PRECISION, Price, Quantity
from bot4.costs.fees import FeeBook, fee_check
from bot4.costs.slippage import slippage_bps
from bot4.model.enums import LiquiditySide, OrderSide
from bot4.model.events import (
    OrderCanceled,
    OrderDenied,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderSubmitted,
)
from bot4.model.instrument import Instrument

__all__ = ["CostReport", "CostSummary", "FillCost", "render_table"]

MidOf = Callable[[InstrumentId], Decimal | None]
InstrumentOf = Callable[[InstrumentId], Instrument | None]

_CTX = Context(prec=28, rounding=ROUND_HALF_EVEN)
_EXACT = Context(prec=60, rounding=ROUND_HALF_EVEN)
_ZERO = Decimal(0)
_BPS = Decimal(10_000)
_ENDED = (OrderCanceled, OrderExpired, OrderRejected, OrderDenied)
_SPOT = "spot"  # instruments are spot pairs for now; the class becomes a field when others come


class FillCost(msgspec.Struct, frozen=True, kw_only=True):
    """The cost of one fill.

    ``slippage_bps`` is against ``arrival_mid`` (None when no mid was known at submission).
    ``fee_reported`` is in ``fee_currency``; ``fee_expected`` is the model's fee in
    ``fee_expected_currency`` (the same currency whenever the model could convert) and
    ``fee_difference = fee_reported - fee_expected`` when both are in one currency.
    """

    client_order_id: ClientOrderId
    trade_id: TradeId
    venue: Venue
    instrument_id: InstrumentId
    side: OrderSide
    qty: Quantity
    price: Price
    liquidity: LiquiditySide
    notional: Decimal
    arrival_mid: Decimal | None
    slippage_bps: Decimal | None
    fee_reported: Decimal
    fee_currency: str
    fee_expected: Decimal | None
    fee_expected_currency: str | None
    fee_difference: Decimal | None
    ts: int

    @property
    def slippage_cost(self) -> Decimal | None:
        """What slippage cost in quote currency: ``(price - mid) * qty``, signed like the bps."""
        if self.arrival_mid is None:
            return None
        move = _EXACT.multiply(_EXACT.subtract(self.price.as_decimal(), self.arrival_mid), self.qty.as_decimal())
        return move if self.side is OrderSide.BUY else -move


class CostSummary(msgspec.Struct, frozen=True, kw_only=True):
    """Totals over a list of :class:`FillCost`.

    ``avg_slippage_bps`` weights each fill by its notional, over the fills with an arrival
    mid; notionals are added as they are, so mixing quote currencies mixes their units.
    ``fee_model_error`` sums ``fee_difference`` per currency (positive: venues charged more
    than modelled), ``fee_model_abs_error`` sums its absolute value.
    """

    fills: int
    notional: Decimal
    fees: dict[str, Decimal]
    avg_slippage_bps: Decimal | None
    slippage_cost: Decimal
    fee_model_error: dict[str, Decimal]
    fee_model_abs_error: dict[str, Decimal]
    fills_without_mid: int
    fills_without_fee_model: int

    @classmethod
    def of(cls, costs: Iterable[FillCost]) -> CostSummary:
        count = 0
        notional = _ZERO
        fees: dict[str, Decimal] = {}
        weighted = _ZERO
        weight = _ZERO
        slip_cost = _ZERO
        error: dict[str, Decimal] = {}
        abs_error: dict[str, Decimal] = {}
        without_mid = 0
        without_model = 0
        for cost in costs:
            count += 1
            notional = _EXACT.add(notional, cost.notional)
            fees[cost.fee_currency] = _EXACT.add(fees.get(cost.fee_currency, _ZERO), cost.fee_reported)
            if cost.slippage_bps is None:
                without_mid += 1
            else:
                weighted = _EXACT.add(weighted, _EXACT.multiply(cost.slippage_bps, cost.notional))
                weight = _EXACT.add(weight, cost.notional)
                slip_cost = _EXACT.add(slip_cost, cost.slippage_cost or _ZERO)
            if cost.fee_difference is None:
                without_model += 1
            else:
                code = cost.fee_currency
                error[code] = _EXACT.add(error.get(code, _ZERO), cost.fee_difference)
                abs_error[code] = _EXACT.add(abs_error.get(code, _ZERO), abs(cost.fee_difference))
        return cls(
            fills=count,
            notional=notional,
            fees=dict(sorted(fees.items())),
            avg_slippage_bps=_CTX.divide(weighted, weight) if weight else None,
            slippage_cost=slip_cost,
            fee_model_error=dict(sorted(error.items())),
            fee_model_abs_error=dict(sorted(abs_error.items())),
            fills_without_mid=without_mid,
            fills_without_fee_model=without_model,
        )

    def render(self) -> str:
        """Plain-text lines: what was traded and what it cost."""

        def per_currency(amounts: dict[str, Decimal]) -> str:
            return ", ".join(f"{_plain(v)} {k}" for k, v in amounts.items()) or "none"

        avg = "n/a" if self.avg_slippage_bps is None else f"{_bps(self.avg_slippage_bps)} bps"
        return "\n".join([
            f"fills: {self.fills}   notional: {_plain(self.notional)}",
            f"fees paid (as reported): {per_currency(self.fees)}",
            f"slippage vs arrival mid: {avg} (notional-weighted), cost {_plain(self.slippage_cost)}"
            + (f"; {self.fills_without_mid} fill(s) without an arrival mid" if self.fills_without_mid else ""),
            f"fee model error (reported - expected): {per_currency(self.fee_model_error)}"
            + f"; absolute {per_currency(self.fee_model_abs_error)}"
            + (f"; {self.fills_without_fee_model} fill(s) not modelled" if self.fills_without_fee_model else ""),
        ])


class CostReport:
    """Collects a :class:`FillCost` for every fill published on ``bus`` (see the module doc).

    ``fees`` gives expected fees (None: none expected); ``instrument_of`` gives the
    instrument of a fill, used to convert fees paid in the base asset; ``volume_30d`` is each
    venue's 30-day volume for its fee tier (0 when missing). Arrival mids of orders that
    neither fill nor end are kept for at most ``max_tracked_orders`` orders, oldest dropped.
    """

    def __init__(
        self,
        bus: MessageBus,
        mid_of: MidOf,
        *,
        fees: FeeBook | None = None,
        instrument_of: InstrumentOf | None = None,
        volume_30d: Mapping[str, Decimal] | None = None,
        max_tracked_orders: int = 100_000,
    ) -> None:
        self._bus = bus
        self._mid_of = mid_of
        self._fees = fees
        self._instrument_of = instrument_of
        self._volume = dict(volume_30d or {})
        self._max_tracked = max(1, max_tracked_orders)
        self._arrival: dict[ClientOrderId, Decimal | None] = {}
        self.fills: list[FillCost] = []
        bus.subscribe("events.order.*", self._on_order_event)
        bus.subscribe("events.fills", self._on_fill)

    def close(self) -> None:
        """Stop listening; what was recorded stays."""
        self._bus.unsubscribe("events.order.*", self._on_order_event)
        self._bus.unsubscribe("events.fills", self._on_fill)

    def arrival_mid(self, client_order_id: ClientOrderId) -> Decimal | None:
        """The mid captured when the order was submitted (None if unknown or none then)."""
        return self._arrival.get(client_order_id)

    def record(self, fill: OrderFilled) -> FillCost:
        """Build, keep and return the cost of ``fill`` (the bus handler calls this)."""
        arrival = self._arrival.get(fill.client_order_id)
        price = fill.last_px
        notional = Decimal(f"{fill.last_qty.raw * price.raw}E-{2 * FIXED_PRECISION}")  # exact
        slip = None if arrival is None else slippage_bps(fill.order_side, price.as_decimal(), arrival)
        venue = fill.instrument_id.venue
        expected: Decimal | None = None
        expected_currency: str | None = None
        difference: Decimal | None = None
        if self._fees is not None:
            instrument = None if self._instrument_of is None else self._instrument_of(fill.instrument_id)
            schedule = self._fees.get(venue.value, _SPOT)
            if schedule is not None:
                check = fee_check(
                    fill, schedule, self._volume.get(venue.value, _ZERO), instrument=instrument
                )
                expected, expected_currency, difference = (
                    check.expected, check.expected_currency, check.difference,
                )
        cost = FillCost(
            client_order_id=fill.client_order_id,
            trade_id=fill.trade_id,
            venue=venue,
            instrument_id=fill.instrument_id,
            side=fill.order_side,
            qty=fill.last_qty,
            price=price,
            liquidity=fill.liquidity_side,
            notional=notional,
            arrival_mid=arrival,
            slippage_bps=slip,
            fee_reported=fill.commission.as_decimal(),
            fee_currency=fill.commission.currency.code,
            fee_expected=expected,
            fee_expected_currency=expected_currency,
            fee_difference=difference,
            ts=fill.ts_event,
        )
        self.fills.append(cost)
        return cost

    def summary(self) -> CostSummary:
        return CostSummary.of(self.fills)

    def render(self) -> str:
        """A plain-text table, one row per fill, followed by the summary."""
        return render_table(self.fills) + "\n\n" + self.summary().render()

    # -- bus handlers --------------------------------------------------------------------------

    def _on_order_event(self, event: object) -> None:
        if isinstance(event, OrderSubmitted):
            arrival = self._mid_of(event.instrument_id)
            if arrival is not None and (not arrival.is_finite() or arrival <= 0):
                arrival = None  # a bad mid is no mid: the fill gets no slippage, not a wrong one
            tracked = self._arrival
            tracked[event.client_order_id] = arrival
            if len(tracked) > self._max_tracked:
                del tracked[next(iter(tracked))]
        elif isinstance(event, _ENDED):
            self._arrival.pop(event.client_order_id, None)

    def _on_fill(self, event: object) -> None:
        if isinstance(event, OrderFilled):
            self.record(event)


def render_table(costs: Iterable[FillCost]) -> str:
    """Render fills as an aligned plain-text table (numbers right-aligned)."""
    header = ["time (UTC)", "venue", "instrument", "side", "qty", "price", "arrival mid",
              "slip bps", "fee", "expected", "diff", "ccy", "liq"]
    rows = [
        [
            _time(c.ts), c.venue.value, str(c.instrument_id.symbol), c.side.name, str(c.qty),
            str(c.price), "" if c.arrival_mid is None else _plain(c.arrival_mid),
            "" if c.slippage_bps is None else _bps(c.slippage_bps), _plain(c.fee_reported),
            "" if c.fee_expected is None else _plain(c.fee_expected)
            + ("" if c.fee_expected_currency in (None, c.fee_currency) else f" {c.fee_expected_currency}"),
            "" if c.fee_difference is None else _plain(c.fee_difference), c.fee_currency,
            c.liquidity.value[0],
        ]
        for c in costs
    ]
    left = {0, 1, 2, 3, 11, 12}
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.ljust(widths[i]) if i in left else cell.rjust(widths[i]) for i, cell in enumerate(cells)
        ).rstrip()

    out = [line(header), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    if not rows:
        out.append("(no fills)")
    return "\n".join(out)


def _time(ts: int) -> str:
    moment = datetime.fromtimestamp(ts // 1_000_000_000, UTC)
    return f"{moment:%Y-%m-%d %H:%M:%S}.{(ts % 1_000_000_000) // 1_000_000:03d}"


def _plain(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros (``0.00012``, ``12``)."""
    text = format(value.normalize(_EXACT), "f")
    return "0" if text in ("-0", "0") else text


def _bps(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN), "f")
