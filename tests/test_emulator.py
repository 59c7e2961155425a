"""The Metal kernel emulator: MLX's generated signatures, threadgroup memory and barriers,
simdgroup functions, atomics, shapes and strides, Metal's attributes, uninitialised outputs and
threadgroup memory, templates, and clear failures. Kernel results are checked against numpy."""

import os
import re
import tempfile

import numpy as np
import pytest

from ember_mlx.backend import mx
from ember_mlx.kernels import emulator

pytestmark = pytest.mark.skipif(
    not emulator.is_available(), reason="the kernel emulator needs g++ on PATH"
)

F32 = np.float32


def run(source, inputs, outputs, grid, threadgroup=None, template=None, init_value=None, **options):
    """Build an emulated kernel and call it once.

    ``inputs`` maps names to values, ``outputs`` names to ``(shape, dtype)``; the threadgroup
    defaults to the whole grid. Returns the outputs as a list.
    """
    kernel = emulator.metal_kernel("test", list(inputs), list(outputs), source, **options)
    return kernel(
        inputs=list(inputs.values()),
        output_shapes=[shape for shape, _ in outputs.values()],
        output_dtypes=[dtype for _, dtype in outputs.values()],
        grid=grid,
        threadgroup=threadgroup or grid,
        template=template,
        init_value=init_value,
    )


# ------------------------------------------------------------------------- signatures

AXPY = """
    uint i = thread_position_in_grid.x;
    out[i] = x[i] * alpha + offsets[i % 3];
"""


def test_signature_follows_mlx_rules():
    kernel = emulator.metal_kernel("axpy", ["x", "alpha", "offsets"], ["out"], AXPY)
    x = np.zeros(37, F32)
    source = kernel.metal_source([x, 2.0, np.zeros(3, F32)], [F32])
    assert "void custom_kernel_axpy_float_floats_floatc_float(" in source
    assert "const device float* x [[buffer(0)]]," in source
    assert "const constant float& alpha [[buffer(1)]]," in source  # 0-d: a reference
    assert "const constant float* offsets [[buffer(2)]]," in source  # under 8 elements
    assert "device float* out [[buffer(3)]]," in source
    assert "uint3 thread_position_in_grid [[thread_position_in_grid]]) {" in source
    assert "x_shape" not in source and "threads_per_grid" not in source
    # Eight elements go to device memory; a Python int is an int32 scalar.
    source = kernel.metal_source([x, 3, np.zeros(8, F32)], [F32])
    assert "const constant int32_t& alpha" in source
    assert "const device float* offsets" in source


def test_only_the_body_is_scanned_for_attributes():
    header = "#define MY_INDEX thread_position_in_grid.x\n"
    kernel = emulator.metal_kernel("h", ["x"], ["y"], "y[0] = x[0];", header=header)
    source = kernel.metal_source([np.zeros(9, F32)], [F32])
    assert source.startswith(header)
    assert "[[thread_position_in_grid]]" not in source


MLX_SIGNATURE_CASES = {
    "scalars, constants and templates": dict(
        kernel=dict(
            name="demo",
            input_names=["x", "alpha", "steps"],
            output_names=["out"],
            source="uint i = thread_position_in_grid.x; out[i] = x[i] * N;",
        ),
        inputs=[np.zeros(16, F32), 2.0, np.arange(3, dtype=np.int32)],
        output_dtypes=["float32"],
        template=[("T", "float32"), ("N", 4), ("B", True)],
    ),
    "shape, strides and ndim": dict(
        kernel=dict(
            name="strided",
            input_names=["x", "y"],
            output_names=["out", "extra"],
            source="uint i = thread_index_in_threadgroup; out[i] = x_shape[0] + "
            "x_strides[0] + y_ndim + x[i] + y[0];",
            ensure_row_contiguous=False,
        ),
        inputs=[np.zeros((4, 5), F32), np.zeros((2, 2), np.int32)],
        output_dtypes=["float32", "float32"],
        template=[],
    ),
    "atomic outputs": dict(
        kernel=dict(
            name="hist",
            input_names=["bins"],
            output_names=["counts", "total"],
            source="atomic_fetch_add_explicit(&counts[bins[thread_position_in_grid.x]], "
            "1, memory_order_relaxed);",
            atomic_outputs=True,
        ),
        inputs=[np.zeros(100, np.int32)],
        output_dtypes=["int32", "float32"],
        template=[],
    ),
    "no attributes, several outputs (MLX closes the list early)": dict(
        kernel=dict(
            name="quirk",
            input_names=["x"],
            output_names=["a", "b"],
            source="a[0] = x_shape[0]; b[0] = 1;",
        ),
        inputs=[np.zeros(10, F32)],
        output_dtypes=["float32", "float32"],
        template=[],
    ),
}


