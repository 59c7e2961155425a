"""Block Gibbs sampling: the reference path against an independent numpy chain (bit-identical
samples on every backend), the exact RBM distribution, persistence, errors, and the shipped
Metal kernel run by the CPU emulator against the reference path sample for sample."""

import os
import re
import tempfile
from itertools import product

import numpy as np
import pytest
from scipy import stats
from test_kernel_rng import numpy_threefry2x32

from ember_mlx.backend import mx, to_numpy
from ember_mlx.kernels import dispatch, emulator, gibbs
from ember_mlx.kernels.gibbs import gibbs_chain, gibbs_chain_reference

needs_emulator = pytest.mark.skipif(
    not emulator.is_available(), reason="the kernel emulator needs g++ on PATH"
)


def numpy_sigmoid(x):
    return (np.float32(1) / (np.float32(1) + np.exp(-x))).astype(np.float32)


def numpy_gibbs(v, weights, visible_bias, hidden_bias, k, seed, step, gaussian_visible=False):
    """The chain written from the module's docstring, in numpy float32."""
    chains = np.arange(v.shape[0])[:, None]
    visible = np.arange(weights.shape[0])[None, :]
    hidden = np.arange(weights.shape[1])[None, :]

    def uniforms(draw, units):
        words = numpy_threefry2x32(seed, chains, units, np.uint32(draw % 2**32))
        return [(w >> np.uint32(8)).astype(np.float32) * np.float32(2.0**-24) for w in words]

    for t in range(k):
        draw = 2 * (step + t)
        h = (uniforms(draw, hidden)[0] < numpy_sigmoid(v @ weights + hidden_bias)).astype(
            np.float32
        )
        pre = h @ weights.T + visible_bias
        u0, u1 = uniforms(draw + 1, visible)
        if gaussian_visible:
            v_mean = pre
            z = np.sqrt(-2.0 * np.log(1.0 - u0)) * np.cos(np.float32(2.0 * np.pi) * u1)
            v = (pre + z).astype(np.float32)
        else:
            v_mean = numpy_sigmoid(pre)
            v = (u0 < v_mean).astype(np.float32)
    return v, v_mean, numpy_sigmoid(v @ weights + hidden_bias)


def make_rbm(chains, n_visible, n_hidden, scale=0.5, seed=0, binary_start=True):
    rng = np.random.default_rng(seed)
    weights = rng.normal(0.0, scale, (n_visible, n_hidden)).astype(np.float32)
    visible_bias = rng.normal(0.0, scale, n_visible).astype(np.float32)
    hidden_bias = rng.normal(0.0, scale, n_hidden).astype(np.float32)
    v = rng.random((chains, n_visible)).astype(np.float32)
    if binary_start:
        v = (v < 0.5).astype(np.float32)
    return v, weights, visible_bias, hidden_bias


def as_mx(*arrays):
    return [mx.array(a) for a in arrays]


# ------------------------------------------------------------------------- reference path


