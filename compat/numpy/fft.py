"""Discrete Fourier transforms, as ``mlx.core.fft``, over ``numpy.fft``.

As in MLX, complex results are ``complex64`` and real results ``float32`` whatever the input
precision; ``s`` gives the transform sizes (the input is cropped or zero-padded).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .arrays import as_array
from .dtypes import complex64, float32

_Axes = Sequence[int] | None


def _complex(x: np.ndarray) -> np.ndarray:
    return x.astype(complex64, copy=False)


def _real(x: np.ndarray) -> np.ndarray:
    return x.astype(float32, copy=False)


def _tuple(axes: _Axes) -> tuple[int, ...] | None:
    return None if axes is None else tuple(axes)


def fft(
    a: Any, n: int | None = None, axis: int = -1, norm: str = "backward", stream: Any = None
) -> np.ndarray:
    """One-dimensional DFT along ``axis``."""
    return _complex(np.fft.fft(as_array(a), n, axis, norm))


def ifft(
    a: Any, n: int | None = None, axis: int = -1, norm: str = "backward", stream: Any = None
) -> np.ndarray:
    """One-dimensional inverse DFT along ``axis``."""
    return _complex(np.fft.ifft(as_array(a), n, axis, norm))


def fft2(
    a: Any,
    s: Sequence[int] | None = None,
    axes: _Axes = (-2, -1),
    norm: str = "backward",
    stream: Any = None,
) -> np.ndarray:
    """Two-dimensional DFT over ``axes``."""
    return _complex(np.fft.fft2(as_array(a), s, _tuple(axes), norm))


def ifft2(
    a: Any,
    s: Sequence[int] | None = None,
    axes: _Axes = (-2, -1),
    norm: str = "backward",
    stream: Any = None,
) -> np.ndarray:
    """Two-dimensional inverse DFT over ``axes``."""
    return _complex(np.fft.ifft2(as_array(a), s, _tuple(axes), norm))


def fftn(
    a: Any,
    s: Sequence[int] | None = None,
    axes: _Axes = None,
    norm: str = "backward",
    stream: Any = None,
) -> np.ndarray:
    """N-dimensional DFT over ``axes`` (all axes if ``None``)."""
    return _complex(np.fft.fftn(as_array(a), s, _tuple(axes), norm))


def ifftn(
    a: Any,
    s: Sequence[int] | None = None,
    axes: _Axes = None,
    norm: str = "backward",
    stream: Any = None,
) -> np.ndarray:
    """N-dimensional inverse DFT over ``axes`` (all axes if ``None``)."""
    return _complex(np.fft.ifftn(as_array(a), s, _tuple(axes), norm))


def rfft(
    a: Any, n: int | None = None, axis: int = -1, norm: str = "backward", stream: Any = None
) -> np.ndarray:
    """DFT of a real signal along ``axis``: the ``n // 2 + 1`` non-negative frequencies."""
    return _complex(np.fft.rfft(as_array(a), n, axis, norm))


def irfft(
    a: Any, n: int | None = None, axis: int = -1, norm: str = "backward", stream: Any = None
) -> np.ndarray:
    """Inverse of :func:`rfft`: a real signal of length ``n`` (default ``2 (m - 1)``)."""
    return _real(np.fft.irfft(as_array(a), n, axis, norm))


def rfft2(
    a: Any,
    s: Sequence[int] | None = None,
    axes: _Axes = (-2, -1),
    norm: str = "backward",
    stream: Any = None,
) -> np.ndarray:
    """Two-dimensional DFT of a real signal over ``axes``."""
    return _complex(np.fft.rfft2(as_array(a), s, _tuple(axes), norm))


def irfft2(
    a: Any,
    s: Sequence[int] | None = None,
    axes: _Axes = (-2, -1),
    norm: str = "backward",
    stream: Any = None,
) -> np.ndarray:
    """Inverse of :func:`rfft2`."""
    return _real(np.fft.irfft2(as_array(a), s, _tuple(axes), norm))


def rfftn(
    a: Any,
    s: Sequence[int] | None = None,
    axes: _Axes = None,
    norm: str = "backward",
    stream: Any = None,
) -> np.ndarray:
    """N-dimensional DFT of a real signal over ``axes`` (all axes if ``None``)."""
    return _complex(np.fft.rfftn(as_array(a), s, _tuple(axes), norm))


def irfftn(
    a: Any,
    s: Sequence[int] | None = None,
    axes: _Axes = None,
    norm: str = "backward",
    stream: Any = None,
) -> np.ndarray:
    """Inverse of :func:`rfftn`."""
    return _real(np.fft.irfftn(as_array(a), s, _tuple(axes), norm))


def fftshift(a: Any, axes: int | Sequence[int] | None = None, stream: Any = None) -> np.ndarray:
    """``a`` with the zero frequency moved to the centre of ``axes``."""
    return np.fft.fftshift(as_array(a), axes)


def ifftshift(a: Any, axes: int | Sequence[int] | None = None, stream: Any = None) -> np.ndarray:
    """Inverse of :func:`fftshift`."""
    return np.fft.ifftshift(as_array(a), axes)


def fftfreq(n: int, d: float = 1.0, stream: Any = None) -> np.ndarray:
    """Sample frequencies of an ``n``-point DFT with sample spacing ``d``."""
    return np.fft.fftfreq(n, d).astype(float32)


def rfftfreq(n: int, d: float = 1.0, stream: Any = None) -> np.ndarray:
    """Sample frequencies of an ``n``-point :func:`rfft` with sample spacing ``d``."""
    return np.fft.rfftfreq(n, d).astype(float32)
