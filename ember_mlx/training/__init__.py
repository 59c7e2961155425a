"""Training tools with the seed's names (``ember_ml.training``): optimizers, losses, metrics.

- :mod:`~ember_mlx.training.optimizer`: ``Optimizer`` (``optim.Optimizer``), ``SGD`` and
  ``Adam``, the backend's optimizers with the seed's (Keras's) arguments; Adam with bias
  correction. Gradients come from ``nn.value_and_grad``; ``optimizer.update(model, grads)``
  applies them.
- :mod:`~ember_mlx.training.loss`: ``Loss``, ``MSELoss``, ``CrossEntropyLoss``, callables
  ``loss(y_true, y_pred)`` over :mod:`ember_mlx.ops.loss`.
- :mod:`~ember_mlx.training.metrics`: ``classification_metrics``,
  ``binary_classification_metrics``, ``confusion_matrix``, ``roc_auc``,
  ``precision_recall_curve``, ``average_precision_score``, ``regression_metrics``, matching
  scikit-learn.

Training sits above the models: nothing in ``ember_mlx`` below it imports it.
"""

from ember_mlx.training.loss import CrossEntropyLoss, Loss, MSELoss
from ember_mlx.training.metrics import (
    average_precision_score,
    binary_classification_metrics,
    classification_metrics,
    confusion_matrix,
    precision_recall_curve,
    regression_metrics,
    roc_auc,
)
from ember_mlx.training.optimizer import SGD, Adam, Optimizer

__all__ = [
    "SGD",
    "Adam",
    "CrossEntropyLoss",
    "Loss",
    "MSELoss",
    "Optimizer",
    "average_precision_score",
    "binary_classification_metrics",
    "classification_metrics",
    "confusion_matrix",
    "precision_recall_curve",
    "regression_metrics",
    "roc_auc",
]
