"""Shapes, joins and indexing: reshaping, concatenation, padding, gathers and scatters.

MLX arrays are immutable, so the "update" ops (``put_along_axis``, ``slice_update``) return new
arrays. Views numpy hands out (``broadcast_to``, ``diagonal``, slices) are never written to by
the mirror.
"""

from __future__ import annotations

import builtins
import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .arrays import Axes, as_array, as_axes, as_shape
from .dtypes import Dtype, int8, int16, int64, result_dtype, uint8, uint16, uint32, uint64

# Floats convert to these through int64 in MLX, so out-of-range values wrap (-1.5 is 2**32 - 1
# as uint32); numpy's direct conversion of such values is platform-dependent.
_WRAPPING = frozenset((int8, int16, uint8, uint16, uint32, uint64))


def common_dtype(arrays: Sequence[np.ndarray]) -> Dtype:
    """MLX's promoted dtype of several arrays."""
    return functools.reduce(result_dtype, (x.dtype for x in arrays))


def reshape(a: Any, /, shape: Sequence[int], *, stream: Any = None) -> np.ndarray:
    """``a`` with a new shape (one entry may be -1)."""
    return as_array(a).reshape(shape)


def flatten(
    a: Any, /, start_axis: int = 0, end_axis: int = -1, *, stream: Any = None
) -> np.ndarray:
    """``a`` with axes ``start_axis`` to ``end_axis`` merged into one."""
    a = as_array(a)
    if a.ndim == 0:
        return a.reshape(1)
    start, end = start_axis % a.ndim, end_axis % a.ndim
    return a.reshape(*a.shape[:start], -1, *a.shape[end + 1 :])


def unflatten(a: Any, /, axis: int, shape: Sequence[int], *, stream: Any = None) -> np.ndarray:
    """``a`` with ``axis`` split into ``shape``."""
    a = as_array(a)
    axis %= a.ndim
    return a.reshape(*a.shape[:axis], *shape, *a.shape[axis + 1 :])


def squeeze(a: Any, /, axis: Axes = None, *, stream: Any = None) -> np.ndarray:
    """``a`` without its size-1 axes (or only those in ``axis``)."""
    return np.squeeze(as_array(a), as_axes(axis))


def expand_dims(a: Any, /, axis: int | Sequence[int], *, stream: Any = None) -> np.ndarray:
    """``a`` with new size-1 axes at the positions ``axis`` of the result."""
    return np.expand_dims(as_array(a), as_axes(axis))


def transpose(a: Any, /, axes: Sequence[int] | None = None, *, stream: Any = None) -> np.ndarray:
    """``a`` with its axes permuted (reversed if ``axes`` is ``None``)."""
    return np.transpose(as_array(a), as_axes(axes))


def swapaxes(a: Any, /, axis1: int, axis2: int, *, stream: Any = None) -> np.ndarray:
    """``a`` with ``axis1`` and ``axis2`` exchanged."""
    return np.swapaxes(as_array(a), axis1, axis2)


def moveaxis(a: Any, /, source: int, destination: int, *, stream: Any = None) -> np.ndarray:
    """``a`` with axis ``source`` moved to position ``destination``."""
    return np.moveaxis(as_array(a), source, destination)


def concatenate(arrays: Sequence[Any], axis: int | None = 0, *, stream: Any = None) -> np.ndarray:
    """Join ``arrays`` along an existing ``axis`` (flattened first if ``None``), in their
    promoted dtype."""
    arrays = [as_array(x) for x in arrays]
    return np.concatenate(arrays, axis, dtype=common_dtype(arrays), casting="unsafe")


concat = concatenate


def stack(arrays: Sequence[Any], axis: int = 0, *, stream: Any = None) -> np.ndarray:
    """Join ``arrays`` along a new ``axis``, in their promoted dtype."""
    arrays = [as_array(x) for x in arrays]
    return np.stack(arrays, axis, dtype=common_dtype(arrays), casting="unsafe")


def split(
    a: Any, /, indices_or_sections: int | Sequence[int], axis: int = 0, *, stream: Any = None
) -> list[np.ndarray]:
    """Split ``a`` along ``axis`` into equal sections, or at the given indices."""
    a = as_array(a)
    if isinstance(indices_or_sections, int) and a.shape[axis] % indices_or_sections:
        raise ValueError(
            f"split: indices_or_sections={indices_or_sections} does not divide axis {axis} "
            f"of size {a.shape[axis]} into equal sections"
        )
    if not isinstance(indices_or_sections, int):
        indices_or_sections = list(indices_or_sections)
    return np.split(a, indices_or_sections, axis)


