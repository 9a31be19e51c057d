"""REST bodies -> instruments, order status reports, fill reports, account states, events."""

from __future__ import annotations

import msgspec
import pytest

from bot4.core.ids import (
    AccountId,
    ClientOrderId,
    InstrumentId,
    Symbol,
    TradeId,
    Venue,
    VenueOrderId,
)
from bot4.core.numbers import Currency, Money, Price, Quantity
from bot4.execution.reconciliation import EXTERNAL_STRATEGY, FillReport, OrderStatusReport
from bot4.model.account import AccountState
from bot4.model.enums import LiquiditySide, OrderSide, OrderStatus, OrderType
from bot4.model.events import OrderAccepted, OrderExpired, OrderFilled
from bot4.venues.binance import (
    ParseProblem,
    ProblemReason,
    decode,
    instruments_from_exchange_info,
    parse_instrument,
)
from bot4.venues.binance.schemas import ExchangeInfo

MS = 1_000_000
BTC, USDT = Currency("BTC", 8), Currency("USDT", 8)


def test_btcusdt_instrument_carries_the_real_filters(instruments):
    btc = instruments["BTCUSDT"]
    assert btc.id == InstrumentId(Symbol("BTCUSDT"), Venue("BINANCE"))
    assert (btc.base_currency, btc.quote_currency) == (BTC, USDT)
    assert (str(btc.price_increment), str(btc.size_increment)) == ("0.01", "0.00001")
    assert (btc.price_precision, btc.size_precision) == (2, 5)
    assert btc.min_quantity == Quantity.of("0.00001", 5).raw
    assert btc.max_quantity == Quantity.of("9000", 5).raw
    assert (
        btc.min_notional == Price.of("10", 0).raw
    )  # MIN_NOTIONAL (2021); NOTIONAL wins when present
    assert (btc.min_price, btc.max_price) == (Price.of("0.01", 2).raw, Price.of("1000000", 0).raw)


def test_every_exchange_info_symbol_becomes_an_instrument_with_one_currency_per_asset(
    exchange_info, instruments
):
    assert len(instruments) == len(exchange_info.symbols) == 1695
    by_code: dict[str, set[int]] = {}
    for instrument in instruments.values():
        for currency in (instrument.base_currency, instrument.quote_currency):
            by_code.setdefault(currency.code, set()).add(currency.precision)
    assert all(len(precisions) == 1 for precisions in by_code.values())
    shib = instruments[
        "SHIBUSDT"
    ]  # maxQty 46116860414.00: far beyond int64 in 1e-9 units, kept exact
    assert shib.max_quantity == 46116860414 * 10**9


def test_notional_filter_wins_over_min_notional(exchange_info):
    btc = next(s for s in exchange_info.symbols if s.symbol == "BTCUSDT")
    notional = {
        "filterType": "NOTIONAL",
        "minNotional": "5.00000000",
        "applyMinToMarket": True,
        "maxNotional": "9000000.00000000",
        "applyMaxToMarket": False,
        "avgPriceMins": 5,
    }
    newer = msgspec.structs.replace(btc, filters=[*btc.filters, notional])
    assert parse_instrument(newer).min_notional == Price.of("5", 0).raw


def test_exchange_info_reports_missing_symbols_and_unusable_ones(exchange_info, spot_fixture):
    built, problems = instruments_from_exchange_info(exchange_info, symbols=["BTCUSDT", "NOPEUSDT"])
    assert [str(i.id) for i in built] == ["BTCUSDT.BINANCE"]
    assert [(p.reason, p.context) for p in problems] == [
        (ProblemReason.UNKNOWN_INSTRUMENT, {"symbol": "NOPEUSDT"})
    ]
    docs_info = decode(spot_fixture("http_json/exchange_info_response.json"), ExchangeInfo)
    assert isinstance(docs_info, ExchangeInfo)
    built, problems = instruments_from_exchange_info(docs_info)
    assert built == []
    assert problems[0].message == "symbol lacks PRICE_FILTER or LOT_SIZE"
    assert problems[0].context == {"symbol": "ETHBTC"}


