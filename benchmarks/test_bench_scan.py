"""The masked recurrence: wired CfC and LTC sequence layers on the kernel path against the
reference path (``EMBER_KERNELS=reference``), forward only.

Each case is a layer on an ``AutoNCPMap(units, units // 8)`` with 16 input features. Off Metal
only the reference path runs (the kernel needs Apple silicon); on a Mac both run, in one
group per case, so the report at the end of the run prints the kernel's speed-up::

    EMBER_BACKEND=mlx python -m pytest benchmarks/test_bench_scan.py

The default run takes a few sizes; ``EMBER_BENCH_FULL=1`` runs the whole grid (batch 1, 16,
256; units 32, 128, 512; 100 and 1000 steps), which takes long on a CPU.
"""

import itertools
import os

import numpy as np
import pytest

from ember_mlx.backend import mx
from ember_mlx.nn import LTC, AutoNCPMap, CfC

FEATURES = 16

if os.environ.get("EMBER_BENCH_FULL"):
    SIZES = list(itertools.product([1, 16, 256], [32, 128, 512], [100, 1000]))
else:
    SIZES = [(1, 32, 100), (16, 128, 100), (256, 32, 100)]

LAYERS = {
    "wired CfC": lambda units: CfC(FEATURES, AutoNCPMap(units, units // 8)),
    "LTC": lambda units: LTC(FEATURES, AutoNCPMap(units, units // 8)),
}

PATHS = [
    pytest.param("reference", marks=pytest.mark.reference),
    pytest.param(
        "kernel",
        marks=pytest.mark.skipif(not mx.metal.is_available(), reason="the kernel needs Metal"),
    ),
]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(("batch", "units", "steps"), SIZES)
@pytest.mark.parametrize("layer", list(LAYERS))
def test_scan(benchmark, monkeypatch, layer, batch, units, steps, path):
    benchmark.group = f"{layer} batch={batch} units={units} steps={steps}"
    monkeypatch.setenv("EMBER_KERNELS", "reference" if path == "reference" else "auto")
    model = LAYERS[layer](units)
    x = mx.array(np.random.default_rng(0).normal(size=(batch, steps, FEATURES)).astype(np.float32))
    mx.eval(model.parameters())

    def forward():
        y, state = model(x)
        mx.eval(y, state)
        return y

    y = benchmark.pedantic(forward, rounds=3, warmup_rounds=1)
    assert y.shape == (batch, steps, units // 8)
