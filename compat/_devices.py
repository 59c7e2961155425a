"""What both mirrors' ``devices`` modules share: MLX's device types, and the host's memory.

``Device`` and ``DeviceType`` mirror ``mlx.core``'s; the memory readings describe this process
and machine, for backends that keep no allocator statistics of their own.
"""

from __future__ import annotations

import enum
import os
import resource
import sys


class DeviceType(enum.Enum):
    """The kind of a device: ``cpu`` or ``gpu``."""

    cpu = 0
    gpu = 1

    def __repr__(self) -> str:
        return f"DeviceType.{self.name}"


cpu = DeviceType.cpu
gpu = DeviceType.gpu


class Device:
    """A device: a :class:`DeviceType` and an index, as ``mlx.core.Device``."""

    def __init__(self, type: DeviceType, index: int = 0):  # noqa: A002 - the MLX name
        if not isinstance(type, DeviceType):
            raise TypeError(f"Device: type must be a DeviceType (cpu or gpu), got {type!r}")
        self.type = type
        self.index = index

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DeviceType):
            return self.type is other
        return isinstance(other, Device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __repr__(self) -> str:
        return f"Device({self.type.name}, {self.index})"


def _page_bytes(pages: int) -> int:
    return pages * os.sysconf("SC_PAGE_SIZE")


def peak_rss() -> int:
    """The process's peak resident set size in bytes."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB elsewhere


def rss() -> int:
    """The process's resident set size in bytes now (its peak where /proc is missing)."""
    try:
        with open("/proc/self/statm") as statm:
            return _page_bytes(int(statm.read().split()[1]))
    except OSError:
        return peak_rss()


def physical_memory() -> int:
    """The machine's physical memory in bytes (0 if the system does not say)."""
    try:
        return _page_bytes(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError):
        return 0
