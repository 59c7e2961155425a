"""Moving arrays between the backend, the host and devices."""

from __future__ import annotations

from typing import Any

import numpy as np

from ember_mlx import backend
from ember_mlx.backend import mx


def to_numpy(x: Any) -> np.ndarray:
    """A host ``numpy.ndarray`` copy of ``x`` (an array of any backend, on any device)."""
    return backend.to_numpy(x)


def item(x: mx.array) -> int | float | bool:
    """The Python scalar held by a one-element array (forces evaluation on mlx)."""
    return x.item()


def shape(x: mx.array) -> tuple[int, ...]:
    """The shape of ``x`` as a tuple of ints."""
    return tuple(x.shape)


def get_device(x: Any = None) -> str:
    """The device holding ``x`` (``"cpu"`` or ``"gpu"``); without ``x``, the default device.

    MLX arrays live in memory shared by CPU and GPU and are not tied to a device: their
    operations run on the default device, which is what this returns for them.
    """
    place = getattr(x, "device", None)
    kind = getattr(place, "type", place)
    if kind is None:
        return backend.get_device()
    return "cpu" if str(kind) == "cpu" else "gpu"


def to_device(x: mx.array, device: str) -> mx.array:
    """``x`` on ``device`` (``"cpu"`` or ``"gpu"``).

    Arrays already there come back unchanged, and so do MLX arrays, which are not tied to a
    device. Others (torch tensors) are copied through the host onto the device the backend
    uses for that name (CUDA or MPS for ``"gpu"``).

    Raises:
        ValueError: ``device`` is not ``"cpu"``/``"gpu"``, or this machine has no such device.
    """
    available = backend.get_available_devices()
    if device not in available:
        raise ValueError(
            f"to_device: device must be one of {available} on the {backend.get_backend()} "
            f"backend, got {device!r}"
        )
    if getattr(x, "device", None) is None or get_device(x) == device:
        return x
    previous = mx.default_device()
    mx.set_default_device(mx.gpu if device == "gpu" else mx.cpu)
    try:
        return mx.array(to_numpy(x))
    finally:
        mx.set_default_device(previous)
