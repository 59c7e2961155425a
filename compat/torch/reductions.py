"""Reductions, scans and sorting, with MLX's result dtypes.

MLX sums small integers in 32 bits (torch would use ``int64``), averages integers in
``float32`` and returns the ``k`` largest values of ``topk`` in ascending order. Index results
(``argmax``, ``argsort``) are ``int64``, torch's index dtype, where MLX gives ``uint32``.
``axis=()`` (or ``[]``) reduces no axis, as in MLX (torch's ``dim=()`` means every axis).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from .arrays import Axes, as_inexact, as_tensor, to_array, widen
from .dtypes import (
    WIDE_UNSIGNED,
    Dtype,
    iinfo,
    int8,
    int16,
    int32,
    int64,
    uint8,
    uint16,
    uint32,
    uint64,
)
from .shapes import expand_axes, normalize_axes

# MLX accumulates small integer types in 32 bits (torch would use int64): for each integer input
# dtype, the dtype torch sums in and the dtype MLX returns.
_ACCUMULATE = {
    torch.bool: (int32, int32),
    int8: (int32, int32),
    int16: (int32, int32),
    int32: (int32, int32),
    uint8: (int64, uint32),
    uint16: (int64, uint32),
    uint32: (int64, uint32),
    uint64: (int64, uint64),
}


def _keep_all(out: Tensor, ndim: int, keepdims: bool) -> Tensor:
    return out.reshape((1,) * ndim) if keepdims else out


# ``axis=()`` or ``axis=[]`` reduces no axis in MLX but every axis in torch (``dim=()``), so each
# reduction tests ``axis.__class__ in _SEQUENCES and not axis`` (cheap for an int or ``None``).
_SEQUENCES = (tuple, list)


def sum(a: Any, /, axis: Axes = None, keepdims: bool = False, *, stream: Any = None) -> Tensor:  # noqa: A001
    """Sum over ``axis`` (all axes if ``None``); small integers accumulate in 32 bits."""
    if a.__class__ is not Tensor:
        a = to_array(a)
    if axis.__class__ in _SEQUENCES and not axis:
        return a.clone()
    acc = _ACCUMULATE.get(a.dtype)
    if acc is None:
        return torch.sum(a, dim=axis, keepdim=keepdims)
    out = torch.sum(a, dim=axis, keepdim=keepdims, dtype=acc[0])
    return out if acc[1] is acc[0] else out.to(acc[1])


def prod(a: Any, /, axis: Axes = None, keepdims: bool = False, *, stream: Any = None) -> Tensor:
    """Product over ``axis`` (all axes if ``None``)."""
    a = as_tensor(a)
    if axis.__class__ in _SEQUENCES and not axis:
        return a.clone()
    acc = _ACCUMULATE.get(a.dtype, (a.dtype, a.dtype))
    if axis is None:
        out = _keep_all(torch.prod(a, dtype=acc[0]), a.ndim, keepdims)
    elif isinstance(axis, int):
        out = torch.prod(a, dim=axis, keepdim=keepdims, dtype=acc[0])
    else:
        axes = normalize_axes(axis, a.ndim)
        moved = torch.movedim(a, axes, tuple(range(-len(axes), 0))).flatten(-len(axes))
        out = torch.prod(moved, dim=-1, dtype=acc[0])
        if keepdims:
            out = expand_axes(out, axes)
    return out if acc[1] is acc[0] else out.to(acc[1])


def mean(a: Any, /, axis: Axes = None, keepdims: bool = False, *, stream: Any = None) -> Tensor:
    """Arithmetic mean over ``axis``; integer input gives ``float32``."""
    if a.__class__ is not Tensor:
        a = to_array(a)
    if axis.__class__ in _SEQUENCES and not axis:
        return as_inexact(a).clone()
    return torch.mean(as_inexact(a), dim=axis, keepdim=keepdims)


def var(
    a: Any,
    /,
    axis: Axes = None,
    keepdims: bool = False,
    ddof: int = 0,
    *,
    stream: Any = None,
) -> Tensor:
    r"""Variance :math:`\frac{1}{N - \mathrm{ddof}} \sum (a - \bar a)^2` over ``axis``."""
    if axis.__class__ in _SEQUENCES and not axis:
        return _unreduced_var(as_inexact(as_tensor(a)), ddof)
    return torch.var(as_inexact(as_tensor(a)), dim=axis, correction=ddof, keepdim=keepdims)


def std(
    a: Any,
    /,
    axis: Axes = None,
    keepdims: bool = False,
    ddof: int = 0,
    *,
    stream: Any = None,
) -> Tensor:
    """Standard deviation, the square root of :func:`var`."""
    if axis.__class__ in _SEQUENCES and not axis:
        return torch.sqrt(_unreduced_var(as_inexact(as_tensor(a)), ddof))
    return torch.std(as_inexact(as_tensor(a)), dim=axis, correction=ddof, keepdim=keepdims)


def _unreduced_var(a: Tensor, ddof: int) -> Tensor:
    """The variance of each element alone (``N = 1``): 0, or NaN where ``N - ddof <= 0``."""
    return torch.square(a - a) / (1 - ddof if ddof < 1 else 0)


def _raise_if_empty(name: str, a: Tensor, error: Exception) -> None:
    """MLX's ``ValueError`` for reducing an empty axis, which torch reports otherwise."""
    if a.numel() == 0:
        raise ValueError(f"[{name}] Cannot {name} reduce an empty axis.") from error


