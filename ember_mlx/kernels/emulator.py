"""Run a Metal kernel body on the CPU, so tests off Apple silicon execute the shipped source.

:func:`metal_kernel` mirrors ``mx.fast.metal_kernel``: the same constructor and call, taking
and returning numpy arrays (inputs may also be mlx arrays, torch tensors or Python scalars).
A call goes through the steps MLX takes on a Mac:

1. **Signature.** The kernel source is generated exactly as MLX generates it (same kernel name,
   same parameter list; :meth:`MetalKernel.metal_source` returns it): inputs in order as
   ``const device T*``, or ``const constant T*`` under 8 elements, or ``const constant T&``
   when 0-d; ``<name>_shape``/``_strides``/``_ndim`` only where the body names them; outputs
   as ``device T*`` (``device atomic<T>*`` with ``atomic_outputs``); the Metal attributes
   (``thread_position_in_grid``, ...) only where the body names them; template arguments as a
   C++ template.
2. **Compile.** That source is compiled as C++17 by ``g++`` against ``emulator_shim.h`` (Metal
   types, ``metal::`` math, barriers, simd functions, atomics) and linked with
   ``emulator_runtime.cpp`` into a shared library, cached by a hash of everything that goes in
   (``$EMBER_EMULATOR_CACHE``, else a folder in the temp dir). ``threadgroup`` variables
   become references into a per-threadgroup arena; errors point at lines of ``<name>.metal``.
3. **Run.** The grid is cut into threadgroups as Metal does (the threadgroup clamped to the
   grid, edge groups smaller). Each threadgroup runs on one OS thread per GPU thread with real
   barriers; threadgroups run one after another. Outputs start as NaN (integers as ``0xA5``
   bytes) unless ``init_value`` is given, and threadgroup memory as ``0xFF`` bytes (NaN) in
   every group, so a kernel that misses a position or reads memory it never wrote is caught;
   more than Metal's 32 KiB of threadgroup memory fails the call.

What it cannot show: speed, races between threadgroups (they never overlap here), Metal
compiler errors the C++ compiler accepts, and floating-point differences of the Apple GPU
(fused multiply-adds, fast math); reductions add lanes in a fixed order.

Tests that use it skip when ``g++`` is missing: ``python -m pytest tests/test_emulator.py``.
"""

from __future__ import annotations

import ctypes
import hashlib
import itertools
import math
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

COMPILER_ENV_VAR = "EMBER_EMULATOR_CXX"
CACHE_ENV_VAR = "EMBER_EMULATOR_CACHE"

_HERE = Path(__file__).resolve().parent
_SHIM_FILES = ("emulator_abi.h", "emulator_shim.h", "emulator_runtime.cpp")
_FLAGS = ("-std=c++17", "-O2", "-fPIC", "-pthread", "-ffp-contract=off", "-Wno-attributes")

_MAX_CONSTANT_SIZE = 8  # MLX passes inputs with fewer elements in the constant address space
_MAX_THREADS_PER_THREADGROUP = 1024

# MLX's list, in MLX's order: each is declared only when the body names it.
_ATTRIBUTES = (
    ("dispatch_quadgroups_per_threadgroup", "uint"),
    ("dispatch_simdgroups_per_threadgroup", "uint"),
    ("dispatch_threads_per_threadgroup", "uint3"),
    ("grid_origin", "uint3"),
    ("grid_size", "uint3"),
    ("quadgroup_index_in_threadgroup", "uint"),
    ("quadgroups_per_threadgroup", "uint"),
    ("simdgroup_index_in_threadgroup", "uint"),
    ("simdgroups_per_threadgroup", "uint"),
    ("thread_execution_width", "uint"),
    ("thread_index_in_quadgroup", "uint"),
    ("thread_index_in_simdgroup", "uint"),
    ("thread_index_in_threadgroup", "uint"),
    ("thread_position_in_grid", "uint3"),
    ("thread_position_in_threadgroup", "uint3"),
    ("threadgroup_position_in_grid", "uint3"),
    ("threadgroups_per_grid", "uint3"),
    ("threads_per_grid", "uint3"),
    ("threads_per_simdgroup", "uint"),
    ("threads_per_threadgroup", "uint3"),
)

