"""LTCCell and LTC against ncps's torch LTC (same weights and wiring), gradients, training."""

import numpy as np
import pytest
import torch
from ncps import wirings
from ncps.torch import LTC as NcpsLTC
from ncps.torch import LTCCell as NcpsLTCCell
from second_order import assert_second_orders_equal, ember_second_order, torch_second_order

from ember_mlx.backend import mx, nn, optim, to_numpy, utils
from ember_mlx.checkpoint import CheckpointError
from ember_mlx.nn import AutoNCPMap, FullyConnectedMap, NCPMap, NeuronMap, RandomMap
from ember_mlx.nn.rnn.ltc import LTC
from ember_mlx.nn.rnn.ltc_cell import LTCCell, SynapseBank

ATOL = 1e-5


def _partial(ours: bool):
    """A hand-wired map: neuron 3 receives nothing, input 2 feeds nothing, one self-synapse."""
    if ours:
        wiring = NeuronMap(4, output_dim=2, input_dim=3)
    else:
        wiring = wirings.Wiring(4)
        wiring.set_output_dim(2)
        wiring.build(3)
    for src, dest, polarity in [(0, 1, 1), (1, 0, -1), (2, 2, 1)]:
        wiring.add_synapse(src, dest, polarity)
    for src, dest, polarity in [(0, 0, 1), (0, 2, -1), (1, 1, 1)]:
        wiring.add_sensory_synapse(src, dest, polarity)
    return wiring


# name -> (our map, ncps wiring, input size); the same sizes and seeds give the same matrices.
MAPS = {
    "auto_ncp": (lambda: AutoNCPMap(12, 3), lambda: wirings.AutoNCP(12, 3), 4),
    "ncp": (lambda: NCPMap(4, 3, 2, 2, 2, 2, 2), lambda: wirings.NCP(4, 3, 2, 2, 2, 2, 2), 3),
    "fully_connected": (lambda: FullyConnectedMap(5, 2), lambda: wirings.FullyConnected(5, 2), 3),
    "random": (lambda: RandomMap(6, 2, sparsity_level=0.6), lambda: wirings.Random(6, 2, 0.6), 3),
    "partial": (lambda: _partial(True), lambda: _partial(False), 3),
}


def _torch(x):
    return torch.tensor(np.asarray(x))


def _perturb_mappings(cell, generator):
    """Move ncps's trivial initial mappings and vleak so that the test exercises them."""
    with torch.no_grad():
        for name, param in cell.named_parameters():
            if name.split(".")[-1] in ("input_w", "input_b", "output_w", "output_b", "vleak"):
                param.add_(0.3 * torch.randn(param.shape, generator=generator))


def _cell_pair(kind, seed=0, **kwargs):
    ours_map, ncps_wiring, inputs = MAPS[kind]
    torch.manual_seed(seed)
    ref = NcpsLTCCell(ncps_wiring(), inputs, **kwargs)
    _perturb_mappings(ref, torch.Generator().manual_seed(seed))
    ours = LTCCell(ours_map(), inputs, **kwargs).load_torch_state_dict(ref.state_dict())
    return ours, ref


def _layer_pair(kind, seed=0, **kwargs):
    ours_map, ncps_wiring, inputs = MAPS[kind]
    torch.manual_seed(seed)
    ref = NcpsLTC(inputs, ncps_wiring(), **kwargs)
    _perturb_mappings(ref, torch.Generator().manual_seed(seed))
    ours = LTC(inputs, ours_map(), **kwargs).load_torch_state_dict(ref.state_dict())
    return ours, ref


def _close(ours, theirs, atol=ATOL):
    np.testing.assert_allclose(to_numpy(ours), theirs.detach().numpy(), rtol=0, atol=atol)


# ------------------------------------------------------------------------------ parity


def test_wirings_match_ncps():
    for kind, (ours_map, ncps_wiring, inputs) in MAPS.items():
        ours, theirs = ours_map(), ncps_wiring()
        ours.build(inputs)
        if not theirs.is_built():
            theirs.build(inputs)
        assert (ours.adjacency_matrix == theirs.adjacency_matrix).all(), kind
        assert (ours.sensory_adjacency_matrix == theirs.sensory_adjacency_matrix).all(), kind


