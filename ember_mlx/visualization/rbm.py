"""Figures of a restricted Boltzmann machine: training curves, filters, samples, reconstructions
and anomaly scores. matplotlib is imported only inside the drawing methods."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ember_mlx.backend import to_numpy
from ember_mlx.checkpoint import write_atomically
from ember_mlx.validation import check_count, check_real

FILTER_CMAP = "RdBu_r"  # diverging: a filter's positive and negative weights, white at zero
IMAGE_CMAP = "gray_r"  # data, samples and reconstructions in [0, 1]: black ink on white


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError(
            "RBMVisualizer draws with matplotlib, which is not installed: "
            "pip install 'ember-mlx[plots]'"
        ) from error
    return plt


class RBMVisualizer:
    """Draws an RBM's training curves, filters, samples, reconstructions and anomaly scores.

    Every ``plot_*`` method returns a matplotlib ``Figure`` (made with pyplot, so ``plt.show()``
    shows it and ``plt.close(figure)`` frees it). Given a ``filename``, the figure is also saved
    under ``output_dir``, atomically: a crash never leaves a half-written file. Arrays may be of
    any backend, or numpy.

    Args:
        output_dir (str or PathLike, optional): where figures with a ``filename`` are saved
            (created when the first one is). ``None`` saves nothing, and passing a ``filename``
            then raises. Default: ``None``.
        dpi (int, optional): dots per inch of the figures and of the saved files. Default: ``100``.
        cmap (str, optional): the matplotlib colormap that the curves and histograms take their
            colours from (filters are drawn in ``RdBu_r``, images in ``gray_r``).
            Default: ``"viridis"``.
        figsize (tuple of float, optional): figure size in inches, ``(width, height)``.
            Default: ``(10, 8)``.

    Example:
        >>> visualizer = RBMVisualizer("plots")
        >>> history = rbm.train(data, epochs=10)
        >>> visualizer.plot_training_curves(history, filename="curves.png")
        >>> visualizer.plot_weight_filters(rbm, (8, 8), filename="filters.png")
        >>> visualizer.plot_images(rbm.generate(16, k=200), (8, 8), title="samples")
    """

    def __init__(
        self,
        output_dir: str | os.PathLike | None = None,
        dpi: int = 100,
        cmap: str = "viridis",
        figsize: tuple[float, float] = (10, 8),
    ):
        if output_dir is not None and not isinstance(output_dir, (str, os.PathLike)):
            raise TypeError(f"output_dir: expected a path, got {type(output_dir).__name__}")
        self.output_dir = None if output_dir is None else Path(output_dir)
        self.dpi = check_count("dpi", dpi)
        if not isinstance(cmap, str):
            raise TypeError(f"cmap: expected a colormap name, got {type(cmap).__name__}")
        self.cmap = cmap
        if not isinstance(figsize, Sequence) or len(figsize) != 2:
            raise ValueError(f"figsize: expected (width, height) in inches, got {figsize!r}")
        self.figsize = tuple(check_real("figsize", size, above=0.0) for size in figsize)

    def __repr__(self) -> str:
        return (
            f"RBMVisualizer(output_dir={self.output_dir!r}, dpi={self.dpi}, "
            f"cmap={self.cmap!r}, figsize={self.figsize})"
        )

    def plot_training_curves(
        self, history: Mapping[str, Sequence[float]], filename: str | os.PathLike | None = None
    ) -> Any:
        """One panel per metric of :meth:`RBM.train`'s history, each a line over the epochs.

        Args:
            history (dict): metric name -> per-epoch values, as :meth:`RBM.train` returns.
            filename (str or PathLike, optional): save the figure as ``output_dir/filename``.

        Returns:
            Figure: one axes per metric, titled with its name, holding one line whose x values
            are the epochs 1, 2, ...
        """
        path = self._target(filename)
        curves = _check_history(history)
        plt = _pyplot()
        from matplotlib.ticker import MaxNLocator

        figure, axes = self._subplots(plt, len(curves), 1, sharex=True, squeeze=False)
        colors = self._colors(len(curves))
        for axis, (name, values), color in zip(axes[:, 0], curves.items(), colors, strict=True):
            axis.plot(np.arange(1, len(values) + 1), values, marker="o", color=color)
            axis.set_title(name)
            axis.grid(alpha=0.3)
        axes[-1, 0].set_xlabel("epoch")
        axes[-1, 0].xaxis.set_major_locator(MaxNLocator(integer=True))
        return self._save(figure, path)

    def plot_weight_filters(
        self,
        rbm_or_weights: Any,
        image_shape: tuple[int, int],
        n: int | None = None,
        filename: str | os.PathLike | None = None,
    ) -> Any:
        """Each hidden unit's incoming weights (a column of ``weights``) as an image in a grid.

        Each filter has its own symmetric colour limits, ``±max|w|``, in ``RdBu_r``: red is
        positive, blue negative, white zero.

        Args:
            rbm_or_weights: an :class:`RBM` (anything with a ``weights`` attribute) or its
                ``(visible, hidden)`` weights.
            image_shape (tuple of int): ``(height, width)`` of a visible sample.
            n (int, optional): draw the first ``n`` hidden units. Default: all of them.
            filename (str or PathLike, optional): save the figure as ``output_dir/filename``.

        Returns:
            Figure: one image per filter, in a near-square grid.
        """
        path = self._target(filename)
        filters = _filters(rbm_or_weights, image_shape, n)
        plt = _pyplot()
        figure = self._figure(plt)
        _image_grid(figure, filters, image_shape, FILTER_CMAP, symmetric=True)
        figure.suptitle(f"filters of {len(filters)} hidden units")
        return self._save(figure, path)

    def plot_images(
        self,
        images: Any,
        image_shape: tuple[int, int],
        title: str | None = None,
        filename: str | os.PathLike | None = None,
    ) -> Any:
        """Samples or data, one row each, as a grid of images in ``gray_r`` on one colour scale.

        Args:
            images (array): ``(count, height * width)`` (or ``(count, height, width)``), e.g.
                from :meth:`RBM.generate`.
            image_shape (tuple of int): ``(height, width)`` of an image.
            title (str, optional): the figure's title.
            filename (str or PathLike, optional): save the figure as ``output_dir/filename``.

        Returns:
            Figure: one image per row of ``images``, in a near-square grid.
        """
        path = self._target(filename)
        images = _images(images, "images", image_shape)
        plt = _pyplot()
        figure = self._figure(plt)
        _image_grid(figure, images, image_shape, IMAGE_CMAP, limits=_limits(images))
        if title is not None:
            figure.suptitle(title)
        return self._save(figure, path)

    def plot_filters_and_samples(
        self,
        rbm_or_weights: Any,
        samples: Any,
        image_shape: tuple[int, int],
        n: int | None = None,
        title: str | None = None,
        filename: str | os.PathLike | None = None,
    ) -> Any:
        """:meth:`plot_weight_filters` (left) beside :meth:`plot_images` of ``samples`` (right),
        in one figure; the samples' grid has as many rows as the filters' grid.

        Args:
            rbm_or_weights: an :class:`RBM` (anything with a ``weights`` attribute) or its
                ``(visible, hidden)`` weights.
            samples (array): ``(count, height * width)`` samples, e.g. from :meth:`RBM.generate`.
            image_shape (tuple of int): ``(height, width)`` of a visible sample.
            n (int, optional): draw the first ``n`` hidden units' filters. Default: all of them.
            title (str, optional): the figure's title.
            filename (str or PathLike, optional): save the figure as ``output_dir/filename``.

        Returns:
            Figure: two subfigures, the filters' and the samples', each with its own title.
        """
        path = self._target(filename)
        filters = _filters(rbm_or_weights, image_shape, n)
        samples = _images(samples, "samples", image_shape)
        plt = _pyplot()
        figure = self._figure(plt)
        filter_columns = _columns(len(filters))
        sample_columns = math.ceil(len(samples) / math.ceil(len(filters) / filter_columns))
        left, right = figure.subfigures(1, 2, width_ratios=[filter_columns, sample_columns])
        _image_grid(left, filters, image_shape, FILTER_CMAP, symmetric=True)
        left.suptitle(f"{len(filters)} filters")
        _image_grid(
            right, samples, image_shape, IMAGE_CMAP, limits=_limits(samples), columns=sample_columns
        )
        right.suptitle(f"{len(samples)} samples")
        if title is not None:
            figure.suptitle(title)
        return self._save(figure, path)

    def plot_reconstructions(
        self,
        rbm: Any,
        data: Any,
        image_shape: tuple[int, int],
        n: int = 8,
        filename: str | os.PathLike | None = None,
    ) -> Any:
        """The first ``n`` samples of ``data`` above their mean-field reconstructions
        (:meth:`RBM.reconstruct`), all on one colour scale.

        Args:
            rbm (RBM): the model.
            data (array): ``(samples, visible_size)``.
            image_shape (tuple of int): ``(height, width)`` of a visible sample.
            n (int, optional): how many samples to draw, at most ``samples``. Default: ``8``.
            filename (str or PathLike, optional): save the figure as ``output_dir/filename``.

        Returns:
            Figure: two subfigures of ``n`` images, titled ``"originals"`` (top) and
            ``"reconstructions"`` (bottom).
        """
        path = self._target(filename)
        _check_image_shape(image_shape, rbm.visible_size, "the RBM's visible layer")
        data = rbm.check_data(data)
        n = check_count("n", n)
        if n > data.shape[0]:
            raise ValueError(f"n: expected at most {data.shape[0]} (the samples in data), got {n}")
        originals = to_numpy(data[:n])
        reconstructions = to_numpy(rbm.reconstruct(data[:n]))
        limits = _limits(np.concatenate([originals, reconstructions]))
        plt = _pyplot()
        figure = self._figure(plt)
        top, bottom = figure.subfigures(2, 1)
        for panel, images, name in (
            (top, originals, "originals"),
            (bottom, reconstructions, "reconstructions"),
        ):
            _image_grid(panel, images, image_shape, IMAGE_CMAP, limits=limits, columns=n)
            panel.suptitle(name)
        return self._save(figure, path)

    def plot_anomaly_scores(
        self,
        scores: Any,
        threshold: Any = None,
        labels: Any = None,
        filename: str | os.PathLike | None = None,
    ) -> Any:
        """A histogram of anomaly scores, split into normal and anomalous samples when
        ``labels`` are given, with the threshold as a dashed vertical line.

        Args:
            scores (array): ``(samples,)`` scores, e.g. :meth:`RBMAnomalyDetector.score`.
            threshold (float or scalar array, optional): e.g. the detector's ``threshold``.
            labels (array, optional): ``(samples,)`` booleans (or 0/1), ``True`` for anomalous.
            filename (str or PathLike, optional): save the figure as ``output_dir/filename``.

        Returns:
            Figure: one axes with one bar per bin and group, on bin edges shared by the groups.
        """
        path = self._target(filename)
        scores = _scores(scores)
        groups = {"scores": scores}
        if labels is not None:
            anomalous = _labels(labels, len(scores))
            groups = {"normal": scores[~anomalous], "anomalous": scores[anomalous]}
        if threshold is not None:
            threshold = _threshold(threshold)
        plt = _pyplot()
        figure, axis = self._subplots(plt, 1, 1)
        edges = np.histogram_bin_edges(scores, bins="auto")
        for (name, values), color in zip(groups.items(), self._colors(len(groups)), strict=True):
            axis.hist(values, bins=edges, color=color, alpha=0.6, label=f"{name} ({len(values)})")
        if threshold is not None:
            axis.axvline(
                threshold, color="black", linestyle="--", label=f"threshold {threshold:.4g}"
            )
        axis.set_xlabel("anomaly score")
        axis.set_ylabel("samples")
        axis.set_title("anomaly scores")
        if labels is not None or threshold is not None:
            axis.legend()
        return self._save(figure, path)

    def _figure(self, plt: Any) -> Any:
        return plt.figure(figsize=self.figsize, dpi=self.dpi, layout="constrained")

    def _subplots(self, plt: Any, rows: int, columns: int, **options: Any) -> Any:
        return plt.subplots(
            rows, columns, figsize=self.figsize, dpi=self.dpi, layout="constrained", **options
        )

    def _colors(self, count: int) -> list[Any]:
        """``count`` colours spread over :attr:`cmap`, away from its two ends."""
        import matplotlib

        try:
            cmap = matplotlib.colormaps[self.cmap]
        except KeyError as error:
            raise ValueError(f"cmap: {self.cmap!r} is not a matplotlib colormap") from error
        return [cmap(x) for x in np.linspace(0.0, 1.0, count + 2)[1:-1]]

    def _target(self, filename: str | os.PathLike | None) -> Path | None:
        """Where ``filename`` is saved, checked before anything is drawn."""
        if filename is None:
            return None
        if not isinstance(filename, (str, os.PathLike)):
            raise TypeError(f"filename: expected a path, got {type(filename).__name__}")
        if self.output_dir is None:
            raise ValueError(
                f"filename: {str(filename)!r} given but output_dir is None; "
                "set RBMVisualizer(output_dir=...) to save figures"
            )
        path = self.output_dir / filename
        if not path.suffix:
            raise ValueError(f"filename: expected a suffix such as '.png', got {str(filename)!r}")
        return path

    def _save(self, figure: Any, path: Path | None) -> Any:
        """Write ``figure`` to ``path`` atomically, in the format its suffix names."""
        if path is not None:
            file_format = path.suffix[1:].lower()
            if file_format not in figure.canvas.get_supported_filetypes():
                supported = sorted(figure.canvas.get_supported_filetypes())
                raise ValueError(
                    f"filename: matplotlib cannot write {path.suffix!r} files, only {supported}"
                )
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(
                path, lambda tmp: figure.savefig(tmp, format=file_format, dpi=self.dpi)
            )
        return figure


def _check_image_shape(image_shape: Any, pixels: int, what: str) -> tuple[int, int]:
    """``image_shape`` as ``(height, width)`` holding ``pixels`` pixels, or a clear error."""
    if not isinstance(image_shape, Sequence) or len(image_shape) != 2:
        raise ValueError(f"image_shape: expected (height, width), got {image_shape!r}")
    height, width = (check_count("image_shape", size) for size in image_shape)
    if height * width != pixels:
        raise ValueError(
            f"image_shape: {(height, width)} holds {height * width} pixels, but {what} has {pixels}"
        )
    return height, width


def _array(values: Any, argument: str) -> np.ndarray:
    """``values`` (an array of any backend, or a list) as a float64 numpy array."""
    try:
        return np.asarray(to_numpy(values), dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"{argument}: expected a numeric array, got {type(values).__name__}"
        ) from error


def _images(values: Any, argument: str, image_shape: Any) -> np.ndarray:
    """``values`` as ``(count, pixels)`` finite numbers whose rows are ``image_shape`` images."""
    array = _array(values, argument)
    if array.ndim < 2 or array.shape[0] == 0:
        raise ValueError(
            f"{argument}: expected a non-empty (count, pixels) array, got shape {array.shape}"
        )
    array = array.reshape(array.shape[0], -1)
    if not np.isfinite(array).all():
        raise ValueError(f"{argument}: expected finite values")
    _check_image_shape(image_shape, array.shape[1], f"each of {argument}")
    return array


def _filters(rbm_or_weights: Any, image_shape: Any, n: int | None) -> np.ndarray:
    """The first ``n`` hidden units' incoming weights, ``(n, visible)``."""
    weights = _array(getattr(rbm_or_weights, "weights", rbm_or_weights), "rbm_or_weights")
    if weights.ndim != 2 or 0 in weights.shape:
        raise ValueError(
            f"rbm_or_weights: expected an RBM or (visible, hidden) weights, got shape "
            f"{weights.shape}"
        )
    _check_image_shape(image_shape, weights.shape[0], "the visible layer")
    hidden = weights.shape[1]
    n = hidden if n is None else check_count("n", n)
    if n > hidden:
        raise ValueError(f"n: expected at most {hidden} (the hidden units), got {n}")
    return weights[:, :n].T


