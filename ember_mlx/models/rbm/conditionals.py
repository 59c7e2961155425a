r"""The conditional distributions of an RBM's two layers, as pure functions of the parameters.

.. math::

    p(h = 1 \mid v) = \sigma(c + v W), \qquad
    E[v \mid h] = \sigma(b + h W^\top) \ \text{(binary)} \ \text{or} \ b + h W^\top
    \ \text{(Gaussian, unit variance)}

Shared by :class:`~ember_mlx.models.rbm.RBM` and the compiled training update. Gibbs sampling
itself is :func:`ember_mlx.kernels.gibbs_chain`.
"""

from __future__ import annotations

from typing import Any

from ember_mlx.backend import mx


def hidden_probabilities(v: Any, weights: Any, hidden_bias: Any) -> Any:
    r""":math:`p(h = 1 \mid v) = \sigma(c + v W)`, shape ``(samples, hidden)``."""
    return mx.sigmoid(mx.addmm(hidden_bias, v, weights))


def visible_mean(h: Any, weights: Any, visible_bias: Any, gaussian: bool) -> Any:
    r""":math:`E[v \mid h]`: :math:`\sigma(b + h W^\top)`, or :math:`b + h W^\top` for Gaussian
    visible units, shape ``(samples, visible)``."""
    pre = h @ weights.T + visible_bias
    return pre if gaussian else mx.sigmoid(pre)
