"""The local exchange's state and its one path for market data.

:class:`Exchange` holds everything the REST handlers, the streams and the controls share:
instruments and their public markets, accounts, ids, the clock, API keys, listen keys, rate
limits, faults and the record of requests. It has no I/O of its own: the server
(:mod:`.app`) puts it behind aiohttp and drives it from the replay.

A market-data event goes through :meth:`Exchange.process`: it is stamped with the server's
time (the exchange is live: ``E``/``T`` fields and the venue's clock are "now", the data's own
times only pace the replay), applied to the symbol's public market (frames to subscribers),
then handed to every account's simulated venue (fills, and the user-stream reports they
produce). Data for an instrument the exchange does not list, or that the book refuses, is
counted in ``data_errors`` and skipped.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from bot4.core.errors import ConfigError, InvalidInputError
from bot4.core.ids import InstrumentId
from bot4.model.data import MarketData
from bot4.model.instrument import Instrument
from bot4.venues.sim.binance_server import wire
from bot4.venues.sim.binance_server.auth import KeyRing
from bot4.venues.sim.binance_server.config import BinanceServerConfig
from bot4.venues.sim.binance_server.faults import Faults, RecordedRequest
from bot4.venues.sim.binance_server.limits import RateLimits
from bot4.venues.sim.binance_server.market import SymbolMarket
from bot4.venues.sim.binance_server.state import (
    Account,
    IdSource,
    ListenKeys,
    ServerClock,
    build_accounts,
)
from bot4.venues.sim.binance_server.streams import StreamHub

__all__ = ["Exchange"]

# Close code sent after ``listenKeyExpired``: a normal close, the stream has nothing more.
_EXPIRED_CLOSE = 1000


class Exchange:
    """Shared state of the local exchange (see the module docstring)."""

    def __init__(self, instruments: Sequence[Instrument], config: BinanceServerConfig) -> None:
        if not instruments:
            raise ConfigError("the exchange needs at least one instrument", field="instruments")
        self.config = config
        self.instruments: dict[str, Instrument] = {}
        self._markets: dict[InstrumentId, SymbolMarket] = {}
        for instrument in instruments:
            symbol = instrument.id.symbol.value
            if symbol in self.instruments:
                raise ConfigError("two instruments with one symbol", field="instruments", value=symbol)
            self.instruments[symbol] = instrument
            self._markets[instrument.id] = SymbolMarket(instrument)
        self.clock = ServerClock(config.time_offset_ms)
        self.ids = IdSource()
        self.faults = Faults()
        self.keys = KeyRing(config.api_keys)
        self.listen_keys = ListenKeys(config.listen_key_ttl_s)
        self.limits = RateLimits(config.rate_limits, wall_ms=self.clock.now_ms)
        self.hub = StreamHub(
            faults=self.faults,
            queue_size=config.ws_queue_size,
            heartbeat_s=config.ws_heartbeat_s,
            is_listen_key=lambda key: self.listen_keys.account_of(key) is not None,
            now_ms=self.clock.now_ms,
        )
        self.accounts: dict[str, Account] = dict(
            build_accounts(config, list(instruments), self.clock, self.ids, self.publish_user)
        )
        self.requests: list[RecordedRequest] = []
        self.data_errors = 0

    def market(self, symbol: str) -> SymbolMarket:
        return self._markets[self.instruments[symbol].id]

    # -- market data ----------------------------------------------------------------------

    def process(self, data: MarketData) -> None:
        """Publish one market-data event and let every account's venue trade on it."""
        market = self._markets.get(data.instrument_id)
        if market is None:
            self.data_errors += 1
            return
        now_ns = self.clock.timestamp_ns()
        event = msgspec.structs.replace(data, ts_event=now_ns, ts_init=now_ns)
        try:
            frames = market.apply(event, now_ns // 1_000_000, self.hub.wanted)
        except InvalidInputError:
            self.data_errors += 1
            return
        for names, payload in frames:
            self.hub.publish(names, payload)
        for account in self.accounts.values():
            account.process(event)

    # -- user data ------------------------------------------------------------------------

    def publish_user(self, account: str, payload: wire.Json) -> None:
        """Send a user-data payload to every stream of the account's listen keys."""
        keys = self.listen_keys.keys_of(account)
        if keys:
            self.hub.publish(keys, payload, market=False)

    def expire_listen_keys(self, *, all_keys: bool = False) -> int:
        """Expire the keys past their time (or all): ``listenKeyExpired``, then close."""
        expired = self.listen_keys.pop_expired(all_keys=all_keys)
        now = self.clock.now_ms()
        for key, _ in expired:
            self.hub.publish((key,), wire.listen_key_expired(now, key), market=False)
            self.hub.close_stream(key, _EXPIRED_CLOSE, "listenKey expired")
        return len(expired)
