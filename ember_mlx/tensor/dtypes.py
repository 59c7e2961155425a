"""Dtypes of the active backend, and their names.

The dtype objects are the backend's own (``mlx.core.float32``, ``numpy.dtype("float32")`` or
``torch.float32``); the names are the same strings on every backend, so code and config files can
say ``"float32"`` and mean the same thing everywhere. The numpy backend has ``bfloat16`` as a
dtype for checks and names only: numpy cannot make arrays of it.
"""

from __future__ import annotations

from typing import Any

from ember_mlx.backend import mx

bool_ = mx.bool_
int8 = mx.int8
int16 = mx.int16
int32 = mx.int32
int64 = mx.int64
uint8 = mx.uint8
uint16 = mx.uint16
uint32 = mx.uint32
uint64 = mx.uint64
float16 = mx.float16
bfloat16 = mx.bfloat16
float32 = mx.float32
float64 = mx.float64
complex64 = mx.complex64

_BY_NAME = {
    "bool_": bool_,
    "int8": int8,
    "int16": int16,
    "int32": int32,
    "int64": int64,
    "uint8": uint8,
    "uint16": uint16,
    "uint32": uint32,
    "uint64": uint64,
    "float16": float16,
    "bfloat16": bfloat16,
    "float32": float32,
    "float64": float64,
    "complex64": complex64,
}
# numpy and torch spell the boolean type without the underscore.
_ALIASES = {"bool": "bool_"}


def from_dtype_str(name: str) -> mx.Dtype:
    """The backend dtype called ``name`` (``"float32"``, ``"int64"``, ``"bool_"``, ...).

    Raises:
        ValueError: ``name`` is not one of the names above.
    """
    if not isinstance(name, str):
        raise TypeError(f"from_dtype_str: name must be a str, got {type(name).__name__}")
    key = _ALIASES.get(name, name)
    if key not in _BY_NAME:
        raise ValueError(
            f"from_dtype_str: unknown dtype {name!r}; expected one of {', '.join(_BY_NAME)}"
        )
    return _BY_NAME[key]


def to_dtype_str(dtype: Any) -> str:
    """The backend-independent name of ``dtype`` (a backend dtype or a dtype name).

    Raises:
        ValueError: ``dtype`` is not a dtype this module knows.
    """
    if isinstance(dtype, str):
        from_dtype_str(dtype)
        return _ALIASES.get(dtype, dtype)
    for name, value in _BY_NAME.items():
        if dtype == value:
            return name
    raise ValueError(
        f"to_dtype_str: {dtype!r} is not a dtype of the active backend; "
        f"expected one of {', '.join(_BY_NAME)}"
    )


def get_dtype(dtype: Any) -> mx.Dtype | None:
    """Resolve a dtype argument: a name becomes the backend dtype; a dtype or ``None`` passes.

    Every function in :mod:`ember_mlx.tensor` and :mod:`ember_mlx.ops` that takes ``dtype``
    accepts either form through this function.
    """
    if dtype is None:
        return None
    if isinstance(dtype, str):
        return from_dtype_str(dtype)
    to_dtype_str(dtype)  # raises for a dtype of another backend
    return dtype
