"""FullyConnectedMap: every input and every neuron feeds every neuron."""

from __future__ import annotations

from typing import Any

import numpy as np

from ember_mlx.nn.neuron_maps.base import NeuronMap
from ember_mlx.nn.spelling import either


class FullyConnectedMap(NeuronMap):
    r"""A dense map with random signs: ncps's ``FullyConnected``.

    Every pair is connected; each polarity is drawn independently with
    :math:`P(+1) = 2/3,\ P(-1) = 1/3`. The synapses between neurons are drawn at construction,
    row by row (``[src, dest]`` in row-major order), and the input synapses when the map is built,
    from the same generator ``numpy.random.default_rng(seed)``. For the same sizes and seed the
    matrices equal ncps's.

    Unlike ncps, ``output_dim`` may not exceed ``units``, and cells read the outputs from the
    motor neurons (ids ``0 .. output_dim - 1``) rather than from the whole state.

    Args:
        units: Number of neurons.
        output_dim: Number of motor neurons. Default: ``units``.
        input_dim: Number of inputs; when given the map is built at once.
        self_connections: Whether neurons synapse onto themselves (the diagonal).
        seed: Seed of the polarity draws (ncps's ``erev_init_seed``).
        output_size, input_size: The seeds' examples' spellings of ``output_dim`` and
            ``input_dim``.
    """

    def __init__(
        self,
        units: int,
        output_dim: int | None = None,
        input_dim: int | None = None,
        self_connections: bool = True,
        seed: int | None = 1111,
        *,
        output_size: int | None = None,
        input_size: int | None = None,
    ):
        output_dim = either("output_dim", output_dim, "output_size", output_size)
        input_dim = either("input_dim", input_dim, "input_size", input_size)
        super().__init__(units, output_dim, sparsity_level=0.0, seed=seed)
        if not isinstance(self_connections, (bool, np.bool_)):
            raise TypeError(
                f"self_connections: expected a bool, got {type(self_connections).__name__}"
            )
        self.self_connections = bool(self_connections)
        self._rng = np.random.default_rng(self.seed)
        connected = np.ones((self.units, self.units), dtype=bool)
        if not self.self_connections:
            np.fill_diagonal(connected, False)
        # A boolean-mask assignment fills in row-major order: ncps's draw order.
        self.adjacency_matrix[connected] = self._draw_polarities(int(connected.sum()))
        if input_dim is not None:
            self.build(input_dim)

    def _draw_polarities(self, count: int) -> np.ndarray:
        # One draw per synapse; ncps's `rng.choice([-1, 1, 1])` call by call gives this stream.
        return self._rng.choice([-1, 1, 1], size=count)

    def _draw_at_build(self) -> None:
        polarities = self._draw_polarities(self.input_dim * self.units)
        self.sensory_adjacency_matrix[:] = polarities.reshape(self.input_dim, self.units)

    def _arguments(self) -> dict[str, Any]:
        return {
            "units": self.units,
            "output_dim": self.output_dim,
            "input_dim": self.input_dim,
            "self_connections": self.self_connections,
            "seed": self.seed,
        }
