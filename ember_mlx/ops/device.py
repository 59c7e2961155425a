"""Devices and memory of the active backend, by name: ``"cpu"`` or ``"gpu"``."""

from __future__ import annotations

from ember_mlx.backend import (
    get_available_devices,
    memory_info,
    memory_usage,
    synchronize,
)
from ember_mlx.backend import get_device as get_default_device
from ember_mlx.backend import set_device as set_default_device
from ember_mlx.tensor.conversion import get_device, to_device

__all__ = [
    "get_available_devices",
    "get_default_device",
    "get_device",
    "is_available",
    "memory_info",
    "memory_usage",
    "set_default_device",
    "synchronize",
    "to_device",
]


def is_available(device: str) -> bool:
    """Whether the active backend can run on ``device`` (``"cpu"`` or ``"gpu"``)."""
    return device in get_available_devices()
