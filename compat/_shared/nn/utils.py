"""Gradients of a module's loss, gradient checkpointing and gradient averaging."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from .. import core as mx
from .base import Module


def value_and_grad(model: Module, fn: Callable) -> Callable:
    """Turn ``fn`` into a function returning ``(fn(*args), grads)``, the gradients taken with
    respect to ``model.trainable_parameters()``.

    ``fn`` reads the model as usual; the trainable parameters are routed through
    ``mx.value_and_grad`` by updating the model with them before ``fn`` runs, so ``grads`` has
    the structure of :meth:`Module.trainable_parameters` and feeds ``optimizer.update``.

    Args:
        model: The module whose trainable parameters are differentiated.
        fn: The scalar function, usually a loss calling ``model``.

    Returns:
        The function ``(*args, **kwargs) -> (value, grads)``.
    """

    def inner_fn(params: dict, *args: Any, **kwargs: Any) -> Any:
        model.update(params)
        return fn(*args, **kwargs)

    value_grad_fn = mx.value_and_grad(inner_fn)

    @wraps(fn)
    def wrapped_value_grad_fn(*args: Any, **kwargs: Any) -> tuple[Any, dict]:
        params = model.trainable_parameters()
        value, grads = value_grad_fn(params, *args, **kwargs)
        # The model now holds the transformation's copies of its parameters (equal values);
        # on eager autodiff backends those carry autograd state, so put the originals back.
        model.update(params)
        return value, grads

    return wrapped_value_grad_fn


def checkpoint(module: Module, fn: Callable | None = None) -> Callable:
    """Make ``fn`` (default: ``module`` itself) recompute its intermediate values in the
    backward pass instead of storing them, trading compute for memory.

    Args:
        module: The module whose trainable parameters ``fn`` uses.
        fn: The function to checkpoint. Default: the module's ``__call__``.

    Returns:
        A function with the signature of ``fn``.
    """
    # Capturing the module rather than module.__call__ keeps a later patched __call__ in use.
    fn = module if fn is None else fn

    def inner_fn(params: dict, *args: Any, **kwargs: Any) -> Any:
        module.update(params)
        return fn(*args, **kwargs)

    checkpointed_fn = mx.checkpoint(inner_fn)

    @wraps(fn)
    def wrapped_checkpointed_fn(*args: Any, **kwargs: Any) -> Any:
        return checkpointed_fn(module.trainable_parameters(), *args, **kwargs)

    return wrapped_checkpointed_fn


def average_gradients(
    gradients: Any,
    group: Any | None = None,
    all_reduce_size: int = 32 * 1024**2,
    communication_stream: Any | None = None,
) -> Any:
    """Average a gradient tree across the processes of a distributed group.

    The mirrors run in a single process (a group of size 1), where the average is the
    gradients themselves; multi-process averaging is not available on these backends yet, so
    a group of more than one process is an error rather than a silent no-op.

    Args:
        gradients: The gradient tree.
        group: A group with a ``size()`` method; ``None`` means this single process.
        all_reduce_size: Accepted for API compatibility with ``mlx.nn.average_gradients``.
        communication_stream: Accepted for API compatibility.

    Returns:
        ``gradients``.
    """
    if group is not None and group.size() > 1:
        raise NotImplementedError(
            f"average_gradients: group has {group.size()} processes, but this backend runs "
            "one process only; use the mlx backend for distributed training"
        )
    return gradients
