"""Parameter initialisers, as in ``mlx.nn.init``.

Each function is a factory: it takes the distribution's settings and returns
``initializer(a) -> array``, which draws an array of ``a``'s shape (``a``'s values are ignored).
Draws come from the global random state, so seed with ``mx.random.seed`` for reproducible
weights. Apply them by assignment or with ``model.apply``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

from .. import core as mx

FanMode = Literal["fan_in", "fan_out"]


def constant(value: float, dtype: Any = mx.float32) -> Callable[[Any], Any]:
    """An initializer filling the array with ``value``.

    Args:
        value: The fill value.
        dtype: The dtype of the result. Default: ``float32``.
    """

    def initializer(a: Any) -> Any:
        return mx.full(a.shape, value, dtype=dtype)

    return initializer


def normal(mean: float = 0.0, std: float = 1.0, dtype: Any = mx.float32) -> Callable[[Any], Any]:
    r"""An initializer drawing from :math:`\mathcal{N}(\text{mean}, \text{std}^2)`.

    Args:
        mean: The mean. Default: ``0.0``.
        std: The standard deviation. Default: ``1.0``.
        dtype: The dtype of the result. Default: ``float32``.
    """

    def initializer(a: Any) -> Any:
        return mx.random.normal(shape=a.shape, scale=std, loc=mean, dtype=dtype)

    return initializer


def uniform(low: float = 0.0, high: float = 1.0, dtype: Any = mx.float32) -> Callable[[Any], Any]:
    r"""An initializer drawing from :math:`\mathcal{U}(\text{low}, \text{high})`.

    Args:
        low: The lower bound. Default: ``0.0``.
        high: The upper bound. Default: ``1.0``.
        dtype: The dtype of the result. Default: ``float32``.
    """

    def initializer(a: Any) -> Any:
        return mx.random.uniform(low, high, a.shape, dtype=dtype)

    return initializer


def identity(dtype: Any = mx.float32) -> Callable[[Any], Any]:
    """An initializer returning the identity matrix; the array must be square.

    Args:
        dtype: The dtype of the result. Default: ``float32``.
    """

    def initializer(arr: Any) -> Any:
        if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
            raise ValueError(
                f"The input array must be a square matrix but got shape {tuple(arr.shape)}."
            )
        return mx.eye(n=arr.shape[0], dtype=dtype)

    return initializer


def _calculate_fan_in_fan_out(x: Any) -> tuple[int, int]:
    """Fans of a weight laid out ``(out, ..., in)``; middle axes multiply both fans."""
    if x.ndim < 2:
        raise ValueError(
            "Glorot / He initialization requires at least 2 dimensional input"
            f" but input with {x.ndim} dimensions."
        )
    receptive_field = math.prod(x.shape[1:-1])
    return x.shape[-1] * receptive_field, x.shape[0] * receptive_field


def _fan(a: Any, mode: FanMode) -> int:
    fan_in, fan_out = _calculate_fan_in_fan_out(a)
    if mode == "fan_in":
        return fan_in
    if mode == "fan_out":
        return fan_out
    raise ValueError(f"Invalid mode: {mode}. Valid modes are: fan_in, fan_out")


def glorot_normal(dtype: Any = mx.float32) -> Callable[[Any, float], Any]:
    r"""The Glorot (Xavier) normal initializer, ``initializer(a, gain=1.0)``.

    .. math::
        \sigma = \gamma \sqrt{\frac{2}{\text{fan\_in} + \text{fan\_out}}}

    Args:
        dtype: The dtype of the result. Default: ``float32``.
    """

    def initializer(a: Any, gain: float = 1.0) -> Any:
        fan_in, fan_out = _calculate_fan_in_fan_out(a)
        std = gain * math.sqrt(2.0 / (fan_in + fan_out))
        return mx.random.normal(shape=a.shape, scale=std, dtype=dtype)

    return initializer


def glorot_uniform(dtype: Any = mx.float32) -> Callable[[Any, float], Any]:
    r"""The Glorot (Xavier) uniform initializer, ``initializer(a, gain=1.0)``, drawing from
    :math:`\mathcal{U}(-\text{limit}, \text{limit})`.

    .. math::
        \text{limit} = \gamma \sqrt{\frac{6}{\text{fan\_in} + \text{fan\_out}}}

    Args:
        dtype: The dtype of the result. Default: ``float32``.
    """

    def initializer(a: Any, gain: float = 1.0) -> Any:
        fan_in, fan_out = _calculate_fan_in_fan_out(a)
        limit = gain * math.sqrt(6.0 / (fan_in + fan_out))
        return mx.random.uniform(-limit, limit, a.shape, dtype=dtype)

    return initializer


def he_normal(dtype: Any = mx.float32) -> Callable[[Any, FanMode, float], Any]:
    r"""The He (Kaiming) normal initializer, ``initializer(a, mode="fan_in", gain=1.0)``.

    .. math::
        \sigma = \frac{\gamma}{\sqrt{\text{fan}}}

    with :math:`\text{fan}` the fan-in or fan-out as ``mode`` says.

    Args:
        dtype: The dtype of the result. Default: ``float32``.
    """

    def initializer(a: Any, mode: FanMode = "fan_in", gain: float = 1.0) -> Any:
        std = gain / math.sqrt(_fan(a, mode))
        return mx.random.normal(shape=a.shape, scale=std, dtype=dtype)

    return initializer


def he_uniform(dtype: Any = mx.float32) -> Callable[[Any, FanMode, float], Any]:
    r"""The He (Kaiming) uniform initializer, ``initializer(a, mode="fan_in", gain=1.0)``,
    drawing from :math:`\mathcal{U}(-\text{limit}, \text{limit})`.

    .. math::
        \text{limit} = \gamma \sqrt{\frac{3}{\text{fan}}}

    Args:
        dtype: The dtype of the result. Default: ``float32``.
    """

    def initializer(a: Any, mode: FanMode = "fan_in", gain: float = 1.0) -> Any:
        limit = gain * math.sqrt(3.0 / _fan(a, mode))
        return mx.random.uniform(-limit, limit, a.shape, dtype=dtype)

    return initializer


def sparse(
    sparsity: float, mean: float = 0.0, std: float = 1.0, dtype: Any = mx.float32
) -> Callable[[Any], Any]:
    r"""An initializer drawing from :math:`\mathcal{N}(\text{mean}, \text{std}^2)` with
    ``ceil(sparsity * cols)`` random entries of every row set to zero (Martens, 2010,
    "Deep learning via Hessian-free optimization"). Only 2-D arrays.

    Args:
        sparsity: The fraction of each row set to zero.
        mean: The mean. Default: ``0.0``.
        std: The standard deviation. Default: ``1.0``.
        dtype: The dtype of the result. Default: ``float32``.
    """

    def initializer(a: Any) -> Any:
        if a.ndim != 2:
            raise ValueError("Only tensors with 2 dimensions are supported")
        rows, cols = a.shape
        num_zeros = int(math.ceil(sparsity * cols))
        # Sorting independent uniform keys per row picks each row's zeroed columns.
        order = mx.argsort(mx.random.uniform(shape=a.shape), axis=1)
        a = mx.random.normal(shape=a.shape, scale=std, loc=mean, dtype=dtype)
        zeros = mx.zeros((rows, num_zeros), dtype=dtype)
        return mx.put_along_axis(a, order[:, :num_zeros], zeros, axis=1)

    return initializer


def orthogonal(gain: float = 1.0, dtype: Any = mx.float32) -> Callable[[Any], Any]:
    r"""An initializer returning ``gain`` times a matrix with orthonormal rows or columns
    (whichever are fewer), from the QR decomposition of a Gaussian matrix with the signs of
    :math:`R`'s diagonal moved into :math:`Q`, which makes :math:`Q` Haar-distributed.

    Args:
        gain: The scale of the result. Default: ``1.0``.
        dtype: The dtype of the result. Default: ``float32``.
    """

    def initializer(a: Any) -> Any:
        if a.ndim != 2:
            raise ValueError(
                f"Orthogonal initialization requires a 2D array but got a {a.ndim}D array."
            )
        rows, cols = a.shape
        n = max(rows, cols)
        q, r = mx.linalg.qr(mx.random.normal(shape=(n, n)))
        q = q * mx.sign(mx.diag(r))
        return mx.astype(q[:rows, :cols] * gain, dtype)

    return initializer
