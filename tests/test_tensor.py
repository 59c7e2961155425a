"""ember_mlx.tensor: creation, dtypes, manipulation, conversion and random draws.

Values are checked against numpy; the samplers against scipy.stats distributions with fixed
seeds (a Kolmogorov-Smirnov test for continuous laws, a chi-square test for discrete ones).
"""

import numpy as np
import pytest
from scipy import stats

from ember_mlx import tensor as T
from ember_mlx.backend import mx, to_numpy
from ember_mlx.tensor.random import _log_poisson_pmf

DTYPE_NAMES = [
    "bool_",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "float32",
    "float64",
]


def N(x):
    return to_numpy(x)


# --- dtypes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DTYPE_NAMES)
def test_dtype_names_round_trip(name):
    dtype = T.get_dtype(name)
    assert dtype == getattr(T, name) == getattr(mx, name)
    assert T.to_dtype_str(dtype) == name
    assert T.from_dtype_str(name) == dtype
    assert T.to_dtype_str(T.zeros(2, dtype=name).dtype) == name


def test_dtype_errors_and_aliases():
    assert T.get_dtype("bool") == T.bool_
    assert T.get_dtype(None) is None
    assert T.to_dtype_str("float32") == "float32"
    with pytest.raises(ValueError, match="unknown dtype 'float128'"):
        T.get_dtype("float128")
    with pytest.raises(ValueError, match="not a dtype of the active backend"):
        T.to_dtype_str(object())
    with pytest.raises(TypeError, match="must be a str"):
        T.from_dtype_str(3)


# --- creation -------------------------------------------------------------------------------


def test_array_from_python_numpy_and_arrays():
    assert T.array([1, 2]).dtype == T.int32
    assert T.array([1.5, 2]).dtype == T.float32
    assert T.array(np.arange(3.0)).dtype == T.float32  # float64 numpy data -> float32, as MLX
    assert T.array([1, 2], dtype="float32").dtype == T.float32
    x = T.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(N(x), [[1, 2], [3, 4]])
    assert T.array(x) is x
    assert T.array(x, dtype="int32").dtype == T.int32
    assert T.convert_to_tensor is T.array and T.tensor is T.array
    np.testing.assert_array_equal(N(T.array([1.0, 2.0], device="cpu")), [1, 2])


def test_constant_creation():
    z = T.zeros((2, 3))
    assert z.shape == (2, 3) and z.dtype == T.float32 and not N(z).any()
    assert T.ones(4, dtype="int32").dtype == T.int32
    np.testing.assert_array_equal(N(T.ones((2, 2))), np.ones((2, 2)))
    f = T.full((2, 2), 7)
    assert f.dtype == T.int32 and (N(f) == 7).all()
    assert T.full((2,), 0.5).dtype == T.float32
    x = T.array([[1, 2], [3, 4]])
    assert T.zeros_like(x).dtype == T.int32 and not N(T.zeros_like(x)).any()
    assert T.ones_like(x, dtype="float32").dtype == T.float32
    np.testing.assert_array_equal(N(T.full_like(x, 9)), [[9, 9], [9, 9]])
    np.testing.assert_array_equal(N(T.eye(3)), np.eye(3))
    np.testing.assert_array_equal(N(T.eye(2, 3, k=1)), np.eye(2, 3, k=1))


def test_ranges_have_the_same_dtypes_on_every_backend():
    r = T.arange(5)
    assert r.dtype == T.int32
    np.testing.assert_array_equal(N(r), np.arange(5))
    np.testing.assert_array_equal(N(T.arange(2, 10, 3)), [2, 5, 8])
    np.testing.assert_array_equal(N(T.arange(4, step=2)), [0, 2])
    f = T.arange(0.0, 1.0, 0.25)
    assert f.dtype == T.float32
    np.testing.assert_allclose(N(f), [0, 0.25, 0.5, 0.75])
    lin = T.linspace(0, 1, 5)
    assert lin.dtype == T.float32
    np.testing.assert_allclose(N(lin), np.linspace(0, 1, 5), rtol=1e-6)


# --- manipulation ---------------------------------------------------------------------------