@pytest.mark.mlx_only
@pytest.mark.parametrize("case", list(MLX_SIGNATURE_CASES))
def test_metal_source_is_what_mlx_generates(case, capfd):
    """MLX prints the source it builds when tracing for export, even without Metal."""
    spec = MLX_SIGNATURE_CASES[case]
    template = [(n, getattr(mx, v) if isinstance(v, str) else v) for n, v in spec["template"]]
    inputs = [mx.array(x) if isinstance(x, np.ndarray) else x for x in spec["inputs"]]
    dtypes = [getattr(mx, name) for name in spec["output_dtypes"]]
    kernel = mx.fast.metal_kernel(**spec["kernel"])

    def traced():
        return kernel(
            inputs=inputs,
            output_shapes=[(4,)] * len(dtypes),
            output_dtypes=dtypes,
            grid=(4, 1, 1),
            threadgroup=(4, 1, 1),
            template=template or None,
            verbose=True,
        )

    with tempfile.TemporaryDirectory() as folder:
        mx.export_function(os.path.join(folder, "k.mlxfn"), traced)
    printed = capfd.readouterr().out
    mlx_source = re.search(r"```\n(.*)\n```", printed, re.S).group(1)
    ours = emulator.metal_kernel(**spec["kernel"]).metal_source(spec["inputs"], dtypes, template)
    assert ours == mlx_source


# ------------------------------------------------------------------------- running kernels


def test_elementwise_kernel_with_scalar_and_constant_inputs():
    x = np.random.default_rng(0).normal(size=37).astype(F32)
    offsets = np.array([1.0, -2.0, 0.5], F32)
    inputs = {"x": x, "alpha": 2.0, "offsets": offsets}
    (out,) = run(AXPY, inputs, {"out": ((37,), F32)}, grid=(37, 1, 1), threadgroup=(8, 1, 1))
    np.testing.assert_array_equal(out, x * F32(2.0) + offsets[np.arange(37) % 3])


REVERSE_AND_SUM = """
    threadgroup float buf[64];
    const uint l = thread_position_in_threadgroup.x;
    const uint n = threads_per_threadgroup.x;
    const uint i = thread_position_in_grid.x;
    buf[l] = x[i];
    threadgroup_barrier(mem_flags::mem_threadgroup);
    reversed[i] = buf[n - 1 - l];
    threadgroup_barrier(mem_flags::mem_threadgroup);
    for (uint s = 32; s > 0; s >>= 1) {
        if (l < s && l + s < n) {
            buf[l] += buf[l + s];
        }
        threadgroup_barrier(mem_flags::mem_threadgroup);
    }
    if (l == 0) {
        sums[threadgroup_position_in_grid.x] = buf[0];
    }
"""


def test_threadgroup_memory_and_barriers():
    # 150 threads in groups of 64: the last group has 22 threads.
    x = np.arange(150, dtype=F32)
    outputs = {"reversed": ((150,), F32), "sums": ((3,), F32)}
    reversed_, sums = run(REVERSE_AND_SUM, {"x": x}, outputs, (150, 1, 1), (64, 1, 1))
    expected = np.concatenate([x[:64][::-1], x[64:128][::-1], x[128:][::-1]])
    np.testing.assert_array_equal(reversed_, expected)
    np.testing.assert_array_equal(sums, [x[:64].sum(), x[64:128].sum(), x[128:].sum()])


