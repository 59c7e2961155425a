"""ember_mlx: liquid, energy-based and reservoir networks, written as MLX code.

The array library is chosen once per process (``EMBER_BACKEND=mlx|torch|numpy``, or the best one
this machine has) and every module reads it from :mod:`ember_mlx.backend`. Subpackages load on
first use: ``ember_mlx.nn``, ``ember_mlx.ops``, ``ember_mlx.tensor``, ...
"""

import importlib
from typing import Any

from ember_mlx.backend import (
    auto_select_backend,
    get_available_backends,
    get_available_devices,
    get_backend,
    get_device,
    memory_info,
    memory_usage,
    set_backend,
    set_device,
    synchronize,
    using_backend,
)

__version__ = "0.1.0"

_SUBPACKAGES = (
    "backend",
    "checkpoint",
    "compat",
    "data",
    "kernels",
    "models",
    "nn",
    "ops",
    "tensor",
    "training",
    "visualization",
)


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"ember_mlx.{name}")
    raise AttributeError(f"module 'ember_mlx' has no attribute {name!r}")


__all__ = [
    "__version__",
    "auto_select_backend",
    "get_available_backends",
    "get_available_devices",
    "get_backend",
    "get_device",
    "memory_info",
    "memory_usage",
    "set_backend",
    "set_device",
    "synchronize",
    "using_backend",
    *_SUBPACKAGES,
]
