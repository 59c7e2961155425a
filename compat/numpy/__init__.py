"""The MLX API over numpy: ``core`` mirrors ``mlx.core``; nn, optimizers and utils are shared.

numpy has no autodiff: ``core.grad`` and ``core.value_and_grad`` raise and name the backends
that have it. Everything else (forward passes, sampling, closed-form fits) runs.
"""

from .. import mount
from . import core

utils = mount("utils", __name__)
nn = mount("nn", __name__)
optimizers = mount("optimizers", __name__)

__all__ = ["core", "nn", "optimizers", "utils"]
