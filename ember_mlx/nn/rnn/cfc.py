"""CfC: a closed-form continuous-time network over a batch-first sequence (ncps's torch ``CfC``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ember_mlx.backend import mx, nn
from ember_mlx.nn.module import Module
from ember_mlx.nn.neuron_maps import NeuronMap
from ember_mlx.nn.rnn.cfc_cell import CfCCell, load_ncps_state_dict
from ember_mlx.nn.rnn.sequence import (
    MixedMemoryCell,
    check_input,
    check_state,
    constant_timespan,
    in_model_dtype,
    prepare_timespans,
    unstack_steps,
)
from ember_mlx.nn.rnn.wired_cfc import WiredCfCCell
from ember_mlx.nn.spelling import either
from ember_mlx.validation import check_count


class CfC(Module):
    r"""A CfC network: a :class:`CfCCell` (or, given a neuron map, a :class:`WiredCfCCell`) run
    over ``(batch, steps, features)``.

    The same model as ncps's torch ``CfC`` (``batch_first=True``); weights load from it with
    :meth:`load_torch_state_dict` (names ``rnn_cell.*``, ``lstm.*``, ``fc.*``). Two ncps faults
    are fixed: per-sample timespans ``(batch, steps)`` apply per sample for any batch size (ncps
    broadcasts them against the units axis, which fails, or silently mixes samples when
    ``batch == units``), and a wired network built on a single-layer map (``FullyConnectedMap``,
    ``RandomMap``) outputs its ``output_dim`` motor neurons (ncps outputs all ``units``, and its
    ``proj_size`` then fails).

    Everything that does not depend on the state runs once per call, outside the time loop: the
    heads are stacked into one matrix and masked, and the input's share of the first matmul (and
    of the mixed-memory LSTM) is one matmul over all steps; the projection ``proj_size`` is one
    matmul over all outputs. A step is then one matmul on the state (plus one for the heads with a
    backbone, one per further layer for a wired cell) and elementwise math. An unwired cell in a
    gated mode with a constant elapsed time and at most one backbone layer (the default) runs
    its time loop through :func:`~ember_mlx.nn.rnn.bptt.recurrence`, whose hand-written
    backward pass runs only the state recurrence and no per-op graph. Nothing is evaluated
    inside a call: on MLX a sequence is one lazy graph, which ``mx.compile`` can trace.

    Args:
        input_size: Number of input features.
        units: Number of hidden units, or a :class:`~ember_mlx.nn.NeuronMap` (built here for
            ``input_size``) for a wired network whose outputs are the motor neurons.
        proj_size: If given, an affine layer ``fc`` maps every output to ``proj_size`` features.
        return_sequences: Return the output of every step, ``(batch, steps, out)``, or only the
            last one, ``(batch, out)``.
        mixed_memory: Run an LSTM (:class:`~ember_mlx.nn.rnn.sequence.MixedMemoryCell`) on the
            input before the cell in every step; its hidden state replaces the cell's incoming
            state, and the state becomes a pair ``(h, c)``.
        mode: ``"default"``, ``"pure"`` or ``"no_gate"`` (see :class:`CfCCell`).
        activation: Backbone activation (unwired only).
        backbone_units: Backbone width, default 128 (unwired only).
        backbone_layers: Number of backbone layers, default 1 (unwired only).
        backbone_dropout: Backbone dropout, default 0 (unwired only).
        hidden_size: The seeds' examples' name for ``units``.

    Call ``cfc(x, state=None, timespans=None)``:

    * ``x``: ``(batch, steps, input_size)``;
    * ``state``: ``(batch, state_size)`` initial state (zeros if ``None``); with
      ``mixed_memory``, a pair ``(h, c)`` of such arrays. A wired state is ordered by layer
      (see :class:`WiredCfCCell`);
    * ``timespans``: elapsed time of each step, a number, ``(batch, steps)`` or
      ``(batch, steps, 1)``; ``None`` means 1.

    It returns ``(y, state)``: the outputs and the final state, in the same form as ``state``.
    """

    def __init__(
        self,
        input_size: int,
        units: int | NeuronMap | None = None,
        proj_size: int | None = None,
        return_sequences: bool = True,
        mixed_memory: bool = False,
        mode: str = "default",
        activation: str = "lecun_tanh",
        backbone_units: int | None = None,
        backbone_layers: int | None = None,
        backbone_dropout: float | None = None,
        *,
        hidden_size: int | None = None,
    ):
        super().__init__()
        self.input_size = check_count("input_size", input_size)
        units = either("units", units, "hidden_size", hidden_size)
        if units is None:
            raise TypeError("units: required, a neuron map or a number of neurons")
        if isinstance(units, NeuronMap):
            backbone = {
                "backbone_units": backbone_units,
                "backbone_layers": backbone_layers,
                "backbone_dropout": backbone_dropout,
            }
            given = [name for name, value in backbone.items() if value is not None]
            if activation != "lecun_tanh":  # the backbone's; ncps ignores it silently
                given.append("activation")
            if given:
                raise ValueError(
                    f"{', '.join(given)}: a wired CfC (units is a neuron map) has no backbone"
                )
            self.rnn_cell = WiredCfCCell(units, input_size, mode)
        else:
            self.rnn_cell = CfCCell(
                input_size,
                check_count("units", units),
                mode,
                activation,
                128 if backbone_units is None else backbone_units,
                1 if backbone_layers is None else backbone_layers,
                0.0 if backbone_dropout is None else backbone_dropout,
            )
        self.state_size = self.rnn_cell.state_size
        self.output_size = self.rnn_cell.output_size
        self.return_sequences = bool(return_sequences)
        self.mixed_memory = bool(mixed_memory)
        if self.mixed_memory:
            self.lstm = MixedMemoryCell(input_size, self.state_size)
        self.proj_size = None if proj_size is None else check_count("proj_size", proj_size)
        if proj_size is not None:
            self.fc = nn.Linear(self.output_size, self.proj_size)

    def _initial_state(self, state: Any, batch: int, dtype: Any) -> tuple[Any, Any]:
        """``(h, c)`` from the caller's ``state`` (``c`` is ``None`` without mixed memory)."""
        units = self.state_size
        if state is None:
            zeros = mx.zeros((batch, units), dtype=dtype)
            return zeros, zeros if self.mixed_memory else None
        if not self.mixed_memory:
            check_state(state, batch, units, "state")
            return state, None
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            raise ValueError(
                f"state: with mixed_memory=True expected a pair (h, c), got {type(state).__name__}"
            )
        check_state(state[0], batch, units, "state[0]")
        check_state(state[1], batch, units, "state[1]")
        return state[0], state[1]

    def __call__(self, x: Any, state: Any = None, timespans: Any = None) -> tuple[Any, Any]:
        batch, steps = check_input(x, self.input_size)
        x, state = in_model_dtype((x, state), self.rnn_cell.dtype)
        h, c = self._initial_state(state, batch, x.dtype)
        # Time-major from here on, so that every step reads contiguous rows.
        x = mx.swapaxes(x, 0, 1)
        constant = constant_timespan(timespans)
        if constant is None:
            timespans = mx.swapaxes(prepare_timespans(timespans, batch, steps, x.dtype), 0, 1)
        else:
            timespans = None
        if self.mixed_memory:
            outputs, h, c = self._scan_mixed(x, h, c, timespans, constant)
        else:
            outputs, h = self.rnn_cell.scan(x, h, timespans, constant, self.return_sequences)
        y = mx.swapaxes(outputs, 0, 1) if self.return_sequences else outputs[-1]
        if self.proj_size is not None:
            y = self.fc(y)
        return y, ((h, c) if self.mixed_memory else h)

    def _scan_mixed(
        self, x: Any, h: Any, c: Any, timespans: Any, constant_ts: float | None
    ) -> tuple[Any, Any, Any]:
        """The time loop with mixed memory: the LSTM's new ``h`` replaces the cell's incoming
        state in every step, so the cell runs step by step (a wired cell layer by layer)."""
        cell = self.rnn_cell
        weights = cell.prepare(constant_ts)
        projected = unstack_steps(cell.project_input(x, weights))
        projected_lstm = unstack_steps(self.lstm.project_input(x))
        ts = [None] * len(projected) if timespans is None else unstack_steps(timespans)
        outputs = []
        for t in range(len(projected)):
            h, c = self.lstm.step(projected_lstm[t], (h, c))
            h = cell.merge_state(cell.step(projected[t], cell.split_state(h), ts[t], weights))
            if self.return_sequences or t == len(projected) - 1:
                outputs.append(cell.output(h))
        return mx.stack(outputs), h, c

    def load_torch_state_dict(self, state_dict: Mapping[str, Any]) -> CfC:
        """Copy the weights of an ncps ``CfC`` (torch) with the same arguments; returns the
        layer. A wired model's ``sparsity_mask`` entries must equal this model's masks.

        Raises:
            CheckpointError: If names, shapes or masks differ; then nothing is changed.
        """
        return load_ncps_state_dict(self, state_dict)
