r"""The restricted Boltzmann machine: a bipartite energy model of visible and hidden units.

With visible units :math:`v`, binary hidden units :math:`h`, weights :math:`W` (``visible x
hidden``), visible bias :math:`b` and hidden bias :math:`c`, the energy is

.. math::

    E(v, h) = -b^\top v - c^\top h - v^\top W h \quad \text{(binary visible units)}

    E(v, h) = \tfrac12 \lVert v - b \rVert^2 - c^\top h - v^\top W h
    \quad \text{(Gaussian visible units, unit variance)}

and :math:`p(v, h) \propto e^{-E(v, h)}`. Summing out :math:`h` gives the free energy
:math:`p(v) \propto e^{-F(v)}`,

.. math::

    F(v) = -b^\top v - \sum_j \operatorname{softplus}(c_j + v^\top W_{:j})
    \quad \text{(binary)}, \qquad
    F(v) = \tfrac12 \lVert v - b \rVert^2 - \sum_j \operatorname{softplus}(c_j + v^\top W_{:j})
    \quad \text{(Gaussian)}.

Both layers are conditionally independent given the other:
:math:`p(h_j = 1 \mid v) = \sigma(c_j + v^\top W_{:j})`, and :math:`p(v_i = 1 \mid h) =
\sigma(b_i + W_{i:} h)` (binary) or :math:`v_i \mid h \sim N(b_i + W_{i:} h, 1)` (Gaussian).
Samples are drawn by :func:`ember_mlx.kernels.gibbs_chain` (training feeds the same chain,
:func:`ember_mlx.kernels.gibbs.gibbs_sweep`, noise drawn in bulk; see
:mod:`~ember_mlx.models.rbm.training`).
"""

from __future__ import annotations

import math
from typing import Any

from ember_mlx.backend import mx, nn
from ember_mlx.kernels import gibbs_chain
from ember_mlx.models.energy_based import Float32Module, check_samples
from ember_mlx.validation import check_bool, check_count, check_fraction, check_real, check_seed

from . import conditionals
from .training import train_rbm

VISIBLE_TYPES = ("binary", "gaussian")
# What may change between calls to train() and is saved as it stands (get_config).
TRAINING_SETTINGS = ("learning_rate", "k", "momentum", "weight_decay")

# Elements of the (samples, units, hidden) block that the exact pseudo-likelihood builds at once.
_PSEUDO_LIKELIHOOD_BLOCK = 2**22


