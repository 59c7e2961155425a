r"""Stride-aware CfC cells and layer: continuous-time units that are told how much time each
step spans, so that units with different strides integrate the same sequence at different
timescales (ember-ml's ``StrideAwareCfCCell`` design, with its faults fixed).

A unit with stride :math:`s` treats every step as lasting :math:`s` times the elapsed time:
the longer the stride, the faster its state moves from its old value towards the candidate.
A layer given ``stride_lengths=[1, 2, 4]`` splits its units into three groups that way.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from ember_mlx.backend import mx, nn
from ember_mlx.nn.layers.activations import get_activation
from ember_mlx.nn.module import Module
from ember_mlx.nn.neuron_maps import NeuronMap
from ember_mlx.nn.rnn.backbone import build_backbone, check_dropout, finish_backbone
from ember_mlx.nn.rnn.cfc_cell import check_mode
from ember_mlx.nn.rnn.sequence import (
    check_input,
    check_state,
    check_step_input,
    constant_timespan,
    in_model_dtype,
    masked,
    prepare_step_timespans,
    prepare_timespans,
    unstack_steps,
)
from ember_mlx.nn.spelling import either
from ember_mlx.validation import check_count


def unit_strides(stride_length: int | Sequence[int], hidden_size: int) -> np.ndarray:
    """The stride of every unit: one stride for all, or contiguous groups of (nearly) equal
    size, group :math:`k` with ``stride_length[k]``."""
    strides = [stride_length] if isinstance(stride_length, numbers.Real) else list(stride_length)
    if not strides or len(strides) > hidden_size:
        raise ValueError(
            f"stride_length: expected a stride or 1 to {hidden_size} of them, got {stride_length!r}"
        )
    for stride in strides:
        if isinstance(stride, bool) or not isinstance(stride, numbers.Real) or not stride > 0:
            raise ValueError(f"stride_length: expected positive numbers, got {stride_length!r}")
    groups = np.array_split(np.arange(hidden_size), len(strides))
    return np.concatenate([np.full(len(g), float(s)) for g, s in zip(groups, strides, strict=True)])


class StrideWeights(NamedTuple):
    """A stride-aware cell's weights for one forward pass (see :meth:`StrideAwareCell.prepare`):
    the first backbone layer and the gate stacked, split into input and state columns."""

    input_t: Any
    input_bias: Any
    hidden_t: Any


class StrideAwareCell(Module):
    r"""A stride-aware CfC cell.

    With the elapsed time :math:`t` of the step, the unit strides :math:`s` and
    ``time_scale_factor`` :math:`c`:

    .. math::

        a &= \mathrm{backbone}([x, h]), \qquad u = W_u a + b_u \quad \text{(the candidate)} \\
        \tau &= \exp\big(-|t|\, s\, c\, e^{k}\big), \qquad
            g = \sigma(W_g [x, h] + b_g) \\
        \text{default:}\ h' &= h \odot g + u \odot (1 - g) \odot (1 - \tau) \\
        \text{pure:}\ h' &= h \odot g \odot \tau + u \odot (1 - g \odot \tau) \\
        \text{no\_gate:}\ h' &= h \odot \tau + u \odot (1 - \tau)

    :math:`k` (``time_kernel``, zeros at first) learns each unit's rate. ``backbone`` is
    ``backbone_layers`` affine layers with activation, the first on :math:`[x, h]`. Weights are
    Glorot-uniform, their state columns orthogonal; biases are zero except :math:`b_g = 1`.
    ``backbone.{i}``, ``candidate`` and ``gate`` are affine layers in torch's layout.

    Args:
        input_size: Number of input features.
        hidden_size: Size of the state.
        stride_length: The stride of every unit, or a list of strides that splits the units
            into contiguous groups of nearly equal size.
        time_scale_factor: :math:`c`, multiplies every stride.
        mode: ``"default"``, ``"pure"`` or ``"no_gate"`` (no :math:`g`).
        activation: Backbone activation, a name of :func:`~ember_mlx.nn.layers.get_activation`.
        backbone_units: Width of the backbone layers.
        backbone_layers: Number of backbone layers, at least 1.
        backbone_dropout: Dropout after every backbone layer but the first, while training.
        sparsity_mask: Optional ``(input_size + hidden_size, backbone_units)`` array whose
            :math:`|\text{mask}|` multiplies the first backbone layer (a wired cell's synapses).

    Call ``cell(x, state=None, ts=None)`` with ``x`` ``(batch, input_size)``, ``state``
    ``(batch, hidden_size)`` (zeros if ``None``) and ``ts`` the elapsed time (``None`` for 1, a
    number, ``(batch,)`` or ``(batch, 1)``); returns the next state.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        stride_length: int | Sequence[int] = 1,
        time_scale_factor: float = 1.0,
        mode: str = "default",
        activation: str = "lecun_tanh",
        backbone_units: int = 128,
        backbone_layers: int = 1,
        backbone_dropout: float = 0.0,
        sparsity_mask: Any = None,
    ):
        super().__init__()
        self.input_size = check_count("input_size", input_size)
        self.hidden_size = check_count("hidden_size", hidden_size)
        self.mode = check_mode(mode)
        units = check_count("backbone_units", backbone_units)
        layers = check_count("backbone_layers", backbone_layers)
        if not isinstance(time_scale_factor, numbers.Real) or not time_scale_factor > 0:
            raise ValueError(
                f"time_scale_factor: expected a positive number, got {time_scale_factor!r}"
            )
        strides = unit_strides(stride_length, hidden_size) * float(time_scale_factor)
        self._strides = mx.array(strides[None].astype(np.float32))
        act = get_activation(activation)

        joint = input_size + hidden_size
        self.backbone = build_backbone(joint, units, layers, act, check_dropout(backbone_dropout))
        self.candidate = nn.Linear(units, hidden_size)
        self.time_kernel = mx.zeros((1, hidden_size))
        if self.mode != "no_gate":
            self.gate = nn.Linear(joint, hidden_size)
        self._mask = None
        if sparsity_mask is not None:
            mask = np.abs(np.asarray(sparsity_mask, dtype=np.float32))
            if mask.shape != (joint, units):
                raise ValueError(
                    f"sparsity_mask: expected shape ({joint}, {units}), got {mask.shape}"
                )
            self._mask = mx.array(np.ascontiguousarray(mask.T))
        self._init_weights()

    def _init_weights(self) -> None:
        """ember-ml's initialisation: Glorot-uniform input columns, orthogonal state columns,
        zero biases but the gate's (ones)."""
        glorot, orthogonal = nn.init.glorot_uniform(), nn.init.orthogonal()
        n = self.input_size
        joint = [self.backbone[0], *([self.gate] if self.mode != "no_gate" else [])]
        for layer in joint:
            w = layer.weight
            layer.weight = mx.concatenate([glorot(w[:, :n]), orthogonal(w[:, n:])], axis=1)
        for layer in [m for m in self.backbone[2:] if isinstance(m, nn.Linear)] + [self.candidate]:
            layer.weight = glorot(layer.weight)
        for layer in [m for m in self.backbone if isinstance(m, nn.Linear)] + [self.candidate]:
            layer.bias = mx.zeros_like(layer.bias)
        if self.mode != "no_gate":
            self.gate.bias = mx.ones_like(self.gate.bias)

    @property
    def state_size(self) -> int:
        """Size of the state."""
        return self.hidden_size

    @property
    def dtype(self) -> Any:
        """The dtype the cell computes in: its weights'."""
        return self.time_kernel.dtype

    @property
    def output_size(self) -> int:
        """Size of the output, the state itself."""
        return self.hidden_size

    def prepare(self) -> StrideWeights:
        """The weights of one forward pass: the first backbone layer (masked) and the gate
        stacked into one matrix, so a step reads ``[x, h]`` with one matmul."""
        first = self.backbone[0]
        weight = first.weight if self._mask is None else masked(first.weight, self._mask)
        weights, biases = [weight], [first.bias]
        if self.mode != "no_gate":
            weights.append(self.gate.weight)
            biases.append(self.gate.bias)
        weight = mx.concatenate(weights, axis=0) if len(weights) > 1 else weight
        bias = mx.concatenate(biases) if len(biases) > 1 else first.bias
        n = self.input_size
        return StrideWeights(weight[:, :n].T, bias, weight[:, n:].T)

    def time_gate(self, ts: Any) -> Any:
        r""":math:`\tau = \exp(-|t|\, s\, c\, e^{k})` for elapsed times ``ts`` (a number or an
        array ending in an axis of 1), broadcast against the units."""
        rate = mx.astype(self._strides, self.time_kernel.dtype) * mx.exp(self.time_kernel)
        if isinstance(ts, float):
            return mx.exp(-abs(ts) * rate)
        return mx.exp(-mx.abs(ts) * rate)

    def project_input(self, x: Any, weights: StrideWeights) -> Any:
        """The input's share of the first matmul, for any leading axes of ``x``."""
        return x @ weights.input_t + weights.input_bias

    def step(self, projected: Any, h: Any, tau: Any, weights: StrideWeights) -> Any:
        """The next state from the projected input, the state and the step's time gate."""
        z = mx.addmm(projected, h, weights.hidden_t)
        if self.mode != "no_gate":
            z, gate = mx.split(z, [z.shape[1] - self.hidden_size], axis=1)
        u = self.candidate(finish_backbone(self.backbone, z))
        if self.mode == "no_gate":
            return u + tau * (h - u)
        g = mx.sigmoid(gate)
        if self.mode == "pure":
            return u + g * tau * (h - u)
        return h * g + u * (1 - g) * (1 - tau)

    def output(self, h: Any) -> Any:
        """The output of a state (the state itself)."""
        return h

    def __call__(self, x: Any, state: Any = None, ts: Any = None) -> Any:
        batch = check_step_input(x, self.input_size)
        x, state = in_model_dtype((x, state), self.dtype)
        if state is None:
            state = mx.zeros((batch, self.hidden_size), dtype=x.dtype)
        else:
            check_state(state, batch, self.hidden_size, "state")
        ts = prepare_step_timespans(ts, batch, x.dtype)
        weights = self.prepare()
        tau = self.time_gate(1.0 if ts is None else ts)
        return self.step(self.project_input(x, weights), state, tau, weights)


