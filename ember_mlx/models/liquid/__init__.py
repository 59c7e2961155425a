"""The seeds' package path for liquid state machines (``ember_ml.models.liquid``); the models
live in :mod:`ember_mlx.models.reservoir`."""

from ember_mlx.models.reservoir import LiquidAnomalyDetector, LiquidStateMachine

__all__ = ["LiquidAnomalyDetector", "LiquidStateMachine"]
