"""ember_mlx.training's losses and optimizers: the seed's names, torch.optim's steps, training.

The optimizers take given gradients, so their steps are compared with torch.optim on every
backend; training through ``nn.value_and_grad`` needs autodiff (not on numpy). The seed's
training-loop example is TensorFlow style (``ops.gradients``, ``apply_gradients``) and is not
run: see :mod:`ember_mlx.training.optimizer`.
"""

import ast
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import ember_mlx
from ember_mlx.backend import mx, nn, optim, to_numpy
from ember_mlx.ops import loss as losses
from ember_mlx.training import SGD, Adam, CrossEntropyLoss, Loss, MSELoss, Optimizer

ROOT = Path(__file__).resolve().parents[1]
SEED = Path(__file__).parent / "data" / "seed_training.md"


def test_the_seeds_import_lines_run_as_written():
    code = SEED.read_text().split("## Importing", 1)[1]
    block = re.search(r"```python\n(.*?)```", code, re.S).group(1)
    namespace = {}
    exec(block.replace("ember_ml", "ember_mlx"), namespace)
    names = ["Optimizer", "SGD", "Adam", "Loss", "MSELoss", "CrossEntropyLoss"]
    assert all(name in namespace for name in names)
    assert callable(namespace["classification_metrics"])
    assert callable(namespace["regression_metrics"])
    assert ember_mlx.training.Adam is Adam


def test_nothing_below_training_imports_it():
    """backend < kernels < nn < models < training: only training itself names the package."""
    for path in (ROOT / "ember_mlx").rglob("*.py"):
        if "training" in path.relative_to(ROOT / "ember_mlx").parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("ember_mlx.training"), path
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("ember_mlx.training") for a in node.names), path


# --- losses ---------------------------------------------------------------------------------


def test_mse_loss_is_ops_mse(rng):
    y, y_hat = (
        rng.normal(size=(6, 2)).astype(np.float32),
        rng.normal(size=(6, 2)).astype(np.float32),
    )
    assert isinstance(MSELoss(), Loss)
    np.testing.assert_allclose(to_numpy(MSELoss()(y, y_hat)), ((y_hat - y) ** 2).mean(), rtol=1e-6)


def test_mse_loss_refuses_to_broadcast():
    """An (n,) target against (n, 1) predictions must not average all n**2 pairs."""
    y = np.arange(4.0, dtype=np.float32)
    with pytest.raises(ValueError, match=r"y_pred: expected y_true's shape \(4,\), got \(4, 1\)"):
        MSELoss()(y, y[:, None])


@pytest.mark.parametrize("from_logits", [False, True])
def test_cross_entropy_dispatches_on_the_targets(rng, from_logits):
    logits = rng.normal(size=(8, 4)).astype(np.float32)
    y_pred = logits if from_logits else np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = rng.integers(0, 4, 8)
    reference = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(labels)).item()
    loss = CrossEntropyLoss(from_logits=from_logits)
    sparse = loss(mx.array(labels.astype(np.int32)), mx.array(y_pred))
    one_hot = loss(mx.array(np.eye(4, dtype=np.float32)[labels]), mx.array(y_pred))
    assert to_numpy(sparse) == pytest.approx(reference, rel=1e-5)
    assert to_numpy(one_hot) == pytest.approx(reference, rel=1e-5)
    sparse_reference = losses.sparse_categorical_crossentropy(labels, y_pred, from_logits)
    np.testing.assert_array_equal(to_numpy(sparse), to_numpy(sparse_reference))


def test_cross_entropy_errors():
    with pytest.raises(ValueError, match=r"y_true: expected integer class labels of shape \(3,\)"):
        CrossEntropyLoss()(mx.zeros((3,)), mx.ones((3, 2)))
    with pytest.raises(TypeError, match="from_logits: expected a bool, got int 1"):
        CrossEntropyLoss(from_logits=1)


# --- optimizers -----------------------------------------------------------------------------


def test_optimizers_are_the_backends_with_the_seeds_defaults():
    assert Optimizer is optim.Optimizer
    sgd, adam = SGD(), Adam()
    assert isinstance(sgd, optim.SGD) and isinstance(adam, optim.Adam)
    assert to_numpy(sgd.learning_rate) == pytest.approx(0.01)
    assert (sgd.momentum, sgd.nesterov) == (0.0, False)
    assert to_numpy(adam.learning_rate) == pytest.approx(0.001)
    assert list(adam.betas) == [0.9, 0.999] and adam.eps == 1e-7
    assert adam.bias_correction is True  # Keras's Adam; optim.Adam defaults to False


