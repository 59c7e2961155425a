"""The backbone of the CfC-type cells: affine layers with an activation, listed as ncps's
``Sequential`` lists them, so that parameter names (``backbone.0``, ``backbone.2``, ...) match."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ember_mlx.backend import nn


class Activation(nn.Module):
    """A parameter-free layer applying ``fn``."""

    def __init__(self, fn: Callable[[Any], Any]):
        super().__init__()
        self.fn = fn

    def __call__(self, x: Any) -> Any:
        return self.fn(x)


def check_dropout(rate: Any) -> float:
    """Return ``rate`` if it is a number in ``[0, 1)``, else raise a ValueError."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
        raise ValueError(f"backbone_dropout: expected a number in [0, 1), got {rate!r}")
    return float(rate)


def build_backbone(
    in_features: int, units: int, layers: int, activation: Callable[[Any], Any], dropout: float
) -> list[nn.Module]:
    """``[affine, activation]`` then, per further layer, ``[affine, activation, dropout]``
    (dropout only if ``dropout > 0``; never after the first layer, as in ncps)."""
    backbone: list[nn.Module] = [nn.Linear(in_features, units), Activation(activation)]
    for _ in range(1, layers):
        backbone += [nn.Linear(units, units), Activation(activation)]
        if dropout > 0:
            backbone.append(nn.Dropout(dropout))
    return backbone


def finish_backbone(backbone: list[nn.Module], z: Any) -> Any:
    """The backbone's output from the first layer's affine output ``z`` (callers compute that
    themselves, to take the input's share of it out of the time loop)."""
    for layer in backbone[1:]:
        z = layer(z)
    return z
