"""Anomaly detection from the prediction error of a liquid state machine."""

from __future__ import annotations

from typing import Any

from ember_mlx.backend import mx
from ember_mlx.nn.module import Module, Parameter
from ember_mlx.ops.stats import percentile
from ember_mlx.validation import check_count, check_real, resolve_seed

from .lsm import LiquidStateMachine
from .validation import as_sequences


class LiquidAnomalyDetector(Module):
    r"""Flags the steps of a series that a reservoir trained on normal data fails to predict.

    A :class:`LiquidStateMachine` (the ``predictor``) learns one-step-ahead prediction of the
    multivariate series :math:`x(t)` on normal data. The score of step :math:`t + 1` is the
    squared prediction error averaged over the features,

    .. math::

        s(t + 1) = \frac{1}{F} \lVert \hat x(t + 1) - x(t + 1) \rVert^2 ,

    where :math:`\hat x(t + 1)` is read from the reservoir after :math:`x(0..t)`. A step is an
    anomaly when its score exceeds the threshold: the ``percentile``-th percentile of the scores
    on the training data (so about ``100 - percentile`` percent of normal steps are flagged).
    The first ``washout`` predictions, made while the reservoir forgets its zero initial state,
    are not scored. Features should share a scale (standardise them first), since their errors
    are averaged.

    Args:
        input_size: Features per step.
        reservoir_size, connectivity, spectral_radius, leak_rate, input_scaling, bias_scaling,
        washout, ridge: The predictor's settings (see :class:`LiquidStateMachine`).
        percentile: Percentile of the training scores used as threshold, in ``[0, 100]``.
        seed: Seed of the reservoir; ``None`` draws one, recorded in :meth:`get_config`.
    """

    def __init__(
        self,
        input_size: int,
        reservoir_size: int = 200,
        connectivity: float = 0.1,
        spectral_radius: float = 0.9,
        leak_rate: float = 1.0,
        input_scaling: float = 1.0,
        bias_scaling: float = 0.2,
        washout: int = 50,
        ridge: float = 1e-8,
        percentile: float = 95.0,
        seed: int | None = None,
    ):
        super().__init__()
        self.input_size = check_count("input_size", input_size)
        self.percentile = check_real("percentile", percentile, at_least=0.0, at_most=100.0)
        seed = resolve_seed(seed)
        self._config["seed"] = seed
        self.predictor = LiquidStateMachine(
            input_size,
            reservoir_size,
            input_size,
            connectivity=connectivity,
            spectral_radius=spectral_radius,
            leak_rate=leak_rate,
            input_scaling=input_scaling,
            bias_scaling=bias_scaling,
            washout=washout,
            ridge=ridge,
            seed=seed,
        )
        # NaN until fit: saved and loaded with the weights, so a checkpoint knows if it is fitted.
        self.threshold = Parameter(mx.array(float("nan")), requires_grad=False)

    def fit(self, inputs: Any) -> LiquidAnomalyDetector:
        """Train the predictor on normal data and set the threshold from its scores.

        Args:
            inputs: Normal series, ``(batch, time, input_size)`` or ``(time, input_size)``, with
                ``time > washout + 1``.

        Returns:
            The detector, fitted.
        """
        x, _ = self._sequences(inputs)
        self.predictor.fit(x[:, :-1], x[:, 1:])
        self.threshold = percentile(self._errors(x), self.percentile)
        mx.eval(self.threshold)
        return self

    def train(self, inputs: Any = True) -> LiquidAnomalyDetector:
        """``detector.train(X)`` is :meth:`fit`; ``train(mode)`` with a bool keeps
        ``nn.Module``'s meaning (set the training mode), which ``eval()`` relies on."""
        if isinstance(inputs, bool):
            return super().train(inputs)
        return self.fit(inputs)

    def score(self, inputs: Any) -> mx.array:
        """Prediction-error scores of ``inputs`` (same layout as in :meth:`fit`).

        Returns:
            ``(batch, time - washout - 1)`` (no batch axis for one sequence): entry ``k`` scores
            step ``washout + 1 + k`` of the input.
        """
        x, batched = self._sequences(inputs)
        errors = self._errors(x)
        return errors if batched else errors[0]

    def detect(self, inputs: Any) -> mx.array:
        """Boolean anomaly flags, ``score(inputs) > threshold``, laid out as :meth:`score`."""
        if mx.isnan(self.threshold).item():
            raise ValueError("detect: the detector is not fitted; call fit(normal_data) first")
        return self.score(inputs) > self.threshold

    def load_arrays(self, arrays: dict[str, Any], source: str = "arrays") -> LiquidAnomalyDetector:
        """Set every parameter (see :meth:`Module.load_arrays`), the readout included."""
        super().load_arrays(arrays, source)
        self.predictor.read_fitted()
        return self

    def load_weights(self, *args: Any, **kwargs: Any) -> LiquidAnomalyDetector:
        """``nn.Module.load_weights`` (MLX's own checkpoint loading), the readout included."""
        super().load_weights(*args, **kwargs)
        self.predictor.read_fitted()
        return self

    def _sequences(self, inputs: Any) -> tuple[mx.array, bool]:
        dtype = self.predictor.input_weight.dtype
        x, batched = as_sequences("inputs", inputs, self.input_size, dtype)
        washout = self.predictor.washout
        if x.shape[1] <= washout + 1:
            raise ValueError(
                f"inputs: a sequence of {x.shape[1]} steps leaves no step to score after the "
                f"washout of {washout} predictions; expected more than washout + 1 = "
                f"{washout + 1} steps"
            )
        return x, batched

    def _errors(self, x: mx.array) -> mx.array:
        predicted = self.predictor(x[:, :-1])
        errors = mx.mean(mx.square(predicted - x[:, 1:]), axis=-1)
        return errors[:, self.predictor.washout :]
