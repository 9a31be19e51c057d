"""User data: executionReport -> order events, outboundAccountPosition -> AccountState.

The executionReport fixtures are docs-derived or hand-edited shapes (SOURCES.md levels C/D):
they pin field handling, not realistic sequences.
"""

from __future__ import annotations

import msgspec
import pytest

from bot4.core.ids import AccountId, ClientOrderId, InstrumentId, StrategyId, TradeId, VenueOrderId
from bot4.core.numbers import Currency, Money
from bot4.execution.reconciliation import EXTERNAL_STRATEGY
from bot4.model.account import Account, AccountBalance, AccountState
from bot4.model.enums import AccountType, LiquiditySide, OrderSide, OrderStatus, OrderType
from bot4.model.events import (
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderSubmitted,
    OrderUpdated,
)
from bot4.model.instrument import Instrument
from bot4.model.orders import Order
from bot4.venues.binance import ParseProblem, ProblemReason, UserStreamEnded

ETHUSDT = InstrumentId.from_str("ETHUSDT.BINANCE")
STRATEGY = StrategyId("S-001")
MS = 1_000_000
E = 1759347763167 * MS  # the fixtures' constant event/transaction time


def edited(raw: bytes, **changes: object) -> bytes:
    message = msgspec.json.decode(raw)
    target = message.get("data", message)
    target.update(changes)
    return msgspec.json.encode(message)


def common(
    client: str,
    strategy: StrategyId = STRATEGY,
    instrument: InstrumentId = ETHUSDT,
    ts: int = E,
    ts_init: int = 1,
):
    return {
        "client_order_id": ClientOrderId(client),
        "instrument_id": instrument,
        "strategy_id": strategy,
        "ts_event": ts,
        "ts_init": ts_init,
    }


def test_new_report_becomes_order_accepted_with_venue_order_id(parser, nautilus_ws):
    assert parser.parse_user(nautilus_ws("ws_spot_execution_report_new.json"), 1) == [
        OrderAccepted(venue_order_id=VenueOrderId("1234567890"), **common("O-12345-test-new"))
    ]


def test_trade_report_becomes_order_filled_with_commission_in_its_asset(
    parser, nautilus_ws, instruments
):
    eth = instruments["ETHUSDT"]
    assert parser.parse_user(nautilus_ws("ws_spot_execution_report_trade.json"), 1) == [
        OrderFilled(
            venue_order_id=VenueOrderId("1234567890"),
            trade_id=TradeId("98765432"),
            order_side=OrderSide.BUY,
            last_qty=eth.make_qty("0.5"),
            last_px=eth.make_price("2499.50"),
            commission=Money.of("0.0005", eth.base_currency),
            liquidity_side=LiquiditySide.MAKER,  # "m": true
            **common("O-12345-test-trade"),
        )
    ]


def test_final_trade_report_is_one_fill_and_no_extra_terminal_event(
    parser, spot_fixture, instruments
):
    [fill] = parser.parse_user(spot_fixture("user_data_json/execution_report_trade.json"), 3)
    assert isinstance(fill, OrderFilled)
    assert (fill.last_qty, fill.last_px, fill.commission) == (
        instruments["ETHUSDT"].make_qty("1"),
        instruments["ETHUSDT"].make_price("2500"),
        Money.of("0.001", Currency("ETH", 8)),
    )
    assert fill.strategy_id == EXTERNAL_STRATEGY  # "x-TD67BGP9-..." is not one of ours


def test_canceled_report_becomes_order_canceled(parser, nautilus_ws):
    assert parser.parse_user(nautilus_ws("ws_spot_execution_report_canceled.json"), 1) == [
        OrderCanceled(
            venue_order_id=VenueOrderId("9876543210"), reason="", **common("O-12345-test-cancel")
        )
    ]


def test_cancel_report_names_our_order_by_its_original_client_id(parser, nautilus_ws):
    raw = edited(
        nautilus_ws("ws_spot_execution_report_canceled.json"), c="cancelRequest7", C="O-LZ6J-1A2B-9"
    )
    [canceled] = parser.parse_user(raw, 1)
    assert isinstance(canceled, OrderCanceled)
    assert (canceled.client_order_id, canceled.strategy_id) == (
        ClientOrderId("O-LZ6J-1A2B-9"),
        STRATEGY,
    )


def test_pending_cancel_status_produces_no_event_yet(parser, nautilus_ws):
    assert parser.parse_user(nautilus_ws("ws_spot_execution_report_pending_cancel.json"), 1) == []


def test_rejected_report_becomes_order_rejected_with_binance_reason(parser, nautilus_ws):
    instrument = InstrumentId.from_str("BTCUSDT.BINANCE")
    assert parser.parse_user(nautilus_ws("ws_spot_execution_report_rejected.json"), 1) == [
        OrderRejected(
            code="GTX_ORDER_REJECT",
            reason="BINANCE rejected the order: GTX_ORDER_REJECT",
            **common("O-12345-test-reject", instrument=instrument),
        )
    ]


