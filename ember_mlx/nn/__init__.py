"""Layers, neuron maps and recurrent cells, as ``nn.Module`` subclasses of the active backend."""

from ember_mlx.nn.module import Module, Parameter

__all__ = ["Module", "Parameter"]