@pytest.mark.parametrize("kind", list(MAPS))
@pytest.mark.parametrize(
    "input_mapping, output_mapping, implicit",
    [("affine", "affine", False), ("linear", "none", True), (None, "linear", False)],
)
def test_cell_matches_ncps(rng, kind, input_mapping, output_mapping, implicit):
    ours, ref = _cell_pair(
        kind,
        input_mapping=input_mapping,
        output_mapping=output_mapping,
        implicit_param_constraints=implicit,
    )
    x = rng.normal(size=(3, ours.input_size)).astype(np.float32)
    h = 0.5 * rng.normal(size=(3, ours.units)).astype(np.float32)
    for elapsed in (1.0, 0.4):
        y_ref, h_ref = ref(_torch(x), _torch(h), elapsed)
        h_ours = ours(mx.array(x), mx.array(h), ts=elapsed)
        _close(h_ours, h_ref)
        _close(ours.readout(h_ours), y_ref)


@pytest.mark.parametrize("ode_unfolds, epsilon", [(1, 1e-8), (3, 0.5)])
def test_cell_solver_options_match_ncps(rng, ode_unfolds, epsilon):
    ours, ref = _cell_pair("auto_ncp", ode_unfolds=ode_unfolds, epsilon=epsilon)
    x = rng.normal(size=(2, 4)).astype(np.float32)
    h = rng.normal(size=(2, 12)).astype(np.float32)
    _close(ours(mx.array(x), mx.array(h)), ref(_torch(x), _torch(h))[1])


@pytest.mark.parametrize("kind", ["auto_ncp", "fully_connected", "random", "partial"])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_layer_matches_ncps(rng, kind, return_sequences):
    ours, ref = _layer_pair(kind, return_sequences=return_sequences)
    x = rng.normal(size=(3, 5, ours.input_size)).astype(np.float32)
    h0 = 0.3 * rng.normal(size=(3, ours.units)).astype(np.float32)
    y_ref, h_ref = ref(_torch(x), _torch(h0))
    y, h = ours(mx.array(x), mx.array(h0))
    assert y.shape == ((3, 5, ours.output_size) if return_sequences else (3, ours.output_size))
    _close(y, y_ref)
    _close(h, h_ref)


def test_layer_without_state_starts_at_zero(rng):
    ours, ref = _layer_pair("ncp", implicit_param_constraints=False)
    x = rng.normal(size=(2, 4, 3)).astype(np.float32)
    y_ref, h_ref = ref(_torch(x))
    y, h = ours(mx.array(x))
    _close(y, y_ref)
    _close(h, h_ref)


def test_mixed_memory_matches_ncps(rng):
    ours, ref = _layer_pair("auto_ncp", mixed_memory=True)
    x = rng.normal(size=(2, 4, 4)).astype(np.float32)
    h0, c0 = (0.3 * rng.normal(size=(2, 12)).astype(np.float32) for _ in range(2))
    y_ref, (h_ref, c_ref) = ref(_torch(x), (_torch(h0), _torch(c0)))
    y, (h, c) = ours(mx.array(x), (mx.array(h0), mx.array(c0)))
    _close(y, y_ref)
    _close(h, h_ref)
    _close(c, c_ref)
    y_zero, (h_zero, c_zero) = ours(mx.array(x))
    assert h_zero.shape == c_zero.shape == (2, 12)
    _close(y_zero, ref(_torch(x))[0])


def test_per_step_timespans_match_ncps(rng):
    """ncps handles (1, steps) timespans correctly; ours must agree there."""
    ours, ref = _layer_pair("auto_ncp")
    x = rng.normal(size=(1, 5, 4)).astype(np.float32)
    ts = rng.uniform(0.2, 2.0, size=(1, 5)).astype(np.float32)
    y_ref, h_ref = ref(_torch(x), timespans=_torch(ts))
    for given in (ts, ts[..., None]):
        y, h = ours(mx.array(x), timespans=mx.array(given))
        _close(y, y_ref)
        _close(h, h_ref)


