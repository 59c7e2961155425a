r"""Vector similarity, decay and wave-interference measures.

The interference measures compare two signals through their Fourier phases
:math:`\phi_k = \arg \hat{x}_k`; :math:`\rho` below is the Pearson correlation.
"""

from __future__ import annotations

import math

from ember_mlx.backend import mx
from ember_mlx.validation import check_count, check_real


def _as_float(x: mx.array) -> mx.array:
    x = mx.array(x)
    return x if mx.issubdtype(x.dtype, mx.floating) else mx.astype(x, mx.float32)


def normalize_vector(x: mx.array, axis: int | None = None) -> mx.array:
    r""":math:`x / \lVert x \rVert_2` (all of ``x``, or along ``axis``); zero vectors stay zero."""
    norm = mx.sqrt(mx.sum(x * x, axis=axis, keepdims=True))
    return mx.where(norm > 0, x / mx.where(norm > 0, norm, 1), x)


def euclidean_distance(x: mx.array, y: mx.array, axis: int | None = None) -> mx.array:
    r""":math:`\lVert x - y \rVert_2 = \sqrt{\sum_i (x_i - y_i)^2}` (all of ``x``, or ``axis``)."""
    return mx.sqrt(mx.sum(mx.square(x - y), axis=axis))


def cosine_similarity(x: mx.array, y: mx.array, axis: int | None = None) -> mx.array:
    r""":math:`\hat x \cdot \hat y` with :math:`\hat v = v / \max(\lVert v \rVert, t)` (all of
    ``x``, or along ``axis``), :math:`t` the dtype's smallest normal number.

    For nonzero vectors this is exactly :math:`x \cdot y / (\lVert x \rVert \lVert y \rVert)`,
    at any scale (each vector is normalized before the product, so tiny or huge norms neither
    underflow nor overflow); a zero vector gives 0. Integer input is computed in float32.
    """
    x, y = _as_float(x), _as_float(y)
    tiny = mx.finfo(x.dtype).smallest_normal
    x = x / mx.maximum(mx.sqrt(mx.sum(x * x, axis=axis, keepdims=True)), tiny)
    y = y / mx.maximum(mx.sqrt(mx.sum(y * y, axis=axis, keepdims=True)), tiny)
    return mx.sum(x * y, axis=axis)


def exponential_decay(
    initial_value: mx.array, decay_rate: mx.array, time_step: mx.array
) -> mx.array:
    r""":math:`x_0 \, e^{-r t}` for initial value :math:`x_0`, rate :math:`r` and time :math:`t`."""
    return initial_value * mx.exp(-decay_rate * time_step)


def gaussian(x: mx.array, mu: mx.array | float = 0.0, sigma: mx.array | float = 1.0) -> mx.array:
    r"""The normal density :math:`\frac{1}{\sigma\sqrt{2\pi}} e^{-(x-\mu)^2 / (2\sigma^2)}`.

    Raises:
        ValueError: ``sigma`` is a number that is not finite and > 0 (an array ``sigma`` is
            not read back to check).
    """
    if not isinstance(sigma, mx.array):
        sigma = check_real("sigma", sigma, above=0.0)
    z = (x - mu) / sigma
    return mx.exp(-0.5 * z * z) / (sigma * math.sqrt(2 * math.pi))


def compute_energy_stability(wave: mx.array, window_size: int = 100) -> mx.array:
    r"""How steady the energy of a 1-D signal is across consecutive windows.

    With :math:`E_i = \sum_{t \in \text{window } i} x_t^2` over the non-overlapping windows,
    the stability is :math:`1 / (1 + \operatorname{Var}(E) / \operatorname{Mean}(E))`: 1 for a
    constant energy, towards 0 as it fluctuates. Signals with fewer than two windows, or with
    zero energy, count as perfectly stable (1).

    Raises:
        ValueError: ``wave`` is not 1-D or ``window_size`` is not an int >= 1.
    """
    window_size = check_count("window_size", window_size)
    if wave.ndim != 1:
        raise ValueError(f"wave: expected a 1-D signal, got shape {tuple(wave.shape)}")
    windows = wave.shape[0] // window_size
    if windows < 2:
        return mx.array(1.0)
    frames = mx.reshape(wave[: windows * window_size], (windows, window_size))
    energies = mx.sum(mx.square(frames), axis=1)
    mean = mx.mean(energies)
    ratio = mx.var(energies) / mx.where(mean > 0, mean, 1)
    return mx.where(mean > 0, 1 / (1 + ratio), 1.0)


