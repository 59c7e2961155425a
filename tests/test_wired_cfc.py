"""WiredCfCCell and wired CfC: equality with ncps (torch) for the same wiring and weights, the
motor output, masks, gradients, errors. (Learning: tests/test_cfc.py.)"""

import numpy as np
import pytest

from ember_mlx.backend import mx, nn, to_numpy, utils
from ember_mlx.checkpoint import CheckpointError
from ember_mlx.nn.neuron_maps import AutoNCPMap, FullyConnectedMap, NCPMap, NeuronMap, RandomMap
from ember_mlx.nn.rnn.cfc import CfC
from ember_mlx.nn.rnn.wired_cfc import WiredCfCCell

torch = pytest.importorskip("torch")
ncps_torch = pytest.importorskip("ncps.torch")
wirings = pytest.importorskip("ncps.wirings")

B, T, F = 3, 5, 4

# (ours, ncps's): the same wiring for the same arguments.
MAPS = {
    "auto_ncp": lambda: (AutoNCPMap(16, 4), wirings.AutoNCP(16, 4)),
    "ncp": lambda: (NCPMap(6, 4, 3, 2, 2, 3, 2), wirings.NCP(6, 4, 3, 2, 2, 3, 2)),
    "fully_connected": lambda: (FullyConnectedMap(10), wirings.FullyConnected(10)),
    "random": lambda: (RandomMap(10, sparsity_level=0.5), wirings.Random(10, 10, 0.5)),
}

# Single-layer maps with fewer motor neurons than units, where ncps outputs every unit.
NARROW_MAPS = {
    "fully_connected": lambda: (FullyConnectedMap(10, 3), wirings.FullyConnected(10, 3)),
    "random": lambda: (RandomMap(10, 3, sparsity_level=0.5), wirings.Random(10, 3, 0.5)),
}


def inputs(rng, batch=B):
    return rng.standard_normal((batch, T, F)).astype(np.float32)


def ncps_pair(make_map, **kwargs):
    """ncps's wired CfC and ours with its weights."""
    ours_map, their_map = make_map()
    torch.manual_seed(0)
    ref = ncps_torch.CfC(F, their_map, **kwargs)
    ours = CfC(F, ours_map, **kwargs).load_torch_state_dict(ref.state_dict())
    return ref, ours


def ncps_run(ref, x, timespans=None):
    with torch.no_grad():
        ts = None if timespans is None else torch.from_numpy(timespans)
        y, h = ref(torch.from_numpy(x), timespans=ts)
    return y.numpy(), (tuple(a.numpy() for a in h) if isinstance(h, tuple) else h.numpy())


def assert_close(ours, theirs, atol=1e-5):
    np.testing.assert_allclose(to_numpy(ours), theirs, rtol=0, atol=atol)


# ------------------------------------------------------------------------- parity with ncps


@pytest.mark.parametrize("mode", ["default", "pure", "no_gate"])
@pytest.mark.parametrize("name", list(MAPS))
def test_wired_cfc_equals_ncps(name, mode, rng):
    ref, ours = ncps_pair(MAPS[name], mode=mode)
    x = inputs(rng)
    y, h = ours(mx.array(x))
    y_ref, h_ref = ncps_run(ref, x)
    assert_close(y, y_ref)
    assert_close(h, h_ref)


@pytest.mark.parametrize("mode", ["default", "pure"])
@pytest.mark.parametrize("steps", [1, 2, 7])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_initial_state_and_short_sequences_equal_ncps(mode, steps, return_sequences, rng):
    # An NCP's three layers run as a wavefront over steps + 2 waves; sequences shorter than
    # the ramp are the edge cases.
    ref, ours = ncps_pair(MAPS["ncp"], mode=mode, return_sequences=return_sequences)
    x = rng.standard_normal((B, steps, F)).astype(np.float32)
    h0 = rng.standard_normal((B, 13)).astype(np.float32)
    with torch.no_grad():
        y_ref, h_ref = ref(torch.from_numpy(x), torch.from_numpy(h0))
    y, h = ours(mx.array(x), mx.array(h0))
    assert_close(y, y_ref.numpy())
    assert_close(h, h_ref.numpy())


@pytest.mark.parametrize("mode", ["default", "pure", "no_gate"])
def test_per_sample_timespans_apply_per_sample(mode, rng):
    # ncps is right for batch 1 only; each sample of a batch must equal it.
    ref, ours = ncps_pair(MAPS["auto_ncp"], mode=mode)
    x = inputs(rng)
    ts = rng.uniform(0.1, 2.0, (B, T)).astype(np.float32)
    y, h = ours(mx.array(x), timespans=mx.array(ts))
    for b in range(B):
        y_ref, h_ref = ncps_run(ref, x[b : b + 1], ts[b : b + 1, :, None])
        assert_close(y[b : b + 1], y_ref)
        assert_close(h[b : b + 1], h_ref)


