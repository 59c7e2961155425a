"""Checks of scalar arguments shared across ember_mlx: each returns the value in its plain
Python type or raises a TypeError (wrong type) or ValueError (out of range) that names the
argument, says what was expected and shows what was given."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def values_known(x: Any) -> bool:
    """Whether the values of ``x`` can be read without evaluating a lazy graph: ``x`` is not an
    MLX array (a list, a numpy array), or the backend is eager (torch, numpy) with arrays on
    the host. Value checks (NaN, ranges) run only then, or where the caller evaluates anyway
    (training entry points): a forward pass must stay lazy, and compile and vmap forbid
    evaluation."""
    from ember_mlx.backend import get_backend, mx

    if get_backend() == "mlx":
        return not isinstance(x, mx.array)
    return mx.default_device() == mx.cpu


def check_bool(name: str, value: Any) -> bool:
    """``value`` if it is a bool, or a TypeError naming ``name``."""
    if not isinstance(value, bool):
        raise TypeError(f"{name}: expected a bool, got {type(value).__name__} {value!r}")
    return value


def check_count(name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an int, or a clear error naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value}")
    return int(value)


def check_fraction(
    name: str, value: Any, low: float = 0.0, high: float = 1.0, include_high: bool = True
) -> float:
    """``value`` as a float in ``[low, high]`` (or ``[low, high)``), or a clear error."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a float, got {type(value).__name__} {value!r}")
    inside = low <= value <= high if include_high else low <= value < high
    if not inside:
        bracket = "]" if include_high else ")"
        raise ValueError(f"{name}: expected a value in [{low}, {high}{bracket}, got {value}")
    return float(value)


def check_index(name: str, value: Any, size: int, kind: str) -> int:
    """``value`` as an id in ``[0, size)``, or a clear error naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"{name}: expected an int ({kind} id), got {type(value).__name__} {value!r}"
        )
    if not 0 <= value < size:
        raise ValueError(f"{name}: expected {kind} id in [0, {size}), got {value}")
    return int(value)


def check_seed(name: str, value: Any) -> int:
    """``value`` as a seed in ``[0, 2**32)``, or a clear error naming ``name``."""
    seed = check_count(name, value, minimum=0)
    if seed >= 2**32:
        raise ValueError(f"{name}: expected an int in [0, 2**32), got {seed}")
    return seed


def resolve_seed(seed: Any) -> int:
    """An int seed for numpy; ``None`` draws a fresh one, which the map then records."""
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1)[0])
    return check_seed("seed", seed)


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
