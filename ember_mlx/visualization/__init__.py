"""Figures of trained models, drawn with matplotlib (the optional extra ``plots``: ``pip install
'ember-mlx[plots]'``), which is imported only when a figure is drawn."""

from ember_mlx.visualization.rbm import RBMVisualizer

__all__ = ["RBMVisualizer"]
