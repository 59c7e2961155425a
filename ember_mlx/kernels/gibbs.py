r"""Block Gibbs sampling for a restricted Boltzmann machine, many chains at once.

One Gibbs step takes every chain from a visible state :math:`v` to a hidden sample and back:

.. math::

    p(h_j = 1 \mid v) = \sigma\Big(c_j + \sum_i v_i W_{ij}\Big), \qquad
    h_j = [u_j < p(h_j = 1 \mid v)]

    \mu_i = \sigma\Big(b_i + \sum_j W_{ij} h_j\Big), \qquad v_i = [u_i < \mu_i]

with uniforms :math:`u` from the counter-based generator of :mod:`ember_mlx.kernels.rng`. With
``gaussian_visible=True`` the visible units are Gaussian with unit variance: :math:`\mu_i` is
the pre-activation itself and :math:`v_i = \mu_i + z_i`, :math:`z_i \sim N(0, 1)` (a sample,
not the mean-field value, so the chain targets the model's distribution).

**Random numbers.** The draw for chain ``r`` (the row of ``v``), unit ``i`` in Gibbs step ``s``
(counted from the caller's ``step``) is ``rng.uniform(seed, r, 2 * s, i)`` for the hidden layer
and ``rng.uniform(seed, r, 2 * s + 1, i)`` (or ``rng.normal``) for the visible layer. Both
paths compute exactly these numbers, so for the same seed the kernel and the reference path give
the same samples on every backend, up to a flip where :math:`u` and :math:`p` agree to about
:math:`10^{-7}` (the two paths sum the pre-activations in different orders). Advance ``step``
by ``k`` between calls to draw fresh numbers; draw counters wrap modulo :math:`2^{32}`.

**Noise given in advance.** :func:`gibbs_sweep` is the same chain with the random numbers passed
in, and :func:`counter_noise` draws the numbers of any run of consecutive steps at once, hence
those of successive :func:`gibbs_chain` calls. The reference path itself draws a few steps at a
time (:data:`NOISE_BLOCK`); training draws the noise of many mini-batches in one bulk call (one
array op per round of the cipher for a whole block of batches instead of one per batch), or
takes it from the backend's own generator (``mx.random``).

**The Metal kernel** (``metal/gibbs.metal``) runs all ``k`` steps in one dispatch:

- Each threadgroup owns ``C = min(8, chains, 8192 // (n_visible + n_hidden))`` chains and keeps
  their visible and hidden states in threadgroup memory, ``4 * C * (n_visible + n_hidden)``
  bytes (at most 32 KiB); the grid is ``(T, ceil(chains / C), 1)`` with threadgroups of ``T``
  threads, ``T = min(256, n_units rounded up to 32)``.
- Thread ``t`` owns units ``t, t + T, t + 2T, ...`` of each layer. For a hidden unit it walks
  column ``j`` of ``weights`` (neighbouring threads read neighbouring addresses) and keeps ``C``
  sums, one per chain, so every weight read serves ``C`` chains; visible units walk ``weights.T``,
  passed as a second input (copied once per call) for the same coalesced reads.
- Two threadgroup barriers per step (and one after loading the states) separate the phases;
  there is no other synchronisation.
- Limits: ``n_visible + n_hidden <= 8192`` (the state of one chain must fit in threadgroup
  memory) and every index below :math:`2^{31}`; past them ``use_kernel=None`` takes the
  reference path and ``use_kernel=True`` raises. Each distinct ``(n_visible, n_hidden, C,
  gaussian_visible)`` compiles one Metal specialisation.

The emulator (:mod:`ember_mlx.kernels.emulator`) runs the same kernel source on the CPU, so
``tests/test_gibbs_kernel.py`` checks the kernel against the reference path sample for sample on
Linux: ``EMBER_BACKEND=numpy python -m pytest tests/test_gibbs_kernel.py`` (needs ``g++``).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from ember_mlx.backend import mx

from .dispatch import backend_arrays, read_source, use_metal
from .rng import normal, uniform

KERNEL_NAME = "ember_gibbs"
INPUT_NAMES = ("v", "weights", "weights_t", "visible_bias", "hidden_bias", "params")
OUTPUT_NAMES = ("v_sample", "v_mean", "h_prob")

_THREADGROUP_FLOATS = 8192  # 32 KiB of threadgroup memory, the Apple-silicon limit
_MAX_CHAINS_PER_GROUP = 8
_MAX_THREADGROUP_WIDTH = 256
_SIMD_WIDTH = 32
_MAX_INDEX = 2**31

NOISE_BLOCK = 2**17
"""Random numbers the reference path draws per call of :func:`counter_noise`: enough to amortise
the generator's fixed cost of ~150 array ops, few enough (512 KiB) to stay in cache."""


