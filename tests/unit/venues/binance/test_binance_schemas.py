"""Wire structs decode Binance's real messages field by field, in Binance's names."""

from __future__ import annotations

import msgspec
import pytest

from bot4.venues.binance import schemas as wire


def test_combined_trade_frame_decodes_every_field(hft_lines):
    stream, trade = wire.decode_market(next(raw for _, raw in hft_lines if b"@trade" in raw))
    assert stream == "btcusdt@trade"
    assert trade == wire.Trade(
        event_time=1723161255343,
        symbol="BTCUSDT",
        trade_id=3735683259,
        price="61837.63000000",
        quantity="0.02000000",
        trade_time=1723161255342,
        buyer_is_maker=True,
        ignore=True,
    )


def test_book_ticker_without_event_type_is_told_apart_by_its_stream(hft_lines):
    stream, ticker = wire.decode_market(next(raw for _, raw in hft_lines if b"@bookTicker" in raw))
    assert stream == "btcusdt@bookTicker"
    assert ticker == wire.BookTicker(
        update_id=50093239212,
        symbol="BTCUSDT",
        bid_price="61837.63000000",
        bid_qty="3.78826000",
        ask_price="61837.64000000",
        ask_qty="1.54698000",
    )


def test_depth_update_keeps_update_ids_and_levels_as_sent(hft_lines):
    stream, diff = wire.decode_market(hft_lines[0][1])
    assert stream == "btcusdt@depth@100ms"
    assert isinstance(diff, wire.DepthUpdate)
    assert (diff.first_update_id, diff.final_update_id, diff.event_time) == (
        50093239189,
        50093239202,
        1723161255208,
    )
    assert diff.bids[0] == ("61737.63000000", "0.00000000")
    assert diff.asks[-1] == ("61937.64000000", "0.02000000")
    assert (len(diff.bids), len(diff.asks)) == (3, 9)


def test_inline_rest_snapshot_decodes_as_depth_snapshot(hft_lines):
    _, snapshot = wire.decode_market(
        next(raw for _, raw in hft_lines if raw.startswith(b'{"lastUpdateId"'))
    )
    assert isinstance(snapshot, wire.DepthSnapshot)
    assert snapshot.last_update_id == 50093239218
    assert snapshot.bids[0] == ("61837.63000000", "3.78826000")
    assert len(snapshot.bids) == len(snapshot.asks) == 1000


def test_agg_trade_and_kline_from_cryptofeed_capture_decode(cryptofeed_events):
    frames = [raw for _, kind, _, raw in cryptofeed_events if kind == "ws"]
    _, agg = wire.decode_market(next(f for f in frames if "@aggTrade" in f))
    assert agg == wire.AggTrade(
        event_time=1633998523963,
        symbol="NKNUSDT",
        agg_trade_id=15683430,
        price="0.35280000",
        quantity="58.00000000",
        first_trade_id=19862790,
        last_trade_id=19862790,
        trade_time=1633998523963,
        buyer_is_maker=False,
        ignore=True,
    )
    _, kline = wire.decode_market(next(f for f in frames if "@kline" in f))
    assert isinstance(kline, wire.Kline)
    assert (kline.kline.interval, kline.kline.open, kline.kline.close, kline.kline.closed) == (
        "1m",
        "0.35270000",
        "0.35280000",
        False,
    )
    assert kline.kline.trade_count == 30


def test_raw_stream_message_without_envelope_decodes(nautilus_ws):
    raw = msgspec.json.encode(msgspec.json.decode(nautilus_ws("ws_spot_trade.json"))["data"])
    stream, trade = wire.decode_market(raw)
    assert stream is None
    assert isinstance(trade, wire.Trade)
    assert (trade.trade_id, trade.buyer_order_id, trade.seller_order_id) == (
        705291099,
        7038593583,
        7038593613,
    )


def test_unknown_event_type_is_a_typed_unknown_not_an_exception(nautilus_ws):
    _, unknown = wire.decode_market(nautilus_ws("ws_spot_ticker_24hr.json"))
    assert isinstance(unknown, wire.Unknown)
    assert unknown.event_type == "24hrTicker"
    assert b'"BNBBTC"' in unknown.payload
    _, on_user_stream = wire.decode_user(nautilus_ws("ws_spot_trade.json"))
    assert isinstance(on_user_stream, wire.Unknown) and on_user_stream.event_type == "trade"


def test_subscription_reply_and_stream_error_are_control_messages():
    assert wire.decode_market(b'{"result":null,"id":1}').payload == wire.SubscriptionResponse(
        result=None, id=1
    )
    error = wire.decode_market(b'{"error":{"code":2,"msg":"Invalid request"},"id":7}').payload
    assert error == wire.StreamError(error=wire.ErrorBody(code=2, msg="Invalid request"), id=7)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"stream":"btcusdt@trade"}',
        b'{"stream":"btcusdt@trade","data":null}',
        b'{"stream":5,"data":{}}',
        b"[1,2]",
    ],
)
def test_malformed_envelope_raises_validation_error(raw):
    with pytest.raises(msgspec.ValidationError):
        wire.decode_market(raw)


def test_wrong_field_type_raises_validation_error_naming_the_path(hft_lines):
    raw = next(raw for _, raw in hft_lines if b"@trade" in raw).replace(
        b'"t":3735683259', b'"t":"3735683259"'
    )
    with pytest.raises(msgspec.ValidationError, match=r"\$\.t"):
        wire.decode_market(raw)


