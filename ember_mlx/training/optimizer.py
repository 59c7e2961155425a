r"""The seed's optimizers, as the backend's own ``optim`` classes with the seed's arguments.

:class:`SGD` and :class:`Adam` subclass ``optim.SGD`` and ``optim.Adam`` (``mlx.optimizers`` on
the mlx backend), taking the seed's (Keras's) argument names and defaults; :data:`Optimizer` is
``optim.Optimizer``. They keep MLX's interface: in ember_mlx gradients come from
``nn.value_and_grad(model, loss_fn)`` and ``optimizer.update(model, grads)`` applies them. The
seed's training loop (``ops.gradients(loss, model.trainable_variables)`` then
``optimizer.apply_gradients(zip(...))``) is TensorFlow's tape style, which MLX's functional
autodiff does not have::

    loss_and_grad = nn.value_and_grad(model, lambda x, y: loss_fn(y, model(x)))
    loss, grads = loss_and_grad(x, y)
    optimizer.update(model, grads)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ember_mlx.backend import optim
from ember_mlx.validation import check_bool, check_fraction, check_real

Optimizer = optim.Optimizer
LearningRate = float | Callable[[Any], Any]


def _learning_rate(value: LearningRate) -> LearningRate:
    """A float learning rate >= 0, or a schedule (a callable of the step) as MLX accepts."""
    return value if callable(value) else check_real("learning_rate", value, at_least=0.0)


class SGD(optim.SGD):
    r"""Stochastic gradient descent with optional (Nesterov) momentum.

    .. math::
        v_{t+1} = \mu v_t + g_t, \qquad w_{t+1} = w_t - \lambda v_{t+1}

    and with ``nesterov`` :math:`w_{t+1} = w_t - \lambda (g_t + \mu v_{t+1})`. This is
    ``optim.SGD`` (and ``torch.optim.SGD``); for a constant learning rate it takes the same steps
    as Keras's :math:`v \leftarrow \mu v - \lambda g,\ w \leftarrow w + v`.

    Args:
        learning_rate: The learning rate :math:`\lambda` (or a schedule of the step).
        momentum: The momentum :math:`\mu \in [0, 1]`.
        nesterov: Use Nesterov momentum (needs ``momentum > 0``).

    Raises:
        ValueError: An argument is out of range, or ``nesterov`` without momentum.
        TypeError: An argument has the wrong type.
    """

    def __init__(
        self, learning_rate: LearningRate = 0.01, momentum: float = 0.0, nesterov: bool = False
    ):
        momentum = check_fraction("momentum", momentum)
        if check_bool("nesterov", nesterov) and momentum == 0:
            raise ValueError("nesterov: Nesterov momentum needs momentum > 0, got momentum=0.0")
        super().__init__(_learning_rate(learning_rate), momentum=momentum, nesterov=nesterov)


class Adam(optim.Adam):
    r"""Adam (Kingma and Ba, 2015) with bias correction, as Keras and torch run it.

    .. math::
        m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t, \quad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2, \quad
        w_t = w_{t-1} - \lambda \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}, \quad
        \hat m_t = \frac{m_t}{1 - \beta_1^t}, \quad \hat v_t = \frac{v_t}{1 - \beta_2^t}

    The seed's names and defaults are Keras's, so bias correction is on: ``optim.Adam``'s
    ``bias_correction`` defaults to ``False`` (MLX's own Adam skips it, which makes the first
    steps :math:`1/(1 - \beta_1)` times too small), and this class passes ``True``. The step is
    then ``torch.optim.Adam``'s exactly. Keras adds :math:`\epsilon` to :math:`\sqrt{v_t}`
    rather than to :math:`\sqrt{\hat v_t}`, an effective
    :math:`\epsilon / \sqrt{1 - \beta_2^t}`, which differs only while gradients are as small as
    :math:`\epsilon`.

    Args:
        learning_rate: The learning rate :math:`\lambda` (or a schedule of the step).
        beta_1: :math:`\beta_1 \in [0, 1)`, the decay of the first moment.
        beta_2: :math:`\beta_2 \in [0, 1)`, the decay of the second moment.
        epsilon: :math:`\epsilon \ge 0` (Keras's default ``1e-7``; torch's and MLX's ``1e-8``).

    Raises:
        ValueError: An argument is out of range.
        TypeError: An argument has the wrong type.
    """

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
    ):
        betas = [
            check_fraction("beta_1", beta_1, include_high=False),
            check_fraction("beta_2", beta_2, include_high=False),
        ]
        epsilon = check_real("epsilon", epsilon, at_least=0.0)
        super().__init__(
            _learning_rate(learning_rate), betas=betas, eps=epsilon, bias_correction=True
        )
