"""Convert parsed config tables (TOML) into typed structs, with errors that name the key.

Every package's ``config.py`` declares frozen, keyword-only msgspec structs with
``forbid_unknown_fields=True``; :func:`convert_config` turns a table into one of them and
translates msgspec's ``Expected `int`, got `str` - at `$.venues[0].latency_ns``` into a
:class:`ConfigError` carrying ``file``, ``key`` (``venues[0].latency_ns``), ``expected`` and
``found``, in TOML's words (integer, string, table) rather than JSON's.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec

from bot4.core.errors import ConfigError

__all__ = ["config_error", "convert_config", "join_key"]

T = TypeVar("T")

_TOML_NAMES = {
    "str": "string",
    "int": "integer",
    "float": "float",
    "bool": "boolean",
    "object": "table",
    "array": "array",
    "null": "nothing",
}


def convert_config(
    data: Mapping[str, Any],
    type_: type[T],
    *,
    file: str | None = None,
    key: str = "",
    what: str = "config",
) -> T:
    """Return ``data`` as a ``type_``; raise :class:`ConfigError` naming file and key."""
    try:
        return msgspec.convert(data, type_)
    except msgspec.ValidationError as exc:
        raise config_error(exc, data, type_, file=file, key=key, what=what) from None


def config_error(
    exc: msgspec.ValidationError,
    data: Any,
    type_: Any,
    *,
    file: str | None = None,
    key: str = "",
    what: str = "config",
) -> ConfigError:
    """Translate a msgspec validation error on ``data`` (converted as ``type_``)."""
    text = str(exc)
    message, sep, at = text.rpartition(" - at `")
    if not sep:
        message, at = text, "$"
    parts = _path_parts(at.rstrip("`"))
    context: dict[str, Any] = {} if file is None else {"file": file}

    if message.startswith("Object contains unknown field `"):
        field = message.split("`")[1]
        allowed = _field_names(_type_at(type_, parts))
        context["key"] = join_key(key, _render(parts + [field]))
        if allowed is not None:
            context["expected"] = "one of " + ", ".join(allowed)
        return ConfigError(f"unknown key in {what}", **context)

    if message.startswith("Object missing required field `"):
        field = message.split("`")[1]
        context["key"] = join_key(key, _render(parts + [field]))
        return ConfigError(f"missing required key in {what}", **context)

    found = _lookup(data, parts)
    if parts and parts[-1] == "...":  # a dict value: find which entry has the wrong type
        parts, found = _bad_dict_entry(data, parts[:-1], message)
    context["key"] = join_key(key, _render(parts))
    if message.startswith("Expected `"):
        context["expected"] = " or ".join(
            _TOML_NAMES.get(name.strip(), name.strip()) for name in message.split("`")[1].split("|")
        )
        if found is not _MISSING:
            context["found"] = _describe(found)
        return ConfigError(f"wrong type in {what}", **context)
    if message.startswith("Invalid enum value"):
        info = _type_at(type_, parts)
        if isinstance(info, msgspec.inspect.EnumType):
            context["expected"] = "one of " + ", ".join(
                str(member.value) for member in info.cls if isinstance(member, enum.Enum)
            )
        if found is not _MISSING:
            context["found"] = _describe(found)
        return ConfigError(f"unknown value in {what}", **context)
    # A struct's own check (__post_init__ raising ValueError): its message says what is wrong.
    if found is not _MISSING and not isinstance(found, dict | list):
        context["found"] = _describe(found)
    return ConfigError(f"invalid {what}: {message}", **context)


def join_key(prefix: str, rest: str) -> str:
    """``join_key("strategy.config", "fast")`` -> ``strategy.config.fast``; indexes attach."""
    if not rest:
        return prefix
    if not prefix:
        return rest
    return prefix + rest if rest.startswith("[") else f"{prefix}.{rest}"


# -- internals ---------------------------------------------------------------------------------

_MISSING: Any = object()


def _path_parts(path: str) -> list[str | int]:
    """``$.a[0].b[...]`` -> ``["a", 0, "b", "..."]``."""
    parts: list[str | int] = []
    path = path.replace("[...]", "[*]")  # a dict value; its key is not in the message
    for piece in path.lstrip("$").split("."):
        if not piece:
            continue
        name, _, rest = piece.partition("[")
        if name:
            parts.append(name)
        while rest:
            index, _, rest = rest.partition("]")
            parts.append(int(index) if index.isdigit() else "...")
            rest = rest.lstrip("[")
    return parts


def _render(parts: list[str | int]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out = f"{out}.{part}" if out else part
    return out


def _lookup(data: Any, parts: list[str | int]) -> Any:
    node = data
    for part in parts:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return node


def _bad_dict_entry(data: Any, parts: list[str | int], message: str) -> tuple[list[str | int], Any]:
    table = _lookup(data, parts)
    got = message.split("`")[3] if message.count("`") >= 4 else None
    if isinstance(table, dict):
        for name, value in table.items():
            if got is None or _json_name(value) == got:
                return [*parts, str(name)], value
    return parts, _MISSING


def _json_name(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


def _describe(value: Any) -> str:
    kind = _TOML_NAMES.get(_json_name(value), _json_name(value))
    if isinstance(value, dict | list):
        return f"a {kind}"
    return f"{value!r} ({kind})"


def _type_at(type_: Any, parts: list[str | int]) -> msgspec.inspect.Type | None:
    try:
        info: msgspec.inspect.Type | None = msgspec.inspect.type_info(type_)
    except TypeError:
        return None
    for part in parts:
        info = _unwrap(info)
        if isinstance(info, msgspec.inspect.StructType | msgspec.inspect.DataclassType) and isinstance(part, str):
            info = next((f.type for f in info.fields if f.name == part), None)
        elif isinstance(info, msgspec.inspect.DictType):
            info = info.value_type
        elif isinstance(info, msgspec.inspect.ListType | msgspec.inspect.TupleType) and isinstance(part, int):
            info = info.item_type if isinstance(info, msgspec.inspect.ListType) else None
        else:
            return None
    return _unwrap(info)


def _unwrap(info: msgspec.inspect.Type | None) -> msgspec.inspect.Type | None:
    """Pick the container/struct option out of ``X | None`` unions."""
    if isinstance(info, msgspec.inspect.UnionType):
        for option in info.types:
            if not isinstance(option, msgspec.inspect.NoneType):
                return option
        return None
    return info


def _field_names(info: msgspec.inspect.Type | None) -> list[str] | None:
    if isinstance(info, msgspec.inspect.StructType | msgspec.inspect.DataclassType):
        return [f.name for f in info.fields]
    return None
