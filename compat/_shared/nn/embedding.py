"""``Embedding``: a lookup table from integer ids to vectors."""

from __future__ import annotations

import math
from typing import Any

from .. import core as mx
from .base import Module


class Embedding(Module):
    r"""Map each integer id to a learned vector of size ``dims``.

    The table, of shape ``(num_embeddings, dims)``, is drawn from
    :math:`\mathcal{N}(0, 1 / \text{dims})`.

    Args:
        num_embeddings: The number of ids (vocabulary size).
        dims: The size of each vector.
    """

    def __init__(self, num_embeddings: int, dims: int):
        super().__init__()
        scale = math.sqrt(1 / dims)
        self.weight = mx.random.normal(shape=(num_embeddings, dims), scale=scale)

    def _extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, {self.weight.shape[1]}"

    def __call__(self, x: Any) -> Any:
        return self.weight[x]

    def as_linear(self, x: Any) -> Any:
        r"""Use the table as a linear map, :math:`x W^\top` (for tied input and output
        embeddings)."""
        return x @ self.weight.T
