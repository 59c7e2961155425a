"""A counter-based random number generator shared by the Metal kernels and their reference paths.

Each random number is a pure function of four 32-bit words, with no state carried between
draws: the Threefry-2x32 block cipher with 20 rounds (Salmon et al., *Parallel random numbers:
as easy as 1, 2, 3*, SC 2011 — the generator behind ``jax.random`` and ``mx.random``) encrypts
the counter ``(unit, draw)`` under the key ``(seed, chain)``. A kernel thread can therefore make
the number for its own ``(chain, unit)`` without talking to any other thread, and this module
makes the very same number from ``mx`` integer ops on every backend.

The Metal twin of :func:`threefry2x32` is ``ember_threefry2x32`` in ``metal/ember_random.h``; the
two are kept bit-identical by the tests (known-answer vectors from Random123 and a kernel run).

**Words.** The cipher works on ``uint32`` words; here they are held in ``int32`` (two's
complement, the same 32 bits). Addition, xor, or and left shifts give the same bits in both
types, and the one signed difference, the arithmetic right shift, is masked back to a logical
one. ``int32`` has fast native kernels on every backend (the torch mirror emulates ``uint32``
through ``int64``, which made the generator ten times slower there).
"""

from __future__ import annotations

import math
from typing import Any

from ember_mlx.backend import mx

_ROTATIONS = (13, 15, 26, 6, 17, 29, 16, 24)
_PARITY = 0x1BD11BDA  # Threefry's key-schedule constant
_TWO_PI = 2.0 * math.pi


def _word(x: Any) -> Any:
    """A ``uint32`` word (a Python int in :math:`[0, 2^{32})` or an integer array) as ``int32``
    holding the same 32 bits."""
    if isinstance(x, int):
        if not 0 <= x < 2**32:
            raise ValueError(f"counter words must be in [0, 2**32), got {x}")
        return mx.array(x - 2**32 if x >= 2**31 else x, dtype=mx.int32)
    return x if x.dtype == mx.int32 else mx.astype(x, mx.int32)


def _rotl(x: Any, r: int) -> Any:
    """Rotate the 32 bits of ``x`` left by ``r``; the mask turns the arithmetic right shift of
    ``int32`` into a logical one."""
    low = mx.bitwise_and(mx.right_shift(x, 32 - r), (1 << r) - 1)
    return mx.bitwise_or(mx.left_shift(x, r), low)


def _threefry_words(key0: Any, key1: Any, counter0: Any, counter1: Any) -> tuple[Any, Any]:
    """:func:`threefry2x32` on ``int32``-held words (see the module docstring)."""
    k0, k1 = _word(key0), _word(key1)
    schedule = (k0, k1, mx.bitwise_xor(mx.bitwise_xor(k0, k1), _PARITY))
    x0 = mx.add(_word(counter0), k0)
    x1 = mx.add(_word(counter1), k1)
    for i in range(20):
        x0 = mx.add(x0, x1)
        x1 = mx.bitwise_xor(_rotl(x1, _ROTATIONS[i % 8]), x0)
        if i % 4 == 3:
            # Key injection after every fourth round; the round number keeps injections distinct.
            s = (i + 1) // 4
            x0 = mx.add(x0, schedule[s % 3])
            x1 = mx.add(mx.add(x1, schedule[(s + 1) % 3]), s)
    return x0, x1


def threefry2x32(key0: Any, key1: Any, counter0: Any, counter1: Any) -> tuple[Any, Any]:
    """Threefry-2x32-20: encrypt the counter ``(counter0, counter1)`` under ``(key0, key1)``.

    Args:
        key0, key1, counter0, counter1 (array or int): ``uint32`` words; arrays broadcast
            together (integer arrays of another type are reinterpreted as 32-bit words), Python
            ints must lie in :math:`[0, 2^{32})`.

    Returns:
        tuple(array, array): the two ``uint32`` output words, of the broadcast shape.
    """
    x0, x1 = _threefry_words(key0, key1, counter0, counter1)
    return mx.astype(x0, mx.uint32), mx.astype(x1, mx.uint32)


def bits_to_uniform(bits: Any) -> Any:
    """Map 32-bit words (``uint32``, or ``int32`` holding the same bits) to ``float32`` in
    :math:`[0, 1)` exactly: the top 24 bits times :math:`2^{-24}`, so every backend (and Metal)
    gives the same float."""
    top = mx.bitwise_and(mx.right_shift(bits, 8), 0xFFFFFF)
    return mx.multiply(mx.astype(top, mx.float32), 2.0**-24)


def uniform(seed: Any, chain: Any, draw: Any, unit: Any) -> Any:
    r"""Uniform ``float32`` numbers in :math:`[0, 1)` addressed by ``(seed, chain, draw, unit)``.

    .. math::

        u = 2^{-24} \left\lfloor \mathrm{threefry}_{(seed,\ chain)}(unit,\ draw)_0
            / 2^{8} \right\rfloor

    Args:
        seed (int or array): the stream's seed, in :math:`[0, 2^{32})`.
        chain (int or array): the chain (row) index.
        draw (int or array): which draw of the chain this is (a step counter).
        unit (int or array): the unit (column) index.

    Returns:
        array: ``float32`` of the broadcast shape of the four arguments.

    Example:
        >>> chains = mx.arange(4, dtype=mx.uint32)[:, None]
        >>> units = mx.arange(10, dtype=mx.uint32)[None, :]
        >>> u = uniform(7, chains, 0, units)  # (4, 10), the same on every backend
    """
    return bits_to_uniform(_threefry_words(seed, chain, unit, draw)[0])


def normal(seed: Any, chain: Any, draw: Any, unit: Any) -> Any:
    r"""Standard normal ``float32`` numbers addressed like :func:`uniform`.

    Box–Muller on the two words of one Threefry block,
    :math:`z = \sqrt{-2 \log(1 - u_0)} \cos(2 \pi u_1)`, with :math:`1 - u_0 \in (0, 1]`
    so the logarithm is finite. The integer part is exact everywhere; ``log``, ``sqrt`` and
    ``cos`` may differ between backends in the last bits.
    """
    bits0, bits1 = _threefry_words(seed, chain, unit, draw)
    radius = mx.sqrt(-2.0 * mx.log(1.0 - bits_to_uniform(bits0)))
    return radius * mx.cos(_TWO_PI * bits_to_uniform(bits1))
