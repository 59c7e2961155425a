"""The seeds' module path ``ember_ml.models.liquid.lsm``; the model is
:class:`ember_mlx.models.reservoir.LiquidStateMachine`."""

from ember_mlx.models.reservoir.lsm import LiquidStateMachine

__all__ = ["LiquidStateMachine"]
