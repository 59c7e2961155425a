"""The liquid time-constant (LTC) cell (Hasani et al., AAAI 2021), wired by a neuron map.

The cell is ncps's torch ``LTCCell``: the same parameters (names, shapes, initial ranges), the same
fused semi-implicit Euler solver and the same input/output mappings, so ncps weights load by name
and give the same outputs. What differs is how the synapses are evaluated: ncps computes every
(source, neuron) pair and masks the unwired ones, materialising ``(batch, units, units)`` tensors
in every ODE unfold; here only the wired synapses are computed (:class:`SynapseBank`), and the
sensory synapses, which do not change within a step, once per step rather than once per unfold.
Gradients come from hand-written vjps (``mx.custom_function``) that keep, per ODE unfold, only
the potentials, the denominators and the sigmoids of the neuron synapses (the costliest part to
recompute) and recompute the rest, a step at a time: half of what autodiff of the same loop
keeps.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

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


class SlotLayout(NamedTuple):
    """Where :class:`SynapseBank` keeps each synapse: row ``r`` holds the synapses into neuron
    ``receivers[r]``, slot ``d`` of it the one from source ``sources[r, d]`` (sources
    ascending along the row) when ``used[r, d]``; unused slots have source 0."""

    sources: np.ndarray  # (R, D) int32
    used: np.ndarray  # (R, D) bool
    receivers: np.ndarray  # (R,) int32, ascending


class SynapseBank:
    r"""The sigmoid synapses of one signed adjacency matrix, computed synapse by synapse.

    A neuron :math:`j` receives from each source :math:`i` wired to it the conductance
    :math:`a_{ij} = w_{ij}\,\sigma(\sigma_{ij}(v_i - \mu_{ij}))`; the cell needs the two sums

    .. math::

        \mathrm{num}_j = \sum_i a_{ij} E_{ij}, \qquad \mathrm{den}_j = \sum_i a_{ij}

    over the wired sources. The layout (:attr:`layout`, ELLPACK by destination) is fixed at
    construction: the ``R`` neurons that receive a synapse are rows; each row has ``D`` slots
    (the largest in-degree) holding its sources in ascending order, and unused slots get weight
    zero. A call gathers the presynaptic values into an ``(R, D, N)`` block, applies the
    sigmoid there, contracts the slots with one batched matmul against ``[w E, w]``
    (``(R, 2, D)``), which gives both sums at once, and places the ``R`` rows at their neurons:
    zero rows appended for the neurons without synapses, then a fixed gather of rows, which is
    skipped when the receivers are the first ``R`` neurons (as in an NCP, whose motor and
    command neurons come first). Values are neuron-major (``(sources, N)``, one column per
    sample), so neither the gather nor the matmul needs a transpose. When every pair is wired,
    the gather is a broadcast and the placement the identity.

    :attr:`layout` is public: the Metal LTC kernel's host code reads it.

    The gather, sigmoid and contraction are one ``mx.custom_function`` whose vjp recomputes the
    ``(R, D, N)`` activations instead of keeping them: the backward pass holds only the
    presynaptic values. :class:`LTCCell` runs the same pieces (:meth:`activations`,
    :meth:`sums`, then the cotangents) in its own vjp of a step's unfolds, which keeps the
    sigmoids instead. With
    :math:`g` the cotangent of the sums and :math:`\dot a = (W^\top g)\,s(1 - s)` that of the
    sigmoid's argument (:math:`s` the sigmoid, :math:`z = v - \mu`):

    .. math::

        \partial W = g\,s^\top, \quad \partial\sigma = \textstyle\sum_n \dot a\,z, \quad
        \partial\mu = -\sigma \textstyle\sum_n \dot a, \quad
        \partial v_i = \textstyle\sum_{j} \sigma_{ij}\,\dot a_{ij},

    the last one a second gather, of each source's outgoing slots (padded to the largest
    out-degree with weight zero), contracted by a batched matmul.

    Args:
        adjacency: ``(sources, units)`` matrix indexed ``[source, destination]``; nonzero
            entries are synapses.
    """

    def __init__(self, adjacency: np.ndarray):
        adjacency = np.asarray(adjacency) != 0
        self.sources, self.units = adjacency.shape
        sources, targets = np.nonzero(adjacency)  # row-major: sources ascending
        self.count = len(sources)
        self.dense = self.count == adjacency.size
        receivers, in_degree = np.unique(targets, return_counts=True)
        self.rows = len(receivers)
        self.slots = int(in_degree.max()) if self.count else 0
        order = np.argsort(targets, kind="stable")  # by destination, sources stay ascending
        row = np.repeat(np.arange(self.rows), in_degree)
        slot = np.arange(self.count) - np.repeat(np.cumsum(in_degree) - in_degree, in_degree)
        layout = np.zeros((self.rows, self.slots), dtype=np.int32)
        layout[row, slot] = sources[order]
        used = np.zeros((self.rows, self.slots), dtype=bool)
        used[row, slot] = True
        self.layout = SlotLayout(layout, used, receivers.astype(np.int32))
        self._placement = None
        self._currents = mx.custom_function(self._currents_forward)
        self._currents.vjp(self._currents_vjp)
        if self.dense or not self.count:
            return
        if self.rows < self.units and not np.array_equal(receivers, np.arange(self.rows)):
            # Row of each neuron's sums in the padded (units + 1)-row block: R is a zero row.
            placement = np.full(self.units, self.rows, dtype=np.int32)
            placement[receivers] = np.arange(self.rows)
            self._placement = mx.array(placement)
            self._receivers = mx.array(receivers.astype(np.int32))
        flat_slot = (row * self.slots + slot).astype(np.int32)  # of each synapse, by destination
        self._parameter_index = mx.array(np.ravel(receivers[:, None] + self.units * layout))
        self._presynaptic = mx.array(layout.reshape(-1))
        self._used = mx.array(used.reshape(self.rows, 1, self.slots))
        # The adjoint of the gather: each source's outgoing slots, padded with slot 0.
        by_source = np.argsort(sources[order], kind="stable")
        out_degree = np.bincount(sources, minlength=self.sources)
        fanout = int(out_degree.max())
        out_row = sources[order][by_source]
        out_slot = np.arange(self.count) - np.repeat(np.cumsum(out_degree) - out_degree, out_degree)
        outgoing = np.zeros((self.sources, fanout), dtype=np.int32)
        outgoing[out_row, out_slot] = flat_slot[by_source]
        outgoing_used = np.zeros((self.sources, 1, fanout), dtype=bool)
        outgoing_used[out_row, 0, out_slot] = True
        self._outgoing = mx.array(outgoing.reshape(-1))
        self._outgoing_used = mx.array(outgoing_used)

    def _gather(self, param: Any) -> Any:
        """A ``(sources, units)`` parameter in the ``(R, D)`` layout (pad slots hold any value)."""
        if self.dense:
            return param.T
        flat = mx.take(mx.reshape(param, (-1,)), self._parameter_index)
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
        if weights is None:
            return mx.zeros((self.units, 2, presynaptic.shape[-1]), dtype=presynaptic.dtype)
        return self._currents(presynaptic, *weights)

    # The pieces of currents() and of its vjp, on any number N of columns: a backward pass
    # recomputes the activations of several calls at once, side by side.

    def differences(self, presynaptic: Any, weights: Any) -> Any:
        """``z = v - mu`` of every slot, ``(R, D, N)`` (arguments as in :meth:`currents`)."""
        if self.dense:
            pre = presynaptic[None]
        else:
            pre = mx.take(presynaptic, self._presynaptic, axis=0)
            pre = mx.reshape(pre, (self.rows, self.slots, presynaptic.shape[-1]))
        return pre - weights[1]

    def activations(self, presynaptic: Any, weights: Any) -> tuple[Any, Any]:
        """:meth:`differences` ``z`` and the sigmoid ``s = sigmoid(sigma z)`` of every slot."""
        z = self.differences(presynaptic, weights)
        return z, mx.sigmoid(weights[0] * z)

    def sums(self, s: Any, weights: Any) -> Any:
        """The ``(units, 2, N)`` sums from the sigmoids ``s`` of :meth:`activations`: the slots
        contracted against ``[w E, w]``, the rows placed at their neurons."""
        sums = weights[2] @ s  # (R, 2, N)
        if self.rows == self.units:
            return sums
        # Zero rows for the neurons without synapses: a pad and, unless the receivers come
        # first, a gather of rows (both far cheaper than a one-hot matmul, forward and back).
        extra = 1 if self._placement is not None else self.units - self.rows
        sums = mx.pad(sums, [(0, extra), (0, 0), (0, 0)])
        return sums if self._placement is None else mx.take(sums, self._placement, axis=0)

    def receiver_rows(self, cotangent: Any) -> Any:
        """The ``(R, 2, N)`` rows of a ``(units, 2, N)`` cotangent of :meth:`sums` that reach
        the contraction (the vjp of the placement)."""
        if self.rows == self.units:
            return cotangent
        if self._placement is None:
            return cotangent[: self.rows]
        return mx.take(cotangent, self._receivers, axis=0)

    def argument_cotangent(self, rows: Any, slope: Any, weights: Any) -> Any:
        r"""The ``(R, D, N)`` cotangent :math:`\dot a = (W^\top g)\,s(1 - s)` of every slot's
        sigmoid argument :math:`\sigma z`, from the :meth:`receiver_rows` ``g`` of the sums'
        cotangent and the sigmoid's slope ``s (1 - s)``."""
        return (mx.swapaxes(weights[2], 1, 2) @ rows) * slope

    def outgoing_scale(self, sigma: Any) -> Any:
        """What :meth:`presynaptic_cotangent` weighs each source's outgoing slots by: their
        ``sigma``, ``(sources, 1, fan-out)`` with zeros in the pad slots."""
        if self.dense:
            return sigma
        scale = mx.take(mx.reshape(sigma, (-1,)), self._outgoing)
        return mx.where(self._outgoing_used, mx.reshape(scale, (self.sources, 1, -1)), 0.0)

    def presynaptic_cotangent(self, d_argument: Any, scale: Any) -> Any:
        r"""The ``(sources, N)`` cotangent :math:`\sum_j \sigma_{ij} \dot a_{ij}` of the
        presynaptic values, from the :meth:`argument_cotangent`."""
        if self.dense:
            return mx.sum(scale * d_argument, axis=0)
        columns = d_argument.shape[-1]
        flat = mx.reshape(d_argument, (self.rows * self.slots, columns))
        outgoing = mx.take(flat, self._outgoing, axis=0)
        outgoing = mx.reshape(outgoing, (self.sources, -1, columns))
        return mx.reshape(scale @ outgoing, (self.sources, columns))

    def weights_cotangent(
        self, rows: Any, z: Any, s: Any, d_argument: Any, weights: Any
    ) -> tuple[Any, Any, Any]:
        r"""The cotangents of :meth:`weights`, summed over the columns:
        :math:`\partial W = g s^\top`, :math:`\partial\sigma = \sum \dot a z`,
        :math:`\partial\mu = -\sigma \sum \dot a`."""
        sigma = weights[0]
        d_sigma = mx.sum(d_argument * z, axis=-1, keepdims=True)
        d_mu = -sigma * mx.sum(d_argument, axis=-1, keepdims=True)
        return d_sigma, d_mu, rows @ mx.swapaxes(s, 1, 2)

    def _currents_forward(self, presynaptic: Any, sigma: Any, mu: Any, weight: Any) -> Any:
        weights = (sigma, mu, weight)
        return self.sums(self.activations(presynaptic, weights)[1], weights)

    def _currents_vjp(
        self, primals: tuple[Any, ...], cotangent: Any, output: Any
    ) -> tuple[Any, Any, Any, Any]:
        presynaptic, *weights = primals
        z, s = self.activations(presynaptic, weights)
        rows = self.receiver_rows(cotangent)
        d_argument = self.argument_cotangent(rows, s * (1.0 - s), weights)
        d_pre = self.presynaptic_cotangent(d_argument, self.outgoing_scale(weights[0]))
        return d_pre, *self.weights_cotangent(rows, z, s, d_argument, weights)


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
        self._unfold_with_vjp = mx.custom_function(self._unfold)
        self._unfold_with_vjp.vjp(self._unfold_vjp)

    # ----------------------------------------------------------------------------- properties

    @property
    def state_size(self) -> int:
        """Size of the state: one potential per neuron."""
        return self.units

    @property
    def synapses(self) -> SynapseBank:
        """The synapses between neurons, in their sparse layout (:attr:`SynapseBank.layout`)."""
        return self._synapses

    @property
    def sensory_synapses(self) -> SynapseBank:
        """The synapses from the inputs, in their sparse layout."""
        return self._sensory_synapses

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

    def drive(self, u: Any, ts: Any, prepared: tuple[Any, ...]) -> tuple[Any, Any]:
        r"""What the solver updates of a step share, neuron-major (one column per sample): the
        terms that do not depend on the potentials. The sensory synapses do not change within a
        step, so they are evaluated here once, not once per update; any number of columns
        (several steps side by side) can be evaluated at once.

        Args:
            u: ``(input_size, N)`` mapped inputs (:meth:`map_inputs`), contiguous.
            ts: The step length: ``None`` (1), a number, or a ``(1, N)`` array.
            prepared: :meth:`prepare` of this forward pass.

        Returns:
            ``(fixed, cm_t)``: the ``(units, 2, N)`` numerator and denominator terms (leak,
            sensory synapses and, in the denominator, :math:`\tilde c`), and :math:`\tilde c`,
            ``(units, 1)`` or ``(units, N)``.
        """
        cm, leak_num, leak_den, sensory_weights, _ = prepared
        cm_t = cm / ((1.0 if ts is None else ts) / self.ode_unfolds)
        leak_den = cm_t + leak_den
        leak = mx.stack([mx.broadcast_to(leak_num, leak_den.shape), leak_den], axis=1)
        return self._sensory_synapses.currents(u, sensory_weights) + leak, cm_t

    def step(self, u: Any, v: Any, ts: Any, prepared: tuple[Any, ...]) -> Any:
        """One step, neuron-major (one column per sample) as the solver runs.

        Args:
            u: ``(input_size, batch)`` mapped inputs (:meth:`map_inputs`), contiguous.
            v: ``(units, batch)`` potentials.
            ts: The step length: ``None`` (1), a number, or a ``(1, batch)`` array.
            prepared: :meth:`prepare` of this forward pass.

        Returns:
            The ``(units, batch)`` potentials after ``ode_unfolds`` solver updates.
        """
        return self.integrate(v, *self.drive(u, ts, prepared), prepared)[:, -1]

    def integrate(self, v: Any, fixed: Any, cm_t: Any, prepared: tuple[Any, ...]) -> Any:
        r"""The solver updates of ``K`` consecutive steps from their :meth:`drive`, evaluated
        with the steps side by side (step ``k`` in column block ``k``).

        Args:
            v: ``(units, batch)`` potentials before the first step.
            fixed: ``(units, 2, K * batch)``, the :meth:`drive` of the steps.
            cm_t: ``(units, 1)`` or ``(units, K * batch)``, their :math:`\tilde c`.
            prepared: :meth:`prepare` of this forward pass.

        Returns:
            ``(units, K, batch)``: the potentials after each step.
        """
        synapse_weights = prepared[4]
        unfold = self._unfold if synapse_weights is None else self._unfold_with_vjp
        trajectory = unfold(v, fixed, cm_t, *(synapse_weights or ()))[0]
        units, updates, batch = trajectory.shape
        steps = updates // self.ode_unfolds
        return mx.reshape(trajectory, (units, steps, self.ode_unfolds, batch))[:, :, -1]

    def _unfold(self, v: Any, fixed: Any, cm_t: Any, *synapse_weights: Any) -> tuple[Any, ...]:
        r"""The solver updates of ``K`` consecutive steps (the math of the class docstring):
        ``ode_unfolds`` updates per step, ``K * ode_unfolds`` in all, update :math:`m` with
        the ``fixed`` and ``cm_t`` of step :math:`\lfloor m / \text{ode\_unfolds} \rfloor`.

        Args:
            v: ``(units, N)`` potentials.
            fixed: ``(units, 2, K * N)``, per step (column block) the numerator and
                denominator terms that do not depend on ``v``: the leak, the sensory synapses
                and (in the denominator) ``cm_t``.
            cm_t: ``(units, 1)`` or ``(units, K * N)``, :math:`\tilde c`.
            synapse_weights: The neuron synapses' :meth:`SynapseBank.weights`, or nothing.

        Returns:
            ``(units, K * ode_unfolds, N)`` potentials after each update and the denominators
            of the updates, then each update's ``(R, D, N)`` synapse sigmoids (none without
            synapses): the vjp reuses all but the first.
        """
        bank = self._synapses
        columns = v.shape[-1]
        steps = fixed.shape[-1] // columns
        per_step_cm_t = cm_t.shape[-1] != 1
        trajectory, denominators, sigmoids = [], [], []
        for k in range(steps):
            step_fixed = fixed[..., k * columns : (k + 1) * columns] if steps > 1 else fixed
            step_cm_t = cm_t[:, k * columns : (k + 1) * columns] if per_step_cm_t else cm_t
            for _ in range(self.ode_unfolds):
                terms = step_fixed
                if synapse_weights:
                    sigmoids.append(bank.activations(v, synapse_weights)[1])
                    terms = terms + bank.sums(sigmoids[-1], synapse_weights)
                denominators.append(terms[:, 1])
                v = (step_cm_t * v + terms[:, 0]) / denominators[-1]
                trajectory.append(v)
        return mx.stack(trajectory, axis=1), mx.stack(denominators, axis=1), *sigmoids

    def _unfold_vjp(
        self, primals: tuple[Any, ...], cotangents: Any, outputs: Any
    ) -> tuple[Any, ...]:
        r"""The vjp of :meth:`_unfold`, back through the updates from the last.

        The forward pass keeps the potentials after each update, the denominators and the
        synapse sigmoids (the costliest part to recompute). The vjp runs back a step at a time
        (blocks of ``ode_unfolds`` updates, which stay in the cache); the differences :math:`z`
        of a step's updates are recomputed at once, in an ``(R, D, ode_unfolds * N)`` block
        (column block :math:`j` for update :math:`j`, from the potentials it started from).
        Then, from the last update back, with :math:`\bar v'` the cotangent of an update's
        result :math:`v'` and :math:`\bar t = \bar v' / \mathrm{den}`: the numerator and
        denominator get :math:`\bar t` and :math:`-\bar t\,v'`, :math:`\tilde c` gets
        :math:`\bar t\,v`, and :math:`v` gets :math:`\bar t\,\tilde c` plus what flows back
        through the synapses (:meth:`SynapseBank.presynaptic_cotangent`). Only that recursion
        runs update by update: the other cotangents are taken once per step, over all its
        updates (``fixed`` and ``cm_t`` summed over them), and the synapse weights' summed over
        the steps. Only the potentials' cotangent is used: the other outputs are there for the
        vjp's sake alone.
        """
        v, fixed, cm_t, *weights = primals
        trajectory, den, *sigmoids = outputs
        bank = self._synapses
        units, updates, columns = trajectory.shape
        unfolds = self.ode_unfolds
        steps = updates // unfolds
        per_step_cm_t = cm_t.shape[-1] != 1
        negated = -trajectory
        scale = bank.outgoing_scale(weights[0])
        cotangent = cotangents[0]
        d_v = cotangent[:, -1]
        d_fixed, d_cm_t, d_weights = [], [], None
        for k in reversed(range(steps)):
            first = k * unfolds
            step_cm_t = cm_t[:, k * columns : (k + 1) * columns] if per_step_cm_t else cm_t
            start = v[:, None] if k == 0 else trajectory[:, first - 1 : first]
            incoming = mx.concatenate([start, trajectory[:, first : first + unfolds - 1]], axis=1)
            incoming = mx.reshape(incoming, (units, unfolds * columns))
            s = mx.concatenate(sigmoids[first : first + unfolds], axis=-1)
            slopes = mx.split(s * (1.0 - s), unfolds, axis=-1)
            d_tops, d_arguments = [], []
            for j in reversed(range(unfolds)):
                m = first + j
                d_top = d_v / den[:, m]
                rows = bank.receiver_rows(mx.stack([d_top, d_top * negated[:, m]], axis=1))
                d_arguments.append(bank.argument_cotangent(rows, slopes[j], weights))
                d_v = d_top * step_cm_t + bank.presynaptic_cotangent(d_arguments[-1], scale)
                if m:
                    d_v = d_v + cotangent[:, m - 1]
                d_tops.append(d_top)
            d_top = mx.stack(d_tops[::-1], axis=1)  # (units, unfolds, N)
            d_terms = mx.stack([d_top, d_top * negated[:, first : first + unfolds]], axis=1)
            d_fixed.append(mx.sum(d_terms, axis=2))
            d_terms = mx.reshape(d_terms, (units, 2, unfolds * columns))
            d_step_cm_t = mx.reshape(d_terms[:, 0] * incoming, (units, unfolds, columns))
            d_cm_t.append(mx.sum(d_step_cm_t, axis=1))
            z = bank.differences(incoming, weights)
            d_argument = mx.concatenate(d_arguments[::-1], axis=-1)
            d_step = bank.weights_cotangent(bank.receiver_rows(d_terms), z, s, d_argument, weights)
            d_weights = (
                d_step
                if d_weights is None
                else [a + b for a, b in zip(d_weights, d_step, strict=True)]
            )
        d_fixed = mx.concatenate(d_fixed[::-1], axis=-1)
        d_cm_t = mx.concatenate(d_cm_t[::-1], axis=-1)
        if not per_step_cm_t:  # one step length for the whole batch and block
            d_cm_t = mx.sum(d_cm_t, axis=-1, keepdims=True)
        return d_v, d_fixed, d_cm_t, *d_weights

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
        ts = prepare_step_timespans(ts, batch, x.dtype, positive=True)
        if ts is not None and not isinstance(ts, float):
            ts = ts.T
        u = mx.contiguous(self.map_inputs(x).T)
        return self.step(u, mx.contiguous(state.T), ts, self.prepare()).T


def _uniform(name: str, shape: tuple[int, ...]) -> Any:
    low, high = INIT_RANGES[name]
    return mx.random.uniform(low, high, shape)
