"""RBM: energies against numpy, the CD/PCD update against a numpy step, training behaviour
(batches, shuffling, convergence, resuming), sampling, features, persistence, bad input, and
pseudo-likelihood against scikit-learn's BernoulliRBM."""

import itertools
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.neural_network import BernoulliRBM

from ember_mlx.backend import mx, to_numpy
from ember_mlx.checkpoint import CheckpointError, load_arrays, save_arrays
from ember_mlx.kernels import gibbs_chain
from ember_mlx.kernels.gibbs import gibbs_sweep
from ember_mlx.models import RBMAnomalyDetector
from ember_mlx.models.rbm import (
    RBM,
    RBMModule,
    RestrictedBoltzmannMachine,
    contrastive_divergence_step,
    load_rbm,
    save_rbm,
    train_rbm,
    training,
    transform_in_chunks,
)
from ember_mlx.nn.module import Module


def np_softplus(x):
    return np.logaddexp(0.0, x)


def np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_free_energy(v, weights, visible_bias, hidden_bias, gaussian=False):
    """F(v) in float64, from the energy written out term by term."""
    v, weights = v.astype(np.float64), weights.astype(np.float64)
    hidden_term = np_softplus(v @ weights + hidden_bias).sum(axis=1)
    if gaussian:
        return 0.5 * ((v - visible_bias) ** 2).sum(axis=1) - hidden_term
    return -(v @ visible_bias) - hidden_term


def np_log_conditionals(v, weights, visible_bias, hidden_bias):
    """log p(v_i | v_-i) for every sample and unit, by flipping each unit and recomputing F."""
    base = np_free_energy(v, weights, visible_bias, hidden_bias)
    out = np.empty(v.shape)
    for i in range(v.shape[1]):
        flipped = v.copy()
        flipped[:, i] = 1.0 - flipped[:, i]
        gap = np_free_energy(flipped, weights, visible_bias, hidden_bias) - base
        out[:, i] = -np_softplus(-gap)
    return out


def random_rbm(visible=12, hidden=7, scale=0.5, **options):
    """An RBM with random (not small) parameters, and those parameters in numpy."""
    rng = np.random.default_rng(0)
    params = {
        "weights": rng.normal(0, scale, (visible, hidden)).astype(np.float32),
        "visible_bias": rng.normal(0, scale, visible).astype(np.float32),
        "hidden_bias": rng.normal(0, scale, hidden).astype(np.float32),
    }
    rbm = RBM(visible, hidden, **options)
    rbm.update({name: mx.array(value) for name, value in params.items()})
    return rbm, params


def binary_data(n, visible, seed=1, p=0.5):
    return (np.random.default_rng(seed).random((n, visible)) < p).astype(np.float32)


def prototypes(n=200, flip=0.05, seed=0):
    """Noisy copies of two 8-bit prototypes (the seeds' RBM learning check)."""
    rng = np.random.default_rng(seed)
    protos = np.array([[1, 1, 1, 1, 0, 0, 0, 0], [0, 0, 0, 0, 1, 1, 1, 1]], np.float32)
    data = protos[rng.integers(0, 2, n)]
    return np.abs(data - (rng.random(data.shape) < flip)).astype(np.float32)


def params_of(rbm):
    return {name: to_numpy(value) for name, value in rbm.named_parameters()}


def test_parameters_state_and_aliases():
    rbm = RBM(6, 4, 0.1, seed=3)
    trainable = {name for name, _ in rbm.named_parameters()} - {
        "velocity.weights",
        "velocity.visible_bias",
        "velocity.hidden_bias",
        "chains",
        "step",
        "epoch",
    }
    assert trainable == {"weights", "visible_bias", "hidden_bias"}
    assert rbm.weights.shape == (6, 4) and rbm.chains.shape == (100, 6)
    weights = to_numpy(rbm.weights)
    assert 0.003 < weights.std() < 0.03 and not np.array_equal(weights, to_numpy(RBM(6, 4).weights))
    np.testing.assert_array_equal(weights, to_numpy(RBM(6, 4, 0.1, seed=3).weights))
    assert RBMModule is RBM and RestrictedBoltzmannMachine is RBM
    rbm.eval()
    assert not rbm.training
    rbm.train()
    assert rbm.training