class RBM(Float32Module):
    r"""A restricted Boltzmann machine trained by contrastive divergence (CD-k or PCD-k).

    Args:
        visible_size (int): number of visible units.
        hidden_size (int): number of (binary) hidden units.
        learning_rate (float, optional): step size :math:`\epsilon`; it may be changed between
            calls to :meth:`train`, and :meth:`get_config` (so :meth:`save`) reports the current
            value. Default: ``0.01``.
        visible_type (str, optional): ``"binary"`` (data in :math:`[0, 1]`, read as
            probabilities) or ``"gaussian"`` (unit variance; standardise the data first).
            Default: ``"binary"``.
        k (int, optional): Gibbs steps per update (CD-k / PCD-k). Default: ``1``.
        persistent (bool, optional): persistent contrastive divergence (Tieleman, 2008): the
            negative phase continues the model's :attr:`chains` instead of restarting at the
            batch. Default: ``False``.
        num_chains (int, optional): number of persistent chains ("fantasy particles") that PCD
            and :meth:`generate` run. Default: ``100``.
        momentum (float, optional): momentum :math:`\mu \in [0, 1)`. Default: ``0.5``.
        weight_decay (float, optional): L2 penalty :math:`\lambda` on the weights.
            Default: ``1e-4``.
        init_std (float, optional): standard deviation of the initial weights. Default: ``0.01``.
        seed (int, optional): seeds the initial weights, the shuffling and every Gibbs draw, so a
            model trains the same way on every backend. Default: ``0``.

    Parameters (trainable): ``weights`` ``(visible_size, hidden_size)``, ``visible_bias``,
    ``hidden_bias``. Training state (frozen arrays, saved with the weights so that training
    resumes exactly): ``velocity`` (the momentum buffers), ``chains`` ``(num_chains,
    visible_size)``, ``step`` (the Gibbs counter handed to :func:`~ember_mlx.kernels.gibbs_chain`)
    and ``epoch`` (completed epochs, which picks each epoch's shuffle). Every floating array is
    float32: :meth:`set_dtype` to another dtype raises.

    Example:
        >>> rbm = RBM(visible_size=64, hidden_size=32, learning_rate=0.05)
        >>> history = rbm.train(data, epochs=10, batch_size=32)
        >>> features = rbm.transform(data)
        >>> samples = rbm.generate(num_samples=16, k=1000)
    """

    def __init__(
        self,
        visible_size: int,
        hidden_size: int,
        learning_rate: float = 0.01,
        *,
        visible_type: str = "binary",
        k: int = 1,
        persistent: bool = False,
        num_chains: int = 100,
        momentum: float = 0.5,
        weight_decay: float = 1e-4,
        init_std: float = 0.01,
        seed: int = 0,
    ):
        super().__init__()
        self.visible_size = check_count("visible_size", visible_size)
        self.hidden_size = check_count("hidden_size", hidden_size)
        self.learning_rate = learning_rate
        if visible_type not in VISIBLE_TYPES:
            raise ValueError(f"visible_type: expected one of {VISIBLE_TYPES}, got {visible_type!r}")
        self.visible_type = visible_type
        self.k = check_count("k", k)
        self.persistent = check_bool("persistent", persistent)
        self.num_chains = check_count("num_chains", num_chains)
        self.momentum = check_fraction("momentum", momentum, include_high=False)
        self.weight_decay = check_real("weight_decay", weight_decay, at_least=0.0)
        self.seed = check_seed("seed", seed)

        shape = (self.visible_size, self.hidden_size)
        scale = check_real("init_std", init_std, at_least=0.0)
        self.weights = mx.random.normal(shape, scale=scale, key=mx.random.key(self.seed))
        self.visible_bias = mx.zeros((self.visible_size,))
        self.hidden_bias = mx.zeros((self.hidden_size,))

        self.velocity = {name: mx.zeros_like(p) for name, p in self.parameters().items()}
        # Chains start at the visible mean of an all-off hidden layer: sigma(0) or 0.
        start = 0.0 if self.gaussian else 0.5
        self.chains = mx.full((self.num_chains, self.visible_size), start)
        self.step = mx.array(0, dtype=mx.int32)
        self.epoch = mx.array(0, dtype=mx.int32)
        self.freeze(recurse=False, keys=["velocity", "chains", "step", "epoch"])

    @property
    def learning_rate(self) -> float:
        r"""The step size :math:`\epsilon` of the next updates."""
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self._learning_rate = check_real("learning_rate", value, at_least=0.0)

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, with the current values of the training settings that
        may change between calls to :meth:`train` (``learning_rate``, ``k``, ``momentum``,
        ``weight_decay``), so that a saved model resumes with them."""
        current = {name: getattr(self, name) for name in TRAINING_SETTINGS}
        return {**super().get_config(), **current}

    @property
    def gaussian(self) -> bool:
        """Whether the visible units are Gaussian."""
        return self.visible_type == "gaussian"

    def _extra_repr(self) -> str:
        return (
            f"visible_size={self.visible_size}, hidden_size={self.hidden_size}, "
            f"visible_type={self.visible_type!r}, k={self.k}, persistent={self.persistent}"
        )

    def check_data(self, data: Any, argument: str = "data", *, probabilities: bool = False) -> Any:
        """``data`` as a float32 ``(samples, visible_size)`` array, or a clear error.

        Args:
            data (array-like): the samples, one per row.
            argument (str, optional): the argument's name, for error messages.
            probabilities (bool, optional): require values in :math:`[0, 1]` when the visible
                units are binary (training data and pseudo-likelihoods, which read the values
                back anyway). Scores and features accept any finite value (an anomaly detector
                must score out-of-range inputs), checked only where the values are known
                without evaluation: they stay lazy on MLX, and compile and vmap.
        """
        array = check_samples(data, argument, self.visible_size, evaluate=probabilities)
        if probabilities and not self.gaussian:
            low, high = mx.min(array).item(), mx.max(array).item()
            if low < 0.0 or high > 1.0:
                raise ValueError(
                    f"{argument}: binary visible units take values in [0, 1], "
                    f"got values in [{low:g}, {high:g}]"
                )
        return array

    def hidden_probabilities(self, v: Any) -> Any:
        r""":math:`p(h = 1 \mid v)` of a checked ``v`` (:mod:`.conditionals`)."""
        return conditionals.hidden_probabilities(v, self.weights, self.hidden_bias)

    def visible_mean(self, h: Any) -> Any:
        r""":math:`E[v \mid h]` of a checked ``h`` (:mod:`.conditionals`)."""
        return conditionals.visible_mean(h, self.weights, self.visible_bias, self.gaussian)

    def transform(self, data: Any) -> Any:
        r"""Hidden-unit probabilities :math:`p(h = 1 \mid v)`, ``(samples, hidden_size)``."""
        return self.hidden_probabilities(self.check_data(data))

    def __call__(self, data: Any) -> Any:
        """The same as :meth:`transform`."""
        return self.transform(data)

    def reconstruct(self, data: Any) -> Any:
        r"""The mean-field reconstruction :math:`\hat v = E[v \mid h = p(h = 1 \mid v)]`."""
        return self.visible_mean(self.transform(data))

    def reconstruction_error(self, data: Any) -> Any:
        r"""Mean squared reconstruction error per sample,
        :math:`\tfrac{1}{n_v} \sum_i (v_i - \hat v_i)^2`, shape ``(samples,)``."""
        v = self.check_data(data)
        return mx.mean(mx.square(v - self.visible_mean(self.hidden_probabilities(v))), axis=1)

    def free_energy(self, data: Any) -> Any:
        """The free energy :math:`F(v)` of each sample (module docstring), shape ``(samples,)``."""
        v = self.check_data(data)
        hidden_term = mx.sum(nn.softplus(v @ self.weights + self.hidden_bias), axis=1)
        if self.gaussian:
            return 0.5 * mx.sum(mx.square(v - self.visible_bias), axis=1) - hidden_term
        return -(v @ self.visible_bias) - hidden_term

    def pseudo_likelihood(self, data: Any, seed: int | None = None) -> Any:
        r"""Log pseudo-likelihood of each sample (binary visible units).

        .. math::

            \mathrm{PL}(v) = \sum_i \log p(v_i \mid v_{-i})
            = \sum_i \log \sigma\big(F(\tilde v^{(i)}) - F(v)\big)

        where :math:`\tilde v^{(i)}` is :math:`v` with unit :math:`i` flipped.

        Args:
            data (array-like): ``(samples, visible_size)`` values in :math:`[0, 1]`.
            seed (int, optional): ``None`` sums over every unit (exact, deterministic). An int
                uses scikit-learn's estimator instead: one unit :math:`i` per sample, drawn from
                ``mx.random.key(seed)``, and :math:`n_v \log \sigma(F(\tilde v^{(i)}) - F(v))`,
                an unbiased estimate at :math:`1/n_v` of the cost.

        Returns:
            array: ``(samples,)`` log pseudo-likelihoods.
        """
        if self.gaussian:
            raise ValueError(
                "pseudo_likelihood: defined here for binary visible units only; this RBM has "
                "visible_type='gaussian' (use free_energy or reconstruction_error)"
            )
        v = self.check_data(data, probabilities=True)
        if seed is None:
            units = None
        else:
            index = mx.random.randint(
                0, self.visible_size, (v.shape[0], 1), key=mx.random.key(check_seed("seed", seed))
            )
            units = mx.astype(index, mx.int32)
        chosen = self.visible_size if units is None else 1
        rows = max(1, _PSEUDO_LIKELIHOOD_BLOCK // (chosen * self.hidden_size))
        parts = [
            self._flip_log_conditionals(
                v[i : i + rows], None if units is None else units[i : i + rows]
            )
            for i in range(0, v.shape[0], rows)
        ]
        log_conditionals = mx.concatenate(parts) if len(parts) > 1 else parts[0]
        return mx.sum(log_conditionals, axis=1) * (self.visible_size / chosen)

    def _flip_log_conditionals(self, v: Any, units: Any | None) -> Any:
        r""":math:`\log \sigma(F(\tilde v^{(i)}) - F(v))` for every unit (``units=None``) or for
        one unit per sample (``units``: ``(samples, 1)`` indices), shape ``(samples, chosen)``.

        Flipping unit :math:`i` moves it by :math:`\delta_i = 1 - 2 v_i` and the hidden
        pre-activations :math:`a = c + v W` by :math:`\delta_i W_{i:}`, so
        :math:`F(\tilde v^{(i)}) - F(v) = -b_i \delta_i - \sum_j [\operatorname{softplus}(a_j
        + \delta_i W_{ij}) - \operatorname{softplus}(a_j)]`.
        """
        pre = v @ self.weights + self.hidden_bias
        if units is None:
            values, bias, weights = v, self.visible_bias, self.weights[None]
        else:
            values = mx.take_along_axis(v, units, axis=1)
            bias = self.visible_bias[units]
            weights = self.weights[units]
        flip = 1.0 - 2.0 * values
        shifted = nn.softplus(pre[:, None, :] + flip[:, :, None] * weights)
        gap = -bias * flip - mx.sum(shifted - nn.softplus(pre)[:, None, :], axis=2)
        return -nn.softplus(-gap)

    def sample(self, v: Any, k: int) -> Any:
        r"""Run ``k`` Gibbs steps from the visible states ``v`` (advances :attr:`step`).

        Args:
            v (array-like): ``(samples, visible_size)`` starting states, checked as
                :meth:`check_data`.
            k (int): Gibbs steps, at least 1.

        Returns:
            tuple(array, array, array): the visible sample, its mean and
            :math:`p(h = 1 \mid v)` of the sample, as :func:`~ember_mlx.kernels.gibbs_chain`.
        """
        return self._sample(self.check_data(v, "v"), check_count("k", k))

    def _sample(self, v: Any, k: int) -> Any:
        """:meth:`sample` of checked arguments."""
        out = gibbs_chain(
            v,
            self.weights,
            self.visible_bias,
            self.hidden_bias,
            k,
            self.seed,
            self.step,
            gaussian_visible=self.gaussian,
        )
        self.step = self.step + k
        return out

    def generate(self, num_samples: int, k: int = 1000) -> Any:
        """Draw visible samples from the persistent :attr:`chains`.

        Each round advances all ``num_chains`` chains ``k`` Gibbs steps and keeps their states
        (so successive calls continue the chains); rounds repeat until ``num_samples`` states
        are collected, i.e. the chains are thinned every ``k`` steps.

        Args:
            num_samples (int): number of samples to return.
            k (int, optional): Gibbs steps between collected states. Default: ``1000``.

        Returns:
            array: ``(num_samples, visible_size)`` visible samples.
        """
        num_samples = check_count("num_samples", num_samples)
        k = check_count("k", k)
        collected = []
        for _ in range(math.ceil(num_samples / self.num_chains)):
            self.chains = self._sample(self.chains, k)[0]
            collected.append(self.chains)
        return mx.concatenate(collected)[:num_samples]

    def train(
        self,
        data: Any = True,
        epochs: int = 10,
        batch_size: int = 32,
        **options: Any,
    ) -> Any:
        """Train by contrastive divergence; see :func:`~ember_mlx.models.rbm.train_rbm`.

        ``rbm.train(mode)`` with a bool keeps :meth:`mlx.nn.Module.train`'s meaning (training
        or evaluation mode), so ``rbm.eval()`` works as on every module.

        Returns:
            dict: per-epoch history, metric name -> list of floats.
        """
        if isinstance(data, bool):
            return super().train(data)
        return train_rbm(self, data, epochs, batch_size, **options)

    def transform_in_chunks(self, data: Any, chunk_size: int = 1024) -> Any:
        """:meth:`transform` over a large array or an iterable of batches, one chunk at a time.

        Each chunk is evaluated before the next is read, so the graph and the temporaries stay
        the size of one chunk; only the ``(samples, hidden_size)`` result grows.

        Args:
            data (array or iterable): a ``(samples, visible_size)`` array (anything with a
                ``shape``), cut into ``chunk_size`` rows, or an iterable (a generator, a data
                loader, a list) of such arrays, read once.
            chunk_size (int, optional): rows per chunk when ``data`` is an array.
                Default: ``1024``.

        Returns:
            array: ``(samples, hidden_size)`` hidden probabilities, as ``transform(data)``.
        """
        chunk_size = check_count("chunk_size", chunk_size)
        if hasattr(data, "shape") and len(data.shape) > 0:
            # Slice before converting: a memory-mapped array is read one chunk at a time.
            chunks = (data[i : i + chunk_size] for i in range(0, data.shape[0], chunk_size))
        else:
            chunks = iter(data)
        features = []
        for chunk in chunks:
            features.append(self.transform(chunk))
            mx.eval(features[-1])
        if not features:
            raise ValueError("data: expected at least one sample, got an empty array or iterable")
        return mx.concatenate(features)


RBMModule = RestrictedBoltzmannMachine = RBM
"""The seeds' names for :class:`RBM`."""
