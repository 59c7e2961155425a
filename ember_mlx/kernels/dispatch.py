"""Which path a kernel function takes: the Metal kernel or the reference written in ``mx`` ops.

Every kernel function in :mod:`ember_mlx.kernels` takes ``use_kernel``:

- ``None`` (default): the Metal kernel when ``mx.metal.is_available()`` and the problem fits the
  kernel's limits, the reference path otherwise. ``EMBER_KERNELS=reference`` in the environment
  makes ``None`` take the reference path everywhere (handy to bisect a numerical difference on
  a Mac).
- ``True``: the Metal kernel, or an error saying why it cannot run (whatever
  ``EMBER_KERNELS`` says: the argument is the more specific choice).
- ``False``: the reference path.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from importlib import resources
from typing import Any

import numpy as np

from ember_mlx.backend import mx

ENV_VAR = "EMBER_KERNELS"
_MODES = ("auto", "reference")


def kernels_mode() -> str:
    """The value of ``EMBER_KERNELS``: ``"auto"`` (the default) or ``"reference"``."""
    mode = os.environ.get(ENV_VAR, "auto").strip().lower() or "auto"
    if mode not in _MODES:
        raise ValueError(f"{ENV_VAR}: expected one of {', '.join(_MODES)}, got {mode!r}")
    return mode


def use_metal(use_kernel: bool | None, name: str, unsupported: str | None = None) -> bool:
    """Decide whether kernel ``name`` runs on Metal.

    Args:
        use_kernel (bool, optional): the caller's choice (see the module docstring).
        name (str): the kernel function's name, for error messages.
        unsupported (str, optional): why this problem cannot go to the kernel (sizes past its
            limits), or ``None`` when it can.

    Returns:
        bool: ``True`` for the Metal path, ``False`` for the reference path.
    """
    if use_kernel is not None and not isinstance(use_kernel, bool):
        raise TypeError(f"{name}: use_kernel must be None, True or False, got {use_kernel!r}")
    if use_kernel is False:
        return False
    if use_kernel is None:
        return kernels_mode() == "auto" and mx.metal.is_available() and unsupported is None
    if not mx.metal.is_available():
        raise RuntimeError(
            f"{name}: use_kernel=True needs the Metal backend of MLX (Apple silicon); "
            "use use_kernel=None to fall back to the reference path"
        )
    if unsupported is not None:
        raise ValueError(f"{name}: the Metal kernel cannot run this problem: {unsupported}")
    return True


def read_source(filename: str) -> str:
    """The text of ``metal/<filename>``, shipped as package data of ``ember_mlx.metal``."""
    return resources.files("ember_mlx.metal").joinpath(filename).read_text(encoding="utf-8")


def backend_arrays(outputs: Sequence[Any]) -> list[Any]:
    """Kernel outputs as arrays of the backend (the emulator returns numpy arrays)."""
    return [mx.array(x) if isinstance(x, np.ndarray) else x for x in outputs]
