"""Configuration of the Binance spot adapter.

:class:`BinanceConfig` is a frozen, keyword-only msgspec struct that rejects unknown keys.
Every value is checked when the struct is built or decoded; a bad one raises
:class:`ConfigError` naming the key (and the file, through :meth:`BinanceConfig.from_mapping`).

The defaults point at Binance's production spot endpoints. Binance's spot testnet lives at
``https://testnet.binance.vision`` (REST) and ``wss://stream.testnet.binance.vision`` (streams);
:meth:`BinanceConfig.testnet` returns a config pointing there. Keys are never part of this
config: they come from :mod:`bot4.venues.binance.credentials`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from bot4.core.config import config_error, join_key
from bot4.core.errors import ConfigError

__all__ = [
    "PRODUCTION_REST_URL",
    "PRODUCTION_WS_URL",
    "TESTNET_REST_URL",
    "TESTNET_WS_URL",
    "BinanceConfig",
]

PRODUCTION_REST_URL = "https://api.binance.com"
PRODUCTION_WS_URL = "wss://stream.binance.com:9443"
TESTNET_REST_URL = "https://testnet.binance.vision"
TESTNET_WS_URL = "wss://stream.testnet.binance.vision"

_MAX_RECV_WINDOW_MS = 60_000  # Binance refuses larger windows (-1131 / -1021)
_DEPTH_SPEEDS_MS = (100, 1000)  # the two diff-depth stream speeds Binance offers


class BinanceConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where and how to reach Binance spot.

    - ``venue``: the venue name in instrument ids (``BTCUSDT.BINANCE``) and the account id.
    - ``rest_url`` / ``ws_url``: base URLs, without a trailing path (a local server or the
      testnet may be configured here; see the module docstring).
    - ``recv_window_ms``: how long after its ``timestamp`` a signed request stays valid
      (1..60000 ms; Binance's default is 5000).
    - ``depth_speed_ms``: diff-depth stream speed, 100 or 1000 ms.
    - ``trade_stream``: ``"trade"`` (every trade) or ``"aggTrade"`` (trades aggregated per taker
      order and price: fewer messages on busy symbols).
    - ``depth_snapshot_limit``: levels per side asked for in the REST depth snapshot.
    - ``max_buffered_diffs``: diffs kept per symbol while waiting for a snapshot.
    - ``listen_key_keepalive_s``: how often the user-data listen key is kept alive (Binance
      closes it after 60 minutes without a keep-alive and recommends one every 30).
    - ``symbols``: the Binance symbols to trade and stream, e.g. ``["BTCUSDT"]``.
    """

    venue: str = "BINANCE"
    rest_url: str = PRODUCTION_REST_URL
    ws_url: str = PRODUCTION_WS_URL
    recv_window_ms: int = 5000
    depth_speed_ms: int = 100
    trade_stream: str = "trade"
    depth_snapshot_limit: int = 1000
    max_buffered_diffs: int = 10_000
    listen_key_keepalive_s: int = 1800
    symbols: list[str] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.venue or any(c.isspace() or c == "." for c in self.venue):
            raise ConfigError(
                "venue must be a non-empty name without spaces or dots",
                key="venue",
                value=self.venue,
            )
        _check_url("rest_url", self.rest_url, ("https://", "http://"))
        _check_url("ws_url", self.ws_url, ("wss://", "ws://"))
        _check_int("recv_window_ms", self.recv_window_ms, 1, _MAX_RECV_WINDOW_MS)
        if self.trade_stream not in ("trade", "aggTrade"):
            raise ConfigError("trade_stream must be trade or aggTrade", key="trade_stream", value=self.trade_stream)
        if self.depth_speed_ms not in _DEPTH_SPEEDS_MS or isinstance(self.depth_speed_ms, bool):
            raise ConfigError(
                "depth_speed_ms must be 100 or 1000",
                key="depth_speed_ms",
                value=self.depth_speed_ms,
            )
        _check_int("depth_snapshot_limit", self.depth_snapshot_limit, 1, 5000)
        _check_int("max_buffered_diffs", self.max_buffered_diffs, 1, 10_000_000)
        _check_int("listen_key_keepalive_s", self.listen_key_keepalive_s, 1, 3599)
        seen: set[str] = set()
        for index, symbol in enumerate(self.symbols):
            key = f"symbols[{index}]"
            if (
                not symbol
                or not symbol.isascii()
                or not symbol.isalnum()
                or symbol != symbol.upper()
            ):
                raise ConfigError(
                    "symbol must be upper-case letters and digits, e.g. BTCUSDT",
                    key=key,
                    value=symbol,
                )
            if symbol in seen:
                raise ConfigError("symbol is listed twice", key=key, value=symbol)
            seen.add(symbol)

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any], source: str | None = None, key: str = ""
    ) -> BinanceConfig:
        """Decode a parsed TOML table; unknown keys and wrong types raise :class:`ConfigError`.

        ``source`` names the file and ``key`` the table the mapping came from (``venues.binance``),
        so the error points at the exact key.
        """
        try:
            return msgspec.convert(dict(data), cls)
        except msgspec.ValidationError as error:
            raise config_error(
                error, data, cls, file=source, key=key, what="Binance config"
            ) from None
        except ConfigError as error:  # a value check in __post_init__: add the file and table
            context = dict(error.context)
            context["key"] = join_key(key, str(context.get("key", "")))
            located = {"file": source} if source is not None else {}
            raise ConfigError(error.message, **located, **context) from None

    @classmethod
    def testnet(cls, **overrides: Any) -> BinanceConfig:
        """Return a config pointing at Binance's spot testnet (keys come from the testnet site)."""
        values: dict[str, Any] = {"rest_url": TESTNET_REST_URL, "ws_url": TESTNET_WS_URL}
        values.update(overrides)
        return cls(**values)


def _check_url(key: str, url: object, schemes: tuple[str, ...]) -> None:
    if (
        not isinstance(url, str)
        or not url.startswith(schemes)
        or len(url) <= len(url.split("//", 1)[0]) + 2
    ):
        raise ConfigError(
            f"{key} must be a URL starting with {' or '.join(schemes)}", key=key, value=url
        )
    if url.endswith("/") or any(c.isspace() for c in url):
        raise ConfigError(f"{key} must have no trailing slash or spaces", key=key, value=url)


def _check_int(key: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{key} must be an integer within {low}..{high}", key=key, value=value)