@pytest.mark.parametrize(
    ("name", "instrument"),
    [
        ("ws_spot_execution_report_expired.json", "BTCUSDT"),
        ("ws_spot_execution_report_trade_prevention.json", "ETHUSDT"),
    ],
)
def test_expired_and_self_trade_prevented_reports_become_order_expired(
    parser, nautilus_ws, name, instrument
):
    [expired] = parser.parse_user(nautilus_ws(name), 1)
    assert isinstance(expired, OrderExpired)
    assert expired.instrument_id == InstrumentId.from_str(f"{instrument}.BINANCE")
    assert expired.venue_order_id in (VenueOrderId("1234567891"), VenueOrderId("1234567890"))


def test_docs_expired_report_with_expiry_reason_becomes_order_expired(parser, spot_fixture):
    [expired] = parser.parse_user(spot_fixture("user_data_json/execution_report_expired.json"), 1)
    assert expired == OrderExpired(
        venue_order_id=VenueOrderId("12345678"),
        **common("x-TD67BGP9-T0000000000000", strategy=EXTERNAL_STRATEGY, ts=1709654403000 * MS),
    )


def test_calculated_execution_is_a_fill_for_an_external_order(parser, nautilus_ws):
    [fill] = parser.parse_user(nautilus_ws("ws_spot_execution_report_calculated.json"), 1)
    assert isinstance(fill, OrderFilled)
    assert (fill.strategy_id, fill.order_side, str(fill.last_px), str(fill.commission)) == (
        EXTERNAL_STRATEGY,
        OrderSide.SELL,
        "49500.00",
        "2.47500000 USDT",
    )


def test_reports_without_our_client_id_are_external_and_named_after_the_order(parser, nautilus_ws):
    [custom] = parser.parse_user(nautilus_ws("ws_spot_execution_report_custom_client_id.json"), 1)
    assert (custom.client_order_id, custom.strategy_id) == (
        ClientOrderId("INIT-BTC-1234567890"),
        EXTERNAL_STRATEGY,
    )
    [empty] = parser.parse_user(nautilus_ws("ws_spot_execution_report_empty_client_id.json"), 1)
    assert (empty.client_order_id, empty.strategy_id) == (
        ClientOrderId("EXT-1234567890"),
        EXTERNAL_STRATEGY,
    )


def test_trade_with_zero_last_price_fills_at_the_limit_price(parser, nautilus_ws, instruments):
    [fill] = parser.parse_user(nautilus_ws("ws_spot_execution_report_trade_l_zero.json"), 1)
    assert isinstance(fill, OrderFilled)
    assert (fill.last_px, fill.last_qty) == (
        instruments["ETHUSDT"].make_price("2500"),
        instruments["ETHUSDT"].make_qty("0.001"),
    )
    assert fill.commission == Money.zero(
        instruments["ETHUSDT"].quote_currency
    )  # "n": "0", "N": null


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ws_spot_execution_report_trade_l_zero_canceled.json", [OrderCanceled]),
        ("ws_spot_execution_report_trade_l_zero_expired.json", [OrderExpired]),
        ("ws_spot_execution_report_trade_l_zero_new.json", []),
        ("ws_spot_execution_report_trade_l_zero_partial.json", []),
    ],
)
def test_trade_reports_without_quantity_only_carry_a_final_status(
    parser, nautilus_ws, name, expected
):
    assert [type(e) for e in parser.parse_user(nautilus_ws(name), 1)] == expected


@pytest.mark.parametrize(
    "name",
    [
        "ws_spot_execution_report_new_limit_if_touched_price_match.json",
        "ws_spot_execution_report_new_price_match.json",
        "ws_spot_execution_report_new_stop_limit_price_match.json",
    ],
)
def test_new_conditional_and_price_match_orders_are_accepted(parser, nautilus_ws, name):
    [accepted] = parser.parse_user(nautilus_ws(name), 1)
    assert isinstance(accepted, OrderAccepted)


def test_amended_order_becomes_order_updated_with_new_quantity(parser, nautilus_ws, instruments):
    raw = edited(nautilus_ws("ws_spot_execution_report_new.json"), x="REPLACED", q="0.40000000")
    [updated] = parser.parse_user(raw, 1)
    assert updated == OrderUpdated(
        quantity=instruments["ETHUSDT"].make_qty("0.4"),
        price=instruments["ETHUSDT"].make_price("2500"),
        venue_order_id=VenueOrderId("1234567890"),
        **common("O-12345-test-new"),
    )


def test_binance_us_symbol_needs_its_instrument(parser, nautilus_ws):
    raw = nautilus_ws("ws_spot_execution_report_binance_us.json")
    problem = parser.parse_user(raw, 1)
    assert isinstance(problem, ParseProblem)
    assert (problem.reason, problem.context["symbol"]) == (
        ProblemReason.UNKNOWN_INSTRUMENT,
        "BTCUSD",
    )
    btcusd = Instrument.create(
        instrument_id=InstrumentId.from_str("BTCUSD.BINANCE"),
        base=Currency("BTC", 8),
        quote=Currency("USD", 4),
        tick_size="0.01",
        step_size="0.00001",
    )
    parser.add_instrument(btcusd)
    [fill] = parser.parse_user(raw, 1)
    assert isinstance(fill, OrderFilled)
    # 0.00492621 USD is finer than the 4 decimals USD is kept in here: rounded, the fill kept
    assert (str(fill.last_px), str(fill.commission), fill.liquidity_side) == (
        "117290.77",
        "0.0049 USD",
        LiquiditySide.TAKER,
    )


