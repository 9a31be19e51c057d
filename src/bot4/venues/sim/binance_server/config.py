"""Configuration of the local Binance-compatible exchange.

Frozen, keyword-only msgspec structs that reject unknown keys (``convert_config`` builds them
from a TOML table). Every value is checked when the struct is built; a bad one raises
:class:`ConfigError` naming the field. Secrets never appear in a ``repr``.
"""

from __future__ import annotations

import re

import msgspec

from bot4.core.errors import ConfigError

__all__ = ["AccountSpec", "ApiKeySpec", "BinanceServerConfig", "RateLimitConfig"]

_API_KEY = re.compile(r"[A-Za-z0-9]{1,64}\Z")


class ApiKeySpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One API key: the key sent in ``X-MBX-APIKEY``, its HMAC secret and its account.

    ``api_key`` must look like a Binance key (1 to 64 letters and digits) so that it passes the
    server's own format check; ``can_trade=False`` makes trading endpoints answer -2015.
    """

    api_key: str
    secret_key: str
    account: str = "main"
    can_trade: bool = True

    def __post_init__(self) -> None:
        if not _API_KEY.match(self.api_key):
            raise ConfigError("api_key must be 1 to 64 letters and digits", field="api_key")
        if not self.secret_key:
            raise ConfigError("secret_key must not be empty", field="secret_key")

    def __repr__(self) -> str:
        return f"ApiKeySpec(api_key=<hidden>, secret_key=<hidden>, account={self.account!r})"


class AccountSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A spot (CASH) account and its starting balances (currency code -> decimal string)."""

    name: str = "main"
    balances: dict[str, str] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name or not self.name.isalnum():
            raise ConfigError("account name must be letters and digits", field="name", value=self.name)


class RateLimitConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Binance's REQUEST_WEIGHT (per IP) and ORDERS (per account) limits.

    Defaults are Binance spot's published numbers. A window is fixed: it starts with the first
    request counted in it and lasts its length (Binance aligns it to the clock; anchoring it
    keeps tests that count requests deterministic). After ``ban_after`` answers of HTTP 429 in
    one weight window the IP is banned for ``ban_s`` seconds (HTTP 418).
    """

    request_weight: int = 6000
    weight_window_s: int = 60
    orders: int = 100
    order_window_s: int = 10
    orders_per_day: int = 200_000
    ban_after: int = 3
    ban_s: float = 120.0

    def __post_init__(self) -> None:
        for name in ("request_weight", "weight_window_s", "orders", "order_window_s", "orders_per_day"):
            value = getattr(self, name)
            if isinstance(value, bool) or value <= 0:
                raise ConfigError(f"{name} must be a positive integer", field=name, value=value)
        if self.ban_after < 1:
            raise ConfigError("ban_after must be at least 1", field="ban_after", value=self.ban_after)
        if self.ban_s <= 0:
            raise ConfigError("ban_s must be positive", field="ban_s", value=self.ban_s)


class BinanceServerConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How the local exchange behaves. It always listens on 127.0.0.1 only.

    - ``port``: 0 picks a free port.
    - ``venue``: the simulated venue's name (ids ``{venue}-...`` inside the matching engine).
    - ``speed``: market-data replay speed; 1.0 is real time, N is N times faster, 0 is as
      fast as possible. ``autostart`` starts the replay with the server.
    - ``accounts`` / ``api_keys``: the accounts and the keys that act for them.
    - ``listen_key_ttl_s``: a listen key expires this long after its last keep-alive.
    - ``time_offset_ms``: skew of the server's clock against the wall clock.
    - ``ws_heartbeat_s``: the server pings every WebSocket this often (Binance: 20 s) and
      drops a connection whose pong does not come back within half of it.
    - ``ws_queue_size``: frames waiting for one slow client before it is disconnected.
    - ``queue_position``, ``maker_fee``, ``taker_fee``: passed to the simulated venue.
    """

    port: int = 0
    venue: str = "BINANCE"
    speed: float = 0.0
    autostart: bool = True
    accounts: list[AccountSpec] = msgspec.field(default_factory=lambda: [AccountSpec()])
    api_keys: list[ApiKeySpec] = msgspec.field(default_factory=list)
    listen_key_ttl_s: float = 3600.0
    time_offset_ms: int = 0
    ws_heartbeat_s: float = 20.0
    ws_queue_size: int = 10_000
    rate_limits: RateLimitConfig = msgspec.field(default_factory=RateLimitConfig)
    queue_position: bool = True
    maker_fee: str | None = None
    taker_fee: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError("port must be within 0..65535", field="port", value=self.port)
        if self.speed < 0:
            raise ConfigError("speed must not be negative (0 replays as fast as possible)", field="speed", value=self.speed)
        if self.listen_key_ttl_s <= 0:
            raise ConfigError("listen_key_ttl_s must be positive", field="listen_key_ttl_s", value=self.listen_key_ttl_s)
        if self.ws_heartbeat_s <= 0:
            raise ConfigError("ws_heartbeat_s must be positive", field="ws_heartbeat_s", value=self.ws_heartbeat_s)
        if self.ws_queue_size < 1:
            raise ConfigError("ws_queue_size must be at least 1", field="ws_queue_size", value=self.ws_queue_size)
        names = [account.name for account in self.accounts]
        if len(set(names)) != len(names):
            raise ConfigError("account names must be unique", field="accounts", value=names)
        keys = [spec.api_key for spec in self.api_keys]
        if len(set(keys)) != len(keys):
            raise ConfigError("api keys must be unique", field="api_keys")
        for index, spec in enumerate(self.api_keys):
            if spec.account not in names:
                raise ConfigError(
                    "api key names an account that is not configured",
                    field=f"api_keys[{index}].account",
                    value=spec.account,
                )
