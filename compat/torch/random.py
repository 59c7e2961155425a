"""Key-based random numbers, as ``mlx.core.random`` and bit for bit equal to it.

A key is a ``uint32`` array of shape ``(2,)``. Random bits are the Threefry-2x32 hash of a
counter under the key (:mod:`ember_mlx.compat._threefry`), laid out exactly as MLX's
``RandomBits`` kernel lays them out. So for the same key :func:`split`, :func:`uniform`,
:func:`bernoulli`, :func:`randint` and :func:`permutation` return MLX's values exactly, and the
samplers built on them (:func:`normal` through ``erfinv``, :func:`gumbel`, ...) agree with MLX to
float rounding: a model seeded with ``mx.random.seed(s)`` starts from the same weights on every
backend.

Keys live on the host (CPU), where they are read: splitting a key never waits for the GPU.
Large draws hash their counters as in-place torch ``int32`` ops on the default device (the
``uint32`` bits in two's complement, see :func:`_threefry_int32`); small ones hash in Python
ints. Keyless calls split the global key in :data:`state`, as MLX does.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .._threefry import _PARITY, _ROTATIONS, threefry2x32
from .._threefry import MASK as _MASK
from .arrays import to_array
from .dtypes import Dtype, bfloat16, float16, float32, int32, int64, uint32

# The largest value below 1 in each float type, as float32: uniform samples stay in [0, 1).
_BELOW_ONE = {
    float32: float(np.nextafter(np.float32(1), np.float32(0))),
    float16: 1.0 - 2.0**-11,
    bfloat16: 1.0 - 2.0**-8,
}
_UINT32_MAX_F32 = float(np.float32(_MASK))  # 2**32 once rounded to float32
_ABOVE_UINT32_MAX = float(np.nextafter(np.float32(_MASK), np.float32(np.inf)))
_ABOVE_MINUS_ONE = float(np.nextafter(np.float32(-1), np.float32(0)))


def key(seed: int) -> Tensor:
    """A PRNG key from an integer seed: ``uint32`` ``[seed >> 32, seed & 0xFFFFFFFF]``."""
    return torch.tensor([(seed >> 32) & _MASK, seed & _MASK], dtype=uint32, device="cpu")


state = [key(time.time_ns())]
"""The global key, as ``mlx.core.random.state``: keyless draws split ``state[0]``."""


def seed(seed: int) -> None:
    """Reset the global key to ``key(seed)``, making keyless draws reproducible."""
    state[0] = key(seed)


def _key_words(k: Any) -> tuple[int, int]:
    """The two 32-bit words of a key, read on the host."""
    if not isinstance(k, Tensor) or k.dtype != uint32 or tuple(k.shape) != (2,):
        got = f"{k.dtype} {tuple(k.shape)}" if isinstance(k, Tensor) else type(k).__name__
        raise ValueError(f"random: key must be a uint32 array of shape (2,), got {got}")
    k0, k1 = k.tolist()
    return k0, k1


# Up to this many words are hashed with Python ints: cheaper than ~150 tiny tensor ops.
_HOST_WORDS = 32


def _int32(word: int) -> int:
    """A ``uint32`` word as the ``int32`` with the same bits."""
    return word - 2**32 if word >= 2**31 else word


def _threefry_int32(k0: int, k1: int, x0: Tensor, x1: Tensor) -> tuple[Tensor, Tensor]:
    """:func:`~ember_mlx.compat._threefry.threefry2x32` on ``int32`` tensors, in place.

    ``int32`` addition, xor, or and left shift give the bits of their ``uint32`` counterparts
    (two's complement wraps the same way); the arithmetic right shift is masked to a logical
    one. In place and in ``int32``, the hash costs about a tenth of masked ``int64`` ops, which
    allocate a new tensor per op.
    """
    schedule = (k0, k1, k0 ^ k1 ^ _PARITY)
    x0.add_(_int32(k0))
    x1.add_(_int32(k1))
    low = torch.empty_like(x1)
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x0.add_(x1)
            torch.bitwise_right_shift(x1, 32 - r, out=low).bitwise_and_((1 << r) - 1)
            x1.bitwise_left_shift_(r).bitwise_or_(low).bitwise_xor_(x0)
        x0.add_(_int32(schedule[(i + 1) % 3]))
        x1.add_(_int32((schedule[(i + 2) % 3] + i + 1) & _MASK))
    return x0, x1


def _words(n: int, k0: int, k1: int) -> list[int] | Tensor:
    """``n`` random 32-bit words laid out as MLX's RandomBits kernel lays them out.

    Counter pair ``j`` is ``(j, (j + ceil(n/2)) mod n)``; the first words of the hashes fill
    the first half of the output and the second words the rest. Small ``n`` gives a list,
    large ``n`` a ``uint32`` tensor on the default device. Both halves live in one buffer,
    hashed in place, so the output is a view of it.
    """
    half, odd = divmod(n, 2)
    pairs = half + odd
    if n <= _HOST_WORDS:
        hashes = [threefry2x32(k0, k1, j, (j + pairs) % n) for j in range(pairs)]
        return [h[0] for h in hashes] + [h[1] for h in hashes[:half]]
    words = torch.empty(2 * pairs, dtype=int32)
    x0, x1 = words[:pairs], words[pairs:]
    x0.copy_(torch.arange(pairs, dtype=int64))
    x1.copy_(torch.arange(pairs, 2 * pairs, dtype=int64))  # int32 copies wrap like uint32
    if odd:
        x1[-1] = 0  # (pairs - 1 + pairs) mod n
    _threefry_int32(k0, k1, x0, x1)
    return words[:n].view(uint32)


def _next_key() -> tuple[int, int]:
    """Split the global key: keep one half as the new global key, return the other's words."""
    words = _words(4, *_key_words(state[0]))
    state[0] = torch.tensor(words[:2], dtype=uint32, device="cpu")
    return words[2], words[3]


def _bits(shape: tuple[int, ...], k: Tensor | None) -> Tensor:
    """Random 32-bit words of ``shape`` (``uint32``, or ``int64`` when few) from ``k``, or from
    the global key."""
    if min(shape, default=0) < 0:
        raise ValueError(f"random: negative dimensions are not allowed, got shape {shape}")
    words = _words(math.prod(shape), *(_next_key() if k is None else _key_words(k)))
    if isinstance(words, list):
        words = torch.tensor(words, dtype=int64)
    return words.reshape(shape)


def split(key: Tensor, num: int = 2, stream: Any = None) -> Tensor:
    """``num`` new keys from ``key``, as a ``uint32`` array of shape ``(num, 2)``."""
    words = _words(2 * num, *_key_words(key))
    if isinstance(words, list):
        return torch.tensor(words, dtype=uint32, device="cpu").reshape(num, 2)
    return words.to("cpu", uint32).reshape(num, 2)


def _shape(shape: Sequence[int] | int) -> tuple[int, ...]:
    return (shape,) if isinstance(shape, int) else tuple(shape)


def _unit(shape: tuple[int, ...], dtype: Dtype, k: Tensor | None) -> Tensor:
    """Uniform samples in ``[0, 1)`` of ``dtype``, computed in float32 as MLX does."""
    if dtype not in _BELOW_ONE:
        raise ValueError(
            f"random: can only sample floating point types float16, bfloat16 and float32, "
            f"got {dtype}"
        )
    u = _bits(shape, k).to(float32)
    return u.div_(_UINT32_MAX_F32).clamp_max_(_BELOW_ONE[dtype]).to(dtype)


def uniform(
    low: Any = 0,
    high: Any = 1,
    shape: Sequence[int] = (),
    dtype: Dtype | None = float32,
    key: Tensor | None = None,
    stream: Any = None,
) -> Tensor:
    """Samples from the uniform distribution on ``[low, high)``."""
    dtype = dtype or float32
    shape = _shape(shape)
    if low.__class__ in (int, float) and high.__class__ in (int, float) and (low, high) == (0, 1):
        return _unit(shape, dtype, key)  # 1 * u + 0 is u exactly
    lo = to_array(low, dtype)
    span = to_array(high, dtype) - lo
    if torch.broadcast_shapes(shape, span.shape) != shape:
        raise ValueError(
            f"uniform: cannot generate samples of shape {shape} from low/high of broadcast "
            f"shape {tuple(span.shape)}"
        )
    return span * _unit(shape, dtype, key) + lo


def _symmetric_unit(shape: tuple[int, ...], k: Tensor | None) -> Tensor:
    """float32 samples on ``(-1, 1)``, the input MLX feeds to ``erfinv`` and the Laplace CDF."""
    return uniform(_ABOVE_MINUS_ONE, 1.0, shape, float32, k)


def normal(
    shape: Sequence[int] = (),
    dtype: Dtype | None = float32,
    loc: Any = None,
    scale: Any = None,
    key: Tensor | None = None,
    stream: Any = None,
) -> Tensor:
    r"""Samples from :math:`\mathcal{N}(\mathrm{loc}, \mathrm{scale}^2)`, as
    :math:`\sqrt 2\, \operatorname{erfinv}(u)` with :math:`u` uniform on :math:`(-1, 1)`."""
    dtype = dtype or float32
    samples = torch.erfinv(_symmetric_unit(_shape(shape), key)).to(dtype)
    factor = torch.tensor(math.sqrt(2.0), dtype=dtype)
    if scale is not None:
        factor = factor * to_array(scale, dtype)
    samples = factor * samples
    return samples if loc is None else to_array(loc, dtype) + samples


def bernoulli(
    p: Any = 0.5,
    shape: Sequence[int] | None = None,
    key: Tensor | None = None,
    stream: Any = None,
) -> Tensor:
    """Boolean samples that are true with probability ``p``."""
    p = to_array(p)
    if not p.is_floating_point():
        raise ValueError(f"bernoulli: p must be a floating point array, got {p.dtype}")
    shape = tuple(p.shape) if shape is None else _shape(shape)
    if torch.broadcast_shapes(shape, p.shape) != shape:
        raise ValueError(f"bernoulli: p of shape {tuple(p.shape)} does not fit shape {shape}")
    return _bits(shape, key).to(float32) < p * _ABOVE_UINT32_MAX


def randint(
    low: Any,
    high: Any,
    shape: Sequence[int] = (),
    dtype: Dtype | None = int32,
    key: Tensor | None = None,
    stream: Any = None,
) -> Tensor:
    """Random integers from ``[low, high)``: the floor of a float32 uniform draw, as MLX.

    The floor is clipped to ``[low, high - 1]``: bounds that float32 cannot represent exactly
    may widen the uniform draw's range.
    """
    dtype = dtype or int32
    if dtype.is_floating_point or dtype.is_complex:
        raise ValueError(f"randint: dtype must be an integer type, got {dtype}")
    out = torch.floor(uniform(low, high, shape, float32, key)).to(dtype)
    low, high = to_array(low), to_array(high)
    top = (high - torch.ones((), dtype=high.dtype)).to(dtype)
    return torch.maximum(torch.minimum(out, top), low.to(dtype))


def truncated_normal(
    lower: Any,
    upper: Any,
    shape: Sequence[int] | None = None,
    dtype: Dtype | None = float32,
    key: Tensor | None = None,
    stream: Any = None,
) -> Tensor:
    """Samples from the standard normal truncated to ``[lower, upper]``, by inverse CDF."""
    dtype = dtype or float32
    root2 = torch.tensor(math.sqrt(2.0), dtype=dtype)
    lower, upper = to_array(lower, dtype), to_array(upper, dtype)
    if shape is None:
        shape = torch.broadcast_shapes(lower.shape, upper.shape)
    a, b = torch.erf(lower / root2), torch.erf(upper / root2)
    out = root2 * torch.erfinv(uniform(a, b, shape, dtype, key))
    return torch.maximum(torch.minimum(upper, out), lower)


def gumbel(
    shape: Sequence[int] = (),
    dtype: Dtype | None = float32,
    key: Tensor | None = None,
    stream: Any = None,
) -> Tensor:
    r"""Samples from the standard Gumbel distribution, :math:`-\log(-\log u)`."""
    return -torch.log(-torch.log(uniform(0, 1, shape, dtype or float32, key)))


def laplace(
    shape: Sequence[int] = (),
    dtype: Dtype | None = float32,
    loc: float = 0.0,
    scale: float = 1.0,
    key: Tensor | None = None,
    stream: Any = None,
) -> Tensor:
    r"""Samples from the Laplace distribution, by inverse CDF
    :math:`\operatorname{sign}(u) \log(1 - |u|)` with :math:`u` uniform on :math:`(-1, 1)`."""
    dtype = dtype or float32
    u = _symmetric_unit(_shape(shape), key)
    samples = (torch.sign(u) * torch.log1p(-torch.abs(u))).to(dtype)
    if scale != 1.0:
        samples = torch.tensor(scale, dtype=dtype) * samples
    if loc != 0.0:
        samples = torch.tensor(loc, dtype=dtype) + samples
    return samples


def multivariate_normal(
    mean: Any,
    cov: Any,
    shape: Sequence[int] = (),
    dtype: Dtype | None = float32,
    key: Tensor | None = None,
    stream: Any = None,
) -> Tensor:
    r"""Samples from :math:`\mathcal{N}(\mathrm{mean}, \mathrm{cov})`.

    The covariance's square root comes from its SVD, :math:`U \sqrt{S} V^\top`, as in MLX.
    """
    if dtype not in (None, float32):
        raise ValueError(f"multivariate_normal: dtype must be float32, got {dtype}")
    mean, cov = to_array(mean, float32), to_array(cov, float32)
    if mean.ndim < 1 or cov.ndim < 2 or cov.shape[-1] != cov.shape[-2]:
        raise ValueError(
            f"multivariate_normal: mean must have >= 1 axis and cov be square in its last two; "
            f"got mean {tuple(mean.shape)}, cov {tuple(cov.shape)}"
        )
    if mean.shape[-1] != cov.shape[-1]:
        raise ValueError(
            f"multivariate_normal: mean {tuple(mean.shape)} and cov {tuple(cov.shape)} differ "
            f"in size"
        )
    batch = torch.broadcast_shapes(cov.shape[:-2], mean.shape[:-1], _shape(shape))
    u, s, vt = torch.linalg.svd(cov)
    root = (u * torch.sqrt(s)[..., None, :]) @ vt
    z = normal((*batch, mean.shape[-1]), float32, key=key)
    return mean + (z[..., None, :] @ root)[..., 0, :]


def _inverse_cdf(logits: Tensor, shape: tuple[int, ...], key: Tensor | None) -> Tensor:
    """Draws from one categorical distribution by inverting its CDF, as MLX does when the
    logits hold a single distribution and several samples are asked for."""
    x = logits.to(torch.promote_types(logits.dtype, float32))
    m = torch.max(x)
    # an infinite maximum makes the distribution uniform over the maximal entries
    w = (x == m).to(x.dtype) if torch.isinf(m) else torch.exp(x - m)
    cdf = torch.cat([torch.zeros(1, dtype=x.dtype), torch.cumsum(w[:-1], 0)])
    u = uniform(0, 1, shape, float32, key) * torch.sum(w)
    return torch.searchsorted(cdf, u, right=True) - 1


def categorical(
    logits: Any,
    axis: int = -1,
    shape: Sequence[int] | None = None,
    num_samples: int | None = None,
    key: Tensor | None = None,
    stream: Any = None,
) -> Tensor:
    """Category indices (``int64``) drawn with probabilities ``softmax(logits, axis)``.

    As in MLX: by inverse CDF when ``logits`` hold one distribution and a sample shape is
    given, otherwise by the Gumbel-max trick, ``argmax(logits + gumbel)``.
    """
    logits = to_array(logits)
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
        shape = _shape(shape)
        if torch.broadcast_shapes(shape, reduced) != shape:
            raise ValueError(
                f"categorical: shape {shape} does not broadcast with the logits' shape "
                f"{reduced} without axis {axis}"
            )
    n = logits.shape[axis]
    if n > 0 and logits.numel() == n and shape:
        return _inverse_cdf(logits.reshape(n), shape, key)
    offset = axis + len(shape) - logits.ndim + 1
    noise_shape = (*shape[:offset], n, *shape[offset:])
    return torch.argmax(gumbel(noise_shape, float32, key) + logits, dim=offset)


def permutation(
    x: int | Tensor, axis: int = 0, key: Tensor | None = None, stream: Any = None
) -> Tensor:
    """A random permutation of ``range(x)``, or of ``x`` along ``axis`` (indices as int64)."""
    if isinstance(x, int):
        return torch.argsort(_bits((x,), key).to(int64), stable=True)
    x = to_array(x)
    order = permutation(x.shape[axis], key=key)
    return torch.index_select(x, axis, order.to(x.device))
