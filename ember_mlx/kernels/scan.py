r"""The masked recurrence: a whole sequence of a wired cell in one Metal dispatch.

Two kernels, one per cell family, each beside its reference path, which is the cell's own
sequence code (these functions take the cell and call its methods, so the math has one
implementation):

- :func:`wired_cfc_scan` runs a :class:`~ember_mlx.nn.WiredCfCCell` (modes ``default``,
  ``no_gate``, ``pure``) as :meth:`~ember_mlx.nn.WiredCfCCell.scan_projected` does: layers as a
  wavefront, wave :math:`w` moving layer :math:`l` to step :math:`w - l`,

  .. math::

      z = P_{w - l} + h\,W_{hid}, \qquad h' = \mathrm{cfc\_update}(z, t_{w - l})

  with the neuron map's masks folded into the block matrix :math:`W_{hid}` and the input's share
  :math:`P` of every step computed before the kernel as one matmul (``metal/wired_cfc_scan.metal``).
- :func:`ltc_scan` runs an :class:`~ember_mlx.nn.LTCCell` as a loop of
  :meth:`~ember_mlx.nn.LTCCell.step` does: per step the sensory synapses once, then
  ``ode_unfolds`` updates

  .. math::

      v_j \leftarrow \frac{c_t v_j + \mathrm{num}_j + \sum_i a_{ij} E_{ij}}
          {\mathrm{den}_j + \sum_i a_{ij}}, \qquad
      a_{ij} = w_{ij}\,\sigma(\sigma_{ij}(v_i - \mu_{ij}))

  over the wired synapses only, whose polarities are the reversal potentials :math:`E`
  (``metal/ltc_scan.metal``).

**Threads and memory.** A threadgroup owns ``C`` batch rows (``C = min(8, batch, ...)``, as many
as fit) and keeps their states in threadgroup memory for the whole sequence, double-buffered so
that one barrier separates two updates: ``2 * C * units`` floats for the CfC, ``4 * C * units``
for the LTC (the potentials, and each step's numerator and denominator terms), at most 32 KiB.
Thread ``t`` of a group of ``W = min(256, units rounded up to 32)`` threads owns units
``t, t + W, ...`` of all ``C`` rows, so any number of units runs, and each weight read serves
``C`` rows; weights are laid out so that neighbouring threads read neighbouring addresses. The
grid is ``(W, ceil(batch / C), 1)``.

**Limits.** ``units <= 4096`` (CfC) or ``2048`` (LTC), so that one row's state fits in
threadgroup memory, float32 arrays, and every index below :math:`2^{31}`; past them
``use_kernel=None`` takes the reference path and ``use_kernel=True`` raises. Each distinct
template (units, heads, mode, layers, batch rows per group, ...) compiles one Metal
specialisation; the number of steps and the batch size are inputs and never recompile.

**Gradients.** The kernel path is an ``mx.custom_function`` whose vjp is the vjp of the
reference path, with every weight passed as an argument (captured arrays get no gradient).

The emulator (:mod:`ember_mlx.kernels.emulator`) runs the same Metal sources on the CPU:
``EMBER_BACKEND=mlx python -m pytest tests/test_scan_kernel.py`` (needs ``g++``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ember_mlx.backend import mx
from ember_mlx.trees import flatten

from .dispatch import backend_arrays, read_source, use_metal

CFC_KERNEL_NAME = "ember_wired_cfc_scan"
CFC_INPUT_NAMES = ("projected", "h0", "hidden_t", "ts", "pure", "offsets", "motor", "params")
CFC_OUTPUT_NAMES = ("y", "h_last")
LTC_KERNEL_NAME = "ember_ltc_scan"
LTC_INPUT_NAMES = (
    "u",
    "v0",
    "ts",
    "neuron",
    "synapse",
    "synapse_source",
    "synapse_row",
    "sensory",
    "sensory_source",
    "sensory_row",
    "params",
)
LTC_OUTPUT_NAMES = ("y", "v_last")

_THREADGROUP_FLOATS = 8192  # 32 KiB of threadgroup memory, the Apple-silicon limit
_CFC_STATE_BUFFERS = 2  # the state, double-buffered
_LTC_STATE_BUFFERS = 4  # the potentials, double-buffered, and num, den of a step
_MAX_CHAINS_PER_GROUP = 8
_MAX_THREADGROUP_WIDTH = 256
_SIMD_WIDTH = 32
_MAX_INDEX = 2**31
_DRIVE_BLOCK_FLOATS = 2**18  # 1 MiB of float32
_CFC_MODES = {"default": 0, "no_gate": 1, "pure": 2}


# --------------------------------------------------------------------------------- common


def _shape(x: Any) -> tuple[int, ...] | None:
    return tuple(x.shape) if hasattr(x, "shape") and hasattr(x, "dtype") else None


def _check_array(function: str, name: str, x: Any, expected: tuple[int, ...], text: str) -> None:
    """Raise a ValueError naming ``name`` unless ``x`` is an array of shape ``expected``."""
    shape = _shape(x)
    if shape != expected:
        given = shape if shape is not None else type(x).__name__
        raise ValueError(f"{function}: {name} must have shape {text}, got {given}")


def _not_float32(arrays: dict[str, Any]) -> str | None:
    for name, x in arrays.items():
        if x.dtype != mx.float32:
            dtype = str(x.dtype).rsplit(".", 1)[-1]
            return f"{name} is {dtype}; the kernel computes in float32"
    return None


def _too_big(units: int, buffers: int, extents: Sequence[int]) -> str | None:
    if buffers * units > _THREADGROUP_FLOATS:
        return (
            f"{units} units exceed {_THREADGROUP_FLOATS // buffers}: {buffers} float32 values "
            "per unit of one batch row must fit in 32 KiB of threadgroup memory"
        )
    if max(extents) >= _MAX_INDEX:
        return "an index into an input or output would reach 2**31"
    return None


def launch_config(
    batch: int, units: int, buffers: int, threadgroup_width: int | None = None
) -> dict[str, Any]:
    """Grid, threadgroup and batch rows per threadgroup of a scan kernel.

    Args:
        batch (int): batch rows.
        units (int): state size.
        buffers (int): float32 values of threadgroup memory per unit and batch row.
        threadgroup_width (int, optional): threads per threadgroup; by default ``units``
            rounded up to 32, at most 256. Tests pass small widths to make threads own several
            units.
    """
    chains = min(_MAX_CHAINS_PER_GROUP, batch, _THREADGROUP_FLOATS // (buffers * units))
    if threadgroup_width is None:
        rounded = _SIMD_WIDTH * math.ceil(units / _SIMD_WIDTH)
        threadgroup_width = min(_MAX_THREADGROUP_WIDTH, rounded)
    return {
        "chains_per_group": chains,
        "grid": (threadgroup_width, math.ceil(batch / chains), 1),
        "threadgroup": (threadgroup_width, 1, 1),
    }


def _with_reference_vjp(
    forward: Callable[..., tuple[Any, Any]],
    reference: Callable[..., tuple[Any, Any]],
    arrays: list[Any],
) -> tuple[Any, Any]:
    """``forward(*arrays)`` as an ``mx.custom_function`` whose vjp is that of ``reference``.

    Both take the same arrays (every weight among them) and return the same two arrays.
    """

    @mx.custom_function
    def scan(*args: Any) -> tuple[Any, Any]:
        return forward(*args)

    @scan.vjp
    def scan_vjp(primals: Any, cotangents: Any, outputs: Any) -> tuple[Any, ...]:
        primals = primals if isinstance(primals, tuple) else (primals,)
        _, grads = mx.vjp(lambda *args: list(reference(*args)), list(primals), list(cotangents))
        return tuple(grads) if len(grads) > 1 else grads[0]

    y, last = scan(*arrays)
    return y, last


@functools.cache
def _metal_kernel(kind: str) -> Any:
    return mx.fast.metal_kernel(**(cfc_kernel_spec() if kind == "cfc" else ltc_kernel_spec()))


# --------------------------------------------------------------------------------- wired CfC


def _cfc_heads(cell: Any, weights: Any) -> int:
    """Heads of the block matrix: ``f1`` (pure), ``f1, f2, gate`` (a constant time folded in),
    or ``f1, f2, t_a, t_b``."""
    if cell.mode == "pure":
        return 1
    return 3 if weights.ts is not None else 4


def _validate_cfc(
    cell: Any, projected: Any, h: Any, timespans: Any, weights: Any
) -> tuple[int, int, int]:
    """Check the arguments of :func:`wired_cfc_scan`; returns ``(steps, batch, heads)``."""
    name = "wired_cfc_scan"
    units = cell.state_size
    heads = _cfc_heads(cell, weights)
    _check_array(
        name,
        "weights.hidden_t",
        weights.hidden_t,
        (units, heads * units),
        f"({units}, {heads * units})",
    )
    shape = _shape(projected)
    if shape is None or len(shape) != 3 or min(shape) < 1 or shape[2] != heads * units:
        given = shape if shape is not None else type(projected).__name__
        raise ValueError(
            f"{name}: projected must have shape (steps, batch, {heads * units}) with steps and "
            f"batch >= 1, got {given}"
        )
    steps, batch, _ = shape
    _check_array(name, "h", h, (batch, units), f"({batch}, {units})")
    if timespans is None:
        if weights.ts is None:
            raise ValueError(
                f"{name}: timespans is None, but the weights were prepared without a constant "
                "elapsed time (weights.ts is None); pass timespans of shape (steps, batch, 1)"
            )
    else:
        _check_array(name, "timespans", timespans, (steps, batch, 1), f"({steps}, {batch}, 1)")
    if cell.mode == "pure":
        for k, part in enumerate(weights.pure):
            _check_array(name, f"weights.pure[{k}]", part, (1, units), f"(1, {units})")
    return steps, batch, heads


def _cfc_unsupported(cell: Any, projected: Any, h: Any, timespans: Any, weights: Any) -> str | None:
    arrays = {"projected": projected, "h": h, "weights.hidden_t": weights.hidden_t}
    if timespans is not None:
        arrays["timespans"] = timespans
    if weights.pure is not None:
        arrays.update({"weights.pure[0]": weights.pure[0], "weights.pure[1]": weights.pure[1]})
    return _not_float32(arrays) or _too_big(
        cell.state_size,
        _CFC_STATE_BUFFERS,
        [math.prod(projected.shape), math.prod(weights.hidden_t.shape)],
    )


def cfc_kernel_spec() -> dict[str, Any]:
    """The constructor arguments of the wired-CfC kernel, for ``mx.fast.metal_kernel`` or the
    emulator."""
    return {
        "name": CFC_KERNEL_NAME,
        "input_names": list(CFC_INPUT_NAMES),
        "output_names": list(CFC_OUTPUT_NAMES),
        "source": read_source("wired_cfc_scan.metal"),
        "header": read_source("scan.h"),
    }


def run_wired_cfc_kernel(
    kernel: Any,
    cell: Any,
    projected: Any,
    h: Any,
    timespans: Any,
    weights: Any,
    all_outputs: bool,
    *,
    threadgroup_width: int | None = None,
) -> tuple[Any, Any]:
    """:func:`wired_cfc_scan` through a kernel built from :func:`cfc_kernel_spec`.

    ``kernel`` is ``mx.fast.metal_kernel(**cfc_kernel_spec())`` on Metal or
    ``emulator.metal_kernel(**cfc_kernel_spec())`` in tests; both take the same call. The
    result is differentiable: its vjp is that of :meth:`WiredCfCCell.scan_projected`.
    """
    steps, batch, heads = _validate_cfc(cell, projected, h, timespans, weights)
    unsupported = _cfc_unsupported(cell, projected, h, timespans, weights)
    if unsupported is not None:
        raise ValueError(f"wired_cfc_scan: the Metal kernel cannot run this problem: {unsupported}")
    units, outputs = cell.state_size, cell.output_size
    config = launch_config(batch, units, _CFC_STATE_BUFFERS, threadgroup_width)
    offsets = mx.array(np.cumsum([0, *cell.layer_sizes]).astype(np.int32))
    motor = mx.astype(
        mx.reshape(cell.output(mx.reshape(mx.arange(units), (1, units))), (-1,)), mx.int32
    )
    params = mx.array(np.array([steps, batch], dtype=np.uint32))
    template = [
        ("U", units),
        ("HEADS", heads),
        ("MODE", _CFC_MODES[cell.mode]),
        ("STEP_TS", timespans is not None),
        ("LAYERS", len(cell.layer_sizes)),
        ("OUT", outputs),
        ("CHAINS", config["chains_per_group"]),
        ("ALL_STEPS", bool(all_outputs)),
    ]
    pure = weights.pure is not None
    arrays = [projected, h, weights.hidden_t]
    arrays += [] if timespans is None else [timespans]
    arrays += list(weights.pure) if pure else []

    def unpack(args: tuple[Any, ...]) -> tuple[Any, Any, Any, Any, tuple[Any, Any] | None]:
        rest = list(args[3:])
        ts = None if timespans is None else rest.pop(0)
        return args[0], args[1], args[2], ts, (tuple(rest) if pure else None)

    def forward(*args: Any) -> tuple[Any, Any]:
        projected, h, hidden_t, ts, pure_weights = unpack(args)
        if ts is None:
            ts = mx.array([weights.ts], dtype=mx.float32)
        else:
            ts = mx.reshape(ts, (steps, batch))
        if pure_weights is None:
            pure_weights = mx.zeros((1,), dtype=mx.float32)
        else:
            pure_weights = mx.concatenate(pure_weights, axis=0)
        y, h_last = kernel(
            inputs=[projected, h, hidden_t, ts, pure_weights, offsets, motor, params],
            template=template,
            grid=config["grid"],
            threadgroup=config["threadgroup"],
            output_shapes=[(steps if all_outputs else 1, batch, outputs), (batch, units)],
            output_dtypes=[mx.float32, mx.float32],
        )
        return tuple(backend_arrays([y, h_last]))

    def reference(*args: Any) -> tuple[Any, Any]:
        projected, h, hidden_t, ts, pure_weights = unpack(args)
        scan_weights = weights._replace(hidden_t=hidden_t, pure=pure_weights)
        return cell.scan_projected(projected, h, ts, scan_weights, all_outputs)

    return _with_reference_vjp(forward, reference, arrays)


def wired_cfc_scan(
    cell: Any,
    projected: Any,
    h: Any,
    timespans: Any,
    weights: Any,
    all_outputs: bool,
    *,
    use_kernel: bool | None = None,
) -> tuple[Any, Any]:
    """Run a wired CfC cell over a projected, time-major sequence.

    Args:
        cell (WiredCfCCell): the cell; its mode, layers and motor neurons shape the scan.
        projected (array): ``(steps, batch, heads * units)`` input share of the heads, bias
            included (``x @ weights.input_t + weights.input_bias``).
        h (array): ``(batch, units)`` initial state, ordered by layer.
        timespans (array): ``(steps, batch, 1)`` elapsed times, or ``None`` when ``weights``
            fold a constant one (``weights.ts``).
        weights (WaveWeights): the cell's block weights for this pass.
        all_outputs (bool): return the output of every step, or of the last one only.
        use_kernel (bool, optional): ``None`` picks the Metal kernel when available, ``True``
            requires it, ``False`` forces :meth:`WiredCfCCell.scan_projected` (see
            :mod:`ember_mlx.kernels.dispatch`). Default: ``None``.

    Returns:
        tuple(array, array): the outputs, time-major ``(steps, batch, output_size)`` (one step
        if not ``all_outputs``), and the final state, as :meth:`WiredCfCCell.scan_projected`
        returns them.
    """
    _validate_cfc(cell, projected, h, timespans, weights)
    unsupported = _cfc_unsupported(cell, projected, h, timespans, weights)
    if use_metal(use_kernel, "wired_cfc_scan", unsupported):
        return run_wired_cfc_kernel(
            _metal_kernel("cfc"), cell, projected, h, timespans, weights, all_outputs
        )
    return cell.scan_projected(projected, h, timespans, weights, all_outputs)


# --------------------------------------------------------------------------------- LTC


def _synapse_inputs(function: str, name: str, bank: Any, prepared: Any) -> tuple[Any, ...]:
    """A :class:`~ember_mlx.nn.rnn.ltc_cell.SynapseBank` as the LTC kernel reads it, from its
    :attr:`~ember_mlx.nn.rnn.ltc_cell.SynapseBank.layout`: ``(4, D, R)`` parameters
    ``{sigma, mu, w E, w}`` and ``(D, R)`` sources, both slot-major, the ``(units,)`` row of
    every neuron (``-1`` for a neuron without synapses), and ``D``, ``R``. A bank without
    synapses gets one-element placeholders and ``D = R = 0``."""
    layout = bank.layout
    rows, slots = layout.sources.shape
    row = np.full(bank.units, -1, dtype=np.int32)
    row[layout.receivers] = np.arange(rows, dtype=np.int32)
    if prepared is None:
        if slots:
            raise ValueError(f"{function}: {name} is None, but the neuron map wires synapses")
        placeholder = mx.zeros((1,), dtype=mx.float32)
        return placeholder, mx.zeros((1,), dtype=mx.int32), mx.array(row), 0, 0
    sigma, mu, weight = prepared
    for part, array, expected in (
        ("sigma", sigma, (rows, slots, 1)),
        ("mu", mu, (rows, slots, 1)),
        ("weight", weight, (rows, 2, slots)),
    ):
        _check_array(function, f"{name} {part}", array, expected, str(expected))
    params = mx.stack([sigma[..., 0].T, mu[..., 0].T, weight[:, 0].T, weight[:, 1].T])
    source = np.ascontiguousarray(layout.sources.T)
    return params, mx.array(source), mx.array(row), slots, rows


def _validate_ltc(cell: Any, u: Any, v: Any, timespans: Any, prepared: Any) -> tuple[int, int]:
    """Check the arguments of :func:`ltc_scan`; returns ``(steps, batch)``."""
    name = "ltc_scan"
    inputs, units = cell.input_size, cell.units
    shape = _shape(u)
    if shape is None or len(shape) != 3 or shape[1] != inputs or min(shape) < 1:
        given = shape if shape is not None else type(u).__name__
        raise ValueError(
            f"{name}: u must have shape (steps, {inputs}, batch) with steps and batch >= 1, "
            f"got {given}"
        )
    steps, _, batch = shape
    _check_array(name, "v", v, (units, batch), f"({units}, {batch})")
    if not isinstance(timespans, float):
        _check_array(
            name, "timespans", timespans, (steps, 1, batch), f"({steps}, 1, {batch}) or a float"
        )
    if not isinstance(prepared, tuple) or len(prepared) != 5:
        raise ValueError(
            f"{name}: prepared must be the 5-tuple of LTCCell.prepare(), got {prepared!r}"
        )
    for k, part in enumerate(prepared[:3]):
        _check_array(name, f"prepared[{k}]", part, (units, 1), f"({units}, 1)")
    return steps, batch


def _ltc_drives(cell: Any, u: Any, timespans: Any, prepared: Any) -> list[tuple[Any, Any]]:
    """The :meth:`LTCCell.drive` of every step, which does not depend on the potentials:
    evaluated for several steps at once, side by side in the columns, in blocks of about
    ``_DRIVE_BLOCK_FLOATS`` sensory-synapse activations (larger blocks fall out of the cache
    and run slower). Returns each block's ``fixed`` and ``cm_t``."""
    steps, inputs, batch = u.shape
    synapses = cell.sensory_synapses
    block = max(
        1, min(steps, _DRIVE_BLOCK_FLOATS // max(1, synapses.rows * synapses.slots * batch))
    )
    bounds = list(range(block, steps, block))
    u_blocks = mx.split(u, bounds, axis=0)
    if isinstance(timespans, float):
        ts_blocks = [timespans] * len(u_blocks)
    else:
        ts_blocks = mx.split(timespans, bounds, axis=0)
    drives = []
    for u_block, ts in zip(u_blocks, ts_blocks, strict=True):
        size = u_block.shape[0]
        columns = mx.reshape(mx.swapaxes(u_block, 0, 1), (inputs, size * batch))
        if not isinstance(ts, float):  # (size, 1, batch) is already in column order
            ts = mx.reshape(ts, (1, size * batch))
        drives.append(cell.drive(columns, ts, prepared))
    return drives


def _ltc_reference(
    cell: Any, u: Any, v: Any, timespans: Any, prepared: Any, all_outputs: bool
) -> tuple[Any, Any]:
    """The loop of :meth:`LTCCell.step`, a block of steps at a time (the blocks of
    :func:`_ltc_drives`, each one :meth:`LTCCell.integrate`): ``(y, v)`` with ``y`` of shape
    ``(steps or 1, output_size, batch)``."""
    outputs = []
    for fixed, cm_t in _ltc_drives(cell, u, timespans, prepared):
        potentials = cell.integrate(v, fixed, cm_t, prepared)  # (units, size, batch)
        v = potentials[:, -1]
        if all_outputs:
            outputs.append(potentials[: cell.output_size])
    if not all_outputs:
        return mx.expand_dims(v[: cell.output_size], 0), v
    return mx.swapaxes(mx.concatenate(outputs, axis=1), 0, 1), v


def _ltc_unsupported(cell: Any, u: Any, v: Any, timespans: Any, prepared: Any) -> str | None:
    flat, _ = flatten(prepared)
    arrays = {"u": u, "v": v, **{f"prepared leaf {k}": x for k, x in enumerate(flat)}}
    if not isinstance(timespans, float):
        arrays["timespans"] = timespans
    units = cell.units
    return _not_float32(arrays) or _too_big(
        units,
        _LTC_STATE_BUFFERS,
        [math.prod(u.shape), u.shape[0] * units * u.shape[2], 4 * units * units],
    )


def ltc_kernel_spec() -> dict[str, Any]:
    """The constructor arguments of the LTC kernel, for ``mx.fast.metal_kernel`` or the
    emulator."""
    return {
        "name": LTC_KERNEL_NAME,
        "input_names": list(LTC_INPUT_NAMES),
        "output_names": list(LTC_OUTPUT_NAMES),
        "source": read_source("ltc_scan.metal"),
        "header": read_source("scan.h"),
    }


def run_ltc_kernel(
    kernel: Any,
    cell: Any,
    u: Any,
    v: Any,
    timespans: Any,
    prepared: Any,
    all_outputs: bool,
    *,
    threadgroup_width: int | None = None,
) -> tuple[Any, Any]:
    """:func:`ltc_scan` through a kernel built from :func:`ltc_kernel_spec` (the Metal one or
    the emulator's). The result is differentiable: its vjp is that of the
    :meth:`LTCCell.step` loop."""
    steps, batch = _validate_ltc(cell, u, v, timespans, prepared)
    unsupported = _ltc_unsupported(cell, u, v, timespans, prepared)
    if unsupported is not None:
        raise ValueError(f"ltc_scan: the Metal kernel cannot run this problem: {unsupported}")
    units, outputs = cell.units, cell.output_size
    config = launch_config(batch, units, _LTC_STATE_BUFFERS, threadgroup_width)
    constant = isinstance(timespans, float)
    leaves, rebuild = flatten(prepared)
    params = mx.array(np.array([steps, batch], dtype=np.uint32))

    def forward(*args: Any) -> tuple[Any, Any]:
        u, v, ts = args[0], args[1], None if constant else args[2]
        cm, leak_num, leak_den, sensory, synapses = rebuild(args[2 if constant else 3 :])
        synapse = _synapse_inputs("ltc_scan", "prepared[4]", cell.synapses, synapses)
        sensory = _synapse_inputs("ltc_scan", "prepared[3]", cell.sensory_synapses, sensory)
        ts = mx.array([timespans], dtype=mx.float32) if constant else mx.reshape(ts, (steps, batch))
        neuron = mx.reshape(mx.concatenate([cm, leak_num, leak_den], axis=1).T, (3, units))
        y, v_last = kernel(
            inputs=[u, v, ts, neuron, *synapse[:3], *sensory[:3], params],
            template=[
                ("U", units),
                ("I", cell.input_size),
                ("D", synapse[3]),
                ("R", synapse[4]),
                ("SD", sensory[3]),
                ("SR", sensory[4]),
                ("UNFOLDS", cell.ode_unfolds),
                ("STEP_TS", not constant),
                ("OUT", outputs),
                ("CHAINS", config["chains_per_group"]),
                ("ALL_STEPS", bool(all_outputs)),
            ],
            grid=config["grid"],
            threadgroup=config["threadgroup"],
            output_shapes=[(steps if all_outputs else 1, outputs, batch), (units, batch)],
            output_dtypes=[mx.float32, mx.float32],
        )
        return tuple(backend_arrays([y, v_last]))

    def reference(*args: Any) -> tuple[Any, Any]:
        ts = timespans if constant else args[2]
        weights = rebuild(args[2 if constant else 3 :])
        return _ltc_reference(cell, args[0], args[1], ts, weights, all_outputs)

    arrays = [u, v] + ([] if constant else [timespans]) + leaves
    return _with_reference_vjp(forward, reference, arrays)


def ltc_scan(
    cell: Any,
    u: Any,
    v: Any,
    timespans: Any,
    prepared: Any,
    all_outputs: bool,
    *,
    use_kernel: bool | None = None,
) -> tuple[Any, Any]:
    """Run an LTC cell over a mapped, time-major and neuron-major sequence.

    Args:
        cell (LTCCell): the cell; its wiring, ``ode_unfolds`` and outputs shape the scan.
        u (array): ``(steps, input_size, batch)`` mapped inputs (:meth:`LTCCell.map_inputs`).
        v (array): ``(units, batch)`` initial potentials.
        timespans (float or array): the length of every step, or ``(steps, 1, batch)``.
        prepared (tuple): :meth:`LTCCell.prepare` of this forward pass.
        all_outputs (bool): return the motor potentials of every step, or of the last one.
        use_kernel (bool, optional): ``None`` picks the Metal kernel when available, ``True``
            requires it, ``False`` forces the loop of :meth:`LTCCell.step` (see
            :mod:`ember_mlx.kernels.dispatch`). Default: ``None``.

    Returns:
        tuple(array, array): the potentials of the motor neurons (ids ``0 .. output_size - 1``,
        before :meth:`LTCCell.readout`), ``(steps or 1, output_size, batch)``, and the final
        potentials ``(units, batch)``.
    """
    _validate_ltc(cell, u, v, timespans, prepared)
    unsupported = _ltc_unsupported(cell, u, v, timespans, prepared)
    if use_metal(use_kernel, "ltc_scan", unsupported):
        return run_ltc_kernel(_metal_kernel("ltc"), cell, u, v, timespans, prepared, all_outputs)
    return _ltc_reference(cell, u, v, timespans, prepared, all_outputs)