class StrideAwareWiredCfCCell(StrideAwareCell):
    r"""A :class:`StrideAwareCell` wired by a neuron map: one unit per neuron.

    The first backbone layer has one unit per neuron and is masked by the map: input :math:`i`
    reaches neuron :math:`j` only through a sensory synapse, neuron :math:`i` feeds :math:`j`
    only through a synapse. The state is in neuron-id order and the output
    (:meth:`output`) is the motor neurons, ids ``0 .. output_dim - 1``. (ember-ml's version
    ignored the map and drew random masks.)

    Args:
        neuron_map: The wiring; built here for ``input_size``.
        input_size: Number of input features, or ``None`` if ``neuron_map`` is built.
        stride_length, time_scale_factor, mode, activation, backbone_layers, backbone_dropout:
            See :class:`StrideAwareCell`; the backbone is ``units`` wide.
    """

    def __init__(
        self,
        neuron_map: NeuronMap,
        input_size: int | None = None,
        stride_length: int | Sequence[int] = 1,
        time_scale_factor: float = 1.0,
        mode: str = "default",
        activation: str = "lecun_tanh",
        backbone_layers: int = 1,
        backbone_dropout: float = 0.0,
    ):
        if not isinstance(neuron_map, NeuronMap):
            raise TypeError(f"neuron_map: expected a NeuronMap, got {type(neuron_map).__name__}")
        if input_size is None and not neuron_map.is_built():
            raise ValueError(
                f"input_size: {type(neuron_map).__name__} is not built; give the input size"
            )
        neuron_map.build(input_size)
        mask = np.concatenate(
            [neuron_map.get_sensory_mask(), neuron_map.get_recurrent_mask()], axis=0
        )
        super().__init__(
            neuron_map.input_dim,
            neuron_map.units,
            stride_length,
            time_scale_factor,
            mode,
            activation,
            backbone_units=neuron_map.units,
            backbone_layers=backbone_layers,
            backbone_dropout=backbone_dropout,
            sparsity_mask=mask,
        )
        self.neuron_map = neuron_map

    @property
    def output_size(self) -> int:
        """Number of motor neurons."""
        return self.neuron_map.output_dim

    def output(self, h: Any) -> Any:
        """The motor neurons, ``(batch, output_size)``, of a ``(batch, units)`` state."""
        return h[:, : self.output_size]


