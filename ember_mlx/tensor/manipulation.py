"""Reshaping, joining, indexing and updating arrays.

Arrays are never changed in place: every "update" (``scatter``, ``slice_update``,
``tensor_scatter_nd_update``) returns a new array, as in MLX.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ember_mlx.backend import mx

from .dtypes import get_dtype

reshape = mx.reshape
concatenate = mx.concatenate
stack = mx.stack
expand_dims = mx.expand_dims
tile = mx.tile
maximum = mx.maximum
matmul = mx.matmul  # the seeds' nn examples call tensor.matmul


def transpose(x: mx.array, axes: Sequence[int] | None = None) -> mx.array:
    """Permute the axes of ``x``; without ``axes`` reverse them (numpy/MLX convention)."""
    return mx.transpose(x) if axes is None else mx.transpose(x, axes)


def squeeze(x: mx.array, axis: int | Sequence[int] | None = None) -> mx.array:
    """Remove axes of length one (all of them, or those in ``axis``)."""
    return mx.squeeze(x) if axis is None else mx.squeeze(x, axis)


def split(x: mx.array, num_or_size_splits: int | Sequence[int], axis: int = 0) -> list[mx.array]:
    """Split ``x`` along ``axis`` into equal parts (an int) or at the given indices (a list).

    As ``numpy.split``/``mx.split``: ``split(x, [2, 5])`` gives ``x[:2]``, ``x[2:5]``, ``x[5:]``.
    """
    return list(mx.split(x, num_or_size_splits, axis=axis))


def cast(x: mx.array, dtype: Any) -> mx.array:
    """``x`` converted to ``dtype`` (a dtype or a name such as ``"float32"``)."""
    return mx.astype(x, get_dtype(dtype))


def copy(x: mx.array) -> mx.array:
    """A new array equal to ``x``, sharing no memory with it."""
    return mx.asarray(x, copy=True)


def pad(
    x: mx.array,
    paddings: int | Sequence[int] | Sequence[Sequence[int]],
    mode: str = "constant",
    constant_values: Any = 0,
) -> mx.array:
    """Pad ``x``: ``paddings`` holds ``(before, after)`` per axis; ``mode`` "constant" or "edge"."""
    if isinstance(paddings, Sequence) and paddings and isinstance(paddings[0], Sequence):
        paddings = [tuple(p) for p in paddings]
    return mx.pad(x, paddings, mode=mode, constant_values=constant_values)


def _check_indices(name: str, indices: mx.array, bounds: Sequence[int]) -> None:
    """Raise IndexError when an index falls outside ``[0, bound)`` (one host sync)."""
    limits = mx.array(list(bounds), dtype=indices.dtype)
    if mx.any(mx.logical_or(indices < 0, indices >= limits)).item():
        raise IndexError(f"{name}: indices must lie in [0, {tuple(bounds)}) per axis")


def gather(x: mx.array, indices: Any, axis: int = 0) -> mx.array:
    """The slices of ``x`` at ``indices`` along ``axis`` (negative indices count from the end).

    Raises:
        IndexError: an index is outside ``[-n, n)`` for ``n = x.shape[axis]``.
    """
    indices = mx.array(indices)
    n = x.shape[axis]
    _check_indices("gather", mx.where(indices < 0, indices + n, indices), [n])
    return mx.take(x, indices, axis=axis)


def _flat_rows(indices: mx.array, shape: Sequence[int], name: str) -> tuple[mx.array, int]:
    """Row-major positions of ``indices`` (``(N,)`` or ``(N, k)``) among the first k axes."""
    index = mx.reshape(indices, (-1, 1)) if indices.ndim == 1 else indices
    depth = index.shape[-1]
    if indices.ndim > 2 or depth > len(shape):
        raise ValueError(
            f"{name}: indices must have shape (N,) or (N, k) with k <= {len(shape)}, "
            f"got {tuple(indices.shape)}"
        )
    _check_indices(name, index, shape[:depth])
    strides = [math.prod(shape[i + 1 : depth]) for i in range(depth)]
    rows = mx.sum(index * mx.array(strides, dtype=index.dtype), axis=-1)
    return rows, depth


def scatter(
    indices: Any, updates: mx.array, shape: int | Sequence[int], aggr: str = "add"
) -> mx.array:
    """A new array of ``shape`` with ``updates`` combined at ``indices``; other entries are 0.

    ``indices`` is ``(N,)`` (positions along the first axis) or ``(N, k)`` (positions among
    the first ``k`` axes); ``updates`` is ``(N, *shape[k:])``. Repeated indices combine by
    ``aggr``: ``"add"``, ``"mean"``, ``"max"`` or ``"min"``.

    Every update is compared with every target row, so memory is ``O(N * prod(shape))``: meant
    for the small scatters of feature code, not for large sparse updates.
    """
    if aggr not in ("add", "mean", "max", "min"):
        raise ValueError(f"scatter: aggr must be 'add', 'mean', 'max' or 'min', got {aggr!r}")
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    updates = mx.array(updates)
    rows, depth = _flat_rows(mx.array(indices), shape, "scatter")
    n_rows, tail = math.prod(shape[:depth]), shape[depth:]
    values = mx.reshape(updates, (rows.shape[0], 1, math.prod(tail)))
    hit = mx.expand_dims(mx.expand_dims(rows, 1) == mx.arange(n_rows), -1)
    if aggr in ("add", "mean"):
        out = mx.sum(mx.where(hit, values, 0), axis=0)
        if aggr == "mean":
            count = mx.sum(hit, axis=0)
            out = mx.where(count > 0, out / mx.maximum(count, 1), 0)
    else:
        reduce = mx.max if aggr == "max" else mx.min
        stacked = mx.where(hit, values, mx.min(values) if aggr == "max" else mx.max(values))
        out = mx.where(mx.any(hit, axis=0), reduce(stacked, axis=0), 0)
    if aggr != "mean":
        out = mx.astype(out, updates.dtype)
    return mx.reshape(out, shape)


def tensor_scatter_nd_update(x: mx.array, indices: Any, updates: mx.array) -> mx.array:
    """``x`` with the entries (or slices) at ``indices`` replaced by ``updates``.

    As TensorFlow's op: ``indices`` is ``(N, k)`` and addresses the first ``k`` axes, ``updates``
    is ``(N, *x.shape[k:])``. With repeated indices, which update wins is unspecified.
    """
    shape = tuple(x.shape)
    rows, depth = _flat_rows(mx.array(indices), shape, "tensor_scatter_nd_update")
    width = math.prod(shape[depth:])
    table = mx.reshape(x, (math.prod(shape[:depth]), width))
    values = mx.reshape(mx.astype(mx.array(updates), x.dtype), (rows.shape[0], width))
    targets = mx.broadcast_to(mx.expand_dims(rows, 1), values.shape)
    return mx.reshape(mx.put_along_axis(table, targets, values, axis=0), shape)


def slice_tensor(x: mx.array, starts: int | Sequence[int], sizes: int | Sequence[int]) -> mx.array:
    """The block of ``x`` that begins at ``starts`` and spans ``sizes`` on the leading axes.

    A size of ``-1`` takes everything to the end of that axis.
    """
    starts = [starts] if isinstance(starts, int) else list(starts)
    sizes = [sizes] if isinstance(sizes, int) else list(sizes)
    if len(starts) != len(sizes) or len(starts) > x.ndim:
        raise ValueError(
            f"slice_tensor: starts and sizes must have the same length <= {x.ndim}, "
            f"got {starts} and {sizes}"
        )
    index = tuple(
        slice(start, None if size == -1 else start + size)
        for start, size in zip(starts, sizes, strict=True)
    )
    return x[index]


def slice_update(x: mx.array, starts: int | Sequence[int], updates: mx.array) -> mx.array:
    """``x`` with the block at ``starts`` (leading axes) replaced by ``updates``."""
    starts = [starts] if isinstance(starts, int) else list(starts)
    if len(starts) > x.ndim:
        raise ValueError(f"slice_update: starts has {len(starts)} entries for a {x.ndim}-D array")
    updates = mx.astype(mx.array(updates), x.dtype)
    if updates.ndim < x.ndim:
        updates = mx.reshape(updates, (1,) * (x.ndim - updates.ndim) + tuple(updates.shape))
    return mx.slice_update(x, updates, mx.array(starts), tuple(range(len(starts))))
