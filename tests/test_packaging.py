"""The built wheel holds the library, the mirrors as ember_mlx.compat, and the Metal sources."""

import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from ember_mlx.backend import get_backend

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("ember_mlx", "compat", "metal", "setup.py", "pyproject.toml", "README.md")

pytestmark = pytest.mark.skipif(
    get_backend() != "numpy", reason="backend-independent: runs once, in the numpy run"
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Build the wheel from a copy of the sources (the checkout stays free of build output)."""
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(path, src / name)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(src),
        ],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("ember_mlx-*.whl")
    return built


def test_wheel_contents(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "ember_mlx/__init__.py",
        "ember_mlx/backend/__init__.py",
        "ember_mlx/compat/__init__.py",
        "ember_mlx/compat/numpy/__init__.py",
        "ember_mlx/compat/torch/__init__.py",
        "ember_mlx/metal/__init__.py",
    }
    expected |= {
        f"ember_mlx/compat/{p.relative_to(ROOT / 'compat')}"
        for p in (ROOT / "compat").rglob("*.py")
    }
    expected |= {
        f"ember_mlx/metal/{p.name}"
        for p in (ROOT / "metal").iterdir()
        if p.suffix in (".metal", ".h")
    }
    # The emulator compiles these at run time, so they must ship too.
    expected |= {
        f"ember_mlx/kernels/{p.name}"
        for p in (ROOT / "ember_mlx" / "kernels").iterdir()
        if p.suffix in (".h", ".cpp")
    }
    assert expected <= names, sorted(expected - names)
    assert not any(name.startswith(("compat/", "metal/", "tests/")) for name in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "ember-mlx = ember_mlx.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_installed_wheel_imports_mirrors_and_reads_metal_sources(wheel, tmp_path):
    zipfile.ZipFile(wheel).extractall(tmp_path)
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        import importlib.resources
        import ember_mlx
        from ember_mlx.compat.numpy import core, nn
        assert ember_mlx.__file__.startswith({str(tmp_path)!r}), ember_mlx.__file__
        layer = nn.Linear(3, 2)
        print(layer(core.ones((1, 3))).shape)
        metal = importlib.resources.files("ember_mlx.metal")
        sources = sorted(p.name for p in metal.iterdir() if p.name.endswith((".metal", ".h")))
        print(all(len((metal / name).read_text()) > 0 for name in sources), len(sources))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"EMBER_BACKEND": "numpy", "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    shape, metal = result.stdout.splitlines()
    assert shape == "(1, 2)"
    n_sources = len([p for p in (ROOT / "metal").iterdir() if p.suffix in (".metal", ".h")])
    assert metal == f"True {n_sources}"
