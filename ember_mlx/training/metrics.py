r"""Evaluation metrics with the seed's names, matching scikit-learn (1.9) value for value.

Every metric is written once in ``mx`` ops (sort, cumulative sums, one-hot matmuls) and runs on
every backend. Metrics are reporting functions, called after training on evaluated arrays: they
read values back to the host (label sets, curve lengths, the returned floats), which is why
they can check values (NaN scores, non-binary labels) as well as shapes.

Inputs are arrays of the active backend, numpy arrays or lists. Labels are 1-D arrays of whole
numbers (integers, booleans, or floats such as ``1.0``); binary labels are 0 and 1 (or
booleans), the positive class being 1. Scores are 1-D arrays of finite numbers.

Returned curves are arrays of the active backend; summary values (dict entries, AUC, AP) are
Python floats, and the counts ``tp``, ``tn``, ``fp``, ``fn`` Python ints.

scikit-learn conventions kept:

- ``classification_metrics``: macro averages over the sorted union of the labels in
  ``y_true`` and ``y_pred`` (``average="macro"``), an undefined per-class precision or recall
  counting as 0 (``zero_division``'s default value).
- ``confusion_matrix``: rows are true labels, columns predicted ones, over that union;
  ``normalize=True`` is ``normalize="true"`` (each row divided by its sum; an empty row is 0).
- ``roc_auc``: ``roc_curve`` with its default ``drop_intermediate=True`` (collinear points
  dropped) and first threshold ``inf``, for the point (0, 0); ``auc`` is ``roc_auc_score``.
- ``precision_recall_curve``: ``drop_intermediate=False`` (its default), the final point
  (recall 0, precision 1) without a threshold; ``average_precision_score`` sums over it.
- Ties in scores form one threshold, as in scikit-learn: tied samples enter the curve together.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ember_mlx.backend import mx
from ember_mlx.ops import loss as losses
from ember_mlx.validation import check_bool, check_fraction


def _array(name: str, y: mx.array, what: str, ndims: tuple[int, ...] = (1,)) -> mx.array:
    """``y`` as a non-empty array of ``ndims`` dimensions; booleans become int32."""
    y = mx.array(y)
    if len(y.shape) not in ndims:
        shapes = " or ".join(f"{n}-D" for n in ndims)
        raise ValueError(f"{name}: expected a {shapes} array of {what}, got shape {tuple(y.shape)}")
    if 0 in tuple(y.shape):
        raise ValueError(f"{name}: expected at least one value, got an empty array")
    if y.dtype == mx.bool_:
        y = mx.astype(y, mx.int32)
    return y


def _first(name: str, y: mx.array, bad: mx.array, expected: str) -> None:
    """Raise naming the first element of ``y`` where ``bad`` holds, if there is one."""
    if not mx.any(bad).item():
        return
    flat = int(mx.argmax(mx.astype(mx.reshape(bad, (-1,)), mx.int32)).item())
    where = tuple(int(i) for i in np.unravel_index(flat, tuple(y.shape)))
    index = where[0] if len(where) == 1 else where
    value = mx.reshape(y, (-1,))[flat].item()
    raise ValueError(f"{name}: expected {expected}, got {value} at index {index}")


def _same_length(y_true: mx.array, name: str, other: mx.array) -> None:
    if other.shape[0] != y_true.shape[0]:
        raise ValueError(
            f"{name}: expected {y_true.shape[0]} values (as many as y_true), got {other.shape[0]}"
        )


def _labels(name: str, y: mx.array) -> mx.array:
    """``y`` as a 1-D array of class labels (whole numbers)."""
    y = _array(name, y, "class labels")
    if mx.issubdtype(y.dtype, mx.floating):
        _first(name, y, mx.logical_not(mx.floor(y) == y), "class labels (whole numbers)")
    return y


def _binary_labels(name: str, y: mx.array) -> mx.array:
    """``y`` as a 1-D array of 0/1 labels."""
    y = _labels(name, y)
    _first(name, y, mx.logical_not(mx.logical_or(y == 0, y == 1)), "binary labels 0 or 1")
    return mx.astype(y, mx.int32)


def _numbers(name: str, y: mx.array, what: str, ndims: tuple[int, ...] = (1,)) -> mx.array:
    """``y`` as a floating array of finite numbers (float32 unless already floating)."""
    y = _array(name, y, what, ndims)
    if not mx.issubdtype(y.dtype, mx.floating):
        y = mx.astype(y, mx.float32)
    _first(name, y, mx.logical_not(mx.isfinite(y)), f"finite {what}")
    return y


def _binary_inputs(y_true: mx.array, y_score: mx.array) -> tuple[mx.array, mx.array]:
    y_true = _binary_labels("y_true", y_true)
    y_score = _numbers("y_score", y_score, "scores")
    _same_length(y_true, "y_score", y_score)
    return y_true, y_score


def _nonzero(mask: mx.array) -> mx.array:
    """The indices where the 1-D boolean ``mask`` holds, in increasing order."""
    count = int(mx.sum(mx.astype(mask, mx.int32)).item())
    positions = mx.where(mask, mx.arange(mask.shape[0]), mask.shape[0])
    return mx.sort(positions)[:count]


def _unique(y: mx.array) -> mx.array:
    """The sorted distinct values of the 1-D array ``y``."""
    y = mx.sort(y)
    first = mx.concatenate([mx.array([True]), y[1:] != y[:-1]])
    return mx.take(y, _nonzero(first))


def _one_hot(y: mx.array, labels: mx.array) -> mx.array:
    """``(n, K)`` float32 indicators of ``y[i] == labels[k]``."""
    return mx.astype(mx.expand_dims(y, 1) == mx.expand_dims(labels, 0), mx.float32)


def _label_pair(y_true: mx.array, y_pred: mx.array) -> tuple[mx.array, mx.array, mx.array]:
    """Both label arrays checked, in one dtype, with the sorted union of their labels."""
    y_true, y_pred = _labels("y_true", y_true), _labels("y_pred", y_pred)
    _same_length(y_true, "y_pred", y_pred)
    if y_true.dtype != y_pred.dtype:
        y_true, y_pred = mx.astype(y_true, mx.float32), mx.astype(y_pred, mx.float32)
    return y_true, y_pred, _unique(mx.concatenate([y_true, y_pred]))


def _divide(numerator: mx.array, denominator: mx.array) -> mx.array:
    """``numerator / denominator``, 0 where the denominator is 0 (``zero_division=0``)."""
    safe = mx.where(denominator > 0, denominator, 1)
    return mx.where(denominator > 0, numerator / safe, 0.0)


def confusion_matrix(y_true: mx.array, y_pred: mx.array, normalize: bool = False) -> mx.array:
    r"""The confusion matrix :math:`C_{ij} = \#\{n : y_n = l_i,\ \hat y_n = l_j\}`.

    Rows are true labels, columns predicted labels, both over :math:`l`, the sorted union of
    the labels in ``y_true`` and ``y_pred`` (``sklearn.metrics.confusion_matrix``).

    Args:
        y_true: True labels, shape ``(n,)``.
        y_pred: Predicted labels, shape ``(n,)``.
        normalize: Divide each row by its sum, :math:`C_{ij} / \sum_j C_{ij}` (scikit-learn's
            ``normalize="true"``; a label that only ``y_pred`` holds has a row of zeros).

    Returns:
        A ``(K, K)`` array: int32 counts, or float32 fractions with ``normalize``.

    Raises:
        ValueError: The labels are not 1-D arrays of whole numbers of the same, non-zero length.
        TypeError: ``normalize`` is not a bool.
    """
    normalize = check_bool("normalize", normalize)
    y_true, y_pred, labels = _label_pair(y_true, y_pred)
    counts = mx.matmul(mx.transpose(_one_hot(y_true, labels)), _one_hot(y_pred, labels))
    if normalize:
        return _divide(counts, mx.sum(counts, axis=1, keepdims=True))
    return mx.astype(counts, mx.int32)


def classification_metrics(y_true: mx.array, y_pred: mx.array) -> dict[str, float]:
    r"""Accuracy and macro-averaged precision, recall and F1 of predicted class labels.

    For each label :math:`k` of the sorted union of both arrays' labels (:math:`K` of them),
    with :math:`TP_k, FP_k, FN_k` its true positives, false positives and false negatives:

    .. math::
        P_k = \frac{TP_k}{TP_k + FP_k}, \quad R_k = \frac{TP_k}{TP_k + FN_k}, \quad
        F_k = \frac{2\,TP_k}{2\,TP_k + FP_k + FN_k}, \quad
        \text{precision} = \frac{1}{K} \sum_k P_k, \ \ldots

    An undefined :math:`P_k` (label never predicted) or :math:`R_k` (never true) counts as 0,
    as scikit-learn's ``precision_score(average="macro")`` and friends with their default
    ``zero_division``. Accuracy is the fraction of samples with :math:`\hat y_n = y_n`.

    Args:
        y_true: True labels, shape ``(n,)``.
        y_pred: Predicted labels, shape ``(n,)``.

    Returns:
        ``{"accuracy", "precision", "recall", "f1"}`` as Python floats.

    Raises:
        ValueError: The labels are not 1-D arrays of whole numbers of the same, non-zero length.
    """
    y_true, y_pred, labels = _label_pair(y_true, y_pred)
    true, predicted = _one_hot(y_true, labels), _one_hot(y_pred, labels)
    tp = mx.sum(true * predicted, axis=0)
    true_count, predicted_count = mx.sum(true, axis=0), mx.sum(predicted, axis=0)
    return {
        "accuracy": mx.mean(mx.astype(y_true == y_pred, mx.float32)).item(),
        "precision": mx.mean(_divide(tp, predicted_count)).item(),
        "recall": mx.mean(_divide(tp, true_count)).item(),
        "f1": mx.mean(_divide(2 * tp, true_count + predicted_count)).item(),
    }


def binary_classification_metrics(
    y_true: mx.array, y_pred: mx.array, threshold: float = 0.5
) -> dict[str, float | int]:
    r"""Metrics of probabilities thresholded into binary predictions.

    A sample is predicted positive when :math:`p_n \ge t`: the convention of scikit-learn
    (``roc_curve``'s points and ``FixedThresholdClassifier``), so these counts are the ROC
    curve's point at threshold :math:`t`. (Keras's ``BinaryAccuracy`` uses :math:`p_n > t`.)
    Then :math:`P = TP / (TP + FP)`, :math:`R = TP / (TP + FN)`,
    :math:`F_1 = 2\,TP / (2\,TP + FP + FN)`, each 0 where undefined (``zero_division=0``), and
    accuracy :math:`(TP + TN) / n`; ``precision_score`` etc. with ``average="binary"``.

    Args:
        y_true: True labels 0 or 1 (or booleans), shape ``(n,)``; 1 is the positive class.
        y_pred: Predicted probabilities of the positive class, in :math:`[0, 1]`, shape ``(n,)``.
        threshold: :math:`t \in [0, 1]`.

    Returns:
        ``{"accuracy", "precision", "recall", "f1"}`` as Python floats and
        ``{"tp", "tn", "fp", "fn"}`` as Python ints.

    Raises:
        ValueError: ``y_true`` is not 1-D binary, ``y_pred`` not 1-D probabilities of the same
            length (or holds NaN), or ``threshold`` is outside :math:`[0, 1]`.
        TypeError: ``threshold`` is not a number.
    """
    threshold = check_fraction("threshold", threshold)
    y_true = _binary_labels("y_true", y_true)
    y_pred = _numbers("y_pred", y_pred, "probabilities")
    _same_length(y_true, "y_pred", y_pred)
    _first("y_pred", y_pred, mx.logical_or(y_pred < 0, y_pred > 1), "probabilities in [0, 1]")
    positive, predicted = y_true == 1, y_pred >= threshold

    def count(actual: mx.array, guessed: mx.array) -> int:
        return int(mx.sum(mx.astype(mx.logical_and(actual, guessed), mx.int32)).item())

    tp, fn = count(positive, predicted), count(positive, mx.logical_not(predicted))
    fp = count(mx.logical_not(positive), predicted)
    tn = y_true.shape[0] - tp - fn - fp
    return {
        "accuracy": (tp + tn) / y_true.shape[0],
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0,
        "tp": tp,
        "tn": tn,
        "fp": fp,
        "fn": fn,
    }


def _threshold_counts(y_true: mx.array, y_score: mx.array) -> tuple[mx.array, mx.array, mx.array]:
    r"""False and true positive counts (int32) at each distinct score, in decreasing order.

    At threshold :math:`s` (a distinct score) the counts are over the samples scored
    :math:`\ge s`: tied samples enter together (scikit-learn's ``_binary_clf_curve``).
    """
    order = mx.argsort(-y_score)
    scores = mx.take(y_score, order)
    positives = mx.astype(mx.cumsum(mx.take(y_true, order)), mx.int32)
    ends = _nonzero(mx.concatenate([scores[1:] != scores[:-1], mx.array([True])]))
    tps = mx.take(positives, ends)
    fps = mx.astype(ends, mx.int32) + 1 - tps
    return fps, tps, mx.take(scores, ends)


def roc_auc(y_true: mx.array, y_score: mx.array) -> tuple[mx.array, mx.array, mx.array, float]:
    r"""The ROC curve and the area under it.

    At each distinct score :math:`s` (decreasing), :math:`\mathrm{TPR} = TP / P` and
    :math:`\mathrm{FPR} = FP / N` over the samples scored :math:`\ge s`. The curve is
    ``sklearn.metrics.roc_curve`` with its defaults: points collinear with their neighbours
    are dropped (``drop_intermediate=True``; the area is unchanged) and the curve starts at
    (0, 0) with threshold ``inf``. The area is the trapezoidal rule,
    :math:`\mathrm{AUC} = \sum_i (F_i - F_{i-1}) (T_i + T_{i-1}) / 2`, which is
    ``roc_auc_score`` (the probability that a random positive outscores a random negative,
    ties counting one half).

    Args:
        y_true: True labels 0 or 1 (or booleans), shape ``(n,)``; 1 is the positive class.
        y_score: Scores, higher meaning more likely positive, shape ``(n,)``.

    Returns:
        ``(fpr, tpr, thresholds, auc)``: float32 ``fpr`` and ``tpr``, ``thresholds`` in
        ``y_score``'s float dtype (float32 for integers), decreasing, and ``auc`` a float.

    Raises:
        ValueError: ``y_true`` is not 1-D binary or holds one class only (the AUC is undefined;
            scikit-learn 1.9 warns and returns NaN, earlier versions raise), or ``y_score`` is
            not 1-D finite scores of the same length.
    """
    y_true, y_score = _binary_inputs(y_true, y_score)
    fps, tps, thresholds = _threshold_counts(y_true, y_score)
    positives, negatives = int(tps[-1].item()), int(fps[-1].item())
    if positives == 0 or negatives == 0:
        only = 1 if negatives == 0 else 0
        raise ValueError(
            f"y_true: expected both classes 0 and 1, got only class {only} "
            "(the ROC AUC is undefined with one class)"
        )
    if fps.shape[0] > 2:
        corner = mx.logical_or(
            fps[2:] - 2 * fps[1:-1] + fps[:-2] != 0, tps[2:] - 2 * tps[1:-1] + tps[:-2] != 0
        )
        keep = _nonzero(mx.concatenate([mx.array([True]), corner, mx.array([True])]))
        fps, tps, thresholds = mx.take(fps, keep), mx.take(tps, keep), mx.take(thresholds, keep)
    start = mx.zeros((1,), mx.float32)
    fpr = mx.concatenate([start, mx.astype(fps, mx.float32) / negatives])
    tpr = mx.concatenate([start, mx.astype(tps, mx.float32) / positives])
    thresholds = mx.concatenate([mx.full((1,), math.inf, thresholds.dtype), thresholds])
    auc = mx.sum((fpr[1:] - fpr[:-1]) * (tpr[1:] + tpr[:-1])) / 2
    return fpr, tpr, thresholds, auc.item()


def precision_recall_curve(
    y_true: mx.array, y_score: mx.array
) -> tuple[mx.array, mx.array, mx.array]:
    r"""Precision and recall at each distinct score, as ``sklearn.metrics.precision_recall_curve``.

    At each distinct score :math:`s`, over the samples scored :math:`\ge s`:
    :math:`P = TP / (TP + FP)` and :math:`R = TP / P_{\text{all}}`. The points run by
    increasing threshold (decreasing recall), and a last point :math:`(R, P) = (0, 1)` without a
    threshold ends the curve. With no positive in ``y_true`` recall is 1 everywhere and a
    warning is issued, as scikit-learn does.

    Args:
        y_true: True labels 0 or 1 (or booleans), shape ``(n,)``; 1 is the positive class.
        y_score: Scores, higher meaning more likely positive, shape ``(n,)``.

    Returns:
        ``(precision, recall, thresholds)``: float32 ``precision`` and ``recall`` of length
        :math:`m + 1`, ``thresholds`` (increasing, ``y_score``'s float dtype) of length
        :math:`m`, the number of distinct scores.

    Raises:
        ValueError: ``y_true`` is not 1-D binary, or ``y_score`` not 1-D finite scores of the
            same length.
    """
    y_true, y_score = _binary_inputs(y_true, y_score)
    fps, tps, thresholds = _threshold_counts(y_true, y_score)
    positives = int(tps[-1].item())
    tps_f = mx.astype(tps, mx.float32)
    precision = tps_f / (tps_f + mx.astype(fps, mx.float32))
    if positives == 0:
        warnings.warn(
            "y_true: no positive sample, recall is set to 1 for every threshold", stacklevel=2
        )
        recall = mx.ones(tps.shape, mx.float32)
    else:
        recall = tps_f / positives
    return (
        mx.concatenate([mx.flip(precision), mx.ones((1,), mx.float32)]),
        mx.concatenate([mx.flip(recall), mx.zeros((1,), mx.float32)]),
        mx.flip(thresholds),
    )


def average_precision_score(y_true: mx.array, y_score: mx.array) -> float:
    r"""Average precision, the precision-recall curve summed as a step function.

    .. math::
        \mathrm{AP} = \sum_n (R_n - R_{n-1}) P_n

    over the points of :func:`precision_recall_curve` by decreasing threshold (no interpolation),
    as ``sklearn.metrics.average_precision_score``. With no positive in ``y_true`` it is 0.

    Args:
        y_true: True labels 0 or 1 (or booleans), shape ``(n,)``; 1 is the positive class.
        y_score: Scores, higher meaning more likely positive, shape ``(n,)``.

    Raises:
        ValueError: ``y_true`` is not 1-D binary, or ``y_score`` not 1-D finite scores of the
            same length.
    """
    precision, recall, _ = precision_recall_curve(y_true, y_score)
    return max(0.0, mx.sum((recall[:-1] - recall[1:]) * precision[:-1]).item())


def regression_metrics(y_true: mx.array, y_pred: mx.array) -> dict[str, float]:
    r"""Mean squared error, its root, mean absolute error and :math:`R^2`.

    :math:`\mathrm{MSE} = \frac1n \sum_i (\hat y_i - y_i)^2`, :math:`\mathrm{RMSE} =
    \sqrt{\mathrm{MSE}}`, :math:`\mathrm{MAE} = \frac1n \sum_i \lvert \hat y_i - y_i \rvert`
    (over all elements; :func:`ember_mlx.ops.loss.mse` and ``mean_absolute_error``) and, per
    output column,

    .. math::
        R^2 = 1 - \frac{\sum_i (y_i - \hat y_i)^2}{\sum_i (y_i - \bar y)^2}

    averaged over columns, as ``sklearn.metrics.r2_score``: a constant ``y_true`` column scores
    1 if predicted exactly, else 0, and with fewer than two samples :math:`R^2` is NaN. For one
    output the four match scikit-learn's ``mean_squared_error``, ``root_mean_squared_error``,
    ``mean_absolute_error`` and ``r2_score``; for several, scikit-learn's RMSE averages the
    columns' RMSEs where this one is :math:`\sqrt{\mathrm{MSE}}`.

    Args:
        y_true: True values, shape ``(n,)`` or ``(n, outputs)``.
        y_pred: Predicted values, the same shape.

    Returns:
        ``{"mse", "rmse", "mae", "r2"}`` as Python floats.

    Raises:
        ValueError: The arrays are not 1-D or 2-D arrays of finite numbers of one shape.
    """
    y_true = _numbers("y_true", y_true, "values", (1, 2))
    y_pred = _numbers("y_pred", y_pred, "values", (1, 2))
    if tuple(y_pred.shape) != tuple(y_true.shape):
        raise ValueError(
            f"y_pred: expected shape {tuple(y_true.shape)} (y_true's), got {tuple(y_pred.shape)}"
        )
    mse = losses.mse(y_true, y_pred).item()
    r2 = math.nan
    if y_true.shape[0] > 1:
        y_true = mx.astype(y_true, y_pred.dtype)
        residual = mx.sum(mx.square(y_true - y_pred), axis=0)
        # Shifted by the first row, a constant column is exactly 0 and its total exactly 0.
        shifted = y_true - y_true[:1]
        total = mx.sum(mx.square(shifted - mx.mean(shifted, axis=0)), axis=0)
        exact = mx.where(residual == 0, 1.0, 0.0)
        r2 = mx.mean(mx.where(total != 0, 1 - _divide(residual, total), exact)).item()
    return {
        "mse": mse,
        "rmse": math.sqrt(mse),
        "mae": losses.mean_absolute_error(y_true, y_pred).item(),
        "r2": r2,
    }
