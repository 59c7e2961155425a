"""``mlx.core`` over ``numpy.ndarray``: ``from ember_mlx.compat.numpy import core as mx``.

Every function has MLX's name, signature and semantics and returns a plain ndarray. ``stream=``
is accepted and ignored; everything runs eagerly on the CPU. This is the reference backend:
it needs nothing but numpy, and each op is a thin call into numpy with MLX's dtype rules (see
:mod:`.elementwise`). This module only gathers the namespace:

* :mod:`.dtypes` and :mod:`.arrays` — dtypes, their categories and promotion, the ``array``
  type;
* :mod:`.creation`, :mod:`.elementwise`, :mod:`.products`, :mod:`.reductions`,
  :mod:`.shapes` — the ops (:mod:`.special` holds ``erf`` and ``erfinv``, which numpy lacks);
* :mod:`.autodiff` — ``compile``, ``custom_function`` and the gradient transformations, which
  raise: numpy has no autodiff;
* :mod:`.io` and :mod:`.devices` — files, the CPU and memory;
* the submodules ``random``, ``linalg`` and ``fft``.

Differences from MLX, all forced by numpy:

* no ``bfloat16`` arrays: :data:`bfloat16` exists for dtype checks, but making an array of it
  raises ``TypeError``, and ``bfloat16`` tensors in safetensors files load as ``float32``;
* no gradients: ``grad``, ``value_and_grad``, ``vjp`` and ``jvp`` raise ``RuntimeError``;
* Python operators on ndarrays (``a + b``, ``a / 2``) follow numpy's promotion, not MLX's:
  ``int32 array / 2`` is ``float64`` and ``int32 + float32`` arrays give ``float64``; the
  functions (``mx.divide(a, 2)``) follow MLX's;
* ``array(x)`` narrows ``float64`` data to ``float32`` as MLX does with numpy input, so a
  ``float64`` array is made with ``array(x, float64)`` or ``astype``;
* numpy scalars (``np.float32(2.0)``, what numpy's operators return for 0-d arrays) count as
  0-d arrays, not as weakly typed Python scalars as MLX counts them.
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
