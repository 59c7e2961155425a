"""LTC: a liquid time-constant network over a batch-first sequence (ncps's torch ``LTC``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ember_mlx.backend import mx, to_numpy
from ember_mlx.kernels import ltc_scan
from ember_mlx.nn.module import Module
from ember_mlx.nn.neuron_maps import FullyConnectedMap, NeuronMap
from ember_mlx.nn.rnn.ltc_cell import LTCCell
from ember_mlx.nn.rnn.sequence import (
    MixedMemoryCell,
    check_input,
    check_state,
    constant_timespan,
    in_model_dtype,
    prepare_timespans,
    unstack_steps,
)
from ember_mlx.nn.spelling import either


class LTC(Module):
    r"""A liquid time-constant network: :class:`LTCCell` run over ``(batch, steps, features)``.

    The same model as ncps's torch ``LTC`` (weights load by name: ``rnn_cell.*``, ``lstm.*``), with
    per-sample step lengths that work for any batch size (ncps broadcasts ``(batch,)`` step lengths
    against the units axis, which fails or silently mixes samples unless ``batch == 1``).

    Everything that does not change within a call is done once, before the time loop: the
    synapse parameters are made positive and gathered into the cell's sparse layout, and the
    sensory synapses, which do not depend on the potentials, are evaluated for blocks of steps
    at once (:meth:`LTCCell.drive`). Each step's ODE unfolds then evaluate only the neuron
    synapses. For training, the cell's vjp keeps only the potentials, denominators and synapse
    sigmoids of each unfold.

    Args:
        input_size: Number of input features.
        units: A :class:`~ember_mlx.nn.NeuronMap` (built here for ``input_size``), or a number of
            neurons for ``FullyConnectedMap(units)`` (ncps's default seed), all of them outputs.
        return_sequences: Return the output of every step, ``(batch, steps, output_size)``, or
            only the last one, ``(batch, output_size)``.
        mixed_memory: Run an LSTM (:class:`MixedMemoryCell`) on the input before the cell in
            every step; its hidden state replaces the cell's incoming state, and the state
            becomes a pair ``(h, c)``.
        input_mapping: See :class:`LTCCell`.
        output_mapping: See :class:`LTCCell`.
        ode_unfolds: See :class:`LTCCell`.
        epsilon: See :class:`LTCCell`.
        implicit_param_constraints: See :class:`LTCCell`. The default here is ``True``, as in
            ncps's ``LTC`` (its cell defaults to ``False``).
        hidden_size: The seeds' examples' name for ``units``.

    Call ``ltc(x, state=None, timespans=None)``:

    * ``x``: ``(batch, steps, input_size)``;
    * ``state``: ``(batch, units)`` initial potentials (zeros if ``None``); with
      ``mixed_memory``, a pair ``(h, c)`` of such arrays;
    * ``timespans``: step lengths, a positive number, ``(batch, steps)`` or
      ``(batch, steps, 1)``; ``None`` means 1.

    It returns ``(y, state)``: the outputs and the final state, in the same form as ``state``.
    """

    def __init__(
        self,
        input_size: int,
        units: int | NeuronMap | None = None,
        return_sequences: bool = True,
        mixed_memory: bool = False,
        input_mapping: str | None = "affine",
        output_mapping: str | None = "affine",
        ode_unfolds: int = 6,
        epsilon: float = 1e-8,
        implicit_param_constraints: bool = True,
        *,
        hidden_size: int | None = None,
    ):
        super().__init__()
        units = either("units", units, "hidden_size", hidden_size)
        if units is None:
            raise TypeError("units: required, a neuron map or a number of neurons")
        neuron_map = units if isinstance(units, NeuronMap) else FullyConnectedMap(units)
        self.rnn_cell = LTCCell(
            neuron_map,
            input_size,
            input_mapping=input_mapping,
            output_mapping=output_mapping,
            ode_unfolds=ode_unfolds,
            epsilon=epsilon,
            implicit_param_constraints=implicit_param_constraints,
        )
        self.input_size = input_size
        self.units = neuron_map.units
        self.output_size = neuron_map.output_dim
        self.return_sequences = bool(return_sequences)
        self.mixed_memory = bool(mixed_memory)
        if self.mixed_memory:
            self.lstm = MixedMemoryCell(input_size, self.units)

    @property
    def neuron_map(self) -> NeuronMap:
        """The wiring of the cell."""
        return self.rnn_cell.neuron_map

    @property
    def state_size(self) -> int:
        """Size of the state: one potential per neuron."""
        return self.units

    def apply_weight_constraints(self) -> None:
        """See :meth:`LTCCell.apply_weight_constraints`."""
        self.rnn_cell.apply_weight_constraints()

    def load_torch_state_dict(self, state_dict: Mapping[str, Any]) -> LTC:
        """Copy the weights of an ncps torch ``LTC`` with the same configuration and wiring
        (``batch_first`` either way). Returns the layer.

        Raises:
            CheckpointError: See :meth:`LTCCell.load_torch_state_dict`.
        """
        arrays = {name: to_numpy(value) for name, value in state_dict.items()}
        arrays = self.rnn_cell._drop_torch_masks(arrays, prefix="rnn_cell.")
        return self.load_arrays(arrays, source="ncps state_dict")

    def _initial_state(self, state: Any, batch: int, dtype: Any) -> tuple[Any, Any]:
        """``(h, c)`` from the caller's ``state`` (``c`` is ``None`` without mixed memory)."""
        if state is None:
            zeros = mx.zeros((batch, self.units), dtype=dtype)
            return zeros, zeros if self.mixed_memory else None
        if not self.mixed_memory:
            check_state(state, batch, self.units, "state")
            return state, None
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            raise ValueError(
                "state: with mixed_memory=True the state is a pair (h, c), "
                f"got {type(state).__name__}"
            )
        check_state(state[0], batch, self.units, "state[0]")
        check_state(state[1], batch, self.units, "state[1]")
        return state[0], state[1]

    def __call__(self, x: Any, state: Any = None, timespans: Any = None) -> tuple[Any, Any]:
        batch, steps = check_input(x, self.input_size)
        x, state = in_model_dtype((x, state), self.rnn_cell.dtype)
        h, c = self._initial_state(state, batch, x.dtype)
        cell = self.rnn_cell
        # The solver runs neuron-major and time-major: step t reads a contiguous
        # (features, batch) block.
        u = mx.contiguous(mx.transpose(cell.map_inputs(x), (1, 2, 0)))
        # A zero step would divide the capacitance term by zero: refuse it where it is known.
        ts = constant_timespan(timespans, positive=True)
        if ts is None:
            ts = prepare_timespans(timespans, batch, steps, x.dtype, positive=True)
            ts = mx.contiguous(mx.transpose(ts, (1, 2, 0)))
        prepared = cell.prepare()
        if self.mixed_memory:
            y, v, c = self._scan_mixed(x, u, mx.contiguous(h.T), c, ts, prepared)
        else:
            # One Metal dispatch on Apple silicon, the loop of cell.step elsewhere.
            y, v = ltc_scan(cell, u, mx.contiguous(h.T), ts, prepared, self.return_sequences)
        y = mx.transpose(y, (2, 0, 1)) if self.return_sequences else y[-1].T
        return cell.readout(y), (v.T, c) if self.mixed_memory else v.T

    def _scan_mixed(
        self, x: Any, u: Any, v: Any, c: Any, ts: Any, prepared: tuple[Any, ...]
    ) -> tuple[Any, Any, Any]:
        """The time loop with mixed memory: the LSTM's new ``h`` replaces the cell's incoming
        potentials in every step. Returns the motor potentials ``(steps or 1, output_size,
        batch)``, the final potentials ``(units, batch)`` and the LSTM's ``c``."""
        cell = self.rnn_cell
        inputs = unstack_steps(u)
        ts = [ts] * len(inputs) if isinstance(ts, float) else unstack_steps(ts)
        projected = unstack_steps(self.lstm.project_input(mx.swapaxes(x, 0, 1)))
        outputs = []
        for t in range(len(inputs)):
            h, c = self.lstm.step(projected[t], (v.T, c))
            v = cell.step(inputs[t], mx.contiguous(h.T), ts[t], prepared)
            if self.return_sequences or t == len(inputs) - 1:
                outputs.append(v[: self.output_size])
        return mx.stack(outputs), v, c
