"""The error answers of the local exchange: Binance's codes with Binance's own texts.

An :class:`ApiError` raised anywhere while a request is handled becomes the response
``{"code": <code>, "msg": <msg>}`` with its HTTP status (and ``Retry-After`` when set); it
never leaves the server. The texts are copied verbatim from Binance's spot error catalog, with
its ``%s`` placeholders filled the way Binance fills them. Only the few texts used here are
kept: the catalog itself is test data and is not shipped.
"""

from __future__ import annotations

from typing import Final

from bot4.core.errors import RejectedError

__all__ = ["ApiError", "Msg"]


class Msg:
    """Fixed Binance error texts."""

    UNKNOWN: Final = "An unknown error occurred while processing the request."
    BAD_SYMBOL: Final = "Invalid symbol."
    DUPLICATE_PARAM: Final = "Duplicate values for a parameter detected."
    INVALID_SIDE: Final = "Invalid side."
    INVALID_ORDER_TYPE: Final = "Invalid orderType."
    INVALID_TIF: Final = "Invalid timeInForce."
    INVALID_LISTEN_KEY: Final = "This listenKey does not exist."
    OUTSIDE_RECV_WINDOW: Final = "Timestamp for this request is outside of the recvWindow."
    AHEAD_OF_SERVER: Final = "Timestamp for this request was 1000ms ahead of the server's time."
    BAD_SIGNATURE: Final = "Signature for this request is not valid."
    BAD_API_KEY_FMT: Final = "API-key format invalid."
    REJECTED_MBX_KEY: Final = "Invalid API-key, IP, or permissions for action."
    UNKNOWN_ORDER: Final = "Unknown order sent."
    DUPLICATE_ORDER: Final = "Duplicate order sent."
    NO_SUCH_ORDER: Final = "Order does not exist."
    INSUFFICIENT_BALANCE: Final = "Account has insufficient balance for requested action."
    WOULD_TAKE: Final = "Order would immediately match and take."
    WOULD_TRIGGER: Final = "Order would trigger immediately."
    NO_LIQUIDITY: Final = "Order book liquidity is less than symbol minimum quantity."
    ICEBERG_UNSUPPORTED: Final = "Iceberg orders are not supported for this symbol."
    UNSUPPORTED_COMBINATION: Final = "Unsupported order combination"
    TIF_NOT_REQUIRED: Final = "TimeInForce parameter sent when not required."


class ApiError(RejectedError):
    """A request refused with Binance's ``code`` and ``msg`` (HTTP ``status``, default 400)."""

    def __init__(self, code: int, msg: str, *, status: int = 400, retry_after: int | None = None) -> None:
        self.code = code
        self.msg = msg
        self.status = status
        self.retry_after = retry_after
        super().__init__(msg, code=code, status=status)

    def body(self) -> dict[str, object]:
        return {"code": self.code, "msg": self.msg}

    # -- the texts with placeholders -------------------------------------------------------

    @classmethod
    def mandatory(cls, name: str) -> ApiError:
        return cls(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")

    @classmethod
    def either(cls, first: str, second: str) -> ApiError:
        return cls(-1102, f"Param '{first}' or '{second}' must be sent, but both were empty/null!")

    @classmethod
    def illegal(cls, name: str, legal: str) -> ApiError:
        return cls(-1100, f"Illegal characters found in parameter '{name}'; legal range is '{legal}'.")

    @classmethod
    def too_precise(cls, name: str) -> ApiError:
        return cls(-1111, f"Parameter '{name}' has too much precision.")

    @classmethod
    def not_required(cls, name: str) -> ApiError:
        return cls(-1106, f"Parameter '{name}' sent when not required.")

    @classmethod
    def invalid_value(cls, name: str) -> ApiError:
        return cls(-1130, f"Data sent for parameter '{name}' is not valid.")

    @classmethod
    def unread(cls, read: int, sent: int) -> ApiError:
        return cls(-1104, f"Not all sent parameters were read; read '{read}' parameter(s) but was sent '{sent}'.")

    @classmethod
    def order_rejected(cls, msg: str) -> ApiError:
        return cls(-2010, msg)

    @classmethod
    def filter_failure(cls, name: str) -> ApiError:
        return cls(-1013, f"Filter failure: {name}")
