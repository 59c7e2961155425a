"""Loss functions with the signatures and reductions of ``mlx.nn.losses``.

Every loss takes ``reduction``: ``"none"`` returns the per-element (or per-sample) loss,
``"mean"`` its mean and ``"sum"`` its sum. Integer targets combine with float predictions
through ``mx`` functions, so the result keeps the predictions' float dtype on every backend.
"""

from __future__ import annotations

import math
from typing import Any, Literal, get_args

from .. import core as mx

Reduction = Literal["none", "mean", "sum"]


def _reduce(loss: Any, reduction: Reduction = "none") -> Any:
    if reduction not in get_args(Reduction):
        raise ValueError(f"Invalid reduction {reduction!r}. Must be one of {get_args(Reduction)}.")
    if reduction == "mean":
        return mx.mean(loss)
    if reduction == "sum":
        return mx.sum(loss)
    return loss


def _check_same_shape(a: Any, b: Any, a_name: str, b_name: str) -> None:
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(
            f"{a_name.capitalize()} shape {tuple(a.shape)} does not match "
            f"{b_name} shape {tuple(b.shape)}."
        )


def _apply_weights(loss: Any, weights: Any | None) -> Any:
    if weights is None:
        return loss
    if tuple(weights.shape) != tuple(loss.shape):
        raise ValueError(
            f"Weights with shape {tuple(weights.shape)} is not the same as "
            f"output loss with shape {tuple(loss.shape)}."
        )
    return mx.multiply(loss, weights)


def cross_entropy(
    logits: Any,
    targets: Any,
    weights: Any | None = None,
    axis: int = -1,
    label_smoothing: float = 0.0,
    reduction: Reduction = "none",
) -> Any:
    r"""The cross entropy between ``softmax(logits)`` and the targets.

    .. math::
        \ell = \log \sum_j e^{z_j} - \sum_j t_j z_j

    With label smoothing :math:`s`, the targets become :math:`(1 - s) t + s / C`.

    Args:
        logits: Unnormalised log-probabilities.
        targets: Class indices (the shape of ``logits`` without ``axis``) or probabilities
            (the shape of ``logits``).
        weights: Optional per-sample weights, the shape of the unreduced loss.
        axis: The class axis. Default: ``-1``.
        label_smoothing: The smoothing :math:`s`, in ``[0, 1)``. Default: ``0``.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``. Default: ``"none"``.

    Returns:
        The loss.
    """
    if label_smoothing < 0 or label_smoothing >= 1:
        raise ValueError(f"Label smoothing must be in [0, 1), got {label_smoothing}.")

    targets_as_probs = targets.ndim == logits.ndim
    expected = list(logits.shape)
    if not targets_as_probs:
        expected.pop(axis)
    if tuple(targets.shape) != tuple(expected):
        raise ValueError(
            f"Targets shape {tuple(targets.shape)} does not match logits shape "
            f"{tuple(logits.shape)}."
        )

    logits = logits - mx.stop_gradient(mx.max(logits, axis=axis, keepdims=True))
    if targets_as_probs:
        score = mx.sum(mx.multiply(logits, targets), axis=axis)
    else:
        score = mx.squeeze(mx.take_along_axis(logits, mx.expand_dims(targets, axis), axis), axis)
    logsumexp_logits = mx.logsumexp(logits, axis=axis)
    if label_smoothing > 0:
        smoothed = mx.mean(logits, axis=axis) * label_smoothing
        loss = logsumexp_logits - (1 - label_smoothing) * score - smoothed
    else:
        loss = logsumexp_logits - score
    return _reduce(_apply_weights(loss, weights), reduction)


def binary_cross_entropy(
    inputs: Any,
    targets: Any,
    weights: Any | None = None,
    with_logits: bool = True,
    reduction: Reduction = "mean",
) -> Any:
    r"""The binary cross entropy.

    With logits :math:`z` (the default) it is computed stably as
    :math:`\log(1 + e^z) - z t`; with probabilities :math:`p` as
    :math:`-(t \log p + (1 - t) \log(1 - p))`, each log clipped below at ``-100``.

    Args:
        inputs: Logits, or probabilities when ``with_logits=False``.
        targets: Binary targets in {0, 1}, the shape of ``inputs``.
        weights: Optional weights, the shape of the unreduced loss.
        with_logits: Whether ``inputs`` are logits. Default: ``True``.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``. Default: ``"mean"``.

    Returns:
        The loss.
    """
    _check_same_shape(inputs, targets, "inputs", "targets")
    if with_logits:
        loss = mx.logaddexp(0.0, inputs) - mx.multiply(inputs, targets)
    else:
        log_p = mx.clip(mx.log(inputs), a_min=-100, a_max=None)
        log_not_p = mx.clip(mx.log(1 - inputs), a_min=-100, a_max=None)
        loss = -(mx.multiply(targets, log_p) + mx.multiply(1 - targets, log_not_p))
    return _reduce(_apply_weights(loss, weights), reduction)


