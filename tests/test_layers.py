"""Feed-forward layers: activations, Linear/Dense, Sequential, BatchNormalization, Dropout."""

import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ember_mlx.backend import mx, nn, to_numpy, utils
from ember_mlx.nn.layers import (
    BatchNormalization,
    Dense,
    Dropout,
    LeCunTanh,
    Linear,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Softplus,
    Tanh,
    get_activation,
    lecun_tanh,
)


def _data(rng, *shape):
    return rng.normal(scale=2.0, size=shape).astype(np.float32)


# --- activations ---------------------------------------------------------------------------

TORCH_ACTIVATIONS = {
    "relu": torch.relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "softmax": lambda x: torch.softmax(x, dim=-1),
    "softplus": F.softplus,
    "lecun_tanh": lambda x: 1.7159 * torch.tanh(0.666 * x),
    "silu": F.silu,
    "gelu": F.gelu,
    "elu": F.elu,
    "leaky_relu": F.leaky_relu,
    "linear": lambda x: x,
}


@pytest.mark.parametrize("name", list(TORCH_ACTIVATIONS))
def test_activations_by_name_match_torch(name, rng):
    x = _data(rng, 3, 5)
    expected = TORCH_ACTIVATIONS[name](torch.from_numpy(x)).numpy()
    got = get_activation(name)(mx.array(x))
    np.testing.assert_allclose(to_numpy(got), expected, rtol=1e-5, atol=1e-6)
    assert get_activation(name.upper()) is get_activation(name)


@pytest.mark.parametrize(
    "module, name",
    [
        (ReLU(), "relu"),
        (Tanh(), "tanh"),
        (Sigmoid(), "sigmoid"),
        (Softplus(), "softplus"),
        (Softmax(), "softmax"),
        (LeCunTanh(), "lecun_tanh"),
    ],
)
def test_activation_modules_equal_functions(module, name, rng):
    x = mx.array(_data(rng, 4, 3))
    np.testing.assert_allclose(to_numpy(module(x)), to_numpy(get_activation(name)(x)), rtol=1e-6)
    assert not module.parameters()
    assert type(module).from_config(module.get_config()).get_config() == module.get_config()


def test_softmax_axis_and_lecun_tanh_values(rng):
    x = _data(rng, 4, 3)
    got = to_numpy(Softmax(axis=0)(mx.array(x)))
    np.testing.assert_allclose(got, torch.softmax(torch.from_numpy(x), dim=0).numpy(), rtol=1e-5)
    np.testing.assert_allclose(got.sum(axis=0), 1.0, rtol=1e-6)
    assert Softmax(axis=0).get_config() == {"axis": 0}
    np.testing.assert_allclose(to_numpy(lecun_tanh(mx.array([1.0]))), [1.7159 * np.tanh(0.666)])


def test_get_activation_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown activation 'swishh'; expected one of elu, gelu"):
        get_activation("swishh")
    with pytest.raises(TypeError, match="activation: expected a name, a callable or None, got int"):
        get_activation(3)
    x = mx.array([-1.0, 2.0])
    np.testing.assert_array_equal(to_numpy(get_activation(None)(x)), [-1.0, 2.0])
    assert get_activation(mx.abs) is mx.abs


# --- Linear and Dense ----------------------------------------------------------------------


