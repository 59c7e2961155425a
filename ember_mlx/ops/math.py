"""Elementwise arithmetic, powers, logarithms, trigonometry and the numpy-style ``gradient``.

Each name that MLX already has is MLX's own function (no wrapper): ``ops.add is mx.add``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ember_mlx.backend import mx

add = mx.add
subtract = mx.subtract
multiply = mx.multiply
divide = mx.divide
floor_divide = mx.floor_divide
mod = mx.remainder
negative = mx.negative
matmul = mx.matmul
power = mx.power
pow = mx.power
exp = mx.exp
log = mx.log
log2 = mx.log2
log10 = mx.log10
sqrt = mx.sqrt
square = mx.square
abs = mx.abs
sign = mx.sign
floor = mx.floor
ceil = mx.ceil
sin = mx.sin
cos = mx.cos
tan = mx.tan
sinh = mx.sinh
cosh = mx.cosh
tanh = mx.tanh
cumsum = mx.cumsum
pi = mx.pi


def clip(x: mx.array, min_val: Any, max_val: Any) -> mx.array:
    """``x`` limited to ``[min_val, max_val]`` (either bound may be ``None``)."""
    return mx.clip(x, min_val, max_val)


def dot(x: mx.array, y: mx.array) -> mx.array:
    """``numpy.dot``: the product summing the last axis of ``x`` with the second-to-last of ``y``.

    For vectors this is the inner product, for matrices the matrix product; a 0-d operand
    multiplies elementwise.
    """
    if x.ndim == 0 or y.ndim == 0:
        return mx.multiply(x, y)
    if x.ndim <= 2 and y.ndim <= 2:
        return mx.matmul(x, y) if x.ndim == 2 or y.ndim == 2 else mx.sum(x * y)
    return mx.tensordot(x, y, axes=[[x.ndim - 1], [max(y.ndim - 2, 0)]])


def _resolve_axes(name: str, axis: int | Sequence[int] | None, ndim: int) -> list[int]:
    """``axis`` (an int, a sequence of ints, or ``None`` for all) as distinct axes in ``[0, ndim)``.

    Negative axes count from the end, as in numpy.

    Raises:
        TypeError: an axis is not an int.
        ValueError: an axis is outside ``[-ndim, ndim)`` or repeated.
    """
    if axis is None:
        return list(range(ndim))
    given = list(axis) if isinstance(axis, Sequence) else [axis]
    for a in given:
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)):
            raise TypeError(f"{name}: axis must be an int or a sequence of ints, got {axis!r}")
        if not -ndim <= a < ndim:
            raise ValueError(
                f"{name}: axis {a} is out of bounds for an array of {ndim} dimensions "
                f"(expected axis in [{-ndim}, {ndim})), got axis={axis!r}"
            )
    axes = [int(a) % ndim for a in given]
    if len(set(axes)) != len(axes):
        raise ValueError(f"{name}: axis must not repeat an axis, got axis={axis!r}")
    return axes


def _spacing_steps(spacing: Any, n: int, dtype: Any) -> mx.array:
    """The ``n - 1`` steps between samples, from a scalar spacing or ``n`` coordinates."""
    steps = mx.astype(mx.array(spacing), dtype)
    if steps.ndim == 0:
        return mx.broadcast_to(steps, (n - 1,))
    if steps.ndim != 1 or steps.shape[0] != n:
        raise ValueError(
            f"gradient: spacing must be a scalar or {n} coordinates along the axis, "
            f"got shape {tuple(steps.shape)}"
        )
    return steps[1:] - steps[:-1]


def _gradient_last_axis(f: mx.array, h: mx.array, edge_order: int) -> mx.array:
    # Second-order central differences on a possibly uneven grid: with steps h1 (left) and
    # h2 (right), f'(x) = (-h2/(h1(h1+h2))) f[-1] + ((h2-h1)/(h1 h2)) f[0] + (h1/(h2(h1+h2))) f[1].
    h1, h2 = h[:-1], h[1:]
    interior = (
        (-h2 / (h1 * (h1 + h2))) * f[..., :-2]
        + ((h2 - h1) / (h1 * h2)) * f[..., 1:-1]
        + (h1 / (h2 * (h1 + h2))) * f[..., 2:]
    )
    if edge_order == 1:
        first = (f[..., 1] - f[..., 0]) / h[0]
        last = (f[..., -1] - f[..., -2]) / h[-1]
    else:
        h1, h2 = h[0], h[1]
        first = (
            -(2 * h1 + h2) / (h1 * (h1 + h2)) * f[..., 0]
            + (h1 + h2) / (h1 * h2) * f[..., 1]
            - h1 / (h2 * (h1 + h2)) * f[..., 2]
        )
        h1, h2 = h[-2], h[-1]
        last = (
            h2 / (h1 * (h1 + h2)) * f[..., -3]
            - (h1 + h2) / (h1 * h2) * f[..., -2]
            + (2 * h2 + h1) / (h2 * (h1 + h2)) * f[..., -1]
        )
    return mx.concatenate([mx.expand_dims(first, -1), interior, mx.expand_dims(last, -1)], axis=-1)


def gradient(
    f: mx.array,
    *varargs: Any,
    axis: int | Sequence[int] | None = None,
    edge_order: int = 1,
) -> mx.array | tuple[mx.array, ...]:
    """The derivative of sampled values ``f`` along each axis, as ``numpy.gradient``.

    Interior points use second-order central differences (exact for quadratics, also on
    uneven grids); the two boundary points use one-sided differences of order
    ``edge_order`` (1 or 2).

    Args:
        f: Samples; integer input is differentiated in float32.
        *varargs: Spacing: none (unit steps), one scalar for every axis, or one entry per
            differentiated axis, each a scalar step or the coordinates of the samples.
        axis: The axis or axes to differentiate along; all by default.
        edge_order: Accuracy order of the boundary differences, 1 or 2.

    Returns:
        One array per axis (a tuple), or a single array when one axis is differentiated.

    Raises:
        ValueError: ``f`` is 0-d, an axis is out of range or repeated, or an axis has fewer
            than ``edge_order + 1`` samples.
    """
    f = mx.array(f)
    if not mx.issubdtype(f.dtype, mx.floating):
        f = mx.astype(f, mx.float32)
    if f.ndim == 0:
        raise ValueError("gradient: f must have at least one axis, got a 0-d array")
    axes = _resolve_axes("gradient", axis, f.ndim)
    if edge_order not in (1, 2):
        raise ValueError(f"gradient: edge_order must be 1 or 2, got {edge_order}")
    if not varargs:
        varargs = (1.0,) * len(axes)
    elif len(varargs) == 1 and mx.array(varargs[0]).ndim == 0:
        varargs = varargs * len(axes)
    elif len(varargs) != len(axes):
        raise TypeError(
            f"gradient: expected 0, 1 or {len(axes)} spacing arguments, got {len(varargs)}"
        )
    grads = []
    for a, spacing in zip(axes, varargs, strict=True):
        n = f.shape[a]
        if n < edge_order + 1:
            raise ValueError(
                f"gradient: axis {a} has {n} samples; edge_order={edge_order} needs at least "
                f"{edge_order + 1}"
            )
        moved = mx.moveaxis(f, a, -1)
        steps = _spacing_steps(spacing, n, f.dtype)
        grads.append(mx.moveaxis(_gradient_last_axis(moved, steps, edge_order), -1, a))
    return grads[0] if len(grads) == 1 else tuple(grads)
