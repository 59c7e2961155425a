"""The Elman RNN (``RNNCell``, ``RNN``) and the machinery every classic recurrent layer shares.

:class:`RecurrentCell` holds a cell's weights in torch's layout and splits a step into the input
projection, which does not depend on the state, and the recurrent update. :class:`RecurrentLayer`
stacks cells over a batch-first sequence: per layer it projects the whole sequence with one
matmul, so the time loop runs only the recurrent matmul and the gate arithmetic. Nothing is
evaluated inside a call, so on MLX a whole sequence is one lazy graph that ``mx.compile`` can
trace.

Parameter names follow torch. A cell's are ``weight_ih``, ``weight_hh``, ``bias_ih`` and
``bias_hh``, exactly as in ``torch.nn.RNNCell``/``LSTMCell``/``GRUCell``; a layer's cell ``k``
holds torch's ``weight_ih_l{k}`` (etc.) as ``layers.{k}.weight_ih``.
:meth:`RecurrentCell.load_torch_state_dict` and :meth:`RecurrentLayer.load_torch_state_dict`
apply this mapping.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from ember_mlx.backend import mx, to_numpy
from ember_mlx.nn.layers.activations import get_activation
from ember_mlx.nn.layers.dense import check_features
from ember_mlx.nn.layers.dropout import Dropout
from ember_mlx.nn.module import Module
from ember_mlx.nn.rnn.sequence import check_input, in_model_dtype, unstack_steps
from ember_mlx.validation import check_count

# A recurrent state: the array h, or the pair (h, c) of an LSTM.
State = Any

_TORCH_LAYER_NAME = re.compile(r"(weight|bias)_(ih|hh)_l(\d+)")


def affine(x: Any, weight: Any, bias: Any | None) -> Any:
    """:math:`x W^\\top + b` over the last axis of ``x`` (``b`` may be ``None``)."""
    return x @ weight.T if bias is None else mx.addmm(bias, x, weight.T)


def _torch_arrays(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """Host copies of a state dict's tensors (torch tensors, numpy or backend arrays)."""
    return {name: to_numpy(value) for name, value in state_dict.items()}


