"""MLX's function transformations over torch autograd.

MLX differentiates functions; torch differentiates tensors. :func:`value_and_grad` bridges the
two: it gives each differentiated array a fresh leaf that requires grad (a detached alias of the
same storage, no copy), runs the function, asks autograd for the gradients and hands back
detached results in the argument's own tree structure. Outside these transformations no tensor
requires grad, so ordinary calls pay nothing for autograd.

Nested transformations (a gradient of a gradient) work: an inner call made while an outer one is
running keeps the graph instead of detaching, so the outer call can differentiate through it.

``eval``, ``async_eval`` and ``compile`` are no-ops: torch executes eagerly, so there is nothing
to schedule or trace.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.utils.checkpoint
from torch import Tensor

from . import random
from .arrays import transforms

# ``transforms[0]`` counts the transformations in progress; an inner call keeps its graph for
# the outer one.

_LEAF = object()


class _Leaves:
    """The skeleton of a list or tuple of arrays only: its type and length. A custom
    function's outputs hold hundreds of such runs (a sequence's per-step arrays), which this
    rebuilds with one slice of the leaves instead of a call per leaf."""

    __slots__ = ("kind", "length")

    def __init__(self, kind: type, length: int):
        self.kind, self.length = kind, length


def _flatten(tree: Any) -> tuple[list[Tensor], Any]:
    """The tensor leaves of ``tree`` (dicts, lists, tuples) and a skeleton to rebuild it."""
    leaves = []

    # Comprehensions rather than generators: a sequence's trees have hundreds of nodes.
    def strip(node: Any) -> Any:
        if isinstance(node, Tensor):
            leaves.append(node)
            return _LEAF
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items()}
        if isinstance(node, (list, tuple)):
            if node and all([isinstance(v, Tensor) for v in node]):
                leaves.extend(node)
                return _Leaves(type(node), len(node))
            return type(node)([strip(v) for v in node])
        return node

    return leaves, strip(tree)


def _fill(skeleton: Any, leaves: Any) -> Any:
    """Rebuild a tree from :func:`_flatten`'s skeleton, taking leaves from the iterator."""
    if skeleton is _LEAF:
        return next(leaves)
    if skeleton.__class__ is _Leaves:
        return skeleton.kind(itertools.islice(leaves, skeleton.length))
    if isinstance(skeleton, dict):
        return {k: _fill(v, leaves) for k, v in skeleton.items()}
    if isinstance(skeleton, (list, tuple)):
        return type(skeleton)([_fill(v, leaves) for v in skeleton])
    return skeleton


def _detach(tree: Any) -> Any:
    leaves, skeleton = _flatten(tree)
    return _fill(skeleton, iter([x.detach() for x in leaves]))


def _track(tree: Any, what: str, keep_graph: bool) -> tuple[Any, list[Tensor], Any]:
    """``tree`` with each floating leaf replaced by one autograd tracks.

    Returns the new tree, its leaves and its skeleton (to rebuild the gradient tree).
    """
    leaves, skeleton = _flatten(tree)
    stray = _non_array_leaf(skeleton)
    if stray is not _LEAF:
        raise ValueError(
            f"{what} must be an array or a tree (dict/list/tuple) of arrays; "
            f"got a {type(stray).__name__} leaf"
        )
    tracked = []
    for x in leaves:
        if not (x.is_floating_point() or x.is_complex()):
            tracked.append(x)
        elif keep_graph and x.requires_grad:
            tracked.append(x.view_as(x))
        else:
            tracked.append(x.detach().requires_grad_())
    return _fill(skeleton, iter(tracked)), tracked, skeleton


def _non_array_leaf(skeleton: Any) -> Any:
    """The first leaf of a skeleton that is not an array, or ``_LEAF`` if there is none."""
    if skeleton.__class__ is _Leaves:
        return _LEAF
    if isinstance(skeleton, dict):
        skeleton = list(skeleton.values())
    if isinstance(skeleton, (list, tuple)):
        for node in skeleton:
            found = _non_array_leaf(node)
            if found is not _LEAF:
                return found
        return _LEAF
    return skeleton


