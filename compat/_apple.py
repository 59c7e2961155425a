"""``mx.metal`` and ``mx.fast`` for the mirrors: Apple's Metal backend exists only under MLX.

Kernel code asks ``mx.metal.is_available()`` before it takes a Metal path, so in a mirror these
only have to answer "no" the way MLX does on a machine without Metal: building a kernel works,
calling it raises.
"""

from collections.abc import Callable
from typing import Any


class _Metal:
    """``mx.metal``: MLX's Metal backend, which a mirror never has."""

    @staticmethod
    def is_available() -> bool:
        """Always ``False``: Metal kernels run only under MLX."""
        return False


class _Fast:
    """``mx.fast``: custom Metal kernels can be built here but run only under MLX."""

    @staticmethod
    def metal_kernel(
        name: str,
        input_names: list[str],
        output_names: list[str],
        source: str,
        header: str = "",
        ensure_row_contiguous: bool = True,
        atomic_outputs: bool = False,
    ) -> Callable[..., Any]:
        """A kernel object that raises when called, as MLX does off Metal."""

        def call(**kwargs: Any) -> Any:
            raise RuntimeError(f"[metal_kernel] {name}: no Metal backend in this mirror")

        return call


metal = _Metal()
fast = _Fast()
