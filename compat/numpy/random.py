"""Key-based random numbers, as ``mlx.core.random`` and bit for bit equal to it.

A key is a ``uint32`` array of shape ``(2,)``. Random bits are the Threefry-2x32 hash of a
counter under the key (:mod:`ember_mlx.compat._threefry`), laid out exactly as MLX's
``RandomBits`` kernel lays them out. So for the same key :func:`split`, :func:`uniform`,
:func:`bernoulli`, :func:`randint` and :func:`permutation` return MLX's values exactly, and the
samplers built on them (:func:`normal` through ``erfinv``, :func:`gumbel`, ...) agree with MLX to
float rounding: a model seeded with ``mx.random.seed(s)`` starts from the same weights on every
backend. Keyless calls split the global key in :data:`state`, as MLX does.

Every sampler follows MLX's own sequence of ``float32`` operations (see ``mlx/random.cpp``), so
the roundings match too. ``bfloat16`` samples are not available (numpy has no such type).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._threefry import _PARITY, _ROTATIONS, MASK, threefry2x32
from .arrays import as_array, as_shape, to_array
from .dtypes import Dtype, float16, float32, int32, result_dtype, uint32, uint64
from .elementwise import erf, erfinv, promote
from .linalg import svd

# The largest value below 1 in each float type, as float32: uniform samples stay in [0, 1).
_BELOW_ONE = {
    float32: np.nextafter(np.float32(1), np.float32(0)),
    float16: np.float32(1.0 - 2.0**-11),
}
_UINT32_MAX_F32 = np.float32(MASK)  # 2**32 once rounded to float32
_ABOVE_UINT32_MAX = np.nextafter(np.float32(MASK), np.float32(np.inf))
_ABOVE_MINUS_ONE = float(np.nextafter(np.float32(-1), np.float32(0)))

# Up to this many words are hashed with Python ints: cheaper than ~150 tiny numpy calls.
_HOST_WORDS = 32


def key(seed: int) -> np.ndarray:
    """A PRNG key from an integer seed: ``uint32`` ``[seed >> 32, seed & 0xFFFFFFFF]``."""
    return np.array([(seed >> 32) & MASK, seed & MASK], uint32)


state = [key(time.time_ns())]
"""The global key, as ``mlx.core.random.state``: keyless draws split ``state[0]``."""


def seed(seed: int) -> None:
    """Reset the global key to ``key(seed)``, making keyless draws reproducible."""
    state[0] = key(seed)


def _key_words(k: Any) -> tuple[int, int]:
    if not isinstance(k, np.ndarray) or k.dtype != uint32 or k.shape != (2,):
        got = f"{k.dtype} {k.shape}" if isinstance(k, np.ndarray) else type(k).__name__
        raise ValueError(f"random: key must be a uint32 array of shape (2,), got {got}")
    return int(k[0]), int(k[1])


def _threefry_uint32(k0: int, k1: int, x0: np.ndarray, x1: np.ndarray) -> None:
    """:func:`~ember_mlx.compat._threefry.threefry2x32` on ``uint32`` arrays, in place.

    numpy's ``uint32`` arithmetic wraps modulo :math:`2^{32}` like MLX's, so no mask is needed;
    working in place and in 32 bits costs about a third of masked ``uint64`` ops.
    """
    schedule = [np.uint32(w) for w in (k0, k1, k0 ^ k1 ^ _PARITY)]
    x0 += schedule[0]
    x1 += schedule[1]
    high = np.empty_like(x1)
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x0 += x1
            np.right_shift(x1, np.uint32(32 - r), out=high)
            np.left_shift(x1, np.uint32(r), out=x1)
            x1 |= high
            x1 ^= x0
        x0 += schedule[(i + 1) % 3]
        x1 += np.uint32((int(schedule[(i + 2) % 3]) + i + 1) & MASK)


def _words(n: int, k0: int, k1: int) -> np.ndarray:
    """``n`` random ``uint32`` words laid out as MLX's RandomBits kernel lays them out.

    Counter pair ``j`` is ``(j, (j + ceil(n/2)) mod n)``; the first words of the hashes fill
    the first half of the output and the second words the rest.
    """
    half, odd = divmod(n, 2)
    pairs = half + odd
    if n <= _HOST_WORDS:
        hashes = [threefry2x32(k0, k1, j, (j + pairs) % n) for j in range(pairs)]
        return np.array([h[0] for h in hashes] + [h[1] for h in hashes[:half]], uint32)
    # Both halves in one buffer, hashed in place: the output is a view of it.
    words = np.arange(2 * pairs, dtype=uint64).astype(uint32)
    x0, x1 = words[:pairs], words[pairs:]
    if odd:
        x1[-1] = 0  # (pairs - 1 + pairs) mod n
    _threefry_uint32(k0, k1, x0, x1)
    return words[:n]


def _next_key() -> tuple[int, int]:
    """Split the global key: keep one half as the new global key, return the other's words."""
    words = _words(4, *_key_words(state[0]))
    state[0] = words[:2]
    return int(words[2]), int(words[3])