def run_steps(optimizer, torch_optimizer_class, torch_kwargs, rng, steps=5):
    """Our parameters and torch.optim's after the same gradients, as numpy arrays."""
    weight, bias = rng.normal(size=(2, 3)), rng.normal(size=(2,))
    grads = [(rng.normal(size=(2, 3)), rng.normal(size=(2,))) for _ in range(steps)]
    model = nn.Linear(3, 2)
    model.update({"weight": mx.array(weight, mx.float32), "bias": mx.array(bias, mx.float32)})
    params = [torch.tensor(weight, dtype=torch.float32), torch.tensor(bias, dtype=torch.float32)]
    for p in params:
        p.requires_grad_(True)
    reference = torch_optimizer_class(params, **torch_kwargs)
    for g_weight, g_bias in grads:
        gradients = {"weight": mx.array(g_weight, mx.float32), "bias": mx.array(g_bias, mx.float32)}
        optimizer.update(model, gradients)
        for p, g in zip(params, (g_weight, g_bias), strict=True):
            p.grad = torch.tensor(g, dtype=torch.float32)
        reference.step()
    ours = [to_numpy(model.weight), to_numpy(model.bias)]
    return ours, [p.detach().numpy() for p in params]


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"learning_rate": 0.1, "momentum": 0.9},
        {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True},
    ],
)
def test_sgd_steps_are_torch_optim_sgds(rng, kwargs):
    optimizer = SGD(**kwargs)
    torch_kwargs = {
        "lr": kwargs.get("learning_rate", 0.01),
        **{k: v for k, v in kwargs.items() if k != "learning_rate"},
    }
    ours, theirs = run_steps(optimizer, torch.optim.SGD, torch_kwargs, rng)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs", [{}, {"learning_rate": 0.05, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-3}]
)
def test_adam_steps_are_torch_optim_adams(rng, kwargs):
    """Same formula, float32 both sides (MLX scales by rsqrt(1 - beta_2^t) where torch
    divides by its sqrt), so the parameters agree to float32 rounding: 1e-6."""
    args = {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, **kwargs}
    torch_kwargs = {
        "lr": args["learning_rate"],
        "betas": (args["beta_1"], args["beta_2"]),
        "eps": args["epsilon"],
    }
    ours, theirs = run_steps(Adam(**kwargs), torch.optim.Adam, torch_kwargs, rng)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (
            lambda: SGD(momentum=1.5),
            ValueError,
            r"momentum: expected a value in \[0.0, 1.0\], got 1.5",
        ),
        (lambda: SGD(nesterov=True), ValueError, "nesterov: Nesterov momentum needs momentum > 0"),
        (lambda: SGD(nesterov=1), TypeError, "nesterov: expected a bool, got int 1"),
        (
            lambda: SGD(learning_rate=-0.1),
            ValueError,
            "learning_rate: expected a float >= 0.0, got -0.1",
        ),
        (
            lambda: Adam(beta_1=1.0),
            ValueError,
            r"beta_1: expected a value in \[0.0, 1.0\), got 1.0",
        ),
        (
            lambda: Adam(beta_2=-0.5),
            ValueError,
            r"beta_2: expected a value in \[0.0, 1.0\), got -0.5",
        ),
        (lambda: Adam(epsilon=-1e-7), ValueError, "epsilon: expected a float >= 0.0, got -1e-07"),
        (lambda: Adam(learning_rate="fast"), TypeError, "learning_rate: expected a float >= 0.0"),
    ],
)
def test_optimizer_argument_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


@pytest.mark.autodiff
@pytest.mark.parametrize(
    ("make_optimizer", "make_loss", "classes"),
    [
        (lambda: SGD(learning_rate=0.1, momentum=0.5), MSELoss, 1),
        (lambda: Adam(learning_rate=0.05), lambda: CrossEntropyLoss(from_logits=True), 3),
    ],
)
def test_a_linear_model_learns_with_value_and_grad(rng, make_optimizer, make_loss, classes):
    """The MLX way to train: loss and gradients from nn.value_and_grad, optimizer.update."""
    x = rng.normal(size=(64, 4)).astype(np.float32)
    if classes == 1:
        y = mx.array(x @ np.array([[1.0], [-2.0], [0.5], [0.0]], np.float32))
    else:
        y = mx.array(np.argmax(x[:, :3], axis=1).astype(np.int32))
    model, optimizer, loss_fn = nn.Linear(4, classes), make_optimizer(), make_loss()
    loss_and_grad = nn.value_and_grad(model, lambda x, y: loss_fn(y, model(x)))
    x = mx.array(x)
    history = []
    for _ in range(30):
        loss, grads = loss_and_grad(x, y)
        optimizer.update(model, grads)
        history.append(float(to_numpy(loss)))
    assert history[-1] < 0.3 * history[0]
