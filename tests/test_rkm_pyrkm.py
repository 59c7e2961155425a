"""RKM parity with pyrkm 0.1.0 (the reference implementation) where pyrkm is right.

The random numbers are injected: ember_mlx draws from a numpy generator through a recording
:class:`~ember_mlx.models.rkm.Noise`, and pyrkm's calls to ``torch.bernoulli``, ``randint``,
``randn``... replay the very same numbers in the same order (``u < p`` for a Bernoulli draw),
so both sides sample identical states and must agree to float rounding: relaxed voltages, power
at offset 0, relaxation times, gradients, SGD and Adam steps, chains, power and energy
bookkeeping. Where pyrkm is wrong (power at offset != 0, L1/L2, Adam's penalty sign) the tests
show the difference against what is right.

pyrkm needs torch; its package imports torchvision for an unrelated FID helper, which is stubbed
for the import. Install: ``pip install --no-deps pyrkm==0.1.0``.
"""

import math
import sys
import types
from collections import deque

import numpy as np
import pytest

from ember_mlx.backend import mx, to_numpy
from ember_mlx.models.rkm import RKM, Noise, contrastive_gradients, rkm_step

torch = pytest.importorskip("torch", reason="pyrkm runs on torch")


def _import_pyrkm():
    # pyrkm.utils imports torchvision.models.inception_v3 for Compute_FID only; the pinned
    # torchvision wheel is a CUDA build that does not import here, so stub it for the import
    # (and only for it: the stubs leave sys.modules afterwards, pyrkm's own modules stay).
    models = types.ModuleType("torchvision.models")
    models.inception_v3 = None
    vision = types.ModuleType("torchvision")
    vision.models = models
    stubs = {"torchvision": vision, "torchvision.models": models}
    saved = {name: sys.modules.get(name) for name in stubs}
    sys.modules.update(stubs)
    try:
        import pyrkm
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    return pyrkm


try:
    pyrkm = _import_pyrkm()
except Exception as err:  # any import failure means there is no reference to compare with
    pytest.skip(f"pyrkm does not import ({err!r})", allow_module_level=True)

VISIBLE, HIDDEN, BATCH, CHAINS = 12, 7, 6, 5


class RecordingNoise(Noise):
    """Draws from a numpy generator and records each draw for pyrkm to replay."""

    def __init__(self, seed):
        super().__init__(mx.random.key(0))
        self.rng = np.random.default_rng(seed)
        self.records = []

    def uniform(self, shape):
        values = self.rng.random(shape, dtype=np.float32)
        self.records.append(("uniform", values))
        return mx.array(values)

    def normal(self, shape):
        values = self.rng.standard_normal(shape, dtype=np.float32)
        self.records.append(("normal", values))
        return mx.array(values)


class ReplayTorch:
    """pyrkm.rkm's ``torch``, with every random draw replaced by the recorded numbers."""

    def __init__(self, records, extra_draws=False):
        self.records = deque(records)
        self.rng = np.random.default_rng(123) if extra_draws else None

    def __getattr__(self, name):
        return getattr(torch, name)

    def _pop(self, kind, shape):
        shape = tuple(shape)
        if not self.records and self.rng is not None:  # draws ember_mlx does not make
            return torch.from_numpy(self.rng.random(shape, dtype=np.float32))
        recorded_kind, values = self.records.popleft()
        assert recorded_kind == kind and values.size == math.prod(shape), (kind, shape)
        return torch.from_numpy(np.ascontiguousarray(values).reshape(shape))

    def bernoulli(self, p):
        return (self._pop("uniform", p.shape) < p).to(p.dtype)

    def randint(self, high, size, device=None, dtype=None):
        assert high == 2
        return (self._pop("uniform", size) < 0.5).to(dtype)

    def randn_like(self, x, dtype=None, device=None):
        return self._pop("normal", x.shape)

    def rand_like(self, x, dtype=None, device=None):
        return self._pop("uniform", x.shape)

    def randn(self, *size, dtype=None, device=None):
        return self._pop("normal", size)

    def rand(self, *size, dtype=None, device=None):
        return self._pop("uniform", size)


