"""Random arrays, key-based as in MLX.

Every sampler takes an optional ``key`` (``mx.random.key(seed)``, split with
``mx.random.split``): the same key gives the same draw. Without a key a draw consumes the
global random state, which :func:`set_seed` resets, so seeded programs repeat exactly.

The uniform, normal, Bernoulli, categorical and permutation draws are MLX's own; gamma,
exponential and Poisson draws are built here from uniform and normal ones (MLX has no such
samplers), with the classic algorithms named in each docstring.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ember_mlx.backend import mx

from .dtypes import get_dtype, to_dtype_str

_state: dict[str, int | None] = {"seed": None}


def set_seed(seed: int) -> None:
    """Reset the global random state: keyless draws after this repeat for the same ``seed``."""
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"set_seed: seed must be an int, got {type(seed).__name__}")
    mx.random.seed(seed)
    _state["seed"] = seed


def get_seed() -> int | None:
    """The last seed given to :func:`set_seed` in this process (``None`` if never called)."""
    return _state["seed"]


def _shape(shape: int | Sequence[int]) -> tuple[int, ...]:
    return (shape,) if isinstance(shape, int) else tuple(shape)


def _key(key: mx.array | None) -> mx.array:
    """``key``, or a fresh key drawn from the global state (so ``set_seed`` governs it)."""
    if key is not None:
        return key
    return mx.astype(mx.random.randint(0, 2**31 - 1, shape=(2,)), mx.uint32)


def _float_dtype(dtype: Any) -> Any:
    dtype = get_dtype(dtype)
    return mx.float32 if dtype is None else dtype


def _positive(name: str, param: str, value: mx.array, allow_zero: bool = False) -> None:
    ok = value >= 0 if allow_zero else value > 0
    if not mx.all(ok).item():
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name}: {param} must be {bound} everywhere, and not NaN")


def _broadcast_param(value: Any, shape: tuple[int, ...]) -> mx.array:
    return mx.broadcast_to(mx.astype(mx.array(value), mx.float32), shape)


def random_uniform(
    shape: int | Sequence[int],
    minval: float = 0.0,
    maxval: float = 1.0,
    dtype: Any = None,
    key: mx.array | None = None,
) -> mx.array:
    """Samples from the uniform distribution on ``[minval, maxval)`` (float32 by default)."""
    return mx.random.uniform(minval, maxval, _shape(shape), dtype=_float_dtype(dtype), key=key)


def random_normal(
    shape: int | Sequence[int],
    mean: float = 0.0,
    stddev: float = 1.0,
    dtype: Any = None,
    key: mx.array | None = None,
) -> mx.array:
    r"""Samples from :math:`\mathcal{N}(\text{mean}, \text{stddev}^2)` (float32 by default)."""
    return mx.random.normal(
        _shape(shape), dtype=_float_dtype(dtype), loc=mean, scale=stddev, key=key
    )


def random_bernoulli(
    shape: int | Sequence[int],
    p: float | mx.array = 0.5,
    dtype: Any = None,
    key: mx.array | None = None,
) -> mx.array:
    """Ones with probability ``p``, zeros otherwise, as float32 (``dtype=bool_`` for masks)."""
    return mx.astype(mx.random.bernoulli(p, _shape(shape), key=key), _float_dtype(dtype))


def random_exponential(
    shape: int | Sequence[int],
    scale: float | mx.array = 1.0,
    dtype: Any = None,
    key: mx.array | None = None,
) -> mx.array:
    r"""Samples of the exponential distribution with mean ``scale``, by inversion.

    .. math::

        X = -\text{scale} \, \log(1 - U), \qquad U \sim \mathcal{U}[0, 1)
    """
    shape = _shape(shape)
    scale = _broadcast_param(scale, shape)
    _positive("random_exponential", "scale", scale)
    u = mx.random.uniform(shape=shape, key=key)
    return mx.astype(-scale * mx.log1p(-u), _float_dtype(dtype))


def random_gamma(
    shape: int | Sequence[int],
    alpha: float | mx.array = 1.0,
    beta: float | mx.array = 1.0,
    dtype: Any = None,
    key: mx.array | None = None,
) -> mx.array:
    r"""Samples of the gamma distribution with shape ``alpha`` and scale ``beta``.

    The density is :math:`x^{\alpha-1} e^{-x/\beta} / (\Gamma(\alpha)\beta^\alpha)`, with mean
    :math:`\alpha\beta` and variance :math:`\alpha\beta^2`. Marsaglia and Tsang's rejection
    method (2000): with :math:`d = \alpha - 1/3`, :math:`c = 1/\sqrt{9d}`, :math:`Z` normal and
    :math:`V = (1 + cZ)^3`, accept :math:`dV` when
    :math:`\log U < Z^2/2 + d - dV + d\log V`. For :math:`\alpha < 1` a
    :math:`\text{Gamma}(\alpha + 1)` draw is scaled by :math:`U^{1/\alpha}`. All elements are
    drawn together; rejected ones are redrawn (each round accepts over 95%).
    """
    shape = _shape(shape)
    alpha = _broadcast_param(alpha, shape)
    beta = _broadcast_param(beta, shape)
    _positive("random_gamma", "alpha", alpha)
    _positive("random_gamma", "beta", beta)
    boost_key, key = mx.random.split(_key(key))
    boosted = alpha < 1
    d = mx.where(boosted, alpha + 1, alpha) - 1 / 3
    c = 1 / mx.sqrt(9 * d)
    sample = mx.zeros(shape)
    done = mx.zeros(shape, dtype=mx.bool_)
    while True:
        key, z_key, u_key = mx.random.split(key, 3)
        z = mx.random.normal(shape, key=z_key)
        u = mx.random.uniform(shape=shape, key=u_key)  # 1 - u is uniform on (0, 1]
        v = (1 + c * z) ** 3
        log_v = mx.log(mx.maximum(v, 1e-30))
        accept = mx.logical_and(v > 0, mx.log1p(-u) < 0.5 * z * z + d - d * v + d * log_v)
        sample = mx.where(mx.logical_and(accept, mx.logical_not(done)), d * v, sample)
        done = mx.logical_or(done, accept)
        if mx.all(done).item():
            break
    u = mx.random.uniform(shape=shape, key=boost_key)
    sample = sample * mx.where(boosted, u ** (1 / alpha), 1.0)
    return mx.astype(sample * beta, _float_dtype(dtype))


_LOG_FACTORIALS = [math.lgamma(k + 1) for k in range(10)]


def _log_poisson_pmf(k: mx.array, lam: mx.array) -> mx.array:
    r""":math:`\log(\lambda^k e^{-\lambda} / k!)` for float ``k >= 0``, accurate in float32.

    ``k < 10`` uses exact :math:`\log k!`; above, Stirling's series is rearranged as
    :math:`(k - \lambda) + k \log(1 + (\lambda - k)/k) - \tfrac12\log(2\pi k) - c(k)`
    so that the large, nearly cancelling terms never appear.
    """
    table = mx.array(_LOG_FACTORIALS)
    exact = k * mx.log(lam) - lam - mx.take(table, mx.astype(mx.clip(k, 0, 9), mx.int32))
    big = mx.maximum(k, 10.0)
    inverse = 1 / big  # 1260 * k**5 would overflow float32 for k above 1.2e7
    correction = inverse / 12 - inverse**3 / 360 + inverse**5 / 1260
    stirling = (
        (big - lam)
        + big * mx.log1p((lam - big) / big)
        - 0.5 * mx.log(2 * math.pi * big)
        - correction
    )
    return mx.where(k < 10, exact, stirling)


def _poisson_ceiling(lam: Any) -> Any:
    r""":math:`\lambda + 10\sqrt\lambda + 20`, past which the Poisson mass is below float32
    resolution."""
    return lam + 10 * lam**0.5 + 20


def _poisson_inversion(lam: mx.array, key: mx.array) -> mx.array:
    r"""Poisson draws by sequential search of the CDF (for small ``lam``).

    The search runs a fixed :func:`_poisson_ceiling` of :math:`\lambda_{max}` steps, past which
    the remaining mass is below float32 resolution; ``u`` is scaled by the mass actually summed
    so rounding in the CDF can never push a draw past the last step.
    """
    steps = int(_poisson_ceiling(mx.max(lam).item()))
    pmf = mx.exp(-lam)
    total = pmf
    for k in range(1, steps):
        pmf = pmf * lam / k
        total = total + pmf
    u = mx.random.uniform(shape=lam.shape, key=key) * total
    pmf = mx.exp(-lam)
    cdf = pmf
    count = mx.zeros(lam.shape, dtype=mx.int32)
    for k in range(1, steps):
        count = count + mx.astype(u >= cdf, mx.int32)
        pmf = pmf * lam / k
        cdf = cdf + pmf
    return count


def _poisson_ptrs(lam: mx.array, key: mx.array) -> mx.array:
    """Poisson draws by Hörmann's transformed rejection with squeeze (PTRS, 1993), ``lam >= 10``."""
    b = 0.931 + 2.53 * mx.sqrt(lam)
    a = -0.059 + 0.02483 * b
    log_inv_alpha = mx.log(1.1239 + 1.1328 / (b - 3.4))
    v_r = 0.9277 - 3.6224 / (b - 2)
    sample = mx.zeros(lam.shape)
    done = mx.zeros(lam.shape, dtype=mx.bool_)
    while True:
        key, u_key, v_key = mx.random.split(key, 3)
        u = mx.random.uniform(shape=lam.shape, key=u_key) - 0.5
        v = mx.random.uniform(shape=lam.shape, key=v_key)
        us = mx.maximum(0.5 - mx.abs(u), 1e-7)
        k = mx.floor((2 * a / us + b) * u + lam + 0.43)
        squeeze = mx.logical_and(us >= 0.07, v <= v_r)
        in_range = mx.logical_and(k >= 0, mx.logical_or(us >= 0.013, v <= us))
        bound = mx.log(mx.maximum(v, 1e-30)) + log_inv_alpha - mx.log(a / (us * us) + b)
        likely = bound <= _log_poisson_pmf(mx.maximum(k, 0), lam)
        accept = mx.logical_or(squeeze, mx.logical_and(in_range, likely))
        sample = mx.where(mx.logical_and(accept, mx.logical_not(done)), k, sample)
        done = mx.logical_or(done, accept)
        if mx.all(done).item():
            break
    return mx.astype(sample, mx.int32)


