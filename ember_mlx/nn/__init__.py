"""Layers, neuron maps and recurrent cells, as ``nn.Module`` subclasses of the active backend."""

from ember_mlx import tensor
from ember_mlx.nn import layers, modules, rnn
from ember_mlx.nn.layers import *  # noqa: F403
from ember_mlx.nn.module import Module, Parameter
from ember_mlx.nn.neuron_maps import (
    AutoNCPMap,
    FullyConnectedMap,
    NCPMap,
    NeuronMap,
    RandomMap,
    draw_neuron_map,
)
from ember_mlx.nn.rnn import *  # noqa: F403

__all__ = [
    "AutoNCPMap",
    "FullyConnectedMap",
    "Module",
    "NCPMap",
    "NeuronMap",
    "Parameter",
    "RandomMap",
    "draw_neuron_map",
    "modules",
    "tensor",
    *layers.__all__,
    *rnn.__all__,
]
