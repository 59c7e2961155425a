"""Matrix and tensor products: ``matmul``, ``addmm``, ``einsum`` and relatives."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from .arrays import as_tensor
from .dtypes import Dtype
from .reductions import sum


def matmul(a: Any, b: Any, /, *, stream: Any = None) -> Tensor:
    """Matrix product with broadcasting over leading axes, in the operands' promoted dtype."""
    try:
        if (
            a.__class__ is Tensor
            and b.__class__ is Tensor
            and a.ndim == 3
            and b.ndim == 3
            and a.shape[0] == b.shape[0]
        ):
            return torch.bmm(a, b)  # torch.matmul's batched path costs ~2 us more per call
        return torch.matmul(a, b)
    except (TypeError, RuntimeError):  # torch multiplies only equal dtypes
        a, b = as_tensor(a), as_tensor(b)
        dtype = torch.promote_types(a.dtype, b.dtype)
        return torch.matmul(a.to(dtype), b.to(dtype))


def addmm(
    c: Any, a: Any, b: Any, /, alpha: float = 1.0, beta: float = 1.0, *, stream: Any = None
) -> Tensor:
    r"""``alpha * (a @ b) + beta * c`` in one fused call where torch allows it.

    .. math:: \mathrm{out} = \alpha\, a b + \beta\, c
    """
    c = as_tensor(c)
    try:
        return _addmm(c, a, b, alpha, beta)
    except (TypeError, RuntimeError):  # torch multiplies only equal dtypes
        a, b = as_tensor(a), as_tensor(b)
        dtype = torch.promote_types(torch.promote_types(a.dtype, b.dtype), c.dtype)
        return _addmm(c.to(dtype), a.to(dtype), b.to(dtype), alpha, beta)


def _addmm(c: Tensor, a: Any, b: Any, alpha: float, beta: float) -> Tensor:
    if b.ndim == 2 and c.ndim <= 2:
        if a.ndim == 2:
            if alpha == 1.0 and beta == 1.0:  # torch parses keyword arguments in ~1 us
                return torch.addmm(c, a, b)
            return torch.addmm(c, a, b, beta=beta, alpha=alpha)
        if a.ndim > 2 and c.ndim <= 1:
            out = torch.addmm(c, a.reshape(-1, a.shape[-1]), b, beta=beta, alpha=alpha)
            return out.reshape(*a.shape[:-1], b.shape[-1])
    return alpha * torch.matmul(a, b) + beta * c


def inner(a: Any, b: Any, /, *, stream: Any = None) -> Tensor:
    """Inner product over the last axes of ``a`` and ``b``."""
    return torch.inner(as_tensor(a), as_tensor(b))


def outer(a: Any, b: Any, /, *, stream: Any = None) -> Tensor:
    """Outer product of ``a`` and ``b`` (each flattened)."""
    return torch.outer(as_tensor(a).reshape(-1), as_tensor(b).reshape(-1))


def tensordot(
    a: Any, b: Any, /, axes: int | Sequence[Sequence[int]] = 2, *, stream: Any = None
) -> Tensor:
    """Sum products over the last ``axes`` axes of ``a`` and first of ``b`` (or given pairs)."""
    return torch.tensordot(as_tensor(a), as_tensor(b), dims=axes)


def einsum(subscripts: str, *operands: Any, stream: Any = None) -> Tensor:
    """Einstein summation over ``operands`` as described by ``subscripts``."""
    return torch.einsum(subscripts, *[as_tensor(x) for x in operands])


def kron(a: Any, b: Any, *, stream: Any = None) -> Tensor:
    """Kronecker product of ``a`` and ``b``."""
    return torch.kron(as_tensor(a), as_tensor(b))


def trace(
    a: Any,
    /,
    offset: int = 0,
    axis1: int = 0,
    axis2: int = 1,
    dtype: Dtype | None = None,
    *,
    stream: Any = None,
) -> Tensor:
    """Sum of the ``offset`` diagonal of the ``(axis1, axis2)`` planes."""
    out = sum(torch.diagonal(as_tensor(a), offset, axis1, axis2), axis=-1)
    return out if dtype is None else out.to(dtype)


__all__ = [
    "matmul",
    "addmm",
    "inner",
    "outer",
    "tensordot",
    "einsum",
    "kron",
    "trace",
]