def test_per_sample_timespans_are_per_sample(rng):
    """ncps broadcasts (batch,) step lengths against the units axis; each sample here equals the
    sample run alone (which ncps gets right)."""
    ours, ref = _layer_pair("auto_ncp")
    x = rng.normal(size=(3, 4, 4)).astype(np.float32)
    ts = rng.uniform(0.2, 2.0, size=(3, 4)).astype(np.float32)
    y, h = ours(mx.array(x), timespans=mx.array(ts))
    for b in range(3):
        y_ref, h_ref = ref(_torch(x[b : b + 1]), timespans=_torch(ts[b : b + 1]))
        _close(y[b], y_ref[0])
        _close(h[b], h_ref[0])


def test_timespans_forms_agree(rng):
    ltc = LTC(3, AutoNCPMap(10, 2))
    x = mx.array(rng.normal(size=(2, 3, 3)).astype(np.float32))
    y_default, _ = ltc(x)
    y_ones, _ = ltc(x, timespans=mx.ones((2, 3)))
    np.testing.assert_allclose(to_numpy(y_ones), to_numpy(y_default), atol=1e-6)
    y_scalar, _ = ltc(x, timespans=0.5)
    y_array, _ = ltc(x, timespans=np.full((2, 3, 1), 0.5, dtype=np.float32))
    np.testing.assert_allclose(to_numpy(y_scalar), to_numpy(y_array), atol=1e-6)
    assert np.abs(to_numpy(y_scalar) - to_numpy(y_default)).max() > 1e-3


def test_cell_per_sample_timespans(rng):
    cell = LTCCell(AutoNCPMap(10, 2), 3)
    x = mx.array(rng.normal(size=(2, 3)).astype(np.float32))
    for ts in (mx.array([[0.5], [2.0]]), mx.array([0.5, 2.0])):
        h = cell(x, ts=ts)
        np.testing.assert_allclose(to_numpy(h[0]), to_numpy(cell(x[:1], ts=0.5)[0]), atol=1e-6)
        np.testing.assert_allclose(to_numpy(h[1]), to_numpy(cell(x[1:], ts=2.0)[0]), atol=1e-6)


def test_layer_equals_cell_loop(rng):
    """The layer (inputs and step lengths split once, parameters prepared once per call)
    equals stepping the cell."""
    ltc = LTC(3, RandomMap(7, 2, sparsity_level=0.5), implicit_param_constraints=False)
    x = mx.array(rng.normal(size=(2, 4, 3)).astype(np.float32))
    ts = mx.array(rng.uniform(0.5, 1.5, size=(2, 4)).astype(np.float32))
    y, h = ltc(x, timespans=ts)
    state = mx.zeros((2, 7))
    for t in range(4):
        state = ltc.rnn_cell(x[:, t], state, ts=ts[:, t : t + 1])
        np.testing.assert_allclose(
            to_numpy(y[:, t]), to_numpy(ltc.rnn_cell.readout(state)), atol=1e-6
        )
    np.testing.assert_allclose(to_numpy(h), to_numpy(state), atol=1e-6)


def test_outputs_are_the_motor_neurons(rng):
    """Fully connected and random maps output their output_dim motor neurons (ids 0..)."""
    for neuron_map in (FullyConnectedMap(6, 2), RandomMap(6, 2, sparsity_level=0.5)):
        ltc = LTC(3, neuron_map, output_mapping=None)
        y, h = ltc(mx.array(rng.normal(size=(2, 3, 3)).astype(np.float32)))
        assert y.shape == (2, 3, 2) and h.shape == (2, 6)
        np.testing.assert_allclose(to_numpy(y[:, -1]), to_numpy(h[:, :2]), atol=0)


def test_int_units_is_fully_connected(rng):
    ltc = LTC(3, 5)
    assert isinstance(ltc.neuron_map, FullyConnectedMap)
    assert ltc.output_size == ltc.units == ltc.state_size == 5
    assert ltc.rnn_cell.synapse_count == 25 and ltc.rnn_cell.sensory_synapse_count == 15
    y, h = ltc(mx.array(rng.normal(size=(2, 3, 3)).astype(np.float32)))
    assert y.shape == (2, 3, 5) and h.shape == (2, 5)