def _gradients(
    outputs: list[Tensor],
    inputs: list[Tensor],
    cotangents: list[Tensor] | None,
    keep_graph: bool,
) -> list[Tensor]:
    """Autograd's vector-Jacobian product, with zeros where an input does not contribute."""
    pairs = [
        (out, None if cotangents is None else cot)
        for out, cot in zip(outputs, cotangents or outputs, strict=True)
        if out.requires_grad
    ]
    wanted = [x for x in inputs if x.requires_grad]
    grads = iter(())
    if pairs and wanted:
        grads = iter(
            torch.autograd.grad(
                [out for out, _ in pairs],
                wanted,
                grad_outputs=None if cotangents is None else [cot for _, cot in pairs],
                allow_unused=True,
                create_graph=keep_graph,
            )
        )
    result = []
    for x in inputs:
        g = next(grads, None) if x.requires_grad else None
        result.append(torch.zeros_like(x) if g is None else g if keep_graph else g.detach())
    return result


def value_and_grad(
    fun: Callable,
    argnums: int | Sequence[int] | None = None,
    argnames: str | Sequence[str] = (),
) -> Callable:
    """A function returning ``fun``'s value and its gradient w.r.t. the chosen arguments.

    ``fun`` returns a scalar array, or a tuple/list whose first element is the scalar loss.
    The gradient w.r.t. a tree argument (dict/list/tuple of arrays) is a tree of the same shape.

    Args:
        fun (Callable): The function to differentiate.
        argnums (int or list(int), optional): Positional arguments to differentiate. Default:
          ``0`` unless ``argnames`` is given.
        argnames (str or list(str), optional): Keyword arguments to differentiate. Default: none.

    Returns:
        Callable: ``(*args, **kwargs) -> (value, grads)``. ``grads`` is the gradient tree of
        the one differentiated positional argument, a tuple of them for several, and
        ``(positional, {name: grad})`` when ``argnames`` is given (``positional`` is ``None``
        when there are none).
    """
    names = [argnames] if isinstance(argnames, str) else list(argnames)
    if argnums is None:
        argnums = () if names else 0
    nums = [argnums] if isinstance(argnums, int) else list(argnums)
    if not all(isinstance(i, int) for i in nums):
        raise ValueError(f"value_and_grad: argnums must be an int or ints, got {argnums!r}")

    @functools.wraps(fun)
    def value_and_grad_fn(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        if nums and max(nums) >= len(args):
            raise ValueError(
                f"value_and_grad: argnums={argnums!r} but the function was called with "
                f"{len(args)} positional arguments"
            )
        missing = [name for name in names if name not in kwargs]
        if missing:
            raise ValueError(f"value_and_grad: argnames {missing} were not passed as keywords")
        nested = transforms[0] > 0
        args = list(args)
        skeletons, flat = [], []
        for i in nums:
            args[i], leaves, skeleton = _track(args[i], f"value_and_grad: argument {i}", nested)
            skeletons.append(skeleton)
            flat.extend(leaves)
        for name in names:
            kwargs[name], leaves, skeleton = _track(
                kwargs[name], f"value_and_grad: argument {name!r}", nested
            )
            skeletons.append(skeleton)
            flat.extend(leaves)
        value = _traced(fun, *args, **kwargs)
        loss = value[0] if isinstance(value, (tuple, list)) else value
        if not isinstance(loss, Tensor) or loss.ndim != 0:
            shape = tuple(loss.shape) if isinstance(loss, Tensor) else type(loss).__name__
            raise ValueError(
                f"value_and_grad: the function must return a scalar array (or a tuple whose "
                f"first element is one); got {shape}"
            )
        grads = iter(_gradients([loss], flat, None, nested))
        trees = [_fill(skeleton, grads) for skeleton in skeletons]
        positional = trees[: len(nums)]
        positional = positional[0] if len(nums) == 1 else tuple(positional) if nums else None
        if not nested:
            value = loss.detach() if value is loss else _detach(value)
        if names:
            return value, (positional, dict(zip(names, trees[len(nums) :], strict=True)))
        return value, positional

    return value_and_grad_fn


def grad(
    fun: Callable,
    argnums: int | Sequence[int] | None = None,
    argnames: str | Sequence[str] = (),
) -> Callable:
    """A function returning the gradient of ``fun`` (see :func:`value_and_grad`)."""
    value_and_grad_fn = value_and_grad(fun, argnums, argnames)

    @functools.wraps(fun)
    def grad_fn(*args: Any, **kwargs: Any) -> Any:
        return value_and_grad_fn(*args, **kwargs)[1]

    return grad_fn


def _traced(fun: Callable, *args: Any, **kwargs: Any) -> Any:
    """``fun(*args, **kwargs)`` recorded by autograd, counted as a running transformation
    (``transforms``: inside one, ``mx.array`` keeps its input's graph)."""
    transforms[0] += 1
    try:
        with torch.enable_grad():
            return fun(*args, **kwargs)
    finally:
        transforms[0] -= 1


def _outputs_list(out: Any) -> list[Tensor]:
    return list(out) if isinstance(out, (list, tuple)) else [out]


def vjp(
    fun: Callable, primals: Sequence[Tensor], cotangents: Sequence[Tensor]
) -> tuple[list[Tensor], list[Tensor]]:
    """The vector-Jacobian product of ``fun`` at ``primals`` with ``cotangents``.

    Returns:
        tuple(list(array), list(array)): ``fun``'s outputs and one product per primal.
    """
    nested = transforms[0] > 0
    primals, leaves, _ = _track(list(primals), "vjp: primals", nested)
    outputs = _outputs_list(_traced(fun, *primals))
    cotangents = list(cotangents)
    if len(cotangents) != len(outputs):
        raise ValueError(
            f"vjp: got {len(cotangents)} cotangents for a function with {len(outputs)} outputs"
        )
    for out, cot in zip(outputs, cotangents, strict=True):
        if tuple(out.shape) != tuple(cot.shape):
            raise ValueError(
                f"vjp: output shape {tuple(out.shape)} does not match cotangent shape "
                f"{tuple(cot.shape)}"
            )
    products = _gradients(outputs, leaves, cotangents, nested)
    return (outputs if nested else [out.detach() for out in outputs]), products


def jvp(
    fun: Callable, primals: Sequence[Tensor], tangents: Sequence[Tensor]
) -> tuple[list[Tensor], list[Tensor]]:
    r"""The Jacobian-vector product of ``fun`` at ``primals`` with ``tangents``.

    Computed as the vjp of a vjp: :math:`g(u) = J^\top u` is linear in :math:`u`, so
    :math:`J t = \nabla_u \langle g(u), t \rangle`.

    Returns:
        tuple(list(array), list(array)): ``fun``'s outputs and one product per output.
    """
    primals, leaves, _ = _track(list(primals), "jvp: primals", True)
    outputs = _outputs_list(_traced(fun, *primals))
    with torch.enable_grad():
        probes = [torch.zeros_like(out).requires_grad_() for out in outputs]
        pullback = _gradients(outputs, leaves, probes, True)
        pairs = [(g, t) for g, t in zip(pullback, tangents, strict=True) if g.requires_grad]
        products = _gradients(
            [g for g, _ in pairs], probes, [t for _, t in pairs], transforms[0] > 0
        )
    return [out.detach() for out in outputs], products


def stop_gradient(a: Tensor, /, *, stream: Any = None) -> Tensor:
    """``a`` as a constant: no gradient flows through it."""
    return a.detach()


def _zeros_for_none(cotangents: Sequence[Tensor | None], outputs: Sequence[Tensor]) -> list:
    """``cotangents`` with each ``None`` replaced by zeros shaped as its output: one read-only
    broadcast view of a zero per shape and dtype, so that many unused outputs cost nothing."""
    zeros: dict[Any, Tensor] = {}
    filled = []
    for cot, out in zip(cotangents, outputs, strict=True):
        if cot is None:
            key = (out.shape, out.dtype, out.device)
            if key not in zeros:
                zeros[key] = torch.zeros((), dtype=out.dtype, device=out.device).expand(out.shape)
            cot = zeros[key]
        filled.append(cot)
    return filled


class _CustomVJP(torch.autograd.Function):
    """Runs a :class:`custom_function` forward and routes its backward to the custom vjp."""

    @staticmethod
    def forward(
        ctx: Any, function: custom_function, args: tuple, kwargs: dict, box: dict, *leaves: Tensor
    ):
        outputs = function._fun(*args, **kwargs)
        flat, skeleton = _flatten(outputs)
        ctx.function, ctx.args = function, _flatten(args)[1]
        # The caller rebuilds the output tree from the flat tensors autograd returns.
        ctx.out_skeleton = box["skeleton"] = skeleton
        ctx.save_for_backward(*leaves, *flat)
        ctx.n_leaves = len(leaves)
        # Unused outputs get None; backward fills in shared zeros (cheaper than one each).
        ctx.set_materialize_grads(False)
        return tuple(flat) if skeleton is not _LEAF else flat[0]

    @staticmethod
    def backward(ctx: Any, *cotangents: Tensor):
        saved = ctx.saved_tensors
        leaves, flat = saved[: ctx.n_leaves], saved[ctx.n_leaves :]
        args = _fill(ctx.args, iter(leaves))
        outputs = _fill(ctx.out_skeleton, iter(flat))
        cotangent = _fill(ctx.out_skeleton, iter(_zeros_for_none(cotangents, flat)))
        primals = args[0] if len(args) == 1 else args
        grads = ctx.function._vjp(primals, cotangent, outputs)
        if len(args) == 1:
            grads = (grads,)
        flat_grads = []
        for arg, g in zip(args, grads, strict=True):
            n = len(_flatten(arg)[0])
            got = _flatten(g)[0] if g is not None else [None] * n
            if len(got) != n:
                raise ValueError(
                    f"custom_function: the vjp returned {len(got)} gradient arrays for an "
                    f"argument with {n} arrays"
                )
            flat_grads.extend(got)
        return (None, None, None, None, *flat_grads)


class custom_function:  # noqa: N801 - the MLX name
    """A function with a custom vjp, as ``mlx.core.custom_function``.

    Decorate a function, then register its vjp with ``@f.vjp``. The vjp receives
    ``(primals, cotangents, outputs)`` exactly as in MLX: ``primals`` is the single argument or
    a tuple of the arguments, ``cotangents`` and ``outputs`` are an array or a tuple matching
    the function's outputs; it returns one gradient per argument (a tuple for several). The
    forward runs inside a ``torch.autograd.Function``, so autograd uses the custom vjp.
    ``jvp`` and ``vmap`` are accepted and stored; torch uses its default rules for those.
    """

    def __init__(self, fun: Callable):
        functools.update_wrapper(self, fun)
        self._fun = fun
        self._vjp: Callable | None = None
        self._jvp: Callable | None = None
        self._vmap: Callable | None = None

    def vjp(self, fun: Callable) -> Callable:
        """Register ``fun(primals, cotangents, outputs)`` as the vjp."""
        self._vjp = fun
        return fun

    def jvp(self, fun: Callable) -> Callable:
        """Accept a jvp rule (kept for API parity; torch's own rules are used)."""
        self._jvp = fun
        return fun

    def vmap(self, fun: Callable) -> Callable:
        """Accept a vmap rule (kept for API parity; the mirror has no vmap)."""
        self._vmap = fun
        return fun

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._vjp is None or not torch.is_grad_enabled():
            return self._fun(*args, **kwargs)
        leaves = _flatten(args)[0]
        if not any(x.requires_grad for x in leaves):
            return self._fun(*args, **kwargs)
        box: dict = {}
        flat = _CustomVJP.apply(self, args, kwargs, box, *leaves)
        if box["skeleton"] is _LEAF:
            return flat
        return _fill(box["skeleton"], iter(flat))


def checkpoint(fun: Callable) -> Callable:
    """``fun`` recomputed in the backward pass instead of keeping its activations.

    Keyless random draws inside ``fun`` replay the same keys during the recomputation.
    """

    @functools.wraps(fun)
    def checkpointed(*args: Any, **kwargs: Any) -> Any:
        if not torch.is_grad_enabled():
            return fun(*args, **kwargs)
        start, ran = random.state[0], []

        def replay(*args: Any, **kwargs: Any) -> Any:
            if not ran:
                ran.append(True)
                return fun(*args, **kwargs)
            current, random.state[0] = random.state[0], start
            try:
                return fun(*args, **kwargs)
            finally:
                random.state[0] = current

        return torch.utils.checkpoint.checkpoint(replay, *args, use_reentrant=False, **kwargs)

    return checkpointed


def eval(*args: Any) -> None:  # noqa: A001 - the MLX name
    """Evaluate arrays (any nested trees). A no-op: torch has already computed them."""


def async_eval(*args: Any) -> None:
    """Start evaluating arrays. A no-op: torch has already computed them."""


def compile(  # noqa: A001 - the MLX name
    fun: Callable,
    inputs: Any = None,
    outputs: Any = None,
    shapeless: bool = False,
) -> Callable:
    """Return ``fun`` unchanged: torch runs eagerly and nothing is traced."""
    return fun


def disable_compile() -> None:
    """Disable compilation (nothing is compiled in this mirror)."""


def enable_compile() -> None:
    """Enable compilation (nothing is compiled in this mirror)."""
