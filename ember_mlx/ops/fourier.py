"""Discrete Fourier transforms: MLX's ``mx.fft`` functions, with MLX's signatures."""

from ember_mlx.backend import mx

fft = mx.fft.fft
ifft = mx.fft.ifft
fft2 = mx.fft.fft2
ifft2 = mx.fft.ifft2
fftn = mx.fft.fftn
ifftn = mx.fft.ifftn
rfft = mx.fft.rfft
irfft = mx.fft.irfft
rfft2 = mx.fft.rfft2
irfft2 = mx.fft.irfft2
rfftn = mx.fft.rfftn
irfftn = mx.fft.irfftn

__all__ = [
    "fft",
    "fft2",
    "fftn",
    "ifft",
    "ifft2",
    "ifftn",
    "irfft",
    "irfft2",
    "irfftn",
    "rfft",
    "rfft2",
    "rfftn",
]