@pytest.mark.parametrize("gaussian_visible", [False, True])
def test_reference_equals_numpy_chain(gaussian_visible):
    rbm = make_rbm(5, 7, 4, binary_start=not gaussian_visible)
    ours = gibbs_chain_reference(*as_mx(*rbm), 3, 99, 4, gaussian_visible=gaussian_visible)
    theirs = numpy_gibbs(*rbm, 3, 99, 4, gaussian_visible)
    v_sample, v_mean, h_prob = (to_numpy(x) for x in ours)
    assert v_sample.shape == (5, 7) and v_mean.shape == (5, 7) and h_prob.shape == (5, 4)
    if gaussian_visible:
        np.testing.assert_allclose(v_sample, theirs[0], rtol=1e-5, atol=1e-5)
    else:
        np.testing.assert_array_equal(v_sample, theirs[0])
    np.testing.assert_allclose(v_mean, theirs[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h_prob, theirs[2], rtol=1e-5, atol=1e-6)


def test_stored_samples_are_the_same_on_every_backend():
    rbm = make_rbm(3, 6, 4, seed=3)
    v_sample, _, _ = gibbs_chain(*as_mx(*rbm), k=2, seed=123, step=7)
    expected = [[0, 0, 0, 1, 1, 0], [0, 0, 1, 0, 1, 1], [0, 0, 1, 1, 1, 1]]
    np.testing.assert_array_equal(to_numpy(v_sample), np.array(expected, np.float32))


def test_hidden_probabilities_belong_to_the_returned_sample():
    v, weights, visible_bias, hidden_bias = make_rbm(4, 6, 3)
    v_sample, _, h_prob = gibbs_chain(*as_mx(v, weights, visible_bias, hidden_bias), 2, 1)
    expected = numpy_sigmoid(to_numpy(v_sample) @ weights + hidden_bias)
    np.testing.assert_allclose(to_numpy(h_prob), expected, rtol=1e-5, atol=1e-6)


def test_persistent_chain_continues_where_it_stopped():
    rbm = as_mx(*make_rbm(4, 6, 5))
    once = gibbs_chain(*rbm, k=4, seed=5, step=10)
    first = gibbs_chain(*rbm, k=2, seed=5, step=10)
    second = gibbs_chain(first[0], *rbm[1:], k=2, seed=5, step=12)
    np.testing.assert_array_equal(to_numpy(once[0]), to_numpy(second[0]))
    np.testing.assert_allclose(to_numpy(once[1]), to_numpy(second[1]), rtol=1e-6, atol=1e-7)
    # A different step or seed draws different numbers.
    other = gibbs_chain(*rbm, k=4, seed=5, step=11)[1]
    assert not np.allclose(to_numpy(once[1]), to_numpy(other))


def test_long_chains_draw_their_noise_in_runs_of_steps(monkeypatch):
    """A chain longer than one noise draw (runs of 3, 3 and 1 steps) equals the one-draw chain."""
    rbm = as_mx(*make_rbm(4, 6, 5))
    whole = gibbs_chain(*rbm, k=7, seed=2, step=3)
    monkeypatch.setattr(gibbs, "NOISE_BLOCK", 3 * 4 * (6 + 5))
    runs = gibbs_chain(*rbm, k=7, seed=2, step=3)
    np.testing.assert_array_equal(to_numpy(runs[0]), to_numpy(whole[0]))
    np.testing.assert_allclose(to_numpy(runs[2]), to_numpy(whole[2]), rtol=1e-6, atol=1e-7)


def test_each_row_is_its_own_chain():
    v, weights, visible_bias, hidden_bias = make_rbm(4, 6, 5)
    changed = v.copy()
    changed[[0, 1, 3]] = 1.0 - changed[[0, 1, 3]]
    a = gibbs_chain(*as_mx(v, weights, visible_bias, hidden_bias), 3, 8)[1]
    b = gibbs_chain(*as_mx(changed, weights, visible_bias, hidden_bias), 3, 8)[1]
    np.testing.assert_array_equal(to_numpy(a)[2], to_numpy(b)[2])


def test_seed_and_step_may_be_arrays():
    rbm = as_mx(*make_rbm(2, 5, 3))
    from_ints = gibbs_chain(*rbm, 2, 3000000000, 6)[1]
    from_arrays = gibbs_chain(*rbm, 2, mx.array(3000000000, dtype=mx.uint32), mx.array([6]))[1]
    np.testing.assert_array_equal(to_numpy(from_ints), to_numpy(from_arrays))


def test_numpy_integers_count_as_ints():
    rbm = as_mx(*make_rbm(2, 5, 3))
    from_ints = gibbs_chain(*rbm, 2, 7, 6)[1]
    from_numpy = gibbs_chain(*rbm, np.int64(2), np.int64(7), np.uint32(6))[1]
    np.testing.assert_array_equal(to_numpy(from_ints), to_numpy(from_numpy))
    with pytest.raises(ValueError, match="seed must be in"):
        gibbs_chain(*rbm, 1, np.int64(-1))


def test_given_h_prob_is_used_for_the_first_step():
    v, weights, visible_bias, hidden_bias = make_rbm(5, 7, 4)
    rbm = as_mx(v, weights, visible_bias, hidden_bias)
    h_prob = mx.array(numpy_sigmoid(v @ weights + hidden_bias))
    given = gibbs_chain(*rbm, 2, 9, 3, h_prob=h_prob)
    computed = gibbs_chain(*rbm, 2, 9, 3)
    np.testing.assert_array_equal(to_numpy(given[0]), to_numpy(computed[0]))
    np.testing.assert_allclose(to_numpy(given[1]), to_numpy(computed[1]), rtol=1e-6, atol=1e-7)
    # The first step compares its uniforms with h_prob as given, not with one recomputed.
    all_on = gibbs_chain(*rbm, 1, 9, 3, h_prob=mx.ones((5, 4)))[1]
    np.testing.assert_allclose(
        to_numpy(all_on),
        numpy_sigmoid(weights.sum(axis=1) + visible_bias)[None].repeat(5, 0),
        rtol=1e-6,
    )


@pytest.mark.parametrize("gaussian_visible", [False, True])
def test_counter_noise_serves_successive_calls(gaussian_visible):
    """Three gibbs_chain calls of k = 2 steps from step 5 draw the numbers of counter_noise(seed,
    5, 6 steps): gibbs_sweep over its slices gives the same chain."""
    v, weights, visible_bias, hidden_bias = as_mx(*make_rbm(4, 6, 5, binary_start=True))
    hidden, visible = gibbs.counter_noise(21, 5, 6, 4, 6, 5, gaussian_visible=gaussian_visible)
    assert hidden.shape == (6, 4, 5) and visible.shape == (6, 4, 6)
    swept = chained = v
    for call in range(3):
        chained = gibbs_chain(
            chained,
            weights,
            visible_bias,
            hidden_bias,
            2,
            21,
            5 + 2 * call,
            gaussian_visible=gaussian_visible,
        )
        noise = (x[2 * call : 2 * call + 2] for x in (hidden, visible))
        swept = gibbs.gibbs_sweep(
            swept, weights, visible_bias, hidden_bias, *noise, gaussian_visible=gaussian_visible
        )
        np.testing.assert_allclose(to_numpy(swept[0]), to_numpy(chained[0]), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(to_numpy(swept[2]), to_numpy(chained[2]), rtol=1e-6, atol=1e-6)
        chained, swept = chained[0], swept[0]


def exact_visible_distribution(weights, visible_bias, hidden_bias):
    """p(v) of a binary RBM over all 2**n_visible states, from the free energy."""
    states = np.array(list(product([0.0, 1.0], repeat=len(visible_bias))))
    log_p = states @ visible_bias + np.logaddexp(0.0, states @ weights + hidden_bias).sum(1)
    p = np.exp(log_p - log_p.max())
    return states, p / p.sum()


def test_samples_follow_the_rbm_distribution():
    _, weights, visible_bias, hidden_bias = make_rbm(1, 3, 2, scale=1.0, seed=4)
    chains = 4000
    v0 = mx.zeros((chains, 3))
    v_sample, _, _ = gibbs_chain(v0, *as_mx(weights, visible_bias, hidden_bias), k=10, seed=17)
    states, p = exact_visible_distribution(weights, visible_bias, hidden_bias)
    codes = to_numpy(v_sample) @ np.array([4.0, 2.0, 1.0])
    counts = np.bincount(codes.astype(int), minlength=8)
    assert stats.chisquare(counts, p * chains).pvalue > 1e-3


def test_gaussian_visible_units_have_unit_variance_noise():
    v, weights, visible_bias, hidden_bias = make_rbm(200, 10, 6, binary_start=False)
    v_sample, v_mean, _ = gibbs_chain(
        *as_mx(v, weights, visible_bias, hidden_bias), k=2, seed=3, gaussian_visible=True
    )
    noise = (to_numpy(v_sample) - to_numpy(v_mean)).ravel()
    assert stats.kstest(noise, "norm").pvalue > 1e-3
    # Without couplings v ~ N(b, 1) exactly.
    v_sample, v_mean, _ = gibbs_chain(
        *as_mx(v, 0 * weights, visible_bias, hidden_bias), k=1, seed=3, gaussian_visible=True
    )
    np.testing.assert_allclose(to_numpy(v_mean), np.broadcast_to(visible_bias, v.shape))


# ------------------------------------------------------------------------- errors and dispatch


def test_bad_inputs_raise_clear_errors():
    v, weights, visible_bias, hidden_bias = as_mx(*make_rbm(2, 4, 3))
    with pytest.raises(TypeError, match="weights must be a float32 array"):
        gibbs_chain(v, mx.astype(weights, mx.float16), visible_bias, hidden_bias, 1, 0)
    with pytest.raises(ValueError, match=r"v must have shape \(chains, 4\)"):
        gibbs_chain(v[:, :3], weights, visible_bias, hidden_bias, 1, 0)
    with pytest.raises(ValueError, match="v must have shape"):
        gibbs_chain(v[0], weights, visible_bias, hidden_bias, 1, 0)
    with pytest.raises(ValueError, match=r"hidden_bias must have shape \(3,\)"):
        gibbs_chain(v, weights, visible_bias, visible_bias, 1, 0)
    with pytest.raises(ValueError, match="k must be in"):
        gibbs_chain(v, weights, visible_bias, hidden_bias, 0, 0)
    with pytest.raises(TypeError, match="k must be an int"):
        gibbs_chain(v, weights, visible_bias, hidden_bias, 1.0, 0)
    with pytest.raises(ValueError, match="seed must be in"):
        gibbs_chain(v, weights, visible_bias, hidden_bias, 1, 2**32)
    with pytest.raises(ValueError, match="step must be in"):
        gibbs_chain(v, weights, visible_bias, hidden_bias, 1, 0, -1)
    with pytest.raises(TypeError, match="seed must be an int or an integer array"):
        gibbs_chain(v, weights, visible_bias, hidden_bias, 1, mx.array(0.5))
    with pytest.raises(TypeError, match="use_kernel"):
        gibbs_chain(v, weights, visible_bias, hidden_bias, 1, 0, use_kernel="yes")
    with pytest.raises(ValueError, match=r"h_prob must have shape \(2, 3\) like p\(h \| v\), got"):
        gibbs_chain(v, weights, visible_bias, hidden_bias, 1, 0, h_prob=mx.zeros((2, 4)))
    with pytest.raises(TypeError, match="h_prob must be a float32 array"):
        gibbs_chain(v, weights, visible_bias, hidden_bias, 1, 0, h_prob=mx.zeros((2, 3), mx.int32))


def test_use_kernel_true_without_metal_says_why():
    if mx.metal.is_available():
        pytest.skip("this machine has Metal")
    rbm = as_mx(*make_rbm(2, 4, 3))
    with pytest.raises(RuntimeError, match="needs the Metal backend"):
        gibbs_chain(*rbm, 1, 0, use_kernel=True)


def test_dispatch_rules(monkeypatch):
    monkeypatch.setattr(dispatch.mx.metal, "is_available", lambda: True)
    monkeypatch.delenv(dispatch.ENV_VAR, raising=False)
    assert dispatch.use_metal(None, "f") is True
    assert dispatch.use_metal(False, "f") is False
    assert dispatch.use_metal(None, "f", unsupported="too big") is False
    with pytest.raises(ValueError, match="too big"):
        dispatch.use_metal(True, "f", unsupported="too big")
    monkeypatch.setenv(dispatch.ENV_VAR, "reference")
    assert dispatch.use_metal(None, "f") is False
    assert dispatch.use_metal(True, "f") is True
    monkeypatch.setenv(dispatch.ENV_VAR, "fastest")
    with pytest.raises(ValueError, match="EMBER_KERNELS"):
        dispatch.use_metal(None, "f")


def test_kernel_limits():
    assert gibbs.kernel_limits(64, 784, 500) is None
    assert "threadgroup memory" in gibbs.kernel_limits(1, 5000, 4000)
    assert "2**31" in gibbs.kernel_limits(2**22, 784, 500)
    config = gibbs.launch_config(11, 784, 500)
    assert config["chains_per_group"] == 6  # 6 * (784 + 500) floats fit in 32 KiB
    assert config["grid"] == (256, 2, 1) and config["threadgroup"] == (256, 1, 1)
    assert gibbs.launch_config(3, 5, 2)["grid"] == (32, 1, 1)


# ------------------------------------------------------------------------- the Metal kernel

KERNEL_CASES = {
    # name: (chains, n_visible, n_hidden, k, threadgroup_width, gaussian_visible)
    "one unit": (2, 1, 1, 3, None, False),
    "batch of one": (1, 9, 5, 2, None, False),
    "inputs under 8 elements": (4, 3, 5, 2, None, False),
    "units past one threadgroup, not a multiple of its width": (11, 70, 37, 3, 32, False),
    "default width, partial last group of chains": (9, 100, 40, 2, None, False),
    "gaussian visible": (5, 20, 9, 3, None, True),
    "MNIST-sized, six chains per threadgroup": (13, 784, 500, 2, None, False),
}


def assert_same_chain(ours, reference, gaussian_visible):
    ours = [np.asarray(to_numpy(x)) for x in ours]
    reference = [to_numpy(x) for x in reference]
    if gaussian_visible:
        np.testing.assert_allclose(ours[0], reference[0], rtol=1e-5, atol=1e-5)
    else:
        np.testing.assert_array_equal(ours[0], reference[0])
    np.testing.assert_allclose(ours[1], reference[1], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours[2], reference[2], rtol=1e-5, atol=1e-5)


@needs_emulator
@pytest.mark.parametrize("case", list(KERNEL_CASES))
def test_kernel_equals_reference(case):
    chains, n_visible, n_hidden, k, width, gaussian_visible = KERNEL_CASES[case]
    rbm = as_mx(*make_rbm(chains, n_visible, n_hidden, binary_start=not gaussian_visible))
    kernel = emulator.metal_kernel(**gibbs.kernel_spec())
    ours = gibbs.run_kernel(
        kernel, *rbm, k, 77, 5, gaussian_visible=gaussian_visible, threadgroup_width=width
    )
    reference = gibbs_chain_reference(*rbm, k, 77, 5, gaussian_visible=gaussian_visible)
    assert_same_chain(ours, reference, gaussian_visible)


@pytest.mark.skipif(not mx.metal.is_available(), reason="runs the kernel on Metal (Apple silicon)")
@pytest.mark.parametrize("case", list(KERNEL_CASES))
def test_metal_kernel_equals_reference(case):
    chains, n_visible, n_hidden, k, _, gaussian_visible = KERNEL_CASES[case]
    rbm = as_mx(*make_rbm(chains, n_visible, n_hidden, binary_start=not gaussian_visible))
    ours = gibbs_chain(*rbm, k, 77, 5, gaussian_visible=gaussian_visible, use_kernel=True)
    with mx.stream(mx.cpu):  # full float32 matmuls for the oracle
        reference = gibbs_chain(*rbm, k, 77, 5, gaussian_visible=gaussian_visible, use_kernel=False)
    assert_same_chain(ours, reference, gaussian_visible)


@needs_emulator
def test_kernel_with_non_contiguous_inputs():
    v, weights, visible_bias, hidden_bias = make_rbm(6, 12, 7)
    big_v = np.zeros((12, 12), np.float32)
    big_v[::2] = v
    wide = np.zeros((14, 24), np.float32)
    wide[::2, ::2] = weights.T
    v_view = mx.array(big_v)[::2]
    weights_view = mx.array(wide)[::2, ::2].T
    visible_view = mx.array(np.repeat(visible_bias, 2))[::2]
    kernel = emulator.metal_kernel(**gibbs.kernel_spec())
    ours = gibbs.run_kernel(kernel, v_view, weights_view, visible_view, mx.array(hidden_bias), 2, 4)
    reference = gibbs_chain_reference(*as_mx(v, weights, visible_bias, hidden_bias), 2, 4)
    assert_same_chain(ours, reference, gaussian_visible=False)


@needs_emulator
def test_kernel_rejects_problems_past_its_limits():
    kernel = emulator.metal_kernel(**gibbs.kernel_spec())
    v, weights, visible_bias, hidden_bias = (
        mx.zeros((1, 8100)),
        mx.zeros((8100, 100)),
        mx.zeros((8100,)),
        mx.zeros((100,)),
    )
    with pytest.raises(ValueError, match="threadgroup memory"):
        gibbs.run_kernel(kernel, v, weights, visible_bias, hidden_bias, 1, 0)


@pytest.mark.mlx_only
def test_metal_source_is_what_mlx_generates(capfd):
    """MLX prints the source it builds when tracing for export, even without Metal."""
    rbm = as_mx(*make_rbm(3, 6, 4))
    spec = gibbs.kernel_spec()
    kernel = mx.fast.metal_kernel(**spec)

    def traced(*arrays):
        verbose_kernel = lambda **kwargs: kernel(verbose=True, **kwargs)  # noqa: E731
        return gibbs.run_kernel(verbose_kernel, *arrays, 2, 5, 1)

    with tempfile.TemporaryDirectory() as folder:
        mx.export_function(os.path.join(folder, "gibbs.mlxfn"), traced, *rbm)
    printed = capfd.readouterr().out
    mlx_source = re.search(r"```\n(.*)\n```", printed, re.S).group(1)
    arrays = [to_numpy(x) for x in (rbm[0], rbm[1], rbm[1].T, rbm[2], rbm[3])]
    params = np.array([5, 1, 3, 2], np.uint32)
    template = [("NV", 6), ("NH", 4), ("CHAINS", 3), ("GAUSSIAN", False)]
    ours = emulator.metal_kernel(**spec).metal_source([*arrays, params], [mx.float32] * 3, template)
    assert ours == mlx_source


@needs_emulator
@pytest.mark.parametrize("persistent", [False, True], ids=["CD", "PCD"])
def test_rbm_on_the_kernel_path_equals_the_reference(monkeypatch, persistent):
    """An RBM trains and samples through the (emulated) Metal kernel by default, with the same
    numbers as on the reference path."""
    from ember_mlx.models.rbm import RBM

    data = mx.array((np.random.default_rng(3).random((10, 12)) < 0.4).astype(np.float32))

    def run():
        rbm = RBM(12, 6, learning_rate=0.1, persistent=persistent, num_chains=4, seed=5)
        rbm.train(data, epochs=2, batch_size=4, progress=False)
        return to_numpy(rbm.weights), to_numpy(rbm.generate(4, k=3))

    monkeypatch.delenv("EMBER_KERNELS", raising=False)
    monkeypatch.setattr(mx.metal, "is_available", lambda: True)
    calls = []

    def emulated_kernel():
        calls.append(1)
        return emulator.metal_kernel(**gibbs.kernel_spec())

    monkeypatch.setattr(gibbs, "_metal_kernel", emulated_kernel)
    mx.disable_compile()  # the emulator runs eagerly; on Metal the real kernel compiles
    try:
        kernel_weights, kernel_samples = run()
        assert calls, "the RBM did not take the kernel path"
        monkeypatch.setenv("EMBER_KERNELS", "reference")
        reference_weights, reference_samples = run()
    finally:
        mx.enable_compile()
    np.testing.assert_allclose(kernel_weights, reference_weights, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(kernel_samples, reference_samples)
    assert not np.array_equal(kernel_weights, to_numpy(RBM(12, 6, seed=5).weights))
