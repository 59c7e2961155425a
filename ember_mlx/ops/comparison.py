"""Comparisons, logical operators and selection: MLX's functions, plus ``logical_xor``."""

from __future__ import annotations

from ember_mlx.backend import mx

equal = mx.equal
not_equal = mx.not_equal
less = mx.less
less_equal = mx.less_equal
greater = mx.greater
greater_equal = mx.greater_equal
logical_and = mx.logical_and
logical_or = mx.logical_or
logical_not = mx.logical_not
allclose = mx.allclose
isclose = mx.isclose
all = mx.all
any = mx.any
where = mx.where
isnan = mx.isnan
isinf = mx.isinf
isfinite = mx.isfinite


def logical_xor(x: mx.array, y: mx.array) -> mx.array:
    """True where exactly one of ``x`` and ``y`` is truthy (MLX has no ``logical_xor``)."""
    return mx.not_equal(mx.astype(x, mx.bool_), mx.astype(y, mx.bool_))
