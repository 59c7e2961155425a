"""What the energy-based models share: :class:`~ember_mlx.models.rbm.RBM`, its anomaly detector
and :class:`~ember_mlx.models.rkm.RKM`.

- :class:`Float32Module`: a module that computes in float32 (the Gibbs kernel and the
  counter-based sampler are float32 by design), so it refuses another floating dtype;
- :func:`check_samples`: data as a float32 ``(samples, width)`` array of finite real numbers;
- :func:`progress_bar`, :func:`check_finite`: the training loops' optional tqdm bar and their
  divergence check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ember_mlx.backend import mx, utils
from ember_mlx.checkpoint import CheckpointError
from ember_mlx.nn.module import Module
from ember_mlx.validation import values_known


class Float32Module(Module):
    """A :class:`~ember_mlx.nn.module.Module` whose floating arrays stay float32.

    :meth:`set_dtype` refuses any cast that would change the dtype of one of its arrays, and
    :meth:`load_arrays` (hence ``Module.load``) refuses floating arrays other than float32, so no
    half-precision array ever mixes with the float32 training state.
    """

    def set_dtype(
        self,
        dtype: Any,
        predicate: Callable[[Any], bool] | None = lambda x: mx.issubdtype(x, mx.floating),
    ) -> None:
        """MLX's ``set_dtype``, allowed only where it changes nothing (e.g. ``mx.float32``)."""
        selected = predicate if predicate is not None else (lambda _: True)
        recast = sorted(
            {
                str(value.dtype)
                for _, value in utils.tree_flatten(self.parameters())
                if selected(value.dtype) and value.dtype != dtype
            }
        )
        if recast:
            raise ValueError(
                f"dtype: {type(self).__name__} computes in float32 (its samplers are float32 by "
                f"design) and keeps integer counters and keys; got {dtype}, which would recast "
                f"its {', '.join(recast)} arrays"
            )

    def load_arrays(self, arrays: dict[str, Any], source: str = "arrays") -> Module:
        """``Module.load_arrays``, refusing floating arrays other than float32."""
        for name, value in arrays.items():
            dtype = getattr(value, "dtype", None)
            if (
                isinstance(value, mx.array)
                and mx.issubdtype(dtype, mx.floating)
                and dtype != mx.float32
            ):
                raise CheckpointError(
                    f"{source}: array {name!r} is {dtype}; {type(self).__name__} computes in "
                    "float32, so cast the arrays to float32 before loading them"
                )
        return super().load_arrays(arrays, source)


def check_samples(data: Any, argument: str, width: int, *, evaluate: bool = False) -> Any:
    """``data`` as a float32 ``(samples, width)`` array of finite real numbers, or a clear
    error naming ``argument``. Values are checked where they are known
    (:func:`~ember_mlx.validation.values_known`) or with ``evaluate`` (training entry points);
    shapes and dtypes always."""
    try:
        # An array passes through: mx.array would copy it in every forward pass.
        array = data if isinstance(data, mx.array) else mx.array(data)
        real = not mx.issubdtype(array.dtype, mx.complexfloating)
        array = mx.astype(array, mx.float32) if real else array
    except (TypeError, ValueError, RuntimeError) as err:  # mlx: RuntimeError for str arrays
        raise TypeError(f"{argument}: expected a numeric array, got {type(data).__name__}") from err
    if not real:
        raise TypeError(f"{argument}: expected real numbers, got a {array.dtype} array")
    if array.ndim != 2 or array.shape[1] != width:
        raise ValueError(f"{argument}: expected shape (samples, {width}), got {tuple(array.shape)}")
    if array.shape[0] == 0:
        raise ValueError(
            f"{argument}: expected at least one sample, got an empty array of shape "
            f"{tuple(array.shape)}"
        )
    if not (evaluate or values_known(data)):
        return array
    finite = mx.isfinite(array)
    if not mx.all(finite).item():
        bad = mx.logical_not(finite)
        first = mx.argmax(mx.flatten(bad)).item()
        row, column = divmod(first, width)
        raise ValueError(
            f"{argument}: expected finite values, got {mx.sum(bad).item()} NaN or infinite "
            f"(the first at row {row}, column {column}: {array[row, column].item()})"
        )
    return array


def progress_bar(total: int, enabled: bool, description: str) -> Any:
    """A tqdm bar over ``total`` batches when asked for and tqdm is installed, else ``None``."""
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="batch", desc=description)


def check_finite(values: dict[str, Any], epoch: int, learning_rate: float) -> None:
    """Raise a FloatingPointError naming the arrays of ``values`` that hold a NaN or an
    infinity: training diverged in ``epoch``. One reduction and one sync when all are finite."""
    finite = [mx.all(mx.isfinite(value)) for value in values.values()]
    if mx.all(mx.stack(finite)).item():
        return
    bad = [name for name, ok in zip(values, finite, strict=True) if not ok.item()]
    raise FloatingPointError(
        f"training diverged in epoch {epoch}: {', '.join(bad)} became NaN or infinite; "
        f"lower learning_rate (now {learning_rate})"
    )
