"""The safetensors codec shared by the mirrors, against the ``safetensors`` package and MLX.

The codec is pure numpy; these tests hold it to the reference implementation in every
direction (files it writes are read by ``safetensors`` and MLX, files they write are read by
it) and check that broken files fail with a ``ValueError`` naming the file and the fault.
"""

import io
import json
import struct

import numpy as np
import pytest
from ember_mlx.compat import _safetensors as codec

st_numpy = pytest.importorskip("safetensors.numpy")


def sample(rng):
    """Tensors of every dtype the codec stores except bfloat16, in awkward shapes and layouts."""
    return {
        "f32": rng.normal(size=(2, 3)).astype(np.float32),
        "f64": rng.normal(size=4),
        "f16": rng.normal(size=(3, 1)).astype(np.float16),
        "c64": (rng.normal(size=2) + 1j * rng.normal(size=2)).astype(np.complex64),
        "i8": np.array([-128, 0, 127], np.int8),
        "i16": np.array([-2, 3], np.int16),
        "i32": np.arange(5, dtype=np.int32),
        "i64": np.array([2**40, -(2**40)]),
        "u8": np.array([0, 255], np.uint8),
        "u16": np.array([65535], np.uint16),
        "u32": np.array([2**32 - 1, 7], np.uint32),
        "u64": np.array([2**64 - 1], np.uint64),
        "bool": np.array([[True, False], [False, True]]),
        "scalar": np.array(3.5, np.float32),
        "empty": np.zeros((0, 3), np.float32),
        "strided": np.arange(12, dtype=np.float32).reshape(3, 4)[:, ::2],
        "big_endian": np.array([1.5, -2.25], ">f4"),
    }


def native(tensors):
    """The tensors as the reference writer needs them: row-major, native byte order."""
    return {k: np.array(v, v.dtype.newbyteorder("="), order="C") for k, v in tensors.items()}


def header_of(data: bytes) -> dict:
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + n])


def test_files_match_the_reference_writer(tmp_path, rng):
    tensors = sample(rng)
    metadata = {"format": "mlx", "config": '{"units": 8}'}
    codec.save(tmp_path / "ours.safetensors", tensors, metadata)
    st_numpy.save_file(
        native(tensors),
        str(tmp_path / "ref.safetensors"),
        metadata=metadata,
    )
    ours = (tmp_path / "ours.safetensors").read_bytes()
    ref = (tmp_path / "ref.safetensors").read_bytes()
    # The reference keeps __metadata__ in a hash map, so only its key order may differ.
    (n,) = struct.unpack("<Q", ours[:8])
    assert ours[:8] == ref[:8] and ours[8 + n :] == ref[8 + n :]
    assert list(header_of(ours).items())[1:] == list(header_of(ref).items())[1:]
    assert header_of(ours)["__metadata__"] == header_of(ref)["__metadata__"] == metadata
    assert n % 8 == 0  # padded with spaces, so the data starts aligned
    order = sorted(header_of(ours).items(), key=lambda kv: kv[1].get("data_offsets", [-1])[0])
    assert [k for k, _ in order][:4] == ["__metadata__", "u64", "i64", "f64"]  # widest first


def test_reference_files_load_with_dtypes_shapes_and_values(tmp_path, rng):
    tensors = sample(rng)
    st_numpy.save_file(
        native(tensors),
        str(tmp_path / "ref.safetensors"),
        metadata={"k": "v"},
    )
    loaded, metadata = codec.load(tmp_path / "ref.safetensors")
    assert metadata == {"k": "v"} and set(loaded) == set(tensors)
    for name, expected in tensors.items():
        got = loaded[name]
        assert got.dtype == expected.dtype.newbyteorder("=") and got.shape == expected.shape
        assert got.dtype.isnative and got.flags.writeable
        np.testing.assert_array_equal(got, expected)


def test_bfloat16_travels_as_bits_and_matches_torch(tmp_path):
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    values = torch.tensor([[1.5, -2.0], [3.0e38, 2.0**-133]], dtype=torch.bfloat16)
    bits = values.view(torch.int16).numpy().view(np.uint16)
    codec.save(tmp_path / "ours.safetensors", {"b": codec.BFloat16(bits)})
    assert torch.equal(st_torch.load_file(str(tmp_path / "ours.safetensors"))["b"], values)

    st_torch.save_file({"b": values}, str(tmp_path / "theirs.safetensors"))
    loaded = codec.load(tmp_path / "theirs.safetensors")[0]["b"]
    assert isinstance(loaded, codec.BFloat16) and loaded.shape == (2, 2)
    np.testing.assert_array_equal(loaded.bits, bits)
    np.testing.assert_array_equal(loaded.to_float32(), values.float().numpy())
    with pytest.raises(TypeError, match="uint16"):
        codec.BFloat16(np.zeros(2, np.float32))


