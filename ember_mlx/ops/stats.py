"""Descriptive statistics: reductions, order statistics and sorting (``ops.stats``)."""

from __future__ import annotations

from collections.abc import Sequence

from ember_mlx.backend import mx

from .math import _resolve_axes
from .vector import gaussian

mean = mx.mean
sum = mx.sum
max = mx.max
min = mx.min
var = mx.var
std = mx.std
median = mx.median
cumsum = mx.cumsum
argmax = mx.argmax
argmin = mx.argmin


def sort(x: mx.array, axis: int = -1, descending: bool = False) -> mx.array:
    """``x`` sorted along ``axis``, ascending unless ``descending``."""
    ascending = mx.sort(x, axis=axis)
    return mx.flip(ascending, axis=axis) if descending else ascending


def argsort(x: mx.array, axis: int = -1, descending: bool = False) -> mx.array:
    """The indices that sort ``x`` along ``axis`` (ascending unless ``descending``)."""
    order = mx.argsort(x, axis=axis)
    return mx.flip(order, axis=axis) if descending else order


def percentile(
    x: mx.array,
    q: float | Sequence[float] | mx.array,
    axis: int | Sequence[int] | None = None,
    keepdims: bool = False,
) -> mx.array:
    r"""The ``q``-th percentiles of ``x`` over ``axis``, as ``numpy.percentile`` (linear method).

    With the ``n`` values sorted as :math:`v_0 \le \dots \le v_{n-1}`,
    :math:`p = q (n - 1) / 100` and :math:`i = \lfloor p \rfloor`, the percentile is
    :math:`v_i + (p - i)(v_{i+1} - v_i)`.

    Args:
        x: Input array.
        q: Percentile or 1-D sequence of percentiles, each in ``[0, 100]``.
        axis: Axis or axes to reduce; all of them by default.
        keepdims: Keep the reduced axes with length one.

    Returns:
        The percentiles; a 1-D ``q`` adds a leading axis of ``len(q)``, as in numpy.

    Raises:
        ValueError: ``q`` is outside ``[0, 100]``, an axis is out of range or repeated, or
            ``x`` has no values along ``axis``.
    """
    q = mx.astype(mx.array(q), mx.float32)
    if q.ndim > 1 or not mx.all(mx.logical_and(q >= 0, q <= 100)).item():
        raise ValueError("percentile: q must be a number or 1-D sequence of numbers in [0, 100]")
    axes = sorted(_resolve_axes("percentile", axis, x.ndim))
    if any(x.shape[a] == 0 for a in axes):
        raise ValueError(f"percentile: x has no values along axis={axis!r}, shape {tuple(x.shape)}")
    kept = [a for a in range(x.ndim) if a not in axes]
    values = mx.transpose(x, kept + axes)
    values = mx.reshape(values, (*values.shape[: len(kept)], -1))
    if not mx.issubdtype(values.dtype, mx.floating):
        values = mx.astype(values, mx.float32)
    ordered = mx.sort(values, axis=-1)
    position = q / 100 * (ordered.shape[-1] - 1)
    below = mx.floor(position)
    lower = mx.astype(below, mx.int32)
    upper = mx.minimum(lower + 1, ordered.shape[-1] - 1)
    low_values = mx.take(ordered, lower, axis=-1)
    high_values = mx.take(ordered, upper, axis=-1)
    result = low_values + (position - below) * (high_values - low_values)
    if q.ndim == 1:
        result = mx.moveaxis(result, -1, 0)
    if keepdims:
        for a in axes:
            result = mx.expand_dims(result, a + q.ndim)
    return result


__all__ = [
    "argmax",
    "argmin",
    "argsort",
    "cumsum",
    "gaussian",
    "max",
    "mean",
    "median",
    "min",
    "percentile",
    "sort",
    "std",
    "sum",
    "var",
]
