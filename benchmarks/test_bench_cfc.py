r"""ember_mlx's CfC against ncps's torch CfC: forward and forward + backward.

Cases (the baseline's): ``CfC(32, 64)`` in the default mode (backbone 128 units, one layer) and
the wired ``CfC(32, AutoNCP(64, 8))``, on a float32 batch of 64 sequences of 100 steps with 32
features; loss = sum of all outputs. Both sides get the same weights (and the same wiring).
Target on the torch backend: forward + backward at least 2x faster than ncps. torch runs on
one thread. The speed-ups are printed at the end of the run (see ``benchmarks/conftest.py``)::

    EMBER_BACKEND=torch python -m pytest benchmarks/test_bench_cfc.py

On the torch backend the forward + backward group of ``CfC(32, 64)`` also times
:class:`_FloorRecurrence`: the same algorithm written directly in torch, with the same
hand-written backward, which is what eager torch itself takes for it (the floor for ember_mlx's
code on top of the mirror).

On the mlx backend two more groups compare ``CfC(32, 64)`` under ``mx.compile`` with a
hand-written MLX loop of the same math (:func:`handwritten_cfc`, the reference): ember_mlx
should add no measurable overhead (a speed-up of about 1).
"""

from functools import partial

import numpy as np
import pytest
import torch
from ncps.torch import CfC as NcpsCfC
from ncps.wirings import AutoNCP
from sequence_timing import (
    BATCH,
    FEATURES,
    STEPS,
    time_ember_forward,
    time_ember_forward_backward,
    time_torch_forward,
    time_torch_forward_backward,
)

from ember_mlx.backend import get_backend, mx, nn
from ember_mlx.nn import AutoNCPMap
from ember_mlx.nn.rnn.cfc import CfC

UNITS, MOTOR = 64, 8

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CASES = {
    "CfC(32, 64)": lambda: (NcpsCfC(FEATURES, UNITS), CfC(FEATURES, UNITS)),
    "CfC(32, AutoNCP(64, 8))": lambda: (
        NcpsCfC(FEATURES, AutoNCP(UNITS, MOTOR)),
        CfC(FEATURES, AutoNCPMap(UNITS, MOTOR)),
    ),
}


@pytest.fixture(scope="module", params=list(CASES))
def models(request):
    torch.manual_seed(0)
    ncps_model, ember_model = CASES[request.param]()
    ember_model.load_torch_state_dict(ncps_model.state_dict())
    return request.param, ncps_model, ember_model


@pytest.mark.reference
def test_ncps_forward(benchmark, models, sequence_inputs):
    case, model, _ = models
    benchmark.group = f"{case} forward"
    y = time_torch_forward(benchmark, model, sequence_inputs, 15)
    assert y.shape[:2] == (BATCH, STEPS)


def test_ember_mlx_forward(benchmark, models, sequence_inputs):
    case, _, model = models
    benchmark.group = f"{case} forward"
    y = time_ember_forward(benchmark, model, sequence_inputs, 15)
    assert tuple(y.shape[:2]) == (BATCH, STEPS)


@pytest.mark.reference
def test_ncps_forward_backward(benchmark, models, sequence_inputs):
    case, model, _ = models
    benchmark.group = f"{case} forward + backward"
    loss = time_torch_forward_backward(benchmark, model, sequence_inputs, 15)
    assert np.isfinite(loss.item())


def test_ember_mlx_forward_backward(benchmark, models, sequence_inputs):
    case, _, model = models
    benchmark.group = f"{case} forward + backward"
    loss = time_ember_forward_backward(benchmark, model, sequence_inputs, 15)
    assert np.isfinite(loss.item())


# ------------------------------------------------------- mlx: ember_mlx against hand-written MLX

on_mlx = pytest.mark.skipif(get_backend() != "mlx", reason="compares with hand-written MLX")


