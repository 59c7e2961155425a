"""CfCCell and CfC: equality with ncps (torch) for the same weights, timespans, state handling,
gradients, learning (unwired and wired), laziness under mx.compile, errors."""

import numpy as np
import pytest
from second_order import assert_second_orders_equal, ember_second_order, torch_second_order

from ember_mlx.backend import get_backend, mx, nn, optim, to_numpy, utils
from ember_mlx.checkpoint import CheckpointError
from ember_mlx.nn.neuron_maps import AutoNCPMap
from ember_mlx.nn.rnn.cfc import CfC
from ember_mlx.nn.rnn.cfc_cell import CfCCell
from ember_mlx.nn.rnn.sequence import MixedMemoryCell

torch = pytest.importorskip("torch")
ncps_torch = pytest.importorskip("ncps.torch")

B, T, F, H = 3, 5, 4, 8


def inputs(rng, batch=B, steps=T, features=F):
    return rng.standard_normal((batch, steps, features)).astype(np.float32)


def ncps_run(ref, x, hx=None, timespans=None):
    """ncps's outputs as numpy (state of a mixed-memory layer: the pair)."""
    to_torch = lambda a: None if a is None else torch.from_numpy(np.asarray(a))  # noqa: E731
    if isinstance(hx, tuple):
        hx = tuple(to_torch(a) for a in hx)
    else:
        hx = to_torch(hx)
    with torch.no_grad():
        y, h = ref(to_torch(x), hx, timespans=to_torch(timespans))
    h = tuple(a.numpy() for a in h) if isinstance(h, tuple) else h.numpy()
    return y.numpy(), h


def copy_of(ref, **kwargs):
    """Our CfC with ncps's weights."""
    ours = CfC(ref.input_size, ref.wiring_or_units, **kwargs)
    return ours.load_torch_state_dict(ref.state_dict())


def assert_close(ours, theirs, atol=1e-5):
    if isinstance(theirs, tuple):
        for a, b in zip(ours, theirs, strict=True):
            assert_close(a, b, atol)
        return
    np.testing.assert_allclose(to_numpy(ours), theirs, rtol=0, atol=atol)


# ------------------------------------------------------------------------- parity with ncps

LAYER_CASES = [
    {},
    {"mode": "pure"},
    {"mode": "no_gate"},
    {"backbone_layers": 0},
    {"backbone_layers": 2, "backbone_units": 12},
    {"backbone_layers": 2, "backbone_units": 12, "mode": "pure", "activation": "relu"},
    {"backbone_units": 12, "activation": "tanh", "mode": "no_gate"},
    {"backbone_units": 12, "activation": "silu"},
    {"backbone_units": 12, "activation": "gelu"},
    {"mixed_memory": True},
    {"proj_size": 3},
    {"mixed_memory": True, "proj_size": 2, "mode": "pure"},
    {"return_sequences": False},
    {"return_sequences": False, "proj_size": 2, "mixed_memory": True},
]


@pytest.mark.parametrize("kwargs", LAYER_CASES, ids=lambda k: str(k) or "defaults")
def test_cfc_equals_ncps(kwargs, rng):
    torch.manual_seed(0)
    ref = ncps_torch.CfC(F, H, **kwargs)
    ours = copy_of(ref, **kwargs)
    x = inputs(rng)
    y, h = ours(mx.array(x))
    y_ref, h_ref = ncps_run(ref, x)
    assert tuple(y.shape) == y_ref.shape
    assert_close(y, y_ref)
    assert_close(h, h_ref)


@pytest.mark.parametrize("kwargs", [{}, {"mode": "pure"}, {"mixed_memory": True}])
def test_initial_state_equals_ncps(kwargs, rng):
    torch.manual_seed(1)
    ref = ncps_torch.CfC(F, H, **kwargs)
    ours = copy_of(ref, **kwargs)
    x = inputs(rng)
    h0 = rng.standard_normal((B, H)).astype(np.float32)
    state = (h0, 0.5 * h0) if kwargs.get("mixed_memory") else h0
    arrays = tuple(mx.array(a) for a in state) if isinstance(state, tuple) else mx.array(state)
    y, h = ours(mx.array(x), arrays)
    y_ref, h_ref = ncps_run(ref, x, state)
    assert_close(y, y_ref)
    assert_close(h, h_ref)


