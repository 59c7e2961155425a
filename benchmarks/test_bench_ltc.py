r"""ember_mlx's LTC against ncps's torch LTC: forward, forward + backward, and peak memory.

The case is the baseline's: ``LTC(32, AutoNCP(64, 8))`` (6 ODE unfolds, ncps's defaults) on a
float32 batch of 64 sequences of 100 steps with 32 features; loss = sum of all outputs. Both
sides get the same weights and wiring. torch runs on one thread, which keeps the ratios steady
on a busy machine. Targets on the torch backend:

- forward + backward at least 5x faster than ncps (the speed-ups are printed at the end of the
  run, see ``benchmarks/conftest.py``);
- at least 10x less peak memory for one forward + backward pass. Each side runs in a fresh
  process, and the peak is the rise of its resident set above its size just before the pass
  (Linux ``VmHWM``, reset through ``/proc/self/clear_refs``; ``tracemalloc`` does not see
  torch's allocations). Both processes run with ``MALLOC_MMAP_THRESHOLD_=65536`` so that glibc
  hands freed blocks back to the system: with its default, adaptive threshold the resident set
  also counts freed heap blocks, and the figure then follows the allocator's history more than
  the bytes the model holds (it varies from run to run). ``test_print_memory_ratio`` prints it.

Run one backend per process::

    EMBER_BACKEND=torch python -m pytest benchmarks/test_bench_ltc.py
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from ncps.torch import LTC as NcpsLTC
from ncps.wirings import AutoNCP
from sequence_timing import (
    BATCH,
    FEATURES,
    STEPS,
    time_ember_forward,
    time_ember_forward_backward,
    time_torch_forward,
    time_torch_forward_backward,
)

from ember_mlx.backend import get_backend
from ember_mlx.nn import AutoNCPMap
from ember_mlx.nn.rnn.ltc import LTC

UNITS, MOTOR = 64, 8
CASE = f"LTC({FEATURES}, AutoNCP({UNITS}, {MOTOR}))"

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PEAKS = {}  # "ncps" | "ember_mlx" -> bytes


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    ncps_model = NcpsLTC(FEATURES, AutoNCP(UNITS, MOTOR))
    ember_model = LTC(FEATURES, AutoNCPMap(UNITS, MOTOR))
    return ncps_model, ember_model.load_torch_state_dict(ncps_model.state_dict())


@pytest.mark.reference
def test_ncps_forward(benchmark, models, sequence_inputs):
    benchmark.group = f"{CASE} forward"
    y = time_torch_forward(benchmark, models[0], sequence_inputs, 7, 1)
    assert tuple(y.shape) == (BATCH, STEPS, MOTOR)


@pytest.mark.reference
def test_ncps_forward_backward(benchmark, models, sequence_inputs):
    benchmark.group = f"{CASE} forward + backward"
    loss = time_torch_forward_backward(benchmark, models[0], sequence_inputs, 7, 1)
    assert np.isfinite(loss.item())


def test_ember_mlx_forward(benchmark, models, sequence_inputs):
    benchmark.group = f"{CASE} forward"
    y = time_ember_forward(benchmark, models[1], sequence_inputs, 7, 1)
    assert tuple(y.shape) == (BATCH, STEPS, MOTOR)


def test_ember_mlx_forward_backward(benchmark, models, sequence_inputs):
    benchmark.group = f"{CASE} forward + backward"
    loss = time_ember_forward_backward(benchmark, models[1], sequence_inputs, 7, 1)
    assert np.isfinite(loss.item())


# One forward + backward pass in a fresh process; prints the rise of the resident set in bytes.
_PEAK_SCRIPT = textwrap.dedent(
    """
    import json, re, sys
    import numpy as np

    def status(field):
        with open("/proc/self/status") as f:
            return int(re.search(field + r":\\s+(\\d+) kB", f.read()).group(1)) * 1024

    x = np.random.default_rng(0).normal(size=({batch}, {steps}, {features})).astype(np.float32)
    if sys.argv[1] == "ncps":
        import torch
        from ncps.torch import LTC
        from ncps.wirings import AutoNCP

        torch.manual_seed(0)
        model, x = LTC({features}, AutoNCP({units}, {motor})), torch.from_numpy(x)

        def run():
            model(x)[0].sum().backward()
    else:
        from ember_mlx.backend import mx, nn
        from ember_mlx.nn import AutoNCPMap
        from ember_mlx.nn.rnn.ltc import LTC

        model, x = LTC({features}, AutoNCPMap({units}, {motor})), mx.array(x)
        value_and_grad = nn.value_and_grad(model, lambda x: mx.sum(model(x)[0]))

        def run():
            mx.eval(value_and_grad(x))
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM, the peak resident set, to the current size
    before = status("VmRSS")
    run()
    print(json.dumps(status("VmHWM") - before))
    """
).format(batch=BATCH, steps=STEPS, features=FEATURES, units=UNITS, motor=MOTOR)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
@pytest.mark.parametrize("model", ["ncps", "ember_mlx"])
def test_peak_memory(model):
    env = {
        **os.environ,
        "EMBER_BACKEND": get_backend(),
        "OMP_NUM_THREADS": "1",
        "MALLOC_MMAP_THRESHOLD_": "65536",
    }
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_SCRIPT, model],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    PEAKS[model] = json.loads(done.stdout.strip().splitlines()[-1])
    assert PEAKS[model] > 0


def test_print_memory_ratio(capsys):
    """The peak-memory ratio of this run (needs test_peak_memory in the same run)."""
    if set(PEAKS) != {"ncps", "ember_mlx"}:
        pytest.skip("run test_peak_memory for both models to get the ratio")
    ncps, ours = PEAKS["ncps"] / 2**20, PEAKS["ember_mlx"] / 2**20
    with capsys.disabled():
        print(
            f"\n{CASE} peak memory of one forward + backward pass, ember_mlx on backend "
            f"{get_backend()}: ncps {ncps:.1f} MiB, ember_mlx {ours:.1f} MiB, "
            f"{ncps / ours:.1f}x less (target: at least 10x)"
        )
