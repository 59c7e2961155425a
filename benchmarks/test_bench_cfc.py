r"""ember_mlx's CfC against ncps's torch CfC: forward and forward + backward.

Cases (the baseline's): ``CfC(32, 64)`` in the default mode (backbone 128 units, one layer) and
the wired ``CfC(32, AutoNCP(64, 8))``, on a float32 batch of 64 sequences of 100 steps with 32
features; loss = sum of all outputs. Both sides get the same weights (and the same wiring).
Target on the torch backend: forward + backward at least 2x faster than ncps. torch runs on
one thread. The speed-ups are printed at the end of the run (see ``benchmarks/conftest.py``)::

    EMBER_BACKEND=torch python -m pytest benchmarks/test_bench_cfc.py

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

from ember_mlx.backend import get_backend, mx, nn
from ember_mlx.nn import AutoNCPMap
from ember_mlx.nn.rnn.cfc import CfC

BATCH, STEPS, FEATURES, UNITS, MOTOR = 64, 100, 32, 64, 8

CASES = {
    "CfC(32, 64)": lambda: (NcpsCfC(FEATURES, UNITS), CfC(FEATURES, UNITS)),
    "CfC(32, AutoNCP(64, 8))": lambda: (
        NcpsCfC(FEATURES, AutoNCP(UNITS, MOTOR)),
        CfC(FEATURES, AutoNCPMap(UNITS, MOTOR)),
    ),
}


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Both sides run torch single-threaded, which keeps the ratio steady on a busy machine
    (at these sizes a second thread saves little)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def inputs():
    return np.random.default_rng(0).normal(size=(BATCH, STEPS, FEATURES)).astype(np.float32)


@pytest.fixture(scope="module", params=list(CASES))
def models(request):
    torch.manual_seed(0)
    ncps_model, ember_model = CASES[request.param]()
    ember_model.load_torch_state_dict(ncps_model.state_dict())
    return request.param, ncps_model, ember_model


@pytest.mark.reference
def test_ncps_forward(benchmark, models, inputs):
    case, model, _ = models
    benchmark.group = f"{case} forward"
    x = torch.from_numpy(inputs)

    def forward():
        with torch.no_grad():
            return model(x)[0]

    y = benchmark.pedantic(forward, rounds=7, warmup_rounds=1)
    assert y.shape[:2] == (BATCH, STEPS)


def test_ember_mlx_forward(benchmark, models, inputs):
    case, _, model = models
    benchmark.group = f"{case} forward"
    x = mx.array(inputs)

    def forward():
        y = model(x)[0]
        mx.eval(y)
        return y

    y = benchmark.pedantic(forward, rounds=7, warmup_rounds=1)
    assert tuple(y.shape[:2]) == (BATCH, STEPS)


@pytest.mark.reference
def test_ncps_forward_backward(benchmark, models, inputs):
    case, model, _ = models
    benchmark.group = f"{case} forward + backward"
    x = torch.from_numpy(inputs)

    def forward_backward():
        model.zero_grad(set_to_none=True)
        loss = model(x)[0].sum()
        loss.backward()
        return loss

    loss = benchmark.pedantic(forward_backward, rounds=7, warmup_rounds=1)
    assert np.isfinite(loss.item())


def test_ember_mlx_forward_backward(benchmark, models, inputs):
    case, _, model = models
    benchmark.group = f"{case} forward + backward"
    x = mx.array(inputs)
    value_and_grad = nn.value_and_grad(model, lambda x: mx.sum(model(x)[0]))

    def forward_backward():
        loss, grads = value_and_grad(x)
        mx.eval(loss, grads)
        return loss

    loss = benchmark.pedantic(forward_backward, rounds=7, warmup_rounds=1)
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
def test_handwritten_mlx_compiled_forward(benchmark, dense_cfc, inputs):
    benchmark.group = "CfC(32, 64) on mlx, compiled forward"
    params, x = dense_cfc[1], mx.array(inputs)
    forward = mx.compile(handwritten_cfc)

    def run():
        y = forward(params, x)
        mx.eval(y)
        return y

    y = benchmark.pedantic(run, rounds=7, warmup_rounds=2)
    ours = dense_cfc[0](x)[0]
    assert np.allclose(np.array(y), np.array(ours), atol=1e-5)


@on_mlx
def test_ember_mlx_compiled_forward(benchmark, dense_cfc, inputs):
    benchmark.group = "CfC(32, 64) on mlx, compiled forward"
    model, x = dense_cfc[0], mx.array(inputs)
    forward = partial(mx.compile, inputs=model.state)(lambda x: model(x)[0])

    def run():
        y = forward(x)
        mx.eval(y)
        return y

    y = benchmark.pedantic(run, rounds=7, warmup_rounds=2)
    assert tuple(y.shape) == (BATCH, STEPS, UNITS)


@on_mlx
@pytest.mark.reference
def test_handwritten_mlx_compiled_forward_backward(benchmark, dense_cfc, inputs):
    benchmark.group = "CfC(32, 64) on mlx, compiled forward + backward"
    params, x = dense_cfc[1], mx.array(inputs)
    step = mx.compile(mx.value_and_grad(lambda p, x: mx.sum(handwritten_cfc(p, x))))

    def run():
        loss, grads = step(params, x)
        mx.eval(loss, grads)
        return loss

    loss = benchmark.pedantic(run, rounds=7, warmup_rounds=2)
    assert np.isfinite(loss.item())


@on_mlx
def test_ember_mlx_compiled_forward_backward(benchmark, dense_cfc, inputs):
    benchmark.group = "CfC(32, 64) on mlx, compiled forward + backward"
    model, x = dense_cfc[0], mx.array(inputs)
    value_and_grad = nn.value_and_grad(model, lambda x: mx.sum(model(x)[0]))
    # value_and_grad writes the traced parameters into the model: they are outputs as well.
    step = partial(mx.compile, inputs=model.state, outputs=model.state)(value_and_grad)

    def run():
        loss, grads = step(x)
        mx.eval(loss, grads)
        return loss

    loss = benchmark.pedantic(run, rounds=7, warmup_rounds=2)
    assert np.isfinite(loss.item())
