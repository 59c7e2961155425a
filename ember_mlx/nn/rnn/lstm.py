"""Long short-term memory: ``LSTMCell`` and the stacked, batch-first ``LSTM``.

A layer's time loop runs through :func:`~ember_mlx.nn.rnn.bptt.recurrence` with
:class:`LSTMMath`'s hand-written vjp: the backward pass runs only the state recurrence and forms
the recurrent weights' gradient as one matmul over all steps.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ember_mlx.backend import mx
from ember_mlx.nn.rnn.bptt import recurrence
from ember_mlx.nn.rnn.rnn import RecurrentCell, RecurrentLayer, affine


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

    def _double_g(self, rows: Any) -> Any:
        """``rows`` (gate blocks first) with the g block doubled, for :class:`LSTMMath`."""
        double = mx.array(np.repeat([1.0, 1.0, 2.0, 1.0], self.hidden_size), dtype=rows.dtype)
        return rows * (double if rows.ndim == 1 else double[:, None])

    def project_input(self, x: Any) -> Any:
        r""":math:`x W_{ih}^\top + b_{ih} + b_{hh}` with the g block doubled (see
        :class:`LSTMMath`)."""
        bias = self._double_g(self.bias_ih + self.bias_hh) if "bias_ih" in self else None
        return affine(x, self._double_g(self.weight_ih), bias)

    def step(self, projected: Any, state: tuple[Any, Any]) -> tuple[Any, Any]:
        h, c = state
        z = mx.addmm(projected, h, self._double_g(self.weight_hh).T)
        h, (c,), _ = LSTM_MATH.forward(z, (c,), ())
        return h, c

    def scan(self, projected: Any, state: tuple[Any, Any]) -> tuple[Any, tuple[Any, Any]]:
        """:meth:`step` over every step, with the hand-written vjp of
        :func:`~ember_mlx.nn.rnn.bptt.recurrence`."""
        h, c = state
        recurrent_t = self._double_g(self.weight_hh).T
        hs, (c,) = recurrence(LSTM_MATH, projected, h, (c,), recurrent_t, ())
        return hs, (hs[-1], c)


class LSTMMath:
    r"""An LSTM step after its recurrent matmul, with its vjp, for
    :func:`~ember_mlx.nn.rnn.bptt.recurrence`; the carry is :math:`c`.

    The pre-activations come with the g block doubled, so that one sigmoid serves all four
    gates (torch's CPU tanh costs about five times its sigmoid):
    :math:`\tanh g = 2 \sigma(2 g) - 1`. With :math:`s = \sigma(z) = [i, f, s_g, o]`,
    :math:`g = 2 s_g - 1`, :math:`c' = f c + i g`, :math:`k = \tanh c'`, :math:`h' = o k` and
    the cotangents :math:`\delta h'`, :math:`\delta c'` of the outputs:

    .. math::

        \delta c &= \delta c' + \delta h'\, o (1 - k^2) \\
        \delta z &= [\delta c\, g,\ \delta c\, c,\ 2 \delta c\, i,\ \delta h' k]
            \odot s (1 - s)

    and the incoming :math:`c`'s cotangent is :math:`\delta c\, f`.
    """

    def forward(self, z: Any, carry: tuple, params: tuple) -> tuple[Any, tuple, tuple]:
        s = mx.sigmoid(z)
        i, f, g, o = mx.split(s, 4, axis=1)
        g = g * 2 - 1
        c = f * carry[0] + i * g
        k = mx.tanh(c)
        return o * k, (c,), (s, g, k)

    def backward(
        self, dh: Any, dcarry: tuple, carry: tuple, saved: tuple, params: tuple, grads: None
    ) -> tuple[Any, tuple, None]:
        s, g, k = saved
        i, f, _, o = mx.split(s, 4, axis=1)
        dc = dcarry[0] + dh * o * (1 - k * k)
        ds = mx.concatenate([dc * g, dc * carry[0], dc * i * 2, dh * k], axis=1)
        return ds * (s - s * s), (dc * f,), None

    def param_grads(self, grads: None, params: tuple) -> tuple:
        return ()


LSTM_MATH = LSTMMath()


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
