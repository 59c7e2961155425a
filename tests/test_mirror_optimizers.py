"""The shared mlx.optimizers mirror over each core, against mlx.optimizers and torch.optim.

Gradients come from a closed form (a quadratic), so every optimizer test runs on the numpy
mirror too; tests comparing with mlx itself are ``mlx_only``.
"""

import importlib
import math

import numpy as np
import pytest

from ember_mlx.backend import to_numpy

MIRRORS = ["numpy", "torch"]
STEPS = 6


@pytest.fixture(params=MIRRORS)
def mirror(request):
    if request.param == "torch":
        pytest.importorskip("torch")
    return importlib.import_module(f"ember_mlx.compat.{request.param}")


def to_np(tree):
    if isinstance(tree, dict):
        return {k: to_np(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(to_np(v) for v in tree)
    return np.asarray(to_numpy(tree))


def to_backend(core, tree):
    if isinstance(tree, dict):
        return {k: to_backend(core, v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(to_backend(core, v) for v in tree)
    return core.array(tree)


class Quadratic:
    r"""f(p) = sum over leaves of 1/2 p^T A p - c^T p (A positive definite): gradient A p - c."""

    def __init__(self, seed: int = 0):
        rng = np.random.default_rng(seed)
        m = rng.standard_normal((3, 3))
        self.a = (m @ m.T / 3 + np.eye(3)).astype(np.float32)
        self.c = rng.standard_normal((3, 1)).astype(np.float32)
        self.start = {
            "w": rng.standard_normal((3, 2)).astype(np.float32),
            "layers": [{"b": rng.standard_normal((3,)).astype(np.float32)}],
        }

    def grad(self, p: np.ndarray) -> np.ndarray:
        if p.ndim == 1:
            return self.a @ p - self.c[:, 0]
        return self.a @ p - self.c

    def grads(self, params: dict) -> dict:
        flat = to_np(params)
        return {"w": self.grad(flat["w"]), "layers": [{"b": self.grad(flat["layers"][0]["b"])}]}


def run_mirror(mirror, optimizer, problem, steps=STEPS):
    params = to_backend(mirror.core, problem.start)
    for _ in range(steps):
        grads = to_backend(mirror.core, problem.grads(params))
        params = optimizer.apply_gradients(grads, params)
    return to_np(params)


def run_torch(optimizer_cls, problem, steps=STEPS, **kwargs):
    torch = pytest.importorskip("torch")
    leaves = {
        "w": torch.tensor(problem.start["w"], requires_grad=True),
        "b": torch.tensor(problem.start["layers"][0]["b"], requires_grad=True),
    }
    optimizer = optimizer_cls(list(leaves.values()), **kwargs)
    for _ in range(steps):
        for value in leaves.values():
            value.grad = torch.from_numpy(problem.grad(value.detach().numpy()))
        optimizer.step()
    return {"w": leaves["w"].detach().numpy(), "layers": [{"b": leaves["b"].detach().numpy()}]}


def assert_trees_close(got, want, atol=1e-5):
    assert got.keys() == want.keys()
    np.testing.assert_allclose(got["w"], want["w"], atol=atol, rtol=0)
    np.testing.assert_allclose(got["layers"][0]["b"], want["layers"][0]["b"], atol=atol, rtol=0)


OPTIMIZERS = {
    "sgd": ("SGD", {"learning_rate": 0.05}),
    "sgd_momentum_decay": ("SGD", {"learning_rate": 0.05, "momentum": 0.9, "weight_decay": 0.01}),
    "sgd_nesterov": ("SGD", {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}),
    "sgd_dampening": ("SGD", {"learning_rate": 0.05, "momentum": 0.9, "dampening": 0.3}),
    "adam": ("Adam", {"learning_rate": 0.05}),
    "adam_bias_correction": ("Adam", {"learning_rate": 0.05, "bias_correction": True}),
    "adamw": ("AdamW", {"learning_rate": 0.05}),
    "adamw_bias_correction": (
        "AdamW",
        {"learning_rate": 0.05, "weight_decay": 0.1, "bias_correction": True},
    ),
    "rmsprop": ("RMSprop", {"learning_rate": 0.01, "alpha": 0.9}),
    "adagrad": ("Adagrad", {"learning_rate": 0.1}),
    "adadelta": ("AdaDelta", {"learning_rate": 0.5}),
    "adamax": ("Adamax", {"learning_rate": 0.05}),
    "lion": ("Lion", {"learning_rate": 0.01, "weight_decay": 0.1}),
    "adafactor": ("Adafactor", {}),
    "adafactor_fixed_lr": (
        "Adafactor",
        {"learning_rate": 0.05, "relative_step": False, "beta_1": 0.9, "weight_decay": 0.01},
    ),
    "muon": ("Muon", {"learning_rate": 0.02}),
}


@pytest.mark.mlx_only
@pytest.mark.parametrize("case", sorted(OPTIMIZERS))
def test_optimizer_matches_mlx(mirror, case):
    mlx_core = pytest.importorskip("mlx.core")
    mlx_optimizers = pytest.importorskip("mlx.optimizers")
    name, kwargs = OPTIMIZERS[case]
    problem = Quadratic()
    optimizer = getattr(mirror.optimizers, name)(**kwargs)
    got = run_mirror(mirror, optimizer, problem)

    reference = getattr(mlx_optimizers, name)(**kwargs)
    params = to_backend(mlx_core, problem.start)
    for _ in range(STEPS):
        params = reference.apply_gradients(to_backend(mlx_core, problem.grads(params)), params)
    assert_trees_close(got, to_np(params))
    assert sorted(optimizer.state) == sorted(reference.state)
    assert sorted(optimizer.state["layers"][0]["b"]) == sorted(reference.state["layers"][0]["b"])
    assert int(to_np(optimizer.step)) == reference.step.item() == STEPS


TORCH_OPTIMIZERS = {
    "sgd": ("SGD", {"lr": 0.05}),
    "sgd_momentum": ("SGD", {"lr": 0.05, "momentum": 0.9}),
    "sgd_nesterov": ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    "sgd_weight_decay": ("SGD", {"lr": 0.05, "momentum": 0.5, "weight_decay": 0.1}),
    "adam": ("Adam", {"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-6}),
    "adamw": ("AdamW", {"lr": 0.05, "weight_decay": 0.1}),
    "rmsprop": ("RMSprop", {"lr": 0.01, "alpha": 0.9}),
    "adagrad": ("Adagrad", {"lr": 0.1, "eps": 1e-8}),
    "adadelta": ("Adadelta", {"lr": 0.5, "rho": 0.8}),
}
TO_MLX_NAMES = {"lr": "learning_rate", "Adadelta": "AdaDelta"}


@pytest.mark.parametrize("case", sorted(TORCH_OPTIMIZERS))
def test_optimizer_matches_torch(mirror, case):
    """Where MLX's rule is torch's (Adam/AdamW with bias correction, SGD without dampening,
    RMSprop, Adagrad, Adadelta), the mirror's parameters equal torch.optim's."""
    torch = pytest.importorskip("torch")
    name, kwargs = TORCH_OPTIMIZERS[case]
    mlx_kwargs = {TO_MLX_NAMES.get(k, k): v for k, v in kwargs.items()}
    if name in ("Adam", "AdamW"):
        mlx_kwargs["bias_correction"] = True
    optimizer = getattr(mirror.optimizers, TO_MLX_NAMES.get(name, name))(**mlx_kwargs)
    problem = Quadratic(seed=1)
    got = run_mirror(mirror, optimizer, problem, steps=10)
    want = run_torch(getattr(torch.optim, name), problem, steps=10, **kwargs)
    assert_trees_close(got, want)


def test_adam_defaults_follow_mlx_not_torch(mirror):
    """MLX's Adam omits bias correction by default: its first step is lr * g / (|g| + eps)
    scaled by (1 - b1) / sqrt(1 - b2), not torch's lr * sign(g)."""
    mx = mirror.core
    optimizer = mirror.optimizers.Adam(learning_rate=0.1)
    assert optimizer.bias_correction is False
    assert tuple(optimizer.betas) == (0.9, 0.999) and optimizer.eps == 1e-8
    g = np.array([2.0, -0.5], dtype=np.float32)
    out = optimizer.apply_gradients({"p": mx.array(g)}, {"p": mx.zeros((2,))})
    expected = -0.1 * (0.1 * g) / (np.sqrt(0.001 * g**2) + 1e-8)
    np.testing.assert_allclose(to_np(out["p"]), expected, rtol=1e-5)
    assert mirror.optimizers.AdamW(learning_rate=0.1).weight_decay == 0.01


def test_sgd_closed_form_and_state(mirror):
    mx = mirror.core
    optimizer = mirror.optimizers.SGD(learning_rate=0.5, momentum=0.9)
    params = {"w": mx.array(np.array([1.0, 2.0], dtype=np.float32))}
    grads = {"w": mx.array(np.array([0.2, -0.4], dtype=np.float32))}
    optimizer.init(params)
    assert sorted(optimizer.state) == ["learning_rate", "step", "w"]
    np.testing.assert_array_equal(to_np(optimizer.state["w"]["v"]), [0.0, 0.0])
    params = optimizer.apply_gradients(grads, params)
    params = optimizer.apply_gradients(grads, params)
    # v1 = g, v2 = 0.9 g + g; w = w0 - lr (v1 + v2)
    np.testing.assert_allclose(to_np(params["w"]), [1.0, 2.0] - 0.5 * 2.9 * np.array([0.2, -0.4]))
    np.testing.assert_allclose(to_np(optimizer.state["w"]["v"]), 1.9 * np.array([0.2, -0.4]))
    assert int(to_np(optimizer.step)) == 2
    optimizer.learning_rate = 0.25
    assert float(to_np(optimizer.learning_rate)) == 0.25
    assert optimizer.learning_rate.dtype == mx.float32


def test_update_applies_gradients_to_a_module(mirror):
    mx, nn = mirror.core, mirror.nn
    model = nn.Linear(3, 2)
    before = to_np(model.parameters())
    grads = {"weight": mx.ones((2, 3)), "bias": mx.ones((2,))}
    mirror.optimizers.SGD(learning_rate=0.1).update(model, grads)
    np.testing.assert_allclose(to_np(model.weight), before["weight"] - 0.1, rtol=1e-6)
    np.testing.assert_allclose(to_np(model.bias), before["bias"] - 0.1, rtol=1e-6)
    # A partial gradient tree updates only the parameters it names.
    mirror.optimizers.Adam(learning_rate=0.1).update(model, {"bias": mx.ones((2,))})
    np.testing.assert_allclose(to_np(model.weight), before["weight"] - 0.1, rtol=1e-6)


def test_scalar_parameters_stay_arrays(mirror):
    mx = mirror.core
    for optimizer in (mirror.optimizers.SGD(0.1, momentum=0.9), mirror.optimizers.Adam(0.1)):
        params = {"t": mx.array(1.0)}
        for _ in range(2):
            params = optimizer.apply_gradients({"t": mx.array(0.5)}, params)
        assert isinstance(params["t"], mx.array)
        assert params["t"].dtype == mx.float32


def test_optimizer_argument_errors(mirror):
    optim = mirror.optimizers
    with pytest.raises(ValueError, match="Nesterov momentum requires"):
        optim.SGD(0.1, nesterov=True)
    with pytest.raises(ValueError, match="beta2 should be in"):
        optim.Adam(0.1, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="epsilon should be >0"):
        optim.RMSprop(0.1, eps=0.0)
    with pytest.raises(ValueError, match="Lion beta1"):
        optim.Lion(0.1, betas=(-0.1, 0.9))
    with pytest.raises(ValueError, match="2 filters but 1 needed"):
        optim.MultiOptimizer([optim.SGD(0.1), optim.Adam(0.1)], [lambda *_: True] * 2)


def test_multi_optimizer_routes_by_path(mirror):
    mx, optim = mirror.core, mirror.optimizers
    multi = optim.MultiOptimizer([optim.SGD(1.0), optim.SGD(0.1)], [lambda k, _: "bias" in k])
    params = {"weight": mx.zeros((2,)), "bias": mx.zeros((2,))}
    out = multi.apply_gradients({"weight": mx.ones((2,)), "bias": mx.ones((2,))}, params)
    np.testing.assert_allclose(to_np(out["bias"]), [-1.0, -1.0])
    np.testing.assert_allclose(to_np(out["weight"]), [-0.1, -0.1], rtol=1e-6)
    multi.learning_rate = 0.5
    assert [float(to_np(o.learning_rate)) for o in multi.optimizers] == [0.5, 0.5]
    assert len(multi.state["states"]) == 2


# --- schedules -----------------------------------------------------------------------------

SCHEDULES = {
    "exponential_decay": (("exponential_decay", 0.1, 0.9), lambda t: 0.1 * 0.9**t),
    "step_decay": (("step_decay", 0.1, 0.5, 3), lambda t: 0.1 * 0.5 ** (t // 3)),
    "cosine_decay": (
        ("cosine_decay", 0.1, 10, 0.01),
        lambda t: 0.01 + 0.5 * (1 + math.cos(math.pi * min(t, 10) / 10)) * 0.09,
    ),
    "linear_schedule": (("linear_schedule", 0.0, 0.1, 5), lambda t: 0.1 * min(t, 5) / 5),
}
SCHEDULE_STEPS = [0, 1, 2, 3, 5, 8, 10, 13, 40]


def make_schedule(optimizers, spec):
    name, *args = spec
    return getattr(optimizers, name)(*args)


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_schedule_values(mirror, name):
    spec, formula = SCHEDULES[name]
    schedule = make_schedule(mirror.optimizers, spec)
    for t in SCHEDULE_STEPS:
        value = schedule(mirror.core.array(t, mirror.core.int64))
        assert value.dtype == mirror.core.float32
        assert float(to_np(value)) == pytest.approx(formula(t), rel=1e-5, abs=1e-7)


def test_join_schedules_switches_at_the_boundary(mirror):
    optim = mirror.optimizers
    warmup_then_decay = optim.join_schedules(
        [optim.linear_schedule(0.0, 0.1, 4), optim.exponential_decay(0.1, 0.5)], [4]
    )
    values = [float(to_np(warmup_then_decay(mirror.core.array(t)))) for t in range(7)]
    np.testing.assert_allclose(values, [0.0, 0.025, 0.05, 0.075, 0.1, 0.05, 0.025], rtol=1e-6)
    with pytest.raises(ValueError, match="1 boundaries but expected 0"):
        optim.join_schedules([optim.linear_schedule(0.0, 0.1, 4)], [4])


def test_schedule_argument_errors(mirror):
    optim = mirror.optimizers
    with pytest.raises(ValueError, match="step_size must be greater than 0"):
        optim.step_decay(0.1, 0.9, 0)
    with pytest.raises(ValueError, match="decay_steps must be greater than 0"):
        optim.cosine_decay(0.1, 0)
    with pytest.raises(ValueError, match="steps must be greater than 0"):
        optim.linear_schedule(0.0, 1.0, 0)


def test_scheduled_learning_rate_is_evaluated_before_each_step(mirror):
    mx, optim = mirror.core, mirror.optimizers
    optimizer = optim.SGD(learning_rate=optim.exponential_decay(1.0, 0.5))
    params = {"w": mx.zeros((1,))}
    seen = []
    for _ in range(4):
        params = optimizer.apply_gradients({"w": mx.ones((1,))}, params)
        seen.append(float(to_np(optimizer.learning_rate)))
    assert seen == [1.0, 0.5, 0.25, 0.125]
    np.testing.assert_allclose(to_np(params["w"]), [-1.875])


@pytest.mark.mlx_only
@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_schedule_matches_mlx(mirror, name):
    mlx_core = pytest.importorskip("mlx.core")
    mlx_optimizers = pytest.importorskip("mlx.optimizers")
    spec, _ = SCHEDULES[name]
    schedule, reference = (
        make_schedule(mirror.optimizers, spec),
        make_schedule(mlx_optimizers, spec),
    )
    for t in SCHEDULE_STEPS:
        got = float(to_np(schedule(mirror.core.array(t, mirror.core.int64))))
        assert got == pytest.approx(reference(mlx_core.array(t, mlx_core.uint64)).item(), rel=1e-6)


@pytest.mark.mlx_only
def test_scheduled_optimizer_matches_mlx(mirror):
    mlx_core = pytest.importorskip("mlx.core")
    mlx_optimizers = pytest.importorskip("mlx.optimizers")
    problem = Quadratic(seed=2)

    def warmup_cosine(optimizers):
        return optimizers.join_schedules(
            [optimizers.linear_schedule(0.0, 0.1, 3), optimizers.cosine_decay(0.1, 10)], [3]
        )

    got = run_mirror(mirror, mirror.optimizers.Adam(warmup_cosine(mirror.optimizers)), problem)
    reference = mlx_optimizers.Adam(warmup_cosine(mlx_optimizers))
    params = to_backend(mlx_core, problem.start)
    for _ in range(STEPS):
        params = reference.apply_gradients(to_backend(mlx_core, problem.grads(params)), params)
    assert_trees_close(got, to_np(params))


# --- clip_grad_norm ------------------------------------------------------------------------


def test_clip_grad_norm(mirror):
    mx = mirror.core
    grads = {"a": mx.array([3.0, 4.0]), "b": [mx.array([[12.0]])]}
    clipped, norm = mirror.optimizers.clip_grad_norm(grads, max_norm=6.5)
    assert float(to_np(norm)) == pytest.approx(13.0)
    np.testing.assert_allclose(to_np(clipped["a"]), [1.5, 2.0], rtol=1e-5)
    np.testing.assert_allclose(to_np(clipped["b"][0]), [[6.0]], rtol=1e-5)
    unchanged, _ = mirror.optimizers.clip_grad_norm(grads, max_norm=100.0)
    np.testing.assert_array_equal(to_np(unchanged["a"]), [3.0, 4.0])
    half = {"g": mx.full((4,), 1000.0, dtype=mx.float16)}
    clipped, norm = mirror.optimizers.clip_grad_norm(half, max_norm=1.0)
    assert float(to_np(norm)) == pytest.approx(2000.0)  # no float16 overflow
    assert clipped["g"].dtype == mx.float16
    with pytest.raises(ValueError, match="max_norm should be >=0"):
        mirror.optimizers.clip_grad_norm(grads, max_norm=-1.0)


@pytest.mark.mlx_only
def test_clip_grad_norm_matches_mlx(mirror, rng):
    mlx_core = pytest.importorskip("mlx.core")
    mlx_optimizers = pytest.importorskip("mlx.optimizers")
    grads = {"w": rng.standard_normal((3, 2)).astype(np.float32), "b": [np.ones(2, np.float32)]}
    clipped, norm = mirror.optimizers.clip_grad_norm(to_backend(mirror.core, grads), 1.0)
    want, want_norm = mlx_optimizers.clip_grad_norm(to_backend(mlx_core, grads), 1.0)
    assert float(to_np(norm)) == pytest.approx(want_norm.item(), rel=1e-6)
    np.testing.assert_allclose(to_np(clipped["w"]), np.array(want["w"]), rtol=1e-6)
