"""The seeds' module path for the RBM anomaly detector
(``from ember_ml.models.rbm_anomaly_detector import RBMAnomalyDetector``); the class lives in
:mod:`ember_mlx.models.rbm.detector`."""

from ember_mlx.models.rbm.detector import RBMAnomalyDetector

__all__ = ["RBMAnomalyDetector"]
