"""Reshaping, joining, indexing and updating arrays.

Arrays are never changed in place: every "update" (``scatter``, ``slice_update``,
``tensor_scatter_nd_update``) returns a new array, as in MLX.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

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


def _check_indices(
    name: str, indices: mx.array, bounds: Sequence[int], negative: bool = False
) -> None:
    """Raise IndexError when an index falls outside ``[0, bound)`` of its axis (one host sync);
    with ``negative``, the caller has counted negative indices from the end, and the message
    gives the range ``[-bound, bound)`` the caller accepts."""
    limits = mx.array(list(bounds), dtype=indices.dtype)
    if mx.any(mx.logical_or(indices < 0, indices >= limits)).item():
        ranges = ", ".join(f"[{-n if negative else 0}, {n})" for n in bounds)
        raise IndexError(f"{name}: indices must lie in {ranges} (per axis), got one outside")


def gather(x: mx.array, indices: Any, axis: int = 0) -> mx.array:
    """The slices of ``x`` at ``indices`` along ``axis`` (negative indices count from the end).

    Raises:
        IndexError: an index is outside ``[-n, n)`` for ``n = x.shape[axis]``.
    """
    indices = mx.array(indices)
    n = x.shape[axis]
    _check_indices("gather", mx.where(indices < 0, indices + n, indices), [n], negative=True)
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
    ``aggr``: ``"add"``, ``"mean"``, ``"max"`` or ``"min"``. The result has the dtype of
    ``updates``, except that ``"mean"`` of integers is float32.

    Every update is compared with every target row, so memory is ``O(N * prod(shape))``: meant
    for the small scatters of feature code, not for large sparse updates.
    """
    if aggr not in ("add", "mean", "max", "min"):
        raise ValueError(f"scatter: aggr must be 'add', 'mean', 'max' or 'min', got {aggr!r}")
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    updates = mx.array(updates)
    rows, depth = _flat_rows(mx.array(indices), shape, "scatter")
    n_rows, tail = math.prod(shape[:depth]), shape[depth:]
    if aggr == "mean" and not mx.issubdtype(updates.dtype, mx.floating):
        updates = mx.astype(updates, mx.float32)
    values = mx.reshape(updates, (rows.shape[0], 1, math.prod(tail)))
    hit = mx.expand_dims(mx.expand_dims(rows, 1) == mx.arange(n_rows), -1)
    if aggr in ("add", "mean"):
        out = mx.sum(mx.where(hit, values, 0), axis=0)
        if aggr == "mean":
            count = mx.astype(mx.sum(hit, axis=0), updates.dtype)
            out = mx.where(count > 0, out / mx.maximum(count, 1), 0)
    else:
        reduce = mx.max if aggr == "max" else mx.min
        stacked = mx.where(hit, values, mx.min(values) if aggr == "max" else mx.max(values))
        out = mx.where(mx.any(hit, axis=0), reduce(stacked, axis=0), 0)
    return mx.reshape(mx.astype(out, updates.dtype), shape)


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


def _leading(name: str, arg: str, values: int | Sequence[int], ndim: int) -> list[int]:
    """``values`` as a list of at most ``ndim`` ints (one int is a list of one)."""
    values = [values] if isinstance(values, (int, np.integer)) else list(values)
    if len(values) > ndim or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values
    ):
        raise ValueError(
            f"{name}: {arg} must be at most {ndim} ints (one per leading axis), got {values}"
        )
    return [int(v) for v in values]


def _block_starts(name: str, starts: int | Sequence[int], shape: Sequence[int]) -> list[int]:
    """``starts`` with negative entries counted from the end, each checked to lie in the axis."""
    starts = _leading(name, "starts", starts, len(shape))
    resolved = [start + n if start < 0 else start for start, n in zip(starts, shape, strict=False)]
    for start, n, given in zip(resolved, shape, starts, strict=False):
        if not 0 <= start <= n:
            raise ValueError(
                f"{name}: starts must lie in [-n, n] for an axis of length n; got {given} for "
                f"an axis of length {n} (starts={starts}, shape={tuple(shape)})"
            )
    return resolved


def slice_tensor(x: mx.array, starts: int | Sequence[int], sizes: int | Sequence[int]) -> mx.array:
    """The block ``x[s_0 : s_0 + n_0, s_1 : s_1 + n_1, ...]`` on the leading axes.

    As ``tf.slice``, with negative starts counting from the end as in Python indexing: a start
    ``s`` must lie in ``[-n, n]`` for an axis of length ``n``, and a size in ``[0, n - s]``; a
    size of ``-1`` takes everything to the end of that axis.

    Raises:
        ValueError: ``starts`` and ``sizes`` differ in length, or a start or size lies outside
            the array.
    """
    starts = _block_starts("slice_tensor", starts, x.shape)
    sizes = _leading("slice_tensor", "sizes", sizes, x.ndim)
    if len(starts) != len(sizes):
        raise ValueError(
            f"slice_tensor: starts and sizes must have the same length <= {x.ndim}, "
            f"got {starts} and {sizes}"
        )
    for start, size, n in zip(starts, sizes, x.shape, strict=False):
        if size != -1 and not 0 <= size <= n - start:
            raise ValueError(
                f"slice_tensor: sizes must be -1 (to the end) or in [0, n - start]; got {size} "
                f"for start {start} on an axis of length {n} (sizes={sizes})"
            )
    index = tuple(
        slice(start, None if size == -1 else start + size)
        for start, size in zip(starts, sizes, strict=True)
    )
    return x[index]


def slice_update(x: mx.array, starts: int | Sequence[int], updates: mx.array) -> mx.array:
    """``x`` with the block at ``starts`` replaced by ``updates``.

    ``starts`` gives the block's first index on the leading axes (negative entries count from
    the end); on the other axes it starts at 0. ``updates`` (with leading axes of length one
    added up to ``x.ndim``) gives the block's size, which must fit inside ``x``.

    Raises:
        ValueError: a start lies outside ``x``, or the block runs past its end.
    """
    starts = _block_starts("slice_update", starts, x.shape)
    updates = mx.astype(mx.array(updates), x.dtype)
    if updates.ndim > x.ndim:
        raise ValueError(
            f"slice_update: updates has {updates.ndim} axes for a {x.ndim}-D array "
            f"(shape {tuple(updates.shape)})"
        )
    updates = mx.reshape(updates, (1,) * (x.ndim - updates.ndim) + tuple(updates.shape))
    corner = starts + [0] * (x.ndim - len(starts))
    if any(s + u > n for s, u, n in zip(corner, updates.shape, x.shape, strict=True)):
        raise ValueError(
            f"slice_update: updates of shape {tuple(updates.shape)} at starts {corner} run past "
            f"the end of an array of shape {tuple(x.shape)}"
        )
    return mx.slice_update(x, updates, mx.array(corner), tuple(range(x.ndim)))
