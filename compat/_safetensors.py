"""The safetensors file format in numpy, ``json`` and ``struct``: one codec for every mirror.

A file is an 8-byte little-endian header length ``N``, ``N`` bytes of JSON, then the tensor
data:

.. code-block:: text

    {"__metadata__": {"format": "mlx"},
     "w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, ...}

``data_offsets`` are ``[begin, end)`` byte ranges counted from the first byte after the header;
the data are little-endian and row-major. Files are written as the reference ``safetensors``
writer writes them (widest dtype first, then by name, the header padded with spaces to a
multiple of 8 bytes), so ``safetensors``, MLX and torch read them, and files from any of those
load here. Nothing here imports the ``safetensors`` package.

numpy has no ``bfloat16``: such tensors travel as :class:`BFloat16`, their raw 16-bit patterns,
and each mirror turns them into its own ``bfloat16`` arrays (or refuses them).
"""

from __future__ import annotations

import json
import math
import os
import struct
from collections.abc import Callable
from typing import IO, Any

import numpy as np

_File = str | os.PathLike | IO[bytes]

# safetensors' dtype codes in the reference writer's order (narrowest first): it stores the
# tensors widest first so that every tensor starts aligned to its element size.
_CODES = (
    ("BOOL", np.dtype(np.bool_)),
    ("U8", np.dtype("<u1")),
    ("I8", np.dtype("<i1")),
    ("I16", np.dtype("<i2")),
    ("U16", np.dtype("<u2")),
    ("F16", np.dtype("<f2")),
    ("BF16", np.dtype("<u2")),
    ("I32", np.dtype("<i4")),
    ("U32", np.dtype("<u4")),
    ("F32", np.dtype("<f4")),
    ("C64", np.dtype("<c8")),
    ("F64", np.dtype("<f8")),
    ("I64", np.dtype("<i8")),
    ("U64", np.dtype("<u8")),
)
_RANK = {code: rank for rank, (code, _) in enumerate(_CODES)}
_STORAGE = dict(_CODES)
_CODE_OF = {dtype: code for code, dtype in _CODES if code != "BF16"}

# The reference reader refuses larger headers; so do we, before reading them.
_MAX_HEADER = 100 * 1024 * 1024
_METADATA = "__metadata__"


class BFloat16:
    """A ``bfloat16`` tensor held as its raw bit patterns, for array libraries without one.

    Args:
        bits (numpy.ndarray): ``uint16`` array of the shape of the tensor; each element is the
          upper half of the ``float32`` with the same sign, exponent and leading mantissa bits.
    """

    def __init__(self, bits: np.ndarray):
        if not isinstance(bits, np.ndarray) or bits.dtype != np.uint16:
            got = getattr(bits, "dtype", type(bits).__name__)
            raise TypeError(f"BFloat16: bits must be a uint16 numpy array, got {got}")
        self.bits = bits

    @property
    def shape(self) -> tuple[int, ...]:
        """The tensor's shape."""
        return self.bits.shape

    def to_float32(self) -> np.ndarray:
        """The values as ``float32`` (exact: every ``bfloat16`` is a ``float32``)."""
        return (self.bits.astype(np.uint32) << 16).view(np.float32)

    def __repr__(self) -> str:
        return f"BFloat16(shape={self.shape})"


def _name(file: _File) -> str:
    return str(getattr(file, "name", file))


def _entry(name: str, tensor: Any) -> tuple[str, np.ndarray]:
    """The dtype code and the little-endian, row-major data of one tensor."""
    if isinstance(tensor, BFloat16):
        return "BF16", tensor.bits.astype("<u2", order="C", copy=False)
    if not isinstance(tensor, np.ndarray):
        raise TypeError(
            f"safetensors: tensor {name!r} must be a numpy array or BFloat16, "
            f"got {type(tensor).__name__}"
        )
    code = _CODE_OF.get(tensor.dtype.newbyteorder("<"))
    if code is None:
        raise TypeError(
            f"safetensors: tensor {name!r} has dtype {tensor.dtype}, which safetensors cannot "
            f"store; expected one of bool, (u)int8-64, float16/32/64, complex64"
        )
    return code, tensor.astype(_STORAGE[code], order="C", copy=False)


def save(
    file: _File, tensors: dict[str, np.ndarray | BFloat16], metadata: dict[str, str] | None = None
) -> None:
    """Write ``tensors`` and the string ``metadata`` to a safetensors file.

    Args:
        file (str, path or binary file): Where to write; a path is written as given.
        tensors (dict): Tensor name to ``numpy.ndarray`` or :class:`BFloat16`.
        metadata (dict, optional): String keys to string values, stored as ``__metadata__``.
          Default: none.

    Raises:
        TypeError: A name, tensor, dtype or metadata entry that safetensors cannot store.
    """
    if not isinstance(tensors, dict):
        raise TypeError(f"safetensors: tensors must be a dict, got {type(tensors).__name__}")
    header: dict[str, Any] = {}
    if metadata:
        if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
        ):
            raise TypeError(f"safetensors: metadata must map str to str, got {metadata!r}")
        header[_METADATA] = dict(metadata)
    entries = []
    for name, tensor in tensors.items():
        if not isinstance(name, str) or name == _METADATA:
            raise TypeError(f"safetensors: tensor names must be str other than {_METADATA!r}")
        entries.append((name, *_entry(name, tensor)))
    entries.sort(key=lambda e: (-_RANK[e[1]], e[0]))
    offset = 0
    for name, code, data in entries:
        header[name] = {
            "dtype": code,
            "shape": list(data.shape),
            "data_offsets": [offset, offset + data.nbytes],
        }
        offset += data.nbytes
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-len(text) % 8)
    if isinstance(file, (str, os.PathLike)):
        with open(file, "wb") as f:
            _write(f, text, entries)
    else:
        _write(file, text, entries)


