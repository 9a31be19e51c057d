"""Our resting limit orders for one instrument, in price-time priority.

Per side a dict ``price_raw -> [orders in time order]`` plus the sorted list of prices, so the
best level is found with one index and a level is found with one lookup. Orders are compared by
identity: the venue holds exactly one :class:`SimOrder` per working order.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable

from bot4.model.book import OrderBook
from bot4.model.enums import OrderSide
from bot4.venues.sim.orders import SimOrder

__all__ = ["RestingOrders"]

_BUY = OrderSide.BUY
_SELL = OrderSide.SELL


class RestingOrders:
    """Resting orders per side and price level, best price first, oldest first in a level."""

    __slots__ = ("_levels", "_prices")

    def __init__(self) -> None:
        self._levels: dict[OrderSide, dict[int, list[SimOrder]]] = {_BUY: {}, _SELL: {}}
        self._prices: dict[OrderSide, list[int]] = {_BUY: [], _SELL: []}  # ascending

    def add(self, order: SimOrder) -> None:
        """Put ``order`` at the back of its price level."""
        side, price = order.side, order.price_raw or 0
        level = self._levels[side].get(price)
        if level is None:
            level = self._levels[side][price] = []
            insort(self._prices[side], price)
        level.append(order)

    def remove(self, order: SimOrder) -> bool:
        """Take ``order`` out of the book of resting orders; False when it was not resting."""
        levels = self._levels[order.side]
        price = order.price_raw or 0
        level = levels.get(price)
        if level is None:
            return False
        for index, other in enumerate(level):
            if other is order:
                del level[index]
                break
        else:
            return False
        if not level:
            del levels[price]
            prices = self._prices[order.side]
            del prices[bisect_left(prices, price)]
        return True

    def contains(self, order: SimOrder) -> bool:
        level = self._levels[order.side].get(order.price_raw or 0)
        return level is not None and any(other is order for other in level)

    def best_price(self, side: OrderSide) -> int | None:
        """The highest resting buy price or the lowest resting sell price."""
        prices = self._prices[side]
        if not prices:
            return None
        return prices[-1] if side is _BUY else prices[0]

    def reached(self, side: OrderSide, print_raw: int) -> bool:
        """Whether a print at ``print_raw`` reaches any order of ``side`` (at or through it)."""
        prices = self._prices[side]
        if not prices:
            return False
        return prices[-1] >= print_raw if side is _BUY else prices[0] <= print_raw

    def at(self, side: OrderSide, price_raw: int) -> list[SimOrder]:
        """A copy of the level's orders, oldest first (safe to fill and remove while iterating)."""
        return list(self._levels[side].get(price_raw, ()))

    def through(self, side: OrderSide, print_raw: int) -> list[int]:
        """Prices of ``side`` strictly better than a print at ``print_raw``, best first.

        A print below a resting buy (above a resting sell) trades through that order's price.
        """
        prices = self._prices[side]
        if side is _BUY:
            return prices[bisect_right(prices, print_raw) :][::-1]
        return prices[: bisect_left(prices, print_raw)]

    def cap_queues(self, book: OrderBook, touched: Iterable[tuple[OrderSide, int]] | None) -> None:
        """Cap each order's queue ahead at the visible size now at its level.

        ``touched`` lists the (side, price) levels a book update changed; None means all.
        """
        if touched is None:
            touched = [(side, p) for side in (_BUY, _SELL) for p in self._levels[side]]
        for side, price in touched:
            level = self._levels[side].get(price)
            if level:
                visible = book.size_at(side, price)
                for order in level:
                    if order.queue_ahead_raw > visible:
                        order.queue_ahead_raw = visible

    def __len__(self) -> int:
        return sum(len(level) for levels in self._levels.values() for level in levels.values())