def test_user_frames_raw_combined_and_websocket_api_decode_alike(spot_fixture, nautilus_ws):
    raw = wire.decode_user(spot_fixture("user_data_json/execution_report_new.json"))
    combined = wire.decode_user(nautilus_ws("ws_spot_execution_report_new.json"))
    wrapped = wire.decode_user(spot_fixture("user_data_json/execution_report_wrapped.json"))
    assert (raw.source, combined.source, wrapped.source) == (None, "executionReport", "0")
    assert all(isinstance(m.payload, wire.ExecutionReport) for m in (raw, combined, wrapped))
    report = wrapped.payload
    assert isinstance(report, wire.ExecutionReport)
    assert (
        report.client_order_id,
        report.order_id,
        report.execution_type,
        report.order_status,
    ) == (
        "mUvoqJxFIILMdfAW5iGSOW",
        4293153,
        "NEW",
        "NEW",
    )
    assert (report.execution_id, report.working_time, report.self_trade_prevention_mode) == (
        8641984,
        1499405658657,
        "NONE",
    )


def test_user_events_decode_balances_lists_and_expiry(spot_fixture):
    position = wire.decode_user(spot_fixture("user_data_json/account_position.json")).payload
    assert position == wire.OutboundAccountPosition(
        event_time=1709654400000,
        last_update_time=1709654400000,
        balances=[
            wire.BalanceEntry(asset="USDT", free="10000.00000000", locked="2500.00000000"),
            wire.BalanceEntry(asset="ETH", free="5.00000000", locked="0.00000000"),
        ],
    )
    update = wire.decode_user(spot_fixture("user_data_json/balance_update.json")).payload
    assert update == wire.BalanceUpdate(
        event_time=1709654400000, asset="BTC", delta="0.00100000", clear_time=1709654400000
    )
    listed = wire.decode_user(spot_fixture("user_data_json/list_status_wrapped.json")).payload
    assert isinstance(listed, wire.ListStatus)
    assert [(o.order_id, o.client_order_id) for o in listed.orders] == [
        (17, "AJYsMjErWJesZvqlJCTUgL"),
        (18, "bfYPSQdLoqAJeNrOr9adzq"),
    ]
    expired = wire.decode_user(
        b'{"e":"listenKeyExpired","E":1699596037418,"listenKey":"OfYGbUzi3PraNagEkdKuFwUHn48brFsItTdsuiIXrucEvD0rhRXZ7I6URWfE8YE8"}'
    )
    assert isinstance(expired.payload, wire.ListenKeyExpired)
    assert "OfYGbUzi3Pra" not in repr(expired.payload)


def test_listen_key_repr_hides_the_key():
    key = wire.decode_rest(
        b'{"listenKey":"pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1"}',
        wire.ListenKey,
    )
    assert key.listen_key.startswith("pqia91ma19")
    assert repr(key) == "ListenKey(listen_key='pqia***')"


def test_rest_order_shapes_decode_with_binance_spelling(spot_fixture):
    full = wire.decode_rest(
        spot_fixture("http_json/new_order_full_response.json"), wire.NewOrderResponse
    )
    assert (full.order_id, full.status, full.cummulative_quote_qty, full.working_time) == (
        28,
        "FILLED",
        "10.00000000",
        1507725176595,
    )
    assert [(f.trade_id, f.price, f.qty, f.commission, f.commission_asset) for f in full.fills][
        :2
    ] == [
        (56, "4000.00000000", "1.00000000", "4.00000000", "USDT"),
        (57, "3999.00000000", "5.00000000", "19.99500000", "USDT"),
    ]
    ack = wire.decode_rest(
        b'{"symbol":"BTCUSDT","orderId":28,"orderListId":-1,"clientOrderId":"x","transactTime":1}',
        wire.NewOrderResponse,
    )
    assert (ack.status, ack.fills) == (None, [])
    orders = wire.decode_rest(spot_fixture("http_json/open_orders_response.json"), list[wire.Order])
    assert (orders[0].client_order_id, orders[0].orig_qty, orders[0].is_working) == (
        "myOrder1",
        "1.0",
        True,
    )
    cancel = wire.decode_rest(
        spot_fixture("http_json/cancel_order_response.json"), wire.CancelResponse
    )
    assert (cancel.orig_client_order_id, cancel.client_order_id, cancel.status) == (
        "myOrder1",
        "cancelMyOrder1",
        "CANCELED",
    )
    account = wire.decode_rest(spot_fixture("http_json/account_response.json"), wire.AccountInfo)
    assert account.balances[0] == wire.Balance(
        asset="BTC", free="4723846.89208129", locked="0.00000000"
    )
    trades = wire.decode_rest(
        spot_fixture("http_json/account_trades_response.json"), list[wire.MyTrade]
    )
    assert (trades[0].id, trades[0].order_id, trades[0].is_buyer, trades[0].is_maker) == (
        28457,
        100234,
        True,
        False,
    )


def test_exchange_info_filters_are_typed_and_unknown_ones_kept(exchange_info):
    btc = next(s for s in exchange_info.symbols if s.symbol == "BTCUSDT")
    filters = btc.typed_filters()
    assert filters[0] == wire.PriceFilter(
        min_price="0.01000000", max_price="1000000.00000000", tick_size="0.01000000"
    )
    assert (
        wire.LotSize(min_qty="0.00001000", max_qty="9000.00000000", step_size="0.00001000")
        in filters
    )
    assert (
        wire.MinNotional(min_notional="10.00000000", apply_to_market=True, avg_price_mins=5)
        in filters
    )
    assert wire.OtherFilter(filter_type="ICEBERG_PARTS", params={"limit": 10}) in filters
    assert {type(f).__name__ for f in filters} == {
        "PriceFilter",
        "LotSize",
        "MinNotional",
        "MarketLotSize",
        "OtherFilter",
    }
    assert len(exchange_info.symbols) == 1695
    assert exchange_info.rate_limits[0] == wire.RateLimit(
        rate_limit_type="REQUEST_WEIGHT", interval="MINUTE", interval_num=1, limit=1200
    )
