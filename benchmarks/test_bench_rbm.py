r"""One CD-1 training epoch of ember_mlx's RBM against scikit-learn's BernoulliRBM (PCD-1).

Cases, as in the baseline: digits, 64 visible x 256 hidden units at batch 10 and 64 (1797
samples, pixels / 16), and 784 x 512 on 10 000 Bernoulli(0.5) samples at batch 128. ember_mlx
runs scikit-learn's update (learning rate 0.06, no momentum, no weight decay) with each sampler
of :func:`~ember_mlx.models.rbm.train_rbm`: ``counter`` (the default) and ``native``. On the
torch backend a hand-written torch CD-1 loop (``torch.rand`` noise, five ``addmm``) shows what
eager torch itself can do: the floor for any library on top of it. On every backend the five
GEMMs of an epoch's updates, run alone (no sampling, no elementwise work), give the ceiling: no
implementation of the update, on this machine and backend, can beat that time.

Printed at the end of the run:

- by ``benchmarks/conftest.py``, per group (scikit-learn is the reference): scikit-learn's
  epoch time / ours (issue 5's target: at least 3x on the torch backend);
- by the last test: each epoch's GEMM efficiency, the five GEMMs a CD-1 update needs (positive
  phase, the chain's h -> v and v -> h, the two gradient products),
  :math:`5 \cdot 2 N n_v n_h` flops per epoch, over the epoch time, as a fraction of the float32
  GEMM rate measured in the same run (target on the large case: at least 80%).

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
SAMPLERS = ("counter", "native")
GEMM_SIZE = 1024
ROUNDS = {"digits 64x256 b10": 5, "digits 64x256 b64": 5, "synthetic 784x512x10k b128": 3}

RESULTS = {}  # (case, implementation) or ("gemm", "gemm") -> fastest round in seconds


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
    RESULTS[case, "sklearn"] = benchmark.stats.stats.min


@pytest.mark.parametrize("sampler", SAMPLERS)
@pytest.mark.parametrize("case", CASES)
def test_ember_mlx_epoch(benchmark, datasets, case, sampler):
    benchmark.group = f"RBM CD-1 epoch, {case}"
    hidden, batch_size = CASES[case]
    data = mx.array(datasets[case])
    rbm = RBM(data.shape[1], hidden, LEARNING_RATE, momentum=0.0, weight_decay=0.0)

    def epoch():
        rbm.train(
            data, epochs=1, batch_size=batch_size, metrics=(), progress=False, sampler=sampler
        )
        mx.eval(rbm.parameters())

    benchmark.pedantic(epoch, rounds=ROUNDS[case], warmup_rounds=1)
    assert np.isfinite(mx.sum(rbm.weights).item())
    RESULTS[case, f"ember_mlx {sampler}"] = benchmark.stats.stats.min


@pytest.mark.skipif(get_backend() != "torch", reason="the eager-torch floor, for the torch run")
@pytest.mark.parametrize("case", CASES)
def test_torch_floor_epoch(benchmark, datasets, case):
    import torch

    benchmark.group = f"RBM CD-1 epoch, {case}"
    hidden, batch_size = CASES[case]
    data = torch.from_numpy(datasets[case])
    generator = torch.Generator().manual_seed(0)
    weights = 0.01 * torch.randn(data.shape[1], hidden, generator=generator)
    visible_bias, hidden_bias = torch.zeros(data.shape[1]), torch.zeros(hidden)

    def epoch():
        for start in range(0, data.shape[0], batch_size):
            v = data[start : start + batch_size]
            p_data = torch.sigmoid(torch.addmm(hidden_bias, v, weights))
            h = (torch.rand(p_data.shape, generator=generator) < p_data).float()
            v_mean = torch.sigmoid(torch.addmm(visible_bias, h, weights.T))
            v_model = (torch.rand(v_mean.shape, generator=generator) < v_mean).float()
            p_model = torch.sigmoid(torch.addmm(hidden_bias, v_model, weights))
            step = LEARNING_RATE / v.shape[0]
            update = torch.addmm(torch.mm(v.T, p_data), v_model.T, p_model, alpha=-1.0)
            weights.add_(update, alpha=step)
            visible_bias.add_(v.sum(0) - v_model.sum(0), alpha=step)
            hidden_bias.add_(p_data.sum(0) - p_model.sum(0), alpha=step)

    benchmark.pedantic(epoch, rounds=ROUNDS[case], warmup_rounds=1)
    assert torch.isfinite(weights).all()
    RESULTS[case, "hand-written torch"] = benchmark.stats.stats.min


@pytest.mark.parametrize("case", CASES)
def test_gemms_alone_epoch(benchmark, datasets, case):
    benchmark.group = f"RBM CD-1 epoch, {case}"
    hidden, batch_size = CASES[case]
    data = datasets[case]
    rng = np.random.default_rng(0)
    weights = mx.array(0.01 * rng.standard_normal((data.shape[1], hidden)).astype(np.float32))
    visible_bias, hidden_bias = mx.zeros((data.shape[1],)), mx.zeros((hidden,))
    batches = [
        mx.array(data[start : start + batch_size]) for start in range(0, len(data), batch_size)
    ]

    def epoch():
        for v in batches:
            p_data = mx.addmm(hidden_bias, v, weights)
            v_model = mx.addmm(visible_bias, p_data, weights.T)
            p_model = mx.addmm(hidden_bias, v_model, weights)
            update = mx.addmm(v.T @ p_data, v_model.T, p_model, alpha=-1.0)
            mx.eval(update)

    benchmark.pedantic(epoch, rounds=ROUNDS[case], warmup_rounds=1)
    RESULTS[case, "GEMMs alone"] = benchmark.stats.stats.min


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
    """The epoch times against scikit-learn and this run's GEMM rate (needs the whole file)."""
    if ("gemm", "gemm") not in RESULTS:
        pytest.skip("run the whole file to get the ratios")
    gemm_rate = 2 * GEMM_SIZE**3 / RESULTS["gemm", "gemm"]
    lines = [
        f"RBM CD-1 epoch, backend {get_backend()}; float32 GEMM {GEMM_SIZE}^3: "
        f"{gemm_rate / 1e9:.1f} GFLOP/s",
        f"{'case':<28}{'implementation':<20}{'seconds':>9}{'vs sklearn':>12}{'GEMM eff.':>11}",
    ]
    for case, (hidden, _) in CASES.items():
        samples, visible = (10_000, 784) if case.startswith("synthetic") else (1797, 64)
        flops = 5 * 2 * samples * visible * hidden
        sklearn = RESULTS.get((case, "sklearn"))
        implementations = (
            "sklearn",
            *(f"ember_mlx {s}" for s in SAMPLERS),
            "hand-written torch",
            "GEMMs alone",
        )
        for name in implementations:
            if (case, name) not in RESULTS:
                continue
            seconds = RESULTS[case, name]
            ratio = f"{sklearn / seconds:.2f}x" if sklearn else "-"
            efficiency = flops / seconds / gemm_rate
            lines.append(f"{case:<28}{name:<20}{seconds:>9.4f}{ratio:>12}{efficiency:>11.1%}")
    with capsys.disabled():
        print("\n" + "\n".join(lines))
