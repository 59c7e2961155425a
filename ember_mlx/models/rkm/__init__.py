"""The Restricted Kirchhoff Machine: an RBM built as a resistor circuit (pyrkm's model).

- :class:`RKM`: circuit (or Hopfield) units with Bernoulli or noisy-comparator sampling,
  trained by CD, PCD, vRDM, hRDM or RDM with SGD or Adam; reconstruction, generation, and the
  circuit's power, dissipated energy and relaxation times.
- :class:`ResistorLayer`: the resistor network of one direction (relaxed voltages, Joule power).
- :func:`rkm_step`, :func:`train_rkm`, :func:`contrastive_gradients`: one update, the epoch
  loop, and the update direction.
- :class:`Noise`, :func:`sample_states`: random draws from a key, and the stochastic units.
"""

from .circuit import ResistorLayer
from .rkm import RKM
from .sampling import Noise, on_probability, sample_states
from .training import contrastive_gradients, rkm_step, train_rkm

__all__ = [
    "RKM",
    "Noise",
    "ResistorLayer",
    "contrastive_gradients",
    "on_probability",
    "rkm_step",
    "sample_states",
    "train_rkm",
]
