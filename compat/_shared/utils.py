"""Python-tree helpers with the API and semantics of ``mlx.utils``.

A tree is any nesting of lists, tuples (named tuples included) and dicts; everything else is a
leaf. Arrays of every backend (``mlx.core.array``, ``numpy.ndarray``, ``torch.Tensor``) are none
of those containers, so the same helpers walk parameter, gradient and optimizer-state trees on
every backend without knowing the array type.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from itertools import zip_longest
from typing import Any

__all__ = [
    "tree_flatten",
    "tree_map",
    "tree_map_with_path",
    "tree_merge",
    "tree_reduce",
    "tree_unflatten",
]


def _rebuild(like: Any, children: Any) -> Any:
    """A list/tuple of the type of ``like`` holding ``children`` (named tuples take fields)."""
    return type(like)(*children) if hasattr(like, "_fields") else type(like)(children)


def tree_map(fn: Callable, tree: Any, *rest: Any, is_leaf: Callable | None = None) -> Any:
    """Apply ``fn`` to every leaf of ``tree`` and return a tree of the same structure.

    Each tree in ``rest`` must contain the structure of ``tree``; its matching subtrees (or
    leaves) are passed to ``fn`` as extra positional arguments, as in ``itertools.starmap``.

    Args:
        fn: Called as ``fn(leaf, *rest_leaves)``.
        tree: The tree whose structure the result takes.
        rest: Trees walked together with ``tree``.
        is_leaf: Optional predicate marking extra leaves (e.g. modules).

    Returns:
        A new tree with the values returned by ``fn``.
    """
    if is_leaf is not None and is_leaf(tree):
        return fn(tree, *rest)
    if isinstance(tree, (list, tuple)):
        children = (
            tree_map(fn, child, *(r[i] for r in rest), is_leaf=is_leaf)
            for i, child in enumerate(tree)
        )
        return _rebuild(tree, children)
    if isinstance(tree, dict):
        return {
            k: tree_map(fn, child, *(r[k] for r in rest), is_leaf=is_leaf)
            for k, child in tree.items()
        }
    return fn(tree, *rest)


def tree_map_with_path(
    fn: Callable,
    tree: Any,
    *rest: Any,
    is_leaf: Callable | None = None,
    path: Any | None = None,
) -> Any:
    """Like :func:`tree_map`, but ``fn`` receives the dotted path of each leaf first.

    ``tree_map_with_path(lambda p, _: p, {"a": [0, 1]})`` gives ``{"a": ["a.0", "a.1"]}``.

    Args:
        fn: Called as ``fn(path, leaf, *rest_leaves)``.
        tree: The tree whose structure the result takes.
        rest: Trees walked together with ``tree``.
        is_leaf: Optional predicate marking extra leaves.
        path: A prefix for every path.

    Returns:
        A new tree with the values returned by ``fn``.
    """
    if is_leaf is not None and is_leaf(tree):
        return fn(path, tree, *rest)
    prefix = f"{path}." if path else ""
    if isinstance(tree, (list, tuple)):
        children = (
            tree_map_with_path(
                fn, child, *(r[i] for r in rest), is_leaf=is_leaf, path=f"{prefix}{i}"
            )
            for i, child in enumerate(tree)
        )
        return _rebuild(tree, children)
    if isinstance(tree, dict):
        return {
            k: tree_map_with_path(
                fn, child, *(r[k] for r in rest), is_leaf=is_leaf, path=f"{prefix}{k}"
            )
            for k, child in tree.items()
        }
    return fn(path, tree, *rest)


def tree_flatten(
    tree: Any,
    prefix: str = "",
    is_leaf: Callable | None = None,
    destination: list | dict | None = None,
) -> list[tuple[str, Any]] | dict[str, Any]:
    """Flatten a tree to ``(dotted_key, leaf)`` pairs.

    ``tree_flatten([[[0]]])`` is ``[("0.0.0", 0)]``; ``tree_flatten({"a": {"b": 1}},
    destination={})`` is ``{"a.b": 1}``.

    Args:
        tree: The tree to flatten.
        prefix: A prefix for every key; its first character is dropped (so ``".model"``
            gives keys ``"model...."``).
        is_leaf: Optional predicate marking extra leaves.
        destination: A list (default) or dict to add the pairs to.

    Returns:
        ``destination`` with the pairs added.
    """
    if destination is None:
        destination = []
    if isinstance(destination, list):
        add = destination.extend
    elif isinstance(destination, dict):
        add = destination.update
    else:
        raise ValueError("Destination should be either a list or a dictionary or None")

    if is_leaf is not None and is_leaf(tree):
        add([(prefix[1:], tree)])
    elif isinstance(tree, (list, tuple)):
        for i, item in enumerate(tree):
            tree_flatten(item, f"{prefix}.{i}", is_leaf, destination)
    elif isinstance(tree, dict):
        for key, value in tree.items():
            tree_flatten(value, f"{prefix}.{key}", is_leaf, destination)
    else:
        add([(prefix[1:], tree)])
    return destination


def tree_unflatten(tree: list[tuple[str, Any]] | dict[str, Any]) -> Any:
    """Rebuild a tree from its flat ``(dotted_key, leaf)`` form (the inverse of
    :func:`tree_flatten`).

    A level whose keys are all integers becomes a list (missing indices are filled with ``{}``);
    any other level becomes a dict. ``tree_unflatten([("a.0", 1)])`` is ``{"a": [1]}``.

    Args:
        tree: A list of pairs or a dict from dotted keys to leaves.

    Returns:
        The nested tree.
    """
    items = list(tree.items()) if isinstance(tree, dict) else list(tree)
    if len(items) == 1 and items[0][0] == "":
        return items[0][1]

    children = defaultdict(list)
    for key, value in items:
        head, _, tail = key.partition(".")
        children[head].append((tail, value))

    try:
        indices = {int(key): key for key in children}
    except ValueError:
        indices = None
    # "1" and "01" parse to the same index: such a level is a dict, not a list.
    if indices is None or len(indices) != len(children):
        return {key: tree_unflatten(value) for key, value in children.items()}

    result = []
    for index, key in sorted(indices.items()):
        result.extend({} for _ in range(index - len(result)))
        result.append(tree_unflatten(children[key]))
    return result


def tree_reduce(
    fn: Callable, tree: Any, initializer: Any = None, is_leaf: Callable | None = None
) -> Any:
    """Fold ``fn(accumulator, leaf)`` over the leaves of ``tree``.

    ``tree_reduce(lambda acc, x: acc + x, {"a": [1, 2, 3], "b": [4, 5]}, 0)`` is ``15``.

    Args:
        fn: The reducer, ``fn(accumulator, leaf) -> accumulator``.
        tree: The tree to reduce.
        initializer: The starting accumulator; without it the first leaf starts.
        is_leaf: Optional predicate marking extra leaves.

    Returns:
        The final accumulator.
    """
    if is_leaf is not None and is_leaf(tree):
        return tree if initializer is None else fn(initializer, tree)
    if isinstance(tree, (list, tuple, dict)):
        accumulator = initializer
        for item in tree.values() if isinstance(tree, dict) else tree:
            accumulator = tree_reduce(fn, item, accumulator, is_leaf)
        return accumulator
    return tree if initializer is None else fn(initializer, tree)


def tree_merge(tree_a: Any, tree_b: Any, merge_fn: Callable | None = None) -> Any:
    """Merge two trees into one holding the leaves of both, a deep ``dict.update``.

    Empty containers count as empty subtrees. Where both trees hold a leaf at the same place,
    ``merge_fn(leaf_a, leaf_b)`` decides; without it that is an error.

    Args:
        tree_a: The first tree.
        tree_b: The second tree.
        merge_fn: Combines two leaves found at the same location.

    Returns:
        The merged tree.
    """
    empty_a = isinstance(tree_a, (dict, list, tuple)) and len(tree_a) == 0
    empty_b = isinstance(tree_b, (dict, list, tuple)) and len(tree_b) == 0
    if empty_a and empty_b:
        if type(tree_a) is not type(tree_b):
            raise ValueError(f"Cannot merge {type(tree_a).__name__} with {type(tree_b).__name__}")
        return type(tree_a)()
    tree_a = None if empty_a else tree_a
    tree_b = None if empty_b else tree_b
    if tree_a is None and tree_b is not None:
        return tree_b
    if tree_a is not None and tree_b is None:
        return tree_a

    if isinstance(tree_a, (list, tuple)) and isinstance(tree_b, (list, tuple)):
        return _rebuild(
            tree_a, (tree_merge(a, b, merge_fn) for a, b in zip_longest(tree_a, tree_b))
        )
    if isinstance(tree_a, dict) and isinstance(tree_b, dict):
        return {
            k: tree_merge(tree_a.get(k), tree_b.get(k), merge_fn) for k in set(tree_a) | set(tree_b)
        }
    if merge_fn is None:
        raise ValueError(
            "Trees contain elements at the same locations but no merge function was provided"
        )
    return merge_fn(tree_a, tree_b)
