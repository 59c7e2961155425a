"""Activation functions and their parameter-free layer forms, as in ``mlx.nn``."""

from __future__ import annotations

import math
from typing import Any

from .. import core as mx
from .base import Module


def sigmoid(x: Any) -> Any:
    r"""The logistic sigmoid, :math:`\sigma(x) = \frac{1}{1 + e^{-x}}`."""
    return mx.sigmoid(x)


def relu(x: Any) -> Any:
    r"""The rectified linear unit, :math:`\max(x, 0)`."""
    return mx.maximum(x, 0)


def relu2(x: Any) -> Any:
    r"""The squared ReLU, :math:`\max(x, 0)^2`."""
    return mx.square(mx.maximum(x, 0))


def relu6(x: Any) -> Any:
    r"""The ReLU clipped at 6, :math:`\min(\max(x, 0), 6)`."""
    return mx.minimum(mx.maximum(x, 0), 6.0)


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Any:
    r"""The leaky ReLU, :math:`\max(a x, x)` with slope :math:`a` = ``negative_slope``."""
    return mx.maximum(negative_slope * x, x)


def log_softmax(x: Any, axis: int = -1) -> Any:
    r"""The log of the softmax, :math:`x_i - \log \sum_j e^{x_j}`, along ``axis``."""
    # Shifting by the max first keeps the normaliser: for large x, adding the logsumexp to the
    # max rounds it away before the subtraction.
    x = x - mx.stop_gradient(mx.max(x, axis=axis, keepdims=True))
    return x - mx.logsumexp(x, axis=axis, keepdims=True)


def elu(x: Any, alpha: float = 1.0) -> Any:
    r"""The exponential linear unit: :math:`x` for :math:`x > 0`, else
    :math:`\alpha (e^x - 1)`."""
    return mx.where(x > 0, x, alpha * (mx.exp(x) - 1))


def celu(x: Any, alpha: float = 1.0) -> Any:
    r"""The continuously differentiable ELU,
    :math:`\max(0, x) + \min(0, \alpha (e^{x / \alpha} - 1))`."""
    return mx.maximum(x, 0.0) + alpha * (mx.exp(mx.minimum(x, 0.0) / alpha) - 1)


def selu(x: Any) -> Any:
    r"""The scaled ELU, :math:`\lambda\,\mathrm{elu}(x, \alpha)` with :math:`\lambda = 1.0507`
    and :math:`\alpha = 1.67326`."""
    return elu(x, 1.67326) * 1.0507


def softmax(x: Any, axis: int = -1) -> Any:
    r"""The softmax, :math:`\frac{e^{x_i}}{\sum_j e^{x_j}}`, along ``axis``."""
    return mx.softmax(x, axis=axis)


def softmin(x: Any, axis: int = -1) -> Any:
    r"""The softmin, :math:`\frac{e^{-x_i}}{\sum_j e^{-x_j}}`, along ``axis``."""
    return mx.softmax(-x, axis=axis)


def softplus(x: Any) -> Any:
    r"""The softplus, :math:`\log(1 + e^x)`."""
    return mx.logaddexp(x, 0)


def softsign(x: Any) -> Any:
    r"""The softsign, :math:`\frac{x}{1 + |x|}`."""
    return mx.divide(x, 1 + mx.abs(x))


def softshrink(x: Any, lambd: float = 0.5) -> Any:
    r"""Soft shrinkage: :math:`x - \lambda\,\mathrm{sign}(x)` where :math:`|x| > \lambda`,
    else 0."""
    return mx.where(mx.abs(x) > lambd, x - mx.sign(x) * lambd, 0)


def hard_shrink(x: Any, lambd: float = 0.5) -> Any:
    r"""Hard shrinkage: :math:`x` where :math:`|x| > \lambda`, else 0."""
    return mx.where(mx.abs(x) > lambd, x, 0)


def hard_tanh(x: Any, min_val: float = -1.0, max_val: float = 1.0) -> Any:
    r"""The hard tanh, :math:`\max(\min(x, \text{max\_val}), \text{min\_val})`."""
    return mx.minimum(mx.maximum(x, min_val), max_val)


