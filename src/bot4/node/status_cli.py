"""``bot4 status``: what a running node is doing, read from its status API.

::

    bot4 status [--url URL] [--token TOKEN] [--json] [--timeout SECONDS]
    bot4 status --kill halt|reduce|resume --reason TEXT [--url URL] [--token TOKEN] [--json]

``--url`` defaults to ``$BOT4_API_URL``, else ``http://127.0.0.1:9465`` (the node's default
``api.port``); ``--token`` to ``$BOT4_API_TOKEN``. Without ``--kill`` it prints the node's
status as ``key: value`` lines, then its open positions and open orders as tables
(``--json``: one JSON object ``{"status": ..., "positions": [...], "orders": [...]}``). With
``--kill`` it asks the node to halt trading, allow only reducing orders, or resume, and prints
the state the node reports.

Exit codes: 0 success; 1 the node did not answer (not running, wrong URL, timeout), refused
the token, or refused the request (one ``error: ...`` line on stderr); 2 usage (no token).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any, TextIO

from bot4.node.api import KillSwitch

__all__ = ["DEFAULT_API_URL", "StatusError", "format_table", "main"]

DEFAULT_API_URL = "http://127.0.0.1:9465"
_DEFAULT_TIMEOUT_S = 5.0


class StatusError(Exception):
    """The node could not be asked: the message is the one line printed after ``error:``."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``bot4 status``; return the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exit_:  # --help or a usage error
        return exit_.code if isinstance(exit_.code, int) else 2
    if (args.kill is None) != (args.reason is None):
        print("error: --kill and --reason go together: say what to do and why", file=sys.stderr)
        return 2
    token = args.token or os.environ.get("BOT4_API_TOKEN", "")
    if not token:
        print("error: no API token: pass --token or set BOT4_API_TOKEN (the node's api token)",
              file=sys.stderr)
        return 2
    client = _Client(args.url.rstrip("/"), token, args.timeout)
    try:
        if args.kill is not None:
            result = client.call("POST", "/kill-switch", {"state": args.kill, "reason": args.reason})
            _print_kill(result, as_json=args.json, out=sys.stdout)
        else:
            status = client.call("GET", "/status")
            positions = client.call("GET", "/positions")
            orders = client.call("GET", "/orders")
            _print_status(status, positions, orders, as_json=args.json, out=sys.stdout)
    except StatusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bot4 status",
        description="Show a running node's status, positions and open orders, or flip its kill switch.",
        epilog="examples:\n"
               "  BOT4_API_TOKEN=... bot4 status\n"
               "  bot4 status --url http://127.0.0.1:9465 --json\n"
               "  bot4 status --kill halt --reason 'venue looks wrong'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--url", default=os.environ.get("BOT4_API_URL", DEFAULT_API_URL),
                        help="the node's status API (default: $BOT4_API_URL, else %(default)s)")
    parser.add_argument("--token", help="the API token (default: $BOT4_API_TOKEN)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("--kill", choices=[s.value for s in KillSwitch],
                        help="halt trading, allow only reducing orders, or resume")
    parser.add_argument("--reason", help="why (recorded with the state change); needed with --kill")
    parser.add_argument("--timeout", type=float, default=_DEFAULT_TIMEOUT_S, metavar="SECONDS",
                        help="how long to wait for each answer (default: %(default)s)")
    return parser


class _Client:
    """One JSON request at a time to the status API, every failure a :class:`StatusError`."""

    def __init__(self, url: str, token: str, timeout: float) -> None:
        self._url = url
        self._token = token
        self._timeout = timeout
        # No proxies: the node listens on loopback, and an http_proxy variable must not divert it.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        url = self._url + path
        request = urllib.request.Request(
            url, method=method, data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self._token}", "Accept": "application/json",
                     **({"Content-Type": "application/json"} if body is not None else {})},
        )
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 401:
                raise StatusError(f"token refused by the node at {self._url}") from None
            raise StatusError(f"{method} {url} answered {exc.code}: {_error_text(exc)}") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise StatusError(f"the node at {self._url} did not answer within "
                                  f"{self._timeout:g} s") from None
            raise StatusError(f"no node is answering at {self._url} ({_reason(exc.reason)}); "
                              "is it running, and is that its api.port?") from None
        except TimeoutError:
            raise StatusError(f"the node at {self._url} did not answer within "
                              f"{self._timeout:g} s") from None
        except (OSError, ValueError) as exc:  # a reset connection, or a malformed --url
            raise StatusError(f"cannot reach {self._url}: {exc}") from None
        try:
            return json.loads(payload)
        except ValueError:
            raise StatusError(f"{method} {url} did not answer JSON; is that the node's status API?") from None


def _error_text(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read())
    except (ValueError, OSError):
        return exc.reason if isinstance(exc.reason, str) else str(exc.reason)
    message = body.get("error") if isinstance(body, dict) else None
    if isinstance(message, str):
        return message
    return json.dumps(body)


def _reason(reason: object) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror.lower()
    return str(reason)


# -- output ------------------------------------------------------------------------------------


def _print_status(status: Any, positions: Any, orders: Any, *, as_json: bool, out: TextIO) -> None:
    if as_json:
        print(json.dumps({"status": status, "positions": positions, "orders": orders}, indent=2),
              file=out)
        return
    width = max((len(key) for key, _ in _flatten(status)), default=0)
    for key, value in _flatten(status):
        print(f"{key.ljust(width)}  {value}", file=out)
    for title, rows in (("positions", positions), ("open orders", orders)):
        print(file=out)
        items = rows if isinstance(rows, list) else []
        if not items:
            print(f"no {title}", file=out)
            continue
        print(f"{title} ({len(items)}):", file=out)
        for line in format_table(items):
            print(line, file=out)


def _print_kill(result: Any, *, as_json: bool, out: TextIO) -> None:
    if as_json:
        print(json.dumps(result, indent=2), file=out)
        return
    for key, value in _flatten(result):
        print(f"{key}: {value}", file=out)


def format_table(rows: Sequence[Any]) -> list[str]:
    """Rows of dicts as aligned lines: a header of every key (in first-seen order), then rows.

    Numbers (and numeric strings such as exact decimals) are right-aligned; a missing or null
    cell is ``-``.
    """
    columns: list[str] = []
    for row in rows:
        for key in row if isinstance(row, dict) else {"value": row}:
            if key not in columns:
                columns.append(key)
    cells = [[_cell(row.get(key) if isinstance(row, dict) else row) for key in columns]
             for row in rows]
    right = [all(_numeric(line[i]) or line[i] == "-" for line in cells) for i in range(len(columns))]
    widths = [max(len(text) for text in column) for column in zip(columns, *cells, strict=True)]
    lines = []
    for texts in (columns, *cells):
        parts = [text.rjust(w) if r else text.ljust(w) for text, w, r in zip(texts, widths, right, strict=True)]
        lines.append("  ".join(parts).rstrip())
    return lines


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        pairs: list[tuple[str, str]] = []
        for key, item in value.items():
            pairs.extend(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return pairs
    return [(prefix or "value", _cell(value))]


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
