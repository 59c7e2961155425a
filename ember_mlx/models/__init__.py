"""Energy-based and reservoir models: RBM, RBM anomaly detector, RKM, liquid state machine."""

from ember_mlx.models.rbm import (
    RBM,
    RBMAnomalyDetector,
    RBMModule,
    RestrictedBoltzmannMachine,
    contrastive_divergence_step,
    load_rbm,
    save_rbm,
    train_rbm,
    transform_in_chunks,
)
from ember_mlx.models.reservoir import LiquidAnomalyDetector, LiquidStateMachine
from ember_mlx.models.rkm import RKM

__all__ = [
    "RBM",
    "RKM",
    "LiquidAnomalyDetector",
    "LiquidStateMachine",
    "RBMAnomalyDetector",
    "RBMModule",
    "RestrictedBoltzmannMachine",
    "contrastive_divergence_step",
    "load_rbm",
    "save_rbm",
    "train_rbm",
    "transform_in_chunks",
]
