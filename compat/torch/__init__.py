"""The MLX API over torch: ``core`` mirrors ``mlx.core``; nn, optimizers and utils are shared.

Gradients come from torch autograd; arrays live on torch's default device, so
``torch.set_default_device("cuda")`` moves everything ember_mlx creates to the GPU.
"""

from .. import mount
from . import core

utils = mount("utils", __name__)
nn = mount("nn", __name__)
optimizers = mount("optimizers", __name__)

__all__ = ["core", "nn", "optimizers", "utils"]
