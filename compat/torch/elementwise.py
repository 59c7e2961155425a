"""Elementwise ops, with MLX's typing of Python scalars and exact unsigned arithmetic.

Each op is one call into torch. Python scalars keep MLX's "weak" typing because torch types
them the same way (``float16 array * 2.0`` stays ``float16``, ``int32 array / 2`` is
``float32``). What torch refuses — a list or a scalar where torch wants a tensor, and the
unsigned dtypes it has few kernels for (``uint16``, ``uint32``, ``uint64``) — takes a slower
path only after torch raises: operands are converted with MLX's rules and unsigned values are
computed in ``int64`` and cast back, so ``uint32`` arithmetic wraps modulo :math:`2^{32}`
exactly as in MLX.

A Python int combined with an integer array must fit the array's dtype: ``int8 array + 1000``
raises MLX's ``ValueError`` where torch would wrap (a cheap range test, run only for an int
with an integer array). Integer ``floor_divide`` and ``remainder`` by zero give MLX's 0 and the
dividend where torch's CPU kernels raise (handled after torch raises, so not on CUDA, whose
kernels do not raise).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from .arrays import as_tensor, to_array, widen
from .dtypes import (
    WIDE_UNSIGNED,
    Dtype,
    complex64,
    float32,
    float64,
    iinfo,
    int8,
    int16,
    int32,
    int64,
    uint8,
    uint16,
    uint32,
    uint64,
)

_FALLBACK = (TypeError, RuntimeError)

# The values a Python int must lie in to combine with an array of each integer dtype: MLX
# raises beyond them where torch would wrap (``int8 + 1000``, ``uint8 < -1``). MLX checks no
# range for ``int64``/``uint64`` arrays, and a boolean array takes any int as ``int32``.
_INT_BOUNDS = {
    dtype: (iinfo(dtype).min, iinfo(dtype).max)
    for dtype in (int8, int16, int32, uint8, uint16, uint32)
}


def _check_int(value: int, dtype: Dtype) -> None:
    """MLX's ``ValueError`` if the Python int ``value`` does not fit an array of ``dtype``."""
    bounds = _INT_BOUNDS.get(dtype)
    if bounds is not None and not bounds[0] <= value <= bounds[1]:
        name = str(dtype).removeprefix("torch.")
        raise ValueError(f"Converting {value} to {name} would result in overflow.")


def _int_fast(value: int, dtype: Dtype) -> bool:
    """Whether ``array op value`` may call torch directly: not for a boolean array (torch types
    the int ``int64``, MLX ``int32``); an int out of an integer dtype's range raises."""
    if dtype is torch.bool:
        return False
    _check_int(value, dtype)
    return True


def _scalar_like(value: bool | int | float | complex, other: Tensor) -> Tensor:
    """A Python scalar as a 0-d tensor with MLX's weak typing against ``other``."""
    dtype = other.dtype
    if value.__class__ is float and not (dtype.is_floating_point or dtype.is_complex):
        dtype = float32
    elif value.__class__ is int:
        if dtype is torch.bool:
            dtype = int32
        else:
            _check_int(value, dtype)
    elif value.__class__ is complex:
        dtype = complex64
    return torch.tensor(value, dtype=dtype, device=other.device)


def _operands(a: Any, b: Any) -> tuple[Tensor, Tensor]:
    scalar = (bool, int, float, complex)
    if isinstance(a, Tensor):
        return a, (_scalar_like(b, a) if isinstance(b, scalar) else as_tensor(b))
    if isinstance(b, Tensor):
        return (_scalar_like(a, b) if isinstance(a, scalar) else as_tensor(a)), b
    return to_array(a), to_array(b)


def _unsigned_promotion(a: Dtype, b: Dtype) -> Dtype:
    """MLX's result dtype for an op between ``a`` and ``b`` when one is a wide unsigned dtype."""
    if a == b:
        return a
    if a not in WIDE_UNSIGNED:
        a, b = b, a
    if b is torch.bool:
        return a
    if b.is_floating_point or b.is_complex:
        return b
    if b is uint8 or b in WIDE_UNSIGNED:
        return a if a.itemsize >= b.itemsize else b
    if a is uint64:
        return float32
    return {2: int16, 4: int32, 8: int64}[builtins.max(2 * a.itemsize, b.itemsize)]