def test_shape_functions(rng):
    a = rng.normal(size=(2, 3, 4)).astype(np.float32)
    x = T.array(a)
    np.testing.assert_array_equal(N(T.reshape(x, (6, 4))), a.reshape(6, 4))
    np.testing.assert_array_equal(N(T.transpose(x)), a.transpose())
    np.testing.assert_array_equal(N(T.transpose(x, (1, 0, 2))), a.transpose(1, 0, 2))
    np.testing.assert_array_equal(N(T.concatenate([x, x], axis=1)), np.concatenate([a, a], 1))
    np.testing.assert_array_equal(N(T.stack([x, x], axis=0)), np.stack([a, a]))
    np.testing.assert_array_equal(N(T.expand_dims(x, 1)), a[:, None])
    np.testing.assert_array_equal(N(T.squeeze(T.zeros((1, 3, 1)))), np.zeros(3))
    assert T.squeeze(T.zeros((1, 3, 1)), 0).shape == (3, 1)
    np.testing.assert_array_equal(N(T.tile(T.array([1, 2]), 3)), np.tile([1, 2], 3))
    np.testing.assert_array_equal(N(T.maximum(x, 0.0)), np.maximum(a, 0))


def test_split_by_count_and_by_indices():
    x = T.arange(6)
    assert [N(p).tolist() for p in T.split(x, 3)] == [[0, 1], [2, 3], [4, 5]]
    assert [N(p).tolist() for p in T.split(x, [1, 4])] == [[0], [1, 2, 3], [4, 5]]


def test_cast_copy_pad():
    x = T.array([[1.7, -2.2]])
    assert T.cast(x, "int32").dtype == T.int32
    assert T.cast(x, T.float16).dtype == T.float16
    duplicate = T.copy(x)
    assert duplicate is not x
    np.testing.assert_array_equal(N(duplicate), N(x))
    padded = T.pad(x, [(1, 0), (0, 2)], constant_values=5.0)
    np.testing.assert_allclose(N(padded), np.pad(N(x), [(1, 0), (0, 2)], constant_values=5.0))
    edge = T.pad(x, [(0, 0), (1, 1)], mode="edge")
    np.testing.assert_allclose(N(edge), np.pad(N(x), [(0, 0), (1, 1)], mode="edge"))


def test_gather_takes_slices_and_checks_bounds():
    x = T.array([[0, 1], [2, 3], [4, 5]])
    np.testing.assert_array_equal(N(T.gather(x, [2, -3])), [[4, 5], [0, 1]])
    np.testing.assert_array_equal(N(T.gather(x, T.array([1]), axis=1)), [[1], [3], [5]])
    with pytest.raises(IndexError, match=r"gather: indices must lie in \[-3, 3\)"):
        T.gather(x, [3])


@pytest.mark.parametrize("aggr", ["add", "mean", "max", "min"])
def test_scatter_aggregates_repeated_indices(aggr):
    indices = np.array([0, 2, 0, 3])
    updates = np.array([[1.0, -1.0], [2.0, 5.0], [4.0, 3.0], [-2.0, 0.0]], dtype=np.float32)
    expected = np.zeros((5, 2), dtype=np.float32)
    for row in range(5):
        hits = updates[indices == row]
        if len(hits):
            expected[row] = {"add": np.sum, "mean": np.mean, "max": np.max, "min": np.min}[aggr](
                hits, axis=0
            )
    result = T.scatter(T.array(indices), T.array(updates), (5, 2), aggr=aggr)
    np.testing.assert_allclose(N(result), expected)


def test_scatter_with_multi_axis_indices():
    indices = T.array([[0, 1], [2, 0], [0, 1]])
    result = T.scatter(indices, T.array([1, 2, 3]), (3, 2))
    assert result.dtype == T.int32
    np.testing.assert_array_equal(N(result), [[0, 4], [0, 0], [2, 0]])
    with pytest.raises(ValueError, match="aggr"):
        T.scatter(indices, T.array([1, 2, 3]), (3, 2), aggr="prod")
    with pytest.raises(IndexError, match="scatter"):
        T.scatter(T.array([[3, 0]]), T.array([1]), (3, 2))


def test_tensor_scatter_nd_update_replaces_entries_and_slices(rng):
    base = rng.normal(size=(4, 3)).astype(np.float32)
    expected = base.copy()
    expected[1, 2], expected[3, 0] = 10.0, 20.0
    result = T.tensor_scatter_nd_update(T.array(base), [[1, 2], [3, 0]], [10.0, 20.0])
    np.testing.assert_array_equal(N(result), expected)
    expected = base.copy()
    expected[[0, 2]] = [[1, 1, 1], [2, 2, 2]]
    rows = T.tensor_scatter_nd_update(T.array(base), [[0], [2]], [[1.0] * 3, [2.0] * 3])
    np.testing.assert_array_equal(N(rows), expected)


