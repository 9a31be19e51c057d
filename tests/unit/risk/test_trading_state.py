"""The trading state: automatic moves on daily loss and drawdown, the operator's kill switch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot4.core import ConfigError
from bot4.model import OrderSide
from bot4.risk import RiskConfig, StateChangeCause, TradingState, TradingStateChanged
from bot4.risk.pnl import DAY_NS

BUY = OrderSide.BUY
SELL = OrderSide.SELL
Make = Callable[..., Any]


def lose(h: Any, amount_of_1btc_move: str) -> None:
    """Buy 1 BTC at 60000 and sell it at 60000 - move: a realised loss of ``move`` USDT."""
    h.position_fill(BUY, "1", "60000.00")
    h.position_fill(SELL, "1", f"{60000 - float(amount_of_1btc_move):.2f}")


# -- daily realised loss -----------------------------------------------------------------------------


def test_daily_loss_at_the_limit_keeps_trading_active(make: Make) -> None:
    h = make(RiskConfig(daily_loss_limit="1000"))
    lose(h, "1000")
    assert h.risk.trading_state is TradingState.ACTIVE
    assert h.risk.check(h.market(BUY, "0.01")) is None
    assert h.states == []


def test_daily_loss_above_the_limit_halts_trading_and_publishes_the_change(make: Make) -> None:
    h = make(RiskConfig(daily_loss_limit="1000"))
    lose(h, "1000")
    h.position_fill(BUY, "0.00001", "59000.00", fee="0.00000001")  # one more unit of loss
    assert h.risk.trading_state is TradingState.HALTED
    assert len(h.states) == 1
    event = h.states[0]
    assert isinstance(event, TradingStateChanged)
    assert (event.previous, event.state, event.cause) == (
        TradingState.ACTIVE, TradingState.HALTED, StateChangeCause.DAILY_LOSS_LIMIT
    )
    assert event.details == {"limit": "1000.00000000", "value": "1000.00000001", "currency": "USDT"}
    assert event.ts_event == event.ts_init == h.clock.timestamp_ns()
    assert h.risk.state_history == [event]
    denial = h.risk.check(h.market(SELL, "0.00001"))  # nothing passes, not even a reduce
    assert denial is not None and denial.code == "DAILY_LOSS_LIMIT"
    assert denial.details["state"] == "HALTED" and denial.details["value"] == "1000.00000001"


def test_daily_loss_can_move_to_reducing_instead(make: Make) -> None:
    h = make(RiskConfig(daily_loss_limit="100", on_daily_loss_limit=TradingState.REDUCING))
    h.position_fill(BUY, "2", "60000.00")
    h.position_fill(SELL, "1", "59800.00")  # -200 realised, 1 BTC still long
    assert h.risk.trading_state is TradingState.REDUCING
    assert h.risk.check(h.market(SELL, "1")) is None
    denial = h.risk.check(h.market(BUY, "0.01"))
    assert denial is not None and denial.code == "DAILY_LOSS_LIMIT" and denial.details["state"] == "REDUCING"


def test_daily_loss_counts_from_the_start_of_the_utc_day(make: Make) -> None:
    h = make(RiskConfig(daily_loss_limit="1000"))
    lose(h, "900")
    assert h.risk.loss_monitor.daily_loss_raw == 900 * 10**9
    h.clock.set_time(h.risk.loss_monitor.day_end_ns)  # midnight UTC
    lose(h, "900")  # 1800 over two days, 900 today
    assert h.risk.trading_state is TradingState.ACTIVE
    assert h.risk.loss_monitor.daily_loss_raw == 900 * 10**9
    assert h.risk.loss_monitor.day_start_ns % DAY_NS == 0


def test_a_new_day_does_not_lift_a_halt(make: Make) -> None:
    h = make(RiskConfig(daily_loss_limit="1000"))
    lose(h, "1000.01")
    assert h.risk.trading_state is TradingState.HALTED
    h.advance(2 * DAY_NS)
    denial = h.risk.check(h.market(BUY, "0.01"))
    assert denial is not None and denial.code == "DAILY_LOSS_LIMIT"
    assert h.risk.trading_state is TradingState.HALTED and len(h.states) == 1


# -- drawdown from the equity high-water mark ---------------------------------------------------------


def test_drawdown_at_the_limit_passes_and_one_unit_more_halts_on_the_next_check(make: Make) -> None:
    h = make(RiskConfig(max_drawdown="10000"), usdt="100000", btc="1", mark="60000.00")  # equity 160000
    h.mark("50000.00")  # drawdown 10000: at the limit
    assert h.risk.check(h.limit(BUY, "0.01", "50000")) is None
    h.mark("49999.99")
    denial = h.risk.check(h.limit(BUY, "0.01", "50000"))
    assert denial is not None and denial.code == "MAX_DRAWDOWN"
    assert h.risk.trading_state is TradingState.HALTED
    assert h.states[-1].details == {
        "value": "10000.01000000",
        "equity": "149999.99000000",
        "high_water_mark": "160000.00000000",
        "currency": "USDT",
        "limit": "10000.00000000",
    }


def test_drawdown_counts_from_the_highest_equity_seen(make: Make) -> None:
    h = make(RiskConfig(max_drawdown="10000"), usdt="100000", btc="1", mark="60000.00")
    h.mark("70000.00")
    assert h.risk.check(h.market(BUY, "0.01")) is None  # high-water mark 170000
    h.mark("60000.00")
    assert h.risk.check(h.market(BUY, "0.01")) is None
    h.mark("59999.99")
    assert h.risk.check(h.market(BUY, "0.01")) is not None
    assert h.risk.loss_monitor.hwm_raw == 170000 * 10**9


def test_drawdown_in_basis_points_of_the_high_water_mark(make: Make) -> None:
    h = make(RiskConfig(max_drawdown_bps=500), usdt="100000", btc="1", mark="60000.00")  # 5% = 8000
    h.mark("52000.00")
    assert h.risk.check(h.market(BUY, "0.01")) is None
    h.mark("51999.99")
    denial = h.risk.check(h.market(BUY, "0.01"))
    assert denial is not None and denial.code == "MAX_DRAWDOWN"
    assert h.states[-1].details["limit_bps"] == "500"


def test_drawdown_is_evaluated_on_account_states_without_any_order(make: Make) -> None:
    h = make(RiskConfig(max_drawdown="10000", on_max_drawdown=TradingState.REDUCING), usdt="100000", btc="1")
    h.set_balances(usdt="90000", btc="1")
    assert h.risk.trading_state is TradingState.ACTIVE
    h.set_balances(usdt="89999.99999999", btc="1")
    assert h.risk.trading_state is TradingState.REDUCING
    assert [e.cause for e in h.states] == [StateChangeCause.MAX_DRAWDOWN]


def test_equity_recovering_does_not_lift_a_drawdown_halt(make: Make) -> None:
    h = make(RiskConfig(max_drawdown="10000"), usdt="100000", btc="1")
    h.mark("40000.00")
    assert h.risk.check(h.market(BUY, "0.01")) is not None
    h.mark("90000.00")
    denial = h.risk.check(h.market(BUY, "0.01"))
    assert denial is not None and denial.code == "MAX_DRAWDOWN"
    assert len(h.states) == 1


def test_drawdown_check_denies_when_equity_cannot_be_valued(make: Make) -> None:
    h = make(RiskConfig(max_drawdown="10000"), usdt="100000", btc="1", mark=None)
    denial = h.risk.check(h.limit(BUY, "0.01", "60000"))
    assert denial is not None and denial.code == "NO_MARK_PRICE"
    assert denial.details == {"instrument": "BTCUSDT.SIM", "check": "MAX_DRAWDOWN", "unpriced": "BTCUSDT.SIM"}
    h.mark("60000.00")
    assert h.risk.check(h.limit(BUY, "0.01", "60000")) is None


def test_loss_limits_need_a_currency_they_can_find(make: Make) -> None:
    with pytest.raises(ConfigError) as info:
        make(RiskConfig(daily_loss_limit="1", currency="EUR"))
    assert info.value.context["key"] == "currency" and info.value.context["expected"] == "USDT"


# -- the operator's kill switch ------------------------------------------------------------------------


def test_operator_halt_reduce_and_resume_are_published_in_order(make: Make) -> None:
    h = make(RiskConfig())
    h.position_fill(BUY, "0.05", "60000")
    h.risk.set_trading_state(TradingState.HALTED, "operator: venue incident")
    denial = h.risk.check(h.market(SELL, "0.01"))
    assert denial is not None and denial.code == "TRADING_HALTED"
    assert denial.details == {"instrument": "BTCUSDT.SIM", "state": "HALTED", "cause": "OPERATOR"}
    assert "venue incident" in denial.reason

    h.risk.set_trading_state(TradingState.REDUCING, "operator: wind down")
    assert h.risk.check(h.market(SELL, "0.01")) is None
    denial = h.risk.check(h.market(BUY, "0.01"))
    assert denial is not None and denial.code == "REDUCING_ONLY"

    h.risk.set_trading_state(TradingState.ACTIVE, "operator: all clear")
    assert h.risk.check(h.market(BUY, "0.01")) is None
    assert [(e.previous, e.state) for e in h.states] == [
        (TradingState.ACTIVE, TradingState.HALTED),
        (TradingState.HALTED, TradingState.REDUCING),
        (TradingState.REDUCING, TradingState.ACTIVE),
    ]
    assert all(e.cause is StateChangeCause.OPERATOR for e in h.states)
    assert h.risk.state_history == h.states
    assert h.risk.stats.by_code == {"TRADING_HALTED": 1, "REDUCING_ONLY": 1}


def test_operator_resume_rearms_the_drawdown_from_current_equity(make: Make) -> None:
    h = make(RiskConfig(max_drawdown="10000"), usdt="100000", btc="1")
    h.mark("49999.99")
    assert h.risk.check(h.market(BUY, "0.01")) is not None
    h.risk.set_trading_state(TradingState.ACTIVE, "operator: accepted the loss")
    assert h.risk.check(h.market(BUY, "0.01")) is None  # counts from 149999.99 now
    h.mark("39999.98")  # another 10000.01 down
    denial = h.risk.check(h.market(BUY, "0.01"))
    assert denial is not None and denial.code == "MAX_DRAWDOWN"
    assert [e.cause for e in h.states] == [
        StateChangeCause.MAX_DRAWDOWN, StateChangeCause.OPERATOR, StateChangeCause.MAX_DRAWDOWN
    ]


def test_operator_resume_rearms_the_daily_loss_from_now(make: Make) -> None:
    h = make(RiskConfig(daily_loss_limit="1000"))
    lose(h, "1000.01")
    h.risk.set_trading_state(TradingState.ACTIVE, "operator")
    assert h.risk.check(h.market(BUY, "0.01")) is None
    lose(h, "999")
    assert h.risk.trading_state is TradingState.ACTIVE
    lose(h, "1.01")
    assert h.risk.trading_state is TradingState.HALTED


def test_automatic_moves_only_tighten_the_state(make: Make) -> None:
    config = RiskConfig(
        max_drawdown="10000", on_max_drawdown=TradingState.REDUCING, daily_loss_limit="100"
    )
    h = make(config, usdt="100000", btc="1")
    h.risk.set_trading_state(TradingState.HALTED, "operator")
    h.mark("40000.00")
    h.risk.check(h.market(BUY, "0.01"))
    assert h.risk.trading_state is TradingState.HALTED  # not relaxed to REDUCING
    assert len(h.states) == 1

    h.risk.set_trading_state(TradingState.ACTIVE, "operator")
    h.mark("29999.99")
    h.risk.check(h.market(BUY, "0.01"))
    assert h.risk.trading_state is TradingState.REDUCING
    lose(h, "100.01")  # the stricter limit escalates
    assert h.risk.trading_state is TradingState.HALTED
    assert [(e.state, e.cause) for e in h.states[-2:]] == [
        (TradingState.REDUCING, StateChangeCause.MAX_DRAWDOWN),
        (TradingState.HALTED, StateChangeCause.DAILY_LOSS_LIMIT),
    ]


# -- circuit breakers on order paths -------------------------------------------------------------


def _circuit(h: Any, *, critical: bool, state: str = "OPEN") -> None:
    from bot4.core import Venue
    from bot4.model.status import CIRCUIT_TOPIC, CircuitState, CircuitStateChanged

    now = h.clock.timestamp_ns()
    h.bus.publish(
        CIRCUIT_TOPIC,
        CircuitStateChanged(
            venue=Venue("SIM"),
            endpoint="ws:orders",
            state=CircuitState[state],
            previous=CircuitState.CLOSED,
            reason="stream gave up after 5 failed connects",
            critical=critical,
            ts_event=now,
            ts_init=now,
        ),
    )


def test_critical_circuit_opening_moves_trading_to_reducing_by_default(make: Make) -> None:
    h = make(RiskConfig())
    _circuit(h, critical=True)
    assert h.risk.trading_state is TradingState.REDUCING
    change = h.states[-1]
    assert change.cause is StateChangeCause.CIRCUIT_OPEN
    assert change.details["endpoint"] == "ws:orders" and "gave up" in change.reason
    assert h.risk.check(h.market(BUY, "0.01")) is not None  # opens risk: denied


def test_critical_circuit_opening_halts_when_configured(make: Make) -> None:
    h = make(RiskConfig(on_circuit_open=TradingState.HALTED))
    _circuit(h, critical=True)
    assert h.risk.trading_state is TradingState.HALTED


def test_non_critical_or_half_open_circuit_and_active_setting_leave_trading_active(make: Make) -> None:
    h = make(RiskConfig())
    _circuit(h, critical=False)
    _circuit(h, critical=True, state="HALF_OPEN")
    assert h.risk.trading_state is TradingState.ACTIVE
    h2 = make(RiskConfig(on_circuit_open=TradingState.ACTIVE))
    _circuit(h2, critical=True)
    assert h2.risk.trading_state is TradingState.ACTIVE
