"""``Dropout``: a rate, an optional seed of its own, and a per-call training flag.

mlx's ``nn.Dropout`` has neither the seed nor the flag, so the mask is drawn here.
"""

from __future__ import annotations

from typing import Any

from ember_mlx.backend import mx
from ember_mlx.nn.module import Module
from ember_mlx.validation import check_fraction, check_seed


class Dropout(Module):
    r"""Zero each element with probability ``rate`` while training.

    .. math::

        y = \frac{m \odot x}{1 - \text{rate}}, \quad m_i \sim \mathrm{Bernoulli}(1 - \text{rate})

    so every element keeps its expected value; outside training :math:`y = x`.

    Without a ``seed`` the masks come from the global random state (``mx.random.seed``; under
    ``mx.compile`` pass ``mx.random.state`` as input and output). With a ``seed`` the layer owns
    a random key, split at every call, so the sequence of masks is the same in every run; the key
    is part of ``model.state`` (under the unsaved name ``_key``).

    Args:
        rate: Probability of zeroing an element, in ``[0, 1)``.
        seed: Seed of the layer's own random key, or ``None`` for the global state.
            Default: ``None``.

    Call ``dropout(x, training=None)``: ``training`` overrides the module's mode
    (:meth:`train` / :meth:`eval`; modules start in training mode).
    """

    def __init__(self, rate: float, seed: int | None = None):
        rate = check_fraction("Dropout: rate", rate, include_high=False)
        if seed is not None:
            seed = check_seed("Dropout: seed", seed)
        super().__init__()
        self.rate = rate
        self.seed = seed
        if seed is not None:
            self._key = mx.random.key(seed)

    def _extra_repr(self) -> str:
        return f"rate={self.rate}, seed={self.seed}"

    def __call__(self, x: Any, training: bool | None = None) -> Any:
        if training is None:
            training = self.training
        if not training or self.rate == 0:
            return x
        key = None
        if self.seed is not None:
            keys = mx.random.split(self._key)
            self._key, key = keys[0], keys[1]
        keep = 1 - self.rate
        return mx.random.bernoulli(keep, x.shape, key=key) * x * (1 / keep)
