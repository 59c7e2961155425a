"""The one place ember_mlx takes its array library from.

Every module writes ``from ember_mlx.backend import mx, nn, optim`` and reads as MLX code. On the
``mlx`` backend these names are ``mlx.core``, ``mlx.nn`` and ``mlx.optimizers`` themselves; on
``torch`` and ``numpy`` they are the mirrors in :mod:`ember_mlx.compat`, which implement the same
API with the same semantics.

The backend is chosen once per process, like Keras 3: ``EMBER_BACKEND`` (``mlx``, ``torch`` or
``numpy``) when set, otherwise :func:`auto_select_backend`. :func:`set_backend` can switch later,
but models and arrays made before the switch keep the old backend's arrays (see its docstring).
"""

from __future__ import annotations

import importlib
import os
import platform
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

BACKENDS = ("mlx", "torch", "numpy")
ENV_VAR = "EMBER_BACKEND"

_INSTALL_HINT = {
    "mlx": "pip install 'ember-mlx[mlx]'  (mlx on macOS arm64, mlx[cpu] on Linux)",
    "torch": "pip install 'ember-mlx[torch]'",
    "numpy": "pip install numpy",
}


class BackendError(ImportError):
    """An unknown backend name, or a backend whose package is not installed."""


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or name.strip().lower() not in BACKENDS:
        raise BackendError(
            f"backend: unknown backend {name!r}; expected one of {', '.join(BACKENDS)}"
        )
    return name.strip().lower()


def _load(name: str) -> tuple[ModuleType, ModuleType, ModuleType, ModuleType]:
    """Import a backend and return its (mx, nn, optim, utils) modules."""
    try:
        if name == "mlx":
            mx = importlib.import_module("mlx.core")
            return (
                mx,
                importlib.import_module("mlx.nn"),
                importlib.import_module("mlx.optimizers"),
                importlib.import_module("mlx.utils"),
            )
        mirror = importlib.import_module(f"ember_mlx.compat.{name}")
    except ImportError as err:
        raise BackendError(
            f"backend {name!r} is not usable: {err}. Install it with: {_INSTALL_HINT[name]}"
        ) from err
    return mirror.core, mirror.nn, mirror.optimizers, mirror.utils


def _importable(name: str) -> bool:
    try:
        _load(name)
    except BackendError:
        return False
    return True


def _on_apple_silicon() -> bool:
    return sys.platform == "darwin" and platform.machine() == "arm64"


def get_available_backends() -> list[str]:
    """The backends whose packages import in this environment (mlx, torch, numpy order; the
    preference is :func:`auto_select_backend`'s)."""
    return [name for name in BACKENDS if _importable(name)]


def auto_select_backend() -> tuple[str, str]:
    """Pick the best backend and device for this machine.

    mlx on Apple Silicon; elsewhere torch where it imports (the Linux ``mlx[cpu]`` wheel has a
    reference BLAS and no SIMD, several times slower than torch on CPU), then mlx, then numpy.

    Returns:
        ``(backend, device)``, e.g. ``("mlx", "gpu")`` or ``("torch", "cpu")``.
    """
    order = ("mlx", "torch", "numpy") if _on_apple_silicon() else ("torch", "mlx", "numpy")
    reasons = []
    for name in order:
        try:
            core = _load(name)[0]
        except BackendError as err:
            reasons.append(str(err))
            continue
        return name, _device_name(core.default_device())
    raise BackendError("backend: no backend imports:\n  " + "\n  ".join(reasons))


def _device_name(device: Any) -> str:
    kind = getattr(device, "type", device)
    return getattr(kind, "name", str(kind))


def _initial_backend() -> str:
    requested = os.environ.get(ENV_VAR, "").strip()
    if requested:  # unset, empty or blank: choose automatically
        name = _check_name(requested)
        _load(name)
        return name
    return auto_select_backend()[0]


_name = _initial_backend()
mx, nn, optim, utils = _load(_name)


def get_backend() -> str:
    """The active backend's name: ``"mlx"``, ``"torch"`` or ``"numpy"``."""
    return _name