def test_threadgroup_memory_starts_as_garbage_in_every_group():
    source = """
        threadgroup float buf[4];
        threadgroup uint count;
        const uint l = thread_position_in_threadgroup.x;
        before[thread_position_in_grid.x] = buf[l];
        threadgroup_barrier(mem_flags::mem_threadgroup);
        buf[l] = 1.0f;
        if (l == 0) {
            count = 7;
        }
        threadgroup_barrier(mem_flags::mem_threadgroup);
        after[thread_position_in_grid.x] = buf[3 - l] + float(count);
    """
    outputs = {"before": ((8,), F32), "after": ((8,), F32)}
    before, after = run(source, {"x": np.zeros(1, F32)}, outputs, (8, 1, 1), (4, 1, 1))
    assert np.isnan(before).all()  # the second group does not see the first group's writes
    np.testing.assert_array_equal(after, 8.0)


SIMD = """
    const uint i = thread_position_in_grid.x;
    const float x = values[i];
    sums[i] = simd_sum(x);
    prefix[i] = simd_prefix_exclusive_sum(x);
    maxima[i] = simd_max(x);
    down[i] = simd_shuffle_down(x, 1);
    first[i] = simd_broadcast(x, 0);
    lanes[i] = float(thread_index_in_simdgroup + 100 * simdgroup_index_in_threadgroup);
"""


def test_simdgroup_functions():
    # One threadgroup of 48 threads: simdgroups of 32 and 16 lanes.
    values = np.random.default_rng(1).integers(-50, 50, 48).astype(F32)
    names = ["sums", "prefix", "maxima", "down", "first", "lanes"]
    results = run(SIMD, {"values": values}, dict.fromkeys(names, ((48,), F32)), (48, 1, 1))
    outs = dict(zip(names, results, strict=True))
    for group in (slice(0, 32), slice(32, 48)):
        v = values[group]
        np.testing.assert_array_equal(outs["sums"][group], np.full(len(v), v.sum()))
        np.testing.assert_array_equal(outs["prefix"][group], np.cumsum(v) - v)
        np.testing.assert_array_equal(outs["maxima"][group], np.full(len(v), v.max()))
        np.testing.assert_array_equal(outs["down"][group][:-1], v[1:])
        np.testing.assert_array_equal(outs["first"][group], np.full(len(v), v[0]))
    np.testing.assert_array_equal(outs["lanes"], np.r_[np.arange(32), np.arange(16) + 100])


HISTOGRAM = """
    const uint i = thread_position_in_grid.x;
    atomic_fetch_add_explicit(&counts[bins[i]], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&total[0], weights[i], memory_order_relaxed);
"""


def test_atomic_outputs_with_init_value():
    rng = np.random.default_rng(2)
    inputs = {"bins": rng.integers(0, 10, 500).astype(np.int32), "weights": rng.random(500, F32)}
    outputs = {"counts": ((10,), np.int32), "total": ((1,), F32)}
    counts, total = run(
        HISTOGRAM, inputs, outputs, (500, 1, 1), (64, 1, 1), init_value=0, atomic_outputs=True
    )
    np.testing.assert_array_equal(counts, np.bincount(inputs["bins"], minlength=10))
    np.testing.assert_allclose(total, [inputs["weights"].sum()], rtol=1e-5)


STRIDED = """
    const uint i = thread_position_in_grid.x;
    out[i] = x[elem_to_loc(i, x_shape, x_strides, x_ndim)];
    if (i < uint(x_ndim)) {
        shape[i] = x_shape[i];
        strides[i] = int(x_strides[i]);
    }
"""


@pytest.mark.parametrize("ensure_row_contiguous", [False, True])
def test_shape_and_strides_of_a_non_contiguous_input(ensure_row_contiguous):
    x = np.arange(24, dtype=F32).reshape(4, 6).T  # strides (1, 6) in elements
    outputs = {"out": ((24,), F32), "shape": ((2,), np.int32), "strides": ((2,), np.int32)}
    out, shape, strides = run(
        STRIDED, {"x": x}, outputs, (24, 1, 1), (8, 1, 1),
        ensure_row_contiguous=ensure_row_contiguous,
    )  # fmt: skip
    np.testing.assert_array_equal(out, x.ravel())
    np.testing.assert_array_equal(shape, [6, 4])
    np.testing.assert_array_equal(strides, [4, 1] if ensure_row_contiguous else [1, 6])


