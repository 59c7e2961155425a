"""The liquid time-constant (LTC) cell (Hasani et al., AAAI 2021), wired by a neuron map.

The cell is ncps's torch ``LTCCell``: the same parameters (names, shapes, initial ranges), the same
fused semi-implicit Euler solver and the same input/output mappings, so ncps weights load by name
and give the same outputs. What differs is how the synapses are evaluated: ncps computes every
(source, neuron) pair and masks the unwired ones, materialising ``(batch, units, units)`` tensors
in every ODE unfold; here only the wired synapses are computed (:class:`SynapseBank`), and the
sensory synapses, which do not change within a step, once per step rather than once per unfold.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ember_mlx.backend import mx, nn, to_numpy
from ember_mlx.checkpoint import CheckpointError
from ember_mlx.nn.module import Module
from ember_mlx.nn.neuron_maps import NeuronMap
from ember_mlx.nn.rnn.sequence import check_state, prepare_step_timespans

MAPPINGS = ("affine", "linear", "none")

# ncps's uniform initial ranges.
INIT_RANGES = {
    "gleak": (0.001, 1.0),
    "vleak": (-0.2, 0.2),
    "cm": (0.4, 0.6),
    "sigma": (3.0, 8.0),
    "mu": (0.3, 0.8),
    "w": (0.001, 1.0),
}


class SynapseBank:
    r"""The sigmoid synapses of one signed adjacency matrix, computed synapse by synapse.

    A neuron :math:`j` receives from each source :math:`i` wired to it the conductance
    :math:`a_{ij} = w_{ij}\,\sigma(\sigma_{ij}(v_i - \mu_{ij}))`; the cell needs the two sums

    .. math::

        \mathrm{num}_j = \sum_i a_{ij} E_{ij}, \qquad \mathrm{den}_j = \sum_i a_{ij}

    over the wired sources. The layout (ELLPACK by destination) is fixed at construction: the
    ``R`` neurons that receive a synapse are rows; each row has ``D`` slots (the largest
    in-degree) holding its sources in ascending order, and unused slots get weight zero. A call
    gathers the presynaptic values into an ``(R, D, N)`` block, applies the sigmoid there,
    contracts the slots with one batched matmul against ``[w E, w]`` (``(R, 2, D)``), which
    gives both sums at once, and places the ``R`` rows at their neurons with a fixed one-hot
    matmul. Values are neuron-major (``(sources, N)``, one column per sample), so neither the
    gather nor the matmuls need a transpose. When every pair is wired, the gather is a
    broadcast and the placement the identity.

    Args:
        adjacency: ``(sources, units)`` matrix indexed ``[source, destination]``; nonzero
            entries are synapses.
    """

    def __init__(self, adjacency: np.ndarray):
        adjacency = np.asarray(adjacency)
        self.units = adjacency.shape[1]
        sources, targets = np.nonzero(adjacency)  # row-major: sources ascending
        self.count = len(sources)
        self.dense = self.count == adjacency.size
        receivers, in_degree = np.unique(targets, return_counts=True)
        self.rows = len(receivers)
        self.slots = int(in_degree.max()) if self.count else 0
        self._placement = None
        if self.dense or not self.count:
            return
        order = np.argsort(targets, kind="stable")  # by destination, sources stay ascending
        sources, targets = sources[order], targets[order]
        row = np.repeat(np.arange(self.rows), in_degree)
        row_start = np.repeat(np.cumsum(in_degree) - in_degree, in_degree)
        slot = row * self.slots + np.arange(self.count) - row_start
        layout = np.zeros(self.rows * self.slots, dtype=np.int32)  # flat parameter index
        layout[slot] = sources * self.units + targets
        presynaptic = np.zeros(self.rows * self.slots, dtype=np.int32)
        presynaptic[slot] = sources
        used = np.zeros(self.rows * self.slots, dtype=bool)
        used[slot] = True
        self._layout = mx.array(layout)
        self._presynaptic = mx.array(presynaptic)
        self._used = mx.array(used.reshape(self.rows, 1, self.slots))
        if self.rows < self.units:
            # (units, R) one-hot: row r's sums to its neuron, zeros to neurons without synapses.
            placement = np.zeros((self.units, self.rows), dtype=np.float32)
            placement[receivers, np.arange(self.rows)] = 1.0
            self._placement = mx.array(placement)

    def _gather(self, param: Any) -> Any:
        """A ``(sources, units)`` parameter in the ``(R, D)`` layout (pad slots hold any value)."""
        if self.dense:
            return param.T
        flat = mx.take(mx.reshape(param, (-1,)), self._layout)
        return mx.reshape(flat, (self.rows, self.slots))

    def weights(self, sigma: Any, mu: Any, w: Any, erev: Any) -> tuple[Any, Any, Any] | None:
        """Gather the synapse parameters, each ``(sources, units)``, into the layout.

        Call once per forward pass; the result serves every :meth:`currents` call of the pass.
        ``w`` must already be made positive where the cell constrains it.

        Returns:
            ``(sigma, mu, weight)`` of shapes ``(R, D, 1)``, ``(R, D, 1)`` and ``(R, 2, D)`` with
            ``weight[:, 0] = w E`` and ``weight[:, 1] = w`` (zero on pad slots), or ``None``
            when there are no synapses.
        """
        if not self.count:
            return None
        w = self._gather(w)
        weight = mx.stack([w * self._gather(erev), w], axis=1)
        if not self.dense:
            weight = mx.where(self._used, weight, 0.0)
        return self._gather(sigma)[..., None], self._gather(mu)[..., None], weight

    def currents(self, presynaptic: Any, weights: Any) -> Any:
        r"""The two synaptic sums of every neuron.

        Args:
            presynaptic: ``(sources, N)`` source potentials, one column per sample.
            weights: :meth:`weights` of this pass.

        Returns:
            ``(units, 2, N)``: ``[:, 0]`` holds :math:`\sum_i a_{ij} E_{ij}` and ``[:, 1]``
            holds :math:`\sum_i a_{ij}`.
        """
        columns = presynaptic.shape[1]
        if weights is None:
            return mx.zeros((self.units, 2, columns), dtype=presynaptic.dtype)
        sigma, mu, weight = weights
        if self.dense:
            pre = presynaptic[None]
        else:
            pre = mx.take(presynaptic, self._presynaptic, axis=0)
            pre = mx.reshape(pre, (self.rows, self.slots, columns))
        sums = weight @ mx.sigmoid(sigma * (pre - mu))  # (R, 2, N)
        if self._placement is None:
            return sums
        placement = mx.astype(self._placement, sums.dtype)
        sums = placement @ mx.reshape(sums, (self.rows, 2 * columns))
        return mx.reshape(sums, (self.units, 2, columns))


def _check_mapping(name: str, value: Any) -> str:
    mapping = "none" if value is None else value
    if mapping not in MAPPINGS:
        raise ValueError(f"{name}: expected one of {MAPPINGS} or None, got {value!r}")
    return mapping


class LTCCell(Module):
    r"""A liquid time-constant cell: one step of ncps's LTC, synapse-sparse.

    Each neuron is a leaky membrane driven by sigmoid synapses from the inputs (sensory synapses)
    and from other neurons, as the neuron map wires them. With :math:`u = x \odot w_{in} + b_{in}`
    the mapped input, :math:`f` the softplus when ``implicit_param_constraints`` is set (applied
    to :math:`w`, :math:`w^s`, :math:`c_m` and :math:`g_{leak}` only) and the identity otherwise,
    one step of length :math:`\Delta t` runs ``ode_unfolds`` fused semi-implicit Euler updates of

    .. math::

        v_j \leftarrow \frac{\tilde c_j v_j + f(g_{leak})_j v_{leak,j}
                + \sum_i a_{ij} E_{ij} + \sum_k s_{kj} E^s_{kj}}
            {\tilde c_j + f(g_{leak})_j + \sum_i a_{ij} + \sum_k s_{kj} + \epsilon},
        \qquad \tilde c = \frac{f(c_m)}{\Delta t / \text{ode\_unfolds}},

    with :math:`a_{ij} = f(w)_{ij}\,\sigma(\sigma_{ij}(v_i - \mu_{ij}))` over wired neuron pairs
    and :math:`s_{kj} = f(w^s)_{kj}\,\sigma(\sigma^s_{kj}(u_k - \mu^s_{kj}))` over wired input
    pairs (fixed within the step). The state is indexed by neuron id; the output is the motor
    neurons (ids ``0 .. output_size - 1``) mapped by :math:`y = v \odot w_{out} + b_{out}`
    (:meth:`readout`).

    Parameters have ncps's names, shapes (``[source, destination]``) and initial ranges, so an
    ncps ``LTCCell`` state dict loads by name (without ncps's two ``*sparsity_mask`` entries,
    which the neuron map replaces). ``erev`` and ``sensory_erev`` start at the map's signs and
    are trained, as in ncps.

    Args:
        neuron_map: The wiring. It is built for ``input_size`` if not yet built, and read once,
            here: later edits to the map do not reach the cell.
        input_size: Number of input features; ``None`` if ``neuron_map`` is already built.
        input_mapping: ``"affine"`` (:math:`x w_{in} + b_{in}`), ``"linear"`` (:math:`x w_{in}`)
            or ``"none"``/``None`` (identity).
        output_mapping: The same choices for the motor outputs.
        ode_unfolds: Solver updates per step.
        epsilon: Added to the denominator so that it never vanishes.
        implicit_param_constraints: Keep :math:`w`, :math:`w^s`, :math:`c_m`, :math:`g_{leak}`
            positive through a softplus in the forward pass. When ``False`` (ncps's cell
            default), call :meth:`apply_weight_constraints` after each optimizer step instead.

    Call ``cell(x, state=None, ts=None)`` with ``x`` of shape ``(batch, input_size)`` and
    ``state`` of shape ``(batch, units)`` (zeros if ``None``); it returns the next state, whose
    output is :meth:`readout`. The step length ``ts`` is ``None`` (1), a positive number, or an
    array of shape ``(batch,)`` or ``(batch, 1)``, one length per sample.
    """

    def __init__(
        self,
        neuron_map: NeuronMap,
        input_size: int | None = None,
        input_mapping: str | None = "affine",
        output_mapping: str | None = "affine",
        ode_unfolds: int = 6,
        epsilon: float = 1e-8,
        implicit_param_constraints: bool = False,
    ):
        super().__init__()
        if not isinstance(neuron_map, NeuronMap):
            raise TypeError(
                f"neuron_map: expected a NeuronMap, got {type(neuron_map).__name__}; "
                "wrap a unit count as FullyConnectedMap(units)"
            )
        if input_size is not None or not neuron_map.is_built():
            if input_size is None:
                raise ValueError(
                    f"input_size: {type(neuron_map).__name__} is not built; give input_size"
                )
            neuron_map.build(input_size)
        self.input_mapping = _check_mapping("input_mapping", input_mapping)
        self.output_mapping = _check_mapping("output_mapping", output_mapping)
        if isinstance(ode_unfolds, bool) or not isinstance(ode_unfolds, int) or ode_unfolds < 1:
            raise ValueError(f"ode_unfolds: expected an int >= 1, got {ode_unfolds!r}")
        if not isinstance(epsilon, (int, float)) or isinstance(epsilon, bool) or epsilon < 0:
            raise ValueError(f"epsilon: expected a float >= 0, got {epsilon!r}")
        self.neuron_map = neuron_map
        self.input_size = neuron_map.input_dim
        self.units = neuron_map.units
        self.output_size = neuron_map.output_dim
        self.ode_unfolds = ode_unfolds
        self.epsilon = float(epsilon)
        self.implicit_param_constraints = bool(implicit_param_constraints)

        units, inputs = (self.units,), (self.input_size, self.units)
        self.gleak = _uniform("gleak", units)
        self.vleak = _uniform("vleak", units)
        self.cm = _uniform("cm", units)
        self.sigma = _uniform("sigma", (self.units, self.units))
        self.mu = _uniform("mu", (self.units, self.units))
        self.w = _uniform("w", (self.units, self.units))
        self.erev = mx.array(neuron_map.erev_initializer(), dtype=mx.float32)
        self.sensory_sigma = _uniform("sigma", inputs)
        self.sensory_mu = _uniform("mu", inputs)
        self.sensory_w = _uniform("w", inputs)
        self.sensory_erev = mx.array(neuron_map.sensory_erev_initializer(), dtype=mx.float32)
        if self.input_mapping != "none":
            self.input_w = mx.ones((self.input_size,))
        if self.input_mapping == "affine":
            self.input_b = mx.zeros((self.input_size,))
        if self.output_mapping != "none":
            self.output_w = mx.ones((self.output_size,))
        if self.output_mapping == "affine":
            self.output_b = mx.zeros((self.output_size,))

        self._synapses = SynapseBank(neuron_map.adjacency_matrix)
        self._sensory_synapses = SynapseBank(neuron_map.sensory_adjacency_matrix)

    # ----------------------------------------------------------------------------- properties

    @property
    def state_size(self) -> int:
        """Size of the state: one potential per neuron."""
        return self.units

    @property
    def synapse_count(self) -> int:
        """Number of synapses between neurons."""
        return self._synapses.count

    @property
    def sensory_synapse_count(self) -> int:
        """Number of synapses from the inputs (ncps counts the neuron synapses here, a bug)."""
        return self._sensory_synapses.count

    # -------------------------------------------------------------------------------- math

    def _positive(self, x: Any) -> Any:
        return nn.softplus(x) if self.implicit_param_constraints else x

    def prepare(self) -> tuple[Any, ...]:
        """What every step of a forward pass shares, computed once per pass: the parameters
        made positive, the leak terms, and both synapse banks' parameters in their layouts."""
        gleak = self._positive(self.gleak)[:, None]
        sensory = self._sensory_synapses.weights(
            self.sensory_sigma, self.sensory_mu, self._positive(self.sensory_w), self.sensory_erev
        )
        synapses = self._synapses.weights(self.sigma, self.mu, self._positive(self.w), self.erev)
        leak_num = gleak * self.vleak[:, None]
        leak_den = gleak + self.epsilon
        return self._positive(self.cm)[:, None], leak_num, leak_den, sensory, synapses

    def map_inputs(self, x: Any) -> Any:
        """The input mapping (``input_mapping``) of the last axis of ``x``."""
        if self.input_mapping != "none":
            x = x * self.input_w
        if self.input_mapping == "affine":
            x = x + self.input_b
        return x

    def step(self, u: Any, v: Any, ts: Any, prepared: tuple[Any, ...]) -> Any:
        """One step, neuron-major (one column per sample) as the solver runs.

        Args:
            u: ``(input_size, batch)`` mapped inputs (:meth:`map_inputs`), contiguous.
            v: ``(units, batch)`` potentials, contiguous.
            ts: The step length: ``None`` (1), a number, or a ``(1, batch)`` array.
            prepared: :meth:`prepare` of this forward pass.

        Returns:
            The ``(units, batch)`` potentials after ``ode_unfolds`` solver updates.
        """
        cm, leak_num, leak_den, sensory_weights, synapse_weights = prepared
        # The sensory synapses do not depend on v: evaluated once per step, not per unfold.
        sensory = self._sensory_synapses.currents(u, sensory_weights)
        cm_t = cm / ((1.0 if ts is None else ts) / self.ode_unfolds)
        num = leak_num + sensory[:, 0]
        den = cm_t + leak_den + sensory[:, 1]
        for _ in range(self.ode_unfolds):
            sums = self._synapses.currents(v, synapse_weights)
            v = (cm_t * v + num + sums[:, 0]) / (den + sums[:, 1])
        return v

    def readout(self, state: Any) -> Any:
        """The cell's output: the motor neurons' potentials, mapped by ``output_mapping``.

        Args:
            state: ``(..., units)`` states.

        Returns:
            ``(..., output_size)`` outputs.
        """
        y = state[..., : self.output_size]
        if self.output_mapping != "none":
            y = y * self.output_w
        if self.output_mapping == "affine":
            y = y + self.output_b
        return y

    def apply_weight_constraints(self) -> None:
        """Clip :math:`w`, :math:`w^s`, :math:`c_m` and :math:`g_{leak}` to be non-negative.

        The projection step of training without ``implicit_param_constraints``: call it after
        each optimizer update. With implicit constraints it does nothing, as in ncps.
        """
        if self.implicit_param_constraints:
            return
        for name in ("w", "sensory_w", "cm", "gleak"):
            setattr(self, name, mx.maximum(getattr(self, name), 0.0))

    def load_torch_state_dict(self, state_dict: Mapping[str, Any]) -> LTCCell:
        """Copy the weights of an ncps torch ``LTCCell`` with the same wiring. Returns the cell.

        ncps's ``sparsity_mask`` and ``sensory_sparsity_mask`` are checked against this cell's
        neuron map and dropped; every other entry loads by name.

        Raises:
            CheckpointError: If a mask differs from the map's wiring, or names or shapes
                differ; then nothing is changed.
        """
        arrays = {name: to_numpy(value) for name, value in state_dict.items()}
        return self.load_arrays(self._drop_torch_masks(arrays), source="ncps state_dict")

    def _drop_torch_masks(self, arrays: dict[str, Any], prefix: str = "") -> dict[str, Any]:
        """``arrays`` without ncps's sparsity masks (under ``prefix``), checked to be this map's."""
        wiring = {
            "sparsity_mask": self.neuron_map.adjacency_matrix,
            "sensory_sparsity_mask": self.neuron_map.sensory_adjacency_matrix,
        }
        arrays = dict(arrays)
        for name, adjacency in wiring.items():
            mask = arrays.pop(prefix + name, None)
            if mask is not None and not np.array_equal(np.asarray(mask) != 0, adjacency != 0):
                raise CheckpointError(
                    f"ncps state_dict: {prefix + name} is not the wiring of this cell's "
                    f"{type(self.neuron_map).__name__}; build the map with the same seed"
                )
        return arrays

    def __call__(self, x: Any, state: Any = None, ts: Any = None) -> Any:
        shape = tuple(getattr(x, "shape", ()))
        if len(shape) != 2 or shape[1] != self.input_size:
            given = shape if hasattr(x, "shape") else type(x).__name__
            raise ValueError(f"x: expected shape (batch, {self.input_size}), got {given}")
        batch = shape[0]
        if state is None:
            state = mx.zeros((batch, self.units), dtype=x.dtype)
        else:
            check_state(state, batch, self.units)
        ts = prepare_step_timespans(ts, batch, x.dtype)
        if ts is not None and not isinstance(ts, float):
            ts = ts.T
        u = mx.contiguous(self.map_inputs(x).T)
        return self.step(u, mx.contiguous(state.T), ts, self.prepare()).T


def _uniform(name: str, shape: tuple[int, ...]) -> Any:
    low, high = INIT_RANGES[name]
    return mx.random.uniform(low, high, shape)
