r"""One RKM training epoch of ember_mlx against pyrkm 0.1.0 on the same problem.

Cases (pyrkm's defaults otherwise: RKM energy, Bernoulli units, offset 0, SGD):

- digits: scikit-learn's 8x8 digits binarised at 8 (1797 samples), 64 x 64 units, PCD-1,
  batch 50 (36 updates);
- synthetic: 1024 Bernoulli(1/2) samples, 784 x 500 units, vRDM-1, batch 64 (16 updates), the
  MNIST-sized set-up where pyrkm's ``(batch, hidden, visible)`` gradient tensors dominate.

Both sides see the same batches in the same order; pyrkm writes no checkpoints. The summary
of ``benchmarks/conftest.py`` prints the speed-up, pyrkm's epoch time / ember_mlx's. Run one
backend per process::

    EMBER_BACKEND=torch python -m pytest benchmarks/test_bench_rkm.py
"""

import sys
import types

import numpy as np
import pytest
from sklearn.datasets import load_digits

from ember_mlx.backend import mx
from ember_mlx.models.rkm import RKM

torch = pytest.importorskip("torch", reason="pyrkm runs on torch")

# case -> (hidden units, batch size, training algorithm)
CASES = {
    "digits 64x64 b50 PCD": (64, 50, "PCD"),
    "synthetic 784x500 b64 vRDM": (500, 64, "vRDM"),
}
ROUNDS = {"digits 64x64 b50 PCD": 5, "synthetic 784x500 b64 vRDM": 3}
LEARNING_RATE = 0.01


def _import_pyrkm():
    # pyrkm imports torchvision (a CUDA wheel that does not import here) for its FID helper
    # only: stub it for the import, as tests/test_rkm_pyrkm.py does.
    models = types.ModuleType("torchvision.models")
    models.inception_v3 = None
    vision = types.ModuleType("torchvision")
    vision.models = models
    stubs = {"torchvision": vision, "torchvision.models": models}
    saved = {name: sys.modules.get(name) for name in stubs}
    sys.modules.update(stubs)
    try:
        import pyrkm
    except Exception as err:
        pytest.skip(f"pyrkm does not import ({err!r})", allow_module_level=True)
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    return pyrkm


pyrkm = _import_pyrkm()


@pytest.fixture(scope="module")
def datasets():
    digits = (load_digits().data >= 8).astype(np.float32)
    synthetic = (np.random.default_rng(0).random((1024, 784)) < 0.5).astype(np.float32)
    return {case: synthetic if case.startswith("synthetic") else digits for case in CASES}


@pytest.mark.reference
@pytest.mark.parametrize("case", CASES)
def test_pyrkm_epoch(benchmark, datasets, case):
    hidden, batch_size, algo = CASES[case]
    data = torch.from_numpy(datasets[case])
    batches = list(torch.split(data, batch_size))
    model = pyrkm.RKM(
        model_name="bench",
        n_visible=data.shape[1],
        n_hidden=hidden,
        lr=LEARNING_RATE,
        batch_size=batch_size,
        train_algo=algo,
        average_data=data.mean(0),
    )
    model.t_to_save = []

    def epoch():
        model.max_epochs = model.epoch + 1  # one pass: pyrkm's "epochs" count updates
        model.train(batches, print_every=10**9)

    benchmark.group = f"RKM epoch: {case}"
    benchmark.pedantic(epoch, rounds=ROUNDS[case], warmup_rounds=1)
    assert torch.isfinite(model.W).all()


@pytest.mark.parametrize("case", CASES)
def test_ember_mlx_epoch(benchmark, datasets, case):
    hidden, batch_size, algo = CASES[case]
    data = mx.array(datasets[case])
    rkm = RKM(
        data.shape[1],
        hidden,
        LEARNING_RATE,
        train_algo=algo,
        num_chains=batch_size,
        average_data=mx.mean(data, axis=0),
    )

    def epoch():
        rkm.train(data, epochs=1, batch_size=batch_size, metrics=(), shuffle=False)
        mx.eval(rkm.parameters())

    benchmark.group = f"RKM epoch: {case}"
    benchmark.pedantic(epoch, rounds=ROUNDS[case], warmup_rounds=1)
    assert mx.all(mx.isfinite(rkm.weights)).item()
