"""Learning-rate schedules, as in ``mlx.optimizers``.

A schedule is a function of the step count returning the value for that step; pass it where an
optimizer takes a learning rate and the optimizer evaluates it at every update (steps count from
0). The step is taken to float32 before any fractional arithmetic, which is the precision MLX
computes schedules in and keeps every backend's result float32.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .. import core as mx


def exponential_decay(init: float, decay_rate: float) -> Callable:
    r"""Make the schedule :math:`\text{init} \cdot \text{decay\_rate}^{t}`.

    Args:
        init: The value at step 0.
        decay_rate: The factor applied at every step.
    """

    def schedule(step: Any) -> Any:
        return init * mx.power(decay_rate, mx.array(step, mx.float32))

    return schedule


def step_decay(init: float, decay_rate: float, step_size: int) -> Callable:
    r"""Make the schedule :math:`\text{init} \cdot \text{decay\_rate}^{\lfloor t / s \rfloor}`,
    which decays by ``decay_rate`` once every ``step_size`` steps.

    Args:
        init: The value at step 0.
        decay_rate: The factor applied every ``step_size`` steps.
        step_size: The number of steps between decays, at least 1.
    """
    if step_size < 1:
        raise ValueError(f"step_size must be greater than 0, but got {step_size}.")

    def schedule(step: Any) -> Any:
        return init * mx.power(decay_rate, mx.array(step // step_size, mx.float32))

    return schedule


def cosine_decay(init: float, decay_steps: int, end: float = 0.0) -> Callable:
    r"""Make the half-cosine schedule from ``init`` to ``end`` over ``decay_steps`` steps,
    constant at ``end`` after them.

    .. math::
        v(t) = \text{end} + \frac{1}{2}\left(1 + \cos\frac{\pi \min(t, T)}{T}\right)
        (\text{init} - \text{end})

    Args:
        init: The value at step 0.
        decay_steps: The number of steps :math:`T` to decay over, at least 1.
        end: The final value. Default: ``0.0``.
    """
    if decay_steps < 1:
        raise ValueError(f"decay_steps must be greater than 0, but got {decay_steps}.")

    def schedule(step: Any) -> Any:
        s = mx.array(mx.minimum(step, decay_steps), mx.float32)
        decay = 0.5 * (1.0 + mx.cos((math.pi / decay_steps) * s))
        return end + decay * (init - end)

    return schedule


def join_schedules(schedules: list[Callable], boundaries: list[int]) -> Callable:
    r"""Chain schedules: schedule :math:`i + 1` takes over at ``boundaries[i]`` and is given
    the number of steps since that boundary.

    Args:
        schedules: The schedules, in order.
        boundaries: The ``len(schedules) - 1`` steps at which to switch.
    """
    if len(schedules) == 0:
        raise ValueError("Must provide at least 1 schedule to join.")
    if len(schedules) != len(boundaries) + 1:
        raise ValueError(
            f"Received {len(boundaries)} boundaries but expected {len(schedules) - 1}."
        )

    def schedule(step: Any) -> Any:
        output = schedules[0](step)
        for boundary, later in zip(boundaries, schedules[1:], strict=True):
            output = mx.where(step < boundary, output, later(step - boundary))
        return output

    return schedule


def linear_schedule(init: float, end: float, steps: int) -> Callable:
    r"""Make the schedule going linearly from ``init`` to ``end`` over ``steps`` steps, constant
    at ``end`` after them.

    Args:
        init: The value at step 0.
        end: The final value.
        steps: The number of steps of the ramp, at least 1.
    """
    if steps < 1:
        raise ValueError(f"steps must be greater than 0, but got {steps}.")

    def schedule(step: Any) -> Any:
        s = mx.array(mx.minimum(step, steps), mx.float32)
        return s * ((end - init) / steps) + init

    return schedule