def _check_history(history: Any) -> dict[str, np.ndarray]:
    """``history`` (metric -> per-epoch values) as 1-D float arrays, or a clear error."""
    if not isinstance(history, Mapping):
        raise TypeError(
            f"history: expected a dict of metric -> per-epoch values, got {type(history).__name__}"
        )
    if not history:
        raise ValueError("history: no metrics to plot (train with metrics=(...))")
    curves = {}
    for name, values in history.items():
        curve = _array(values, f"history[{name!r}]")
        if curve.ndim != 1 or curve.size == 0:
            raise ValueError(
                f"history[{name!r}]: expected a non-empty list of per-epoch values, "
                f"got shape {curve.shape}"
            )
        curves[str(name)] = curve
    return curves


def _scores(values: Any) -> np.ndarray:
    scores = _array(values, "scores")
    if scores.ndim != 1 or scores.size == 0:
        raise ValueError(f"scores: expected a non-empty (samples,) array, got shape {scores.shape}")
    if not np.isfinite(scores).all():
        raise ValueError("scores: expected finite values")
    return scores


def _labels(values: Any, samples: int) -> np.ndarray:
    """``values`` as ``(samples,)`` booleans, from booleans or 0/1 integers."""
    labels = np.asarray(to_numpy(values))
    if labels.shape != (samples,):
        raise ValueError(f"labels: expected shape ({samples},), one per score, got {labels.shape}")
    if labels.dtype != np.bool_:
        if not np.issubdtype(labels.dtype, np.integer) or not np.isin(labels, (0, 1)).all():
            raise TypeError(
                f"labels: expected booleans (True = anomalous) or 0/1, got a {labels.dtype} array"
            )
        labels = labels.astype(bool)
    return labels


