"""NCP and AutoNCP: one masked recurrent step against numpy, the wiring's masks, the motor
output, lazy building, config, errors."""

import numpy as np
import pytest

from ember_mlx.backend import mx, nn, to_numpy
from ember_mlx.nn.neuron_maps import AutoNCPMap, NCPMap
from ember_mlx.nn.rnn.ncp import NCP, AutoNCP


def numpy_step(model, x, h=None):
    """The NCP step in numpy, from the model's weights and its map's matrices."""
    neuron_map = model.neuron_map
    w = to_numpy(model.kernel) * np.abs(neuron_map.sensory_adjacency_matrix)
    u = to_numpy(model.recurrent_kernel) * np.abs(neuron_map.adjacency_matrix)
    z = x @ w + to_numpy(model.bias)
    if h is not None:
        z = z + h @ u
    h_new = np.tanh(z)
    return h_new[:, : neuron_map.output_dim], h_new


def test_step_equals_numpy(rng):
    model = NCP(NCPMap(6, 4, 3, seed=3, sensory_neurons=5))
    x = rng.standard_normal((2, 5)).astype(np.float32)
    h = rng.standard_normal((2, 13)).astype(np.float32)
    y, h_new = model(mx.array(x), mx.array(h), return_state=True)
    y_ref, h_ref = numpy_step(model, x, h)
    np.testing.assert_allclose(to_numpy(y), y_ref, rtol=0, atol=1e-6)
    np.testing.assert_allclose(to_numpy(h_new), h_ref, rtol=0, atol=1e-6)
    np.testing.assert_allclose(to_numpy(model(mx.array(x))), numpy_step(model, x)[0], atol=1e-6)


def test_inputs_reach_only_wired_neurons(rng):
    model = NCP(NCPMap(6, 4, 3, seed=3, sensory_neurons=5), activation="linear", use_bias=False)
    sensory = model.neuron_map.sensory_adjacency_matrix
    for i in range(5):
        x = np.zeros((1, 5), dtype=np.float32)
        x[0, i] = 1.0
        _, h = model(mx.array(x), return_state=True)
        reached = to_numpy(h)[0] != 0
        np.testing.assert_array_equal(reached, sensory[i] != 0)


def test_signal_reaches_the_motor_neurons_in_three_steps(rng):
    # sensory -> inter -> command -> motor, one layer per step (the bias starts at zero).
    model = NCP(NCPMap(6, 4, 3, seed=3, sensory_neurons=5))
    x = mx.array(rng.standard_normal((2, 5)).astype(np.float32))
    h = None
    for step in range(3):
        y, h = model(x, h, return_state=True)
        assert (np.abs(to_numpy(y)).min() > 0) == (step == 2)


def test_weights_initialisation():
    model = AutoNCP(20, 3, input_size=6)
    kernel = to_numpy(model.kernel)
    assert kernel.shape == (6, 20)
    assert np.abs(kernel).max() <= np.sqrt(6 / 26)
    u = to_numpy(model.recurrent_kernel)
    np.testing.assert_allclose(u @ u.T, np.eye(20), atol=1e-5)
    np.testing.assert_array_equal(to_numpy(model.bias), np.zeros(20))


def test_auto_ncp_as_the_seeds_show_it(rng):
    model = AutoNCP(units=64, output_size=10, sparsity_level=0.5, seed=42)
    assert model.input_size is None
    y = model(mx.array(rng.standard_normal((32, 16)).astype(np.float32)))
    assert tuple(y.shape) == (32, 10)
    assert model.input_size == 16
    expected = AutoNCPMap(64, 10, 0.5, 42, input_dim=16)
    np.testing.assert_array_equal(
        model.neuron_map.sensory_adjacency_matrix, expected.sensory_adjacency_matrix
    )
    clone = AutoNCP.from_config(model.get_config())
    assert clone.input_size == 16
    assert sorted(k for k, _ in clone.named_parameters()) == ["bias", "kernel", "recurrent_kernel"]


def test_auto_ncp_without_a_seed_reloads_with_its_wiring(rng, tmp_path):
    model = AutoNCP(units=12, output_size=2, seed=None, input_size=3)
    assert model.get_config()["seed"] == model.neuron_map.seed
    model.save(tmp_path / "ncp.safetensors")
    loaded = AutoNCP.load(tmp_path / "ncp.safetensors")
    np.testing.assert_array_equal(
        loaded.neuron_map.adjacency_matrix, model.neuron_map.adjacency_matrix
    )
    x = mx.array(rng.standard_normal((4, 3)).astype(np.float32))
    np.testing.assert_array_equal(to_numpy(loaded(x)), to_numpy(model(x)))


@pytest.mark.autodiff
def test_unwired_weights_get_no_gradient(rng):
    model = NCP(NCPMap(6, 4, 3, seed=3, sensory_neurons=5))
    x = mx.array(rng.standard_normal((2, 5)).astype(np.float32))
    h = mx.array(rng.standard_normal((2, 13)).astype(np.float32))

    def loss(m):
        return mx.sum(m(x, h, return_state=True)[1] ** 2)

    _, grads = nn.value_and_grad(model, loss)(model)
    for name, matrix in [
        ("kernel", model.neuron_map.sensory_adjacency_matrix),
        ("recurrent_kernel", model.neuron_map.adjacency_matrix),
    ]:
        grad = to_numpy(grads[name])
        assert np.all(grad[matrix == 0] == 0)
        assert np.all(grad[matrix != 0] != 0)


def test_bad_input_raises():
    model = AutoNCP(16, 4, input_size=5)
    with pytest.raises(ValueError, match="x: expected shape"):
        model(mx.zeros((2, 6)))
    with pytest.raises(ValueError, match="x: expected shape"):
        model(mx.zeros((2, 3, 5)))
    with pytest.raises(ValueError, match="state"):
        model(mx.zeros((2, 5)), mx.zeros((2, 4)))
    with pytest.raises(ValueError, match="output_size"):
        AutoNCP(16, 14)
    with pytest.raises(ValueError, match="activation"):
        AutoNCP(16, 4, activation="wiggle")
    with pytest.raises(TypeError, match="neuron_map"):
        NCP(16)