@pytest.mark.parametrize("mode", ["default", "pure", "no_gate"])
def test_per_step_timespans_equal_ncps(mode, rng):
    # ncps handles (batch, steps) timespans correctly only for batch 1.
    torch.manual_seed(2)
    ref = ncps_torch.CfC(F, H, mode=mode, backbone_units=12)
    ours = copy_of(ref, mode=mode, backbone_units=12)
    x = inputs(rng, batch=1)
    ts = rng.uniform(0.1, 2.0, (1, T, 1)).astype(np.float32)
    y, h = ours(mx.array(x), timespans=mx.array(ts))
    y_ref, h_ref = ncps_run(ref, x, timespans=ts)
    assert_close(y, y_ref)
    assert_close(h, h_ref)


@pytest.mark.parametrize("mode", ["default", "pure", "no_gate"])
def test_per_sample_timespans_apply_per_sample(mode, rng):
    # Batch 3 with hidden 8: ncps broadcasts (batch,) against the units axis and fails; each
    # sample must equal the same sample run alone (where ncps is right).
    torch.manual_seed(3)
    ref = ncps_torch.CfC(F, H, mode=mode, backbone_units=12)
    ours = copy_of(ref, mode=mode, backbone_units=12)
    x = inputs(rng)
    ts = rng.uniform(0.1, 2.0, (B, T)).astype(np.float32)
    y, h = ours(mx.array(x), timespans=mx.array(ts))
    y3, _ = ours(mx.array(x), timespans=mx.array(ts[..., None]))
    assert_close(y3, to_numpy(y), atol=0)
    for b in range(B):
        y_ref, h_ref = ncps_run(ref, x[b : b + 1], timespans=ts[b : b + 1, :, None])
        assert_close(y[b : b + 1], y_ref)
        assert_close(h[b : b + 1], h_ref)


@pytest.mark.parametrize("mode", ["default", "pure", "no_gate"])
def test_constant_timespans_equal_full_arrays(mode, rng):
    model = CfC(F, H, mode=mode, backbone_units=12)
    x = mx.array(inputs(rng))
    for value in (1.0, 0.3, 2):
        full = mx.array(np.full((B, T), value, dtype=np.float32))
        expected = to_numpy(model(x, timespans=full)[0])
        assert_close(model(x, timespans=value)[0], expected)
        assert_close(model(x, timespans=mx.array(float(value)))[0], expected)
    assert_close(model(x)[0], to_numpy(model(x, timespans=1.0)[0]), atol=0)
    # The elapsed time matters.
    assert not np.allclose(to_numpy(model(x, timespans=0.3)[0]), to_numpy(model(x)[0]))


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"mode": "pure"}, {"mode": "no_gate", "backbone_layers": 0}, {"backbone_layers": 2}],
)
def test_cell_step_equals_ncps(kwargs, rng):
    torch.manual_seed(4)
    args = {"backbone_units": 12, **kwargs}
    ref = ncps_torch.CfCCell(F, H, **args)
    ours = CfCCell(F, H, **args).load_torch_state_dict(ref.state_dict())
    x = rng.standard_normal((B, F)).astype(np.float32)
    h = rng.standard_normal((B, H)).astype(np.float32)
    ts = rng.uniform(0.1, 2.0, (B,)).astype(np.float32)
    cases = [
        (None, 1.0),
        (0.5, 0.5),
        (mx.array(ts), torch.from_numpy(ts)[:, None]),
        (mx.array(ts[:, None]), torch.from_numpy(ts)[:, None]),
    ]
    for ts_ours, ts_ref in cases:
        with torch.no_grad():
            expected, _ = ref(torch.from_numpy(x), torch.from_numpy(h), ts_ref)
        assert_close(ours(mx.array(x), mx.array(h), ts_ours), expected.numpy())
    zero_state = ours(mx.array(x))
    assert_close(zero_state, to_numpy(ours(mx.array(x), mx.zeros((B, H)))), atol=0)


