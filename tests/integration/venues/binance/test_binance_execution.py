"""The Binance execution client against the local exchange: place, fill, cancel, reject, repair."""

from __future__ import annotations

import asyncio
from collections import Counter

from bot4.core.ids import TradeId
from bot4.execution.reconciliation import reconcile
from bot4.model.enums import AggressorSide, OrderSide, OrderStatus
from bot4.model.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderFilled,
    OrderRejected,
)
from bot4.testkit import book_snapshot, trade
from bot4.venues.sim.binance_server import StreamKind

from .support import Rig, first_events, run, sample_events, until


def test_resting_limit_orders_are_filled_by_replayed_market_data_and_each_fill_arrives_once() -> None:
    head, tail = first_events(5), list(sample_events()[5:10_500])

    async def body() -> None:
        async with Rig(tail) as rig:
            rig.server.push(*head)  # the capture's first book: best bid 61837.63 / ask 61837.64
            await rig.start_trading()
            orders = [rig.limit(OrderSide.BUY, "0.4", price) for price in ("61825.00", "61815.00", "61805.00")]
            await until(lambda: all(o.status is OrderStatus.ACCEPTED for o in orders), what="the acks")
            assert not rig.trades_at_server()  # resting below the market
            rig.server.start_replay()  # the real capture trades down through all three
            await until(lambda: all(o.status is OrderStatus.FILLED for o in orders), timeout=20, what="the fills")
            await rig.server.wait_replay_done(20)
            await asyncio.sleep(0.2)  # anything late would arrive now

            fills = [e for e in rig.events if isinstance(e, OrderFilled)]
            server_fills = rig.trades_at_server()
            assert Counter(e.trade_id.value for e in fills) == Counter(str(f.trade_id) for f in server_fills)
            for order in orders:
                own = rig.events_of(order, OrderFilled)
                assert sum(e.last_qty.raw for e in own) == order.quantity.raw
                assert all(e.last_px.raw <= order.price.raw for e in own)
                assert len(rig.events_of(order, OrderAccepted)) == 1
                assert order.filled_qty == order.quantity
            assert rig.engine.stats.duplicate_fills == 0 and rig.engine.unmatched == []
            assert rig.errors == []

    run(body, timeout=40)


def test_marketable_order_fills_from_the_full_answer_and_the_stream_reach_the_engine_once() -> None:
    async def body() -> None:
        async with Rig() as rig:
            inst = rig.instrument
            rig.server.push(
                book_snapshot(inst, [("100.00", "5")], [("100.01", "0.2"), ("100.02", "0.3"), ("100.05", "1")], 1)
            )
            await rig.start_trading()
            order = rig.market_order(OrderSide.BUY, "0.4")
            await until(lambda: order.status is OrderStatus.FILLED, what="the fill")
            await until(lambda: rig.execution.stats().duplicates_suppressed >= 3, what="the stream's copies")
            fills = rig.events_of(order, OrderFilled)
            assert [(str(f.last_px), str(f.last_qty)) for f in fills] == [("100.01", "0.20000"), ("100.02", "0.20000")]
            assert len({f.trade_id for f in fills}) == 2
            assert len(rig.events_of(order, OrderAccepted)) == 1
            assert rig.engine.stats.duplicate_fills == 0 and rig.engine.unmatched == []

    run(body)


def test_cancel_reaches_the_engine_once_and_a_second_cancel_is_rejected_with_binance_code() -> None:
    async def body() -> None:
        async with Rig() as rig:
            rig.server.push(book_snapshot(rig.instrument, [("100.00", "5")], [("100.01", "5")], 1))
            await rig.start_trading()
            order = rig.limit(OrderSide.BUY, "0.1", "90.00")
            rig.engine.cancel_order(order)  # goes out behind its own submit
            await until(lambda: order.status is OrderStatus.CANCELED, what="the cancel")
            await until(lambda: rig.execution.stats().duplicates_suppressed >= 2, what="the stream's copies")
            assert len(rig.events_of(order, OrderCanceled)) == 1
            assert rig.server.account().open_orders() == []

            rig.execution.cancel_order(order)  # the venue no longer has it
            await until(lambda: rig.events_of(order, OrderCancelRejected), what="the refusal")
            (refused,) = rig.events_of(order, OrderCancelRejected)
            assert refused.reason == "-2011 Unknown order sent."
            assert order.status is OrderStatus.CANCELED

    run(body)


