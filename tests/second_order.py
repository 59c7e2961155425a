"""Gradients of a gradient, for the tests of the cells whose vjps are written by hand: the
gradient, by parameter name, of the squared norm of a loss's parameter gradient. Ours nests
``mx.grad``; the reference is torch autograd with ``create_graph``."""

import numpy as np

from ember_mlx.backend import mx, to_numpy, utils


def ember_second_order(model, loss):
    """``{name: array}`` for our ``model`` and ``loss(model) -> scalar``."""

    def loss_of(params):
        model.update(params)
        return loss(model)

    def squared_gradient_norm(params):
        return sum(mx.sum(g * g) for _, g in utils.tree_flatten(mx.grad(loss_of)(params)))

    params = model.trainable_parameters()
    grads = mx.grad(squared_gradient_norm)(params)
    model.update(params)
    return {name: to_numpy(g) for name, g in utils.tree_flatten(grads)}


def torch_second_order(module, loss):
    """``{name: array}`` for a torch ``module`` and ``loss(module) -> scalar`` tensor, over the
    parameters that require a gradient."""
    import torch

    pairs = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
    names, params = zip(*pairs, strict=True)
    grads = torch.autograd.grad(loss(module), params, create_graph=True)
    norm = sum((g * g).sum() for g in grads)
    second = torch.autograd.grad(norm, params, allow_unused=True)
    return {
        name: np.zeros(tuple(p.shape), np.float32) if g is None else g.numpy()
        for name, p, g in zip(names, params, second, strict=True)
    }


def assert_second_orders_equal(got, expected, rename=lambda name: name):
    """``got`` (ours) equals ``expected`` (torch's, whose names ``rename`` maps to ours) for
    every parameter, to float32 accuracy relative to each gradient's scale."""
    assert set(got) == {rename(name) for name in expected}
    for name, value in expected.items():
        atol = 1e-5 + 1e-4 * np.abs(value).max()
        np.testing.assert_allclose(got[rename(name)], value, rtol=0, atol=atol, err_msg=name)