@pytest.mark.parametrize("name", ["auto_ncp", "fully_connected"])
def test_mixed_memory_and_timespans_equal_ncps(name, rng):
    ref, ours = ncps_pair(MAPS[name], mixed_memory=True, return_sequences=False)
    x = inputs(rng, batch=1)
    ts = rng.uniform(0.1, 2.0, (1, T, 1)).astype(np.float32)
    y, (h, c) = ours(mx.array(x), timespans=mx.array(ts))
    y_ref, (h_ref, c_ref) = ncps_run(ref, x, ts)
    assert_close(y, y_ref)
    assert_close(h, h_ref)
    assert_close(c, c_ref)


def test_projection_equals_ncps(rng):
    ref, ours = ncps_pair(MAPS["auto_ncp"], proj_size=2, mode="no_gate")
    x = inputs(rng)
    y, _ = ours(mx.array(x))
    assert tuple(y.shape) == (B, T, 2)
    assert_close(y, ncps_run(ref, x)[0])


@pytest.mark.parametrize("name", list(NARROW_MAPS))
def test_single_layer_output_is_the_motor_neurons(name, rng):
    # ncps returns all 10 units here; ours returns the 3 motor neurons (ids 0..2), which are
    # the first 3 columns of ncps's output, and the same state.
    ref, ours = ncps_pair(NARROW_MAPS[name])
    x = inputs(rng)
    y, h = ours(mx.array(x))
    y_ref, h_ref = ncps_run(ref, x)
    assert y_ref.shape == (B, T, 10)
    assert tuple(y.shape) == (B, T, 3)
    assert_close(y, y_ref[..., :3])
    assert_close(h, h_ref)
    projected = CfC(F, NARROW_MAPS[name]()[0], proj_size=2)
    assert tuple(projected(mx.array(x))[0].shape) == (B, T, 2)


@pytest.mark.parametrize("mode", ["default", "pure"])
def test_cell_step_equals_ncps(mode, rng):
    ours_map, their_map = MAPS["auto_ncp"]()
    torch.manual_seed(1)
    ref = ncps_torch.WiredCfCCell(F, their_map, mode)
    cell = WiredCfCCell(ours_map, F, mode).load_torch_state_dict(ref.state_dict())
    x = rng.standard_normal((B, F)).astype(np.float32)
    h = rng.standard_normal((B, 16)).astype(np.float32)
    with torch.no_grad():
        out_ref, h_ref = ref(torch.from_numpy(x), torch.from_numpy(h), 0.7)
    h_next = cell(mx.array(x), mx.array(h), 0.7)
    assert_close(h_next, h_ref.numpy())
    assert_close(cell.output(h_next), out_ref.numpy())
    assert cell.layer_sizes == [8, 4, 4]
    assert (cell.state_size, cell.output_size) == (16, 4)
    assert cell.synapse_count == ours_map.synapse_count
    assert cell.sensory_synapse_count == ours_map.sensory_synapse_count


# --------------------------------------------------------------------------- wiring, masks


def test_masks_come_from_the_map():
    neuron_map = AutoNCPMap(16, 4, input_dim=F)
    cell = WiredCfCCell(neuron_map)
    sensory = neuron_map.sensory_adjacency_matrix
    adjacency = neuron_map.adjacency_matrix
    inter, command, motor = (list(neuron_map.get_neurons_of_layer(k)) for k in range(3))
    expected = [
        sensory[:, inter],
        adjacency[np.ix_(inter, command)],
        adjacency[np.ix_(command, motor)],
    ]
    for layer, synapses in zip(cell.layers, expected, strict=True):
        n = synapses.shape[1]
        mask = np.concatenate([np.abs(synapses), np.ones((n, n))]).T
        np.testing.assert_array_equal(to_numpy(layer._mask), mask)


def test_a_hand_wired_map_outputs_its_motor_neurons(rng):
    neuron_map = NeuronMap(5, output_dim=2, input_dim=F)
    for src in range(F):
        neuron_map.add_sensory_synapse(src, src % 5, 1)
    model = CfC(F, neuron_map)
    y, h = model(mx.array(inputs(rng)))
    assert tuple(y.shape) == (B, T, 2)
    assert_close(y[:, -1], to_numpy(h)[:, :2], atol=0)


