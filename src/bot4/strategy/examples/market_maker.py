"""A simple two-sided quoting market maker.

Keeps one bid and one ask around the mid of the book (or of the best quote), ``half_spread_bps``
away, sized ``quote_size``, and leans its quotes against inventory: long inventory moves both
quotes down so the ask fills more readily. Quotes are refreshed when the mid moves more than
``requote_bps`` or an order finishes; inventory is capped at ``max_inventory`` per side by not
quoting the side that would exceed it. Post-only orders guarantee it never takes liquidity.
"""

from __future__ import annotations

from bot4.core.ids import InstrumentId
from bot4.core.numbers import FIXED_SCALAR, Price
from bot4.model.book import OrderBook
from bot4.model.data import QuoteTick
from bot4.model.enums import OrderSide
from bot4.model.events import OrderDenied, OrderEvent, OrderRejected
from bot4.model.orders import Order
from bot4.strategy.strategy import Strategy, StrategyConfig

__all__ = ["MarketMaker", "MarketMakerConfig"]


class MarketMakerConfig(StrategyConfig, kw_only=True, forbid_unknown_fields=True):
    instrument_id: str = "BTCUSDT.SIM"
    quote_size: str = "0.001"
    half_spread_bps: float = 5.0
    requote_bps: float = 2.0
    skew_bps_per_unit: float = 2.0  # per quote_size of inventory
    max_inventory: str = "0.01"
    use_book: bool = True


class MarketMaker(Strategy):
    config_class = MarketMakerConfig

    def __init__(self, config: MarketMakerConfig | None = None) -> None:
        super().__init__(config)
        cfg = self.config if isinstance(self.config, MarketMakerConfig) else MarketMakerConfig()
        self.cfg = cfg
        self.instrument_id = InstrumentId.from_str(cfg.instrument_id)
        self._bid: Order | None = None
        self._ask: Order | None = None
        self._last_mid = 0
        self._blocked_until_data = False

    def on_start(self) -> None:
        instrument = self.instrument(self.instrument_id)
        self._size = instrument.make_qty(self.cfg.quote_size)
        self._max_inv_raw = instrument.make_qty(self.cfg.max_inventory).raw
        if self.cfg.use_book:
            self.subscribe_book(self.instrument_id)
        self.subscribe_quotes(self.instrument_id)

    def on_book(self, book: OrderBook) -> None:
        bid, ask = book.best_bid_raw(), book.best_ask_raw()
        if bid is not None and ask is not None and bid < ask:
            self._on_mid((bid + ask) // 2)

    def on_quote(self, tick: QuoteTick) -> None:
        book = self.book(self.instrument_id)
        if self.cfg.use_book and book is not None and book.best_bid_raw() is not None:
            return  # the book drives quoting when there is one
        self._on_mid((tick.bid_price.raw + tick.ask_price.raw) // 2)

    def on_order_event(self, event: OrderEvent) -> None:
        for side in ("_bid", "_ask"):
            order = getattr(self, side)
            if order is not None and order.client_order_id == event.client_order_id and order.is_closed:
                setattr(self, side, None)
        if isinstance(event, (OrderDenied, OrderRejected)):
            # Refused by risk or the venue: wait for the next market data before quoting again,
            # or the same refusal would repeat forever at one instant.
            self._blocked_until_data = True
            return
        if self._last_mid and not self._blocked_until_data:
            self._quote(self._last_mid)

    def on_stop(self) -> None:
        self.cancel_all(self.instrument_id)

    def _on_mid(self, mid: int) -> None:
        self._blocked_until_data = False
        if self._last_mid and abs(mid - self._last_mid) * 10_000 < self.cfg.requote_bps * self._last_mid:
            if self._bid is not None and self._ask is not None:
                return
        self._last_mid = mid
        self._quote(mid)

    def _quote(self, mid: int) -> None:
        instrument = self.instrument(self.instrument_id)
        inventory = self.position(self.instrument_id).signed_raw
        skew_bps = -self.cfg.skew_bps_per_unit * inventory / self._size.raw
        mid_f = mid / FIXED_SCALAR
        center = mid_f * (1 + skew_bps / 10_000)
        half = mid_f * self.cfg.half_spread_bps / 10_000
        bid_px = instrument.round_price(center - half, "down")
        ask_px = instrument.round_price(center + half, "up")
        self._requote("_bid", OrderSide.BUY, bid_px.raw, inventory + self._size.raw <= self._max_inv_raw)
        self._requote("_ask", OrderSide.SELL, ask_px.raw, inventory - self._size.raw >= -self._max_inv_raw)

    def _requote(self, slot: str, side: OrderSide, price_raw: int, allowed: bool) -> None:
        current: Order | None = getattr(self, slot)
        if current is not None:
            if allowed and current.price is not None and current.price.raw == price_raw:
                return
            if current.is_open:
                self.cancel_order(current)
            return  # wait for the cancel to finish before quoting again
        if not allowed:
            return
        price = Price(price_raw, self.instrument(self.instrument_id).price_precision)
        order = self.limit(self.instrument_id, side, self._size, price, post_only=True)
        setattr(self, slot, order if order.is_open else None)
