"""What every recurrent model does alike, on every backend.

Dtypes: in half precision (``set_dtype``) outputs and gradients keep the dtype (no float32 mask or
constant promotes them, nor breaks torch's matmuls), the outputs stay within half-precision error
of the float32 model's, and a saved model loads in its dtype; inputs and states of another dtype
are cast to the model's. Copies: a model deep-copies and pickles (training loops snapshot models).
"""

import copy
import pickle

import numpy as np
import pytest

from ember_mlx.backend import get_backend, mx, nn, to_numpy, utils
from ember_mlx.nn import AutoNCPMap
from ember_mlx.nn.rnn.cfc import CfC
from ember_mlx.nn.rnn.gru import GRU
from ember_mlx.nn.rnn.lstm import LSTM
from ember_mlx.nn.rnn.ltc import LTC
from ember_mlx.nn.rnn.ncp import AutoNCP
from ember_mlx.nn.rnn.stride_aware import StrideAwareCfC

MODELS = {
    "CfC": lambda: CfC(3, 4, backbone_units=5),
    "CfC, mixed memory": lambda: CfC(3, 4, backbone_units=5, mixed_memory=True),
    "wired CfC": lambda: CfC(3, AutoNCPMap(8, 2)),
    "LTC": lambda: LTC(3, AutoNCPMap(8, 2)),
    "LSTM": lambda: LSTM(3, 4),
    "GRU": lambda: GRU(3, 4),
    "StrideAwareCfC": lambda: StrideAwareCfC(3, 4, stride_lengths=[1, 2], backbone_units=5),
    "StrideAwareCfC, wired": lambda: StrideAwareCfC(3, AutoNCPMap(8, 2), stride_lengths=[1, 2]),
    "AutoNCP": lambda: AutoNCP(8, 2, input_size=3),
}

# Half the float32 output's error budget per dtype: 11 and 8 bits of mantissa.
DTYPES = {"float16": 1e-2, "bfloat16": 6e-2}


def _run(model, x, ts):
    """The model's outputs; sequence layers also get per-step elapsed times."""
    if isinstance(model, AutoNCP):
        return model(x[:, 0])
    return model(x, timespans=ts)[0] if not isinstance(model, (LSTM, GRU)) else model(x)[0]


@pytest.mark.parametrize("dtype_name", list(DTYPES))
@pytest.mark.parametrize("name", list(MODELS))
def test_half_precision_keeps_the_dtype(name, dtype_name, rng):
    if dtype_name == "bfloat16" and get_backend() == "numpy":
        pytest.skip("numpy has no bfloat16")
    dtype = getattr(mx, dtype_name)
    model = MODELS[name]()
    reference = MODELS[name]()
    reference.update(model.parameters())
    model.set_dtype(dtype)
    x32 = mx.array(rng.normal(size=(2, 5, 3)).astype(np.float32))
    ts32 = mx.array(rng.uniform(0.5, 1.5, size=(2, 5)).astype(np.float32))
    x, ts = mx.astype(x32, dtype), mx.astype(ts32, dtype)
    y = _run(model, x, ts)
    assert y.dtype == dtype
    expected = to_numpy(_run(reference, x32, ts32))
    np.testing.assert_allclose(
        to_numpy(mx.astype(y, mx.float32)), expected, rtol=0, atol=DTYPES[dtype_name]
    )
    if get_backend() == "numpy":
        return
    loss = lambda x: mx.sum(mx.astype(_run(model, x, ts), mx.float32) ** 2)  # noqa: E731
    value, grads = nn.value_and_grad(model, loss)(x)
    assert np.isfinite(value.item())
    assert {g.dtype for _, g in utils.tree_flatten(grads)} == {dtype}


@pytest.mark.parametrize("dtype_name", list(DTYPES))
@pytest.mark.parametrize("name", ["CfC", "wired CfC", "LTC", "StrideAwareCfC, wired"])
def test_save_and_load_keep_half_precision(name, dtype_name, tmp_path):
    if dtype_name == "bfloat16" and get_backend() == "numpy":
        pytest.skip("numpy has no bfloat16")
    dtype = getattr(mx, dtype_name)
    model = MODELS[name]()
    model.set_dtype(dtype)
    model.save(tmp_path / "model.safetensors")
    loaded = type(model).load(tmp_path / "model.safetensors")
    saved = dict(utils.tree_flatten(model.parameters()))
    for key, value in utils.tree_flatten(loaded.parameters()):
        assert value.dtype == dtype, key
        np.testing.assert_array_equal(to_numpy(value), to_numpy(saved[key]), err_msg=key)


INPUT_DTYPES = ["int32", "bool", "float16", "float64"]