# ------------------------------------------------------------------------- synapse layout


def test_synapse_bank_layout():
    adjacency = np.array([[0, 1, -1], [1, 0, 0], [0, 1, 0], [0, 0, 0]])
    bank = SynapseBank(adjacency)
    assert (bank.count, bank.rows, bank.slots, bank.dense) == (4, 3, 2, False)
    assert SynapseBank(np.ones((2, 3))).dense
    empty = SynapseBank(np.zeros((2, 3)))
    sums = empty.currents(mx.ones((2, 4)), empty.weights(*[mx.ones((2, 3))] * 4))
    assert sums.shape == (3, 2, 4) and not np.any(to_numpy(sums))


@pytest.mark.parametrize("kind", ["auto_ncp", "random", "partial"])
def test_synapse_bank_equals_dense_sums(rng, kind):
    """Gather-and-contract equals ncps's dense masked sums over every (source, neuron) pair."""
    neuron_map = MAPS[kind][0]()
    neuron_map.build(MAPS[kind][2])
    adjacency = neuron_map.adjacency_matrix
    units = neuron_map.units
    sigma, mu, w, erev = (rng.uniform(0.5, 2.0, size=(units, units)) for _ in range(4))
    v = rng.normal(size=(units, 5))
    act = w[..., None] / (1 + np.exp(-sigma[..., None] * (v[:, None, :] - mu[..., None])))
    act *= (adjacency != 0)[..., None]
    bank = SynapseBank(adjacency)
    weights = bank.weights(*(mx.array(p.astype(np.float32)) for p in (sigma, mu, w, erev)))
    sums = to_numpy(bank.currents(mx.array(v.astype(np.float32)), weights))
    np.testing.assert_allclose(sums[:, 0], (act * erev[..., None]).sum(0), atol=1e-5)
    np.testing.assert_allclose(sums[:, 1], act.sum(0), atol=1e-5)


def _masked_currents(adjacency, v, sigma, mu, w, erev):
    """ncps's masked sums over every (source, neuron) pair, in plain ops (autodiff's)."""
    mask = mx.array((adjacency != 0).astype(np.float32))[..., None]
    act = w[..., None] * mask * mx.sigmoid(sigma[..., None] * (v[:, None, :] - mu[..., None]))
    return mx.stack([mx.sum(act * erev[..., None], axis=0), mx.sum(act, axis=0)], axis=1)


def _adjacency(kind):
    # Where the receivers' rows go: the last neurons, one between two others, or (not
    # consecutive) through a gather.
    if kind == "late_receivers":
        return np.array([[0, 1, 1], [0, 0, -1], [0, 1, 0]])
    if kind == "middle_receiver":
        return np.array([[0, 1, 0], [0, -1, 0], [0, 1, 0]])
    if kind == "gapped_receivers":
        return np.array([[1, 0, 0], [0, 0, -1], [1, 0, 1]])
    neuron_map = MAPS[kind][0]()
    neuron_map.build(MAPS[kind][2])
    return neuron_map.adjacency_matrix


@pytest.mark.autodiff
@pytest.mark.parametrize(
    "kind",
    [
        "auto_ncp",
        "fully_connected",
        "partial",
        "late_receivers",
        "middle_receiver",
        "gapped_receivers",
    ],
)
def test_synapse_bank_vjp_equals_autodiff(rng, kind):
    """The bank's hand-written vjp equals autodiff of the masked dense sums."""
    adjacency = _adjacency(kind)
    bank = SynapseBank(adjacency)
    params = [mx.array(rng.uniform(0.5, 2.0, size=adjacency.shape).astype(np.float32))] * 4
    params = [p * mx.array(rng.uniform(0.5, 1.5, size=p.shape).astype(np.float32)) for p in params]
    v = mx.array(rng.normal(size=(adjacency.shape[0], 5)).astype(np.float32))
    cotangent = mx.array(rng.normal(size=(adjacency.shape[1], 2, 5)).astype(np.float32))

    def ours(v, *params):
        return mx.sum(bank.currents(v, bank.weights(*params)) * cotangent)

    def reference(v, *params):
        return mx.sum(_masked_currents(adjacency, v, *params) * cotangent)

    argnums = tuple(range(5))
    got = mx.grad(ours, argnums=argnums)(v, *params)
    expected = mx.grad(reference, argnums=argnums)(v, *params)
    for name, g, e in zip(["v", "sigma", "mu", "w", "erev"], got, expected, strict=True):
        np.testing.assert_allclose(to_numpy(g), to_numpy(e), rtol=1e-5, atol=1e-5, err_msg=name)