PYRKM_NAMES = {"learning_rate": "lr", "num_chains": "batch_size"}


def make_pair(seed=0, **options):
    """The same RKM in pyrkm and ember_mlx, with random mixed-sign parameters on both."""
    rng = np.random.default_rng(seed)
    mean = torch.tensor(rng.uniform(0.2, 0.8, VISIBLE), dtype=torch.float32)
    options.setdefault("num_chains", CHAINS)
    pyrkm_options = {PYRKM_NAMES.get(k, k): v for k, v in options.items() if k != "clip_bounds"}
    if "clip_bounds" in options:
        pyrkm_options["min_W"], pyrkm_options["max_W"] = options["clip_bounds"]
    reference = pyrkm.RKM(
        model_name="parity",
        n_visible=VISIBLE,
        n_hidden=HIDDEN,
        average_data=mean.clone(),
        **pyrkm_options,
    )
    reference.W = torch.tensor(rng.normal(0, 0.6, (HIDDEN, VISIBLE)), dtype=torch.float32)
    reference.W_t = reference.W.t()
    reference.v_bias = torch.tensor(rng.normal(0, 0.5, VISIBLE), dtype=torch.float32)
    reference.h_bias = torch.tensor(rng.normal(0, 0.5, HIDDEN), dtype=torch.float32)
    ours = RKM(VISIBLE, HIDDEN, average_data=mean.numpy(), **options)
    ours.update(
        {
            "weights": mx.array(reference.W.numpy().T),
            "visible_bias": mx.array(reference.v_bias.numpy()),
            "hidden_bias": mx.array(reference.h_bias.numpy()),
        }
    )
    if ours.train_algo == "PCD":
        ours.chains = mx.array(reference.persistent_chains.numpy())
    return reference, ours


def batches(count, seed=1):
    rng = np.random.default_rng(seed)
    return [(rng.random((BATCH, VISIBLE)) < 0.5).astype(np.float32) for _ in range(count)]


def train_both(reference, ours, data, tmp_path, monkeypatch):
    """One update per batch on both sides, pyrkm replaying ember_mlx's draws."""
    noise = RecordingNoise(seed=2)
    for batch in data:
        rkm_step(ours, batch, noise)
    monkeypatch.setattr(pyrkm.rkm, "torch", ReplayTorch(noise.records))
    reference.max_epochs = len(data)  # pyrkm's "epoch" counts updates
    reference.t_to_save = []  # no checkpoint pickles
    reference.train([torch.from_numpy(b) for b in data], model_state_path=f"{tmp_path}/")
    monkeypatch.undo()
    assert reference.epoch == ours.updates == len(data)


def assert_same_parameters(reference, ours, atol=1e-5):
    np.testing.assert_allclose(to_numpy(ours.weights), reference.W.numpy().T, atol=atol)
    np.testing.assert_allclose(to_numpy(ours.visible_bias), reference.v_bias.numpy(), atol=atol)
    np.testing.assert_allclose(to_numpy(ours.hidden_bias), reference.h_bias.numpy(), atol=atol)


def assert_same_bookkeeping(reference, ours):
    np.testing.assert_allclose(ours.power_f.item(), float(reference.power_f), rtol=1e-4)
    np.testing.assert_allclose(ours.power_b.item(), float(reference.power_b), rtol=1e-4)
    np.testing.assert_allclose(ours.dissipated_energy.item(), float(reference.energy), rtol=1e-4)


# ---------------------------------------------------------------------------- the circuit


@pytest.mark.parametrize("offset", [0.0, 0.3, 1.0])
def test_relaxed_voltages(offset):
    reference, ours = make_pair(offset=offset, g_v=0.7, g_h=0.3)
    # pyrkm's threshold samplers return the analog voltage as their first output.
    reference.sampling = "multi-threshold"
    v, h = batches(1)[0], (np.random.default_rng(3).random((BATCH, HIDDEN)) < 0.5)
    h = h.astype(np.float32)
    expected_h = reference.v_to_h(torch.from_numpy(v))[0].numpy()
    expected_v = reference.h_to_v(torch.from_numpy(h))[0].numpy()
    np.testing.assert_allclose(to_numpy(ours.hidden_voltages(v)), expected_h, atol=1e-6)
    np.testing.assert_allclose(to_numpy(ours.visible_voltages(h)), expected_v, atol=1e-6)


