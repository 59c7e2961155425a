r"""Liquid state machine fit (state collection + ridge readout) against a plain numpy ESN.

Reservoir of 500 units, connectivity 0.1, one input, 2000 steps of Mackey-Glass one-step
prediction, washout 100. Both sides run the same recurrence on the same float32 weights, with
the input projection hoisted out of the time loop, then fit the readout:

- ember_mlx: ``LiquidStateMachine.fit`` (its loop, then ``ridge_regression``);
- reference: a numpy loop and the textbook ridge solution from the normal equations
  (Lukosevicius 2012, "A practical guide to applying echo state networks"), in float64 as
  ember_mlx solves them.

``benchmarks/conftest.py`` prints the speed-up (reference time / ember_mlx time, fastest
rounds; above 1 means ember_mlx is faster). Both fits must reach the same test NRMSE. Run one
backend per process::

    EMBER_BACKEND=torch python -m pytest benchmarks/test_bench_lsm.py
"""

import numpy as np
import pytest

from ember_mlx.backend import mx, to_numpy
from ember_mlx.data import forecast_pairs, mackey_glass
from ember_mlx.models.reservoir import LiquidStateMachine

RESERVOIR, STEPS, WASHOUT, RIDGE = 500, 2000, 100, 1e-8
GROUP = f"LSM fit, reservoir {RESERVOIR}, T {STEPS}"
ERRORS = {}  # "reference" -> test NRMSE of the reference fit


@pytest.fixture(scope="module")
def task():
    inputs, targets = forecast_pairs(mackey_glass(2 * STEPS + 1))
    lsm = LiquidStateMachine(1, RESERVOIR, 1, washout=WASHOUT, ridge=RIDGE, seed=0)
    return lsm, inputs, targets


def nrmse(predicted, target):
    predicted, target = np.asarray(predicted), np.asarray(target)
    return float(np.sqrt(np.mean((predicted - target) ** 2) / np.var(target)))


def numpy_esn_fit(w_in, w, b, inputs, targets):
    """Plain numpy ESN: collect the states, then solve the ridge normal equations."""
    drive = inputs @ w_in + b
    h = np.zeros(w.shape[0], dtype=w.dtype)
    states = np.empty((len(inputs), w.shape[0]), dtype=w.dtype)
    for t in range(len(inputs)):
        h = np.tanh(drive[t] + h @ w)
        states[t] = h
    features = np.concatenate([inputs, states], axis=1)[WASHOUT:].astype(np.float64)
    y = targets[WASHOUT:].astype(np.float64)
    mean_x, mean_y = features.mean(0), y.mean(0)
    centred = features - mean_x
    gram = centred.T @ centred + RIDGE * np.eye(features.shape[1])
    weight = np.linalg.solve(gram, centred.T @ (y - mean_y))
    return weight, mean_y - mean_x @ weight


@pytest.mark.reference
@pytest.mark.benchmark(group=GROUP)
def test_reference_numpy_esn(benchmark, task):
    lsm, inputs, targets = task
    w_in, w, b = (to_numpy(a) for a in (lsm.input_weight, lsm.recurrent_weight, lsm.bias))
    x, y = to_numpy(inputs)[0], to_numpy(targets)[0]

    weight, bias = benchmark.pedantic(
        numpy_esn_fit, args=(w_in, w, b, x[:STEPS], y[:STEPS]), rounds=5, warmup_rounds=1
    )
    # Test error, from the same model run over the whole series.
    states = to_numpy(lsm.reservoir_states(inputs))[0]
    predicted = np.concatenate([x, states], axis=1) @ weight + bias
    ERRORS["reference"] = nrmse(predicted[STEPS:], y[STEPS:])


@pytest.mark.benchmark(group=GROUP)
def test_ember_mlx_lsm(benchmark, task):
    lsm, inputs, targets = task

    def fit():
        lsm.fit(inputs[:, :STEPS], targets[:, :STEPS])
        mx.eval(lsm.parameters())

    benchmark.pedantic(fit, rounds=5, warmup_rounds=1)
    predicted = to_numpy(lsm(inputs))[0]
    error = nrmse(predicted[STEPS:], to_numpy(targets)[0, STEPS:])
    assert error < 1.1 * ERRORS.get("reference", 1e-3)