def max(a: Any, /, axis: Axes = None, keepdims: bool = False, *, stream: Any = None) -> Tensor:  # noqa: A001
    """Maximum over ``axis`` (all axes if ``None``)."""
    a = as_tensor(a)
    if axis.__class__ in _SEQUENCES and not axis:
        return a.clone()
    try:
        out = torch.amax(widen(a), dim=() if axis is None else axis, keepdim=keepdims)
    except (RuntimeError, IndexError) as error:
        _raise_if_empty("max", a, error)
        raise
    return out.to(a.dtype) if a.dtype in WIDE_UNSIGNED else out


def min(a: Any, /, axis: Axes = None, keepdims: bool = False, *, stream: Any = None) -> Tensor:  # noqa: A001
    """Minimum over ``axis`` (all axes if ``None``)."""
    a = as_tensor(a)
    if axis.__class__ in _SEQUENCES and not axis:
        return a.clone()
    try:
        out = torch.amin(widen(a), dim=() if axis is None else axis, keepdim=keepdims)
    except (RuntimeError, IndexError) as error:
        _raise_if_empty("min", a, error)
        raise
    return out.to(a.dtype) if a.dtype in WIDE_UNSIGNED else out


def _arg_reduce(op: Callable, a: Any, axis: int | None, keepdims: bool) -> Tensor:
    a = widen(as_tensor(a))
    if a.numel() == 0:
        raise ValueError(f"[{op.__name__}] Cannot {op.__name__} reduce zero size array.")
    if a.dtype == torch.bool:  # torch's argmax/argmin refuse bool; MLX takes it
        a = a.to(torch.uint8)
    if axis is None:
        return _keep_all(op(a.reshape(-1)), a.ndim, keepdims)
    return op(a, dim=axis, keepdim=keepdims)


def argmax(
    a: Any, /, axis: int | None = None, keepdims: bool = False, *, stream: Any = None
) -> Tensor:
    """Index of the maximum along ``axis`` (of the flattened array if ``None``), as ``int64``."""
    return _arg_reduce(torch.argmax, a, axis, keepdims)


def argmin(
    a: Any, /, axis: int | None = None, keepdims: bool = False, *, stream: Any = None
) -> Tensor:
    """Index of the minimum along ``axis`` (of the flattened array if ``None``), as ``int64``."""
    return _arg_reduce(torch.argmin, a, axis, keepdims)


def _truth(a: Any) -> Tensor:
    a = as_tensor(a)
    return a.to(torch.bool) if a.dtype is uint8 else a  # torch reduces uint8 to uint8


