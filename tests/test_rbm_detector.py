"""RBMAnomalyDetector: scores, learned and fixed thresholds, the seed's uniform example, ROC AUC on
scikit-learn's digits, save/load of decisions, and bad input."""

from pathlib import Path

import numpy as np
import pytest
from conftest import BACKEND
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score

from ember_mlx.backend import mx, to_numpy
from ember_mlx.models.rbm import RBM, RBMAnomalyDetector

# The seed's example is 1000 x 784 with 256 hidden units; mlx[cpu] here gets a smaller copy.
VISIBLE, HIDDEN, SAMPLES = (784, 256, 1000) if BACKEND != "mlx" else (196, 64, 300)


@pytest.fixture(scope="module")
def uniform_case():
    """The seed's example: normal data uniform in [0, 1], anomalies uniform in [0, 2]."""
    rng = np.random.default_rng(0)
    normal = rng.random((SAMPLES, VISIBLE)).astype(np.float32)
    test_normal = rng.random((100, VISIBLE)).astype(np.float32)
    anomalous = (2.0 * rng.random((100, VISIBLE))).astype(np.float32)
    detector = RBMAnomalyDetector(VISIBLE, HIDDEN, learning_rate=0.01)
    detector.train(normal, epochs=2, batch_size=32, progress=False)
    return detector, normal, test_normal, anomalous


def test_uniform_example_separates_normal_from_anomalous(uniform_case):
    detector, normal, test_normal, anomalous = uniform_case
    normal_scores = to_numpy(detector.score(test_normal))
    anomalous_scores = to_numpy(detector.score(anomalous))
    assert normal_scores.max() < anomalous_scores.min()
    labels = np.r_[np.zeros(100), np.ones(100)]
    assert roc_auc_score(labels, np.r_[normal_scores, anomalous_scores]) == 1.0
    assert to_numpy(detector.detect(anomalous)).all()
    flagged = to_numpy(detector.detect(normal)).mean()
    assert 0.04 <= flagged <= 0.06  # the 95th percentile of the training scores


def test_learned_threshold_is_the_training_percentile(uniform_case):
    detector, normal, test_normal, _ = uniform_case
    scores = to_numpy(detector.score(normal))
    assert detector.threshold.item() == pytest.approx(np.percentile(scores, 95.0), rel=1e-5)
    np.testing.assert_array_equal(
        to_numpy(detector.detect(test_normal)),
        to_numpy(detector.score(test_normal)) > detector.threshold.item(),
    )


def test_scores_are_the_rbm_reconstruction_error_and_free_energy(uniform_case):
    detector, _, test_normal, _ = uniform_case
    rbm = detector.rbm
    np.testing.assert_array_equal(
        to_numpy(detector.score(test_normal)), to_numpy(rbm.reconstruction_error(test_normal))
    )
    np.testing.assert_array_equal(
        to_numpy(detector(test_normal)), to_numpy(rbm.reconstruction_error(test_normal))
    )
    np.testing.assert_array_equal(
        to_numpy(detector.score(test_normal, method="free_energy")),
        to_numpy(rbm.free_energy(test_normal)),
    )


def digits_split(normal_digit):
    """Binary-unit data in [0, 1]: 120 training and the remaining held-out samples of one digit,
    and every other digit as anomalies (with their labels)."""
    digits = load_digits()
    data = (digits.data / 16.0).astype(np.float32)
    normal = data[digits.target == normal_digit]
    others = digits.target != normal_digit
    return normal[:120], normal[120:], data[others], digits.target[others]


@pytest.mark.parametrize("method", ["reconstruction", "free_energy"])
def test_digits_roc_auc(method):
    """Trained on threes; held-out threes against every other digit."""
    train, held_out, anomalous, digit = digits_split(3)
    detector = RBMAnomalyDetector(64, 32, 0.05, method=method, init_std=0.1)
    detector.train(train, epochs=30, batch_size=10, metrics=(), progress=False)
    normal_scores, anomalous_scores = (to_numpy(detector.score(x)) for x in (held_out, anomalous))

    def auc(anomalies):
        labels = np.r_[np.zeros(len(normal_scores)), np.ones(len(anomalies))]
        return roc_auc_score(labels, np.r_[normal_scores, anomalies])

    overall = auc(anomalous_scores)
    worst = min(auc(anomalous_scores[digit == d]) for d in set(digit.tolist()))
    print(f"\ndigits, normal 3, {method}: ROC AUC {overall:.4f}, worst single digit {worst:.4f}")
    assert overall > 0.93 and worst > 0.8