def _binary_fallback(op: Callable, a: Any, b: Any) -> Tensor:
    """``op(a, b)`` once torch has refused it: convert operands, emulate wide unsigned dtypes."""
    a, b = _operands(a, b)
    if a.dtype not in WIDE_UNSIGNED and b.dtype not in WIDE_UNSIGNED:
        return op(a, b)
    dtype = _unsigned_promotion(a.dtype, b.dtype)
    out = op(widen(a), widen(b))
    if out.dtype is torch.bool or (out.is_floating_point() and not dtype.is_floating_point):
        return out
    return out.to(dtype)


def _by_zero(op: Callable, a: Any, b: Any) -> Tensor:
    """Integer ``floor_divide`` and ``remainder`` by zero, which torch's CPU kernels refuse:
    MLX gives 0 and the dividend there."""
    a, b = _operands(a, b)
    zero = b == 0
    out = _binary_fallback(op, a, torch.where(zero, 1, widen(b)).to(b.dtype))
    fill = 0 if op is torch.floor_divide else widen(a)
    return torch.where(zero, fill, widen(out)).to(out.dtype)


# The ops MLX computes for booleans as the identity, where torch refuses them (or, for
# ``square``, gives int64 without raising, which is left as it is).
_BOOL_IDENTITY = (torch.abs, torch.sign, torch.square)


def _unary_fallback(op: Callable, a: Any) -> Tensor:
    a = as_tensor(a)
    if a.dtype is torch.bool and op in _BOOL_IDENTITY:
        return a.clone()
    if op is torch.sign and a.is_complex():  # MLX's sign of z is z / |z|, torch's sgn
        return torch.sgn(a)
    if a.dtype not in WIDE_UNSIGNED:
        return op(a)
    out = op(a.to(int64))
    return out if out.dtype is torch.bool or out.is_floating_point() else out.to(a.dtype)


def _binary(op: Callable, name: str, doc: str) -> Callable:
    def fn(a: Any, b: Any, stream: Any = None) -> Tensor:
        # A Python int is checked against an integer array's range (see _int_fast). Wide
        # unsigned dtypes go straight to the emulation: torch raising first costs ~10 us.
        if (
            a.__class__ is Tensor
            and a.dtype not in WIDE_UNSIGNED
            and (b.__class__ is not int or a.dtype.is_floating_point or _int_fast(b, a.dtype))
        ):
            try:
                return op(a, b)
            except _FALLBACK:
                pass
        try:
            return _binary_fallback(op, a, b)
        except RuntimeError as error:
            if op in (torch.floor_divide, torch.remainder) and "ZeroDivision" in str(error):
                return _by_zero(op, a, b)
            raise

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


def _unary(op: Callable, name: str, doc: str) -> Callable:
    def fn(a: Any, /, *, stream: Any = None) -> Tensor:
        try:
            return op(a)
        except _FALLBACK:
            return _unary_fallback(op, a)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


def _logical(op: Callable, name: str, doc: str) -> Callable:
    """A logical binary op: MLX takes a Python int as a truth value there, whatever its size."""
    binary = _binary(op, name, doc)

    def fn(a: Any, b: Any, stream: Any = None) -> Tensor:
        return binary(bool(a) if a.__class__ is int else a, bool(b) if b.__class__ is int else b)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


def _maximum(a: Tensor, b: Any) -> Tensor:
    # torch.maximum takes no Python scalar; clamp_min does, with the same typing and NaNs.
    if b.__class__ is float or b.__class__ is int:
        return torch.clamp_min(a, b)
    return torch.maximum(a, b)


def _minimum(a: Tensor, b: Any) -> Tensor:
    if b.__class__ is float or b.__class__ is int:
        return torch.clamp_max(a, b)
    return torch.minimum(a, b)


