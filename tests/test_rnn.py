"""Classic recurrent cells and layers (RNN, LSTM, GRU) against torch.nn, gradients, training."""

import re

import numpy as np
import pytest
import torch
from second_order import assert_second_orders_equal, ember_second_order, torch_second_order

from ember_mlx.backend import get_backend, mx, nn, optim, to_numpy, utils
from ember_mlx.checkpoint import CheckpointError
from ember_mlx.nn.layers import Dense, Dropout
from ember_mlx.nn.rnn.gru import GRU, GRUCell
from ember_mlx.nn.rnn.lstm import LSTM, LSTMCell
from ember_mlx.nn.rnn.rnn import RNN, RecurrentCell, RNNCell

CELLS = {
    "rnn_tanh": (lambda i, h, b: RNNCell(i, h, b), lambda i, h, b: torch.nn.RNNCell(i, h, b)),
    "rnn_relu": (
        lambda i, h, b: RNNCell(i, h, b, activation="relu"),
        lambda i, h, b: torch.nn.RNNCell(i, h, b, nonlinearity="relu"),
    ),
    "lstm": (LSTMCell, torch.nn.LSTMCell),
    "gru": (GRUCell, torch.nn.GRUCell),
}

LAYERS = {
    "rnn_tanh": (
        lambda i, h, n, b, d=0.0: RNN(i, h, n, bias=b, dropout=d),
        lambda i, h, n, b, d=0.0: torch.nn.RNN(i, h, n, bias=b, dropout=d, batch_first=True),
    ),
    "rnn_relu": (
        lambda i, h, n, b, d=0.0: RNN(i, h, n, activation="relu", bias=b, dropout=d),
        lambda i, h, n, b, d=0.0: torch.nn.RNN(
            i, h, n, nonlinearity="relu", bias=b, dropout=d, batch_first=True
        ),
    ),
    "lstm": (
        lambda i, h, n, b, d=0.0: LSTM(i, h, n, bias=b, dropout=d),
        lambda i, h, n, b, d=0.0: torch.nn.LSTM(i, h, n, bias=b, dropout=d, batch_first=True),
    ),
    "gru": (
        lambda i, h, n, b, d=0.0: GRU(i, h, n, bias=b, dropout=d),
        lambda i, h, n, b, d=0.0: torch.nn.GRU(i, h, n, bias=b, dropout=d, batch_first=True),
    ),
}


def _data(rng, *shape, dtype=np.float32):
    return rng.normal(size=shape).astype(dtype)


def _pair(table, kind, *args, seed=0):
    """Our module and torch's with the same weights."""
    torch.manual_seed(seed)
    ours_factory, torch_factory = table[kind]
    ref = torch_factory(*args)
    ours = ours_factory(*args).load_torch_state_dict(ref.state_dict())
    return ours, ref


def _parts(state):
    return list(state) if isinstance(state, tuple) else [state]


def _ours_name(torch_name):
    """The mapping the docs give: weight_ih_l1 -> layers.1.weight_ih (cells keep names)."""
    match = re.fullmatch(r"(weight|bias)_(ih|hh)_l(\d+)", torch_name)
    return f"layers.{match[3]}.{match[1]}_{match[2]}" if match else torch_name