@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(bias, rng):
    torch.manual_seed(0)
    ref = torch.nn.Linear(4, 3, bias=bias)
    layer = Linear(4, 3, bias=bias)
    assert layer.weight.shape == (3, 4)
    assert ("bias" in layer) == bias
    layer.load_arrays({k: to_numpy(v) for k, v in ref.state_dict().items()})
    x = _data(rng, 2, 5, 4)
    with torch.no_grad():
        expected = ref(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(to_numpy(layer(mx.array(x))), expected, rtol=1e-5, atol=1e-6)


def test_linear_rejects_bad_sizes():
    with pytest.raises(ValueError, match="Linear: in_features: expected an int >= 1, got 0"):
        Linear(0, 3)
    with pytest.raises(ValueError, match="Linear: out_features: expected an int >= 1, got -1"):
        Linear(3, -1)
    with pytest.raises(TypeError, match="Dense: in_features: expected an int, got float 3.0"):
        Dense(3.0, 2)


def test_linear_initialisation_and_bad_input():
    layer = Linear(16, 200)
    weights = to_numpy(layer.weight)
    assert np.abs(weights).max() <= 0.25 and weights.std() > 0.25 / np.sqrt(3) * 0.9
    with pytest.raises(ValueError, match=r"Linear: input x has shape \(2, 15\).*in_features=16"):
        layer(mx.zeros((2, 15)))


def test_dense_applies_its_activation(rng):
    dense = Dense(3, 2, activation="relu")
    x = _data(rng, 5, 3)
    affine = x @ to_numpy(dense.weight).T + to_numpy(dense.bias)
    np.testing.assert_allclose(to_numpy(dense(mx.array(x))), np.maximum(affine, 0), atol=1e-6)
    plain = Dense(3, 2, use_bias=False)
    assert [n for n, _ in plain.named_parameters()] == ["weight"]
    np.testing.assert_allclose(
        to_numpy(plain(mx.array(x))), x @ to_numpy(plain.weight).T, rtol=1e-5, atol=1e-6
    )
    assert dense.get_config() == {
        "in_features": 3,
        "out_features": 2,
        "activation": "relu",
        "use_bias": True,
    }
    with pytest.raises(ValueError, match="unknown activation 'rleu'"):
        Dense(3, 2, activation="rleu")
    with pytest.raises(ValueError, match=r"Dense: input x has shape \(5, 4\).*in_features=3"):
        dense(mx.zeros((5, 4)))


# --- Sequential ----------------------------------------------------------------------------


def test_sequential_is_a_list_of_layers(rng):
    first, act, last = Linear(3, 4), Tanh(), Dense(4, 2, activation="sigmoid")
    model = Sequential(first, act)
    model.append(last)
    x = mx.array(_data(rng, 5, 3))
    np.testing.assert_allclose(
        to_numpy(model(x)), to_numpy(last(act(first(x)))), rtol=1e-6, atol=1e-7
    )
    assert len(model) == 3 and list(model) == [first, act, last]
    assert model[0] is first and model[-1] is last
    head = model[:2]
    assert isinstance(head, Sequential) and len(head) == 2 and head[1] is act
    np.testing.assert_allclose(to_numpy(head(x)), to_numpy(act(first(x))), rtol=1e-6)
    assert [n for n, _ in model.named_parameters()] == [
        "layers.0.weight",
        "layers.0.bias",
        "layers.2.weight",
        "layers.2.bias",
    ]
    with pytest.raises(IndexError):
        model[3]


def test_sequential_named_layers():
    model = Sequential()
    model.add_module("fc1", Linear(3, 4))
    model.add_module("relu", ReLU())
    model.append(Linear(4, 1))
    assert len(model) == 3 and model.fc1 is model[0] and model.relu is model[1]
    named = Sequential(OrderedDict([("encoder", Linear(3, 2)), ("act", Tanh())]))
    assert named.encoder is named[0]
    assert named[1:].act is named[1]
    with pytest.raises(ValueError, match="name 'fc1' is already in use"):
        model.add_module("fc1", Linear(1, 1))
    with pytest.raises(ValueError, match="name 'layers' is already in use"):
        model.add_module("layers", Linear(1, 1))
    with pytest.raises(TypeError, match="module must be callable, got int"):
        model.add_module("x", 3)
    with pytest.raises(AttributeError):
        _ = model.fc2


@pytest.mark.autodiff
def test_sequential_gradients_match_torch(rng):
    torch.manual_seed(0)
    ref = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    model = Sequential(Linear(3, 4), Tanh(), Linear(4, 1))
    model.load_arrays({f"layers.{k}": to_numpy(v) for k, v in ref.state_dict().items()})
    x = _data(rng, 8, 3)
    _, grads = nn.value_and_grad(model, lambda x: mx.sum(model(x) ** 2))(mx.array(x))
    (ref(torch.from_numpy(x)) ** 2).sum().backward()
    expected = {f"layers.{k}": p.grad.numpy() for k, p in ref.named_parameters()}
    got = dict(utils.tree_flatten(grads))
    assert set(got) == set(expected)
    for name, g in got.items():
        np.testing.assert_allclose(to_numpy(g), expected[name], rtol=1e-4, atol=1e-6)


def test_sequential_config_round_trip(rng):
    model = Sequential(Linear(3, 4), ReLU())
    model.add_module("out", Dense(4, 2, activation="tanh"))
    clone = Sequential.from_config(model.get_config())
    assert clone.get_config() == model.get_config() and clone.out is clone[2]
    clone.load_arrays(dict(model.named_parameters()))
    x = mx.array(_data(rng, 5, 3))
    np.testing.assert_array_equal(to_numpy(clone(x)), to_numpy(model(x)))


def test_sequential_of_one_layer_holds_it(rng, tmp_path):
    # A Module is a dict of its weights; it must not be read as a mapping of names to layers.
    x = mx.array(_data(rng, 5, 3))
    linear = Linear(3, 2)
    single = Sequential(linear)
    assert len(single) == 1 and single[0] is linear
    np.testing.assert_array_equal(to_numpy(single(x)), to_numpy(linear(x)))
    assert len(Sequential(ReLU())) == 1 and len(Sequential(Dropout(0.5))) == 1
    single.save(tmp_path / "one.safetensors")
    loaded = Sequential.load(tmp_path / "one.safetensors")
    np.testing.assert_array_equal(to_numpy(loaded(x)), to_numpy(linear(x)))


def test_nested_sequential_saves_and_loads(rng, tmp_path):
    model = Sequential(Sequential(Linear(3, 4), Tanh()), Linear(4, 2))
    model.save(tmp_path / "nested.safetensors")
    loaded = Sequential.load(tmp_path / "nested.safetensors")
    assert isinstance(loaded[0], Sequential) and isinstance(loaded[0][0], Linear)
    x = mx.array(_data(rng, 5, 3))
    np.testing.assert_array_equal(to_numpy(loaded(x)), to_numpy(model(x)))


def test_sequential_append_after_slicing_or_naming_takes_a_free_name():
    model = Sequential(Linear(2, 3), ReLU(), Linear(3, 2))
    tail = model[1:].append(Tanh())
    assert len(tail) == 3 and isinstance(tail[2], Tanh)
    named = Sequential().add_module("1", ReLU()).append(Tanh()).append(ReLU())
    assert len(named) == 3 and isinstance(named[1], Tanh)


# --- BatchNormalization --------------------------------------------------------------------


def test_batch_normalization_matches_torch(rng):
    torch.manual_seed(0)
    ref = torch.nn.BatchNorm1d(3, momentum=0.1)
    with torch.no_grad():
        ref.weight.uniform_(0.5, 1.5)
        ref.bias.uniform_(-0.5, 0.5)
    bn = BatchNormalization(3)
    bn.update(
        {
            "weight": mx.array(ref.weight.detach().numpy()),
            "bias": mx.array(ref.bias.detach().numpy()),
        }
    )
    for _ in range(3):
        x = _data(rng, 8, 3) + 1.0
        with torch.no_grad():
            expected = ref(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(to_numpy(bn(mx.array(x))), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(to_numpy(bn.running_mean), ref.running_mean.numpy(), rtol=1e-5)
    np.testing.assert_allclose(to_numpy(bn.running_var), ref.running_var.numpy(), rtol=1e-5)
    bn.eval()
    ref.eval()
    x = _data(rng, 4, 3)
    with torch.no_grad():
        expected = ref(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(to_numpy(bn(mx.array(x))), expected, rtol=1e-4, atol=1e-5)
    trainable = {n for n, _ in utils.tree_flatten(bn.trainable_parameters())}
    assert trainable == {"weight", "bias"}
    assert {n for n, _ in bn.named_parameters()} == trainable | {"running_mean", "running_var"}


def test_batch_normalization_momentum_is_the_running_weight():
    bn = BatchNormalization(2, momentum=0.75)
    bn(mx.array([[1.0, 2.0], [3.0, 6.0]]))
    # running_mean = 0.75 * 0 + 0.25 * batch mean
    np.testing.assert_allclose(to_numpy(bn.running_mean), [0.5, 1.0], rtol=1e-6)
    assert bn.get_config() == {"num_features": 2, "epsilon": 1e-5, "momentum": 0.75}
    with pytest.raises(ValueError, match=r"momentum: expected a float in \[0.0, 1.0\], got 1.5"):
        BatchNormalization(2, momentum=1.5)
    with pytest.raises(ValueError, match="epsilon: expected a float > 0.0, got 0"):
        BatchNormalization(2, epsilon=0)
    with pytest.raises(ValueError, match="epsilon: expected a float > 0.0, got nan"):
        BatchNormalization(2, epsilon=float("nan"))
    with pytest.raises(TypeError, match="momentum: expected a float in .*, got str '0.9'"):
        BatchNormalization(2, momentum="0.9")
    with pytest.raises(ValueError, match="num_features: expected an int >= 1, got 0"):
        BatchNormalization(0)
    with pytest.raises(TypeError, match="num_features: expected an int, got float 3.5"):
        BatchNormalization(3.5)
    with pytest.raises(ValueError, match=r"input x has shape \(4, 3\).*num_features=2"):
        bn(mx.zeros((4, 3)))


def test_batch_normalization_statistics_stay_frozen_when_a_container_is_unfrozen():
    model = Sequential(Linear(3, 2), BatchNormalization(2))
    model.freeze()
    model.unfreeze()
    trainable = [name for name, _ in utils.tree_flatten(model.trainable_parameters())]
    assert trainable == [
        "layers.0.weight",
        "layers.0.bias",
        "layers.1.weight",
        "layers.1.bias",
    ]


# --- Dropout -------------------------------------------------------------------------------


def test_dropout_zeroes_a_rate_of_elements_and_rescales():
    x = mx.ones((200, 100))
    y = to_numpy(Dropout(0.3)(x))
    assert abs((y == 0).mean() - 0.3) < 0.02
    np.testing.assert_allclose(y[y != 0], 1 / 0.7, rtol=1e-6)


def test_dropout_training_flag_and_mode():
    x = mx.ones((50, 40))
    layer = Dropout(0.5)
    np.testing.assert_array_equal(to_numpy(layer(x, training=False)), to_numpy(x))
    layer.eval()
    np.testing.assert_array_equal(to_numpy(layer(x)), to_numpy(x))
    assert (to_numpy(layer(x, training=True)) == 0).any()
    np.testing.assert_array_equal(to_numpy(Dropout(0.0)(x)), to_numpy(x))


def test_dropout_seed_gives_a_reproducible_sequence_of_masks():
    x = mx.ones((20, 30))
    a, b = Dropout(0.5, seed=3), Dropout(0.5, seed=3)
    a1, a2 = to_numpy(a(x)), to_numpy(a(x))
    mx.random.seed(123)  # the seeded layers do not read the global state
    b1, b2 = to_numpy(b(x)), to_numpy(b(x))
    np.testing.assert_array_equal(a1, b1)
    np.testing.assert_array_equal(a2, b2)
    assert (a1 != a2).any()
    assert not Dropout(0.5, seed=3).parameters()
    # Unseeded layers follow the global random state.
    mx.random.seed(5)
    c1 = to_numpy(Dropout(0.5)(x))
    mx.random.seed(5)
    np.testing.assert_array_equal(to_numpy(Dropout(0.5)(x)), c1)


def test_seeded_dropout_pickles_and_copies_with_its_key():
    # Its key is a uint32 array, which torch cannot unpickle as a tensor.
    x = mx.ones((6, 8))
    layer = Dropout(0.5, seed=4)
    layer(x)
    for clone in (pickle.loads(pickle.dumps(layer)), copy.deepcopy(layer)):
        assert clone._key.dtype == mx.uint32
        np.testing.assert_array_equal(to_numpy(clone(x)), to_numpy(copy.deepcopy(layer)(x)))


@pytest.mark.parametrize(
    ("rate", "error"),
    [
        (1.0, ValueError),
        (-0.1, ValueError),
        (1.5, ValueError),
        ("0.5", TypeError),
        (True, TypeError),
    ],
)
def test_dropout_rejects_bad_rates(rate, error):
    with pytest.raises(error, match=r"Dropout: rate: expected a (value in \[0.0, 1.0\)|float)"):
        Dropout(rate)


def test_dropout_takes_numpy_numbers_and_rejects_bad_seeds():
    assert Dropout(np.float32(0.5), seed=np.int64(3)).seed == 3
    with pytest.raises(TypeError, match="Dropout: seed: expected an int, got float 1.5"):
        Dropout(0.5, seed=1.5)
    with pytest.raises(ValueError, match="Dropout: seed: expected an int >= 0, got -1"):
        Dropout(0.5, seed=-1)
    with pytest.raises(ValueError, match=r"Dropout: seed: expected an int in \[0, 2\*\*32\)"):
        Dropout(0.5, seed=2**70)