ATTRIBUTES = """
    const uint i = (thread_position_in_grid.y * threads_per_grid.x + thread_position_in_grid.x);
    device int* o = out + 9 * i;
    o[0] = thread_position_in_threadgroup.x;
    o[1] = thread_position_in_threadgroup.y;
    o[2] = threadgroup_position_in_grid.x;
    o[3] = threadgroup_position_in_grid.y;
    o[4] = threads_per_threadgroup.x * 10 + threads_per_threadgroup.y;
    o[5] = dispatch_threads_per_threadgroup.x * 10 + dispatch_threads_per_threadgroup.y;
    o[6] = thread_index_in_threadgroup;
    o[7] = threadgroups_per_grid.x * 10 + threadgroups_per_grid.y;
    o[8] = threads_per_simdgroup;
"""


def test_thread_attributes_on_a_non_uniform_grid():
    # A 10 x 3 grid in 4 x 2 threadgroups: the groups on the right and bottom edges are smaller.
    outputs = {"out": ((3, 10, 9), np.int32)}
    (out,) = run(ATTRIBUTES, {"unused": np.zeros(1, F32)}, outputs, (10, 3, 1), (4, 2, 1))
    y, x = np.meshgrid(np.arange(3), np.arange(10), indexing="ij")
    size_x, size_y = np.minimum(4, 10 - (x // 4) * 4), np.minimum(2, 3 - (y // 2) * 2)
    constant = np.ones_like(x)
    expected = [x % 4, y % 2, x // 4, y // 2, size_x * 10 + size_y, 42 * constant,
                x % 4 + size_x * (y % 2), 32 * constant, 32 * constant]  # fmt: skip
    np.testing.assert_array_equal(out, np.stack(expected, axis=-1))


def test_templates():
    source = """
        const uint i = thread_position_in_grid.x;
        T acc = T(0);
        for (int j = 0; j < N; ++j) {
            acc += x[i * N + j];
        }
        out[i] = NEGATE ? -acc : acc;
    """
    x = np.arange(12, dtype=np.int32)
    for negate in (False, True):
        template = [("T", mx.int32), ("N", 4), ("NEGATE", negate)]
        (out,) = run(source, {"x": x}, {"out": ((3,), np.int32)}, (3, 1, 1), template=template)
        np.testing.assert_array_equal(out, (-1 if negate else 1) * x.reshape(3, 4).sum(1))


def test_outputs_start_uninitialised_unless_init_value():
    source = "const uint i = thread_position_in_grid.x; if (i % 2 == 0) { out[i] = 1; }"
    inputs = {"x": np.zeros(1, F32)}
    (out,) = run(source, inputs, {"out": ((6,), F32)}, (6, 1, 1))
    np.testing.assert_array_equal(out[::2], 1.0)
    assert np.isnan(out[1::2]).all()
    (ints,) = run(source, inputs, {"out": ((6,), np.uint32)}, (6, 1, 1))
    np.testing.assert_array_equal(ints[1::2], 0xA5A5A5A5)
    (out,) = run(source, inputs, {"out": ((6,), F32)}, (6, 1, 1), init_value=5.0)
    np.testing.assert_array_equal(out, [1, 5, 1, 5, 1, 5])


def test_backend_arrays_are_accepted():
    source = "out[thread_position_in_grid.x] = 2 * x[thread_position_in_grid.x];"
    x = mx.array(np.arange(9, dtype=F32))
    (out,) = run(source, {"x": x}, {"out": ((9,), mx.float32)}, (9, 1, 1), (4, 1, 1))
    np.testing.assert_array_equal(out, 2 * np.arange(9, dtype=F32))


# ------------------------------------------------------------------------- failures


def test_barrier_that_a_returned_thread_never_reaches_fails_at_once():
    source = """
        if (thread_position_in_threadgroup.x == 0) {
            return;
        }
        threadgroup_barrier(mem_flags::mem_threadgroup);
        out[thread_position_in_grid.x] = 1;
    """
    message = "threadgroup_barrier: reached by 3 of 4 threads; the other 1 returned"
    with pytest.raises(RuntimeError, match=message):
        run(source, {"x": np.zeros(1, F32)}, {"out": ((4,), F32)}, (4, 1, 1))


def test_threads_waiting_at_different_barriers_fail_after_the_timeout():
    source = """
        if (thread_position_in_threadgroup.x == 0) {
            threadgroup_barrier(mem_flags::mem_threadgroup);
        } else {
            simdgroup_barrier(mem_flags::mem_none);
        }
        out[thread_position_in_grid.x] = 1;
    """
    with pytest.raises(RuntimeError, match="only 1 of 2 threads arrived within 200 ms"):
        run(source, {"x": np.zeros(1, F32)}, {"out": ((2,), F32)}, (2, 1, 1), barrier_timeout=0.2)


def test_threadgroup_memory_past_metal_limit_fails():
    source = "threadgroup float big[9000]; big[0] = 1; out[0] = big[0];"
    with pytest.raises(RuntimeError, match="more than the 32768 bytes"):
        run(source, {"x": np.zeros(1, F32)}, {"out": ((1,), F32)}, (1, 1, 1))


def test_compile_errors_point_at_the_metal_source():
    source = "const uint i = thread_position_in_grid.x;\nout[i] = undefined_name;"
    kernel = emulator.metal_kernel("broken", ["x"], ["out"], source)
    with pytest.raises(RuntimeError, match=r"broken\.metal:\d+:.*undefined_name"):
        kernel(inputs=[np.zeros(2, F32)], output_shapes=[(2,)], output_dtypes=[F32],
               grid=(2, 1, 1), threadgroup=(2, 1, 1))  # fmt: skip


def test_bad_calls_raise_clear_errors():
    kernel = emulator.metal_kernel("axpy", ["x", "alpha", "offsets"], ["out"], AXPY)
    good = {
        "inputs": [np.zeros(4, F32), 1.0, np.zeros(3, F32)],
        "output_shapes": [(4,)],
        "output_dtypes": [F32],
        "grid": (4, 1, 1),
        "threadgroup": (4, 1, 1),
    }
    with pytest.raises(ValueError, match="expected inputs to have size 3, got 2"):
        kernel(**{**good, "inputs": good["inputs"][:2]})
    with pytest.raises(ValueError, match="expected output_shapes to have size 1, got 2"):
        kernel(**{**good, "output_shapes": [(4,), (4,)]})
    with pytest.raises(ValueError, match="more than the 1024"):
        kernel(**{**good, "threadgroup": (64, 32, 1)})
    with pytest.raises(ValueError, match="grid must be three positive ints"):
        kernel(**{**good, "grid": (4, 0, 1)})
    with pytest.raises(TypeError, match="template argument 'S' is 1.5"):
        kernel(**good, template=[("S", 1.5)])
    with pytest.raises(TypeError, match="input 'x' has dtype float64"):
        kernel(**{**good, "inputs": [np.zeros(4), 1.0, np.zeros(3, F32)]})
    with pytest.raises(ValueError, match="at least one output"):
        emulator.metal_kernel("none", ["x"], [], "")


def test_every_metal_source_is_a_kernel_the_tests_emulate():
    """Each ``metal/*.metal`` body is the source of a kernel spec that tests/test_gibbs_kernel.py
    and tests/test_scan_kernel.py run through the emulator; a new body needs a spec (and tests)."""
    from importlib import resources

    from ember_mlx.kernels import gibbs, scan

    specs = [gibbs.kernel_spec(), scan.cfc_kernel_spec(), scan.ltc_kernel_spec()]
    metal = resources.files("ember_mlx.metal")
    bodies = {p.name: p.read_text() for p in metal.iterdir() if p.name.endswith(".metal")}
    assert sorted(bodies) == ["gibbs.metal", "ltc_scan.metal", "wired_cfc_scan.metal"]
    for name, body in bodies.items():
        assert any(spec["source"] == body for spec in specs), name
