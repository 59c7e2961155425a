"""The liquid time-constant (LTC) cell (Hasani et al., AAAI 2021), wired by a neuron map.

The cell is ncps's torch ``LTCCell``: the same parameters (names, shapes, initial ranges), the same
fused semi-implicit Euler solver and the same input/output mappings, so ncps weights load by name
and give the same outputs. What differs is how the synapses are evaluated: ncps computes every
(source, neuron) pair and masks the unwired ones, materialising ``(batch, units, units)`` tensors
in every ODE unfold; here only the wired synapses are computed (:class:`SynapseBank`), and the
sensory synapses, which do not change within a step, once per step rather than once per unfold.
Gradients come from hand-written vjps (``mx.custom_function``) that keep the potentials and
denominators of every ODE unfold and the synapse sigmoids (of every unfold for the neuron
synapses, of every step for the sensory ones), and nothing else: the vjps take every other
quantity from those, without recomputing an activation. A second-order gradient differentiates
those vjps too, and recomputes the forward for it
(:func:`~ember_mlx.nn.rnn.bptt.differentiable_outputs`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from ember_mlx.backend import mx, nn, to_numpy
from ember_mlx.checkpoint import CheckpointError
from ember_mlx.nn.module import Module
from ember_mlx.nn.neuron_maps import NeuronMap
from ember_mlx.nn.rnn.bptt import differentiable_outputs
from ember_mlx.nn.rnn.sequence import (
    check_state,
    check_step_input,
    in_model_dtype,
    prepare_step_timespans,
)

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
    (``(R, 2, D)``), which gives both sums at once, and places the ``R`` rows at their neurons
    (:meth:`place`): added to a range of rows when the receivers are consecutive neurons (an
    NCP's neuron synapses reach its first neurons, motor and command, its sensory synapses the
    last ones), otherwise through a fixed gather of rows. Values are neuron-major
    (``(sources, N)``, one column per sample), so neither the gather nor the matmul needs a
    transpose. When every pair is wired, the gather is a broadcast.

    :attr:`layout` is public: the Metal LTC kernel's host code reads it.

    The gather, sigmoid and contraction are one ``mx.custom_function`` that also returns the
    ``(R, D, N)`` sigmoids, for its vjp (:class:`LTCCell` calls it once per block of steps, for
    the sensory synapses, and runs the same pieces in its own vjp of the neuron synapses'
    unfolds). With :math:`g` the ``(R, 2, N)`` cotangent of the receivers' sums and
    :math:`\dot a = (W^\top g)\,s(1 - s)` that of the sigmoid's argument (:math:`s` the
    sigmoid):

    .. math::

        \partial W = g\,s^\top, \quad
        \partial v_i = \textstyle\sum_{j} \sigma_{ij}\,\dot a_{ij}, \quad
        \partial\sigma = \textstyle\sum_n \dot a\,(v_i - \mu)
            = \textstyle\sum_n \dot a\,v_i - \mu \sum_n \dot a, \quad
        \partial\mu = -\sigma \textstyle\sum_n \dot a.

    :math:`\partial v` gathers :math:`\dot a` at each source's outgoing slots (:meth:`outgoing`,
    padded to the largest out-degree, the pads weighted zero) and contracts them by a batched
    matmul; the same block, contracted against :math:`[v_i, 1]`, gives the two column sums
    of :math:`\partial\sigma` and :math:`\partial\mu` (:meth:`argument_weights_cotangent`), so
    the differences :math:`v_i - \mu` are never formed in the backward pass.

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
        if not self.count:
            return
        # place() adds the rows to a range of neurons, or, unless the receivers are
        # consecutive, gathers them.
        self._first = int(receivers[0])
        self._receiver_slice = slice(self._first, self._first + self.rows)
        if not np.array_equal(receivers, np.arange(self._first, self._first + self.rows)):
            self._first = None
            # Row of each neuron's sums with a zero row R appended.
            placement = np.full(self.units, self.rows, dtype=np.int32)
            placement[receivers] = np.arange(self.rows)
            self._placement = mx.array(placement)
            self._receivers = mx.array(receivers.astype(np.int32))
        # The adjoint of the gather: each source's outgoing slots (flat slot indices, padded
        # with slot 0), and the position of every slot among them (pads: one past the end).
        by_source = np.argsort(sources[order], kind="stable")
        out_degree = np.bincount(sources, minlength=self.sources)
        fanout = int(out_degree.max())
        out_row = sources[order][by_source]
        out_slot = np.arange(self.count) - np.repeat(np.cumsum(out_degree) - out_degree, out_degree)
        flat_slot = (row * self.slots + slot)[by_source]
        outgoing = np.zeros((self.sources, fanout), dtype=np.int32)
        outgoing[out_row, out_slot] = flat_slot
        outgoing_used = np.zeros((self.sources, 1, fanout), dtype=bool)
        outgoing_used[out_row, 0, out_slot] = True
        position = np.full(self.rows * self.slots, self.sources * fanout, dtype=np.int32)
        position[flat_slot] = out_row * fanout + out_slot
        self._outgoing = mx.array(outgoing.reshape(-1))
        self._outgoing_block = (self.sources, fanout, -1)
        self._outgoing_used = mx.array(outgoing_used)
        self._slot_position = mx.array(position)
        if self.dense:
            return
        self._parameter_index = mx.array(np.ravel(receivers[:, None] + self.units * layout))
        self._presynaptic = mx.array(layout.reshape(-1))
        self._block = (self.rows, self.slots, -1)
        self._used = mx.array(used.reshape(self.rows, 1, self.slots))

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

    def currents(self, presynaptic: Any, weights: Any, base: Any = None) -> Any:
        r"""The two synaptic sums of every neuron, added to ``base``.

        Args:
            presynaptic: ``(sources, N)`` source potentials, one column per sample.
            weights: :meth:`weights` of this pass.
            base: ``(units, 2, N)`` terms to add the sums to; zeros if ``None``.

        Returns:
            ``(units, 2, N)``: ``[:, 0]`` holds :math:`\sum_i a_{ij} E_{ij}` and ``[:, 1]``
            holds :math:`\sum_i a_{ij}` (plus ``base``).
        """
        if base is None:
            base = mx.zeros((self.units, 2, presynaptic.shape[-1]), dtype=presynaptic.dtype)
        if weights is None:
            return base
        return self.place(self._currents(presynaptic, *weights)[0], self.split(base))

    # The pieces of currents() and of its vjp, on any number N of columns.

    def activations(self, presynaptic: Any, weights: Any) -> Any:
        """The ``(R, D, N)`` sigmoids ``s = sigmoid(sigma (v - mu))`` of every slot (arguments
        as in :meth:`currents`)."""
        if self.dense:
            pre = presynaptic[None]
        else:
            pre = mx.reshape(mx.take(presynaptic, self._presynaptic, axis=0), self._block)
        return mx.sigmoid(weights[0] * (pre - weights[1]))

    def sums(self, s: Any, weights: Any) -> Any:
        """The receivers' ``(R, 2, N)`` sums from the sigmoids ``s`` of :meth:`activations`:
        the slots contracted against ``[w E, w]``."""
        return weights[2] @ s

    def split(self, base: Any) -> tuple[Any, ...]:
        """``base``, ``(units, 2, N)``, cut for :meth:`place` (a solver step cuts its fixed
        terms once for all its updates): the rows before the receivers', theirs and those
        after (``None`` where there are none), or ``(base,)`` when a gather places the rows."""
        if self._first is None:
            return (base,)
        start, stop = self._first, self._first + self.rows
        after = base[stop:] if stop < self.units else None
        return base[:start] if start else None, base[start:stop], after

    def place(self, rows: Any, parts: tuple[Any, ...]) -> Any:
        """The :meth:`split` ``base`` plus the receivers' :meth:`sums` ``rows`` at their
        neurons, ``(units, 2, N)`` (both cheaper than a one-hot matmul, forward and back)."""
        if self._first is None:
            zero = mx.zeros((1, *rows.shape[1:]), dtype=rows.dtype)
            return parts[0] + mx.take(mx.concatenate([rows, zero]), self._placement, axis=0)
        before, receivers, after = parts
        placed = receivers + rows
        if before is not None:
            return mx.concatenate([before, placed] if after is None else [before, placed, after])
        return placed if after is None else mx.concatenate([placed, after])

    def receiver_rows(self, x: Any, axis: int = 0) -> Any:
        """The ``R`` rows, along ``axis`` (the neurons' axis), that belong to the receivers, in
        row order: for a cotangent of :meth:`place`, the vjp of the placement."""
        if self._first is None:
            return mx.take(x, self._receivers, axis=axis)
        if self.rows == self.units:
            return x
        return x[(slice(None),) * axis + (self._receiver_slice,)]

    def argument_cotangent(self, rows: Any, s: Any, weight_t: Any) -> Any:
        r"""The cotangent :math:`\dot a = (W^\top g)\,s(1 - s)` of the sigmoids' arguments,
        from the ``(R, 2, N)`` cotangent ``rows`` of the receivers' sums, the ``(R, D, N)``
        sigmoids ``s`` and ``weight_t``, :meth:`weights`' ``weight`` as ``(R, D, 2)``, gathered
        at the sources (:meth:`outgoing`)."""
        product = (weight_t @ rows) * s
        return self.outgoing(product - product * s)

    def outgoing(self, values: Any) -> Any:
        """``(R, D, N)`` values of the slots gathered at their sources: ``(sources, fan-out,
        N)``, row ``i`` holding the slots of the synapses out of source ``i`` (pads repeat slot
        0, which :meth:`outgoing_scale` weighs zero and :meth:`slot_totals` never reads)."""
        flat = mx.reshape(values, (self.rows * self.slots, -1))
        return mx.reshape(mx.take(flat, self._outgoing, axis=0), self._outgoing_block)

    def outgoing_scale(self, sigma: Any) -> Any:
        r"""The ``(sources, 1, fan-out)`` ``sigma`` of every source's :meth:`outgoing` slots,
        zero on the pads: ``scale @ outgoing(d_argument)`` is the presynaptic cotangent
        :math:`\sum_j \sigma_{ij} \dot a_{ij}`."""
        scale = mx.take(mx.reshape(sigma, (-1,)), self._outgoing)
        return mx.where(self._outgoing_used, mx.reshape(scale, (self.sources, 1, -1)), 0.0)

    def slot_totals(self, totals: Any) -> Any:
        """``(sources, k, fan-out)`` values of the :meth:`outgoing` slots back in the layout:
        ``(R, D, k)``, zero on the pad slots."""
        k = totals.shape[1]
        flat = mx.reshape(mx.swapaxes(totals, 1, 2), (-1, k))
        flat = mx.concatenate([flat, mx.zeros((1, k), dtype=flat.dtype)])
        return mx.reshape(mx.take(flat, self._slot_position, axis=0), (self.rows, self.slots, k))

    def argument_weights_cotangent(self, totals: Any, weights: Any) -> tuple[Any, Any]:
        r"""The cotangents of :meth:`weights`' ``sigma`` and ``mu``,
        :math:`\partial\sigma = \sum_n \dot a\,v_i - \mu \sum_n \dot a` and
        :math:`\partial\mu = -\sigma \sum_n \dot a`, from ``totals``, the ``(sources, 2,
        fan-out)`` products ``[v, 1] @ outgoing(d_argument)^T`` (summed over any number of
        calls), :math:`\dot a` being the cotangent of the sigmoid's argument."""
        sums = self.slot_totals(totals)
        return sums[..., :1] - weights[1] * sums[..., 1:], -weights[0] * sums[..., 1:]

    def _currents(self, *arrays: Any) -> tuple[Any, Any]:
        """:meth:`_currents_forward` with its hand-written vjp. The ``mx.custom_function`` is
        made per call rather than kept: MLX's does not pickle or deepcopy, and a model must."""
        currents = mx.custom_function(self._currents_forward)
        currents.vjp(self._currents_vjp)
        return currents(*arrays)

    def _currents_forward(
        self, presynaptic: Any, sigma: Any, mu: Any, weight: Any
    ) -> tuple[Any, Any]:
        """The receivers' :meth:`sums`, and the sigmoids for the vjp."""
        weights = (sigma, mu, weight)
        s = self.activations(presynaptic, weights)
        return self.sums(s, weights), s

    def _currents_vjp(
        self, primals: tuple[Any, ...], cotangents: Any, outputs: Any
    ) -> tuple[Any, Any, Any, Any]:
        presynaptic, *weights = primals
        rows = cotangents[0]  # (R, 2, N)
        s = differentiable_outputs(self._currents_forward, primals, outputs)[1]  # (R, D, N)
        outgoing = self.argument_cotangent(rows, s, mx.swapaxes(weights[2], 1, 2))
        d_pre = mx.reshape(self.outgoing_scale(weights[0]) @ outgoing, presynaptic.shape)
        with_ones = mx.stack([presynaptic, mx.ones_like(presynaptic)], axis=1)
        totals = with_ones @ mx.swapaxes(outgoing, 1, 2)
        # s @ rows^T, transposed: the long column axis is contiguous in both operands, which
        # makes the batched matmul about twice as fast as rows @ s^T.
        d_weight = mx.swapaxes(s @ mx.swapaxes(rows, 1, 2), 1, 2)
        return d_pre, *self.argument_weights_cotangent(totals, weights), d_weight


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
    def dtype(self) -> Any:
        """The dtype the cell computes in: its weights'."""
        return self.cm.dtype

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
        leak = mx.broadcast_to(leak, (self.units, 2, u.shape[-1]))
        return self._sensory_synapses.currents(u, sensory_weights, leak), cm_t

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
        return unfold(v, fixed, cm_t, *(synapse_weights or ()))[0]

    def _unfold_with_vjp(self, *arrays: Any) -> tuple[Any, ...]:
        """:meth:`_unfold` with its hand-written vjp (a new ``mx.custom_function`` per call, as
        in :meth:`SynapseBank._currents`)."""
        unfold = mx.custom_function(self._unfold)
        unfold.vjp(self._unfold_vjp)
        return unfold(*arrays)

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
            The ``(units, K, N)`` potentials after each step, then what the vjp reuses: the
            ``(K * ode_unfolds, units, N)`` denominators and potentials after each update, and
            each update's ``(R, D, N)`` synapse sigmoids (none without synapses).
        """
        bank = self._synapses
        columns = v.shape[-1]
        steps = fixed.shape[-1] // columns
        per_step_cm_t = cm_t.shape[-1] != 1
        trajectory, denominators, sigmoids = [], [], []
        for k in range(steps):
            step_fixed = fixed[..., k * columns : (k + 1) * columns] if steps > 1 else fixed
            step_cm_t = cm_t[:, k * columns : (k + 1) * columns] if per_step_cm_t else cm_t
            parts = bank.split(step_fixed) if synapse_weights else None
            for _ in range(self.ode_unfolds):
                terms = step_fixed
                if synapse_weights:
                    s = bank.activations(v, synapse_weights)
                    terms = bank.place(bank.sums(s, synapse_weights), parts)
                    sigmoids.append(s)
                den = terms[:, 1]
                v = (step_cm_t * v + terms[:, 0]) / den
                denominators.append(den)
                trajectory.append(v)
        finals = mx.stack(trajectory[self.ode_unfolds - 1 :: self.ode_unfolds], axis=1)
        return finals, mx.stack(denominators), mx.stack(trajectory), *sigmoids

    def _unfold_vjp(
        self, primals: tuple[Any, ...], cotangents: Any, outputs: Any
    ) -> tuple[Any, ...]:
        r"""The vjp of :meth:`_unfold`, back through the updates from the last.

        The forward pass keeps the potentials after each update, the denominators and the
        synapse sigmoids (the costliest part to recompute). With :math:`\bar v'` the cotangent
        of an update's result :math:`v'` and :math:`\bar t = \bar v' / \mathrm{den}`, the
        numerator and denominator get :math:`\bar t` and :math:`-\bar t\,v'`, :math:`\tilde c`
        gets :math:`\bar t\,v`, and :math:`v` gets :math:`\bar t\,\tilde c` plus what flows back
        through the synapses: with :math:`g = \bar t\,[1, -v']` on the receivers' rows (the
        sums' cotangent), the sigmoid arguments get :math:`\dot a = (W^\top g)\,s(1 - s)` and
        the potentials :math:`\sum_j \sigma_{ij}\dot a_{ij}` (:class:`SynapseBank`). Only that
        recursion runs update by update, on ``(units, 1, N)`` potentials so that no reshape
        sits in it; each update also yields its share of the weights' cotangents in the
        smallest form each has, :math:`g\,s^\top` (``(R, 2, D)``) and, at the outgoing slots,
        :math:`\sum_n [v_i, 1]\,\dot a` (:meth:`SynapseBank.argument_weights_cotangent`),
        summed at the end, where those of ``fixed`` and ``cm_t`` are taken for all updates at
        once. Only the cotangent of the steps' potentials is used: the other outputs are there
        for the vjp's sake alone.
        """
        v, fixed, cm_t, *weights = primals
        # den, after: (updates, units, N)
        _, den, after, *sigmoids = differentiable_outputs(self._unfold, primals, outputs)
        bank = self._synapses
        updates, units, columns = den.shape
        unfolds = self.ode_unfolds
        steps = updates // unfolds
        per_step_cm_t = cm_t.shape[-1] != 1
        scale = bank.outgoing_scale(weights[0])
        transposed = mx.contiguous(mx.swapaxes(weights[2], 1, 2))  # (R, D, 2)
        # What each update reads, set out once: [v, 1] of the potentials it starts from, for
        # the totals, and [1, -v'] of the receivers' results, which times t is g.
        before = mx.concatenate([mx.expand_dims(v, 0), after[:-1]])
        with_ones = list(mx.stack([before, mx.ones_like(before)], axis=2))
        received = bank.receiver_rows(after, axis=1)
        received = list(mx.stack([mx.ones_like(received), -received], axis=2))
        dens = list(mx.expand_dims(den, 2))
        cotangent = mx.expand_dims(cotangents[0], 2)  # (units, steps, 1, N)
        cm_t = mx.expand_dims(cm_t, 1)
        d_v = None
        d_tops, totals, d_weight = [], [], []
        for m in reversed(range(updates)):
            if m % unfolds == unfolds - 1:  # the last update of step k
                k = m // unfolds
                d_v = cotangent[:, k] if d_v is None else d_v + cotangent[:, k]
                step_cm_t = cm_t[..., k * columns : (k + 1) * columns] if per_step_cm_t else cm_t
            s = sigmoids[m]
            d_top = d_v / dens[m]  # (units, 1, N)
            g = received[m] * bank.receiver_rows(d_top)  # (R, 2, N)
            outgoing = bank.argument_cotangent(g, s, transposed)
            d_v = d_top * step_cm_t + scale @ outgoing
            # Both products in the layouts that keep the batched matmuls fast.
            totals.append(with_ones[m] @ mx.swapaxes(outgoing, 1, 2))  # (units, 2, fan-out)
            d_weight.append(g @ mx.swapaxes(s, 1, 2))  # (R, 2, D)
            d_tops.append(d_top)
        by_step = (steps, unfolds, units, columns)
        d_top = mx.reshape(mx.stack(d_tops[::-1]), by_step)
        d_num = mx.sum(d_top, axis=1)  # (steps, units, N)
        d_den = -mx.sum(d_top * mx.reshape(after, by_step), axis=1)
        d_fixed = mx.transpose(mx.stack([d_num, d_den], axis=2), (1, 2, 0, 3))
        d_fixed = mx.reshape(d_fixed, (units, 2, steps * columns))
        d_cm_t = mx.sum(d_top * mx.reshape(before, by_step), axis=1)
        if per_step_cm_t:
            d_cm_t = mx.reshape(mx.swapaxes(d_cm_t, 0, 1), (units, steps * columns))
        else:  # one step length for the whole batch and block
            d_cm_t = mx.sum(d_cm_t, axis=(0, 2))[:, None]
        totals = mx.sum(mx.stack(totals), axis=0)
        d_weight = mx.sum(mx.stack(d_weight), axis=0)
        d_sigma, d_mu = bank.argument_weights_cotangent(totals, weights)
        return mx.reshape(d_v, (units, columns)), d_fixed, d_cm_t, d_sigma, d_mu, d_weight

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
        batch = check_step_input(x, self.input_size)
        x, state = in_model_dtype((x, state), self.dtype)
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
