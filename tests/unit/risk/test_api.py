"""The public API of bot4.risk, pinned."""

from __future__ import annotations

import bot4.risk
from bot4.execution import PreTradeCheck
from bot4.risk import RiskEngine


def test_risk_package_exports_exactly_its_public_api() -> None:
    assert sorted(bot4.risk.__all__) == [
        "DenialCode",
        "InstrumentRiskLimits",
        "LossMonitor",
        "OrdersView",
        "RISK_TOPIC",
        "RiskBook",
        "RiskConfig",
        "RiskEngine",
        "RiskStats",
        "StateChangeCause",
        "TokenBucket",
        "TradingState",
        "TradingStateChanged",
        "TradingStateMachine",
        "every_check_config",
    ]
    for name in bot4.risk.__all__:
        assert getattr(bot4.risk, name) is not None


def test_risk_engine_implements_the_pre_trade_check_port() -> None:
    engine: type[PreTradeCheck] = RiskEngine  # checked by mypy; here: the methods exist
    assert callable(engine.check) and callable(engine.on_submitted)


def test_denial_codes_are_stable_strings() -> None:
    assert {code.value for code in bot4.risk.DenialCode} == {
        "UNKNOWN_INSTRUMENT", "TRADING_HALTED", "REDUCING_ONLY", "DAILY_LOSS_LIMIT", "MAX_DRAWDOWN",
        "MAX_ORDER_QTY", "MAX_ORDER_NOTIONAL", "MAX_POSITION", "MAX_GROSS_EXPOSURE", "PRICE_BAND",
        "MAX_OPEN_ORDERS", "RATE_LIMIT", "INSUFFICIENT_BALANCE", "NO_ACCOUNT", "NO_MARK_PRICE",
    }
