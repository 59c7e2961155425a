"""Gated recurrent units: ``GRUCell`` and the stacked, batch-first ``GRU``."""

from __future__ import annotations

from typing import Any

from ember_mlx.backend import mx
from ember_mlx.nn.rnn.rnn import RecurrentCell, RecurrentLayer, affine


class GRUCell(RecurrentCell):
    r"""A GRU cell, as ``torch.nn.GRUCell`` (gate blocks in torch's order r, z, n).

    .. math::

        [x_r, x_z, x_n] &= x W_{ih}^\top + b_{ih}, \quad
        [h_r, h_z, h_n] = h W_{hh}^\top + b_{hh} \\
        r &= \sigma(x_r + h_r), \quad z = \sigma(x_z + h_z) \\
        n &= \tanh(x_n + r \odot h_n) \\
        h' &= (1 - z) \odot n + z \odot h

    Args:
        input_size: Number of input features.
        hidden_size: Size of :math:`h`.
        bias: Whether to add :math:`b_{ih}, b_{hh}`. Default: ``True``.

    Call ``cell(x, state=None)`` with ``x`` of shape ``(batch, input_size)``; returns :math:`h'`,
    ``(batch, hidden_size)``.
    """

    gates = 3

    def project_input(self, x: Any) -> Any:
        # b_hh stays in the recurrent term: its n block is scaled by the reset gate.
        return affine(x, self.weight_ih, self.bias_ih if "bias_ih" in self else None)

    def step(self, projected: Any, state: Any) -> Any:
        recurrent = affine(state, self.weight_hh, self.bias_hh if "bias_hh" in self else None)
        x_r, x_z, x_n = mx.split(projected, 3, axis=-1)
        h_r, h_z, h_n = mx.split(recurrent, 3, axis=-1)
        r = mx.sigmoid(x_r + h_r)
        z = mx.sigmoid(x_z + h_z)
        n = mx.tanh(x_n + r * h_n)
        return n + z * (state - n)


class GRU(RecurrentLayer):
    r"""A stack of GRU layers over a batch-first sequence, as ``torch.nn.GRU`` with
    ``batch_first=True`` (see :class:`GRUCell` for the step).

    Args:
        input_size: Number of input features.
        hidden_size: Size of each layer's state.
        num_layers: Number of stacked layers. Default: ``1``.
        bias: Whether the cells have biases. Default: ``True``.
        dropout: Dropout on the outputs of every layer but the last, while training.
            Default: ``0.0``.

    Call ``gru(x, state=None)`` with ``x`` of shape ``(batch, steps, input_size)``; returns
    ``(y, h)``: the last layer's outputs ``(batch, steps, hidden_size)`` and the final state,
    ``(batch, hidden_size)``, or ``(num_layers, batch, hidden_size)`` when stacked (an initial
    ``state`` has the same form).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        dropout: float = 0.0,
    ):
        super().__init__(GRUCell, input_size, hidden_size, num_layers, bias, dropout)