def l1_loss(predictions: Any, targets: Any, reduction: Reduction = "mean") -> Any:
    r"""The absolute error, :math:`|x - y|`.

    Args:
        predictions: The predictions.
        targets: The targets, the shape of ``predictions``.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``. Default: ``"mean"``.
    """
    _check_same_shape(predictions, targets, "predictions", "targets")
    return _reduce(mx.abs(predictions - targets), reduction)


def mse_loss(predictions: Any, targets: Any, reduction: Reduction = "mean") -> Any:
    r"""The squared error, :math:`(x - y)^2`.

    Args:
        predictions: The predictions.
        targets: The targets, the shape of ``predictions``.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``. Default: ``"mean"``.
    """
    _check_same_shape(predictions, targets, "predictions", "targets")
    return _reduce(mx.square(predictions - targets), reduction)


def nll_loss(inputs: Any, targets: Any, axis: int = -1, reduction: Reduction = "none") -> Any:
    r"""The negative log likelihood of the target classes, :math:`-\log p_{t}`.

    Args:
        inputs: Log-probabilities.
        targets: Class indices, the shape of ``inputs`` without ``axis``.
        axis: The class axis. Default: ``-1``.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``. Default: ``"none"``.
    """
    picked = mx.take_along_axis(inputs, mx.expand_dims(targets, axis), axis)
    return _reduce(-mx.squeeze(picked, axis), reduction)


def gaussian_nll_loss(
    inputs: Any,
    targets: Any,
    vars: Any,
    full: bool = False,
    eps: float = 1e-6,
    reduction: Reduction = "mean",
) -> Any:
    r"""The negative log likelihood of the targets under :math:`\mathcal{N}(\mu, \sigma^2)`.

    .. math::
        \frac{1}{2}\left(\log \max(\sigma^2, \epsilon)
        + \frac{(\mu - y)^2}{\max(\sigma^2, \epsilon)}\right) + \text{const}

    Args:
        inputs: The predicted means :math:`\mu`.
        targets: The samples :math:`y`.
        vars: The predicted variances :math:`\sigma^2`.
        full: Whether to add the constant :math:`\frac{1}{2}\log 2\pi`. Default: ``False``.
        eps: The floor on the variance. Default: ``1e-6``.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``. Default: ``"mean"``.
    """
    _check_same_shape(inputs, targets, "inputs", "targets")
    _check_same_shape(inputs, vars, "inputs", "vars")
    vars = mx.maximum(vars, eps)
    loss = 0.5 * (mx.log(vars) + mx.square(targets - inputs) / vars)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def kl_div_loss(inputs: Any, targets: Any, axis: int = -1, reduction: Reduction = "none") -> Any:
    r"""The Kullback-Leibler divergence :math:`\sum_i e^{t_i} (t_i - x_i)` along ``axis``.

    Args:
        inputs: Log-probabilities of the predicted distribution.
        targets: Log-probabilities of the target distribution.
        axis: The distribution axis. Default: ``-1``.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``. Default: ``"none"``.
    """
    return _reduce(mx.sum(mx.exp(targets) * (targets - inputs), axis), reduction)


def smooth_l1_loss(
    predictions: Any, targets: Any, beta: float = 1.0, reduction: Reduction = "mean"
) -> Any:
    r"""The smooth L1 loss: quadratic below ``beta``, linear above.

    .. math::
        \ell = \begin{cases} 0.5 (x - y)^2 / \beta & |x - y| < \beta \\
        |x - y| - 0.5 \beta & \text{otherwise} \end{cases}

    Args:
        predictions: The predictions.
        targets: The targets, the shape of ``predictions``.
        beta: The switch point. Default: ``1.0``.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``. Default: ``"mean"``.
    """
    _check_same_shape(predictions, targets, "predictions", "targets")
    diff = mx.abs(predictions - targets)
    loss = mx.where(diff < beta, 0.5 * mx.square(diff) / beta, diff - 0.5 * beta)
    return _reduce(loss, reduction)


