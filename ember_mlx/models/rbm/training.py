r"""Contrastive divergence: one update of an RBM, and the epoch loop around it.

The gradient of the mean log-likelihood is a difference of correlations under the data and under
the model,

.. math::

    \frac{\partial \log p(v)}{\partial W} = \langle v h^\top \rangle_{\text{data}}
    - \langle v h^\top \rangle_{\text{model}},

and contrastive divergence estimates the model term with ``k`` Gibbs steps
(:func:`ember_mlx.kernels.gibbs_chain`): from the batch itself (CD-k, Hinton 2002) or from
persistent chains that carry over between updates (PCD-k, Tieleman 2008).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from ember_mlx.backend import mx
from ember_mlx.kernels import gibbs_chain
from ember_mlx.kernels.rng import uniform
from ember_mlx.nn.neuron_maps.base import check_count

from .conditionals import hidden_probabilities

if TYPE_CHECKING:
    from .rbm import RBM

METRICS = ("reconstruction_error", "pseudo_likelihood", "free_energy_gap")

# The shuffle of epoch e uses stream (seed, 2**32 - 1) of the counter-based generator; the Gibbs
# draws use streams (seed, chain) with chain < num_chains, so the two never share numbers.
_SHUFFLE_STREAM = 2**32 - 1


# What one update reads and writes: the parameters and the training state of an RBM.
_STATE = ("weights", "visible_bias", "hidden_bias", "velocity", "chains", "step")


def _next_state(
    state: dict,
    batch: Any,
    *,
    seed: int,
    k: int,
    persistent: bool,
    gaussian: bool,
    learning_rate: float,
    momentum: float,
    weight_decay: float,
) -> dict:
    """The state after one CD-k / PCD-k update on a checked batch (a pure function)."""
    weights, visible_bias, hidden_bias = (
        state["weights"],
        state["visible_bias"],
        state["hidden_bias"],
    )
    h_data = hidden_probabilities(batch, weights, hidden_bias)
    v_model, _, h_model = gibbs_chain(
        state["chains"] if persistent else batch,
        weights,
        visible_bias,
        hidden_bias,
        k,
        seed,
        state["step"],
        gaussian_visible=gaussian,
    )
    lr, mu, velocity = learning_rate, momentum, state["velocity"]
    # mu * u + lr * (V_d^T P_d / B - V_m^T P_m / C - decay * W) as two fused GEMMs.
    decayed = mu * velocity["weights"] - (lr * weight_decay) * weights
    weights_step = mx.addmm(decayed, batch.T, h_data, alpha=lr / batch.shape[0])
    weights_step = mx.addmm(weights_step, v_model.T, h_model, alpha=-lr / v_model.shape[0])
    visible_gradient = mx.mean(batch, axis=0) - mx.mean(v_model, axis=0)
    hidden_gradient = mx.mean(h_data, axis=0) - mx.mean(h_model, axis=0)
    visible_step = mu * velocity["visible_bias"] + lr * visible_gradient
    hidden_step = mu * velocity["hidden_bias"] + lr * hidden_gradient
    return {
        "weights": weights + weights_step,
        "visible_bias": visible_bias + visible_step,
        "hidden_bias": hidden_bias + hidden_step,
        "velocity": {
            "weights": weights_step,
            "visible_bias": visible_step,
            "hidden_bias": hidden_step,
        },
        "chains": v_model if persistent else state["chains"],
        "step": state["step"] + k,
    }


@functools.lru_cache(maxsize=16)
def _compiled_next_state(**hyperparameters: Any) -> Any:
    # The hyperparameters are constants of the trace: one compilation per distinct set (and,
    # inside mx.compile, per batch shape), shared by every RBM and every call to train.
    return mx.compile(functools.partial(_next_state, **hyperparameters))


def _apply_update(rbm: RBM, batch: Any) -> None:
    update = _compiled_next_state(
        seed=rbm.seed,
        k=rbm.k,
        persistent=rbm.persistent,
        gaussian=rbm.gaussian,
        learning_rate=rbm.learning_rate,
        momentum=rbm.momentum,
        weight_decay=rbm.weight_decay,
    )
    rbm.update(update({name: getattr(rbm, name) for name in _STATE}, batch))


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
    The Gibbs counter ``rbm.step`` advances by ``k``; PCD keeps :math:`V_m` as the new chains.

    Args:
        rbm (RBM): the model, updated in place.
        batch (array-like): ``(samples, visible_size)`` training samples.
    """
    _apply_update(rbm, rbm.check_data(batch, "batch", probabilities=True))


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
    """The epoch's metrics on the training data (host floats: one sync per metric)."""
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
    return {name: value.item() for name, value in values.items()}


def _progress_bar(total: int, enabled: bool) -> Any:
    """A tqdm bar over ``total`` batches when asked for and tqdm is installed, else ``None``."""
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="batch", desc="RBM")


def train_rbm(
    rbm: RBM,
    data: Any,
    epochs: int = 10,
    batch_size: int = 32,
    *,
    validation_data: Any = None,
    metrics: tuple[str, ...] = ("reconstruction_error",),
    shuffle: bool = True,
    progress: bool = True,
) -> dict[str, list[float]]:
    """Train ``rbm`` by contrastive divergence for ``epochs`` passes over ``data``.

    Each epoch visits the samples in an order drawn from ``rbm.seed`` and the epoch counter (so
    training resumed from a checkpoint continues exactly), in mini-batches of ``batch_size``;
    the last, smaller batch is used too. Each batch is one :func:`contrastive_divergence_step`
    (compiled on MLX, evaluated once per batch; no host synchronisation inside an epoch).

    Args:
        rbm (RBM): the model, trained in place.
        data (array-like): ``(samples, visible_size)`` training data; values in :math:`[0, 1]`
            for binary visible units.
        epochs (int, optional): passes over the data. Default: ``10``.
        batch_size (int, optional): samples per update. Default: ``32``.
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
    metrics = _check_metrics(rbm, metrics, validation_data)
    validation = None
    if validation_data is not None:
        validation = rbm.check_data(validation_data, "validation_data", probabilities=True)

    samples = data.shape[0]
    starts = range(0, samples, batch_size)
    sample_ids = mx.astype(mx.arange(samples), mx.uint32)
    history = {name: [] for name in metrics}
    bar = _progress_bar(epochs * len(starts), progress)
    try:
        for _ in range(epochs):
            epoch_data = data
            if shuffle:
                epoch_data = data[
                    mx.argsort(uniform(rbm.seed, _SHUFFLE_STREAM, rbm.epoch, sample_ids))
                ]
            for start in starts:
                _apply_update(rbm, epoch_data[start : start + batch_size])
                mx.eval(rbm.state)
                if bar is not None:
                    bar.update()
            rbm.epoch = rbm.epoch + 1
            values = _evaluate(rbm, data, validation, metrics)
            for name, value in values.items():
                history[name].append(value)
            if bar is not None and values:
                bar.set_postfix(values)
    finally:
        if bar is not None:
            bar.close()
    return history