def _bits(shape: tuple[int, ...], k: np.ndarray | None) -> np.ndarray:
    """Random ``uint32`` words of ``shape`` from ``k``, or from the global key."""
    if min(shape, default=0) < 0:
        raise ValueError(f"random: negative dimensions are not allowed, got shape {shape}")
    words = _words(math.prod(shape), *(_next_key() if k is None else _key_words(k)))
    return words.reshape(shape)


def split(key: np.ndarray, num: int = 2, stream: Any = None) -> np.ndarray:
    """``num`` new keys from ``key``, as a ``uint32`` array of shape ``(num, 2)``."""
    return _words(2 * num, *_key_words(key)).reshape(num, 2)


def _unit(shape: tuple[int, ...], dtype: Dtype, k: np.ndarray | None) -> np.ndarray:
    """Uniform samples in ``[0, 1)`` of ``dtype``, computed in float32 as MLX does."""
    if dtype not in _BELOW_ONE:
        raise ValueError(
            f"random: can only sample floating point types float16 and float32 (numpy has no "
            f"bfloat16), got {dtype}"
        )
    u = _bits(shape, k).astype(float32)
    u /= _UINT32_MAX_F32
    return np.minimum(u, _BELOW_ONE[dtype], out=u).astype(dtype, copy=False)


def uniform(
    low: Any = 0,
    high: Any = 1,
    shape: Sequence[int] = (),
    dtype: Dtype | None = float32,
    key: np.ndarray | None = None,
    stream: Any = None,
) -> np.ndarray:
    """Samples from the uniform distribution on ``[low, high)``."""
    dtype = dtype or float32
    shape = as_shape(shape)
    unit_range = low.__class__ in (int, float) and high.__class__ in (int, float)
    if unit_range and (low, high) == (0, 1) and dtype in _BELOW_ONE:
        return _unit(shape, dtype, key)  # 1 * u + 0 is u exactly
    lo = to_array(low, dtype)
    span = to_array(high, dtype) - lo
    if np.broadcast_shapes(shape, span.shape) != shape:
        raise ValueError(
            f"uniform: cannot generate samples of shape {shape} from low/high of broadcast "
            f"shape {span.shape}"
        )
    return span * _unit(shape, dtype, key) + lo


def _symmetric_unit(shape: tuple[int, ...], k: np.ndarray | None) -> np.ndarray:
    """float32 samples on ``(-1, 1)``, the input MLX feeds to ``erfinv`` and the Laplace CDF."""
    return uniform(_ABOVE_MINUS_ONE, 1.0, shape, float32, k)


def normal(
    shape: Sequence[int] = (),
    dtype: Dtype | None = float32,
    loc: Any = None,
    scale: Any = None,
    key: np.ndarray | None = None,
    stream: Any = None,
) -> np.ndarray:
    r"""Samples from :math:`\mathcal{N}(\mathrm{loc}, \mathrm{scale}^2)`, as
    :math:`\sqrt 2\, \operatorname{erfinv}(u)` with :math:`u` uniform on :math:`(-1, 1)`."""
    dtype = dtype or float32
    samples = erfinv(_symmetric_unit(as_shape(shape), key)).astype(dtype, copy=False)
    factor = np.array(math.sqrt(2.0), dtype)
    if scale is not None:
        factor = factor * to_array(scale, dtype)
    samples = factor * samples
    return samples if loc is None else to_array(loc, dtype) + samples


