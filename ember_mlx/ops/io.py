"""Saving and loading arrays: ``.safetensors`` and ``.npz`` for named arrays, ``.npy`` for one.

Files are written atomically: to a temporary file in the target directory, then renamed over
the target, so a crash never leaves a half-written file behind. safetensors files are the
standard format, readable by MLX, torch's ``safetensors`` and every ember_mlx backend.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from ember_mlx.backend import mx, utils

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
        ValueError: Unknown suffix.
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
        arrays = dict(utils.tree_flatten(obj))
        for key, value in arrays.items():
            if not isinstance(value, mx.array):
                raise TypeError(f"save: entry {key!r} is a {type(value).__name__}, not an array")
    path = Path(filepath)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(handle)
    try:
        if suffix == ".npy":
            mx.save(temporary, arrays)
        elif suffix == ".npz":
            mx.savez(temporary, **arrays)
        else:
            mx.save_safetensors(temporary, arrays)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def load(filepath: str | os.PathLike) -> Any:
    """Read a file written by :func:`save` (or by MLX, numpy or safetensors).

    Returns:
        The array of a ``.npy`` file, or the flat dict ``{dotted name: array}`` of a
        ``.safetensors`` or ``.npz`` file (``utils.tree_unflatten`` rebuilds nesting).

    Raises:
        ValueError: Unknown suffix.
        FileNotFoundError: No file at ``filepath``.
    """
    _format(filepath, "load")
    if not Path(filepath).is_file():
        raise FileNotFoundError(f"load: no file at {os.fspath(filepath)!r}")
    return mx.load(os.fspath(filepath))
