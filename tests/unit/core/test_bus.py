"""MessageBus: publish/subscribe order, wildcard prefixes, unsubscribe, endpoints."""

from __future__ import annotations

from typing import Any

import pytest

from bot4.core.bus import MessageBus
from bot4.core.errors import InvalidInputError


class Recorder:
    """Handlers that append (tag, msg) to one shared log, so order across handlers shows."""

    def __init__(self) -> None:
        self.log: list[tuple[str, Any]] = []

    def handler(self, tag: str):  # type: ignore[no-untyped-def]
        def handle(msg: Any) -> None:
            self.log.append((tag, msg))

        return handle


def test_publish_delivers_to_subscribers_in_subscription_order() -> None:
    bus = MessageBus()
    rec = Recorder()
    for tag in ("first", "second", "third"):
        bus.subscribe("data.trades.BTCUSDT.SIM", rec.handler(tag))
    bus.publish("data.trades.BTCUSDT.SIM", 1)
    bus.publish("data.trades.BTCUSDT.SIM", 2)
    assert rec.log == [
        ("first", 1),
        ("second", 1),
        ("third", 1),
        ("first", 2),
        ("second", 2),
        ("third", 2),
    ]
    assert bus.published_count == 2


def test_publish_without_subscribers_delivers_nothing_but_counts() -> None:
    bus = MessageBus()
    rec = Recorder()
    bus.subscribe("a", rec.handler("a"))
    bus.publish("b", "msg")
    assert rec.log == []
    assert bus.published_count == 1


def test_publish_only_reaches_the_exact_topic() -> None:
    bus = MessageBus()
    rec = Recorder()
    bus.subscribe("data.trades.BTCUSDT.SIM", rec.handler("btc"))
    bus.subscribe("data.trades.ETHUSDT.SIM", rec.handler("eth"))
    bus.publish("data.trades.ETHUSDT.SIM", "x")
    bus.publish("data.trades", "y")
    assert rec.log == [("eth", "x")]


def test_wildcard_subscription_matches_every_topic_with_the_prefix() -> None:
    bus = MessageBus()
    rec = Recorder()
    bus.subscribe("data.trades.*", rec.handler("trades"))
    bus.publish("data.trades.BTCUSDT.SIM", 1)
    bus.publish("data.trades.ETHUSDT.SIM", 2)
    bus.publish("data.quotes.BTCUSDT.SIM", 3)
    bus.publish("data.trades", 4)  # shorter than the prefix "data.trades."
    assert rec.log == [("trades", 1), ("trades", 2)]


def test_bare_star_subscription_matches_every_topic() -> None:
    bus = MessageBus()
    rec = Recorder()
    bus.subscribe("*", rec.handler("all"))
    bus.publish("a", 1)
    bus.publish("events.order.S-001", 2)
    assert rec.log == [("all", 1), ("all", 2)]


def test_exact_and_wildcard_handlers_run_in_subscription_order() -> None:
    bus = MessageBus()
    rec = Recorder()
    bus.subscribe("data.trades.BTC", rec.handler("exact-1"))
    bus.subscribe("data.*", rec.handler("wild"))
    bus.subscribe("data.trades.BTC", rec.handler("exact-2"))
    bus.publish("data.trades.BTC", "m")
    assert [tag for tag, _ in rec.log] == ["exact-1", "wild", "exact-2"]


def test_subscription_added_after_a_publish_receives_later_messages() -> None:
    bus = MessageBus()
    rec = Recorder()
    bus.subscribe("t", rec.handler("a"))
    bus.publish("t", 1)  # resolves and caches the handlers for "t"
    bus.subscribe("t.*", rec.handler("never"))
    bus.subscribe("*", rec.handler("b"))
    bus.publish("t", 2)
    assert rec.log == [("a", 1), ("a", 2), ("b", 2)]


def test_subscribe_same_handler_twice_delivers_once() -> None:
    bus = MessageBus()
    rec = Recorder()
    handle = rec.handler("h")
    bus.subscribe("t", handle)
    bus.subscribe("t", handle)
    bus.publish("t", 1)
    assert rec.log == [("h", 1)]


def test_same_handler_on_overlapping_patterns_is_called_per_pattern() -> None:
    bus = MessageBus()
    rec = Recorder()
    handle = rec.handler("h")
    bus.subscribe("t.x", handle)
    bus.subscribe("t.*", handle)
    bus.publish("t.x", 1)
    assert rec.log == [("h", 1), ("h", 1)]


def test_subscribe_empty_topic_raises_invalid_input_error() -> None:
    with pytest.raises(InvalidInputError):
        MessageBus().subscribe("", lambda msg: None)


