"""The node's logging: plain text or JSON lines, order ids on every order line, no secrets.

``configure_logging`` installs one handler on the root logger (replacing the one it installed
before), so the node's own lines and those of aiohttp or websockets go through the same
:class:`RedactFilter`. The filter rewrites each record before any formatter sees it:

- extra fields whose key names a secret (``api_key``, ``secret``, ``signature``,
  ``listenKey``, ``token``, ``password``, ...) get the value ``[REDACTED]``, also inside
  nested dicts and lists;
- the message, exception and stack text get :func:`redact`: ``key=value``, ``"key": "value"``
  and ``?signature=...`` forms of those keys, ``Bearer`` credentials, and long mixed
  letter-and-digit runs (API keys, listen keys, HMAC signatures are 60-64 of them; no id of
  ours is longer than 36 characters) are replaced.

JSON lines look like ``{"ts": "2024-05-01T12:00:00.123456Z", "level": "INFO", "logger":
"bot4.execution", "msg": "order accepted", "client_order_id": "O-...", "venue": "BINANCE"}``;
the text form appends the extra fields as ``key=value`` so both carry the same facts.
:func:`order_log` is how order lines are written: it always adds the client order id, the
instrument and the venue.
"""

from __future__ import annotations

import json as jsonlib
import logging
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol, TextIO

from bot4.core.errors import ConfigError
from bot4.core.ids import ClientOrderId, InstrumentId

__all__ = [
    "REDACTED",
    "JsonFormatter",
    "OrderLike",
    "RedactFilter",
    "TextFormatter",
    "configure_logging",
    "extra_fields",
    "is_secret_key",
    "order_log",
    "redact",
    "redact_value",
]

REDACTED = "[REDACTED]"
_HANDLER_NAME = "bot4.node.logs"  # marks the handler configure_logging installed

# Key names compared without case, '_' or '-': "api_key", "apiKey" and "X-MBX-APIKEY" all match.
_SECRET_KEYS = frozenset({
    "apikey", "xmbxapikey", "apisecret", "secret", "secretkey", "signature", "listenkey",
    "token", "apitoken", "accesstoken", "refreshtoken", "password", "passphrase", "privatekey",
    "authorization",
})
_KEY_TEXT = (
    r"(?:x-mbx-)?api[_-]?key|api[_-]?secret|secret[_-]?key|secret|signature|listen[_-]?key"
    r"|(?:api[_-]?|access[_-]?|refresh[_-]?)?token|password|passphrase|private[_-]?key"
)
# key, then = or : (a JSON or repr key may be quoted), then the value up to a delimiter.
_KEY_VALUE = re.compile(
    rf"(?<![A-Za-z0-9])({_KEY_TEXT})(\\?[\"']?\s*[:=]\s*\\?[\"']?)"
    rf"(?!\[REDACTED\])([^\s\"'\\&,;)}}\]]+)",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?i)\b(bearer\s+)[^\s\"',;]+")
# 40+ letters and digits with at least one of each: an API key, listen key or hex signature.
_LONG_TOKEN = re.compile(r"(?<![A-Za-z0-9])(?=[A-Za-z0-9]*[0-9])(?=[A-Za-z0-9]*[A-Za-z])"
                         r"[A-Za-z0-9]{40,}(?![A-Za-z0-9])")

# Attributes every LogRecord has; anything else on a record came in through ``extra``.
_RECORD_FIELDS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message", "asctime", "taskName",
}


def is_secret_key(key: str) -> bool:
    """Whether a field named ``key`` holds a credential (case, '_' and '-' ignored)."""
    return key.replace("_", "").replace("-", "").lower() in _SECRET_KEYS


def redact(text: str) -> str:
    """``text`` with every credential-looking part replaced by ``[REDACTED]``."""
    text = _KEY_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    return _LONG_TOKEN.sub(REDACTED, text)


def redact_value(key: str, value: Any) -> Any:
    """``value`` of a field named ``key``, with secrets replaced, recursively in dicts and lists."""
    if is_secret_key(key):
        return REDACTED
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {k: redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value("", v) for v in value]
    return value


class RedactFilter(logging.Filter):
    """Scrub secrets from a record in place: message (args merged in), extras, exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit the format: keep the line
            message = f"{record.msg} (log arguments did not fit: {record.args!r})"
        record.msg = redact(message)
        record.args = None
        for key in extra_fields(record):
            setattr(record, key, redact_value(key, getattr(record, key)))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a caller added with ``extra=``, in the order they were given."""
    return {k: v for k, v in record.__dict__.items() if k not in _RECORD_FIELDS and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, the extra fields, then exc."""

    def format(self, record: logging.LogRecord) -> str:
        item: dict[str, Any] = {
            "ts": _iso(record.created),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in extra_fields(record).items():
            item.setdefault(key, value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            item["exc"] = record.exc_text
        if record.stack_info:
            item["stack"] = record.stack_info
        return jsonlib.dumps(item, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``ts LEVEL logger: msg key=value ...`` with the traceback on the following lines."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _iso(record.created)

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        extras = extra_fields(record)
        if extras:
            line += " " + " ".join(f"{key}={value}" for key, value in extras.items())
        return line


def configure_logging(level: str | int = "INFO", json: bool = False,
                      stream: TextIO | None = None) -> logging.Handler:
    """Send every log record to ``stream`` (default stderr), redacted, as text or JSON lines.

    Calling it again replaces the handler it installed before; other handlers are left alone.
    Return the installed handler.
    """
    resolved = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    if not isinstance(resolved, int):
        raise ConfigError("log level must be DEBUG, INFO, WARNING, ERROR or CRITICAL",
                          key="log.level", value=level)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.addFilter(RedactFilter())
    handler.setFormatter(JsonFormatter() if json else TextFormatter())
    handler.set_name(_HANDLER_NAME)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(resolved)
    return handler


class OrderLike(Protocol):
    """What :func:`order_log` needs of an order (``bot4.model.orders.Order`` has it)."""

    @property
    def client_order_id(self) -> ClientOrderId: ...

    @property
    def instrument_id(self) -> InstrumentId: ...


def order_log(logger: logging.Logger, order: OrderLike, msg: str, /, *args: object,
              level: int = logging.INFO, **fields: Any) -> None:
    """Log ``msg`` about ``order`` with its client order id, instrument and venue as fields.

    ``fields`` are added as well (``venue_order_id=...``, ``reason=...``); they may not reuse
    a LogRecord attribute name (``msg``, ``args``, ``name``, ...).
    """
    if fields and not _RECORD_FIELDS.isdisjoint(fields):  # checked even when not logging
        clash = sorted(_RECORD_FIELDS.intersection(fields))
        raise ValueError(f"order_log field {clash[0]!r} clashes with a LogRecord attribute")
    if not logger.isEnabledFor(level):
        return
    extra: dict[str, Any] = {
        "client_order_id": str(order.client_order_id),
        "instrument_id": str(order.instrument_id),
        "venue": str(order.instrument_id.venue),
        **fields,
    }
    logger.log(level, msg, *args, extra=extra, stacklevel=2)


def _iso(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