@pytest.mark.autodiff
@pytest.mark.parametrize("steps", [1, 3])
@pytest.mark.parametrize("per_sample", [False, True])
def test_unfold_vjp_equals_autodiff(rng, per_sample, steps):
    """The hand-written vjp of a block of steps (recomputing the activations) equals autodiff
    of its loop."""
    cell = LTCCell(AutoNCPMap(12, 3), 4, ode_unfolds=3)
    weights = cell.synapses.weights(cell.sigma, cell.mu, cell.w, cell.erev)
    columns = 5 * steps
    v = mx.array(rng.normal(size=(12, 5)).astype(np.float32))
    fixed = mx.array(rng.uniform(0.5, 2.0, size=(12, 2, columns)).astype(np.float32))
    cm_t = rng.uniform(0.5, 2.0, size=(12, columns if per_sample else 1))
    cm_t = mx.array(cm_t.astype(np.float32))
    cotangent = mx.array(rng.normal(size=(12, steps, 5)).astype(np.float32))
    argnums = tuple(range(6))

    def loss(unfold):
        return lambda *args: mx.sum(unfold(*args)[0] * cotangent)

    got = mx.grad(loss(cell._unfold_with_vjp), argnums=argnums)(v, fixed, cm_t, *weights)
    expected = mx.grad(loss(cell._unfold), argnums=argnums)(v, fixed, cm_t, *weights)
    for k, (g, e) in enumerate(zip(got, expected, strict=True)):
        np.testing.assert_allclose(to_numpy(g), to_numpy(e), rtol=1e-5, atol=1e-5, err_msg=k)


def test_integrate_block_equals_steps(rng):
    """Integrating a block of steps side by side gives the potentials of stepping one by one."""
    cell = LTCCell(AutoNCPMap(12, 3), 4, ode_unfolds=3)
    prepared = cell.prepare()
    u = mx.array(rng.normal(size=(4, 15)).astype(np.float32))
    ts = mx.array(rng.uniform(0.5, 1.5, size=(1, 15)).astype(np.float32))
    v = mx.array(rng.normal(size=(12, 5)).astype(np.float32))
    got = cell.integrate(v, *cell.drive(u, ts, prepared), prepared)
    for k in range(3):
        block = slice(5 * k, 5 * (k + 1))
        v = cell.step(mx.contiguous(u[:, block]), v, ts[:, block], prepared)
        np.testing.assert_allclose(to_numpy(got[:, k]), to_numpy(v), rtol=1e-5, atol=1e-6)


def test_wiring_is_read_once(rng):
    neuron_map = AutoNCPMap(10, 2)
    cell = LTCCell(neuron_map, 3)
    x = mx.array(rng.normal(size=(2, 3)).astype(np.float32))
    before = to_numpy(cell(x))
    neuron_map.adjacency_matrix[:] = 0
    np.testing.assert_array_equal(to_numpy(cell(x)), before)


# --------------------------------------------------------------------- constraints, config


def test_apply_weight_constraints():
    cell = LTCCell(AutoNCPMap(10, 2), 3)
    for name in ("w", "sensory_w", "cm", "gleak", "vleak"):
        setattr(cell, name, -mx.ones(getattr(cell, name).shape))
    cell.apply_weight_constraints()
    for name in ("w", "sensory_w", "cm", "gleak"):
        assert np.all(to_numpy(getattr(cell, name)) == 0), name
    assert np.all(to_numpy(cell.vleak) == -1)

    ltc = LTC(3, AutoNCPMap(10, 2))  # implicit constraints (the layer default): a no-op
    ltc.rnn_cell.w = -mx.ones((10, 10))
    ltc.apply_weight_constraints()
    assert np.all(to_numpy(ltc.rnn_cell.w) == -1)


