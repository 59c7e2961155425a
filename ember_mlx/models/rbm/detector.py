r"""Anomaly detection with an RBM trained on normal data.

The RBM learns the distribution of normal samples; a sample it models badly is an anomaly. Two
scores, higher meaning more anomalous:

- ``"reconstruction"``: the mean squared error of the mean-field reconstruction,
  :math:`\tfrac{1}{n_v} \lVert v - \hat v \rVert^2` (:meth:`RBM.reconstruction_error`);
- ``"free_energy"``: the free energy :math:`F(v)`, since :math:`p(v) \propto e^{-F(v)}`
  (:meth:`RBM.free_energy`).

A sample is flagged when its score exceeds the threshold: one fixed by the user, or the
``percentile``-th percentile of the training data's scores, learned by :meth:`train` (so about
``100 - percentile`` % of normal data is flagged).
"""

from __future__ import annotations

import math
from typing import Any

from ember_mlx.backend import mx
from ember_mlx.models.energy_based import Float32Module
from ember_mlx.ops.stats import percentile as percentile_of
from ember_mlx.validation import check_fraction, check_real

from .rbm import RBM, TRAINING_SETTINGS

METHODS = ("reconstruction", "free_energy")


def _check_method(method: Any, argument: str) -> str:
    if method not in METHODS:
        raise ValueError(f"{argument}: expected one of {METHODS}, got {method!r}")
    return method


class RBMAnomalyDetector(Float32Module):
    """Flags samples that an RBM trained on normal data scores above a threshold.

    Args:
        visible_size (int): number of features (visible units).
        hidden_size (int): number of hidden units.
        learning_rate (float, optional): the RBM's learning rate. Default: ``0.01``.
        threshold (float, optional): a fixed threshold on the score; ``None`` learns it from the
            training data. Default: ``None``.
        percentile (float, optional): the percentile of the training scores that becomes the
            learned threshold, in :math:`[0, 100]`. Default: ``95.0``.
        method (str, optional): the score :meth:`detect` uses, ``"reconstruction"`` or
            ``"free_energy"`` (module docstring). Default: ``"reconstruction"``.
        **rbm_options: further :class:`~ember_mlx.models.rbm.RBM` arguments (``visible_type``,
            ``k``, ``persistent``, ``momentum``, ``weight_decay``, ``seed``, ...).

    The model is ``rbm`` (an :class:`RBM`) and ``threshold``, a frozen scalar array (NaN until
    learned); :meth:`save` / :meth:`load` keep both, so a loaded detector makes the same
    decisions. Like the RBM, it computes in float32 (:meth:`set_dtype` to another dtype raises).

    Example:
        >>> detector = RBMAnomalyDetector(visible_size=784, hidden_size=256)
        >>> detector.train(normal_data, epochs=10, batch_size=32)
        >>> flags = detector.detect(test_data)  # bool, (samples,)
    """

    def __init__(
        self,
        visible_size: int,
        hidden_size: int,
        learning_rate: float = 0.01,
        *,
        threshold: float | None = None,
        percentile: float = 95.0,
        method: str = "reconstruction",
        **rbm_options: Any,
    ):
        super().__init__()
        self.method = _check_method(method, "method")
        self.percentile = check_fraction("percentile", percentile, 0.0, 100.0)
        if threshold is not None:
            threshold = check_real("threshold", threshold)
        self.learns_threshold = threshold is None
        self.rbm = RBM(visible_size, hidden_size, learning_rate, **rbm_options)
        self.threshold = mx.array(math.nan if threshold is None else threshold)
        self.freeze(recurse=False, keys=["threshold"])

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, with the RBM's current training settings (see
        :meth:`RBM.get_config <ember_mlx.models.rbm.RBM.get_config>`)."""
        rbm = self.rbm.get_config()
        return {**super().get_config(), **{name: rbm[name] for name in TRAINING_SETTINGS}}

    def _extra_repr(self) -> str:
        return f"method={self.method!r}, percentile={self.percentile}"

    def score(self, data: Any, method: str | None = None) -> Any:
        """Anomaly scores, higher meaning more anomalous, shape ``(samples,)``.

        Args:
            data (array-like): ``(samples, visible_size)``; values outside the training range
                are allowed (they are what a detector looks for).
            method (str, optional): ``"reconstruction"`` or ``"free_energy"``; by default the
                detector's ``method``.
        """
        method = self.method if method is None else _check_method(method, "method")
        if method == "reconstruction":
            return self.rbm.reconstruction_error(data)
        return self.rbm.free_energy(data)

    def __call__(self, data: Any) -> Any:
        """The same as :meth:`score`."""
        return self.score(data)

    def detect(self, data: Any) -> Any:
        """Whether each sample's score exceeds :attr:`threshold`, a bool array ``(samples,)``."""
        if math.isnan(self.threshold.item()):
            raise ValueError(
                "detect: the threshold is not set; train the detector first or pass threshold="
            )
        return self.score(data) > self.threshold

    def train(
        self,
        data: Any = True,
        epochs: int = 10,
        batch_size: int = 32,
        **options: Any,
    ) -> Any:
        """Train the RBM on normal ``data``, then learn the threshold unless it is fixed.

        Takes the arguments of :func:`~ember_mlx.models.rbm.train_rbm`. With a bool,
        ``train(mode)`` keeps :meth:`mlx.nn.Module.train`'s meaning.

        Returns:
            dict: the RBM's per-epoch history.
        """
        if isinstance(data, bool):
            return super().train(data)
        history = self.rbm.train(data, epochs, batch_size, **options)
        if self.learns_threshold:
            self.threshold = percentile_of(self.score(data), self.percentile)
        return history
