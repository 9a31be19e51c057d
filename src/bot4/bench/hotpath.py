"""The in-process order path the hot-path scenarios drive: real engines, a no-op venue client.

:func:`build_hot_path` wires what the backtest engine wires (``Portfolio(bus)``,
``ExecutionEngine(bus, clock)``, ``DataEngine(bus, portfolio)``, a strategy attached to a
context) with one difference: the venue is a :class:`NoopVenueClient`, which takes the order
and does nothing, so a scenario measures Bot4's side of the path and nothing of a venue's.
The account is a spot (CASH) account holding 10 BTC and 1,000,000 USDT, reported through
``ExecutionEngine.process`` as a venue would; the BTCUSDT mark is 60000.00.

:func:`build_risk` builds the pre-trade risk engine with every check switched on and limits
that a well-behaved order stream passes (:data:`RISK_LIMITS`), when ``bot4.risk`` exists;
:func:`risk_unavailable` says why it cannot be built otherwise. The order streams
(:func:`order_stream`) alternate buy and sell, market and limit, with small quantities and
limit prices within 0.5% of the mark, all on the instrument's tick and lot.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from bot4.core.bus import MessageBus
from bot4.core.clock import TestClock
from bot4.core.errors import UnknownInstrumentError
from bot4.core.ids import (
    AccountId,
    InstrumentId,
    StrategyId,
    TradeId,
    TraderId,
    Venue,
    VenueOrderId,
)
from bot4.core.numbers import FIXED_SCALAR, Currency, Money, Price, Quantity
from bot4.data.engine import DataEngine
from bot4.execution.engine import ExecutionEngine
from bot4.model.account import AccountBalance, AccountState
from bot4.model.book import OrderBook
from bot4.model.enums import AccountType, LiquiditySide, OrderSide
from bot4.model.events import OrderCanceled, OrderFilled
from bot4.model.instrument import Instrument
from bot4.model.orders import Order
from bot4.portfolio.portfolio import Portfolio
from bot4.testkit.instruments import btcusdt

__all__ = [
    "MARK_RAW",
    "START_NS",
    "HotPath",
    "RISK_LIMITS",
    "NoopVenueClient",
    "StampingVenueClient",
    "build_hot_path",
    "build_risk",
    "cancel_orders",
    "fill_order",
    "open_position",
    "order_stream",
    "risk_unavailable",
]

START_NS = 1_723_075_200_000_000_000  # 2024-08-08 00:00:00 UTC, as the trade workload
MARK_RAW = 60_000 * FIXED_SCALAR  # 60000.00 USDT
STRATEGY = "BENCH-001"
TRADER = "BENCH"
ACCOUNT = "SIM-001"
BALANCES = {"BTC": 10, "USDT": 1_000_000}

_perf = time.perf_counter_ns


class NoopVenueClient:
    """A :class:`~bot4.execution.ports.VenueClient` that accepts every command and does nothing.

    It only counts, so the cost of the venue side is one method call and an increment. The
    protocol's read-only properties are plain attributes here (cheaper, same contract).
    """

    __slots__ = ("account_id", "canceled", "modified", "submitted", "supports_amend", "venue")

    def __init__(self, venue: Venue, account_id: AccountId, supports_amend: bool = True) -> None:
        self.venue = venue
        self.account_id = account_id
        self.supports_amend = supports_amend
        self.submitted = 0
        self.canceled = 0
        self.modified = 0

    def submit_order(self, order: Order) -> None:
        self.submitted += 1

    def cancel_order(self, order: Order) -> None:
        self.canceled += 1

    def modify_order(
        self,
        order: Order,
        quantity: Quantity | None = None,
        price: Price | None = None,
        trigger_price: Price | None = None,
    ) -> None:
        self.modified += 1


class StampingVenueClient(NoopVenueClient):
    """A no-op venue client that stamps ``perf_counter_ns`` when an order is handed to it.

    ``received`` holds ``(stamp, order)`` pairs until the scenario takes them; the stamp is the
    first thing ``submit_order`` does, so it marks the moment the order reached the venue side.
    """

    __slots__ = ("received",)

    def __init__(self, venue: Venue, account_id: AccountId, supports_amend: bool = True) -> None:
        super().__init__(venue, account_id, supports_amend)
        self.received: list[tuple[int, Order]] = []

    def submit_order(self, order: Order) -> None:
        self.received.append((_perf(), order))
        self.submitted += 1


class HotPath:
    """The engines of one in-process trading node; also the strategies' context."""

    def __init__(self, instrument: Instrument, client_factory: Callable[[Venue, AccountId], NoopVenueClient],
                 start_ns: int = START_NS) -> None:
        self.trader_id = TraderId(TRADER)
        self.strategy_id = StrategyId(STRATEGY)
        self.clock = TestClock(start_ns)
        self.bus = MessageBus()
        self.portfolio = Portfolio(self.bus)
        self.execution = ExecutionEngine(self.bus, self.clock)
        self.data_engine = DataEngine(self.bus, self.portfolio)
        self.instrument_ = instrument
        self.instruments = {instrument.id: instrument}
        self.client = client_factory(instrument.id.venue, AccountId(ACCOUNT))
        self.risk: Any = None
        self.execution.register_client(self.client)
        self.execution.add_instrument(instrument)
        self.portfolio.add_instrument(instrument)
        self.data_engine.add_instrument(instrument)

    # StrategyContext (``execution``, ``portfolio``, ``clock``, ``bus`` and ``trader_id`` are attributes)

    def book(self, instrument_id: InstrumentId) -> OrderBook | None:
        return self.data_engine.book(instrument_id)

    def instrument(self, instrument_id: InstrumentId) -> Instrument:
        found = self.instruments.get(instrument_id)
        if found is None:
            raise UnknownInstrumentError("instrument is not registered", instrument=str(instrument_id))
        return found


