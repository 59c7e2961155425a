"""RBMVisualizer: each figure holds the expected artists, saves atomically as a valid PNG, and
bad input raises an error naming the argument."""

import math
import struct
import sys

import numpy as np
import pytest

from ember_mlx.backend import mx, to_numpy
from ember_mlx.models import RBM, RBMAnomalyDetector
from ember_mlx.visualization import RBMVisualizer

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SHAPE = (4, 4)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return mx.array((rng.random((30, 16)) < 0.3).astype(np.float32))


@pytest.fixture(scope="module")
def trained(data):
    """A tiny RBM(16, 4) trained 2 epochs, and its history of two metrics."""
    rbm = RBM(16, 4, learning_rate=0.1, seed=0)
    metrics = ("reconstruction_error", "pseudo_likelihood")
    history = rbm.train(data, epochs=2, batch_size=10, metrics=metrics, progress=False)
    return rbm, history


@pytest.fixture(scope="module")
def detector(data):
    detector = RBMAnomalyDetector(16, 4, learning_rate=0.1, seed=0)
    detector.train(data, epochs=2, batch_size=10, progress=False)
    return detector


def images_of(figure):
    return [image for axis in figure.axes for image in axis.get_images()]


def test_training_curves_have_one_panel_and_line_per_metric(trained, pyplot):
    _, history = trained
    figure = RBMVisualizer().plot_training_curves(history)
    assert [axis.get_title() for axis in figure.axes] == list(history)
    for axis, values in zip(figure.axes, history.values(), strict=True):
        (line,) = axis.get_lines()
        np.testing.assert_array_equal(line.get_xdata(), [1, 2])
        np.testing.assert_allclose(line.get_ydata(), values)
    assert figure.axes[-1].get_xlabel() == "epoch"
    # A backend array works as a metric's values.
    figure = RBMVisualizer().plot_training_curves({"loss": mx.array([3.0, 2.0, 1.0])})
    np.testing.assert_allclose(figure.axes[0].get_lines()[0].get_ydata(), [3.0, 2.0, 1.0])


@pytest.mark.parametrize("source", ["rbm", "array", "numpy"])
def test_weight_filters_are_columns_with_symmetric_limits(trained, source, pyplot):
    rbm, _ = trained
    weights = to_numpy(rbm.weights)
    given = {"rbm": rbm, "array": rbm.weights, "numpy": weights}[source]
    figure = RBMVisualizer().plot_weight_filters(given, SHAPE, n=3)
    images = images_of(figure)
    assert len(images) == 3
    assert figure.get_suptitle() == "filters of 3 hidden units"
    for unit, image in enumerate(images):
        np.testing.assert_allclose(image.get_array(), weights[:, unit].reshape(SHAPE), rtol=1e-6)
        low, high = image.get_clim()
        assert low == -high == pytest.approx(-np.abs(weights[:, unit]).max())
        assert image.get_cmap().name == "RdBu_r"
    assert len(images_of(RBMVisualizer().plot_weight_filters(rbm, SHAPE))) == 4


def test_images_share_one_scale(trained, pyplot):
    rbm, _ = trained
    samples = rbm.generate(5, k=3)
    figure = RBMVisualizer().plot_images(samples, SHAPE, title="samples")
    images = images_of(figure)
    assert len(images) == 5 and len(figure.axes) == 6  # 2 rows of 3, the last blank
    assert figure.get_suptitle() == "samples"
    for image, sample in zip(images, to_numpy(samples), strict=True):
        np.testing.assert_array_equal(image.get_array(), sample.reshape(SHAPE))
        assert image.get_clim() == (0.0, 1.0)
        assert image.get_cmap().name == "gray_r"


def test_reconstructions_stand_below_their_originals(trained, data, pyplot):
    rbm, _ = trained
    figure = RBMVisualizer().plot_reconstructions(rbm, data, SHAPE, n=3)
    top, bottom = figure.subfigs
    assert (top.get_suptitle(), bottom.get_suptitle()) == ("originals", "reconstructions")
    expected = (to_numpy(data[:3]), to_numpy(rbm.reconstruct(data[:3])))
    for panel, rows in zip((top, bottom), expected, strict=True):
        images = images_of(panel)
        assert len(images) == 3
        for image, row in zip(images, rows, strict=True):
            np.testing.assert_allclose(image.get_array(), row.reshape(SHAPE), rtol=1e-6)
            assert image.get_clim() == (0.0, 1.0)


