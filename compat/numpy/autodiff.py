"""MLX's function transformations in a library without autodiff.

numpy computes eagerly and records nothing, so:

* ``eval``, ``async_eval``, ``compile`` and ``checkpoint`` have nothing to do and hand back
  what they are given;
* ``stop_gradient`` is the identity (no gradient flows anywhere);
* :class:`custom_function` runs its function; vjp, jvp and vmap rules are accepted and kept,
  so code defining them imports and runs forward;
* ``grad`` and ``value_and_grad`` build a function (so models that set up their training step
  at construction still build) that raises when called, and ``vjp``/``jvp`` raise at once,
  naming the backends that differentiate.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

_NO_AUTODIFF = (
    "the numpy backend has no automatic differentiation; run gradient code under the torch "
    "or mlx backend (EMBER_BACKEND=torch or EMBER_BACKEND=mlx)"
)


def _unavailable(what: str) -> RuntimeError:
    return RuntimeError(f"{what}: {_NO_AUTODIFF}")


def value_and_grad(
    fun: Callable,
    argnums: int | Sequence[int] | None = None,
    argnames: str | Sequence[str] = (),
) -> Callable:
    """A function that raises ``RuntimeError`` when called: numpy cannot differentiate ``fun``.

    Building it succeeds, so code that prepares a training step ahead of time imports and
    constructs under numpy; only taking the gradient fails.
    """

    @functools.wraps(fun)
    def value_and_grad_fn(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        raise _unavailable("value_and_grad")

    return value_and_grad_fn


def grad(
    fun: Callable,
    argnums: int | Sequence[int] | None = None,
    argnames: str | Sequence[str] = (),
) -> Callable:
    """A function that raises ``RuntimeError`` when called (see :func:`value_and_grad`)."""

    @functools.wraps(fun)
    def grad_fn(*args: Any, **kwargs: Any) -> Any:
        raise _unavailable("grad")

    return grad_fn


def vjp(
    fun: Callable, primals: Sequence[np.ndarray], cotangents: Sequence[np.ndarray]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Raises ``RuntimeError``: the numpy backend has no vector-Jacobian products."""
    raise _unavailable("vjp")


def jvp(
    fun: Callable, primals: Sequence[np.ndarray], tangents: Sequence[np.ndarray]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Raises ``RuntimeError``: the numpy backend has no Jacobian-vector products."""
    raise _unavailable("jvp")


def stop_gradient(a: np.ndarray, /, *, stream: Any = None) -> np.ndarray:
    """``a`` itself: without autodiff there is no gradient to stop."""
    return a


class custom_function:  # noqa: N801 - the MLX name
    """A function with custom derivative rules, as ``mlx.core.custom_function``.

    Calling it runs the function. ``@f.vjp``, ``@f.jvp`` and ``@f.vmap`` register rules as in
    MLX; numpy never differentiates, so they are kept but not used.
    """

    def __init__(self, fun: Callable):
        functools.update_wrapper(self, fun)
        self._fun = fun
        self._vjp: Callable | None = None
        self._jvp: Callable | None = None
        self._vmap: Callable | None = None

    def vjp(self, fun: Callable) -> Callable:
        """Register ``fun(primals, cotangents, outputs)`` as the vjp (kept, never called)."""
        self._vjp = fun
        return fun

    def jvp(self, fun: Callable) -> Callable:
        """Register ``fun(primals, tangents)`` as the jvp (kept, never called)."""
        self._jvp = fun
        return fun

    def vmap(self, fun: Callable) -> Callable:
        """Register a vmap rule (kept, never called: the mirror has no vmap)."""
        self._vmap = fun
        return fun

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._fun(*args, **kwargs)


def checkpoint(fun: Callable) -> Callable:
    """``fun`` itself: there is no backward pass whose memory checkpointing would save."""
    return fun


def eval(*args: Any) -> None:  # noqa: A001 - the MLX name
    """Evaluate arrays (any nested trees). A no-op: numpy has already computed them."""


def async_eval(*args: Any) -> None:
    """Start evaluating arrays. A no-op: numpy has already computed them."""


def compile(  # noqa: A001 - the MLX name
    fun: Callable,
    inputs: Any = None,
    outputs: Any = None,
    shapeless: bool = False,
) -> Callable:
    """Return ``fun`` unchanged: numpy runs eagerly and nothing is traced."""
    return fun


def disable_compile() -> None:
    """Disable compilation (nothing is compiled in this mirror)."""


def enable_compile() -> None:
    """Enable compilation (nothing is compiled in this mirror)."""
