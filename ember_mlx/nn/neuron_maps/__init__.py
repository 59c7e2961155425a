"""Neuron maps (wirings): which neurons a wired cell connects, and with which sign.

Maps are pure numpy and drawn on the host, so a map is the same on every backend. For the same
sizes and seed, :class:`FullyConnectedMap`, :class:`RandomMap`, :class:`NCPMap` and
:class:`AutoNCPMap` give exactly the matrices of ncps's ``FullyConnected``, ``Random``, ``NCP``
and ``AutoNCP``.
"""

from ember_mlx.nn.neuron_maps.base import GROUPS, NeuronMap
from ember_mlx.nn.neuron_maps.fully_connected import FullyConnectedMap
from ember_mlx.nn.neuron_maps.ncp import AutoNCPMap, NCPMap
from ember_mlx.nn.neuron_maps.plot import draw_neuron_map
from ember_mlx.nn.neuron_maps.random_map import RandomMap

__all__ = [
    "GROUPS",
    "AutoNCPMap",
    "FullyConnectedMap",
    "NCPMap",
    "NeuronMap",
    "RandomMap",
    "draw_neuron_map",
]