@pytest.mark.parametrize("gaussian", [False, True])
def test_free_energy_matches_numpy(gaussian):
    rbm, p = random_rbm(visible_type="gaussian" if gaussian else "binary")
    rng = np.random.default_rng(2)
    v = rng.normal(size=(9, 12)).astype(np.float32) if gaussian else binary_data(9, 12)
    expected = np_free_energy(v, p["weights"], p["visible_bias"], p["hidden_bias"], gaussian)
    np.testing.assert_allclose(to_numpy(rbm.free_energy(v)), expected, rtol=1e-5, atol=1e-5)


def test_free_energy_is_minus_log_sum_over_hidden_states():
    """exp(-F(v)) equals the sum of exp(-E(v, h)) over all hidden configurations."""
    rbm, p = random_rbm(visible=4, hidden=3)
    v = binary_data(5, 4)
    hidden = np.array(list(itertools.product([0, 1], repeat=3)), np.float64)
    energy = -(v @ p["visible_bias"])[:, None] - (hidden @ p["hidden_bias"])[None]
    energy = energy - np.einsum("ni,ij,hj->nh", v, p["weights"], hidden)
    expected = -np.log(np.exp(-energy).sum(axis=1))
    np.testing.assert_allclose(to_numpy(rbm.free_energy(v)), expected, rtol=1e-5, atol=1e-5)


def test_pseudo_likelihood_matches_numpy_and_sklearn():
    rbm, p = random_rbm(visible=12, hidden=7)
    v = binary_data(40, 12)
    per_unit = np_log_conditionals(v, p["weights"], p["visible_bias"], p["hidden_bias"])
    np.testing.assert_allclose(
        to_numpy(rbm.pseudo_likelihood(v)), per_unit.sum(axis=1), rtol=1e-5, atol=1e-5
    )
    # The seeded estimator is 12 * log p(v_i | v_-i) for one unit per sample, deterministic.
    estimate = to_numpy(rbm.pseudo_likelihood(v, seed=5))
    np.testing.assert_array_equal(estimate, to_numpy(rbm.pseudo_likelihood(v, seed=5)))
    gaps = np.abs(estimate[:, None] - 12 * per_unit).min(axis=1)
    np.testing.assert_array_less(gaps, 1e-4)
    # scikit-learn's score_samples draws from the same set: the two estimators agree.
    sk = BernoulliRBM(n_components=7, random_state=0)
    sk.components_ = p["weights"].T.astype(np.float64)
    sk.intercept_hidden_ = p["hidden_bias"].astype(np.float64)
    sk.intercept_visible_ = p["visible_bias"].astype(np.float64)
    sk_scores = sk.score_samples(v.astype(np.float64))
    np.testing.assert_array_less(np.abs(sk_scores[:, None] - 12 * per_unit).min(axis=1), 1e-4)
    # Unbiased: the mean over seeds approaches the exact value.
    seeds = np.stack([to_numpy(rbm.pseudo_likelihood(v[:4], seed=s)) for s in range(300)])
    spread = seeds.std(axis=0) / np.sqrt(len(seeds))
    np.testing.assert_array_less(np.abs(seeds.mean(axis=0) - per_unit[:4].sum(axis=1)), 5 * spread)


def test_pseudo_likelihood_in_blocks_equals_one_pass():
    rbm, p = random_rbm(visible=40, hidden=300, scale=0.1)
    v = binary_data(400, 40)  # 400 * 40 * 300 elements: more than one block
    per_unit = np_log_conditionals(v, p["weights"], p["visible_bias"], p["hidden_bias"])
    np.testing.assert_allclose(
        to_numpy(rbm.pseudo_likelihood(v)), per_unit.sum(axis=1), rtol=1e-5, atol=1e-4
    )


