"""load_strategy_class / build_strategy: every spec form works, every mistake is a ConfigError."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bot4.core.errors import ConfigError
from bot4.strategy import Strategy, StrategyError
from bot4.strategy.examples import EmaCross, EmaCrossConfig, MarketMaker
from bot4.strategy.loader import build_strategy, load_strategy_class, strategy_label

USER_STRATEGY = """
from bot4.strategy import Strategy, StrategyConfig


class MyConfig(StrategyConfig, kw_only=True, forbid_unknown_fields=True):
    size: str = "0.001"
    window: int = 5


class MyStrategy(Strategy):
    config_class = MyConfig


class NotAStrategy:
    pass


not_a_class = 42
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def message(exc: pytest.ExceptionInfo[ConfigError]) -> str:
    return str(exc.value)


def test_loader_resolves_example_names() -> None:
    assert load_strategy_class("ema_cross") is EmaCross
    assert load_strategy_class(" market_maker ") is MarketMaker


def test_loader_imports_module_colon_class() -> None:
    assert load_strategy_class("bot4.strategy.examples.ema_cross:EmaCross") is EmaCross


def test_loader_imports_user_file_and_builds_its_config(tmp_path: Path) -> None:
    path = write(tmp_path, "my_strat.py", USER_STRATEGY)
    cls = load_strategy_class(f"{path}:MyStrategy")
    assert issubclass(cls, Strategy) and cls.__name__ == "MyStrategy"
    strategy = build_strategy(cls, {"size": "0.01", "window": 7})
    assert strategy.config.size == "0.01"  # type: ignore[attr-defined]
    assert strategy.config.window == 7  # type: ignore[attr-defined]
    assert str(strategy.id) == "MyStrategy"


def test_loader_resolves_relative_file_against_base_dir(tmp_path: Path) -> None:
    write(tmp_path, "my_strat.py", USER_STRATEGY)
    cls = load_strategy_class("my_strat.py:MyStrategy", base_dir=tmp_path)
    assert cls.__name__ == "MyStrategy"


def test_loader_gives_two_same_named_files_separate_modules(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = write(tmp_path / "a", "strategy.py", USER_STRATEGY.replace('"0.001"', '"0.1"'))
    second = write(tmp_path / "b", "strategy.py", USER_STRATEGY.replace('"0.001"', '"0.2"'))
    a = load_strategy_class(f"{first}:MyStrategy")
    b = load_strategy_class(f"{second}:MyStrategy")
    assert a.__module__ != b.__module__
    assert build_strategy(a, None).config.size == "0.1"  # type: ignore[attr-defined]
    assert build_strategy(b, None).config.size == "0.2"  # type: ignore[attr-defined]


def test_loader_rejects_unknown_name_without_colon() -> None:
    with pytest.raises(ConfigError) as exc:
        load_strategy_class("ema_crosss")
    assert "ema_cross" in message(exc) and "file.py:Class" in message(exc)
    assert exc.value.context["spec"] == "ema_crosss"


def test_loader_rejects_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.py"
    with pytest.raises(ConfigError) as exc:
        load_strategy_class(f"{missing}:MyStrategy")
    assert "strategy file not found" in message(exc)
    assert exc.value.context["path"] == str(missing)


def test_loader_rejects_missing_class(tmp_path: Path) -> None:
    path = write(tmp_path, "my_strat.py", USER_STRATEGY)
    with pytest.raises(ConfigError) as exc:
        load_strategy_class(f"{path}:Missing")
    assert "no such class" in message(exc)
    assert exc.value.context["class_name"] == "Missing"
    assert exc.value.context["strategies_found"] == ["MyStrategy"]


def test_loader_rejects_class_that_is_not_a_strategy(tmp_path: Path) -> None:
    path = write(tmp_path, "my_strat.py", USER_STRATEGY)
    with pytest.raises(ConfigError) as exc:
        load_strategy_class(f"{path}:NotAStrategy")
    assert "not a Strategy subclass" in message(exc)
    assert exc.value.context["found"] == "class NotAStrategy"
    with pytest.raises(ConfigError) as exc2:
        load_strategy_class(f"{path}:not_a_class")
    assert exc2.value.context["found"] == "int"


def test_loader_reports_syntax_error_with_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.py", "from bot4.strategy import Strategy\n\nclass S(Strategy)\n    pass\n")
    with pytest.raises(ConfigError) as exc:
        load_strategy_class(f"{path}:S")
    assert "syntax error" in message(exc)
    assert exc.value.context["path"] == str(path.resolve())
    assert exc.value.context["line"] == 3


def test_loader_reports_exception_raised_while_importing_user_file(tmp_path: Path) -> None:
    path = write(tmp_path, "boom.py", "raise RuntimeError('no config here')\n")
    with pytest.raises(ConfigError) as exc:
        load_strategy_class(f"{path}:S")
    assert "raised while being imported" in message(exc)
    assert "no config here" in message(exc)


def test_loader_rejects_module_not_on_path() -> None:
    with pytest.raises(ConfigError) as exc:
        load_strategy_class("no_such_package.strategies:Foo")
    assert "module not found" in message(exc)
    assert exc.value.context["module"] == "no_such_package.strategies"


def test_loader_rejects_empty_class_name() -> None:
    with pytest.raises(ConfigError):
        load_strategy_class("bot4.strategy.examples.ema_cross:")


def test_build_strategy_names_the_bad_key_and_file() -> None:
    with pytest.raises(ConfigError) as exc:
        build_strategy(EmaCross, {"fast_period": "ten"}, file="bt.toml")
    assert exc.value.context["file"] == "bt.toml"
    assert exc.value.context["key"] == "strategy.config.fast_period"
    assert exc.value.context["expected"] == "integer"
    assert exc.value.context["found"] == "'ten' (string)"


def test_build_strategy_rejects_unknown_key_listing_the_known_ones() -> None:
    with pytest.raises(ConfigError) as exc:
        build_strategy(EmaCross, {"fast": 3})
    assert exc.value.context["key"] == "strategy.config.fast"
    assert "fast_period" in exc.value.context["expected"]


def test_build_strategy_turns_strategy_own_check_into_config_error() -> None:
    with pytest.raises(ConfigError) as exc:
        build_strategy(EmaCross, {"fast_period": 50, "slow_period": 10}, file="bt.toml")
    assert "fast_period < slow_period" in message(exc)
    assert exc.value.context["file"] == "bt.toml"
    assert exc.value.context["key"] == "strategy.config"


def test_build_strategy_uses_defaults_without_a_table() -> None:
    strategy = build_strategy(EmaCross, None)
    assert strategy.config == EmaCrossConfig()


def test_build_strategy_reports_constructor_bug_as_strategy_error(tmp_path: Path) -> None:
    path = write(tmp_path, "bad_init.py", """
        from bot4.strategy import Strategy

        class Bad(Strategy):
            def __init__(self, config=None):
                super().__init__(config)
                raise ZeroDivisionError("oops")
    """)
    cls = load_strategy_class(f"{path}:Bad")
    with pytest.raises(StrategyError):
        build_strategy(cls, None)


@pytest.mark.parametrize(("spec", "label"), [
    ("ema_cross", "ema_cross"),
    ("pkg.mod:Thing", "Thing"),
    ("some/dir/my_strat.py:MyStrategy", "MyStrategy"),
])
def test_strategy_label_is_the_example_or_class_name(spec: str, label: str) -> None:
    assert strategy_label(spec) == label
