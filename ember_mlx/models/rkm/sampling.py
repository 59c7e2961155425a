r"""Turning a node's analog value into a binary state: the RKM's stochastic units.

A unit with analog value :math:`x` (a relaxed voltage, or a Hopfield field), inverse
temperature :math:`\beta` and scale :math:`s` (the fan-in for a layer-scaled RKM, else 1) is on
with probability

.. math::

    \text{bernoulli:}\ \sigma(\beta s x), \qquad
    \text{threshold, gaussian noise:}\ \Phi(\beta s x), \qquad
    \text{threshold, uniform noise:}\ \operatorname{clip}\big(\tfrac{1 + \beta s x}{2}, 0, 1\big).

``"bernoulli"`` compares a uniform :math:`u` with :math:`\sigma(\beta s x)`; the threshold modes
are noisy comparators, on iff :math:`x > \xi / (\beta s)` with :math:`\xi \sim N(0, 1)` or
:math:`U(-1, 1)`: ``"multi-threshold"`` draws one :math:`\xi` per unit and sample,
``"single-threshold"`` one for the whole call. :math:`\beta = \infty` is the zero-temperature
limit, :math:`x > 0`.

Random numbers come from a :class:`Noise`, so a test can inject the very numbers another
implementation draws.
"""

from __future__ import annotations

import math
from typing import Any

from ember_mlx.backend import mx

SAMPLINGS = ("bernoulli", "multi-threshold", "single-threshold")
DISTRIBUTIONS = ("gaussian", "uniform")


class Noise:
    """Random draws from a key.

    Each draw is cut from a pool of numbers drawn ahead with a fresh subkey, at least
    ``block`` numbers at a time: on a backend where a call to the generator has a fixed cost
    (the torch mirror's bit-exact Threefry), training draws an epoch's numbers in a few calls.

    Args:
        key (array): an ``mx.random.key``. :attr:`key` holds the key left after the draws.
        block (int, optional): the least number of values drawn per call. Default: ``0``
            (each draw calls the generator once, for exactly its size).
    """

    def __init__(self, key: Any, block: int = 0):
        self.key = key
        self.block = block
        self._pools = {}

    def _take(self, kind: str, shape: tuple[int, ...]) -> Any:
        size = math.prod(shape)
        pool, used = self._pools.get(kind, (None, 0))
        if pool is None or used + size > pool.shape[0]:
            keys = mx.random.split(self.key)
            self.key = keys[0]
            count = max(size, self.block)
            if kind == "uniform":
                pool = mx.random.uniform(shape=(count,), key=keys[1])
            else:
                pool = mx.random.normal((count,), key=keys[1])
            used = 0
        self._pools[kind] = (pool, used + size)
        return pool[used : used + size].reshape(shape)

    def uniform(self, shape: tuple[int, ...]) -> Any:
        """``float32`` numbers uniform in :math:`[0, 1)`."""
        return self._take("uniform", shape)

    def normal(self, shape: tuple[int, ...]) -> Any:
        """Standard normal ``float32`` numbers."""
        return self._take("normal", shape)


def random_states(noise: Noise, shape: tuple[int, ...]) -> Any:
    """Binary states, each on with probability 1/2 (the random starts of vRDM and hRDM)."""
    return mx.astype(noise.uniform(shape) < 0.5, mx.float32)


def on_probability(
    x: Any, *, sampling: str, distribution: str, beta: float, scale: float = 1.0
) -> Any:
    """The probability that each unit is on (module docstring); the same array shape as ``x``."""
    if beta == math.inf:
        return mx.astype(x > 0, x.dtype)
    z = (beta * scale) * x
    if sampling == "bernoulli":
        return mx.sigmoid(z)
    if distribution == "gaussian":
        return 0.5 * (1.0 + mx.erf(z / math.sqrt(2.0)))
    return mx.clip(0.5 * (1.0 + z), 0.0, 1.0)


def sample_states(
    x: Any,
    noise: Noise,
    *,
    sampling: str,
    distribution: str,
    beta: float,
    scale: float = 1.0,
) -> tuple[Any, Any]:
    r"""Binary states of units with analog values ``x`` (module docstring).

    Args:
        x (array): ``(batch, units)`` analog values.
        noise (Noise): the source of the random numbers (none are drawn at ``beta = inf``).
        sampling (str): ``"bernoulli"``, ``"multi-threshold"`` or ``"single-threshold"``.
        distribution (str): the threshold noise, ``"gaussian"`` or ``"uniform"``.
        beta (float): inverse temperature :math:`\beta > 0`, or ``math.inf``.
        scale (float, optional): :math:`s`. Default: ``1``.

    Returns:
        tuple(array, array): the probability that each unit is on, and the ``float32`` states.
    """
    probability = on_probability(
        x, sampling=sampling, distribution=distribution, beta=beta, scale=scale
    )
    if beta == math.inf:
        return probability, probability
    if sampling == "bernoulli":
        return probability, mx.astype(noise.uniform(x.shape) < probability, mx.float32)
    shape = x.shape if sampling == "multi-threshold" else ()
    if distribution == "gaussian":
        xi = noise.normal(shape)
    else:
        xi = 2.0 * noise.uniform(shape) - 1.0
    return probability, mx.astype(x > xi / beta / scale, mx.float32)
