"""Per-instrument risk state: limits resolved to raw ints, cached references, working orders.

Built once per instrument, the first time the risk engine sees it, so that a check reads plain
slotted attributes: no config lookups, Decimal or string parsing on the hot path. Each limit is
a raw int (1e-9 units, like every number in Bot4) or None when the check is off.

Working orders are tracked here too (count, and the sum of leaves quantities per side) so that
the position, open-order and reduce-only checks cost an attribute read instead of a scan of the
order book. Each order's contribution is re-read from the live :class:`Order` on every one of
its events, which keeps the sums right whatever order the events come in.
"""

from __future__ import annotations

from typing import Any

from bot4.core.ids import ClientOrderId, InstrumentId, Venue
from bot4.core.numbers import Currency
from bot4.model.account import Account
from bot4.model.enums import OrderSide
from bot4.model.instrument import Instrument
from bot4.model.orders import Order
from bot4.model.position import Position
from bot4.risk.config import InstrumentRiskLimits, RiskConfig, parse_amount, parse_rate
from bot4.risk.throttle import TokenBucket

__all__ = ["ExposureGroup", "InstrumentRisk"]

ExposureGroup = list[tuple[Position, InstrumentId]]
"""Every position quoted in one currency, with its instrument id (shared by the instruments)."""


class InstrumentRisk:
    """What the risk engine knows about one instrument."""

    __slots__ = (
        "account",
        "band_bps",
        "base",
        "bucket",
        "buy_leaves",
        "check_balance",
        "counted",
        "fee_den",
        "fee_num",
        "group",
        "instrument",
        "instrument_id",
        "max_gross",
        "max_notional",
        "max_open",
        "max_position",
        "max_qty",
        "notional_check",
        "open_count",
        "position",
        "quote",
        "sell_leaves",
        "uses_mark",
        "uses_notional",
        "venue",
        "working",
    )

    def __init__(
        self,
        config: RiskConfig,
        instrument: Instrument,
        position: Position,
        group: ExposureGroup,
        now_ns: int,
    ) -> None:
        own = config.limits_for(instrument.id)

        def pick(name: str) -> tuple[str, Any]:
            """The instrument's value when set, else the global one, with its config key."""
            value = None if own is None else getattr(own, name)
            if value is not None:
                return f"instruments.{instrument.id}.{name}", value
            return name, getattr(config, name)

        def amount(name: str) -> int | None:
            where, value = pick(name)
            return None if value is None else parse_amount(where, value)

        self.instrument = instrument
        self.instrument_id = instrument.id
        self.venue: Venue = instrument.id.venue
        self.quote: Currency = instrument.quote_currency
        self.base: Currency = instrument.base_currency
        self.position = position
        self.group = group
        self.account: Account | None = None
        # The taker fee as an exact fraction, for the balance check: fee = ceil(notional * n / d).
        self.fee_num, self.fee_den = instrument.taker_fee.as_integer_ratio()

        self.max_qty = amount("max_order_qty")
        self.max_notional = amount("max_order_notional")
        self.max_position = amount("max_position")
        self.max_gross = amount("max_gross_exposure")
        self.band_bps: int | None = pick("price_band_bps")[1]
        self.max_open: int | None = pick("max_open_orders")[1]
        self.check_balance: bool = pick("check_balance")[1] is True
        rate_key, rate = pick("max_orders_per_second")
        self.bucket: TokenBucket | None = None
        if rate is not None:
            # The burst goes with the rate it was configured with.
            holder: InstrumentRiskLimits = config if own is None or own.max_orders_per_second is None else own
            self.bucket = TokenBucket(parse_rate(rate_key, rate), holder.order_burst, now_ns)

        # Which price work the configured checks need, decided once.
        self.uses_notional = self.max_notional is not None or self.max_gross is not None or self.check_balance
        self.uses_mark = self.uses_notional or self.band_bps is not None
        self.notional_check = (
            "MAX_ORDER_NOTIONAL" if self.max_notional is not None
            else "MAX_GROSS_EXPOSURE" if self.max_gross is not None
            else "INSUFFICIENT_BALANCE"
        )

        self.open_count = 0
        self.buy_leaves = 0  # leaves of working buys, raw base units
        self.sell_leaves = 0
        self.working: dict[ClientOrderId, Order] = {}
        self.counted: dict[ClientOrderId, int] = {}  # the leaves each order adds to the sums

    # -- working orders -------------------------------------------------------------------------

    def track(self, order: Order) -> bool:
        """Count ``order`` as working (or refresh it); False once it no longer works."""
        coid = order.client_order_id
        old = self.counted.get(coid)
        if old is None:
            if not order.is_open:
                return False
            self.working[coid] = order
            self.open_count += 1
            old = 0
        new = order.leaves_raw if order.is_open else 0
        if new != old:
            if order.side is OrderSide.BUY:
                self.buy_leaves += new - old
            else:
                self.sell_leaves += new - old
        if order.is_open:
            self.counted[coid] = new
            return True
        del self.counted[coid]
        del self.working[coid]
        self.open_count -= 1
        return False

    def __repr__(self) -> str:
        return (
            f"InstrumentRisk({self.instrument_id} open={self.open_count} "
            f"buy_leaves={self.buy_leaves} sell_leaves={self.sell_leaves})"
        )

