"""The main job: train one model of each family on a small real task and show what it learned.

1. A wired CfC (AutoNCPMap) forecasts the chaotic Mackey-Glass series 5 steps ahead.
2. A liquid state machine forecasts the same series one step ahead with a ridge readout.
3. An RBM learns binarised 8x8 digits; an RBM anomaly detector trained on one digit scores the
   others; the learned filters and generated samples are written to a PNG.

Run with ``make demo`` (or ``python examples/demo.py --out demo_output``). Any backend works:
``EMBER_BACKEND=torch|mlx|numpy``; the CfC section needs autodiff and skips on numpy.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from tqdm.auto import tqdm

import ember_mlx
from ember_mlx.backend import mx, nn, optim, to_numpy
from ember_mlx.cli import info
from ember_mlx.data import forecast_pairs, mackey_glass
from ember_mlx.models import RBM, LiquidStateMachine, RBMAnomalyDetector
from ember_mlx.nn import CfC
from ember_mlx.nn.neuron_maps import AutoNCPMap
from ember_mlx.training import roc_auc
from ember_mlx.visualization import RBMVisualizer


def nrmse(predicted: mx.array, target: mx.array) -> float:
    """Root mean squared error over the standard deviation of the target."""
    predicted, target = to_numpy(predicted), to_numpy(target)
    return float(np.sqrt(np.mean((predicted - target) ** 2) / np.var(target)))


def windows(series: np.ndarray, length: int, horizon: int) -> tuple[mx.array, mx.array]:
    """Non-overlapping windows ``(B, length, 1)`` of the series and its values ``horizon`` later."""
    count = (len(series) - horizon) // length
    x = series[: count * length].reshape(count, length, 1)
    y = series[horizon : horizon + count * length].reshape(count, length, 1)
    return mx.array(x), mx.array(y)


def wired_cfc_forecast(steps: int, horizon: int = 5) -> None:
    """Train ``CfC(1, AutoNCPMap(24, 1))`` with Adam to forecast Mackey-Glass ``horizon`` ahead."""
    series = to_numpy(mackey_glass(2400)).astype(np.float32)
    # The motor neurons are the output, and LeCun tanh bounds them by 1.7159: keep the targets
    # well inside (NRMSE does not depend on the scale).
    series = 0.5 * (series - series.mean()) / series.std()
    x_train, y_train = windows(series[:1800], 60, horizon)
    x_test, y_test = windows(series[1800:], 60, horizon)

    mx.random.seed(0)
    model = CfC(1, AutoNCPMap(24, 1, seed=0))
    optimizer = optim.Adam(learning_rate=0.02, bias_correction=True)
    washout = 10  # the state starts at zero: skip the first steps of each window

    def loss_fn(model: CfC, x: mx.array, y: mx.array) -> mx.array:
        return mx.mean((model(x)[0][:, washout:] - y[:, washout:]) ** 2)

    loss_and_grad = nn.value_and_grad(model, loss_fn)

    def test_nrmse() -> float:
        return nrmse(model(x_test)[0][:, washout:], y_test[:, washout:])

    persistence = nrmse(x_test[:, washout:], y_test[:, washout:])
    before = test_nrmse()
    start = time.perf_counter()
    with tqdm(range(steps), desc="wired CfC", unit="step") as bar:
        for _ in bar:
            loss, grads = loss_and_grad(model, x_train, y_train)
            optimizer.update(model, grads)
            mx.eval(model.parameters(), optimizer.state)
            bar.set_postfix(mse=f"{loss.item():.4f}")
    seconds = time.perf_counter() - start
    print(
        f"wired CfC, AutoNCPMap(24 units, 1 motor), {steps} Adam steps in {seconds:.1f} s: "
        f"test NRMSE {before:.3f} -> {test_nrmse():.3f} "
        f"(persistence forecast: {persistence:.3f}), horizon {horizon}"
    )


def lsm_forecast() -> None:
    """Fit a 400-unit liquid state machine's readout to forecast Mackey-Glass one step ahead."""
    inputs, targets = forecast_pairs(mackey_glass(2201))
    train, test = slice(0, 1700), slice(1700, None)
    lsm = LiquidStateMachine(1, 400, 1, spectral_radius=0.9, input_scaling=0.5, seed=0)
    start = time.perf_counter()
    lsm.fit(inputs[:, train], targets[:, train])
    predicted = lsm.predict(inputs)[:, test]
    seconds = time.perf_counter() - start
    print(
        f"liquid state machine, 400 units, ridge readout fitted in {seconds:.1f} s: "
        f"Mackey-Glass one-step test NRMSE {nrmse(predicted, targets[:, test]):.2e}"
    )


def binarised_digits() -> tuple[np.ndarray, np.ndarray]:
    digits = load_digits()
    return (digits.data / 16.0 > 0.5).astype(np.float32), digits.target


def rbm_digits(epochs: int, out: Path) -> None:
    """Train an RBM on all digits (PNG of filters and samples) and a detector on the 3s."""
    data, labels = binarised_digits()
    rbm = RBM(64, 64, learning_rate=0.05, persistent=True, num_chains=32, seed=0)
    history = rbm.train(mx.array(data), epochs=epochs, batch_size=20, progress=True)
    first, last = history["reconstruction_error"][0], history["reconstruction_error"][-1]
    print(f"RBM 64 x 64 on binarised digits: reconstruction error {first:.4f} -> {last:.4f}")

    normal = labels == 3
    detector = RBMAnomalyDetector(64, 32, learning_rate=0.05, percentile=95.0, seed=0)
    detector.train(mx.array(data[normal]), epochs=epochs, batch_size=20)
    scores = detector.score(mx.array(data))
    auc = roc_auc(mx.array(~normal), scores)[3]
    flagged = to_numpy(detector.detect(mx.array(data)))
    print(
        f"RBM anomaly detector, trained on the 3s: ROC AUC 3s vs other digits {auc:.3f}; "
        f"flagged {flagged[~normal].mean():.0%} of the others and {flagged[normal].mean():.0%} "
        "of the 3s"
    )
    visualizer = RBMVisualizer(out, dpi=80, figsize=(12, 8))
    visualizer.plot_filters_and_samples(
        rbm,
        rbm.generate(32, k=200),
        (8, 8),
        title="RBM on digits: filters (left), generated samples (right)",
        filename="rbm_digits.png",
    )
    print(f"filters and generated samples written to {out / 'rbm_digits.png'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("demo_output"), help="where PNGs go")
    parser.add_argument("--steps", type=int, default=300, help="Adam steps for the wired CfC")
    parser.add_argument("--epochs", type=int, default=20, help="RBM epochs")
    args = parser.parse_args()

    report = info()
    width = max(map(len, report)) + 2
    for key, value in report.items():
        print(f"{key:<{width}}{value}")
    print()
    if ember_mlx.get_backend() == "numpy":
        print("wired CfC: skipped, the numpy backend has no autodiff (EMBER_BACKEND=torch or mlx)")
    else:
        wired_cfc_forecast(args.steps)
    lsm_forecast()
    rbm_digits(args.epochs, args.out)


if __name__ == "__main__":
    main()
