"""Linear algebra, as ``mlx.core.linalg``, over ``torch.linalg``.

Conventions follow MLX (and LAPACK): :func:`eigh` returns eigenvalues in ascending order,
:func:`svd` returns full ``U`` and ``Vt``, :func:`lu` returns the row permutation as indices.
Integer inputs are computed in ``float32``. Index results (permutations, pivots) are ``int64``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from .arrays import as_inexact, to_array
from .dtypes import int64


def _float(a: Any) -> Tensor:
    return as_inexact(to_array(a))


def norm(
    a: Any,
    /,
    ord: int | float | str | None = None,
    axis: int | Sequence[int] | None = None,
    keepdims: bool = False,
    *,
    stream: Any = None,
) -> Tensor:
    """Vector or matrix norm of ``a`` (numpy's ``ord`` conventions; the 2-norm of the
    flattened array when ``ord`` and ``axis`` are ``None``)."""
    if axis is not None and not isinstance(axis, int):
        axis = tuple(axis)
    return torch.linalg.norm(_float(a), ord=ord, dim=axis, keepdim=keepdims)


def inv(a: Any, *, stream: Any = None) -> Tensor:
    """Inverse of each square matrix in ``a``."""
    return torch.linalg.inv(_float(a))


def pinv(a: Any, *, stream: Any = None) -> Tensor:
    """Moore-Penrose pseudo-inverse of each matrix in ``a``."""
    return torch.linalg.pinv(_float(a))


def solve(a: Any, b: Any, *, stream: Any = None) -> Tensor:
    """The solution :math:`x` of :math:`a x = b`."""
    return torch.linalg.solve(_float(a), _float(b))


def solve_triangular(a: Any, b: Any, *, upper: bool = False, stream: Any = None) -> Tensor:
    """The solution :math:`x` of :math:`a x = b` for triangular ``a`` (``b`` a vector or matrix)."""
    a, b = _float(a), _float(b)
    vector = b.ndim == a.ndim - 1
    x = torch.linalg.solve_triangular(a, b[..., None] if vector else b, upper=upper)
    return x[..., 0] if vector else x


def cholesky(a: Any, upper: bool = False, *, stream: Any = None) -> Tensor:
    """The Cholesky factor :math:`L` (:math:`A = L L^\\top`), or :math:`U` if ``upper``."""
    return torch.linalg.cholesky(_float(a), upper=upper)


def cholesky_inv(a: Any, upper: bool = False, *, stream: Any = None) -> Tensor:
    """:math:`A^{-1}` from the Cholesky factor ``a`` of :math:`A` (not from :math:`A`)."""
    return torch.cholesky_inverse(_float(a), upper=upper)


def tri_inv(a: Any, upper: bool = False, *, stream: Any = None) -> Tensor:
    """Inverse of each triangular matrix in ``a``."""
    a = _float(a)
    eye = torch.eye(a.shape[-1], dtype=a.dtype, device=a.device)
    return torch.linalg.solve_triangular(a, eye.expand(a.shape), upper=upper)


def qr(a: Any, *, stream: Any = None) -> tuple[Tensor, Tensor]:
    """The reduced QR factorisation ``(Q, R)`` of ``a``."""
    q, r = torch.linalg.qr(_float(a))
    return q, r


def svd(a: Any, compute_uv: bool = True, *, stream: Any = None) -> Any:
    """``(U, S, Vt)`` with full ``U`` and ``Vt``, or only ``S`` when ``compute_uv`` is false."""
    a = _float(a)
    if not compute_uv:
        return torch.linalg.svdvals(a)
    u, s, vt = torch.linalg.svd(a, full_matrices=True)
    return u, s, vt


def eigh(a: Any, UPLO: str = "L", *, stream: Any = None) -> tuple[Tensor, Tensor]:  # noqa: N803
    """Eigenvalues (ascending) and eigenvectors (columns) of a symmetric/Hermitian matrix."""
    values, vectors = torch.linalg.eigh(_float(a), UPLO=UPLO)
    return values, vectors


def eigvalsh(a: Any, UPLO: str = "L", *, stream: Any = None) -> Tensor:  # noqa: N803
    """Eigenvalues (ascending) of a symmetric/Hermitian matrix."""
    return torch.linalg.eigvalsh(_float(a), UPLO=UPLO)


def eig(a: Any, *, stream: Any = None) -> tuple[Tensor, Tensor]:
    """Complex eigenvalues and eigenvectors (columns) of a square matrix."""
    values, vectors = torch.linalg.eig(_float(a))
    return values, vectors


def eigvals(a: Any, *, stream: Any = None) -> Tensor:
    """Complex eigenvalues of a square matrix."""
    return torch.linalg.eigvals(_float(a))


def det(a: Any, *, stream: Any = None) -> Tensor:
    """Determinant of each square matrix in ``a``."""
    return torch.linalg.det(_float(a))


def slogdet(a: Any, *, stream: Any = None) -> tuple[Tensor, Tensor]:
    """``(sign, log|det|)`` of each square matrix in ``a``."""
    sign, logabsdet = torch.linalg.slogdet(_float(a))
    return sign, logabsdet


def lu(a: Any, *, stream: Any = None) -> tuple[Tensor, Tensor, Tensor]:
    """``(p, L, U)`` with ``(L @ U)[p] = a``: ``p`` is the row permutation as indices."""
    permutation, lower, upper = torch.linalg.lu(_float(a))
    # torch gives a = P L U: row i of a is row argmax(P[i, :]) of L U.
    return permutation.argmax(dim=-1), lower, upper


def lu_factor(a: Any, *, stream: Any = None) -> tuple[Tensor, Tensor]:
    """``(LU, pivots)``: both factors packed in one matrix and 0-based LAPACK row pivots."""
    packed, pivots = torch.linalg.lu_factor(_float(a))
    return packed, pivots.to(int64) - 1


def cross(a: Any, b: Any, axis: int = -1, *, stream: Any = None) -> Tensor:
    """Cross product of 3-vectors along ``axis``."""
    return torch.linalg.cross(to_array(a), to_array(b), dim=axis)
