"""``Sequential``: layers called one after the other."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .base import Module


class Sequential(Module):
    """Calls its layers in order, feeding each the previous output.

    Layers may be modules or plain callables; only modules contribute parameters.

    Args:
        modules: The callables to apply, first to last.
    """

    def __init__(self, *modules: Callable) -> None:
        super().__init__()
        self.layers = list(modules)

    def __call__(self, x: Any) -> Any:
        for layer in self.layers:
            x = layer(x)
        return x
