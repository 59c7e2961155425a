"""``Dropout``: random zeroing of activations during training."""

from __future__ import annotations

from typing import Any

from .. import core as mx
from .base import Module


class Dropout(Module):
    r"""Zero each element with probability :math:`p` during training.

    Kept elements are scaled by :math:`\frac{1}{1 - p}` so every element keeps its expected
    value; in evaluation mode (:meth:`Module.eval`) the layer is the identity. The mask comes
    from the global random state (``mx.random``).

    Args:
        p: The probability of zeroing an element, in ``[0, 1)``. Default: ``0.5``.
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        if p < 0 or p >= 1:
            raise ValueError(f"The dropout probability {p} is not in [0, 1)")
        self._p_1 = 1 - p

    def _extra_repr(self) -> str:
        return f"p={1 - self._p_1}"

    def __call__(self, x: Any) -> Any:
        if self._p_1 == 1 or not self.training:
            return x
        mask = mx.random.bernoulli(self._p_1, x.shape)
        return (mask * x) * (1 / self._p_1)
