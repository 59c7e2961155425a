r"""Loss functions with Keras signatures: ``loss(y_true, y_pred)``, averaged to a scalar.

Probabilities are clipped to :math:`[\epsilon, 1 - \epsilon]`, :math:`\epsilon = 10^{-7}`, before
logarithms, as Keras does; with ``from_logits=True`` the losses work on logits directly
through numerically stable log-sigmoid/log-softmax forms instead.
"""

from __future__ import annotations

import math

from ember_mlx.backend import mx

_EPSILON = 1e-7


def mse(y_true: mx.array, y_pred: mx.array) -> mx.array:
    r"""Mean squared error :math:`\frac{1}{n}\sum_i (\hat y_i - y_i)^2`."""
    return mx.mean(mx.square(y_pred - y_true))


mean_squared_error = mse


def mean_absolute_error(y_true: mx.array, y_pred: mx.array) -> mx.array:
    r"""Mean absolute error :math:`\frac{1}{n}\sum_i \lvert \hat y_i - y_i \rvert`."""
    return mx.mean(mx.abs(y_pred - y_true))


def binary_crossentropy(y_true: mx.array, y_pred: mx.array, from_logits: bool = False) -> mx.array:
    r"""Mean of :math:`-[y \log p + (1 - y) \log(1 - p)]` over all elements.

    With ``from_logits`` the predictions are logits :math:`z`, :math:`p = \sigma(z)`, and the
    loss is evaluated as :math:`\max(z, 0) - zy + \log(1 + e^{-\lvert z \rvert})`.
    """
    if from_logits:
        loss = mx.maximum(y_pred, 0) - y_pred * y_true + mx.log1p(mx.exp(-mx.abs(y_pred)))
    else:
        p = mx.clip(y_pred, _EPSILON, 1 - _EPSILON)
        loss = -(y_true * mx.log(p) + (1 - y_true) * mx.log(1 - p))
    return mx.mean(loss)


def _log_probabilities(y_pred: mx.array, from_logits: bool, axis: int) -> mx.array:
    if from_logits:
        return y_pred - mx.logsumexp(y_pred, axis=axis, keepdims=True)
    probs = y_pred / mx.sum(y_pred, axis=axis, keepdims=True)
    return mx.log(mx.clip(probs, _EPSILON, 1 - _EPSILON))


def categorical_crossentropy(
    y_true: mx.array, y_pred: mx.array, from_logits: bool = False, axis: int = -1
) -> mx.array:
    r"""Mean over samples of :math:`-\sum_c y_c \log p_c` for one-hot (or soft) targets.

    ``y_pred`` holds probabilities along ``axis`` (renormalized to sum to one), or logits
    with ``from_logits``.
    """
    log_probs = _log_probabilities(y_pred, from_logits, axis)
    return mx.mean(-mx.sum(y_true * log_probs, axis=axis))


def sparse_categorical_crossentropy(
    y_true: mx.array, y_pred: mx.array, from_logits: bool = False, axis: int = -1
) -> mx.array:
    r"""Mean over samples of :math:`-\log p_{y}` for integer class labels ``y_true``.

    ``y_true`` has the shape of ``y_pred`` without ``axis``; ``y_pred`` holds probabilities
    or, with ``from_logits``, logits.
    """
    log_probs = _log_probabilities(y_pred, from_logits, axis)
    labels = mx.expand_dims(mx.astype(y_true, mx.int32), axis)
    return mx.mean(-mx.take_along_axis(log_probs, labels, axis=axis))


def huber_loss(y_true: mx.array, y_pred: mx.array, delta: float = 1.0) -> mx.array:
    r"""Mean Huber loss of the error :math:`e = \hat y - y`.

    :math:`\tfrac12 e^2` where :math:`\lvert e \rvert \le \delta`, else
    :math:`\delta (\lvert e \rvert - \tfrac12 \delta)`.
    """
    error = mx.abs(y_pred - y_true)
    quadratic = mx.minimum(error, delta)
    return mx.mean(0.5 * mx.square(quadratic) + delta * (error - quadratic))


def log_cosh_loss(y_true: mx.array, y_pred: mx.array) -> mx.array:
    r"""Mean of :math:`\log\cosh(e)`, :math:`e = \hat y - y`.

    Computed as :math:`\operatorname{logaddexp}(e, -e) - \log 2` so large errors do not overflow.
    """
    error = y_pred - y_true
    return mx.mean(mx.logaddexp(error, -error) - math.log(2.0))
