"""The models seed's examples run as written once ``ember_ml`` reads ``ember_mlx``.

``data/seed_models.md`` is the seed document verbatim (``seeds/000``, the models README). Its
five ``python`` blocks run on the active backend, with the data the first three leave undefined
(``training_data``, ``normal_data``/``test_data``, ``X_train``/``y_train``/``X_test``) provided
by the tests, and each test checks what the example is for: the RBM learns and samples, the
detector flags the anomalous half, the liquid state machine predicts.

Sizes are shrunk for speed, and only sizes: 784 visible units become 64, 256 hidden units 32,
and 1000-sample data sets 300 (:data:`SHRINK`). Epochs, batch sizes, learning rates, thresholds
and the default ``generate`` chain (1000 Gibbs steps) are the seed's.

The RBM part of ``seeds/001`` lists names, not code: :func:`test_seed_001_rbm_names` checks them.
"""

import re
from pathlib import Path

import numpy as np
import pytest

from ember_mlx.backend import mx, to_numpy
from ember_mlx.models.rbm import RBM

SEED = Path(__file__).parent / "data" / "seed_models.md"
SHRINK = {"784": "64", "256": "32", "(1000,": "(300,"}
VISIBLE, SAMPLES = 64, 300


def _block(text: str) -> str:
    text = text.replace("ember_ml", "ember_mlx")
    for size, shrunk in SHRINK.items():
        text = text.replace(size, shrunk)
    return text


BLOCKS = [_block(b) for b in re.findall(r"```python\n(.*?)```", SEED.read_text(), re.S)]


def run(index: int, **given) -> dict:
    namespace = {"__name__": f"seed_models_example_{index}", **given}
    exec(compile(BLOCKS[index], f"seed_models.md[{index}]", "exec"), namespace)
    return namespace


PATTERNS = np.stack([np.tile([1.0, 1.0, 0.0, 0.0], 16), np.tile([0.0, 0.0, 1.0, 1.0], 16)])


def prototypes(n: int, seed: int = 0) -> np.ndarray:
    """Noisy copies (5% of bits flipped) of the two complementary 64-bit :data:`PATTERNS`."""
    rng = np.random.default_rng(seed)
    data = PATTERNS[rng.integers(0, 2, n)]
    return np.abs(data - (rng.random(data.shape) < 0.05)).astype(np.float32)


def test_the_document_has_its_examples():
    assert len(BLOCKS) == 5
    assert all("ember_mlx" in block and "ember_ml." not in block for block in BLOCKS)


def test_rbm_example_learns_and_samples():
    data = prototypes(SAMPLES)
    untrained = RBM(VISIBLE, 32, 0.01)
    ns = run(0, training_data=mx.array(data))
    rbm, samples = ns["rbm"], to_numpy(ns["samples"])
    assert samples.shape == (10, VISIBLE) and set(np.unique(samples)) <= {0.0, 1.0}
    before = to_numpy(untrained.reconstruction_error(data)).mean()
    after = to_numpy(rbm.reconstruction_error(data)).mean()
    assert after < 0.5 * before
    # 1000 Gibbs steps from the model: the samples lie near the two patterns, not at random.
    distance = np.abs(samples[:, None, :] - PATTERNS[None]).mean(axis=2).min(axis=1)
    assert distance.mean() < 0.25


def test_detector_example_flags_the_anomalous_half():
    rng = np.random.default_rng(1)
    normal = rng.random((SAMPLES, VISIBLE)).astype(np.float32)
    test = np.concatenate([normal[:50], 2.0 * rng.random((50, VISIBLE))]).astype(np.float32)
    ns = run(1, normal_data=mx.array(normal), test_data=mx.array(test))
    flags = to_numpy(ns["anomalies"])
    assert flags.shape == (100,) and flags.dtype == bool
    assert flags[50:].mean() == 1.0 and flags[:50].mean() <= 0.2
    assert ns["detector"].threshold.item() == pytest.approx(0.1)


def test_lsm_example_predicts_a_delayed_input():
    """The readout learns y(t) = u(t - 1) (the first five inputs, one step late), a memory task
    that only the reservoir can solve (a readout of u(t) alone scores an NRMSE of 1); the
    default washout (100 steps) is skipped when scoring."""
    rng = np.random.default_rng(2)

    def task(batch):
        u = rng.uniform(-1.0, 1.0, (batch, 300, 10)).astype(np.float32)
        y = np.zeros((batch, 300, 5), np.float32)
        y[:, 1:] = u[:, :-1, :5]
        return u, y

    (x_train, y_train), (x_test, y_test) = task(8), task(2)
    ns = run(2, X_train=mx.array(x_train), y_train=mx.array(y_train), X_test=mx.array(x_test))
    predictions = to_numpy(ns["predictions"])
    assert predictions.shape == (2, 300, 5)
    error = predictions[:, 100:] - y_test[:, 100:]
    assert np.sqrt((error**2).mean() / y_test[:, 100:].var()) < 0.5
    # epochs and batch_size change nothing in a closed-form fit, but are still checked.
    with pytest.raises(ValueError, match="epochs: expected an int >= 1, got 0"):
        ns["lsm"].train(x_train, y_train, epochs=0)
    with pytest.raises(TypeError, match="batch_size: expected an int"):
        ns["lsm"].train(x_train, y_train, batch_size=2.5)


def test_training_usage_example(capsys):
    ns = run(3)
    assert ns["samples"].shape == (10, VISIBLE) and ns["reconstructed"].shape == (10, VISIBLE)
    # Uniform data has variance 1/12 per pixel: the reconstruction is no worse than its mean.
    error = float(ns["error"].item())
    assert 0.0 < error < 0.1
    assert f"Reconstruction error: {ns['error']}" in capsys.readouterr().out


def test_anomaly_usage_example(capsys):
    ns = run(4)
    normal_scores, anomalous_scores = (
        to_numpy(ns["normal_scores"]),
        to_numpy(ns["anomalous_scores"]),
    )
    assert normal_scores.shape == (SAMPLES,) and anomalous_scores.shape == (100,)
    assert anomalous_scores.min() > normal_scores.max()
    assert to_numpy(ns["anomalous_anomalies"]).mean() == 1.0
    assert to_numpy(ns["normal_anomalies"]).mean() <= 0.2
    printed = capsys.readouterr().out
    assert f"/{SAMPLES}\n" in printed and "/100\n" in printed


def test_seed_001_rbm_names():
    """Seed 001, models module: ``RBMModule``, ``contrastive_divergence_step``, ``train_rbm``,
    ``transform_in_chunks``, ``save_rbm``, ``load_rbm`` and the alias
    ``RestrictedBoltzmannMachine = RBMModule``, all from ``ember_ml.models.rbm``."""
    import ember_mlx.models.rbm as rbm_module

    names = [
        "RBMModule",
        "contrastive_divergence_step",
        "train_rbm",
        "transform_in_chunks",
        "save_rbm",
        "load_rbm",
    ]
    assert all(callable(getattr(rbm_module, name)) for name in names)
    assert rbm_module.RestrictedBoltzmannMachine is rbm_module.RBMModule