def test_parameters_are_ncps_names_and_shapes():
    _, ref = _layer_pair("auto_ncp", mixed_memory=True)
    ours = LTC(4, AutoNCPMap(12, 3), mixed_memory=True)
    expected = {k: tuple(v.shape) for k, v in ref.state_dict().items() if "mask" not in k}
    assert {k: tuple(v.shape) for k, v in ours.named_parameters()} == expected
    cell = LTCCell(AutoNCPMap(12, 3), 4, input_mapping="linear", output_mapping=None)
    names = {k for k, _ in cell.named_parameters()}
    assert "input_w" in names and not names & {"input_b", "output_w", "output_b"}


def test_initial_ranges_and_reversal_potentials():
    cell = LTCCell(AutoNCPMap(12, 3), 4)
    for name, (low, high) in [("gleak", (0.001, 1)), ("vleak", (-0.2, 0.2)), ("cm", (0.4, 0.6))]:
        values = to_numpy(getattr(cell, name))
        assert values.min() >= low and values.max() <= high, name
    for prefix in ("", "sensory_"):
        sigma = to_numpy(getattr(cell, prefix + "sigma"))
        assert sigma.min() >= 3 and sigma.max() <= 8
    np.testing.assert_array_equal(to_numpy(cell.erev), cell.neuron_map.adjacency_matrix)


def test_config_round_trip_and_save_load(tmp_path, rng):
    ltc = LTC(3, AutoNCPMap(10, 2, seed=7), return_sequences=False, ode_unfolds=4)
    clone = LTC.from_config(ltc.get_config())
    np.testing.assert_array_equal(
        clone.neuron_map.adjacency_matrix, ltc.neuron_map.adjacency_matrix
    )
    assert clone.rnn_cell.ode_unfolds == 4 and not clone.return_sequences
    path = tmp_path / "ltc.safetensors"
    ltc.save(path)
    loaded = LTC.load(path)
    x = mx.array(rng.normal(size=(2, 3, 3)).astype(np.float32))
    np.testing.assert_allclose(to_numpy(loaded(x)[0]), to_numpy(ltc(x)[0]), atol=0)


def test_torch_state_dict_with_other_wiring_is_refused():
    _, ref = _layer_pair("auto_ncp")
    ours = LTC(4, AutoNCPMap(12, 3, seed=1))
    with pytest.raises(CheckpointError, match="sparsity_mask"):
        ours.load_torch_state_dict(ref.state_dict())


# -------------------------------------------------------------------------------- errors


def test_bad_arguments():
    cases = [
        (lambda: LTCCell(AutoNCPMap(10, 2)), ValueError, "input_size"),
        (lambda: LTCCell(10, 3), TypeError, "neuron_map"),
        (lambda: LTCCell(AutoNCPMap(10, 2), 3, ode_unfolds=0), ValueError, "ode_unfolds"),
        (lambda: LTCCell(AutoNCPMap(10, 2), 3, ode_unfolds=2.0), ValueError, "ode_unfolds"),
        (lambda: LTCCell(AutoNCPMap(10, 2), 3, epsilon=-1.0), ValueError, "epsilon"),
        (lambda: LTCCell(AutoNCPMap(10, 2), 3, input_mapping="tanh"), ValueError, "input_map"),
        (lambda: LTC(3, 5, output_mapping="Affine"), ValueError, "output_mapping"),
        (lambda: LTC(4, AutoNCPMap(10, 2, input_dim=3)), ValueError, "input_dim"),
    ]
    for make, error, match in cases:
        with pytest.raises(error, match=match):
            make()