@pytest.mark.mlx_only
def test_files_are_shared_with_mlx(tmp_path, rng):
    mlx = pytest.importorskip("mlx.core")
    half = np.array([0x3FC0, 0xC000], np.uint16)  # 1.5, -2.0
    tensors = {k: v for k, v in sample(rng).items() if k not in ("f64", "big_endian")}
    codec.save(tmp_path / "ours.safetensors", {**tensors, "bf16": codec.BFloat16(half)}, {"a": "b"})
    # MLX's safetensors reader has no float64
    theirs, metadata = mlx.load(str(tmp_path / "ours.safetensors"), return_metadata=True)
    assert metadata == {"a": "b"} and theirs["bf16"].dtype == mlx.bfloat16
    np.testing.assert_array_equal(np.array(theirs["bf16"].astype(mlx.float32)), [1.5, -2.0])
    for name, expected in tensors.items():
        np.testing.assert_array_equal(np.array(theirs[name]), expected)

    # MLX writes its own layout: unsorted, unpadded, unaligned offsets
    mlx.save_safetensors(
        str(tmp_path / "mlx.safetensors"),
        {"c": mlx.array([1, -2], mlx.int8), "w": mlx.array(tensors["f32"]), "h": mlx.array(half)},
        metadata={"x": "y"},
    )
    loaded, metadata = codec.load(tmp_path / "mlx.safetensors")
    assert metadata == {"x": "y"}
    np.testing.assert_array_equal(loaded["w"], tensors["f32"])
    np.testing.assert_array_equal(loaded["c"], [1, -2])
    np.testing.assert_array_equal(loaded["h"], half)


def test_file_objects_and_empty_files_round_trip(rng):
    buffer = io.BytesIO()
    buffer.write(b"prefix")  # reading starts at the file object's position
    tensors = {"a": rng.normal(size=(2, 2)).astype(np.float32)}
    codec.save(buffer, tensors)
    buffer.seek(len(b"prefix"))
    loaded, metadata = codec.load(buffer)
    np.testing.assert_array_equal(loaded["a"], tensors["a"])
    assert metadata == {}

    buffer = io.BytesIO()
    codec.save(buffer, {})
    assert buffer.getvalue() == b"\x08" + b"\x00" * 7 + b"{}      "
    buffer.seek(0)
    assert codec.load(buffer) == ({}, {})


def _file(tmp_path, header: object, data: bytes = b"", length: int | None = None) -> str:
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    path = tmp_path / "broken.safetensors"
    path.write_bytes(struct.pack("<Q", len(text) if length is None else length) + text + data)
    return str(path)


F32_2 = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}


@pytest.mark.parametrize(
    "header, data, length, fault",
    [
        (b"", b"", 0, "not JSON"),
        (b"[1, 2]", b"", None, "JSON list, not an object"),
        (b"{not json", b"", None, "not JSON"),
        (b'{"a": 1, "a": 2}', b"", None, "duplicate keys"),
        ({"w": F32_2}, b"\x00" * 8, 10**9, "header length 1000000000 does not fit"),
        ({"w": F32_2}, b"\x00" * 4, None, "truncated"),
        ({"w": {**F32_2, "data_offsets": [4, 12]}}, b"\x00" * 8, None, "truncated"),
        ({"w": {**F32_2, "data_offsets": [0, 12]}}, b"\x00" * 12, None, "span 12"),
        ({"w": {**F32_2, "data_offsets": [8, 0]}}, b"\x00" * 8, None, "begin<=end"),
        ({"w": {**F32_2, "dtype": "F8_E4M3"}}, b"\x00" * 8, None, "dtype 'F8_E4M3'"),
        ({"w": {**F32_2, "shape": [-2]}}, b"\x00" * 8, None, "non-negative ints"),
        ({"w": {"dtype": "F32"}}, b"", None, "needs dtype, shape and data_offsets"),
        ({"__metadata__": {"k": 1}}, b"", None, "map strings to strings"),
    ],
)
def test_broken_files_raise_value_errors_naming_the_file(tmp_path, header, data, length, fault):
    path = _file(tmp_path, header, data, length)
    with pytest.raises(ValueError, match=f"broken.safetensors.*{fault}"):
        codec.load(path)


def test_files_shorter_than_the_length_prefix_are_truncated(tmp_path):
    path = tmp_path / "short.safetensors"
    path.write_bytes(b"\x08\x00")
    with pytest.raises(ValueError, match="short.safetensors.*2 bytes, fewer than the 8-byte"):
        codec.load(path)


@pytest.mark.parametrize(
    "tensors, metadata, fault",
    [
        ([np.zeros(2)], None, "must be a dict"),
        ({1: np.zeros(2)}, None, "names must be str"),
        ({"a": [1.0, 2.0]}, None, "numpy array or BFloat16, got list"),
        ({"a": np.zeros(2, np.complex128)}, None, "complex128"),
        ({"a": np.array(["x"])}, None, "cannot store"),
        ({"a": np.zeros(2)}, {"k": 1}, "metadata must map str to str"),
    ],
)
def test_unstorable_input_raises_type_errors(tmp_path, tensors, metadata, fault):
    with pytest.raises(TypeError, match=fault):
        codec.save(tmp_path / "x.safetensors", tensors, metadata)