def test_fixed_threshold_is_kept():
    train, _, anomalous, _ = digits_split(0)
    detector = RBMAnomalyDetector(64, 16, 0.05, threshold=0.02)
    detector.train(train, epochs=2, batch_size=20, metrics=(), progress=False)
    assert detector.threshold.item() == pytest.approx(0.02)
    np.testing.assert_array_equal(
        to_numpy(detector.detect(anomalous)),
        to_numpy(detector.score(anomalous)) > np.float32(0.02),
    )


def test_threshold_takes_any_real_scalar_and_the_model_stays_float32(tmp_path):
    for threshold in (np.float32(0.25), np.float64(0.25), 0.25, np.int64(1)):
        detector = RBMAnomalyDetector(8, 4, threshold=threshold)
        assert detector.threshold.item() == float(threshold)
    with pytest.raises(ValueError, match="dtype: RBMAnomalyDetector computes in float32"):
        detector.set_dtype(mx.float16)
    assert detector.threshold.dtype == detector.rbm.weights.dtype == mx.float32
    detector.rbm.learning_rate = 0.5
    path = tmp_path / "detector.safetensors"
    detector.save(path)
    loaded = RBMAnomalyDetector.load(path)
    assert loaded.rbm.learning_rate == 0.5 and loaded.threshold.item() == 1.0


def test_save_and_load_reproduce_decisions(tmp_path):
    train, held_out, anomalous, _ = digits_split(0)
    detector = RBMAnomalyDetector(64, 16, 0.05, method="free_energy", percentile=90.0, seed=3)
    detector.train(train, epochs=3, batch_size=20, metrics=(), progress=False)
    test = np.r_[held_out, anomalous[:200]]
    path = tmp_path / "detector.safetensors"
    detector.save(path)
    loaded = RBMAnomalyDetector.load(path)
    assert loaded.get_config() == detector.get_config() and loaded.method == "free_energy"
    assert loaded.threshold.item() == detector.threshold.item()
    np.testing.assert_array_equal(to_numpy(loaded.score(test)), to_numpy(detector.score(test)))
    np.testing.assert_array_equal(to_numpy(loaded.detect(test)), to_numpy(detector.detect(test)))
    assert type(loaded.rbm) is RBM and loaded.rbm.seed == 3


def test_failed_save_keeps_the_old_detector(tmp_path, monkeypatch):
    """The write dies midway: the previous file is intact and still makes its decisions."""
    data = np.random.default_rng(0).random((40, 8)).astype(np.float32)
    detector = RBMAnomalyDetector(8, 4, 0.05, percentile=80.0)
    detector.train(data, epochs=2, batch_size=10, metrics=(), progress=False)
    path = tmp_path / "detector.safetensors"
    detector.save(path)
    original = path.read_bytes()

    def broken_write(file, arrays, metadata=None):
        Path(file).write_bytes(original[: len(original) // 2])
        raise OSError("disk full")

    monkeypatch.setattr(mx, "save_safetensors", broken_write)
    with pytest.raises(OSError, match="disk full"):
        RBMAnomalyDetector(8, 4, threshold=0.5).save(path)
    monkeypatch.undo()
    assert path.read_bytes() == original
    loaded = RBMAnomalyDetector.load(path)
    assert loaded.threshold.item() == detector.threshold.item()
    np.testing.assert_array_equal(to_numpy(loaded.detect(data)), to_numpy(detector.detect(data)))


def test_bad_input_raises():
    detector = RBMAnomalyDetector(8, 4)
    with pytest.raises(ValueError, match="detect: the threshold is not set"):
        detector.detect(np.zeros((2, 8), np.float32))
    with pytest.raises(ValueError, match=r"data: expected shape \(samples, 8\), got \(2, 5\)"):
        detector.score(np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match="data: expected finite values, got 16 NaN or infinite"):
        detector.score(np.full((2, 8), np.nan, np.float32))
    with pytest.raises(ValueError, match=r"data: expected at least one sample, .*\(0, 8\)"):
        detector.score(np.zeros((0, 8), np.float32))
    with pytest.raises(ValueError, match="method: expected one of"):
        detector.score(np.zeros((2, 8), np.float32), method="energy")
    with pytest.raises(ValueError, match="data: binary visible units"):
        detector.train(np.full((4, 8), 3.0, np.float32), epochs=1, progress=False)
    for kwargs, error, message in [
        ({"method": "distance"}, ValueError, "method: expected one of"),
        ({"percentile": 101.0}, ValueError, "percentile"),
        ({"threshold": float("nan")}, ValueError, "threshold: expected a finite float"),
        ({"threshold": "high"}, TypeError, "threshold: expected a finite float, got str"),
        ({"threshold": True}, TypeError, "threshold: expected a finite float, got bool"),
        ({"visible_type": "ternary"}, ValueError, "visible_type"),
    ]:
        with pytest.raises(error, match=message):
            RBMAnomalyDetector(8, 4, **kwargs)
    detector.eval()
    assert not detector.training and not detector.rbm.training
