"""Feature transforms as functions: PCA, standardization and normalization.

``pca`` returns the fitted quantities as a dict of arrays, so a fit can be stored
(``ops.save``) and applied later on any backend; ``transform`` and ``inverse_transform`` take its
entries by name::

    fit = pca(x, 2)
    z = transform(x, fit["components"], fit["mean"])
    white = transform(x, fit["components"], fit["mean"], whiten=True,
                      explained_variance=fit["explained_variance"])

Inputs may be arrays of the backend, numpy arrays or nested lists; the latter two become arrays
by ``mx.array``, MLX's rule (numpy float64 data becomes float32 on MLX and torch). Integer and
boolean data are transformed in float32.
"""

from __future__ import annotations

from typing import Any

from ember_mlx.backend import mx
from ember_mlx.validation import check_count

from .linalg import svd
from .math import _resolve_axes


def _floats(name: str, x: Any) -> mx.array:
    """``x`` as an array (``mx.array`` for anything else), float32 unless floating."""
    if not isinstance(x, mx.array):
        try:
            x = mx.array(x)
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"{name}: expected an array of numbers, got {type(x).__name__}: {error}"
            ) from None
    return x if mx.issubdtype(x.dtype, mx.floating) else mx.astype(x, mx.float32)


def pca(x: mx.array, n_components: int | None = None, *, center: bool = True) -> dict[str, Any]:
    r"""Principal component analysis of ``x`` (samples in rows) by the SVD of the centered data.

    With :math:`X - \mu = U \Sigma V^T`, the components are the rows of :math:`V^T`, the
    explained variances :math:`\sigma_i^2 / (n - 1)`, and their ratios are taken against the
    total variance of all components, as scikit-learn does. Component signs follow
    scikit-learn too: the largest-magnitude entry of each component is positive.

    Args:
        x: Data ``(n_samples, n_features)``, ``n_samples >= 2``.
        n_components: Components to keep, at most ``min(n_samples, n_features)`` (the default).
        center: Subtract the feature means first (``mean`` is zeros otherwise).

    Returns:
        ``components`` ``(k, n_features)``, ``explained_variance`` ``(k,)``,
        ``explained_variance_ratio`` ``(k,)``, ``singular_values`` ``(k,)`` and ``mean``
        ``(n_features,)``.
    """
    x = _floats("x", x)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"pca: x must be (n_samples >= 2, n_features), got {tuple(x.shape)}")
    n, p = x.shape
    rank = min(n, p)
    k = rank if n_components is None else check_count("n_components", n_components)
    if k > rank:
        raise ValueError(
            f"n_components: expected an int in [1, {rank}] (min(n_samples, n_features)), "
            f"got {n_components}"
        )
    mean = mx.mean(x, axis=0) if center else mx.zeros((p,), dtype=x.dtype)
    _, s, vt = svd(x - mean, full_matrices=False)
    pivots = mx.argmax(mx.abs(vt), axis=1, keepdims=True)
    vt = vt * mx.sign(mx.take_along_axis(vt, pivots, axis=1))
    variance = mx.square(s) / (n - 1)
    return {
        "components": vt[:k],
        "explained_variance": variance[:k],
        "explained_variance_ratio": variance[:k] / mx.sum(variance),
        "singular_values": s[:k],
        "mean": mean,
    }


def _whitening_scale(explained_variance: mx.array | None, dtype: Any) -> mx.array:
    if explained_variance is None:
        raise ValueError("whiten=True needs explained_variance (from pca)")
    return mx.sqrt(mx.maximum(explained_variance, mx.finfo(dtype).eps))


def transform(
    x: mx.array,
    components: mx.array,
    mean: mx.array | None = None,
    *,
    whiten: bool = False,
    explained_variance: mx.array | None = None,
) -> mx.array:
    r"""Project ``x`` on ``components``: :math:`(x - \mu) V`, divided by
    :math:`\sqrt{\text{explained variance}}` per component when ``whiten``."""
    x = _floats("x", x)
    centered = x if mean is None else x - mean
    projected = centered @ mx.swapaxes(components, 0, 1)
    if whiten:
        projected = projected / _whitening_scale(explained_variance, projected.dtype)
    return projected


def inverse_transform(
    x: mx.array,
    components: mx.array,
    mean: mx.array | None = None,
    *,
    whiten: bool = False,
    explained_variance: mx.array | None = None,
) -> mx.array:
    """Map projections back to feature space, undoing :func:`transform`.

    Exact when all components are kept; otherwise the best rank-``k`` reconstruction.
    """
    x = _floats("x", x)
    if whiten:
        x = x * _whitening_scale(explained_variance, x.dtype)
    restored = x @ components
    return restored if mean is None else restored + mean


def standardize(
    x: mx.array, *, with_mean: bool = True, with_std: bool = True, axis: int = 0
) -> tuple[mx.array, mx.array | None, mx.array | None]:
    r"""Scale to zero mean and unit (population) standard deviation along ``axis``.

    :math:`(x - \mu) / \max(\sigma, \epsilon)`, with :math:`\epsilon` the dtype's machine
    epsilon so that constant features map to zero instead of dividing by zero.

    Integer and boolean input is scaled in float32.

    Returns:
        ``(scaled, mean, std)``; ``mean``/``std`` are ``None`` when not used.
    """
    x = _floats("x", x)
    mean = mx.mean(x, axis=axis) if with_mean else None
    std = mx.std(x, axis=axis) if with_std else None
    scaled = x - mx.expand_dims(mean, axis) if with_mean else x
    if with_std:
        scaled = scaled / mx.maximum(mx.expand_dims(std, axis), mx.finfo(scaled.dtype).eps)
    return scaled, mean, std


def normalize(x: mx.array, *, norm: str = "l2", axis: int = 1) -> mx.array:
    """Scale each vector along ``axis`` to unit ``"l1"``, ``"l2"`` or ``"max"`` norm.

    Zero vectors stay zero (their norm is clipped to the machine epsilon). Integer input is
    scaled in float32.

    Raises:
        ValueError: ``norm`` is unknown or ``axis`` is out of range for ``x``.
    """
    x = _floats("x", x)
    (axis,) = _resolve_axes("normalize", axis, x.ndim)
    magnitude = mx.abs(x)
    if norm == "l1":
        size = mx.sum(magnitude, axis=axis, keepdims=True)
    elif norm == "l2":
        size = mx.sqrt(mx.sum(mx.square(x), axis=axis, keepdims=True))
    elif norm == "max":
        size = mx.max(magnitude, axis=axis, keepdims=True)
    else:
        raise ValueError(f"normalize: norm must be 'l1', 'l2' or 'max', got {norm!r}")
    return x / mx.maximum(size, mx.finfo(x.dtype).eps)
