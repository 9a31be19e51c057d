"""Full-jitter exponential backoff."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot4.core.errors import ConfigError
from bot4.net.backoff import Backoff


def test_backoff_ceiling_grows_by_multiplier_and_stops_at_max() -> None:
    policy = Backoff(initial=1.0, multiplier=2.0, max_delay=60.0)
    assert [policy.ceiling(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert policy.ceiling(10_000) == 60.0


@given(st.integers(1, 5000), st.integers(0, 2**32))
def test_backoff_delay_lies_between_zero_and_ceiling(attempt: int, seed: int) -> None:
    policy = Backoff(initial=0.5, multiplier=3.0, max_delay=30.0, rng=random.Random(seed))
    assert 0.0 <= policy.delay(attempt) <= policy.ceiling(attempt)


def test_backoff_draws_are_spread_over_the_whole_window() -> None:
    policy = Backoff(initial=1.0, max_delay=8.0, rng=random.Random(1))
    draws = [policy.delay(4) for _ in range(2000)]
    assert min(draws) < 0.5 and max(draws) > 7.5
    assert 3.5 < sum(draws) / len(draws) < 4.5  # uniform on [0, 8]


def test_backoff_without_jitter_waits_the_ceiling() -> None:
    assert Backoff(initial=1.0, jitter=False).delay(3) == 4.0


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [({"initial": 0}, "initial"), ({"multiplier": 0.5}, "multiplier"), ({"initial": 5, "max_delay": 1}, "max_delay")],
)
def test_backoff_rejects_nonsense_settings_naming_the_key(kwargs: dict[str, float], key: str) -> None:
    with pytest.raises(ConfigError) as err:
        Backoff(**kwargs)
    assert err.value.context["key"] == key


def test_backoff_attempt_is_one_based() -> None:
    with pytest.raises(ValueError):
        Backoff().ceiling(0)
