"""API credentials that never show up in logs, reprs or exceptions.

:class:`Credentials` holds a Binance API key and secret. Its ``repr``/``str`` show only a
fingerprint of the key (its first four characters), never the secret, so logging the object,
putting it in an f-string or an exception message leaks nothing. The secret is only used
through :meth:`Credentials.sign`.

Credentials come from the environment (:meth:`Credentials.from_env`: ``BINANCE_API_KEY`` and
``BINANCE_API_SECRET``) or from a key file (:meth:`Credentials.from_file`) that only its owner
may read: either TOML with ``api_key`` and ``api_secret``, or two lines (key, then secret).
Every error names the variable or the file and what is wrong with it, never a value.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn

from bot4.core.errors import ConfigError
from bot4.venues.binance.signing import sign

__all__ = ["Credentials"]

_FINGERPRINT_CHARS = 4
_MAX_FILE_BYTES = 64 * 1024


class Credentials:
    """A Binance API key and its secret; safe to log, print and put in errors."""

    __slots__ = ("__key", "__secret")

    def __init__(self, api_key: str, secret: str, *, source: str = "credentials") -> None:
        _check_part(api_key, "API key", source)
        _check_part(secret, "API secret", source)
        self.__key = api_key
        self.__secret = secret

    @property
    def api_key(self) -> str:
        """The API key, for the ``X-MBX-APIKEY`` header only."""
        return self.__key

    @property
    def fingerprint(self) -> str:
        """The first characters of the key and ``***``: enough to tell keys apart in logs."""
        return self.__key[:_FINGERPRINT_CHARS] + "***"

    def sign(self, payload: str) -> str:
        """Return the hex HMAC-SHA256 signature of ``payload`` with the secret."""
        return sign(payload, self.__secret)

    @classmethod
    def from_env(
        cls, prefix: str = "BINANCE", environ: Mapping[str, str] | None = None
    ) -> Credentials:
        """Read ``{prefix}_API_KEY`` and ``{prefix}_API_SECRET`` from the environment."""
        env = os.environ if environ is None else environ
        values = []
        for name in (f"{prefix}_API_KEY", f"{prefix}_API_SECRET"):
            value = env.get(name)
            if value is None or not value.strip():
                raise ConfigError("environment variable is not set or empty", variable=name)
            values.append(value.strip())
        return cls(values[0], values[1], source=f"environment {prefix}_API_*")

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Credentials:
        """Read a key file that only its owner may access (mode 600 or 400).

        The file is TOML (``api_key = "..."`` and ``api_secret = "..."``) or two lines: the
        key, then the secret. A file that group or others may read or write is refused.
        """
        file = Path(path)
        where = str(file)
        try:
            info = file.stat()
        except OSError as error:
            raise ConfigError(
                "cannot read the key file", file=where, reason=error.strerror or ""
            ) from None
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError("the key file is not a regular file", file=where)
        mode = stat.S_IMODE(info.st_mode)
        if os.name == "posix" and mode & 0o077:
            raise ConfigError(
                "the key file must be readable by its owner only (chmod 600)",
                file=where,
                mode=oct(mode),
            )
        if info.st_size > _MAX_FILE_BYTES:
            raise ConfigError(
                "the key file is too large to be a key file", file=where, size=info.st_size
            )
        try:
            text = file.read_bytes().decode("utf-8")
        except OSError as error:
            raise ConfigError(
                "cannot read the key file", file=where, reason=error.strerror or ""
            ) from None
        except UnicodeDecodeError:
            raise ConfigError("the key file is not UTF-8 text", file=where) from None
        key, secret = _parse_key_file(text, where)
        return cls(key, secret, source=f"key file {where}")

    def __repr__(self) -> str:
        return f"Credentials(api_key={self.fingerprint!r}, secret='***')"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("credentials cannot be pickled or copied")


def _parse_key_file(text: str, where: str) -> tuple[str, str]:
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        table = None  # not TOML: the two-line layout
    if table is None:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if len(lines) != 2:
            raise ConfigError(
                "the key file must be TOML with api_key and api_secret, or two lines: key then secret",
                file=where,
                lines=len(lines),
            )
        return lines[0], lines[1]
    for name in table:
        if name not in ("api_key", "api_secret"):
            raise ConfigError(
                "unknown key in key file", file=where, key=name, expected="api_key, api_secret"
            )
    values = []
    for name in ("api_key", "api_secret"):
        value = table.get(name)
        if not isinstance(value, str):
            expected = "missing" if value is None else "not a string"
            raise ConfigError(f"key file entry is {expected}", file=where, key=name)
        values.append(value.strip())
    return values[0], values[1]


def _check_part(value: object, what: str, source: str) -> None:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{what} must be a non-empty string", source=source)
    if not value.isascii() or not value.isprintable() or any(c.isspace() for c in value):
        raise ConfigError(f"{what} must be printable ASCII without spaces", source=source)