def test_filters_and_samples_as_the_demo_draws_them(pyplot):
    """The demo's figure: 64 filters in an 8 x 8 grid beside 32 samples in 8 rows of 4."""
    rbm = RBM(64, 64, num_chains=32, seed=0)
    figure = RBMVisualizer(dpi=80, figsize=(12, 8)).plot_filters_and_samples(
        rbm, rbm.generate(32, k=1), (8, 8), title="RBM on digits"
    )
    left, right = figure.subfigs
    assert figure.get_suptitle() == "RBM on digits"
    assert (left.get_suptitle(), right.get_suptitle()) == ("64 filters", "32 samples")
    assert len(images_of(left)) == 64 and len(images_of(right)) == 32
    for panel, columns in ((left, 8), (right, 4)):
        grid = {axis.get_subplotspec().get_geometry()[:2] for axis in panel.axes}
        assert grid == {(8, columns)}
    assert {image.get_cmap().name for image in images_of(left)} == {"RdBu_r"}
    assert tuple(figure.get_size_inches() * figure.dpi) == (960, 640)


def test_anomaly_scores_split_by_labels_with_the_threshold(detector, data, pyplot):
    scores = detector.score(data)
    labels = np.arange(30) % 3 == 0
    figure = RBMVisualizer().plot_anomaly_scores(scores, detector.threshold, labels)
    (axis,) = figure.axes
    edges = np.histogram_bin_edges(to_numpy(scores), bins="auto")
    normal, anomalous = axis.containers
    assert len(normal) == len(anomalous) == len(edges) - 1
    assert sum(bar.get_height() for bar in normal) == 20
    assert sum(bar.get_height() for bar in anomalous) == 10
    (line,) = axis.get_lines()
    threshold = detector.threshold.item()
    np.testing.assert_allclose(line.get_xdata(), [threshold, threshold])
    legend = sorted(text.get_text() for text in axis.get_legend().get_texts())
    assert legend == ["anomalous (10)", "normal (20)", f"threshold {threshold:.4g}"]
    # Without labels or threshold: one group, no line, no legend; 0/1 labels work too.
    (axis,) = RBMVisualizer().plot_anomaly_scores(scores).axes
    assert len(axis.containers) == 1 and not axis.get_lines() and axis.get_legend() is None
    (axis,) = RBMVisualizer().plot_anomaly_scores(scores, labels=labels.astype(int)).axes
    assert len(axis.containers) == 2


def test_every_method_saves_a_png_atomically(trained, data, detector, tmp_path, pyplot):
    rbm, history = trained
    visualizer = RBMVisualizer(tmp_path / "plots", dpi=50, figsize=(4, 3))
    calls = {
        "curves.png": lambda f: visualizer.plot_training_curves(history, filename=f),
        "filters.png": lambda f: visualizer.plot_weight_filters(rbm, SHAPE, filename=f),
        "images.png": lambda f: visualizer.plot_images(data, SHAPE, filename=f),
        "both.png": lambda f: visualizer.plot_filters_and_samples(rbm, data, SHAPE, filename=f),
        "recon.png": lambda f: visualizer.plot_reconstructions(rbm, data, SHAPE, filename=f),
        "scores.png": lambda f: visualizer.plot_anomaly_scores(detector.score(data), filename=f),
    }
    for name, call in calls.items():
        call(name)
        png = (tmp_path / "plots" / name).read_bytes()
        assert png[:8] == PNG_MAGIC, name
        assert struct.unpack(">II", png[16:24]) == (200, 150), name
    # Only the figures: no temporary file is left beside them.
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == sorted(calls)
    # Another format, from the suffix, into a new subfolder.
    visualizer.plot_training_curves(history, filename="svg/curves.svg")
    assert b"<svg" in (tmp_path / "plots" / "svg" / "curves.svg").read_bytes()[:1000]


def test_save_errors_leave_no_file(trained, tmp_path, pyplot):
    _, history = trained
    with pytest.raises(ValueError, match="filename: 'a.png' given but output_dir is None"):
        RBMVisualizer().plot_training_curves(history, filename="a.png")
    visualizer = RBMVisualizer(tmp_path)
    with pytest.raises(ValueError, match="filename: expected a suffix"):
        visualizer.plot_training_curves(history, filename="curves")
    with pytest.raises(ValueError, match="filename: matplotlib cannot write '.xyz' files"):
        visualizer.plot_training_curves(history, filename="curves.xyz")
    with pytest.raises(TypeError, match="filename: expected a path"):
        visualizer.plot_training_curves(history, filename=3)
    assert list(tmp_path.iterdir()) == []