def _balances(instrument: Instrument) -> list[AccountBalance]:
    out = []
    for currency in (instrument.base_currency, instrument.quote_currency):
        total = Money(BALANCES.get(currency.code, 0) * FIXED_SCALAR, currency)
        out.append(AccountBalance.of(total, Money.zero(currency)))
    return out


def build_hot_path(
    instrument: Instrument | None = None,
    client_factory: Callable[[Venue, AccountId], NoopVenueClient] = NoopVenueClient,
    start_ns: int = START_NS,
) -> HotPath:
    """Engines wired as in a backtest, a no-op venue client, a funded spot account, a mark."""
    hp = HotPath(instrument or btcusdt("SIM"), client_factory, start_ns)
    hp.execution.process(AccountState(
        account_id=AccountId(ACCOUNT),
        account_type=AccountType.CASH,
        balances=_balances(hp.instrument_),
        ts_event=start_ns,
        ts_init=start_ns,
    ))
    hp.portfolio.update_mark(hp.instrument_.id, MARK_RAW)
    # What a strategy subscribes when attached: its order events (one cheap handler here).
    hp.bus.subscribe(f"events.order.{hp.strategy_id}", _ignore)
    return hp


def _ignore(_msg: object) -> None:
    return None


def order_stream(hp: HotPath, n: int, seed: int = 7) -> list[Order]:
    """``n`` orders for the hot path's instrument: buy/sell alternating, market/limit alternating.

    Quantities are 0.001-0.005 BTC (60-300 USDT at the mark, well above min notional), limit
    prices within 0.5% of the mark on the 0.01 tick. Ids come from the execution engine's
    generator for the bench strategy, as a strategy would get them. Built untimed.
    """
    rng = random.Random(seed)
    instrument = hp.instrument_
    iid = instrument.id
    sid = hp.strategy_id
    tick = instrument.tick_size
    step = instrument.step_size
    pp, sp = instrument.price_precision, instrument.size_precision
    now = hp.clock.timestamp_ns()
    next_id = hp.execution.next_client_order_id
    orders: list[Order] = []
    for i in range(n):
        side = OrderSide.BUY if i % 2 == 0 else OrderSide.SELL
        qty = Quantity((100 + int(rng.random() * 400)) * step, sp)
        if i % 4 < 2:
            orders.append(Order.market(client_order_id=next_id(hp.trader_id, sid), strategy_id=sid,
                                       instrument_id=iid, side=side, quantity=qty, ts_init=now))
        else:
            offset = int(rng.random() * 30_000) * tick  # 0 to 300.00 USDT: within 0.5% of 60000
            price = MARK_RAW - offset if side is OrderSide.BUY else MARK_RAW + offset
            orders.append(Order.limit(client_order_id=next_id(hp.trader_id, sid), strategy_id=sid,
                                      instrument_id=iid, side=side, quantity=qty,
                                      price=Price(price, pp), ts_init=now))
    return orders