def _write(f: IO[bytes], header: bytes, entries: list[tuple[str, str, np.ndarray]]) -> None:
    f.write(struct.pack("<Q", len(header)))
    f.write(header)
    for _, _, data in entries:
        f.write(data.reshape(-1).view(np.uint8).data)


def load(file: _File) -> tuple[dict[str, np.ndarray | BFloat16], dict[str, str]]:
    """Read a safetensors file.

    Args:
        file (str, path or binary file): The file; a file object must support ``seek``.

    Returns:
        tuple(dict, dict): Tensor name to ``numpy.ndarray`` (native byte order, a fresh
        writable array) or :class:`BFloat16`, and the ``__metadata__`` strings (empty if none).

    Raises:
        ValueError: The file is truncated, its header is not a safetensors header, or a
            tensor's offsets do not fit its shape and dtype or lie outside the file.
    """
    if isinstance(file, (str, os.PathLike)):
        with open(file, "rb") as f:
            return _read(f, _name(file))
    return _read(file, _name(file))


def _read(f: IO[bytes], where: str) -> tuple[dict[str, np.ndarray | BFloat16], dict[str, str]]:
    def bad(why: str) -> ValueError:
        return ValueError(f"safetensors: {where!r} is not a valid safetensors file: {why}")

    start = f.tell()
    size = f.seek(0, os.SEEK_END) - start
    f.seek(start)
    prefix = f.read(8)
    if len(prefix) < 8:
        raise bad(f"it has {size} bytes, fewer than the 8-byte header length")
    (n,) = struct.unpack("<Q", prefix)
    if n > _MAX_HEADER or 8 + n > size:
        raise bad(f"the header length {n} does not fit a file of {size} bytes")
    try:
        header = json.loads(f.read(n).decode(), object_pairs_hook=_unique_keys)
    except (UnicodeDecodeError, ValueError) as err:
        raise bad(f"the header is not JSON ({err})") from None
    if not isinstance(header, dict):
        raise bad(f"the header is a JSON {type(header).__name__}, not an object")
    metadata = header.pop(_METADATA, None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise bad(f"{_METADATA} must map strings to strings, got {metadata!r}")
    data_size = size - 8 - n
    tensors = {}
    for name, info in header.items():
        code, shape, begin, end = _tensor_info(name, info, bad)
        if end > data_size:
            raise bad(
                f"tensor {name!r} ends at byte {end} of the data, which has only {data_size} "
                f"bytes (the file is truncated)"
            )
        out = np.empty(shape, _STORAGE[code])
        f.seek(start + 8 + n + begin)
        if f.readinto(out.reshape(-1).view(np.uint8).data) != end - begin:
            raise bad(f"tensor {name!r} could not be read in full (the file is truncated)")
        if code == "BF16":
            tensors[name] = BFloat16(out.astype(np.uint16, copy=False))
        else:
            tensors[name] = out.astype(out.dtype.newbyteorder("="), copy=False)
    return tensors, metadata


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        duplicated = sorted({k for k in keys if keys.count(k) > 1})
        raise ValueError(f"duplicate keys {duplicated}")
    return dict(pairs)


def _tensor_info(
    name: str, info: Any, bad: Callable[[str], ValueError]
) -> tuple[str, tuple[int, ...], int, int]:
    """The dtype code, shape and byte range of a header entry, checked against each other."""
    if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= set(info):
        raise bad(f"tensor {name!r} needs dtype, shape and data_offsets, got {info!r}")
    code, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if code not in _STORAGE:
        raise bad(f"tensor {name!r} has dtype {code!r}; supported: {', '.join(_STORAGE)}")
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise bad(f"tensor {name!r} has shape {shape!r}, not a list of non-negative ints")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
        or not 0 <= offsets[0] <= offsets[1]
    ):
        raise bad(f"tensor {name!r} has data_offsets {offsets!r}, not [begin, end] with begin<=end")
    begin, end = offsets
    nbytes = math.prod(shape) * _STORAGE[code].itemsize
    if end - begin != nbytes:
        raise bad(
            f"tensor {name!r} of dtype {code} and shape {shape} needs {nbytes} bytes, but "
            f"data_offsets {offsets} span {end - begin}"
        )
    return code, tuple(shape), begin, end
