"""The seeds' import path for neuron maps: ``from ember_mlx.nn.modules.wiring import NCPMap``."""

from ember_mlx.nn.neuron_maps import (
    AutoNCPMap,
    FullyConnectedMap,
    NCPMap,
    NeuronMap,
    RandomMap,
    draw_neuron_map,
)

__all__ = [
    "AutoNCPMap",
    "FullyConnectedMap",
    "NCPMap",
    "NeuronMap",
    "RandomMap",
    "draw_neuron_map",
]
