"""Stride-aware CfC: the cell against a numpy reference of its equations, the layer against the
cell stepped by hand, what strides do, the wired cell's masks, gradients, errors."""

import numpy as np
import pytest

from ember_mlx.backend import get_backend, mx, nn, to_numpy, utils
from ember_mlx.nn.neuron_maps import AutoNCPMap, NCPMap
from ember_mlx.nn.rnn.stride_aware import (
    StrideAwareCell,
    StrideAwareCfC,
    StrideAwareWiredCfCCell,
)

B, T, F, H = 3, 5, 4, 6
MODES = ["default", "pure", "no_gate"]


def lecun_tanh(x):
    return 1.7159 * np.tanh(0.666 * x)


def numpy_step(cell, x, h, t):
    """The cell's equations in numpy (float64) from its weights."""
    p = {k: to_numpy(v).astype(np.float64) for k, v in utils.tree_flatten(cell.parameters())}
    xh = np.concatenate([x, h], axis=1)
    w0 = p["backbone.0.weight"]
    if cell._mask is not None:
        w0 = w0 * to_numpy(cell._mask)
    a = lecun_tanh(xh @ w0.T + p["backbone.0.bias"])
    k = 2
    while f"backbone.{k}.weight" in p:
        a = lecun_tanh(a @ p[f"backbone.{k}.weight"].T + p[f"backbone.{k}.bias"])
        k += 2
    u = a @ p["candidate.weight"].T + p["candidate.bias"]
    tau = np.exp(-np.abs(t) * to_numpy(cell._strides) * np.exp(p["time_kernel"]))
    if cell.mode == "no_gate":
        return h * tau + u * (1 - tau)
    g = 1 / (1 + np.exp(-(xh @ p["gate.weight"].T + p["gate.bias"])))
    if cell.mode == "pure":
        return h * g * tau + u * (1 - g * tau)
    return h * g + u * (1 - g) * (1 - tau)


def perturbed(cell, rng):
    """The cell with every parameter moved off its initial value (time_kernel starts at 0)."""
    for name, value in utils.tree_flatten(cell.parameters()):
        noise = 0.3 * rng.standard_normal(tuple(value.shape)).astype(np.float32)
        cell.update(utils.tree_unflatten([(name, value + mx.array(noise))]))
    return cell


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("layers", [1, 2])
def test_cell_equals_numpy(mode, layers, rng):
    cell = StrideAwareCell(
        F,
        H,
        stride_length=[1, 3],
        time_scale_factor=0.5,
        mode=mode,
        backbone_units=7,
        backbone_layers=layers,
    )
    perturbed(cell, rng)
    x = rng.standard_normal((B, F)).astype(np.float32)
    h = rng.standard_normal((B, H)).astype(np.float32)
    ts = rng.uniform(0.1, 2.0, B).astype(np.float32)
    for ts_ours, ts_ref in [(None, 1.0), (0.4, 0.4), (mx.array(ts), ts[:, None])]:
        expected = numpy_step(cell, x, h, ts_ref)
        got = cell(mx.array(x), mx.array(h), ts_ours)
        np.testing.assert_allclose(to_numpy(got), expected, rtol=0, atol=2e-5)


@pytest.mark.parametrize("mode", MODES)
def test_layer_equals_the_cell_stepped_by_hand(mode, rng):
    layer = StrideAwareCfC(F, H, stride_lengths=[1, 2, 4], mode=mode, backbone_units=7)
    perturbed(layer.rnn_cell, rng)
    x = rng.standard_normal((B, T, F)).astype(np.float32)
    ts = rng.uniform(0.1, 2.0, (B, T)).astype(np.float32)
    for timespans, step_ts in [
        (None, [None] * T),
        (0.7, [0.7] * T),
        (mx.array(ts), [mx.array(ts[:, t]) for t in range(T)]),
    ]:
        h = mx.zeros((B, H))
        outputs = []
        for t in range(T):
            h = layer.rnn_cell(mx.array(x[:, t]), h, step_ts[t])
            outputs.append(to_numpy(h))
        y, h_last = layer(mx.array(x), timespans=timespans)
        np.testing.assert_allclose(to_numpy(y), np.stack(outputs, axis=1), rtol=0, atol=1e-5)
        np.testing.assert_allclose(to_numpy(h_last), outputs[-1], rtol=0, atol=1e-5)
    y_last, _ = StrideAwareCfC.from_config({**layer.get_config(), "return_sequences": False})(
        mx.array(x)
    )
    assert tuple(y_last.shape) == (B, H)


