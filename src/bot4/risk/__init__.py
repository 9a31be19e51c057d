"""Pre-trade risk: limits every order must pass, the trading state and the kill switch."""

from bot4.risk.book import OrdersView, RiskBook
from bot4.risk.config import InstrumentRiskLimits, RiskConfig, every_check_config
from bot4.risk.denials import DenialCode
from bot4.risk.engine import RiskEngine, RiskStats
from bot4.risk.pnl import LossMonitor
from bot4.risk.state import (
    RISK_TOPIC,
    StateChangeCause,
    TradingState,
    TradingStateChanged,
    TradingStateMachine,
)
from bot4.risk.throttle import TokenBucket

__all__ = [
    "RISK_TOPIC",
    "DenialCode",
    "InstrumentRiskLimits",
    "LossMonitor",
    "OrdersView",
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
