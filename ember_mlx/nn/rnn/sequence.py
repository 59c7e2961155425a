"""What the batch-first liquid sequence layers (CfC, LTC) share: argument checks, the
mixed-memory LSTM and the split of a time-major array into steps.

Every sequence layer takes ``x`` of shape ``(batch, steps, features)``, an optional initial
state and optional ``timespans`` (the elapsed time of each step). These helpers validate them
with errors that name the argument, and bring ``timespans`` to the one shape the cells use,
``(batch, steps, 1)``, which broadcasts against a ``(batch, units)`` state at every step.

Only shapes are checked on lazy arrays: the values of an MLX array are known only after it is
evaluated, and forcing that inside a forward pass would break laziness and ``mx.compile``.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ember_mlx.backend import get_backend, mx, nn, to_numpy
from ember_mlx.nn.module import Module


def check_input(x: Any, input_size: int) -> tuple[int, int]:
    """Check that ``x`` is a batch-first sequence of ``input_size`` features.

    Args:
        x: The input, expected of shape ``(batch, steps, input_size)`` with ``steps >= 1``.
        input_size: The number of features the layer was built for.

    Returns:
        ``(batch, steps)``.

    Raises:
        ValueError: If ``x`` is not an array of that shape, or, where arrays are eager and on
            the host (numpy, torch on the CPU: one sum and a scalar read, which a NaN makes
            NaN), if it holds NaN.
            A lazy MLX input is not evaluated here, nor is a GPU tensor read back every step.
    """
    shape = tuple(getattr(x, "shape", ()))
    if len(shape) != 3 or min(shape[:2], default=0) < 1 or shape[2] != input_size:
        given = shape if hasattr(x, "shape") else type(x).__name__
        raise ValueError(
            f"x: expected shape (batch, steps, {input_size}) with batch, steps >= 1, got {given}"
        )
    on_host = get_backend() != "mlx" and mx.default_device() == mx.cpu
    # The sum is finite unless x holds NaN or infinities (or overflows): only then look closer.
    if on_host and not mx.isfinite(mx.sum(x)).item() and not mx.all(mx.isfinite(x)).item():
        values = to_numpy(x)
        first = tuple(int(i) for i in np.argwhere(~np.isfinite(values))[0])
        raise ValueError(
            f"x: expected finite numbers, got {values[first]} "
            f"(the first at batch, step, feature {first})"
        )
    return shape[0], shape[1]


def check_step_input(x: Any, input_size: int) -> int:
    """Check that ``x`` is one step of a batch, ``(batch, input_size)`` with ``batch >= 1``
    (a cell's input; its values are not read, as a cell runs inside a time loop).

    Returns:
        ``batch``.
    """
    shape = tuple(getattr(x, "shape", ()))
    if len(shape) != 2 or shape[0] < 1 or shape[1] != input_size:
        given = shape if hasattr(x, "shape") else type(x).__name__
        raise ValueError(f"x: expected shape (batch, {input_size}) with batch >= 1, got {given}")
    return shape[0]


def in_model_dtype(x: Any, dtype: Any) -> Any:
    """``x`` (an array, or a tuple of them, or ``None``) cast to ``dtype``, the dtype of the
    model's parameters.

    A model computes in its own dtype (``set_dtype``) whatever its inputs', integers, booleans
    or another float width, so that every backend gives the same result: MLX alone would promote
    the mixed operands, torch's matmuls refuse them and numpy's operators widen integers to
    float64. Anything that is not an array is returned as it is, for the checks to reject.
    """
    if isinstance(x, (tuple, list)):
        return type(x)(in_model_dtype(part, dtype) for part in x)
    if not hasattr(x, "dtype"):
        return x
    if not isinstance(x, mx.array):  # a numpy array under torch or mlx
        x = mx.array(x)
    return x if x.dtype == dtype else mx.astype(x, dtype)


def masked(weight: Any, mask: Any) -> Any:
    """``weight * mask`` in ``weight``'s dtype. A wiring mask is kept in float32 (``set_dtype``
    converts parameters only), and would otherwise promote half-precision weights."""
    return weight * mx.astype(mask, weight.dtype)


def check_state(state: Any, batch: int, units: int, name: str = "state") -> None:
    """Check that ``state`` is an array of shape ``(batch, units)``.

    Raises:
        ValueError: Naming ``name``, if ``state`` is not an array of that shape.
    """
    if not hasattr(state, "shape"):
        raise ValueError(
            f"{name}: expected an array of shape ({batch}, {units}), got {type(state).__name__}"
        )
    if tuple(state.shape) != (batch, units):
        raise ValueError(f"{name}: expected shape ({batch}, {units}), got {tuple(state.shape)}")


def _host_values(timespans: Any) -> np.ndarray | None:
    """The values of ``timespans`` if they are known without evaluating a lazy graph."""
    if isinstance(timespans, (numbers.Real, str, np.ndarray, list, tuple)):
        return np.asarray(timespans)
    if get_backend() == "mlx":
        return None
    return to_numpy(timespans)


def prepare_timespans(
    timespans: Any, batch: int, steps: int, dtype: Any, positive: bool = False
) -> Any:
    """Bring ``timespans`` to shape ``(batch, steps, 1)``.

    Args:
        timespans: The elapsed time of each step: ``None`` (every step lasts 1), a scalar (every
            step lasts that long), or an array of shape ``(batch, steps)`` or
            ``(batch, steps, 1)`` (per sample and step). Values must be ``>= 0``.
        batch: The batch size of the input.
        steps: The number of steps of the input.
        dtype: The dtype of the result (the input's).
        positive: Require values ``> 0`` (the LTC divides by the step length).

    Returns:
        An array of shape ``(batch, steps, 1)`` and dtype ``dtype``.

    Raises:
        ValueError: If the shape is none of the above, or if a value is negative. Values are
            checked only where they are known without evaluation (Python numbers, numpy
            arrays, and the eager torch and numpy backends), never on a lazy MLX array.
    """
    if timespans is None:
        return mx.ones((batch, steps, 1), dtype=dtype)
    values = _host_values(timespans)
    shape = tuple(values.shape if values is not None else timespans.shape)
    if shape not in ((), (batch, steps), (batch, steps, 1)):
        raise ValueError(
            f"timespans: expected a scalar or shape ({batch}, {steps}) or ({batch}, {steps}, 1), "
            f"got {shape}"
        )
    if values is not None:
        _check_values("timespans", values, positive)
    if not hasattr(timespans, "shape") or isinstance(timespans, np.ndarray):
        timespans = mx.array(values)
    timespans = mx.astype(timespans, dtype)
    if shape == ():
        return mx.broadcast_to(mx.reshape(timespans, (1, 1, 1)), (batch, steps, 1))
    return mx.reshape(timespans, (batch, steps, 1))


def constant_timespan(timespans: Any, positive: bool = False) -> float | None:
    """The elapsed time shared by every step, if ``timespans`` is ``None`` (1) or a number.

    Returns:
        A float, or ``None`` if ``timespans`` is an array (see :func:`prepare_timespans`).

    Raises:
        ValueError: If the number is negative (or zero, with ``positive``).
    """
    if timespans is None:
        return 1.0
    if not isinstance(timespans, numbers.Real):
        return None
    _check_values("timespans", np.asarray(timespans), positive)
    return float(timespans)


def _check_values(name: str, values: np.ndarray, positive: bool) -> None:
    """Raise unless every step length is a finite number ``>= 0`` (``> 0`` if ``positive``)."""
    if values.dtype.kind not in "iuf":
        raise TypeError(f"{name}: expected numbers, got {values.dtype} values")
    if not np.isfinite(values).all():
        bad = values[~np.isfinite(values)]
        raise ValueError(f"{name}: must be finite numbers, got {bad.size} NaN or infinite")
    if not values.size:
        return
    low = np.min(values)
    if positive and low <= 0:
        raise ValueError(f"{name}: must be > 0, got a minimum of {low}")
    if low < 0:
        raise ValueError(f"{name}: must be >= 0, got a minimum of {low}")


def prepare_step_timespans(ts: Any, batch: int, dtype: Any, positive: bool = False) -> Any:
    """Bring the elapsed time of one step to a form that broadcasts against ``(batch, units)``.

    Args:
        ts: ``None`` (the step lasts 1), a number, or an array of shape ``()``, ``(batch,)`` or
            ``(batch, 1)``. Values must be ``>= 0``.
        batch: The batch size of the input.
        dtype: The dtype of an array result.
        positive: Require values ``> 0``.

    Returns:
        ``None`` for ``None``, a Python float for a number, otherwise an array of shape
        ``(batch, 1)`` (``(1, 1)`` for a 0-d array).

    Raises:
        ValueError: If the shape is none of the above, or a host-known value is negative (see
            :func:`prepare_timespans`).
    """
    if ts is None:
        return None
    values = _host_values(ts)
    shape = tuple(values.shape if values is not None else ts.shape)
    if shape not in ((), (batch,), (batch, 1)):
        raise ValueError(f"ts: expected a scalar or shape ({batch},) or ({batch}, 1), got {shape}")
    if values is not None:
        _check_values("ts", values, positive)
    if isinstance(ts, numbers.Real):
        return float(ts)
    if not hasattr(ts, "shape") or isinstance(ts, np.ndarray):
        ts = mx.array(values)
    return mx.reshape(mx.astype(ts, dtype), (-1, 1))


class MixedMemoryCell(Module):
    r"""The LSTM that ncps's ``mixed_memory`` runs before a liquid cell in every step.

    .. math::

        [i, g_i, g_f, g_o] &= x W_{in}^\top + b_{in} + h W_{rec}^\top \\
        c' &= c \odot \sigma(g_f + 1) + \tanh(i) \odot \sigma(g_i) \\
        h' &= \tanh(c') \odot \sigma(g_o)

    Its :math:`h'` becomes the liquid cell's incoming state. Parameter names and initialisation
    are ncps's: ``input_map`` (Glorot-uniform weight, bias uniform in :math:`[-0.1, 0.1]`) and a
    bias-free, orthogonal ``recurrent_map``.

    A sequence layer calls :meth:`project_input` once for all steps and :meth:`step` in the time
    loop; ``cell(x, (h, c))`` does both for one step.

    Args:
        input_size: Number of input features.
        units: Size of ``h`` and ``c``.
    """

    def __init__(self, input_size: int, units: int):
        super().__init__()
        self.input_map = nn.Linear(input_size, 4 * units)
        self.recurrent_map = nn.Linear(units, 4 * units, bias=False)
        self.input_map.weight = nn.init.glorot_uniform()(self.input_map.weight)
        self.input_map.bias = nn.init.uniform(-0.1, 0.1)(self.input_map.bias)
        self.recurrent_map.weight = nn.init.orthogonal()(self.recurrent_map.weight)

    def project_input(self, x: Any) -> Any:
        """:math:`x W_{in}^\top + b_{in}` for any leading axes of ``x``."""
        return self.input_map(x)

    def step(self, projected: Any, state: tuple[Any, Any]) -> tuple[Any, Any]:
        """``(h', c')`` from the projected input ``(batch, 4 units)`` and ``state = (h, c)``."""
        h, c = state
        z = mx.addmm(projected, h, self.recurrent_map.weight.T)
        units = h.shape[-1]
        i, input_gate = z[:, :units], z[:, units : 2 * units]
        forget_gate, output_gate = z[:, 2 * units : 3 * units], z[:, 3 * units :]
        c = c * mx.sigmoid(forget_gate + 1.0) + mx.tanh(i) * mx.sigmoid(input_gate)
        return mx.tanh(c) * mx.sigmoid(output_gate), c

    def __call__(self, x: Any, state: tuple[Any, Any]) -> tuple[Any, Any]:
        batch = check_step_input(x, self.input_map.weight.shape[1])
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            raise ValueError(f"state: expected a pair (h, c), got {type(state).__name__}")
        units = self.recurrent_map.weight.shape[1]
        check_state(state[0], batch, units, "state[0]")
        check_state(state[1], batch, units, "state[1]")
        return self.step(self.project_input(x), state)


def unstack_steps(x: Any) -> list[Any]:
    """The slices ``x[0], x[1], ...`` of a time-major array ``(steps, ...)``, by one split.

    Indexing step by step would make the backward pass add a zero array of the whole sequence
    per step; the cotangent of one split is one concatenation.
    """
    return [mx.squeeze(part, 0) for part in mx.split(x, x.shape[0], axis=0)]
