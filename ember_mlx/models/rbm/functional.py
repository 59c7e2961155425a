"""The seeds' functional names for RBM work, each a thin call into :class:`RBM`."""

from __future__ import annotations

import os
from typing import Any

from .rbm import RBM


def transform_in_chunks(rbm: RBM, data: Any, chunk_size: int = 1024) -> Any:
    """``rbm.transform_in_chunks(data, chunk_size)``: hidden probabilities of a large array or of
    an iterable of batches, one chunk at a time."""
    return rbm.transform_in_chunks(data, chunk_size)


def save_rbm(rbm: RBM, path: str | os.PathLike) -> None:
    """``rbm.save(path)``: config, weights and training state to one ``.safetensors`` file,
    written atomically."""
    rbm.save(path)


def load_rbm(path: str | os.PathLike) -> RBM:
    """``RBM.load(path)``: the model saved by :func:`save_rbm`, ready to continue training."""
    return RBM.load(path)
