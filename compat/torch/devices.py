"""Devices and memory, as in ``mlx.core``, mapped onto torch's default device.

``gpu`` is CUDA when torch sees a CUDA device, else Apple's MPS. :func:`set_default_device`
calls ``torch.set_default_device``, so every array the mirror creates afterwards lands there.

Memory figures describe the default device. On CUDA they come from torch's caching allocator
(``torch.cuda.memory_allocated`` and friends). Elsewhere torch keeps no allocator statistics, so
they describe the process: active memory is the resident set size now, peak memory is the
process's peak resident set size (which cannot be reset, so :func:`reset_peak_memory` does
nothing there) and the cache is 0.
"""

from __future__ import annotations

import contextlib
import platform
from collections.abc import Iterator
from typing import Any

import torch

from .._devices import Device, DeviceType, cpu, gpu, peak_rss, physical_memory, rss


def _gpu_backend() -> str | None:
    """torch's name for the GPU (``"cuda"`` or ``"mps"``), or ``None`` without one."""
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    return "mps" if mps is not None and mps.is_available() else None


def _kind(device: Device | DeviceType, what: str) -> DeviceType:
    if isinstance(device, Device):
        return device.type
    if isinstance(device, DeviceType):
        return device
    raise TypeError(f"{what}: expected a Device or DeviceType (cpu or gpu), got {device!r}")


def default_device() -> Device:
    """The device new arrays are created on (torch's default device)."""
    device = torch.get_default_device()
    return Device(cpu if device.type == "cpu" else gpu, device.index or 0)


def set_default_device(device: Device | DeviceType) -> None:
    """Create all new arrays on ``device`` (through ``torch.set_default_device``).

    Raises:
        ValueError: ``device`` is the GPU and torch sees no CUDA or MPS device.
    """
    if _kind(device, "set_default_device") is cpu:
        torch.set_default_device(None)  # torch's own default, without a device context
        return
    backend = _gpu_backend()
    if backend is None:
        raise ValueError("set_default_device: torch sees no GPU (neither CUDA nor MPS)")
    index = device.index if isinstance(device, Device) else 0
    torch.set_default_device(f"cuda:{index}" if backend == "cuda" else backend)


def is_available(device: Device | DeviceType) -> bool:
    """Whether torch can run on ``device`` (the GPU needs CUDA or MPS)."""
    return _kind(device, "is_available") is cpu or _gpu_backend() is not None


def device_count(device_type: DeviceType) -> int:
    """The number of devices of ``device_type``."""
    if _kind(device_type, "device_count") is cpu:
        return 1
    backend = _gpu_backend()
    if backend == "cuda":
        return torch.cuda.device_count()
    return int(backend is not None)


@contextlib.contextmanager
def stream(s: Any) -> Iterator[None]:
    """``with mx.stream(s):`` — accepted for MLX code; torch has one eager stream, so it does
    nothing (pass devices with :func:`set_default_device`)."""
    yield


def _on_cuda() -> bool:
    return torch.get_default_device().type == "cuda"


def synchronize(stream: Any = None) -> None:
    """Wait for all queued work on the GPU; nothing to wait for on the CPU."""
    backend = _gpu_backend()
    if backend == "cuda" and torch.cuda.is_initialized():
        torch.cuda.synchronize()
    elif backend == "mps":
        torch.mps.synchronize()


def get_active_memory() -> int:
    """Bytes in use: torch's CUDA allocations, else the process's resident set size."""
    return torch.cuda.memory_allocated() if _on_cuda() else rss()


def get_peak_memory() -> int:
    """Peak bytes in use: torch's CUDA peak, else the process's peak resident set size."""
    if _on_cuda():
        return torch.cuda.max_memory_allocated()
    return max(peak_rss(), rss())  # the kernel updates the recorded peak lazily


def reset_peak_memory() -> None:
    """Reset the CUDA peak; the process peak used elsewhere cannot be reset."""
    if _on_cuda():
        torch.cuda.reset_peak_memory_stats()


def get_cache_memory() -> int:
    """Bytes torch's CUDA allocator holds but does not use; 0 elsewhere."""
    if _on_cuda():
        return torch.cuda.memory_reserved() - torch.cuda.memory_allocated()
    return 0


def clear_cache() -> None:
    """Return cached GPU memory to the driver."""
    backend = _gpu_backend()
    if backend == "cuda" and torch.cuda.is_initialized():
        torch.cuda.empty_cache()
    elif backend == "mps":
        torch.mps.empty_cache()


def _total_memory() -> int:
    if _on_cuda():
        return torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory
    return physical_memory()


_memory_limit: list[int | None] = [None]


def get_memory_limit() -> int:
    """The memory limit in bytes (default: the device's total memory)."""
    return _memory_limit[0] if _memory_limit[0] is not None else _total_memory()


def set_memory_limit(limit: int) -> int:
    """Set the memory limit in bytes and return the previous one.

    On CUDA it caps torch's allocator (``torch.cuda.set_per_process_memory_fraction``);
    elsewhere it is recorded only.
    """
    if limit < 0:
        raise ValueError(f"set_memory_limit: limit must be >= 0 bytes, got {limit}")
    previous = get_memory_limit()
    _memory_limit[0] = limit
    if _on_cuda():
        torch.cuda.set_per_process_memory_fraction(min(1.0, limit / _total_memory()))
    return previous


def device_info(d: Device | DeviceType | None = None) -> dict[str, str | int]:
    """A description of the device: ``architecture``, ``device_name`` and ``memory_size``."""
    kind = default_device().type if d is None else _kind(d, "device_info")
    if kind is gpu and _gpu_backend() == "cuda":
        props = torch.cuda.get_device_properties(torch.cuda.current_device())
        return {
            "architecture": f"sm_{props.major}{props.minor}",
            "device_name": props.name,
            "memory_size": props.total_memory,
        }
    if kind is gpu and _gpu_backend() is None:
        raise ValueError("device_info: torch sees no GPU (neither CUDA nor MPS)")
    name = "mps" if kind is gpu else platform.processor() or platform.machine()
    return {"architecture": platform.machine(), "device_name": name, "memory_size": _total_memory()}


class _Cuda:
    """``mx.cuda``: whether torch sees a CUDA device."""

    @staticmethod
    def is_available() -> bool:
        """``torch.cuda.is_available()``."""
        return torch.cuda.is_available()


cuda = _Cuda()