def set_backend(name: str) -> None:
    """Switch the process to another backend.

    ``ember_mlx.backend.mx``/``nn``/``optim``/``utils`` are rebound and every other ember_mlx
    module is dropped from the import cache, so the next ``import ember_mlx.<x>`` (or attribute
    access ``ember_mlx.<x>``) builds it over the new backend. Objects made before the switch —
    models, arrays, functions imported with ``from ember_mlx.<x> import f`` — keep the old
    backend's arrays: re-create them after switching. An ember_mlx Module class imported before
    the switch builds the new backend's model when it is called after it. Nothing is written
    to disk.

    Raises:
        BackendError: ``name`` is not a backend, or its package is not installed.
    """
    global _name, mx, nn, optim, utils
    name = _check_name(name)
    if name == _name:
        return
    mx, nn, optim, utils = _load(name)
    _name = name
    root = sys.modules.get("ember_mlx")
    for module_name in [m for m in sys.modules if m.startswith("ember_mlx.")]:
        if module_name.startswith(("ember_mlx.backend", "ember_mlx.compat")):
            continue
        del sys.modules[module_name]
        if root is not None and module_name.count(".") == 1:
            root.__dict__.pop(module_name.split(".")[1], None)


@contextmanager
def using_backend(name: str) -> Iterator[str]:
    """Run a block under another backend, then switch back (through :func:`set_backend`)."""
    previous = _name
    set_backend(name)
    try:
        yield _name
    finally:
        set_backend(previous)


def get_device() -> str:
    """The default device of the active backend: ``"cpu"`` or ``"gpu"``."""
    return _device_name(mx.default_device())


def set_device(device: str) -> None:
    """Make ``"cpu"`` or ``"gpu"`` the default device of the active backend.

    Raises:
        ValueError: ``device`` is not ``"cpu"``/``"gpu"``, or this machine has no such device.
    """
    if device not in ("cpu", "gpu"):
        raise ValueError(f"set_device: device must be 'cpu' or 'gpu', got {device!r}")
    target = mx.gpu if device == "gpu" else mx.cpu
    if device == "gpu" and not mx.is_available(mx.gpu):
        raise ValueError(
            f"set_device: no GPU is available to the {_name} backend on this machine; "
            f"available: {get_available_devices()}"
        )
    mx.set_default_device(target)


def get_available_devices() -> list[str]:
    """The devices the active backend can run on, ``"cpu"`` first."""
    return ["cpu"] + (["gpu"] if mx.is_available(mx.gpu) else [])


def memory_usage() -> dict[str, int]:
    """Bytes held by the active backend: ``active``, ``peak`` and ``cache``."""
    return {
        "active": int(mx.get_active_memory()),
        "peak": int(mx.get_peak_memory()),
        "cache": int(mx.get_cache_memory()),
    }


def memory_info() -> dict[str, Any]:
    """The active backend's device description with its memory use (see :func:`memory_usage`)."""
    return {"backend": _name, "device": get_device(), **dict(mx.device_info()), **memory_usage()}


def to_numpy(x: Any) -> Any:
    """A host ``numpy.ndarray`` copy of an array of any backend (torch tensors may be on CUDA):
    writing to it never changes ``x``.

    numpy has no bfloat16: a bfloat16 array comes back as float32, which holds each of its
    values exactly.
    """
    import numpy as np

    # Copies: np.asarray would share the memory of a CPU tensor or of an array.
    if hasattr(x, "detach"):
        x = x.detach().cpu()
        if str(x.dtype) == "torch.bfloat16":
            x = x.float()
        return x.numpy().copy()
    if str(getattr(x, "dtype", "")) == "mlx.core.bfloat16":
        import mlx.core

        x = x.astype(mlx.core.float32)
    return np.array(x, copy=True)


def synchronize() -> None:
    """Wait until all queued work on the active backend's device has finished."""
    mx.synchronize()


__all__ = [
    "BACKENDS",
    "BackendError",
    "auto_select_backend",
    "get_available_backends",
    "get_available_devices",
    "get_backend",
    "get_device",
    "memory_info",
    "memory_usage",
    "mx",
    "nn",
    "optim",
    "set_backend",
    "set_device",
    "synchronize",
    "to_numpy",
    "using_backend",
    "utils",
]
