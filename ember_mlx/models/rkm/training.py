r"""Contrastive training of an RKM: one update, and the epoch loop around it.

The update direction is the difference of data and model correlations (gradient ascent on the
log-likelihood of the Hopfield energy, which pyrkm uses for both energy types),

.. math::

    \Delta W = \frac{(V_d - o_v)^\top (H_d - o_h)}{B} - \frac{(V_m - o_v)^\top (H_m - o_h)}{C},
    \quad \Delta a = \overline{V_d} - \overline{V_m}, \quad
    \Delta b = \overline{H_d} - \overline{H_m},

with :math:`o_v = o_h = 0` unless centering, which slides the offsets towards the batch means
(rate 0.01) and corrects the biases, :math:`\Delta a \leftarrow \Delta a - \Delta W o_h`,
:math:`\Delta b \leftarrow \Delta b - o_v^\top \Delta W`. :math:`H_d` is a *sample* of the
hidden units given the batch :math:`V_d`; :math:`(V_m, H_m)` come from the negative phase:

- CD: ``k`` Gibbs steps from the batch;
- PCD: ``k`` steps from the persistent chains, which keep the result;
- vRDM: ``k`` steps from random binary visible states;
- hRDM: random binary hidden states, one step down, then ``k - 1`` full steps;
- RDM: as vRDM, but :math:`H_m` is sampled afresh from the final :math:`V_m` (pyrkm's
  ``forward`` output, where vRDM pairs :math:`V_m` with the hidden states that produced it).

The random-start schemes are the non-persistent Rdm-k of Decelle et al. (NeurIPS 2021): the
model learns to generate from noise in exactly ``k`` steps. Every pair of statistics is one
matrix product, never a ``(batch, hidden, visible)`` tensor. The optimizer (SGD or Adam from
``optim``) descends :math:`-\Delta` plus the penalty's gradient, :math:`2 \lambda_2 \theta` and
:math:`\lambda_1 \operatorname{sign}(\theta)`; then every weight and bias is clipped.

Each relaxation's Joule power is accounted as pyrkm does: ``power_f`` is the sum over the
update's forward relaxations (the positive phase and every up-step) of the batch-mean power,
``power_b`` the same for the down-steps, and ``dissipated_energy`` accumulates the sum over
samples of every relaxation's power (unit duration each).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ember_mlx.backend import mx
from ember_mlx.models.energy_based import check_finite, progress_bar
from ember_mlx.validation import check_bool, check_count

from .sampling import Noise, random_states

if TYPE_CHECKING:
    from .rkm import RKM

CENTERING_RATE = 0.01
METRICS = ("reconstruction_error", "power_forward", "power_backward", "energy")
# The trainable parameters: the optimizer holds state for these alone.
PARAMETERS = ("weights", "visible_bias", "hidden_bias")
# Random numbers drawn per generator call in training (see Noise).
_NOISE_BLOCK = 2**16


def contrastive_gradients(
    v_data: Any,
    h_data: Any,
    v_model: Any,
    h_model: Any,
    visible_offset: Any = None,
    hidden_offset: Any = None,
) -> dict[str, Any]:
    r"""The ascent direction :math:`(\Delta W, \Delta a, \Delta b)` (module docstring).

    Args:
        v_data, h_data (array): ``(B, n_v)`` and ``(B, n_h)`` states of the positive phase.
        v_model, h_model (array): ``(C, n_v)`` and ``(C, n_h)`` states of the negative phase.
        visible_offset, hidden_offset (array, optional): centering offsets :math:`o_v`,
            :math:`o_h`; both or neither.

    Returns:
        dict: ``weights`` ``(n_v, n_h)``, ``visible_bias`` and ``hidden_bias`` directions.
    """
    centered = visible_offset is not None
    if centered:
        v_data, v_model = v_data - visible_offset, v_model - visible_offset
        h_data_c, h_model_c = h_data - hidden_offset, h_model - hidden_offset
    else:
        h_data_c, h_model_c = h_data, h_model
    weights = (v_data.T @ h_data_c) / v_data.shape[0] - (v_model.T @ h_model_c) / v_model.shape[0]
    visible = mx.mean(v_data, axis=0) - mx.mean(v_model, axis=0)
    hidden = mx.mean(h_data, axis=0) - mx.mean(h_model, axis=0)
    if centered:
        # The offsets cancel in the visible difference; the bias corrections are Melchior's.
        visible = visible - weights @ hidden_offset
        hidden = hidden - visible_offset @ weights
    return {"weights": weights, "visible_bias": visible, "hidden_bias": hidden}


class _Meter:
    """The update's power bookkeeping (module docstring)."""

    def __init__(self) -> None:
        self.forward = self.backward = self.energy = 0.0

    def add(self, power: Any, forward: bool) -> None:
        if forward:
            self.forward = self.forward + mx.mean(power)
        else:
            self.backward = self.backward + mx.mean(power)
        self.energy = self.energy + mx.sum(power)


