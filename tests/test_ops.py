"""ember_mlx.ops against numpy, scipy and scikit-learn references."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import cosine as cosine_distance

from ember_mlx import ops
from ember_mlx.backend import get_available_backends, get_backend, mx, to_numpy

BACKEND = get_backend()


def N(x):
    return to_numpy(x)


def A(x):
    return mx.array(np.asarray(x, dtype=np.float32))


@pytest.fixture
def data(rng):
    return rng.normal(size=(4, 5)).astype(np.float32), rng.normal(size=(4, 5)).astype(np.float32)


# --- math -----------------------------------------------------------------------------------

BINARY = {
    "add": np.add,
    "subtract": np.subtract,
    "multiply": np.multiply,
    "divide": np.divide,
    "mod": np.mod,
    "floor_divide": np.floor_divide,
    "power": np.power,
    "pow": np.power,
}
UNARY = {
    "exp": np.exp,
    "log": np.log,
    "log2": np.log2,
    "log10": np.log10,
    "sqrt": np.sqrt,
    "square": np.square,
    "abs": np.abs,
    "sign": np.sign,
    "negative": np.negative,
    "floor": np.floor,
    "ceil": np.ceil,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "tanh": np.tanh,
}


@pytest.mark.parametrize("name", BINARY)
def test_binary_math_matches_numpy(name, data):
    a, b = data
    if name in ("power", "pow"):
        a = np.abs(a)
    got = getattr(ops, name)(mx.array(a), mx.array(b))
    np.testing.assert_allclose(N(got), BINARY[name](a, b), rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("name", UNARY)
def test_unary_math_matches_numpy(name, data):
    a = np.abs(data[0]) + 0.1 if name in ("log", "log2", "log10", "sqrt") else data[0]
    np.testing.assert_allclose(
        N(getattr(ops, name)(mx.array(a))), UNARY[name](a), rtol=2e-5, atol=1e-6
    )


def test_clip_cumsum_pi(data):
    a = data[0]
    np.testing.assert_allclose(N(ops.clip(mx.array(a), -0.5, 0.5)), np.clip(a, -0.5, 0.5))
    np.testing.assert_allclose(
        N(ops.cumsum(mx.array(a), axis=1)), np.cumsum(a, 1), rtol=1e-5, atol=1e-6
    )
    assert ops.pi == pytest.approx(np.pi)


@pytest.mark.parametrize(
    ("left", "right"),
    [((5,), (5,)), ((3, 4), (4, 2)), ((3, 4), (4,)), ((2, 3, 4), (5, 4, 6)), ((2, 3, 4), (4,))],
)
def test_dot_matches_numpy(rng, left, right):
    a = rng.normal(size=left).astype(np.float32)
    b = rng.normal(size=right).astype(np.float32)
    np.testing.assert_allclose(
        N(ops.dot(mx.array(a), mx.array(b))), np.dot(a, b), rtol=1e-4, atol=1e-5
    )


def test_matmul(rng):
    a = rng.normal(size=(2, 3, 4)).astype(np.float32)
    b = rng.normal(size=(4, 5)).astype(np.float32)
    np.testing.assert_allclose(N(ops.matmul(mx.array(a), mx.array(b))), a @ b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("spacing", "kwargs"),
    [
        ((), {}),
        ((0.5,), {}),
        ((2.0, "coords"), {}),
        (("coords",), {"axis": 1}),
        (("coords",), {"axis": -1, "edge_order": 2}),
        ((), {"edge_order": 2}),
        ((3.0,), {"axis": 0, "edge_order": 2}),
    ],
)
def test_gradient_matches_numpy(rng, spacing, kwargs):
    f = rng.normal(size=(5, 7)).astype(np.float32)
    coords = np.cumsum(rng.uniform(0.5, 1.5, 7)).astype(np.float32)
    np_spacing = [coords if s == "coords" else s for s in spacing]
    ours = ops.gradient(
        mx.array(f),
        *[mx.array(s) if isinstance(s, np.ndarray) else s for s in np_spacing],
        **kwargs,
    )
    expected = np.gradient(f, *np_spacing, **kwargs)
    if isinstance(expected, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(expected)
    else:
        ours, expected = (ours,), (expected,)
    for got, want in zip(ours, expected, strict=True):
        np.testing.assert_allclose(N(got), want, rtol=1e-4, atol=1e-4)


def test_gradient_is_exact_for_quadratics_and_checks_input():
    x = np.array([0.0, 0.3, 1.0, 1.5, 2.6], dtype=np.float32)
    g = ops.gradient(mx.array(x**2), mx.array(x), edge_order=2)
    np.testing.assert_allclose(N(g), 2 * x, atol=1e-4)
    np.testing.assert_allclose(N(ops.gradient(mx.array([1, 4, 9]))), [3.0, 4.0, 5.0])
    with pytest.raises(ValueError, match="edge_order"):
        ops.gradient(mx.array(x), edge_order=3)
    with pytest.raises(ValueError, match="needs at least 3"):
        ops.gradient(mx.array([1.0, 2.0]), edge_order=2)
    with pytest.raises(ValueError, match="coordinates"):
        ops.gradient(mx.array(x), mx.array([0.0, 1.0]))


# --- statistics -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mean", "sum", "max", "min", "var", "std", "median"])
@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1)])
def test_reductions_match_numpy(name, axis, data):
    a = data[0]
    got = getattr(ops, name)(mx.array(a), axis=axis)
    np.testing.assert_allclose(N(got), getattr(np, name)(a, axis=axis), rtol=1e-5, atol=1e-6)
    assert getattr(ops.stats, name) is getattr(ops, name)


def test_variance_with_ddof(data):
    np.testing.assert_allclose(
        N(ops.var(mx.array(data[0]), axis=0, ddof=1)), np.var(data[0], axis=0, ddof=1), rtol=1e-5
    )
    np.testing.assert_allclose(
        N(ops.std(mx.array(data[0]), ddof=1)), np.std(data[0], ddof=1), rtol=1e-5
    )


@pytest.mark.parametrize(
    ("q", "axis", "keepdims"),
    [
        (50, None, False),
        (12.5, 1, False),
        ([10, 50, 95], 0, False),
        (30, (0, 1), True),
        ([0, 100], 1, True),
        (75, -1, True),
    ],
)
def test_percentile_matches_numpy(data, q, axis, keepdims):
    a = data[0]
    got = ops.percentile(mx.array(a), q, axis=axis, keepdims=keepdims)
    expected = np.percentile(a, q, axis=axis, keepdims=keepdims)
    assert tuple(got.shape) == expected.shape
    np.testing.assert_allclose(N(got), expected, rtol=1e-5, atol=1e-6)


def test_percentile_rejects_out_of_range_q():
    with pytest.raises(ValueError, match=r"\[0, 100\]"):
        ops.percentile(mx.array([1.0, 2.0]), 101)


def test_sort_and_argsort(data):
    a = data[0]
    np.testing.assert_array_equal(N(ops.sort(mx.array(a))), np.sort(a))
    np.testing.assert_array_equal(
        N(ops.sort(mx.array(a), axis=0, descending=True)), -np.sort(-a, axis=0)
    )
    np.testing.assert_array_equal(
        N(ops.stats.argsort(mx.array(a), descending=True)), np.argsort(-a)
    )
    np.testing.assert_array_equal(N(ops.stats.argmax(mx.array(a), axis=1)), np.argmax(a, 1))
    assert ops.stats.gaussian is ops.gaussian


# --- comparison -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["equal", "not_equal", "less", "less_equal", "greater", "greater_equal"]
)
def test_comparisons_match_numpy(name):
    a, b = np.array([1.0, 2.0, 3.0, 4.0], np.float32), np.array([2.0, 2.0, 1.0, 4.0], np.float32)
    np.testing.assert_array_equal(
        N(getattr(ops, name)(mx.array(a), mx.array(b))), getattr(np, name)(a, b)
    )


def test_logic_selection_and_closeness():
    p, q = mx.array([True, True, False, False]), mx.array([True, False, True, False])
    np.testing.assert_array_equal(N(ops.logical_and(p, q)), [True, False, False, False])
    np.testing.assert_array_equal(N(ops.logical_or(p, q)), [True, True, True, False])
    np.testing.assert_array_equal(N(ops.logical_not(p)), [False, False, True, True])
    np.testing.assert_array_equal(N(ops.logical_xor(p, q)), [False, True, True, False])
    np.testing.assert_array_equal(
        N(ops.logical_xor(mx.array([0, 2]), mx.array([1, 3]))), [True, False]
    )
    x = mx.array([1.0, float("nan"), 3.0])
    np.testing.assert_array_equal(N(ops.isnan(x)), [False, True, False])
    np.testing.assert_array_equal(N(ops.where(ops.isnan(x), 0.0, x)), [1.0, 0.0, 3.0])
    assert bool(ops.allclose(mx.array([1.0, 2.0]), mx.array([1.0, 2.0 + 1e-7])))
    assert not bool(ops.allclose(mx.array([1.0, 2.0]), mx.array([1.0, 2.1])))
    np.testing.assert_array_equal(
        N(ops.isclose(mx.array([1.0, 2.0]), mx.array([1.0, 2.1]))), [True, False]
    )
    assert bool(ops.all(mx.array([True, True]))) and not bool(ops.all(p))
    np.testing.assert_array_equal(
        N(ops.any(mx.array([[True, False], [False, False]]), axis=1)), [True, False]
    )


# --- devices --------------------------------------------------------------------------------


def test_devices():
    devices = ops.get_available_devices()
    assert devices[0] == "cpu" and set(devices) <= {"cpu", "gpu"}
    assert ops.get_default_device() in devices
    assert ops.is_available("cpu") and not ops.is_available("tpu")
    x = mx.array([1.0, 2.0])
    assert ops.get_device(x) in devices and ops.get_device() == ops.get_default_device()
    np.testing.assert_array_equal(N(ops.to_device(x, "cpu")), [1.0, 2.0])
    assert ops.get_device(ops.to_device(x, "cpu")) == "cpu" or BACKEND == "mlx"
    with pytest.raises(ValueError, match="to_device"):
        ops.to_device(x, "tpu")
    assert set(ops.memory_usage()) == {"active", "peak", "cache"}
    assert ops.memory_info()["backend"] == BACKEND
    ops.synchronize()


def test_backend_names_are_reexported():
    assert ops.get_backend() == BACKEND
    assert ops.linearalg is ops.linalg
    assert callable(ops.set_backend) and callable(ops.auto_select_backend)


def test_ops_follow_a_backend_switch():
    others = [name for name in get_available_backends() if name != "numpy"]
    if not others:
        pytest.skip("needs a backend besides numpy to switch to")
    code = f"""
        import numpy as np
        import ember_mlx
        from ember_mlx import ops as old_ops
        ember_mlx.set_backend({others[0]!r})
        import ember_mlx.ops as ops
        from ember_mlx.backend import mx
        value = ops.add(ops.stats.mean(mx.ones(3)), ops.linalg.norm(mx.ones(4)))
        print(isinstance(value, mx.array), float(value))
        print(type(old_ops.add(np.ones(1), 1.0)).__name__)
    """
    env = {**os.environ, "EMBER_BACKEND": "numpy"}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "3.0", "ndarray"]


# --- I/O ------------------------------------------------------------------------------------


def test_save_load_round_trips(tmp_path):
    tree = {"w": A([[1, 2], [3, 4]]), "block": {"b": mx.array([1, 2, 3]), "s": A(2.5)}}
    ops.save(tmp_path / "m.safetensors", tree)
    loaded = ops.load(tmp_path / "m.safetensors")
    assert set(loaded) == {"w", "block.b", "block.s"}
    np.testing.assert_array_equal(N(loaded["w"]), [[1, 2], [3, 4]])
    assert loaded["block.b"].dtype == mx.int32
    ops.save(str(tmp_path / "m.npz"), {"x": A([1, 2])})
    np.testing.assert_array_equal(N(ops.load(str(tmp_path / "m.npz"))["x"]), [1, 2])
    ops.save(tmp_path / "x.npy", A([5, 6]))
    np.testing.assert_array_equal(N(ops.load(tmp_path / "x.npy")), [5, 6])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz", "m.safetensors", "x.npy"]


def test_safetensors_files_are_standard(tmp_path):
    from safetensors.numpy import load_file

    ops.save(tmp_path / "m.safetensors", {"a": A([[1.5, 2.5]])})
    np.testing.assert_array_equal(load_file(str(tmp_path / "m.safetensors"))["a"], [[1.5, 2.5]])


def test_failed_save_leaves_the_old_file(tmp_path):
    path = tmp_path / "m.safetensors"
    ops.save(path, {"a": A([1])})
    with pytest.raises(TypeError, match="entry 'b'"):
        ops.save(path, {"a": A([2]), "b": "not an array"})
    np.testing.assert_array_equal(N(ops.load(path)["a"]), [1])
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


def test_io_errors(tmp_path):
    with pytest.raises(ValueError, match="must end in"):
        ops.save(tmp_path / "m.pkl", {"a": A([1])})
    with pytest.raises(TypeError, match="dict of arrays"):
        ops.save(tmp_path / "m.safetensors", A([1]))
    with pytest.raises(TypeError, match="one array"):
        ops.save(tmp_path / "m.npy", {"a": A([1])})
    with pytest.raises(FileNotFoundError, match="no file"):
        ops.load(tmp_path / "missing.safetensors")


# --- losses ---------------------------------------------------------------------------------


def test_regression_losses():
    y, p = np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 5.0])
    assert float(ops.mse(A(y), A(p))) == pytest.approx(4 / 3)
    assert ops.mean_squared_error is ops.mse
    assert float(ops.mean_absolute_error(A(y), A(p))) == pytest.approx(2 / 3)
    e = np.array([-3.0, -0.5, 0.2, 2.0])
    huber = np.where(np.abs(e) <= 1.5, 0.5 * e**2, 1.5 * (np.abs(e) - 0.75)).mean()
    assert float(ops.huber_loss(A(np.zeros(4)), A(e), delta=1.5)) == pytest.approx(huber, rel=1e-6)
    e = np.array([-100.0, -1.0, 0.0, 3.0])
    expected = np.mean(np.logaddexp(e, -e) - np.log(2))
    assert float(ops.log_cosh_loss(A(np.zeros(4)), A(e))) == pytest.approx(expected, rel=1e-6)
    assert float(ops.log_cosh_loss(A([0.0]), A([2.0]))) == pytest.approx(
        np.log(np.cosh(2.0)), rel=1e-6
    )


def test_binary_crossentropy(rng):
    y = (rng.uniform(size=(6, 3)) > 0.5).astype(np.float32)
    z = rng.normal(size=(6, 3)).astype(np.float32) * 3
    p = 1 / (1 + np.exp(-z))
    expected = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert float(ops.binary_crossentropy(A(y), A(p))) == pytest.approx(expected, rel=1e-4)
    assert float(ops.binary_crossentropy(A(y), A(z), from_logits=True)) == pytest.approx(
        expected, rel=1e-4
    )
    # probabilities at 0/1 are clipped to 1e-7 instead of giving inf
    assert float(ops.binary_crossentropy(A([1.0]), A([0.0]))) == pytest.approx(
        -np.log(1e-7), rel=1e-3
    )


def test_categorical_crossentropies(rng):
    logits = rng.normal(size=(5, 4)).astype(np.float32)
    labels = np.array([0, 3, 1, 1, 2])
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    one_hot = np.eye(4, dtype=np.float32)[labels]
    expected = -np.mean(np.log(probs[np.arange(5), labels]))
    assert float(ops.categorical_crossentropy(A(one_hot), A(probs))) == pytest.approx(
        expected, rel=1e-5
    )
    assert float(
        ops.categorical_crossentropy(A(one_hot), A(logits), from_logits=True)
    ) == pytest.approx(expected, rel=1e-5)
    assert float(ops.categorical_crossentropy(A(one_hot), A(3 * probs))) == pytest.approx(
        expected, rel=1e-5
    )
    sparse = ops.sparse_categorical_crossentropy(mx.array(labels), A(probs))
    assert float(sparse) == pytest.approx(expected, rel=1e-5)
    sparse = ops.sparse_categorical_crossentropy(mx.array(labels), A(logits), from_logits=True)
    assert float(sparse) == pytest.approx(expected, rel=1e-5)


# --- vector ops -----------------------------------------------------------------------------


def test_vector_similarities(rng):
    x, y = rng.normal(size=6).astype(np.float32), rng.normal(size=6).astype(np.float32)
    v = ops.normalize_vector(A(x))
    assert np.linalg.norm(N(v)) == pytest.approx(1.0, rel=1e-6)
    np.testing.assert_allclose(N(v), x / np.linalg.norm(x), rtol=1e-6)
    np.testing.assert_array_equal(N(ops.normalize_vector(A(np.zeros(3)))), np.zeros(3))
    rows = N(ops.normalize_vector(A(np.stack([x, y])), axis=1))
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), [1, 1], rtol=1e-6)
    assert float(ops.euclidean_distance(A(x), A(y))) == pytest.approx(
        np.linalg.norm(x - y), rel=1e-6
    )
    assert float(ops.cosine_similarity(A(x), A(y))) == pytest.approx(
        1 - cosine_distance(x, y), rel=1e-5
    )
    pairs = ops.cosine_similarity(A(np.stack([x, x])), A(np.stack([y, -x])), axis=1)
    np.testing.assert_allclose(N(pairs), [1 - cosine_distance(x, y), -1.0], rtol=1e-5)


def test_decay_and_gaussian():
    t = np.array([0.0, 1.0, 2.5], np.float32)
    np.testing.assert_allclose(
        N(ops.exponential_decay(3.0, 0.4, A(t))), 3.0 * np.exp(-0.4 * t), rtol=1e-6
    )
    x = np.linspace(-3, 3, 7).astype(np.float32)
    np.testing.assert_allclose(
        N(ops.gaussian(A(x), 0.5, 2.0)), stats.norm(0.5, 2.0).pdf(x), rtol=1e-5
    )


def _phases(x):
    return np.angle(np.fft.fft(x))


def _interference(x, y):
    return np.corrcoef(x, y)[0, 1] * (1 - np.mean(np.abs(_phases(x) - _phases(y))) / np.pi)


@pytest.fixture
def waves(rng):
    # A positive mean keeps the zero-frequency phase at 0 (see compute_interference_strength).
    t = np.arange(301)
    x = 2 + np.sin(0.2 * t) + 0.3 * rng.normal(size=301)
    y = 2 + np.sin(0.2 * t + 0.7) + 0.3 * rng.normal(size=301)
    return x.astype(np.float32), y.astype(np.float32)


def test_interference_measures_match_the_reference(waves):
    x, y = waves
    assert float(ops.compute_interference_strength(A(x), A(y))) == pytest.approx(
        _interference(x, y), abs=1e-5
    )
    assert float(ops.compute_interference_strength(A(x), A(x))) == pytest.approx(1.0, abs=1e-6)
    partial = N(ops.partial_interference(A(x), A(y[:251]), window_size=51))
    expected = [_interference(x[i : i + 51], y[i : i + 51]) for i in range(201)]
    np.testing.assert_allclose(partial, expected, atol=1e-5)
    with pytest.raises(ValueError, match="window_size"):
        ops.partial_interference(A(x), A(y), window_size=400)


def test_phase_coherence(waves):
    x, y = waves
    gap = _phases(x) - _phases(y)
    assert float(ops.compute_phase_coherence(A(x), A(y))) == pytest.approx(
        np.abs(np.mean(np.exp(1j * gap))), abs=1e-5
    )
    band = (np.abs(np.fft.fftfreq(301)) >= 0.02) & (np.abs(np.fft.fftfreq(301)) <= 0.05)
    expected = np.abs(np.mean(np.exp(1j * gap[band])))
    assert float(ops.compute_phase_coherence(A(x), A(y), (0.02, 0.05))) == pytest.approx(
        expected, abs=1e-5
    )
    assert float(ops.compute_phase_coherence(A(x), A(2 * x))) == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ValueError, match="no frequency"):
        ops.compute_phase_coherence(A(x), A(y), (0.6, 0.7))


def test_energy_stability(waves):
    x = waves[0]
    energies = np.square(x[:300]).reshape(6, 50).sum(1)
    expected = 1 / (1 + energies.var() / energies.mean())
    assert float(ops.compute_energy_stability(A(x), 50)) == pytest.approx(expected, rel=1e-5)
    assert float(ops.compute_energy_stability(A(np.ones(40)), 10)) == pytest.approx(1.0)
    assert float(ops.compute_energy_stability(A(x), 200)) == 1.0
    assert float(ops.compute_energy_stability(A(np.zeros(40)), 10)) == 1.0


# --- FFT ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("fft", {}),
        ("fft", {"n": 8, "axis": 0}),
        ("ifft", {}),
        ("fft2", {}),
        ("ifft2", {}),
        ("fftn", {}),
        ("ifftn", {}),
        ("rfft", {}),
        ("rfft2", {}),
        ("rfftn", {}),
    ],
)
def test_fft_family_matches_numpy(rng, name, kwargs):
    a = rng.normal(size=(6, 4)).astype(np.float32)
    np.testing.assert_allclose(
        N(getattr(ops, name)(mx.array(a), **kwargs)),
        getattr(np.fft, name)(a, **kwargs),
        rtol=1e-4,
        atol=1e-4,
    )


@pytest.mark.parametrize("name", ["irfft", "irfft2", "irfftn"])
def test_inverse_real_ffts_invert(rng, name):
    a = rng.normal(size=(6, 4)).astype(np.float32)
    forward = getattr(ops, name[1:])(mx.array(a))
    kwargs = {"n": 4} if name == "irfft" else {"s": (6, 4), "axes": (0, 1)}
    np.testing.assert_allclose(N(getattr(ops, name)(forward, **kwargs)), a, atol=1e-5)


# --- features -------------------------------------------------------------------------------


def test_pca_matches_scikit_learn(rng):
    from sklearn.decomposition import PCA

    x = rng.normal(size=(60, 4)).astype(np.float32)
    x[:, 1] = 3 * x[:, 0] + 0.1 * x[:, 1]
    fit = ops.pca(A(x), 2)
    reference = PCA(2).fit(x)
    np.testing.assert_allclose(N(fit["components"]), reference.components_, atol=1e-4)
    np.testing.assert_allclose(
        N(fit["explained_variance"]), reference.explained_variance_, rtol=1e-4
    )
    np.testing.assert_allclose(
        N(fit["explained_variance_ratio"]), reference.explained_variance_ratio_, rtol=1e-4
    )
    np.testing.assert_allclose(N(fit["singular_values"]), reference.singular_values_, rtol=1e-4)
    np.testing.assert_allclose(N(fit["mean"]), reference.mean_, atol=1e-6)
    projected = ops.transform(A(x), fit["components"], fit["mean"])
    np.testing.assert_allclose(N(projected), reference.transform(x), atol=1e-4)
    whitened = ops.transform(
        A(x),
        fit["components"],
        fit["mean"],
        whiten=True,
        explained_variance=fit["explained_variance"],
    )
    np.testing.assert_allclose(N(whitened), PCA(2, whiten=True).fit_transform(x), atol=1e-3)
    back = ops.inverse_transform(
        whitened,
        fit["components"],
        fit["mean"],
        whiten=True,
        explained_variance=fit["explained_variance"],
    )
    np.testing.assert_allclose(
        N(back), reference.inverse_transform(reference.transform(x)), atol=1e-3
    )


def test_pca_with_all_components_is_invertible(rng):
    x = rng.normal(size=(5, 8)).astype(np.float32)
    fit = ops.pca(A(x))
    assert fit["components"].shape == (5, 8)
    ratios = N(fit["explained_variance_ratio"])
    assert np.all(np.diff(N(fit["explained_variance"])) <= 1e-6) and ratios.sum() == pytest.approx(
        1.0, rel=1e-5
    )
    restored = ops.inverse_transform(
        ops.transform(A(x), fit["components"], fit["mean"]), fit["components"], fit["mean"]
    )
    np.testing.assert_allclose(N(restored), x, atol=1e-4)
    with pytest.raises(ValueError, match="n_components"):
        ops.pca(A(x), 6)
    with pytest.raises(ValueError, match="whiten"):
        ops.transform(A(x), fit["components"], whiten=True)


def test_standardize_and_normalize(rng):
    from sklearn.preprocessing import StandardScaler
    from sklearn.preprocessing import normalize as sk_normalize

    x = (rng.normal(size=(30, 3)) * [1.0, 5.0, 0.2] + [3.0, -1.0, 0.0]).astype(np.float32)
    scaled, mean, std = ops.standardize(A(x))
    scaler = StandardScaler().fit(x)
    np.testing.assert_allclose(N(scaled), scaler.transform(x), atol=1e-5)
    np.testing.assert_allclose(N(mean), scaler.mean_, rtol=1e-5)
    np.testing.assert_allclose(N(std), scaler.scale_, rtol=1e-5)
    centered, mean, none = ops.standardize(A(x), with_std=False)
    assert none is None and np.abs(N(centered).mean(0)).max() < 1e-5
    rows, _, _ = ops.standardize(A(x), axis=1)
    np.testing.assert_allclose(N(rows).std(1), np.ones(30), rtol=1e-4)
    for norm in ("l1", "l2", "max"):
        np.testing.assert_allclose(
            N(ops.normalize(A(x), norm=norm)), sk_normalize(x, norm=norm), rtol=1e-5, atol=1e-6
        )
    np.testing.assert_array_equal(N(ops.normalize(A(np.zeros((2, 3))))), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="norm must be"):
        ops.normalize(A(x), norm="l3")


# --- linear algebra -------------------------------------------------------------------------


@pytest.fixture
def square(rng):
    return rng.normal(size=(4, 4)).astype(np.float32) + 4 * np.eye(4, dtype=np.float32)


def test_solvers_and_inverses(square, rng):
    b = rng.normal(size=(4, 2)).astype(np.float32)
    la = ops.linalg
    np.testing.assert_allclose(
        N(la.solve(A(square), A(b))), np.linalg.solve(square, b), rtol=1e-4, atol=1e-5
    )
    np.testing.assert_allclose(N(la.inv(A(square))), np.linalg.inv(square), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        N(la.pinv(A(square[:, :3]))), np.linalg.pinv(square[:, :3]), rtol=1e-3, atol=1e-5
    )
    assert float(la.det(A(square))) == pytest.approx(np.linalg.det(square), rel=1e-4)
    np.testing.assert_allclose(
        N(la.det(A(np.stack([square, 2 * square])))),
        [np.linalg.det(square), 16 * np.linalg.det(square)],
        rtol=1e-4,
    )


def test_cholesky(square):
    spd = square @ square.T
    lower = N(ops.linalg.cholesky(A(spd)))
    np.testing.assert_allclose(lower, np.linalg.cholesky(spd), rtol=1e-4, atol=1e-4)
    upper = N(ops.linalg.cholesky(A(spd), upper=True))
    np.testing.assert_allclose(upper.T @ upper, spd, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape", [(6, 3), (3, 6), (4, 4)])
def test_qr(rng, shape):
    a = rng.normal(size=shape).astype(np.float32)
    k = min(shape)
    q, r = (N(t) for t in ops.linalg.qr(A(a)))
    assert q.shape == (shape[0], k) and r.shape == (k, shape[1])
    np.testing.assert_allclose(q @ r, a, atol=1e-5)
    np.testing.assert_allclose(q.T @ q, np.eye(k), atol=1e-5)
    np.testing.assert_allclose(np.tril(r, -1), 0, atol=1e-6)
    q, r = (N(t) for t in ops.linalg.qr(A(a), mode="complete"))
    assert q.shape == (shape[0], shape[0]) and r.shape == shape
    np.testing.assert_allclose(q @ r, a, atol=1e-5)
    np.testing.assert_allclose(q.T @ q, np.eye(shape[0]), atol=1e-5)
    np.testing.assert_allclose(
        np.abs(N(ops.linalg.qr(A(a), mode="r"))), np.abs(np.linalg.qr(a, mode="r")), atol=1e-5
    )
    with pytest.raises(ValueError, match="mode"):
        ops.linalg.qr(A(a), mode="raw")


@pytest.mark.parametrize("shape", [(6, 3), (3, 6)])
def test_svd(rng, shape):
    a = rng.normal(size=shape).astype(np.float32)
    s_ref = np.linalg.svd(a, compute_uv=False)
    np.testing.assert_allclose(N(ops.linalg.svd(A(a), compute_uv=False)), s_ref, rtol=1e-5)
    u, s, vt = (N(t) for t in ops.linalg.svd(A(a)))
    assert u.shape == (shape[0],) * 2 and vt.shape == (shape[1],) * 2
    np.testing.assert_allclose((u[:, : len(s)] * s) @ vt[: len(s)], a, atol=1e-5)
    u, s, vt = (N(t) for t in ops.linalg.svd(A(a), full_matrices=False))
    assert u.shape == (shape[0], 3) and vt.shape == (3, shape[1])
    np.testing.assert_allclose(s, s_ref, rtol=1e-5)
    np.testing.assert_allclose((u * s) @ vt, a, atol=1e-5)
    np.testing.assert_allclose(u.T @ u, np.eye(3), atol=1e-5)


def test_eigendecompositions(square):
    sym = square + square.T
    w, v = (N(t) for t in ops.eigh(A(sym)))
    assert np.all(np.diff(w) >= 0), "eigh must return ascending eigenvalues on every backend"
    np.testing.assert_allclose(w, np.linalg.eigvalsh(sym), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(sym @ v, v * w, atol=1e-4)
    assert ops.eigh is ops.linalg.eigh
    w_upper, _ = ops.linalg.eigh(A(np.triu(sym)), UPLO="U")
    np.testing.assert_allclose(N(w_upper), w, rtol=1e-4, atol=1e-4)
    values, vectors = (N(t) for t in ops.linalg.eig(A(square)))
    assert np.iscomplexobj(values)
    np.testing.assert_allclose(square @ vectors, vectors * values, atol=1e-4)
    np.testing.assert_allclose(
        np.sort_complex(N(ops.linalg.eigvals(A(square)))),
        np.sort_complex(np.linalg.eigvals(square)),
        atol=1e-4,
    )


def test_lstsq_matches_numpy(rng):
    a = rng.normal(size=(7, 3)).astype(np.float32)
    b = rng.normal(size=(7, 2)).astype(np.float32)
    for rhs in (b, b[:, 0]):
        ours = ops.linalg.lstsq(A(a), A(rhs))
        ref = np.linalg.lstsq(a, rhs, rcond=None)
        np.testing.assert_allclose(N(ours[0]), ref[0], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(N(ours[1]), ref[1], rtol=1e-4)
        assert int(ours[2]) == ref[2] == 3
        np.testing.assert_allclose(N(ours[3]), ref[3], rtol=1e-5)
    deficient = np.concatenate([a[:, :2], a[:, :1]], axis=1)
    x, residuals, rank, _ = ops.linalg.lstsq(A(deficient), A(b[:, 0]))
    ref = np.linalg.lstsq(deficient, b[:, 0], rcond=None)
    assert int(rank) == ref[2] == 2 and residuals.shape == (0,)
    np.testing.assert_allclose(N(x), ref[0], rtol=1e-3, atol=1e-4)
    with pytest.raises(ValueError, match="lstsq"):
        ops.linalg.lstsq(A(a), A(b[:3]))


@pytest.mark.parametrize(
    ("ord", "axis"),
    [
        (None, None),
        ("fro", None),
        (1, None),
        (2, None),
        ("nuc", None),
        (float("inf"), None),
        (None, 1),
        (1, 0),
        (3, 1),
    ],
)
def test_norms_match_numpy(square, ord, axis):
    np.testing.assert_allclose(
        N(ops.linalg.norm(A(square), ord=ord, axis=axis)),
        np.linalg.norm(square, ord=ord, axis=axis),
        rtol=1e-4,
    )


def test_diag_and_diagonal(square):
    np.testing.assert_array_equal(N(ops.linalg.diag(A(square))), np.diag(square))
    np.testing.assert_array_equal(N(ops.linalg.diag(A([1, 2]))), np.diag([1.0, 2.0]))
    np.testing.assert_array_equal(N(ops.linalg.diagonal(A(square), 1)), np.diagonal(square, 1))


@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (6, 2), (2, 3, 2)])
def test_orthogonal(shape):
    q = N(ops.linalg.orthogonal(shape, gain=2.0, key=mx.random.key(0)))
    assert q.shape == shape and q.dtype == np.float32
    flat = q.reshape(shape[0], -1)
    small = min(flat.shape)
    product = flat @ flat.T if flat.shape[0] == small else flat.T @ flat
    np.testing.assert_allclose(product, 4.0 * np.eye(small), atol=1e-4)
    np.testing.assert_array_equal(
        q, N(ops.linalg.orthogonal(shape, gain=2.0, key=mx.random.key(0)))
    )
    with pytest.raises(ValueError, match="at least 2"):
        ops.linalg.orthogonal((3,))


# --- bad input, and dtypes that must agree across backends -----------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda x: ops.percentile(x, 50, axis=2),
        lambda x: ops.percentile(x, 50, axis=(0, -3)),
        lambda x: ops.gradient(x, axis=-3),
        lambda x: ops.gradient(x, axis=(1, 2)),
    ],
)
def test_out_of_range_axes_raise(call):
    with pytest.raises(ValueError, match="axis -?[23] is out of bounds for an array of 2"):
        call(A(np.ones((3, 4))))


def test_repeated_axes_zero_d_and_empty_input_raise():
    x = A(np.ones((3, 4)))
    with pytest.raises(ValueError, match="axis must not repeat"):
        ops.percentile(x, 50, axis=(0, -2))
    with pytest.raises(ValueError, match="axis must not repeat"):
        ops.gradient(x, axis=(1, 1))
    with pytest.raises(TypeError, match="axis must be an int"):
        ops.percentile(x, 50, axis=1.0)
    with pytest.raises(ValueError, match="f must have at least one axis"):
        ops.gradient(A(1.0))
    with pytest.raises(ValueError, match="percentile: x has no values"):
        ops.percentile(A(np.ones((0,))), 50)
    np.testing.assert_allclose(N(ops.percentile(x, 50, axis=-1)), np.ones(3))
    np.testing.assert_allclose(N(ops.gradient(x, axis=-1)), np.gradient(N(x), axis=-1))


def test_cosine_similarity_is_exact_at_any_scale():
    v = np.array([1e-4, 2e-4], np.float32)
    assert float(ops.cosine_similarity(A(v), A(v))) == pytest.approx(1.0, rel=1e-6)
    w = np.array([3e-20, -1e-20], np.float32)
    assert float(ops.cosine_similarity(A(w), A(v))) == pytest.approx(
        1 - cosine_distance(w.astype(np.float64) * 1e20, v), rel=1e-5
    )
    assert float(ops.cosine_similarity(A(v), A(np.zeros(2)))) == 0.0
    ints = ops.cosine_similarity(mx.array([1, 2]), mx.array([2, 4]))
    assert ints.dtype == mx.float32 and float(ints) == pytest.approx(1.0, rel=1e-6)


def test_float64_round_trips_through_safetensors(tmp_path):
    data = np.arange(3) * 0.1
    ops.save(tmp_path / "d.safetensors", {"x": mx.array(data, dtype=mx.float64), "y": A([1])})
    loaded = ops.load(tmp_path / "d.safetensors")
    assert loaded["x"].dtype == mx.float64 and loaded["y"].dtype == mx.float32
    np.testing.assert_array_equal(N(loaded["x"]), data)
    from safetensors.numpy import load_file

    np.testing.assert_array_equal(load_file(str(tmp_path / "d.safetensors"))["x"], data)


def test_save_refuses_colliding_dotted_names(tmp_path):
    with pytest.raises(ValueError, match=r"several entries named \['a.b'\]"):
        ops.save(tmp_path / "m.safetensors", {"a.b": A([1]), "a": {"b": A([2])}})
    assert list(tmp_path.iterdir()) == []


def test_sparse_labels_are_checked():
    logits = A(np.zeros((2, 3)))
    with pytest.raises(TypeError, match="y_true: expected integer class labels"):
        ops.sparse_categorical_crossentropy(A([0, 1]), logits, from_logits=True)
    with pytest.raises(ValueError, match=r"y_true: expected shape \(2,\)"):
        ops.sparse_categorical_crossentropy(mx.array([0, 1, 2]), logits, from_logits=True)
    if BACKEND != "mlx":  # lazy MLX arrays are not read back (see the docstring)
        for labels in ([0, 3], [-1, 0]):
            with pytest.raises(ValueError, match=r"y_true: expected class labels in \[0, 3\)"):
                ops.sparse_categorical_crossentropy(mx.array(labels), logits, from_logits=True)


def test_losses_take_the_dtype_of_the_predictions():
    p = A([0.2, 0.7, 0.9])
    expected = -np.mean(np.log([0.8, 0.7, 0.9]))
    for y in (mx.array(np.array([False, True, True])), mx.array([0, 1, 1])):
        loss = ops.binary_crossentropy(y, p)
        assert loss.dtype == mx.float32 and float(loss) == pytest.approx(expected, rel=1e-5)
    probs = A(np.full((3, 3), 1 / 3))
    loss = ops.categorical_crossentropy(mx.array(np.eye(3, dtype=np.int32)), probs)
    assert loss.dtype == mx.float32 and float(loss) == pytest.approx(np.log(3), rel=1e-5)
    assert ops.mse(mx.array([1, 2]), A([1, 1])).dtype == mx.float32


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: ops.pca(A(np.eye(3)), n_components=2.0), TypeError, "n_components: expected"),
        (lambda: ops.pca(A(np.eye(3)), n_components=True), TypeError, "n_components: expected"),
        (lambda: ops.pca(A(np.eye(3)), n_components=4), ValueError, r"n_components: .*\[1, 3\]"),
        (lambda: ops.normalize(A([1, 2]), axis=1), ValueError, "normalize: axis 1 is out of"),
        (lambda: ops.compute_energy_stability(A(np.ones((4, 4))), 2), ValueError, "wave: "),
        (lambda: ops.compute_energy_stability(A(np.ones(8)), -5), ValueError, "window_size"),
        (lambda: ops.compute_energy_stability(A(np.ones(8)), 0), ValueError, "window_size"),
        (lambda: ops.gaussian(A([0.0]), sigma=0.0), ValueError, "sigma: expected a float > 0"),
        (lambda: ops.huber_loss(A([0]), A([1]), delta=-1.0), ValueError, "delta: expected"),
    ],
)
def test_bad_arguments_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_normalize_scales_integer_input_in_float32():
    out = ops.normalize(mx.array([[3, 4]]))
    assert out.dtype == mx.float32
    np.testing.assert_allclose(N(out), [[0.6, 0.8]], rtol=1e-6)


@pytest.mark.parametrize(
    "loss",
    [
        ops.mse,
        ops.mean_absolute_error,
        ops.binary_crossentropy,
        ops.huber_loss,
        ops.log_cosh_loss,
        ops.categorical_crossentropy,
    ],
)
def test_losses_refuse_to_broadcast(loss):
    """(n,) targets against (n, 1) predictions would average all n**2 pairs."""
    y = np.linspace(0.1, 0.9, 4).astype(np.float32)
    with pytest.raises(ValueError, match=r"y_pred: expected y_true's shape \(4,\), got \(4, 1\)"):
        loss(A(y), A(y[:, None]))
    with pytest.raises(ValueError, match=r"y_pred: expected y_true's shape \(\), got \(4,\)"):
        loss(A(np.float32(0.5)), A(y))


@pytest.mark.parametrize("convert", [np.asarray, lambda x: x.tolist()], ids=["numpy", "list"])
def test_features_take_numpy_arrays_and_lists(rng, convert):
    x = rng.normal(size=(6, 3)).astype(np.float32)
    fit = ops.pca(convert(x))
    reference = ops.pca(mx.array(x))
    np.testing.assert_allclose(N(fit["components"]), N(reference["components"]), rtol=1e-6)
    projected = ops.transform(convert(x), fit["components"], fit["mean"])
    restored = ops.inverse_transform(N(projected), fit["components"], fit["mean"])
    np.testing.assert_allclose(N(restored), x, atol=1e-5)
    scaled, _, _ = ops.standardize(convert(x))
    np.testing.assert_allclose(N(scaled), N(ops.standardize(mx.array(x))[0]), rtol=1e-6)
    np.testing.assert_allclose(N(ops.normalize(convert(x))), N(ops.normalize(mx.array(x))))


def test_features_name_a_bad_argument():
    with pytest.raises(TypeError, match="x: expected an array of numbers, got list"):
        ops.standardize([["a", "b"]])


def test_standardize_scales_integer_input_in_float32():
    scaled, mean, std = ops.standardize(np.array([[1, 2], [3, 5]], np.int64))
    assert scaled.dtype == mean.dtype == std.dtype == mx.float32
    np.testing.assert_allclose(N(scaled), [[-1, -1], [1, 1]])