def all(a: Any, /, axis: Axes = None, keepdims: bool = False, *, stream: Any = None) -> Tensor:  # noqa: A001
    """Whether every element along ``axis`` is true (non-zero)."""
    a = _truth(a)
    if axis is None:
        return _keep_all(torch.all(a), a.ndim, keepdims)
    return torch.all(a, dim=axis, keepdim=keepdims)


def any(a: Any, /, axis: Axes = None, keepdims: bool = False, *, stream: Any = None) -> Tensor:  # noqa: A001
    """Whether any element along ``axis`` is true (non-zero)."""
    a = _truth(a)
    if axis is None:
        return _keep_all(torch.any(a), a.ndim, keepdims)
    return torch.any(a, dim=axis, keepdim=keepdims)


def logsumexp(
    a: Any, /, axis: Axes = None, keepdims: bool = False, *, stream: Any = None
) -> Tensor:
    r""":math:`\log \sum e^{a}` over ``axis``, computed stably."""
    a = as_inexact(as_tensor(a))
    if axis.__class__ in _SEQUENCES and not axis:
        return a.clone()
    return torch.logsumexp(a, dim=normalize_axes(axis, a.ndim), keepdim=keepdims)


def softmax(a: Any, /, axis: Axes = None, *, precise: bool = False, stream: Any = None) -> Tensor:
    r""":math:`e^{a_i} / \sum_j e^{a_j}` over ``axis`` (all axes if ``None``)."""
    a = as_inexact(as_tensor(a))
    if isinstance(axis, int):
        return torch.softmax(a, axis)
    if axis.__class__ in _SEQUENCES and not axis:  # each element alone: 1 (NaN for inf, NaN)
        return torch.exp(a - a)
    return torch.exp(a - torch.logsumexp(a, dim=normalize_axes(axis, a.ndim), keepdim=True))


def _scan(
    op: Callable,
    a: Tensor,
    axis: int | None,
    reverse: bool,
    inclusive: bool,
    identity: float | int | bool,
) -> Tensor:
    """A cumulative ``op`` with MLX's ``axis=None`` (flattened), ``reverse`` and ``inclusive``."""
    if axis is None:
        a, axis = a.reshape(-1), 0
    if reverse:
        a = torch.flip(a, (axis,))
    out = op(a, axis)
    if not inclusive:
        first = torch.full_like(out.narrow(axis, 0, 1), identity)
        out = torch.cat([first, out.narrow(axis, 0, out.shape[axis] - 1)], dim=axis)
    return torch.flip(out, (axis,)) if reverse else out


def _accumulating(
    op: Callable, a: Any, dtype: Dtype | None, bool_dtype: Dtype
) -> tuple[Callable, Tensor, Dtype]:
    """``op`` accumulating in a dtype torch has kernels for, and the dtype MLX returns."""
    a = as_tensor(a)
    if dtype is None:
        dtype = bool_dtype if a.dtype is torch.bool else a.dtype
    work = int64 if dtype in WIDE_UNSIGNED else int32 if dtype is torch.bool else dtype
    return (lambda x, ax: op(x, ax, dtype=work)), a, dtype


def cumsum(
    a: Any,
    /,
    axis: int | None = None,
    *,
    reverse: bool = False,
    inclusive: bool = True,
    dtype: Dtype | None = None,
    stream: Any = None,
) -> Tensor:
    """Cumulative sum along ``axis`` (of the flattened array if ``None``)."""
    op, a, dtype = _accumulating(torch.cumsum, a, dtype, int32)
    return _scan(op, a, axis, reverse, inclusive, 0).to(dtype)


def cumprod(
    a: Any,
    /,
    axis: int | None = None,
    *,
    reverse: bool = False,
    inclusive: bool = True,
    dtype: Dtype | None = None,
    stream: Any = None,
) -> Tensor:
    """Cumulative product along ``axis`` (of the flattened array if ``None``)."""
    op, a, dtype = _accumulating(torch.cumprod, a, dtype, torch.bool)
    return _scan(op, a, axis, reverse, inclusive, 1).to(dtype)


def _lowest(dtype: Dtype) -> float | int | bool:
    if dtype is torch.bool:
        return False
    return -math.inf if dtype.is_floating_point else iinfo(dtype).min


