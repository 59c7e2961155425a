"""Benchmark sequences checked against facts that do not come from their own code.

Mackey-Glass: the Euler recursion holds between returned samples, the tau = 17 series stays on its
known attractor and is chaotic (a 1e-9 change of the history grows to order one) while tau = 10
is periodic (the change dies out). NARMA-10: the recursion re-computed here from the inputs.
sine_wave: the double-angle identity.
"""

import numpy as np
import pytest

from ember_mlx.backend import mx, to_numpy
from ember_mlx.data import forecast_pairs, mackey_glass, narma10, sine_wave


def as_np(x):
    return np.asarray(to_numpy(x), dtype=np.float64)


# ---------------------------------------------------------------------------- Mackey-Glass


def test_mackey_glass_follows_the_euler_recursion():
    beta, gamma, dt, tau = 0.2, 0.1, 0.1, 17.0
    x = as_np(mackey_glass(800, tau, dt=dt, subsample=1, discard=0))
    delay = round(tau / dt)
    # Sample j is x((j + 1) dt); the history before t = 0 is the constant x0 = 1.2.
    history = np.concatenate([np.full(delay + 1, 1.2), x])
    now, lagged = history[delay:-1], history[: -delay - 1]
    expected = now + dt * (beta * lagged / (1 + lagged**10) - gamma * now)
    np.testing.assert_allclose(x, expected, atol=2e-7)


def test_mackey_glass_tau17_stays_on_its_attractor():
    x = mackey_glass(5000)
    assert x.shape == (5000,) and x.dtype == mx.float32
    x = as_np(x)
    assert 0.4 < x.min() < 0.5 and 1.25 < x.max() < 1.35
    assert 0.85 < x.mean() < 0.95


def test_mackey_glass_tau17_is_chaotic_and_tau10_is_not():
    def divergence(tau):
        a = as_np(mackey_glass(3000, tau, discard=0, x0=1.2))
        b = as_np(mackey_glass(3000, tau, discard=0, x0=1.2 + 1e-9))
        return np.abs(a - b)

    chaotic, periodic = divergence(17.0), divergence(10.0)
    assert chaotic[:100].max() < 1e-5 and chaotic[-500:].max() > 0.1
    assert periodic[-500:].max() < 1e-5


def test_forecast_pairs_shift_the_series():
    series = mx.arange(10)
    inputs, targets = forecast_pairs(series, horizon=3)
    assert inputs.shape == (1, 7, 1) and targets.shape == (1, 7, 1)
    np.testing.assert_array_equal(as_np(targets) - as_np(inputs), 3)
    two_features = forecast_pairs(np.ones((6, 2)))[0]
    assert two_features.shape == (1, 5, 2)


@pytest.mark.parametrize(
    "series", [np.arange(5.0), np.arange(5), [0.0, 1.0, 2.0, 3.0, 4.0], mx.arange(5)]
)
def test_forecast_pairs_are_float32_on_every_backend(series):
    inputs, targets = forecast_pairs(series)
    assert inputs.dtype == mx.float32 and targets.dtype == mx.float32
    np.testing.assert_array_equal(as_np(inputs)[0, :, 0], [0, 1, 2, 3])
    np.testing.assert_array_equal(as_np(targets)[0, :, 0], [1, 2, 3, 4])


# -------------------------------------------------------------------------------- NARMA-10


def narma10_reference(u):
    """y(t+1) = 0.3 y(t) + 0.05 y(t) sum_{i<10} y(t-i) + 1.5 u(t-9) u(t) + 0.1, plain Python."""
    y = [0.0] * (len(u) + 1)
    for t in range(9, len(u)):
        y[t + 1] = 0.3 * y[t] + 0.05 * y[t] * sum(y[t - 9 : t + 1]) + 1.5 * u[t - 9] * u[t] + 0.1
    return np.array(y[1:])


def test_narma10_matches_the_recursion():
    inputs, targets = narma10(600, batch=3, seed=0)
    assert inputs.shape == (3, 600, 1) and targets.shape == (3, 600, 1)
    u, y = as_np(inputs)[..., 0], as_np(targets)[..., 0]
    assert 0.0 <= u.min() and u.max() <= 0.5
    for row in range(3):
        np.testing.assert_allclose(y[row], narma10_reference(u[row]), rtol=1e-5, atol=1e-6)
    assert not np.allclose(u[0], u[1])


def test_narma10_is_reproducible_and_redraws_diverging_sequences():
    # With seed 75 the first draw of 5000 inputs makes the recursion diverge near step 2180.
    first = np.random.default_rng(75).uniform(0.0, 0.5, 5000)
    with np.errstate(over="ignore", invalid="ignore"):
        assert not np.all(narma10_reference(first) <= 2.0)
    inputs, targets = narma10(5000, seed=75)
    u, y = as_np(inputs)[0, :, 0], as_np(targets)[0, :, 0]
    assert not np.allclose(u, first)
    assert y.max() < 1.3
    np.testing.assert_allclose(y, narma10_reference(u), rtol=1e-5, atol=1e-6)
    again = narma10(5000, seed=75)[0]
    np.testing.assert_array_equal(as_np(again), as_np(inputs))


# ------------------------------------------------------------------------------- sine wave


def test_sine_wave_is_the_ncps_task():
    inputs, targets = sine_wave()
    assert inputs.shape == (1, 48, 2) and targets.shape == (1, 48, 1)
    s, c = as_np(inputs)[0].T
    np.testing.assert_allclose(s**2 + c**2, 1.0, atol=1e-6)
    np.testing.assert_allclose(as_np(targets)[0, :, 0], 2 * s * c, atol=1e-6)
    assert s[0] == 0.0 and abs(s[-1]) < 1e-6 and c[-1] == pytest.approx(-1.0)


# ------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: mackey_glass(0), ValueError, "n: expected an int >= 1, got 0"),
        (lambda: mackey_glass(10.0), TypeError, "n: expected an int"),
        (lambda: mackey_glass(10, tau=-1.0), ValueError, "tau: expected a float > 0.0, got -1.0"),
        (lambda: mackey_glass(10, subsample=0), ValueError, "subsample"),
        (lambda: narma10(10, batch=0), ValueError, "batch: expected an int >= 1"),
        (lambda: forecast_pairs(np.ones(3), horizon=3), ValueError, "horizon: expected fewer"),
        (lambda: forecast_pairs(np.ones((2, 3, 4))), ValueError, r"series: expected shape"),
        (lambda: sine_wave(1), ValueError, "n: expected an int >= 2"),
        (lambda: mackey_glass(10, x0=float("nan")), ValueError, "x0: expected a float >= 0"),
        (lambda: mackey_glass(10, beta=-1.0), ValueError, "beta: expected a float >= 0"),
        (lambda: mackey_glass(10, gamma=float("inf")), ValueError, "gamma: expected"),
        (lambda: mackey_glass(10, exponent=float("nan")), ValueError, "exponent: expected"),
        (lambda: mackey_glass(10, dt=50.0), ValueError, "dt: the Euler integration diverged"),
        (lambda: narma10(10, seed=-1), ValueError, "seed: expected an int >= 0, got -1"),
    ],
)
def test_bad_arguments_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call()
