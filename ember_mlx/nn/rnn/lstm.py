"""Long short-term memory: ``LSTMCell`` and the stacked, batch-first ``LSTM``."""

from __future__ import annotations

from typing import Any

from ember_mlx.backend import mx
from ember_mlx.nn.rnn.rnn import RecurrentCell, RecurrentLayer


class LSTMCell(RecurrentCell):
    r"""An LSTM cell, as ``torch.nn.LSTMCell`` (gate blocks in torch's order i, f, g, o).

    .. math::

        [i, f, g, o] &= x W_{ih}^\top + b_{ih} + h W_{hh}^\top + b_{hh} \\
        c' &= \sigma(f) \odot c + \sigma(i) \odot \tanh(g) \\
        h' &= \sigma(o) \odot \tanh(c')

    Args:
        input_size: Number of input features.
        hidden_size: Size of :math:`h` and :math:`c`.
        bias: Whether to add :math:`b_{ih}, b_{hh}`. Default: ``True``.

    Call ``cell(x, state=None)`` with ``x`` of shape ``(batch, input_size)`` and ``state`` a pair
    ``(h, c)`` of ``(batch, hidden_size)`` arrays (zeros if ``None``); returns ``(h', c')``.
    """

    gates = 4
    state_names = ("h", "c")

    def step(self, projected: Any, state: tuple[Any, Any]) -> tuple[Any, Any]:
        h, c = state
        i, f, g, o = mx.split(mx.addmm(projected, h, self.weight_hh.T), 4, axis=-1)
        c = mx.sigmoid(f) * c + mx.sigmoid(i) * mx.tanh(g)
        return mx.sigmoid(o) * mx.tanh(c), c


class LSTM(RecurrentLayer):
    r"""A stack of LSTM layers over a batch-first sequence, as ``torch.nn.LSTM`` with
    ``batch_first=True`` (see :class:`LSTMCell` for the step).

    Args:
        input_size: Number of input features.
        hidden_size: Size of each layer's :math:`h` and :math:`c`.
        num_layers: Number of stacked layers. Default: ``1``.
        bias: Whether the cells have biases. Default: ``True``.
        dropout: Dropout on the outputs of every layer but the last, while training.
            Default: ``0.0``.

    Call ``lstm(x, state=None)`` with ``x`` of shape ``(batch, steps, input_size)``; returns
    ``(y, (h, c))``: the last layer's outputs ``(batch, steps, hidden_size)`` and the final
    state, each of ``h, c`` ``(batch, hidden_size)``, or ``(num_layers, batch, hidden_size)``
    when stacked (an initial ``state`` has the same form).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        dropout: float = 0.0,
    ):
        super().__init__(LSTMCell, input_size, hidden_size, num_layers, bias, dropout)
