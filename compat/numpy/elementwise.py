"""Elementwise ops with MLX's type promotion over numpy ufuncs.

Each op is one ufunc call after its operands are given MLX's dtypes:

* two arrays of different dtypes are cast to :data:`~.dtypes.PROMOTE` of the pair, so
  ``int32 + float32`` is ``float32`` (numpy: ``float64``);
* a Python scalar is "weak", as in MLX and numpy 2: it takes the array's dtype
  (``float16 array * 2.0`` stays ``float16``), except that a float scalar makes an integer or
  boolean array ``float32``, an int makes a boolean array ``int32`` and a complex makes any
  real array ``complex64``;
* ops that are only defined on real numbers (``exp``, ``sqrt``, ``divide``, ...) compute
  integer and boolean input in ``float32``.

Results are always ``numpy.ndarray`` (``out=...``), also for 0-d inputs where numpy would hand
back a scalar. Where IEEE arithmetic gives infinities or NaN (``log(0)``, ``1 / 0``, overflow in
``exp``) the result is returned silently, as in MLX: those ops run under
``numpy.errstate(all="ignore")``.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any

import numpy as np

from . import special
from .arrays import as_array, as_inexact
from .dtypes import bool_, complex64, float32, int32, result_dtype

_PYTHON_SCALARS = (bool, int, float, complex)

# The values a Python int must lie in to combine with an array of each integer dtype: MLX
# raises beyond them, where numpy would compare (``uint8 < -1``) or select (``where``) the
# out-of-range value. MLX checks no range for ``int64``/``uint64`` arrays.
_INT_BOUNDS = {
    np.dtype(dtype): (np.iinfo(dtype).min, np.iinfo(dtype).max)
    for dtype in (np.int8, np.int16, np.int32, np.uint8, np.uint16, np.uint32)
}


def check_int(value: int, dtype: np.dtype) -> None:
    """MLX's ``ValueError`` if the Python int ``value`` does not fit an array of ``dtype``."""
    bounds = _INT_BOUNDS.get(dtype)
    if bounds is not None and not bounds[0] <= value <= bounds[1]:
        raise ValueError(f"Converting {value} to {dtype} would result in overflow.")


def _weak(value: bool | int | float | complex, other: np.ndarray) -> np.ndarray:
    """``other`` cast so that numpy's weak typing of the Python scalar ``value`` gives MLX's
    result dtype."""
    kind = other.dtype.kind
    if value.__class__ is int and kind in "iu":
        check_int(value, other.dtype)
        return other
    if value.__class__ is float and kind in "biu":
        return other.astype(float32)
    if value.__class__ is int and kind == "b":
        return other.astype(int32)
    if value.__class__ is complex and kind != "c":
        return other.astype(complex64)
    return other