class RecurrentCell(Module):
    """Base of :class:`RNNCell`, :class:`~ember_mlx.nn.rnn.lstm.LSTMCell` and
    :class:`~ember_mlx.nn.rnn.gru.GRUCell`: one step of a recurrence with torch's weights.

    ``weight_ih`` has shape ``(gates * hidden_size, input_size)``, ``weight_hh``
    ``(gates * hidden_size, hidden_size)`` and the biases ``(gates * hidden_size,)``, with the
    gate blocks in torch's order; all are drawn from :math:`\\mathcal{U}(-k, k)`,
    :math:`k = 1/\\sqrt{\\text{hidden\\_size}}`, as in torch.

    A step is :meth:`project_input` (everything that depends only on the input) followed by
    :meth:`step`; a sequence layer projects all time steps at once. Calling the cell,
    ``cell(x, state=None)`` with ``x`` of shape ``(batch, input_size)``, does both and returns
    the next state (zeros when ``state`` is ``None``).

    Subclasses set ``gates`` (blocks in the weights), ``state_names`` (``("h",)``, or
    ``("h", "c")`` for a pair) and implement :meth:`step`.
    """

    gates: int = 1
    state_names: tuple[str, ...] = ("h",)

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__()
        self.input_size = check_count("input_size", input_size)
        self.hidden_size = check_count("hidden_size", hidden_size)
        k = 1 / math.sqrt(hidden_size)
        rows = self.gates * hidden_size
        self.weight_ih = mx.random.uniform(low=-k, high=k, shape=(rows, input_size))
        self.weight_hh = mx.random.uniform(low=-k, high=k, shape=(rows, hidden_size))
        if bias:
            self.bias_ih = mx.random.uniform(low=-k, high=k, shape=(rows,))
            self.bias_hh = mx.random.uniform(low=-k, high=k, shape=(rows,))

    def _extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={'bias_ih' in self}"

    def project_input(self, x: Any) -> Any:
        """The part of the pre-activations that depends only on the input, for any leading axes:
        :math:`x W_{ih}^\\top + b_{ih} + b_{hh}`.

        Folding :math:`b_{hh}` in here is exact for cells that add the recurrent term whole
        (RNN, LSTM); the GRU overrides this.
        """
        if "bias_ih" not in self:
            return affine(x, self.weight_ih, None)
        return affine(x, self.weight_ih, self.bias_ih + self.bias_hh)

    def step(self, projected: Any, state: State) -> State:
        """The next state from the projected input ``(batch, gates * hidden_size)`` and the
        current state."""
        raise NotImplementedError

    def scan(self, projected: Any, state: State) -> tuple[Any, State]:
        """Run :meth:`step` over the time-major projected inputs ``(steps, batch, gates *
        hidden_size)``; returns every step's output :math:`h`, time-major ``(steps, batch,
        hidden_size)``, and the final state."""
        outputs = []
        # Split once: indexing step t would make the backward pass add a zero array of the
        # whole sequence per step.
        for p in unstack_steps(projected):
            state = self.step(p, state)
            outputs.append(self.hidden(state))
        return mx.stack(outputs), state

    def hidden(self, state: State) -> Any:
        """The output :math:`h` carried by ``state``."""
        return state[0] if len(self.state_names) > 1 else state

    def pack(self, parts: tuple[Any, ...]) -> State:
        """The state made of the arrays ``parts``, one per name in ``state_names``."""
        return tuple(parts) if len(self.state_names) > 1 else parts[0]

    @property
    def dtype(self) -> Any:
        """The dtype the cell computes in: its weights'."""
        return self.weight_ih.dtype

    def initial_state(self, batch_size: int, dtype: Any = mx.float32) -> State:
        """The zero state for ``batch_size`` sequences."""
        shape = (batch_size, self.hidden_size)
        return self.pack(tuple(mx.zeros(shape, dtype=dtype) for _ in self.state_names))

    def check_state(self, owner: str, state: State, shape: tuple[int, ...]) -> tuple[Any, ...]:
        """The arrays of ``state`` as a tuple, each checked to have ``shape``.

        Raises:
            ValueError: If ``state`` is not of this cell's form or an array has another shape.
        """
        names = self.state_names
        if len(names) == 1:
            parts = (state,)
        elif isinstance(state, (tuple, list)) and len(state) == len(names):
            parts = tuple(state)
        else:
            raise ValueError(
                f"{owner}: state must be a pair ({', '.join(names)}) of arrays, "
                f"got {type(state).__name__}"
            )
        for name, part in zip(names, parts, strict=True):
            if not hasattr(part, "shape") or tuple(part.shape) != shape:
                given = tuple(part.shape) if hasattr(part, "shape") else type(part).__name__
                raise ValueError(f"{owner}: state {name} has shape {given}, expected {shape}")
        return parts

    def __call__(self, x: Any, state: State | None = None) -> State:
        owner = type(self).__name__
        if getattr(x, "ndim", None) != 2:
            given = tuple(x.shape) if hasattr(x, "shape") else type(x).__name__
            raise ValueError(f"{owner}: input x must have shape (batch, input_size), got {given}")
        check_features(owner, x, self.input_size, "input_size")
        x, state = in_model_dtype((x, state), self.dtype)
        if state is None:
            state = self.initial_state(x.shape[0], x.dtype)
        else:
            state = self.pack(self.check_state(owner, state, (x.shape[0], self.hidden_size)))
        return self.step(self.project_input(x), state)

    def load_torch_state_dict(self, state_dict: Mapping[str, Any]) -> RecurrentCell:
        """Copy the weights of the matching torch cell (``torch.nn.RNNCell`` for
        :class:`RNNCell`, ...); the names are the same. Returns the cell.

        Raises:
            CheckpointError: If names or shapes differ; then nothing is changed.
        """
        return self.load_arrays(_torch_arrays(state_dict), source="torch state_dict")


class RNNCell(RecurrentCell):
    r"""An Elman RNN cell, as ``torch.nn.RNNCell``.

    .. math::

        h' = f(x W_{ih}^\top + b_{ih} + h W_{hh}^\top + b_{hh})

    Args:
        input_size: Number of input features.
        hidden_size: Size of the state :math:`h`.
        bias: Whether to add :math:`b_{ih}, b_{hh}`. Default: ``True``.
        activation: Name of :math:`f` (see :func:`~ember_mlx.nn.layers.get_activation`);
            ``"tanh"`` and ``"relu"`` are torch's ``nonlinearity`` options. Default: ``"tanh"``.

    Call ``cell(x, state=None)`` with ``x`` of shape ``(batch, input_size)``; returns :math:`h'`,
    ``(batch, hidden_size)``.
    """

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, activation: str = "tanh"
    ):
        super().__init__(input_size, hidden_size, bias)
        self.activation = get_activation(activation)

    def step(self, projected: Any, state: Any) -> Any:
        return self.activation(mx.addmm(projected, state, self.weight_hh.T))