def test_bad_call_arguments(rng):
    ltc = LTC(3, AutoNCPMap(10, 2))
    mixed = LTC(3, AutoNCPMap(10, 2), mixed_memory=True)
    x = mx.array(rng.normal(size=(2, 4, 3)).astype(np.float32))
    cases = [
        (lambda: ltc(mx.zeros((2, 4, 5))), "x: expected shape"),
        (lambda: ltc(mx.zeros((4, 3))), "x: expected shape"),
        (lambda: ltc(x, mx.zeros((2, 9))), "state"),
        (lambda: ltc(x, timespans=mx.ones((2, 3))), "timespans"),
        (lambda: ltc(x, timespans=-1.0), "timespans"),
        (lambda: ltc(x, timespans=np.full((2, 4), -0.5)), "timespans"),
        (lambda: mixed(x, mx.zeros((2, 10))), "pair"),
        (lambda: mixed(x, (mx.zeros((2, 10)), mx.zeros((3, 10)))), r"state\[1\]"),
        (lambda: ltc.rnn_cell(mx.zeros((2, 4))), "x: expected shape"),
        (lambda: ltc.rnn_cell(x[:, 0], mx.zeros((10,))), "state"),
        (lambda: ltc.rnn_cell(x[:, 0], ts=mx.ones((3, 1))), "ts"),
        (lambda: ltc.rnn_cell(x[:, 0], ts=-2.0), "ts"),
        # A zero step divides the capacitance term by zero (ncps returns NaN).
        (lambda: ltc(x, timespans=0.0), "timespans: must be > 0"),
        (lambda: ltc(x, timespans=np.zeros((2, 4))), "timespans: must be > 0"),
        (lambda: ltc(x, timespans=np.full((2, 4), np.nan)), "timespans: must be finite numbers"),
        (lambda: ltc.rnn_cell(x[:, 0], ts=0.0), "ts: must be > 0"),
    ]
    for call, match in cases:
        with pytest.raises(ValueError, match=match):
            call()


# ------------------------------------------------------------------- gradients, training


def _ncps_gradients(ref, x, weights):
    ref.zero_grad()
    y, h = ref(_torch(x))
    (torch.sum(y * _torch(weights[0])) + torch.sum(h * _torch(weights[1]))).backward()
    return {k: p.grad.numpy() for k, p in ref.named_parameters() if p.requires_grad}