def test_slice_and_slice_update():
    x = T.reshape(T.arange(12), (3, 4))
    np.testing.assert_array_equal(N(T.slice(x, [1, 1], [2, -1])), [[5, 6, 7], [9, 10, 11]])
    assert T.slice is T.slice_tensor
    np.testing.assert_array_equal(N(T.slice_tensor(x, 2, 1)), [[8, 9, 10, 11]])
    with pytest.raises(ValueError, match="same length"):
        T.slice_tensor(x, [0, 0], [1])
    updated = T.slice_update(x, [1, 2], T.array([[-1, -2], [-3, -4]]))
    expected = np.arange(12).reshape(3, 4)
    expected[1:3, 2:4] = [[-1, -2], [-3, -4]]
    np.testing.assert_array_equal(N(updated), expected)
    row = T.slice_update(T.zeros((3, 3)), [1], T.ones(3))
    np.testing.assert_array_equal(N(row), [[0, 0, 0], [1, 1, 1], [0, 0, 0]])


# --- conversion -----------------------------------------------------------------------------


def test_conversion():
    x = T.array([[1.5, 2.5]])
    assert isinstance(T.to_numpy(x), np.ndarray)
    np.testing.assert_array_equal(T.to_numpy(x), [[1.5, 2.5]])
    assert T.item(T.array(3.5)) == 3.5
    assert T.shape(x) == (1, 2) and isinstance(T.shape(x), tuple)
    np.testing.assert_array_equal(N(T.to_device(x, "cpu")), [[1.5, 2.5]])
    with pytest.raises(ValueError, match="to_device"):
        T.to_device(x, "tpu")


# --- random ---------------------------------------------------------------------------------


def test_set_seed_makes_keyless_draws_repeat():
    T.set_seed(7)
    assert T.get_seed() == 7
    first = [N(T.random_uniform((5,))), N(T.random_normal((5,))), N(T.random_gamma((5,), 2.0))]
    T.set_seed(7)
    again = [N(T.random_uniform((5,))), N(T.random_normal((5,))), N(T.random_gamma((5,), 2.0))]
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    T.set_seed(8)
    assert not np.array_equal(first[0], N(T.random_uniform((5,))))
    with pytest.raises(TypeError, match="seed must be an int"):
        T.set_seed(1.5)


SAMPLERS = {
    "uniform": lambda key: T.random_uniform((6,), key=key),
    "normal": lambda key: T.random_normal((6,), key=key),
    "bernoulli": lambda key: T.random_bernoulli((6,), 0.3, key=key),
    "exponential": lambda key: T.random_exponential((6,), key=key),
    "gamma": lambda key: T.random_gamma((6,), 0.7, key=key),
    "poisson": lambda key: T.random_poisson((6,), T.array([0.5, 3, 9, 12, 50, 400]), key=key),
    "categorical": lambda key: T.random_categorical(T.zeros((2, 4)), 3, key=key),
    "permutation": lambda key: T.random_permutation(8, key=key),
    "shuffle": lambda key: T.shuffle(T.arange(8), key=key),
}


@pytest.mark.parametrize("name", SAMPLERS)
def test_same_key_same_draw(name):
    draw = SAMPLERS[name]
    key = mx.random.key(3)
    np.testing.assert_array_equal(N(draw(key)), N(draw(key)))
    draws = [N(draw(mx.random.key(s))) for s in range(4)]
    assert any(not np.array_equal(draws[0], d) for d in draws[1:])


def test_uniform_and_normal_moments():
    key_u, key_n = mx.random.split(mx.random.key(0))
    u = N(T.random_uniform((20000,), -2.0, 3.0, key=key_u))
    assert u.dtype == np.float32 and u.min() >= -2.0 and u.max() < 3.0
    assert stats.kstest(u, stats.uniform(-2, 5).cdf).pvalue > 1e-3
    z = N(T.random_normal((20000,), mean=1.5, stddev=2.0, key=key_n))
    assert stats.kstest(z, stats.norm(1.5, 2.0).cdf).pvalue > 1e-3
    assert T.random_normal((2, 3), dtype="float16").dtype == T.float16


def test_bernoulli_mean_is_p():
    b = N(T.random_bernoulli((20000,), 0.3, key=mx.random.key(1)))
    assert b.dtype == np.float32 and set(np.unique(b)) <= {0.0, 1.0}
    assert abs(b.mean() - 0.3) < 0.015
    assert T.random_bernoulli((3,), dtype="bool_").dtype == T.bool_


@pytest.mark.parametrize("scale", [0.5, 2.0])
def test_exponential_matches_scipy(scale):
    e = N(T.random_exponential((20000,), scale=scale, key=mx.random.key(2)))
    assert e.min() >= 0
    assert stats.kstest(e, stats.expon(scale=scale).cdf).pvalue > 1e-3
    assert abs(e.mean() - scale) < 0.05 * scale