def test_power_and_relaxation_times_at_offset_zero():
    reference, ours = make_pair(g_v=0.7, g_h=0.3)
    v, h = batches(1)[0], np.random.default_rng(4).random((BATCH, HIDDEN)).astype(np.float32)
    for got, expected in [
        (ours.power_forward(v), reference.power_forward(torch.from_numpy(v))),
        (ours.power_backward(h), reference.power_backward(torch.from_numpy(h))),
        (ours.av_power_forward(v), reference.av_power_forward(torch.from_numpy(v))),
        *zip(ours.relaxation_times(), reference.relaxation_times(), strict=True),
    ]:
        np.testing.assert_allclose(to_numpy(got), expected.numpy(), rtol=1e-5, atol=1e-6)


def test_pyrkm_power_goes_negative_for_a_nonzero_offset():
    """pyrkm's closed form mis-weights the inverted lines' offset term and can go negative; ours
    is the Joule heat (checked resistor by resistor in test_rkm.py) and stays positive."""
    reference, ours = make_pair(offset=1.0)
    v = batches(1)[0]
    assert reference.power_forward(torch.from_numpy(v)).numpy().min() < 0
    assert to_numpy(ours.power_forward(v)).min() > 0


# ---------------------------------------------------------------------------- updates


@pytest.mark.parametrize(
    "options",
    [
        {"train_algo": "CD"},
        {"train_algo": "CD", "k": 3, "learning_rate": 0.1},
        {"train_algo": "PCD", "learning_rate": 0.05},
        {"train_algo": "vRDM", "learning_rate": 0.05},
        {"train_algo": "hRDM", "k": 2, "learning_rate": 0.05},
        {"train_algo": "hRDM", "k": 1, "learning_rate": 0.05},
        {"train_algo": "PCD", "sampling": "multi-threshold", "learning_rate": 0.05},
        {"train_algo": "CD", "sampling": "multi-threshold", "distribution": "uniform"},
        {"train_algo": "vRDM", "sampling": "single-threshold", "layer_scaled": False},
        {"train_algo": "CD", "sampling": "single-threshold", "distribution": "uniform"},
        {"train_algo": "PCD", "energy_type": "hopfield", "learning_rate": 0.05},
        {"train_algo": "CD", "model_beta": 2.5, "g_v": 0.8, "g_h": 0.2},
        {"train_algo": "PCD", "optimizer": "Adam", "learning_rate": 0.01},
        {"train_algo": "CD", "centering": True, "learning_rate": 0.1},
        {"train_algo": "vRDM", "centering": True, "optimizer": "Adam", "learning_rate": 0.01},
        {"train_algo": "CD", "clip_bounds": (-0.3, 0.4), "learning_rate": 0.5},
    ],
)
def test_updates_match_pyrkm(options, tmp_path, monkeypatch):
    reference, ours = make_pair(**options)
    train_both(reference, ours, batches(3), tmp_path, monkeypatch)
    assert_same_parameters(reference, ours)
    assert_same_bookkeeping(reference, ours)
    if ours.train_algo == "PCD":
        np.testing.assert_array_equal(to_numpy(ours.chains), reference.persistent_chains.numpy())
    if ours.centering:
        np.testing.assert_allclose(to_numpy(ours.visible_offset), reference.ov.numpy(), atol=1e-6)
        np.testing.assert_allclose(to_numpy(ours.hidden_offset), reference.oh.numpy(), atol=1e-6)


def test_updates_at_nonzero_offset_match_but_not_the_power(tmp_path, monkeypatch):
    reference, ours = make_pair(train_algo="CD", offset=1.0, learning_rate=0.1)
    train_both(reference, ours, batches(2), tmp_path, monkeypatch)
    assert_same_parameters(reference, ours)
    assert ours.power_f.item() > 0 and float(reference.power_f) != pytest.approx(
        ours.power_f.item(), rel=1e-3
    )


