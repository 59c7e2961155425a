"""The seed's loss classes: callables ``loss(y_true, y_pred)`` over :mod:`ember_mlx.ops.loss`.

The math lives in :mod:`ember_mlx.ops.loss` (Keras signatures, clipping and logit forms); these
classes exist because the seed's API is object-based (``loss_fn = MSELoss(); loss_fn(y, y_hat)``)
and add nothing to it but the choice of function. Each returns a scalar array, differentiable
under ``nn.value_and_grad`` like the functions it calls.
"""

from __future__ import annotations

from ember_mlx.backend import mx
from ember_mlx.ops import loss as losses
from ember_mlx.validation import check_bool


class Loss:
    """Base class: a loss is called as ``loss(y_true, y_pred)`` and returns a scalar array."""

    def __call__(self, y_true: mx.array, y_pred: mx.array) -> mx.array:
        """The loss of predictions ``y_pred`` against targets ``y_true``."""
        raise NotImplementedError(f"{type(self).__name__} does not define __call__")


class MSELoss(Loss):
    r"""Mean squared error :math:`\frac{1}{n}\sum_i (\hat y_i - y_i)^2`
    (:func:`ember_mlx.ops.loss.mse`)."""

    def __call__(self, y_true: mx.array, y_pred: mx.array) -> mx.array:
        return losses.mse(y_true, y_pred)


class CrossEntropyLoss(Loss):
    r"""Categorical cross entropy, mean over samples of :math:`-\sum_c y_c \log p_c`.

    ``y_pred`` holds, along its last axis, class probabilities or, with ``from_logits``, logits.
    The targets choose the function:

    - integer class labels with ``y_pred``'s shape less its last axis (``(n,)`` for ``(n, C)``
      predictions): :func:`ember_mlx.ops.loss.sparse_categorical_crossentropy`,
      :math:`-\log p_{y}`;
    - one-hot or soft targets of ``y_pred``'s own shape, of any dtype:
      :func:`ember_mlx.ops.loss.categorical_crossentropy`.

    Any other shape raises rather than broadcast. For a single probability per sample
    (binary targets) use :func:`ember_mlx.ops.loss.binary_crossentropy`.

    Args:
        from_logits: Whether ``y_pred`` holds logits rather than probabilities.
    """

    def __init__(self, from_logits: bool = False):
        self.from_logits = check_bool("from_logits", from_logits)

    def __call__(self, y_true: mx.array, y_pred: mx.array) -> mx.array:
        """The cross entropy of ``y_pred`` against labels or one-hot targets ``y_true``.

        Raises:
            ValueError: ``y_true``'s shape is neither ``y_pred``'s nor ``y_pred``'s without its
                last axis (integer labels), or a label is out of range (eager host arrays).
        """
        y_true, y_pred = mx.array(y_true), mx.array(y_pred)
        labels = tuple(y_pred.shape[:-1])
        if mx.issubdtype(y_true.dtype, mx.integer) and tuple(y_true.shape) == labels:
            return losses.sparse_categorical_crossentropy(y_true, y_pred, self.from_logits)
        if tuple(y_true.shape) == tuple(y_pred.shape):
            return losses.categorical_crossentropy(y_true, y_pred, self.from_logits)
        raise ValueError(
            f"y_true: expected integer class labels of shape {labels} or one-hot targets of "
            f"shape {tuple(y_pred.shape)} (y_pred's), got {y_true.dtype} of shape "
            f"{tuple(y_true.shape)}"
        )
