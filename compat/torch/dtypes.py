"""MLX's dtypes as ``torch.dtype`` objects, with MLX's dtype categories.

``mx.float32`` here *is* ``torch.float32``, so ``x.dtype == mx.float32`` works on a plain tensor.
The categories (``floating``, ``integer``, ...) form MLX's hierarchy, which :func:`issubdtype`
walks:

.. code-block:: text

    generic ─ bool_
            └ number ─ integer ─ signedinteger (int8 ... int64)
                     │         └ unsignedinteger (uint8 ... uint64)
                     └ inexact ─ floating (float16, bfloat16, float32, float64)
                               └ complexfloating (complex64)
"""

from __future__ import annotations

import enum

import torch

Dtype = torch.dtype

bool_ = torch.bool
int8 = torch.int8
int16 = torch.int16
int32 = torch.int32
int64 = torch.int64
uint8 = torch.uint8
uint16 = torch.uint16
uint32 = torch.uint32
uint64 = torch.uint64
float16 = torch.float16
bfloat16 = torch.bfloat16
float32 = torch.float32
float64 = torch.float64
complex64 = torch.complex64


class DtypeCategory(enum.Enum):
    """An abstract kind of dtype, as ``mlx.core.DtypeCategory``."""

    complexfloating = "complexfloating"
    floating = "floating"
    inexact = "inexact"
    signedinteger = "signedinteger"
    unsignedinteger = "unsignedinteger"
    integer = "integer"
    number = "number"
    generic = "generic"


complexfloating = DtypeCategory.complexfloating
floating = DtypeCategory.floating
inexact = DtypeCategory.inexact
signedinteger = DtypeCategory.signedinteger
unsignedinteger = DtypeCategory.unsignedinteger
integer = DtypeCategory.integer
number = DtypeCategory.number
generic = DtypeCategory.generic

_PARENT = {
    complexfloating: inexact,
    floating: inexact,
    inexact: number,
    signedinteger: integer,
    unsignedinteger: integer,
    integer: number,
    number: generic,
}

_CATEGORY = {
    bool_: generic,
    **dict.fromkeys((int8, int16, int32, int64), signedinteger),
    **dict.fromkeys((uint8, uint16, uint32, uint64), unsignedinteger),
    **dict.fromkeys((float16, bfloat16, float32, float64), floating),
    complex64: complexfloating,
    torch.complex128: complexfloating,
}

# Unsigned dtypes wider than a byte: torch stores them but implements few kernels for them, so
# the mirror computes with them in int64 (see ``core``).
WIDE_UNSIGNED = frozenset((uint16, uint32, uint64))


def issubdtype(arg1: Dtype | DtypeCategory, arg2: Dtype | DtypeCategory) -> bool:
    """Whether ``arg1`` is ``arg2`` or lies under it in MLX's dtype hierarchy.

    Args:
        arg1 (Dtype or DtypeCategory): The dtype or category to test.
        arg2 (Dtype or DtypeCategory): The dtype or category to test against.

    Returns:
        bool: ``True`` for e.g. ``issubdtype(float32, floating)`` or
        ``issubdtype(floating, inexact)``; a category is never under a concrete dtype.
    """
    if isinstance(arg2, torch.dtype):
        return arg1 == arg2
    if not isinstance(arg2, DtypeCategory):
        raise TypeError(f"issubdtype: arg2 must be a Dtype or DtypeCategory, got {arg2!r}")
    if isinstance(arg1, torch.dtype):
        category = _CATEGORY[arg1]
    elif isinstance(arg1, DtypeCategory):
        category = arg1
    else:
        raise TypeError(f"issubdtype: arg1 must be a Dtype or DtypeCategory, got {arg1!r}")
    while category is not None:
        if category is arg2:
            return True
        category = _PARENT.get(category)
    return False


class finfo:
    """Limits of a floating-point dtype, as ``mlx.core.finfo``.

    Attributes:
        min (float): The most negative finite value.
        max (float): The largest finite value.
        eps (float): The gap between 1.0 and the next larger value.
        smallest_normal (float): The smallest positive normal value.
        bits (int): The number of bits in the type.
        dtype (Dtype): The dtype described.
    """

    def __init__(self, dtype: Dtype):
        if not isinstance(dtype, torch.dtype) or not (dtype.is_floating_point or dtype.is_complex):
            raise ValueError(f"finfo: dtype must be a floating-point dtype, got {dtype!r}")
        info = torch.finfo(dtype)
        self.dtype = dtype
        self.min = float(info.min)
        self.max = float(info.max)
        self.eps = float(info.eps)
        self.smallest_normal = float(info.smallest_normal)
        self.bits = info.bits

    def __repr__(self) -> str:
        return f"finfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"


class iinfo:
    """Limits of an integer dtype, as ``mlx.core.iinfo``.

    Attributes:
        min (int): The smallest value.
        max (int): The largest value.
        dtype (Dtype): The dtype described.
    """

    def __init__(self, dtype: Dtype):
        if not isinstance(dtype, torch.dtype) or _CATEGORY.get(dtype) not in (
            signedinteger,
            unsignedinteger,
        ):
            raise ValueError(f"iinfo: dtype must be an integer dtype, got {dtype!r}")
        bits = dtype.itemsize * 8
        signed = _CATEGORY[dtype] is signedinteger
        self.dtype = dtype
        self.min = -(2 ** (bits - 1)) if signed else 0
        self.max = 2 ** (bits - 1) - 1 if signed else 2**bits - 1

    def __repr__(self) -> str:
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"
