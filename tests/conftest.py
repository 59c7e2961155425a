"""Shared test setup: the suite runs once per backend, chosen by EMBER_BACKEND.

Markers:
    autodiff: needs gradients; skipped on the numpy backend, which has no autodiff.
    mlx_only / torch_only: runs only under that backend.
"""

import numpy as np
import pytest

from ember_mlx.backend import get_backend, mx, to_numpy

BACKEND = get_backend()


def pytest_report_header(config):
    return f"ember_mlx backend: {BACKEND}"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if BACKEND == "numpy" and item.get_closest_marker("autodiff"):
            item.add_marker(pytest.mark.skip(reason="the numpy backend has no autodiff"))
        for name in ("mlx", "torch"):
            if item.get_closest_marker(f"{name}_only") and BACKEND != name:
                item.add_marker(pytest.mark.skip(reason=f"runs under the {name} backend only"))


@pytest.fixture
def backend() -> str:
    """The active backend's name."""
    return BACKEND


@pytest.fixture
def as_numpy():
    """Convert an array of the active backend (or a nested list/tuple of them) to numpy."""

    def convert(x):
        if isinstance(x, (list, tuple)):
            return type(x)(convert(v) for v in x)
        return to_numpy(x)

    return convert


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded numpy generator for test data."""
    return np.random.default_rng(0)


@pytest.fixture
def pyplot():
    """matplotlib's pyplot on the Agg backend (no screen); closes the test's figures."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


@pytest.fixture(autouse=True)
def _seed_backend():
    """Each test starts from the same global random state."""
    mx.random.seed(0)
