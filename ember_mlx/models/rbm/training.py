r"""Contrastive divergence: one update of an RBM, and the epoch loop around it.

The gradient of the mean log-likelihood is a difference of correlations under the data and under
the model,

.. math::

    \frac{\partial \log p(v)}{\partial W} = \langle v h^\top \rangle_{\text{data}}
    - \langle v h^\top \rangle_{\text{model}},

and contrastive divergence estimates the model term with ``k`` Gibbs steps
(:mod:`ember_mlx.kernels.gibbs`): from the batch itself (CD-k, Hinton 2002) or from
persistent chains that carry over between updates (PCD-k, Tieleman 2008).

**Samplers.** The Gibbs steps draw their random numbers from one of two sources:

- ``"counter"`` (the default): the counter-based generator of :func:`~ember_mlx.kernels.
  gibbs_chain`, addressed by ``(seed, chain, step, unit)``: training draws exactly the numbers of
  successive :func:`contrastive_divergence_step` calls, identical on every backend, and runs the
  fused Metal kernel where there is one.
- ``"native"``: the backend's bulk generator, ``mx.random.uniform`` / ``mx.random.normal`` under
  a key made from ``(seed, step)``: fewer integer operations per number (each Threefry block
  gives two numbers), and the numbers of MLX's own generator (the mirrors reproduce it bit for
  bit), but not those of :func:`contrastive_divergence_step`.

Off the Metal kernel both draw the noise of a block of mini-batches in one call
(:data:`BLOCK_NUMBERS` numbers), then feed :func:`~ember_mlx.kernels.gibbs.gibbs_sweep` one batch
at a time; nothing is read back to the host inside an epoch.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from ember_mlx.backend import mx
from ember_mlx.kernels.dispatch import use_metal
from ember_mlx.kernels.gibbs import counter_noise, gibbs_chain, gibbs_sweep, kernel_limits
from ember_mlx.kernels.rng import uniform
from ember_mlx.models.energy_based import check_finite, progress_bar
from ember_mlx.validation import check_bool, check_count

from .conditionals import hidden_probabilities

if TYPE_CHECKING:
    from .rbm import RBM

METRICS = ("reconstruction_error", "pseudo_likelihood", "free_energy_gap")
SAMPLERS = ("counter", "native")

BLOCK_NUMBERS = 2**17
"""Random numbers drawn per bulk call: enough to amortise the fixed cost of the generator's ~150
array ops, few enough (512 KiB) to stay in cache. A block holds at least one update's noise,
``k * rows * (visible_size + hidden_size)`` numbers; past ``32 * BLOCK_NUMBERS`` of them (long
chains) the counter sampler leaves the drawing to :func:`~ember_mlx.kernels.gibbs_chain`, which
draws a few steps at a time, while the native sampler still draws the whole update at once."""

# The shuffle of epoch e uses stream (seed, 2**32 - 1) of the counter-based generator; the Gibbs
# draws use streams (seed, chain) with chain < num_chains, so the two never share numbers.
_SHUFFLE_STREAM = 2**32 - 1


# What one update reads and writes: the parameters and the training state of an RBM.
_PARAMETERS = ("weights", "visible_bias", "hidden_bias")
_STATE = (*_PARAMETERS, "velocity", "chains", "step")


def _mean_gap(data: Any, model: Any, scale: float) -> Any:
    """``scale * (mean(data, 0) - mean(model, 0))``: three array ops instead of four when the two
    have as many rows."""
    if data.shape[0] == model.shape[0]:
        return scale * mx.mean(data - model, axis=0)
    return scale * (mx.mean(data, axis=0) - mx.mean(model, axis=0))


def _apply_gradient(
    state: dict,
    batch: Any,
    h_data: Any,
    v_model: Any,
    h_model: Any,
    *,
    persistent: bool,
    learning_rate: float,
    momentum: float,
    weight_decay: float,
) -> dict:
    """The state after the momentum step of :func:`contrastive_divergence_step`'s formulas
    (all but the Gibbs counter ``step``, which the caller advances).

    Terms with a zero coefficient (no momentum, no weight decay) cost no array op.
    """
    lr, mu, velocity, weights = learning_rate, momentum, state["velocity"], state["weights"]
    # mu * u + lr * (V_d^T P_d / B - V_m^T P_m / C - decay * W) as two fused GEMMs.
    base = mu * velocity["weights"] if mu else mx.zeros_like(weights)
    if weight_decay:
        base = base - (lr * weight_decay) * weights
    weights_step = mx.addmm(base, batch.T, h_data, alpha=lr / batch.shape[0])
    weights_step = mx.addmm(weights_step, v_model.T, h_model, alpha=-lr / v_model.shape[0])
    visible_step = _mean_gap(batch, v_model, lr)
    hidden_step = _mean_gap(h_data, h_model, lr)
    if mu:
        visible_step = visible_step + mu * velocity["visible_bias"]
        hidden_step = hidden_step + mu * velocity["hidden_bias"]
    return {
        "weights": weights + weights_step,
        "visible_bias": state["visible_bias"] + visible_step,
        "hidden_bias": state["hidden_bias"] + hidden_step,
        "velocity": {
            "weights": weights_step,
            "visible_bias": visible_step,
            "hidden_bias": hidden_step,
        },
        "chains": v_model if persistent else state["chains"],
        "step": state["step"],
    }


def _next_state(
    state: dict, batch: Any, *noise: Any, seed: int, gaussian: bool, k: int, **update: Any
) -> dict:
    """The state after one CD-k / PCD-k update on a checked batch (a pure function).

    With ``noise`` (``hidden_noise, visible_noise`` for this batch's ``k`` steps) the chain is
    :func:`gibbs_sweep`, and the caller keeps the Gibbs counter ``state["step"]``; without,
    :func:`gibbs_chain` draws the counter-based numbers at ``state["step"]`` itself (the Metal
    kernel where there is one), and the counter advances by ``k``.
    """
    weights, visible_bias, hidden_bias = (
        state["weights"],
        state["visible_bias"],
        state["hidden_bias"],
    )
    h_data = hidden_probabilities(batch, weights, hidden_bias)
    start, h_start = (state["chains"], None) if update["persistent"] else (batch, h_data)
    if noise:
        v_model, _, h_model = gibbs_sweep(
            start,
            weights,
            visible_bias,
            hidden_bias,
            *noise,
            h_prob=h_start,
            gaussian_visible=gaussian,
        )
        return _apply_gradient(state, batch, h_data, v_model, h_model, **update)
    v_model, _, h_model = gibbs_chain(
        start,
        weights,
        visible_bias,
        hidden_bias,
        k,
        seed,
        state["step"],
        gaussian_visible=gaussian,
        h_prob=h_start,
    )
    new_state = _apply_gradient(state, batch, h_data, v_model, h_model, **update)
    new_state["step"] = state["step"] + k
    return new_state


@functools.lru_cache(maxsize=16)
def _compiled_next_state(**hyperparameters: Any) -> Any:
    # The hyperparameters are constants of the trace: one compilation per distinct set (and,
    # inside mx.compile, per batch shape), shared by every RBM and every call to train.
    return mx.compile(functools.partial(_next_state, **hyperparameters))


def _update_function(rbm: RBM) -> Any:
    return _compiled_next_state(
        seed=rbm.seed,
        gaussian=rbm.gaussian,
        k=rbm.k,
        persistent=rbm.persistent,
        learning_rate=rbm.learning_rate,
        momentum=rbm.momentum,
        weight_decay=rbm.weight_decay,
    )


def _state_of(rbm: RBM) -> dict:
    return {name: getattr(rbm, name) for name in _STATE}


def contrastive_divergence_step(rbm: RBM, batch: Any) -> None:
    r"""One CD-k (or PCD-k) update of ``rbm`` from one mini-batch, in place.

    With the batch :math:`V_d` (``B`` rows), :math:`P_d = p(h = 1 \mid V_d)`, the model samples
    :math:`V_m` after ``rbm.k`` Gibbs steps (``C`` chains: the batch for CD, ``rbm.chains`` for
    PCD) and :math:`P_m = p(h = 1 \mid V_m)`:

    .. math::

        g_W = V_d^\top P_d / B - V_m^\top P_m / C - \lambda W, \quad
        g_b = \overline{V_d} - \overline{V_m}, \quad
        g_c = \overline{P_d} - \overline{P_m}

        u \leftarrow \mu u + \epsilon g, \qquad \theta \leftarrow \theta + u

    for each parameter :math:`\theta` and its momentum buffer :math:`u` (``rbm.velocity``).
    The Gibbs chain is :func:`~ember_mlx.kernels.gibbs_chain` at counter ``rbm.step``, which
    advances by ``k``; PCD keeps :math:`V_m` as the new chains.

    Args:
        rbm (RBM): the model, updated in place.
        batch (array-like): ``(samples, visible_size)`` training samples.
    """
    batch = rbm.check_data(batch, "batch", probabilities=True)
    rbm.update(_update_function(rbm)(_state_of(rbm), batch))


@functools.lru_cache(maxsize=16)
def _compiled_counter_noise(**sizes: Any) -> Any:
    return mx.compile(functools.partial(counter_noise, **sizes))


class _NoiseSource:
    """The Gibbs noise of one training run, drawn a block of mini-batches at a time.

    Args:
        rbm (RBM): the model (seed, ``k``, sizes).
        sampler (str): ``"counter"`` or ``"native"`` (module docstring).
        rows (int): chains per update: the batch size for CD, ``num_chains`` for PCD.
    """

    def __init__(self, rbm: RBM, sampler: str, rows: int):
        self.rbm, self.sampler, self.rows = rbm, sampler, rows
        numbers_per_batch = rbm.k * rows * (rbm.visible_size + rbm.hidden_size)
        self.batches_per_block = max(1, BLOCK_NUMBERS // numbers_per_batch)

    def draw(self, step: int, batches: int) -> tuple[Any, Any]:
        """The noise of ``batches`` updates from Gibbs counter ``step``:
        ``(batches * k, rows, units)`` for each layer."""
        rbm, steps, rows = self.rbm, batches * self.rbm.k, self.rows
        if self.sampler == "counter":
            draw = _compiled_counter_noise(
                steps=steps,
                chains=rows,
                n_visible=rbm.visible_size,
                n_hidden=rbm.hidden_size,
                gaussian_visible=rbm.gaussian,
            )
            return draw(mx.array(rbm.seed, dtype=mx.uint32), mx.array(step, dtype=mx.uint32))
        hidden_key, visible_key = mx.random.split(mx.random.key(rbm.seed << 32 | step))
        hidden = mx.random.uniform(shape=(steps, rows, rbm.hidden_size), key=hidden_key)
        visible = mx.random.normal if rbm.gaussian else mx.random.uniform
        return hidden, visible(shape=(steps, rows, rbm.visible_size), key=visible_key)


def _run_epoch(rbm: RBM, state: dict, data: Any, batch_size: int, noise: Any, bar: Any) -> dict:
    """One pass over ``data`` (already shuffled) in mini-batches; returns the new state.

    ``noise`` is a :class:`_NoiseSource`, or ``None`` to let each update draw its own numbers
    (in :func:`~ember_mlx.kernels.gibbs_chain`). The state is evaluated after every batch and
    read back to the host once: the Gibbs counter at the start of the epoch, to address the noise.
    """
    update, k = _update_function(rbm), rbm.k
    starts = list(range(0, data.shape[0], batch_size))
    block = len(starts) if noise is None else noise.batches_per_block
    step = None if noise is None else int(state["step"].item())
    for first in range(0, len(starts), block):
        chunk = starts[first : first + block]
        drawn = None if noise is None else noise.draw(step + first * k, len(chunk))
        for j, start in enumerate(chunk):
            batch = data[start : start + batch_size]
            if drawn is None:
                state = update(state, batch)
            else:
                hidden, visible = (x[j * k : (j + 1) * k] for x in drawn)
                if not rbm.persistent and batch.shape[0] < noise.rows:
                    hidden, visible = hidden[:, : batch.shape[0]], visible[:, : batch.shape[0]]
                state = update(state, batch, hidden, visible)
            mx.eval(state)
            if bar is not None:
                bar.update()
    if noise is not None:
        state["step"] = state["step"] + len(starts) * k
    return state


def _check_metrics(rbm: RBM, metrics: Any, validation_data: Any) -> tuple[str, ...]:
    if isinstance(metrics, str) or not all(isinstance(m, str) for m in metrics):
        raise TypeError(f"metrics: expected a sequence of metric names, got {metrics!r}")
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"metrics: unknown {unknown}; expected names from {METRICS}")
    if "free_energy_gap" in metrics and validation_data is None:
        raise ValueError("metrics: 'free_energy_gap' compares with validation_data; pass it")
    if "pseudo_likelihood" in metrics and rbm.gaussian:
        raise ValueError("metrics: 'pseudo_likelihood' needs binary visible units")
    return tuple(metrics)


def _evaluate(rbm: RBM, data: Any, validation: Any, metrics: tuple[str, ...]) -> dict:
    """The epoch's metrics on the training data, as scalar arrays."""
    values = {}
    if "reconstruction_error" in metrics:
        values["reconstruction_error"] = mx.mean(rbm.reconstruction_error(data))
    if "pseudo_likelihood" in metrics:
        # scikit-learn's one-unit estimator, seeded by the epoch: reproducible and cheap.
        seed = rbm.epoch.item()
        values["pseudo_likelihood"] = mx.mean(rbm.pseudo_likelihood(data, seed=seed))
    if "free_energy_gap" in metrics:
        gap = mx.mean(rbm.free_energy(validation)) - mx.mean(rbm.free_energy(data))
        values["free_energy_gap"] = gap
    return values


def _noise_source(rbm: RBM, sampler: Any, rows: int) -> _NoiseSource | None:
    """Where training's Gibbs noise comes from; ``None``: each update draws its own
    counter-based numbers in :func:`~ember_mlx.kernels.gibbs_chain` (the Metal kernel, or long
    chains)."""
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler: expected one of {SAMPLERS}, got {sampler!r}")
    if sampler == "native":
        return _NoiseSource(rbm, sampler, rows)
    unsupported = kernel_limits(rows, rbm.visible_size, rbm.hidden_size)
    numbers_per_update = rbm.k * rows * (rbm.visible_size + rbm.hidden_size)
    if use_metal(None, "gibbs_chain", unsupported) or numbers_per_update > 32 * BLOCK_NUMBERS:
        return None
    return _NoiseSource(rbm, sampler, rows)


def train_rbm(
    rbm: RBM,
    data: Any,
    epochs: int = 10,
    batch_size: int = 32,
    *,
    sampler: str = "counter",
    validation_data: Any = None,
    metrics: tuple[str, ...] = ("reconstruction_error",),
    shuffle: bool = True,
    progress: bool = True,
) -> dict[str, list[float]]:
    """Train ``rbm`` by contrastive divergence for ``epochs`` passes over ``data``.

    Each epoch visits the samples in an order drawn from ``rbm.seed`` and the epoch counter (so
    training resumed from a checkpoint continues exactly), in mini-batches of ``batch_size``;
    the last, smaller batch is used too. Each batch is one update of
    :func:`contrastive_divergence_step`'s formulas (compiled on MLX, evaluated once per batch;
    the host reads the Gibbs counter once per epoch and nothing inside it). The model is written
    back after each epoch: an interrupted run leaves it at the last completed epoch. An epoch
    whose parameters or metrics come out NaN or infinite raises a FloatingPointError (training
    diverged: lower the learning rate); non-finite parameters are not written back.

    Args:
        rbm (RBM): the model, trained in place.
        data (array-like): ``(samples, visible_size)`` training data; values in :math:`[0, 1]`
            for binary visible units.
        epochs (int, optional): passes over the data. Default: ``10``.
        batch_size (int, optional): samples per update. Default: ``32``.
        sampler (str, optional): the Gibbs chain's random numbers, ``"counter"`` (those of
            :func:`contrastive_divergence_step`, on every backend and the Metal kernel) or
            ``"native"`` (the backend's bulk generator, cheaper off Metal); see the module
            docstring. Default: ``"counter"``.
        validation_data (array-like, optional): held-out samples for ``"free_energy_gap"``.
        metrics (sequence of str, optional): what to record after each epoch, from
            ``"reconstruction_error"`` (mean squared error of the mean-field reconstruction),
            ``"pseudo_likelihood"`` (mean log pseudo-likelihood, scikit-learn's one-unit
            estimator seeded by the epoch) and ``"free_energy_gap"`` (mean :math:`F` of the
            validation data minus that of the training data; growth signals overfitting).
            Default: ``("reconstruction_error",)``.
        shuffle (bool, optional): visit the samples in a seeded random order. Default: ``True``.
        progress (bool, optional): show a tqdm progress bar when tqdm is installed.
            Default: ``True``.

    Returns:
        dict: metric name -> list of per-epoch values.
    """
    data = rbm.check_data(data, probabilities=True)
    epochs = check_count("epochs", epochs)
    batch_size = check_count("batch_size", batch_size)
    shuffle = check_bool("shuffle", shuffle)
    progress = check_bool("progress", progress)
    metrics = _check_metrics(rbm, metrics, validation_data)
    validation = None
    if validation_data is not None:
        validation = rbm.check_data(validation_data, "validation_data", probabilities=True)

    samples = data.shape[0]
    rows = rbm.num_chains if rbm.persistent else min(batch_size, samples)
    noise = _noise_source(rbm, sampler, rows)
    sample_ids = mx.astype(mx.arange(samples), mx.uint32)
    history = {name: [] for name in metrics}
    bar = progress_bar(epochs * -(-samples // batch_size), progress, "RBM")
    try:
        for _ in range(epochs):
            epoch_data = data
            if shuffle:
                epoch_data = data[
                    mx.argsort(uniform(rbm.seed, _SHUFFLE_STREAM, rbm.epoch, sample_ids))
                ]
            state = _run_epoch(rbm, _state_of(rbm), epoch_data, batch_size, noise, bar)
            epoch = rbm.epoch.item() + 1
            check_finite({name: state[name] for name in _PARAMETERS}, epoch, rbm.learning_rate)
            rbm.update(state)
            rbm.epoch = rbm.epoch + 1
            values = _evaluate(rbm, data, validation, metrics)
            if values:
                check_finite(values, epoch, rbm.learning_rate)
            values = {name: value.item() for name, value in values.items()}
            for name, value in values.items():
                history[name].append(value)
            if bar is not None and values:
                bar.set_postfix(values)
    finally:
        if bar is not None:
            bar.close()
    return history
