"""The masked-recurrence kernels: the shipped Metal sources run by the CPU emulator against the
reference paths (the cells' own sequence code) to 1e-5, edge cases of sizes and layouts,
gradients through the kernel path's custom vjp, the sequence layers on the kernel path, and
errors."""

import os
import re
import tempfile

import numpy as np
import pytest

from ember_mlx.backend import mx, nn, to_numpy
from ember_mlx.kernels import emulator, ltc_scan, scan, wired_cfc_scan
from ember_mlx.nn import (
    LTC,
    CfC,
    FullyConnectedMap,
    LTCCell,
    NCPMap,
    RandomMap,
    WiredCfCCell,
)
from ember_mlx.nn.rnn.ltc_cell import SynapseBank

needs_emulator = pytest.mark.skipif(
    not emulator.is_available(), reason="the kernel emulator needs g++ on PATH"
)
needs_metal = pytest.mark.skipif(
    not mx.metal.is_available(), reason="runs the kernel on Metal (Apple silicon)"
)

INPUTS = 5


def maps():
    """Neuron maps by name: an NCP (three layers, sparse), one unit, a sparse single layer, and
    70 units (past a threadgroup of 32 threads, not a multiple of it)."""
    return {
        "ncp": lambda: NCPMap(6, 4, 3, 2, 2, 3, 2),
        "one unit": lambda: FullyConnectedMap(1),
        "random": lambda: RandomMap(9, 3, sparsity_level=0.5),
        "70 units": lambda: NCPMap(30, 25, 15, 4, 5, 6, 4),
    }


def normal(rng, shape, scale=1.0):
    return mx.array((scale * rng.normal(size=shape)).astype(np.float32))