def test_mixed_memory_cell_equals_ncps_lstm(rng):
    from ncps.torch.lstm import LSTMCell

    torch.manual_seed(5)
    ref = LSTMCell(F, H)
    ours = MixedMemoryCell(F, H).load_arrays(
        {k: v.detach().numpy() for k, v in ref.state_dict().items()}
    )
    x = rng.standard_normal((B, F)).astype(np.float32)
    h, c = (rng.standard_normal((B, H)).astype(np.float32) for _ in range(2))
    with torch.no_grad():
        h_ref, c_ref = ref(torch.from_numpy(x), (torch.from_numpy(h), torch.from_numpy(c)))
    h_new, c_new = ours(mx.array(x), (mx.array(h), mx.array(c)))
    assert_close(h_new, h_ref.numpy())
    assert_close(c_new, c_ref.numpy())


# ---------------------------------------------------------------------- structure and init


def test_parameter_names_and_shapes_are_ncps():
    torch.manual_seed(0)
    for kwargs in LAYER_CASES:
        ref = ncps_torch.CfC(F, H, **kwargs)
        expected = {k: tuple(v.shape) for k, v in ref.state_dict().items()}
        ours = {k: tuple(v.shape) for k, v in CfC(F, H, **kwargs).named_parameters()}
        assert ours == expected, kwargs


def test_initialisation_follows_ncps():
    model = CfC(F, 32, backbone_units=48, mode="default")
    cell = model.rnn_cell
    bound = np.sqrt(6 / (48 + 32))
    for name in ("ff1", "ff2", "time_a", "time_b"):
        w = to_numpy(cell[name].weight)
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
        assert np.abs(to_numpy(cell[name].bias)).max() <= 1 / np.sqrt(48)
    w = to_numpy(cell.backbone[0].weight)
    assert np.abs(w).max() <= np.sqrt(6 / (48 + F + 32))
    pure = CfC(F, 32, mode="pure").rnn_cell
    for name in ("w_tau", "A"):
        value = to_numpy(pure[name])
        assert value.shape == (1, 32)
        assert np.abs(value).max() <= np.sqrt(6 / 33) and np.std(value) > 0.1


def test_dropout_only_after_later_backbone_layers(rng):
    one = CfC(F, H, backbone_units=12, backbone_dropout=0.5)
    x = mx.array(inputs(rng))
    assert_close(one(x)[0], to_numpy(one(x)[0]), atol=0)  # one layer: no dropout at all
    two = CfC(F, H, backbone_units=12, backbone_layers=2, backbone_dropout=0.5)
    assert not np.allclose(to_numpy(two(x)[0]), to_numpy(two(x)[0]))
    two.eval()
    assert_close(two(x)[0], to_numpy(two(x)[0]), atol=0)


def test_config_and_checkpoint_round_trip(tmp_path, rng):
    model = CfC(F, H, proj_size=2, mixed_memory=True, mode="no_gate", backbone_units=12)
    path = tmp_path / "cfc.safetensors"
    model.save(path)
    loaded = CfC.load(path)
    assert loaded.get_config() == model.get_config()
    x = mx.array(inputs(rng))
    assert_close(loaded(x)[0], to_numpy(model(x)[0]), atol=1e-6)


def test_load_rejects_other_shapes():
    ref = ncps_torch.CfC(F, H + 1)
    with pytest.raises(CheckpointError):
        CfC(F, H).load_torch_state_dict(ref.state_dict())


# ------------------------------------------------------------------------------ gradients


def _loss(model, x, timespans=None):
    y, _ = model(x, timespans=timespans)
    return mx.mean(y * y)


@pytest.mark.autodiff
@pytest.mark.parametrize(
    "kwargs",
    [{}, {"mode": "pure"}, {"mixed_memory": True, "proj_size": 2}, {"mode": "no_gate"}],
)
@pytest.mark.parametrize("per_step", [True, False], ids=["per_step_ts", "constant_ts"])
def test_gradients_equal_ncps(kwargs, per_step, rng):
    torch.manual_seed(6)
    ref = ncps_torch.CfC(F, H, backbone_units=12, **kwargs)
    ours = copy_of(ref, backbone_units=12, **kwargs)
    x = inputs(rng)
    ts = rng.uniform(0.5, 1.5, (1, T, 1)).astype(np.float32)
    # A constant elapsed time takes the dense cell's hand-written vjp (gated modes).
    ts = ts if per_step else np.full_like(ts, 0.75)
    y, _ = ref(torch.from_numpy(x[:1]), timespans=torch.from_numpy(ts))
    (y * y).mean().backward()
    ours_ts = mx.array(ts) if per_step else 0.75
    _, grads = nn.value_and_grad(ours, _loss)(ours, mx.array(x[:1]), ours_ts)
    grads = dict(utils.tree_flatten(grads))
    for name, param in ref.named_parameters():
        scale = param.grad.abs().max().item()
        np.testing.assert_allclose(
            to_numpy(grads[name]), param.grad.numpy(), rtol=0, atol=1e-5 + 1e-4 * scale
        )


