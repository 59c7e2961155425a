"""Optimizers with the API, defaults and update rules of ``mlx.optimizers``.

An optimizer keeps a state tree shaped like the parameters (one dict of buffers per array) plus
``"step"`` and ``"learning_rate"``; :meth:`Optimizer.update` applies a gradient tree to a model.
Scheduled hyper-parameters (a callable instead of a float) are evaluated on the step count before
each update.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .. import core as mx
from ..nn import Module
from ..utils import tree_flatten, tree_map, tree_merge, tree_reduce, tree_unflatten

Schedulable = float | Callable[[Any], Any]


class Optimizer:
    """Base class of the optimizers: per-array rules applied over parameter trees.

    Subclasses implement :meth:`init_single` (create one array's buffers) and
    :meth:`apply_single` (one array's update).

    The step counter is an int64 array (``mlx.optimizers`` uses uint64, which torch cannot do
    arithmetic on); it counts the same way and is stored and restored the same way.
    """

    def __init__(self, schedulers: dict[str, Callable] | None = None):
        self._initialized = False
        self._state = {"step": mx.array(0, mx.int64)}
        self._schedulers = dict(schedulers or {})

    def update(self, model: Module, gradients: dict) -> None:
        """Apply ``gradients`` (e.g. from ``nn.value_and_grad``) to ``model``'s parameters."""
        model.update(self.apply_gradients(gradients, model))

    def init(self, parameters: dict) -> None:
        """Create the state for ``parameters`` now rather than at the first update.

        Optional; useful to read or save :attr:`state` before training. Buffers already in the
        state are kept.
        """

        def merge_structure(params: Any, state: Any) -> Any:
            if isinstance(params, (list, tuple)):
                state = list(state)
                for i in range(len(state)):
                    state[i] = merge_structure(params[i], state[i])
                state.extend(tree_map(lambda _: {}, params[len(state) :]))
                return type(params)(state)
            if isinstance(params, dict):
                for k, v in params.items():
                    state[k] = (
                        merge_structure(v, state[k]) if k in state else tree_map(lambda _: {}, v)
                    )
                return state
            return state

        merge_structure(parameters, self._state)
        tree_map(lambda p, s: s or self.init_single(p, s), parameters, self._state)
        self._initialized = True

    def init_single(self, parameter: Any, state: dict) -> None:
        """Create the buffers of one parameter in its (empty) ``state`` dict."""
        raise NotImplementedError()

    def apply_gradients(self, gradients: dict, parameters: dict) -> dict:
        """Return the updated parameters for ``gradients`` without touching any model.

        ``model.update(opt.apply_gradients(grads, model))`` is :meth:`update`.

        Args:
            gradients: The gradient tree.
            parameters: The parameter tree, or a superset of it such as the model; the result
                has the structure of ``gradients``.
        """
        if not self._initialized:
            self.init(gradients)
        for name, scheduler in self._schedulers.items():
            self.state[name] = mx.array(scheduler(self.step))
        self.state["step"] = mx.add(self.step, 1)
        return tree_map(self.apply_single, gradients, parameters, self.state)

    def apply_single(self, gradient: Any, parameter: Any, state: dict) -> Any:
        """Return one parameter's update, storing its new buffers in ``state``."""
        raise NotImplementedError()

    @property
    def state(self) -> dict:
        """The state tree: ``"step"``, ``"learning_rate"`` and the per-parameter buffers."""
        return self._state

    @state.setter
    def state(self, state: dict) -> None:
        self._initialized = False
        self._state = state

    @property
    def step(self) -> Any:
        """The number of updates applied so far."""
        return self.state["step"]

    @property
    def learning_rate(self) -> Any:
        """The current learning rate (an array)."""
        return self.state["learning_rate"]

    @learning_rate.setter
    def learning_rate(self, learning_rate: Any) -> None:
        self.state["learning_rate"] = mx.array(learning_rate)

    def _maybe_schedule(self, name: str, param: Schedulable) -> None:
        """Store hyper-parameter ``name``; a callable becomes a schedule of the step count."""
        if callable(param):
            self._schedulers[name] = param
            value = param(self.step)
        else:
            value = param
        self.state[name] = mx.array(value)


class MultiOptimizer(Optimizer):
    """Apply different optimizers to different parameters.

    Each gradient goes to the first optimizer whose filter accepts ``(dotted_path, gradient)``;
    the last optimizer takes the rest and has no filter.

    Args:
        optimizers: The optimizers.
        filters: ``len(optimizers) - 1`` predicates ``(path, array) -> bool``.
    """

    def __init__(self, optimizers: list[Optimizer], filters: list[Callable] | None = None):
        super().__init__()
        self._state = {}
        filters = list(filters or [])
        if len(filters) != len(optimizers) - 1:
            raise ValueError(f"Given {len(filters)} filters but {len(optimizers) - 1} needed.")
        self.optimizers = optimizers
        self.filters = filters + [lambda *args, **kwargs: True]

    def _split_dictionary(self, gradients: dict) -> list[dict]:
        if len(self.optimizers) == 1:
            return [gradients]
        parts = [[] for _ in self.optimizers]
        for k, g in tree_flatten(gradients):
            for i, fn in enumerate(self.filters):
                if fn(k, g):
                    parts[i].append((k, g))
                    break
        # tree_unflatten([]) is a list; an empty part must stay a dict.
        return [tree_unflatten(p) if p else {} for p in parts]

    def init(self, parameters: dict) -> None:
        for optimizer, part in zip(
            self.optimizers, self._split_dictionary(parameters), strict=True
        ):
            optimizer.init(part)

    def apply_gradients(self, gradients: dict, parameters: dict) -> dict:
        tree = {}
        for optimizer, part in zip(self.optimizers, self._split_dictionary(gradients), strict=True):
            tree = tree_merge(tree, optimizer.apply_gradients(part, parameters))
        return tree

    @property
    def state(self) -> dict:
        return {"states": [o.state for o in self.optimizers]}

    @state.setter
    def state(self, state: dict) -> None:
        if "states" not in state or len(state["states"]) != len(self.optimizers):
            raise ValueError("Invalid state provided")
        for optimizer, s in zip(self.optimizers, state["states"], strict=True):
            optimizer.state = s

    @property
    def learning_rate(self) -> Any:
        return self.optimizers[0].learning_rate

    @learning_rate.setter
    def learning_rate(self, learning_rate: Any) -> None:
        for optimizer in self.optimizers:
            optimizer.learning_rate = learning_rate


class SGD(Optimizer):
    r"""Stochastic gradient descent with optional momentum and weight decay.

    .. math::
        v_{t+1} &= \mu v_t + (1 - \tau) g_t \\
        w_{t+1} &= w_t - \lambda v_{t+1}

    With ``nesterov`` the step is :math:`g_t + \mu v_{t+1}`; weight decay adds
    :math:`\text{wd} \cdot w_t` to :math:`g_t`. With zero dampening this is ``torch.optim.SGD``.

    Args:
        learning_rate: The learning rate :math:`\lambda`, or a schedule.
        momentum: The momentum :math:`\mu`. Default: ``0``.
        weight_decay: The L2 penalty. Default: ``0``.
        dampening: The dampening :math:`\tau`. Default: ``0``.
        nesterov: Use Nesterov momentum (needs momentum and no dampening). Default: ``False``.
    """

    def __init__(
        self,
        learning_rate: Schedulable,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
    ):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening.")
        super().__init__()
        self._maybe_schedule("learning_rate", learning_rate)
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.dampening = dampening
        self.nesterov = nesterov

    def init_single(self, parameter: Any, state: dict) -> None:
        state["v"] = mx.zeros_like(parameter)

    def apply_single(self, gradient: Any, parameter: Any, state: dict) -> Any:
        lr = mx.astype(self.learning_rate, gradient.dtype)
        if self.weight_decay != 0:
            gradient = gradient + self.weight_decay * parameter
        if self.momentum <= 0:
            return parameter - lr * gradient
        v = self.momentum * state["v"] + (1 - self.dampening) * gradient
        state["v"] = v
        update = gradient + self.momentum * v if self.nesterov else v
        return parameter - lr * update


class RMSprop(Optimizer):
    r"""RMSprop (Tieleman and Hinton, 2012).

    .. math::
        v_{t+1} &= \alpha v_t + (1 - \alpha) g_t^2 \\
        w_{t+1} &= w_t - \lambda \frac{g_t}{\sqrt{v_{t+1}} + \epsilon}

    Args:
        learning_rate: The learning rate :math:`\lambda`, or a schedule.
        alpha: The smoothing constant :math:`\alpha`. Default: ``0.99``.
        eps: The :math:`\epsilon` in the denominator. Default: ``1e-8``.
    """

    def __init__(self, learning_rate: Schedulable, alpha: float = 0.99, eps: float = 1e-8):
        super().__init__()
        self._maybe_schedule("learning_rate", learning_rate)
        self.alpha = alpha
        self.eps = eps
        if self.alpha < 0.0:
            raise ValueError(f"RMSprop alpha should be >=0, {self.alpha} was provided instead")
        if self.eps <= 0.0:
            raise ValueError(f"RMSprop epsilon should be >0, {self.eps} was provided instead")

    def init_single(self, parameter: Any, state: dict) -> None:
        state["v"] = mx.zeros_like(parameter)

    def apply_single(self, gradient: Any, parameter: Any, state: dict) -> Any:
        lr = mx.astype(self.learning_rate, gradient.dtype)
        v = self.alpha * state["v"] + (1 - self.alpha) * mx.square(gradient)
        state["v"] = v
        return parameter - lr * gradient / (mx.sqrt(v) + self.eps)


class Adagrad(Optimizer):
    r"""Adagrad (Duchi et al., 2011).

    .. math::
        v_{t+1} &= v_t + g_t^2 \\
        w_{t+1} &= w_t - \lambda \frac{g_t}{\sqrt{v_{t+1}} + \epsilon}

    Args:
        learning_rate: The learning rate :math:`\lambda`, or a schedule.
        eps: The :math:`\epsilon` in the denominator. Default: ``1e-8``.
    """

    def __init__(self, learning_rate: Schedulable, eps: float = 1e-8):
        super().__init__()
        self._maybe_schedule("learning_rate", learning_rate)
        self.eps = eps
        if self.eps <= 0.0:
            raise ValueError(f"Adagrad epsilon should be >0, {self.eps} was provided instead")

    def init_single(self, parameter: Any, state: dict) -> None:
        state["v"] = mx.zeros_like(parameter)

    def apply_single(self, gradient: Any, parameter: Any, state: dict) -> Any:
        lr = mx.astype(self.learning_rate, gradient.dtype)
        v = state["v"] + mx.square(gradient)
        state["v"] = v
        return parameter - lr * gradient / (mx.sqrt(v) + self.eps)


class AdaDelta(Optimizer):
    r"""AdaDelta (Zeiler, 2012) with a learning rate.

    .. math::
        v_{t+1} &= \rho v_t + (1 - \rho) g_t^2 \\
        \Delta w_{t+1} &= \frac{\sqrt{u_t + \epsilon}}{\sqrt{v_{t+1} + \epsilon}} g_t \\
        u_{t+1} &= \rho u_t + (1 - \rho) \Delta w_{t+1}^2 \\
        w_{t+1} &= w_t - \lambda \Delta w_{t+1}

    Args:
        learning_rate: The learning rate :math:`\lambda`, or a schedule.
        rho: The averaging coefficient :math:`\rho`. Default: ``0.9``.
        eps: The :math:`\epsilon` under the roots. Default: ``1e-6``.
    """

    def __init__(self, learning_rate: Schedulable, rho: float = 0.9, eps: float = 1e-6):
        super().__init__()
        self._maybe_schedule("learning_rate", learning_rate)
        self.rho = rho
        self.eps = eps
        if self.rho < 0.0:
            raise ValueError(f"AdaDelta rho should be >=0, {self.rho} was provided instead")
        if self.eps <= 0.0:
            raise ValueError(f"AdaDelta epsilon should be >0, {self.eps} was provided instead")

    def init_single(self, parameter: Any, state: dict) -> None:
        state["v"] = mx.zeros_like(parameter)
        state["u"] = mx.zeros_like(parameter)

    def apply_single(self, gradient: Any, parameter: Any, state: dict) -> Any:
        lr = mx.astype(self.learning_rate, gradient.dtype)
        rho, eps = self.rho, self.eps
        v = rho * state["v"] + (1 - rho) * mx.square(gradient)
        d = mx.sqrt(state["u"] + eps) / mx.sqrt(v + eps) * gradient
        state["u"] = rho * state["u"] + (1 - rho) * mx.square(d)
        state["v"] = v
        return parameter - lr * d


class Adam(Optimizer):
    r"""Adam (Kingma and Ba, 2015).

    .. math::
        m_{t+1} &= \beta_1 m_t + (1 - \beta_1) g_t \\
        v_{t+1} &= \beta_2 v_t + (1 - \beta_2) g_t^2 \\
        w_{t+1} &= w_t - \lambda \frac{m_{t+1}}{\sqrt{v_{t+1}} + \epsilon}

    As in ``mlx.optimizers``, the bias correction of the moments is off by default; with
    ``bias_correction=True`` the step is
    :math:`\frac{\lambda}{1 - \beta_1^t} m_{t+1} / (\sqrt{v_{t+1} / (1 - \beta_2^t)} + \epsilon)`,
    which is ``torch.optim.Adam``.

    Args:
        learning_rate: The learning rate :math:`\lambda`, or a schedule.
        betas: The averaging coefficients :math:`(\beta_1, \beta_2)`. Default:
            ``(0.9, 0.999)``.
        eps: The :math:`\epsilon` in the denominator. Default: ``1e-8``.
        bias_correction: Whether to correct the moments' bias. Default: ``False``.
    """

    def __init__(
        self,
        learning_rate: Schedulable,
        betas: Sequence[float] = (0.9, 0.999),
        eps: float = 1e-8,
        bias_correction: bool = False,
    ):
        super().__init__()
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(
                    f"Adam beta{i + 1} should be in [0, 1), {beta} was provided instead"
                )
        if not 0.0 <= eps:
            raise ValueError(f"Adam epsilon should be >=0, {eps} was provided instead")
        self._maybe_schedule("learning_rate", learning_rate)
        self.betas = betas
        self.eps = eps
        self.bias_correction = bias_correction

    def init_single(self, parameter: Any, state: dict) -> None:
        state["m"] = mx.zeros_like(parameter)
        state["v"] = mx.zeros_like(parameter)

    def apply_single(self, gradient: Any, parameter: Any, state: dict) -> Any:
        lr = mx.astype(self.learning_rate, gradient.dtype)
        b1, b2 = self.betas
        m = b1 * state["m"] + (1 - b1) * gradient
        v = b2 * state["v"] + (1 - b2) * mx.square(gradient)
        state["m"] = m
        state["v"] = v
        if not self.bias_correction:
            return parameter - lr * m / (mx.sqrt(v) + self.eps)
        step = mx.array(self.step, mx.float32)
        c1 = mx.astype(lr / (1 - mx.power(b1, step)), gradient.dtype)
        c2 = mx.astype(mx.rsqrt(1 - mx.power(b2, step)), gradient.dtype)
        return parameter - c1 * m / (mx.sqrt(v) * c2 + self.eps)


class AdamW(Adam):
    r"""AdamW (Loshchilov and Hutter, 2019): Adam with decoupled weight decay.

    .. math::
        w_{t+1} = w_t - \alpha \left(\frac{m_{t+1}}{\sqrt{v_{t+1}} + \epsilon}
        + \lambda w_t\right)

    Bias correction is off by default, as in ``mlx.optimizers``; with it this is
    ``torch.optim.AdamW``.

    Args:
        learning_rate: The learning rate :math:`\alpha`, or a schedule.
        betas: The averaging coefficients :math:`(\beta_1, \beta_2)`. Default:
            ``(0.9, 0.999)``.
        eps: The :math:`\epsilon` in the denominator. Default: ``1e-8``.
        weight_decay: The decay :math:`\lambda`. Default: ``0.01``.
        bias_correction: Whether to correct the moments' bias. Default: ``False``.
    """

    def __init__(
        self,
        learning_rate: Schedulable,
        betas: Sequence[float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
        bias_correction: bool = False,
    ):
        super().__init__(
            learning_rate=learning_rate, betas=betas, eps=eps, bias_correction=bias_correction
        )
        self.weight_decay = weight_decay

    def apply_single(self, gradient: Any, parameter: Any, state: dict) -> Any:
        lr = mx.astype(self.learning_rate, gradient.dtype)
        return super().apply_single(gradient, parameter * (1 - lr * self.weight_decay), state)


class Adamax(Adam):
    r"""Adamax (Kingma and Ba, 2015), Adam with the infinity norm.

    .. math::
        m_{t+1} &= \beta_1 m_t + (1 - \beta_1) g_t \\
        v_{t+1} &= \max(\beta_2 v_t, |g_t|) \\
        w_{t+1} &= w_t - \lambda \frac{m_{t+1}}{v_{t+1} + \epsilon}

    Args:
        learning_rate: The learning rate :math:`\lambda`, or a schedule.
        betas: The coefficients :math:`(\beta_1, \beta_2)`. Default: ``(0.9, 0.999)``.
        eps: The :math:`\epsilon` in the denominator. Default: ``1e-8``.
    """

    def __init__(
        self,
        learning_rate: Schedulable,
        betas: Sequence[float] = (0.9, 0.999),
        eps: float = 1e-8,
    ):
        super().__init__(learning_rate, betas, eps)

    def apply_single(self, gradient: Any, parameter: Any, state: dict) -> Any:
        lr = mx.astype(self.learning_rate, gradient.dtype)
        b1, b2 = self.betas
        m = b1 * state["m"] + (1 - b1) * gradient
        v = mx.maximum(b2 * state["v"], mx.abs(gradient))
        state["m"] = m
        state["v"] = v
        return parameter - lr * m / (v + self.eps)


class Lion(Optimizer):
    r"""Lion (Chen et al., 2023): sign updates of an interpolated momentum.

    .. math::
        c_{t+1} &= \beta_1 m_t + (1 - \beta_1) g_t \\
        m_{t+1} &= \beta_2 m_t + (1 - \beta_2) g_t \\
        w_{t+1} &= w_t - \eta (\mathrm{sign}(c_{t+1}) + \lambda w_t)

    Sign updates are large: use a learning rate 3-10x smaller and a weight decay 3-10x larger
    than for AdamW.

    Args:
        learning_rate: The learning rate :math:`\eta`, or a schedule.
        betas: The coefficients :math:`(\beta_1, \beta_2)`. Default: ``(0.9, 0.99)``.
        weight_decay: The decay :math:`\lambda`. Default: ``0.0``.
    """

    def __init__(
        self,
        learning_rate: Schedulable,
        betas: Sequence[float] = (0.9, 0.99),
        weight_decay: float = 0.0,
    ):
        super().__init__()
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(
                    f"Lion beta{i + 1} should be in [0, 1), {beta} was provided instead"
                )
        self._maybe_schedule("learning_rate", learning_rate)
        self.betas = betas
        self.weight_decay = weight_decay

    def init_single(self, parameter: Any, state: dict) -> None:
        state["m"] = mx.zeros_like(parameter)

    def apply_single(self, gradient: Any, parameter: Any, state: dict) -> Any:
        lr = mx.astype(self.learning_rate, gradient.dtype)
        b1, b2 = self.betas
        m = state["m"]
        c = b1 * m + (1 - b1) * gradient
        state["m"] = b2 * m + (1 - b2) * gradient
        if self.weight_decay > 0:
            parameter = (1 - lr * self.weight_decay) * parameter
        return parameter - lr * mx.sign(c)


class Adafactor(Optimizer):
    r"""Adafactor (Shazeer and Stern, 2018): Adam-like steps with factored second moments.

    For arrays of 2 or more dimensions the second moment is kept as row and column averages
    (sublinear memory); updates are clipped by their RMS and, by default, the step size is
    relative: :math:`\min(10^{-2}, 1/\sqrt{t})` times the parameter RMS.

    Args:
        learning_rate: The learning rate, used only when ``relative_step=False``.
        eps: :math:`(\epsilon_1, \epsilon_2)`: added to the squared gradients, and the floor on
            the parameter scale. Default: ``(1e-30, 1e-3)``.
        clip_threshold: The RMS above which updates are scaled down. Default: ``1.0``.
        decay_rate: The exponent of the second-moment decay :math:`1 - t^{c}`. Default:
            ``-0.8``.
        beta_1: If set, keep a first moment with this coefficient. Default: ``None``.
        weight_decay: The weight decay. Default: ``0.0``.
        scale_parameter: Scale the step by the parameter RMS. Default: ``True``.
        relative_step: Compute the step size from the step count. Default: ``True``.
        warmup_init: Grow the relative step as :math:`10^{-6} t`. Default: ``False``.
    """

    def __init__(
        self,
        learning_rate: Schedulable | None = None,
        eps: tuple[float, float] = (1e-30, 1e-3),
        clip_threshold: float = 1.0,
        decay_rate: float = -0.8,
        beta_1: float | None = None,
        weight_decay: float = 0.0,
        scale_parameter: bool = True,
        relative_step: bool = True,
        warmup_init: bool = False,
    ):
        super().__init__()
        if learning_rate is not None:
            self._maybe_schedule("learning_rate", learning_rate)
        self.eps = eps
        self.clip_threshold = clip_threshold
        self.decay_rate = decay_rate
        self.beta_1 = beta_1
        self.weight_decay = weight_decay
        self.scale_parameter = scale_parameter
        self.relative_step = relative_step
        self.warmup_init = warmup_init

    def init_single(self, parameter: Any, state: dict) -> None:
        if parameter.ndim >= 2:
            shape, dtype = tuple(parameter.shape), parameter.dtype
            state["exp_avg_sq_row"] = mx.zeros(shape[:-1], dtype=dtype)
            state["exp_avg_sq_col"] = mx.zeros(shape[:-2] + shape[-1:], dtype=dtype)
        else:
            state["exp_avg_sq"] = mx.zeros_like(parameter)
        if self.beta_1 is not None:
            state["exp_avg"] = mx.zeros_like(parameter)

    def _compute_rms(self, inputs: Any) -> Any:
        return mx.sqrt(mx.mean(mx.square(inputs)))

    def _compute_learning_rate(self, step: Any, parameter_rms: Any) -> Any:
        if self.relative_step:
            min_step = 1e-6 * step if self.warmup_init else 1e-2
            relative_step_size = mx.minimum(min_step, mx.rsqrt(step))
        else:
            relative_step_size = self.learning_rate
        relative_step_size = mx.astype(relative_step_size, parameter_rms.dtype)
        parameter_scale = 1.0
        if self.scale_parameter:
            parameter_scale = mx.maximum(self.eps[1], parameter_rms)
        return parameter_scale * relative_step_size

    def _approximate_exp_moving_avg(self, exp_avg_sq_row: Any, exp_avg_sq_col: Any) -> Any:
        r_factor = mx.rsqrt(exp_avg_sq_row / mx.mean(exp_avg_sq_row, axis=-1, keepdims=True))
        c_factor = mx.rsqrt(exp_avg_sq_col)
        return mx.expand_dims(r_factor, axis=-1) * mx.expand_dims(c_factor, axis=-2)

    def apply_single(self, gradient: Any, parameter: Any, state: dict) -> Any:
        step = mx.array(self.step, mx.float32)
        parameter_rms = self._compute_rms(parameter)
        learning_rate = self._compute_learning_rate(step, parameter_rms)
        beta_2 = 1.0 - mx.astype(mx.power(step, self.decay_rate), parameter_rms.dtype)
        update = mx.square(gradient) + self.eps[0]
        if gradient.ndim >= 2:
            row = beta_2 * state["exp_avg_sq_row"] + (1 - beta_2) * mx.mean(update, axis=-1)
            col = beta_2 * state["exp_avg_sq_col"] + (1 - beta_2) * mx.mean(update, axis=-2)
            state["exp_avg_sq_row"] = row
            state["exp_avg_sq_col"] = col
            update = self._approximate_exp_moving_avg(row, col) * gradient
        else:
            exp_avg_sq = beta_2 * state["exp_avg_sq"] + (1 - beta_2) * update
            state["exp_avg_sq"] = exp_avg_sq
            update = mx.rsqrt(exp_avg_sq) * gradient
        update = update / mx.maximum(1.0, self._compute_rms(update) / self.clip_threshold)
        update = learning_rate * update
        if self.beta_1 is not None:
            update = self.beta_1 * state["exp_avg"] + (1 - self.beta_1) * update
            state["exp_avg"] = update
        if self.weight_decay != 0:
            parameter = parameter + parameter * (-self.weight_decay * learning_rate)
        return parameter - update


class Muon(Optimizer):
    r"""Muon: momentum orthogonalised by Newton-Schulz iterations
    (https://kellerjordan.github.io/posts/muon/).

    The momentum update of each 2-D (or flattened N-D) array is replaced by an approximately
    orthogonal matrix with the same singular vectors. Use it for hidden weight matrices and a
    different optimizer (e.g. :class:`AdamW`) for embeddings, output layers and 0-D/1-D arrays.

    Args:
        learning_rate: The learning rate, or a schedule.
        momentum: The momentum. Default: ``0.95``.
        weight_decay: The L2 penalty. Default: ``0.01``.
        nesterov: Use Nesterov momentum. Default: ``True``.
        ns_steps: The number of Newton-Schulz iterations. Default: ``5``.
    """

    def __init__(
        self,
        learning_rate: Schedulable,
        momentum: float = 0.95,
        weight_decay: float = 0.01,
        nesterov: bool = True,
        ns_steps: int = 5,
    ):
        super().__init__()
        self._maybe_schedule("learning_rate", learning_rate)
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.nesterov = nesterov
        self.ns_steps = ns_steps

    def init_single(self, parameter: Any, state: dict) -> None:
        state["v"] = mx.zeros_like(parameter)

    def _zeropower_via_newtonschulz5(self, x: Any, steps: int) -> Any:
        # The quintic's coefficients maximise the slope at zero while keeping it convergent.
        a, b, c = (3.4445, -4.7750, 2.0315)
        transpose_needed = x.shape[-2] > x.shape[-1]
        if transpose_needed:
            x = x.T
        x = x / (mx.linalg.norm(x, keepdims=True) + 1e-7)
        for _ in range(steps):
            gram = x @ x.T
            poly = mx.addmm(b * gram, gram, gram, beta=1.0, alpha=c)
            x = mx.addmm(a * x, poly, x, beta=1.0, alpha=1.0)
        return x.T if transpose_needed else x

    def apply_single(self, gradient: Any, parameter: Any, state: dict) -> Any:
        if self.weight_decay != 0:
            gradient = gradient + self.weight_decay * parameter
        v = self.momentum * state["v"] + (1 - self.momentum) * gradient
        state["v"] = v
        if self.nesterov:
            update = gradient * (1 - self.momentum) + v * self.momentum
        else:
            update = v
        lr = mx.astype(self.learning_rate, gradient.dtype)
        if update.ndim >= 2:
            shape = tuple(update.shape)
            update = mx.reshape(update, (shape[0], -1))
            update = mx.reshape(self._zeropower_via_newtonschulz5(update, self.ns_steps), shape)
            lr = lr * max(1, update.shape[-2] / update.shape[-1]) ** 0.5
        return parameter - lr * update


def clip_grad_norm(grads: Any, max_norm: float) -> tuple[Any, Any]:
    r"""Scale a gradient tree so its global L2 norm is at most ``max_norm``.

    .. math::
        g \leftarrow g \cdot \min\left(1, \frac{\text{max\_norm}}{\|g\|_2 + 10^{-6}}\right)

    where :math:`\|g\|_2` is the norm of all leaves together.

    Args:
        grads: The gradient tree.
        max_norm: The largest allowed norm, at least 0.

    Returns:
        The (possibly) rescaled gradients and their norm before clipping.
    """
    if max_norm < 0:
        raise ValueError(f"max_norm should be >=0, {max_norm} was provided instead")

    def squared_norm(g: Any) -> Any:
        # float16 squares are summed in float32 so they do not overflow.
        if g.dtype == mx.float16:
            g = mx.astype(g, mx.float32)
        return mx.sum(mx.square(g))

    def scale(g: Any) -> Any:
        # Scaling before the cast keeps small normalisers from underflowing in float16.
        if mx.issubdtype(g.dtype, mx.floating):
            return mx.astype(g * normalizer, g.dtype)
        return g * normalizer

    norm_squared = tree_reduce(lambda acc, g: acc + squared_norm(g), grads, 0.0)
    total_norm = mx.sqrt(norm_squared)
    normalizer = mx.minimum(max_norm / (total_norm + 1e-6), 1.0)
    return tree_map(scale, grads), total_norm
