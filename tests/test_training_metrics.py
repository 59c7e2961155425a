"""ember_mlx.training.metrics against scikit-learn, on random data with tied scores.

scikit-learn is the reference (a test-only dependency). Our curves are float32 and
scikit-learn's float64, hence the 1e-6 tolerances; thresholds are compared exactly. The seed's
metrics example ("Evaluating a Model with Metrics", ``data/seed_training.md``, ``seeds/003``
verbatim) runs as written once ``ember_ml`` reads ``ember_mlx``.
"""

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as skm

from ember_mlx.backend import mx, to_numpy
from ember_mlx.training import (
    average_precision_score,
    binary_classification_metrics,
    classification_metrics,
    confusion_matrix,
    precision_recall_curve,
    regression_metrics,
    roc_auc,
)

SEED = Path(__file__).parent / "data" / "seed_training.md"
TOL = {"rtol": 1e-6, "atol": 1e-6}
APPROX = {"rel": 1e-6, "abs": 1e-6}
ARRAY = type(mx.zeros((1,)))


def scores(rng, kind: str, n: int) -> np.ndarray:
    """Scores with many ties (8 levels), all distinct, all one value, or integers."""
    if kind == "ties":
        return (rng.integers(0, 8, n) / 8).astype(np.float32)
    if kind == "distinct":
        return rng.random(n).astype(np.float32)
    if kind == "constant":
        return np.full(n, 0.3, np.float32)
    return rng.integers(-3, 4, n)


@pytest.fixture(params=[("ties", 40), ("ties", 7), ("distinct", 30), ("constant", 9), ("int", 25)])
def binary_data(request, rng):
    kind, n = request.param
    y_true = rng.integers(0, 2, n)
    y_true[:2] = [0, 1]  # both classes
    return y_true, scores(rng, kind, n)


# --- curves ---------------------------------------------------------------------------------


def test_roc_auc_matches_roc_curve_and_roc_auc_score(binary_data):
    y_true, y_score = binary_data
    fpr, tpr, thresholds, auc = roc_auc(mx.array(y_true), mx.array(y_score))
    ref_fpr, ref_tpr, ref_thresholds = skm.roc_curve(y_true, y_score)  # drop_intermediate=True
    assert all(isinstance(a, ARRAY) for a in (fpr, tpr, thresholds))
    np.testing.assert_allclose(to_numpy(fpr), ref_fpr, **TOL)
    np.testing.assert_allclose(to_numpy(tpr), ref_tpr, **TOL)
    np.testing.assert_array_equal(to_numpy(thresholds).astype(np.float64), ref_thresholds)
    assert to_numpy(thresholds)[0] == np.inf
    assert isinstance(auc, float) and auc == pytest.approx(
        skm.roc_auc_score(y_true, y_score), **APPROX
    )


def test_roc_drops_collinear_points_as_scikit_learn():
    """Distinct scores whose points lie on a straight line are dropped, corners kept."""
    y_true = np.array([1, 1, 1, 0, 0, 1, 0, 0])
    y_score = np.linspace(1.0, 0.3, 8).astype(np.float32)
    fpr, _, thresholds, auc = roc_auc(y_true, y_score)
    ref_fpr, _, ref_thresholds = skm.roc_curve(y_true, y_score)
    assert len(ref_thresholds) < 9 and len(to_numpy(thresholds)) == len(ref_thresholds)
    np.testing.assert_allclose(to_numpy(fpr), ref_fpr, **TOL)
    assert auc == pytest.approx(skm.roc_auc_score(y_true, y_score), **APPROX)


def test_precision_recall_curve_and_average_precision(binary_data):
    y_true, y_score = binary_data
    precision, recall, thresholds = precision_recall_curve(mx.array(y_true), mx.array(y_score))
    ref_precision, ref_recall, ref_thresholds = skm.precision_recall_curve(y_true, y_score)
    np.testing.assert_allclose(to_numpy(precision), ref_precision, **TOL)
    np.testing.assert_allclose(to_numpy(recall), ref_recall, **TOL)
    np.testing.assert_array_equal(to_numpy(thresholds).astype(np.float64), ref_thresholds)
    ap = average_precision_score(mx.array(y_true), mx.array(y_score))
    assert isinstance(ap, float)
    assert ap == pytest.approx(skm.average_precision_score(y_true, y_score), **APPROX)


