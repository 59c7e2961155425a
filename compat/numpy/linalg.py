"""Linear algebra, as ``mlx.core.linalg``, over ``numpy.linalg``.

Conventions follow MLX (and LAPACK): :func:`eigh` returns eigenvalues in ascending order,
:func:`svd` returns full ``U`` and ``Vt``, :func:`lu` returns the row permutation as
``uint32`` indices, :func:`eig` is always complex. Integer inputs are computed in ``float32``.
numpy has no LU factorisation, so :func:`lu_factor` is Gaussian elimination with partial
pivoting (LAPACK's ``getrf``: the first largest pivot), vectorised over the batch and over the
rows and columns of each step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .arrays import as_array, as_inexact
from .dtypes import complex64, uint32
from .elementwise import promote


def _float(a: Any) -> np.ndarray:
    return as_inexact(as_array(a))


def norm(
    a: Any,
    /,
    ord: int | float | str | None = None,
    axis: int | Sequence[int] | None = None,
    keepdims: bool = False,
    *,
    stream: Any = None,
) -> np.ndarray:
    """Vector or matrix norm of ``a`` (numpy's ``ord`` conventions; the 2-norm of the
    flattened array when ``ord`` and ``axis`` are ``None``)."""
    if axis is not None and not isinstance(axis, int):
        axis = tuple(axis)
    a = _float(a)
    if ord is None and axis is None:
        a = a.reshape(-1)  # numpy's matrix default (Frobenius) is this same value
    return np.asarray(np.linalg.norm(a, ord, axis, keepdims), a.dtype)


def inv(a: Any, *, stream: Any = None) -> np.ndarray:
    """Inverse of each square matrix in ``a``."""
    return np.linalg.inv(_float(a))


def pinv(a: Any, *, stream: Any = None) -> np.ndarray:
    """Moore-Penrose pseudo-inverse of each matrix in ``a``."""
    return np.linalg.pinv(_float(a))


def solve(a: Any, b: Any, *, stream: Any = None) -> np.ndarray:
    """The solution :math:`x` of :math:`a x = b` (``b`` a vector if 1-D, else matrices)."""
    return np.linalg.solve(*promote(_float(a), _float(b)))


def solve_triangular(a: Any, b: Any, *, upper: bool = False, stream: Any = None) -> np.ndarray:
    """The solution :math:`x` of :math:`a x = b` using only the ``upper`` or lower triangle of
    ``a``."""
    a = _float(a)
    return solve(np.triu(a) if upper else np.tril(a), b)


def cholesky(a: Any, upper: bool = False, *, stream: Any = None) -> np.ndarray:
    """The Cholesky factor :math:`L` (:math:`A = L L^\\top`), or :math:`U` if ``upper``."""
    return np.linalg.cholesky(_float(a), upper=upper)


def tri_inv(a: Any, upper: bool = False, *, stream: Any = None) -> np.ndarray:
    """Inverse of each triangular matrix in ``a`` (only its ``upper`` or lower triangle is
    read)."""
    a = _float(a)
    triangle = np.triu if upper else np.tril
    return triangle(np.linalg.inv(triangle(a)))


def cholesky_inv(a: Any, upper: bool = False, *, stream: Any = None) -> np.ndarray:
    """:math:`A^{-1}` from the Cholesky factor ``a`` of :math:`A` (not from :math:`A`):
    :math:`L^{-\\top} L^{-1}`, or :math:`U^{-1} U^{-\\top}` if ``upper``."""
    factor_inv = tri_inv(a, upper)
    if upper:
        return factor_inv @ np.swapaxes(factor_inv, -1, -2)
    return np.swapaxes(factor_inv, -1, -2) @ factor_inv


def qr(a: Any, *, stream: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """The reduced QR factorisation ``(Q, R)`` of ``a``."""
    q, r = np.linalg.qr(_float(a))
    return q, r


def svd(a: Any, compute_uv: bool = True, *, stream: Any = None) -> Any:
    """``(U, S, Vt)`` with full ``U`` and ``Vt``, or only ``S`` when ``compute_uv`` is false."""
    a = _float(a)
    if not compute_uv:
        return np.linalg.svd(a, compute_uv=False)
    u, s, vt = np.linalg.svd(a, full_matrices=True)
    return u, s, vt


def eigh(a: Any, UPLO: str = "L", *, stream: Any = None) -> tuple[np.ndarray, np.ndarray]:  # noqa: N803
    """Eigenvalues (ascending) and eigenvectors (columns) of a symmetric/Hermitian matrix."""
    values, vectors = np.linalg.eigh(_float(a), UPLO)
    return values, vectors


def eigvalsh(a: Any, UPLO: str = "L", *, stream: Any = None) -> np.ndarray:  # noqa: N803
    """Eigenvalues (ascending) of a symmetric/Hermitian matrix."""
    return np.linalg.eigvalsh(_float(a), UPLO)


def eig(a: Any, *, stream: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues and eigenvectors (columns) of a square matrix, as ``complex64``."""
    values, vectors = np.linalg.eig(_float(a))
    return values.astype(complex64), vectors.astype(complex64)