def test_trading_only_skips_symbols_on_break(exchange_info):
    built, _ = instruments_from_exchange_info(exchange_info, trading_only=True)
    assert len(built) == sum(s.status == "TRADING" for s in exchange_info.symbols) == 1262


def test_order_query_becomes_order_status_report(parser, spot_fixture, instruments):
    ltc = instruments["LTCBTC"]
    assert parser.parse_order(spot_fixture("http_json/order_response.json")) == OrderStatusReport(
        instrument_id=ltc.id,
        venue_order_id=VenueOrderId("1"),
        client_order_id=ClientOrderId("myOrder1"),
        side=OrderSide.BUY,
        order_type=OrderType.LIMIT,
        quantity=ltc.make_qty("1"),
        price=ltc.make_price("0.1"),
        trigger_price=None,
        filled_qty=ltc.make_qty("0"),
        avg_px=None,
        status=OrderStatus.ACCEPTED,
        ts_last=1499827319559 * MS,
    )


def test_open_orders_become_reports(parser, spot_fixture):
    reports = parser.parse_open_orders(spot_fixture("http_json/open_orders_response.json"))
    assert [(r.venue_order_id, r.client_order_id, r.status) for r in reports] == [
        (VenueOrderId("1"), ClientOrderId("myOrder1"), OrderStatus.ACCEPTED)
    ]
    assert parser.parse_open_orders(b"[]") == []


def test_cancel_response_names_the_canceled_order_by_its_original_client_id(parser, spot_fixture):
    report = parser.parse_cancel(spot_fixture("http_json/cancel_order_response.json"))
    assert isinstance(report, OrderStatusReport)
    assert (report.client_order_id, report.venue_order_id, report.status, str(report.price)) == (
        ClientOrderId("myOrder1"),
        VenueOrderId("4"),
        OrderStatus.CANCELED,
        "2.000000",
    )


def test_full_new_order_response_becomes_accepted_and_taker_fills(
    parser, spot_fixture, instruments
):
    btc = instruments["BTCUSDT"]
    events = parser.parse_new_order(spot_fixture("http_json/new_order_full_response.json"), 5)
    assert not isinstance(events, ParseProblem)
    common = {
        "client_order_id": ClientOrderId("6gCrw2kRUAF9CvJDGP16IP"),
        "instrument_id": btc.id,
        "strategy_id": EXTERNAL_STRATEGY,
        "ts_event": 1507725176595 * MS,
        "ts_init": 5,
    }
    assert events[0] == OrderAccepted(venue_order_id=VenueOrderId("28"), **common)
    assert events[1] == OrderFilled(
        venue_order_id=VenueOrderId("28"),
        trade_id=TradeId("56"),
        order_side=OrderSide.SELL,
        last_qty=btc.make_qty("1"),
        last_px=btc.make_price("4000"),
        commission=Money.of("4", USDT),
        liquidity_side=LiquiditySide.TAKER,
        **common,
    )
    assert [(e.trade_id.value, str(e.last_px), str(e.last_qty)) for e in events[1:]] == [
        ("56", "4000.00", "1.00000"),
        ("57", "3999.00", "5.00000"),
        ("58", "3998.00", "2.00000"),
        ("59", "3997.00", "1.00000"),
        ("60", "3995.00", "1.00000"),
    ]


def test_ack_new_order_response_is_an_acceptance_only(parser):
    ack = b'{"symbol":"BTCUSDT","orderId":28,"orderListId":-1,"clientOrderId":"O-LZ6J-1A2B-1","transactTime":1507725176595}'
    [accepted] = parser.parse_new_order(ack, 5)
    assert accepted.venue_order_id == VenueOrderId("28")
    assert accepted.strategy_id.value == "S-001"


