"""Devices and memory, as in ``mlx.core``: numpy runs on the CPU only.

The CPU is the only device: asking for the GPU raises, ``is_available(gpu)`` is ``False``.
numpy keeps no allocator statistics, so memory figures describe the process: active memory is
the resident set size now, peak memory the process's peak resident set size (which cannot be
reset, so :func:`reset_peak_memory` does nothing) and the cache is 0.
"""

from __future__ import annotations

import contextlib
import platform
from collections.abc import Iterator
from typing import Any

from .._devices import Device, DeviceType, cpu, gpu, peak_rss, physical_memory, rss


def _kind(device: Device | DeviceType, what: str) -> DeviceType:
    if isinstance(device, Device):
        return device.type
    if isinstance(device, DeviceType):
        return device
    raise TypeError(f"{what}: expected a Device or DeviceType (cpu or gpu), got {device!r}")


def _no_gpu(what: str) -> ValueError:
    return ValueError(
        f"{what}: the numpy backend runs on the CPU only; use the torch or mlx backend for a GPU"
    )


def default_device() -> Device:
    """The device arrays live on: always the CPU."""
    return Device(cpu)


def set_default_device(device: Device | DeviceType) -> None:
    """Accept the CPU; raise ``ValueError`` for the GPU, which numpy cannot use."""
    if _kind(device, "set_default_device") is gpu:
        raise _no_gpu("set_default_device")


def is_available(device: Device | DeviceType) -> bool:
    """Whether numpy can run on ``device``: the CPU only."""
    return _kind(device, "is_available") is cpu


def device_count(device_type: DeviceType) -> int:
    """The number of devices of ``device_type``: one CPU, no GPU."""
    return int(_kind(device_type, "device_count") is cpu)


@contextlib.contextmanager
def stream(s: Any) -> Iterator[None]:
    """``with mx.stream(s):`` — accepted for MLX code; numpy has one eager stream, so it does
    nothing."""
    yield


def synchronize(stream: Any = None) -> None:
    """Wait for queued work: numpy queues none."""


def get_active_memory() -> int:
    """Bytes in use: the process's resident set size."""
    return rss()


def get_peak_memory() -> int:
    """Peak bytes in use: the process's peak resident set size."""
    return max(peak_rss(), rss())  # the kernel updates the recorded peak lazily


def reset_peak_memory() -> None:
    """Does nothing: the process peak cannot be reset."""


def get_cache_memory() -> int:
    """Bytes cached but unused: 0, numpy keeps no cache."""
    return 0


def clear_cache() -> None:
    """Does nothing: numpy keeps no cache."""


_memory_limit: list[int | None] = [None]


def get_memory_limit() -> int:
    """The memory limit in bytes (default: the machine's physical memory)."""
    return _memory_limit[0] if _memory_limit[0] is not None else physical_memory()


def set_memory_limit(limit: int) -> int:
    """Record the memory limit in bytes (numpy does not enforce it); return the previous one."""
    if limit < 0:
        raise ValueError(f"set_memory_limit: limit must be >= 0 bytes, got {limit}")
    previous = get_memory_limit()
    _memory_limit[0] = limit
    return previous


def device_info(d: Device | DeviceType | None = None) -> dict[str, str | int]:
    """A description of the CPU: ``architecture``, ``device_name`` and ``memory_size``."""
    if d is not None and _kind(d, "device_info") is gpu:
        raise _no_gpu("device_info")
    return {
        "architecture": platform.machine(),
        "device_name": platform.processor() or platform.machine(),
        "memory_size": physical_memory(),
    }


class _Cuda:
    """``mx.cuda``: numpy never uses CUDA."""

    @staticmethod
    def is_available() -> bool:
        """Always ``False``."""
        return False


cuda = _Cuda()