def _negative_phase(
    rkm: RKM, batch: Any, noise: Noise, circuits: tuple, meter: _Meter
) -> tuple[Any, Any]:
    forward, backward = circuits

    def up(v: Any) -> Any:
        h, power = rkm.relax_and_sample(v, forward, noise)
        meter.add(power, forward=True)
        return h

    def down(h: Any) -> Any:
        v, power = rkm.relax_and_sample(h, backward, noise)
        meter.add(power, forward=False)
        return v

    algo, steps = rkm.train_algo, rkm.k
    if algo == "hRDM":
        h = random_states(noise, (rkm.num_chains, rkm.hidden_size))
        v, steps = down(h), steps - 1
    elif algo == "CD":
        v = batch
    elif algo == "PCD":
        v = rkm.chains
    else:
        v = random_states(noise, (rkm.num_chains, rkm.visible_size))
    for _ in range(steps):
        h = up(v)
        v = down(h)
    if algo == "RDM":
        h = up(v)
    return v, h


def _penalty(rkm: RKM, parameter: Any) -> Any:
    """The gradient of the L1/L2 penalty at ``parameter`` (0 without regularisation)."""
    penalty = 0.0
    if rkm.regularization in ("l1", "l1+l2"):
        penalty = penalty + rkm.l1_factor * mx.sign(parameter)
    if rkm.regularization in ("l2", "l1+l2"):
        penalty = penalty + (2.0 * rkm.l2_factor) * parameter
    return penalty


def rkm_step(rkm: RKM, batch: Any, noise: Noise | None = None) -> None:
    """One contrastive update of ``rkm`` from one mini-batch, in place (module docstring).

    Args:
        rkm (RKM): the model.
        batch (array-like): ``(B, visible_size)`` states in [0, 1].
        noise (Noise, optional): the random numbers; by default drawn from ``rkm.key``, which
            then advances. Tests pass their own to replay another implementation's draws.
    """
    batch = rkm.check_visible(batch, "batch", evaluate=True)
    if noise is not None:
        _update(rkm, batch, noise)
        return
    noise = Noise(rkm.key)
    _update(rkm, batch, noise)
    rkm.key = noise.key


def _update(rkm: RKM, batch: Any, noise: Noise) -> None:
    """:func:`rkm_step` on a checked batch."""
    circuits = rkm.circuits()
    meter = _Meter()
    h_data, power = rkm.relax_and_sample(batch, circuits[0], noise)
    meter.add(power, forward=True)
    v_model, h_model = _negative_phase(rkm, batch, noise, circuits, meter)

    state = {}
    if rkm.centering:
        rate = CENTERING_RATE
        state["visible_offset"] = (1 - rate) * rkm.visible_offset + rate * mx.mean(batch, 0)
        state["hidden_offset"] = (1 - rate) * rkm.hidden_offset + rate * mx.mean(h_data, 0)
    direction = contrastive_gradients(batch, h_data, v_model, h_model, *state.values())

    parameters = {name: getattr(rkm, name) for name in PARAMETERS}
    descent = {name: _penalty(rkm, parameters[name]) - direction[name] for name in PARAMETERS}
    optimizer = rkm._optimizer
    optimizer.state = rkm.optimizer_state
    stepped = optimizer.apply_gradients(descent, parameters)
    low, high = rkm.clip_bounds
    state.update({name: mx.clip(stepped[name], low, high) for name in PARAMETERS})
    state["optimizer_state"] = optimizer.state
    if rkm.train_algo == "PCD":
        state["chains"] = v_model
    state["power_f"], state["power_b"] = meter.forward, meter.backward
    state["dissipated_energy"] = rkm.dissipated_energy + meter.energy
    rkm.update(state)