def test_stride_scales_the_elapsed_time(rng):
    # A stride s with elapsed time t is the same step as stride 1 with time s * t.
    fast = StrideAwareCell(F, H, stride_length=4, time_scale_factor=0.5, backbone_units=7)
    slow = StrideAwareCell(F, H, stride_length=1, backbone_units=7)
    slow.update(perturbed(fast, rng).parameters())
    x = mx.array(rng.standard_normal((B, F)).astype(np.float32))
    h = mx.array(rng.standard_normal((B, H)).astype(np.float32))
    np.testing.assert_allclose(to_numpy(fast(x, h, 0.3)), to_numpy(slow(x, h, 0.6)), atol=1e-6)


def test_stride_groups_and_forgetting():
    layer = StrideAwareCfC(F, 8, stride_lengths=[1, 2, 4], mode="no_gate")
    np.testing.assert_array_equal(to_numpy(layer.rnn_cell._strides)[0], [1, 1, 1, 2, 2, 2, 4, 4])
    # A longer stride forgets faster: its time gate is smaller.
    tau = to_numpy(layer.rnn_cell.time_gate(1.0))[0]
    np.testing.assert_allclose(tau, np.exp(-np.array([1, 1, 1, 2, 2, 2, 4, 4])), rtol=1e-6)


def test_seed_examples(rng):
    layer = StrideAwareCfC(input_size=10, units=20, stride_lengths=[1, 2, 4])
    y, h = layer(mx.array(rng.standard_normal((32, 5, 10)).astype(np.float32)))
    assert tuple(y.shape) == (32, 5, 20) and tuple(h.shape) == (32, 20)
    neuron_map = NCPMap(10, 5, 5, sensory_neurons=10)
    cell = StrideAwareWiredCfCCell(neuron_map=neuron_map, stride_length=4, backbone_layers=2)
    h_next = cell(mx.zeros((32, 10)), mx.array(rng.standard_normal((32, 20)).astype(np.float32)))
    assert tuple(h_next.shape) == (32, 20)
    assert tuple(cell.output(h_next).shape) == (32, 5)


@pytest.mark.parametrize("mode", MODES)
def test_wired_cell_equals_numpy_and_outputs_motor_neurons(mode, rng):
    neuron_map = AutoNCPMap(12, 3)
    layer = StrideAwareCfC(F, neuron_map, stride_lengths=[1, 2], mode=mode)
    cell = perturbed(layer.rnn_cell, rng)
    mask = np.concatenate([neuron_map.get_sensory_mask(), neuron_map.get_recurrent_mask()]).T
    np.testing.assert_array_equal(to_numpy(cell._mask), mask)
    x = rng.standard_normal((B, F)).astype(np.float32)
    h = rng.standard_normal((B, 12)).astype(np.float32)
    np.testing.assert_allclose(
        to_numpy(cell(mx.array(x), mx.array(h))), numpy_step(cell, x, h, 1.0), atol=2e-5
    )
    y, h_last = layer(mx.array(rng.standard_normal((B, T, F)).astype(np.float32)))
    assert tuple(y.shape) == (B, T, 3)
    np.testing.assert_array_equal(to_numpy(y[:, -1]), to_numpy(h_last)[:, :3])


@pytest.mark.autodiff
def test_unwired_synapses_get_no_gradient(rng):
    layer = StrideAwareCfC(F, AutoNCPMap(12, 3))
    x = mx.array(rng.standard_normal((B, T, F)).astype(np.float32))

    def loss(m):
        return mx.mean(m(x)[0] ** 2)

    _, grads = nn.value_and_grad(layer, loss)(layer)
    grad = to_numpy(grads["rnn_cell"]["backbone"][0]["weight"])
    mask = to_numpy(layer.rnn_cell._mask)
    assert np.all(grad[mask == 0] == 0) and np.any(grad[mask == 1] != 0)