def handwritten_cfc(params: dict, x: mx.array) -> mx.array:
    """ncps's default-mode CfC as one would write it by hand in MLX: the input's share of the
    backbone hoisted out of the loop, the four heads in one matmul, no per-step concatenation.
    ``x`` is ``(batch, steps, features)``; returns every step's state, ``(batch, steps, units)``.
    """
    w_in, w_h, b, heads, heads_b = (params[k] for k in ("w_in", "w_h", "b", "heads", "heads_b"))
    projected = x @ w_in + b
    h = mx.zeros((x.shape[0], w_h.shape[0]), dtype=x.dtype)
    outputs = []
    for t in range(x.shape[1]):
        z = 1.7159 * mx.tanh(0.666 * (projected[:, t] + h @ w_h))
        ff1, ff2, t_a, t_b = mx.split(z @ heads + heads_b, 4, axis=1)
        gate = mx.sigmoid(t_a + t_b)  # elapsed time 1
        h = mx.tanh(ff1) * (1 - gate) + gate * mx.tanh(ff2)
        outputs.append(h)
    return mx.stack(outputs, axis=1)


def handwritten_params(cell) -> dict:
    """The hand-written loop's weights from our ``CfCCell`` (the same numbers)."""
    first = cell.backbone[0]
    heads = [cell.ff1, cell.ff2, cell.time_a, cell.time_b]
    return {
        "w_in": first.weight[:, :FEATURES].T,
        "w_h": first.weight[:, FEATURES:].T,
        "b": first.bias,
        "heads": mx.concatenate([layer.weight for layer in heads], axis=0).T,
        "heads_b": mx.concatenate([layer.bias for layer in heads]),
    }


@pytest.fixture(scope="module")
def dense_cfc():
    model = CfC(FEATURES, UNITS)
    return model, handwritten_params(model.rnn_cell)


@on_mlx
@pytest.mark.reference
def test_handwritten_mlx_compiled_forward(benchmark, dense_cfc, sequence_inputs):
    benchmark.group = "CfC(32, 64) on mlx, compiled forward"
    params, x = dense_cfc[1], mx.array(sequence_inputs)
    forward = mx.compile(handwritten_cfc)

    def run():
        y = forward(params, x)
        mx.eval(y)
        return y

    y = benchmark.pedantic(run, rounds=7, warmup_rounds=2)
    ours = dense_cfc[0](x)[0]
    assert np.allclose(np.array(y), np.array(ours), atol=1e-5)


@on_mlx
def test_ember_mlx_compiled_forward(benchmark, dense_cfc, sequence_inputs):
    benchmark.group = "CfC(32, 64) on mlx, compiled forward"
    model, x = dense_cfc[0], mx.array(sequence_inputs)
    forward = partial(mx.compile, inputs=model.state)(lambda x: model(x)[0])

    def run():
        y = forward(x)
        mx.eval(y)
        return y

    y = benchmark.pedantic(run, rounds=7, warmup_rounds=2)
    assert tuple(y.shape) == (BATCH, STEPS, UNITS)


@on_mlx
@pytest.mark.reference
def test_handwritten_mlx_compiled_forward_backward(benchmark, dense_cfc, sequence_inputs):
    benchmark.group = "CfC(32, 64) on mlx, compiled forward + backward"
    params, x = dense_cfc[1], mx.array(sequence_inputs)
    step = mx.compile(mx.value_and_grad(lambda p, x: mx.sum(handwritten_cfc(p, x))))

    def run():
        loss, grads = step(params, x)
        mx.eval(loss, grads)
        return loss

    loss = benchmark.pedantic(run, rounds=7, warmup_rounds=2)
    assert np.isfinite(loss.item())


@on_mlx
def test_ember_mlx_compiled_forward_backward(benchmark, dense_cfc, sequence_inputs):
    benchmark.group = "CfC(32, 64) on mlx, compiled forward + backward"
    model, x = dense_cfc[0], mx.array(sequence_inputs)
    value_and_grad = nn.value_and_grad(model, lambda x: mx.sum(model(x)[0]))
    # value_and_grad writes the traced parameters into the model: they are outputs as well.
    step = partial(mx.compile, inputs=model.state, outputs=model.state)(value_and_grad)

    def run():
        loss, grads = step(x)
        mx.eval(loss, grads)
        return loss

    loss = benchmark.pedantic(run, rounds=7, warmup_rounds=2)
    assert np.isfinite(loss.item())