@pytest.mark.parametrize("centering", [False, True])
def test_gradients_match_pyrkm_derivatives(centering):
    reference, _ = make_pair(centering=centering)
    rng = np.random.default_rng(5)
    vd, vm = (rng.random((BATCH, VISIBLE)) < 0.5), (rng.random((CHAINS, VISIBLE)) < 0.5)
    hd, hm = (rng.random((BATCH, HIDDEN)) < 0.5), (rng.random((CHAINS, HIDDEN)) < 0.5)
    states = [torch.from_numpy(a.astype(np.float32)) for a in (vd, hd, vm, hm)]
    offsets = ()
    if centering:
        reference.ov, reference.oh = torch.rand(VISIBLE), torch.rand(HIDDEN)
        offsets = (mx.array(reference.ov.numpy()), mx.array(reference.oh.numpy()))
    data, model = reference.derivatives(*states[:2]), reference.derivatives(*states[2:])
    got = contrastive_gradients(*(mx.array(a.numpy()) for a in states), *offsets)
    expected = [(-d.mean(0) + m.mean(0)).numpy() for d, m in zip(data, model, strict=True)]
    np.testing.assert_allclose(to_numpy(got["weights"]), expected[0].T, atol=1e-6)
    if not centering:  # pyrkm applies the centred bias correction in its optimizer step
        np.testing.assert_allclose(to_numpy(got["visible_bias"]), expected[1], atol=1e-6)
        np.testing.assert_allclose(to_numpy(got["hidden_bias"]), expected[2], atol=1e-6)


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
@pytest.mark.parametrize("regularization", ["l1", "l2"])
def test_penalties_match_pyrkm_once_its_bugs_are_patched(
    optimizer, regularization, tmp_path, monkeypatch
):
    """pyrkm reads ``self.l1`` / ``self.l2``, which do not exist (AttributeError), and adds the
    penalty's gradient to the ascent direction under Adam. Giving it the attribute, and the
    opposite sign under Adam, reproduces what ember_mlx does by design."""
    factor = 0.05
    options = {
        "train_algo": "CD",
        "optimizer": optimizer,
        "learning_rate": 0.05,
        "regularization": regularization,
        f"{regularization}_factor": factor,
    }
    reference, ours = make_pair(**options)
    with pytest.raises(AttributeError):
        reference.train([torch.from_numpy(batches(1)[0])], model_state_path=f"{tmp_path}/")
    reference, ours = make_pair(**options)
    setattr(reference, regularization, factor if optimizer == "SGD" else -factor)
    train_both(reference, ours, batches(3), tmp_path, monkeypatch)
    assert_same_parameters(reference, ours)


# ---------------------------------------------------------------------------- sampling


@pytest.mark.parametrize(
    ("energy_type", "sampling"), [("RKM", "multi-threshold"), ("hopfield", "bernoulli")]
)
def test_reconstruction_and_generation_match_pyrkm(energy_type, sampling, monkeypatch):
    # pyrkm's Hopfield units are always Bernoulli (it ignores `sampling` there).
    reference, ours = make_pair(energy_type=energy_type, sampling=sampling)
    data = batches(1)[0]
    noise = RecordingNoise(seed=6)
    recon = to_numpy(ours.reconstruct(data, k=3, key=noise))
    # pyrkm samples the hidden layer once more after the last visible step, unused: extra draws.
    monkeypatch.setattr(pyrkm.rkm, "torch", ReplayTorch(noise.records, extra_draws=True))
    np.testing.assert_array_equal(recon, reference.forward(torch.from_numpy(data), 3).numpy())

    noise = RecordingNoise(seed=7)
    generated = to_numpy(ours.generate(BATCH, 2, from_visible=False, h_binarized=False, key=noise))
    monkeypatch.setattr(pyrkm.rkm, "torch", ReplayTorch(noise.records, extra_draws=True))
    expected = reference.generate(BATCH, 2, h_binarized=False, from_visible=False)
    np.testing.assert_array_equal(generated, expected)