class RecurrentLayer(Module):
    """Base of :class:`RNN`, :class:`~ember_mlx.nn.rnn.lstm.LSTM` and
    :class:`~ember_mlx.nn.rnn.gru.GRU`: stacked cells over ``(batch, steps, features)``.

    Layer ``k`` reads the outputs of layer ``k - 1`` (after dropout while training, as in torch)
    and the last layer's outputs are the result. The state has a leading layer axis only for
    stacked layers: ``(batch, hidden_size)`` when ``num_layers == 1``, else
    ``(num_layers, batch, hidden_size)`` (torch's layout); an LSTM's state is a pair ``(h, c)``
    of such arrays.

    Args:
        cell: Builds a cell from ``(input_size, hidden_size, bias)``, e.g. the cell class.
        input_size: Number of input features.
        hidden_size: Size of each layer's state.
        num_layers: Number of stacked layers.
        bias: Whether the cells have biases.
        dropout: Probability of zeroing each output of every layer but the last while training.
    """

    def __init__(
        self,
        cell: Callable[[int, int, bool], RecurrentCell],
        input_size: int,
        hidden_size: int,
        num_layers: int,
        bias: bool,
        dropout: float,
    ):
        super().__init__()
        owner = type(self).__name__
        for argument, value in [
            ("input_size", input_size),
            ("hidden_size", hidden_size),
            ("num_layers", num_layers),
        ]:
            check_count(argument, value)
        if (
            isinstance(dropout, bool)
            or not isinstance(dropout, (int, float))
            or not 0 <= dropout < 1
        ):
            raise ValueError(f"{owner}: dropout must be a number in [0, 1), got {dropout!r}")
        sizes = [input_size] + [hidden_size] * (num_layers - 1)
        self.layers = [cell(n, hidden_size, bias) for n in sizes]
        self.layer_dropout = Dropout(dropout)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers

    def _extra_repr(self) -> str:
        return (
            f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
            f"dropout={self.layer_dropout.rate}"
        )

    def _state_shape(self, batch_size: int) -> tuple[int, ...]:
        shape = (batch_size, self.hidden_size)
        return shape if self.num_layers == 1 else (self.num_layers, *shape)

    def _split_state(self, state: State | None, batch_size: int, dtype: Any) -> list[State]:
        """One state per layer, from the caller's (possibly stacked) state."""
        cell = self.layers[0]
        if state is None:
            return [cell.initial_state(batch_size, dtype) for _ in self.layers]
        parts = cell.check_state(type(self).__name__, state, self._state_shape(batch_size))
        if self.num_layers == 1:
            return [cell.pack(parts)]
        return [cell.pack(tuple(part[k] for part in parts)) for k in range(self.num_layers)]

    def _merge_state(self, states: list[State]) -> State:
        """The caller's form of the final per-layer states (inverse of :meth:`_split_state`)."""
        if self.num_layers == 1:
            return states[0]
        cell = self.layers[0]
        if len(cell.state_names) == 1:
            return mx.stack(states)
        return cell.pack(tuple(mx.stack(list(parts)) for parts in zip(*states, strict=True)))

    def __call__(self, x: Any, state: State | None = None) -> tuple[Any, State]:
        batch_size, _ = check_input(x, self.input_size)
        x, state = in_model_dtype((x, state), self.layers[0].dtype)
        final = []
        for k, (cell, s) in enumerate(
            zip(self.layers, self._split_state(state, batch_size, x.dtype), strict=True)
        ):
            if k > 0:
                x = self.layer_dropout(x)
            outputs, s = cell.scan(cell.project_input(mx.swapaxes(x, 0, 1)), s)
            x = mx.swapaxes(outputs, 0, 1)
            final.append(s)
        return x, self._merge_state(final)

    def load_torch_state_dict(self, state_dict: Mapping[str, Any]) -> RecurrentLayer:
        """Copy the weights of the matching torch layer (``torch.nn.LSTM`` for
        :class:`~ember_mlx.nn.rnn.lstm.LSTM`, ... with the same sizes, ``batch_first`` or not).

        torch's ``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}``
        become ``layers.{k}.weight_ih`` etc. Returns the layer.

        Raises:
            CheckpointError: If names or shapes differ (a bidirectional or projected torch
                model, other sizes); then nothing is changed.
        """
        renamed = {}
        for name, value in _torch_arrays(state_dict).items():
            match = _TORCH_LAYER_NAME.fullmatch(name)
            if match:
                kind, which, layer = match.groups()
                name = f"layers.{layer}.{kind}_{which}"
            renamed[name] = value
        return self.load_arrays(renamed, source="torch state_dict")


class RNN(RecurrentLayer):
    r"""A stack of Elman RNN layers over a batch-first sequence, as ``torch.nn.RNN`` with
    ``batch_first=True``.

    .. math::

        h_t = f(x_t W_{ih}^\top + b_{ih} + h_{t-1} W_{hh}^\top + b_{hh})

    Args:
        input_size: Number of input features.
        hidden_size: Size of each layer's state.
        num_layers: Number of stacked layers. Default: ``1``.
        activation: Name of :math:`f`, ``"tanh"`` or ``"relu"`` as in torch, or any name of
            :func:`~ember_mlx.nn.layers.get_activation`. Default: ``"tanh"``.
        bias: Whether the cells have biases. Default: ``True``.
        dropout: Dropout on the outputs of every layer but the last, while training.
            Default: ``0.0``.

    Call ``rnn(x, state=None)`` with ``x`` of shape ``(batch, steps, input_size)``; returns
    ``(y, h)``: the last layer's outputs ``(batch, steps, hidden_size)`` and the final state,
    ``(batch, hidden_size)``, or ``(num_layers, batch, hidden_size)`` when stacked (an initial
    ``state`` has the same form).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        activation: str = "tanh",
        bias: bool = True,
        dropout: float = 0.0,
    ):
        cell = partial(RNNCell, activation=activation)
        super().__init__(cell, input_size, hidden_size, num_layers, bias, dropout)