class StrideAwareCfC(Module):
    r"""A stride-aware CfC over ``(batch, steps, features)``: a :class:`StrideAwareCell` (or,
    given a neuron map, a :class:`StrideAwareWiredCfCCell`) run over the sequence.

    ``stride_lengths`` splits the units into groups that integrate at different timescales: with
    ``[1, 2, 4]`` the first third of the units treat each step as one time unit, the next third as
    two, the last as four. The time gate depends only on the elapsed times, so it is computed for
    all steps at once, as is the input's share of the first matmul; a step is one matmul on the
    state, the backbone and the candidate.

    Args:
        input_size: Number of input features.
        units: Number of units, or a :class:`~ember_mlx.nn.NeuronMap` (built here for
            ``input_size``) whose motor neurons are the outputs.
        stride_lengths: One stride, or a list that splits the units into groups.
        time_scale_factor: Multiplies every stride.
        return_sequences: Return every step's output or only the last one.
        mode: ``"default"``, ``"pure"`` or ``"no_gate"`` (see :class:`StrideAwareCell`).
        activation: Backbone activation.
        backbone_units: Backbone width, default 128 (unwired only: a wired backbone has one unit
            per neuron).
        backbone_layers: Number of backbone layers, default 1.
        backbone_dropout: Backbone dropout, default 0.
        hidden_size: The seeds' examples' name for ``units``.

    Call ``layer(x, state=None, timespans=None)`` as :class:`~ember_mlx.nn.rnn.cfc.CfC`; returns
    ``(y, h)``.
    """

    def __init__(
        self,
        input_size: int,
        units: int | NeuronMap | None = None,
        stride_lengths: int | Sequence[int] = 1,
        time_scale_factor: float = 1.0,
        return_sequences: bool = True,
        mode: str = "default",
        activation: str = "lecun_tanh",
        backbone_units: int | None = None,
        backbone_layers: int = 1,
        backbone_dropout: float = 0.0,
        *,
        hidden_size: int | None = None,
    ):
        super().__init__()
        self.input_size = check_count("input_size", input_size)
        units = either("units", units, "hidden_size", hidden_size)
        if units is None:
            raise TypeError("units: required, a neuron map or a number of neurons")
        options = {
            "mode": mode,
            "activation": activation,
            "backbone_layers": backbone_layers,
            "backbone_dropout": backbone_dropout,
        }
        if isinstance(units, NeuronMap):
            if backbone_units is not None:
                raise ValueError("backbone_units: a wired cell's backbone has one unit per neuron")
            self.rnn_cell = StrideAwareWiredCfCCell(
                units, input_size, stride_lengths, time_scale_factor, **options
            )
        else:
            self.rnn_cell = StrideAwareCell(
                input_size,
                check_count("units", units),
                stride_lengths,
                time_scale_factor,
                backbone_units=128 if backbone_units is None else backbone_units,
                **options,
            )
        self.state_size = self.rnn_cell.state_size
        self.output_size = self.rnn_cell.output_size
        self.return_sequences = bool(return_sequences)

    def __call__(self, x: Any, state: Any = None, timespans: Any = None) -> tuple[Any, Any]:
        batch, steps = check_input(x, self.input_size)
        cell = self.rnn_cell
        x, state = in_model_dtype((x, state), cell.dtype)
        if state is None:
            h = mx.zeros((batch, self.state_size), dtype=x.dtype)
        else:
            check_state(state, batch, self.state_size, "state")
            h = state
        x = mx.swapaxes(x, 0, 1)
        weights = cell.prepare()
        projected = unstack_steps(cell.project_input(x, weights))
        constant = constant_timespan(timespans)
        if constant is not None:
            tau = [cell.time_gate(constant)] * steps
        else:
            ts = mx.swapaxes(prepare_timespans(timespans, batch, steps, x.dtype), 0, 1)
            tau = unstack_steps(cell.time_gate(ts))
        outputs = []
        for t in range(steps):
            h = cell.step(projected[t], h, tau[t], weights)
            if self.return_sequences:
                outputs.append(cell.output(h))
        y = mx.stack(outputs, axis=1) if self.return_sequences else cell.output(h)
        return y, h
