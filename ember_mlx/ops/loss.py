r"""Loss functions with Keras signatures: ``loss(y_true, y_pred)``, averaged to a scalar.

Probabilities are clipped to :math:`[\epsilon, 1 - \epsilon]`, :math:`\epsilon = 10^{-7}`, before
logarithms, as Keras does; with ``from_logits=True`` the losses work on logits directly
through numerically stable log-sigmoid/log-softmax forms instead.

Targets (integer, boolean or float) are cast to the dtype of the predictions, and integer
predictions to float32, so a loss has the same dtype on every backend (the model's dtype, which
training needs; ``ember_mlx.training.regression_metrics`` computes in the wider dtype instead).

Targets and predictions of the losses comparing them element by element (all but
``sparse_categorical_crossentropy``, whose labels lack the class axis) must have one shape: a
ValueError names both shapes rather than broadcast, since ``(n,)`` targets against ``(n, 1)``
predictions would silently average all :math:`n^2` pairs. Scalar targets are refused too.
"""

from __future__ import annotations

import math
from typing import Any

from ember_mlx.backend import get_backend, mx
from ember_mlx.validation import check_real

_EPSILON = 1e-7


def _as_array(x: Any) -> mx.array:
    """``x`` itself if it is an array (no copy: a loss runs every training step), else
    ``mx.array(x)``."""
    return x if isinstance(x, mx.array) else mx.array(x)


def _as_float(y_true: mx.array, y_pred: mx.array) -> tuple[mx.array, mx.array]:
    """``y_pred`` as floats (float32 for integers) and ``y_true`` in the same dtype.

    Raises:
        ValueError: The two shapes differ.
    """
    y_true, y_pred = _as_array(y_true), _as_array(y_pred)
    if tuple(y_true.shape) != tuple(y_pred.shape):
        raise ValueError(
            f"y_pred: expected y_true's shape {tuple(y_true.shape)}, got {tuple(y_pred.shape)} "
            "(y_true and y_pred are not broadcast)"
        )
    if not mx.issubdtype(y_pred.dtype, mx.floating):
        y_pred = mx.astype(y_pred, mx.float32)
    return mx.astype(y_true, y_pred.dtype), y_pred


def mse(y_true: mx.array, y_pred: mx.array) -> mx.array:
    r"""Mean squared error :math:`\frac{1}{n}\sum_i (\hat y_i - y_i)^2`."""
    y_true, y_pred = _as_float(y_true, y_pred)
    return mx.mean(mx.square(y_pred - y_true))


mean_squared_error = mse


def mean_absolute_error(y_true: mx.array, y_pred: mx.array) -> mx.array:
    r"""Mean absolute error :math:`\frac{1}{n}\sum_i \lvert \hat y_i - y_i \rvert`."""
    y_true, y_pred = _as_float(y_true, y_pred)
    return mx.mean(mx.abs(y_pred - y_true))


def binary_crossentropy(y_true: mx.array, y_pred: mx.array, from_logits: bool = False) -> mx.array:
    r"""Mean of :math:`-[y \log p + (1 - y) \log(1 - p)]` over all elements.

    With ``from_logits`` the predictions are logits :math:`z`, :math:`p = \sigma(z)`, and the
    loss is evaluated as :math:`\max(z, 0) - zy + \log(1 + e^{-\lvert z \rvert})`.
    """
    y_true, y_pred = _as_float(y_true, y_pred)
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
    y_true, y_pred = _as_float(y_true, y_pred)
    log_probs = _log_probabilities(y_pred, from_logits, axis)
    return mx.mean(-mx.sum(y_true * log_probs, axis=axis))


def sparse_categorical_crossentropy(
    y_true: mx.array, y_pred: mx.array, from_logits: bool = False, axis: int = -1
) -> mx.array:
    r"""Mean over samples of :math:`-\log p_{y}` for integer class labels ``y_true``.

    ``y_true`` has the shape of ``y_pred`` without ``axis`` and holds labels in ``[0, C)``,
    ``C = y_pred.shape[axis]``; ``y_pred`` holds probabilities or, with ``from_logits``,
    logits. Where arrays are eager and on the host (numpy, torch on the CPU) the labels are
    checked against that range; a lazy MLX or GPU array is not read back, and an out-of-range
    label there gives an unspecified value.

    Raises:
        TypeError: ``y_true`` does not hold integers.
        ValueError: ``y_true`` has the wrong shape, or (eager host arrays) a label outside
            ``[0, C)``.
    """
    y_pred = _as_array(y_pred)
    y_true = _as_array(y_true)
    if not mx.issubdtype(y_true.dtype, mx.integer):
        raise TypeError(f"y_true: expected integer class labels, got dtype {y_true.dtype}")
    classes = y_pred.shape[axis]
    expected = list(y_pred.shape)
    del expected[axis]
    if list(y_true.shape) != expected:
        raise ValueError(
            f"y_true: expected shape {tuple(expected)} (y_pred's without axis {axis}), "
            f"got {tuple(y_true.shape)}"
        )
    on_host = get_backend() != "mlx" and mx.default_device() == mx.cpu
    if on_host and not mx.all(mx.logical_and(y_true >= 0, y_true < classes)).item():
        raise ValueError(
            f"y_true: expected class labels in [0, {classes}), got values from "
            f"{mx.min(y_true).item()} to {mx.max(y_true).item()}"
        )
    if not mx.issubdtype(y_pred.dtype, mx.floating):
        y_pred = mx.astype(y_pred, mx.float32)
    log_probs = _log_probabilities(y_pred, from_logits, axis)
    labels = mx.expand_dims(mx.astype(y_true, mx.int32), axis)
    return mx.mean(-mx.take_along_axis(log_probs, labels, axis=axis))


def huber_loss(y_true: mx.array, y_pred: mx.array, delta: float = 1.0) -> mx.array:
    r"""Mean Huber loss of the error :math:`e = \hat y - y`.

    :math:`\tfrac12 e^2` where :math:`\lvert e \rvert \le \delta`, else
    :math:`\delta (\lvert e \rvert - \tfrac12 \delta)`.

    Raises:
        ValueError: ``delta`` is not a finite number > 0.
    """
    delta = check_real("delta", delta, above=0.0)
    y_true, y_pred = _as_float(y_true, y_pred)
    error = mx.abs(y_pred - y_true)
    quadratic = mx.minimum(error, delta)
    return mx.mean(0.5 * mx.square(quadratic) + delta * (error - quadratic))


def log_cosh_loss(y_true: mx.array, y_pred: mx.array) -> mx.array:
    r"""Mean of :math:`\log\cosh(e)`, :math:`e = \hat y - y`.

    Computed as :math:`\operatorname{logaddexp}(e, -e) - \log 2` so large errors do not overflow.
    """
    y_true, y_pred = _as_float(y_true, y_pred)
    error = y_pred - y_true
    return mx.mean(mx.logaddexp(error, -error) - math.log(2.0))
