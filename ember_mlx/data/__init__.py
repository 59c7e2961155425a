"""Datasets and task generators: benchmark sequences for recurrent and reservoir models."""

from ember_mlx.data.sequences import forecast_pairs, mackey_glass, narma10, sine_wave

__all__ = ["forecast_pairs", "mackey_glass", "narma10", "sine_wave"]
