"""Saving and loading arrays: ``.safetensors`` and ``.npz`` for named arrays, ``.npy`` for one.

Files are written atomically (:func:`ember_mlx.checkpoint.write_atomically`): to a temporary
file in the target directory, then renamed over the target, so a crash never leaves a
half-written file behind. safetensors files are the standard format, readable by MLX, torch's
``safetensors`` and every ember_mlx backend.

float64 arrays round-trip as float64 on every backend. MLX's own safetensors reader and writer
have no float64, so on the mlx backend files holding float64 go through ember_mlx's shared
safetensors codec (the one the mirrors use), which writes the same standard file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ember_mlx.backend import get_backend, mx, to_numpy, utils
from ember_mlx.checkpoint import write_atomically
from ember_mlx.compat import _safetensors

_FORMATS = (".safetensors", ".npz", ".npy")


def _format(filepath: str | os.PathLike, name: str) -> str:
    suffix = Path(filepath).suffix
    if suffix not in _FORMATS:
        raise ValueError(
            f"{name}: the file name must end in {', '.join(_FORMATS)}, got {os.fspath(filepath)!r}"
        )
    return suffix


def save(filepath: str | os.PathLike, obj: Any) -> None:
    """Write arrays to ``filepath``; the suffix picks the format.

    Args:
        filepath: Ends in ``.safetensors`` or ``.npz`` (``obj`` a dict of arrays, possibly
            nested, stored under dotted names such as ``"layer.weight"``), or in ``.npy``
            (``obj`` a single array).
        obj: The array or dict of arrays.

    Raises:
        ValueError: Unknown suffix, or two entries of a nested dict share a dotted name
            (``{"a.b": x, "a": {"b": y}}``).
        TypeError: ``obj`` does not fit the format, or holds something that is not an array.
    """
    suffix = _format(filepath, "save")
    if suffix == ".npy":
        if not isinstance(obj, mx.array):
            raise TypeError(f"save: a .npy file holds one array, got {type(obj).__name__}")
        arrays = obj
    else:
        if not isinstance(obj, dict):
            raise TypeError(
                f"save: a {suffix} file holds a dict of arrays, got {type(obj).__name__}; "
                "save one array to a .npy file or wrap it as {'name': array}"
            )
        flat = utils.tree_flatten(obj)
        arrays = dict(flat)
        if len(arrays) != len(flat):
            names = [key for key, _ in flat]
            repeated = sorted({key for key in names if names.count(key) > 1})
            raise ValueError(
                f"save: obj has several entries named {repeated} once nested keys are joined "
                "with '.'; rename them so every dotted name is unique"
            )
        for key, value in arrays.items():
            if not isinstance(value, mx.array):
                raise TypeError(f"save: entry {key!r} is a {type(value).__name__}, not an array")

    def write(temporary: str) -> None:
        if suffix == ".npy":
            mx.save(temporary, arrays)
        elif suffix == ".npz":
            mx.savez(temporary, **arrays)
        elif _needs_codec(arrays):
            _safetensors.save(temporary, {key: _to_codec(x) for key, x in arrays.items()})
        else:
            mx.save_safetensors(temporary, arrays)

    write_atomically(Path(filepath), write)


def load(filepath: str | os.PathLike) -> Any:
    """Read a file written by :func:`save` (or by MLX, numpy or safetensors).

    Returns:
        The array of a ``.npy`` file, or the flat dict ``{dotted name: array}`` of a
        ``.safetensors`` or ``.npz`` file (``utils.tree_unflatten`` rebuilds nesting).

    Raises:
        ValueError: Unknown suffix.
        FileNotFoundError: No file at ``filepath``.
    """
    suffix = _format(filepath, "load")
    if not Path(filepath).is_file():
        raise FileNotFoundError(f"load: no file at {os.fspath(filepath)!r}")
    try:
        return mx.load(os.fspath(filepath))
    except RuntimeError:
        if suffix != ".safetensors" or get_backend() != "mlx":
            raise
    # MLX refuses float64 tensors; the shared codec reads them (and raises for broken files).
    tensors, _ = _safetensors.load(filepath)
    return {key: _from_codec(x) for key, x in tensors.items()}


def _needs_codec(arrays: dict[str, mx.array]) -> bool:
    """Whether MLX's safetensors writer cannot store ``arrays`` (it has no float64)."""
    return get_backend() == "mlx" and any(x.dtype == mx.float64 for x in arrays.values())


def _to_codec(x: mx.array) -> np.ndarray | _safetensors.BFloat16:
    if x.dtype == mx.bfloat16:
        return _safetensors.BFloat16(to_numpy(x.view(mx.uint16)))
    return to_numpy(x)


def _from_codec(x: np.ndarray | _safetensors.BFloat16) -> mx.array:
    if isinstance(x, _safetensors.BFloat16):
        return mx.array(x.bits).view(mx.bfloat16)
    # mx.array turns float64 data into float32 unless told otherwise.
    return mx.array(x, dtype=mx.float64) if x.dtype == np.float64 else mx.array(x)