def close(ours, theirs):
    np.testing.assert_allclose(to_numpy(ours), to_numpy(theirs), rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------- wired CfC


def cfc_problem(map_name, mode, steps, batch, per_step, seed=0):
    rng = np.random.default_rng(seed)
    cell = WiredCfCCell(maps()[map_name](), INPUTS, mode=mode)
    weights = cell.wave_weights(None if per_step else 0.7)
    x = normal(rng, (steps, batch, INPUTS))
    projected = x @ weights.input_t + weights.input_bias
    h = normal(rng, (batch, cell.state_size), 0.5)
    ts = mx.array(rng.uniform(0.2, 2.0, (steps, batch, 1)).astype(np.float32)) if per_step else None
    return cell, projected, h, ts, weights


def assert_same_scan(ours, reference):
    (ys, h), (ref_ys, ref_h) = ours, reference
    assert ys.shape == ref_ys.shape
    close(ys, ref_ys)
    close(h, ref_h)


CFC_CASES = {
    # name: (map, mode, steps, batch, per-step timespans, all outputs, threadgroup width)
    "ncp default, folded time": ("ncp", "default", 4, 3, False, True, None),
    "ncp default, per-step time": ("ncp", "default", 3, 2, True, True, None),
    "ncp no_gate, per-step time": ("ncp", "no_gate", 3, 2, True, True, None),
    "ncp pure, folded time": ("ncp", "pure", 3, 2, False, True, None),
    "ncp pure, per-step time, last output": ("ncp", "pure", 3, 2, True, False, None),
    "one unit, batch of one, one step, inputs under 8 elements": (
        "one unit",
        "default",
        1,
        1,
        True,
        True,
        None,
    ),
    "sparse single layer, partial group of rows": ("random", "no_gate", 2, 11, False, True, None),
    "units past one threadgroup": ("70 units", "default", 2, 3, True, False, 32),
}


@needs_emulator
@pytest.mark.parametrize("case", list(CFC_CASES))
def test_cfc_kernel_equals_reference(case):
    map_name, mode, steps, batch, per_step, all_outputs, width = CFC_CASES[case]
    cell, projected, h, ts, weights = cfc_problem(map_name, mode, steps, batch, per_step)
    kernel = emulator.metal_kernel(**scan.cfc_kernel_spec())
    ours = scan.run_wired_cfc_kernel(
        kernel, cell, projected, h, ts, weights, all_outputs, threadgroup_width=width
    )
    reference = cell.scan_projected(projected, h, ts, weights, all_outputs)
    assert_same_scan(ours, reference)


@needs_emulator
def test_cfc_kernel_with_non_contiguous_inputs():
    cell, projected, h, ts, weights = cfc_problem("ncp", "default", 3, 4, True)
    batch_major = mx.array(np.ascontiguousarray(np.swapaxes(to_numpy(projected), 0, 1)))
    wide = mx.repeat(h, 2, axis=1)
    views = (mx.swapaxes(batch_major, 0, 1), wide[:, ::2], mx.swapaxes(mx.swapaxes(ts, 0, 1), 0, 1))
    kernel = emulator.metal_kernel(**scan.cfc_kernel_spec())
    ours = scan.run_wired_cfc_kernel(kernel, cell, *views, weights, True)
    assert_same_scan(ours, cell.scan_projected(projected, h, ts, weights, True))


# ------------------------------------------------------------------------- LTC


def ltc_problem(map_name, steps, batch, per_step, implicit=True, seed=0):
    rng = np.random.default_rng(seed)
    cell = LTCCell(maps()[map_name](), INPUTS, implicit_param_constraints=implicit)
    u = normal(rng, (steps, INPUTS, batch))
    v = normal(rng, (cell.units, batch), 0.5)
    ts = mx.array(rng.uniform(0.2, 2.0, (steps, 1, batch)).astype(np.float32)) if per_step else 0.7
    return cell, u, v, ts, cell.prepare()


LTC_CASES = {
    # name: (map, steps, batch, per-step timespans, all outputs, threadgroup width)
    "ncp, per-step time": ("ncp", 3, 3, True, True, None),
    "ncp, constant time, last output": ("ncp", 3, 2, False, False, None),
    "one unit, batch of one, one step, inputs under 8 elements": (
        "one unit",
        1,
        1,
        True,
        True,
        None,
    ),
    "sparse single layer, partial group of rows": ("random", 2, 9, False, True, None),
    "units past one threadgroup": ("70 units", 2, 2, True, False, 32),
}


@needs_emulator
@pytest.mark.parametrize("case", list(LTC_CASES))
def test_ltc_kernel_equals_reference(case):
    map_name, steps, batch, per_step, all_outputs, width = LTC_CASES[case]
    cell, u, v, ts, prepared = ltc_problem(map_name, steps, batch, per_step)
    kernel = emulator.metal_kernel(**scan.ltc_kernel_spec())
    ours = scan.run_ltc_kernel(
        kernel, cell, u, v, ts, prepared, all_outputs, threadgroup_width=width
    )
    reference = ltc_scan(cell, u, v, ts, prepared, all_outputs, use_kernel=False)
    assert ours[0].shape == (steps if all_outputs else 1, cell.output_size, batch)
    close(ours[0], reference[0])
    close(ours[1], reference[1])


@needs_emulator
def test_ltc_kernel_with_non_contiguous_inputs_and_dense_wiring():
    cell = LTCCell(FullyConnectedMap(4, 2), INPUTS, implicit_param_constraints=False)
    prepared = cell.prepare()
    rng = np.random.default_rng(1)
    ts = mx.array(rng.uniform(0.2, 2.0, (2, 1, 3)).astype(np.float32))
    u_batch_major = normal(rng, (2, 3, INPUTS))
    v_wide = normal(rng, (4, 6))
    views = (mx.swapaxes(u_batch_major, 1, 2), v_wide[:, ::2])
    kernel = emulator.metal_kernel(**scan.ltc_kernel_spec())
    ours = scan.run_ltc_kernel(kernel, cell, *views, ts, prepared, True)
    copies = (mx.array(to_numpy(views[0])), mx.array(to_numpy(views[1])))
    reference = ltc_scan(cell, *copies, ts, prepared, True, use_kernel=False)
    close(ours[0], reference[0])
    close(ours[1], reference[1])


@needs_emulator
def test_ltc_kernel_without_neuron_synapses():
    neuron_map = FullyConnectedMap(3, 1)
    neuron_map.build(INPUTS)
    neuron_map.adjacency_matrix[:] = 0
    cell = LTCCell(neuron_map)
    prepared = cell.prepare()
    assert prepared[4] is None
    rng = np.random.default_rng(3)
    u, v = normal(rng, (2, INPUTS, 2)), normal(rng, (3, 2))
    kernel = emulator.metal_kernel(**scan.ltc_kernel_spec())
    ours = scan.run_ltc_kernel(kernel, cell, u, v, 1.0, prepared, True)
    reference = ltc_scan(cell, u, v, 1.0, prepared, True, use_kernel=False)
    close(ours[0], reference[0])
    close(ours[1], reference[1])


def test_kernel_reads_the_synapse_bank_layout():
    adjacency = np.array([[0, 1, 1], [0, 0, -1], [0, 1, 0]])
    bank = SynapseBank(adjacency)
    # Neuron 0 receives nothing; neuron 1 from 0 and 2; neuron 2 from 0 and 1.
    np.testing.assert_array_equal(bank.layout.receivers, [1, 2])
    np.testing.assert_array_equal(bank.layout.sources, [[0, 2], [0, 1]])
    assert bank.layout.used.all()
    weights = bank.weights(*(mx.ones((3, 3)) for _ in range(4)))
    params, source, row, slots, rows = scan._synapse_inputs("f", "w", bank, weights)
    assert (slots, rows) == (2, 2) and params.shape == (4, 2, 2)
    np.testing.assert_array_equal(to_numpy(row), [-1, 0, 1])
    np.testing.assert_array_equal(to_numpy(source), [[0, 0], [2, 1]])  # slot-major


# ------------------------------------------------------------------ the layers on the kernel path


@pytest.fixture
def emulated_metal(monkeypatch):
    """Make the kernel functions take their Metal path, run by the emulator."""
    if not emulator.is_available():
        pytest.skip("the kernel emulator needs g++ on PATH")
    monkeypatch.delenv("EMBER_KERNELS", raising=False)
    monkeypatch.setattr(mx.metal, "is_available", lambda: True)
    specs = {"cfc": scan.cfc_kernel_spec(), "ltc": scan.ltc_kernel_spec()}
    monkeypatch.setattr(scan, "_metal_kernel", lambda kind: emulator.metal_kernel(**specs[kind]))
    return monkeypatch


def sequence(batch=3, steps=4, seed=2):
    rng = np.random.default_rng(seed)
    x = normal(rng, (batch, steps, INPUTS))
    ts = mx.array(rng.uniform(0.5, 1.5, (batch, steps)).astype(np.float32))
    return x, ts


def layers():
    return {
        "wired CfC": lambda: CfC(INPUTS, NCPMap(6, 4, 3, 2, 2, 3, 2), mode="default"),
        "wired CfC, pure, last output": lambda: CfC(
            INPUTS, NCPMap(6, 4, 3, 2, 2, 3, 2), mode="pure", return_sequences=False
        ),
        "LTC": lambda: LTC(INPUTS, NCPMap(6, 4, 3, 2, 2, 3, 2), ode_unfolds=3),
    }


@pytest.mark.parametrize("name", list(layers()))
@pytest.mark.parametrize("timespans", ["per step", "none"])
def test_layers_on_the_kernel_path_equal_the_reference(emulated_metal, name, timespans):
    model = layers()[name]()
    x, ts = sequence()
    ts = ts if timespans == "per step" else None
    y, state = model(x, timespans=ts)
    emulated_metal.setenv("EMBER_KERNELS", "reference")
    ref_y, ref_state = model(x, timespans=ts)
    assert y.shape == ref_y.shape
    close(y, ref_y)
    close(state, ref_state)


def test_layers_take_the_reference_path_off_metal(monkeypatch):
    """Off Metal nothing dispatches: a kernel build would raise."""

    def no_kernel(kind):
        raise AssertionError("the Metal kernel was built off Metal")

    monkeypatch.setattr(scan, "_metal_kernel", no_kernel)
    monkeypatch.setattr(mx.metal, "is_available", lambda: False)
    x, ts = sequence()
    for build in layers().values():
        y, _ = build()(x, timespans=ts)
        assert np.all(np.isfinite(to_numpy(y)))


def gradients(model, x, ts):
    def loss(model, x, ts):
        y, state = model(x, timespans=ts)
        return mx.sum(y * y) + mx.sum(mx.tanh(state))

    return nn.value_and_grad(model, loss)(model, x, ts)


def flat(tree, prefix=""):
    if isinstance(tree, dict):
        return {k: v for key, sub in tree.items() for k, v in flat(sub, f"{prefix}{key}.").items()}
    if isinstance(tree, list):
        return {k: v for i, sub in enumerate(tree) for k, v in flat(sub, f"{prefix}{i}.").items()}
    return {prefix[:-1]: tree}


@pytest.mark.autodiff
@pytest.mark.parametrize("name", list(layers()))
def test_gradients_through_the_kernel_equal_the_cell_loop(emulated_metal, name):
    model = layers()[name]()
    x, ts = sequence(batch=2, steps=3)
    value, grads = gradients(model, x, ts)
    emulated_metal.setenv("EMBER_KERNELS", "reference")
    ref_value, ref_grads = gradients(model, x, ts)
    close(value, ref_value)
    grads, ref_grads = flat(grads), flat(ref_grads)
    assert grads.keys() == ref_grads.keys()
    nonzero = 0
    for key, grad in grads.items():
        np.testing.assert_allclose(
            to_numpy(grad), to_numpy(ref_grads[key]), rtol=1e-4, atol=1e-5, err_msg=key
        )
        nonzero += bool(np.any(to_numpy(grad) != 0))
    assert nonzero >= len(grads) - 1  # every weight gets a gradient (LTC: not output_b's twin)


# ------------------------------------------------------------------------- errors and limits


def test_cfc_bad_arguments_raise_clear_errors():
    cell, projected, h, ts, weights = cfc_problem("ncp", "default", 3, 2, True)
    with pytest.raises(ValueError, match=r"projected must have shape \(steps, batch, 52\)"):
        wired_cfc_scan(cell, projected[..., :-1], h, ts, weights, True)
    with pytest.raises(ValueError, match=r"h must have shape \(2, 13\), got \(3, 13\)"):
        wired_cfc_scan(cell, projected, mx.zeros((3, 13)), ts, weights, True)
    with pytest.raises(ValueError, match=r"timespans must have shape \(3, 2, 1\)"):
        wired_cfc_scan(cell, projected, h, ts[:, :, 0], weights, True)
    with pytest.raises(ValueError, match="timespans is None"):
        wired_cfc_scan(cell, projected, h, None, weights, True)
    with pytest.raises(TypeError, match="use_kernel"):
        wired_cfc_scan(cell, projected, h, ts, weights, True, use_kernel=1)


def test_ltc_bad_arguments_raise_clear_errors():
    cell, u, v, ts, prepared = ltc_problem("ncp", 3, 2, True)
    with pytest.raises(ValueError, match=r"u must have shape \(steps, 5, batch\)"):
        ltc_scan(cell, u[:, :4], v, ts, prepared, True)
    with pytest.raises(ValueError, match=r"v must have shape \(13, 2\), got \(2, 13\)"):
        ltc_scan(cell, u, v.T, ts, prepared, True)
    with pytest.raises(ValueError, match=r"timespans must have shape \(3, 1, 2\) or a float"):
        ltc_scan(cell, u, v, ts[:, 0], prepared, True)
    with pytest.raises(ValueError, match="prepared must be the 5-tuple"):
        ltc_scan(cell, u, v, ts, prepared[:4], True)


def test_use_kernel_true_without_metal_says_why():
    if mx.metal.is_available():
        pytest.skip("this machine has Metal")
    cell, projected, h, ts, weights = cfc_problem("ncp", "default", 2, 2, True)
    with pytest.raises(RuntimeError, match="wired_cfc_scan: use_kernel=True needs the Metal"):
        wired_cfc_scan(cell, projected, h, ts, weights, True, use_kernel=True)
    cell, u, v, ts, prepared = ltc_problem("ncp", 2, 2, True)
    with pytest.raises(RuntimeError, match="ltc_scan: use_kernel=True needs the Metal"):
        ltc_scan(cell, u, v, ts, prepared, True, use_kernel=True)


def test_problems_past_the_limits_fall_back_or_raise(monkeypatch):
    monkeypatch.setattr(mx.metal, "is_available", lambda: True)
    cell, projected, h, ts, weights = cfc_problem("ncp", "default", 2, 2, True)
    half = mx.astype(projected, mx.float16)
    with pytest.raises(ValueError, match="projected is float16; the kernel computes in float32"):
        wired_cfc_scan(cell, half, h, ts, weights, True, use_kernel=True)
    monkeypatch.setattr(cell, "scan_projected", lambda *args: "reference path")
    assert wired_cfc_scan(cell, half, h, ts, weights, True) == "reference path"
    assert "threadgroup memory" in scan._too_big(4097, 2, [1])
    assert scan._too_big(4096, 2, [1]) is None
    assert "2**31" in scan._too_big(8, 2, [2**31])


def test_launch_config():
    config = scan.launch_config(11, 15, 2)
    assert config["chains_per_group"] == 8
    assert config["grid"] == (32, 2, 1) and config["threadgroup"] == (32, 1, 1)
    config = scan.launch_config(64, 2048, 4)
    assert config["chains_per_group"] == 1  # 4 buffers of 2048 floats fill 32 KiB
    assert config["grid"] == (256, 64, 1)
    assert scan.launch_config(3, 70, 2, threadgroup_width=32)["grid"] == (32, 1, 1)


# ------------------------------------------------------------------------- on Metal


@needs_metal
@pytest.mark.parametrize("name", list(layers()))
def test_metal_kernel_equals_reference(name, monkeypatch):
    model = layers()[name]()
    x, ts = sequence()
    y, state = model(x, timespans=ts)
    monkeypatch.setenv("EMBER_KERNELS", "reference")
    with mx.stream(mx.cpu):  # full float32 matmuls for the oracle
        ref_y, ref_state = model(x, timespans=ts)
    close(y, ref_y)
    close(state, ref_state)


@pytest.mark.mlx_only
@pytest.mark.parametrize("kind", ["cfc", "ltc"])
def test_metal_source_is_what_mlx_generates(kind, capfd):
    """MLX accepts the kernel call and prints the source it builds when tracing for export."""
    if kind == "cfc":
        cell, *problem = cfc_problem("ncp", "pure", 2, 3, True)
        spec, run = scan.cfc_kernel_spec(), scan.run_wired_cfc_kernel
    else:
        cell, *problem = ltc_problem("ncp", 2, 3, True)
        spec, run = scan.ltc_kernel_spec(), scan.run_ltc_kernel
    calls = []

    def recording_kernel(**kwargs):
        calls.append(kwargs)
        return [mx.zeros(shape) for shape in kwargs["output_shapes"]]

    run(recording_kernel, cell, *problem, True)
    call = calls[0]
    kernel = mx.fast.metal_kernel(**spec)
    options = {k: v for k, v in call.items() if k != "inputs"}

    def traced(*inputs):
        return kernel(inputs=list(inputs), verbose=True, **options)

    with tempfile.TemporaryDirectory() as folder:
        mx.export_function(os.path.join(folder, f"{kind}.mlxfn"), traced, *call["inputs"])
    mlx_source = re.search(r"```\n(.*)\n```", capfd.readouterr().out, re.S).group(1)
    inputs = [to_numpy(x) for x in call["inputs"]]
    ours = emulator.metal_kernel(**spec).metal_source(
        inputs, call["output_dtypes"], call["template"]
    )
    assert ours == mlx_source