def random_poisson(
    shape: int | Sequence[int],
    lam: float | mx.array = 1.0,
    dtype: Any = None,
    key: mx.array | None = None,
) -> mx.array:
    r"""Samples of the Poisson distribution with rate ``lam`` (int32 by default).

    :math:`P(X = k) = \lambda^k e^{-\lambda} / k!`. As numpy: inversion for
    :math:`\lambda < 10`, Hörmann's PTRS rejection sampler above.

    Counts are computed in float32, exact up to :math:`2^{24}`, so the rate is bounded: every
    draw's practical ceiling :math:`\lambda + 10\sqrt\lambda + 20` must be at most
    :math:`2^{24}` (:math:`\lambda \lesssim 1.67 \cdot 10^7`) and, for an integer ``dtype``,
    at most its largest value (``lam <= 123`` for uint8, for example).

    Raises:
        ValueError: ``lam`` is negative, NaN, infinite or above that bound somewhere.
    """
    shape = _shape(shape)
    lam = _broadcast_param(lam, shape)
    _positive("random_poisson", "lam", lam, allow_zero=True)
    dtype = get_dtype(dtype)
    limit, bound = 2**24, "exact float32 counts"
    if dtype is not None and mx.issubdtype(dtype, mx.integer) and mx.iinfo(dtype).max < limit:
        limit, bound = int(mx.iinfo(dtype).max), f"the range of {to_dtype_str(dtype)}"
    if not mx.all(_poisson_ceiling(lam) <= limit).item():
        raise ValueError(
            f"random_poisson: lam value too large for {bound}: expected finite lam with "
            f"lam + 10*sqrt(lam) + 20 <= {limit}, got lam up to {mx.max(lam).item()}"
        )
    small_key, large_key = mx.random.split(_key(key))
    small = lam < 10
    sample = _poisson_inversion(mx.where(small, lam, 0.0), small_key)
    if not mx.all(small).item():
        sample = mx.where(small, sample, _poisson_ptrs(mx.where(small, 10.0, lam), large_key))
    return mx.astype(sample, mx.int32 if dtype is None else dtype)


def random_categorical(
    logits: mx.array, num_samples: int = 1, dtype: Any = None, key: mx.array | None = None
) -> mx.array:
    """``num_samples`` class indices per row of unnormalized log-probabilities ``logits``.

    Returns:
        ``(*logits.shape[:-1], num_samples)`` indices, int32 unless ``dtype`` says otherwise.
    """
    dtype = get_dtype(dtype)
    draws = mx.random.categorical(logits, num_samples=num_samples, key=key)
    return mx.astype(draws, mx.int32 if dtype is None else dtype)


def random_permutation(x: int | mx.array, key: mx.array | None = None) -> mx.array:
    """A random ordering of ``arange(x)`` (int32) or of the rows of the array ``x``."""
    permuted = mx.random.permutation(x, key=key)
    return mx.astype(permuted, mx.int32) if isinstance(x, int) else permuted


def shuffle(x: mx.array, key: mx.array | None = None) -> mx.array:
    """``x`` with its rows (first axis) in random order."""
    return mx.random.permutation(x, axis=0, key=key)