def _phases(x: mx.array) -> mx.array:
    spectrum = mx.fft.fft(x, axis=-1)
    return mx.arctan2(mx.imag(spectrum), mx.real(spectrum))


def _correlation(x: mx.array, y: mx.array) -> mx.array:
    x = x - mx.mean(x, axis=-1, keepdims=True)
    y = y - mx.mean(y, axis=-1, keepdims=True)
    return mx.sum(x * y, axis=-1) / mx.sqrt(mx.sum(x * x, axis=-1) * mx.sum(y * y, axis=-1))


def _interference(x: mx.array, y: mx.array) -> mx.array:
    """Interference strength of signals along the last axis (see the public function)."""
    phase_gap = mx.mean(mx.abs(_phases(x) - _phases(y)), axis=-1)
    return _correlation(x, y) * (1 - phase_gap / math.pi)


def _common_length(wave1: mx.array, wave2: mx.array) -> tuple[mx.array, mx.array]:
    n = min(wave1.shape[0], wave2.shape[0])
    return mx.astype(wave1[:n], mx.float32), mx.astype(wave2[:n], mx.float32)


def compute_interference_strength(wave1: mx.array, wave2: mx.array) -> mx.array:
    r"""How strongly two 1-D signals reinforce each other.

    .. math::

        \rho(x, y) \left(1 - \frac{1}{\pi n} \sum_k \lvert \phi_k(x) - \phi_k(y) \rvert\right)

    1 for identical signals, negative for anti-correlated ones. The longer signal is cut to
    the length ``n`` of the shorter. A coefficient that is real and negative (the mean, or the
    Nyquist term of an even length) has phase :math:`\pm\pi` depending on the sign of a
    rounding error, so signals whose mean is near zero or negative give less repeatable values.
    """
    return _interference(*_common_length(wave1, wave2))


def compute_phase_coherence(
    wave1: mx.array, wave2: mx.array, freq_range: tuple[float, float] | None = None
) -> mx.array:
    r"""Phase locking of two 1-D signals: the length of the mean phase-difference phasor.

    .. math::

        \Bigl\lvert \frac{1}{\lvert K \rvert} \sum_{k \in K} e^{i(\phi_k(x)-\phi_k(y))}\Bigr\rvert

    over the frequencies :math:`K` (in cycles per sample, as ``numpy.fft.fftfreq``) whose
    magnitude lies in ``freq_range``, or all of them. 1 for a constant phase lag, near 0 for
    unrelated phases.

    Raises:
        ValueError: no frequency of the signal lies in ``freq_range``.
    """
    x, y = _common_length(wave1, wave2)
    n = x.shape[0]
    gap = _phases(x) - _phases(y)
    weights = mx.ones((n,))
    if freq_range is not None:
        low, high = freq_range
        freqs = [abs(k if k < (n + 1) // 2 else k - n) * (1.0 / n) for k in range(n)]
        chosen = [float(low <= f <= high) for f in freqs]
        if not any(chosen):
            raise ValueError(
                f"compute_phase_coherence: no frequency in freq_range={freq_range} for a signal "
                f"of {n} samples (frequencies are in cycles per sample, up to 0.5)"
            )
        weights = mx.array(chosen)
    total = mx.sum(weights)
    mean_cos = mx.sum(weights * mx.cos(gap)) / total
    mean_sin = mx.sum(weights * mx.sin(gap)) / total
    return mx.sqrt(mean_cos * mean_cos + mean_sin * mean_sin)


def partial_interference(wave1: mx.array, wave2: mx.array, window_size: int = 100) -> mx.array:
    """The interference strength (see :func:`compute_interference_strength`) of every window.

    Returns:
        One value per window position, ``n - window_size + 1`` of them, where ``n`` is the
        length of the shorter signal; the windows slide by one sample.

    Raises:
        ValueError: ``window_size`` is not in ``[1, n]``.
    """
    x, y = _common_length(wave1, wave2)
    n = x.shape[0]
    if not 1 <= window_size <= n:
        raise ValueError(
            f"partial_interference: window_size must be in [1, {n}] (the signal length), "
            f"got {window_size}"
        )
    index = mx.expand_dims(mx.arange(n - window_size + 1), 1) + mx.arange(window_size)
    return _interference(x[index], y[index])