def test_unsubscribe_stops_delivery_to_that_handler_only() -> None:
    bus = MessageBus()
    rec = Recorder()
    a, b = rec.handler("a"), rec.handler("b")
    bus.subscribe("t", a)
    bus.subscribe("t", b)
    bus.publish("t", 1)
    bus.unsubscribe("t", a)
    bus.publish("t", 2)
    assert rec.log == [("a", 1), ("b", 1), ("b", 2)]


def test_unsubscribe_wildcard_needs_the_same_pattern() -> None:
    bus = MessageBus()
    rec = Recorder()
    handle = rec.handler("h")
    bus.subscribe("t.*", handle)
    bus.unsubscribe("t.x", handle)  # not the subscribed pattern: no effect
    bus.publish("t.x", 1)
    bus.unsubscribe("t.*", handle)
    bus.publish("t.x", 2)
    assert rec.log == [("h", 1)]


def test_unsubscribe_unknown_handler_does_nothing() -> None:
    bus = MessageBus()
    rec = Recorder()
    bus.subscribe("t", rec.handler("a"))
    bus.unsubscribe("t", rec.handler("other"))
    bus.unsubscribe("nobody", rec.handler("other"))
    bus.publish("t", 1)
    assert rec.log == [("a", 1)]


def test_has_subscribers_follows_subscriptions() -> None:
    bus = MessageBus()
    handle = Recorder().handler("h")
    assert not bus.has_subscribers("data.trades.X")
    bus.subscribe("data.*", handle)
    assert bus.has_subscribers("data.trades.X")
    assert not bus.has_subscribers("events.X")
    bus.unsubscribe("data.*", handle)
    assert not bus.has_subscribers("data.trades.X")


def test_send_delivers_to_the_registered_endpoint() -> None:
    bus = MessageBus()
    rec = Recorder()
    bus.register("ExecEngine.execute", rec.handler("exec"))
    bus.register("RiskEngine.execute", rec.handler("risk"))
    bus.send("RiskEngine.execute", "cmd-1")
    bus.send("ExecEngine.execute", "cmd-2")
    assert rec.log == [("risk", "cmd-1"), ("exec", "cmd-2")]
    assert bus.sent_count == 2


def test_send_does_not_reach_topic_subscribers() -> None:
    bus = MessageBus()
    rec = Recorder()
    bus.subscribe("*", rec.handler("sub"))
    bus.register("ep", rec.handler("ep"))
    bus.send("ep", 1)
    assert rec.log == [("ep", 1)]
    assert bus.published_count == 0


def test_register_duplicate_endpoint_raises_and_keeps_the_first() -> None:
    bus = MessageBus()
    rec = Recorder()
    bus.register("ep", rec.handler("first"))
    with pytest.raises(InvalidInputError) as excinfo:
        bus.register("ep", rec.handler("second"))
    assert excinfo.value.context == {"endpoint": "ep"}
    bus.send("ep", 1)
    assert rec.log == [("first", 1)]


def test_send_to_unknown_endpoint_raises_invalid_input_error() -> None:
    bus = MessageBus()
    with pytest.raises(InvalidInputError) as excinfo:
        bus.send("nowhere", 1)
    assert excinfo.value.context == {"endpoint": "nowhere"}
    assert bus.sent_count == 0


def test_deregister_removes_endpoint_and_frees_the_name() -> None:
    bus = MessageBus()
    rec = Recorder()
    bus.register("ep", rec.handler("old"))
    bus.deregister("ep")
    with pytest.raises(InvalidInputError):
        bus.send("ep", 1)
    bus.register("ep", rec.handler("new"))
    bus.send("ep", 2)
    assert rec.log == [("new", 2)]


def test_deregister_unknown_endpoint_does_nothing() -> None:
    MessageBus().deregister("nowhere")


def test_publish_inside_handler_is_delivered_after_handler_returns() -> None:
    from bot4.core import MessageBus

    bus = MessageBus()
    log: list[str] = []

    def first(msg: str) -> None:
        log.append(f"first:{msg}:start")
        if msg == "a":
            bus.publish("t", "b")  # queued, not re-entered
        log.append(f"first:{msg}:end")

    def second(msg: str) -> None:
        log.append(f"second:{msg}")

    bus.subscribe("t", first)
    bus.subscribe("t", second)
    bus.publish("t", "a")
    assert log == [
        "first:a:start",
        "first:a:end",
        "second:a",
        "first:b:start",
        "first:b:end",
        "second:b",
    ]


def test_publish_queued_messages_survive_a_raising_handler() -> None:
    from bot4.core import MessageBus

    bus = MessageBus()
    seen: list[str] = []

    def boom(msg: str) -> None:
        if msg == "x":
            bus.publish("other", "kept")
            raise RuntimeError("handler bug")

    bus.subscribe("t", boom)
    bus.subscribe("other", seen.append)
    try:
        bus.publish("t", "x")
    except RuntimeError:
        pass
    assert seen == []
    bus.publish("t", "y")
    assert seen == ["kept"]
