"""RKM from first principles: the circuit against an explicit per-resistor loop (voltages, Joule
power for every offset, Thomson's principle, relaxation times), the samplers' statistics, the
update (gradients, SGD, Adam, L1/L2, centering, clipping, power bookkeeping) against numpy at
zero temperature, the training algorithms and epochs, persistence, bad input, and learning
binarised 8x8 digits. Parity with pyrkm itself is in test_rkm_pyrkm.py."""

import copy
import math
import pickle

import numpy as np
import pytest
from sklearn.datasets import load_digits

from ember_mlx.backend import mx, to_numpy
from ember_mlx.checkpoint import CheckpointError, load_arrays, save_arrays
from ember_mlx.models.rkm import (
    RKM,
    Noise,
    ResistorLayer,
    contrastive_gradients,
    rkm_step,
    sample_states,
)
from ember_mlx.nn.module import Module

OFFSETS = (0.0, 0.3, 1.0)


def np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def explicit_circuit(x, weights, bias, gain, offset, y=None):
    """Node voltages and Joule power of one resistor network, resistor by resistor (float64).

    Edge (i, j) has conductance |M_ij| to x_i (M_ij >= 0) or to offset - x_i; node j's bias
    resistor has conductance |c_j| / gain to gain (c_j >= 0) or to offset - gain.
    """
    x, weights, bias = (np.asarray(a, np.float64) for a in (x, weights, bias))
    batch, (inputs, outputs) = x.shape[0], weights.shape
    voltages, power = np.zeros((batch, outputs)), np.zeros(batch)
    for b in range(batch):
        for j in range(outputs):
            conductances = [abs(weights[i, j]) for i in range(inputs)]
            sources = [x[b, i] if weights[i, j] >= 0 else offset - x[b, i] for i in range(inputs)]
            conductances.append(abs(bias[j]) / gain)
            sources.append(gain if bias[j] >= 0 else offset - gain)
            conductances, sources = np.array(conductances), np.array(sources)
            voltages[b, j] = conductances @ sources / conductances.sum()
            node = voltages[b, j] if y is None else y[b, j]
            power[b] += 0.5 * conductances @ (sources - node) ** 2
    return voltages, power


def random_parameters(visible=6, hidden=4, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "weights": rng.normal(0, 0.7, (visible, hidden)).astype(np.float32),
        "visible_bias": rng.normal(0, 0.7, visible).astype(np.float32),
        "hidden_bias": rng.normal(0, 0.7, hidden).astype(np.float32),
    }


def make_rkm(params, **options):
    visible, hidden = params["weights"].shape
    rkm = RKM(visible, hidden, **options)
    rkm.update({name: mx.array(value) for name, value in params.items()})
    return rkm


# ---------------------------------------------------------------------------- the circuit


@pytest.mark.parametrize("offset", OFFSETS)
def test_relaxed_voltages_are_conductance_weighted_means(offset):
    params = random_parameters()
    rkm = make_rkm(params, offset=offset, g_v=0.7, g_h=0.3)
    rng = np.random.default_rng(1)
    v = rng.random((3, 6)).astype(np.float32)
    h = (rng.random((3, 4)) < 0.5).astype(np.float32)
    W, a, b = params["weights"], params["visible_bias"], params["hidden_bias"]
    np.testing.assert_allclose(
        to_numpy(rkm.hidden_voltages(v)), explicit_circuit(v, W, b, 0.3, offset)[0], atol=1e-5
    )
    np.testing.assert_allclose(
        to_numpy(rkm.visible_voltages(h)), explicit_circuit(h, W.T, a, 0.7, offset)[0], atol=1e-5
    )