@pytest.mark.parametrize(("alpha", "beta"), [(0.3, 1.0), (1.0, 2.0), (4.5, 0.5)])
def test_gamma_matches_scipy(alpha, beta):
    g = N(T.random_gamma((20000,), alpha=alpha, beta=beta, key=mx.random.key(4)))
    assert g.min() >= 0
    assert stats.kstest(g, stats.gamma(alpha, scale=beta).cdf).pvalue > 1e-3
    assert abs(g.mean() - alpha * beta) < 0.05 * alpha * beta
    assert abs(g.var() - alpha * beta**2) < 0.1 * alpha * beta**2


def test_gamma_with_per_element_shape():
    alpha = T.array([0.5, 5.0])
    g = N(T.random_gamma((10000, 2), alpha=alpha, key=mx.random.key(5)))
    np.testing.assert_allclose(g.mean(axis=0), [0.5, 5.0], rtol=0.05)


def _poisson_chi2_pvalue(samples, lam):
    """Chi-square p-value of integer samples against Poisson(lam), on ~equiprobable bins."""
    law = stats.poisson(lam)
    edges = np.unique(law.ppf(np.linspace(0, 1, 16)[1:-1]))
    edges = edges[edges > 0]
    observed = np.bincount(np.searchsorted(edges, samples, side="right"), minlength=len(edges) + 1)
    probs = np.diff(np.concatenate([[0.0], law.cdf(edges - 1), [1.0]]))
    return stats.chisquare(observed, probs * len(samples)).pvalue


@pytest.mark.parametrize("lam", [0.7, 4.0, 9.5, 10.0, 37.0, 800.0])
def test_poisson_matches_scipy(lam):
    p = N(T.random_poisson((20000,), lam=lam, key=mx.random.key(6)))
    assert p.dtype == np.int32 and p.min() >= 0
    assert _poisson_chi2_pvalue(p, lam) > 1e-3
    assert abs(p.mean() - lam) < 0.05 * lam
    assert abs(p.var() - lam) < 0.1 * lam


def test_poisson_zero_rate_and_errors():
    assert not N(T.random_poisson((5,), lam=0.0)).any()
    assert T.random_poisson((2,), 3.0, dtype="float32").dtype == T.float32
    with pytest.raises(ValueError, match="lam must be >= 0"):
        T.random_poisson((2,), -1.0)
    with pytest.raises(ValueError, match="alpha must be > 0"):
        T.random_gamma((2,), 0.0)
    with pytest.raises(ValueError, match="scale must be > 0"):
        T.random_exponential((2,), -1.0)


def test_log_poisson_pmf_is_accurate_for_large_rates():
    k = np.array([0, 3, 9, 10, 11, 40, 1000, 99_700, 100_000], dtype=np.float32)
    lam = np.array([10, 10, 10, 10, 12, 40, 1000, 100_000, 100_000], dtype=np.float32)
    ours = N(_log_poisson_pmf(T.array(k), T.array(lam)))
    np.testing.assert_allclose(ours, stats.poisson.logpmf(k, lam), rtol=2e-5, atol=2e-4)


def test_categorical_follows_softmax_probabilities():
    logits = np.log(np.array([[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]], dtype=np.float32))
    draws = N(T.random_categorical(T.array(logits), 5000, key=mx.random.key(8)))
    assert draws.shape == (2, 5000) and draws.dtype == np.int32
    for row, probs in zip(draws, np.exp(logits.astype(np.float64)), strict=True):
        counts = np.bincount(row, minlength=3)
        assert stats.chisquare(counts, probs / probs.sum() * 5000).pvalue > 1e-3


def test_permutation_and_shuffle_reorder():
    perm = N(T.random_permutation(10, key=mx.random.key(9)))
    assert perm.dtype == np.int32 and sorted(perm) == list(range(10))
    rows = np.arange(12).reshape(6, 2)
    shuffled = N(T.shuffle(T.array(rows), key=mx.random.key(9)))
    assert sorted(map(tuple, shuffled)) == sorted(map(tuple, rows))
    assert not np.array_equal(shuffled, rows)
    np.testing.assert_array_equal(
        N(T.random_permutation(T.array(rows), key=mx.random.key(9))), shuffled
    )


# --- bad input and dtypes that must agree across backends -----------------------------------


