"""The ``ember-mlx`` command: ``ember-mlx info`` reports the backend, devices and versions."""

from __future__ import annotations

import argparse
import importlib.metadata
import shutil
import sys
from collections.abc import Sequence


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def info() -> dict[str, str]:
    """What this process runs on: backend, device, versions, and whether the fast paths are on."""
    import ember_mlx
    from ember_mlx.backend import get_available_backends, get_backend, get_device, mx

    backend = get_backend()
    metal = backend == "mlx" and mx.metal.is_available()
    report = {
        "ember_mlx": ember_mlx.__version__,
        "python": sys.version.split()[0],
        "backend": backend,
        "available backends": ", ".join(get_available_backends()),
        "device": get_device(),
        "numpy": _version("numpy"),
        "mlx": _version("mlx"),
        "torch": _version("torch"),
        "metal kernels": "active" if metal else "off (reference path in mx ops)",
    }
    if backend == "mlx" and not metal:
        # mx.compile on Linux builds C++ with g++ and silently does nothing without it.
        report["mx.compile"] = "active (g++)" if shutil.which("g++") else "inactive: no g++ on PATH"
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ember-mlx", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("info", help="backend, devices, versions, kernel status")
    args = parser.parse_args(argv)
    if args.command == "info":
        report = info()
        width = max(map(len, report))
        for key, value in report.items():
            print(f"{key:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
