"""Shapes, joins and indexing: reshaping, concatenation, padding, gathers and scatters.

MLX arrays are immutable, so the "update" ops (``put_along_axis``, ``slice_update``) return new
arrays; autograd flows through them.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from .arrays import Axes, as_shape, as_tensor, to_array
from .dtypes import WIDE_UNSIGNED, Dtype, int32, int64


def normalize_axes(axis: Axes, ndim: int) -> tuple[int, ...]:
    """``axis`` as a tuple of non-negative axes (``None`` meaning all)."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    return tuple(ax % ndim if ndim else ax for ax in axis)


def expand_axes(out: Tensor, axes: tuple[int, ...]) -> Tensor:
    """``out`` with a size-1 axis inserted at each of ``axes`` (positions in the result)."""
    for ax in sorted(axes):
        out = out.unsqueeze(ax)
    return out


def reshape(a: Any, /, shape: Sequence[int], *, stream: Any = None) -> Tensor:
    """``a`` with a new shape (one entry may be -1)."""
    return as_tensor(a).reshape(shape)


def flatten(a: Any, /, start_axis: int = 0, end_axis: int = -1, *, stream: Any = None) -> Tensor:
    """``a`` with axes ``start_axis`` to ``end_axis`` merged into one."""
    return torch.flatten(as_tensor(a), start_axis, end_axis)


def unflatten(a: Any, /, axis: int, shape: Sequence[int], *, stream: Any = None) -> Tensor:
    """``a`` with ``axis`` split into ``shape``."""
    return torch.unflatten(as_tensor(a), axis, tuple(shape))


def squeeze(a: Any, /, axis: Axes = None, *, stream: Any = None) -> Tensor:
    """``a`` without its size-1 axes (or only those in ``axis``, which must have size 1)."""
    a = as_tensor(a)
    if axis is None:
        return torch.squeeze(a)
    out = torch.squeeze(a, axis)  # torch keeps an axis whose size is not 1
    if out.ndim + (1 if isinstance(axis, int) else len(axis)) != a.ndim:
        raise ValueError(
            f"[squeeze] Cannot squeeze axis {axis} of shape {tuple(a.shape)}: its size is not 1."
        )
    return out


def expand_dims(a: Any, /, axis: int | Sequence[int], *, stream: Any = None) -> Tensor:
    """``a`` with new size-1 axes at the positions ``axis`` of the result."""
    a = as_tensor(a)
    if isinstance(axis, int):
        return a.unsqueeze(axis)
    ndim = a.ndim + len(axis)
    return expand_axes(a, tuple(ax % ndim for ax in axis))


def transpose(a: Any, /, axes: Sequence[int] | None = None, *, stream: Any = None) -> Tensor:
    """``a`` with its axes permuted (reversed if ``axes`` is ``None``)."""
    a = as_tensor(a)
    return a.permute(tuple(range(a.ndim - 1, -1, -1)) if axes is None else tuple(axes))


def swapaxes(a: Any, /, axis1: int, axis2: int, *, stream: Any = None) -> Tensor:
    """``a`` with ``axis1`` and ``axis2`` exchanged."""
    return torch.swapaxes(as_tensor(a), axis1, axis2)


def moveaxis(a: Any, /, source: int, destination: int, *, stream: Any = None) -> Tensor:
    """``a`` with axis ``source`` moved to position ``destination``."""
    return torch.movedim(as_tensor(a), source, destination)


def concatenate(arrays: Sequence[Any], axis: int | None = 0, *, stream: Any = None) -> Tensor:
    """Join ``arrays`` along an existing ``axis`` (flattened first if ``None``)."""
    arrays = [as_tensor(x) for x in arrays]
    if axis is None:
        return torch.cat([x.reshape(-1) for x in arrays])
    return torch.cat(arrays, dim=axis)


concat = concatenate


def stack(arrays: Sequence[Any], axis: int = 0, *, stream: Any = None) -> Tensor:
    """Join ``arrays`` along a new ``axis``."""
    return torch.stack([as_tensor(x) for x in arrays], dim=axis)