def test_slice_counts_negative_starts_from_the_end_and_checks_bounds():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    x = T.array(a)
    np.testing.assert_array_equal(N(T.slice(x, [-1, 0], [1, 1])), a[-1:, :1])
    np.testing.assert_array_equal(N(T.slice(x, [-2, -3], [-1, 2])), a[-2:, -3:-1])
    np.testing.assert_array_equal(N(T.slice(x, [3], [0])), a[3:3])
    for starts, sizes, match in [
        ([-4, 0], [1, 1], "starts must lie in"),
        ([4, 0], [0, 1], "starts must lie in"),
        ([0, 0], [-2, 1], "sizes must be -1"),
        ([0, 0], [4, 1], "sizes must be -1"),
        ([2, 0], [2, 1], "sizes must be -1"),
        ([0, 0, 0], [1, 1, 1], "starts must be at most 2 ints"),
        ([0.5], [1], "starts must be at most 2 ints"),
    ]:
        with pytest.raises(ValueError, match=match):
            T.slice(x, starts, sizes)


def test_slice_update_counts_negative_starts_from_the_end_and_checks_bounds():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    x = T.array(a)
    expected = a.copy()
    expected[-1] = 0
    np.testing.assert_array_equal(N(T.slice_update(x, [-1, 0], T.zeros((1, 4)))), expected)
    expected = a.copy()
    expected[1:, -2:] = -1
    np.testing.assert_array_equal(N(T.slice_update(x, [-2, -2], -T.ones((2, 2)))), expected)
    for starts, shape, match in [
        ([-4, 0], (1, 4), "starts must lie in"),
        ([3, 0], (1, 4), "run past the end"),
        ([2, 0], (2, 4), "run past the end"),
        ([0, 1], (1, 4), "run past the end"),
        ([0], (1, 1, 4), "updates has 3 axes"),
    ]:
        with pytest.raises(ValueError, match=match):
            T.slice_update(x, starts, T.zeros(shape))
    np.testing.assert_array_equal(N(x), a)


@pytest.mark.parametrize(
    ("lam", "dtype", "match"),
    [
        (3e9, None, "lam value too large for exact float32 counts"),
        (float("inf"), None, "lam value too large"),
        (200.0, "uint8", "lam value too large for the range of uint8"),
        (float("nan"), None, "lam must be >= 0 everywhere, and not NaN"),
    ],
)
def test_poisson_rejects_rates_its_result_cannot_hold(lam, dtype, match):
    with pytest.raises(ValueError, match=match):
        T.random_poisson((3,), lam, dtype=dtype)
    with pytest.raises(ValueError, match=match):
        T.random_poisson((2,), T.array([1.0, lam]), dtype=dtype)


def test_poisson_near_the_rate_bound_stays_positive_and_close():
    lam = 1.6e7
    draws = N(T.random_poisson((200,), lam, key=mx.random.key(3))).astype(np.float64)
    assert draws.min() > 0 and abs(draws.mean() - lam) < 5 * np.sqrt(lam / 200)
    small = N(T.random_poisson((500,), 100.0, dtype="uint8", key=mx.random.key(4)))
    assert small.dtype == np.uint8 and abs(small.mean() - 100) < 3


def test_full_casts_the_fill_value_to_an_explicit_dtype():
    f = T.full((2, 2), 2.7, dtype="int32")
    assert f.dtype == T.int32
    np.testing.assert_array_equal(N(f), np.full((2, 2), 2.7).astype(np.int32))
    g = T.full_like(T.array([1, 2, 3]), 2.5)
    assert g.dtype == T.int32
    np.testing.assert_array_equal(N(g), [2, 2, 2])
    assert T.full_like(T.array([1, 2]), 2.5, dtype="float32").dtype == T.float32


def test_scatter_mean_is_float32_on_every_backend():
    indices = T.array([0, 0, 2])
    mean = T.scatter(indices, T.array([1.0, 2.0, 4.0]), 3, aggr="mean")
    assert mean.dtype == T.float32
    np.testing.assert_allclose(N(mean), [1.5, 0.0, 4.0])
    of_ints = T.scatter(indices, T.array([1, 2, 4]), 3, aggr="mean")
    assert of_ints.dtype == T.float32
    np.testing.assert_allclose(N(of_ints), [1.5, 0.0, 4.0])


def test_bfloat16_has_a_name(backend):
    assert T.get_dtype("bfloat16") == T.bfloat16 == mx.bfloat16
    assert T.to_dtype_str(mx.bfloat16) == "bfloat16"
    if backend != "numpy":  # numpy has the dtype for names and checks only, not arrays of it
        x = T.cast(T.array([1.5, -2.0]), "bfloat16")
        assert x.dtype == T.bfloat16
        np.testing.assert_array_equal(N(T.cast(x, "float32")), [1.5, -2.0])
