"""Checkpoint files: safetensors with a JSON config in the metadata, written atomically.

One format for every backend: the tensors are the model's parameters under their dotted MLX names
(``layers.0.weight``), so a file written by MLX on a Mac loads into torch on a CUDA box. The
``metadata`` maps strings to strings; ember_mlx keeps the model's class and config there.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ember_mlx.backend import mx

SUFFIX = ".safetensors"


class CheckpointError(ValueError):
    """A checkpoint file that is missing, truncated, foreign, or does not fit the model."""


def _check_path(path: str | os.PathLike, argument: str = "path") -> Path:
    path = Path(path)
    if path.suffix != SUFFIX:
        raise CheckpointError(f"{argument}: expected a '{SUFFIX}' file name, got {str(path)!r}")
    return path


def write_atomically(path: Path, write: Callable[[str], None]) -> None:
    """Run ``write(tmp)`` on a temporary file beside ``path``, flush it to disk and rename it
    over ``path``: a reader sees the old file or the new one, never a half-written one, and a
    failed write leaves the old file untouched (and no temporary file behind).

    The file gets the permissions ``open`` would give it (0o666 less the umask), not
    ``tempfile.mkstemp``'s owner-only 0o600.
    """
    tmp = path.parent / f".{path.stem}.{secrets.token_hex(8)}{path.suffix}"
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        write(str(tmp))
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def save_arrays(
    path: str | os.PathLike, arrays: dict[str, Any], metadata: dict[str, str] | None = None
) -> Path:
    """Write ``arrays`` (name -> array) and ``metadata`` to a safetensors file, atomically
    (:func:`write_atomically`)."""
    path = _check_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = dict(metadata or {})
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"metadata: keys and values must be str, got {key!r}: {value!r}")
    write_atomically(path, lambda tmp: mx.save_safetensors(tmp, dict(arrays), metadata=metadata))
    return path


def load_arrays(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, str]]:
    """Read a safetensors file written by :func:`save_arrays` (or by MLX, torch, safetensors).

    Returns:
        ``(arrays, metadata)``.

    Raises:
        CheckpointError: the file is missing, not a safetensors file, or truncated.
    """
    path = _check_path(path)
    if not path.is_file():
        raise CheckpointError(f"path: no checkpoint file at {str(path)!r}")
    try:
        arrays, metadata = mx.load(str(path), return_metadata=True)
    except Exception as err:
        raise CheckpointError(
            f"path: {str(path)!r} is not a readable safetensors checkpoint "
            f"(truncated or foreign file): {err}"
        ) from err
    return dict(arrays), dict(metadata or {})
