"""Matrix and tensor products: ``matmul``, ``addmm``, ``einsum`` and relatives, in the operands'
promoted dtype (``float32 @ int32`` is ``float32``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .arrays import as_array
from .dtypes import Dtype
from .elementwise import add, multiply, promote
from .reductions import sum
from .shapes import common_dtype


def matmul(a: Any, b: Any, /, *, stream: Any = None) -> np.ndarray:
    """Matrix product with broadcasting over leading axes."""
    return np.matmul(*promote(as_array(a), as_array(b)), out=...)


def addmm(
    c: Any, a: Any, b: Any, /, alpha: float = 1.0, beta: float = 1.0, *, stream: Any = None
) -> np.ndarray:
    r"""``alpha * (a @ b) + beta * c``.

    .. math:: \mathrm{out} = \alpha\, a b + \beta\, c
    """
    out = matmul(a, b)
    if alpha != 1.0:
        out = multiply(alpha, out)
    return add(out, c if beta == 1.0 else multiply(beta, c))


def inner(a: Any, b: Any, /, *, stream: Any = None) -> np.ndarray:
    """Inner product over the last axes of ``a`` and ``b``."""
    return np.asarray(np.inner(*promote(as_array(a), as_array(b))))


def outer(a: Any, b: Any, /, *, stream: Any = None) -> np.ndarray:
    """Outer product of ``a`` and ``b`` (each flattened)."""
    return np.outer(*promote(as_array(a), as_array(b)))


def tensordot(
    a: Any, b: Any, /, axes: int | Sequence[Sequence[int]] = 2, *, stream: Any = None
) -> np.ndarray:
    """Sum products over the last ``axes`` axes of ``a`` and first of ``b`` (or given pairs)."""
    return np.asarray(np.tensordot(*promote(as_array(a), as_array(b)), axes))


def einsum(subscripts: str, *operands: Any, stream: Any = None) -> np.ndarray:
    """Einstein summation over ``operands`` as described by ``subscripts``.

    The contraction order is optimised (pairwise through BLAS) as MLX does.
    """
    operands = [as_array(x) for x in operands]
    dtype = common_dtype(operands)
    operands = [x.astype(dtype, copy=False) for x in operands]
    return np.asarray(np.einsum(subscripts, *operands, optimize=len(operands) > 1))


def kron(a: Any, b: Any, *, stream: Any = None) -> np.ndarray:
    """Kronecker product of ``a`` and ``b``."""
    return np.kron(*promote(as_array(a), as_array(b)))


def trace(
    a: Any,
    /,
    offset: int = 0,
    axis1: int = 0,
    axis2: int = 1,
    dtype: Dtype | None = None,
    *,
    stream: Any = None,
) -> np.ndarray:
    """Sum of the ``offset`` diagonal of the ``(axis1, axis2)`` planes."""
    out = sum(np.diagonal(as_array(a), offset, axis1, axis2), axis=-1)
    return out if dtype is None else out.astype(dtype)


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
