"""The ``array`` type of the torch mirror: a plain ``torch.Tensor`` built with MLX's rules.

There is no wrapper class. ``array`` is a stand-in type whose ``isinstance`` test accepts any
tensor and whose call builds one, so ``mx.array([1.5])`` and ``isinstance(x, mx.array)`` read as
in MLX while every array the mirror hands out is a native tensor on torch's default device.

MLX's construction rules differ from torch's; the ones kept here:

* Python ``float`` → ``float32``, ``int`` → ``int32`` (``int64`` when out of range),
  ``bool`` → ``bool_``, ``complex`` → ``complex64``;
* numpy ``float64``/``complex128`` arrays narrow to ``float32``/``complex64``; other numpy dtypes
  (``int64`` included) are kept;
* a tensor keeps its dtype (unless ``dtype`` is given), as an MLX array does;
* :class:`array` returns a new value: it copies a tensor and, outside the mirror's
  transformations, detaches it, so a ``torch.nn.Parameter`` brings neither its autograd graph
  nor its storage along (in-place edits on the torch side do not leak in). Inside ``grad``,
  ``vjp`` and ``jvp`` it keeps the graph: MLX differentiates through ``mx.array``.

The ops take their arguments with :func:`as_tensor` / :func:`to_array`, which pass tensors
through as they are: mirror code never updates an array in place, so sharing storage is safe
there, and it costs nothing on the hot paths.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .dtypes import WIDE_UNSIGNED, Dtype, complex64, float32, int32, int64

Axes = int | Sequence[int] | None
"""An ``axis`` argument: one axis, several, or ``None`` for all."""

_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1

transforms = [0]
"""How many mirror transformations (``grad``, ``vjp``, ``jvp``) are running: inside one,
:class:`array` keeps its input's autograd graph."""

# numpy dtypes MLX narrows when it converts an array.
_NARROWED = {np.dtype(np.float64): float32, np.dtype(np.complex128): complex64}


def _python_int_dtype(value: int) -> Dtype:
    return int32 if _INT32_MIN <= value <= _INT32_MAX else int64


def to_array(data: Any, dtype: Dtype | None = None) -> Tensor:
    """Build a tensor from ``data`` with MLX's default dtypes (see the module docstring)."""
    if isinstance(data, Tensor):
        return data if dtype is None or data.dtype == dtype else data.to(dtype)
    kind = data.__class__
    if kind is float:
        return torch.tensor(data, dtype=dtype or float32)
    if kind is int:
        return torch.tensor(data, dtype=dtype or _python_int_dtype(data))
    if kind is bool:
        return torch.tensor(data, dtype=dtype or torch.bool)
    if kind is complex:
        return torch.tensor(data, dtype=dtype or complex64)
    if isinstance(data, (list, tuple)) and any(isinstance(item, Tensor) for item in data):
        return to_array(torch.stack([to_array(item) for item in data]), dtype)
    from_python = isinstance(data, (list, tuple))
    host = np.asarray(data)
    if dtype is None:
        dtype = _NARROWED.get(host.dtype)
        if dtype is None and from_python and host.dtype == np.int64:
            fits = host.size == 0 or (host.min() >= _INT32_MIN and host.max() <= _INT32_MAX)
            dtype = int32 if fits else int64
    if host.dtype == object:
        raise TypeError(f"array: cannot build an array from {type(data).__name__} {data!r}")
    if host.dtype.kind in "SU":
        raise ValueError(f"array: cannot build an array from strings: {data!r}")
    return torch.tensor(host, dtype=dtype)


class _ArrayType(type):
    """Makes ``array`` both the tensor type for ``isinstance`` and the MLX constructor."""

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, Tensor)

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, Tensor)

    def __call__(cls, val: Any, dtype: Dtype | None = None) -> Tensor:
        out = to_array(val, dtype)
        aliased = out is val
        if out.requires_grad and not transforms[0]:
            out = out.detach()
        return out.clone() if aliased else out


class array(metaclass=_ArrayType):  # noqa: N801 - the MLX name
    """An MLX array: ``array(val, dtype=None)`` returns a ``torch.Tensor``.

    ``isinstance(x, array)`` is true for every ``torch.Tensor``.

    Args:
        val (scalar, list, numpy.ndarray or Tensor): The data.
        dtype (Dtype, optional): The element type. Default: inferred as MLX does
          (``float32`` for Python floats, ``int32`` for Python ints).
    """


def asarray(a: Any, dtype: Dtype | None = None, *, copy: bool | None = None) -> Tensor:
    """Convert ``a`` to an array, as :class:`array` does; it shares a tensor's storage unless
    ``copy=True``."""
    if copy:
        return array(a, dtype)
    out = to_array(a, dtype)
    return out.detach() if out.requires_grad and not transforms[0] else out


def as_tensor(x: Any) -> Tensor:
    """``x`` itself if it is a tensor, else :func:`to_array` of it (the ops' argument rule)."""
    return x if x.__class__ is Tensor else to_array(x)


def as_inexact(a: Tensor) -> Tensor:
    """``a`` in ``float32`` if it holds integers or booleans (for float-only ops), else ``a``."""
    return a if a.is_floating_point() or a.is_complex() else a.to(float32)


def widen(x: Tensor) -> Tensor:
    """``x`` in ``int64`` if its dtype is a wide unsigned one torch has few kernels for."""
    return x.to(int64) if x.dtype in WIDE_UNSIGNED else x


def as_shape(shape: int | Sequence[int]) -> tuple[int, ...]:
    """A shape given as an int or a sequence, as a tuple."""
    return (shape,) if isinstance(shape, int) else tuple(shape)
