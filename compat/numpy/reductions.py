"""Reductions, scans and sorting, with MLX's result dtypes.

MLX sums small integers in 32 bits (numpy would use ``int64``), averages integers in
``float32``, returns index results (``argmax``, ``argsort``, ...) as ``uint32`` and the ``k``
largest values of ``topk`` in ascending order. Every result is an ndarray, 0-d for a full
reduction.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .arrays import Axes, as_array, as_axes, as_inexact
from .dtypes import (
    Dtype,
    bool_,
    float32,
    iinfo,
    int8,
    int16,
    int32,
    uint8,
    uint16,
    uint32,
)

# MLX accumulates small integer types in 32 bits: the dtype of a sum or product of each.
_ACCUMULATE = {
    bool_: int32,
    int8: int32,
    int16: int32,
    int32: int32,
    uint8: uint32,
    uint16: uint32,
    uint32: uint32,
}

_SEQUENCES = (tuple, list)


def sum(a: Any, /, axis: Axes = None, keepdims: bool = False, *, stream: Any = None) -> np.ndarray:  # noqa: A001
    """Sum over ``axis`` (all axes if ``None``); small integers accumulate in 32 bits."""
    a = as_array(a)
    if axis.__class__ in _SEQUENCES and not axis:  # no axis reduced: MLX keeps the dtype
        return a.copy()
    return np.add.reduce(a, as_axes(axis), _ACCUMULATE.get(a.dtype), keepdims=keepdims, out=...)


def prod(a: Any, /, axis: Axes = None, keepdims: bool = False, *, stream: Any = None) -> np.ndarray:
    """Product over ``axis`` (all axes if ``None``)."""
    a = as_array(a)
    if axis.__class__ in _SEQUENCES and not axis:  # no axis reduced: MLX keeps the dtype
        return a.copy()
    return np.multiply.reduce(
        a, as_axes(axis), _ACCUMULATE.get(a.dtype), keepdims=keepdims, out=...
    )


def mean(a: Any, /, axis: Axes = None, keepdims: bool = False, *, stream: Any = None) -> np.ndarray:
    """Arithmetic mean over ``axis``; integer input gives ``float32``."""
    a = as_array(a)
    dtype = float32 if a.dtype.kind in "biu" else None
    return np.asarray(np.mean(a, as_axes(axis), dtype, keepdims=keepdims))


def var(
    a: Any,
    /,
    axis: Axes = None,
    keepdims: bool = False,
    ddof: int = 0,
    *,
    stream: Any = None,
) -> np.ndarray:
    r"""Variance :math:`\frac{1}{N - \mathrm{ddof}} \sum (a - \bar a)^2` over ``axis``."""
    a = as_inexact(as_array(a))
    with _quiet_degrees_of_freedom():
        return np.asarray(np.var(a, as_axes(axis), ddof=ddof, keepdims=keepdims))


def std(
    a: Any,
    /,
    axis: Axes = None,
    keepdims: bool = False,
    ddof: int = 0,
    *,
    stream: Any = None,
) -> np.ndarray:
    """Standard deviation, the square root of :func:`var`."""
    a = as_inexact(as_array(a))
    with _quiet_degrees_of_freedom():
        return np.asarray(np.std(a, as_axes(axis), ddof=ddof, keepdims=keepdims))


@contextlib.contextmanager
def _quiet_degrees_of_freedom() -> Iterator[None]:
    """NaN where ``N <= ddof``, as in MLX, which does not warn (numpy does, twice)."""
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Degrees of freedom", RuntimeWarning)
        yield


def max(a: Any, /, axis: Axes = None, keepdims: bool = False, *, stream: Any = None) -> np.ndarray:  # noqa: A001
    """Maximum over ``axis`` (all axes if ``None``)."""
    return np.maximum.reduce(as_array(a), as_axes(axis), keepdims=keepdims, out=...)


def min(a: Any, /, axis: Axes = None, keepdims: bool = False, *, stream: Any = None) -> np.ndarray:  # noqa: A001
    """Minimum over ``axis`` (all axes if ``None``)."""
    return np.minimum.reduce(as_array(a), as_axes(axis), keepdims=keepdims, out=...)


def _nonempty(name: str, a: Any) -> np.ndarray:
    """``a`` as an array, refused with MLX's error if it is empty (numpy would return ``[]``
    for an empty array reduced along a non-empty axis)."""
    a = as_array(a)
    if a.size == 0:
        raise ValueError(f"[{name}] Cannot {name} reduce zero size array.")
    return a


def argmax(
    a: Any, /, axis: int | None = None, keepdims: bool = False, *, stream: Any = None
) -> np.ndarray:
    """Index of the maximum along ``axis`` (of the flattened array if ``None``), as ``uint32``."""
    return np.asarray(np.argmax(_nonempty("argmax", a), axis, keepdims=keepdims), uint32)


def argmin(
    a: Any, /, axis: int | None = None, keepdims: bool = False, *, stream: Any = None
) -> np.ndarray:
    """Index of the minimum along ``axis`` (of the flattened array if ``None``), as ``uint32``."""
    return np.asarray(np.argmin(_nonempty("argmin", a), axis, keepdims=keepdims), uint32)


def all(a: Any, /, axis: Axes = None, keepdims: bool = False, *, stream: Any = None) -> np.ndarray:  # noqa: A001
    """Whether every element along ``axis`` is true (non-zero)."""
    return np.asarray(np.all(as_array(a), as_axes(axis), keepdims=keepdims))


def any(a: Any, /, axis: Axes = None, keepdims: bool = False, *, stream: Any = None) -> np.ndarray:  # noqa: A001
    """Whether any element along ``axis`` is true (non-zero)."""
    return np.asarray(np.any(as_array(a), as_axes(axis), keepdims=keepdims))


def _shifted_exp(a: np.ndarray, axis: Axes) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`e^{a - m}` and :math:`m`, the maximum over ``axis`` (0 where it is infinite), so
    the exponentials cannot overflow."""
    m = np.maximum.reduce(a, as_axes(axis), keepdims=True)
    m = np.where(np.isfinite(m), m, 0).astype(a.dtype, copy=False)
    return np.exp(a - m), m


