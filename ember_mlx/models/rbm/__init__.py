"""Restricted Boltzmann machines: the model, its training, and an anomaly detector built on it.

- :class:`RBM` (also ``RBMModule``, ``RestrictedBoltzmannMachine``): binary or Gaussian visible
  units, trained by CD-k or PCD-k with momentum and weight decay; free energy, pseudo-likelihood,
  reconstruction, features and samples.
- :func:`contrastive_divergence_step`, :func:`train_rbm`: one update, and the epoch loop.
- :func:`transform_in_chunks`, :func:`save_rbm`, :func:`load_rbm`: the seeds' functional names.
- :class:`RBMAnomalyDetector`: scores samples by reconstruction error or free energy and flags
  those above a threshold.

What the RBM, the detector and the RKM share (float32 only, data checks, the progress bar, the
divergence check) is in :mod:`ember_mlx.models.energy_based`.
"""

from .detector import RBMAnomalyDetector
from .functional import load_rbm, save_rbm, transform_in_chunks
from .rbm import RBM, RBMModule, RestrictedBoltzmannMachine
from .training import contrastive_divergence_step, train_rbm

__all__ = [
    "RBM",
    "RBMAnomalyDetector",
    "RBMModule",
    "RestrictedBoltzmannMachine",
    "contrastive_divergence_step",
    "load_rbm",
    "save_rbm",
    "train_rbm",
    "transform_in_chunks",
]