def test_expired_ioc_new_order_ends_with_order_expired(parser, spot_fixture):
    body = msgspec.json.decode(spot_fixture("http_json/new_order_full_response.json"))
    body.update(
        status="EXPIRED",
        timeInForce="IOC",
        type="LIMIT",
        price="3996.00000000",
        fills=body["fills"][:2],
    )
    events = parser.parse_new_order(msgspec.json.encode(body), 5)
    assert [type(e) for e in events] == [OrderAccepted, OrderFilled, OrderFilled, OrderExpired]


def test_order_report_average_price_is_quote_over_quantity(parser, spot_fixture):
    body = msgspec.json.decode(spot_fixture("http_json/order_response.json"))
    body.update(
        symbol="BTCUSDT",
        price="4000.00000000",
        origQty="3.00000000",
        executedQty="3.00000000",
        cummulativeQuoteQty="11997.00000000",
        status="FILLED",
    )
    report = parser.parse_order(msgspec.json.encode(body))
    assert isinstance(report, OrderStatusReport)
    assert (str(report.avg_px), report.status) == ("3999.00", OrderStatus.FILLED)
    body.update(cummulativeQuoteQty="10000.00000000")
    report = parser.parse_order(msgspec.json.encode(body))
    assert str(report.avg_px) == "3333.333333333"  # not on the tick: kept to 1e-9, half-even


def test_stop_limit_order_report_carries_trigger_price(parser, spot_fixture):
    body = msgspec.json.decode(spot_fixture("http_json/order_response.json"))
    body.update(type="STOP_LOSS_LIMIT", stopPrice="0.09000000")
    report = parser.parse_order(msgspec.json.encode(body))
    assert (report.order_type, str(report.price), str(report.trigger_price)) == (
        OrderType.STOP_LIMIT,
        "0.100000",
        "0.090000",
    )


def test_my_trades_become_fill_reports(parser, spot_fixture, instruments):
    bnb = instruments["BNBBTC"]
    assert parser.parse_my_trades(spot_fixture("http_json/account_trades_response.json")) == [
        FillReport(
            instrument_id=bnb.id,
            venue_order_id=VenueOrderId("100234"),
            client_order_id=None,
            trade_id=TradeId("28457"),
            side=OrderSide.BUY,
            last_qty=Quantity.of("12", bnb.size_precision),
            last_px=Price.of("4.000001", 6),  # finer than the 2021 tick: kept exact
            commission=Money.of("10.1", bnb.base_currency),
            liquidity_side=LiquiditySide.TAKER,
            ts_event=1499865549590 * MS,
        )
    ]


def test_account_becomes_account_state(parser, spot_fixture):
    state = parser.parse_account(spot_fixture("http_json/account_response.json"), 8)
    assert isinstance(state, AccountState)
    assert state.account_id == AccountId("BINANCE-SPOT")
    assert [(str(b.total), str(b.locked)) for b in state.balances] == [
        ("4723846.89208129 BTC", "0.00000000 BTC"),
        ("4763368.68006011 LTC", "0.00000000 LTC"),
    ]
    assert state.ts_event == 123456789 * MS


@pytest.mark.parametrize(
    ("method", "body", "reason"),
    [
        ("parse_order", b"<html><body>502 Bad Gateway</body></html>", ProblemReason.NOT_JSON),
        ("parse_open_orders", b'[{"symbol":"BTCUSDT"', ProblemReason.MALFORMED_JSON),
        ("parse_my_trades", b'{"code":-1121,"msg":"Invalid symbol."}', ProblemReason.INVALID_FIELD),
        (
            "parse_cancel",
            b'{"symbol":"NOPEUSDT","origClientOrderId":"a","orderId":1,"clientOrderId":"b","price":"1","origQty":"1","executedQty":"0","cummulativeQuoteQty":"0","status":"CANCELED","timeInForce":"GTC","type":"LIMIT","side":"BUY"}',
            ProblemReason.UNKNOWN_INSTRUMENT,
        ),
    ],
)
def test_bad_rest_bodies_become_problems_not_exceptions(parser, method, body, reason):
    problem = getattr(parser, method)(body)
    assert isinstance(problem, ParseProblem)
    assert (problem.reason, problem.raw) == (reason, body.decode())