@pytest.mark.autodiff
@pytest.mark.parametrize("kind, implicit", [("auto_ncp", True), ("random", False)])
def test_gradients_match_ncps(rng, kind, implicit):
    ours, ref = _layer_pair(kind, implicit_param_constraints=implicit)
    x = rng.normal(size=(2, 4, ours.input_size)).astype(np.float32)
    weights = [rng.normal(size=(2, 4, ours.output_size)), rng.normal(size=(2, ours.units))]
    weights = [w.astype(np.float32) for w in weights]

    def loss(x):
        y, h = ours(x)
        return mx.sum(y * mx.array(weights[0])) + mx.sum(h * mx.array(weights[1]))

    _, grads = nn.value_and_grad(ours, loss)(mx.array(x))
    expected = _ncps_gradients(ref, x, weights)
    flat = dict(utils.tree_flatten(grads))
    assert set(flat) == set(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(to_numpy(flat[name]), value, atol=1e-5, err_msg=name)
    # Unwired entries get no gradient, as behind ncps's masks.
    unwired = ours.neuron_map.adjacency_matrix == 0
    for name in ("w", "sigma", "mu", "erev"):
        assert not np.any(to_numpy(flat[f"rnn_cell.{name}"])[unwired]), name


@pytest.mark.autodiff
def test_second_order_gradients_match_ncps(rng):
    """A gradient of a gradient differentiates the hand-written vjps of the ODE updates and of
    the synapse sums themselves; ncps's is autograd."""
    ours, ref = _layer_pair("auto_ncp")
    x = rng.normal(size=(2, 3, ours.input_size)).astype(np.float32)
    got = ember_second_order(ours, lambda model: mx.mean(model(mx.array(x))[0] ** 2))
    expected = torch_second_order(ref, lambda model: (model(_torch(x))[0] ** 2).mean())
    assert_second_orders_equal(got, expected)


@pytest.mark.autodiff
@pytest.mark.torch_only
def test_gradients_match_finite_differences(rng):
    ltc = LTC(2, NCPMap(3, 2, 1, 2, 2, 2, 1), mixed_memory=True, ode_unfolds=3)
    ltc.set_dtype(mx.float64)
    x = mx.array(rng.normal(size=(2, 3, 2)), dtype=mx.float64)
    ts = mx.array(rng.uniform(0.5, 1.5, size=(2, 3)), dtype=mx.float64)
    target = mx.array(rng.normal(size=(2, 3, 1)), dtype=mx.float64)

    def loss(x):
        return mx.mean((ltc(x, timespans=ts)[0] - target) ** 2)

    _, grads = nn.value_and_grad(ltc, loss)(x)
    step = 1e-6
    for name, grad in utils.tree_flatten(grads):
        value = dict(ltc.named_parameters())[name]
        grad = to_numpy(grad)
        for index in list(zip(*np.nonzero(grad), strict=True))[:3]:
            losses = []
            for sign in (1, -1):
                shifted = to_numpy(value).copy()
                shifted[index] += sign * step
                ltc.update(utils.tree_unflatten([(name, mx.array(shifted, dtype=mx.float64))]))
                losses.append(loss(x).item())
            ltc.update(utils.tree_unflatten([(name, value)]))
            numeric = (losses[0] - losses[1]) / (2 * step)
            assert abs(numeric - grad[index]) <= 1e-8 + 1e-6 * abs(numeric), (name, index)


def _sine_task():
    """ncps's test task: [sin, cos] of 0..3pi in, sin of 0..6pi out, 48 steps."""
    t = np.linspace(0, 3 * np.pi, 48)
    x = np.stack([np.sin(t), np.cos(t)], axis=-1)[None].astype(np.float32)
    y = np.sin(np.linspace(0, 6 * np.pi, 48))[None, :, None].astype(np.float32)
    return mx.array(x), mx.array(y)


def _train(model, x, y, steps):
    optimizer = optim.Adam(learning_rate=0.01)

    def loss_fn(x, y):
        return mx.mean((model(x)[0] - y) ** 2)

    value_and_grad = nn.value_and_grad(model, loss_fn)
    losses = []
    for _ in range(steps):
        loss, grads = value_and_grad(x, y)
        grads, _ = optim.clip_grad_norm(grads, 1.0)
        optimizer.update(model, grads)
        mx.eval(model.parameters(), optimizer.state)
        losses.append(loss.item())
    return losses, loss_fn(x, y).item()


@pytest.mark.autodiff
def test_training_reduces_the_loss():
    x, y = _sine_task()
    losses, final = _train(LTC(2, AutoNCPMap(8, 1), ode_unfolds=2), x[:, :12], y[:, :12], 15)
    assert final < 0.5 * losses[0]


@pytest.mark.slow
@pytest.mark.autodiff
@pytest.mark.torch_only
def test_learns_the_ncps_sine_task():
    """ncps's figure for LTC(2, AutoNCP(16, 1)): MSE 0.527 -> 0.0002 in 400 Adam steps."""
    x, y = _sine_task()
    losses, final = _train(LTC(2, AutoNCPMap(16, 1)), x, y, 400)
    assert losses[0] > 0.3 and final < 1e-3


# --------------------------------------------------------------------------- MLX laziness


@pytest.mark.mlx_only
def test_forward_is_lazy_and_compiles(rng):
    ltc = LTC(3, AutoNCPMap(10, 2), mixed_memory=True)
    x = mx.array(rng.normal(size=(2, 4, 3)).astype(np.float32))
    ts = mx.array(-np.ones((2, 4), dtype=np.float32))  # a lazy value is never inspected
    ltc(x, timespans=ts)

    def forward(x, ts):
        y, (h, c) = ltc(x, timespans=ts)
        return y, h, c

    ts = mx.array(rng.uniform(0.5, 1.5, size=(2, 4)).astype(np.float32))
    for eager, compiled in zip(forward(x, ts), mx.compile(forward)(x, ts), strict=True):
        np.testing.assert_allclose(to_numpy(compiled), to_numpy(eager), atol=1e-6)
