"""Client order ids: format, uniqueness across strategies and restarts, venue rules."""

from __future__ import annotations

import re

from bot4.core import StrategyId, TraderId
from bot4.execution.ids import ClientOrderIdGenerator, base36

BINANCE_RULE = re.compile(r"^[\.A-Z:/a-z0-9_-]{1,36}$")


def test_base36_encodes_known_values() -> None:
    assert [base36(v) for v in (0, 35, 36, 1295)] == ["0", "Z", "10", "ZZ"]


def test_generator_ids_follow_format_and_count_up() -> None:
    gen = ClientOrderIdGenerator(TraderId("BOT4"), StrategyId("EmaCross"), 1_723_161_254_000_000_000)
    first, second = gen.next(), gen.next()
    assert first.value.startswith("O-" + base36(1_723_161_254_000) + "-")
    assert first.value.endswith("-1") and second.value.endswith("-2")


def test_ids_differ_across_strategies_and_restarts_and_fit_binance() -> None:
    start = 1_723_161_254_000_000_000
    a = ClientOrderIdGenerator(TraderId("BOT4"), StrategyId("A"), start)
    b = ClientOrderIdGenerator(TraderId("BOT4"), StrategyId("B"), start)
    restarted = ClientOrderIdGenerator(TraderId("BOT4"), StrategyId("A"), start + 1_000_000)
    ids = [g.next().value for g in (a, b, restarted) for _ in range(1000)]
    assert len(set(ids)) == len(ids)
    long_names = ClientOrderIdGenerator(TraderId("T" * 50), StrategyId("S" * 50), 2**62)
    for _ in range(5):
        assert BINANCE_RULE.match(long_names.next().value)


def test_advance_to_skips_used_sequence_numbers() -> None:
    gen = ClientOrderIdGenerator(TraderId("BOT4"), StrategyId("A"), 0)
    gen.advance_to(41)
    assert gen.next().value.endswith("-" + base36(42))