@pytest.mark.autodiff
def test_masked_synapses_get_no_gradient(rng):
    model = CfC(F, AutoNCPMap(16, 4))
    x = mx.array(inputs(rng))

    def loss(m):
        return mx.mean(m(x)[0] ** 2)

    _, grads = nn.value_and_grad(model, loss)(model)
    for k, layer in enumerate(model.rnn_cell.layers):
        mask = to_numpy(layer._mask)
        for head in ("ff1", "ff2"):
            grad = to_numpy(grads["rnn_cell"][f"layer_{k}"][head]["weight"])
            assert np.all(grad[mask == 0] == 0)
            assert np.any(grad[mask == 1] != 0)
        # The time heads are dense (as in ncps).
        assert np.all(to_numpy(grads["rnn_cell"][f"layer_{k}"]["time_a"]["weight"]) != 0)


@pytest.mark.autodiff
def test_gradients_equal_ncps(rng):
    ref, ours = ncps_pair(MAPS["auto_ncp"], mixed_memory=True, proj_size=2)
    x = inputs(rng)
    y, _ = ref(torch.from_numpy(x))
    (y * y).mean().backward()

    def loss(m):
        return mx.mean(m(mx.array(x))[0] ** 2)

    _, grads = nn.value_and_grad(ours, loss)(ours)
    grads = dict(utils.tree_flatten(grads))
    for name, param in ref.named_parameters():
        if not param.requires_grad:
            continue
        scale = param.grad.abs().max().item()
        np.testing.assert_allclose(
            to_numpy(grads[name]), param.grad.numpy(), rtol=0, atol=1e-5 + 1e-4 * scale
        )


def test_config_round_trip_rebuilds_the_wiring(rng):
    model = CfC(F, AutoNCPMap(16, 4, seed=5), mode="pure")
    clone = CfC.from_config(model.get_config())
    clone.load_arrays(dict(model.named_parameters()))
    for a, b in zip(model.rnn_cell.layers, clone.rnn_cell.layers, strict=True):
        np.testing.assert_array_equal(to_numpy(a._mask), to_numpy(b._mask))
    x = mx.array(inputs(rng))
    assert_close(clone(x)[0], to_numpy(model(x)[0]), atol=0)


def test_loading_another_wiring_is_refused():
    _, their_map = MAPS["auto_ncp"]()
    ref = ncps_torch.CfC(F, their_map)
    ours = CfC(F, AutoNCPMap(16, 4, seed=1))
    with pytest.raises(CheckpointError, match="sparsity_mask"):
        ours.load_torch_state_dict(ref.state_dict())


# ---------------------------------------------------------------------------------- errors


def test_bad_arguments_raise(rng):
    with pytest.raises(ValueError, match="backbone_units, backbone_layers"):
        CfC(F, AutoNCPMap(16, 4), backbone_units=8, backbone_layers=1)
    with pytest.raises(ValueError, match="input_size"):
        WiredCfCCell(AutoNCPMap(16, 4))
    with pytest.raises(ValueError, match="input_dim"):
        CfC(F + 1, AutoNCPMap(16, 4, input_dim=F))
    with pytest.raises(ValueError, match="mode"):
        CfC(F, AutoNCPMap(16, 4), mode="fast")
    with pytest.raises(TypeError, match="neuron_map"):
        WiredCfCCell(16, F)
    cell = WiredCfCCell(AutoNCPMap(16, 4), F)
    with pytest.raises(ValueError, match="x: expected shape"):
        cell(mx.zeros((B, F + 1)))
    with pytest.raises(ValueError, match="state"):
        cell(mx.zeros((B, F)), mx.zeros((B, 4)))
    model = CfC(F, AutoNCPMap(16, 4))
    with pytest.raises(ValueError, match="state"):
        model(mx.array(inputs(rng)), mx.zeros((B, 4)))


def test_cell_mixed_memory_runs_the_lstm_first(rng):
    neuron_map = NCPMap(6, 4, 3, sensory_neurons=F, seed=1)
    cell = WiredCfCCell(neuron_map, mixed_memory=True)
    plain = WiredCfCCell(NCPMap(6, 4, 3, sensory_neurons=F, seed=1))
    plain.update({k: v for k, v in cell.parameters().items() if k != "memory"})
    x = mx.array(rng.standard_normal((B, F)).astype(np.float32))
    h0 = mx.array(rng.standard_normal((B, 13)).astype(np.float32))
    c0 = mx.array(rng.standard_normal((B, 13)).astype(np.float32))
    h, c = cell(x, (h0, c0), ts=0.5)
    h_memory, c_expected = cell.memory(x, (h0, c0))
    assert_close(c, to_numpy(c_expected))
    assert_close(h, to_numpy(plain(x, h_memory, ts=0.5)))
    # A bare state starts the memory at zero.
    h_bare, _ = cell(x, h0)
    assert_close(h_bare, to_numpy(cell(x, (h0, mx.zeros_like(h0)))[0]))
    with pytest.raises(ValueError, match=r"state\[1\]"):
        cell(x, (h0, mx.zeros((B, 5))))