def test_no_positive_sample_warns_as_scikit_learn():
    y_true, y_score = np.zeros(5, np.int32), np.array([0.1, 0.4, 0.4, 0.9, 0.2], np.float32)
    with pytest.warns(UserWarning, match="y_true: no positive sample"):
        precision, recall, _ = precision_recall_curve(y_true, y_score)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_precision, ref_recall, _ = skm.precision_recall_curve(y_true, y_score)
        ref_ap = skm.average_precision_score(y_true, y_score)
        ap = average_precision_score(y_true, y_score)
    np.testing.assert_allclose(to_numpy(precision), ref_precision, **TOL)
    np.testing.assert_allclose(to_numpy(recall), ref_recall, **TOL)
    assert ap == ref_ap == 0.0


def test_boolean_labels_and_list_inputs():
    y_true, y_score = [True, False, True, True, False], [0.9, 0.1, 0.5, 0.5, 0.5]
    *_, auc = roc_auc(mx.array(y_true), y_score)
    assert auc == pytest.approx(skm.roc_auc_score(y_true, y_score), **APPROX)
    assert average_precision_score(y_true, y_score) == pytest.approx(
        skm.average_precision_score(y_true, y_score), **APPROX
    )


# --- label metrics --------------------------------------------------------------------------


@pytest.fixture(params=["same", "missing", "float"])
def label_data(request, rng):
    """Labels 0..3; "missing": y_pred never says 0 and says 4, which y_true never holds."""
    y_true = rng.integers(0, 4, 50)
    y_pred = np.where(rng.random(50) < 0.5, y_true, rng.integers(0, 4, 50))
    if request.param == "missing":
        y_pred = np.where(y_pred == 0, 4, y_pred)
    if request.param == "float":
        y_true, y_pred = y_true.astype(np.float32), y_pred.astype(np.float32)
    return y_true, y_pred


def test_classification_metrics_macro_average(label_data):
    y_true, y_pred = label_data
    result = classification_metrics(mx.array(y_true), mx.array(y_pred))
    macro = {"average": "macro", "zero_division": 0}
    expected = {
        "accuracy": skm.accuracy_score(y_true, y_pred),
        "precision": skm.precision_score(y_true, y_pred, **macro),
        "recall": skm.recall_score(y_true, y_pred, **macro),
        "f1": skm.f1_score(y_true, y_pred, **macro),
    }
    assert result == pytest.approx(expected, **APPROX)
    assert all(isinstance(v, float) for v in result.values())


def test_confusion_matrix(label_data):
    y_true, y_pred = label_data
    counts = confusion_matrix(mx.array(y_true), mx.array(y_pred))
    assert isinstance(counts, ARRAY) and to_numpy(counts).dtype == np.int32
    np.testing.assert_array_equal(to_numpy(counts), skm.confusion_matrix(y_true, y_pred))
    fractions = confusion_matrix(mx.array(y_true), mx.array(y_pred), normalize=True)
    reference = skm.confusion_matrix(y_true, y_pred, normalize="true")
    np.testing.assert_allclose(to_numpy(fractions), reference, **TOL)


@pytest.mark.parametrize("threshold", [0.0, 0.5, 0.75, 1.0])
def test_binary_classification_metrics(rng, threshold):
    y_true = rng.integers(0, 2, 40)
    y_pred = (rng.integers(0, 5, 40) / 4).astype(np.float32)  # values equal to the thresholds
    result = binary_classification_metrics(mx.array(y_true), mx.array(y_pred), threshold)
    predicted = (y_pred >= threshold).astype(int)
    tn, fp, fn, tp = skm.confusion_matrix(y_true, predicted, labels=[0, 1]).ravel()
    expected = {
        "accuracy": skm.accuracy_score(y_true, predicted),
        "precision": skm.precision_score(y_true, predicted, zero_division=0),
        "recall": skm.recall_score(y_true, predicted, zero_division=0),
        "f1": skm.f1_score(y_true, predicted, zero_division=0),
        "tp": tp,
        "tn": tn,
        "fp": fp,
        "fn": fn,
    }
    assert result == pytest.approx(expected, **APPROX)
    assert all(isinstance(result[k], int) for k in ("tp", "tn", "fp", "fn"))


