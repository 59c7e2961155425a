r"""One CD-1 training epoch of ember_mlx's RBM against scikit-learn's BernoulliRBM (PCD-1).

Cases, as in the baseline: digits, 64 visible x 256 hidden units at batch 10 and 64 (1797
samples, pixels / 16), and 784 x 512 on 10 000 Bernoulli(0.5) samples at batch 128. The float32
GEMM rate of the active backend is measured in the same run. Times are the fastest rounds.

- speed-up, printed by ``benchmarks/conftest.py`` per group (scikit-learn is the reference):
  scikit-learn's epoch time / ember_mlx's (target: at least 3x on the torch backend);
- GEMM efficiency, printed by the last test, on the large case: the five GEMMs a CD-1 update
  needs (positive phase, the chain's h -> v and v -> h, the two gradient products),
  :math:`5 \cdot 2 N n_v n_h` flops per epoch, over the epoch time, as a fraction of the GEMM
  rate (target: at least 80%).

Run one backend per process::

    EMBER_BACKEND=torch python -m pytest benchmarks/test_bench_rbm.py
"""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.neural_network import BernoulliRBM

from ember_mlx.backend import get_backend, mx
from ember_mlx.models.rbm import RBM

LEARNING_RATE = 0.06
CASES = {
    "digits 64x256 b10": (256, 10),
    "digits 64x256 b64": (256, 64),
    "synthetic 784x512x10k b128": (512, 128),
}
GEMM_SIZE = 1024
ROUNDS = {"digits 64x256 b10": 5, "digits 64x256 b64": 5, "synthetic 784x512x10k b128": 3}

RESULTS = {}  # (case, "ember_mlx") or ("gemm", "gemm") -> fastest round in seconds


@pytest.fixture(scope="module")
def datasets():
    digits = (load_digits().data / 16.0).astype(np.float32)
    synthetic = (np.random.default_rng(0).random((10_000, 784)) < 0.5).astype(np.float32)
    return {case: synthetic if case.startswith("synthetic") else digits for case in CASES}


@pytest.mark.reference
@pytest.mark.parametrize("case", CASES)
def test_sklearn_epoch(benchmark, datasets, case):
    benchmark.group = f"RBM CD-1 epoch, {case}"
    hidden, batch_size = CASES[case]
    data = datasets[case]

    def epoch():
        return BernoulliRBM(
            n_components=hidden,
            learning_rate=LEARNING_RATE,
            batch_size=batch_size,
            n_iter=1,
            random_state=0,
        ).fit(data)

    model = benchmark.pedantic(epoch, rounds=ROUNDS[case], warmup_rounds=1)
    assert model.components_.shape == (hidden, data.shape[1])


@pytest.mark.parametrize("case", CASES)
def test_ember_mlx_epoch(benchmark, datasets, case):
    benchmark.group = f"RBM CD-1 epoch, {case}"
    hidden, batch_size = CASES[case]
    data = mx.array(datasets[case])
    rbm = RBM(data.shape[1], hidden, LEARNING_RATE, k=1)

    def epoch():
        rbm.train(data, epochs=1, batch_size=batch_size, metrics=(), progress=False)
        mx.eval(rbm.parameters())

    benchmark.pedantic(epoch, rounds=ROUNDS[case], warmup_rounds=1)
    assert np.isfinite(mx.sum(rbm.weights).item())
    RESULTS[case, "ember_mlx"] = benchmark.stats.stats.min


def test_gemm_rate(benchmark):
    rng = np.random.default_rng(0)
    a, b = (mx.array(rng.normal(size=(GEMM_SIZE, GEMM_SIZE)).astype(np.float32)) for _ in "ab")

    def gemm():
        out = a @ b
        mx.eval(out)
        return out

    benchmark.pedantic(gemm, rounds=7, warmup_rounds=2)
    RESULTS["gemm", "gemm"] = benchmark.stats.stats.min


def test_print_gemm_efficiency(capsys):
    """The epoch times against this run's GEMM rate (needs the tests above in the same run)."""
    if ("gemm", "gemm") not in RESULTS:
        pytest.skip("run the whole file to get the ratios")
    gemm_rate = 2 * GEMM_SIZE**3 / RESULTS["gemm", "gemm"]
    lines = [
        f"RBM CD-1 epoch, backend {get_backend()}; float32 GEMM {GEMM_SIZE}^3: "
        f"{gemm_rate / 1e9:.1f} GFLOP/s",
        f"{'case':<28}{'ember_mlx s':>12}{'GEMM eff.':>11}",
    ]
    for case, (hidden, _) in CASES.items():
        if (case, "ember_mlx") not in RESULTS:
            continue
        ours = RESULTS[case, "ember_mlx"]
        samples, visible = (10_000, 784) if case.startswith("synthetic") else (1797, 64)
        efficiency = 5 * 2 * samples * visible * hidden / ours / gemm_rate
        lines.append(f"{case:<28}{ours:>12.4f}{efficiency:>11.1%}")
    with capsys.disabled():
        print("\n" + "\n".join(lines))