def logsumexp(
    a: Any, /, axis: Axes = None, keepdims: bool = False, *, stream: Any = None
) -> np.ndarray:
    r""":math:`\log \sum e^{a}` over ``axis``, computed stably."""
    a = as_inexact(as_array(a))
    with np.errstate(divide="ignore", invalid="ignore"):  # log(0) = -inf for all -inf input
        e, m = _shifted_exp(a, axis)
        out = np.log(np.add.reduce(e, as_axes(axis), keepdims=True)) + m
    return out if keepdims else np.squeeze(out, as_axes(axis))


def softmax(
    a: Any, /, axis: Axes = None, *, precise: bool = False, stream: Any = None
) -> np.ndarray:
    r""":math:`e^{a_i} / \sum_j e^{a_j}` over ``axis`` (all axes if ``None``)."""
    a = as_inexact(as_array(a))
    with np.errstate(invalid="ignore"):  # NaN for all -inf input, as in MLX
        e = _shifted_exp(a, axis)[0]
        return np.divide(e, np.add.reduce(e, as_axes(axis), keepdims=True), out=...)


def _scan(
    op: Callable,
    a: np.ndarray,
    axis: int | None,
    reverse: bool,
    inclusive: bool,
    identity: float | int | bool,
) -> np.ndarray:
    """A cumulative ``op`` with MLX's ``axis=None`` (flattened), ``reverse`` and ``inclusive``."""
    if axis is None:
        a, axis = a.reshape(-1), 0
    if reverse:
        a = np.flip(a, axis)
    out = op(a, axis)
    if not inclusive:
        first = np.full_like(np.take(out, [0], axis), identity)
        out = np.concatenate([first, np.delete(out, -1, axis)], axis)
    return np.flip(out, axis) if reverse else out


def cumsum(
    a: Any,
    /,
    axis: int | None = None,
    *,
    reverse: bool = False,
    inclusive: bool = True,
    dtype: Dtype | None = None,
    stream: Any = None,
) -> np.ndarray:
    """Cumulative sum along ``axis`` (of the flattened array if ``None``); booleans count in
    ``int32``, other dtypes keep theirs (and wrap)."""
    a = as_array(a)
    dtype = dtype or (int32 if a.dtype == bool_ else a.dtype)
    return _scan(lambda x, ax: np.cumsum(x, ax, dtype), a, axis, reverse, inclusive, 0)


def cumprod(
    a: Any,
    /,
    axis: int | None = None,
    *,
    reverse: bool = False,
    inclusive: bool = True,
    dtype: Dtype | None = None,
    stream: Any = None,
) -> np.ndarray:
    """Cumulative product along ``axis`` (of the flattened array if ``None``)."""
    a = as_array(a)
    dtype = dtype or a.dtype
    return _scan(lambda x, ax: np.cumprod(x, ax, dtype), a, axis, reverse, inclusive, 1)