def test_rejections_carry_binance_code_and_message() -> None:
    async def body() -> None:
        async with Rig() as rig:
            rig.server.push(book_snapshot(rig.instrument, [("100.00", "5")], [("100.01", "5")], 1))
            await rig.start_trading()
            too_big = rig.limit(OrderSide.BUY, "5000", "100.00")  # 500,000 USDT, the account has 100,000
            # Below the 5 USDT minimum notional: the engine would deny it, so it goes straight
            # to the client, as a venue whose filters changed since they were loaded would see.
            tiny = rig.limit(OrderSide.BUY, "0.01", "100.00", submit=False)
            rig.execution.submit_order(tiny)
            await until(lambda: too_big.status is OrderStatus.REJECTED, what="the -2010")
            await until(lambda: rig.events_of(tiny, OrderRejected), what="the -1013")
            (balance,) = rig.events_of(too_big, OrderRejected)
            assert (balance.code, balance.reason) == ("-2010", "Account has insufficient balance for requested action.")
            (notional,) = rig.events_of(tiny, OrderRejected)
            assert (notional.code, notional.reason) == ("-1013", "Filter failure: NOTIONAL")
            assert rig.server.account().orders == {}

    run(body)


def test_fill_missed_while_the_user_stream_was_down_is_repaired_by_reconciliation() -> None:
    async def body() -> None:
        async with Rig(reconcile_on_reconnect=True) as rig:
            inst = rig.instrument
            rig.server.push(book_snapshot(inst, [("100.00", "5")], [("100.01", "5")], 1))
            await rig.start_trading()
            missed = rig.limit(OrderSide.BUY, "0.3", "99.50")
            kept = rig.limit(OrderSide.BUY, "0.1", "95.00")
            await until(lambda: missed.status is kept.status is OrderStatus.ACCEPTED, what="the acks")

            assert await rig.server.drop_ws(StreamKind.USER) == 1
            rig.server.push(trade(inst, "99.40", "1", 2, aggressor=AggressorSide.SELLER))  # fills `missed`
            (fill,) = rig.trades_at_server()
            await until(lambda: rig.reconciliations, what="the reconciliation after the reconnect")
            (result,) = rig.reconciliations
            assert [(r.kind, r.client_order_id) for r in result.repairs] == [("missing_fill", missed.client_order_id.value)]
            assert missed.status is OrderStatus.FILLED and missed.has_trade(TradeId(str(fill.trade_id)))
            assert kept.status is OrderStatus.ACCEPTED
            assert [s.stream for s in rig.stream_signals] == ["binance-user", "binance-user"]

            report = await rig.execution.report()  # the same view, asked for directly
            assert [o.client_order_id for o in report.open_orders] == [kept.client_order_id]
            assert [(f.client_order_id, f.trade_id.value) for f in report.fills] == [
                (missed.client_order_id, str(fill.trade_id))
            ]
            assert report.account is not None and report.account.account_id == rig.execution.account_id
            assert reconcile(rig.engine, report).clean

    run(body)


class Gate:
    """A journal that makes entries durable only when the test says so."""

    def __init__(self) -> None:
        self.last_seq = 7
        self.durable = asyncio.Event()

    async def wait_durable(self, seq: int, timeout: float | None = None) -> None:
        assert seq == 7
        async with asyncio.timeout(timeout):
            await self.durable.wait()


def test_write_ahead_holds_an_order_until_its_intent_is_durable_and_refuses_it_past_the_timeout() -> None:
    gate = Gate()

    async def body() -> None:
        async with Rig(write_ahead=gate, write_ahead_timeout=1.0) as rig:
            rig.server.push(book_snapshot(rig.instrument, [("100.00", "5")], [("100.01", "5")], 1))
            held = rig.limit(OrderSide.BUY, "0.1", "95.00")
            await asyncio.sleep(0.3)
            assert held.status is OrderStatus.SUBMITTED and rig.server.account().orders == {}
            gate.durable.set()
            await until(lambda: held.status is OrderStatus.ACCEPTED, what="the ack once durable")

            gate.durable.clear()
            refused = rig.limit(OrderSide.BUY, "0.1", "96.00")
            await until(lambda: refused.status is OrderStatus.REJECTED, what="the refusal")
            (rejected,) = rig.events_of(refused, OrderRejected)
            assert rejected.code == "JOURNAL_NOT_DURABLE"
            assert len(rig.server.account().orders) == 1

    run(body)
