"""RandomMap: a fixed number of synapses at uniformly drawn places."""

from __future__ import annotations

import numpy as np

from ember_mlx.nn.neuron_maps.base import NeuronMap
from ember_mlx.nn.spelling import either
from ember_mlx.validation import check_fraction


class RandomMap(NeuronMap):
    r"""A sparse map with random places and signs: ncps's ``Random``.

    Of the :math:`n^2` neuron pairs, :math:`\operatorname{round}(n^2 (1 - s))` are connected,
    drawn uniformly without replacement; of the :math:`d \cdot n` input pairs,
    :math:`\operatorname{round}(d\, n (1 - s))`. Polarities are :math:`+1` with probability 2/3.
    Neuron synapses are drawn at construction and input synapses when the map is built, from one
    ``numpy.random.default_rng(seed)``; for the same sizes and seed the matrices equal ncps's.

    ncps draws each input synapse's polarity twice (a duplicated line) and keeps the second; the
    first draw is consumed and discarded here too, so the random stream stays the same. Unlike
    ncps, ``output_dim`` may not exceed ``units``, and cells read the outputs from the motor
    neurons (ids ``0 .. output_dim - 1``) rather than from the whole state.

    Args:
        units: Number of neurons.
        output_dim: Number of motor neurons. Default: ``units``.
        input_dim: Number of inputs; when given the map is built at once.
        sparsity_level: Fraction :math:`s \in [0, 1)` of pairs left unconnected (ncps's range).
        seed: Seed of the draws (ncps's ``random_seed``).
        output_size, input_size: The seeds' examples' spellings of ``output_dim`` and
            ``input_dim``.
    """

    def __init__(
        self,
        units: int,
        output_dim: int | None = None,
        input_dim: int | None = None,
        sparsity_level: float = 0.5,
        seed: int | None = 1111,
        *,
        output_size: int | None = None,
        input_size: int | None = None,
    ):
        output_dim = either("output_dim", output_dim, "output_size", output_size)
        input_dim = either("input_dim", input_dim, "input_size", input_size)
        sparsity_level = check_fraction("sparsity_level", sparsity_level, include_high=False)
        super().__init__(units, output_dim, sparsity_level=sparsity_level, seed=seed)
        self._rng = np.random.default_rng(self.seed)
        sources, destinations = self._draw_pairs(self.units)
        self.adjacency_matrix[sources, destinations] = self._rng.choice([-1, 1, 1], len(sources))
        if input_dim is not None:
            self.build(input_dim)

    def _draw_pairs(self, rows: int) -> tuple[np.ndarray, np.ndarray]:
        """Distinct ``(src, dest)`` pairs among ``rows x units``, in the order drawn."""
        count = int(np.round(rows * self.units * (1 - self.sparsity_level)))
        # Sampling flat indices draws the same stream as ncps's sampling of rows of the
        # row-major pair list.
        flat = self._rng.choice(rows * self.units, size=count, replace=False)
        return np.divmod(flat, self.units)

    def _draw_at_build(self) -> None:
        sources, destinations = self._draw_pairs(self.input_dim)
        polarities = self._rng.choice([-1, 1, 1], size=(len(sources), 2))[:, 1]
        self.sensory_adjacency_matrix[sources, destinations] = polarities
