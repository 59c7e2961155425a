"""Backend selection, switching, devices, and life without mlx or torch."""

import importlib
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import ember_mlx
from ember_mlx import backend
from ember_mlx.backend import BackendError, mx

BLOCK_IMPORTS = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked}:
            raise ImportError(f"No module named {{name!r}} (blocked by the test)")
sys.meta_path.insert(0, Block())
"""


def run_python(
    code: str, env: dict | None = None, blocked: tuple = ()
) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter, optionally with some top-level packages unimportable."""
    prelude = BLOCK_IMPORTS.format(blocked=set(blocked) or "set()") if blocked else ""
    full_env = {k: v for k, v in os.environ.items() if k != "EMBER_BACKEND"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
    )


def test_active_backend_follows_environment():
    name = ember_mlx.get_backend()
    assert name in backend.BACKENDS
    if os.environ.get("EMBER_BACKEND"):
        assert name == os.environ["EMBER_BACKEND"]


def test_mx_names_are_the_backend_modules():
    active = (backend.mx, backend.nn, backend.optim)
    if ember_mlx.get_backend() == "mlx":
        import mlx.core
        import mlx.nn
        import mlx.optimizers

        assert active == (mlx.core, mlx.nn, mlx.optimizers)
    else:
        mirror = importlib.import_module(f"ember_mlx.compat.{ember_mlx.get_backend()}")
        assert active == (mirror.core, mirror.nn, mirror.optimizers)


def test_unknown_backend_name_is_a_clear_error():
    with pytest.raises(BackendError, match="unknown backend 'jax'.*mlx, torch, numpy"):
        backend.set_backend("jax")
    result = run_python("import ember_mlx", env={"EMBER_BACKEND": "jax"})
    assert result.returncode != 0
    assert "unknown backend 'jax'" in result.stderr


def test_blank_environment_choice_selects_automatically_and_names_are_trimmed():
    result = run_python(
        "import ember_mlx; ember_mlx.set_backend(' numpy '); print(ember_mlx.get_backend())",
        env={"EMBER_BACKEND": " "},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["numpy"]


def test_python_dash_m_runs_the_command():
    env = {k: v for k, v in os.environ.items() if k != "EMBER_BACKEND"}
    result = subprocess.run(
        [sys.executable, "-m", "ember_mlx", "info"],
        capture_output=True,
        text=True,
        env={**env, "EMBER_BACKEND": "numpy"},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[2].split() == ["backend", "numpy"]


def test_imports_without_mlx_or_torch_and_picks_numpy():
    result = run_python(
        """
        import ember_mlx, ember_mlx.nn
        from ember_mlx.backend import mx
        array_type = type(mx.zeros(2)).__name__
        print(ember_mlx.get_backend(), ember_mlx.get_available_backends(), array_type)
        """,
        blocked=("mlx", "torch"),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["numpy", "['numpy']", "ndarray"]


def test_requesting_a_missing_backend_names_the_package_to_install():
    result = run_python("import ember_mlx", env={"EMBER_BACKEND": "torch"}, blocked=("torch",))
    assert result.returncode != 0
    assert "backend 'torch' is not usable" in result.stderr
    assert "pip install 'ember-mlx[torch]'" in result.stderr


def test_set_backend_rebuilds_modules_over_the_new_backend():
    result = run_python(
        """
        import ember_mlx
        from ember_mlx.nn import Module
        ember_mlx.set_backend("mlx")
        import ember_mlx.nn
        import mlx.nn
        print(issubclass(ember_mlx.nn.Module, mlx.nn.Module), issubclass(Module, mlx.nn.Module))
        with ember_mlx.using_backend("numpy") as name:
            from ember_mlx.backend import mx
            print(name, type(mx.ones(2)).__name__)
        print(ember_mlx.get_backend())
        """,
        env={"EMBER_BACKEND": "numpy"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "False", "numpy", "ndarray", "mlx"]


def test_auto_select_prefers_torch_off_apple_silicon():
    result = run_python("import ember_mlx; print(ember_mlx.auto_select_backend())")
    assert result.returncode == 0, result.stderr
    if sys.platform == "darwin":
        pytest.skip("the Linux preference order is tested off macOS")
    assert result.stdout.strip() == "('torch', 'cpu')"


def test_devices_and_memory():
    assert ember_mlx.get_device() in ("cpu", "gpu")
    devices = ember_mlx.get_available_devices()
    assert devices[0] == "cpu"
    with pytest.raises(ValueError, match="device must be 'cpu' or 'gpu', got 'tpu'"):
        ember_mlx.set_device("tpu")
    if "gpu" not in devices:
        with pytest.raises(ValueError, match="no GPU is available"):
            ember_mlx.set_device("gpu")
    ember_mlx.set_device("cpu")
    assert ember_mlx.get_device() == "cpu"
    x = mx.ones((256, 256))
    mx.eval(x)
    ember_mlx.synchronize()
    usage = ember_mlx.memory_usage()
    assert set(usage) == {"active", "peak", "cache"}
    assert all(isinstance(v, int) and v >= 0 for v in usage.values())
    assert usage["peak"] >= usage["active"]
    info = ember_mlx.memory_info()
    assert info["backend"] == ember_mlx.get_backend() and info["device"] == "cpu"


def test_to_numpy_copies_to_host():
    x = mx.array([[1.0, 2.0], [3.0, 4.0]])
    y = backend.to_numpy(x)
    assert isinstance(y, np.ndarray)
    np.testing.assert_array_equal(y, [[1.0, 2.0], [3.0, 4.0]])
    assert y.dtype == np.float32


def test_to_numpy_gives_bfloat16_as_exact_float32():
    if ember_mlx.get_backend() == "numpy":
        pytest.skip("numpy has no bfloat16")
    values = [1.5, -2.25, 96.0, 2.0**100]  # all exact in bfloat16
    y = backend.to_numpy(mx.astype(mx.array(values), mx.bfloat16))
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, np.array(values, dtype=np.float32))
