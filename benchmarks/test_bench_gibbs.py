"""Block Gibbs sampling on an MNIST-sized RBM (784 visible x 500 hidden units).

``k`` = 1 (CD-1) and 25 Gibbs steps per call, for a few chain counts. The reference path runs on
every backend; where Metal is available the kernel path runs beside it, so the two can be
compared group by group::

    EMBER_BACKEND=mlx python -m pytest benchmarks/test_bench_gibbs.py --benchmark-group-by=param
"""

import numpy as np
import pytest

from ember_mlx.backend import mx
from ember_mlx.kernels import gibbs_chain

N_VISIBLE, N_HIDDEN = 784, 500

PATHS = [
    "reference",
    pytest.param(
        "kernel",
        marks=pytest.mark.skipif(not mx.metal.is_available(), reason="the kernel needs Metal"),
    ),
]


@pytest.fixture(scope="module")
def rbm():
    rng = np.random.default_rng(0)
    weights = mx.array(rng.normal(0.0, 0.05, (N_VISIBLE, N_HIDDEN)).astype(np.float32))
    visible_bias = mx.array(rng.normal(0.0, 0.1, N_VISIBLE).astype(np.float32))
    hidden_bias = mx.array(rng.normal(0.0, 0.1, N_HIDDEN).astype(np.float32))
    return weights, visible_bias, hidden_bias


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("chains", [16, 64, 256])
@pytest.mark.parametrize("k", [1, 25])
def test_gibbs_chain(benchmark, rbm, path, chains, k):
    rng = np.random.default_rng(1)
    v = mx.array((rng.random((chains, N_VISIBLE)) < 0.5).astype(np.float32))

    def sample():
        out = gibbs_chain(v, *rbm, k, seed=0, step=0, use_kernel=path == "kernel")
        mx.eval(*out)
        return out

    v_sample, v_mean, h_prob = benchmark.pedantic(sample, rounds=3, warmup_rounds=1)
    assert v_sample.shape == (chains, N_VISIBLE) and h_prob.shape == (chains, N_HIDDEN)