def bernoulli(
    p: Any = 0.5,
    shape: Sequence[int] | None = None,
    key: np.ndarray | None = None,
    stream: Any = None,
) -> np.ndarray:
    """Boolean samples that are true with probability ``p``."""
    p = as_array(p)
    if p.dtype.kind != "f":
        raise ValueError(f"bernoulli: p must be a floating point array, got {p.dtype}")
    shape = p.shape if shape is None else as_shape(shape)
    if np.broadcast_shapes(shape, p.shape) != shape:
        raise ValueError(f"bernoulli: p of shape {p.shape} does not fit shape {shape}")
    # p on the scale [0, just above 2**32 - 1]: p >= 1 is always true, p <= 0 never
    return _bits(shape, key).astype(float32) < p * _ABOVE_UINT32_MAX


def randint(
    low: Any,
    high: Any,
    shape: Sequence[int] = (),
    dtype: Dtype | None = int32,
    key: np.ndarray | None = None,
    stream: Any = None,
) -> np.ndarray:
    """Random integers from ``[low, high)``: the floor of a float32 uniform draw, as MLX.

    The floor is clipped to ``[low, high - 1]``: bounds that float32 cannot represent exactly
    may widen the uniform draw's range.
    """
    dtype = dtype or int32
    if np.dtype(dtype).kind not in "biu":
        raise ValueError(f"randint: dtype must be an integer type, got {dtype}")
    out = np.floor(uniform(low, high, shape, float32, key)).astype(dtype)
    low, high = as_array(low), as_array(high)
    top = (high - np.ones((), high.dtype)).astype(dtype)
    return np.maximum(np.minimum(out, top), low.astype(dtype))


def truncated_normal(
    lower: Any,
    upper: Any,
    shape: Sequence[int] | None = None,
    dtype: Dtype | None = float32,
    key: np.ndarray | None = None,
    stream: Any = None,
) -> np.ndarray:
    """Samples from the standard normal truncated to ``[lower, upper]``, by inverse CDF."""
    dtype = dtype or float32
    root2 = np.array(math.sqrt(2.0), dtype)
    lower, upper = to_array(lower, dtype), to_array(upper, dtype)
    if shape is None:
        shape = np.broadcast_shapes(lower.shape, upper.shape)
    a, b = erf(lower / root2), erf(upper / root2)
    out = root2 * erfinv(uniform(a, b, shape, dtype, key))
    return np.maximum(np.minimum(upper, out), lower)


def gumbel(
    shape: Sequence[int] = (),
    dtype: Dtype | None = float32,
    key: np.ndarray | None = None,
    stream: Any = None,
) -> np.ndarray:
    r"""Samples from the standard Gumbel distribution, :math:`-\log(-\log u)`."""
    u = uniform(0, 1, shape, dtype or float32, key)
    with np.errstate(divide="ignore"):  # u = 0 gives -inf, as in MLX
        return -np.log(-np.log(u))


def laplace(
    shape: Sequence[int] = (),
    dtype: Dtype | None = float32,
    loc: float = 0.0,
    scale: float = 1.0,
    key: np.ndarray | None = None,
    stream: Any = None,
) -> np.ndarray:
    r"""Samples from the Laplace distribution, by inverse CDF
    :math:`\operatorname{sign}(u) \log(1 - |u|)` with :math:`u` uniform on :math:`(-1, 1)`."""
    dtype = dtype or float32
    u = _symmetric_unit(as_shape(shape), key)
    samples = (np.sign(u) * np.log1p(-np.abs(u))).astype(dtype, copy=False)
    if scale != 1.0:
        samples = np.array(scale, dtype) * samples
    if loc != 0.0:
        samples = np.array(loc, dtype) + samples
    return samples