def _lowest(dtype: Dtype) -> float | int | bool:
    if dtype == bool_:
        return False
    return -math.inf if dtype.kind == "f" else iinfo(dtype).min


def _highest(dtype: Dtype) -> float | int | bool:
    if dtype == bool_:
        return True
    return math.inf if dtype.kind == "f" else iinfo(dtype).max


def cummax(
    a: Any,
    /,
    axis: int | None = None,
    *,
    reverse: bool = False,
    inclusive: bool = True,
    stream: Any = None,
) -> np.ndarray:
    """Cumulative maximum along ``axis`` (of the flattened array if ``None``)."""
    a = as_array(a)
    return _scan(np.maximum.accumulate, a, axis, reverse, inclusive, _lowest(a.dtype))


def cummin(
    a: Any,
    /,
    axis: int | None = None,
    *,
    reverse: bool = False,
    inclusive: bool = True,
    stream: Any = None,
) -> np.ndarray:
    """Cumulative minimum along ``axis`` (of the flattened array if ``None``)."""
    a = as_array(a)
    return _scan(np.minimum.accumulate, a, axis, reverse, inclusive, _highest(a.dtype))


def logcumsumexp(
    a: Any,
    /,
    axis: int | None = None,
    *,
    reverse: bool = False,
    inclusive: bool = True,
    stream: Any = None,
) -> np.ndarray:
    r"""Cumulative :math:`\log \sum e^{a}` along ``axis``."""
    a = as_inexact(as_array(a))
    return _scan(np.logaddexp.accumulate, a, axis, reverse, inclusive, -math.inf)


def median(
    a: Any, /, axis: Axes = None, keepdims: bool = False, *, stream: Any = None
) -> np.ndarray:
    """Median over ``axis``; for an even count, the mean of the two middle values."""
    a = as_inexact(as_array(a))
    if 0 in (a.shape if axis is None else np.take(a.shape, axis).reshape(-1)):
        raise ValueError("[median] Cannot take median along empty axis.")
    return np.asarray(np.median(a, as_axes(axis), keepdims=keepdims))


def _along(a: Any, axis: int | None) -> tuple[np.ndarray, int]:
    a = as_array(a)
    if axis is None:
        return a.reshape(-1), 0
    if a.ndim == 0:  # numpy's argsort takes a scalar; MLX does not
        raise IndexError(f"Axis {axis} is out of bounds for array with 0 dimensions.")
    return a, axis


def sort(a: Any, /, axis: int | None = -1, *, stream: Any = None) -> np.ndarray:
    """``a`` sorted ascending along ``axis`` (flattened if ``None``)."""
    a, axis = _along(a, axis)
    return np.sort(a, axis, kind="stable")


def argsort(a: Any, /, axis: int | None = -1, *, stream: Any = None) -> np.ndarray:
    """Indices that sort ``a`` along ``axis`` (stable), as ``uint32``."""
    a, axis = _along(a, axis)
    return np.argsort(a, axis, kind="stable").astype(uint32)


def topk(a: Any, /, k: int, axis: int | None = -1, *, stream: Any = None) -> np.ndarray:
    """The ``k`` largest values along ``axis``, in ascending order."""
    a, axis = _along(a, axis)
    n = a.shape[axis]
    largest = np.take(np.partition(a, n - k, axis), np.arange(n - k, n), axis)
    return np.sort(largest, axis)


def partition(a: Any, /, kth: int, axis: int | None = -1, *, stream: Any = None) -> np.ndarray:
    """``a`` rearranged so the ``kth`` element is in sorted place, smaller ones before it and
    larger ones after it (each side in no particular order)."""
    a, axis = _along(a, axis)
    return np.partition(a, kth, axis)


def argpartition(a: Any, /, kth: int, axis: int | None = -1, *, stream: Any = None) -> np.ndarray:
    """Indices that :func:`partition` ``a`` around its ``kth`` element, as ``uint32``."""
    a, axis = _along(a, axis)
    return np.argpartition(a, kth, axis).astype(uint32)


__all__ = [
    "sum",
    "prod",
    "mean",
    "var",
    "std",
    "max",
    "min",
    "argmax",
    "argmin",
    "all",
    "any",
    "logsumexp",
    "softmax",
    "cumsum",
    "cumprod",
    "cummax",
    "cummin",
    "logcumsumexp",
    "median",
    "sort",
    "argsort",
    "topk",
    "partition",
    "argpartition",
]
