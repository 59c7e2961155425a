"""The Threefry-2x32 hash behind MLX's random numbers, for every mirror.

MLX (like JAX) draws random bits by hashing a counter under a key with Threefry-2x32, 20
rounds. The hash is written once here over anything with Python's integer operators: Python
ints, or arrays of a signed or wide enough integer type holding ``uint32`` values (numpy
``uint64``, torch ``int64``). Every sum and shift is masked back to 32 bits, which gives
MLX's ``uint32`` wrap-around exactly whatever the container.
"""

from __future__ import annotations

from typing import Any

MASK = 0xFFFFFFFF
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = 0x1BD11BDA


def threefry2x32(k0: int, k1: int, x0: Any, x1: Any) -> tuple[Any, Any]:
    """Threefry-2x32 (20 rounds) of the counter pair ``(x0, x1)`` under the key ``(k0, k1)``.

    Args:
        k0, k1 (int): The key's two 32-bit words.
        x0, x1: The counters' two words: Python ints or integer arrays holding ``uint32``
          values in a type wide enough for a 32-bit left shift.

    Returns:
        tuple: The hashed pair, of the counters' type, each word in ``[0, 2**32)``.
    """
    schedule = (k0, k1, k0 ^ k1 ^ _PARITY)
    x0, x1 = (x0 + k0) & MASK, (x1 + k1) & MASK
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x0 = (x0 + x1) & MASK
            x1 = (((x1 << r) | (x1 >> (32 - r))) & MASK) ^ x0
        x0 = (x0 + schedule[(i + 1) % 3]) & MASK
        x1 = (x1 + schedule[(i + 2) % 3] + i + 1) & MASK
    return x0, x1
