"""MLX's dtypes as ``numpy.dtype`` objects, with MLX's categories and promotion.

``mx.float32`` here *is* ``numpy.dtype("float32")``, so ``x.dtype == mx.float32`` works on a
plain array. The categories (``floating``, ``integer``, ...) form MLX's hierarchy, which
:func:`issubdtype` walks:

.. code-block:: text

    generic ─ bool_
            └ number ─ integer ─ signedinteger (int8 ... int64)
                     │         └ unsignedinteger (uint8 ... uint64)
                     └ inexact ─ floating (float16, bfloat16, float32, float64)
                               └ complexfloating (complex64)

numpy has no ``bfloat16``. :data:`bfloat16` is a stand-in that answers dtype questions
(``issubdtype(bfloat16, floating)``, :class:`finfo`) but cannot type an array: numpy asks it
for its dtype whenever it is used as one, and it raises a ``TypeError`` that names the backends
that have it.
"""

from __future__ import annotations

import enum

import numpy as np

Dtype = np.dtype

bool_ = np.dtype(np.bool_)
int8 = np.dtype(np.int8)
int16 = np.dtype(np.int16)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
uint8 = np.dtype(np.uint8)
uint16 = np.dtype(np.uint16)
uint32 = np.dtype(np.uint32)
uint64 = np.dtype(np.uint64)
float16 = np.dtype(np.float16)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
complex64 = np.dtype(np.complex64)


class _BFloat16:
    """MLX's ``bfloat16`` in a library without it: a name for dtype checks, never an array's."""

    name = "bfloat16"
    itemsize = 2
    kind = "f"

    @property
    def dtype(self) -> np.dtype:
        # numpy reads ``.dtype`` of any object given where it expects a dtype
        raise TypeError(
            "bfloat16: numpy has no bfloat16 type, so the numpy backend cannot make bfloat16 "
            "arrays; use float16 or float32, or the torch or mlx backend "
            "(EMBER_BACKEND=torch / EMBER_BACKEND=mlx)"
        )

    def __repr__(self) -> str:
        return "bfloat16"


bfloat16 = _BFloat16()


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

_SIGNED = (int8, int16, int32, int64)
_UNSIGNED = (uint8, uint16, uint32, uint64)
_FLOATING = (float16, float32, float64)
_CATEGORY = {
    bool_: generic,
    **dict.fromkeys(_SIGNED, signedinteger),
    **dict.fromkeys(_UNSIGNED, unsignedinteger),
    **dict.fromkeys(_FLOATING, floating),
    complex64: complexfloating,
    np.dtype(np.complex128): complexfloating,
}


def issubdtype(arg1: Dtype | DtypeCategory, arg2: Dtype | DtypeCategory) -> bool:
    """Whether ``arg1`` is ``arg2`` or lies under it in MLX's dtype hierarchy.

    Args:
        arg1 (Dtype or DtypeCategory): The dtype or category to test.
        arg2 (Dtype or DtypeCategory): The dtype or category to test against.

    Returns:
        bool: ``True`` for e.g. ``issubdtype(float32, floating)`` or
        ``issubdtype(floating, inexact)``; a category is never under a concrete dtype.
    """
    if not isinstance(arg2, DtypeCategory):
        if isinstance(arg2, (np.dtype, _BFloat16)):
            return arg1 is arg2 or (isinstance(arg1, np.dtype) and arg1 == arg2)
        raise TypeError(f"issubdtype: arg2 must be a Dtype or DtypeCategory, got {arg2!r}")
    if isinstance(arg1, DtypeCategory):
        category = arg1
    elif arg1 is bfloat16:
        category = floating
    elif isinstance(arg1, np.dtype) and arg1 in _CATEGORY:
        category = _CATEGORY[arg1]
    else:
        raise TypeError(f"issubdtype: arg1 must be a Dtype or DtypeCategory, got {arg1!r}")
    while category is not None:
        if category is arg2:
            return True
        category = _PARENT.get(category)
    return False


def _promote(a: np.dtype, b: np.dtype) -> np.dtype:
    """MLX's result dtype for an operation between ``a`` and ``b`` (see :data:`PROMOTE`)."""
    if a == b:
        return a
    if complex64 in (a, b):
        return complex64
    if a == bool_ or b == bool_:
        return b if a == bool_ else a
    a_float, b_float = a.kind == "f", b.kind == "f"
    if a_float or b_float:
        if a_float and b_float:
            return a if a.itemsize > b.itemsize else b
        return a if a_float else b
    if a.kind == b.kind:
        return a if a.itemsize > b.itemsize else b
    signed, unsigned = (a, b) if a.kind == "i" else (b, a)
    if signed.itemsize > unsigned.itemsize:
        return signed
    wider = {1: int16, 2: int32, 4: int64}
    return wider.get(unsigned.itemsize, float32)  # uint64 with any signed type: float32


_DTYPES = (bool_, *_UNSIGNED, *_SIGNED, *_FLOATING, complex64)
PROMOTE = {(a, b): _promote(a, b) for a in _DTYPES for b in _DTYPES}
"""MLX's type promotion: ``PROMOTE[(a, b)]`` is the dtype of ``a op b``.

Unlike numpy, an integer and a float give the float (``int32 + float32`` is ``float32``,
``int64 + float16`` is ``float16``), ``uint64`` with a signed integer gives ``float32`` and
``float64`` with ``complex64`` gives ``complex64``.
"""


def result_dtype(a: np.dtype, b: np.dtype) -> np.dtype:
    """The dtype of an operation between ``a`` and ``b``: :data:`PROMOTE`, or numpy's rule for
    dtypes MLX does not have (``complex128``, ...)."""
    dtype = PROMOTE.get((a, b))
    return np.result_type(a, b) if dtype is None else dtype


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
        self.dtype = dtype
        if dtype is bfloat16:
            # 8 exponent bits like float32, 7 explicit mantissa bits
            self.max = float((2 - 2.0**-7) * 2.0**127)
            self.min = -self.max
            self.eps = 2.0**-7
            self.smallest_normal = 2.0**-126
            self.bits = 16
            return
        if not isinstance(dtype, np.dtype) or dtype.kind not in "fc":
            raise ValueError(f"finfo: dtype must be a floating-point dtype, got {dtype!r}")
        info = np.finfo(dtype)
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
        if not isinstance(dtype, np.dtype) or dtype.kind not in "iu":
            raise ValueError(f"iinfo: dtype must be an integer dtype, got {dtype!r}")
        info = np.iinfo(dtype)
        self.dtype = dtype
        self.min = int(info.min)
        self.max = int(info.max)

    def __repr__(self) -> str:
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"