def test_binary_metrics_count_the_roc_point_at_the_threshold(rng):
    """``p >= t`` is positive: the counts at threshold t are the ROC curve's point at t."""
    y_true, y_score = rng.integers(0, 2, 30), (rng.integers(0, 5, 30) / 4).astype(np.float32)
    ref_fpr, ref_tpr, ref_thresholds = skm.roc_curve(y_true, y_score, drop_intermediate=False)
    i = int(np.flatnonzero(ref_thresholds == 0.5)[0])
    result = binary_classification_metrics(y_true, y_score, 0.5)
    assert result["fp"] / (result["fp"] + result["tn"]) == pytest.approx(ref_fpr[i])
    assert result["tp"] / (result["tp"] + result["fn"]) == pytest.approx(ref_tpr[i])


# --- regression -----------------------------------------------------------------------------


def sklearn_regression_metrics(y_true, y_pred) -> dict:
    """What :func:`regression_metrics` should return, from scikit-learn."""
    mse = skm.mean_squared_error(y_true, y_pred)
    return {
        "mse": mse,
        "rmse": np.sqrt(mse),
        "mae": skm.mean_absolute_error(y_true, y_pred),
        "r2": skm.r2_score(y_true, y_pred),
    }


@pytest.mark.parametrize("shape", [(30,), (30, 3)])
def test_regression_metrics(rng, shape):
    y_true = rng.normal(size=shape).astype(np.float32)
    y_pred = (y_true + 0.5 * rng.normal(size=shape)).astype(np.float32)
    if len(shape) == 2:
        y_true[:, 2] = 1.5  # a constant column: R^2 is 0 unless predicted exactly
    result = regression_metrics(mx.array(y_true), mx.array(y_pred))
    expected = sklearn_regression_metrics(y_true, y_pred)
    assert result == pytest.approx(expected, rel=1e-5, abs=1e-6)
    if len(shape) == 1:
        assert result["rmse"] == pytest.approx(skm.root_mean_squared_error(y_true, y_pred))


def test_r2_edge_cases_follow_scikit_learn():
    constant = np.full(4, 2.0, np.float32)
    assert regression_metrics(constant, constant)["r2"] == skm.r2_score(constant, constant) == 1.0
    assert regression_metrics(constant, constant + 1)["r2"] == skm.r2_score(constant, constant + 1)
    assert np.isnan(regression_metrics([1.0], [2.0])["r2"])


# --- bad input ------------------------------------------------------------------------------

CURVES = [roc_auc, precision_recall_curve, average_precision_score]


@pytest.mark.parametrize("metric", CURVES)
@pytest.mark.parametrize(
    ("y_true", "y_score", "message"),
    [
        ([0, 1, 1], [0.1, 0.2], r"y_score: expected 3 values \(as many as y_true\), got 2"),
        ([], [], "y_true: expected at least one value, got an empty array"),
        (
            [[0], [1]],
            [0.1, 0.2],
            r"y_true: expected a 1-D array of class labels, got shape \(2, 1\)",
        ),
        ([0, 2, 1], [0.1, 0.2, 0.3], "y_true: expected binary labels 0 or 1, got 2 at index 1"),
        (
            [0, 1, 1],
            [0.1, float("nan"), 0.3],
            "y_score: expected finite scores, got nan at index 1",
        ),
        (
            [0, 1, 1],
            [0.1, 0.2, float("inf")],
            "y_score: expected finite scores, got inf at index 2",
        ),
        ([0, 0.5, 1], [0.1, 0.2, 0.3], r"y_true: expected class labels \(whole numbers\), got 0.5"),
        ([0, 1], [[0.1], [0.2, 0.3]], "y_score: expected an array of scores, got"),
    ],
)
def test_curve_errors(metric, y_true, y_score, message):
    with pytest.raises(ValueError, match=message):
        metric(y_true, y_score)