def _threshold(value: Any) -> float:
    """A float or a scalar array (such as the detector's ``threshold``) as a finite float."""
    array = _array(value, "threshold")
    if array.size != 1:
        raise ValueError(f"threshold: expected a scalar, got shape {array.shape}")
    threshold = float(array.reshape(()))
    if not math.isfinite(threshold):
        raise ValueError(
            f"threshold: expected a finite value (a trained detector's), got {threshold}"
        )
    return threshold


def _limits(images: np.ndarray) -> tuple[float, float]:
    """One colour scale for a set of images: ``[0, 1]``, widened to their range."""
    return min(0.0, float(images.min())), max(1.0, float(images.max()))


def _columns(count: int) -> int:
    """Columns of a near-square grid of ``count`` images."""
    return math.ceil(math.sqrt(count))


def _image_grid(
    panel: Any,
    images: np.ndarray,
    image_shape: tuple[int, int],
    cmap: str,
    *,
    symmetric: bool = False,
    limits: tuple[float, float] | None = None,
    columns: int | None = None,
) -> None:
    """Draw ``images`` (one per row) into a grid of axes on ``panel``, a figure or subfigure.

    ``symmetric`` gives each image the colour limits ``±max|image|``; otherwise all share
    ``limits``. Axes past the last image are left blank.
    """
    columns = columns or _columns(len(images))
    axes = panel.subplots(math.ceil(len(images) / columns), columns, squeeze=False)
    for axis in axes.flat:
        axis.set_axis_off()
    for axis, image in zip(axes.flat, images, strict=False):
        if symmetric:
            limit = float(np.abs(image).max()) or 1.0
            limits = (-limit, limit)
        axis.imshow(image.reshape(image_shape), cmap=cmap, vmin=limits[0], vmax=limits[1])