def eigvals(a: Any, *, stream: Any = None) -> np.ndarray:
    """Eigenvalues of a square matrix, as ``complex64``."""
    return np.linalg.eigvals(_float(a)).astype(complex64)


def det(a: Any, *, stream: Any = None) -> np.ndarray:
    """Determinant of each square matrix in ``a``."""
    return np.asarray(np.linalg.det(_float(a)))


def slogdet(a: Any, *, stream: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """``(sign, log|det|)`` of each square matrix in ``a``."""
    sign, logabsdet = np.linalg.slogdet(_float(a))
    return np.asarray(sign), np.asarray(logabsdet)


def lu_factor(a: Any, *, stream: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """``(LU, pivots)``: both factors packed in one matrix (``L`` below the diagonal, its unit
    diagonal implied) and LAPACK's row interchanges, 0-based (row ``k`` was swapped with row
    ``pivots[k]`` at step ``k``)."""
    a = _float(a)
    m, n = a.shape[-2:]
    lu = a.reshape(-1, m, n).copy()
    batch = np.arange(lu.shape[0])
    pivots = np.empty((lu.shape[0], min(m, n)), np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):  # a singular matrix, as LAPACK
        for k in range(min(m, n)):
            p = k + np.argmax(np.abs(lu[:, k:, k]), axis=1)
            pivots[:, k] = p
            lu[batch, k], lu[batch, p] = lu[batch, p], lu[batch, k]  # fancy reads copy
            lu[:, k + 1 :, k] /= lu[:, k, k, None]
            lu[:, k + 1 :, k + 1 :] -= lu[:, k + 1 :, k, None] * lu[:, k, None, k + 1 :]
    return lu.reshape(a.shape), pivots.reshape(*a.shape[:-2], -1).astype(uint32)


def lu(a: Any, *, stream: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(p, L, U)`` with ``(L @ U)[p] = a``: ``p`` is the row permutation as indices, ``L``
    unit lower triangular, ``U`` upper triangular."""
    packed, pivots = lu_factor(a)
    m, n = packed.shape[-2:]
    k = min(m, n)
    # Replay the interchanges on the identity permutation: row i of L U is row order[i] of a.
    order = np.broadcast_to(np.arange(m), pivots.shape[:-1] + (m,)).reshape(-1, m).copy()
    flat = pivots.reshape(-1, k).astype(np.int64)
    batch = np.arange(order.shape[0])
    for step in range(k):
        target = flat[:, step]
        order[batch, step], order[batch, target] = order[batch, target], order[batch, step]
    p = np.argsort(order, axis=1).reshape(*pivots.shape[:-1], m).astype(uint32)
    lower = np.tril(packed[..., :, :k], -1) + np.eye(m, k, dtype=packed.dtype)
    upper = np.triu(packed[..., :k, :])
    return p, lower, upper


def cross(a: Any, b: Any, axis: int = -1, *, stream: Any = None) -> np.ndarray:
    """Cross product of 3-vectors along ``axis``."""
    return np.cross(*promote(as_array(a), as_array(b)), axis=axis)
