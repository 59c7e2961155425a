"""The energy-based and reservoir models under MLX's transformations, and their frozen state.

A forward pass checks values (NaN, ranges) only where they are known without evaluation, so on
MLX it stays lazy and runs under ``mx.compile`` and ``mx.vmap``; data given as numpy is still
checked, and training data always. A blanket ``unfreeze()`` leaves frozen what a model froze
when it was built (training state, fixed weights).
"""

import numpy as np
import pytest

from ember_mlx.backend import get_backend, mx, to_numpy, utils
from ember_mlx.models import RBM, RKM, LiquidStateMachine

on_mlx = pytest.mark.skipif(get_backend() != "mlx", reason="MLX's compile and vmap")


def _visible(rng, rows=3, width=6):
    return rng.uniform(size=(rows, width)).astype(np.float32)


def _fitted_lsm():
    series = np.sin(np.arange(80) / 5)[:, None].astype(np.float32)
    return LiquidStateMachine(1, 12, 1, washout=5, seed=0).fit(series[:-1], series[1:]), series


@on_mlx
def test_forward_passes_compile_and_vmap(rng):
    v = mx.array(_visible(rng))
    rbm, rkm = RBM(6, 4), RKM(6, 4)
    # Deterministic passes (reconstructions sample).
    for forward in (rbm.free_energy, rbm.transform, rkm.hidden_voltages):
        np.testing.assert_allclose(
            to_numpy(mx.compile(forward)(v)), to_numpy(forward(v)), rtol=1e-5, atol=1e-6
        )
    stacked = mx.stack([v, v * 0.5])
    expected = mx.stack([rbm.free_energy(v), rbm.free_energy(v * 0.5)])
    np.testing.assert_allclose(
        to_numpy(mx.vmap(rbm.free_energy)(stacked)), to_numpy(expected), rtol=1e-5
    )
    lsm, series = _fitted_lsm()
    x = mx.array(series)
    np.testing.assert_allclose(to_numpy(mx.compile(lsm)(x)), to_numpy(lsm(x)), rtol=1e-5)


def test_known_values_are_still_checked(rng):
    bad = _visible(rng)
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="data: expected finite values"):
        RBM(6, 4).transform(bad)  # numpy data: its values are known
    with pytest.raises(ValueError, match="data: expected finite values"):
        RBM(6, 4).train(mx.array(bad), epochs=1, progress=False)  # training data: always
    with pytest.raises(ValueError, match="expected unit states in"):
        RKM(6, 4).train(mx.full((3, 6), 2.0), epochs=1, progress=False)
    lsm, series = _fitted_lsm()
    series[3] = np.inf
    with pytest.raises(ValueError, match="inputs: expected finite values"):
        lsm.fit(mx.array(series[:-1]), mx.array(series[1:]))


def test_unfreeze_keeps_what_the_model_froze_when_built(rng):
    rbm = RBM(6, 4, persistent=True, num_chains=2)
    rbm.freeze()
    rbm.unfreeze()
    trainable = [name for name, _ in utils.tree_flatten(rbm.trainable_parameters())]
    assert trainable == ["weights", "visible_bias", "hidden_bias"]
    rbm.unfreeze(keys=["chains"])  # named: unfrozen
    assert "chains" in dict(utils.tree_flatten(rbm.trainable_parameters()))
    lsm = LiquidStateMachine(1, 12, 1, seed=0)
    lsm.unfreeze()
    trainable = [name for name, _ in utils.tree_flatten(lsm.trainable_parameters())]
    assert trainable == ["readout_weight", "readout_bias"]
    rkm = RKM(6, 4)
    rkm.unfreeze()
    assert len(utils.tree_flatten(rkm.trainable_parameters())) == 3


def test_mlx_style_weight_loading_keeps_the_fit(tmp_path):
    lsm, series = _fitted_lsm()
    lsm.save_weights(str(tmp_path / "lsm.safetensors"))
    loaded = LiquidStateMachine(1, 12, 1, washout=5, seed=0)
    loaded.load_weights(str(tmp_path / "lsm.safetensors"))
    x = mx.array(series)
    np.testing.assert_array_equal(to_numpy(loaded(x)), to_numpy(lsm(x)))
