"""The seeds' import path for layers and cells: ``from ember_mlx.nn.modules import CfC``.

The classes live in :mod:`ember_mlx.nn.layers`, :mod:`ember_mlx.nn.rnn` and
:mod:`ember_mlx.nn.module`; the neuron maps are under :mod:`ember_mlx.nn.modules.wiring`.
"""

from ember_mlx.nn.layers import *  # noqa: F403
from ember_mlx.nn.layers import __all__ as _layers
from ember_mlx.nn.module import Module, Parameter
from ember_mlx.nn.modules import wiring
from ember_mlx.nn.rnn import *  # noqa: F403
from ember_mlx.nn.rnn import __all__ as _rnn

__all__ = ["Module", "Parameter", "wiring", *_layers, *_rnn]