def _check_metrics(metrics: Any) -> tuple[str, ...]:
    if isinstance(metrics, str) or not all(isinstance(m, str) for m in metrics):
        raise TypeError(f"metrics: expected a sequence of metric names, got {metrics!r}")
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"metrics: unknown {unknown}; expected names from {METRICS}")
    return tuple(metrics)


def train_rkm(
    rkm: RKM,
    data: Any,
    epochs: int = 10,
    batch_size: int = 64,
    *,
    validation_data: Any = None,
    metrics: tuple[str, ...] = METRICS,
    shuffle: bool = True,
    progress: bool = True,
) -> dict[str, list[float]]:
    """Train ``rkm`` for ``epochs`` passes over ``data``, one :func:`rkm_step` per mini-batch.

    Each epoch splits three keys off ``rkm.key``: the visiting order, the updates' draws and
    the metrics' draws, so the metrics asked for do not change the training, and a model
    restored from a checkpoint continues exactly. The last, smaller batch is used too. An epoch
    whose parameters or metrics come out NaN or infinite raises a FloatingPointError (training
    diverged); the model keeps that epoch's values.

    Args:
        rkm (RKM): the model, trained in place.
        data (array-like): ``(samples, visible_size)`` states in [0, 1].
        epochs (int, optional): passes over the data. Default: ``10``.
        batch_size (int, optional): samples per update. Default: ``64``.
        validation_data (array-like, optional): held-out states; adds
            ``"validation_reconstruction_error"`` when ``"reconstruction_error"`` is recorded.
        metrics (sequence of str, optional): recorded after each epoch, from
            ``"reconstruction_error"`` (mean squared error of one Gibbs step from the data, as
            pyrkm prints it), ``"power_forward"`` / ``"power_backward"`` (the epoch's mean of
            ``power_f`` / ``power_b``) and ``"energy"`` (``dissipated_energy`` at the end of the
            epoch). Default: all four.
        shuffle (bool, optional): visit the samples in a random order. Default: ``True``.
        progress (bool, optional): show a tqdm progress bar when tqdm is installed.
            Default: ``True``.

    Returns:
        dict: metric name -> list of per-epoch values.
    """
    data = rkm.check_visible(data, "data", evaluate=True)
    epochs = check_count("epochs", epochs)
    batch_size = check_count("batch_size", batch_size)
    metrics = _check_metrics(metrics)
    shuffle = check_bool("shuffle", shuffle)
    progress = check_bool("progress", progress)
    validation = None
    if validation_data is not None:
        validation = rkm.check_visible(validation_data, "validation_data", evaluate=True)

    samples = data.shape[0]
    starts = range(0, samples, batch_size)
    names = list(metrics)
    if validation is not None and "reconstruction_error" in metrics:
        names.append("validation_reconstruction_error")
    history = {name: [] for name in names}
    bar = progress_bar(epochs * len(starts), progress, "RKM")
    try:
        for epoch in range(1, epochs + 1):
            rkm.key, order_key, update_key, metric_key = mx.random.split(rkm.key, 4)
            epoch_data = data[mx.random.permutation(samples, key=order_key)] if shuffle else data
            noise = Noise(update_key, block=_NOISE_BLOCK)
            power_f = power_b = 0.0
            for start in starts:
                _update(rkm, epoch_data[start : start + batch_size], noise)
                power_f, power_b = power_f + rkm.power_f, power_b + rkm.power_b
                mx.eval(rkm.parameters())
                if bar is not None:
                    bar.update()
            values = {
                "power_forward": power_f / len(starts),
                "power_backward": power_b / len(starts),
                "energy": rkm.dissipated_energy,
            }
            if "reconstruction_error" in metrics:
                error_key, validation_key = mx.random.split(metric_key)
                error = rkm.reconstruction_error(data, key=error_key)
                values["reconstruction_error"] = mx.mean(error)
                if validation is not None:
                    values["validation_reconstruction_error"] = mx.mean(
                        rkm.reconstruction_error(validation, key=validation_key)
                    )
            recorded = {name: values[name] for name in names}
            parameters = {name: getattr(rkm, name) for name in PARAMETERS}
            check_finite({**parameters, **recorded}, epoch, rkm.learning_rate)
            for name, value in recorded.items():
                history[name].append(value.item())
            if bar is not None and recorded:
                bar.set_postfix({name: value[-1] for name, value in history.items()})
    finally:
        if bar is not None:
            bar.close()
    return history
