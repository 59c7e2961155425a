"""Affine layers: ``Identity`` and ``Linear``."""

from __future__ import annotations

import math
from typing import Any

from .. import core as mx
from .base import Module


class Identity(Module):
    """Returns its input unchanged; accepts and ignores any constructor arguments."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def __call__(self, x: Any) -> Any:
        return x


class Linear(Module):
    r"""An affine map of the last axis.

    .. math::
        y = x W^\top + b

    :math:`W` has shape ``(output_dims, input_dims)`` and :math:`b` shape ``(output_dims,)``,
    both drawn from :math:`\mathcal{U}(-k, k)` with :math:`k = 1 / \sqrt{\text{input\_dims}}`.

    Args:
        input_dims: The number of input features.
        output_dims: The number of output features.
        bias: Whether to add the bias :math:`b`. Default: ``True``.
    """

    def __init__(self, input_dims: int, output_dims: int, bias: bool = True) -> None:
        super().__init__()
        scale = math.sqrt(1.0 / input_dims)
        self.weight = mx.random.uniform(low=-scale, high=scale, shape=(output_dims, input_dims))
        if bias:
            self.bias = mx.random.uniform(low=-scale, high=scale, shape=(output_dims,))

    def _extra_repr(self) -> str:
        return (
            f"input_dims={self.weight.shape[1]}, "
            f"output_dims={self.weight.shape[0]}, bias={'bias' in self}"
        )

    def __call__(self, x: Any) -> Any:
        if "bias" in self:
            return mx.addmm(self["bias"], x, self["weight"].T)
        return x @ self["weight"].T