def cancel_orders(hp: HotPath, orders: list[Order]) -> None:
    """Report every still-open order of ``orders`` canceled by the venue (untimed clean-up).

    Keeps the number of working orders, and the risk engine's view of them, bounded as on a
    real venue where market orders fill or expire at once.
    """
    process = hp.execution.process
    now = hp.clock.timestamp_ns()
    for order in orders:
        if order.is_open:
            process(OrderCanceled(client_order_id=order.client_order_id, instrument_id=order.instrument_id,
                                  strategy_id=order.strategy_id, ts_event=now, ts_init=now))


def fill_order(hp: HotPath, order: Order, price_raw: int, trade_no: int) -> None:
    """Report ``order`` fully filled at ``price_raw`` with a 0.1% fee, as a venue would."""
    instrument = hp.instrument_
    quote: Currency = instrument.quote_currency
    fee = order.quantity.raw * price_raw // FIXED_SCALAR // 1000
    now = hp.clock.timestamp_ns()
    hp.execution.process(OrderFilled(
        client_order_id=order.client_order_id,
        instrument_id=order.instrument_id,
        strategy_id=order.strategy_id,
        ts_event=now,
        ts_init=now,
        venue_order_id=VenueOrderId(f"V-{trade_no}"),
        trade_id=TradeId(f"BENCH-T{trade_no}"),
        order_side=order.side,
        last_qty=order.quantity,
        last_px=Price(price_raw, instrument.price_precision),
        commission=Money(fee, quote),
        liquidity_side=LiquiditySide.TAKER,
    ))


def open_position(hp: HotPath, quantity: str, price_raw: int = MARK_RAW) -> None:
    """Hold ``quantity`` (signed, base units) of the instrument: one market order, filled at once."""
    instrument = hp.instrument_
    qty = instrument.make_qty(quantity.lstrip("-"))
    side = OrderSide.SELL if quantity.startswith("-") else OrderSide.BUY
    order = Order.market(client_order_id=hp.execution.next_client_order_id(hp.trader_id, hp.strategy_id),
                         strategy_id=hp.strategy_id, instrument_id=instrument.id, side=side, quantity=qty,
                         ts_init=hp.clock.timestamp_ns())
    hp.execution.submit_order(order)
    fill_order(hp, order, price_raw, 0)


def risk_unavailable() -> str | None:
    """Why the risk engine cannot be built, or None when it can."""
    try:
        import bot4.risk as risk
    except ImportError as exc:
        return f"bot4.risk is not importable: {exc}"
    missing = [n for n in ("RiskConfig", "RiskEngine") if not hasattr(risk, n)]
    if missing:
        return f"bot4.risk lacks {', '.join(missing)}"
    return None


# Every check of bot4.risk switched on, with limits the bench's order streams pass: orders are
# 0.001-0.005 BTC within 0.5% of the mark; at most ~1,000 are working at once (the scenarios
# cancel between batches) and ~1,000 leave per second of the simulated clock.
RISK_LIMITS: dict[str, Any] = {
    "max_order_qty": "1",
    "max_order_notional": "100000",
    "max_position": "5",
    "max_gross_exposure": "1000000",
    "price_band_bps": 100,
    "max_open_orders": 2_000,
    "max_orders_per_second": 2_000,
    "order_burst": 2_000,
    "check_balance": True,
    "max_open_orders_total": 5_000,
    "max_orders_per_second_total": 5_000,
    "order_burst_total": 5_000,
    "currency": "USDT",
    "daily_loss_limit": "50000",
    "max_drawdown_bps": 2_000,
}


def build_risk(hp: HotPath) -> Any:
    """A ``RiskEngine`` with every check on (:data:`RISK_LIMITS`), set on the execution engine."""
    from bot4.risk import RiskConfig, RiskEngine

    risk = RiskEngine(RiskConfig(**RISK_LIMITS), hp.clock, hp.bus, hp.portfolio, hp.instruments, hp.execution)
    hp.execution.set_risk(risk)
    hp.risk = risk
    return risk