def _highest(dtype: Dtype) -> float | int | bool:
    if dtype is torch.bool:
        return True
    return math.inf if dtype.is_floating_point else iinfo(dtype).max


def cummax(
    a: Any,
    /,
    axis: int | None = None,
    *,
    reverse: bool = False,
    inclusive: bool = True,
    stream: Any = None,
) -> Tensor:
    """Cumulative maximum along ``axis`` (of the flattened array if ``None``)."""
    a = as_tensor(a)
    op = lambda x, ax: torch.cummax(x, ax).values  # noqa: E731
    return _scan(op, a, axis, reverse, inclusive, _lowest(a.dtype))


def cummin(
    a: Any,
    /,
    axis: int | None = None,
    *,
    reverse: bool = False,
    inclusive: bool = True,
    stream: Any = None,
) -> Tensor:
    """Cumulative minimum along ``axis`` (of the flattened array if ``None``)."""
    a = as_tensor(a)
    op = lambda x, ax: torch.cummin(x, ax).values  # noqa: E731
    return _scan(op, a, axis, reverse, inclusive, _highest(a.dtype))


def logcumsumexp(
    a: Any,
    /,
    axis: int | None = None,
    *,
    reverse: bool = False,
    inclusive: bool = True,
    stream: Any = None,
) -> Tensor:
    r"""Cumulative :math:`\log \sum e^{a}` along ``axis``."""
    return _scan(torch.logcumsumexp, as_inexact(as_tensor(a)), axis, reverse, inclusive, -math.inf)


def median(a: Any, /, axis: Axes = None, keepdims: bool = False, *, stream: Any = None) -> Tensor:
    """Median over ``axis``; for an even count, the mean of the two middle values. A NaN in
    the values makes the median NaN."""
    a = as_inexact(as_tensor(a))
    axes = normalize_axes(axis, a.ndim)
    k = len(axes)
    values = torch.movedim(a, axes, tuple(range(a.ndim - k, a.ndim))).flatten(a.ndim - k)
    n = values.shape[-1]
    if n == 0:
        raise ValueError("[median] Cannot take median along empty axis.")
    values = torch.sort(values, dim=-1).values
    out = (values[..., (n - 1) // 2] + values[..., n // 2]) / 2
    last = values[..., -1]  # torch sorts NaN last
    out = torch.where(torch.isnan(last), last, out)
    return expand_axes(out, axes) if keepdims else out


def _along(a: Any, axis: int | None) -> tuple[Tensor, int]:
    a = as_tensor(a)
    if axis is None:
        return a.reshape(-1), 0
    if a.ndim == 0:  # torch takes axis -1 of a scalar; MLX does not
        raise IndexError(f"Axis {axis} is out of bounds for array with 0 dimensions.")
    return a, axis


def sort(a: Any, /, axis: int | None = -1, *, stream: Any = None) -> Tensor:
    """``a`` sorted ascending along ``axis`` (flattened if ``None``)."""
    a, axis = _along(a, axis)
    return torch.sort(widen(a), dim=axis, stable=True).values.to(a.dtype)


def argsort(a: Any, /, axis: int | None = -1, *, stream: Any = None) -> Tensor:
    """Indices that sort ``a`` along ``axis`` (stable), as ``int64``."""
    a, axis = _along(a, axis)
    return torch.argsort(widen(a), dim=axis, stable=True)


def topk(a: Any, /, k: int, axis: int | None = -1, *, stream: Any = None) -> Tensor:
    """The ``k`` largest values along ``axis``, in ascending order."""
    a, axis = _along(a, axis)
    return torch.flip(torch.topk(a, k, dim=axis).values, (axis,))


def partition(a: Any, /, kth: int, axis: int | None = -1, *, stream: Any = None) -> Tensor:
    """``a`` rearranged so the ``kth`` element is in sorted place (a full sort satisfies this)."""
    return sort(a, axis)


def argpartition(a: Any, /, kth: int, axis: int | None = -1, *, stream: Any = None) -> Tensor:
    """Indices that partition ``a`` around its ``kth`` element (from a full stable sort)."""
    return argsort(a, axis)


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
