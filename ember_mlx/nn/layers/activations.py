"""Activation functions, their layer forms, and lookup by name.

The standard functions are the backend's own (``nn.relu``, ``nn.tanh``, ...); this module adds
LeCun's scaled tanh, the parameter-free layers as :class:`~ember_mlx.nn.Module` subclasses (so
that models built from them keep a config and can be saved), and :func:`get_activation`, which
turns the names used in constructor arguments (``activation="tanh"``) into functions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ember_mlx.backend import mx, nn
from ember_mlx.nn.module import Module

relu = nn.relu
tanh = nn.tanh
sigmoid = nn.sigmoid
softmax = nn.softmax
softplus = nn.softplus


def lecun_tanh(x: Any) -> Any:
    r"""LeCun's scaled hyperbolic tangent, with ncps's constants.

    .. math::

        \mathrm{lecun\_tanh}(x) = 1.7159 \tanh(0.666\, x)

    The scaling keeps unit-variance inputs at roughly unit-variance outputs
    (LeCun et al., "Efficient BackProp", 1998).
    """
    return 1.7159 * mx.tanh(0.666 * x)


def linear(x: Any) -> Any:
    """The identity, for ``activation="linear"`` (no activation)."""
    return x


_ACTIVATIONS: dict[str, Callable[[Any], Any]] = {
    "elu": nn.elu,
    "gelu": nn.gelu,
    "leaky_relu": nn.leaky_relu,
    "lecun_tanh": lecun_tanh,
    "linear": linear,
    "relu": relu,
    "sigmoid": sigmoid,
    "silu": nn.silu,
    "softmax": softmax,
    "softplus": softplus,
    "tanh": tanh,
}


def get_activation(name: str | Callable[[Any], Any] | None) -> Callable[[Any], Any]:
    """The activation function called ``name``.

    Args:
        name: One of ``"elu"``, ``"gelu"``, ``"leaky_relu"``, ``"lecun_tanh"``, ``"linear"``,
            ``"relu"``, ``"sigmoid"``, ``"silu"``, ``"softmax"``, ``"softplus"``, ``"tanh"``
            (case-insensitive). ``None`` means ``"linear"``; a callable is returned unchanged.

    Returns:
        A function from array to array.

    Raises:
        ValueError: If ``name`` is not a known activation.
        TypeError: If ``name`` is neither a string, ``None`` nor callable.
    """
    if name is None:
        return linear
    if callable(name):
        return name
    if not isinstance(name, str):
        raise TypeError(
            f"activation: expected a name, a callable or None, got {type(name).__name__}"
        )
    try:
        return _ACTIVATIONS[name.lower()]
    except KeyError:
        raise ValueError(
            f"activation: unknown activation {name!r}; expected one of {', '.join(_ACTIVATIONS)}"
        ) from None


class ReLU(Module, nn.ReLU):
    r"""Applies :math:`\max(x, 0)` element-wise."""


class Tanh(Module, nn.Tanh):
    r"""Applies :math:`\tanh(x)` element-wise."""


class Sigmoid(Module, nn.Sigmoid):
    r"""Applies :math:`\sigma(x) = 1 / (1 + e^{-x})` element-wise."""


class Softplus(Module, nn.Softplus):
    r"""Applies :math:`\log(1 + e^x)` element-wise."""


class Softmax(Module):
    r"""Applies :math:`e^{x_i} / \sum_j e^{x_j}` along ``axis``.

    Args:
        axis: The axis normalised to sum to one. Default: ``-1``.
    """

    def __init__(self, axis: int = -1):
        super().__init__()
        self.axis = axis

    def _extra_repr(self) -> str:
        return f"axis={self.axis}"

    def __call__(self, x: Any) -> Any:
        return softmax(x, axis=self.axis)


class LeCunTanh(Module):
    r"""Applies :func:`lecun_tanh`, :math:`1.7159 \tanh(0.666\, x)`, element-wise."""

    def __call__(self, x: Any) -> Any:
        return lecun_tanh(x)
