"""Creating arrays: from data, filled with a constant, ranges and grids.

Defaults follow MLX on every backend: floats are float32 (also for float64 numpy input), Python
ints are int32, so ``arange(5)`` is int32 whether the backend is mlx, numpy or torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ember_mlx.backend import mx

from .conversion import to_device, to_numpy
from .dtypes import get_dtype

_PYTHON_DATA = (bool, int, float, complex, list, tuple)


def _place(x: mx.array, device: str | None) -> mx.array:
    return x if device is None else to_device(x, device)


def array(data: Any, dtype: Any = None, device: str | None = None) -> mx.array:
    """An array of the active backend holding ``data``.

    Args:
        data: A Python scalar or (nested) list, or an array of any backend; arrays of another
            backend (e.g. a numpy array under torch) are copied through the host.
        dtype: Dtype or dtype name; ``None`` keeps the dtype of an array and infers one for
            Python data (float32 for floats, int32 for ints, as MLX). float64 numpy data
            becomes float32, as in MLX, on every backend: also on the numpy backend, whose own
            arrays are numpy arrays (pass ``dtype`` to keep float64 there).
        device: ``"cpu"`` or ``"gpu"``; ``None`` leaves the array where the backend puts it.

    Returns:
        An ``mx.array`` (``numpy.ndarray`` / ``torch.Tensor`` on the mirrors).
    """
    dtype = get_dtype(dtype)
    # On the numpy mirror mx.array is np.ndarray: float64 numpy data still becomes float32, as MLX.
    if isinstance(data, mx.array) and not (
        isinstance(data, np.ndarray) and data.dtype == np.float64
    ):
        x = data if dtype is None else mx.astype(data, dtype)
    else:
        if not isinstance(data, _PYTHON_DATA):
            data = to_numpy(data)
            if dtype is None and data.dtype == np.float64:
                dtype = mx.float32  # as MLX, whatever the backend's own mx.array does
        x = mx.array(data, dtype=dtype)
    return _place(x, device)


convert_to_tensor = array
tensor = array


def zeros(shape: int | Sequence[int], dtype: Any = None, device: str | None = None) -> mx.array:
    """An array of zeros (float32 unless ``dtype`` says otherwise)."""
    dtype = get_dtype(dtype)
    return _place(mx.zeros(shape, dtype=mx.float32 if dtype is None else dtype), device)


def ones(shape: int | Sequence[int], dtype: Any = None, device: str | None = None) -> mx.array:
    """An array of ones (float32 unless ``dtype`` says otherwise)."""
    dtype = get_dtype(dtype)
    return _place(mx.ones(shape, dtype=mx.float32 if dtype is None else dtype), device)


def full(
    shape: int | Sequence[int], fill_value: Any, dtype: Any = None, device: str | None = None
) -> mx.array:
    """An array filled with ``fill_value``; the dtype is inferred from it unless given.

    With ``dtype`` the value is converted as ``astype`` does (``2.7`` fills an int32 array
    with 2).
    """
    dtype = get_dtype(dtype)
    x = mx.full(shape, fill_value)
    return _place(x if dtype is None else mx.astype(x, dtype), device)


def zeros_like(x: mx.array, dtype: Any = None, device: str | None = None) -> mx.array:
    """Zeros with the shape of ``x`` and its dtype (or ``dtype``)."""
    dtype = get_dtype(dtype)
    return _place(mx.zeros(x.shape, dtype=x.dtype if dtype is None else dtype), device)


def ones_like(x: mx.array, dtype: Any = None, device: str | None = None) -> mx.array:
    """Ones with the shape of ``x`` and its dtype (or ``dtype``)."""
    dtype = get_dtype(dtype)
    return _place(mx.ones(x.shape, dtype=x.dtype if dtype is None else dtype), device)


def full_like(
    x: mx.array, fill_value: Any, dtype: Any = None, device: str | None = None
) -> mx.array:
    """``fill_value`` with the shape of ``x`` and its dtype (or ``dtype``), converted as
    ``astype`` does."""
    return full(x.shape, fill_value, x.dtype if dtype is None else dtype, device)


def eye(
    n: int, m: int | None = None, k: int = 0, dtype: Any = None, device: str | None = None
) -> mx.array:
    """An ``n x m`` matrix with ones on the ``k``-th diagonal (``m`` defaults to ``n``)."""
    dtype = get_dtype(dtype)
    return _place(mx.eye(n, m, k, dtype=mx.float32 if dtype is None else dtype), device)


def arange(
    start: int | float,
    stop: int | float | None = None,
    step: int | float | None = None,
    dtype: Any = None,
    device: str | None = None,
) -> mx.array:
    """Evenly spaced values in ``[start, stop)``; ``arange(n)`` counts from 0 to ``n - 1``.

    Integer arguments give int32 and any float argument gives float32, on every backend.
    """
    bounds = (start,) if stop is None else (start, stop)
    if step is not None:
        bounds = (0, start, step) if stop is None else (start, stop, step)
    return _place(mx.arange(*bounds, dtype=get_dtype(dtype)), device)


def linspace(
    start: float, stop: float, num: int = 50, dtype: Any = None, device: str | None = None
) -> mx.array:
    """``num`` evenly spaced values from ``start`` to ``stop`` inclusive (float32 by default)."""
    dtype = get_dtype(dtype)
    return _place(
        mx.linspace(start, stop, num, dtype=mx.float32 if dtype is None else dtype), device
    )
