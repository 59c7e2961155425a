"""Discrete Fourier transforms, as ``mlx.core.fft``, over ``torch.fft``.

As in MLX, complex results are ``complex64`` and real results ``float32`` whatever the input
precision; ``s`` gives the transform sizes (the input is cropped or zero-padded).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from .arrays import to_array
from .dtypes import complex64, float32

_Axes = Sequence[int] | None


def _complex(x: Tensor) -> Tensor:
    # torch may hand back a lazily conjugated view; materialise it so numpy can read it
    return x.to(complex64).resolve_conj()


def _real(x: Tensor) -> Tensor:
    return x.to(float32)


def fft(
    a: Any, n: int | None = None, axis: int = -1, norm: str = "backward", stream: Any = None
) -> Tensor:
    """One-dimensional DFT along ``axis``."""
    return _complex(torch.fft.fft(to_array(a), n=n, dim=axis, norm=norm))


def ifft(
    a: Any, n: int | None = None, axis: int = -1, norm: str = "backward", stream: Any = None
) -> Tensor:
    """One-dimensional inverse DFT along ``axis``."""
    return _complex(torch.fft.ifft(to_array(a), n=n, dim=axis, norm=norm))


def fft2(
    a: Any,
    s: Sequence[int] | None = None,
    axes: _Axes = (-2, -1),
    norm: str = "backward",
    stream: Any = None,
) -> Tensor:
    """Two-dimensional DFT over ``axes``."""
    return _complex(torch.fft.fft2(to_array(a), s=s, dim=tuple(axes), norm=norm))


def ifft2(
    a: Any,
    s: Sequence[int] | None = None,
    axes: _Axes = (-2, -1),
    norm: str = "backward",
    stream: Any = None,
) -> Tensor:
    """Two-dimensional inverse DFT over ``axes``."""
    return _complex(torch.fft.ifft2(to_array(a), s=s, dim=tuple(axes), norm=norm))


def fftn(
    a: Any,
    s: Sequence[int] | None = None,
    axes: _Axes = None,
    norm: str = "backward",
    stream: Any = None,
) -> Tensor:
    """N-dimensional DFT over ``axes`` (all axes if ``None``)."""
    return _complex(torch.fft.fftn(to_array(a), s=s, dim=axes, norm=norm))


def ifftn(
    a: Any,
    s: Sequence[int] | None = None,
    axes: _Axes = None,
    norm: str = "backward",
    stream: Any = None,
) -> Tensor:
    """N-dimensional inverse DFT over ``axes`` (all axes if ``None``)."""
    return _complex(torch.fft.ifftn(to_array(a), s=s, dim=axes, norm=norm))


def rfft(
    a: Any, n: int | None = None, axis: int = -1, norm: str = "backward", stream: Any = None
) -> Tensor:
    """DFT of a real signal along ``axis``: the ``n // 2 + 1`` non-negative frequencies."""
    return _complex(torch.fft.rfft(to_array(a), n=n, dim=axis, norm=norm))


def irfft(
    a: Any, n: int | None = None, axis: int = -1, norm: str = "backward", stream: Any = None
) -> Tensor:
    """Inverse of :func:`rfft`: a real signal of length ``n`` (default ``2 (m - 1)``)."""
    return _real(torch.fft.irfft(to_array(a), n=n, dim=axis, norm=norm))


def rfft2(
    a: Any,
    s: Sequence[int] | None = None,
    axes: _Axes = (-2, -1),
    norm: str = "backward",
    stream: Any = None,
) -> Tensor:
    """Two-dimensional DFT of a real signal over ``axes``."""
    return _complex(torch.fft.rfft2(to_array(a), s=s, dim=tuple(axes), norm=norm))


def irfft2(
    a: Any,
    s: Sequence[int] | None = None,
    axes: _Axes = (-2, -1),
    norm: str = "backward",
    stream: Any = None,
) -> Tensor:
    """Inverse of :func:`rfft2`."""
    return _real(torch.fft.irfft2(to_array(a), s=s, dim=tuple(axes), norm=norm))


def rfftn(
    a: Any,
    s: Sequence[int] | None = None,
    axes: _Axes = None,
    norm: str = "backward",
    stream: Any = None,
) -> Tensor:
    """N-dimensional DFT of a real signal over ``axes`` (all axes if ``None``)."""
    return _complex(torch.fft.rfftn(to_array(a), s=s, dim=axes, norm=norm))


def irfftn(
    a: Any,
    s: Sequence[int] | None = None,
    axes: _Axes = None,
    norm: str = "backward",
    stream: Any = None,
) -> Tensor:
    """Inverse of :func:`rfftn`."""
    return _real(torch.fft.irfftn(to_array(a), s=s, dim=axes, norm=norm))


def fftshift(a: Any, axes: int | Sequence[int] | None = None, stream: Any = None) -> Tensor:
    """``a`` with the zero frequency moved to the centre of ``axes``."""
    return torch.fft.fftshift(to_array(a), dim=axes)


def ifftshift(a: Any, axes: int | Sequence[int] | None = None, stream: Any = None) -> Tensor:
    """Inverse of :func:`fftshift`."""
    return torch.fft.ifftshift(to_array(a), dim=axes)


def fftfreq(n: int, d: float = 1.0, stream: Any = None) -> Tensor:
    """Sample frequencies of an ``n``-point DFT with sample spacing ``d``."""
    return torch.fft.fftfreq(n, d, dtype=float32)


def rfftfreq(n: int, d: float = 1.0, stream: Any = None) -> Tensor:
    """Sample frequencies of an ``n``-point :func:`rfft` with sample spacing ``d``."""
    return torch.fft.rfftfreq(n, d, dtype=float32)