def split(
    a: Any, /, indices_or_sections: int | Sequence[int], axis: int = 0, *, stream: Any = None
) -> list[Tensor]:
    """Split ``a`` along ``axis`` into equal sections, or at the given indices."""
    a = as_tensor(a)
    if isinstance(indices_or_sections, int) and a.shape[axis] % indices_or_sections:
        raise ValueError(
            f"split: indices_or_sections={indices_or_sections} does not divide axis {axis} "
            f"of size {a.shape[axis]} into equal sections"
        )
    size = a.shape[axis]
    # split_with_sizes is the C++ op under torch.split, without its Python wrapper (half the
    # cost of a small split), and cheaper than tensor_split under autograd.
    if isinstance(indices_or_sections, int):
        sections = indices_or_sections
        return list(a.split_with_sizes([size // sections] * sections, axis))
    indices = [int(i) for i in indices_or_sections]
    # Sizes need sorted bounds.
    bounds = [0, *(min(i, size) for i in indices), size]
    if all(i >= 0 for i in indices) and bounds == sorted(bounds):
        sizes = [hi - lo for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
        return list(a.split_with_sizes(sizes, axis))
    return list(torch.tensor_split(a, indices, dim=axis))


def tile(a: Any, reps: int | Sequence[int], /, *, stream: Any = None) -> Tensor:
    """``a`` repeated ``reps`` times along each axis."""
    return torch.tile(as_tensor(a), as_shape(reps))


def repeat(array: Any, repeats: int, axis: int | None = None, *, stream: Any = None) -> Tensor:  # noqa: F811
    """Each element repeated ``repeats`` times along ``axis`` (of the flattened array if None)."""
    return torch.repeat_interleave(as_tensor(array), repeats, dim=axis)


def broadcast_to(a: Any, /, shape: Sequence[int], *, stream: Any = None) -> Tensor:
    """``a`` broadcast to ``shape``."""
    return torch.broadcast_to(as_tensor(a), as_shape(shape))


def broadcast_arrays(*arrays: Any, stream: Any = None) -> tuple[Tensor, ...]:
    """``arrays`` broadcast against each other."""
    return torch.broadcast_tensors(*[as_tensor(x) for x in arrays])


def _pad_pairs(pad_width: Any, ndim: int) -> list[tuple[int, int]]:
    """``pad_width`` in any of MLX's forms as one non-negative ``(before, after)`` pair per
    axis (torch would crop for a negative one)."""
    pairs = _pad_form(pad_width, ndim)
    if builtins.any(p < 0 for pair in pairs for p in pair):
        raise ValueError(f"pad: padding sizes must be non-negative, got {pad_width!r}")
    return pairs


def _pad_form(pad_width: Any, ndim: int) -> list[tuple[int, int]]:
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


def _pad_index(n: int, before: int, after: int, mode: str) -> Tensor:
    """Source positions for each position of a padded axis of length ``n``."""
    i = torch.arange(-before, n + after)
    if mode == "edge":
        return i.clamp(0, n - 1)
    if mode == "reflect":
        period = builtins.max(2 * (n - 1), 1)
        i = i.remainder(period)
        return torch.where(i >= n, period - i, i)
    i = i.remainder(2 * n)  # symmetric
    return torch.where(i >= n, 2 * n - 1 - i, i)


def pad(
    a: Any,
    pad_width: int | Sequence[int] | Sequence[Sequence[int]],
    mode: str = "constant",
    constant_values: Any = 0,
    *,
    stream: Any = None,
) -> Tensor:
    """Pad ``a`` by ``pad_width`` with ``mode`` ``"constant"``, ``"edge"``, ``"reflect"`` or
    ``"symmetric"``."""
    a = as_tensor(a)
    pairs = _pad_pairs(pad_width, a.ndim)
    if mode == "constant":
        flat = [p for pair in reversed(pairs) for p in pair]
        value = constant_values.item() if isinstance(constant_values, Tensor) else constant_values
        return F.pad(a, flat, mode="constant", value=value)
    if mode not in ("edge", "reflect", "symmetric"):
        raise ValueError(
            f"pad: mode must be 'constant', 'edge', 'reflect' or 'symmetric', got {mode!r}"
        )
    for axis, (before, after) in enumerate(pairs):
        if before or after:
            index = _pad_index(a.shape[axis], before, after, mode).to(a.device)
            a = torch.index_select(a, axis, index)
    return a


def flip(a: Any, /, axis: Axes = None, *, stream: Any = None) -> Tensor:
    """``a`` reversed along ``axis`` (all axes if ``None``)."""
    a = as_tensor(a)
    return torch.flip(a, normalize_axes(axis, a.ndim))


def roll(a: Any, /, shift: int | Sequence[int], axis: Axes = None, *, stream: Any = None) -> Tensor:
    """``a`` shifted cyclically by ``shift`` along ``axis`` (of the flattened array if None)."""
    return torch.roll(as_tensor(a), shift, axis)


def _index(indices: Any) -> Tensor:
    indices = as_tensor(indices)
    return indices.to(int64) if indices.dtype in WIDE_UNSIGNED else indices


def take(a: Any, /, indices: int | Any, axis: int | None = None, *, stream: Any = None) -> Tensor:
    """Elements of ``a`` at ``indices`` along ``axis`` (of the flattened array if ``None``)."""
    a = as_tensor(a)
    if axis is None:
        a, axis = a.reshape(-1), 0
    if isinstance(indices, int):
        return a.select(axis, indices)
    indices = _index(indices)
    axis %= a.ndim
    if indices.dtype in (int32, int64) and a.is_cpu:
        # index_select is several times cheaper than advanced indexing, both ways (its backward
        # is index_add, not a sorting index_put). It rejects negative indices, which MLX wraps;
        # on the CPU it raises (IndexError, or RuntimeError for int32 indices) before doing
        # anything, so those take the general path.
        try:
            if indices.ndim == 1:  # the common case needs no reshapes
                return torch.index_select(a, axis, indices)
            out = torch.index_select(a, axis, indices.reshape(-1))
        except (IndexError, RuntimeError):
            pass
        else:
            return out.reshape(a.shape[:axis] + indices.shape + a.shape[axis + 1 :])
    return a[(builtins.slice(None),) * axis + (indices,)]


def take_along_axis(
    a: Any, /, indices: Any, axis: int | None = -1, *, stream: Any = None
) -> Tensor:
    """Elements of ``a`` at ``indices`` matched position by position along ``axis``."""
    a = as_tensor(a)
    indices = as_tensor(indices).to(int64)
    if axis is None:
        return torch.take_along_dim(a.reshape(-1), indices.reshape(-1), dim=0)
    return torch.take_along_dim(a, indices, dim=axis)


def put_along_axis(
    a: Any, /, indices: Any, values: Any, axis: int | None = None, *, stream: Any = None
) -> Tensor:
    """A copy of ``a`` with ``values`` written at ``indices`` along ``axis``."""
    a = as_tensor(a)
    indices = as_tensor(indices).to(int64)
    values = as_tensor(values).to(a.dtype)
    if axis is None:
        flat = put_along_axis(a.reshape(-1), indices.reshape(-1), values.reshape(-1), 0)
        return flat.reshape(a.shape)
    axis %= a.ndim
    others = list(a.shape)
    others[axis] = 1
    shape = list(torch.broadcast_shapes(tuple(others), indices.shape))
    shape[axis] = indices.shape[axis]
    indices = indices.expand(shape)
    return torch.scatter(a, axis, indices, values.expand(shape))


def _block(
    ndim: int, start_indices: Any, axes: Sequence[int], sizes: Sequence[int]
) -> tuple[builtins.slice, ...]:
    """The index of a block of ``sizes`` (one per axis) starting at ``start_indices`` along
    ``axes`` and at 0 along the other axes."""
    if isinstance(start_indices, Tensor):
        start_indices = start_indices.reshape(-1).tolist()
    starts = [0] * ndim
    for axis, start in zip(axes, start_indices, strict=True):
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
) -> Tensor:
    """The block of ``a`` of shape ``slice_size`` (one size per axis of ``a``) starting at
    ``start_indices`` along ``axes`` and at 0 along the other axes."""
    a = as_tensor(a)
    return a[_block(a.ndim, start_indices, axes, slice_size)]


def slice_update(
    a: Any, update: Any, start_indices: Any, axes: Sequence[int], *, stream: Any = None
) -> Tensor:
    """A copy of ``a`` with the block ``update`` written at ``start_indices`` along ``axes``.

    ``update`` (with leading size-1 axes added up to the rank of ``a``) gives the block's size
    on every axis; along axes not in ``axes`` the block starts at 0.
    """
    a = as_tensor(a)
    update = as_tensor(update)
    update = update.reshape((1,) * (a.ndim - update.ndim) + tuple(update.shape))
    out = a.clone()
    out[_block(a.ndim, start_indices, axes, update.shape)] = update
    return out


def _atleast(op: Callable, arys: tuple[Any, ...]) -> Tensor | list[Tensor]:
    out = [op(as_tensor(x)) for x in arys]
    return out[0] if len(out) == 1 else out


def atleast_1d(*arys: Any, stream: Any = None) -> Tensor | list[Tensor]:
    """Each input with at least one axis."""
    return _atleast(torch.atleast_1d, arys)


def atleast_2d(*arys: Any, stream: Any = None) -> Tensor | list[Tensor]:
    """Each input with at least two axes."""
    return _atleast(torch.atleast_2d, arys)


def atleast_3d(*arys: Any, stream: Any = None) -> Tensor | list[Tensor]:
    """Each input with at least three axes."""
    return _atleast(torch.atleast_3d, arys)


def astype(a: Any, dtype: Dtype, /, *, stream: Any = None) -> Tensor:
    """``a`` converted to ``dtype`` (floats to unsigned wrap through ``int64`` as in MLX)."""
    if a.__class__ is not Tensor:
        a = to_array(a)
    if dtype in WIDE_UNSIGNED and a.dtype.is_floating_point:
        a = a.to(int64)
    return a.to(dtype)


def contiguous(a: Any, /, allow_col_major: bool = False, *, stream: Any = None) -> Tensor:
    """``a`` laid out row-contiguously in memory."""
    return as_tensor(a).contiguous()


def diff(a: Any, /, n: int = 1, axis: int = -1, *, stream: Any = None) -> Tensor:
    """The ``n``-th discrete difference :math:`a_{i+1} - a_i` along ``axis``."""
    return torch.diff(as_tensor(a), n=n, dim=axis)


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
