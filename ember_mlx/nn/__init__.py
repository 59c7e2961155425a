"""Layers, neuron maps and recurrent cells, as ``nn.Module`` subclasses of the active backend."""

from ember_mlx.nn.module import Module, Parameter
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
    "Module",
    "NCPMap",
    "NeuronMap",
    "Parameter",
    "RandomMap",
    "draw_neuron_map",
]