@pytest.mark.parametrize("y_true", [[1, 1, 1], [0, 0, 0]])
def test_roc_auc_needs_both_classes(y_true):
    only = y_true[0]
    with pytest.raises(
        ValueError, match=f"y_true: expected both classes 0 and 1, got only class {only}"
    ):
        roc_auc(y_true, [0.1, 0.5, 0.9])


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"threshold": 1.5}, ValueError, r"threshold: expected a value in \[0.0, 1.0\], got 1.5"),
        ({"threshold": -0.1}, ValueError, r"threshold: expected a value in \[0.0, 1.0\], got -0.1"),
        ({"threshold": "0.5"}, TypeError, "threshold: expected a float"),
        (
            {"y_pred": [0.2, 1.2, 0.5]},
            ValueError,
            r"y_pred: expected probabilities in \[0, 1\], got 1.2",
        ),
        (
            {"y_pred": [0.2, float("nan"), 0.5]},
            ValueError,
            "y_pred: expected finite probabilities, got nan",
        ),
        (
            {"y_true": [0, 1, 3]},
            ValueError,
            "y_true: expected binary labels 0 or 1, got 3 at index 2",
        ),
        (
            {"y_pred": [0.2, 0.5]},
            ValueError,
            r"y_pred: expected 3 values \(as many as y_true\), got 2",
        ),
    ],
)
def test_binary_metrics_errors(kwargs, error, message):
    args = {"y_true": [0, 1, 1], "y_pred": [0.2, 0.7, 0.5], **kwargs}
    with pytest.raises(error, match=message):
        binary_classification_metrics(**args)


@pytest.mark.parametrize("metric", [classification_metrics, confusion_matrix])
@pytest.mark.parametrize(
    ("y_true", "y_pred", "message"),
    [
        ([0, 1, 2], [0, 1], r"y_pred: expected 3 values \(as many as y_true\), got 2"),
        ([], [], "y_true: expected at least one value, got an empty array"),
        ([0, 1], [[0, 1]], r"y_pred: expected a 1-D array of class labels, got shape \(1, 2\)"),
        (
            [0, 1],
            [0.0, 1.5],
            r"y_pred: expected class labels \(whole numbers\), got 1.5 at index 1",
        ),
    ],
)
def test_label_errors(metric, y_true, y_pred, message):
    with pytest.raises(ValueError, match=message):
        metric(y_true, y_pred)


@pytest.mark.parametrize("metric", [classification_metrics, confusion_matrix])
@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_labels_must_be_finite(metric, bad):
    with pytest.raises(ValueError, match=f"y_true: expected finite class labels, got {bad}"):
        metric(np.array([0.0, bad]), np.array([0.0, 1.0]))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: roc_auc([0, 1], np.array([0.1, 0.2 + 1j])), r"y_score: .*real numbers.*complex"),
        (lambda: roc_auc(["a", "b"], [0.1, 0.2]), r"y_true: .*real numbers.*<U1"),
        (lambda: average_precision_score([0, 1], None), r"y_score: .*real numbers.*NoneType"),
        (lambda: confusion_matrix([0, 1], ["a", "b"]), r"y_pred: .*real numbers"),
        (lambda: regression_metrics([1.0, 2.0], [None, 1.0]), r"y_pred: .*real numbers.*object"),
        (
            lambda: roc_auc(mx.array([0, 1]), mx.array(np.array([0.1, 0.2 + 1j]))),
            "y_score: .*real numbers.*complex",
        ),
    ],
)
def test_non_real_inputs_are_named(call, message):
    with pytest.raises(TypeError, match=message):
        call()


def test_confusion_matrix_normalize_must_be_a_bool():
    with pytest.raises(TypeError, match="normalize: expected a bool, got str 'true'"):
        confusion_matrix([0, 1], [0, 1], normalize="true")


@pytest.mark.parametrize(
    ("y_true", "y_pred", "message"),
    [
        ([1.0, 2.0], [1.0], r"y_pred: expected shape \(2,\) \(y_true's\), got \(1,\)"),
        ([1.0, 2.0], [[1.0], [2.0]], r"y_pred: expected shape \(2,\) \(y_true's\), got \(2, 1\)"),
        ([], [], "y_true: expected at least one value, got an empty array"),
        ([1.0, float("nan")], [1.0, 2.0], "y_true: expected finite values, got nan at index 1"),
        (
            [[[1.0]]],
            [[[1.0]]],
            r"y_true: expected a 1-D or 2-D array of values, got shape \(1, 1, 1\)",
        ),
    ],
)
def test_regression_errors(y_true, y_pred, message):
    with pytest.raises(ValueError, match=message):
        regression_metrics(y_true, y_pred)


