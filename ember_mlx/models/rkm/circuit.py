r"""The resistor network of a Restricted Kirchhoff Machine, one direction at a time.

A weight :math:`M_{ij}` joins input line :math:`i` (voltage :math:`x_i`) to output node
:math:`j` through a resistor of conductance :math:`|M_{ij}|`. A positive weight connects to the
line itself, a negative one to its inverted copy at :math:`o - x_i`, where :math:`o` is the
inverter's ``offset``: ``0`` is an ideal inverter (:math:`-x_i`), ``1`` a logical NOT of 0/1
voltages. Each node also has a bias resistor of conductance :math:`|c_j| / g` to a source at
:math:`s_j = g` (:math:`c_j \ge 0`) or :math:`s_j = o - g` (:math:`c_j < 0`), with the gain
:math:`g`. Writing :math:`u_{ij}` for the voltage an edge connects to,

.. math::

    G_j = \sum_i |M_{ij}| + \frac{|c_j|}{g}, \qquad
    L_j = \sum_i |M_{ij}| u_{ij} + \frac{|c_j|}{g} s_j
        = (x M)_j + c_j + \frac{o}{2} \Big( \sum_i (|M_{ij}| - M_{ij})
          + \frac{|c_j| - c_j}{g} \Big).

With the inputs held, Kirchhoff's current law puts every node at the conductance-weighted mean
of its sources, :math:`y_j = L_j / G_j`. Holding the nodes at voltages :math:`y` dissipates the
Joule power

.. math::

    P(x, y) = \frac12 \sum_j \Big[ \sum_i |M_{ij}| (u_{ij} - y_j)^2
        + \frac{|c_j|}{g} (s_j - y_j)^2 \Big]
      = \frac12 \sum_j \big( A_j - 2 y_j L_j + G_j y_j^2 \big),

with :math:`A_j = \sum_i |M_{ij}| u_{ij}^2 + \frac{|c_j|}{g} s_j^2
= (x^2 |M|)_j - 2 o (x N)_j + o^2 \sum_i N_{ij} + \frac{|c_j|}{g} s_j^2` and
:math:`N = \max(-M, 0)`, the inverted edges. The relaxed voltages minimise it (Thomson's
principle), where it is :math:`\frac12 \sum_j (A_j - L_j^2 / G_j) \ge 0`. Everything is matrix
products: no ``(batch, inputs, outputs)`` tensor is formed.

An RKM has two such networks over one weight matrix ``W`` (``visible x hidden``): visible to
hidden (:math:`M = W`, hidden bias, :math:`g_h`) and hidden to visible (:math:`M = W^\top`,
visible bias, :math:`g_v`).
"""

from __future__ import annotations

import math
from typing import Any

from ember_mlx.backend import mx


class ResistorLayer:
    r"""The resistors that drive one layer's nodes from the other layer's voltages.

    Built once per parameter update; every quantity that does not depend on the inputs
    (conductances, the inverted lines' and bias sources' currents) is computed here.

    Args:
        weights (array): ``(inputs, outputs)`` signed conductances :math:`M`.
        bias (array): ``(outputs,)`` signed bias conductances times the gain, :math:`c`.
        gain (float): the bias sources' voltage :math:`g`.
        offset (float): the inverters' offset :math:`o`.
    """

    def __init__(self, weights: Any, bias: Any, gain: float, offset: float):
        self.weights = weights
        self.bias = bias
        self.offset = offset
        self.magnitude = mx.abs(weights)
        inverted = self.magnitude - weights  # 2|M| on the inverted edges, 0 on the direct ones
        self.negative = 0.5 * inverted
        bias_conductance = mx.abs(bias) / gain
        bias_source = mx.where(bias >= 0, gain, offset - gain)
        self.conductance = mx.sum(self.magnitude, axis=0) + bias_conductance
        # A node with no resistor at all floats: it keeps 0 V (its L is 0 too) instead of 0/0.
        self._divisor = mx.where(self.conductance > 0, self.conductance, 1.0)
        self._current = bias + (0.5 * offset) * (
            (mx.abs(bias) - bias) / gain + mx.sum(inverted, axis=0)
        )
        self._square = bias_conductance * mx.square(bias_source)
        if offset != 0:
            self._square = self._square + offset**2 * mx.sum(self.negative, axis=0)

    @property
    def fan_in(self) -> int:
        """Number of input lines of each node."""
        return self.weights.shape[0]

    def currents(self, x: Any) -> Any:
        r""":math:`L = x M + c + \ldots`: the sources' conductance-weighted voltage sums."""
        return x @ self.weights + self._current

    def field(self, x: Any) -> Any:
        r"""The Hopfield field :math:`x M + c` of the same weights (no circuit)."""
        return x @ self.weights + self.bias

    def voltages(self, x: Any) -> Any:
        r"""The relaxed node voltages :math:`y = L / G`, shape ``(batch, outputs)``."""
        return self.currents(x) / self._divisor

    def power(self, x: Any, y: Any | None = None) -> Any:
        r"""The Joule power :math:`P(x, y)` per sample, shape ``(batch,)``.

        Args:
            x (array): ``(batch, inputs)`` input voltages.
            y (array, optional): ``(batch, outputs)`` node voltages; by default the relaxed
                ones, :meth:`voltages`.
        """
        return self.relax(x, y)[1]

    def relax(self, x: Any, y: Any | None = None) -> tuple[Any, Any]:
        """The relaxed voltages (or ``y``) and the power they dissipate, sharing one product."""
        currents = self.currents(x)
        if y is None:
            y = currents / self._divisor
        squares = mx.square(x) @ self.magnitude + self._square
        if self.offset != 0:
            squares = squares - (2.0 * self.offset) * (x @ self.negative)
        power = 0.5 * mx.sum(squares - 2.0 * y * currents + self.conductance * mx.square(y), axis=1)
        return y, power

    def relaxation_times(self) -> Any:
        r""":math:`\tau_j = 2 / G_j`: the RC time of each node with unit capacitance, in
        pyrkm's convention; ``inf`` for a node with no resistor."""
        return mx.where(self.conductance > 0, 2.0 / self._divisor, math.inf)
