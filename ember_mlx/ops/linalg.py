"""Linear algebra: solvers, inverses, decompositions and norms (also ``ops.linearalg``).

On Apple GPUs MLX runs its factorizations on the CPU only, so every decomposition here is
dispatched on ``mx.cpu`` (the mirrors accept and ignore ``stream``). Results follow MLX:
``eigh`` returns eigenvalues in ascending order on every backend and ``eig``/``eigvals``
always return complex values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ember_mlx.backend import mx
from ember_mlx.tensor.dtypes import get_dtype

diag = mx.diag
diagonal = mx.diagonal


def solve(a: mx.array, b: mx.array) -> mx.array:
    """The solution ``x`` of ``a @ x = b`` for square, non-singular ``a``."""
    return mx.linalg.solve(a, b, stream=mx.cpu)


def inv(a: mx.array) -> mx.array:
    """The inverse of the square matrix (or matrices, over leading axes) ``a``."""
    return mx.linalg.inv(a, stream=mx.cpu)


def pinv(a: mx.array) -> mx.array:
    """The Moore-Penrose pseudo-inverse of ``a``."""
    return mx.linalg.pinv(a, stream=mx.cpu)


def det(a: mx.array) -> mx.array:
    """The determinant of the square matrix (or matrices) ``a``, from its LU factorization."""
    return mx.linalg.det(a, stream=mx.cpu)


def cholesky(a: mx.array, upper: bool = False) -> mx.array:
    """The Cholesky factor ``L`` with ``L @ L.T == a`` (``U`` with ``U.T @ U == a`` if ``upper``).

    ``a`` must be symmetric positive definite; the result is undefined otherwise (as MLX).
    """
    return mx.linalg.cholesky(a, upper=upper, stream=mx.cpu)


def eigh(a: mx.array, UPLO: str = "L") -> tuple[mx.array, mx.array]:
    """Eigenvalues (ascending) and eigenvectors (columns) of a symmetric matrix.

    Only the ``UPLO`` ("L" or "U") triangle of ``a`` is read.
    """
    return mx.linalg.eigh(a, UPLO=UPLO, stream=mx.cpu)


def eig(a: mx.array) -> tuple[mx.array, mx.array]:
    """Complex eigenvalues and right eigenvectors (columns) of a square matrix."""
    return mx.linalg.eig(a, stream=mx.cpu)


def eigvals(a: mx.array) -> mx.array:
    """Complex eigenvalues of a square matrix, in no particular order."""
    return mx.linalg.eigvals(a, stream=mx.cpu)


def qr(a: mx.array, mode: str = "reduced") -> Any:
    """QR factorization ``a = Q @ R`` of an ``(m, n)`` matrix, with ``k = min(m, n)``.

    Args:
        a: Matrix or stack of matrices.
        mode: ``"reduced"`` gives ``Q (m, k)``, ``R (k, n)``; ``"complete"`` gives
            ``Q (m, m)``, ``R (m, n)``; ``"r"`` gives ``R (k, n)`` alone.
    """
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"qr: mode must be 'reduced', 'complete' or 'r', got {mode!r}")
    m, n = a.shape[-2], a.shape[-1]
    if mode == "complete" and m > n:
        # Householder QR works column by column, so factoring [a | I] gives a's own R in
        # the first n columns and the full orthogonal Q.
        eye = mx.broadcast_to(mx.eye(m, dtype=a.dtype), (*a.shape[:-2], m, m))
        q, r = mx.linalg.qr(mx.concatenate([a, eye], axis=-1), stream=mx.cpu)
        return q, r[..., :n]
    q, r = mx.linalg.qr(a, stream=mx.cpu)
    return r if mode == "r" else (q, r)


def _thin_svd(a: mx.array) -> tuple[mx.array, mx.array, mx.array]:
    """``U (m, k)``, ``S (k,)``, ``Vt (k, n)``: QR first, then the SVD of the small factor."""
    if a.shape[-2] >= a.shape[-1]:
        q, r = mx.linalg.qr(a, stream=mx.cpu)
        u, s, vt = mx.linalg.svd(r, stream=mx.cpu)
        return q @ u, s, vt
    q, r = mx.linalg.qr(mx.swapaxes(a, -1, -2), stream=mx.cpu)
    u, s, vt = mx.linalg.svd(mx.swapaxes(r, -1, -2), stream=mx.cpu)
    return u, s, vt @ mx.swapaxes(q, -1, -2)


def svd(a: mx.array, full_matrices: bool = True, compute_uv: bool = True) -> Any:
    """Singular value decomposition ``a = U @ diag(S) @ Vt`` (singular values descending).

    Args:
        a: Matrix ``(m, n)`` or stack of matrices.
        full_matrices: ``U`` is ``(m, m)`` and ``Vt`` ``(n, n)``; if ``False`` they are
            ``(m, k)`` and ``(k, n)`` with ``k = min(m, n)``, computed without the full
            factors (QR, then the SVD of the ``k x k`` triangle).
        compute_uv: If ``False``, return ``S`` alone.
    """
    if not compute_uv:
        return mx.linalg.svd(a, compute_uv=False, stream=mx.cpu)
    if full_matrices:
        return mx.linalg.svd(a, stream=mx.cpu)
    return _thin_svd(a)


def lstsq(
    a: mx.array, b: mx.array, rcond: float | None = None
) -> tuple[mx.array, mx.array, mx.array, mx.array]:
    r"""Least-squares solution of ``a @ x = b``, as ``numpy.linalg.lstsq``.

    From the thin SVD :math:`a = U \Sigma V^T`, :math:`x = V \Sigma^+ U^T b`, where
    :math:`\Sigma^+` inverts the singular values above ``rcond * max(S)`` and zeroes the rest.

    Args:
        a: Matrix ``(m, n)``.
        b: Right-hand side ``(m,)`` or ``(m, r)``.
        rcond: Relative cutoff for small singular values; default ``eps * max(m, n)``.

    Returns:
        ``(x, residuals, rank, s)``: the solution ``(n,)``/``(n, r)``; the squared residual
        norms per column when ``rank == n < m``, else an empty array; the rank; and the
        singular values of ``a``.
    """
    if a.ndim != 2 or b.ndim not in (1, 2) or b.shape[0] != a.shape[0]:
        raise ValueError(
            f"lstsq: expected a (m, n) and b (m,) or (m, r), got {tuple(a.shape)} and "
            f"{tuple(b.shape)}"
        )
    m, n = a.shape
    rhs = mx.reshape(b, (m, -1))
    u, s, vt = _thin_svd(a)
    if rcond is None:
        rcond = mx.finfo(a.dtype).eps * max(m, n)
    kept = s > rcond * mx.max(s)
    s_inv = mx.where(kept, 1 / mx.where(kept, s, 1), 0)
    x = mx.swapaxes(vt, 0, 1) @ (mx.expand_dims(s_inv, 1) * (mx.swapaxes(u, 0, 1) @ rhs))
    rank = mx.sum(mx.astype(kept, mx.int32))
    if m > n and rank.item() == n:
        residuals = mx.sum(mx.square(a @ x - rhs), axis=0)
    else:
        residuals = mx.zeros((0,), dtype=a.dtype)
    return (x if b.ndim == 2 else mx.reshape(x, (n,))), residuals, rank, s


def norm(
    x: mx.array,
    ord: int | float | str | None = None,
    axis: int | Sequence[int] | None = None,
    keepdims: bool = False,
) -> mx.array:
    """Vector or matrix norm, as ``numpy.linalg.norm`` (see ``mx.linalg.norm`` for ``ord``)."""
    # Spectral and nuclear norms need an SVD, which MLX runs on the CPU only.
    spectral = ord in (2, -2, "nuc") and (
        x.ndim == 2 if axis is None else not isinstance(axis, int)
    )
    stream = mx.cpu if spectral else None
    return mx.linalg.norm(x, ord=ord, axis=axis, keepdims=keepdims, stream=stream)


def orthogonal(
    shape: Sequence[int], gain: float = 1.0, dtype: Any = None, key: mx.array | None = None
) -> mx.array:
    r"""A random matrix with orthonormal rows or columns, scaled by ``gain`` (Saxe et al., 2014).

    The ``Q`` factor of a Gaussian matrix, with column signs fixed by ``sign(diag(R))`` so
    that it is Haar-distributed. ``shape[1:]`` are flattened into columns.

    Raises:
        ValueError: ``shape`` has fewer than two dimensions.
    """
    shape = tuple(shape)
    if len(shape) < 2:
        raise ValueError(f"orthogonal: shape must have at least 2 dimensions, got {shape}")
    rows, cols = shape[0], math.prod(shape[1:])
    gaussian = mx.random.normal((max(rows, cols), min(rows, cols)), key=key)
    q, r = mx.linalg.qr(gaussian, stream=mx.cpu)
    signs = mx.sign(mx.diagonal(r))
    q = q * mx.where(signs == 0, 1, signs)
    if rows < cols:
        q = mx.swapaxes(q, 0, 1)
    dtype = get_dtype(dtype)
    return mx.reshape(mx.astype(gain * q, mx.float32 if dtype is None else dtype), shape)