_TYPE_NAMES = {
    np.dtype(np.bool_): "bool",
    np.dtype(np.int8): "int8_t",
    np.dtype(np.int16): "int16_t",
    np.dtype(np.int32): "int32_t",
    np.dtype(np.int64): "int64_t",
    np.dtype(np.uint8): "uint8_t",
    np.dtype(np.uint16): "uint16_t",
    np.dtype(np.uint32): "uint32_t",
    np.dtype(np.uint64): "uint64_t",
    np.dtype(np.float16): "float16_t",
    np.dtype(np.float32): "float",
}

# A threadgroup variable declaration: no pointer or reference and no initialiser (Metal allows
# none), e.g. `threadgroup float buf[N * M];`, `threadgroup atomic_int count;`.
_DECLARATOR = r"[A-Za-z_]\w*\s*(?:\[[^\]]*\]\s*)*"
_THREADGROUP_DECLARATION = re.compile(
    rf"\bthreadgroup\s+(?P<type>[A-Za-z_][\w:<>, ]*?)\s+"
    rf"(?P<declarators>{_DECLARATOR}(?:,\s*{_DECLARATOR})*);"
)
_NAME_AND_DIMS = re.compile(r"(?P<name>[A-Za-z_]\w*)\s*(?P<dims>.*)", re.S)

_DISPATCH_LOCK = threading.Lock()  # one dispatch at a time: each starts its threads anyway
_LIBRARIES: dict[Path, ctypes.CDLL] = {}


def compiler() -> str:
    """The C++ compiler the emulator runs: ``$EMBER_EMULATOR_CXX``, default ``g++``."""
    return os.environ.get(COMPILER_ENV_VAR, "g++")


def is_available() -> bool:
    """Whether the C++ compiler is on ``PATH`` (the emulator's only requirement)."""
    return shutil.which(compiler()) is not None


def _cache_dir() -> Path:
    default = Path(tempfile.gettempdir()) / f"ember_mlx_emulator_{os.getuid()}"
    path = Path(os.environ.get(CACHE_ENV_VAR, default))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _as_dtype(dtype: Any, what: str) -> np.dtype:
    """A numpy dtype from a numpy, mlx or torch dtype."""
    try:
        result = np.dtype(dtype)
    except TypeError:
        try:  # mlx.core.float32, torch.float32
            result = np.dtype(str(dtype).rsplit(".", 1)[-1])
        except TypeError:
            result = None
    if result not in _TYPE_NAMES:
        supported = ", ".join(str(d) for d in _TYPE_NAMES)
        raise TypeError(f"emulator: {what} has dtype {dtype}, expected one of {supported}")
    return result


def _as_input(value: Any, name: str) -> np.ndarray:
    # Python scalars become 0-d arrays with MLX's types.
    if isinstance(value, bool):
        return np.array(value, dtype=np.bool_)
    if isinstance(value, int):
        return np.array(value, dtype=np.int32)
    if isinstance(value, float):
        return np.array(value, dtype=np.float32)
    if not isinstance(value, (np.ndarray, np.generic)):
        from ember_mlx.backend import to_numpy

        value = to_numpy(value)
    value = np.asarray(value)
    _as_dtype(value.dtype, f"input {name!r}")
    return value


def _dims(value: Any, what: str) -> tuple[int, int, int]:
    if (
        not isinstance(value, Sequence)
        or len(value) != 3
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in value)
    ):
        raise ValueError(f"emulator: {what} must be three positive ints, got {value!r}")
    return tuple(value)