@pytest.mark.autodiff
@pytest.mark.parametrize(
    "kwargs", [{}, {"mode": "pure"}, {"mode": "no_gate", "backbone_layers": 0}]
)
def test_gradients_match_finite_differences(kwargs, rng):
    model = CfC(F, H, backbone_units=12, proj_size=2, mixed_memory=True, **kwargs)
    model.set_dtype(mx.float64)
    x = mx.array(inputs(rng), dtype=mx.float64)
    ts = mx.array(rng.uniform(0.5, 1.5, (B, T)), dtype=mx.float64)
    _, grads = nn.value_and_grad(model, _loss)(model, x, ts)
    params = dict(utils.tree_flatten(model.trainable_parameters()))
    grads = dict(utils.tree_flatten(grads))
    # MLX evaluates exp and sigmoid in float64 only to about float32 accuracy (1e-7 relative),
    # so it needs a wider step and tolerance than torch.
    eps, rtol = (1e-3, 2e-3) if get_backend() == "mlx" else (1e-6, 1e-5)
    for name, value in params.items():
        direction = rng.standard_normal(tuple(value.shape))
        shifted = []
        for sign in (1, -1):
            model.update(utils.tree_unflatten([(name, value + sign * eps * mx.array(direction))]))
            shifted.append(_loss(model, x, ts).item())
        model.update(utils.tree_unflatten([(name, value)]))
        numeric = (shifted[0] - shifted[1]) / (2 * eps)
        analytic = float(np.sum(to_numpy(grads[name]) * direction))
        assert abs(numeric - analytic) <= 1e-7 + rtol * abs(analytic), name


# The dense cell's hand-written vjp (DenseCfCMath through bptt.recurrence) runs for a gated mode,
# a constant elapsed time and at most one backbone layer; it must give autodiff's gradients.
VJP_CASES = [
    {},
    {"mode": "no_gate"},
    {"backbone_layers": 0},
    {"activation": "relu"},
    {"activation": "tanh", "mode": "no_gate", "return_sequences": False},
    {"proj_size": 3},
]


@pytest.mark.autodiff
@pytest.mark.parametrize("kwargs", VJP_CASES, ids=lambda k: str(k) or "defaults")
def test_hand_written_vjp_equals_autodiff_of_the_step_loop(kwargs, rng, monkeypatch):
    model = CfC(F, H, backbone_units=12, **kwargs)
    # float64 where the backend computes it exactly (see the finite-difference test).
    dtype = mx.float32 if get_backend() == "mlx" else mx.float64
    model.set_dtype(dtype)
    cell = model.rnn_cell
    assert cell._dense_math(cell.prepare(0.5)) is not None
    x = mx.array(inputs(rng), dtype=dtype)
    h0 = mx.array(rng.standard_normal((B, H)), dtype=dtype)
    w = mx.array(rng.standard_normal((B, T, model.proj_size or H)), dtype=dtype)

    def loss(params, x, h0):
        model.update(params)
        y, h = model(x, h0, timespans=0.5)
        y = y if model.return_sequences else y[:, None]
        return mx.sum(y * w[:, : y.shape[1]]) + mx.sum(mx.sin(h))

    value_and_grad = mx.value_and_grad(loss, argnums=(0, 1, 2))
    params = model.trainable_parameters()
    value, grads = value_and_grad(params, x, h0)
    monkeypatch.setattr(CfCCell, "_dense_math", lambda self, weights: None)
    expected_value, expected = value_and_grad(params, x, h0)
    rtol = 1e-4 if dtype == mx.float32 else 1e-10
    assert abs(value.item() - expected_value.item()) <= rtol * (1 + abs(expected_value.item()))
    expected = utils.tree_flatten(expected)
    for (name, g), (_, e) in zip(utils.tree_flatten(grads), expected, strict=True):
        e = to_numpy(e)
        atol = rtol * (1 + np.abs(e).max())
        np.testing.assert_allclose(to_numpy(g), e, rtol=0, atol=atol, err_msg=name)


