"""The ``array`` type of the numpy mirror: a plain ``numpy.ndarray`` built with MLX's rules.

There is no wrapper class. ``array`` is a stand-in type whose ``isinstance`` test accepts any
ndarray (and numpy's scalars, which numpy's operators return for 0-d results) and whose call
builds one, so ``mx.array([1.5])`` and ``isinstance(x, mx.array)`` read as in MLX.

MLX's construction rules differ from numpy's; the ones kept here:

* Python ``float`` → ``float32``, ``int`` → ``int32`` (``int64`` when out of range),
  ``bool`` → ``bool_``, ``complex`` → ``complex64``; lists of them follow the same rules;
* an ndarray (or numpy scalar) keeps its dtype unless ``dtype`` is given, as an MLX array does
  in ``mx.array(existing_array)``. Here every ndarray is a mirror array, so this also covers
  numpy data from outside, which MLX (and the torch mirror) narrows from ``float64`` to
  ``float32``: give ``dtype=float32`` for that;
* :class:`array` returns a new value, never the caller's ndarray: later in-place edits of the
  input do not reach it. The ops take their arguments with :func:`as_array` /
  :func:`to_array`, which pass ndarrays through: mirror code never updates an array in place,
  so sharing memory is safe there;
* strings are refused (``ValueError``), as MLX does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .dtypes import Dtype, bool_, complex64, float32, float64, int32, int64

Axes = int | Sequence[int] | None
"""An ``axis`` argument: one axis, several, or ``None`` for all."""

_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1

# What MLX makes of Python floats and complex numbers in a list.
_NARROWED = {float64: float32, np.dtype(np.complex128): complex64}

# numpy's 0-d results: ndarray operators hand these back for 0-d arrays.
SCALARS = (np.number, np.bool_)


def _python_int_dtype(value: int) -> Dtype:
    return int32 if _INT32_MIN <= value <= _INT32_MAX else int64


def _holds_arrays(data: list | tuple) -> bool:
    while isinstance(data, (list, tuple)) and data:
        data = data[0]
    return isinstance(data, (np.ndarray, *SCALARS))


def to_array(data: Any, dtype: Dtype | None = None) -> np.ndarray:
    """An ndarray from Python data with MLX's default dtypes; ndarrays pass through (cast when
    ``dtype`` differs)."""
    if isinstance(data, np.ndarray):
        return data if dtype is None or data.dtype == dtype else data.astype(dtype)
    kind = data.__class__
    if kind is float:
        return np.array(data, dtype or float32)
    if kind is int:
        return np.array(data, dtype or _python_int_dtype(data))
    if kind is bool:
        return np.array(data, dtype or bool_)
    if kind is complex:
        return np.array(data, dtype or complex64)
    host = np.asarray(data)
    if host.dtype == object:
        raise TypeError(f"array: cannot build an array from {type(data).__name__} {data!r}")
    if host.dtype.kind in "SU":
        raise ValueError(f"array: cannot build an array from strings: {data!r}")
    # Python numbers in a list follow the scalar rules; a list of arrays keeps their dtype.
    if dtype is None and isinstance(data, (list, tuple)) and not _holds_arrays(data):
        dtype = _NARROWED.get(host.dtype)
        if host.dtype == int64:
            fits = host.size == 0 or (host.min() >= _INT32_MIN and host.max() <= _INT32_MAX)
            dtype = int32 if fits else int64
    return host if dtype is None or host.dtype == dtype else host.astype(dtype)


class _ArrayType(type):
    """Makes ``array`` both the ndarray type for ``isinstance`` and the MLX constructor."""

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, (np.ndarray, *SCALARS))

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, (np.ndarray, *SCALARS))

    def __call__(cls, val: Any, dtype: Dtype | None = None) -> np.ndarray:
        out = to_array(np.asarray(val) if isinstance(val, SCALARS) else val, dtype)
        return out.copy() if out is val else out


class array(metaclass=_ArrayType):  # noqa: N801 - the MLX name
    """An MLX array: ``array(val, dtype=None)`` returns a ``numpy.ndarray``.

    ``isinstance(x, array)`` is true for every ``numpy.ndarray`` and numpy scalar.

    Args:
        val (scalar, list, numpy.ndarray): The data.
        dtype (Dtype, optional): The element type. Default: an ndarray's own dtype, else
          inferred as MLX does (``float32`` for Python floats, ``int32`` for Python ints).
    """


def asarray(a: Any, dtype: Dtype | None = None, *, copy: bool | None = None) -> np.ndarray:
    """Convert ``a`` to an array, as :class:`array` does; it shares an ndarray's memory unless
    ``copy=True``."""
    return array(a, dtype) if copy else to_array(a, dtype)


def as_array(x: Any) -> np.ndarray:
    """``x`` itself if it is an ndarray, else :func:`to_array` of it (the ops' argument rule)."""
    return x if x.__class__ is np.ndarray else to_array(x)


def as_inexact(a: np.ndarray) -> np.ndarray:
    """``a`` in ``float32`` if it holds integers or booleans (for float-only ops), else ``a``."""
    return a.astype(float32) if a.dtype.kind in "biu" else a


def as_axes(axis: Axes) -> int | tuple[int, ...] | None:
    """``axis`` in the form numpy takes (a tuple where MLX accepts any sequence)."""
    return axis if axis is None or isinstance(axis, int) else tuple(axis)


def as_shape(shape: int | Sequence[int]) -> tuple[int, ...]:
    """A shape given as an int or a sequence, as a tuple."""
    return (shape,) if isinstance(shape, int) else tuple(shape)
