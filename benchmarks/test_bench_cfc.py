r"""ember_mlx's CfC against ncps's torch CfC: forward and forward + backward.

Cases (the baseline's): ``CfC(32, 64)`` in the default mode (backbone 128 units, one layer) and
the wired ``CfC(32, AutoNCP(64, 8))``, on a float32 batch of 64 sequences of 100 steps with 32
features; loss = sum of all outputs. Both sides get the same weights (and the same wiring).
Target on the torch backend: forward + backward at least 2x faster than ncps. torch runs on
one thread. The speed-ups are printed at the end of the run (see ``benchmarks/conftest.py``)::

    EMBER_BACKEND=torch python -m pytest benchmarks/test_bench_cfc.py
"""

import numpy as np
import pytest
import torch
from ncps.torch import CfC as NcpsCfC
from ncps.wirings import AutoNCP

from ember_mlx.backend import mx, nn
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
