"""Array creation with MLX's defaults: ``float32`` unless the values say otherwise."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from .arrays import _python_int_dtype, as_shape, as_tensor, to_array
from .dtypes import Dtype, complex64, float32, float64, int32, int64
from .elementwise import _check_int


def _scalar_dtype(value: Any) -> Dtype:
    if value.__class__ is bool:
        return torch.bool
    if value.__class__ is int:
        return _python_int_dtype(value)  # int64 out of int32's range, as MLX
    if value.__class__ is complex:
        return complex64
    return float32


def zeros(
    shape: int | Sequence[int], dtype: Dtype | None = float32, *, stream: Any = None
) -> Tensor:
    """An array of zeros of ``shape`` (``float32`` by default)."""
    return torch.zeros(shape, dtype=dtype or float32)


def ones(
    shape: int | Sequence[int], dtype: Dtype | None = float32, *, stream: Any = None
) -> Tensor:
    """An array of ones of ``shape`` (``float32`` by default)."""
    return torch.ones(shape, dtype=dtype or float32)


def full(
    shape: int | Sequence[int], vals: Any, dtype: Dtype | None = None, *, stream: Any = None
) -> Tensor:
    """An array of ``shape`` filled with ``vals`` (a scalar, or an array broadcast to ``shape``)."""
    if isinstance(vals, (bool, int, float, complex)):
        if vals.__class__ is int and dtype is not None:
            _check_int(vals, dtype)  # torch would wrap it
        return torch.full(as_shape(shape), vals, dtype=dtype or _scalar_dtype(vals))
    return torch.broadcast_to(to_array(vals, dtype), as_shape(shape)).contiguous()


def zeros_like(a: Any, /, dtype: Dtype | None = None, *, stream: Any = None) -> Tensor:
    """Zeros with the shape (and by default the dtype) of ``a``."""
    return torch.zeros_like(as_tensor(a), dtype=dtype)


def ones_like(a: Any, /, dtype: Dtype | None = None, *, stream: Any = None) -> Tensor:
    """Ones with the shape (and by default the dtype) of ``a``."""
    return torch.ones_like(as_tensor(a), dtype=dtype)


def full_like(a: Any, vals: Any, dtype: Dtype | None = None, *, stream: Any = None) -> Tensor:
    """``vals`` broadcast to the shape of ``a``, in ``dtype`` (default: the dtype of ``a``)."""
    a = as_tensor(a)
    return full(a.shape, vals, dtype or a.dtype)


def _offsets(n: int, m: int | None) -> Tensor:
    """``j - i`` for every position ``(i, j)`` of an ``n x m`` matrix."""
    m = n if m is None else m
    return torch.arange(m)[None, :] - torch.arange(n)[:, None]


def eye(
    n: int, m: int | None = None, k: int = 0, dtype: Dtype | None = float32, *, stream: Any = None
) -> Tensor:
    """An ``n x m`` matrix with ones on the ``k``-th diagonal and zeros elsewhere."""
    return (_offsets(n, m) == k).to(dtype or float32)


def identity(n: int, dtype: Dtype | None = float32, *, stream: Any = None) -> Tensor:
    """The ``n x n`` identity matrix."""
    return eye(n, dtype=dtype)


def tri(
    n: int, m: int | None = None, k: int = 0, dtype: Dtype | None = None, *, stream: Any = None
) -> Tensor:
    """An ``n x m`` matrix with ones on and below the ``k``-th diagonal."""
    return (_offsets(n, m) <= k).to(dtype or float32)


def tril(x: Any, k: int = 0, *, stream: Any = None) -> Tensor:
    """``x`` with the elements above the ``k``-th diagonal set to zero."""
    return torch.tril(as_tensor(x), k)


def triu(x: Any, k: int = 0, *, stream: Any = None) -> Tensor:
    """``x`` with the elements below the ``k``-th diagonal set to zero."""
    return torch.triu(as_tensor(x), k)


def diag(a: Any, /, k: int = 0, *, stream: Any = None) -> Tensor:
    """The ``k``-th diagonal of a matrix, or a matrix with the vector ``a`` on it."""
    return torch.diag(as_tensor(a), k)


def diagonal(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, stream: Any = None) -> Tensor:
    """The ``offset`` diagonal of the ``(axis1, axis2)`` planes, as a new last axis."""
    return torch.diagonal(as_tensor(a), offset, axis1, axis2)


def arange(
    start: int | float,
    stop: int | float | None = None,
    step: int | float | None = None,
    dtype: Dtype | None = None,
    *,
    stream: Any = None,
) -> Tensor:
    """Values from ``start`` to ``stop`` (excluded) by ``step``; ``arange(stop)`` starts at 0.

    The dtype is ``float32`` if any argument is a float, else ``int32`` (``int64`` if one of
    them is out of ``int32``'s range).
    """
    if stop is None:
        start, stop = 0, start
    if step is None:
        step = 1
    if dtype is None:
        if float in (start.__class__, stop.__class__, step.__class__):
            dtype = float32
        else:
            dtype = int64 if int64 in map(_python_int_dtype, (start, stop, step)) else int32
    try:
        return torch.arange(start, stop, step, dtype=dtype)
    except NotImplementedError:  # no arange kernel for uint16/uint32/uint64 on the CPU
        return torch.arange(start, stop, step, dtype=int64).to(dtype)
    except RuntimeError as error:  # torch refuses an empty range; MLX returns []
        if not step:
            raise ValueError("[arange] step must be nonzero.") from error
        if math.isfinite(start) and math.isfinite(stop) and (stop - start) * step <= 0:
            return torch.empty(0, dtype=dtype)
        raise


def linspace(
    start: float,
    stop: float,
    num: int = 50,
    endpoint: bool = True,
    dtype: Dtype | None = float32,
    stream: Any = None,
) -> Tensor:
    """``num`` evenly spaced values from ``start`` to ``stop`` (included if ``endpoint``)."""
    dtype = dtype or float32
    work = float64 if dtype is float64 else float32
    if endpoint:
        return torch.linspace(start, stop, num, dtype=work).to(dtype)
    return torch.linspace(start, stop, num + 1, dtype=work)[:num].to(dtype)


def meshgrid(
    *arrays: Any, sparse: bool = False, indexing: str = "xy", stream: Any = None
) -> list[Tensor]:
    """Coordinate grids from 1-D arrays (``indexing="xy"`` swaps the first two axes)."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    arrays = [as_tensor(a).reshape(-1) for a in arrays]
    if not sparse:
        return list(torch.meshgrid(*arrays, indexing=indexing))
    n = len(arrays)
    grids = []
    for i, a in enumerate(arrays):
        axis = (1 - i if i < 2 else i) if indexing == "xy" and n > 1 else i
        shape = [1] * n
        shape[axis] = -1
        grids.append(a.reshape(shape))
    return grids


__all__ = [
    "zeros",
    "ones",
    "full",
    "zeros_like",
    "ones_like",
    "full_like",
    "eye",
    "identity",
    "tri",
    "tril",
    "triu",
    "diag",
    "diagonal",
    "arange",
    "linspace",
    "meshgrid",
]