@pytest.mark.autodiff
@pytest.mark.parametrize("mode", ["default", "no_gate"])
def test_second_order_gradients_equal_ncps(mode, rng):
    """A gradient of a gradient differentiates the dense cell's hand-written vjp itself: the
    saved forward arrays it reads must carry their dependence on the weights
    (``bptt.differentiable_outputs``). Without it the result was wrong by about half its size."""
    torch.manual_seed(6)
    ref = ncps_torch.CfC(F, H, backbone_units=12, mode=mode)
    ours = copy_of(ref, backbone_units=12, mode=mode)
    assert ours.rnn_cell._dense_math(ours.rnn_cell.prepare(1.0)) is not None
    x = inputs(rng, batch=2)
    got = ember_second_order(ours, lambda model: _loss(model, mx.array(x)))
    expected = torch_second_order(ref, lambda model: (model(torch.from_numpy(x))[0] ** 2).mean())
    assert_second_orders_equal(got, expected)


# ------------------------------------------------------------------------------- learning


def sine_task():
    """ncps's test task: [sin, cos](t) -> sin(2t) over 48 steps."""
    t = np.linspace(0, 3 * np.pi, 48)
    x = np.stack([np.sin(t), np.cos(t)], axis=-1)[None].astype(np.float32)
    y = np.sin(2 * t)[None, :, None].astype(np.float32)
    return mx.array(x), mx.array(y)


def adam_step(model, loss, compiled=True, lr=0.01):
    """An Adam step on ``loss(model, *args)`` (gradient norm clipped to 1, as in ncps's
    examples), compiled on MLX unless asked not to."""
    optimizer = optim.Adam(learning_rate=lr)
    value_and_grad = nn.value_and_grad(model, loss)
    state = [model.state, optimizer.state]

    def step(*args):
        value, grads = value_and_grad(model, *args)
        optimizer.update(model, optim.clip_grad_norm(grads, 1.0)[0])
        return value

    step = mx.compile(step, inputs=state, outputs=state) if compiled else step
    return step, state


def train_sine(model, steps):
    """Full-batch Adam (lr 0.01) on the sine task; returns the MSE before and after."""
    x, y = sine_task()

    def loss(m):
        return mx.mean((m(x)[0] - y) ** 2)

    step, state = adam_step(model, loss)
    first = loss(model).item()
    for _ in range(steps):
        step()
        mx.eval(state)
    return first, loss(model).item()


@pytest.mark.autodiff
@pytest.mark.slow
@pytest.mark.parametrize("wired", [False, True], ids=["cfc", "wired_auto_ncp"])
def test_cfc_learns_the_sine_task(wired):
    # Measured with seed 0: CfC 0.49 -> 9e-5 (torch), 5e-5 (mlx); wired 0.56 -> 1.2e-4 (both).
    model = CfC(2, AutoNCPMap(16, 1)) if wired else CfC(2, 16, proj_size=1, backbone_units=32)
    first, last = train_sine(model, 400)
    assert first > 0.1
    assert last < 1e-3


# ------------------------------------------------------------------------- laziness (MLX)


COMPILED_MODELS = {
    "plain": lambda: CfC(F, H, backbone_units=12),
    "mixed_proj": lambda: CfC(F, H, mixed_memory=True, proj_size=2, backbone_units=12),
    "wired": lambda: CfC(F, AutoNCPMap(12, 3)),
    "wired_pure_mixed": lambda: CfC(F, AutoNCPMap(12, 3), mode="pure", mixed_memory=True),
}