# --- dtypes: nothing rounded to float32 -------------------------------------------------------
# On torch and MLX ``mx.array`` makes numpy float64 float32; these cases failed there when the
# metrics rounded float64 data (and integer scores and mixed labels) to float32.

CLOSE_SCORES = np.array([1 - 1e-9, 1 - 2e-9, 1 - 3e-9, 0.2])  # distinct in float64 only


@pytest.mark.parametrize("convert", [np.asarray, list], ids=["numpy", "list"])
def test_float64_scores_keep_float64(convert):
    y_true, y_score = np.array([1, 1, 0, 0]), convert(CLOSE_SCORES)
    fpr, tpr, thresholds, auc = roc_auc(y_true, y_score)
    ref_fpr, ref_tpr, ref_thresholds = skm.roc_curve(y_true, y_score)
    assert auc == skm.roc_auc_score(y_true, y_score) == 1.0
    assert to_numpy(thresholds).dtype == np.float64
    np.testing.assert_array_equal(to_numpy(thresholds), ref_thresholds)
    np.testing.assert_allclose(to_numpy(fpr), ref_fpr, **TOL)
    np.testing.assert_allclose(to_numpy(tpr), ref_tpr, **TOL)
    _, _, pr_thresholds = precision_recall_curve(y_true, y_score)
    np.testing.assert_array_equal(
        to_numpy(pr_thresholds), skm.precision_recall_curve(y_true, y_score)[2]
    )
    assert average_precision_score(y_true, y_score) == skm.average_precision_score(y_true, y_score)


def test_float64_backend_array_keeps_float64():
    y_score = mx.array(CLOSE_SCORES, dtype=mx.float64)
    assert roc_auc(mx.array([1, 1, 0, 0]), y_score)[3] == 1.0


def test_large_integer_scores_do_not_tie():
    y_true, y_score = np.array([0, 1, 0]), np.array([16777216, 16777217, 16777218])
    _, _, thresholds, auc = roc_auc(y_true, y_score)
    assert auc == skm.roc_auc_score(y_true, y_score) == 0.5
    assert to_numpy(thresholds).dtype == np.float64  # scikit-learn's, for integer scores
    np.testing.assert_array_equal(to_numpy(thresholds), skm.roc_curve(y_true, y_score)[2])
    precision, _, pr_thresholds = precision_recall_curve(y_true, y_score)
    ref_precision, _, ref_thresholds = skm.precision_recall_curve(y_true, y_score)
    np.testing.assert_allclose(to_numpy(precision), ref_precision, **TOL)
    np.testing.assert_array_equal(to_numpy(pr_thresholds), ref_thresholds)


@pytest.mark.parametrize(
    ("y_true", "y_pred"),
    [
        (np.array([2.0**30, 2.0**30 + 1]), np.array([2.0**30, 2.0**30 + 1])),
        (np.array([16777217, 1], np.int64), np.array([16777216, 1], np.int32)),
        (np.array([16777217, 1]), np.array([16777216.0, 1.0])),
        (np.array([2.0**30, 2.0**30 + 1]), [2**30, 2**30 + 1]),
    ],
    ids=["float64", "int64-int32", "int-float64", "float64-list"],
)
def test_labels_are_compared_without_rounding(y_true, y_pred):
    np.testing.assert_array_equal(
        to_numpy(confusion_matrix(y_true, y_pred)), skm.confusion_matrix(y_true, y_pred)
    )
    macro = {"average": "macro", "zero_division": 0}
    assert classification_metrics(y_true, y_pred) == pytest.approx(
        {
            "accuracy": skm.accuracy_score(y_true, y_pred),
            "precision": skm.precision_score(y_true, y_pred, **macro),
            "recall": skm.recall_score(y_true, y_pred, **macro),
            "f1": skm.f1_score(y_true, y_pred, **macro),
        },
        rel=1e-12,
    )


