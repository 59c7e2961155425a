"""``mlx.core`` over ``torch.Tensor``: ``from ember_mlx.compat.torch import core as mx``.

Every function has MLX's name, signature and semantics and returns a plain tensor on torch's
default device (``torch.set_default_device("cuda")`` moves everything). ``stream=`` is accepted
and ignored. Gradients come from torch autograd (:mod:`.autodiff`); ``eval`` and ``compile`` are
no-ops because torch runs eagerly.

Speed matters here (this is the fast backend off Apple silicon), so each op is a thin call into
torch; see :mod:`.elementwise` for how Python scalars and unsigned dtypes keep MLX's semantics.
This module only gathers the namespace:

* :mod:`.dtypes` and :mod:`.arrays` — dtypes, their categories and the ``array`` type;
* :mod:`.creation`, :mod:`.elementwise`, :mod:`.products`, :mod:`.reductions`,
  :mod:`.shapes` — the ops;
* :mod:`.autodiff` — ``value_and_grad``, ``vjp``, ``custom_function``, ``compile``, ...;
* :mod:`.io` and :mod:`.devices` — files, devices and memory;
* the submodules ``random``, ``linalg`` and ``fft``.

Differences from MLX, all forced by torch:

* index results (``argmax``, ``argsort``, ``topk`` indices, ``random.permutation``,
  ``random.categorical``) are ``int64``, torch's index dtype, not ``uint32``;
* Python operators on ``uint16/32/64`` tensors (``a + b``) raise in torch; use the functions
  (``mx.add(a, b)``), which emulate them;
* a 0-d array combined with an n-d array follows torch's rule (the n-d dtype wins within a
  category) rather than MLX's plain promotion;
* ``float64`` with ``complex64`` gives torch's ``complex128`` (MLX has only ``complex64``);
* Python operators on tensors with a Python int (``int8_array + 1000``) wrap as in torch;
  the functions (``mx.add``) raise MLX's overflow ``ValueError``;
* ``square`` of a boolean array gives torch's ``int64``, not ``bool``.
"""

# ruff: noqa: F401, F403 - this module re-exports the namespace

import math

from .._apple import fast, metal
from . import creation, elementwise, fft, linalg, products, random, reductions, shapes
from .arrays import array, asarray
from .autodiff import (
    async_eval,
    checkpoint,
    compile,
    custom_function,
    disable_compile,
    enable_compile,
    eval,
    grad,
    jvp,
    stop_gradient,
    value_and_grad,
    vjp,
)
from .creation import *
from .devices import (
    Device,
    DeviceType,
    clear_cache,
    cpu,
    cuda,
    default_device,
    device_count,
    device_info,
    get_active_memory,
    get_cache_memory,
    get_memory_limit,
    get_peak_memory,
    gpu,
    is_available,
    reset_peak_memory,
    set_default_device,
    set_memory_limit,
    stream,
    synchronize,
)
from .dtypes import (
    Dtype,
    DtypeCategory,
    bfloat16,
    bool_,
    complex64,
    complexfloating,
    finfo,
    float16,
    float32,
    float64,
    floating,
    generic,
    iinfo,
    inexact,
    int8,
    int16,
    int32,
    int64,
    integer,
    issubdtype,
    number,
    signedinteger,
    uint8,
    uint16,
    uint32,
    uint64,
    unsignedinteger,
)
from .elementwise import *
from .io import load, save, save_safetensors, savez, savez_compressed
from .products import *
from .reductions import *
from .shapes import *

pi = math.pi
e = math.e
inf = math.inf
nan = math.nan
newaxis = None

__all__ = [
    *creation.__all__,
    *elementwise.__all__,
    *products.__all__,
    *reductions.__all__,
    *shapes.__all__,
    "array",
    "asarray",
    "async_eval",
    "checkpoint",
    "compile",
    "custom_function",
    "disable_compile",
    "enable_compile",
    "eval",
    "grad",
    "jvp",
    "stop_gradient",
    "value_and_grad",
    "vjp",
    "Device",
    "DeviceType",
    "clear_cache",
    "cpu",
    "cuda",
    "default_device",
    "device_count",
    "device_info",
    "get_active_memory",
    "get_cache_memory",
    "get_memory_limit",
    "get_peak_memory",
    "gpu",
    "is_available",
    "fast",
    "metal",
    "reset_peak_memory",
    "set_default_device",
    "set_memory_limit",
    "stream",
    "synchronize",
    "Dtype",
    "DtypeCategory",
    "bfloat16",
    "bool_",
    "complex64",
    "complexfloating",
    "finfo",
    "float16",
    "float32",
    "float64",
    "floating",
    "generic",
    "iinfo",
    "inexact",
    "int8",
    "int16",
    "int32",
    "int64",
    "integer",
    "issubdtype",
    "number",
    "signedinteger",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "unsignedinteger",
    "load",
    "save",
    "save_safetensors",
    "savez",
    "savez_compressed",
    "fft",
    "linalg",
    "random",
    "pi",
    "e",
    "inf",
    "nan",
    "newaxis",
]
