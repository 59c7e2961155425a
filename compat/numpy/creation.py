"""Array creation with MLX's defaults: ``float32`` unless the values say otherwise."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .arrays import _python_int_dtype, as_array, as_shape, to_array
from .dtypes import Dtype, bool_, complex64, float32, float64, int32, int64
from .elementwise import check_int


def _scalar_dtype(value: Any) -> Dtype:
    if value.__class__ is bool:
        return bool_
    if value.__class__ is int:
        return _python_int_dtype(value)  # int64 out of int32's range, as MLX
    if value.__class__ is complex:
        return complex64
    return float32


def zeros(
    shape: int | Sequence[int], dtype: Dtype | None = float32, *, stream: Any = None
) -> np.ndarray:
    """An array of zeros of ``shape`` (``float32`` by default)."""
    return np.zeros(shape, dtype or float32)


def ones(
    shape: int | Sequence[int], dtype: Dtype | None = float32, *, stream: Any = None
) -> np.ndarray:
    """An array of ones of ``shape`` (``float32`` by default)."""
    return np.ones(shape, dtype or float32)


def full(
    shape: int | Sequence[int], vals: Any, dtype: Dtype | None = None, *, stream: Any = None
) -> np.ndarray:
    """An array of ``shape`` filled with ``vals`` (a scalar, or an array broadcast to ``shape``)."""
    if isinstance(vals, (bool, int, float, complex)):
        if vals.__class__ is int and dtype is not None:
            check_int(vals, np.dtype(dtype))  # numpy raises OverflowError
        return np.full(as_shape(shape), vals, dtype or _scalar_dtype(vals))
    return np.broadcast_to(to_array(vals, dtype), as_shape(shape)).copy()


def zeros_like(a: Any, /, dtype: Dtype | None = None, *, stream: Any = None) -> np.ndarray:
    """Zeros with the shape (and by default the dtype) of ``a``."""
    return np.zeros_like(as_array(a), dtype=dtype)


def ones_like(a: Any, /, dtype: Dtype | None = None, *, stream: Any = None) -> np.ndarray:
    """Ones with the shape (and by default the dtype) of ``a``."""
    return np.ones_like(as_array(a), dtype=dtype)


def full_like(a: Any, vals: Any, dtype: Dtype | None = None, *, stream: Any = None) -> np.ndarray:
    """``vals`` broadcast to the shape of ``a``, in ``dtype`` (default: the dtype of ``a``)."""
    a = as_array(a)
    return full(a.shape, vals, dtype or a.dtype)


def eye(
    n: int, m: int | None = None, k: int = 0, dtype: Dtype | None = float32, *, stream: Any = None
) -> np.ndarray:
    """An ``n x m`` matrix with ones on the ``k``-th diagonal and zeros elsewhere."""
    return np.eye(n, m, k, dtype or float32)


def identity(n: int, dtype: Dtype | None = float32, *, stream: Any = None) -> np.ndarray:
    """The ``n x n`` identity matrix."""
    return np.eye(n, dtype=dtype or float32)


def tri(
    n: int, m: int | None = None, k: int = 0, dtype: Dtype | None = None, *, stream: Any = None
) -> np.ndarray:
    """An ``n x m`` matrix with ones on and below the ``k``-th diagonal."""
    return np.tri(n, m, k, dtype or float32)


def tril(x: Any, k: int = 0, *, stream: Any = None) -> np.ndarray:
    """``x`` with the elements above the ``k``-th diagonal set to zero."""
    return np.tril(as_array(x), k)


def triu(x: Any, k: int = 0, *, stream: Any = None) -> np.ndarray:
    """``x`` with the elements below the ``k``-th diagonal set to zero."""
    return np.triu(as_array(x), k)


def diag(a: Any, /, k: int = 0, *, stream: Any = None) -> np.ndarray:
    """The ``k``-th diagonal of a matrix, or a matrix with the vector ``a`` on it."""
    return np.diag(as_array(a), k)


def diagonal(
    a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, stream: Any = None
) -> np.ndarray:
    """The ``offset`` diagonal of the ``(axis1, axis2)`` planes, as a new last axis."""
    return np.diagonal(as_array(a), offset, axis1, axis2)


def arange(
    start: int | float,
    stop: int | float | None = None,
    step: int | float | None = None,
    dtype: Dtype | None = None,
    *,
    stream: Any = None,
) -> np.ndarray:
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
        return np.arange(start, stop, step, dtype)
    except ZeroDivisionError as error:
        raise ValueError("[arange] step must be nonzero.") from error


def linspace(
    start: float,
    stop: float,
    num: int = 50,
    endpoint: bool = True,
    dtype: Dtype | None = float32,
    stream: Any = None,
) -> np.ndarray:
    """``num`` evenly spaced values from ``start`` to ``stop`` (included if ``endpoint``)."""
    dtype = dtype or float32
    work = float64 if dtype == float64 else float32
    # computed in floating point, then converted: integer dtypes truncate, as in MLX
    return np.linspace(start, stop, num, endpoint, dtype=work).astype(dtype, copy=False)


def meshgrid(
    *arrays: Any, sparse: bool = False, indexing: str = "xy", stream: Any = None
) -> list[np.ndarray]:
    """Coordinate grids from 1-D arrays (``indexing="xy"`` swaps the first two axes)."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    arrays = [as_array(a).reshape(-1) for a in arrays]
    return list(np.meshgrid(*arrays, sparse=sparse, indexing=indexing))


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
