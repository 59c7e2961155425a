"""``BatchNormalization``: batch normalisation with Keras's momentum convention."""

from __future__ import annotations

from typing import Any

from ember_mlx.backend import nn
from ember_mlx.nn.layers.dense import check_features
from ember_mlx.nn.module import Module
from ember_mlx.validation import check_count, check_real


class BatchNormalization(Module, nn.BatchNorm):
    r"""Normalise each feature (last axis) with batch statistics while training.

    .. math::

        y = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}}\, \gamma + \beta

    In training mode :math:`\mu, \sigma^2` are the mean and biased variance over every axis but
    the last, and the running statistics move towards them:

    .. math::

        \hat\mu \leftarrow m \hat\mu + (1 - m) \mu, \quad
        \hat\sigma^2 \leftarrow m \hat\sigma^2 + (1 - m) \tfrac{n}{n - 1} \sigma^2

    (:math:`m` = ``momentum``, :math:`n` values per feature). In evaluation mode (:meth:`eval`)
    the running statistics are used. :math:`\gamma` (``weight``) and :math:`\beta` (``bias``) are
    learned; ``running_mean`` and ``running_var`` are saved but never trained (they stay frozen
    when a containing :class:`~ember_mlx.nn.Module` is unfrozen).

    This is ``nn.BatchNorm`` with the seeds' arguments: ``momentum`` is the weight of the old
    running statistics (Keras), so ``momentum=0.9`` equals torch's and mlx's ``momentum=0.1``
    (the attribute ``self.momentum`` keeps mlx's meaning, ``1 - momentum``).

    Args:
        num_features: Size of the feature (last) axis.
        epsilon: Added to the variance for numerical stability. Default: ``1e-5``.
        momentum: Weight of the running statistics in each update, in ``[0, 1]``.
            Default: ``0.9``.
    """

    def __init__(self, num_features: int, epsilon: float = 1e-5, momentum: float = 0.9):
        num_features = check_count("BatchNormalization: num_features", num_features)
        epsilon = check_real("BatchNormalization: epsilon", epsilon, above=0.0)
        momentum = check_real("BatchNormalization: momentum", momentum, at_least=0.0, at_most=1.0)
        super().__init__(num_features, eps=epsilon, momentum=1 - momentum)

    def __call__(self, x: Any) -> Any:
        check_features("BatchNormalization", x, self.num_features, "num_features")
        return super().__call__(x)
