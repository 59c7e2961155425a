"""The backbone of the CfC-type cells: affine layers with an activation, listed as ncps's
``Sequential`` lists them, so that parameter names (``backbone.0``, ``backbone.2``, ...) match."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from ember_mlx.backend import mx, nn
from ember_mlx.nn.layers.activations import lecun_tanh, relu, tanh


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


class VJPForm(NamedTuple):
    r"""A backbone activation as :math:`\phi(z) = c_1\, \psi(c_0 z) + c_2`, the form the
    hand-written CfC vjp runs: :math:`c_0` folds into the backbone layer's weights and
    :math:`c_1, c_2` into the heads that read it, so a step computes only :math:`\psi`, whose
    derivative ``dpsi`` is written in terms of its output.

    The tanh family goes through the logistic sigmoid, :math:`\tanh x = 2 \sigma(2 x) - 1`,
    because torch's CPU tanh costs about five times its sigmoid.
    """

    inner: float
    outer: float
    shift: float
    psi: Callable[[Any], Any]
    dpsi: Callable[[Any], Any]


def _dsigmoid(s: Any) -> Any:
    return s - s * s


_VJP_FORMS: dict[Callable[[Any], Any], VJPForm] = {
    # 1.7159 tanh(0.666 z) = 3.4318 sigmoid(1.332 z) - 1.7159
    lecun_tanh: VJPForm(2 * 0.666, 2 * 1.7159, -1.7159, mx.sigmoid, _dsigmoid),
    relu: VJPForm(1.0, 1.0, 0.0, relu, lambda a: a > 0),
    tanh: VJPForm(2.0, 2.0, -1.0, mx.sigmoid, _dsigmoid),
}


def vjp_form(activation: Callable[[Any], Any]) -> VJPForm | None:
    """``activation`` in the form of :class:`VJPForm`, or ``None`` if it has none here (the
    step loop is then differentiated op by op)."""
    return _VJP_FORMS.get(activation)
