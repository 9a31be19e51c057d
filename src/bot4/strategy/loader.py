"""Find a strategy class from a text spec and build it from a config table.

A spec is one of:

- an example name shipped with Bot4: ``ema_cross``, ``market_maker``;
- ``package.module:Class`` for a strategy on the import path;
- ``path/to/file.py:Class`` for a strategy in a file of its own, imported under a unique
  module name so two files called ``strategy.py`` never collide.

Everything that can go wrong with a spec (missing colon, missing file, syntax error, no such
class, a class that is not a :class:`Strategy`) raises :class:`ConfigError` naming the spec and
what was expected, so the CLI can print one line instead of a traceback.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import itertools
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from bot4.core.config import convert_config
from bot4.core.errors import Bot4Error, ConfigError, InvalidInputError
from bot4.strategy.examples import EXAMPLES
from bot4.strategy.strategy import Strategy, StrategyError

__all__ = ["build_strategy", "load_strategy_class", "strategy_label"]

_FORMS = "an example name ({examples}), 'package.module:Class' or 'path/to/file.py:Class'"
_module_seq = itertools.count(1)


def load_strategy_class(spec: str, base_dir: Path | None = None) -> type[Strategy]:
    """Return the :class:`Strategy` subclass named by ``spec``.

    Relative file paths are resolved against ``base_dir`` (a config file's directory) when
    given, otherwise against the current directory.
    """
    spec = spec.strip()
    example = EXAMPLES.get(spec)
    if example is not None:
        return example
    where, colon, class_name = spec.rpartition(":")
    if not colon and (_is_file(spec) or "." in spec):
        raise ConfigError(
            "name the class after a colon: 'path/to/file.py:Class' or 'package.module:Class'",
            spec=spec,
        )
    if not colon or not where or not class_name:
        raise ConfigError(
            "unknown strategy: expected " + _FORMS.format(examples=", ".join(sorted(EXAMPLES))),
            spec=spec,
        )
    if not class_name.isidentifier():
        raise ConfigError("strategy class name is not a Python identifier", spec=spec, found=class_name)
    if _is_file(where):
        module = _import_file(spec, where, base_dir)
    else:
        module = _import_module(spec, where)
    return _strategy_class(spec, module, class_name)


def strategy_label(spec: str) -> str:
    """A short name for output folders: the example name or the class name."""
    spec = spec.strip()
    if spec in EXAMPLES:
        return spec
    return spec.rpartition(":")[2] or spec


def build_strategy(
    cls: type[Strategy],
    config_table: Mapping[str, Any] | None,
    *,
    file: str | None = None,
    key: str = "strategy.config",
) -> Strategy:
    """Convert ``config_table`` into ``cls.config_class`` and construct the strategy.

    Conversion errors name the key (``strategy.config.fast_period``) and, when given, the
    config file. An :class:`InvalidInputError` from the strategy's own checks becomes a
    :class:`ConfigError` with the same context;
    any other exception from its constructor is a bug in the strategy and becomes a
    :class:`StrategyError`.
    """
    config_class = cls.config_class
    table = dict(config_table or {})
    config = convert_config(table, config_class, file=file, key=key,
                            what=f"config of strategy {cls.__name__} ({config_class.__name__})")
    try:
        return cls(config)
    except InvalidInputError as exc:  # ConfigError, or a bad id/number in the config
        context: dict[str, Any] = {} if file is None else {"file": file}
        context["key"] = key
        context.update((k, v) for k, v in exc.context.items() if k not in context)
        raise ConfigError(f"{cls.__name__} refused its config: {exc.message}", **context) from None
    except Bot4Error:
        raise
    except Exception as exc:  # user code boundary: a constructor bug is reported as the strategy's
        raise StrategyError(f"strategy {cls.__name__} raised while being constructed",
                            strategy=cls.__name__, error=repr(exc)) from exc


# -- internals ---------------------------------------------------------------------------------


def _is_file(where: str) -> bool:
    return where.endswith(".py") or "/" in where or "\\" in where


def _import_file(spec: str, where: str, base_dir: Path | None) -> ModuleType:
    path = Path(where).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if not path.is_file():
        raise ConfigError("strategy file not found", spec=spec, path=str(path))
    resolved = path.resolve()
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:10]
    stem = "".join(c if c.isalnum() else "_" for c in resolved.stem)
    name = f"bot4_user_strategy_{stem}_{digest}_{next(_module_seq)}"
    module_spec = importlib.util.spec_from_file_location(name, resolved)
    if module_spec is None or module_spec.loader is None:
        raise ConfigError("cannot import strategy file as Python", spec=spec, path=str(resolved))
    module = importlib.util.module_from_spec(module_spec)
    # Registered before running so msgspec/dataclasses can resolve the module's annotations.
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except SyntaxError as exc:
        sys.modules.pop(name, None)
        raise ConfigError("syntax error in strategy file", spec=spec, path=str(resolved),
                          line=exc.lineno, error=exc.msg) from None
    except Exception as exc:  # user code boundary: importing their file ran their code
        sys.modules.pop(name, None)
        raise ConfigError("strategy file raised while being imported", spec=spec, path=str(resolved),
                          error=repr(exc)) from exc
    return module


def _import_module(spec: str, module_name: str) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise ConfigError("strategy module not found on the Python path", spec=spec,
                              module=module_name) from None
        raise ConfigError("strategy module imports a module that is not installed", spec=spec,
                          module=module_name, missing=exc.name) from None
    except SyntaxError as exc:
        raise ConfigError("syntax error in strategy module", spec=spec, path=exc.filename,
                          line=exc.lineno, error=exc.msg) from None
    except Exception as exc:  # user code boundary: importing their module ran their code
        raise ConfigError("strategy module raised while being imported", spec=spec,
                          module=module_name, error=repr(exc)) from exc


def _strategy_class(spec: str, module: ModuleType, class_name: str) -> type[Strategy]:
    found = getattr(module, class_name, None)
    if found is None:
        candidates = sorted(
            name for name, value in vars(module).items()
            if isinstance(value, type) and issubclass(value, Strategy) and value is not Strategy
        )
        raise ConfigError("no such class in the strategy module", spec=spec, class_name=class_name,
                          strategies_found=candidates)
    if not (isinstance(found, type) and issubclass(found, Strategy)):
        kind = type(found).__name__ if not isinstance(found, type) else f"class {found.__name__}"
        raise ConfigError("not a Strategy subclass: subclass bot4.strategy.Strategy", spec=spec,
                          found=kind)
    if found is Strategy:
        raise ConfigError("the Strategy base class does nothing on its own; name your subclass", spec=spec)
    return found
