"""Benchmark sequences for recurrent and reservoir models.

Each generator runs in numpy (float64) on the host and returns float32 arrays of the active
backend, so a given call gives the same numbers on mlx, torch and numpy. Tasks come batch-first,
``(batch, time, features)``, ready for sequence models.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ember_mlx.backend import mx
from ember_mlx.validation import check_count, check_real, resolve_seed


def _to_backend(values: np.ndarray) -> mx.array:
    return mx.array(np.ascontiguousarray(values, dtype=np.float32))


def mackey_glass(
    n: int,
    tau: float = 17.0,
    *,
    beta: float = 0.2,
    gamma: float = 0.1,
    exponent: float = 10.0,
    dt: float = 0.1,
    subsample: int = 10,
    discard: int = 1000,
    x0: float = 1.2,
) -> mx.array:
    r"""A Mackey-Glass time series, the standard chaotic benchmark for reservoir computing.

    The delay differential equation

    .. math::

        \frac{dx}{dt} = \beta \frac{x(t - \tau)}{1 + x(t - \tau)^{n}} - \gamma x(t)

    is integrated with Euler steps of ``dt`` from the constant history :math:`x(t) = x_0`,
    :math:`t \le 0`, and every ``subsample``-th value is kept: with the defaults
    (:math:`\beta = 0.2`, :math:`\gamma = 0.1`, :math:`n = 10`, ``dt`` = 0.1, subsampling by 10)
    this is the discretisation of Jaeger's ESN tutorial (GMD Report 159, 2002) and of Jaeger &
    Haas (2004), *Science* 304:78-80, one sample per unit of time. ``tau = 17`` gives the
    mildly chaotic attractor of the benchmark (values stay within about [0.4, 1.35]); shorter
    delays such as ``tau = 10`` give a periodic series.

    Args:
        n: Number of samples returned.
        tau: Delay :math:`\tau`, in time units; ``tau / dt`` is rounded to whole steps.
        beta, gamma, exponent: The equation's constants (``beta``, ``gamma`` >= 0).
        dt: Euler step.
        subsample: Euler steps per returned sample.
        discard: Leading samples dropped so the series starts on the attractor.
        x0: Value of the constant initial history, >= 0.

    Returns:
        The series, shape ``(n,)``, float32.

    Raises:
        ValueError: an argument is out of range or not finite, or the Euler steps diverge
            (``dt`` too large for the constants).
    """
    n = check_count("n", n, 1)
    tau = check_real("tau", tau, above=0.0)
    dt = check_real("dt", dt, above=0.0)
    subsample = check_count("subsample", subsample, 1)
    discard = check_count("discard", discard, 0)
    beta = check_real("beta", beta, at_least=0.0)
    gamma = check_real("gamma", gamma, at_least=0.0)
    exponent = check_real("exponent", exponent)
    x0 = check_real("x0", x0, at_least=0.0)
    delay = max(round(tau / dt), 1)
    steps = (n + discard) * subsample
    # Plain Python floats: the recursion is sequential, and scalar numpy indexing is slower.
    x = [x0] * (delay + 1)
    try:
        for i in range(delay, delay + steps):
            lagged = x[i - delay]
            x.append(x[i] + dt * (beta * lagged / (1.0 + lagged**exponent) - gamma * x[i]))
        series = np.asarray(x[delay + subsample :: subsample][discard:], dtype=np.float64)
        stable = bool(np.all(np.isfinite(series)))
    except (OverflowError, TypeError, ZeroDivisionError):  # a blow-up, or x < 0 to a real power
        stable = False
    if not stable:
        raise ValueError(
            f"dt: the Euler integration diverged with dt={dt} (beta={beta}, gamma={gamma}, "
            f"exponent={exponent}, x0={x0}); use a smaller step"
        )
    return _to_backend(series)


def forecast_pairs(series: Any, horizon: int = 1) -> tuple[mx.array, mx.array]:
    """Inputs and targets for predicting a series ``horizon`` steps ahead.

    Args:
        series: Shape ``(T,)`` or ``(T, features)``.
        horizon: How far ahead the target lies.

    Returns:
        ``(inputs, targets)``, each ``(1, T - horizon, features)`` (one feature for a 1-D
        series) and float32 whatever the series' dtype, with ``inputs[0, t] = series[t]``
        and ``targets[0, t] = series[t + horizon]``.
    """
    horizon = check_count("horizon", horizon, 1)
    series = mx.astype(series, mx.float32) if isinstance(series, mx.array) else _to_backend(series)
    if series.ndim not in (1, 2):
        raise ValueError(f"series: expected shape (T,) or (T, features), got {tuple(series.shape)}")
    if series.shape[0] <= horizon:
        raise ValueError(
            f"horizon: expected fewer than the series length {series.shape[0]}, got {horizon}"
        )
    series = series.reshape((1, series.shape[0], -1))
    return series[:, :-horizon], series[:, horizon:]


def _narma10_outputs(u: np.ndarray) -> np.ndarray:
    """NARMA-10 outputs ``y(1..n)`` for inputs ``u`` of shape ``(batch, n)``."""
    batch, n = u.shape
    y = np.zeros((batch, n + 1))
    # A diverging row overflows to inf on its way out; it is rejected by the caller.
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(9, n):
            y[:, t + 1] = (
                0.3 * y[:, t]
                + 0.05 * y[:, t] * y[:, t - 9 : t + 1].sum(axis=1)
                + 1.5 * u[:, t - 9] * u[:, t]
                + 0.1
            )
    return y[:, 1:]


def narma10(n: int, batch: int = 1, seed: int | None = None) -> tuple[mx.array, mx.array]:
    r"""The NARMA-10 system identification task (Atiya & Parlos 2000, IEEE TNN 11(3), eq. 86).

    Inputs :math:`u(t)` are i.i.d. uniform on :math:`[0, 0.5]`; the system starts from
    :math:`y(t) = 0`, :math:`t < 10`, and follows

    .. math::

        y(t+1) = 0.3\, y(t) + 0.05\, y(t) \sum_{i=0}^{9} y(t-i) + 1.5\, u(t-9)\, u(t) + 0.1 .

    The target at step :math:`t` is :math:`y(t+1)`: a model that has read :math:`u(0..t)` must
    output it, remembering the input ten steps back.

    For a few input draws in a thousand steps the recursion diverges (a known instability of
    NARMA-10; bounded runs stay below about 1.25). Such a sequence, one whose output leaves
    :math:`[0, 2]`, is redrawn from the same generator, so ``seed`` still fixes the result.

    Args:
        n: Sequence length.
        batch: Number of independent sequences.
        seed: Seed of the numpy generator that draws the inputs (``None``: fresh entropy).

    Returns:
        ``(inputs, targets)``, each ``(batch, n, 1)``, float32.
    """
    n = check_count("n", n, 1)
    batch = check_count("batch", batch, 1)
    rng = np.random.default_rng(resolve_seed(seed))
    u = rng.uniform(0.0, 0.5, size=(batch, n))
    y = _narma10_outputs(u)
    diverged = ~np.all((y >= 0.0) & (y <= 2.0), axis=1)
    while diverged.any():
        u[diverged] = rng.uniform(0.0, 0.5, size=(int(diverged.sum()), n))
        y[diverged] = _narma10_outputs(u[diverged])
        diverged = ~np.all((y >= 0.0) & (y <= 2.0), axis=1)
    return _to_backend(u[..., None]), _to_backend(y[..., None])


def sine_wave(n: int = 48) -> tuple[mx.array, mx.array]:
    r"""ncps's toy sequence task: map :math:`(\sin\theta, \cos\theta)` to :math:`\sin 2\theta`.

    :math:`\theta` runs over ``n`` evenly spaced points of :math:`[0, 3\pi]`, as in the ncps
    examples and tests (``n = 48``).

    Returns:
        ``(inputs, targets)`` of shapes ``(1, n, 2)`` and ``(1, n, 1)``, float32.
    """
    n = check_count("n", n, 2)
    theta = np.linspace(0.0, 3.0 * np.pi, n)
    inputs = np.stack([np.sin(theta), np.cos(theta)], axis=-1)[None]
    targets = np.sin(np.linspace(0.0, 6.0 * np.pi, n))[None, :, None]
    return _to_backend(inputs), _to_backend(targets)


__all__ = ["forecast_pairs", "mackey_glass", "narma10", "sine_wave"]
