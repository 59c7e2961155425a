r"""ember_mlx's LSTM against ``torch.nn.LSTM``: forward and forward + backward.

The case is the baseline's: ``LSTM(32, 64)`` on a float32 batch of 64 sequences of 100 steps
with 32 features; loss = sum of all outputs. Both sides get the same weights. torch runs on one
thread, which keeps the ratios steady on a busy machine. ``torch.nn.LSTM`` runs oneDNN's fused
CPU kernels (no cuDNN here), so it is a floor rather than a peer: on the torch backend the goal
is to stay within about 1.5x of it (a speed-up above 0.67). The speed-ups are printed at the end
of the run (see ``benchmarks/conftest.py``)::

    EMBER_BACKEND=torch python -m pytest benchmarks/test_bench_lstm.py
"""

import numpy as np
import pytest
import torch

from ember_mlx.backend import mx, nn
from ember_mlx.nn.rnn.lstm import LSTM

BATCH, STEPS, FEATURES, UNITS = 64, 100, 32, 64
CASE = f"LSTM({FEATURES}, {UNITS})"


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def inputs():
    return np.random.default_rng(0).normal(size=(BATCH, STEPS, FEATURES)).astype(np.float32)


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    torch_model = torch.nn.LSTM(FEATURES, UNITS, batch_first=True)
    ember_model = LSTM(FEATURES, UNITS)
    return torch_model, ember_model.load_torch_state_dict(torch_model.state_dict())


@pytest.mark.reference
def test_torch_forward(benchmark, models, inputs):
    benchmark.group = f"{CASE} forward"
    model, x = models[0], torch.from_numpy(inputs)

    def forward():
        with torch.no_grad():
            return model(x)[0]

    y = benchmark.pedantic(forward, rounds=15, warmup_rounds=2)
    assert tuple(y.shape) == (BATCH, STEPS, UNITS)


@pytest.mark.reference
def test_torch_forward_backward(benchmark, models, inputs):
    benchmark.group = f"{CASE} forward + backward"
    model, x = models[0], torch.from_numpy(inputs)

    def forward_backward():
        model.zero_grad(set_to_none=True)
        loss = model(x)[0].sum()
        loss.backward()
        return loss

    loss = benchmark.pedantic(forward_backward, rounds=15, warmup_rounds=2)
    assert np.isfinite(loss.item())


def test_ember_mlx_forward(benchmark, models, inputs):
    benchmark.group = f"{CASE} forward"
    model, x = models[1], mx.array(inputs)

    def forward():
        y = model(x)[0]
        mx.eval(y)
        return y

    y = benchmark.pedantic(forward, rounds=15, warmup_rounds=2)
    assert tuple(y.shape) == (BATCH, STEPS, UNITS)


def test_ember_mlx_forward_backward(benchmark, models, inputs):
    benchmark.group = f"{CASE} forward + backward"
    model, x = models[1], mx.array(inputs)
    value_and_grad = nn.value_and_grad(model, lambda x: mx.sum(model(x)[0]))

    def forward_backward():
        loss, grads = value_and_grad(x)
        mx.eval(loss, grads)
        return loss

    loss = benchmark.pedantic(forward_backward, rounds=15, warmup_rounds=2)
    assert np.isfinite(loss.item())
