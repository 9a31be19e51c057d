"""Breadth through ccxt: trading and balances on any exchange ccxt supports (REST), mapped to
Bot4's domain and error tree. Depth (our own protocol handling, book sync, user streams) lives
in the native adapters such as :mod:`bot4.venues.binance`."""

from bot4.venues.ccxt.data import CcxtDataClient
from bot4.venues.ccxt.errors import map_ccxt_error
from bot4.venues.ccxt.execution import CcxtConfig, CcxtExecutionClient

__all__ = ["CcxtConfig", "CcxtDataClient", "CcxtExecutionClient", "map_ccxt_error"]
