r"""Evaluation metrics with the seed's names, matching scikit-learn (1.9) value for value.

Every metric is written once in ``mx`` ops (sorts, cumulative sums, integer counts) and runs on
every backend. Metrics are reporting functions, called after training on evaluated arrays: they
read values back to the host (label sets, curve lengths, the returned floats), which is why
they can check values (NaN scores, non-binary labels) as well as shapes.

Inputs are arrays of the active backend, numpy arrays or lists. Labels are 1-D arrays of whole
numbers (integers, booleans, or finite floats such as ``1.0``); binary labels are 0 and 1 (or
booleans), the positive class being 1. Scores are 1-D arrays of finite real numbers.

Dtypes. An array of the backend is taken as it is. Anything else is read by numpy first and
keeps numpy's dtype, float64 included: a numpy float64 array and a list of Python floats are
float64 data, as scikit-learn reads them (``mx.array`` alone would make them float32 on MLX
and torch). Nothing is rounded to a narrower dtype: two label arrays are compared in a dtype
that holds both (their own if they share it, int64 for two integer dtypes, float64 otherwise),
scores are sorted and compared in their own dtype, counts are integers (int32, exact below
:math:`2^{31}` samples), and the summary values (rates, AUC, AP, averages) are computed in
float64 from those counts. On MLX, which has float64 only on the CPU, every metric runs on the
CPU stream (``mx.stream(mx.cpu)``); the mirrors have one stream per device and ignore it.
Complex, string and object inputs raise a TypeError naming the argument.

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

import functools
import math
import warnings
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import numpy as np

from ember_mlx.backend import mx
from ember_mlx.validation import check_bool, check_fraction

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _on_cpu(metric: Callable[_P, _R]) -> Callable[_P, _R]:
    """``metric`` run on the CPU stream, where MLX has float64."""

    @functools.wraps(metric)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with mx.stream(mx.cpu):
            return metric(*args, **kwargs)

    return run


def _array(name: str, y: Any, what: str, ndims: tuple[int, ...] = (1,)) -> mx.array:
    """``y`` as a non-empty real array of ``ndims`` dimensions; booleans become int32.

    A backend array is kept; anything else is read by numpy and keeps numpy's dtype (float64
    stays float64, where ``mx.array`` would give float32 on MLX and torch).
    """
    if not isinstance(y, mx.array):
        try:
            host = np.asarray(y)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{name}: expected an array of {what}, got {error}") from None
        if host.dtype.kind not in "biuf":
            raise TypeError(
                f"{name}: expected an array of {what} (real numbers), got "
                f"{type(y).__name__} of dtype {host.dtype}"
            )
        y = mx.array(host, dtype=mx.float64) if host.dtype == np.float64 else mx.array(host)
    elif mx.issubdtype(y.dtype, mx.complexfloating):
        raise TypeError(f"{name}: expected an array of {what} (real numbers), got {y.dtype}")
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


def _labels(name: str, y: Any) -> mx.array:
    """``y`` as a 1-D array of class labels (whole numbers), in its own dtype."""
    y = _array(name, y, "class labels")
    if mx.issubdtype(y.dtype, mx.floating):
        _first(name, y, mx.logical_not(mx.isfinite(y)), "finite class labels")
        _first(name, y, mx.logical_not(mx.floor(y) == y), "class labels (whole numbers)")
    return y


def _binary_labels(name: str, y: Any) -> mx.array:
    """``y`` as a 1-D int32 array of 0/1 labels."""
    y = _labels(name, y)
    _first(name, y, mx.logical_not(mx.logical_or(y == 0, y == 1)), "binary labels 0 or 1")
    return mx.astype(y, mx.int32)


def _numbers(name: str, y: Any, what: str, ndims: tuple[int, ...] = (1,)) -> mx.array:
    """``y`` as an array of finite real numbers, in its own dtype."""
    y = _array(name, y, what, ndims)
    if mx.issubdtype(y.dtype, mx.floating):
        _first(name, y, mx.logical_not(mx.isfinite(y)), f"finite {what}")
    return y


def _binary_inputs(y_true: Any, y_score: Any) -> tuple[mx.array, mx.array]:
    y_true = _binary_labels("y_true", y_true)
    y_score = _numbers("y_score", y_score, "scores")
    _same_length(y_true, "y_score", y_score)
    return y_true, y_score


def _nonzero(mask: mx.array) -> mx.array:
    """The indices (int32) where the 1-D boolean ``mask`` holds, in increasing order."""
    count = int(mx.sum(mask).item())
    positions = mx.where(mask, mx.arange(mask.shape[0]), mask.shape[0])
    return mx.sort(positions)[:count]


def _counts(codes: mx.array, size: int) -> mx.array:
    """How often each of ``0, ..., size - 1`` occurs in the 1-D int32 array ``codes`` (int32).

    Each value is appended once, so that after sorting every value has a run (its count plus
    one) and the runs come in order: a sort of ``n + size`` values, no ``(n, size)`` one-hot.
    """
    ordered = mx.sort(mx.concatenate([codes, mx.arange(size)]))
    ends = _nonzero(mx.concatenate([ordered[1:] != ordered[:-1], mx.array([True])]))
    return ends - mx.concatenate([mx.array([-1]), ends[:-1]]) - 1


def _label_dtype(a: Any, b: Any) -> Any:
    """A dtype holding every value of dtypes ``a`` and ``b`` (labels are whole numbers)."""
    if a == b:
        return a
    if mx.issubdtype(a, mx.integer) and mx.issubdtype(b, mx.integer):
        return mx.int64
    return mx.float64


def _label_pair(y_true: Any, y_pred: Any) -> tuple[mx.array, mx.array, int]:
    """Both label arrays checked and turned into int32 indices into :math:`l`, the sorted union
    of their labels, with :math:`K`, the number of labels."""
    y_true, y_pred = _labels("y_true", y_true), _labels("y_pred", y_pred)
    _same_length(y_true, "y_pred", y_pred)
    dtype = _label_dtype(y_true.dtype, y_pred.dtype)
    both = mx.concatenate([mx.astype(y_true, dtype), mx.astype(y_pred, dtype)])
    order = mx.argsort(both)
    ordered = mx.take(both, order)
    first = mx.concatenate([mx.array([True]), ordered[1:] != ordered[:-1]])
    rank = mx.cumsum(mx.astype(first, mx.int32)) - 1
    index = mx.take(rank, mx.argsort(order))
    n = y_true.shape[0]
    return index[:n], index[n:], int(mx.sum(first).item())


def _divide(numerator: mx.array, denominator: mx.array) -> mx.array:
    """``numerator / denominator`` in float64, 0 where the denominator is 0
    (``zero_division=0``)."""
    numerator, denominator = mx.astype(numerator, mx.float64), mx.astype(denominator, mx.float64)
    safe = mx.where(denominator > 0, denominator, 1)
    return mx.where(denominator > 0, numerator / safe, 0.0)


@_on_cpu
def confusion_matrix(y_true: Any, y_pred: Any, normalize: bool = False) -> mx.array:
    r"""The confusion matrix :math:`C_{ij} = \#\{n : y_n = l_i,\ \hat y_n = l_j\}`.

    Rows are true labels, columns predicted labels, both over :math:`l`, the sorted union of
    the labels in ``y_true`` and ``y_pred`` (``sklearn.metrics.confusion_matrix``). Labels are
    compared in a dtype holding both arrays' values and counted in integers.

    Args:
        y_true: True labels, shape ``(n,)``.
        y_pred: Predicted labels, shape ``(n,)``.
        normalize: Divide each row by its sum, :math:`C_{ij} / \sum_j C_{ij}` (scikit-learn's
            ``normalize="true"``; a label that only ``y_pred`` holds has a row of zeros). A
            Python or numpy bool.

    Returns:
        A ``(K, K)`` array: int32 counts, or float32 fractions (divided in float64) with
        ``normalize``.

    Raises:
        ValueError: The labels are not 1-D arrays of finite whole numbers of the same, non-zero
            length.
        TypeError: ``normalize`` is not a bool, or the labels are not real numbers.
    """
    normalize = check_bool(
        "normalize", bool(normalize) if isinstance(normalize, np.bool_) else normalize
    )
    true, predicted, k = _label_pair(y_true, y_pred)
    counts = mx.reshape(_counts(true * k + predicted, k * k), (k, k))
    if normalize:
        return mx.astype(_divide(counts, mx.sum(counts, axis=1, keepdims=True)), mx.float32)
    return counts


@_on_cpu
def classification_metrics(y_true: Any, y_pred: Any) -> dict[str, float]:
    r"""Accuracy and macro-averaged precision, recall and F1 of predicted class labels.

    For each label :math:`k` of the sorted union of both arrays' labels (:math:`K` of them),
    with :math:`TP_k, FP_k, FN_k` its true positives, false positives and false negatives:

    .. math::
        P_k = \frac{TP_k}{TP_k + FP_k}, \quad R_k = \frac{TP_k}{TP_k + FN_k}, \quad
        F_k = \frac{2\,TP_k}{2\,TP_k + FP_k + FN_k}, \quad
        \text{precision} = \frac{1}{K} \sum_k P_k, \ \ldots

    An undefined :math:`P_k` (label never predicted) or :math:`R_k` (never true) counts as 0,
    as scikit-learn's ``precision_score(average="macro")`` and friends with their default
    ``zero_division``. Accuracy is the fraction of samples with :math:`\hat y_n = y_n`. The
    counts are integers, the ratios and averages float64.

    Args:
        y_true: True labels, shape ``(n,)``.
        y_pred: Predicted labels, shape ``(n,)``.

    Returns:
        ``{"accuracy", "precision", "recall", "f1"}`` as Python floats.

    Raises:
        ValueError: The labels are not 1-D arrays of finite whole numbers of the same, non-zero
            length.
        TypeError: The labels are not real numbers.
    """
    true, predicted, k = _label_pair(y_true, y_pred)
    hit = true == predicted
    tp = _counts(mx.where(hit, true, k), k + 1)[:k]
    true_count, predicted_count = _counts(true, k), _counts(predicted, k)
    return {
        "accuracy": int(mx.sum(hit).item()) / true.shape[0],
        "precision": mx.mean(_divide(tp, predicted_count)).item(),
        "recall": mx.mean(_divide(tp, true_count)).item(),
        "f1": mx.mean(_divide(2 * tp, true_count + predicted_count)).item(),
    }


@_on_cpu
def binary_classification_metrics(
    y_true: Any, y_pred: Any, threshold: float = 0.5
) -> dict[str, float | int]:
    r"""Metrics of probabilities thresholded into binary predictions.

    A sample is predicted positive when :math:`p_n \ge t`: the convention of scikit-learn
    (``roc_curve``'s points and ``FixedThresholdClassifier``), so these counts are the ROC
    curve's point at threshold :math:`t`. (Keras's ``BinaryAccuracy`` uses :math:`p_n > t`.)
    Then :math:`P = TP / (TP + FP)`, :math:`R = TP / (TP + FN)`,
    :math:`F_1 = 2\,TP / (2\,TP + FP + FN)`, each 0 where undefined (``zero_division=0``), and
    accuracy :math:`(TP + TN) / n`; ``precision_score`` etc. with ``average="binary"``.
    ``y_pred`` is compared with :math:`t` in its own dtype.

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
        TypeError: ``threshold`` is not a number, or an array does not hold real numbers.
    """
    threshold = check_fraction("threshold", threshold)
    y_true = _binary_labels("y_true", y_true)
    y_pred = _numbers("y_pred", y_pred, "probabilities")
    _same_length(y_true, "y_pred", y_pred)
    _first("y_pred", y_pred, mx.logical_or(y_pred < 0, y_pred > 1), "probabilities in [0, 1]")
    positive, predicted = y_true == 1, y_pred >= threshold

    def count(actual: mx.array, guessed: mx.array) -> int:
        return int(mx.sum(mx.logical_and(actual, guessed)).item())

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
    r"""False and true positive counts (int32) at each distinct score, in decreasing order,
    with those scores as thresholds (``y_score``'s dtype if floating, else float64).

    At threshold :math:`s` (a distinct score) the counts are over the samples scored
    :math:`\ge s`: tied samples enter together (scikit-learn's ``_binary_clf_curve``). Scores
    are sorted and compared in their own dtype, so distinct integers never tie.
    """
    order = mx.flip(mx.argsort(y_score))
    scores = mx.take(y_score, order)
    positives = mx.cumsum(mx.take(y_true, order))
    ends = _nonzero(mx.concatenate([scores[1:] != scores[:-1], mx.array([True])]))
    tps = mx.take(positives, ends)
    floating = mx.issubdtype(y_score.dtype, mx.floating)
    thresholds = mx.take(scores if floating else mx.astype(scores, mx.float64), ends)
    return ends + 1 - tps, tps, thresholds


@_on_cpu
def roc_auc(y_true: Any, y_score: Any) -> tuple[mx.array, mx.array, mx.array, float]:
    r"""The ROC curve and the area under it.

    At each distinct score :math:`s` (decreasing), :math:`\mathrm{TPR} = TP / P` and
    :math:`\mathrm{FPR} = FP / N` over the samples scored :math:`\ge s`. The curve is
    ``sklearn.metrics.roc_curve`` with its defaults: points collinear with their neighbours
    are dropped (``drop_intermediate=True``; the area is unchanged) and the curve starts at
    (0, 0) with threshold ``inf``. The area is the trapezoidal rule,
    :math:`\mathrm{AUC} = \sum_i (F_i - F_{i-1}) (T_i + T_{i-1}) / 2`, which is
    ``roc_auc_score`` (the probability that a random positive outscores a random negative,
    ties counting one half). Counts are integers; the rates and the area are float64.

    Args:
        y_true: True labels 0 or 1 (or booleans), shape ``(n,)``; 1 is the positive class.
        y_score: Scores, higher meaning more likely positive, shape ``(n,)``.

    Returns:
        ``(fpr, tpr, thresholds, auc)``: float32 ``fpr`` and ``tpr``, ``thresholds`` in
        ``y_score``'s float dtype (float64 for integers, as scikit-learn), decreasing, and
        ``auc`` a float.

    Raises:
        ValueError: ``y_true`` is not 1-D binary or holds one class only (the AUC is undefined;
            scikit-learn 1.9 warns and returns NaN, earlier versions raise), or ``y_score`` is
            not 1-D finite scores of the same length.
        TypeError: An array does not hold real numbers.
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
    start = mx.zeros((1,), mx.float64)
    fpr = mx.concatenate([start, mx.astype(fps, mx.float64) / negatives])
    tpr = mx.concatenate([start, mx.astype(tps, mx.float64) / positives])
    thresholds = mx.concatenate([mx.full((1,), math.inf, thresholds.dtype), thresholds])
    auc = mx.sum((fpr[1:] - fpr[:-1]) * (tpr[1:] + tpr[:-1])) / 2
    return mx.astype(fpr, mx.float32), mx.astype(tpr, mx.float32), thresholds, auc.item()


def _precision_recall(y_true: Any, y_score: Any) -> tuple[mx.array, mx.array, mx.array]:
    """Float64 precision and recall by increasing threshold, ending with the point (0, 1),
    and the thresholds; warns (for the caller's caller) when ``y_true`` has no positive."""
    y_true, y_score = _binary_inputs(y_true, y_score)
    fps, tps, thresholds = _threshold_counts(y_true, y_score)
    positives = int(tps[-1].item())
    tps_f = mx.astype(tps, mx.float64)
    precision = tps_f / (tps_f + mx.astype(fps, mx.float64))
    if positives == 0:
        # Frames: here, the metric, its _on_cpu wrapper, the caller.
        warnings.warn(
            "y_true: no positive sample, recall is set to 1 for every threshold", stacklevel=4
        )
        recall = mx.ones(tps.shape, mx.float64)
    else:
        recall = tps_f / positives
    return (
        mx.concatenate([mx.flip(precision), mx.ones((1,), mx.float64)]),
        mx.concatenate([mx.flip(recall), mx.zeros((1,), mx.float64)]),
        mx.flip(thresholds),
    )


@_on_cpu
def precision_recall_curve(y_true: Any, y_score: Any) -> tuple[mx.array, mx.array, mx.array]:
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
        ``(precision, recall, thresholds)``: float32 ``precision`` and ``recall`` (divided in
        float64) of length :math:`m + 1`, ``thresholds`` (increasing, ``y_score``'s float
        dtype, float64 for integers) of length :math:`m`, the number of distinct scores.

    Raises:
        ValueError: ``y_true`` is not 1-D binary, or ``y_score`` not 1-D finite scores of the
            same length.
        TypeError: An array does not hold real numbers.
    """
    precision, recall, thresholds = _precision_recall(y_true, y_score)
    return mx.astype(precision, mx.float32), mx.astype(recall, mx.float32), thresholds


@_on_cpu
def average_precision_score(y_true: Any, y_score: Any) -> float:
    r"""Average precision, the precision-recall curve summed as a step function.

    .. math::
        \mathrm{AP} = \sum_n (R_n - R_{n-1}) P_n

    over the points of :func:`precision_recall_curve` by decreasing threshold (no interpolation),
    in float64, as ``sklearn.metrics.average_precision_score``. With no positive in ``y_true``
    it is 0.

    Args:
        y_true: True labels 0 or 1 (or booleans), shape ``(n,)``; 1 is the positive class.
        y_score: Scores, higher meaning more likely positive, shape ``(n,)``.

    Raises:
        ValueError: ``y_true`` is not 1-D binary, or ``y_score`` not 1-D finite scores of the
            same length.
        TypeError: An array does not hold real numbers.
    """
    precision, recall, _ = _precision_recall(y_true, y_score)
    return max(0.0, mx.sum((recall[:-1] - recall[1:]) * precision[:-1]).item())


def _regression_dtype(a: Any, b: Any) -> Any:
    """float64 if either dtype is float64 or neither is floating (scikit-learn's float64 for
    integers), else float32."""
    floating = [d for d in (a, b) if mx.issubdtype(d, mx.floating)]
    return mx.float64 if mx.float64 in floating or not floating else mx.float32


@_on_cpu
def regression_metrics(y_true: Any, y_pred: Any) -> dict[str, float]:
    r"""Mean squared error, its root, mean absolute error and :math:`R^2`.

    :math:`\mathrm{MSE} = \frac1n \sum_i (\hat y_i - y_i)^2`, :math:`\mathrm{RMSE} =
    \sqrt{\mathrm{MSE}}`, :math:`\mathrm{MAE} = \frac1n \sum_i \lvert \hat y_i - y_i \rvert`
    (over all elements) and, per output column,

    .. math::
        R^2 = 1 - \frac{\sum_i (y_i - \hat y_i)^2}{\sum_i (y_i - \bar y)^2}

    averaged over columns, as ``sklearn.metrics.r2_score``: a constant ``y_true`` column scores
    1 if predicted exactly, else 0, and with fewer than two samples :math:`R^2` is NaN. For one
    output the four match scikit-learn's ``mean_squared_error``, ``root_mean_squared_error``,
    ``mean_absolute_error`` and ``r2_score``; for several, scikit-learn's RMSE averages the
    columns' RMSEs where this one is :math:`\sqrt{\mathrm{MSE}}`.

    Both arrays are computed in the wider of their dtypes, as scikit-learn: float64 if either
    is float64 (or both are integers), else float32 (half precision is widened to float32).

    Args:
        y_true: True values, shape ``(n,)`` or ``(n, outputs)``.
        y_pred: Predicted values, the same shape.

    Returns:
        ``{"mse", "rmse", "mae", "r2"}`` as Python floats.

    Raises:
        ValueError: The arrays are not 1-D or 2-D arrays of finite numbers of one shape.
        TypeError: An array does not hold real numbers.
    """
    y_true = _numbers("y_true", y_true, "values", (1, 2))
    y_pred = _numbers("y_pred", y_pred, "values", (1, 2))
    if tuple(y_pred.shape) != tuple(y_true.shape):
        raise ValueError(
            f"y_pred: expected shape {tuple(y_true.shape)} (y_true's), got {tuple(y_pred.shape)}"
        )
    dtype = _regression_dtype(y_true.dtype, y_pred.dtype)
    y_true, y_pred = mx.astype(y_true, dtype), mx.astype(y_pred, dtype)
    error = y_pred - y_true
    mse = mx.mean(mx.square(error)).item()
    r2 = math.nan
    if y_true.shape[0] > 1:
        residual = mx.sum(mx.square(error), axis=0)
        # Shifted by the first row, a constant column is exactly 0 and its total exactly 0.
        shifted = y_true - y_true[:1]
        total = mx.sum(mx.square(shifted - mx.mean(shifted, axis=0)), axis=0)
        exact = mx.where(residual == 0, 1.0, 0.0)
        r2 = mx.mean(mx.where(total != 0, 1 - residual / mx.where(total != 0, total, 1), exact))
        r2 = r2.item()
    return {
        "mse": mse,
        "rmse": math.sqrt(mse),
        "mae": mx.mean(mx.abs(error)).item(),
        "r2": r2,
    }