def multivariate_normal(
    mean: Any,
    cov: Any,
    shape: Sequence[int] = (),
    dtype: Dtype | None = float32,
    key: np.ndarray | None = None,
    stream: Any = None,
) -> np.ndarray:
    r"""Samples from :math:`\mathcal{N}(\mathrm{mean}, \mathrm{cov})`.

    The covariance's square root comes from its SVD, :math:`U \sqrt{S} V^\top`, as in MLX.
    """
    if dtype not in (None, float32):
        raise ValueError(f"multivariate_normal: dtype must be float32, got {dtype}")
    mean, cov = to_array(mean, float32), to_array(cov, float32)
    if mean.ndim < 1 or cov.ndim < 2 or cov.shape[-1] != cov.shape[-2]:
        raise ValueError(
            f"multivariate_normal: mean must have >= 1 axis and cov be square in its last two; "
            f"got mean {mean.shape}, cov {cov.shape}"
        )
    if mean.shape[-1] != cov.shape[-1]:
        raise ValueError(
            f"multivariate_normal: mean {mean.shape} and cov {cov.shape} differ in size"
        )
    batch = np.broadcast_shapes(cov.shape[:-2], mean.shape[:-1], as_shape(shape))
    u, s, vt = svd(cov)
    root = (u * np.sqrt(s)[..., None, :]) @ vt
    z = normal((*batch, mean.shape[-1]), float32, key=key)
    return mean + (z[..., None, :] @ root)[..., 0, :]


def _inverse_cdf(logits: np.ndarray, shape: tuple[int, ...], k: np.ndarray | None) -> np.ndarray:
    """Draws from one categorical distribution by inverting its CDF, as MLX does when the
    logits hold a single distribution and several samples are asked for."""
    dtype = result_dtype(logits.dtype, float32)
    x = logits.astype(dtype, copy=False)
    m = np.max(x)
    with np.errstate(invalid="ignore"):  # exp(inf - inf), discarded by the where
        # an infinite maximum makes the distribution uniform over the maximal entries
        w = np.where(np.isinf(m), (x == m).astype(dtype), np.exp(x - m))
    cdf = np.concatenate([np.zeros(1, dtype), np.cumsum(w[:-1], dtype=dtype)])
    u = np.multiply(*promote(uniform(0, 1, shape, float32, k), np.asarray(np.sum(w))))
    return (np.searchsorted(cdf, u, side="right") - 1).astype(uint32)


def categorical(
    logits: Any,
    axis: int = -1,
    shape: Sequence[int] | None = None,
    num_samples: int | None = None,
    key: np.ndarray | None = None,
    stream: Any = None,
) -> np.ndarray:
    """Category indices (``uint32``) drawn with probabilities ``softmax(logits, axis)``.

    As in MLX: by inverse CDF when ``logits`` hold one distribution and a sample shape is
    given, otherwise by the Gumbel-max trick, ``argmax(logits + gumbel)``.
    """
    logits = as_array(logits)
    if shape is not None and num_samples is not None:
        raise ValueError("categorical: give at most one of shape and num_samples")
    if not -logits.ndim <= axis < logits.ndim:
        raise ValueError(f"categorical: axis {axis} is out of range for {logits.ndim} axes")
    axis %= logits.ndim
    reduced = (*logits.shape[:axis], *logits.shape[axis + 1 :])
    if num_samples is not None:
        logits = logits[..., None]
        shape = (*reduced, num_samples)
    elif shape is None:
        shape = reduced
    else:
        shape = as_shape(shape)
        if np.broadcast_shapes(shape, reduced) != shape:
            raise ValueError(
                f"categorical: shape {shape} does not broadcast with the logits' shape "
                f"{reduced} without axis {axis}"
            )
    n = logits.shape[axis]
    if n > 0 and logits.size == n and shape:
        return _inverse_cdf(logits.reshape(n), shape, key)
    offset = axis + len(shape) - logits.ndim + 1
    noise_shape = (*shape[:offset], n, *shape[offset:])
    return np.argmax(gumbel(noise_shape, float32, key) + logits, axis=offset).astype(uint32)


def permutation(
    x: int | np.ndarray, axis: int = 0, key: np.ndarray | None = None, stream: Any = None
) -> np.ndarray:
    """A random permutation of ``range(x)`` (``uint32``), or of ``x`` along ``axis``."""
    if isinstance(x, int):
        return np.argsort(_bits((x,), key), kind="stable").astype(uint32)
    x = as_array(x)
    return np.take(x, permutation(x.shape[axis], key=key), axis)