def hardswish(x: Any) -> Any:
    r"""The hard swish, :math:`x \min(\max(x + 3, 0), 6) / 6`."""
    return x * mx.minimum(mx.maximum(x + 3, 0), 6) / 6


def silu(x: Any) -> Any:
    r"""The sigmoid linear unit (swish), :math:`x \sigma(x)`."""
    return x * mx.sigmoid(x)


def log_sigmoid(x: Any) -> Any:
    r"""The log of the sigmoid, :math:`-\log(1 + e^{-x})`."""
    return -softplus(-x)


def mish(x: Any) -> Any:
    r"""Mish, :math:`x \tanh(\mathrm{softplus}(x))` (https://arxiv.org/abs/1908.08681)."""
    return x * mx.tanh(softplus(x))


def gelu(x: Any) -> Any:
    r"""The Gaussian error linear unit, :math:`x \Phi(x)` with :math:`\Phi` the Gaussian CDF.

    .. math::
        \mathrm{GELU}(x) = \frac{x}{2} \left(1 + \mathrm{erf}\left(\frac{x}{\sqrt 2}\right)\right)
    """
    return x * (1 + mx.erf(x / math.sqrt(2))) / 2


def gelu_approx(x: Any) -> Any:
    r"""The tanh approximation of :func:`gelu` (absolute error below 0.0005 on [-6, 6]):

    .. math::
        \frac{x}{2} \left(1 + \tanh\left(\sqrt{2 / \pi} (x + 0.044715 x^3)\right)\right)
    """
    return 0.5 * x * (1 + mx.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def gelu_fast_approx(x: Any) -> Any:
    r"""The sigmoid approximation of :func:`gelu`, :math:`x \sigma(1.702 x)` (absolute error
    below 0.021 on [-6, 6])."""
    return x * mx.sigmoid(1.702 * x)


def glu(x: Any, axis: int = -1) -> Any:
    r"""The gated linear unit: split ``axis`` into halves :math:`a, b`; return
    :math:`a \sigma(b)`."""
    a, b = mx.split(x, 2, axis=axis)
    return a * mx.sigmoid(b)


def step(x: Any, threshold: float = 0.0) -> Any:
    r"""The binary step: 1 where :math:`x \ge` ``threshold``, else 0."""
    return mx.where(x >= threshold, 1, 0)


def prelu(x: Any, alpha: Any) -> Any:
    r"""The parametric ReLU, :math:`\max(0, x) + \alpha \min(0, x)` with an array
    :math:`\alpha`."""
    return mx.maximum(0, x) + alpha * mx.minimum(0, x)


def tanh(x: Any) -> Any:
    r"""The hyperbolic tangent, ``mx.tanh(x)``."""
    return mx.tanh(x)


def _activation_module(fn: Any) -> Any:
    """Make a parameter-free layer class call ``fn``."""

    def decorator(cls: type) -> type:
        cls.__call__ = lambda self, x: fn(x)
        return cls

    return decorator


@_activation_module(sigmoid)
class Sigmoid(Module):
    r"""Applies :func:`sigmoid` element-wise."""


@_activation_module(relu)
class ReLU(Module):
    r"""Applies :func:`relu` element-wise."""


@_activation_module(relu2)
class ReLU2(Module):
    r"""Applies :func:`relu2` element-wise."""


@_activation_module(relu6)
class ReLU6(Module):
    r"""Applies :func:`relu6` element-wise."""


@_activation_module(selu)
class SELU(Module):
    r"""Applies :func:`selu` element-wise."""


@_activation_module(softmax)
class Softmax(Module):
    r"""Applies :func:`softmax` along the last axis."""


@_activation_module(softmin)
class Softmin(Module):
    r"""Applies :func:`softmin` along the last axis."""


@_activation_module(softplus)
class Softplus(Module):
    r"""Applies :func:`softplus` element-wise."""


@_activation_module(softsign)
class Softsign(Module):
    r"""Applies :func:`softsign` element-wise."""


@_activation_module(silu)
class SiLU(Module):
    r"""Applies :func:`silu` element-wise."""


@_activation_module(log_softmax)
class LogSoftmax(Module):
    r"""Applies :func:`log_softmax` along the last axis."""


@_activation_module(log_sigmoid)
class LogSigmoid(Module):
    r"""Applies :func:`log_sigmoid` element-wise."""


@_activation_module(mish)
class Mish(Module):
    r"""Applies :func:`mish` element-wise."""


@_activation_module(tanh)
class Tanh(Module):
    r"""Applies :func:`tanh` element-wise."""


@_activation_module(hardswish)
class Hardswish(Module):
    r"""Applies :func:`hardswish` element-wise."""


@_activation_module(hard_tanh)
class HardTanh(Module):
    r"""Applies :func:`hard_tanh` element-wise with bounds -1 and 1."""


class LeakyReLU(Module):
    r"""Applies :func:`leaky_relu`.

    Args:
        negative_slope: The slope for negative inputs. Default: ``1e-2``.
    """

    def __init__(self, negative_slope: float = 1e-2):
        super().__init__()
        self._negative_slope = negative_slope

    def __call__(self, x: Any) -> Any:
        return leaky_relu(x, self._negative_slope)


class ELU(Module):
    r"""Applies :func:`elu`.

    Args:
        alpha: The :math:`\alpha` of the negative branch. Default: ``1.0``.
    """

    def __init__(self, alpha: float = 1.0):
        super().__init__()
        self._alpha = alpha

    def __call__(self, x: Any) -> Any:
        return elu(x, self._alpha)


class CELU(Module):
    r"""Applies :func:`celu`.

    Args:
        alpha: The :math:`\alpha` of the negative branch. Default: ``1.0``.
    """

    def __init__(self, alpha: float = 1.0):
        super().__init__()
        self._alpha = alpha

    def __call__(self, x: Any) -> Any:
        return celu(x, self._alpha)


class Softshrink(Module):
    r"""Applies :func:`softshrink`.

    Args:
        lambd: The threshold :math:`\lambda`. Default: ``0.5``.
    """

    def __init__(self, lambd: float = 0.5):
        super().__init__()
        self.lambd = lambd

    def __call__(self, x: Any) -> Any:
        return softshrink(x, self.lambd)


class HardShrink(Module):
    r"""Applies :func:`hard_shrink`.

    Args:
        lambd: The threshold :math:`\lambda`. Default: ``0.5``.
    """

    def __init__(self, lambd: float = 0.5):
        super().__init__()
        self.lambd = lambd

    def __call__(self, x: Any) -> Any:
        return hard_shrink(x, self.lambd)


class Step(Module):
    r"""Applies :func:`step`.

    Args:
        threshold: The value at which the output switches from 0 to 1. Default: ``0.0``.
    """

    def __init__(self, threshold: float = 0.0):
        super().__init__()
        self.threshold = threshold

    def __call__(self, x: Any) -> Any:
        return step(x, self.threshold)


class GLU(Module):
    r"""Applies :func:`glu`.

    Args:
        axis: The axis split into the two halves. Default: ``-1``.
    """

    def __init__(self, axis: int = -1):
        super().__init__()
        self.axis = axis

    def __call__(self, x: Any) -> Any:
        return glu(x, axis=self.axis)


class PReLU(Module):
    r"""Applies :func:`prelu` with a learned slope.

    Args:
        num_parameters: The number of slopes :math:`\alpha` (1, or one per feature).
            Default: ``1``.
        init: The initial slope. Default: ``0.25``.
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25):
        super().__init__()
        self.weight = mx.full([num_parameters], init)

    def __call__(self, x: Any) -> Any:
        return prelu(x, self.weight)


class GELU(Module):
    r"""Applies :func:`gelu`, or one of its approximations.

    Args:
        approx: ``"none"`` (exact), ``"precise"`` or its alias ``"tanh"``
            (:func:`gelu_approx`), or ``"fast"`` (:func:`gelu_fast_approx`).
            Default: ``"none"``.
    """

    def __init__(self, approx: str = "none"):
        super().__init__()
        allowed = ["none", "precise", "tanh", "fast"]
        if approx not in allowed:
            raise ValueError(f"The approximation should be in {allowed} but '{approx}' was given")
        self._approx = approx

    def __call__(self, x: Any) -> Any:
        if self._approx == "none":
            return gelu(x)
        if self._approx in ("precise", "tanh"):
            return gelu_approx(x)
        return gelu_fast_approx(x)