def tile(a: Any, reps: int | Sequence[int], /, *, stream: Any = None) -> np.ndarray:
    """``a`` repeated ``reps`` times along each axis."""
    return np.tile(as_array(a), as_shape(reps))


def repeat(array: Any, repeats: int, axis: int | None = None, *, stream: Any = None) -> np.ndarray:
    """Each element repeated ``repeats`` times along ``axis`` (of the flattened array if None)."""
    return np.repeat(as_array(array), repeats, axis)


def broadcast_to(a: Any, /, shape: Sequence[int], *, stream: Any = None) -> np.ndarray:
    """``a`` broadcast to ``shape`` (a read-only view)."""
    return np.broadcast_to(as_array(a), as_shape(shape))


def broadcast_arrays(*arrays: Any, stream: Any = None) -> tuple[np.ndarray, ...]:
    """``arrays`` broadcast against each other (read-only views)."""
    return tuple(np.broadcast_arrays(*[as_array(x) for x in arrays]))


def _pad_pairs(pad_width: Any, ndim: int) -> list[tuple[int, int]]:
    """``pad_width`` in any of MLX's forms as one ``(before, after)`` pair per axis."""
    if isinstance(pad_width, int):
        return [(pad_width, pad_width)] * ndim
    pairs = [tuple(p) if isinstance(p, Sequence) else p for p in pad_width]
    if builtins.all(isinstance(p, int) for p in pairs):
        if len(pairs) == 1:
            return [(pairs[0], pairs[0])] * ndim
        if len(pairs) == 2:
            return [tuple(pairs)] * ndim
    elif len(pairs) == 1:
        return [(int(pairs[0][0]), int(pairs[0][-1]))] * ndim
    elif len(pairs) == ndim:
        return [(int(p[0]), int(p[-1])) for p in pairs]
    raise ValueError(
        f"pad: pad_width must be an int, a (before, after) pair or one pair per axis "
        f"({ndim}), got {pad_width!r}"
    )


def pad(
    a: Any,
    pad_width: int | Sequence[int] | Sequence[Sequence[int]],
    mode: str = "constant",
    constant_values: Any = 0,
    *,
    stream: Any = None,
) -> np.ndarray:
    """Pad ``a`` by ``pad_width`` with ``mode`` ``"constant"``, ``"edge"``, ``"reflect"`` or
    ``"symmetric"``."""
    a = as_array(a)
    pairs = _pad_pairs(pad_width, a.ndim)
    if mode == "constant":
        return np.pad(a, pairs, mode="constant", constant_values=np.asarray(constant_values))
    if mode not in ("edge", "reflect", "symmetric"):
        raise ValueError(
            f"pad: mode must be 'constant', 'edge', 'reflect' or 'symmetric', got {mode!r}"
        )
    return np.pad(a, pairs, mode=mode)


def flip(a: Any, /, axis: Axes = None, *, stream: Any = None) -> np.ndarray:
    """``a`` reversed along ``axis`` (all axes if ``None``)."""
    return np.flip(as_array(a), as_axes(axis))


def roll(
    a: Any, /, shift: int | Sequence[int], axis: Axes = None, *, stream: Any = None
) -> np.ndarray:
    """``a`` shifted cyclically by ``shift`` along ``axis`` (of the flattened array if None)."""
    return np.roll(as_array(a), shift, as_axes(axis))


def take(
    a: Any, /, indices: int | Any, axis: int | None = None, *, stream: Any = None
) -> np.ndarray:
    """Elements of ``a`` at ``indices`` along ``axis`` (of the flattened array if ``None``);
    negative indices count from the end."""
    if not isinstance(indices, int):
        indices = as_array(indices)
    return np.asarray(np.take(as_array(a), indices, axis))


def take_along_axis(
    a: Any, /, indices: Any, axis: int | None = -1, *, stream: Any = None
) -> np.ndarray:
    """Elements of ``a`` at ``indices`` matched position by position along ``axis``."""
    a, indices = as_array(a), as_array(indices)
    if axis is None:
        return np.take_along_axis(a.reshape(-1), indices.reshape(-1), 0)
    return np.take_along_axis(a, indices, axis)