add = _binary(torch.add, "add", "Elementwise sum :math:`a + b`.")
subtract = _binary(torch.sub, "subtract", "Elementwise difference :math:`a - b`.")
multiply = _binary(torch.mul, "multiply", "Elementwise product :math:`a b`.")
divide = _binary(torch.true_divide, "divide", "Elementwise true division :math:`a / b`.")
floor_divide = _binary(
    torch.floor_divide, "floor_divide", r"Elementwise :math:`\lfloor a / b \rfloor`."
)
remainder = _binary(
    torch.remainder, "remainder", "Elementwise remainder with the sign of ``b`` (Python's %)."
)
power = _binary(torch.pow, "power", "Elementwise power :math:`a^b`.")
maximum = _binary(_maximum, "maximum", "Elementwise maximum (NaN wins).")
minimum = _binary(_minimum, "minimum", "Elementwise minimum (NaN wins).")
arctan2 = _binary(torch.atan2, "arctan2", r"Elementwise :math:`\operatorname{atan2}(a, b)`.")
bitwise_and = _binary(torch.bitwise_and, "bitwise_and", "Elementwise bitwise and.")
bitwise_or = _binary(torch.bitwise_or, "bitwise_or", "Elementwise bitwise or.")
bitwise_xor = _binary(torch.bitwise_xor, "bitwise_xor", "Elementwise bitwise exclusive or.")
left_shift = _binary(
    torch.bitwise_left_shift, "left_shift", "Elementwise :math:`a \\ll b`, wrapping like C."
)
right_shift = _binary(
    torch.bitwise_right_shift, "right_shift", "Elementwise :math:`a \\gg b` (logical if unsigned)."
)
equal = _binary(torch.eq, "equal", "Elementwise :math:`a = b`.")
not_equal = _binary(torch.ne, "not_equal", r"Elementwise :math:`a \neq b`.")
less = _binary(torch.lt, "less", "Elementwise :math:`a < b`.")
less_equal = _binary(torch.le, "less_equal", r"Elementwise :math:`a \leq b`.")
greater = _binary(torch.gt, "greater", "Elementwise :math:`a > b`.")
greater_equal = _binary(torch.ge, "greater_equal", r"Elementwise :math:`a \geq b`.")
logical_and = _logical(torch.logical_and, "logical_and", "Elementwise logical and.")
logical_or = _logical(torch.logical_or, "logical_or", "Elementwise logical or.")
logical_xor = _logical(torch.logical_xor, "logical_xor", "Elementwise logical exclusive or.")

negative = _unary(torch.neg, "negative", "Elementwise :math:`-a`.")
abs = _unary(torch.abs, "abs", "Elementwise absolute value.")
sign = _unary(torch.sign, "sign", "Elementwise sign: -1, 0 or 1.")
square = _unary(torch.square, "square", "Elementwise :math:`a^2`.")
sqrt = _unary(torch.sqrt, "sqrt", r"Elementwise :math:`\sqrt{a}`.")
rsqrt = _unary(torch.rsqrt, "rsqrt", r"Elementwise :math:`1 / \sqrt{a}`.")
reciprocal = _unary(torch.reciprocal, "reciprocal", "Elementwise :math:`1 / a`.")
exp = _unary(torch.exp, "exp", "Elementwise :math:`e^a`.")
expm1 = _unary(torch.expm1, "expm1", "Elementwise :math:`e^a - 1`, accurate near 0.")
log = _unary(torch.log, "log", r"Elementwise natural logarithm :math:`\ln a`.")
log1p = _unary(torch.log1p, "log1p", r"Elementwise :math:`\ln(1 + a)`, accurate near 0.")
log2 = _unary(torch.log2, "log2", r"Elementwise :math:`\log_2 a`.")
log10 = _unary(torch.log10, "log10", r"Elementwise :math:`\log_{10} a`.")
sin = _unary(torch.sin, "sin", "Elementwise sine.")
cos = _unary(torch.cos, "cos", "Elementwise cosine.")
tan = _unary(torch.tan, "tan", "Elementwise tangent.")
arcsin = _unary(torch.asin, "arcsin", "Elementwise inverse sine.")
arccos = _unary(torch.acos, "arccos", "Elementwise inverse cosine.")
arctan = _unary(torch.atan, "arctan", "Elementwise inverse tangent.")
sinh = _unary(torch.sinh, "sinh", "Elementwise hyperbolic sine.")
cosh = _unary(torch.cosh, "cosh", "Elementwise hyperbolic cosine.")
tanh = _unary(torch.tanh, "tanh", "Elementwise hyperbolic tangent.")
arcsinh = _unary(torch.asinh, "arcsinh", "Elementwise inverse hyperbolic sine.")
arccosh = _unary(torch.acosh, "arccosh", "Elementwise inverse hyperbolic cosine.")
arctanh = _unary(torch.atanh, "arctanh", "Elementwise inverse hyperbolic tangent.")
sigmoid = _unary(torch.sigmoid, "sigmoid", r"Elementwise :math:`1 / (1 + e^{-a})`.")
erf = _unary(torch.erf, "erf", "Elementwise error function.")
erfinv = _unary(torch.erfinv, "erfinv", "Elementwise inverse error function.")
floor = _unary(torch.floor, "floor", r"Elementwise :math:`\lfloor a \rfloor`.")
ceil = _unary(torch.ceil, "ceil", r"Elementwise :math:`\lceil a \rceil`.")
isnan = _unary(torch.isnan, "isnan", "Elementwise test for NaN.")
isinf = _unary(torch.isinf, "isinf", "Elementwise test for :math:`\\pm\\infty`.")
isfinite = _unary(torch.isfinite, "isfinite", "Elementwise test for finite values.")
degrees = _unary(torch.rad2deg, "degrees", "Elementwise radians to degrees.")
radians = _unary(torch.deg2rad, "radians", "Elementwise degrees to radians.")
logical_not = _unary(torch.logical_not, "logical_not", "Elementwise logical not.")
bitwise_invert = _unary(torch.bitwise_not, "bitwise_invert", "Elementwise bitwise not.")


