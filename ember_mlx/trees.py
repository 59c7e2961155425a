"""Nested tuples and lists of arrays taken apart into a flat list and put back together.

``mlx.utils.tree_flatten`` turns tuples into lists and drops empty ones when unflattening; the
hand-written vjps and the Metal kernels' host code need their trees back exactly as they were.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


def flatten(tree: Any) -> tuple[list[Any], Callable[[Sequence[Any]], Any]]:
    """The leaves of a nested tuple or list (``None`` kept out) and a function that rebuilds it
    from leaves in the same order."""
    if tree is None:
        return [], lambda leaves: None
    if not isinstance(tree, (tuple, list)):
        return [tree], lambda leaves: leaves[0]
    kind = type(tree)
    parts = [flatten(t) for t in tree]
    sizes = [len(leaves) for leaves, _ in parts]

    def rebuild(leaves: Sequence[Any]) -> Any:
        out, start = [], 0
        for (_, build), size in zip(parts, sizes, strict=True):
            out.append(build(leaves[start : start + size]))
            start += size
        return kind(out)

    return [leaf for leaves, _ in parts for leaf in leaves], rebuild