@pytest.mark.autodiff
@pytest.mark.parametrize("mode", MODES)
def test_gradients_match_finite_differences(mode, rng):
    layer = StrideAwareCfC(F, H, stride_lengths=[1, 3], mode=mode, backbone_units=7)
    perturbed(layer.rnn_cell, rng)
    layer.set_dtype(mx.float64)
    x = mx.array(rng.standard_normal((B, T, F)), dtype=mx.float64)
    ts = mx.array(rng.uniform(0.5, 1.5, (B, T)), dtype=mx.float64)

    def loss(m):
        return mx.mean(m(x, timespans=ts)[0] ** 2)

    _, grads = nn.value_and_grad(layer, loss)(layer)
    grads = dict(utils.tree_flatten(grads))
    # MLX evaluates exp and sigmoid in float64 only to about float32 accuracy.
    eps, rtol = (1e-3, 2e-3) if get_backend() == "mlx" else (1e-6, 1e-5)
    for name, value in utils.tree_flatten(layer.trainable_parameters()):
        direction = rng.standard_normal(tuple(value.shape))
        shifted = []
        for sign in (1, -1):
            layer.update(utils.tree_unflatten([(name, value + sign * eps * mx.array(direction))]))
            shifted.append(loss(layer).item())
        layer.update(utils.tree_unflatten([(name, value)]))
        numeric = (shifted[0] - shifted[1]) / (2 * eps)
        analytic = float(np.sum(to_numpy(grads[name]) * direction))
        assert abs(numeric - analytic) <= 1e-7 + rtol * abs(analytic), name


@pytest.mark.mlx_only
def test_sequence_under_compile_equals_eager(rng):
    layer = StrideAwareCfC(F, AutoNCPMap(12, 3), stride_lengths=[1, 2])
    x = mx.array(rng.standard_normal((B, T, F)).astype(np.float32))
    ts = mx.array(rng.uniform(0.1, 2.0, (B, T)).astype(np.float32))
    forward = lambda x, ts: layer(x, timespans=ts)[0]  # noqa: E731
    np.testing.assert_allclose(
        to_numpy(mx.compile(forward)(x, ts)), to_numpy(forward(x, ts)), rtol=0, atol=1e-6
    )


def test_bad_arguments_raise():
    for strides in ([], [1, 0], [1] * (H + 1), "2", [True]):
        with pytest.raises(ValueError, match="stride_length"):
            StrideAwareCfC(F, H, stride_lengths=strides)
    with pytest.raises(ValueError, match="time_scale_factor"):
        StrideAwareCell(F, H, time_scale_factor=0)
    with pytest.raises(ValueError, match="mode"):
        StrideAwareCell(F, H, mode="slow")
    with pytest.raises(ValueError, match="backbone_layers"):
        StrideAwareCell(F, H, backbone_layers=0)
    with pytest.raises(ValueError, match="backbone_dropout"):
        StrideAwareCell(F, H, backbone_dropout=-0.1)
    with pytest.raises(ValueError, match="backbone_units"):
        StrideAwareCfC(F, AutoNCPMap(12, 3), backbone_units=8)
    with pytest.raises(ValueError, match="input_size"):
        StrideAwareWiredCfCCell(AutoNCPMap(12, 3))
    layer = StrideAwareCfC(F, H, backbone_units=7)
    with pytest.raises(ValueError, match="x: expected shape"):
        layer(mx.zeros((B, T, F + 1)))
    with pytest.raises(ValueError, match="state"):
        layer(mx.zeros((B, T, F)), mx.zeros((B, H + 1)))
    with pytest.raises(ValueError, match="timespans"):
        layer(mx.zeros((B, T, F)), timespans=mx.ones((B, T + 1)))
    with pytest.raises(ValueError, match=">= 0"):
        layer(mx.zeros((B, T, F)), timespans=-2.0)