def test_parsed_events_drive_an_order_through_the_transition_table(
    parser, nautilus_ws, instruments
):
    eth = instruments["ETHUSDT"]
    client = "O-LZ6J-1A2B-1"
    order = Order(
        client_order_id=ClientOrderId(client),
        strategy_id=STRATEGY,
        instrument_id=ETHUSDT,
        side=OrderSide.BUY,
        order_type=OrderType.LIMIT,
        quantity=eth.make_qty("1"),
        price=eth.make_price("2500"),
        ts_init=0,
    )
    order.apply(
        OrderSubmitted(account_id=AccountId("BINANCE-SPOT"), **common(client, ts=0, ts_init=0))
    )
    frames = [
        edited(nautilus_ws("ws_spot_execution_report_new.json"), c=client),
        edited(nautilus_ws("ws_spot_execution_report_trade.json"), c=client),
        edited(
            nautilus_ws("ws_spot_execution_report_pending_cancel.json"),
            c=client,
            S="BUY",
            q="1.00000000",
            i=1234567890,
        ),
        edited(
            nautilus_ws("ws_spot_execution_report_canceled.json"),
            c="cxl-1",
            C=client,
            S="BUY",
            q="1.00000000",
            i=1234567890,
        ),
    ]
    for frame in frames:
        events = parser.parse_user(frame, 2)
        assert not isinstance(events, ParseProblem), events
        for event in events:
            order.apply(event)
    assert order.status is OrderStatus.CANCELED
    assert order.filled_qty == eth.make_qty("0.5")
    assert order.venue_order_id == VenueOrderId("1234567890")


def test_account_position_becomes_account_state_with_total_free_and_locked(parser, spot_fixture):
    [state] = parser.parse_user(spot_fixture("user_data_json/account_position.json"), 4)
    usdt, eth = Currency("USDT", 8), Currency("ETH", 8)
    assert state == AccountState(
        account_id=AccountId("BINANCE-SPOT"),
        account_type=AccountType.CASH,
        balances=[
            AccountBalance(
                Money.of("12500", usdt), Money.of("2500", usdt), Money.of("10000", usdt)
            ),
            AccountBalance(Money.of("5", eth), Money.zero(eth), Money.of("5", eth)),
        ],
        ts_event=1709654400000 * MS,
        ts_init=4,
    )
    account = Account(AccountId("BINANCE-SPOT"), AccountType.CASH)
    account.apply(state)
    assert account.free(usdt) == Money.of("10000", usdt)


def test_wrapped_account_position_from_websocket_api_parses(parser, spot_fixture):
    [state] = parser.parse_user(spot_fixture("user_data_json/account_position_wrapped.json"), 4)
    assert isinstance(state, AccountState)
    assert [str(b.total) for b in state.balances] == ["10000.00000000 ETH"]


@pytest.mark.parametrize(
    "name", ["balance_update.json", "balance_update_wrapped.json", "list_status_wrapped.json"]
)
def test_balance_updates_and_list_status_carry_no_event_of_their_own(parser, spot_fixture, name):
    assert parser.parse_user(spot_fixture(f"user_data_json/{name}"), 1) == []
    assert parser.stats.problem_count == 0


def test_listen_key_expiry_and_stream_termination_end_the_user_stream(parser):
    expired = b'{"e":"listenKeyExpired","E":1699596037418,"listenKey":"OfYGbUzi3PraNagEkdKuFwUHn48brFsItTdsuiIXrucEvD0rhRXZ7I6URWfE8YE8"}'
    assert parser.parse_user(expired, 9) == [
        UserStreamEnded(reason="listenKeyExpired", ts_event=1699596037418 * MS, ts_init=9)
    ]
    terminated = b'{"subscriptionId":0,"event":{"e":"eventStreamTerminated","E":1728973001334}}'
    assert parser.parse_user(terminated, 9) == [
        UserStreamEnded(reason="eventStreamTerminated", ts_event=1728973001334 * MS, ts_init=9)
    ]


def test_docs_wrapped_new_report_uses_the_parser_account_and_instrument(
    parser, spot_fixture, instruments
):
    [accepted] = parser.parse_user(spot_fixture("user_data_json/execution_report_wrapped.json"), 1)
    assert accepted == OrderAccepted(
        venue_order_id=VenueOrderId("4293153"),
        **common(
            "mUvoqJxFIILMdfAW5iGSOW",
            strategy=EXTERNAL_STRATEGY,
            instrument=InstrumentId.from_str("ETHBTC.BINANCE"),
            ts=1499405658657 * MS,
        ),
    )