def _template_value(name: str, value: Any) -> tuple[str, str]:
    """The template parameter's kind and its value as MLX writes it."""
    if isinstance(value, bool):
        return "bool", str(int(value))
    if isinstance(value, int):
        return "int", str(value)
    if isinstance(value, (float, str)) or value is None:
        raise TypeError(
            f"emulator: template argument {name!r} is {value!r}; expected a dtype, int or bool"
        )
    return "typename", _TYPE_NAMES[_as_dtype(value, f"template argument {name!r}")]


def _argument(kind: str, c_type: str, index: int) -> str:
    """How the generated C++ entry passes ``buffers[index]`` to a kernel parameter."""
    if kind == "reference":
        return f"*(const {c_type}*)buffers[{index}]"
    if kind == "pointer":
        return f"(const {c_type}*)buffers[{index}]"
    return f"({c_type}*)buffers[{index}]"


class MetalKernel:
    """A kernel as ``mx.fast.metal_kernel`` builds it, run by the CPU emulator.

    Args:
        name (str): kernel name; the generated function is ``custom_kernel_<name>_...``.
        input_names (sequence of str): parameter names of the inputs, in call order.
        output_names (sequence of str): parameter names of the outputs.
        source (str): the kernel body.
        header (str, optional): code placed before the kernel (helpers, includes). Default: ``""``.
        ensure_row_contiguous (bool, optional): copy non-row-contiguous inputs first.
            Default: ``True``.
        atomic_outputs (bool, optional): declare outputs as ``device atomic<T>*``.
            Default: ``False``.
        barrier_timeout (float, optional): seconds a barrier waits for all its threads before
            the call fails (a barrier in divergent control flow would hang on a GPU).
            Default: ``60.0``.
    """

    def __init__(
        self,
        name: str,
        input_names: Sequence[str],
        output_names: Sequence[str],
        source: str,
        header: str = "",
        ensure_row_contiguous: bool = True,
        atomic_outputs: bool = False,
        barrier_timeout: float = 60.0,
    ):
        if not output_names:
            raise ValueError("emulator: a kernel needs at least one output")
        self.name = name
        self.input_names = list(input_names)
        self.output_names = list(output_names)
        self.source = source
        self.header = header
        self.ensure_row_contiguous = ensure_row_contiguous
        self.atomic_outputs = atomic_outputs
        self.barrier_timeout = barrier_timeout
        # As in MLX: by substring of the body only, never of the header.
        self._shape_infos = [
            tuple(f"{n}{suffix}" in source for suffix in ("_shape", "_strides", "_ndim"))
            for n in self.input_names
        ]
        self._attributes = [(a, t) for a, t in _ATTRIBUTES if a in source]

    def _prepare(
        self, inputs: Sequence[Any], output_dtypes: Sequence[Any]
    ) -> tuple[list[np.ndarray], list[np.dtype]]:
        """Inputs as numpy arrays and output dtypes as numpy dtypes, counts checked."""
        for what, given, names in (
            ("inputs", inputs, self.input_names),
            ("output_dtypes", output_dtypes, self.output_names),
        ):
            if len(given) != len(names):
                raise ValueError(
                    f"emulator: expected {what} to have size {len(names)}, got {len(given)}"
                )
        arrays = [_as_input(x, n) for x, n in zip(inputs, self.input_names, strict=True)]
        dtypes = [
            _as_dtype(d, f"output {n!r}")
            for d, n in zip(output_dtypes, self.output_names, strict=True)
        ]
        return arrays, dtypes

    def _generate(
        self,
        arrays: list[np.ndarray],
        output_dtypes: list[np.dtype],
        template: Sequence[tuple[str, Any]],
    ) -> tuple[str, str, str, list[str]]:
        """The kernel name, the signature plus body and the explicit instantiation, written the
        way MLX's ``write_signature`` writes them, and the C++ arguments of the entry's call."""
        template_args = [(n, *_template_value(n, v)) for n, v in template]
        template_def = "<" + ", ".join(value for _, _, value in template_args) + ">"
        kernel_name = "custom_kernel_" + self.name
        if template_args:
            kernel_name += "_" + re.sub(r"[<>]|, ", "_", template_def)[:-1]
        for x in arrays:
            kernel_name += "_" + _TYPE_NAMES[x.dtype]
            kernel_name += "s" if x.ndim == 0 else "c" if x.size < _MAX_CONSTANT_SIZE else ""
        for dtype in output_dtypes:
            kernel_name += "_" + _TYPE_NAMES[dtype]

        text = self.header
        if template_args:
            text += "template <" + ", ".join(f"{kind} {n}" for n, kind, _ in template_args)
            text += ">\n"
        text += f"[[kernel]] void {kernel_name}(\n"
        arguments: list[str] = []
        index = 0
        for name, x, (has_shape, has_strides, has_ndim) in zip(
            self.input_names, arrays, self._shape_infos, strict=True
        ):
            type_name = _TYPE_NAMES[x.dtype]
            location = "constant" if x.size < _MAX_CONSTANT_SIZE else "device"
            ref = "&" if x.ndim == 0 else "*"
            text += f"  const {location} {type_name}{ref} {name} [[buffer({index})]],\n"
            arguments.append(_argument("reference" if x.ndim == 0 else "pointer", type_name, index))
            index += 1
            if x.ndim == 0:
                continue
            for present, suffix, c_type, ref in (
                (has_shape, "_shape", "int", "*"),
                (has_strides, "_strides", "int64_t", "*"),
                (has_ndim, "_ndim", "int", "&"),
            ):
                if present:
                    text += f"  const constant {c_type}{ref} {name}{suffix} [[buffer({index})]],\n"
                    kind = "reference" if ref == "&" else "pointer"
                    arguments.append(_argument(kind, c_type, index))
                    index += 1
        n_buffers_named = len(arrays) + len(self.output_names)
        for name, dtype in zip(self.output_names, output_dtypes, strict=True):
            c_type = _TYPE_NAMES[dtype]
            if self.atomic_outputs:
                c_type = f"atomic<{c_type}>"
            text += f"  device {c_type}* {name} [[buffer({index})]]"
            # MLX's test, kept as is: `index` also counts the _shape/_strides/_ndim buffers.
            text += ",\n" if index < n_buffers_named - 1 or self._attributes else ") {\n"
            arguments.append(_argument("output", c_type, index))
            index += 1
        text += ",\n".join(f"  {t} {a} [[{a}]]" for a, t in self._attributes)
        if self._attributes:
            text += ") {\n"
        for attribute, type_name in self._attributes:
            if type_name == "uint3":
                arguments.append(f"uint3({', '.join(f'info->{attribute}[{d}]' for d in range(3))})")
            else:
                arguments.append(f"info->{attribute}")
        text += self.source + "\n}\n"
        instantiation = ""
        if template_args:
            full = kernel_name + template_def
            instantiation = (
                f'\ntemplate [[host_name("{kernel_name}")]] [[kernel]] decltype({full}) {full};\n'
            )
            kernel_name = full
        return kernel_name, text, instantiation, arguments

    def metal_source(
        self,
        inputs: Sequence[Any],
        output_dtypes: Sequence[Any],
        template: Sequence[tuple[str, Any]] | None = None,
    ) -> str:
        """The Metal source MLX would compile for these inputs (what ``verbose=True`` prints)."""
        arrays, dtypes = self._prepare(inputs, output_dtypes)
        _, text, instantiation, _ = self._generate(arrays, dtypes, template or [])
        return text + instantiation

    def __call__(
        self,
        *,
        inputs: Sequence[Any],
        output_shapes: Sequence[Sequence[int]],
        output_dtypes: Sequence[Any],
        grid: Sequence[int],
        threadgroup: Sequence[int],
        template: Sequence[tuple[str, Any]] | None = None,
        init_value: float | None = None,
        verbose: bool = False,
    ) -> list[np.ndarray]:
        """Run the kernel; arguments as for the kernels ``mx.fast.metal_kernel`` returns.

        Returns:
            list(numpy.ndarray): the outputs, row-contiguous.
        """
        arrays, dtypes = self._prepare(inputs, output_dtypes)
        if len(output_shapes) != len(self.output_names):
            raise ValueError(
                f"emulator: expected output_shapes to have size {len(self.output_names)}, "
                f"got {len(output_shapes)}"
            )
        grid = _dims(grid, "grid")
        threadgroup = _dims(threadgroup, "threadgroup")
        if math.prod(threadgroup) > _MAX_THREADS_PER_THREADGROUP:
            raise ValueError(
                f"emulator: threadgroup {threadgroup} has {math.prod(threadgroup)} threads, "
                f"more than the {_MAX_THREADS_PER_THREADGROUP} Metal allows"
            )
        if self.ensure_row_contiguous:
            arrays = [x if x.flags.c_contiguous else x.copy(order="C") for x in arrays]
        call_name, text, instantiation, arguments = self._generate(arrays, dtypes, template or [])
        if verbose:
            print(f"Generated source code for `{self.name}`:\n```\n{text + instantiation}\n```")

        library = _library(self.name, _translate(self.name, call_name, text, arguments))
        outputs = [
            _new_output(shape, dtype, init_value)
            for shape, dtype in zip(output_shapes, dtypes, strict=True)
        ]
        buffers = _buffers(arrays, self._shape_infos, outputs)
        _dispatch(library, buffers, grid, threadgroup, self.barrier_timeout, self.name)
        return outputs