@pytest.mark.mlx_only
@pytest.mark.parametrize("name", list(COMPILED_MODELS))
def test_sequence_under_compile_equals_eager(name, rng):
    # mx.compile raises on any evaluation inside the traced function, so this also checks that
    # a forward pass (timespans included) only builds a graph.
    model = COMPILED_MODELS[name]()
    x = mx.array(inputs(rng))
    ts = mx.array(rng.uniform(0.1, 2.0, (B, T)))
    for timespans in (ts, None):
        forward = lambda x, model=model, timespans=timespans: model(x, timespans=timespans)  # noqa: E731
        eager = forward(x)
        compiled = mx.compile(forward)(x)
        assert_close(compiled[0], to_numpy(eager[0]), atol=1e-6)


@pytest.mark.mlx_only
@pytest.mark.parametrize("name", ["plain", "wired"])
def test_training_step_under_compile_equals_eager(name, rng):
    x = mx.array(inputs(rng))
    results = []
    for compiled in (False, True):
        mx.random.seed(0)
        if name == "wired":
            model = CfC(F, AutoNCPMap(12, 3))
        else:
            model = CfC(F, H, backbone_units=12, mode="no_gate")
        step, state = adam_step(model, _loss, compiled)
        for _ in range(2):
            step(x)
            mx.eval(state)
        results.append(to_numpy(model(x)[0]))
    np.testing.assert_allclose(results[1], results[0], rtol=0, atol=1e-6)


# ---------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"mode": "closed"}, "mode"),
        ({"activation": "swishy"}, "activation"),
        ({"backbone_layers": -1}, "backbone_layers"),
        ({"backbone_units": 0}, "backbone_units"),
        ({"backbone_dropout": 1.0}, "backbone_dropout"),
        ({"proj_size": 0}, "proj_size"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CfC(F, H, **kwargs)


def test_bad_sizes_raise():
    with pytest.raises(ValueError, match="units"):
        CfC(F, 0)
    with pytest.raises(ValueError, match="input_size"):
        CfC(0, H)
    with pytest.raises(ValueError, match="sparsity_mask"):
        CfCCell(F, H, backbone_layers=0, sparsity_mask=np.ones((F, H)))


def test_bad_call_arguments_raise(rng):
    model = CfC(F, H, backbone_units=12)
    x = mx.array(inputs(rng))
    with pytest.raises(ValueError, match="x: expected shape"):
        model(mx.array(inputs(rng, features=F + 1)))
    with pytest.raises(ValueError, match="x: expected shape"):
        model(x[0])
    with pytest.raises(ValueError, match="state"):
        model(x, mx.zeros((B, H + 1)))
    with pytest.raises(ValueError, match="timespans"):
        model(x, timespans=mx.ones((T, B)))
    with pytest.raises(ValueError, match="timespans"):
        model(x, timespans=mx.ones((B, T, 2)))
    with pytest.raises(ValueError, match=">= 0"):
        model(x, timespans=-1.0)
    with pytest.raises(ValueError, match=">= 0"):
        model(x, timespans=np.full((B, T), -0.5, dtype=np.float32))
    with pytest.raises(ValueError, match="timespans: must be finite numbers"):
        model(x, timespans=np.full((B, T), np.nan, dtype=np.float32))
    if get_backend() != "mlx":  # eager arrays: values are known without evaluating anything
        with pytest.raises(ValueError, match=">= 0"):
            model(x, timespans=mx.full((B, T), -0.5))
        poisoned = inputs(rng)
        poisoned[1, 2, 0] = np.nan
        with pytest.raises(ValueError, match=r"x: expected finite numbers, got nan .*\(1, 2, 0\)"):
            model(mx.array(poisoned))
    mixed = CfC(F, H, mixed_memory=True, backbone_units=12)
    with pytest.raises(ValueError, match="pair"):
        mixed(x, mx.zeros((B, H)))
    with pytest.raises(ValueError, match=r"state\[1\]"):
        mixed(x, (mx.zeros((B, H)), mx.zeros((B, 1))))
    cell = CfCCell(F, H, backbone_units=12)
    with pytest.raises(ValueError, match="x: expected shape"):
        cell(mx.zeros((B, F + 1)))
    with pytest.raises(ValueError, match="state"):
        cell(mx.zeros((B, F)), mx.zeros((B + 1, H)))
    with pytest.raises(ValueError, match="ts"):
        cell(mx.zeros((B, F)), None, mx.ones((B, 2)))
    with pytest.raises(ValueError, match=">= 0"):
        cell(mx.zeros((B, F)), None, -0.1)
