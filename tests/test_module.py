"""Module conventions: config round trip, Parameter, named parameters, atomic save/load."""

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from ember_mlx.backend import mx, nn, utils
from ember_mlx.checkpoint import CheckpointError, load_arrays, save_arrays
from ember_mlx.nn import Module, Parameter


class TwoLayer(Module):
    def __init__(self, sizes, *, activation="tanh", scale=1.0):
        super().__init__()
        self.layers = [nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
        self.gain = Parameter(mx.full((sizes[-1],), scale), requires_grad=False)
        self.activation = activation

    def __call__(self, x):
        for layer in self.layers[:-1]:
            x = mx.tanh(layer(x))
        return self.layers[-1](x) * self.gain


class Wrapped(TwoLayer):
    def __init__(self, width):
        super().__init__([3, width, 2], scale=0.5)


def test_get_config_records_the_outermost_constructor():
    model = TwoLayer([3, 4, 2], scale=2.0)
    assert model.get_config() == {"sizes": [3, 4, 2], "activation": "tanh", "scale": 2.0}
    assert Wrapped(5).get_config() == {"width": 5}
    json.dumps(model.get_config())


def test_from_config_builds_the_same_architecture():
    model = TwoLayer([3, 4, 2], activation="relu")
    clone = TwoLayer.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    assert [(n, tuple(p.shape)) for n, p in clone.named_parameters()] == [
        (n, tuple(p.shape)) for n, p in model.named_parameters()
    ]
    with pytest.raises(TypeError, match="config must be a dict"):
        TwoLayer.from_config([3, 4])
    with pytest.raises(TypeError, match="TwoLayer: got an unexpected keyword argument 'foo'"):
        TwoLayer([3, 4], foo=1)


def test_parameter_marks_frozen_arrays():
    model = TwoLayer([3, 4, 2], scale=3.0)
    names = [n for n, _ in model.named_parameters()]
    assert names == ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias", "gain"]
    trainable = {n for n, _ in utils.tree_flatten(model.trainable_parameters())}
    assert trainable == set(names) - {"gain"}
    np.testing.assert_allclose(np.asarray(model.gain.tolist()), [3.0, 3.0])
    model.gain = Parameter(mx.zeros((2,)))
    assert "gain" in {n for n, _ in utils.tree_flatten(model.trainable_parameters())}


def _outputs(model, x):
    out = model(x)
    mx.eval(out)
    return np.asarray(out.tolist())


def test_save_and_load_round_trip(tmp_path):
    model = TwoLayer([3, 4, 2], scale=0.5)
    x = mx.array(np.random.default_rng(1).normal(size=(5, 3)).astype(np.float32))
    path = tmp_path / "model.safetensors"
    model.save(path)
    loaded = Module.load(path)
    assert type(loaded) is TwoLayer and loaded.get_config() == model.get_config()
    np.testing.assert_allclose(_outputs(loaded, x), _outputs(model, x), rtol=1e-6)
    assert "gain" not in {n for n, _ in utils.tree_flatten(loaded.trainable_parameters())}
    with pytest.raises(CheckpointError, match="holds a .*TwoLayer, not a Wrapped"):
        Wrapped.load(path)


def test_truncated_or_foreign_files_raise_and_leave_the_model_alone(tmp_path):
    model = TwoLayer([3, 4, 2])
    path = tmp_path / "model.safetensors"
    model.save(path)
    data = path.read_bytes()
    target = TwoLayer([3, 4, 2])
    before = [np.asarray(p.tolist()) for _, p in target.named_parameters()]
    bad = tmp_path / "bad.safetensors"
    for content in (data[: len(data) // 2], data[:-4], b"not a checkpoint at all"):
        bad.write_bytes(content)
        with pytest.raises(CheckpointError, match="bad.safetensors"):
            arrays, _ = load_arrays(bad)
            target.load_arrays(arrays)
    wrong = {n: p for n, p in model.named_parameters()}
    wrong["layers.0.weight"] = mx.zeros((5, 5))
    with pytest.raises(CheckpointError, match=r"'layers.0.weight' has shape \(5, 5\)"):
        target.load_arrays(wrong)
    del wrong["layers.0.weight"]
    with pytest.raises(CheckpointError, match="missing \\['layers.0.weight'\\]"):
        target.load_arrays(wrong)
    after = [np.asarray(p.tolist()) for _, p in target.named_parameters()]
    for b, a in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(CheckpointError, match="expected a '.safetensors' file name"):
        model.save(tmp_path / "model.npz")
    bare = tmp_path / "bare.safetensors"
    save_arrays(bare, {"w": mx.ones((2,))})
    with pytest.raises(CheckpointError, match="no ember_mlx module config"):
        Module.load(bare)


def test_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    model = TwoLayer([3, 4, 2])
    path = tmp_path / "model.safetensors"
    model.save(path)
    original = path.read_bytes()

    def broken_write(file, arrays, metadata=None):
        Path(file).write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(mx, "save_safetensors", broken_write)
    with pytest.raises(OSError, match="disk full"):
        TwoLayer([3, 4, 2]).save(path)
    assert path.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]


def test_classes_show_their_constructors_signature():
    import inspect

    from ember_mlx.nn import CfC

    assert list(inspect.signature(TwoLayer).parameters) == ["sizes", "activation", "scale"]
    assert list(inspect.signature(CfC).parameters)[:2] == ["input_size", "units"]


def test_to_numpy_returns_a_copy():
    from ember_mlx.backend import to_numpy

    model = TwoLayer([3, 4, 2])
    host = to_numpy(model.layers[0].weight)
    before = host.copy()
    host[...] = 123.0
    np.testing.assert_array_equal(to_numpy(model.layers[0].weight), before)


def test_saved_files_get_the_permissions_open_gives(tmp_path):
    old = os.umask(0o022)
    try:
        path = tmp_path / "model.safetensors"
        TwoLayer([3, 4, 2]).save(path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


SAVE_AND_RUN = """
import sys
import numpy as np
from ember_mlx.backend import mx, nn
from ember_mlx.nn import Module

class Net(Module):
    def __init__(self, width):
        super().__init__()
        self.inp = nn.Linear(3, width)
        self.out = nn.Linear(width, 2)

    def __call__(self, x):
        return self.out(mx.tanh(self.inp(x)))

sys.modules["checkpoint_net"] = sys.modules[__name__]
Net.__module__ = "checkpoint_net"
x = mx.array(np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3))
if sys.argv[1] == "save":
    model = Net(6)
    model.save(sys.argv[2])
else:
    model = Module.load(sys.argv[2])
print(np.asarray(model(x).tolist()).ravel().tolist())
"""


@pytest.mark.parametrize("other", ["mlx", "torch", "numpy"])
def test_weights_move_between_backends(tmp_path, other, backend):
    """A checkpoint written under this backend loads under another with the same outputs."""
    script = tmp_path / "net.py"
    script.write_text(textwrap.dedent(SAVE_AND_RUN))
    path = str(tmp_path / "net.safetensors")

    def run(name, action):
        result = subprocess.run(
            [sys.executable, str(script), action, path],
            capture_output=True,
            text=True,
            env={**os.environ, "EMBER_BACKEND": name},
            timeout=120,
        )
        if "is not usable" in result.stderr:
            pytest.skip(f"backend {name} is not installed")
        assert result.returncode == 0, result.stderr
        return np.array(json.loads(result.stdout))

    saved = run(backend, "save")
    loaded = run(other, "load")
    np.testing.assert_allclose(loaded, saved, rtol=1e-5, atol=1e-6)
