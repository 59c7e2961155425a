"""Speed-up report for benchmarks compared with a reference implementation.

Give the benchmarks to compare the same group (``@pytest.mark.benchmark(group=...)``, or
``benchmark.group = ...`` inside the test) and mark the reference::

    @pytest.mark.reference
    @pytest.mark.benchmark(group="CfC forward")
    def test_ncps_forward(benchmark): ...

    @pytest.mark.benchmark(group="CfC forward")
    def test_ember_mlx_forward(benchmark): ...

At the end of the run every group with one reference gets a line per other benchmark: its time,
the reference's, and the speed-up, reference time / time (above 1: faster). Times are the fastest
rounds, the measure least disturbed by other work on the machine.
"""

from collections import defaultdict

import numpy as np
import pytest
from sequence_timing import BATCH, FEATURES, STEPS

# group -> [(test name, fastest round in seconds, is the reference)]
_TIMES: dict[str, list[tuple[str, float, bool]]] = defaultdict(list)


@pytest.fixture(scope="module")
def sequence_inputs():
    """The recurrent benchmarks' input, ``(BATCH, STEPS, FEATURES)`` standard normals."""
    return np.random.default_rng(0).normal(size=(BATCH, STEPS, FEATURES)).astype(np.float32)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Both sides of a recurrent benchmark run torch single-threaded, which keeps the ratio
    steady on a busy machine (at these sizes a second thread saves little)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "reference: the benchmark its group's other benchmarks are compared with"
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    yield
    fixture = getattr(item, "funcargs", {}).get("benchmark")
    stats = getattr(fixture, "stats", None)  # None when benchmarks are disabled
    # No rounds when the benchmarked call raised: let pytest report that error.
    if stats is None or fixture.group is None or not stats.stats.data:
        return
    is_reference = item.get_closest_marker("reference") is not None
    _TIMES[fixture.group].append((item.name, stats.stats.min, is_reference))


def pytest_terminal_summary(terminalreporter):
    rows = []
    for group, entries in _TIMES.items():
        references = [entry for entry in entries if entry[2]]
        if len(references) != 1:
            continue
        reference, reference_time, _ = references[0]
        for name, time, is_reference in entries:
            if not is_reference:
                rows.append(
                    (
                        group,
                        name,
                        f"{time * 1e3:.2f} ms",
                        f"{reference_time * 1e3:.2f} ms",
                        f"{reference_time / time:.2f}x",
                        reference,
                    )
                )
    if not rows:
        return
    header = ("group", "benchmark", "time", "reference", "speed-up", "reference benchmark")
    widths = [max(len(row[k]) for row in [header, *rows]) for k in range(len(header))]
    terminalreporter.write_sep("-", "speed-up against the reference (fastest rounds)")
    for row in [header, *rows]:
        cells = [
            cell.ljust(width) if k in (0, 1, 5) else cell.rjust(width)
            for k, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        terminalreporter.write_line("  ".join(cells).rstrip())