# --- forward parity ------------------------------------------------------------------------


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("kind", list(CELLS))
def test_cells_match_torch(kind, bias, rng):
    ours, ref = _pair(CELLS, kind, 3, 5, bias)
    x = _data(rng, 4, 3)
    states = [_data(rng, 4, 5) for _ in range(2 if kind == "lstm" else 1)]
    torch_state = tuple(map(torch.from_numpy, states))
    state = tuple(map(mx.array, states))
    if kind != "lstm":
        torch_state, state = torch_state[0], state[0]
    with torch.no_grad():
        expected = _parts(ref(torch.from_numpy(x), torch_state))
        expected_from_zero = _parts(ref(torch.from_numpy(x)))
    got = _parts(ours(mx.array(x), state))
    got_from_zero = _parts(ours(mx.array(x)))
    for g, e in zip(got + got_from_zero, expected + expected_from_zero, strict=True):
        np.testing.assert_allclose(to_numpy(g), e.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("kind", list(LAYERS))
def test_layers_match_torch(kind, num_layers, rng):
    ours, ref = _pair(LAYERS, kind, 3, 5, num_layers, True)
    x = _data(rng, 2, 6, 3)
    states = [_data(rng, num_layers, 2, 5) for _ in range(2 if kind == "lstm" else 1)]
    torch_state = tuple(map(torch.from_numpy, states))
    # Our state has a layer axis only when stacked.
    ours_states = [mx.array(s if num_layers > 1 else s[0]) for s in states]
    with torch.no_grad():
        for given in (None, "initial"):
            if given is None:
                ry, rstate = ref(torch.from_numpy(x))
                y, state = ours(mx.array(x))
            else:
                ry, rstate = ref(
                    torch.from_numpy(x), torch_state if kind == "lstm" else torch_state[0]
                )
                y, state = ours(
                    mx.array(x), tuple(ours_states) if kind == "lstm" else ours_states[0]
                )
            np.testing.assert_allclose(to_numpy(y), ry.numpy(), rtol=1e-5, atol=1e-5)
            for got, expected in zip(_parts(state), _parts(rstate), strict=True):
                expected = expected.numpy()
                assert to_numpy(got).shape == (
                    expected.shape if num_layers > 1 else expected[0].shape
                )
                np.testing.assert_allclose(
                    to_numpy(got), expected.reshape(to_numpy(got).shape), rtol=1e-5, atol=1e-5
                )


def test_no_bias_stacked_layers_match_torch(rng):
    for kind in ("lstm", "gru", "rnn_tanh"):
        ours, ref = _pair(LAYERS, kind, 3, 4, 2, False)
        assert not any("bias" in name for name, _ in ours.named_parameters())
        x = _data(rng, 2, 4, 3)
        with torch.no_grad():
            expected = ref(torch.from_numpy(x))[0].numpy()
        np.testing.assert_allclose(to_numpy(ours(mx.array(x))[0]), expected, rtol=1e-5, atol=1e-5)


def test_carried_state_continues_the_sequence(rng):
    """Running two halves with the state carried over equals one run (stacked LSTM)."""
    lstm = LSTM(3, 4, num_layers=2)
    x = mx.array(_data(rng, 2, 8, 3))
    y, (h, c) = lstm(x)
    y1, state = lstm(x[:, :5])
    y2, (h2, c2) = lstm(x[:, 5:], state)
    assert h.shape == (2, 2, 4) and c.shape == (2, 2, 4)
    np.testing.assert_allclose(to_numpy(mx.concatenate([y1, y2], axis=1)), to_numpy(y), atol=1e-6)
    np.testing.assert_allclose(to_numpy(h2), to_numpy(h), atol=1e-6)
    np.testing.assert_allclose(to_numpy(c2), to_numpy(c), atol=1e-6)
    np.testing.assert_allclose(to_numpy(h[-1]), to_numpy(y[:, -1]), atol=1e-7)


# --- parameters, loading, config -----------------------------------------------------------


@pytest.mark.parametrize("kind", list(LAYERS))
def test_parameter_names_map_torch_names(kind):
    ours, ref = _pair(LAYERS, kind, 3, 4, 3, True)
    torch_shapes = {_ours_name(n): tuple(p.shape) for n, p in ref.state_dict().items()}
    ours_shapes = {n: tuple(p.shape) for n, p in ours.named_parameters()}
    assert ours_shapes == torch_shapes
    trainable = utils.tree_flatten(ours.trainable_parameters())
    assert sum(int(np.prod(p.shape)) for _, p in trainable) == sum(
        p.numel() for p in ref.parameters()
    )


def test_cell_parameter_names_equal_torch():
    for kind, (ours_factory, torch_factory) in CELLS.items():
        ours, ref = ours_factory(3, 4, True), torch_factory(3, 4, True)
        assert {n: tuple(p.shape) for n, p in ours.named_parameters()} == {
            n: tuple(p.shape) for n, p in ref.state_dict().items()
        }, kind


def test_initialisation_is_torch_uniform():
    cell = LSTMCell(3, 16)
    weights = np.concatenate([to_numpy(p).ravel() for _, p in cell.named_parameters()])
    bound = 1 / np.sqrt(16)
    assert np.all(np.abs(weights) <= bound)
    # U(-k, k) has standard deviation k / sqrt(3).
    assert abs(weights.std() - bound / np.sqrt(3)) < 0.1 * bound


def test_load_torch_state_dict_rejects_mismatches():
    lstm = LSTM(3, 4)
    before = to_numpy(lstm.layers[0].weight_ih)
    bidirectional = torch.nn.LSTM(3, 4, batch_first=True, bidirectional=True)
    with pytest.raises(CheckpointError, match="unexpected.*reverse"):
        lstm.load_torch_state_dict(bidirectional.state_dict())
    with pytest.raises(CheckpointError, match="shape"):
        lstm.load_torch_state_dict(torch.nn.LSTM(3, 5, batch_first=True).state_dict())
    np.testing.assert_array_equal(to_numpy(lstm.layers[0].weight_ih), before)
    with pytest.raises(CheckpointError, match="missing"):
        GRUCell(3, 4).load_torch_state_dict(torch.nn.GRUCell(3, 4, bias=False).state_dict())


@pytest.mark.parametrize(
    "make",
    [
        lambda: RNN(3, 4, num_layers=2, activation="relu", bias=False, dropout=0.25),
        lambda: LSTM(3, 4, num_layers=2, dropout=0.1),
        lambda: GRU(3, 4),
        lambda: LSTMCell(3, 4, bias=False),
        lambda: RNNCell(3, 4, activation="lecun_tanh"),
    ],
)
def test_config_round_trip(make, rng):
    model = make().eval()
    clone = type(model).from_config(model.get_config()).eval()
    assert clone.get_config() == model.get_config()
    clone.load_arrays(dict(model.named_parameters()))
    x = mx.array(_data(rng, 2, 5, 3) if model.get_config().get("num_layers") else _data(rng, 2, 3))
    for a, b in zip(_parts(model(x)), _parts(clone(x)), strict=True):
        for u, v in zip(_parts(a), _parts(b), strict=True):
            np.testing.assert_array_equal(to_numpy(u), to_numpy(v))


# --- dropout between layers ----------------------------------------------------------------


def test_dropout_applies_between_layers_only_while_training(rng):
    x = mx.array(_data(rng, 4, 5, 3))
    stacked, ref = _pair(LAYERS, "gru", 3, 6, 2, True, 0.5)
    # Evaluation mode: no dropout, torch's eval output.
    ref.eval()
    with torch.no_grad():
        expected = ref(torch.from_numpy(to_numpy(x)))[0].numpy()
    np.testing.assert_allclose(to_numpy(stacked.eval()(x)[0]), expected, rtol=1e-5, atol=1e-5)

    # Training mode: layer 1 reads layer 0's outputs through the dropout mask.
    stacked.train()
    stacked.layer_dropout = Dropout(0.5, seed=7)
    first, second = GRU(3, 6), GRU(6, 6)
    first.layers[0].update(stacked.layers[0].parameters())
    second.layers[0].update(stacked.layers[1].parameters())
    y, h = stacked(x)
    y0, h0 = first(x)
    y1, h1 = second(Dropout(0.5, seed=7)(y0))
    np.testing.assert_allclose(to_numpy(y), to_numpy(y1), atol=1e-6)
    np.testing.assert_allclose(to_numpy(h), to_numpy(mx.stack([h0, h1])), atol=1e-6)
    assert np.abs(to_numpy(y) - expected).max() > 1e-3

    # A single layer has nothing to drop between.
    single = GRU(3, 6, dropout=0.5).train()
    np.testing.assert_array_equal(to_numpy(single(x)[0]), to_numpy(single.eval()(x)[0]))


# --- gradients -----------------------------------------------------------------------------


def _torch_grads(ref, loss_fn):
    ref.zero_grad()
    loss_fn().backward()
    return {_ours_name(n): p.grad.numpy() for n, p in ref.named_parameters()}


@pytest.mark.autodiff
@pytest.mark.parametrize("kind", list(LAYERS))
def test_layer_gradients_match_torch_autograd(kind, rng):
    ours, ref = _pair(LAYERS, kind, 3, 4, 2, True)
    x = _data(rng, 2, 5, 3)
    w = _data(rng, 2, 5, 4)
    v = _data(rng, 2, 2, 4)

    def loss(x):
        y, state = ours(x)
        return mx.sum(y * mx.array(w)) + mx.sum(_parts(state)[-1] * mx.array(v))

    def torch_loss():
        y, state = ref(torch.from_numpy(x))
        return (y * torch.from_numpy(w)).sum() + (_parts(state)[-1] * torch.from_numpy(v)).sum()

    value, grads = nn.value_and_grad(ours, loss)(mx.array(x))
    assert abs(value.item() - torch_loss().item()) < 1e-4
    expected = _torch_grads(ref, torch_loss)
    got = dict(utils.tree_flatten(grads))
    assert set(got) == set(expected)
    for name, g in got.items():
        np.testing.assert_allclose(to_numpy(g), expected[name], rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.mark.autodiff
@pytest.mark.parametrize("kind", list(CELLS))
def test_cell_gradients_match_torch_autograd(kind, rng):
    ours, ref = _pair(CELLS, kind, 3, 4, True)
    x, w = _data(rng, 2, 3), _data(rng, 2, 4)

    def loss(x):
        return mx.sum(mx.concatenate(_parts(ours(x)), axis=-1) ** 2) + mx.sum(
            ours.hidden(ours(x)) * mx.array(w)
        )

    def torch_loss():
        out = _parts(ref(torch.from_numpy(x)))
        return (torch.cat(out, dim=-1) ** 2).sum() + (out[0] * torch.from_numpy(w)).sum()

    _, grads = nn.value_and_grad(ours, loss)(mx.array(x))
    expected = _torch_grads(ref, torch_loss)
    for name, g in utils.tree_flatten(grads):
        np.testing.assert_allclose(to_numpy(g), expected[name], rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.mark.autodiff
def test_lstm_second_order_gradients_match_torch_autograd(rng):
    """A gradient of a gradient differentiates the LSTM's hand-written vjp (bptt.recurrence)
    itself; torch.nn.LSTM's is autograd."""
    ours, ref = _pair(LAYERS, "lstm", 3, 4, 2, True)
    x = _data(rng, 2, 5, 3)
    got = ember_second_order(ours, lambda model: mx.mean(model(mx.array(x))[0] ** 2))
    expected = torch_second_order(ref, lambda module: (module(torch.from_numpy(x))[0] ** 2).mean())
    assert_second_orders_equal(got, expected, _ours_name)


# mlx computes float64 exp/sigmoid at about float32 accuracy (sigmoid off by ~5e-9 on CPU), too
# coarse for float64 finite differences; on mlx the autograd comparisons above stand in.
@pytest.mark.torch_only
@pytest.mark.parametrize("kind", list(CELLS))
def test_cell_gradients_match_finite_differences(kind, rng):
    """float64 central differences of the loss against autodiff, for a few entries per weight."""
    cell = CELLS[kind][0](3, 4, True)
    cell.set_dtype(mx.float64)
    x = mx.array(_data(rng, 2, 3, dtype=np.float64), dtype=mx.float64)
    state = tuple(
        mx.array(_data(rng, 2, 4, dtype=np.float64), dtype=mx.float64) for _ in cell.state_names
    )
    state = state if len(state) > 1 else state[0]
    w = mx.array(_data(rng, 2, 4, dtype=np.float64), dtype=mx.float64)

    def loss(x):
        return mx.sum(mx.concatenate(_parts(cell(x, state)), axis=-1) ** 2) + mx.sum(
            cell.hidden(cell(x, state)) * w
        )

    _, grads = nn.value_and_grad(cell, loss)(x)
    params = {n: to_numpy(p) for n, p in cell.named_parameters()}
    eps = 1e-6
    for name, g in utils.tree_flatten(grads):
        for index in list(zip(*[rng.integers(0, n, 3) for n in params[name].shape], strict=True)):
            values = []
            for sign in (1, -1):
                shifted = params[name].copy()
                shifted[index] += sign * eps
                cell.update(utils.tree_unflatten([(name, mx.array(shifted, dtype=mx.float64))]))
                values.append(loss(x).item())
            cell.update(utils.tree_unflatten([(name, mx.array(params[name], dtype=mx.float64))]))
            numeric = (values[0] - values[1]) / (2 * eps)
            assert abs(to_numpy(g)[index] - numeric) < 1e-6 * max(1.0, abs(numeric)), name


@pytest.mark.autodiff
@pytest.mark.parametrize("num_layers", [1, 2])
def test_lstm_hand_written_vjp_equals_autodiff_of_the_step_loop(num_layers, rng, monkeypatch):
    """LSTMCell.scan (bptt.recurrence with LSTMMath's vjp) against autodiff of the step loop."""
    # float64 where the backend computes it exactly (see the finite-difference test below).
    dtype = mx.float32 if get_backend() == "mlx" else mx.float64
    model = LSTM(3, 4, num_layers)
    model.set_dtype(dtype)
    shape = (2, 4) if num_layers == 1 else (num_layers, 2, 4)
    x, h0, c0 = (mx.array(_data(rng, *s), dtype=dtype) for s in [(2, 6, 3), shape, shape])
    w = mx.array(_data(rng, 2, 6, 4), dtype=dtype)

    def loss(params, x, h0, c0):
        model.update(params)
        y, (h, c) = model(x, (h0, c0))
        return mx.sum(y * w) + mx.sum(mx.sin(h)) + mx.sum(c * c)

    value_and_grad = mx.value_and_grad(loss, argnums=(0, 1, 2, 3))
    params = model.trainable_parameters()
    value, grads = value_and_grad(params, x, h0, c0)
    monkeypatch.setattr(LSTMCell, "scan", RecurrentCell.scan)
    expected_value, expected = value_and_grad(params, x, h0, c0)
    rtol = 1e-5 if dtype == mx.float32 else 1e-10
    assert abs(value.item() - expected_value.item()) <= rtol * (1 + abs(expected_value.item()))
    expected = utils.tree_flatten(expected)
    for (name, g), (_, e) in zip(utils.tree_flatten(grads), expected, strict=True):
        e = to_numpy(e)
        atol = rtol * (1 + np.abs(e).max())
        np.testing.assert_allclose(to_numpy(g), e, rtol=0, atol=atol, err_msg=name)


@pytest.mark.autodiff
@pytest.mark.parametrize("layer", [LSTM, GRU, RNN])
def test_training_learns_a_running_mean(layer, rng):
    """A recurrent layer plus a readout learns the mean of its inputs so far."""
    x = _data(rng, 32, 6, 1)
    target = mx.array(np.cumsum(x, axis=1) / np.arange(1, 7)[None, :, None])
    x = mx.array(x)
    mx.random.seed(1)
    rnn, readout = layer(1, 8), Dense(8, 1)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn, self.readout = rnn, readout

        def __call__(self, x):
            return self.readout(self.rnn(x)[0])

    model = Model()
    optimizer = optim.Adam(learning_rate=0.03)
    step = nn.value_and_grad(model, lambda x: mx.mean((model(x) - target) ** 2))
    first = None
    for _ in range(60):
        value, grads = step(x)
        optimizer.update(model, grads)
        mx.eval(model.parameters(), optimizer.state)
        first = value.item() if first is None else first
    assert value.item() < 0.1 * first


@pytest.mark.mlx_only
def test_compiled_sequence_equals_eager(rng):
    """The forward pass is one lazy graph (evaluating inside it would fail under compile)."""
    x = mx.array(_data(rng, 2, 5, 3))
    for model in (LSTM(3, 4, num_layers=2), GRU(3, 4), RNN(3, 4, num_layers=2)):
        eager_y, eager_state = model(x)
        compiled_y, compiled_state = mx.compile(lambda x, model=model: model(x))(x)
        np.testing.assert_allclose(to_numpy(compiled_y), to_numpy(eager_y), atol=1e-6)
        for a, b in zip(_parts(compiled_state), _parts(eager_state), strict=True):
            np.testing.assert_allclose(to_numpy(a), to_numpy(b), atol=1e-6)
        loss = nn.value_and_grad(model, lambda x, model=model: mx.sum(model(x)[0]))
        _, eager_grads = loss(x)
        _, compiled_grads = mx.compile(loss)(x)
        for (name, a), (_, b) in zip(
            utils.tree_flatten(eager_grads), utils.tree_flatten(compiled_grads), strict=True
        ):
            np.testing.assert_allclose(to_numpy(a), to_numpy(b), atol=1e-5, err_msg=name)


# --- bad input -----------------------------------------------------------------------------


def test_bad_input_names_the_argument():
    lstm, cell = LSTM(3, 4, num_layers=2), GRUCell(3, 4)
    with pytest.raises(ValueError, match=r"x: expected shape \(batch, steps, 3\).*got \(2, 5, 2\)"):
        lstm(mx.zeros((2, 5, 2)))
    with pytest.raises(ValueError, match=r"x: expected shape \(batch, steps, 3\).*got \(5, 3\)"):
        lstm(mx.zeros((5, 3)))
    with pytest.raises(ValueError, match="with batch, steps >= 1, got \\(2, 0, 3\\)"):
        lstm(mx.zeros((2, 0, 3)))
    with pytest.raises(ValueError, match=r"GRUCell: input x has shape \(2, 4\).*input_size=3"):
        cell(mx.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"GRUCell: input x must have shape \(batch, input_size"):
        cell(mx.zeros((2, 1, 3)))


def test_bad_state_names_the_shapes():
    x = mx.zeros((2, 5, 3))
    with pytest.raises(ValueError, match=r"state h has shape \(2, 4\), expected \(2, 2, 4\)"):
        LSTM(3, 4, num_layers=2)(x, (mx.zeros((2, 4)), mx.zeros((2, 4))))
    with pytest.raises(ValueError, match=r"state c has shape \(2, 5\), expected \(2, 4\)"):
        LSTM(3, 4)(x, (mx.zeros((2, 4)), mx.zeros((2, 5))))
    with pytest.raises(ValueError, match=r"LSTMCell: state must be a pair \(h, c\)"):
        LSTMCell(3, 4)(x[:, 0], mx.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"RNNCell: state h has shape \(3, 4\), expected \(2, 4\)"):
        RNNCell(3, 4)(x[:, 0], mx.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"GRU: state h has shape \(1, 2, 4\), expected \(2, 4\)"):
        GRU(3, 4)(x, mx.zeros((1, 2, 4)))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="num_layers: expected an int >= 1, got 0"):
        LSTM(3, 4, num_layers=0)
    with pytest.raises(TypeError, match="hidden_size: expected an int, got float 2.5"):
        GRU(3, 2.5)
    with pytest.raises(ValueError, match=r"RNN: dropout must be a number in \[0, 1\), got 1.0"):
        RNN(3, 4, num_layers=2, dropout=1.0)
    with pytest.raises(ValueError, match="unknown activation 'tanhh'; expected one of .*tanh"):
        RNN(3, 4, activation="tanhh")
    with pytest.raises(ValueError, match="input_size: expected an int >= 1, got 0"):
        RNNCell(0, 4)


@pytest.mark.parametrize("value", [np.nan, np.inf])
@pytest.mark.parametrize("layer", [RNN, LSTM, GRU])
def test_non_finite_input_is_an_error_on_the_eager_backends(layer, value):
    if get_backend() == "mlx":
        pytest.skip("a lazy MLX input is not evaluated to look for NaN or infinities")
    x = np.zeros((2, 3, 4), np.float32)
    x[0, 2, 1] = value
    with pytest.raises(ValueError, match=rf"x: expected finite numbers, got {value} .*\(0, 2, 1\)"):
        layer(4, 5)(mx.array(x))