def metal_kernel(
    name: str,
    input_names: Sequence[str],
    output_names: Sequence[str],
    source: str,
    header: str = "",
    ensure_row_contiguous: bool = True,
    atomic_outputs: bool = False,
    barrier_timeout: float = 60.0,
) -> MetalKernel:
    """The emulator's ``mx.fast.metal_kernel``; see :class:`MetalKernel`."""
    return MetalKernel(
        name,
        input_names,
        output_names,
        source,
        header,
        ensure_row_contiguous,
        atomic_outputs,
        barrier_timeout,
    )


def _new_output(shape: Sequence[int], dtype: np.dtype, init_value: float | None) -> np.ndarray:
    out = np.empty(tuple(shape), dtype=dtype)
    if init_value is not None:
        out[...] = init_value
    elif dtype.kind == "f":
        out[...] = np.nan
    else:
        out.view(np.uint8)[...] = 0xA5
    return out


def _buffers(arrays, shape_infos, outputs) -> list[np.ndarray]:
    """The buffers in signature order: each input, its shape/strides/ndim when named, outputs."""
    buffers = []
    for x, (has_shape, has_strides, has_ndim) in zip(arrays, shape_infos, strict=True):
        buffers.append(x)
        if x.ndim == 0:
            continue
        if has_shape:
            buffers.append(np.array(x.shape, dtype=np.int32))
        if has_strides:
            buffers.append(np.array([s // x.itemsize for s in x.strides], dtype=np.int64))
        if has_ndim:
            buffers.append(np.array(x.ndim, dtype=np.int32))
    return buffers + outputs


def _place_threadgroup_variables(text: str) -> str:
    """Rewrite each ``threadgroup`` variable as a reference into the runtime's per-group arena.

    ``threadgroup float buf[N];`` becomes ``float (&buf)[N] = *reinterpret_cast<float (*)[N]>(
    ember_emu_threadgroup_memory(id, sizeof(float[N])));``, one id per declaration, so every
    thread of a group gets the same memory, which starts as garbage like a GPU's.
    """
    ids = itertools.count()

    def place(match: re.Match) -> str:
        type_name = match["type"].strip()
        statements = []
        for declarator in match["declarators"].split(","):
            parts = _NAME_AND_DIMS.match(declarator.strip())
            name, dims = parts["name"], re.sub(r"\s+", "", parts["dims"])
            memory = f"ember_emu_threadgroup_memory({next(ids)}, sizeof({type_name}{dims}))"
            if dims:
                statements.append(
                    f"{type_name} (&{name}){dims} = "
                    f"*reinterpret_cast<{type_name} (*){dims}>({memory});"
                )
            else:
                statements.append(
                    f"{type_name}& {name} = *reinterpret_cast<{type_name}*>({memory});"
                )
        # Keep the line count so compiler messages point at the right lines of the source.
        return " ".join(statements) + "\n" * match[0].count("\n")

    return _THREADGROUP_DECLARATION.sub(place, text)


def _translate(name: str, call_name: str, text: str, arguments: list[str]) -> str:
    """C++ for the generated Metal source plus an ``extern "C"`` entry that unpacks buffers."""
    body = _place_threadgroup_variables(text)
    joined = ",\n      ".join(arguments)
    return (
        '#include "emulator_shim.h"\n'
        f'#line 1 "{name}.metal"\n'
        f"{body}\n"
        'extern "C" void ember_emu_entry(void** buffers, const ember_emu_thread_info* info) {\n'
        f"  {call_name}(\n      {joined});\n"
        "}\n"
    )


def _compile(command: list[str], target: Path, what: str) -> None:
    # Build under a private name and rename: concurrent processes may share the cache.
    partial = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    result = subprocess.run([*command, "-o", str(partial)], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"emulator: {compiler()} could not compile {what}:\n{result.stderr}")
    os.replace(partial, target)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:20]


def _runtime_object() -> Path:
    runtime = _HERE / "emulator_runtime.cpp"
    target = _cache_dir() / f"runtime-{_digest(compiler(), *_FLAGS, runtime.read_text())}.o"
    if not target.exists():
        command = [compiler(), *_FLAGS, "-I", str(_HERE), "-c", str(runtime)]
        _compile(command, target, "the emulator runtime")
    return target


def _translate_path(name: str, cpp: str) -> Path:
    shims = [(_HERE / f).read_text() for f in _SHIM_FILES]
    digest = _digest(compiler(), *_FLAGS, *shims, cpp)
    return _cache_dir() / f"{re.sub(r'[^A-Za-z0-9_]', '_', name)[:48]}-{digest}"


def _library(name: str, cpp: str) -> ctypes.CDLL:
    """Build (or find in the cache) and load the shared library of one translated kernel."""
    stem = _translate_path(name, cpp)
    path = stem.with_suffix(".so")
    if path not in _LIBRARIES:
        if not path.exists():
            source = stem.with_suffix(".cpp")
            source.write_text(cpp)
            command = [compiler(), *_FLAGS, "-shared", "-Wl,-Bsymbolic", "-I", str(_HERE)]
            _compile([*command, str(source), str(_runtime_object())], path, str(source))
        library = ctypes.CDLL(str(path))
        library.ember_emu_dispatch.restype = ctypes.c_int
        library.ember_emu_dispatch.argtypes = [
            ctypes.c_void_p,
            ctypes.POINTER(ctypes.c_void_p),
            ctypes.POINTER(ctypes.c_uint32),
            ctypes.POINTER(ctypes.c_uint32),
            ctypes.c_uint32,
            ctypes.c_char_p,
            ctypes.c_size_t,
        ]
        _LIBRARIES[path] = library
    return _LIBRARIES[path]


def _dispatch(
    library: ctypes.CDLL,
    buffers: list[np.ndarray],
    grid: tuple[int, int, int],
    threadgroup: tuple[int, int, int],
    barrier_timeout: float,
    name: str,
) -> None:
    pointers = (ctypes.c_void_p * len(buffers))(*(b.ctypes.data for b in buffers))
    error = ctypes.create_string_buffer(1024)
    entry = ctypes.cast(library.ember_emu_entry, ctypes.c_void_p)
    with _DISPATCH_LOCK:
        failed = library.ember_emu_dispatch(
            entry,
            pointers,
            (ctypes.c_uint32 * 3)(*grid),
            (ctypes.c_uint32 * 3)(*threadgroup),
            int(barrier_timeout * 1000),
            error,
            len(error),
        )
    if failed:
        raise RuntimeError(f"emulator: kernel {name!r} failed: {error.value.decode()}")
