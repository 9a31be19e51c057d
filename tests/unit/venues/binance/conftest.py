"""Real Binance data for the adapter tests, read in place from ../shared/data/real.

Nothing here is copied into the package (some sources are GPL/LGPL): the tests read the
files where SOURCES.md describes them. A missing file skips the test locally and fails it in
CI (``CI`` set), like the other real-data tests.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from bot4.core.ids import ClientOrderId, StrategyId
from bot4.model.instrument import Instrument
from bot4.venues.binance import Parser, decode, instruments_from_exchange_info
from bot4.venues.binance.schemas import ExchangeInfo

REPO_ROOT = Path(__file__).resolve().parents[4]
REAL_DATA = REPO_ROOT.parent / "shared" / "data" / "real"
CRYPTOFEED = REAL_DATA / "cryptofeed" / "sample_data"
HFT_SPOT = REAL_DATA / "hftbacktest" / "binance_spot" / "btcusdt_20240808.jsonl.gz"
NAUTILUS_WS = REAL_DATA / "nautilus_trader" / "py_binance_resources" / "ws_messages"
NAUTILUS_SPOT = REAL_DATA / "nautilus_trader" / "adapter_fixtures" / "binance" / "spot"
DOCS = REAL_DATA / "binance_spot_api_docs"
GOCRYPTOTRADER_HTTP = REAL_DATA / "gocryptotrader" / "http_mock" / "binance_http.json"

STRATEGY = StrategyId("S-001")


def require(path: Path) -> Path:
    """Return ``path``; skip the test when it is absent (fail in CI)."""
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"real data file missing in CI: {path}")
        pytest.skip(f"real data file not present: {path}")
    return path


def cryptofeed_rest_body(line: str) -> tuple[str, float, str]:
    """``<url> -> <ts>: <json>`` -> (url, ts, json)."""
    url, _, rest = line.partition(" -> ")
    ts, _, body = rest.partition(": ")
    return url, float(ts), body


@pytest.fixture(scope="session")
def exchange_info() -> ExchangeInfo:
    """Binance's full spot exchangeInfo of 2021-10-12 (cryptofeed BINANCE.0)."""
    with require(CRYPTOFEED / "BINANCE.0.txt").open(encoding="utf-8") as lines:
        _, _, body = cryptofeed_rest_body(lines.readline())
    info = decode(body, ExchangeInfo)
    assert isinstance(info, ExchangeInfo)
    return info


@pytest.fixture(scope="session")
def instruments(exchange_info: ExchangeInfo) -> dict[str, Instrument]:
    built, problems = instruments_from_exchange_info(exchange_info)
    assert problems == []
    return {i.id.symbol.value: i for i in built}


def _strategy_for(client_order_id: ClientOrderId) -> StrategyId | None:
    """Our ids (architecture.md) start with ``O-``; the fixtures' ``O-12345-test-*`` do too."""
    return STRATEGY if client_order_id.value.startswith("O-") else None


@pytest.fixture
def parser(instruments: dict[str, Instrument]) -> Parser:
    return Parser(instruments.values(), strategy_for=_strategy_for)


@pytest.fixture(scope="session")
def hft_lines() -> list[tuple[int, bytes]]:
    """The hftbacktest BTCUSDT capture: (local receive ns, raw frame) per line."""
    out = []
    with gzip.open(require(HFT_SPOT), "rb") as lines:
        for line in lines:
            head, _, raw = line.rstrip(b"\n").partition(b" ")
            out.append((int(head), raw))
    return out


@pytest.fixture(scope="session")
def cryptofeed_events() -> list[tuple[int, str, str | None, str]]:
    """BINANCE.http.0.0 snapshots and BINANCE.ws.1.0 frames merged by capture time.

    Each is (ns, "rest" or "ws", symbol of a snapshot, raw JSON); the merge is the order the
    recorder saw them, so the snapshots land after the stream has started, as in real use.
    """
    events: list[tuple[int, str, str | None, str]] = []
    with require(CRYPTOFEED / "BINANCE.http.0.0.txt").open(encoding="utf-8") as lines:
        for line in lines:
            if " -> " in line:
                url, ts, body = cryptofeed_rest_body(line.rstrip("\n"))
                symbol = url.split("symbol=")[1].split("&")[0]
                events.append((round(ts * 1e9), "rest", symbol, body))
    with require(CRYPTOFEED / "BINANCE.ws.1.0.txt").open(encoding="utf-8") as lines:
        for line in lines:
            if line[:1].isdigit():
                ts, _, body = line.rstrip("\n").partition(": ")
                events.append((round(float(ts) * 1e9), "ws", None, body))
    events.sort(key=lambda event: event[0])
    return events


@pytest.fixture(scope="session")
def nautilus_ws() -> Callable[[str], bytes]:
    def read(name: str) -> bytes:
        return require(NAUTILUS_WS / name).read_bytes()

    return read


@pytest.fixture(scope="session")
def spot_fixture() -> Callable[[str], bytes]:
    """A file of nautilus_trader's Binance spot fixtures (docs-derived shapes, level C)."""

    def read(name: str) -> bytes:
        return require(NAUTILUS_SPOT / name).read_bytes()

    return read


@pytest.fixture(scope="session")
def real() -> Callable[[str], Path]:
    """Path of a file under shared/data/real (skips, or fails in CI, when it is absent)."""

    def locate(relative: str) -> Path:
        return require(REAL_DATA / relative)

    return locate