def triplet_loss(
    anchors: Any,
    positives: Any,
    negatives: Any,
    axis: int = -1,
    p: int = 2,
    margin: float = 1.0,
    eps: float = 1e-6,
    reduction: Reduction = "none",
) -> Any:
    r"""The triplet margin loss :math:`\max(\|a - p\|_p - \|a - n\|_p + \text{margin}, 0)`.

    Args:
        anchors: The anchor samples.
        positives: Samples to pull towards the anchors.
        negatives: Samples to push away from the anchors.
        axis: The feature axis. Default: ``-1``.
        p: The norm degree. Default: ``2``.
        margin: The margin. Default: ``1.0``.
        eps: Added to the p-th power sums before the root. Default: ``1e-6``.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``. Default: ``"none"``.
    """

    def distance(a: Any, b: Any) -> Any:
        return mx.power(mx.sum(mx.power(mx.abs(a - b), p), axis) + eps, 1.0 / p)

    loss = mx.maximum(distance(anchors, positives) - distance(anchors, negatives) + margin, 0)
    return _reduce(loss, reduction)


def hinge_loss(inputs: Any, targets: Any, reduction: Reduction = "none") -> Any:
    r"""The hinge loss :math:`\max(0, 1 - y \hat y)` for targets :math:`y \in \{-1, 1\}`.

    Args:
        inputs: The predicted scores :math:`\hat y`.
        targets: The targets, -1 or 1.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``. Default: ``"none"``.
    """
    return _reduce(mx.maximum(1 - mx.multiply(inputs, targets), 0), reduction)


def huber_loss(inputs: Any, targets: Any, delta: float = 1.0, reduction: Reduction = "none") -> Any:
    r"""The Huber loss of the error :math:`a = x - y`.

    .. math::
        \ell_\delta(a) = \begin{cases} \frac{1}{2} a^2 & |a| \le \delta \\
        \delta (|a| - \frac{1}{2} \delta) & \text{otherwise} \end{cases}

    Args:
        inputs: The predictions.
        targets: The targets.
        delta: The switch point :math:`\delta`. Default: ``1.0``.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``. Default: ``"none"``.
    """
    abs_errors = mx.abs(inputs - targets)
    quadratic = mx.minimum(abs_errors, delta)
    linear = abs_errors - quadratic
    return _reduce(0.5 * quadratic**2 + delta * linear, reduction)


def log_cosh_loss(inputs: Any, targets: Any, reduction: Reduction = "none") -> Any:
    r"""The log-cosh loss :math:`\log\cosh(x - y)`: quadratic for small errors, linear for
    large ones; computed as :math:`\mathrm{logaddexp}(a, -a) - \log 2` to avoid overflow.

    Args:
        inputs: The predictions.
        targets: The targets.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``. Default: ``"none"``.
    """
    errors = inputs - targets
    return _reduce(mx.logaddexp(errors, -errors) - math.log(2), reduction)


def cosine_similarity_loss(
    x1: Any, x2: Any, axis: int = 1, eps: float = 1e-8, reduction: Reduction = "none"
) -> Any:
    r"""The cosine similarity :math:`\frac{x_1 \cdot x_2}{\max(\|x_1\| \|x_2\|, \epsilon)}`.

    Args:
        x1: The first inputs.
        x2: The second inputs.
        axis: The embedding axis. Default: ``1``.
        eps: The floor on the denominator. Default: ``1e-8``.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``. Default: ``"none"``.
    """
    norms = mx.linalg.norm(x1, axis=axis) * mx.linalg.norm(x2, axis=axis)
    return _reduce(mx.sum(x1 * x2, axis=axis) / mx.maximum(norms, eps), reduction)


def margin_ranking_loss(
    inputs1: Any,
    inputs2: Any,
    targets: Any,
    margin: float = 0.0,
    reduction: Reduction = "none",
) -> Any:
    r"""The margin ranking loss :math:`\max(0, -y (x_1 - x_2) + \text{margin})`.

    Args:
        inputs1: Scores of the first inputs.
        inputs2: Scores of the second inputs.
        targets: 1 where ``inputs1`` should rank higher, -1 where ``inputs2`` should.
        margin: The margin. Default: ``0.0``.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``. Default: ``"none"``.
    """
    if not (tuple(inputs1.shape) == tuple(inputs2.shape) == tuple(targets.shape)):
        raise ValueError(
            "The shapes of the arguments do not match. The provided shapes are "
            f"inputs1.shape={tuple(inputs1.shape)}, inputs2.shape={tuple(inputs2.shape)}, "
            f"and targets.shape={tuple(targets.shape)}."
        )
    loss = mx.maximum(0, mx.multiply(-targets, inputs1 - inputs2) + margin)
    return _reduce(loss, reduction)
