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
from sequence_timing import (
    BATCH,
    FEATURES,
    STEPS,
    time_ember_forward,
    time_ember_forward_backward,
    time_torch_forward,
    time_torch_forward_backward,
)

from ember_mlx.nn.rnn.lstm import LSTM

UNITS = 64
CASE = f"LSTM({FEATURES}, {UNITS})"

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    torch_model = torch.nn.LSTM(FEATURES, UNITS, batch_first=True)
    ember_model = LSTM(FEATURES, UNITS)
    return torch_model, ember_model.load_torch_state_dict(torch_model.state_dict())


@pytest.mark.reference
def test_torch_forward(benchmark, models, sequence_inputs):
    benchmark.group = f"{CASE} forward"
    y = time_torch_forward(benchmark, models[0], sequence_inputs, 15, 2)
    assert tuple(y.shape) == (BATCH, STEPS, UNITS)


@pytest.mark.reference
def test_torch_forward_backward(benchmark, models, sequence_inputs):
    benchmark.group = f"{CASE} forward + backward"
    loss = time_torch_forward_backward(benchmark, models[0], sequence_inputs, 15, 2)
    assert np.isfinite(loss.item())


def test_ember_mlx_forward(benchmark, models, sequence_inputs):
    benchmark.group = f"{CASE} forward"
    y = time_ember_forward(benchmark, models[1], sequence_inputs, 15, 2)
    assert tuple(y.shape) == (BATCH, STEPS, UNITS)


def test_ember_mlx_forward_backward(benchmark, models, sequence_inputs):
    benchmark.group = f"{CASE} forward + backward"
    loss = time_ember_forward_backward(benchmark, models[1], sequence_inputs, 15, 2)
    assert np.isfinite(loss.item())
