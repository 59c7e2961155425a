"""Normalisation layers: ``LayerNorm``, ``RMSNorm`` and ``BatchNorm``."""

from __future__ import annotations

import math
from typing import Any

from .. import core as mx
from .base import Module


class LayerNorm(Module):
    r"""Layer normalisation over the last axis (https://arxiv.org/abs/1607.06450).

    .. math::
        y = \frac{x - \mathrm{E}[x]}{\sqrt{\mathrm{Var}[x] + \epsilon}} \gamma + \beta

    with the mean and (biased) variance taken over the last axis, and :math:`\gamma`,
    :math:`\beta` learned per feature, initialised to 1 and 0.

    Args:
        dims: The size of the last axis.
        eps: Added to the variance for numerical stability. Default: ``1e-5``.
        affine: Whether to learn :math:`\gamma` (and :math:`\beta`). Default: ``True``.
        bias: Whether the affine map has the shift :math:`\beta`. Default: ``True``.
    """

    def __init__(self, dims: int, eps: float = 1e-5, affine: bool = True, bias: bool = True):
        super().__init__()
        if eps <= 0.0:
            raise ValueError(f"[LayerNorm] 'eps' must be positive but got {eps}.")
        if affine:
            self.weight = mx.ones((dims,))
            if bias:
                self.bias = mx.zeros((dims,))
        self.eps = eps
        self.dims = dims

    def _extra_repr(self) -> str:
        return f"{self.dims}, eps={self.eps}, affine={'weight' in self}"

    def __call__(self, x: Any) -> Any:
        mean = mx.mean(x, axis=-1, keepdims=True)
        var = mx.var(x, axis=-1, keepdims=True)
        x = (x - mean) * mx.rsqrt(var + self.eps)
        if "weight" in self:
            x = x * self.weight
        if "bias" in self:
            x = x + self.bias
        return x


class RMSNorm(Module):
    r"""Root-mean-square normalisation over the last axis (https://arxiv.org/abs/1910.07467).

    .. math::
        y = \frac{x}{\sqrt{\mathrm{E}[x^2] + \epsilon}} \gamma

    with :math:`\gamma` learned per feature, initialised to 1. The mean is accumulated in
    float32 whatever the input dtype.

    Args:
        dims: The size of the last axis.
        eps: Added to the mean square for numerical stability. Default: ``1e-5``.
    """

    def __init__(self, dims: int, eps: float = 1e-5):
        super().__init__()
        if eps <= 0.0:
            raise ValueError(f"[RMSNorm] 'eps' must be positive but got {eps}.")
        self.weight = mx.ones((dims,))
        self.eps = eps

    def _extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, eps={self.eps}"

    def __call__(self, x: Any) -> Any:
        x32 = mx.astype(x, mx.float32)
        mean_square = mx.mean(mx.square(x32), axis=-1, keepdims=True)
        return self["weight"] * mx.astype(x32 * mx.rsqrt(mean_square + self.eps), x.dtype)


class BatchNorm(Module):
    r"""Batch normalisation over the batch and spatial axes (https://arxiv.org/abs/1502.03167).

    .. math::
        y = \frac{x - \mathrm{E}[x]}{\sqrt{\mathrm{Var}[x] + \epsilon}} \gamma + \beta

    Inputs are ``NC``, ``NLC`` or ``NHWC`` (features last); the statistics are taken over every
    axis but the last. In training mode the batch statistics are used and, with
    ``track_running_stats``, folded into ``running_mean`` and ``running_var`` (unbiased
    variance) with weight ``momentum``; in evaluation mode the running statistics are used.
    The running statistics are frozen parameters: saved and loaded, never trained.

    Args:
        num_features: The size of the feature (last) axis.
        eps: Added to the variance for numerical stability. Default: ``1e-5``.
        momentum: The weight of the new batch in the running statistics. Default: ``0.1``.
        affine: Whether to learn :math:`\gamma` and :math:`\beta`. Default: ``True``.
        track_running_stats: Whether to keep running statistics. Default: ``True``.
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
    ):
        super().__init__()
        if eps <= 0.0:
            raise ValueError(f"[BatchNorm] 'eps' must be positive but got {eps}.")
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = mx.ones((num_features,))
            self.bias = mx.zeros((num_features,))
        if self.track_running_stats:
            self.running_mean = mx.zeros((num_features,))
            self.running_var = mx.ones((num_features,))
            self.freeze(keys=["running_mean", "running_var"], recurse=False)

    def unfreeze(self, *args: Any, **kwargs: Any) -> BatchNorm:
        """Unfreeze as :meth:`Module.unfreeze`, keeping the running statistics frozen."""
        super().unfreeze(*args, **kwargs)
        self.freeze(keys=["running_mean", "running_var"], recurse=False)
        return self

    def _extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={'weight' in self}, track_running_stats={self.track_running_stats}"
        )

    def _calc_stats(self, x: Any, ddof: int = 0) -> tuple[Any, Any]:
        """The mean and variance of ``x`` over every axis but the last."""
        axes = tuple(range(x.ndim - 1))
        return mx.mean(x, axis=axes), mx.var(x, axis=axes, ddof=ddof)

    def __call__(self, x: Any) -> Any:
        if x.ndim < 2 or x.ndim > 4:
            raise ValueError(
                f"Expected input tensor to have 2, 3 or 4 dimensions, but got {x.ndim}"
            )
        if self.training and math.prod(x.shape[:-1]) == 1:
            raise ValueError("BatchNorm training requires more than one value per channel.")

        mean, var = self._calc_stats(x)
        if self.training and self.track_running_stats:
            mu = self.momentum
            _, unbiased_var = self._calc_stats(x, ddof=1)
            # The running statistics are never differentiated; cutting them from the graph
            # keeps eager autodiff backends from chaining every past batch into it.
            batch_mean, batch_var = mx.stop_gradient(mean), mx.stop_gradient(unbiased_var)
            self.running_mean = (1 - mu) * self.running_mean + mu * batch_mean
            self.running_var = (1 - mu) * self.running_var + mu * batch_var
        elif self.track_running_stats:
            mean = self.running_mean
            var = self.running_var
        x = (x - mean) * mx.rsqrt(var + self.eps)
        return (self.weight * x + self.bias) if "weight" in self else x
