"""Feed-forward layers: dense, normalisation, dropout, activations and the ``Sequential``
container."""

from ember_mlx.nn.layers.activations import (
    LeCunTanh,
    ReLU,
    Sigmoid,
    Softmax,
    Softplus,
    Tanh,
    get_activation,
    lecun_tanh,
    relu,
    sigmoid,
    softmax,
    softplus,
    tanh,
)
from ember_mlx.nn.layers.dense import Dense, Linear
from ember_mlx.nn.layers.dropout import Dropout
from ember_mlx.nn.layers.normalization import BatchNormalization
from ember_mlx.nn.layers.sequential import Sequential

__all__ = [
    "BatchNormalization",
    "Dense",
    "Dropout",
    "LeCunTanh",
    "Linear",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Tanh",
    "get_activation",
    "lecun_tanh",
    "relu",
    "sigmoid",
    "softmax",
    "softplus",
    "tanh",
]
