r"""The Restricted Kirchhoff Machine: an RBM-shaped model built as a resistor circuit.

Every weight is a conductance :math:`|W_{ij}|` between hidden node :math:`j` and visible line
:math:`i` or, for a negative weight, the line's inverted copy; every bias is a conductance to a
voltage source (:mod:`.circuit`). Clamping one layer, the other relaxes to the
conductance-weighted mean of its sources,

.. math::

    \tilde h_j = \frac{\sum_i W_{ij} v_i + b_j + \frac{o}{2} \big(\sum_i (|W_{ij}| - W_{ij})
        + (|b_j| - b_j) / g_h\big)}{\sum_i |W_{ij}| + |b_j| / g_h},

and a noisy comparator turns the voltage into a binary state (:mod:`.sampling`):
:math:`p(h_j = 1 \mid v) = \sigma(\beta n_v \tilde h_j)` for Bernoulli units of a layer-scaled
machine. The visible layer mirrors this with :math:`W^\top`, the visible bias and :math:`g_v`.
With ``energy_type="hopfield"`` the units follow the RBM's field instead,
:math:`p(h_j = 1 \mid v) = \sigma(\beta (v W + b)_j)`, while the power is still the circuit's.

Training is contrastive (:mod:`.training`): the data statistics minus the model statistics of
CD, PCD or the random-start schemes vRDM, hRDM and RDM, applied by SGD or Adam. This follows
pyrkm (Kirchhoff-Machines/pyrkm 0.1.0, arXiv 2509.15842) and corrects it where it is wrong: the
power is the circuit's Joule heat for every offset, L1/L2 penalties apply (and with the right
sign under Adam), RDM runs, an epoch is one pass over the data, and bad input raises.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ember_mlx.backend import mx, optim
from ember_mlx.models.energy_based import Float32Module, check_samples
from ember_mlx.validation import check_bool, check_count, check_real, check_seed, values_known

from .circuit import ResistorLayer
from .sampling import DISTRIBUTIONS, SAMPLINGS, Noise, on_probability, random_states, sample_states
from .training import PARAMETERS, train_rkm

ENERGY_TYPES = ("RKM", "hopfield")
TRAIN_ALGOS = ("CD", "PCD", "vRDM", "hRDM", "RDM")
OPTIMIZERS = ("SGD", "Adam")
REGULARIZATIONS = (None, "l1", "l2", "l1+l2")

# Adam as in pyrkm: bias-corrected moments with these constants.
_ADAM_BETAS = (0.9, 0.999)
_ADAM_EPS = 1e-8

# Training state kept beside the parameters: saved with them, never trained by gradients.
_STATE = (
    "chains",
    "visible_offset",
    "hidden_offset",
    "optimizer_state",
    "key",
    "power_f",
    "power_b",
    "dissipated_energy",
)


def _check_choice(name: str, value: Any, choices: Sequence[Any]) -> Any:
    if value not in choices:
        raise ValueError(f"{name}: expected one of {tuple(choices)}, got {value!r}")
    return value


def _check_beta(name: str, value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == math.inf:
        return math.inf
    return check_real(name, value, above=0.0)


def _check_states(x: Any, argument: str, width: int, evaluate: bool = False) -> Any:
    """``x`` as a float32 ``(samples, width)`` array of values in [0, 1], or a clear error
    (values checked as :func:`~ember_mlx.models.energy_based.check_samples` does)."""
    array = check_samples(x, argument, width, evaluate=evaluate)
    if not (evaluate or values_known(x)):
        return array
    low, high = mx.min(array).item(), mx.max(array).item()
    if low < 0.0 or high > 1.0:
        raise ValueError(
            f"{argument}: expected unit states in [0, 1], got values in [{low:g}, {high:g}]"
        )
    return array


class RKM(Float32Module):
    r"""A Restricted Kirchhoff Machine with pyrkm's semantics (module docstring).

    Args:
        visible_size (int): number of visible units :math:`n_v`.
        hidden_size (int): number of hidden units :math:`n_h`.
        learning_rate (float, optional): step size; it may be changed between updates (it is
            the optimizer's), and :meth:`get_config` (so :meth:`save`) reports the current
            value. Default: ``1e-3``.
        k (int, optional): Gibbs steps of the negative phase. Default: ``1``.
        train_algo (str, optional): the negative phase (:func:`~.training.rkm_step`):
            ``"CD"``, ``"PCD"``, ``"vRDM"`` (random visible start, pyrkm's default), ``"hRDM"``
            (random hidden start) or ``"RDM"``. Default: ``"vRDM"``.
        energy_type (str, optional): ``"RKM"`` (circuit units) or ``"hopfield"`` (RBM units).
            Default: ``"RKM"``.
        sampling (str, optional): ``"bernoulli"``, ``"multi-threshold"`` or
            ``"single-threshold"`` (:mod:`.sampling`). Default: ``"bernoulli"``.
        distribution (str, optional): threshold noise, ``"gaussian"`` or ``"uniform"``.
            Default: ``"gaussian"``.
        layer_scaled (bool, optional): scale an RKM unit's voltage by its fan-in before
            sampling, which turns the averaged voltage back into a field. Default: ``True``.
        offset (float, optional): the inverters' offset :math:`o` (:mod:`.circuit`).
            Default: ``0``.
        g_v, g_h (float, optional): voltages of the visible and hidden bias sources.
            Default: ``0.5``.
        model_beta (float, optional): inverse temperature :math:`\beta`. Default: ``1``.
        optimizer (str, optional): ``"SGD"`` or ``"Adam"`` (bias-corrected, betas
            ``(0.9, 0.999)``, eps ``1e-8``). Default: ``"SGD"``.
        regularization (str, optional): ``None``, ``"l1"``, ``"l2"`` or ``"l1+l2"``: the
            penalty :math:`\lambda_1 \lVert\theta\rVert_1 + \lambda_2 \lVert\theta\rVert_2^2` on
            the weights and both biases. Default: ``None``.
        l1_factor, l2_factor (float, optional): :math:`\lambda_1`, :math:`\lambda_2`.
            Default: ``0`` and ``1e-3``.
        centering (bool, optional): centred gradients with sliding offsets (needs
            ``average_data``). Default: ``False``.
        average_data (array-like, optional): ``(visible_size,)`` mean of the data: the initial
            visible bias and visible offset. Default: ``None`` (visible bias drawn from
            :math:`N(0, 1)`).
        num_chains (int, optional): rows of the persistent (PCD) and random-start (vRDM, hRDM,
            RDM) chains; pyrkm's ``batch_size``. CD uses the data batch. Default: ``64``.
        clip_bounds (tuple(float, float), optional): every weight and bias is clipped into this
            interval after each update; pyrkm's ``(min_W, max_W)``. Default: ``(-10, 10)``.
        seed (int, optional): seeds the initial parameters and :attr:`key`, from which every
            random draw of training, reconstruction and generation is split; in
            :math:`[0, 2^{32})`. Default: ``0``.

    Parameters (trainable): ``weights`` ``(visible_size, hidden_size)`` (pyrkm's ``W.T``),
    ``visible_bias``, ``hidden_bias``. Training state (frozen, saved with the weights, so
    training resumes exactly): ``key``, ``optimizer_state``, ``chains`` (PCD),
    ``visible_offset`` / ``hidden_offset`` (centering), and the last update's ``power_f`` /
    ``power_b`` with the accumulated ``dissipated_energy``. Every floating array is float32:
    :meth:`set_dtype` to another dtype raises. A pickled RKM carries :attr:`key` as a numpy
    array (torch cannot unpickle ``uint32`` tensors) and rebuilds its optimizer.

    Example:
        >>> rkm = RKM(64, 64, 0.01, train_algo="PCD", num_chains=50, average_data=mean)
        >>> history = rkm.train(data, epochs=50, batch_size=50)
        >>> rkm.reconstruction_error(test)
    """

    def __init__(
        self,
        visible_size: int,
        hidden_size: int,
        learning_rate: float = 1e-3,
        *,
        k: int = 1,
        train_algo: str = "vRDM",
        energy_type: str = "RKM",
        sampling: str = "bernoulli",
        distribution: str = "gaussian",
        layer_scaled: bool = True,
        offset: float = 0.0,
        g_v: float = 0.5,
        g_h: float = 0.5,
        model_beta: float = 1.0,
        optimizer: str = "SGD",
        regularization: str | None = None,
        l1_factor: float = 0.0,
        l2_factor: float = 1e-3,
        centering: bool = False,
        average_data: Any = None,
        num_chains: int = 64,
        clip_bounds: Sequence[float] = (-10.0, 10.0),
        seed: int = 0,
    ):
        super().__init__()
        self.visible_size = check_count("visible_size", visible_size)
        self.hidden_size = check_count("hidden_size", hidden_size)
        learning_rate = check_real("learning_rate", learning_rate, at_least=0.0)
        self.k = check_count("k", k)
        self.train_algo = _check_choice("train_algo", train_algo, TRAIN_ALGOS)
        self.energy_type = _check_choice("energy_type", energy_type, ENERGY_TYPES)
        self.sampling = _check_choice("sampling", sampling, SAMPLINGS)
        self.distribution = _check_choice("distribution", distribution, DISTRIBUTIONS)
        self.layer_scaled = check_bool("layer_scaled", layer_scaled)
        self.offset = check_real("offset", offset)
        self.g_v = check_real("g_v", g_v, above=0.0)
        self.g_h = check_real("g_h", g_h, above=0.0)
        self.model_beta = _check_beta("model_beta", model_beta)
        self.optimizer = _check_choice("optimizer", optimizer, OPTIMIZERS)
        self.regularization = _check_choice("regularization", regularization, REGULARIZATIONS)
        self.l1_factor = check_real("l1_factor", l1_factor, at_least=0.0)
        self.l2_factor = check_real("l2_factor", l2_factor, at_least=0.0)
        self.centering = check_bool("centering", centering)
        self.num_chains = check_count("num_chains", num_chains)
        self.clip_bounds = self._check_clip_bounds(clip_bounds)
        seed = check_seed("seed", seed)
        mean = self._check_average_data(average_data)

        weights_key, bias_key, chains_key, self.key = mx.random.split(mx.random.key(seed), 4)
        scale = 0.1 / math.sqrt(self.visible_size)
        self.weights = scale * mx.random.normal(
            (self.visible_size, self.hidden_size), key=weights_key
        )
        self.visible_bias = (
            mean if mean is not None else mx.random.normal((self.visible_size,), key=bias_key)
        )
        self.hidden_bias = mx.zeros((self.hidden_size,))
        low, high = self.clip_bounds
        for name in ("weights", "visible_bias", "hidden_bias"):
            setattr(self, name, mx.clip(getattr(self, name), low, high))

        if self.train_algo == "PCD":
            self.chains = random_states(Noise(chains_key), (self.num_chains, self.visible_size))
        if self.centering:
            self.visible_offset = mean
            self.hidden_offset = mx.full((self.hidden_size,), 0.5)
        self._learning_rate = learning_rate
        self._optimizer = self._make_optimizer()
        self._optimizer.init({name: getattr(self, name) for name in PARAMETERS})
        self.optimizer_state = self._optimizer.state
        self.power_f = mx.array(0.0)
        self.power_b = mx.array(0.0)
        self.dissipated_energy = mx.array(0.0)
        self.freeze(recurse=False, keys=[name for name in _STATE if name in self])

    def _check_clip_bounds(self, bounds: Any) -> tuple[float, float]:
        if isinstance(bounds, str) or not isinstance(bounds, Sequence) or len(bounds) != 2:
            raise TypeError(f"clip_bounds: expected a pair (low, high), got {bounds!r}")
        low = check_real("clip_bounds[0]", bounds[0])
        high = check_real("clip_bounds[1]", bounds[1])
        if not low < high:
            raise ValueError(f"clip_bounds: expected low < high, got ({low}, {high})")
        return low, high

    def _check_average_data(self, average_data: Any) -> Any:
        if average_data is None:
            if self.centering:
                raise ValueError(
                    "average_data: centering=True needs the data mean, "
                    f"shape ({self.visible_size},); got None"
                )
            return None
        try:
            mean = mx.astype(mx.array(average_data), mx.float32)
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"average_data: expected a numeric array, got {type(average_data).__name__}"
            ) from err
        if tuple(mean.shape) != (self.visible_size,):
            raise ValueError(
                f"average_data: expected shape ({self.visible_size},), got {tuple(mean.shape)}"
            )
        if not mx.all(mx.isfinite(mean)).item():
            raise ValueError("average_data: contains NaN or infinite values")
        return mean

    def _make_optimizer(self) -> Any:
        if self.optimizer == "Adam":
            return optim.Adam(
                self.learning_rate, betas=_ADAM_BETAS, eps=_ADAM_EPS, bias_correction=True
            )
        return optim.SGD(self.learning_rate)

    @property
    def learning_rate(self) -> float:
        """The optimizer's step size for the next updates."""
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self._learning_rate = check_real("learning_rate", value, at_least=0.0)
        self.optimizer_state["learning_rate"] = mx.array(self._learning_rate)

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, with the current :attr:`learning_rate`."""
        return {**super().get_config(), "learning_rate": self.learning_rate}

    def __reduce_ex__(self, protocol: int) -> tuple:
        # The optimizer holds nothing but optimizer_state (an item, pickled with the arrays),
        # so __setstate__ builds it anew rather than pickling it.
        rebuild, args, state, listitems, items = super().__reduce_ex__(max(protocol, 2))[:5]
        state = {name: value for name, value in state.items() if name != "_optimizer"}
        return rebuild, args, state, listitems, items

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._optimizer = self._make_optimizer()

    def _extra_repr(self) -> str:
        return (
            f"visible_size={self.visible_size}, hidden_size={self.hidden_size}, "
            f"energy_type={self.energy_type!r}, train_algo={self.train_algo!r}, k={self.k}"
        )

    @property
    def updates(self) -> int:
        """Number of parameter updates applied so far (pyrkm's ``epoch``)."""
        return int(self.optimizer_state["step"].item())

    # ------------------------------------------------------------------ the circuit

    def circuits(self) -> tuple[ResistorLayer, ResistorLayer]:
        """The two resistor networks of the current parameters: visible to hidden (forward)
        and hidden to visible (backward)."""
        forward = ResistorLayer(self.weights, self.hidden_bias, self.g_h, self.offset)
        backward = ResistorLayer(self.weights.T, self.visible_bias, self.g_v, self.offset)
        return forward, backward

    def check_visible(self, v: Any, argument: str = "v", *, evaluate: bool = False) -> Any:
        """``v`` as a float32 ``(samples, visible_size)`` array in [0, 1], or a clear error;
        values are checked where they are known without evaluation, or with ``evaluate``
        (training data)."""
        return _check_states(v, argument, self.visible_size, evaluate)

    def check_hidden(self, h: Any, argument: str = "h") -> Any:
        """``h`` as a float32 ``(samples, hidden_size)`` array in [0, 1], or a clear error."""
        return _check_states(h, argument, self.hidden_size)

    def hidden_voltages(self, v: Any) -> Any:
        r"""The relaxed hidden voltages :math:`\tilde h` for clamped visible states ``v``."""
        return self.circuits()[0].voltages(self.check_visible(v))

    def visible_voltages(self, h: Any) -> Any:
        r"""The relaxed visible voltages :math:`\tilde v` for clamped hidden states ``h``."""
        return self.circuits()[1].voltages(self.check_hidden(h))

    def power_forward(self, v: Any) -> Any:
        r"""Joule power of the visible-to-hidden relaxation, per sample, shape ``(samples,)``:
        :math:`\frac12 \sum G \Delta V^2` over its resistors (:mod:`.circuit`)."""
        return self.circuits()[0].power(self.check_visible(v))

    def power_backward(self, h: Any) -> Any:
        """Joule power of the hidden-to-visible relaxation, per sample, shape ``(samples,)``."""
        return self.circuits()[1].power(self.check_hidden(h))

    def av_power_forward(self, v: Any) -> Any:
        """Batch mean of :meth:`power_forward`."""
        return mx.mean(self.power_forward(v))

    def av_power_backward(self, h: Any) -> Any:
        """Batch mean of :meth:`power_backward`."""
        return mx.mean(self.power_backward(h))

    def relaxation_times(self) -> tuple[Any, Any]:
        r"""The nodes' relaxation times :math:`\tau = 2 / G`: ``(hidden_size,)`` for the
        forward relaxation and ``(visible_size,)`` for the backward one."""
        forward, backward = self.circuits()
        return forward.relaxation_times(), backward.relaxation_times()

    # ------------------------------------------------------------------ the units

    def _analog(self, x: Any, layer: ResistorLayer) -> Any:
        """What a unit samples from: the relaxed voltage (RKM) or the field (Hopfield)."""
        return layer.voltages(x) if self.energy_type == "RKM" else layer.field(x)

    def _scale(self, layer: ResistorLayer) -> float:
        return layer.fan_in if self.energy_type == "RKM" and self.layer_scaled else 1.0

    def _states(self, analog: Any, layer: ResistorLayer, noise: Noise, beta: float) -> Any:
        """Binary states of the units that ``layer`` drives, from their analog values."""
        return sample_states(
            analog,
            noise,
            sampling=self.sampling,
            distribution=self.distribution,
            beta=beta,
            scale=self._scale(layer),
        )[1]

    def _sample(self, x: Any, layer: ResistorLayer, noise: Noise, beta: float) -> Any:
        """Sample the layer that ``layer`` drives, from the clamped states ``x``."""
        return self._states(self._analog(x, layer), layer, noise, beta)

    def relax_and_sample(self, x: Any, layer: ResistorLayer, noise: Noise) -> tuple[Any, Any]:
        """One half Gibbs step of training through ``layer`` at ``model_beta``: the sampled
        states of the driven layer and the power (per sample) that the relaxation dissipated."""
        if self.energy_type == "RKM":
            analog, power = layer.relax(x)
        else:
            analog, power = layer.field(x), layer.power(x)
        return self._states(analog, layer, noise, self.model_beta), power

    def _noise(self, key: Any) -> Noise:
        if isinstance(key, Noise):
            return key
        return Noise(self.key if key is None else key)

    def _keep(self, noise: Noise, key: Any) -> None:
        """Advance :attr:`key` past the draws of a call that used it."""
        if key is None:
            self.key = noise.key

    def hidden_probabilities(self, v: Any, beta: float | None = None) -> Any:
        r""":math:`p(h = 1 \mid v)` of each hidden unit, shape ``(samples, hidden_size)``."""
        forward = self.circuits()[0]
        return on_probability(
            self._analog(self.check_visible(v), forward),
            sampling=self.sampling,
            distribution=self.distribution,
            beta=self._beta(beta),
            scale=self._scale(forward),
        )

    def __call__(self, v: Any) -> Any:
        """The same as :meth:`hidden_probabilities`."""
        return self.hidden_probabilities(v)

    def _beta(self, beta: float | None) -> float:
        return self.model_beta if beta is None else _check_beta("beta", beta)

    def sample_hidden(self, v: Any, beta: float | None = None, key: Any = None) -> Any:
        """Hidden states sampled given visible states ``v`` (pyrkm's ``v_to_h``).

        Args:
            v (array-like): ``(samples, visible_size)`` states in [0, 1].
            beta (float, optional): inverse temperature; ``math.inf`` thresholds at 0.
                Default: ``model_beta``.
            key (array or Noise, optional): an ``mx.random.key`` (or a :class:`~.sampling.Noise`
                to draw from); by default :attr:`key`, which then advances.
        """
        noise = self._noise(key)
        h = self._sample(self.check_visible(v), self.circuits()[0], noise, self._beta(beta))
        self._keep(noise, key)
        return h

    def sample_visible(self, h: Any, beta: float | None = None, key: Any = None) -> Any:
        """Visible states sampled given hidden states ``h`` (pyrkm's ``h_to_v``); arguments as
        :meth:`sample_hidden`."""
        noise = self._noise(key)
        v = self._sample(self.check_hidden(h), self.circuits()[1], noise, self._beta(beta))
        self._keep(noise, key)
        return v

    def _gibbs(self, v: Any, k: int, beta: float, noise: Noise) -> Any:
        forward, backward = self.circuits()
        for _ in range(k):
            v = self._sample(self._sample(v, forward, noise, beta), backward, noise, beta)
        return v

    def reconstruct(self, data: Any, k: int = 1, beta: float | None = None, key: Any = None) -> Any:
        """The visible states after ``k`` Gibbs steps from ``data`` (pyrkm's ``forward``).

        Args:
            data (array-like): ``(samples, visible_size)`` states in [0, 1].
            k (int, optional): Gibbs steps (``0`` returns ``data``). Default: ``1``.
            beta, key: as :meth:`sample_hidden`.

        Returns:
            array: ``(samples, visible_size)`` binary states.
        """
        v, k = self.check_visible(data, "data"), check_count("k", k, minimum=0)
        noise = self._noise(key)
        v = self._gibbs(v, k, self._beta(beta), noise)
        self._keep(noise, key)
        return v

    def reconstruction_error(self, data: Any, k: int = 1, key: Any = None) -> Any:
        r"""Per-sample mean squared error of :meth:`reconstruct`,
        :math:`\frac{1}{n_v} \sum_i (v_i - \hat v_i)^2`, shape ``(samples,)``."""
        v = self.check_visible(data, "data")
        return mx.mean(mx.square(self.reconstruct(v, k, key=key) - v), axis=1)

    def generate(
        self,
        num_samples: int,
        k: int = 1,
        *,
        h_binarized: bool = True,
        from_visible: bool = True,
        beta: float | None = None,
        key: Any = None,
    ) -> Any:
        """Visible samples after ``k`` Gibbs steps from noise, as pyrkm's ``generate``.

        The chains start from uniformly random binary visible states, or (``from_visible=
        False``) from random hidden states, binary or (``h_binarized=False``) uniform in
        [0, 1), pushed once to the visible layer at ``model_beta``. A model trained with a
        random-start scheme generates as it was trained: vRDM-k from visible noise with ``k``
        steps, hRDM-k from hidden noise (``from_visible=False``) with ``k - 1``.

        Args:
            num_samples (int): number of samples.
            k (int, optional): Gibbs steps after the start (``0`` allowed). Default: ``1``.
            h_binarized, from_visible (bool, optional): the start (above). Default: ``True``.
            beta, key: as :meth:`sample_hidden`.

        Returns:
            array: ``(num_samples, visible_size)`` binary states.
        """
        num_samples, k = check_count("num_samples", num_samples), check_count("k", k, minimum=0)
        check_bool("h_binarized", h_binarized)
        check_bool("from_visible", from_visible)
        beta = self._beta(beta)
        noise = self._noise(key)
        if from_visible:
            v = random_states(noise, (num_samples, self.visible_size))
        else:
            shape = (num_samples, self.hidden_size)
            h = random_states(noise, shape) if h_binarized else noise.uniform(shape)
            v = self._sample(h, self.circuits()[1], noise, self.model_beta)
        v = self._gibbs(v, k, beta, noise)
        self._keep(noise, key)
        return v

    # ------------------------------------------------------------------ training

    def train(
        self,
        data: Any = True,
        epochs: int = 10,
        batch_size: int = 64,
        **options: Any,
    ) -> Any:
        """Train for ``epochs`` passes over ``data``; see :func:`~.training.train_rkm`.

        ``rkm.train(mode)`` with a bool keeps :meth:`mlx.nn.Module.train`'s meaning.

        Returns:
            dict: per-epoch history, metric name -> list of floats.
        """
        if isinstance(data, bool):
            return super().train(data)
        return train_rkm(self, data, epochs, batch_size, **options)
