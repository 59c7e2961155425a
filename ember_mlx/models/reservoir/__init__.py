"""Reservoir computing: the liquid state machine, its anomaly detector and the ridge readout."""

from ember_mlx.models.reservoir.anomaly import LiquidAnomalyDetector
from ember_mlx.models.reservoir.lsm import LiquidStateMachine, random_reservoir, spectral_radius
from ember_mlx.models.reservoir.ridge import ridge_regression

__all__ = [
    "LiquidAnomalyDetector",
    "LiquidStateMachine",
    "random_reservoir",
    "ridge_regression",
    "spectral_radius",
]