def promote(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``a`` and ``b`` cast to MLX's promoted dtype of the pair."""
    if a.dtype == b.dtype:
        return a, b
    dtype = result_dtype(a.dtype, b.dtype)
    return a.astype(dtype, copy=False), b.astype(dtype, copy=False)


def operands(a: Any, b: Any) -> tuple[Any, Any]:
    """The operands of a binary op with MLX's typing: two ndarrays of the promoted dtype, or an
    ndarray and a Python scalar that numpy will type weakly."""
    if a.__class__ is np.ndarray:
        if b.__class__ in _PYTHON_SCALARS:
            return _weak(b, a), b
        return promote(a, as_array(b))
    if b.__class__ is np.ndarray and a.__class__ in _PYTHON_SCALARS:
        return a, _weak(a, b)
    return promote(as_array(a), as_array(b))


def _dtype_of(a: Any, b: Any) -> np.dtype:
    """The dtype of a result from :func:`operands` (the array's: a scalar is weak)."""
    return a.dtype if a.__class__ is np.ndarray else b.dtype


def _truth_operands(a: Any, b: Any) -> tuple[Any, Any]:
    """:func:`operands` for the logical ops, which take a Python int as a truth value (MLX
    checks no range there)."""
    return operands(bool(a) if a.__class__ is int else a, bool(b) if b.__class__ is int else b)


def _real(a: Any, b: Any) -> tuple[Any, Any]:
    """:func:`operands`, then integer and boolean arrays as ``float32``."""
    a, b = operands(a, b)
    if _dtype_of(a, b).kind in "biu":
        a = as_inexact(a) if a.__class__ is np.ndarray else a
        b = as_inexact(b) if b.__class__ is np.ndarray else b
    return a, b


def _binary(
    ufunc: Callable,
    name: str,
    doc: str,
    *,
    real: bool = False,
    quiet: bool = False,
    logical: bool = False,
) -> Callable:
    """An MLX binary op from a ufunc.

    Args:
        real: Compute integer and boolean operands in ``float32`` (``divide``, ``arctan2``).
        quiet: Return IEEE infinities and NaN without numpy's warnings (``1 / 0``).
        logical: Take Python ints as truth values (``logical_and``, ...).
    """
    prepare = _real if real else _truth_operands if logical else operands

    def fn(a: Any, b: Any, stream: Any = None) -> np.ndarray:
        a, b = prepare(a, b)
        if quiet:
            with np.errstate(all="ignore"):
                return ufunc(a, b, out=...)
        return ufunc(a, b, out=...)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


def _unary(
    ufunc: Callable, name: str, doc: str, *, real: bool = False, quiet: bool = False
) -> Callable:
    """An MLX unary op from a ufunc (``real`` and ``quiet`` as in :func:`_binary`)."""

    def fn(a: Any, /, *, stream: Any = None) -> np.ndarray:
        a = as_array(a)
        if real and a.dtype.kind in "biu":
            a = a.astype(float32)
        if quiet:
            with np.errstate(all="ignore"):
                return ufunc(a, out=...)
        return ufunc(a, out=...)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


def _floor_divide(a: Any, b: Any, out: Any = None) -> np.ndarray:
    # MLX floors the true quotient of floats (1.0 // 0.1 is 10.0; numpy's fmod-based rule gives
    # 9.0); integers floor as in Python, which numpy's floor_divide does.
    if _dtype_of(a, b).kind in "fc":
        return np.floor(np.divide(a, b), out=...)
    return np.floor_divide(a, b, out=...)


def _remainder(a: Any, b: Any, out: Any = None) -> np.ndarray:
    # An integer remainder by 0 is the dividend in MLX; numpy gives 0.
    result = np.remainder(a, b, out=...)
    if result.dtype.kind in "iu":
        zero = np.equal(b, 0)
        if zero.any():
            result = np.where(zero, a, result).astype(result.dtype, copy=False)
    return result


add = _binary(np.add, "add", "Elementwise sum :math:`a + b`.")
subtract = _binary(np.subtract, "subtract", "Elementwise difference :math:`a - b`.")
multiply = _binary(np.multiply, "multiply", "Elementwise product :math:`a b`.")
divide = _binary(
    np.true_divide, "divide", "Elementwise true division :math:`a / b`.", real=True, quiet=True
)
floor_divide = _binary(
    _floor_divide, "floor_divide", r"Elementwise :math:`\lfloor a / b \rfloor`.", quiet=True
)
remainder = _binary(
    _remainder,
    "remainder",
    "Elementwise remainder with the sign of ``b`` (Python's %).",
    quiet=True,
)
power = _binary(np.power, "power", "Elementwise power :math:`a^b`.", quiet=True)
maximum = _binary(np.maximum, "maximum", "Elementwise maximum (NaN wins).")
minimum = _binary(np.minimum, "minimum", "Elementwise minimum (NaN wins).")
arctan2 = _binary(
    np.arctan2, "arctan2", r"Elementwise :math:`\operatorname{atan2}(a, b)`.", real=True
)
logaddexp = _binary(
    np.logaddexp,
    "logaddexp",
    r"Elementwise :math:`\log(e^a + e^b)`, computed stably.",
    real=True,
    quiet=True,
)
bitwise_and = _binary(np.bitwise_and, "bitwise_and", "Elementwise bitwise and.")
bitwise_or = _binary(np.bitwise_or, "bitwise_or", "Elementwise bitwise or.")
bitwise_xor = _binary(np.bitwise_xor, "bitwise_xor", "Elementwise bitwise exclusive or.")
left_shift = _binary(np.left_shift, "left_shift", "Elementwise :math:`a \\ll b`, wrapping like C.")
right_shift = _binary(
    np.right_shift, "right_shift", "Elementwise :math:`a \\gg b` (logical if unsigned)."
)
equal = _binary(np.equal, "equal", "Elementwise :math:`a = b`.")
not_equal = _binary(np.not_equal, "not_equal", r"Elementwise :math:`a \neq b`.")
less = _binary(np.less, "less", "Elementwise :math:`a < b`.")
less_equal = _binary(np.less_equal, "less_equal", r"Elementwise :math:`a \leq b`.")
greater = _binary(np.greater, "greater", "Elementwise :math:`a > b`.")
greater_equal = _binary(np.greater_equal, "greater_equal", r"Elementwise :math:`a \geq b`.")
logical_and = _binary(np.logical_and, "logical_and", "Elementwise logical and.", logical=True)
logical_or = _binary(np.logical_or, "logical_or", "Elementwise logical or.", logical=True)
logical_xor = _binary(
    np.logical_xor, "logical_xor", "Elementwise logical exclusive or.", logical=True
)


def _sigmoid(a: np.ndarray, out: Any = None) -> np.ndarray:
    # exp of a non-positive number never overflows; both halves are exact where they apply
    e = np.exp(-np.abs(a))
    return np.divide(np.where(a >= 0, 1, e), 1 + e, out=...)


def _sign(a: np.ndarray, out: Any = None) -> np.ndarray:
    # MLX's sign is the identity on booleans (numpy has no loop) and 0 for NaN (numpy: NaN).
    kind = a.dtype.kind
    if kind == "b":
        return a.copy()
    result = np.sign(a, out=...)
    if kind == "f":
        np.copyto(result, 0, where=np.isnan(result))
    return result


def _square(a: np.ndarray, out: Any = None) -> np.ndarray:
    # MLX squares booleans to booleans (numpy: int8).
    return a.copy() if a.dtype.kind == "b" else np.square(a, out=...)


def _rsqrt(a: np.ndarray, out: Any = None) -> np.ndarray:
    return np.divide(1, np.sqrt(a), out=...)


def _special(function: Callable) -> Callable:
    def ufunc_like(a: np.ndarray, out: Any = None) -> np.ndarray:
        return function(a)

    return ufunc_like


negative = _unary(np.negative, "negative", "Elementwise :math:`-a`.")
abs = _unary(np.absolute, "abs", "Elementwise absolute value.")  # noqa: A001
sign = _unary(_sign, "sign", "Elementwise sign: -1, 0 or 1.")
square = _unary(_square, "square", "Elementwise :math:`a^2`.")
sqrt = _unary(np.sqrt, "sqrt", r"Elementwise :math:`\sqrt{a}`.", real=True, quiet=True)
rsqrt = _unary(_rsqrt, "rsqrt", r"Elementwise :math:`1 / \sqrt{a}`.", real=True, quiet=True)
reciprocal = _unary(
    np.reciprocal, "reciprocal", "Elementwise :math:`1 / a`.", real=True, quiet=True
)
exp = _unary(np.exp, "exp", "Elementwise :math:`e^a`.", real=True, quiet=True)
expm1 = _unary(
    np.expm1, "expm1", "Elementwise :math:`e^a - 1`, accurate near 0.", real=True, quiet=True
)
log = _unary(np.log, "log", r"Elementwise natural logarithm :math:`\ln a`.", real=True, quiet=True)
log1p = _unary(
    np.log1p, "log1p", r"Elementwise :math:`\ln(1 + a)`, accurate near 0.", real=True, quiet=True
)
log2 = _unary(np.log2, "log2", r"Elementwise :math:`\log_2 a`.", real=True, quiet=True)
log10 = _unary(np.log10, "log10", r"Elementwise :math:`\log_{10} a`.", real=True, quiet=True)
sin = _unary(np.sin, "sin", "Elementwise sine.", real=True, quiet=True)
cos = _unary(np.cos, "cos", "Elementwise cosine.", real=True, quiet=True)
tan = _unary(np.tan, "tan", "Elementwise tangent.", real=True, quiet=True)
arcsin = _unary(np.arcsin, "arcsin", "Elementwise inverse sine.", real=True, quiet=True)
arccos = _unary(np.arccos, "arccos", "Elementwise inverse cosine.", real=True, quiet=True)
arctan = _unary(np.arctan, "arctan", "Elementwise inverse tangent.", real=True)
sinh = _unary(np.sinh, "sinh", "Elementwise hyperbolic sine.", real=True, quiet=True)
cosh = _unary(np.cosh, "cosh", "Elementwise hyperbolic cosine.", real=True, quiet=True)
tanh = _unary(np.tanh, "tanh", "Elementwise hyperbolic tangent.", real=True)
arcsinh = _unary(np.arcsinh, "arcsinh", "Elementwise inverse hyperbolic sine.", real=True)
arccosh = _unary(
    np.arccosh, "arccosh", "Elementwise inverse hyperbolic cosine.", real=True, quiet=True
)
arctanh = _unary(
    np.arctanh, "arctanh", "Elementwise inverse hyperbolic tangent.", real=True, quiet=True
)
sigmoid = _unary(_sigmoid, "sigmoid", r"Elementwise :math:`1 / (1 + e^{-a})`.", real=True)
erf = _unary(
    _special(special.erf),
    "erf",
    r"Elementwise error function :math:`\frac{2}{\sqrt\pi}\int_0^a e^{-t^2} dt`.",
    real=True,
)
erfinv = _unary(
    _special(special.erfinv), "erfinv", "Elementwise inverse error function.", real=True
)
degrees = _unary(np.degrees, "degrees", "Elementwise radians to degrees.", real=True)
radians = _unary(np.radians, "radians", "Elementwise degrees to radians.", real=True)
isnan = _unary(np.isnan, "isnan", "Elementwise test for NaN.")
isinf = _unary(np.isinf, "isinf", "Elementwise test for :math:`\\pm\\infty`.")
isfinite = _unary(np.isfinite, "isfinite", "Elementwise test for finite values.")
logical_not = _unary(np.logical_not, "logical_not", "Elementwise logical not.")
bitwise_invert = _unary(np.invert, "bitwise_invert", "Elementwise bitwise not.")


def floor(a: Any, /, *, stream: Any = None) -> np.ndarray:
    r"""Elementwise :math:`\lfloor a \rfloor`; integers are returned unchanged."""
    a = as_array(a)
    return a if a.dtype.kind in "biu" else np.floor(a, out=...)


def ceil(a: Any, /, *, stream: Any = None) -> np.ndarray:
    r"""Elementwise :math:`\lceil a \rceil`; integers are returned unchanged."""
    a = as_array(a)
    return a if a.dtype.kind in "biu" else np.ceil(a, out=...)


def real(a: Any, /, *, stream: Any = None) -> np.ndarray:
    """The real part of ``a`` (``a`` itself when it is real)."""
    a = as_array(a)
    return a.real if a.dtype.kind == "c" else a


def imag(a: Any, /, *, stream: Any = None) -> np.ndarray:
    """The imaginary part of ``a`` (zeros when it is real)."""
    a = as_array(a)
    return a.imag if a.dtype.kind == "c" else np.zeros_like(a)


def round(a: Any, /, decimals: int = 0, stream: Any = None) -> np.ndarray:  # noqa: A001
    """Round half to even to ``decimals`` places; integers round only for ``decimals < 0``."""
    a = as_array(a)
    if a.dtype.kind in "biu" and decimals >= 0:
        return a
    return np.asarray(np.round(a, decimals))


def clip(a: Any, /, a_min: Any, a_max: Any, *, stream: Any = None) -> np.ndarray:
    """Clip ``a`` to ``[a_min, a_max]``; either bound may be ``None``."""
    if a_min is None and a_max is None:
        raise ValueError("clip: at least one of a_min and a_max must be given, got None for both")
    a = as_array(a)
    if a_min is not None:
        a = maximum(a, a_min)
    if a_max is not None:
        a = minimum(a, a_max)
    return a


def nan_to_num(
    a: Any,
    nan: float = 0.0,
    posinf: float | None = None,
    neginf: float | None = None,
    *,
    stream: Any = None,
) -> np.ndarray:
    """Replace NaN with ``nan`` and infinities with ``posinf``/``neginf`` (default: the dtype's
    limits)."""
    a = as_array(a)
    if a.dtype.kind in "biu":
        return a
    return np.asarray(np.nan_to_num(a, nan=nan, posinf=posinf, neginf=neginf))


def where(condition: Any, x: Any, y: Any, /, *, stream: Any = None) -> np.ndarray:
    """Select ``x`` where ``condition`` is true (non-zero), else ``y``, with broadcasting."""
    condition = as_array(condition)
    if condition.dtype != bool_:
        condition = condition.astype(bool_)
    x, y = operands(x, y)
    return np.where(condition, x, y)


def isclose(
    a: Any,
    b: Any,
    /,
    rtol: float = 1e-05,
    atol: float = 1e-08,
    *,
    equal_nan: bool = False,
    stream: Any = None,
) -> np.ndarray:
    r"""Elementwise :math:`|a - b| \leq \mathrm{atol} + \mathrm{rtol} |b|`."""
    a, b = _real(as_array(a), as_array(b))
    with np.errstate(all="ignore"):  # inf - inf
        return np.asarray(np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(
    a: Any,
    b: Any,
    /,
    rtol: float = 1e-05,
    atol: float = 1e-08,
    *,
    equal_nan: bool = False,
    stream: Any = None,
) -> np.ndarray:
    """Whether :func:`isclose` holds everywhere, as a 0-d boolean array."""
    return np.asarray(np.all(isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)))


def array_equal(a: Any, b: Any, equal_nan: bool = False, stream: Any = None) -> np.ndarray:
    """Whether ``a`` and ``b`` have the same shape and values, as a 0-d boolean array."""
    a, b = operands(a, b)
    a, b = promote(as_array(a), as_array(b))
    nan_aware = equal_nan and a.dtype.kind in "fc"
    return np.array(builtins.bool(np.array_equal(a, b, equal_nan=nan_aware)))


__all__ = [
    "real",
    "imag",
    "logaddexp",
    "round",
    "clip",
    "nan_to_num",
    "where",
    "isclose",
    "allclose",
    "array_equal",
    "add",
    "subtract",
    "multiply",
    "divide",
    "floor_divide",
    "remainder",
    "power",
    "maximum",
    "minimum",
    "arctan2",
    "bitwise_and",
    "bitwise_or",
    "bitwise_xor",
    "left_shift",
    "right_shift",
    "equal",
    "not_equal",
    "less",
    "less_equal",
    "greater",
    "greater_equal",
    "logical_and",
    "logical_or",
    "logical_xor",
    "negative",
    "abs",
    "sign",
    "square",
    "sqrt",
    "rsqrt",
    "reciprocal",
    "exp",
    "expm1",
    "log",
    "log1p",
    "log2",
    "log10",
    "sin",
    "cos",
    "tan",
    "arcsin",
    "arccos",
    "arctan",
    "sinh",
    "cosh",
    "tanh",
    "arcsinh",
    "arccosh",
    "arctanh",
    "sigmoid",
    "erf",
    "erfinv",
    "floor",
    "ceil",
    "isnan",
    "isinf",
    "isfinite",
    "degrees",
    "radians",
    "logical_not",
    "bitwise_invert",
]