def test_counts_beyond_float32_precision():
    """2**24 + 5 samples: float32 counts would round; the counts are integers."""
    n = 2**24 + 5
    y_true = np.zeros(n, np.int8)
    y_pred = y_true.copy()
    y_pred[:3] = 1
    counts = confusion_matrix(y_true, y_pred)
    assert to_numpy(counts).dtype == np.int32
    np.testing.assert_array_equal(to_numpy(counts), [[n - 3, 3], [0, 0]])
    # Class 0: TP = n - 3, n true, n - 3 predicted; class 1: 3 predicted, never true.
    expected = {
        "accuracy": (n - 3) / n,
        "precision": (1 + 0) / 2,
        "recall": ((n - 3) / n + 0) / 2,
        "f1": (2 * (n - 3) / (2 * n - 3) + 0) / 2,
    }
    assert classification_metrics(y_true, y_pred) == pytest.approx(expected, rel=1e-15)


def test_curves_sum_in_float64(rng):
    """AP and AUC of many distinct scores match scikit-learn to float64 rounding."""
    y_true, y_score = rng.integers(0, 2, 200_000), rng.random(200_000).astype(np.float32)
    assert average_precision_score(y_true, y_score) == pytest.approx(
        skm.average_precision_score(y_true, y_score), rel=1e-12
    )
    assert roc_auc(y_true, y_score)[3] == pytest.approx(
        skm.roc_auc_score(y_true, y_score), rel=1e-12
    )


@pytest.mark.parametrize(
    ("y_true", "y_pred"),
    [
        (np.array([1e-30, 2e-30, 3e-30]), np.array([1e-30, 2e-30, 4e-30])),
        (np.array([0.1, 0.1, 0.1 + 1e-8]), np.array([0.1 + 1e-9, 0.1, 0.1 + 1e-8])),
        (np.array([1e30, -1e30, 0.0]), np.array([1e30, 1e30, 0.0])),
        ([1.0, 2.0, 3.0 + 1e-9], [1.0, 2.0, 3.0]),
        (np.array([1e8 + 1, 1e8 + 2, 1e8 + 3]), np.array([1e8] * 3, np.float32)),
        (np.array([2**25, 2**25 + 1, 2**25 + 3]), np.array([2**25, 2**25 + 2, 2**25 + 3])),
    ],
    ids=["tiny", "near-constant", "huge", "list", "float64-float32", "int64"],
)
def test_regression_metrics_compute_in_the_wider_dtype(y_true, y_pred):
    expected = sklearn_regression_metrics(y_true, y_pred)
    assert regression_metrics(y_true, y_pred) == pytest.approx(expected, rel=1e-9)


def test_normalize_takes_a_numpy_bool():
    fractions = confusion_matrix([0, 1, 1], [0, 1, 0], normalize=np.True_)
    np.testing.assert_allclose(to_numpy(fractions), [[1.0, 0.0], [0.5, 0.5]])


# --- the seed's example ---------------------------------------------------------------------


def seed_example(title: str) -> str:
    """The ``python`` block under the seed document's heading ``title``, read as ember_mlx."""
    section = SEED.read_text().split(f"### {title}\n", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    return block.replace("ember_ml", "ember_mlx")


def test_seed_metrics_example_runs_as_written(capsys):
    code = seed_example("Evaluating a Model with Metrics")
    namespace = {"__name__": "seed_training_metrics_example"}
    exec(compile(code, "seed_training.md[metrics]", "exec"), namespace)
    y_true, y_pred = [0, 1, 2, 0, 1, 2], [0, 2, 1, 0, 1, 2]
    metrics, cm = namespace["metrics"], namespace["cm"]
    assert metrics["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred))
    assert metrics["f1"] == pytest.approx(skm.f1_score(y_true, y_pred, average="macro"))
    np.testing.assert_array_equal(to_numpy(cm), skm.confusion_matrix(y_true, y_pred))
    printed = capsys.readouterr().out
    assert f"Accuracy: {metrics['accuracy']}\n" in printed
    assert f"Confusion Matrix:\n{cm}\n" in printed
