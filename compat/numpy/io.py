"""Saving and loading arrays, as ``mlx.core``: ``.npy``, ``.npz`` and ``.safetensors``.

Files are the standard formats, so MLX, numpy and torch read what this mirror writes and the
other way round. numpy has no ``bfloat16``: a ``bfloat16`` tensor in a safetensors file, or
the 2-byte void array MLX writes for one in ``.npy``/``.npz``, loads as ``float32``, which
holds every ``bfloat16`` value exactly.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any

import numpy as np

from .. import _safetensors
from .arrays import as_array

_File = str | os.PathLike | IO[bytes]

_SAFETENSORS = ".safetensors"


def save(file: _File, arr: Any) -> None:
    """Save one array to a ``.npy`` file (the suffix is added to a path that lacks it)."""
    np.save(file, as_array(arr))


def savez(file: _File, *args: Any, **kwargs: Any) -> None:
    """Save arrays to an uncompressed ``.npz`` archive (positional ones as ``arr_0``, ...)."""
    np.savez(file, *[as_array(x) for x in args], **{k: as_array(x) for k, x in kwargs.items()})


def savez_compressed(file: _File, *args: Any, **kwargs: Any) -> None:
    """Save arrays to a compressed ``.npz`` archive."""
    np.savez_compressed(
        file, *[as_array(x) for x in args], **{k: as_array(x) for k, x in kwargs.items()}
    )


def save_safetensors(
    file: _File, arrays: dict[str, Any], metadata: dict[str, str] | None = None
) -> None:
    """Save a dict of arrays to a ``.safetensors`` file (the suffix is added to a path that
    lacks it), with optional string metadata."""
    if not isinstance(arrays, dict):
        raise TypeError(f"save_safetensors: arrays must be a dict, got {type(arrays).__name__}")
    if isinstance(file, (str, os.PathLike)) and not str(file).endswith(_SAFETENSORS):
        file = f"{os.fspath(file)}{_SAFETENSORS}"
    _safetensors.save(file, {name: as_array(x) for name, x in arrays.items()}, metadata)


def _format(file: _File, format: str | None) -> str:
    if format is not None:
        return format
    suffix = Path(getattr(file, "name", file)).suffix.lstrip(".")
    if not suffix:
        raise ValueError(f"load: cannot tell the format of {file!r}; pass format=")
    return suffix


def _from_numpy(x: np.ndarray) -> np.ndarray:
    if x.dtype.kind == "V" and x.dtype.itemsize == 2 and x.dtype.fields is None:
        # MLX writes bfloat16 to .npy/.npz as raw 2-byte voids
        return np.asarray(_safetensors.BFloat16(x.view(np.uint16)).to_float32())
    return x


def _from_safetensors(x: np.ndarray | _safetensors.BFloat16) -> np.ndarray:
    return np.asarray(x.to_float32()) if isinstance(x, _safetensors.BFloat16) else x


def load(
    file: _File,
    /,
    format: str | None = None,  # noqa: A002 - the MLX name
    return_metadata: bool = False,
    *,
    stream: Any = None,
) -> Any:
    """Load a ``.npy`` file (an array), or a ``.npz``/``.safetensors`` file (a dict of arrays).

    Args:
        file (str, path or file): The file to read.
        format (str, optional): ``"npy"``, ``"npz"`` or ``"safetensors"``. Default: the suffix.
        return_metadata (bool, optional): Also return the safetensors metadata. Default: False.
    """
    kind = _format(file, format)
    if return_metadata and kind != "safetensors":
        raise ValueError(f"load: metadata exists only for safetensors files, not {kind!r}")
    if kind == "npy":
        return _from_numpy(np.load(file))
    if kind == "npz":
        with np.load(file) as archive:
            return {name: _from_numpy(archive[name]) for name in archive.files}
    if kind == "safetensors":
        arrays, metadata = _safetensors.load(file)
        arrays = {name: _from_safetensors(x) for name, x in arrays.items()}
        return (arrays, metadata) if return_metadata else arrays
    raise ValueError(f"load: format must be 'npy', 'npz' or 'safetensors', got {kind!r}")