# --------------------------------------------- torch: the eager floor of ember_mlx's algorithm

on_torch = pytest.mark.skipif(get_backend() != "torch", reason="the eager-torch floor")


class _FloorRecurrence(torch.autograd.Function):
    """ember_mlx's dense CfC recurrence (:class:`~ember_mlx.nn.rnn.cfc_cell.DenseCfCMath` on
    :meth:`~ember_mlx.nn.rnn.cfc_cell.CfCCell.vjp_weights`, default mode) in plain torch, with
    the same hand-written backward: what eager torch itself takes for the same algorithm."""

    @staticmethod
    def forward(ctx, projected, u0, recurrent, heads, heads_bias):
        u, us, saved = u0, [], []
        for p in projected.unbind(0):
            a = torch.sigmoid(torch.addmm(p, u, recurrent))
            s = torch.sigmoid(torch.addmm(heads_bias, a, heads))
            s1, s2, g = s.split(u0.shape[1], 1)
            u = s1 + g * (s2 - s1)
            us += [u]
            saved += [a, s]
        ctx.save_for_backward(u0, recurrent, heads, *us, *saved)
        return torch.stack(us)

    @staticmethod
    def backward(ctx, d_us):
        u0, recurrent, heads, *rest = ctx.saved_tensors
        steps = len(rest) // 3
        us, saved = rest[:steps], rest[steps:]
        du, d_heads, d_bias, dzs = d_us[-1], None, None, [None] * steps
        for t in reversed(range(steps)):
            a, s = saved[2 * t], saved[2 * t + 1]
            s1, s2, g = s.split(u0.shape[1], 1)
            du_g = du * g
            dz = torch.cat([du - du_g, du_g, du * (s2 - s1)], 1) * (s - s * s)
            d_heads = a.T @ dz if d_heads is None else torch.addmm(d_heads, a.T, dz)
            d_bias = dz if d_bias is None else d_bias + dz
            dzs[t] = (dz @ heads.T) * (a - a * a)
            du = dzs[t] @ recurrent.T if t == 0 else torch.addmm(d_us[t - 1], dzs[t], recurrent.T)
        dz = torch.cat(dzs)
        previous = torch.cat([u0[None], torch.stack(us[:-1])]).reshape(-1, u0.shape[1])
        return dz.reshape(steps, *dzs[0].shape), du, previous.T @ dz, d_heads, d_bias.sum(0)


@on_torch
def test_torch_floor_forward_backward(benchmark, models, sequence_inputs):
    case, _, model = models
    if case != "CfC(32, 64)":
        pytest.skip("the floor is written for the dense CfC")
    benchmark.group = f"{case} forward + backward"
    cell = model.rnn_cell
    weights = cell.vjp_weights(cell.prepare(1.0))
    leaves = [
        w.detach().clone().requires_grad_()
        for w in (weights.input_t, weights.input_bias, weights.hidden_t)
        + (weights.heads_t, weights.heads_bias)
    ]
    input_t, input_bias, recurrent, heads, heads_bias = leaves
    x = torch.from_numpy(sequence_inputs)
    u0 = torch.full((BATCH, UNITS), 0.5)

    def forward_backward():
        projected = torch.addmm(input_bias, x.transpose(0, 1).reshape(-1, FEATURES), input_t)
        us = _FloorRecurrence.apply(
            projected.reshape(STEPS, BATCH, -1), u0, recurrent, heads, heads_bias
        )
        loss = (us * 2 - 1).sum()
        torch.autograd.grad(loss, leaves)
        return loss

    loss = benchmark.pedantic(forward_backward, rounds=15, warmup_rounds=1)
    ours = mx.sum(model(mx.array(sequence_inputs))[0]).item()
    assert abs(loss.item() - ours) <= 1e-4 * abs(ours)