def bad_inputs():
    """(call on a visualizer, an RBM and data; error; message) for bad input."""
    nan_detector = RBMAnomalyDetector(16, 4)  # untrained: its threshold is NaN
    return [
        (lambda v, r, d: v.plot_training_curves({}), ValueError, "history: no metrics"),
        (lambda v, r, d: v.plot_training_curves([1.0]), TypeError, "history: expected a dict"),
        (lambda v, r, d: v.plot_training_curves({"e": []}), ValueError, r"history\['e'\]"),
        (
            lambda v, r, d: v.plot_weight_filters(r, (3, 4)),
            ValueError,
            r"image_shape: \(3, 4\) holds 12 pixels, but the visible layer has 16",
        ),
        (lambda v, r, d: v.plot_weight_filters(r, (16,)), ValueError, "image_shape: expected"),
        (lambda v, r, d: v.plot_weight_filters(r, SHAPE, n=0), ValueError, "n: expected an int"),
        (lambda v, r, d: v.plot_weight_filters(r, SHAPE, n=5), ValueError, "n: expected at most 4"),
        (lambda v, r, d: v.plot_weight_filters(r, SHAPE, n=1.5), TypeError, "n: expected an int"),
        (
            lambda v, r, d: v.plot_weight_filters(np.zeros(16), SHAPE),
            ValueError,
            "rbm_or_weights: expected an RBM or",
        ),
        (lambda v, r, d: v.plot_images(d, (2, 4)), ValueError, "image_shape: .* each of images"),
        (lambda v, r, d: v.plot_images(d[:0], SHAPE), ValueError, "images: expected a non-empty"),
        (lambda v, r, d: v.plot_images(["a"], SHAPE), TypeError, "images: expected a numeric"),
        (
            lambda v, r, d: v.plot_filters_and_samples(r, d[:, :8], SHAPE),
            ValueError,
            "image_shape: .* each of samples has 8",
        ),
        (lambda v, r, d: v.plot_reconstructions(r, d, (2, 2)), ValueError, "image_shape:"),
        (
            lambda v, r, d: v.plot_reconstructions(r, d, SHAPE, n=31),
            ValueError,
            r"n: expected at most 30 \(the samples in data\)",
        ),
        (lambda v, r, d: v.plot_reconstructions(r, d[:, :8], SHAPE), ValueError, "data: expected"),
        (
            lambda v, r, d: v.plot_anomaly_scores(np.ones(3), labels=np.ones(4, bool)),
            ValueError,
            r"labels: expected shape \(3,\), one per score, got \(4,\)",
        ),
        (
            lambda v, r, d: v.plot_anomaly_scores(np.ones(3), labels=np.array([0.0, 1.0, 2.0])),
            TypeError,
            "labels: expected booleans",
        ),
        (lambda v, r, d: v.plot_anomaly_scores(np.ones((3, 1))), ValueError, "scores: expected"),
        (lambda v, r, d: v.plot_anomaly_scores([1.0, math.inf]), ValueError, "scores: expected"),
        (
            lambda v, r, d: v.plot_anomaly_scores(np.ones(3), nan_detector.threshold),
            ValueError,
            "threshold: expected a finite value",
        ),
        (lambda v, r, d: RBMVisualizer(dpi=0), ValueError, "dpi: expected an int >= 1"),
        (lambda v, r, d: RBMVisualizer(figsize=(4,)), ValueError, "figsize: expected"),
        (lambda v, r, d: RBMVisualizer(output_dir=1), TypeError, "output_dir: expected a path"),
        (
            lambda v, r, d: RBMVisualizer(cmap="nope").plot_anomaly_scores(np.ones(3)),
            ValueError,
            "cmap: 'nope' is not a matplotlib colormap",
        ),
    ]


def test_bad_input_raises_errors_naming_the_argument(trained, data, pyplot):
    rbm, _ = trained
    for call, error, message in bad_inputs():
        with pytest.raises(error, match=message):
            call(RBMVisualizer(), rbm, data)


def test_missing_matplotlib_says_how_to_install_it(trained, monkeypatch):
    _, history = trained
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install 'ember-mlx\[plots\]'"):
        RBMVisualizer().plot_training_curves(history)