def logaddexp(a: Any, b: Any, /, *, stream: Any = None) -> Tensor:
    r"""Elementwise :math:`\log(e^a + e^b)`, computed stably; integers give ``float32``."""
    a, b = _operands(a, b)
    if not (a.is_floating_point() or b.is_floating_point()):
        a = a.to(float32)
    return torch.logaddexp(a, b)


def real(a: Any, /, *, stream: Any = None) -> Tensor:
    """The real part of ``a`` (``a`` itself when it is real)."""
    return torch.real(as_tensor(a))


def imag(a: Any, /, *, stream: Any = None) -> Tensor:
    """The imaginary part of ``a`` (zeros when it is real)."""
    a = as_tensor(a)
    return torch.imag(a) if a.is_complex() else torch.zeros_like(a)


def round(a: Any, /, decimals: int = 0, stream: Any = None) -> Tensor:  # noqa: A001
    """Round half to even to ``decimals`` places; integers round only for ``decimals < 0``."""
    a = as_tensor(a)
    if a.is_floating_point():
        return torch.round(a, decimals=decimals)
    if decimals >= 0:
        return a
    return torch.round(a.to(float64), decimals=decimals).to(a.dtype)


def clip(a: Any, /, a_min: Any, a_max: Any, *, stream: Any = None) -> Tensor:
    """Clip ``a`` to ``[a_min, a_max]``; either bound may be ``None``."""
    if a_min is None and a_max is None:
        raise ValueError("clip: at least one of a_min and a_max must be given, got None for both")
    a = as_tensor(a)
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
) -> Tensor:
    """Replace NaN with ``nan`` and infinities with ``posinf``/``neginf`` (default: the dtype's
    limits)."""
    return torch.nan_to_num(as_tensor(a), nan=nan, posinf=posinf, neginf=neginf)


def where(condition: Any, x: Any, y: Any, /, *, stream: Any = None) -> Tensor:
    """Select ``x`` where ``condition`` is true (non-zero), else ``y``, with broadcasting."""
    if condition.__class__ is not Tensor or condition.dtype is not torch.bool:
        condition = as_tensor(condition).to(torch.bool)
    if x.__class__ is Tensor or y.__class__ is Tensor:
        # torch would wrap a Python int that does not fit the other operand's integer dtype.
        if y.__class__ is int and x.__class__ is Tensor and x.dtype in _INT_BOUNDS:
            _check_int(y, x.dtype)
        elif x.__class__ is int and y.__class__ is Tensor and y.dtype in _INT_BOUNDS:
            _check_int(x, y.dtype)
        try:
            return torch.where(condition, x, y)
        except _FALLBACK:
            pass
    x, y = _operands(x, y)
    return torch.where(condition, x, y)


def isclose(
    a: Any,
    b: Any,
    /,
    rtol: float = 1e-05,
    atol: float = 1e-08,
    *,
    equal_nan: bool = False,
    stream: Any = None,
) -> Tensor:
    r"""Elementwise :math:`|a - b| \leq \mathrm{atol} + \mathrm{rtol} |b|`."""
    a, b = _operands(a, b)
    dtype = torch.promote_types(a.dtype, b.dtype)
    if not (dtype.is_floating_point or dtype.is_complex):
        dtype = float32
    return torch.isclose(a.to(dtype), b.to(dtype), rtol=rtol, atol=atol, equal_nan=equal_nan)


def allclose(
    a: Any,
    b: Any,
    /,
    rtol: float = 1e-05,
    atol: float = 1e-08,
    *,
    equal_nan: bool = False,
    stream: Any = None,
) -> Tensor:
    """Whether :func:`isclose` holds everywhere, as a 0-d boolean array."""
    return torch.all(isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


def array_equal(a: Any, b: Any, equal_nan: bool = False, stream: Any = None) -> Tensor:
    """Whether ``a`` and ``b`` have the same shape and values, as a 0-d boolean array."""
    a, b = _operands(a, b)
    if a.shape != b.shape:
        return torch.tensor(False)
    same = torch.eq(a, b)
    if equal_nan:
        same = same | (torch.isnan(a) & torch.isnan(b))
    return torch.all(same)


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