def _is_int(value: Any) -> bool:
    """A Python or numpy integer (not a bool)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_int(value: Any, name: str, low: int, high: int) -> None:
    if not _is_int(value):
        raise TypeError(f"gibbs_chain: {name} must be an int, got {type(value).__name__}")
    if not low <= value < high:
        raise ValueError(f"gibbs_chain: {name} must be in [{low}, {high}), got {value}")


def _check_counter(value: Any, name: str, high: int) -> None:
    """``seed`` and ``step``: an int in range, or an integer array of one element (whose value
    is not read back: it may be lazy)."""
    if _is_int(value):
        _check_int(value, name, 0, high)
        return
    if not hasattr(value, "dtype") or not mx.issubdtype(value.dtype, mx.integer):
        raise TypeError(f"gibbs_chain: {name} must be an int or an integer array, got {value!r}")
    if math.prod(value.shape) != 1:
        raise ValueError(f"gibbs_chain: {name} must hold one value, got shape {tuple(value.shape)}")


def _validate(v, weights, visible_bias, hidden_bias, k, seed, step, h_prob=None) -> None:
    arrays = {"v": v, "weights": weights, "visible_bias": visible_bias, "hidden_bias": hidden_bias}
    if h_prob is not None:
        arrays["h_prob"] = h_prob
    for name, x in arrays.items():
        if not hasattr(x, "dtype") or x.dtype != mx.float32:
            given = getattr(x, "dtype", type(x).__name__)
            raise TypeError(f"gibbs_chain: {name} must be a float32 array, got {given}")
    if weights.ndim != 2 or 0 in weights.shape:
        raise ValueError(
            "gibbs_chain: weights must have shape (n_visible, n_hidden) with both sizes >= 1, "
            f"got {tuple(weights.shape)}"
        )
    n_visible, n_hidden = weights.shape
    if v.ndim != 2 or v.shape[0] < 1 or v.shape[1] != n_visible:
        raise ValueError(
            f"gibbs_chain: v must have shape (chains, {n_visible}) with chains >= 1, "
            f"got {tuple(v.shape)}"
        )
    if tuple(visible_bias.shape) != (n_visible,):
        raise ValueError(
            f"gibbs_chain: visible_bias must have shape ({n_visible},), "
            f"got {tuple(visible_bias.shape)}"
        )
    if tuple(hidden_bias.shape) != (n_hidden,):
        raise ValueError(
            f"gibbs_chain: hidden_bias must have shape ({n_hidden},), "
            f"got {tuple(hidden_bias.shape)}"
        )
    if h_prob is not None and tuple(h_prob.shape) != (v.shape[0], n_hidden):
        raise ValueError(
            f"gibbs_chain: h_prob must have shape ({v.shape[0]}, {n_hidden}) like p(h | v), "
            f"got {tuple(h_prob.shape)}"
        )
    _check_int(k, "k", 1, 2**31)
    _check_counter(seed, "seed", 2**32)
    _check_counter(step, "step", 2**31)


def _as_counter(x: Any) -> Any:
    if _is_int(x):
        return mx.array(int(x), dtype=mx.uint32)
    return mx.astype(mx.reshape(x, ()), mx.uint32)


def counter_noise(
    seed: Any,
    step: Any,
    steps: int,
    chains: int,
    n_visible: int,
    n_hidden: int,
    *,
    gaussian_visible: bool = False,
) -> tuple[Any, Any]:
    r"""The random numbers of ``steps`` Gibbs steps from counter ``step``, as :func:`gibbs_chain`
    draws them (module docstring).

    ``gibbs_chain(v, ..., k, seed, step)`` followed by ``gibbs_chain(v', ..., k, seed, step +
    k)`` uses ``counter_noise(seed, step, 2 * k, ...)``: steps of successive calls are
    consecutive, so one call here serves many calls there.

    Args:
        seed (int or array): the seed, as for :func:`gibbs_chain`.
        step (int or array): the first step's counter.
        steps (int): number of Gibbs steps.
        chains (int): number of chains (rows).
        n_visible, n_hidden (int): layer sizes.
        gaussian_visible (bool, optional): standard normals instead of uniforms for the visible
            layer. Default: ``False``.

    Returns:
        tuple(array, array): ``hidden_noise`` ``(steps, chains, n_hidden)`` uniforms and
        ``visible_noise`` ``(steps, chains, n_visible)`` uniforms (or standard normals).
    """
    row = mx.astype(mx.arange(chains), mx.uint32)[None, :, None]
    draws = mx.multiply(mx.add(mx.astype(mx.arange(steps), mx.uint32), step), 2)[:, None, None]
    hidden_units = mx.astype(mx.arange(n_hidden), mx.uint32)
    visible_units = mx.astype(mx.arange(n_visible), mx.uint32)
    hidden_noise = uniform(seed, row, draws, hidden_units)
    visible = normal if gaussian_visible else uniform
    return hidden_noise, visible(seed, row, mx.add(draws, 1), visible_units)


def gibbs_sweep(
    v: Any,
    weights: Any,
    visible_bias: Any,
    hidden_bias: Any,
    hidden_noise: Any,
    visible_noise: Any,
    *,
    h_prob: Any = None,
    gaussian_visible: bool = False,
) -> tuple[Any, Any, Any]:
    r"""Block Gibbs steps :math:`v \to h \to v` driven by given noise: :func:`gibbs_chain`'s math.

    Step ``t`` compares ``hidden_noise[t]`` with :math:`p(h = 1 \mid v)` and ``visible_noise[t]``
    with :math:`\mu` (or adds it to :math:`\mu`, for Gaussian visible units); the number of steps
    is ``len(hidden_noise)``. The arrays are used as given (no checks): this is the inner loop of
    training and of the reference path.

    Args:
        v, weights, visible_bias, hidden_bias (array): as for :func:`gibbs_chain`.
        hidden_noise (array): ``(k, chains, n_hidden)`` uniforms in :math:`[0, 1)`.
        visible_noise (array): ``(k, chains, n_visible)`` uniforms, or standard normals with
            ``gaussian_visible``.
        h_prob (array, optional): :math:`p(h = 1 \mid v)` of the start states when the caller
            has it already (contrastive divergence does): saves the first product.
        gaussian_visible (bool, optional): unit-variance Gaussian visible units.

    Returns:
        tuple(array, array, array): as :func:`gibbs_chain`.
    """
    if h_prob is None:
        h_prob = mx.sigmoid(mx.addmm(hidden_bias, v, weights))
    for t in range(len(hidden_noise)):
        h = mx.astype(hidden_noise[t] < h_prob, mx.float32)
        v_mean = mx.addmm(visible_bias, h, weights.T)
        if gaussian_visible:
            v = v_mean + visible_noise[t]
        else:
            v_mean = mx.sigmoid(v_mean)
            v = mx.astype(visible_noise[t] < v_mean, mx.float32)
        h_prob = mx.sigmoid(mx.addmm(hidden_bias, v, weights))
    return v, v_mean, h_prob


def _reference_steps(
    v, weights, visible_bias, hidden_bias, seed, step, h_prob=None, *, steps, gaussian
):
    noise = counter_noise(
        seed, step, steps, v.shape[0], v.shape[1], weights.shape[1], gaussian_visible=gaussian
    )
    return gibbs_sweep(
        v, weights, visible_bias, hidden_bias, *noise, h_prob=h_prob, gaussian_visible=gaussian
    )


@functools.cache
def _compiled_reference_steps(steps: int, gaussian: bool):
    return mx.compile(functools.partial(_reference_steps, steps=steps, gaussian=gaussian))


def gibbs_chain_reference(
    v: Any,
    weights: Any,
    visible_bias: Any,
    hidden_bias: Any,
    k: int,
    seed: Any,
    step: Any = 0,
    *,
    gaussian_visible: bool = False,
    h_prob: Any = None,
) -> tuple[Any, Any, Any]:
    """:func:`gibbs_chain` written in ``mx`` ops: the oracle, and the path off Metal.

    :func:`counter_noise` then :func:`gibbs_sweep`, a few steps at a time: each draw holds about
    :data:`NOISE_BLOCK` numbers (all ``k`` steps at once would not fit for long chains, one step
    at a time would pay the generator's ~150 array ops per step). Each run of steps is compiled
    with ``mx.compile`` once per ``(steps, gaussian_visible)``; ``seed`` and ``step`` enter as
    arrays, so advancing ``step`` does not retrace.
    """
    _validate(v, weights, visible_bias, hidden_bias, k, seed, step, h_prob)
    k, seed, step = int(k), _as_counter(seed), _as_counter(step)
    per_draw = max(1, NOISE_BLOCK // (v.shape[0] * (v.shape[1] + weights.shape[1])))
    for first in range(0, k, per_draw):
        run = _compiled_reference_steps(min(per_draw, k - first), bool(gaussian_visible))
        start = (v, weights, visible_bias, hidden_bias, seed, mx.add(step, first))
        v, v_mean, h_prob = run(*start) if h_prob is None else run(*start, h_prob)
    return v, v_mean, h_prob


def kernel_limits(chains: int, n_visible: int, n_hidden: int) -> str | None:
    """Why the Metal kernel cannot take this problem, or ``None`` when it can."""
    if n_visible + n_hidden > _THREADGROUP_FLOATS:
        return (
            f"n_visible + n_hidden = {n_visible + n_hidden} exceeds {_THREADGROUP_FLOATS}: the "
            "float32 state of one chain must fit in 32 KiB of threadgroup memory"
        )
    if chains * max(n_visible, n_hidden) >= _MAX_INDEX or n_visible * n_hidden >= _MAX_INDEX:
        return "an index into v, weights or the outputs would reach 2**31"
    return None


def launch_config(
    chains: int, n_visible: int, n_hidden: int, threadgroup_width: int | None = None
) -> dict[str, Any]:
    """Grid, threadgroup and chains per threadgroup of the kernel for one problem size.

    Args:
        threadgroup_width (int, optional): threads per threadgroup; by default the number of
            units of the wider layer rounded up to 32, at most 256. Tests pass small widths to
            make threads own several units.
    """
    chains_per_group = min(
        _MAX_CHAINS_PER_GROUP, chains, _THREADGROUP_FLOATS // (n_visible + n_hidden)
    )
    if threadgroup_width is None:
        units = _SIMD_WIDTH * math.ceil(max(n_visible, n_hidden) / _SIMD_WIDTH)
        threadgroup_width = min(_MAX_THREADGROUP_WIDTH, units)
    groups = math.ceil(chains / chains_per_group)
    return {
        "chains_per_group": chains_per_group,
        "grid": (threadgroup_width, groups, 1),
        "threadgroup": (threadgroup_width, 1, 1),
    }


def kernel_spec() -> dict[str, Any]:
    """The constructor arguments of the kernel, for ``mx.fast.metal_kernel`` or the emulator."""
    return {
        "name": KERNEL_NAME,
        "input_names": list(INPUT_NAMES),
        "output_names": list(OUTPUT_NAMES),
        "source": read_source("gibbs.metal"),
        "header": read_source("ember_random.h"),
    }


def _params(seed: Any, step: Any, chains: int, k: int) -> Any:
    words = [mx.reshape(_as_counter(x), (1,)) for x in (seed, step, chains, k)]
    return mx.concatenate(words)


def run_kernel(
    kernel: Any,
    v: Any,
    weights: Any,
    visible_bias: Any,
    hidden_bias: Any,
    k: int,
    seed: Any,
    step: Any = 0,
    *,
    gaussian_visible: bool = False,
    threadgroup_width: int | None = None,
) -> list[Any]:
    """Call a kernel built from :func:`kernel_spec` on one validated problem.

    ``kernel`` is ``mx.fast.metal_kernel(**kernel_spec())`` on Metal or
    ``emulator.metal_kernel(**kernel_spec())`` in tests; both take the same call.

    Returns:
        list: ``[v_sample, v_mean, h_prob]``, arrays of the backend.
    """
    _validate(v, weights, visible_bias, hidden_bias, k, seed, step)
    chains, n_visible = v.shape
    n_hidden = weights.shape[1]
    unsupported = kernel_limits(chains, n_visible, n_hidden)
    if unsupported is not None:
        raise ValueError(f"gibbs_chain: the Metal kernel cannot run this problem: {unsupported}")
    config = launch_config(chains, n_visible, n_hidden, threadgroup_width)
    outputs = kernel(
        inputs=[v, weights, weights.T, visible_bias, hidden_bias, _params(seed, step, chains, k)],
        template=[
            ("NV", n_visible),
            ("NH", n_hidden),
            ("CHAINS", config["chains_per_group"]),
            ("GAUSSIAN", bool(gaussian_visible)),
        ],
        grid=config["grid"],
        threadgroup=config["threadgroup"],
        output_shapes=[(chains, n_visible), (chains, n_visible), (chains, n_hidden)],
        output_dtypes=[mx.float32] * 3,
    )
    return backend_arrays(outputs)


@functools.cache
def _metal_kernel():
    return mx.fast.metal_kernel(**kernel_spec())


def gibbs_chain(
    v: Any,
    weights: Any,
    visible_bias: Any,
    hidden_bias: Any,
    k: int,
    seed: Any,
    step: Any = 0,
    *,
    gaussian_visible: bool = False,
    h_prob: Any = None,
    use_kernel: bool | None = None,
) -> tuple[Any, Any, Any]:
    r"""Run ``k`` block Gibbs steps :math:`v \to h \to v` on every chain (row) of ``v``.

    Args:
        v (array): ``(chains, n_visible)`` float32 start states (persistent chains: pass the
            previous call's ``v_sample``).
        weights (array): ``(n_visible, n_hidden)`` float32 coupling matrix :math:`W`.
        visible_bias (array): ``(n_visible,)`` float32 :math:`b`.
        hidden_bias (array): ``(n_hidden,)`` float32 :math:`c`.
        k (int): Gibbs steps, at least 1.
        seed (int or array): random seed in :math:`[0, 2^{32})`.
        step (int or array, optional): counter offset in :math:`[0, 2^{31})`; advance it by
            ``k`` per call so successive calls draw fresh numbers. Default: ``0``.
        gaussian_visible (bool, optional): unit-variance Gaussian visible units instead of
            binary ones. Default: ``False``.
        h_prob (array, optional): :math:`p(h = 1 \mid v)` of ``v``, ``(chains, n_hidden)``, when
            the caller has computed it (contrastive divergence needs it for the positive phase):
            the reference path then skips its first product. The Metal kernel, which keeps
            everything on chip, recomputes it. Default: ``None``.
        use_kernel (bool, optional): ``None`` picks the Metal kernel when available, ``True``
            requires it, ``False`` forces the reference path (see
            :mod:`ember_mlx.kernels.dispatch`). Default: ``None``.

    Returns:
        tuple(array, array, array): the final visible sample ``(chains, n_visible)``, its mean
        :math:`\mu` (probabilities, or the Gaussian mean) and the hidden probabilities
        :math:`p(h = 1 \mid v)` of the final sample ``(chains, n_hidden)``.

    Example:
        >>> v, v_mean, h_prob = gibbs_chain(v0, W, b, c, k=1, seed=0, step=0)
        >>> v, v_mean, h_prob = gibbs_chain(v, W, b, c, k=1, seed=0, step=1)  # persistent
    """
    _validate(v, weights, visible_bias, hidden_bias, k, seed, step, h_prob)
    unsupported = kernel_limits(v.shape[0], *weights.shape)
    if use_metal(use_kernel, "gibbs_chain", unsupported):
        return tuple(
            run_kernel(
                _metal_kernel(),
                v,
                weights,
                visible_bias,
                hidden_bias,
                k,
                seed,
                step,
                gaussian_visible=gaussian_visible,
            )
        )
    return gibbs_chain_reference(
        v,
        weights,
        visible_bias,
        hidden_bias,
        k,
        seed,
        step,
        gaussian_visible=gaussian_visible,
        h_prob=h_prob,
    )
