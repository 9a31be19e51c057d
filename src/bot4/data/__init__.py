"""The data engine: books and market data fan-out."""

from bot4.data.engine import DataEngine

__all__ = ["DataEngine"]
