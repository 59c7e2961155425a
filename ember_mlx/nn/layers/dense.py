"""Fully connected layers: ``Linear`` (torch's arguments) and ``Dense`` (Keras-style, with an
activation)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ember_mlx.backend import nn
from ember_mlx.nn.layers.activations import get_activation
from ember_mlx.nn.module import Module
from ember_mlx.validation import check_count


def check_features(layer: str, x: Any, expected: int, argument: str) -> None:
    """Raise a ValueError unless the last axis of ``x`` has ``expected`` entries."""
    if x.ndim < 1 or x.shape[-1] != expected:
        raise ValueError(
            f"{layer}: input x has shape {tuple(x.shape)}, expected a last axis of "
            f"{argument}={expected}"
        )


class Linear(Module, nn.Linear):
    r"""An affine map of the last axis, with torch's weight layout.

    .. math::

        y = x W^\top + b

    ``weight`` has shape ``(out_features, in_features)`` and ``bias`` ``(out_features,)``, both
    drawn from :math:`\mathcal{U}(-k, k)` with :math:`k = 1/\sqrt{\text{in\_features}}` (torch's
    default); a torch ``nn.Linear`` state dict loads by name.

    Args:
        in_features: Size of the input's last axis.
        out_features: Size of the output's last axis.
        bias: Whether to add :math:`b`. Default: ``True``.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        layer = type(self).__name__
        in_features = check_count(f"{layer}: in_features", in_features)
        out_features = check_count(f"{layer}: out_features", out_features)
        super().__init__(in_features, out_features, bias)
        self.in_features = in_features
        self.out_features = out_features

    def _extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={'bias' in self}"
        )

    def __call__(self, x: Any) -> Any:
        check_features(type(self).__name__, x, self.in_features, "in_features")
        return super().__call__(x)


class Dense(Linear):
    r"""A fully connected layer followed by an activation.

    .. math::

        y = f(x W^\top + b)

    The seeds' two spellings agree by position: ``Dense(input_dim, units)`` (Keras) and
    ``Dense(in_features=..., out_features=...)`` (their examples).

    Args:
        in_features: Size of the input's last axis.
        out_features: Size of the output's last axis.
        activation: Name of :math:`f` (see :func:`get_activation`), a function, or ``None``
            for none. Default: ``None``.
        use_bias: Whether to add :math:`b`. Default: ``True``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        activation: str | Callable[[Any], Any] | None = None,
        use_bias: bool = True,
    ):
        super().__init__(in_features, out_features, bias=use_bias)
        self.activation = get_activation(activation)

    def _extra_repr(self) -> str:
        name = getattr(self.activation, "__name__", self.activation)
        return f"{super()._extra_repr()}, activation={name}"

    def __call__(self, x: Any) -> Any:
        return self.activation(super().__call__(x))
