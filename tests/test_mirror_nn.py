"""The shared mlx.nn / mlx.utils mirrors over each core, against mlx.nn and independent references.

Every test takes the mirror (numpy or torch) as a parameter and imports it directly, so the
behaviour tests run under every EMBER_BACKEND; tests comparing with mlx itself are ``mlx_only``.
"""

import importlib
import math

import numpy as np
import pytest
from scipy import special

from ember_mlx.backend import to_numpy

MIRRORS = ["numpy", "torch"]


@pytest.fixture(params=MIRRORS)
def mirror(request):
    if request.param == "torch":
        pytest.importorskip("torch")
    return importlib.import_module(f"ember_mlx.compat.{request.param}")


@pytest.fixture
def mlx():
    """mlx.core, mlx.nn and mlx.utils."""
    return (
        pytest.importorskip("mlx.core"),
        pytest.importorskip("mlx.nn"),
        pytest.importorskip("mlx.utils"),
    )


def needs_autodiff(mirror):
    if mirror.__name__.endswith("numpy"):
        pytest.skip("the numpy mirror has no autodiff")


def to_np(tree):
    """A tree of arrays of any backend as numpy arrays."""
    if isinstance(tree, dict):
        return {k: to_np(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(to_np(v) for v in tree)
    return np.asarray(to_numpy(tree))


def to_backend(core, tree):
    """A tree of numpy arrays as arrays of ``core`` (mlx.core or a mirror's core)."""
    if isinstance(tree, dict):
        return {k: to_backend(core, v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(to_backend(core, v) for v in tree)
    return core.array(tree)


def flat_np(utils, tree):
    return {k: to_np(v) for k, v in utils.tree_flatten(tree)}


def normal(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


# --- mlx.utils -----------------------------------------------------------------------------


def test_tree_flatten_and_unflatten_round_trip(mirror):
    utils = mirror.utils
    tree = {"a": [1, {"b": 2, "c": (3, 4)}], "d": 5}
    flat = utils.tree_flatten(tree)
    assert flat == [("a.0", 1), ("a.1.b", 2), ("a.1.c.0", 3), ("a.1.c.1", 4), ("d", 5)]
    assert utils.tree_flatten(tree, prefix=".m", destination={})["m.d"] == 5
    # Tuples come back as lists; missing list indices are filled with {}.
    assert utils.tree_unflatten(flat) == {"a": [1, {"b": 2, "c": [3, 4]}], "d": 5}
    assert utils.tree_unflatten([("x.0", 1), ("x.2", 2)]) == {"x": [1, {}, 2]}
    # "1" and "01" are two keys, so that level is a dict.
    assert utils.tree_unflatten([("1", "a"), ("01", "b")]) == {"1": "a", "01": "b"}
    assert utils.tree_unflatten([("", 7)]) == 7
    with pytest.raises(ValueError, match="Destination"):
        utils.tree_flatten(tree, destination=3)


def test_tree_map_reduce_merge(mirror):
    utils = mirror.utils
    tree = {"a": [1, 2], "b": (3,)}
    assert utils.tree_map(lambda x, y: x + y, tree, {"a": [10, 20], "b": (30,)}) == {
        "a": [11, 22],
        "b": (33,),
    }
    assert utils.tree_map_with_path(lambda p, _: p, tree) == {"a": ["a.0", "a.1"], "b": ("b.0",)}
    assert utils.tree_reduce(lambda acc, x: acc + x, tree, 0) == 6
    assert utils.tree_reduce(max, tree) == 3
    merged = utils.tree_merge({"a": [1, {}], "b": {}}, {"a": [{}, 2], "b": {}, "c": 3})
    assert merged == {"a": [1, 2], "b": {}, "c": 3}
    with pytest.raises(ValueError, match="no merge function"):
        utils.tree_merge({"a": 1}, {"a": 2})
    assert utils.tree_merge({"a": 1}, {"a": 2}, lambda x, y: x * y) == {"a": 2}


def test_tree_utils_treat_arrays_as_leaves(mirror):
    mx = mirror.core
    tree = {"w": mx.ones((2, 3)), "layers": [mx.zeros((4,))]}
    flat = mirror.utils.tree_flatten(tree)
    assert [k for k, _ in flat] == ["w", "layers.0"]
    doubled = mirror.utils.tree_map(lambda x: x * 2, tree)
    assert isinstance(doubled["w"], mx.array)
    np.testing.assert_array_equal(to_np(doubled["w"]), np.full((2, 3), 2.0))


@pytest.mark.mlx_only
def test_tree_utils_match_mlx(mirror, mlx):
    _, _, mlx_utils = mlx
    utils = mirror.utils
    tree = {"a": [1, {"b": 2, "c": (3, 4)}], "d": {"e": [5, [6]]}}
    flat = mlx_utils.tree_flatten(tree)
    assert utils.tree_flatten(tree) == flat
    assert utils.tree_unflatten(flat) == mlx_utils.tree_unflatten(flat)
    mixed = [("0", 1), ("2", 2), ("01", 3)]
    assert utils.tree_unflatten(mixed) == mlx_utils.tree_unflatten(mixed)
    paths = utils.tree_map_with_path(lambda p, x: f"{p}={x}", tree)
    assert paths == mlx_utils.tree_map_with_path(lambda p, x: f"{p}={x}", tree)
    a, b = {"x": [1, {}], "y": {}}, {"x": [{}, 2], "y": {}, "z": [3]}
    assert utils.tree_merge(a, b) == mlx_utils.tree_merge(a, b)


# --- activations ---------------------------------------------------------------------------

ACTIVATION_REFERENCES = {
    "relu": lambda x: np.maximum(x, 0),
    "sigmoid": special.expit,
    "tanh": np.tanh,
    "softmax": lambda x: special.softmax(x, axis=-1),
    "log_softmax": lambda x: special.log_softmax(x, axis=-1),
    "softplus": lambda x: np.logaddexp(x, 0),
    "silu": lambda x: x * special.expit(x),
    "gelu": lambda x: x * 0.5 * (1 + special.erf(x / math.sqrt(2))),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.01 * x),
    "elu": lambda x: np.where(x > 0, x, np.expm1(x)),
    "log_sigmoid": lambda x: -np.logaddexp(0, -x),
    "relu6": lambda x: np.clip(x, 0, 6),
    "selu": lambda x: 1.0507 * np.where(x > 0, x, 1.67326 * np.expm1(x)),
    "softsign": lambda x: x / (1 + np.abs(x)),
    "mish": lambda x: x * np.tanh(np.logaddexp(x, 0)),
    "hardswish": lambda x: x * np.clip(x + 3, 0, 6) / 6,
}

ACTIVATION_MODULES = {
    "ReLU": "relu",
    "Sigmoid": "sigmoid",
    "Tanh": "tanh",
    "Softmax": "softmax",
    "LogSoftmax": "log_softmax",
    "Softplus": "softplus",
    "SiLU": "silu",
    "GELU": "gelu",
    "LeakyReLU": "leaky_relu",
    "ELU": "elu",
    "LogSigmoid": "log_sigmoid",
}


@pytest.mark.parametrize("name", sorted(ACTIVATION_REFERENCES))
def test_activation_matches_numpy(mirror, name, rng):
    x = normal(rng, 3, 5) * 4
    got = to_np(getattr(mirror.nn, name)(mirror.core.array(x)))
    np.testing.assert_allclose(got, ACTIVATION_REFERENCES[name](x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls", sorted(ACTIVATION_MODULES))
def test_activation_module_calls_its_function(mirror, cls, rng):
    x = normal(rng, 2, 4) * 3
    layer = getattr(mirror.nn, cls)()
    assert layer.parameters() == {}
    expected = ACTIVATION_REFERENCES[ACTIVATION_MODULES[cls]](x)
    np.testing.assert_allclose(to_np(layer(mirror.core.array(x))), expected, rtol=1e-5, atol=1e-6)


def test_log_softmax_is_stable_for_large_logits(mirror):
    x = np.array([[1000.0, 0.0, -1000.0]], dtype=np.float32)
    got = to_np(mirror.nn.log_softmax(mirror.core.array(x)))
    np.testing.assert_allclose(got, [[0.0, -1000.0, -2000.0]])


def test_gelu_approximations_and_bad_mode(mirror, rng):
    x = normal(rng, 50)
    exact = ACTIVATION_REFERENCES["gelu"](x)
    # Worst cases over [-6, 6]: 4.8e-4 (tanh form) and 2.1e-2 (sigmoid form).
    for approx, bound in (("precise", 5e-4), ("tanh", 5e-4), ("fast", 2.1e-2)):
        got = to_np(mirror.nn.GELU(approx=approx)(mirror.core.array(x)))
        assert np.abs(got - exact).max() < bound
    with pytest.raises(ValueError, match="approximation"):
        mirror.nn.GELU(approx="cubic")


ALL_ACTIVATIONS = [
    "celu",
    "elu",
    "gelu",
    "gelu_approx",
    "gelu_fast_approx",
    "glu",
    "hard_shrink",
    "hard_tanh",
    "hardswish",
    "leaky_relu",
    "log_sigmoid",
    "log_softmax",
    "mish",
    "relu",
    "relu2",
    "relu6",
    "selu",
    "sigmoid",
    "silu",
    "softmax",
    "softmin",
    "softplus",
    "softshrink",
    "softsign",
    "step",
    "tanh",
]


@pytest.mark.mlx_only
@pytest.mark.parametrize("name", ALL_ACTIVATIONS)
def test_activation_matches_mlx(mirror, mlx, name, rng):
    mlx_core, mlx_nn, _ = mlx
    x = normal(rng, 3, 4) * 3
    got = getattr(mirror.nn, name)(mirror.core.array(x))
    want = getattr(mlx_nn, name)(mlx_core.array(x))
    assert tuple(got.shape) == tuple(want.shape)
    np.testing.assert_allclose(to_np(got), np.array(want), rtol=1e-5, atol=1e-6)


@pytest.mark.mlx_only
def test_prelu_matches_mlx(mirror, mlx, rng):
    mlx_core, mlx_nn, _ = mlx
    x = normal(rng, 3, 4)
    layer, reference = mirror.nn.PReLU(4, init=0.1), mlx_nn.PReLU(4, init=0.1)
    np.testing.assert_allclose(
        to_np(layer(mirror.core.array(x))), np.array(reference(mlx_core.array(x))), rtol=1e-6
    )


# --- layers --------------------------------------------------------------------------------

LAYERS = {
    "linear": (lambda nn: nn.Linear(4, 3), "float"),
    "linear_no_bias": (lambda nn: nn.Linear(4, 3, bias=False), "float"),
    "identity": (lambda nn: nn.Identity(7, flag=True), "float"),
    "sequential": (lambda nn: nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 2)), "float"),
    "dropout_eval": (lambda nn: nn.Dropout(0.3).eval(), "float"),
    "layer_norm": (lambda nn: nn.LayerNorm(4), "float"),
    "layer_norm_no_affine": (lambda nn: nn.LayerNorm(4, affine=False), "float"),
    "layer_norm_no_bias": (lambda nn: nn.LayerNorm(4, bias=False), "float"),
    "rms_norm": (lambda nn: nn.RMSNorm(4), "float"),
    "batch_norm": (lambda nn: nn.BatchNorm(4), "float"),
    "batch_norm_no_stats": (lambda nn: nn.BatchNorm(4, track_running_stats=False), "float"),
    "embedding": (lambda nn: nn.Embedding(6, 4), "ids"),
}


def randomise(mirror, layer, rng):
    """Give every parameter of ``layer`` random values in [0.5, 1.5) (not the ones/zeros
    defaults; positive, so they are valid running variances too)."""

    def draw(p):
        return mirror.core.array(rng.uniform(0.5, 1.5, tuple(p.shape)).astype(np.float32))

    layer.update(mirror.utils.tree_map(draw, layer.parameters()))


@pytest.mark.mlx_only
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_forward_matches_mlx(mirror, mlx, name, rng):
    mlx_core, mlx_nn, mlx_utils = mlx
    factory, kind = LAYERS[name]
    layer, reference = factory(mirror.nn), factory(mlx_nn)
    assert sorted(flat_np(mirror.utils, layer.parameters())) == sorted(
        flat_np(mlx_utils, reference.parameters())
    )
    randomise(mirror, layer, rng)
    reference.update(to_backend(mlx_core, to_np(layer.parameters())))
    if kind == "ids":
        x = rng.integers(0, 6, (2, 3)).astype(np.int32)
    else:
        x = normal(rng, 5, 4) * 2 + 1
    for _ in range(2):  # twice: BatchNorm's second call sees updated running statistics
        np.testing.assert_allclose(
            to_np(layer(mirror.core.array(x))),
            np.array(reference(mlx_core.array(x))),
            rtol=1e-5,
            atol=1e-5,
        )
    layer.eval()
    reference.eval()
    np.testing.assert_allclose(
        to_np(layer(mirror.core.array(x))), np.array(reference(mlx_core.array(x))), atol=1e-5
    )
    assert repr(layer) == repr(reference)


def test_linear_layout_init_and_forward(mirror, rng):
    mx = mirror.core
    layer = mirror.nn.Linear(64, 48)
    weight, bias = to_np(layer.weight), to_np(layer.bias)
    assert weight.shape == (48, 64) and bias.shape == (48,)
    scale = 1 / math.sqrt(64)
    assert np.abs(weight).max() <= scale
    # U(-k, k) has standard deviation k / sqrt(3).
    assert abs(weight.std() - scale / math.sqrt(3)) < 0.1 * scale / math.sqrt(3)
    x = normal(rng, 5, 64)
    np.testing.assert_allclose(to_np(layer(mx.array(x))), x @ weight.T + bias, rtol=1e-5, atol=1e-5)
    no_bias = mirror.nn.Linear(64, 48, bias=False)
    assert "bias" not in no_bias
    np.testing.assert_allclose(
        to_np(no_bias(mx.array(x))), x @ to_np(no_bias.weight).T, rtol=1e-5, atol=1e-5
    )


def test_seeded_construction_is_reproducible(mirror):
    mirror.core.random.seed(11)
    first = to_np(mirror.nn.Linear(3, 2).weight)
    mirror.core.random.seed(11)
    np.testing.assert_array_equal(to_np(mirror.nn.Linear(3, 2).weight), first)


def test_layer_norm_matches_numpy(mirror, rng):
    x = normal(rng, 3, 6) * 5 + 2
    layer = mirror.nn.LayerNorm(6, eps=1e-3)
    randomise(mirror, layer, rng)
    w, b = to_np(layer.weight), to_np(layer.bias)
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    expected = (x - mean) / np.sqrt(var + 1e-3) * w + b
    np.testing.assert_allclose(to_np(layer(mirror.core.array(x))), expected, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="eps"):
        mirror.nn.LayerNorm(6, eps=0.0)


def test_rms_norm_matches_numpy(mirror, rng):
    x = normal(rng, 3, 6) * 4
    layer = mirror.nn.RMSNorm(6)
    randomise(mirror, layer, rng)
    expected = x / np.sqrt((x**2).mean(-1, keepdims=True) + 1e-5) * to_np(layer.weight)
    np.testing.assert_allclose(to_np(layer(mirror.core.array(x))), expected, rtol=1e-5, atol=1e-6)


def test_batch_norm_running_statistics(mirror, rng):
    mx = mirror.core
    layer = mirror.nn.BatchNorm(3, momentum=0.2)
    x1, x2 = normal(rng, 8, 3) * 2 + 1, normal(rng, 2, 4, 3) - 3
    out = to_np(layer(mx.array(x1)))
    np.testing.assert_allclose(out, (x1 - x1.mean(0)) / np.sqrt(x1.var(0) + 1e-5), atol=1e-4)
    layer(mx.array(x2))
    flat2 = x2.reshape(-1, 3)
    mean = 0.8 * (0.2 * x1.mean(0)) + 0.2 * flat2.mean(0)
    var = 0.8 * (0.8 + 0.2 * x1.var(0, ddof=1)) + 0.2 * flat2.var(0, ddof=1)
    np.testing.assert_allclose(to_np(layer.running_mean), mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(to_np(layer.running_var), var, rtol=1e-5)

    layer.eval()
    assert not layer.training
    np.testing.assert_allclose(
        to_np(layer(mx.array(x1))), (x1 - mean) / np.sqrt(var + 1e-5), rtol=1e-4, atol=1e-5
    )
    # The running statistics are saved parameters that are never trained, even after unfreeze.
    assert set(layer.parameters()) == {"weight", "bias", "running_mean", "running_var"}
    assert set(layer.unfreeze().trainable_parameters()) == {"weight", "bias"}
    with pytest.raises(ValueError, match="2, 3 or 4 dimensions"):
        layer(mx.zeros((3,)))
    with pytest.raises(ValueError, match="more than one value"):
        layer.train()(mx.zeros((1, 3)))


def test_dropout_zeroes_and_rescales_in_training_only(mirror, rng):
    mx = mirror.core
    x = np.ones((100, 100), dtype=np.float32)
    layer = mirror.nn.Dropout(0.25)
    assert layer.training
    out = to_np(layer(mx.array(x)))
    kept = out != 0
    assert abs(kept.mean() - 0.75) < 0.03
    np.testing.assert_allclose(out[kept], 1 / 0.75, rtol=1e-6)
    np.testing.assert_array_equal(to_np(layer.eval()(mx.array(x))), x)
    np.testing.assert_array_equal(to_np(mirror.nn.Dropout(0.0)(mx.array(x))), x)
    with pytest.raises(ValueError, match=r"not in \[0, 1\)"):
        mirror.nn.Dropout(1.0)


def test_embedding_looks_up_rows(mirror):
    mx = mirror.core
    layer = mirror.nn.Embedding(10, 4)
    table = to_np(layer.weight)
    assert table.shape == (10, 4)
    assert abs(table.std() - 0.5) < 0.25  # N(0, 1/dims)
    ids = np.array([[1, 9], [0, 1]], dtype=np.int32)
    np.testing.assert_array_equal(to_np(layer(mx.array(ids))), table[ids])
    x = np.ones((2, 4), dtype=np.float32)
    np.testing.assert_allclose(to_np(layer.as_linear(mx.array(x))), x @ table.T, rtol=1e-5)


def test_sequential_applies_layers_in_order(mirror, rng):
    mx, nn = mirror.core, mirror.nn
    model = nn.Sequential(nn.Linear(3, 4), lambda x: x * 2, nn.Identity(), nn.Tanh())
    assert [k for k, _ in mirror.utils.tree_flatten(model.parameters())] == [
        "layers.0.weight",
        "layers.0.bias",
    ]
    x = normal(rng, 2, 3)
    w, b = to_np(model.layers[0].weight), to_np(model.layers[0].bias)
    np.testing.assert_allclose(
        to_np(model(mx.array(x))), np.tanh(2 * (x @ w.T + b)), rtol=1e-5, atol=1e-6
    )


# --- losses --------------------------------------------------------------------------------


def loss_inputs(rng):
    logits = normal(rng, 4, 5)
    return {
        "logits": logits,
        "ids": np.array([0, 3, 4, 1], dtype=np.int32),
        "probs": special.softmax(normal(rng, 4, 5), axis=-1).astype(np.float32),
        "pred": normal(rng, 4, 3),
        "target": normal(rng, 4, 3),
        "third": normal(rng, 4, 3),
        "bits": rng.integers(0, 2, (4, 3)).astype(np.int32),
        "weights": np.array([1.0, 2.0, 0.0, 0.5], dtype=np.float32),
    }


LOSS_CASES = {
    "cross_entropy_ids": ("cross_entropy", ("logits", "ids"), {}),
    "cross_entropy_probs": ("cross_entropy", ("logits", "probs"), {"reduction": "mean"}),
    "cross_entropy_smooth": (
        "cross_entropy",
        ("logits", "ids"),
        {"label_smoothing": 0.1, "weights": "weights", "reduction": "sum"},
    ),
    "bce_logits": ("binary_cross_entropy", ("pred", "bits"), {}),
    "bce_probs": ("binary_cross_entropy", ("sigmoid_pred", "bits"), {"with_logits": False}),
    "bce_none": ("binary_cross_entropy", ("pred", "bits"), {"reduction": "none"}),
    "l1": ("l1_loss", ("pred", "target"), {}),
    "mse": ("mse_loss", ("pred", "target"), {"reduction": "sum"}),
    "nll": ("nll_loss", ("log_probs", "ids"), {"reduction": "mean"}),
    "gaussian_nll": ("gaussian_nll_loss", ("pred", "target", "abs_third"), {"full": True}),
    "kl_div": ("kl_div_loss", ("log_probs", "log_softmax_logits"), {}),
    "smooth_l1": ("smooth_l1_loss", ("pred", "target"), {"beta": 0.5}),
    "huber": ("huber_loss", ("pred", "target"), {"delta": 0.7, "reduction": "mean"}),
    "log_cosh": ("log_cosh_loss", ("pred", "target"), {}),
    "hinge": ("hinge_loss", ("pred", "sign_target"), {"reduction": "sum"}),
    "triplet": ("triplet_loss", ("pred", "target", "third"), {}),
    "cosine_similarity": ("cosine_similarity_loss", ("pred", "target"), {}),
}


def loss_call(core, case, rng):
    data = loss_inputs(rng)
    data["sigmoid_pred"] = special.expit(data["pred"]).astype(np.float32)
    data["log_probs"] = np.log(data["probs"])
    data["log_softmax_logits"] = special.log_softmax(data["logits"], axis=-1)
    data["abs_third"] = np.abs(data["third"]) + 0.1
    data["sign_target"] = np.sign(data["target"])
    fn_name, args, kwargs = LOSS_CASES[case]
    args = [core.array(data[a]) for a in args]
    kwargs = {k: core.array(data[v]) if v in data else v for k, v in kwargs.items()}
    return fn_name, args, kwargs, data


@pytest.mark.mlx_only
@pytest.mark.parametrize("case", sorted(LOSS_CASES))
def test_loss_matches_mlx(mirror, mlx, case):
    mlx_core, mlx_nn, _ = mlx
    name, args, kwargs, _ = loss_call(mirror.core, case, np.random.default_rng(1))
    got = getattr(mirror.nn.losses, name)(*args, **kwargs)
    name, args, kwargs, _ = loss_call(mlx_core, case, np.random.default_rng(1))
    want = getattr(mlx_nn.losses, name)(*args, **kwargs)
    assert tuple(got.shape) == tuple(want.shape)
    np.testing.assert_allclose(to_np(got), np.array(want), rtol=1e-5, atol=1e-6)


def test_losses_match_numpy(mirror, rng):
    mx, losses = mirror.core, mirror.nn.losses
    d = loss_inputs(rng)
    p, t, logits, ids = d["pred"], d["target"], d["logits"], d["ids"]
    P, T = mx.array(p), mx.array(t)

    def close(got, want):
        np.testing.assert_allclose(to_np(got), want, rtol=1e-5, atol=1e-6)

    close(losses.mse_loss(P, T), np.mean((p - t) ** 2))
    close(losses.l1_loss(P, T, reduction="sum"), np.abs(p - t).sum())
    close(losses.mse_loss(P, T, reduction="none"), (p - t) ** 2)
    log_p = special.log_softmax(logits, axis=-1)
    close(losses.cross_entropy(mx.array(logits), mx.array(ids)), -log_p[np.arange(4), ids])
    close(
        losses.cross_entropy(mx.array(logits), mx.array(d["probs"]), reduction="mean"),
        np.mean(-(d["probs"] * log_p).sum(-1)),
    )
    smooth = 0.9 * np.eye(5)[ids] + 0.1 / 5
    close(
        losses.cross_entropy(mx.array(logits), mx.array(ids), label_smoothing=0.1),
        -(smooth * log_p).sum(-1),
    )
    bits = d["bits"]
    bce = -(bits * np.log(special.expit(p)) + (1 - bits) * np.log(1 - special.expit(p)))
    close(losses.binary_cross_entropy(P, mx.array(bits)), bce.mean())
    close(
        losses.binary_cross_entropy(
            mx.array(special.expit(p)), mx.array(bits), with_logits=False, reduction="none"
        ),
        bce,
    )
    close(losses.nll_loss(mx.array(log_p), mx.array(ids)), -log_p[np.arange(4), ids])
    a = np.abs(p - t)
    close(losses.huber_loss(P, T), np.where(a <= 1, 0.5 * a**2, a - 0.5))
    close(losses.smooth_l1_loss(P, T, beta=0.5), np.mean(np.where(a < 0.5, a**2, a - 0.25)))
    close(losses.log_cosh_loss(P, T), np.log(np.cosh(p - t)))
    q = special.log_softmax(normal(rng, 4, 5), axis=-1)
    close(losses.kl_div_loss(mx.array(log_p), mx.array(q)), (np.exp(q) * (q - log_p)).sum(-1))


def test_integer_targets_keep_the_float_dtype(mirror, rng):
    mx = mirror.core
    pred = mx.array(normal(rng, 4, 3))
    loss = mirror.nn.losses.binary_cross_entropy(
        pred, mx.array(rng.integers(0, 2, (4, 3)).astype(np.int32)), reduction="none"
    )
    assert loss.dtype == mx.float32
    one_hot = mx.array(np.eye(3, dtype=np.int32)[[0, 2, 1, 1]])
    assert mirror.nn.losses.cross_entropy(pred, one_hot).dtype == mx.float32


def test_loss_argument_errors(mirror):
    mx, losses = mirror.core, mirror.nn.losses
    a, b = mx.zeros((2, 3)), mx.zeros((3, 2))
    with pytest.raises(ValueError, match="Invalid reduction 'avg'"):
        losses.mse_loss(a, a, reduction="avg")
    with pytest.raises(ValueError, match=r"Predictions shape \(2, 3\) does not match"):
        losses.mse_loss(a, b)
    with pytest.raises(ValueError, match=r"Targets shape \(3,\) does not match logits shape"):
        losses.cross_entropy(a, mx.zeros((3,), dtype=mx.int32))
    with pytest.raises(ValueError, match="Label smoothing"):
        losses.cross_entropy(a, mx.zeros((2,), dtype=mx.int32), label_smoothing=1.0)
    with pytest.raises(ValueError, match="Weights with shape"):
        losses.binary_cross_entropy(a, a, weights=mx.zeros((2,)))


# --- init ----------------------------------------------------------------------------------


def test_init_constant_identity_and_errors(mirror):
    mx, init = mirror.core, mirror.nn.init
    a = mx.zeros((3, 3))
    np.testing.assert_array_equal(to_np(init.constant(0.5)(a)), np.full((3, 3), 0.5))
    np.testing.assert_array_equal(to_np(init.identity()(a)), np.eye(3))
    assert init.constant(1, dtype=mx.float16)(a).dtype == mx.float16
    with pytest.raises(ValueError, match="square matrix"):
        init.identity()(mx.zeros((2, 3)))
    with pytest.raises(ValueError, match="at least 2 dimensional"):
        init.glorot_uniform()(mx.zeros((3,)))
    with pytest.raises(ValueError, match="Invalid mode"):
        init.he_normal()(a, mode="fan_avg")


def test_init_distributions(mirror):
    mx, init = mirror.core, mirror.nn.init
    a = mx.zeros((200, 100))
    fan_in, fan_out = 100, 200
    sample = to_np(init.normal(mean=1.0, std=2.0)(a))
    assert abs(sample.mean() - 1.0) < 0.05 and abs(sample.std() - 2.0) < 0.05
    sample = to_np(init.uniform(-1.0, 3.0)(a))
    assert sample.min() >= -1.0 and sample.max() <= 3.0 and abs(sample.mean() - 1.0) < 0.05
    limit = 2.0 * math.sqrt(6 / (fan_in + fan_out))
    sample = to_np(init.glorot_uniform()(a, gain=2.0))
    assert np.abs(sample).max() <= limit and abs(np.abs(sample).max() - limit) < 0.01 * limit
    std = math.sqrt(2 / (fan_in + fan_out))
    assert abs(to_np(init.glorot_normal()(a)).std() - std) < 0.03 * std
    assert abs(to_np(init.he_normal()(a, mode="fan_out")).std() - 1 / math.sqrt(fan_out)) < 0.003
    sample = to_np(init.he_uniform()(a, gain=0.5))
    assert np.abs(sample).max() <= 0.5 * math.sqrt(3 / fan_in)
    # Middle axes of a conv-like weight multiply both fans.
    conv = to_np(init.he_normal()(mx.zeros((64, 3, 3, 32))))
    assert abs(conv.std() - 1 / math.sqrt(3 * 3 * 32)) < 0.01


def test_init_orthogonal_and_sparse(mirror):
    mx, init = mirror.core, mirror.nn.init
    q = to_np(init.orthogonal(gain=2.0)(mx.zeros((6, 4))))
    np.testing.assert_allclose(q.T @ q, 4.0 * np.eye(4), atol=1e-4)
    wide = to_np(init.orthogonal()(mx.zeros((3, 5))))
    np.testing.assert_allclose(wide @ wide.T, np.eye(3), atol=1e-5)
    s = to_np(init.sparse(0.3, std=1.0)(mx.zeros((8, 10))))
    assert ((s == 0).sum(axis=1) == 3).all()
    with pytest.raises(ValueError, match="2 dimensions"):
        init.sparse(0.5)(mx.zeros((2, 2, 2)))


@pytest.mark.mlx_only
@pytest.mark.parametrize("name, args", [("constant", (0.5,)), ("identity", ())])
def test_deterministic_init_matches_mlx(mirror, mlx, name, args):
    mlx_core, mlx_nn, _ = mlx
    got = getattr(mirror.nn.init, name)(*args)(mirror.core.zeros((4, 4)))
    want = getattr(mlx_nn.init, name)(*args)(mlx_core.zeros((4, 4)))
    assert got.dtype == mirror.core.float32
    np.testing.assert_array_equal(to_np(got), np.array(want))


# --- Module tree ---------------------------------------------------------------------------


def build_net(nn, mx):
    """A model with nested modules in a list and a dict, a raw array, a buffer and a plain
    attribute: the shapes of tree Module has to handle."""

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Linear(3, 4)
            self.norm = nn.BatchNorm(4)
            self.blocks = [nn.Linear(4, 4), {"head": nn.Linear(4, 2), "scale": mx.ones((2,))}]
            self._cache = mx.zeros((3,))
            self.name = "net"

        def __call__(self, x):
            x = self.blocks[0](self.norm(self.encoder(x)))
            return self.blocks[1]["head"](x) * self.blocks[1]["scale"]

    return Net()


NET_PARAMETERS = [
    "encoder.weight",
    "encoder.bias",
    "norm.weight",
    "norm.bias",
    "norm.running_mean",
    "norm.running_var",
    "blocks.0.weight",
    "blocks.0.bias",
    "blocks.1.head.weight",
    "blocks.1.head.bias",
    "blocks.1.scale",
]


def names(mirror, tree):
    return [k for k, _ in mirror.utils.tree_flatten(tree)]


def module_names(mirror, tree):
    return [k for k, _ in mirror.utils.tree_flatten(tree, is_leaf=mirror.nn.Module.is_module)]


def test_module_is_a_dict_of_its_arrays_and_submodules(mirror):
    model = build_net(mirror.nn, mirror.core)
    assert set(model) == {"encoder", "norm", "blocks", "_cache"}
    assert model.name == "net" and "name" not in model
    assert names(mirror, model.parameters()) == NET_PARAMETERS
    stats = {"norm.running_mean", "norm.running_var"}
    assert names(mirror, model.trainable_parameters()) == [
        n for n in NET_PARAMETERS if n not in stats
    ]
    assert model.state is model
    assert sorted(model.children()) == ["blocks", "encoder", "norm"]
    assert [k for k, _ in model.named_modules()] == [
        "",
        "blocks.1.head",
        "blocks.0",
        "norm",
        "encoder",
    ]
    assert len(model.modules()) == 5
    leaves = ["encoder", "norm", "blocks.0", "blocks.1.head"]
    assert module_names(mirror, model.leaf_modules()) == leaves
    # Replacing an array attribute with a non-array moves it out of the dict, and back.
    model.encoder.bias = None
    assert "bias" not in model.encoder and model.encoder.bias is None
    model.encoder.bias = mirror.core.zeros((4,))
    assert "bias" in model.encoder
    del model.encoder.bias
    assert "bias" not in model.encoder
    with pytest.raises(AttributeError):
        _ = model.missing


def test_freeze_and_unfreeze(mirror):
    model = build_net(mirror.nn, mirror.core)
    model.freeze(keys="bias")
    assert not any(n.endswith("bias") for n in names(mirror, model.trainable_parameters()))
    model.unfreeze()
    model.blocks[0].freeze()
    trainable = names(mirror, model.trainable_parameters())
    assert "blocks.0.weight" not in trainable and "encoder.weight" in trainable
    model.freeze(recurse=False, keys=["_cache"])
    model.unfreeze(keys="weight")
    assert "blocks.0.weight" in names(mirror, model.trainable_parameters())
    model.freeze()
    assert names(mirror, model.trainable_parameters()) == []
    assert names(mirror, model.parameters()) == NET_PARAMETERS
    with pytest.raises(KeyError, match="doesn't contain member nope"):
        model.freeze(keys="nope", strict=True)
    with pytest.raises(KeyError, match="doesn't contain member weight"):
        model.freeze(keys="weight", strict=True, recurse=False)


def test_update_replaces_arrays_and_checks_strictly(mirror):
    mx = mirror.core
    model = build_net(mirror.nn, mx)
    model.update({"blocks": [{}, {"scale": mx.full((2,), 3.0)}]})
    np.testing.assert_array_equal(to_np(model.blocks[1]["scale"]), [3.0, 3.0])
    for bad, message in [
        ({"nope": mx.zeros((1,))}, 'Module does not have parameter named "nope".'),
        ({"encoder": {"weight": 3}}, "Received invalid type: int."),
        ({"blocks": [{}, {}, {}]}, "List index 2 is out of bounds for destination of length 2."),
        ({"encoder": 5}, "Received invalid type: int."),
    ]:
        with pytest.raises(ValueError) as err:
            model.update(bad)
        assert str(err.value) == message
    before = flat_np(mirror.utils, model.parameters())
    model.update({"nope": mx.zeros((1,)), "blocks": [{}, {}, {}]}, strict=False)
    after = flat_np(mirror.utils, model.parameters())
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_update_modules_apply_set_dtype_and_train(mirror):
    mx, nn = mirror.core, mirror.nn
    model = build_net(nn, mx)
    head = nn.Linear(4, 2, bias=False)
    model.update_modules({"blocks": [{}, {"head": head}]})
    assert model.blocks[1]["head"] is head
    with pytest.raises(ValueError, match='sub-module named "nope"'):
        model.update_modules({"nope": head})
    model.apply(lambda p: p * 0 + 1)
    assert all((to_np(p) == 1).all() for _, p in mirror.utils.tree_flatten(model.parameters()))
    model.set_dtype(mx.float16)
    assert {p.dtype for _, p in mirror.utils.tree_flatten(model.parameters())} == {mx.float16}
    model.eval()
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_save_and_load_weights_round_trip(mirror, tmp_path, rng):
    mx = mirror.core
    model = build_net(mirror.nn, mx)
    randomise(mirror, model, rng)
    x = mx.array(normal(rng, 5, 3))
    model.eval()
    expected = to_np(model(x))
    for suffix in ("npz", "safetensors"):
        path = tmp_path / f"weights.{suffix}"
        model.save_weights(str(path))
        clone = build_net(mirror.nn, mx).eval()
        assert clone.load_weights(str(path)) is clone
        np.testing.assert_allclose(to_np(clone(x)), expected, rtol=1e-6)
        assert "_cache" not in mx.load(str(path))
    with pytest.raises(ValueError, match="Unsupported file extension"):
        model.save_weights(str(tmp_path / "weights.pt"))


def test_load_weights_of_torch_parameters_copies_and_detaches():
    torch = pytest.importorskip("torch")
    tnn = importlib.import_module("ember_mlx.compat.torch.nn")
    source = torch.nn.Linear(4, 3)
    model = tnn.Linear(4, 3)
    model.load_weights(list(source.named_parameters()))
    assert not any(p.requires_grad for p in (model.weight, model.bias))
    assert model.weight.data_ptr() != source.weight.data_ptr()
    with torch.no_grad():
        source.weight.add_(100.0)
    assert float(model.weight.abs().max()) < 100.0


def test_load_weights_strict_errors(mirror):
    mx = mirror.core
    model = build_net(mirror.nn, mx)
    weights = mirror.utils.tree_flatten(model.parameters())
    cases = [
        (weights[:-1], "Missing 1 parameters: \nblocks.1.scale."),
        (weights + [("extra", mx.zeros((1,)))], "Received 1 parameters not in model: \nextra."),
        (
            [(k, mx.zeros((9,)) if k == "encoder.bias" else v) for k, v in weights],
            "Expected shape (4,) but received shape (9,) for parameter encoder.bias",
        ),
        (
            [(k, 1.0 if k == "encoder.bias" else v) for k, v in weights],
            "Expected mx.array but received <class 'float'> for parameter encoder.bias",
        ),
    ]
    for bad, message in cases:
        with pytest.raises(ValueError) as err:
            model.load_weights(bad)
        assert str(err.value) == message
    model.load_weights([("encoder.bias", mx.full((4,), 2.0))], strict=False)
    np.testing.assert_array_equal(to_np(model.encoder.bias), np.full(4, 2.0))


@pytest.mark.mlx_only
def test_module_tree_matches_mlx(mirror, mlx):
    mlx_core, mlx_nn, mlx_utils = mlx
    model, reference = build_net(mirror.nn, mirror.core), build_net(mlx_nn, mlx_core)

    def mlx_names(tree):
        return [k for k, _ in mlx_utils.tree_flatten(tree)]

    assert names(mirror, model.parameters()) == mlx_names(reference.parameters())
    for m in (model, reference):
        m.freeze(keys="bias")
        m.blocks[0].unfreeze()
    assert names(mirror, model.trainable_parameters()) == mlx_names(
        reference.trainable_parameters()
    )
    assert [k for k, _ in model.named_modules()] == [k for k, _ in reference.named_modules()]
    assert module_names(mirror, model.leaf_modules()) == [
        k
        for k, _ in mlx_utils.tree_flatten(
            reference.leaf_modules(), is_leaf=mlx_nn.Module.is_module
        )
    ]
    assert repr(model) == repr(reference)
    for bad in ({"nope": 1}, {"encoder": 5}, {"blocks": [{}, {}, {}]}):
        errors = []
        for m in (model, reference):
            with pytest.raises(ValueError) as err:
                m.update(bad)
            errors.append(str(err.value))
        assert errors[0] == errors[1]


@pytest.mark.mlx_only
@pytest.mark.parametrize("suffix", ["npz", "safetensors"])
def test_weight_files_load_across_mlx_and_the_mirror(mirror, mlx, tmp_path, rng, suffix):
    mlx_core, mlx_nn, _ = mlx
    model, reference = build_net(mirror.nn, mirror.core), build_net(mlx_nn, mlx_core)
    randomise(mirror, model, rng)
    path = str(tmp_path / f"mirror.{suffix}")
    model.save_weights(path)
    reference.load_weights(path)
    for m in (model, reference):
        m.eval()
    x = normal(rng, 4, 3)
    want = to_np(model(mirror.core.array(x)))
    np.testing.assert_allclose(np.array(reference(mlx_core.array(x))), want, rtol=1e-6)

    reference.update(
        {
            "encoder": {"weight": mlx_core.array(normal(rng, 4, 3))},
            "blocks": [{}, {"scale": mlx_core.full((2,), 2.0)}],
        }
    )
    path = str(tmp_path / f"mlx.{suffix}")
    reference.save_weights(path)
    model.load_weights(path)
    np.testing.assert_allclose(
        to_np(model(mirror.core.array(x))), np.array(reference(mlx_core.array(x))), rtol=1e-6
    )


# --- gradients -----------------------------------------------------------------------------


def test_value_and_grad_follows_trainable_parameters(mirror, rng):
    needs_autodiff(mirror)
    mx, nn = mirror.core, mirror.nn
    model = nn.Linear(3, 2)
    x, y = normal(rng, 6, 3), normal(rng, 6, 2)
    w, b = to_np(model.weight), to_np(model.bias)

    def loss_fn(x, y):
        return nn.losses.mse_loss(model(x), y, reduction="sum")

    loss, grads = nn.value_and_grad(model, loss_fn)(mx.array(x), mx.array(y))
    residual = x @ w.T + b - y
    np.testing.assert_allclose(to_np(loss), (residual**2).sum(), rtol=1e-5)
    np.testing.assert_allclose(to_np(grads["weight"]), 2 * residual.T @ x, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(to_np(grads["bias"]), 2 * residual.sum(0), rtol=1e-4, atol=1e-5)

    model.freeze(keys="bias")
    _, grads = nn.value_and_grad(model, loss_fn)(mx.array(x), mx.array(y))
    assert set(grads) == {"weight"}


def test_training_loop_fits_a_linear_map(mirror, rng):
    needs_autodiff(mirror)
    mx, nn = mirror.core, mirror.nn
    x = normal(rng, 64, 3)
    y = x @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32) + 0.3
    model = nn.Linear(3, 1)
    optimizer = mirror.optimizers.SGD(learning_rate=0.1)
    step = nn.value_and_grad(model, lambda x, y: nn.losses.mse_loss(model(x), y))
    for _ in range(200):
        loss, grads = step(mx.array(x), mx.array(y))
        optimizer.update(model, grads)
    assert float(to_np(loss)) < 1e-4
    np.testing.assert_allclose(to_np(model.weight), [[1.0, -2.0, 0.5]], atol=1e-2)


@pytest.mark.mlx_only
def test_value_and_grad_matches_mlx(mirror, mlx, rng):
    needs_autodiff(mirror)
    mlx_core, mlx_nn, mlx_utils = mlx
    model, reference = build_net(mirror.nn, mirror.core), build_net(mlx_nn, mlx_core)
    randomise(mirror, model, rng)
    reference.update(to_backend(mlx_core, to_np(model.parameters())))
    x, y = normal(rng, 5, 3), normal(rng, 5, 2)
    results = []
    for nn, core, m in ((mirror.nn, mirror.core, model), (mlx_nn, mlx_core, reference)):
        fn = nn.value_and_grad(m, lambda x, y, m=m, nn=nn: nn.losses.mse_loss(m(x), y))
        results.append(fn(core.array(x), core.array(y)))
    (loss, grads), (want_loss, want_grads) = results
    np.testing.assert_allclose(to_np(loss), np.array(want_loss), rtol=1e-5)
    want = {k: np.array(v) for k, v in mlx_utils.tree_flatten(want_grads)}
    got = flat_np(mirror.utils, grads)
    assert sorted(got) == sorted(want)
    # encoder.bias feeds a training-mode BatchNorm, so its true gradient is 0 and both
    # backends return float32 noise of order 1e-6.
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-4, atol=2e-5, err_msg=k)


def test_average_gradients_is_the_identity_in_one_process(mirror):
    grads = {"w": mirror.core.ones((2,))}
    assert mirror.nn.average_gradients(grads) is grads

    class Group:
        def size(self):
            return 4

    with pytest.raises(NotImplementedError, match="4 processes"):
        mirror.nn.average_gradients(grads, group=Group())
