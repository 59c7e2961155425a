"""Block Gibbs sampling on an MNIST-sized RBM (784 visible x 500 hidden units).

``k`` = 1 (CD-1) and 25 Gibbs steps per call, for a few chain counts. The reference path runs on
every backend; where Metal is available the kernel path runs beside it, so the two can be
compared group by group::

    EMBER_BACKEND=mlx python -m pytest benchmarks/test_bench_gibbs.py --benchmark-group-by=param

The last test prints the throughput of each case: Gibbs samples per second, one sample being one
chain's full ``v -> h -> v`` step (``chains * k`` per call), and random numbers per second
(each sample draws ``784 + 500``).
"""

import numpy as np
import pytest

from ember_mlx.backend import get_backend, mx
from ember_mlx.kernels import gibbs_chain

N_VISIBLE, N_HIDDEN = 784, 500

PATHS = [
    "reference",
    pytest.param(
        "kernel",
        marks=pytest.mark.skipif(not mx.metal.is_available(), reason="the kernel needs Metal"),
    ),
]

RESULTS = {}  # (path, chains, k) -> fastest call in seconds


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
    RESULTS[path, chains, k] = benchmark.stats.stats.min


def test_print_samples_per_second(capsys):
    """Throughput of every case above (needs them in the same run)."""
    if not RESULTS:
        pytest.skip("run the whole file to get the throughput")
    lines = [
        f"Gibbs sampling {N_VISIBLE}x{N_HIDDEN}, backend {get_backend()}",
        f"{'path':<11}{'chains':>7}{'k':>4}{'ms/call':>10}{'samples/s':>12}{'numbers/s':>12}",
    ]
    for (path, chains, k), seconds in sorted(RESULTS.items()):
        rate = chains * k / seconds
        lines.append(
            f"{path:<11}{chains:>7}{k:>4}{seconds * 1e3:>10.2f}{rate:>12.0f}"
            f"{rate * (N_VISIBLE + N_HIDDEN):>12.3g}"
        )
    with capsys.disabled():
        print("\n" + "\n".join(lines))
