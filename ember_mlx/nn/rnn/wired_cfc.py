r"""The wired CfC cell: CfC cells stacked along the layers of a neuron map (ncps's torch
``WiredCfCCell``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from ember_mlx.backend import mx
from ember_mlx.kernels import wired_cfc_scan
from ember_mlx.nn.module import Module
from ember_mlx.nn.neuron_maps import NeuronMap
from ember_mlx.nn.rnn.cfc_cell import (
    CfCCell,
    Weights,
    cfc_update,
    check_mode,
    load_ncps_state_dict,
)
from ember_mlx.nn.rnn.sequence import (
    MixedMemoryCell,
    check_state,
    check_step_input,
    in_model_dtype,
    prepare_step_timespans,
    unstack_steps,
)


class WaveWeights(NamedTuple):
    """A wired cell's weights for one sequence, as :meth:`WiredCfCCell.scan` runs it: the input
    share ``input_t`` (layer 0's columns) with every layer's bias, the block matrix on the whole
    state ``hidden_t``, ``(w_tau, A)`` of all units in ``pure`` mode, and the folded elapsed time
    ``ts`` (see :meth:`CfCCell.prepare`)."""

    input_t: Any
    input_bias: Any
    hidden_t: Any
    pure: tuple[Any, Any] | None
    ts: float | None


class WiredCfCCell(Module):
    r"""A CfC cell whose neurons and synapses come from a neuron map.

    Layer :math:`l` of the map (for an NCP: inter, command, motor neurons; for other maps one
    layer of all neurons) is a backbone-free :class:`CfCCell` ``layer_{l}`` whose input is the
    previous layer's new state (the network input for layer 0). The map masks each layer's
    :math:`f_1, f_2` heads: input :math:`i` reaches neuron :math:`j` only through a synapse
    :math:`i \to j` (sensory synapses for layer 0), while a layer's own state feeds all its
    neurons and the time heads stay dense, exactly as in ncps. The masks are built once, here.

    The state is ordered by layer, ``[layer 0 | layer 1 | ...]`` (for an NCP
    ``[inter | command | motor]``, ncps's layout). The output, :meth:`output`, is the motor
    neurons' part of the state (neuron ids ``0 .. output_size - 1``). For an NCP that is the last
    layer, as in ncps; for a single-layer map (``FullyConnectedMap``, ``RandomMap``) ncps returns
    all ``units`` neurons instead, which ignores ``output_dim`` and breaks a projection on top.

    A sequence runs through :meth:`scan`, all layers at once as a wavefront (one matmul per
    step instead of two per layer); a single step, or a step of a mixed-memory layer, runs layer
    after layer through :meth:`step`. :meth:`load_torch_state_dict` copies an ncps
    ``WiredCfCCell`` built from an equal wiring.

    Args:
        neuron_map: The wiring; built here for ``input_size``.
        input_size: Number of input features, or ``None`` if ``neuron_map`` is built.
        mode: ``"default"``, ``"pure"`` or ``"no_gate"`` (see :class:`CfCCell`).
        mixed_memory: Run an LSTM (:class:`MixedMemoryCell`, ``memory``) on the input before
            the cell in every call, as ncps's mixed memory; the state is then ``(h, c)``.
            (A sequence layer, ``CfC(..., mixed_memory=True)``, keeps its own.)

    Call ``cell(x, state=None, ts=None)`` as a :class:`CfCCell`, with ``state`` of shape
    ``(batch, units)``; returns the next state. With ``mixed_memory`` the state is ``(h, c)``
    (a bare ``h`` starts ``c`` at zero) and the call returns ``(h', c')``.
    """

    def __init__(
        self,
        neuron_map: NeuronMap,
        input_size: int | None = None,
        mode: str = "default",
        mixed_memory: bool = False,
    ):
        super().__init__()
        if not isinstance(mixed_memory, bool):
            raise TypeError(f"mixed_memory: expected a bool, got {type(mixed_memory).__name__}")
        if not isinstance(neuron_map, NeuronMap):
            raise TypeError(f"neuron_map: expected a NeuronMap, got {type(neuron_map).__name__}")
        if input_size is None and not neuron_map.is_built():
            raise ValueError(
                f"input_size: {type(neuron_map).__name__} is not built; give the input size"
            )
        neuron_map.build(input_size)
        self.neuron_map = neuron_map
        self.input_size = neuron_map.input_dim
        self.mode = check_mode(mode)

        layers = [list(neuron_map.get_neurons_of_layer(k)) for k in range(neuron_map.num_layers)]
        self._layer_sizes = tuple(len(neurons) for neurons in layers)
        sources, in_features = None, self.input_size
        for k, neurons in enumerate(layers):
            if sources is None:
                synapses = neuron_map.sensory_adjacency_matrix[:, neurons]
            else:
                synapses = neuron_map.adjacency_matrix[np.ix_(sources, neurons)]
            mask = np.concatenate([synapses, np.ones((len(neurons), len(neurons)))], axis=0)
            cell = CfCCell(in_features, len(neurons), mode, backbone_layers=0, sparsity_mask=mask)
            setattr(self, f"layer_{k}", cell)
            sources, in_features = neurons, len(neurons)

        # Where the motor neurons sit in the layer-ordered state: a slice for every map ncps
        # knows (the last layer of an NCP, the first columns of a single-layer map).
        order = [neuron for neurons in layers for neuron in neurons]
        motor = [order.index(m) for m in neuron_map.motor_neurons]
        if motor == list(range(motor[0], motor[0] + len(motor))):
            self._motor = (motor[0], motor[0] + len(motor))
        else:
            self._motor = mx.array(np.asarray(motor, dtype=np.int32))
        if mixed_memory:
            self.memory = MixedMemoryCell(self.input_size, neuron_map.units)

    @property
    def layer_sizes(self) -> list[int]:
        """Number of neurons in each layer."""
        return list(self._layer_sizes)

    @property
    def layers(self) -> list[CfCCell]:
        """The per-layer cells, ``layer_0``, ``layer_1``, ..."""
        return [self[f"layer_{k}"] for k in range(len(self._layer_sizes))]

    @property
    def state_size(self) -> int:
        """Size of the state: one value per neuron."""
        return self.neuron_map.units

    @property
    def dtype(self) -> Any:
        """The dtype the cell computes in: its weights'."""
        return self.layer_0.dtype

    @property
    def output_size(self) -> int:
        """Number of motor neurons."""
        return self.neuron_map.output_dim

    @property
    def synapse_count(self) -> int:
        """Number of synapses between neurons in the map."""
        return self.neuron_map.synapse_count

    @property
    def sensory_synapse_count(self) -> int:
        """Number of synapses from the inputs (ncps's property returns the internal count)."""
        return self.neuron_map.sensory_synapse_count

    def prepare(self, ts: float | None = 1.0) -> list[Weights]:
        """Each layer's weights for one forward pass (see :meth:`CfCCell.prepare`)."""
        return [cell.prepare(ts) for cell in self.layers]

    def project_input(self, x: Any, weights: list[Weights]) -> Any:
        """Layer 0's input share of its heads, for any leading axes of ``x``."""
        return self.layers[0].project_input(x, weights[0])

    def split_state(self, h: Any) -> list[Any]:
        """The per-layer parts of a ``(batch, units)`` state."""
        parts, start = [], 0
        for size in self._layer_sizes:
            parts.append(h[:, start : start + size])
            start += size
        return parts

    def merge_state(self, states: list[Any]) -> Any:
        """The ``(batch, units)`` state from its per-layer parts."""
        return mx.concatenate(states, axis=1) if len(states) > 1 else states[0]

    def step(self, projected: Any, states: list[Any], ts: Any, weights: list[Weights]) -> list[Any]:
        """The next per-layer states; ``projected`` is :meth:`project_input` of this step."""
        new = []
        for k, (cell, h, w) in enumerate(zip(self.layers, states, weights, strict=True)):
            p = projected if k == 0 else cell.project_input(new[-1], w)
            new.append(cell.step(p, h, ts, w))
        return new

    def output(self, h: Any) -> Any:
        """The motor neurons, ``(batch, output_size)``, of a ``(batch, units)`` state."""
        if isinstance(self._motor, tuple):
            start, stop = self._motor
            return h if stop - start == h.shape[1] else h[:, start:stop]
        return mx.take(h, self._motor, axis=1)

    def scan(
        self, x: Any, h: Any, timespans: Any, constant_ts: float | None, all_outputs: bool
    ) -> tuple[Any, Any]:
        """Run the cell over a time-major sequence (arguments as :meth:`CfCCell.scan`).

        The input's share of every step is one matmul; the recurrence then runs through
        :func:`~ember_mlx.kernels.wired_cfc_scan`: one Metal dispatch on Apple silicon,
        :meth:`scan_projected` elsewhere.
        """
        weights = self.wave_weights(constant_ts)
        projected = x @ weights.input_t + weights.input_bias
        return wired_cfc_scan(self, projected, h, timespans, weights, all_outputs)

    def scan_projected(
        self, projected: Any, h: Any, timespans: Any, weights: WaveWeights, all_outputs: bool
    ) -> tuple[Any, Any]:
        """The recurrence of :meth:`scan` in ``mx`` ops, from the projected input
        ``(steps, batch, heads * units)`` and the weights of :meth:`wave_weights`; returns the
        time-major outputs and the final state, as :meth:`scan`.

        The layers run as a wavefront: in wave :math:`w` layer :math:`l` does step
        :math:`w - l`, whose input, layer :math:`l - 1`'s step :math:`w - l`, came out of wave
        :math:`w - 1`. All layers of a wave then read only the previous wave's state, so a wave is
        one matmul of the whole state with a block matrix (each layer's masked weights in its
        rows and columns, zeros elsewhere) and one elementwise update of all units: the same
        math as layer after layer in every step, with one step's work per wave instead of one
        per layer. The first and last ``layers - 1`` waves keep the layers that have not started
        or have finished. A layer past layer 0 takes only the bias from ``projected``, the same
        in every step, so the waves from ``steps`` on read the last step's.
        """
        steps, n_layers = projected.shape[0], len(self._layer_sizes)
        waves = steps + n_layers - 1
        projected = unstack_steps(projected)
        if timespans is None:
            ts = [None] * waves
        else:
            # Layer l is at step w - l in wave w.
            per_layer = [
                mx.broadcast_to(
                    mx.pad(timespans, [(k, n_layers - 1 - k), (0, 0), (0, 0)]),
                    (waves, timespans.shape[1], size),
                )
                for k, size in enumerate(self._layer_sizes)
            ]
            ts = unstack_steps(mx.concatenate(per_layer, axis=2))
        layer_of_unit = np.repeat(np.arange(n_layers), self._layer_sizes)
        outputs = []
        for w in range(waves):
            new = mx.addmm(projected[min(w, steps - 1)], h, weights.hidden_t)
            new = cfc_update(new, self.mode, ts[w], weights.ts, weights.pure)
            if w < n_layers - 1 or w >= steps:
                running = (layer_of_unit <= w) & (w - layer_of_unit < steps)
                new = mx.where(mx.array(running[None]), new, h)
            h = new
            if w >= n_layers - 1 and (all_outputs or w == waves - 1):
                outputs.append(self.output(h))
        return mx.stack(outputs), h

    def wave_weights(self, constant_ts: float | None) -> WaveWeights:
        """The block matrices of :meth:`scan`, from every layer's :meth:`CfCCell.prepare`.

        Columns are ``[head 0 of all layers | head 1 of all layers | ...]``, each head in state
        order, so a wave's update works on whole ``(batch, units)`` blocks.
        """
        layers = self.layers
        prepared = [cell.prepare(constant_ts) for cell in layers]
        units, inputs = self.state_size, self.input_size
        offsets = np.cumsum([0, *self._layer_sizes])
        hidden, input_part, bias = [], [], []
        for head in range(prepared[0].input_bias.shape[0] // self._layer_sizes[0]):
            for k, (w, n) in enumerate(zip(prepared, self._layer_sizes, strict=True)):
                cols = slice(head * n, (head + 1) * n)
                if k == 0:
                    rows, start = w.hidden_t[:, cols], 0
                    input_part.append(w.input_t[:, cols])
                else:
                    # Layer k reads layer k-1 (its input) and itself: adjacent row blocks.
                    rows = mx.concatenate([w.input_t[:, cols], w.hidden_t[:, cols]], axis=0)
                    start = int(offsets[k - 1])
                    input_part.append(mx.zeros((inputs, n), dtype=rows.dtype))
                hidden.append(mx.pad(rows, [(start, units - start - rows.shape[0]), (0, 0)]))
                bias.append(w.input_bias[cols])
        pure = None
        if self.mode == "pure":
            pure = tuple(
                mx.concatenate([c[name] for c in layers], axis=1) for name in ("w_tau", "A")
            )
        return WaveWeights(
            mx.concatenate(input_part, axis=1),
            mx.concatenate(bias),
            mx.concatenate(hidden, axis=1),
            pure,
            constant_ts,
        )

    def __call__(self, x: Any, state: Any = None, ts: Any = None) -> Any:
        batch = check_step_input(x, self.input_size)
        x, state = in_model_dtype((x, state), self.dtype)
        if isinstance(state, tuple):
            if len(state) != 2 or "memory" not in self:
                expected = "a pair (h, c)" if "memory" in self else "an array (no mixed memory)"
                raise ValueError(f"state: expected {expected}, got a tuple of {len(state)}")
            state, memory = state
        else:
            memory = None
        if state is None:
            state = mx.zeros((batch, self.state_size), dtype=x.dtype)
        else:
            check_state(state, batch, self.state_size, "state")
        if "memory" in self:
            if memory is None:
                memory = mx.zeros_like(state)
            check_state(memory, batch, self.state_size, "state[1]")
            state, memory = self.memory(x, (state, memory))
        ts = prepare_step_timespans(ts, batch, x.dtype)
        constant = ts is None or isinstance(ts, float)
        weights = self.prepare((1.0 if ts is None else ts) if constant else None)
        projected = self.project_input(x, weights)
        states = self.step(projected, self.split_state(state), None if constant else ts, weights)
        h = self.merge_state(states)
        return (h, memory) if "memory" in self else h

    def load_torch_state_dict(self, state_dict: Mapping[str, Any]) -> WiredCfCCell:
        """Copy the weights of an ncps ``WiredCfCCell`` (torch) built from an equal wiring;
        returns the cell. Its ``sparsity_mask`` entries must equal this cell's masks.

        Raises:
            CheckpointError: If names, shapes or masks differ; then nothing is changed.
        """
        return load_ncps_state_dict(self, state_dict)
