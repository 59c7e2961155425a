"""Ridge regression in closed form: the trained part of a reservoir computer."""

from __future__ import annotations

from ember_mlx.backend import mx
from ember_mlx.validation import check_real


def ridge_regression(
    features: mx.array, targets: mx.array, alpha: float
) -> tuple[mx.array, mx.array]:
    r"""The ridge solution with an unpenalised intercept, as ``sklearn.linear_model.Ridge``.

    Finds the weight :math:`W` and bias :math:`b` minimising

    .. math::

        \lVert Y - X W - \mathbf{1} b^\top \rVert_F^2 + \alpha \lVert W \rVert_F^2 .

    With :math:`\bar x`, :math:`\bar y` the column means, :math:`X_c = X - \bar x` and
    :math:`Y_c = Y - \bar y`, the weight solves the normal equations

    .. math::

        (X_c^\top X_c + \alpha I)\, W = X_c^\top Y_c ,

    and :math:`b = \bar y - \bar x W`. The equations are formed and
    solved in float64 on the CPU (the only place MLX has float64; the mirrors ignore the
    stream): reservoir states are strongly correlated, and in float32 their Gram matrix is not
    even numerically positive definite at :math:`\alpha = 10^{-8}` on Mackey-Glass. The result
    matches a float64 least-squares solve, and is returned in the dtype of ``features`` (float32
    for integer or boolean features).

    Args:
        features: ``(samples, k)`` design matrix :math:`X`.
        targets: ``(samples, outputs)`` targets :math:`Y`.
        alpha: Regularisation :math:`\alpha > 0`.

    Returns:
        ``(weight, bias)`` of shapes ``(k, outputs)`` and ``(outputs,)``.
    """
    alpha = check_real("alpha", alpha, above=0.0)
    if features.ndim != 2 or targets.ndim != 2 or features.shape[0] != targets.shape[0]:
        raise ValueError(
            "features, targets: expected 2-D arrays with the same number of rows, got "
            f"{tuple(features.shape)} and {tuple(targets.shape)}"
        )
    with mx.stream(mx.cpu):
        x = mx.astype(features, mx.float64)
        y = mx.astype(targets, mx.float64)
        x_mean, y_mean = mx.mean(x, axis=0), mx.mean(y, axis=0)
        centred = x - x_mean
        gram = centred.T @ centred + alpha * mx.eye(x.shape[1], dtype=mx.float64)
        weight = mx.linalg.solve(gram, centred.T @ (y - y_mean))
        bias = y_mean - x_mean @ weight
    floating = mx.issubdtype(features.dtype, mx.floating)
    dtype = features.dtype if floating else mx.float32
    return mx.astype(weight, dtype), mx.astype(bias, dtype)