@pytest.mark.parametrize("input_dtype", INPUT_DTYPES)
@pytest.mark.parametrize("name", list(MODELS))
def test_inputs_of_another_dtype_are_cast_to_the_model_dtype(name, input_dtype, rng):
    """MLX alone would promote mixed operands; torch's matmuls refuse them and numpy's operators
    widen integers to float64. The model computes in its own dtype instead, on every backend."""
    model = MODELS[name]()
    values = rng.normal(size=(2, 5, 3)) * 2
    if input_dtype == "bool":
        values = values > 0
    x = mx.array(values.astype(input_dtype))
    x32 = mx.array(to_numpy(x).astype(np.float32))
    # Elapsed times in the input's dtype where that is a float, as a caller would pass them.
    ts_dtype = input_dtype if input_dtype.startswith("float") else "float32"
    ts = mx.array(rng.uniform(0.5, 1.5, size=(2, 5)).astype(ts_dtype))
    y = _run(model, x, ts)
    assert y.dtype == mx.float32
    expected = _run(model, x32, mx.array(to_numpy(ts).astype(np.float32)))
    np.testing.assert_allclose(to_numpy(y), to_numpy(expected), rtol=0, atol=1e-6)


@pytest.mark.parametrize("copy_of", [copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))])
@pytest.mark.parametrize("name", list(MODELS))
def test_models_deep_copy_and_pickle(name, copy_of, rng):
    """An LTC used to keep MLX ``custom_function`` objects, which neither copy nor pickle."""
    model = MODELS[name]()
    x = mx.array(rng.normal(size=(2, 5, 3)).astype(np.float32))
    ts = mx.array(rng.uniform(0.5, 1.5, size=(2, 5)).astype(np.float32))
    copied = copy_of(model)
    np.testing.assert_array_equal(to_numpy(_run(copied, x, ts)), to_numpy(_run(model, x, ts)))


@pytest.mark.parametrize("name", list(MODELS))
def test_numpy_inputs_and_states_are_taken_on_every_backend(name, rng):
    model = MODELS[name]()
    x = rng.normal(size=(2, 5, 3)).astype(np.float32)
    if isinstance(model, AutoNCP):
        expected = model(mx.array(x[:, 0]))
        np.testing.assert_array_equal(to_numpy(model(x[:, 0])), to_numpy(expected))
        return
    expected = model(mx.array(x))
    given = model(x)
    np.testing.assert_array_equal(to_numpy(given[0]), to_numpy(expected[0]))


@pytest.mark.parametrize("name", [n for n in MODELS if n != "AutoNCP"])
def test_empty_batches_and_bad_timespans_are_named(name):
    model = MODELS[name]()
    with pytest.raises(ValueError, match=r"x: expected shape .* with batch, steps >= 1"):
        model(mx.zeros((0, 4, 3)))
    if isinstance(model, (LSTM, GRU)):
        return
    x = mx.zeros((2, 4, 3))
    with pytest.raises(TypeError, match="timespans: expected numbers, got bool"):
        model(x, timespans=True)
    with pytest.raises(TypeError, match="timespans: expected numbers, got <U1"):
        model(x, timespans="1")
    with pytest.raises(ValueError, match="timespans: must be finite numbers"):
        model(x, timespans=float("inf"))


@pytest.mark.parametrize("name", [n for n in MODELS if n not in ("LSTM", "GRU", "AutoNCP")])
def test_cells_name_bad_steps_and_states(name):
    cell = MODELS[name]().rnn_cell
    for bad in ([[0.0, 0.0, 0.0]], None, mx.zeros((0, 3))):
        with pytest.raises(ValueError, match=r"x: expected shape \(batch, 3\) with batch >= 1"):
            cell(bad)
    h = mx.zeros((2, cell.state_size))
    if "memory" not in cell:
        with pytest.raises(ValueError, match="state"):
            cell(mx.zeros((2, 3)), (h, h))


def test_mixed_memory_cell_wants_a_pair_of_states():
    from ember_mlx.nn.rnn import MixedMemoryCell

    cell = MixedMemoryCell(3, 4)
    with pytest.raises(ValueError, match=r"state: expected a pair \(h, c\)"):
        cell(mx.zeros((2, 3)), mx.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"state\[1\]: expected shape \(2, 4\)"):
        cell(mx.zeros((2, 3)), (mx.zeros((2, 4)), mx.zeros((3, 4))))


def test_a_wired_cfc_has_no_backbone_activation():
    with pytest.raises(ValueError, match="activation: a wired CfC"):
        CfC(3, AutoNCPMap(8, 2), activation="relu")