@pytest.mark.parametrize("offset", OFFSETS)
def test_power_is_half_the_sum_of_conductance_times_drop_squared(offset):
    params = random_parameters(seed=2)
    rkm = make_rkm(params, offset=offset, g_v=0.7, g_h=0.3)
    rng = np.random.default_rng(3)
    v = (rng.random((4, 6)) < 0.5).astype(np.float32)
    h = rng.random((4, 4)).astype(np.float32)
    W, a, b = params["weights"], params["visible_bias"], params["hidden_bias"]
    forward = explicit_circuit(v, W, b, 0.3, offset)[1]
    backward = explicit_circuit(h, W.T, a, 0.7, offset)[1]
    np.testing.assert_allclose(to_numpy(rkm.power_forward(v)), forward, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(to_numpy(rkm.power_backward(h)), backward, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(rkm.av_power_forward(v).item(), forward.mean(), rtol=1e-5)
    np.testing.assert_allclose(rkm.av_power_backward(h).item(), backward.mean(), rtol=1e-5)
    assert forward.min() > 0 and backward.min() > 0


@pytest.mark.parametrize("offset", OFFSETS)
def test_power_at_any_node_voltages_and_thomsons_principle(offset):
    params = random_parameters(seed=4)
    layer = ResistorLayer(mx.array(params["weights"]), mx.array(params["hidden_bias"]), 0.4, offset)
    rng = np.random.default_rng(5)
    x = rng.random((3, 6)).astype(np.float32)
    y = rng.normal(0, 1, (3, 4)).astype(np.float32)
    expected = explicit_circuit(x, params["weights"], params["hidden_bias"], 0.4, offset, y)[1]
    np.testing.assert_allclose(to_numpy(layer.power(mx.array(x), mx.array(y))), expected, rtol=1e-5)
    # The relaxed voltages minimise the power: any other node voltages dissipate more.
    relaxed = to_numpy(layer.power(mx.array(x)))
    best = to_numpy(layer.voltages(mx.array(x)))
    for scale in (1e-2, 1e-1, 1.0):
        moved = best + scale * rng.normal(0, 1, best.shape).astype(np.float32)
        assert np.all(to_numpy(layer.power(mx.array(x), mx.array(moved))) > relaxed)


def test_power_is_never_negative_for_random_circuits():
    rng = np.random.default_rng(6)
    for trial in range(20):
        offset = float(rng.uniform(-1.5, 1.5))
        params = random_parameters(visible=8, hidden=5, seed=100 + trial)
        rkm = make_rkm(params, offset=offset, g_v=float(rng.uniform(0.1, 2)))
        v = (rng.random((16, 8)) < 0.5).astype(np.float32)
        h = (rng.random((16, 5)) < 0.5).astype(np.float32)
        assert to_numpy(rkm.power_forward(v)).min() >= -1e-5
        assert to_numpy(rkm.power_backward(h)).min() >= -1e-5


def test_relaxation_times_are_two_over_total_conductance():
    params = random_parameters()
    rkm = make_rkm(params, g_v=0.7, g_h=0.3)
    W, a, b = params["weights"], params["visible_bias"], params["hidden_bias"]
    tau_forward, tau_backward = rkm.relaxation_times()
    assert tuple(tau_forward.shape) == (4,) and tuple(tau_backward.shape) == (6,)
    np.testing.assert_allclose(
        to_numpy(tau_forward), 2 / (np.abs(W).sum(0) + np.abs(b) / 0.3), rtol=1e-6
    )
    np.testing.assert_allclose(
        to_numpy(tau_backward), 2 / (np.abs(W).sum(1) + np.abs(a) / 0.7), rtol=1e-6
    )


def test_disconnected_node_floats_at_zero_volts():
    params = random_parameters()
    params["weights"][:, 2] = 0.0
    params["hidden_bias"][2] = 0.0
    rkm = make_rkm(params)
    v = np.ones((2, 6), np.float32)
    tau = to_numpy(rkm.relaxation_times()[0])
    assert tau[2] == np.inf and np.all(np.isfinite(np.delete(tau, 2)))
    voltages = to_numpy(rkm.hidden_voltages(v))
    assert np.all(voltages[:, 2] == 0) and np.all(np.isfinite(voltages))
    expected = explicit_circuit(
        v, np.delete(params["weights"], 2, 1), np.delete(params["hidden_bias"], 2), 0.5, 0.0
    )[1]
    np.testing.assert_allclose(to_numpy(rkm.power_forward(v)), expected, rtol=1e-5)


# ---------------------------------------------------------------------------- the units


def test_unit_probabilities_of_both_energy_types():
    params = random_parameters()
    W, b = params["weights"], params["hidden_bias"]
    v = (np.random.default_rng(7).random((5, 6)) < 0.5).astype(np.float32)
    hopfield = make_rkm(params, energy_type="hopfield", model_beta=1.5)
    np.testing.assert_allclose(
        to_numpy(hopfield(v)), np_sigmoid(1.5 * (v @ W + b)), rtol=1e-5, atol=1e-6
    )
    circuit = make_rkm(params, model_beta=1.5)
    voltages = explicit_circuit(v, W, b, 0.5, 0.0)[0]
    np.testing.assert_allclose(
        to_numpy(circuit(v)), np_sigmoid(1.5 * 6 * voltages), rtol=1e-5, atol=1e-6
    )
    unscaled = make_rkm(params, model_beta=1.5, layer_scaled=False)
    np.testing.assert_allclose(
        to_numpy(unscaled(v)), np_sigmoid(1.5 * voltages), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize(
    ("sampling", "distribution"),
    [("bernoulli", "gaussian"), ("multi-threshold", "gaussian"), ("multi-threshold", "uniform")],
)
def test_sampler_frequencies_match_their_probabilities(sampling, distribution):
    from scipy.stats import norm

    beta, scale = 2.0, 10.0
    values = np.array([-0.06, -0.01, 0.0, 0.02, 0.04], np.float32)
    x = mx.array(np.tile(values, (20000, 1)))
    probability, states = sample_states(
        x,
        Noise(mx.random.key(3)),
        sampling=sampling,
        distribution=distribution,
        beta=beta,
        scale=scale,
    )
    z = beta * scale * values.astype(np.float64)
    expected = {
        "bernoulli": np_sigmoid(z),
        "gaussian": norm.cdf(z),
        "uniform": np.clip((1 + z) / 2, 0, 1),
    }["bernoulli" if sampling == "bernoulli" else distribution]
    np.testing.assert_allclose(to_numpy(probability)[0], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(to_numpy(states).mean(0), expected, atol=0.015)
    assert set(np.unique(to_numpy(states))) <= {0.0, 1.0}


@pytest.mark.parametrize("distribution", ["gaussian", "uniform"])
def test_single_threshold_is_shared_by_every_unit(distribution):
    noise = Noise(mx.random.key(4))
    ramp = mx.array(np.linspace(-0.5, 0.5, 40, dtype=np.float32)[None].repeat(3, 0))
    outcomes = set()
    for _ in range(30):
        states = to_numpy(
            sample_states(
                ramp, noise, sampling="single-threshold", distribution=distribution, beta=2.0
            )[1]
        )
        # One threshold: every row is the same step function of the (increasing) ramp.
        assert np.all(np.diff(states, axis=1) >= 0) and np.all(states == states[0])
        outcomes.add(int(states.sum()))
    assert len(outcomes) > 3


def test_zero_temperature_thresholds_at_zero_and_draws_nothing():
    x = mx.array(np.array([[-0.2, 0.0, 0.3]], np.float32))
    noise = Noise(mx.random.key(0))
    for sampling in ("bernoulli", "multi-threshold", "single-threshold"):
        probability, states = sample_states(
            x, noise, sampling=sampling, distribution="gaussian", beta=math.inf
        )
        np.testing.assert_array_equal(to_numpy(states), [[0.0, 0.0, 1.0]])
    np.testing.assert_array_equal(to_numpy(noise.key), to_numpy(mx.random.key(0)))


def test_noise_pool_draws_ahead_and_never_repeats():
    exact, pooled = Noise(mx.random.key(9)), Noise(mx.random.key(9), block=64)
    keys = [to_numpy(pooled.key)]
    draws = []
    for _ in range(5):  # 4 x 15 numbers fit in one block of 64, the fifth needs another
        draws.append(to_numpy(pooled.uniform((3, 5))))
        keys.append(to_numpy(pooled.key))
    unchanged = [np.array_equal(a, b) for a, b in zip(keys[:-1], keys[1:], strict=True)]
    assert unchanged == [False, True, True, True, False]
    numbers = np.concatenate([d.ravel() for d in draws])
    assert len(np.unique(numbers)) == numbers.size and 0 <= numbers.min() < numbers.max() < 1
    normal = to_numpy(pooled.normal((4, 4)))  # normals come from their own pool
    assert normal.shape == (4, 4) and normal.min() < 0 < normal.max()
    before = to_numpy(exact.key)
    exact.uniform((2,))
    assert not np.array_equal(to_numpy(exact.key), before)


def test_keys_make_sampling_reproducible_and_advance_the_model_key():
    rkm = RKM(6, 4)
    v = np.ones((3, 6), np.float32)
    key = mx.random.key(11)
    np.testing.assert_array_equal(
        to_numpy(rkm.sample_hidden(v, key=key)), to_numpy(rkm.sample_hidden(v, key=key))
    )
    start = to_numpy(rkm.key)
    rkm.generate(4)
    assert not np.array_equal(to_numpy(rkm.key), start)


# ---------------------------------------------------------------------------- the update


def test_gradients_are_the_mean_per_sample_outer_products():
    rng = np.random.default_rng(8)
    vd, vm = (rng.random((5, 6)) < 0.5), (rng.random((7, 6)) < 0.5)
    hd, hm = (rng.random((5, 4)) < 0.5), (rng.random((7, 4)) < 0.5)
    vd, vm, hd, hm = (a.astype(np.float32) for a in (vd, vm, hd, hm))
    ov, oh = rng.random(6).astype(np.float32), rng.random(4).astype(np.float32)
    for centered in (False, True):
        o_v, o_h = (ov, oh) if centered else (0.0, 0.0)
        dW = np.einsum("bi,bj->bij", vd - o_v, hd - o_h).mean(0)
        dW -= np.einsum("bi,bj->bij", vm - o_v, hm - o_h).mean(0)
        da, db = vd.mean(0) - vm.mean(0), hd.mean(0) - hm.mean(0)
        if centered:
            da, db = da - dW @ oh, db - ov @ dW
        offsets = (mx.array(ov), mx.array(oh)) if centered else ()
        got = contrastive_gradients(*(mx.array(a) for a in (vd, hd, vm, hm)), *offsets)
        np.testing.assert_allclose(to_numpy(got["weights"]), dW, atol=1e-6)
        np.testing.assert_allclose(to_numpy(got["visible_bias"]), da, atol=1e-6)
        np.testing.assert_allclose(to_numpy(got["hidden_bias"]), db, atol=1e-6)


def numpy_cd1_at_zero_temperature(params, batch, gain=0.5):
    """CD-1 of a zero-temperature RKM (offset 0): the states, the uncentred direction, and the
    update's power bookkeeping, from the explicit circuit.

    The model pair is the chain's last visible states and the hidden states that produced
    them, which at zero temperature are the positive phase's.
    """
    W, a, b = (params[n].astype(np.float64) for n in ("weights", "visible_bias", "hidden_bias"))
    h_data = (explicit_circuit(batch, W, b, gain, 0.0)[0] > 0).astype(np.float64)
    v_model = (explicit_circuit(h_data, W.T, a, gain, 0.0)[0] > 0).astype(np.float64)
    h_model = h_data
    direction = {
        "weights": batch.T @ h_data / len(batch) - v_model.T @ h_model / len(v_model),
        "visible_bias": batch.mean(0) - v_model.mean(0),
        "hidden_bias": h_data.mean(0) - h_model.mean(0),
    }
    p_data = explicit_circuit(batch, W, b, gain, 0.0)[1]
    p_down = explicit_circuit(h_data, W.T, a, gain, 0.0)[1]
    power = {
        "power_f": 2 * p_data.mean(),  # the positive phase and the chain's first up-step
        "power_b": p_down.mean(),
        "dissipated_energy": 2 * p_data.sum() + p_down.sum(),
    }
    return (h_data, v_model, h_model), direction, power


def zero_temperature_rkm(params, **options):
    return make_rkm(params, train_algo="CD", model_beta=math.inf, **options)


@pytest.mark.parametrize("regularization", [None, "l1", "l2", "l1+l2"])
def test_sgd_step_with_penalties(regularization):
    params = random_parameters(seed=9)
    batch = (np.random.default_rng(10).random((5, 6)) < 0.5).astype(np.float32)
    rkm = zero_temperature_rkm(
        params, learning_rate=0.1, regularization=regularization, l1_factor=0.01, l2_factor=0.02
    )
    rkm_step(rkm, batch)
    _, direction, power = numpy_cd1_at_zero_temperature(params, batch)
    for name, value in params.items():
        penalty = 0.0
        if regularization in ("l1", "l1+l2"):
            penalty = penalty + 0.01 * np.sign(value)
        if regularization in ("l2", "l1+l2"):
            penalty = penalty + 2 * 0.02 * value
        expected = value + 0.1 * (direction[name] - penalty)
        np.testing.assert_allclose(to_numpy(getattr(rkm, name)), expected, atol=1e-5)
    for name, value in power.items():
        np.testing.assert_allclose(getattr(rkm, name).item(), value, rtol=1e-5)
    assert rkm.updates == 1


def test_adam_steps_descend_the_penalised_objective():
    params = random_parameters(seed=12)
    batch = (np.random.default_rng(13).random((5, 6)) < 0.5).astype(np.float32)
    rkm = zero_temperature_rkm(params, learning_rate=0.01, optimizer="Adam", regularization="l2")
    m = {name: 0.0 for name in params}
    s = {name: 0.0 for name in params}
    theta = {name: value.astype(np.float64) for name, value in params.items()}
    for t in (1, 2, 3):
        _, direction, _ = numpy_cd1_at_zero_temperature(
            {n: v.astype(np.float32) for n, v in theta.items()}, batch
        )
        rkm_step(rkm, batch)
        for name in params:
            ascent = direction[name] - 2 * 1e-3 * theta[name]
            m[name] = 0.9 * m[name] + 0.1 * ascent
            s[name] = 0.999 * s[name] + 0.001 * ascent**2
            step = (m[name] / (1 - 0.9**t)) / (np.sqrt(s[name] / (1 - 0.999**t)) + 1e-8)
            theta[name] = theta[name] + 0.01 * step
            np.testing.assert_allclose(to_numpy(getattr(rkm, name)), theta[name], atol=1e-5)
    assert rkm.updates == 3


def test_centering_slides_the_offsets_and_corrects_the_biases():
    params = random_parameters(seed=14)
    batch = (np.random.default_rng(15).random((5, 6)) < 0.5).astype(np.float32)
    mean = np.full(6, 0.4, np.float32)
    rkm = zero_temperature_rkm(params, learning_rate=0.1, centering=True, average_data=mean)
    (h_data, v_model, h_model), direction, _ = numpy_cd1_at_zero_temperature(params, batch)
    ov = 0.99 * mean + 0.01 * batch.mean(0)
    oh = 0.99 * 0.5 + 0.01 * h_data.mean(0)
    rkm_step(rkm, batch)
    np.testing.assert_allclose(to_numpy(rkm.visible_offset), ov, atol=1e-6)
    np.testing.assert_allclose(to_numpy(rkm.hidden_offset), oh, atol=1e-6)
    dW = (batch - ov).T @ (h_data - oh) / 5 - (v_model - ov).T @ (h_model - oh) / 5
    expected = {
        "weights": dW,
        "visible_bias": direction["visible_bias"] - dW @ oh,
        "hidden_bias": direction["hidden_bias"] - ov @ dW,
    }
    for name, value in params.items():
        np.testing.assert_allclose(
            to_numpy(getattr(rkm, name)), value + 0.1 * expected[name], atol=1e-5
        )


def test_clipping_bounds_weights_and_both_biases():
    params = random_parameters(seed=16)
    rkm = make_rkm(params, learning_rate=1.0, train_algo="CD", clip_bounds=(-0.2, 0.25))
    batch = (np.random.default_rng(17).random((8, 6)) < 0.5).astype(np.float32)
    for _ in range(3):
        rkm_step(rkm, batch)
    for name in ("weights", "visible_bias", "hidden_bias"):
        value = to_numpy(getattr(rkm, name))
        assert value.min() >= -0.2 and value.max() <= 0.25
    assert (
        np.isclose(to_numpy(rkm.weights), 0.25).any()
        or np.isclose(to_numpy(rkm.weights), -0.2).any()
    )


# ---------------------------------------------------------------------------- training


def prototypes(samples=64, visible=32, flip=0.05, seed=0):
    rng = np.random.default_rng(seed)
    protos = rng.random((4, visible)) < 0.5
    data = protos[rng.integers(0, 4, samples)] ^ (rng.random((samples, visible)) < flip)
    return data.astype(np.float32)


@pytest.mark.parametrize("train_algo", ["CD", "PCD", "vRDM", "hRDM", "RDM"])
def test_every_algorithm_trains_and_accounts_its_power(train_algo):
    data = prototypes(samples=40)
    rkm = RKM(32, 16, 0.05, train_algo=train_algo, k=2, num_chains=8, average_data=data.mean(0))
    chains = to_numpy(rkm.chains) if train_algo == "PCD" else None
    history = rkm.train(data, epochs=2, batch_size=16)
    assert rkm.updates == 6  # ceil(40 / 16) updates per pass over the data
    assert set(history) == {"reconstruction_error", "power_forward", "power_backward", "energy"}
    assert all(len(values) == 2 for values in history.values())
    assert history["power_forward"][0] > 0 and history["power_backward"][0] > 0
    assert 0 < history["energy"][0] < history["energy"][1]
    assert rkm.power_f.item() > 0 and rkm.power_b.item() > 0
    if train_algo == "PCD":
        assert tuple(rkm.chains.shape) == (8, 32) and not np.array_equal(
            to_numpy(rkm.chains), chains
        )
    else:
        assert "chains" not in rkm


@pytest.mark.parametrize(
    ("learning_rate", "options"),
    [
        (0.05, {"train_algo": "PCD"}),
        (0.05, {"train_algo": "vRDM"}),
        (0.01, {"train_algo": "CD", "sampling": "multi-threshold"}),
        (0.1, {"train_algo": "PCD", "energy_type": "hopfield"}),
    ],
)
def test_training_learns_noisy_prototypes(learning_rate, options):
    """Four 32-pixel prototypes with 5% of the pixels flipped; 160 updates."""
    data = prototypes()
    rkm = RKM(32, 16, learning_rate, num_chains=16, average_data=data.mean(0), **options)
    before = mx.mean(rkm.reconstruction_error(data)).item()
    history = rkm.train(data, epochs=40, batch_size=16, metrics=("reconstruction_error",))
    assert before > 0.35
    assert history["reconstruction_error"][-1] < 0.2


def test_epochs_are_passes_and_the_shuffle_changes_nothing_but_the_order():
    data = prototypes(samples=25)
    rkm = RKM(32, 8, 0.05, train_algo="CD")
    rkm.train(data, epochs=3, batch_size=10, metrics=())
    assert rkm.updates == 9
    same_a, same_b = RKM(32, 8, 0.05, seed=3), RKM(32, 8, 0.05, seed=3)
    same_a.train(data, epochs=1, batch_size=10, metrics=())
    same_b.train(data, epochs=1, batch_size=10)  # metrics use their own key
    np.testing.assert_array_equal(to_numpy(same_a.weights), to_numpy(same_b.weights))


def test_training_leaves_the_callers_average_data_alone():
    """pyrkm's visible bias aliases ``average_data`` and its SGD step updates it in place."""
    data = prototypes(samples=16)
    mean = mx.array(data.mean(0))
    rkm = RKM(32, 8, 0.5, train_algo="CD", centering=True, average_data=mean)
    rkm.train(data, epochs=2, batch_size=8, metrics=())
    np.testing.assert_array_equal(to_numpy(mean), data.mean(0))
    assert not np.allclose(to_numpy(rkm.visible_bias), data.mean(0))


def test_reconstruct_at_finite_and_zero_temperature():
    data = prototypes(samples=48)
    rkm = RKM(32, 16, 0.05, train_algo="PCD", num_chains=16, average_data=data.mean(0))
    rkm.train(data, epochs=40, batch_size=16, metrics=())
    recon = to_numpy(rkm.reconstruct(data, k=1, key=mx.random.key(1)))
    assert recon.shape == data.shape and set(np.unique(recon)) <= {0.0, 1.0}
    assert np.mean(recon != data) < 0.2
    cold = to_numpy(rkm.reconstruct(data, k=3, beta=math.inf))
    np.testing.assert_array_equal(cold, to_numpy(rkm.reconstruct(data, k=3, beta=math.inf)))
    np.testing.assert_array_equal(to_numpy(rkm.reconstruct(data, k=0)), data)


@pytest.mark.parametrize(
    ("train_algo", "options"),
    [("vRDM", {"k": 1}), ("hRDM", {"k": 0, "from_visible": False})],
)
def test_random_start_models_generate_from_noise_as_trained(train_algo, options):
    """vRDM-1 generates in one step from visible noise, hRDM-1 in one push from hidden noise."""
    data = prototypes()
    rkm = RKM(32, 16, 0.05, train_algo=train_algo, num_chains=16, average_data=data.mean(0))

    def marginal_error(**extra):
        samples = to_numpy(rkm.generate(500, key=mx.random.key(2), **options, **extra))
        assert samples.shape == (500, 32) and set(np.unique(samples)) <= {0.0, 1.0}
        return np.abs(samples.mean(0) - data.mean(0)).mean()

    assert marginal_error() > 0.4
    rkm.train(data, epochs=40, batch_size=16, metrics=())
    assert marginal_error() < 0.1
    if train_algo == "hRDM":
        assert marginal_error(h_binarized=False) < 0.4


def test_save_load_restores_everything_needed_to_continue_training(tmp_path):
    data = prototypes(samples=32)
    options = dict(
        train_algo="PCD",
        optimizer="Adam",
        centering=True,
        average_data=data.mean(0),
        num_chains=8,
        offset=0.5,
        sampling="multi-threshold",
        seed=5,
    )
    rkm = RKM(32, 8, 0.01, **options)
    rkm.train(data, epochs=2, batch_size=8, metrics=())
    path = tmp_path / "rkm.safetensors"
    rkm.save(path)
    loaded = Module.load(path)
    assert isinstance(loaded, RKM) and loaded.get_config() == rkm.get_config()
    assert loaded.updates == rkm.updates == 8
    for model in (rkm, loaded):
        model.train(data, epochs=1, batch_size=8, metrics=())
    for name, value in rkm.named_parameters():
        np.testing.assert_array_equal(
            to_numpy(dict(loaded.named_parameters())[name]), to_numpy(value)
        )
    assert set(dict(rkm.trainable_parameters())) == {"weights", "visible_bias", "hidden_bias"}


def test_pickle_and_deepcopy_continue_training_identically():
    data = prototypes(samples=24)
    rkm = RKM(32, 8, 0.05, train_algo="PCD", optimizer="Adam", num_chains=8, seed=3)
    rkm.train(data, epochs=1, batch_size=8, metrics=(), progress=False)
    copies = [pickle.loads(pickle.dumps(rkm)), copy.deepcopy(rkm)]
    for model in (rkm, *copies):
        model.train(data, epochs=1, batch_size=8, metrics=(), progress=False)
    for model in copies:
        assert model.key.dtype == mx.uint32 and model.learning_rate == 0.05
        for name, value in rkm.named_parameters():
            np.testing.assert_array_equal(
                to_numpy(dict(model.named_parameters())[name]), to_numpy(value)
            )
    assert set(rkm.optimizer_state) == {"step", "learning_rate", *rkm.trainable_parameters()}


def test_learning_rate_set_after_construction_is_used_and_saved(tmp_path):
    data = prototypes(samples=16)
    changed, direct = RKM(32, 8, 1e-3, seed=1), RKM(32, 8, 0.5, seed=1)
    changed.learning_rate = 0.5
    for model in (changed, direct):
        model.train(data, epochs=1, batch_size=8, metrics=(), progress=False)
    for name, value in direct.named_parameters():
        np.testing.assert_array_equal(
            to_numpy(dict(changed.named_parameters())[name]), to_numpy(value)
        )
    path = tmp_path / "rkm.safetensors"
    changed.save(path)
    loaded = Module.load(path)
    assert loaded.learning_rate == 0.5 and loaded.optimizer_state["learning_rate"].item() == 0.5
    with pytest.raises(ValueError, match="learning_rate: expected a float >= 0.0"):
        changed.learning_rate = -0.1


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_is_refused(tmp_path, dtype):
    rkm = RKM(6, 4)
    with pytest.raises(ValueError, match=f"dtype: RKM computes in float32 .*{dtype}"):
        rkm.set_dtype(getattr(mx, dtype))
    rkm.set_dtype(mx.float32)  # changes nothing
    assert rkm.weights.dtype == rkm.optimizer_state["learning_rate"].dtype == mx.float32
    rkm.train(np.zeros((4, 6)), epochs=1, metrics=(), progress=False)
    path = tmp_path / "rkm.safetensors"
    rkm.save(path)
    arrays, metadata = load_arrays(path)
    arrays["hidden_bias"] = mx.astype(arrays["hidden_bias"], mx.float16)
    save_arrays(path, arrays, metadata)
    with pytest.raises(
        CheckpointError, match="'hidden_bias' is .*float16; RKM computes in float32"
    ):
        Module.load(path)


def test_non_finite_parameters_stop_training():
    rkm = RKM(6, 4, 0.1)
    rkm.weights = mx.full((6, 4), math.nan)
    with pytest.raises(FloatingPointError, match=r"epoch 1: weights.* NaN or infinite.*0\.1"):
        rkm.train(np.zeros((4, 6)), epochs=2, progress=False)


def test_progress_bar_is_optional(capsys):
    pytest.importorskip("tqdm")
    RKM(6, 4).train(np.zeros((4, 6)), epochs=1, batch_size=2, progress=True)
    assert "batch" in capsys.readouterr().err
    RKM(6, 4).train(np.zeros((4, 6)), epochs=1, batch_size=2, progress=False)
    assert capsys.readouterr().err == ""


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("options", "argument"),
    [
        ({"train_algo": "RDM2"}, "train_algo"),
        ({"energy_type": "ising"}, "energy_type"),
        ({"sampling": "poisson"}, "sampling"),
        ({"distribution": "laplace"}, "distribution"),
        ({"optimizer": "RMSprop"}, "optimizer"),
        ({"regularization": "l3"}, "regularization"),
        ({"k": 0}, "k"),
        ({"g_v": 0.0}, "g_v"),
        ({"g_h": -1.0}, "g_h"),
        ({"model_beta": 0.0}, "model_beta"),
        ({"offset": float("nan")}, "offset"),
        ({"clip_bounds": (1.0, -1.0)}, "clip_bounds"),
        ({"centering": True}, "average_data"),
        ({"average_data": np.zeros(5)}, "average_data"),
        ({"average_data": np.full(6, np.nan)}, "average_data"),
        ({"num_chains": 0}, "num_chains"),
        ({"seed": 2**32}, "seed"),
        ({"seed": 2**64}, "seed"),
    ],
)
def test_bad_configuration_names_the_argument(options, argument):
    with pytest.raises(ValueError, match=argument):
        RKM(6, 4, **options)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (np.zeros((3, 5)), r"shape \(samples, 6\)"),
        (np.zeros(6), r"shape \(samples, 6\)"),
        (np.zeros((0, 6)), "at least one sample"),
        (np.full((2, 6), np.nan), "NaN"),
        (np.full((2, 6), 2.0), r"\[0, 1\]"),
        (-np.ones((2, 6)), r"\[0, 1\]"),
    ],
)
def test_bad_data_is_refused_with_a_clear_error(data, message):
    rkm = RKM(6, 4)
    with pytest.raises(ValueError, match=f"data: .*{message}"):
        rkm.train(data, epochs=1)
    with pytest.raises(ValueError, match=f"data: .*{message}"):
        rkm.reconstruct(data)
    with pytest.raises(ValueError, match=message):
        rkm.power_forward(data)


def test_bad_call_arguments():
    rkm = RKM(6, 4)
    with pytest.raises(ValueError, match="h: expected shape"):
        rkm.power_backward(np.zeros((2, 6)))
    with pytest.raises(ValueError, match="k: expected an int >= 0"):
        rkm.reconstruct(np.zeros((2, 6)), k=-1)
    with pytest.raises(ValueError, match="num_samples"):
        rkm.generate(0)
    with pytest.raises(ValueError, match="beta"):
        rkm.sample_hidden(np.zeros((2, 6)), beta=-1.0)
    with pytest.raises(ValueError, match="epochs"):
        rkm.train(np.zeros((2, 6)), epochs=0)
    with pytest.raises(ValueError, match="metrics"):
        rkm.train(np.zeros((2, 6)), metrics=("accuracy",))
    with pytest.raises(TypeError, match="layer_scaled"):
        RKM(6, 4, layer_scaled="yes")
    with pytest.raises(TypeError, match="shuffle: expected a bool, got str"):
        rkm.train(np.zeros((2, 6)), shuffle="no")
    with pytest.raises(TypeError, match="progress: expected a bool, got int"):
        rkm.train(np.zeros((2, 6)), progress=0)
    with pytest.raises(TypeError, match="data: expected real numbers, got a .*complex"):
        rkm.reconstruct(np.zeros((2, 6)) + 0.5j)
    with pytest.raises(TypeError, match="data: expected a numeric array"):
        rkm.reconstruct(np.array([["a"] * 6]))


# ---------------------------------------------------------------------------- digits


@pytest.mark.slow
def test_pcd_learns_binarised_digits():
    """pyrkm 0.1.0 reaches 0.099 / 0.089 test reconstruction error after 300 / 1500 updates
    (same set-up); the independent-pixel baseline 2p(1 - p) is 0.264."""
    digits = (load_digits().data >= 8).astype(np.float32)
    order = np.random.default_rng(0).permutation(len(digits))
    train, test = digits[order[:1500]], digits[order[1500:]]
    rkm = RKM(64, 64, 0.01, train_algo="PCD", num_chains=50, average_data=train.mean(0))
    before = mx.mean(rkm.reconstruction_error(test)).item()
    history = rkm.train(train, epochs=50, batch_size=50, validation_data=test)
    assert rkm.updates == 1500
    assert before > 0.35
    assert history["validation_reconstruction_error"][-1] < 0.11
    assert min(history["power_forward"]) > 0 and min(history["power_backward"]) > 0
    tau_forward, tau_backward = rkm.relaxation_times()
    for tau in (tau_forward, tau_backward):
        assert mx.all(mx.isfinite(tau)).item() and mx.min(tau).item() > 0
