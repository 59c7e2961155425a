"""Saving and loading arrays, as ``mlx.core``: ``.npy``, ``.npz`` and ``.safetensors``.

Files are the standard formats, so MLX, numpy and torch's ``safetensors`` read what this mirror
writes and the other way round. Arrays are copied to the host to be written and loaded onto
torch's default device. numpy has no ``bfloat16``, so ``bfloat16`` arrays go through their raw
16-bit patterns for safetensors and cannot be stored in ``.npy``/``.npz``; the 2-byte void
arrays MLX writes there for ``bfloat16`` load as ``bfloat16``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch
from torch import Tensor

from .arrays import to_array
from .dtypes import bfloat16

_File = str | os.PathLike | IO[bytes]

_SAFETENSORS = ".safetensors"


def _host(x: Any, what: str) -> np.ndarray:
    x = to_array(x)
    if x.dtype == bfloat16:
        raise TypeError(
            f"{what}: .npy/.npz cannot hold bfloat16 arrays; use save_safetensors, or astype "
            f"to float32 first"
        )
    return x.detach().cpu().numpy()


def _device(x: np.ndarray) -> Tensor:
    if x.dtype.kind == "V" and x.dtype.itemsize == 2 and x.dtype.fields is None:
        # MLX writes bfloat16 to .npy/.npz as raw 2-byte voids (numpy has no bfloat16)
        return torch.tensor(x.view(np.uint16)).view(bfloat16)
    return torch.tensor(x)


def save(file: _File, arr: Any) -> None:
    """Save one array to a ``.npy`` file (the suffix is added to a path that lacks it)."""
    np.save(file, _host(arr, "save"))


def savez(file: _File, *args: Any, **kwargs: Any) -> None:
    """Save arrays to an uncompressed ``.npz`` archive (positional ones as ``arr_0``, ...)."""
    np.savez(
        file,
        *[_host(x, "savez") for x in args],
        **{k: _host(x, "savez") for k, x in kwargs.items()},
    )


def savez_compressed(file: _File, *args: Any, **kwargs: Any) -> None:
    """Save arrays to a compressed ``.npz`` archive."""
    np.savez_compressed(
        file,
        *[_host(x, "savez_compressed") for x in args],
        **{k: _host(x, "savez_compressed") for k, x in kwargs.items()},
    )


def _safetensors() -> Any:
    # The format is written once, backend-neutral, in ember_mlx.compat._safetensors; imported
    # on use so the rest of the mirror does not depend on it.
    from .. import _safetensors

    return _safetensors


def _safetensors_host(x: Any) -> Any:
    x = to_array(x).detach().cpu()
    if x.dtype == bfloat16:
        return _safetensors().BFloat16(x.view(torch.uint16).numpy())
    return x.numpy()


def _from_safetensors(x: Any) -> Tensor:
    if isinstance(x, _safetensors().BFloat16):
        return torch.tensor(x.bits).view(bfloat16)
    return _device(x)


def save_safetensors(
    file: _File, arrays: dict[str, Any], metadata: dict[str, str] | None = None
) -> None:
    """Save a dict of arrays to a ``.safetensors`` file (the suffix is added to a path that
    lacks it), with optional string metadata."""
    if not isinstance(arrays, dict):
        raise TypeError(f"save_safetensors: arrays must be a dict, got {type(arrays).__name__}")
    if isinstance(file, (str, os.PathLike)) and not str(file).endswith(_SAFETENSORS):
        file = f"{os.fspath(file)}{_SAFETENSORS}"
    host = {name: _safetensors_host(x) for name, x in arrays.items()}
    _safetensors().save(file, host, metadata)


def _format(file: _File, format: str | None) -> str:
    if format is not None:
        return format
    suffix = Path(getattr(file, "name", file)).suffix.lstrip(".")
    if not suffix:
        raise ValueError(f"load: cannot tell the format of {file!r}; pass format=")
    return suffix


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
        return _device(np.load(file))
    if kind == "npz":
        with np.load(file) as archive:
            return {name: _device(archive[name]) for name in archive.files}
    if kind == "safetensors":
        arrays, metadata = _safetensors().load(file)
        arrays = {name: _from_safetensors(x) for name, x in arrays.items()}
        return (arrays, metadata) if return_metadata else arrays
    raise ValueError(f"load: format must be 'npy', 'npz' or 'safetensors', got {kind!r}")
