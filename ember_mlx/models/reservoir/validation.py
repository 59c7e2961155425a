"""The sequence-argument check shared by the reservoir models (scalar checks are in
:mod:`ember_mlx.validation`)."""

from __future__ import annotations

import math
from typing import Any

from ember_mlx.backend import mx
from ember_mlx.validation import values_known


def as_sequences(
    name: str, value: Any, width: int, dtype: mx.Dtype = mx.float32, evaluate: bool = False
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
    # Values only where known without evaluation, or with ``evaluate`` (fitting data).
    if (evaluate or values_known(value)) and not mx.all(mx.isfinite(x)).item():
        raise ValueError(f"{name}: expected finite values, got NaN or infinity")
    batched = x.ndim == 3
    return (x if batched else x[None]), batched