def put_along_axis(
    a: Any, /, indices: Any, values: Any, axis: int | None = None, *, stream: Any = None
) -> np.ndarray:
    """A copy of ``a`` with ``values`` written at ``indices`` along ``axis``."""
    a, indices, values = as_array(a), as_array(indices), as_array(values)
    out = a.copy()
    if axis is None:
        np.put_along_axis(out.reshape(-1), indices.reshape(-1), values.reshape(-1), 0)
    else:
        np.put_along_axis(out, indices, values, axis)
    return out


def _block(
    ndim: int, start_indices: Any, axes: Sequence[int], sizes: Sequence[int]
) -> tuple[builtins.slice, ...]:
    """The index of a block of ``sizes`` (one per axis) starting at ``start_indices`` along
    ``axes`` and at 0 along the other axes."""
    starts = [0] * ndim
    for axis, start in zip(axes, np.asarray(start_indices).reshape(-1).tolist(), strict=True):
        starts[axis] = int(start)
    return tuple(
        builtins.slice(start, start + size) for start, size in zip(starts, sizes, strict=True)
    )


def slice(  # noqa: A001 - the MLX name
    a: Any,
    start_indices: Any,
    axes: Sequence[int],
    slice_size: Sequence[int],
    *,
    stream: Any = None,
) -> np.ndarray:
    """The block of ``a`` of shape ``slice_size`` (one size per axis of ``a``) starting at
    ``start_indices`` along ``axes`` and at 0 along the other axes."""
    a = as_array(a)
    return a[_block(a.ndim, start_indices, axes, slice_size)]


def slice_update(
    a: Any, update: Any, start_indices: Any, axes: Sequence[int], *, stream: Any = None
) -> np.ndarray:
    """A copy of ``a`` with the block ``update`` written at ``start_indices`` along ``axes``.

    ``update`` (with leading size-1 axes added up to the rank of ``a``) gives the block's size
    on every axis; along axes not in ``axes`` the block starts at 0.
    """
    a, update = as_array(a), as_array(update)
    update = update.reshape((1,) * (a.ndim - update.ndim) + update.shape)
    out = a.copy()
    out[_block(a.ndim, start_indices, axes, update.shape)] = update
    return out


def _atleast(op: Callable, arys: tuple[Any, ...]) -> np.ndarray | list[np.ndarray]:
    out = [op(as_array(x)) for x in arys]
    return out[0] if len(out) == 1 else out


def atleast_1d(*arys: Any, stream: Any = None) -> np.ndarray | list[np.ndarray]:
    """Each input with at least one axis."""
    return _atleast(np.atleast_1d, arys)


def atleast_2d(*arys: Any, stream: Any = None) -> np.ndarray | list[np.ndarray]:
    """Each input with at least two axes."""
    return _atleast(np.atleast_2d, arys)


def atleast_3d(*arys: Any, stream: Any = None) -> np.ndarray | list[np.ndarray]:
    """Each input with at least three axes."""
    return _atleast(np.atleast_3d, arys)


def astype(a: Any, dtype: Dtype, /, *, stream: Any = None) -> np.ndarray:
    """``a`` converted to ``dtype``.

    Floats become integers by truncation; out-of-range values wrap into unsigned and 8/16-bit
    types through ``int64``, as in MLX (``-1.5`` is ``2**32 - 1`` as ``uint32``).
    """
    a = as_array(a)
    if a.dtype.kind != "f" or np.dtype(dtype).kind not in "iu":
        return a.astype(dtype, copy=False)
    with np.errstate(invalid="ignore"):  # NaN and infinities have no integer value
        return a.astype(int64 if dtype in _WRAPPING else dtype).astype(dtype, copy=False)


def contiguous(a: Any, /, allow_col_major: bool = False, *, stream: Any = None) -> np.ndarray:
    """``a`` laid out row-contiguously in memory."""
    a = as_array(a)
    return a if a.flags.c_contiguous else a.copy(order="C")


def diff(a: Any, /, n: int = 1, axis: int = -1, *, stream: Any = None) -> np.ndarray:
    """The ``n``-th discrete difference :math:`a_{i+1} - a_i` along ``axis``."""
    return np.diff(as_array(a), n, axis)


__all__ = [
    "reshape",
    "flatten",
    "unflatten",
    "squeeze",
    "expand_dims",
    "transpose",
    "swapaxes",
    "moveaxis",
    "concatenate",
    "stack",
    "split",
    "tile",
    "repeat",
    "broadcast_to",
    "broadcast_arrays",
    "pad",
    "flip",
    "roll",
    "take",
    "take_along_axis",
    "put_along_axis",
    "slice",
    "slice_update",
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "astype",
    "contiguous",
    "diff",
    "concat",
]