def test_transform_reconstruct_and_chunks_match_numpy(tmp_path):
    rbm, p = random_rbm()
    v = binary_data(25, 12)
    h = np_sigmoid(v @ p["weights"] + p["hidden_bias"])
    recon = np_sigmoid(h @ p["weights"].T + p["visible_bias"])
    np.testing.assert_allclose(to_numpy(rbm.transform(v)), h, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(to_numpy(rbm(v)), h, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(to_numpy(rbm.reconstruct(v)), recon, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        to_numpy(rbm.reconstruction_error(v)), ((v - recon) ** 2).mean(axis=1), rtol=1e-5
    )
    for chunks in (
        rbm.transform_in_chunks(mx.array(v), chunk_size=7),
        transform_in_chunks(rbm, v, chunk_size=100),
        transform_in_chunks(rbm, (v[i : i + 10] for i in range(0, 25, 10))),
        rbm.transform_in_chunks([v[:3], v[3:]]),
    ):
        assert chunks.shape == (25, 7)
        np.testing.assert_allclose(to_numpy(chunks), h, rtol=1e-5, atol=1e-6)
    for empty in (iter([]), np.zeros((0, 12), np.float32)):
        with pytest.raises(ValueError, match="data: expected at least one sample"):
            rbm.transform_in_chunks(empty)
    memmap = np.lib.format.open_memmap(
        tmp_path / "v.npy", mode="w+", dtype=np.float32, shape=v.shape
    )
    memmap[:] = v
    np.testing.assert_allclose(
        to_numpy(rbm.transform_in_chunks(memmap, chunk_size=4)), h, rtol=1e-5, atol=1e-6
    )
    with pytest.raises(ValueError, match=r"data: expected shape \(samples, 12\), got \(4, 11\)"):
        rbm.transform_in_chunks([v[:3], v[:4, :11]])


def test_gaussian_reconstruction_is_linear_in_the_hidden_probabilities():
    rbm, p = random_rbm(visible_type="gaussian")
    v = np.random.default_rng(3).normal(size=(6, 12)).astype(np.float32)
    h = np_sigmoid(v @ p["weights"] + p["hidden_bias"])
    expected = h @ p["weights"].T + p["visible_bias"]
    np.testing.assert_allclose(to_numpy(rbm.reconstruct(v)), expected, rtol=1e-5, atol=1e-5)


def numpy_step(params, velocity, batch, v_model, h_model, lr, mu, decay):
    """The update written from the textbook formulas, in float64."""
    h_data = np_sigmoid(batch @ params["weights"] + params["hidden_bias"])
    grads = {
        "weights": batch.T @ h_data / len(batch)
        - v_model.T @ h_model / len(v_model)
        - decay * params["weights"],
        "visible_bias": batch.mean(0) - v_model.mean(0),
        "hidden_bias": h_data.mean(0) - h_model.mean(0),
    }
    velocity = {n: mu * velocity[n] + lr * grads[n] for n in grads}
    return {n: params[n] + velocity[n] for n in grads}, velocity


@pytest.mark.parametrize("persistent", [False, True])
@pytest.mark.parametrize("mu, decay", [(0.7, 0.01), (0.0, 0.0)], ids=["momentum", "plain"])
def test_cd_step_matches_numpy(persistent, mu, decay):
    lr, k = 0.1, 2
    rbm, _ = random_rbm(
        learning_rate=lr,
        momentum=mu,
        weight_decay=decay,
        k=k,
        persistent=persistent,
        num_chains=5,
        seed=11,
    )
    batches = [binary_data(8, 12, seed=s) for s in (4, 5)]
    params = {n: to_numpy(getattr(rbm, n)).astype(np.float64) for n in rbm.velocity}
    velocity = {n: np.zeros_like(v) for n, v in params.items()}
    chains = to_numpy(rbm.chains)
    for t, batch in enumerate(batches):
        start = chains if persistent else batch
        v_model, _, h_model = gibbs_chain(
            mx.array(start),
            *(mx.array(params[n].astype(np.float32)) for n in rbm.velocity),
            k,
            seed=11,
            step=t * k,
        )
        v_model, h_model = to_numpy(v_model), to_numpy(h_model)
        params, velocity = numpy_step(params, velocity, batch, v_model, h_model, lr, mu, decay)
        chains = v_model if persistent else chains
        contrastive_divergence_step(rbm, batch)
        for name in params:
            np.testing.assert_allclose(to_numpy(getattr(rbm, name)), params[name], atol=2e-6)
            np.testing.assert_allclose(to_numpy(rbm.velocity[name]), velocity[name], atol=2e-6)
    np.testing.assert_array_equal(to_numpy(rbm.chains), chains)
    assert rbm.step.item() == 2 * k


@pytest.mark.parametrize(
    "block", [None, 100, 1], ids=["one block", "a block per batch", "past the bulk limit"]
)
@pytest.mark.parametrize("persistent", [False, True], ids=["cd", "pcd"])
def test_counter_training_draws_the_numbers_of_cd_steps(monkeypatch, persistent, block):
    """train(sampler="counter") draws its noise in bulk, yet equals one
    contrastive_divergence_step per batch, the last partial batch included, however the noise
    is cut in blocks (with block=1 each update's noise is past the bulk limit, so gibbs_chain
    draws it step by step)."""
    if block is not None:
        monkeypatch.setattr(training, "BLOCK_NUMBERS", block)
    data = prototypes(10)
    options = {"k": 2, "persistent": persistent, "num_chains": 3, "seed": 7, "momentum": 0.5}
    trained, stepped = RBM(8, 5, 0.1, **options), RBM(8, 5, 0.1, **options)
    trained.train(data, 2, 4, shuffle=False, metrics=(), progress=False, sampler="counter")
    for _ in range(2):
        for start in range(0, 10, 4):
            contrastive_divergence_step(stepped, data[start : start + 4])
    for name in ("weights", "visible_bias", "hidden_bias"):
        for ours, theirs in [
            (getattr(trained, name), getattr(stepped, name)),
            (trained.velocity[name], stepped.velocity[name]),
        ]:
            np.testing.assert_allclose(to_numpy(ours), to_numpy(theirs), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(to_numpy(trained.chains), to_numpy(stepped.chains))
    assert trained.step.item() == stepped.step.item() == 2 * 3 * 2


def test_native_sampler_update_is_the_documented_one():
    """One CD-2 update with sampler="native": the noise is mx.random under key(seed << 32 |
    step), split in two (hidden, visible), and the update is the numpy step on that chain."""
    rbm, params = random_rbm(learning_rate=0.1, momentum=0.0, weight_decay=0.0, k=2, seed=3)
    batch = binary_data(6, 12, seed=2)
    rbm.train(batch, 1, 6, metrics=(), shuffle=False, progress=False, sampler="native")
    hidden_key, visible_key = mx.random.split(mx.random.key(3 << 32 | 0))
    hidden = mx.random.uniform(shape=(2, 6, 7), key=hidden_key)
    visible = mx.random.uniform(shape=(2, 6, 12), key=visible_key)
    p = [mx.array(params[n]) for n in ("weights", "visible_bias", "hidden_bias")]
    v_model, _, h_model = gibbs_sweep(mx.array(batch), *p, hidden, visible)
    params = {n: v.astype(np.float64) for n, v in params.items()}
    velocity = {n: np.zeros_like(v) for n, v in params.items()}
    expected, _ = numpy_step(
        params, velocity, batch, to_numpy(v_model), to_numpy(h_model), 0.1, 0.0, 0.0
    )
    for name, value in expected.items():
        np.testing.assert_allclose(to_numpy(getattr(rbm, name)), value, atol=2e-6)


def test_native_sampler_is_seeded_and_learns():
    data = prototypes()

    def trained(seed, sampler):
        rbm = RBM(8, 4, 0.1, seed=seed, init_std=0.1)
        history = rbm.train(data, 20, 20, progress=False, sampler=sampler)
        return to_numpy(rbm.weights), history["reconstruction_error"]

    weights, errors = trained(0, "native")
    np.testing.assert_array_equal(weights, trained(0, "native")[0])
    assert not np.allclose(weights, trained(1, "native")[0])
    assert not np.allclose(weights, trained(0, "counter")[0])
    assert errors[-1] < 0.5 * errors[0]


def test_every_batch_is_used_including_the_last_partial_one():
    rbm = RBM(8, 4, k=3)
    history = rbm.train(prototypes(10), epochs=2, batch_size=4, progress=False)
    assert rbm.step.item() == 2 * 3 * 3 and rbm.epoch.item() == 2  # ceil(10 / 4) = 3 batches
    assert len(history["reconstruction_error"]) == 2
    # A batch larger than the data is one batch of everything.
    single = RBM(8, 4)
    single.train(prototypes(10), epochs=1, batch_size=64, metrics=(), progress=False)
    assert single.step.item() == 1


def test_training_is_reproducible_and_shuffling_is_seeded():
    data = prototypes(60)

    def trained(seed, shuffle=True):
        rbm = RBM(8, 5, 0.1, seed=seed)
        train_rbm(rbm, data, epochs=2, batch_size=16, shuffle=shuffle, progress=False)
        return to_numpy(rbm.weights)

    np.testing.assert_array_equal(trained(1), trained(1))
    assert not np.allclose(trained(1), trained(2))
    # shuffle=False visits the samples in the data's order, not the seeded one.
    np.testing.assert_array_equal(trained(1, shuffle=False), trained(1, shuffle=False))
    assert not np.allclose(trained(1), trained(1, shuffle=False))


@pytest.mark.parametrize(
    "options", [{}, {"k": 2}, {"persistent": True, "num_chains": 20}], ids=["cd1", "cd2", "pcd1"]
)
def test_training_learns_the_prototypes(options):
    """The seeds' check: mean reconstruction error drops by more than half within 30 epochs."""
    rbm = RBM(8, 4, 0.1, momentum=0.5, seed=0, init_std=0.1, **options)
    history = rbm.train(
        prototypes(),
        epochs=30,
        batch_size=20,
        metrics=("reconstruction_error", "pseudo_likelihood"),
        progress=False,
    )
    errors, pl = history["reconstruction_error"], history["pseudo_likelihood"]
    assert errors[-1] < 0.5 * errors[0]
    assert np.mean(errors[-5:]) < np.mean(errors[:5])
    assert np.mean(pl[-5:]) > np.mean(pl[:5])


def test_gaussian_visible_units_learn_correlated_data():
    rng = np.random.default_rng(0)
    factors = rng.normal(size=(300, 2))
    data = (factors @ rng.normal(size=(2, 6)) + 0.3 * rng.normal(size=(300, 6))).astype(np.float32)
    data = (data - data.mean(0)) / data.std(0)
    validation = data[:50]
    rbm = RBM(6, 8, 0.01, visible_type="gaussian", init_std=0.1)
    history = rbm.train(
        data,
        epochs=20,
        batch_size=20,
        validation_data=validation,
        metrics=("reconstruction_error", "free_energy_gap"),
        progress=False,
    )
    assert history["reconstruction_error"][-1] < 0.6 * history["reconstruction_error"][0]
    assert len(history["free_energy_gap"]) == 20 and np.all(np.isfinite(history["free_energy_gap"]))


def test_generate_runs_and_keeps_the_persistent_chains():
    rbm, _ = random_rbm(num_chains=4)
    samples = rbm.generate(10, k=3)
    values = to_numpy(samples)
    assert samples.shape == (10, 12) and set(np.unique(values)) <= {0.0, 1.0}
    assert rbm.step.item() == 3 * 3  # three rounds of the four chains, three steps each
    np.testing.assert_array_equal(values[8:], to_numpy(rbm.chains)[:2])
    # The next call continues the chains where they stopped, with fresh draws.
    expected = gibbs_chain(
        rbm.chains, rbm.weights, rbm.visible_bias, rbm.hidden_bias, 3, seed=0, step=9
    )[0]
    np.testing.assert_array_equal(to_numpy(rbm.generate(4, k=3)), to_numpy(expected))


def test_generate_samples_the_model_distribution():
    """Visible states of a 3 x 2 RBM, sampled by generate, follow p(v) = exp(-F(v)) / Z."""
    rbm, p = random_rbm(visible=3, hidden=2, scale=1.0, num_chains=2000)
    rbm.generate(2000, k=20)  # burn-in from the chains' start
    samples = to_numpy(rbm.generate(2000, k=5))
    states = np.array(list(itertools.product([0, 1], repeat=3)), np.float32)
    weights = np.exp(-np_free_energy(states, p["weights"], p["visible_bias"], p["hidden_bias"]))
    expected = weights / weights.sum()
    counts = np.array([(samples == s).all(axis=1).sum() for s in states])
    chi2 = ((counts - 2000 * expected) ** 2 / (2000 * expected)).sum()
    assert chi2 < 30.0  # 7 degrees of freedom: p < 1e-4


def test_save_and_load_resume_training_exactly(tmp_path):
    data = prototypes(50)
    straight = RBM(8, 5, 0.1, persistent=True, num_chains=6, seed=4)
    straight.train(data, epochs=4, batch_size=16, progress=False)

    first = RBM(8, 5, 0.1, persistent=True, num_chains=6, seed=4)
    first.train(data, epochs=2, batch_size=16, progress=False)
    path = tmp_path / "rbm.safetensors"
    save_rbm(first, path)
    resumed = load_rbm(path)
    assert type(resumed) is RBM and resumed.get_config() == first.get_config()
    for name, value in params_of(first).items():
        np.testing.assert_array_equal(params_of(resumed)[name], value)
    resumed.train(data, epochs=2, batch_size=16, progress=False)
    for name, value in params_of(straight).items():
        np.testing.assert_allclose(params_of(resumed)[name], value, rtol=1e-5, atol=1e-6)
    assert RBM.load(path).epoch.item() == 2


def test_learning_rate_set_after_construction_trains_and_is_saved(tmp_path):
    data = prototypes(40)
    changed, direct = RBM(8, 5, 0.01, seed=2), RBM(8, 5, 0.2, seed=2)
    changed.learning_rate = 0.2
    for rbm in (changed, direct):
        rbm.train(data, epochs=2, batch_size=16, progress=False)
    for name, value in params_of(direct).items():
        np.testing.assert_array_equal(params_of(changed)[name], value)
    path = tmp_path / "rbm.safetensors"
    changed.save(path)
    assert RBM.load(path).learning_rate == 0.2 and changed.get_config()["learning_rate"] == 0.2
    with pytest.raises(ValueError, match="learning_rate: expected a float >= 0.0, got -1"):
        changed.learning_rate = -1.0
    assert changed.learning_rate == 0.2


def test_training_settings_changed_after_construction_are_saved(tmp_path):
    rbm = RBM(8, 5, seed=2)
    rbm.k, rbm.momentum, rbm.weight_decay = 3, 0.9, 0.0
    rbm.save(tmp_path / "rbm.safetensors")
    loaded = RBM.load(tmp_path / "rbm.safetensors")
    assert (loaded.k, loaded.momentum, loaded.weight_decay) == (3, 0.9, 0.0)
    detector = RBMAnomalyDetector(8, 5, seed=2)
    detector.rbm.k = 2
    detector.save(tmp_path / "detector.safetensors")
    assert RBMAnomalyDetector.load(tmp_path / "detector.safetensors").rbm.k == 2


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_is_refused(tmp_path, dtype):
    """The Gibbs kernel and the counter-based sampler are float32: set_dtype to a half type
    and half-precision checkpoints raise, and leave the model float32 and working."""
    rbm = RBM(8, 5, persistent=True, num_chains=4)
    with pytest.raises(ValueError, match=f"dtype: RBM computes in float32 .*{dtype}"):
        rbm.set_dtype(getattr(mx, dtype))
    with pytest.raises(ValueError, match="dtype: RBM computes in float32"):
        rbm.set_dtype(mx.float32, predicate=None)  # would make the counters float
    rbm.set_dtype(mx.float32)  # changes nothing
    rbm.train(prototypes(20), epochs=1, batch_size=10, progress=False)
    assert rbm.generate(3, k=2).shape == (3, 8)
    for name, value in rbm.named_parameters():
        assert value.dtype == (mx.int32 if name in ("step", "epoch") else mx.float32), name
    path = tmp_path / "rbm.safetensors"
    rbm.save(path)
    arrays, metadata = load_arrays(path)
    arrays["weights"] = mx.astype(arrays["weights"], mx.float16)
    save_arrays(path, arrays, metadata)
    with pytest.raises(CheckpointError, match="'weights' is .*float16; RBM computes in float32"):
        Module.load(path)


@pytest.mark.parametrize("failure", ["write", "rename"])
def test_failed_save_leaves_the_old_file(tmp_path, monkeypatch, failure):
    """A save that fails midway (the writer dies after writing part of the file, or the final
    rename fails) leaves the previous file byte for byte, still loading, and no temporary."""
    path = tmp_path / "rbm.safetensors"
    old = RBM(8, 3, seed=5)
    old.train(prototypes(20), epochs=1, batch_size=8, progress=False)
    save_rbm(old, path)
    original = path.read_bytes()

    def broken_write(file, arrays, metadata=None):
        Path(file).write_bytes(b"partial")
        raise OSError("disk full")

    def broken_rename(source, target):
        raise OSError("rename refused")

    if failure == "write":
        monkeypatch.setattr(mx, "save_safetensors", broken_write)
    else:
        monkeypatch.setattr("os.replace", broken_rename)
    with pytest.raises(OSError, match="disk full|rename refused"):
        save_rbm(RBM(8, 3, seed=1), path)
    monkeypatch.undo()
    assert path.read_bytes() == original
    assert [p.name for p in tmp_path.iterdir()] == ["rbm.safetensors"]
    loaded = load_rbm(path)
    for name, value in params_of(old).items():
        np.testing.assert_array_equal(params_of(loaded)[name], value)
    assert loaded.epoch.item() == 1


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (
            np.zeros((4, 7), np.float32),
            ValueError,
            r"data: expected shape \(samples, 8\), got \(4, 7\)",
        ),
        (np.zeros(8, np.float32), ValueError, r"data: expected shape \(samples, 8\), got \(8,\)"),
        (
            np.zeros((0, 8), np.float32),
            ValueError,
            r"data: expected at least one sample, got an empty array of shape \(0, 8\)",
        ),
        (
            np.full((2, 8), np.nan, np.float32),
            ValueError,
            r"data: expected finite values, got 16 NaN or infinite \(the first at row 0, column 0",
        ),
        (
            np.where(np.eye(3, 8, 5) > 0, np.inf, 0.0).astype(np.float32),
            ValueError,
            r"got 3 NaN or infinite \(the first at row 0, column 5: inf\)",
        ),
        (np.full((2, 8), 2.0, np.float32), ValueError, r"data: binary visible units .* \[0, 1\]"),
        (np.full((2, 8), -0.5, np.float32), ValueError, r"got values in \[-0.5, -0.5\]"),
        ([["a"] * 8], TypeError, "data: expected a numeric array"),
        (np.array([["a"] * 8]), TypeError, "data: expected a numeric array"),
        (
            np.zeros((2, 8), np.complex64),
            TypeError,
            "data: expected real numbers, got a .*complex64",
        ),
    ],
)
def test_bad_training_data_raises(data, error, message):
    rbm = RBM(8, 3)
    with pytest.raises(error, match=message):
        rbm.train(data, epochs=1, progress=False)


def test_bad_arguments_raise():
    data = prototypes(10)
    rbm = RBM(8, 3)
    for call, error, message in [
        (lambda: RBM(0, 3), ValueError, "visible_size: expected an int >= 1"),
        (lambda: RBM(8, 3, visible_type="ternary"), ValueError, "visible_type: expected one of"),
        (lambda: RBM(8, 3, momentum=1.0), ValueError, "momentum"),
        (lambda: RBM(8, 3, learning_rate=-1.0), ValueError, "learning_rate"),
        (lambda: RBM(8, 3, seed=2**32), ValueError, "seed"),
        (lambda: RBM(8, 3, persistent=1), TypeError, "persistent: expected a bool"),
        (lambda: rbm.train(data, epochs=0), ValueError, "epochs: expected an int >= 1"),
        (lambda: rbm.train(data, batch_size=0), ValueError, "batch_size: expected an int >= 1"),
        (lambda: rbm.train(data, metrics=("loss",)), ValueError, r"metrics: unknown \['loss'\]"),
        (lambda: rbm.train(data, sampler="fast"), ValueError, r"sampler: expected one of .*'fast'"),
        (lambda: rbm.train(data, batch_size=True), TypeError, "batch_size"),
        (lambda: rbm.transform(np.zeros((2, 9))), ValueError, r"data: .*\(samples, 8\).*\(2, 9\)"),
        (lambda: rbm.reconstruct(np.full((1, 8), np.nan)), ValueError, "data: expected finite"),
        (lambda: rbm.transform_in_chunks(iter([])), ValueError, "data: expected at least one"),
        (lambda: rbm.generate(4, k=0), ValueError, "k: expected an int >= 1"),
        (lambda: rbm.train(data, metrics=("free_energy_gap",)), ValueError, "validation_data"),
        (lambda: rbm.train(data, validation_data=data[:, :4]), ValueError, "validation_data: "),
        (lambda: rbm.generate(0), ValueError, "num_samples: expected an int >= 1"),
        (lambda: rbm.free_energy(np.zeros((2, 9))), ValueError, r"got \(2, 9\)"),
        (lambda: rbm.pseudo_likelihood(data * 2), ValueError, r"data: binary .*\[0, 2\]"),
        (lambda: contrastive_divergence_step(rbm, data[:0]), ValueError, "batch: expected at"),
        (lambda: rbm.train(data, shuffle="no"), TypeError, "shuffle: expected a bool, got str"),
        (lambda: rbm.train(data, progress=1), TypeError, "progress: expected a bool, got int"),
        (lambda: rbm.sample(np.zeros((2, 7)), 1), ValueError, r"v: expected shape \(samples, 8\)"),
        (lambda: rbm.sample(np.zeros((2, 8)), 0), ValueError, "k: expected an int >= 1"),
        (lambda: rbm.transform(data + 1j), TypeError, "data: expected real numbers"),
    ]:
        with pytest.raises(error, match=message):
            call()
    gaussian = RBM(8, 3, visible_type="gaussian")
    gaussian.train(data * 5 - 2, epochs=1, metrics=(), progress=False)  # any real values
    with pytest.raises(ValueError, match="pseudo_likelihood: .*binary visible units"):
        gaussian.pseudo_likelihood(data)
    with pytest.raises(ValueError, match="'pseudo_likelihood' needs binary"):
        gaussian.train(data, metrics=("pseudo_likelihood",))


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")
@pytest.mark.parametrize("visible_type", ["binary", "gaussian"])
def test_divergence_raises_and_keeps_the_last_finite_epoch(visible_type):
    data = prototypes(40)
    rbm = RBM(8, 4, learning_rate=1e30, visible_type=visible_type)
    before = params_of(rbm)
    with pytest.raises(FloatingPointError, match=r"epoch 1: weights.* NaN or infinite.*1e\+30"):
        rbm.train(data, epochs=2, progress=False)
    for name, value in before.items():
        np.testing.assert_array_equal(params_of(rbm)[name], value)
    assert rbm.epoch.item() == 0


def test_sample_takes_any_array_like():
    start = np.zeros((3, 8), np.float32)
    ours, reference = RBM(8, 5, seed=1), RBM(8, 5, seed=1)
    sample, mean, hidden = ours.sample(start, 2)
    expected = gibbs_chain(
        mx.array(start), reference.weights, reference.visible_bias, reference.hidden_bias, 2, 1, 0
    )
    for got, want in zip((sample, mean, hidden), expected, strict=True):
        np.testing.assert_array_equal(to_numpy(got), to_numpy(want))
    assert ours.step.item() == 2
    assert ours.sample(start.tolist(), 1)[0].shape == (3, 8)


def test_progress_bar_is_optional(capsys):
    pytest.importorskip("tqdm")
    RBM(8, 3).train(prototypes(20), epochs=1, batch_size=10, progress=True)
    assert "batch" in capsys.readouterr().err
    RBM(8, 3).train(prototypes(20), epochs=1, batch_size=10, progress=False)
    assert capsys.readouterr().err == ""


DIGITS_CASE = {"hidden": 64, "learning_rate": 0.05, "batch_size": 20, "epochs": 10}


@pytest.mark.slow
def test_pseudo_likelihood_at_least_sklearn_on_digits():
    """Same hidden size, learning rate, batch size and epochs, and PCD-1 with as many chains as
    a batch (scikit-learn's algorithm) plus momentum; both scored by the exact PL."""
    data = (load_digits().data / 16.0 > 0.5).astype(np.float32)
    case = DIGITS_CASE
    sk = BernoulliRBM(
        n_components=case["hidden"],
        learning_rate=case["learning_rate"],
        batch_size=case["batch_size"],
        n_iter=case["epochs"],
        random_state=0,
    ).fit(data)
    sk_pl = (
        np_log_conditionals(data, sk.components_.T, sk.intercept_visible_, sk.intercept_hidden_)
        .sum(axis=1)
        .mean()
    )
    rbm = RBM(
        64,
        case["hidden"],
        case["learning_rate"],
        persistent=True,
        num_chains=case["batch_size"],
        momentum=0.5,
        weight_decay=0.0,
    )
    rbm.train(data, case["epochs"], case["batch_size"], metrics=(), progress=False)
    ours = to_numpy(rbm.pseudo_likelihood(data)).mean()
    print(
        f"\nexact pseudo-likelihood on binarised digits: ember_mlx {ours:.3f}, sklearn {sk_pl:.3f}"
    )
    assert ours >= sk_pl
