"""The error tree: context rendering and the shape drawn in the module docstring."""

from __future__ import annotations

import pytest

from bot4.core import errors
from bot4.core.errors import (
    Bot4Error,
    CircuitOpenError,
    ConfigError,
    DisconnectedError,
    DuplicateFillError,
    ImpossibleFillError,
    InternalError,
    InvalidDataError,
    InvalidInputError,
    InvalidOrderError,
    InvalidStateTransition,
    NoRouteError,
    OutboundQueueFullError,
    PrecisionError,
    RateLimitedError,
    RejectedError,
    RequestNotSentError,
    StoreIntegrityError,
    StoreSchemaError,
    StoreUnavailableError,
    StreamClosedError,
    StreamGaveUpError,
    TransientError,
    UnknownInstrumentError,
    UnknownVenueError,
    VenueAuthError,
    VenueBannedError,
    VenueRejectedError,
    VenueTimeoutError,
)

# (class, its direct parent) exactly as drawn in bot4.core.errors' docstring.
TREE: list[tuple[type[Bot4Error], type[Exception]]] = [
    (Bot4Error, Exception),
    (TransientError, Bot4Error),
    (VenueTimeoutError, TransientError),
    (DisconnectedError, TransientError),
    (StreamGaveUpError, DisconnectedError),
    (RateLimitedError, TransientError),
    (StoreUnavailableError, TransientError),
    (RequestNotSentError, TransientError),
    (CircuitOpenError, RequestNotSentError),
    (OutboundQueueFullError, RequestNotSentError),
    (StreamClosedError, RequestNotSentError),
    (RejectedError, Bot4Error),
    (VenueRejectedError, RejectedError),
    (VenueAuthError, RejectedError),
    (VenueBannedError, RejectedError),
    (NoRouteError, RejectedError),
    (InvalidInputError, Bot4Error),
    (InvalidDataError, InvalidInputError),
    (InvalidOrderError, InvalidInputError),
    (PrecisionError, InvalidInputError),
    (UnknownInstrumentError, InvalidInputError),
    (UnknownVenueError, InvalidInputError),
    (ConfigError, InvalidInputError),
    (StoreSchemaError, InvalidInputError),
    (InternalError, Bot4Error),
    (InvalidStateTransition, InternalError),
    (ImpossibleFillError, InternalError),
    (DuplicateFillError, InternalError),
    (StoreIntegrityError, InternalError),
]

BRANCHES = [TransientError, RejectedError, InvalidInputError, InternalError]


@pytest.mark.parametrize(("cls", "parent"), TREE, ids=lambda c: c.__name__)
def test_error_class_has_the_parent_drawn_in_the_tree(
    cls: type[Bot4Error], parent: type[Exception]
) -> None:
    assert cls.__bases__ == (parent,)
    assert issubclass(cls, Bot4Error)


@pytest.mark.parametrize(("cls", "parent"), TREE[1:], ids=lambda c: c.__name__)
def test_error_class_belongs_to_exactly_one_branch(
    cls: type[Bot4Error], parent: type[Exception]
) -> None:
    assert sum(issubclass(cls, branch) for branch in BRANCHES) == 1


def test_error_tree_lists_every_exported_error() -> None:
    exported = {getattr(errors, name) for name in errors.__all__}
    assert exported == {cls for cls, _ in TREE}


def test_error_without_context_renders_just_the_message() -> None:
    err = InvalidOrderError("quantity must be positive")
    assert str(err) == "quantity must be positive"
    assert err.message == "quantity must be positive"
    assert err.context == {}


def test_error_renders_context_after_message_in_given_order() -> None:
    err = VenueRejectedError("order rejected", venue="BINANCE", code=-2010, price="60000.01")
    assert str(err) == "order rejected (venue='BINANCE', code=-2010, price='60000.01')"
    assert err.context == {"venue": "BINANCE", "code": -2010, "price": "60000.01"}
    assert err.args == ("order rejected (venue='BINANCE', code=-2010, price='60000.01')",)


def test_error_is_catchable_by_its_branch() -> None:
    with pytest.raises(TransientError) as excinfo:
        raise VenueTimeoutError("no answer", venue="SIM", timeout_s=5)
    assert excinfo.value.context["timeout_s"] == 5
