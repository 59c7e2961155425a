"""Argument checks shared by the reservoir models: clear errors naming the argument."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ember_mlx.backend import mx


def check_real(
    name: str,
    value: Any,
    *,
    above: float | None = None,
    at_least: float | None = None,
    at_most: float | None = None,
) -> float:
    """``value`` as a finite float within the given bounds, or a TypeError/ValueError."""
    low = f"({above}" if above is not None else f"[{at_least}" if at_least is not None else None
    if low is not None and at_most is not None:
        expected = f"a float in {low}, {at_most}]"
    elif above is not None:
        expected = f"a float > {above}"
    elif at_least is not None:
        expected = f"a float >= {at_least}"
    else:
        expected = "a finite float"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected {expected}, got {type(value).__name__} {value!r}")
    inside = math.isfinite(value)
    inside = inside and (above is None or value > above)
    inside = inside and (at_least is None or value >= at_least)
    inside = inside and (at_most is None or value <= at_most)
    if not inside:
        raise ValueError(f"{name}: expected {expected}, got {value}")
    return float(value)


def as_sequences(
    name: str, value: Any, width: int, dtype: mx.Dtype = mx.float32
) -> tuple[mx.array, bool]:
    """Batch-first ``dtype`` sequences ``(batch, time, width)`` from a 2-D or 3-D array-like.

    Returns:
        ``(sequences, batched)``: ``batched`` is false for a single ``(time, width)`` sequence,
        which comes back with a batch axis of one.

    Raises:
        ValueError: wrong rank or width, no steps or sequences, or non-finite values.
    """
    x = value if isinstance(value, mx.array) else mx.array(value)
    if x.ndim not in (2, 3):
        raise ValueError(
            f"{name}: expected shape (time, {width}) or (batch, time, {width}), "
            f"got {tuple(x.shape)}"
        )
    if x.shape[-1] != width:
        raise ValueError(
            f"{name}: expected {width} features in the last axis, got shape {tuple(x.shape)}"
        )
    if math.prod(x.shape) == 0:
        raise ValueError(f"{name}: expected at least one step, got an empty array {tuple(x.shape)}")
    if x.dtype != dtype:
        x = mx.astype(x, dtype)
    if not mx.all(mx.isfinite(x)).item():
        raise ValueError(f"{name}: expected finite values, got NaN or infinity")
    batched = x.ndim == 3
    return (x if batched else x[None]), batched
