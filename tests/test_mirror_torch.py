"""What only the torch mirror of ``mlx.core`` does: autodiff through torch autograd, custom vjps,
torch's index dtype, ``bfloat16`` files and devices.

The shared parity table and the behaviour both mirrors share (``test_mirror_core.py``) check
each op of both mirrors against MLX; these tests cover the torch-specific machinery. They import
the torch mirror directly, so they run under every ``EMBER_BACKEND``; the ones comparing against
``mlx.core`` itself are ``mlx_only``.
"""

import functools

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ember_mlx.compat.torch import core as mx  # noqa: E402

# --- helpers ---------------------------------------------------------------------------------


def N(x):
    return x.detach().cpu().numpy()


def mlp_loss(params, x, y):
    """A small network touching matmul, addmm, activations, reductions and a tree argument."""
    h = mx.tanh(mx.addmm(params["layers"][0]["b"], x, params["layers"][0]["w"].T))
    logits = h @ params["layers"][1]["w"].T + params["layers"][1]["b"]
    log_probs = logits - mx.logsumexp(logits, axis=-1, keepdims=True)
    nll = -mx.mean(mx.take_along_axis(log_probs, y[:, None], axis=-1))
    return nll + 0.1 * mx.sum(mx.square(mx.sigmoid(params["scale"])))


def mlp_params(rng, dtype):
    def arr(*shape):
        return mx.array(rng.normal(size=shape), dtype)

    return {
        "layers": [{"w": arr(5, 3), "b": arr(5)}, {"w": arr(4, 5), "b": arr(4)}],
        "scale": arr(2),
    }


def leaves(tree):
    if isinstance(tree, dict):
        return [x for v in tree.values() for x in leaves(v)]
    if isinstance(tree, (list, tuple)):
        return [x for v in tree for x in leaves(v)]
    return [tree]


# --- value_and_grad / grad -------------------------------------------------------------------


def test_gradient_of_tree_argument_matches_analytic_gradient(rng):
    w = rng.normal(size=(3, 2))
    b = rng.normal(size=3)
    x = rng.normal(size=2)

    def loss(p, x):
        return mx.sum(mx.tanh(p["w"] @ x + p["b"][0]) ** 2)

    params = {"w": mx.array(w, mx.float64), "b": [mx.array(b, mx.float64)]}
    value, grads = mx.value_and_grad(loss)(params, mx.array(x, mx.float64))

    t = np.tanh(w @ x + b)
    dz = 2 * t * (1 - t**2)
    assert set(grads) == {"w", "b"} and isinstance(grads["b"], list) and len(grads["b"]) == 1
    np.testing.assert_allclose(N(value), np.sum(t**2), rtol=1e-12)
    np.testing.assert_allclose(N(grads["w"]), np.outer(dz, x), rtol=1e-12)
    np.testing.assert_allclose(N(grads["b"][0]), dz, rtol=1e-12)


def test_gradient_matches_float64_finite_differences(rng):
    params = mlp_params(rng, mx.float64)
    x = mx.array(rng.normal(size=(6, 3)), mx.float64)
    y = mx.array(rng.integers(0, 4, size=6))
    _, grads = mx.value_and_grad(mlp_loss)(params, x, y)

    eps = 1e-6
    for param, grad in zip(leaves(params), leaves(grads), strict=True):
        flat = N(param).reshape(-1)
        numeric = np.empty_like(flat)
        for i in range(flat.size):
            step = np.zeros_like(flat)
            step[i] = eps
            step = mx.array(step.reshape(param.shape))
            up = mlp_loss(_swap(params, param, param + step), x, y).item()
            down = mlp_loss(_swap(params, param, param - step), x, y).item()
            numeric[i] = (up - down) / (2 * eps)
        np.testing.assert_allclose(N(grad).reshape(-1), numeric, rtol=1e-6, atol=1e-8)


def _swap(tree, old, new):
    """``tree`` with the leaf ``old`` (by identity) replaced by ``new``."""
    if isinstance(tree, dict):
        return {k: _swap(v, old, new) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_swap(v, old, new) for v in tree]
    return new if tree is old else tree


def test_argnums_and_argnames_shape_the_gradients_as_mlx():
    def f(x, y, z=None):
        return mx.sum(x * y * z)

    x, y, z = mx.array([1.0, 2.0]), mx.array([3.0, 4.0]), mx.array([5.0, 6.0])
    gx = mx.grad(f)(x, y, z=z)
    gxy = mx.grad(f, argnums=(0, 1))(x, y, z=z)
    g1 = mx.grad(f, argnums=[1])(x, y, z=z)  # one argnum: the bare gradient, as MLX
    gz = mx.grad(f, argnames="z")(x, y, z=z)
    gxz = mx.grad(f, argnums=0, argnames=["z"])(x, y, z=z)

    np.testing.assert_array_equal(N(gx), [15.0, 24.0])
    assert isinstance(gxy, tuple) and len(gxy) == 2
    np.testing.assert_array_equal(N(gxy[1]), [5.0, 12.0])
    np.testing.assert_array_equal(N(g1), [5.0, 12.0])
    assert gz[0] is None and set(gz[1]) == {"z"}
    np.testing.assert_array_equal(N(gz[1]["z"]), [3.0, 8.0])
    np.testing.assert_array_equal(N(gxz[0]), [15.0, 24.0])
    np.testing.assert_array_equal(N(gxz[1]["z"]), [3.0, 8.0])


def test_results_carry_no_autograd_history_and_inputs_stay_plain(rng):
    params = mlp_params(rng, mx.float32)
    x = mx.array(rng.normal(size=(6, 3)), mx.float32)
    y = mx.array(rng.integers(0, 4, size=6))

    def with_aux(p, x, y):
        loss = mlp_loss(p, x, y)
        return loss, {"doubled": 2 * loss}, "tag"

    (value, aux, tag), grads = mx.value_and_grad(with_aux)(params, x, y)

    assert tag == "tag"
    np.testing.assert_allclose(N(aux["doubled"]), 2 * N(value))
    for t in [value, aux["doubled"], *leaves(grads), *leaves(params), x]:
        assert not t.requires_grad and t.grad_fn is None


def test_unused_and_integer_arguments_get_zero_gradients():
    g = mx.grad(lambda x, y: mx.sum(x), argnums=(0, 1))(mx.array([1.0, 2.0]), mx.array([3.0]))
    np.testing.assert_array_equal(N(g[1]), [0.0])
    g_const = mx.grad(lambda x: mx.array(1.0))(mx.array([1.0, 2.0]))
    np.testing.assert_array_equal(N(g_const), [0.0, 0.0])
    g_int = mx.grad(lambda x, y: mx.sum(x * y))(mx.array([1, 2]), mx.array([3.0, 4.0]))
    assert g_int.dtype == mx.int32


def test_bad_functions_and_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="scalar"):
        mx.grad(lambda x: x * 2)(mx.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="int leaf"):
        mx.grad(lambda p: mx.sum(p["a"]))({"a": mx.array([1.0]), "b": 5})
    with pytest.raises(ValueError, match="argnums"):
        mx.grad(lambda x: mx.sum(x), argnums=2)(mx.array([1.0]))


def test_gradient_of_gradient():
    d2 = mx.grad(mx.grad(lambda x: x**3))
    np.testing.assert_allclose(N(d2(mx.array(2.0))), 12.0)
    d3 = mx.grad(mx.grad(mx.grad(lambda x: mx.sin(x))))
    np.testing.assert_allclose(N(d3(mx.array(0.5))), -np.cos(0.5), rtol=1e-6)


@pytest.mark.mlx_only
def test_value_and_grad_matches_mlx(rng):
    mlx = pytest.importorskip("mlx.core")

    def loss(m, params, x, y):
        h = m.tanh(m.addmm(params["layers"][0]["b"], x, params["layers"][0]["w"].T))
        logits = h @ params["layers"][1]["w"].T + params["layers"][1]["b"]
        log_probs = logits - m.logsumexp(logits, axis=-1, keepdims=True)
        nll = -m.mean(m.take_along_axis(log_probs, y[:, None], axis=-1))
        return nll + 0.1 * m.sum(m.square(m.sigmoid(params["scale"])))

    host = {
        "layers": [
            {"w": rng.normal(size=(5, 3)), "b": rng.normal(size=5)},
            {"w": rng.normal(size=(4, 5)), "b": rng.normal(size=4)},
        ],
        "scale": rng.normal(size=2),
    }
    x, y = rng.normal(size=(6, 3)), rng.integers(0, 4, size=6)

    def convert(m, tree):
        if isinstance(tree, dict):
            return {k: convert(m, v) for k, v in tree.items()}
        if isinstance(tree, list):
            return [convert(m, v) for v in tree]
        return m.array(tree.astype(np.float32))

    ours = mx.value_and_grad(functools.partial(loss, mx))(
        convert(mx, host), mx.array(x, mx.float32), mx.array(y)
    )
    theirs = mlx.value_and_grad(functools.partial(loss, mlx))(
        convert(mlx, host), mlx.array(x.astype(np.float32)), mlx.array(y.astype(np.int32))
    )
    np.testing.assert_allclose(N(ours[0]), np.array(theirs[0]), rtol=1e-5)
    for a, b in zip(leaves(ours[1]), leaves(theirs[1]), strict=True):
        np.testing.assert_allclose(N(a), np.array(b), rtol=1e-4, atol=1e-6)


# --- array: a value, detached outside the transformations -------------------------------------


def test_array_of_a_torch_parameter_is_a_detached_copy():
    linear = torch.nn.Linear(4, 3)
    weight = mx.array(linear.weight)
    assert not weight.requires_grad and weight.grad_fn is None
    assert weight.data_ptr() != linear.weight.data_ptr()
    assert np.asarray(weight).shape == (3, 4)
    before = N(weight).copy()
    with torch.no_grad():
        linear.weight.add_(100.0)
    np.testing.assert_array_equal(N(weight), before)
    assert not mx.asarray(linear.weight).requires_grad
    assert not mx.array([linear.bias, linear.bias]).requires_grad


def test_array_keeps_the_graph_inside_transformations():
    """MLX differentiates through ``mx.array(x)``: so does the mirror inside grad, vjp, jvp."""

    def f(x):
        return mx.sum(mx.array(x) * mx.asarray(x, copy=True) * x)

    x = mx.array([1.0, 2.0])
    np.testing.assert_allclose(N(mx.grad(f)(x)), [3.0, 12.0])
    np.testing.assert_allclose(N(mx.vjp(f, [x], [mx.array(1.0)])[1][0]), [3.0, 12.0])
    np.testing.assert_allclose(N(mx.jvp(f, [x], [mx.array([1.0, 0.0])])[1][0]), 3.0)


@pytest.mark.mlx_only
def test_gradient_through_array_and_jvp_of_grad_match_mlx():
    mlx = pytest.importorskip("mlx.core")

    def run(m):
        def f(x):
            return m.sum(m.array(x) * m.sin(x))

        x, t = m.array([0.5, 1.5]), m.array([1.0, -2.0])
        return [m.grad(f)(x), m.jvp(m.grad(f), [x], [t])[1][0]]

    for ours, theirs in zip(run(mx), run(mlx), strict=True):
        np.testing.assert_allclose(N(ours), np.array(theirs), rtol=1e-6)


# --- vjp, jvp, stop_gradient ---------------------------------------------------------------------


def test_vjp_and_jvp_match_the_analytic_jacobian():
    def f(x, y):
        return x * y, mx.sin(x) + y

    x, y = mx.array([1.0, 2.0]), mx.array([3.0, -1.0])
    outs, vjps = mx.vjp(f, [x, y], [mx.array([1.0, 0.5]), mx.array([2.0, 1.0])])
    np.testing.assert_allclose(N(outs[0]), [3.0, -2.0])
    # d/dx = cot0 * y + cot1 * cos(x); d/dy = cot0 * x + cot1
    np.testing.assert_allclose(N(vjps[0]), [3.0 + 2 * np.cos(1.0), -0.5 + np.cos(2.0)], rtol=1e-6)
    np.testing.assert_allclose(N(vjps[1]), [1.0 + 2.0, 1.0 + 1.0], rtol=1e-6)

    outs, jvps = mx.jvp(f, [x, y], [mx.array([1.0, 0.0]), mx.array([0.0, 1.0])])
    # J t = (tx * y + ty * x, cos(x) tx + ty)
    np.testing.assert_allclose(N(jvps[0]), [3.0, 2.0], rtol=1e-6)
    np.testing.assert_allclose(N(jvps[1]), [np.cos(1.0), 1.0], rtol=1e-6)
    assert not any(t.requires_grad for t in [*outs, *jvps])


def test_vjp_checks_cotangent_shapes():
    with pytest.raises(ValueError, match="cotangent shape"):
        mx.vjp(lambda x: x * 2, [mx.array([1.0, 2.0])], [mx.array(1.0)])


def test_stop_gradient_blocks_the_gradient():
    g = mx.grad(lambda x: mx.sum(mx.stop_gradient(x) * x))(mx.array([2.0, 3.0]))
    np.testing.assert_array_equal(N(g), [2.0, 3.0])


# --- custom_function -------------------------------------------------------------------------


def test_custom_vjp_replaces_the_gradient():
    @mx.custom_function
    def f(x):
        return mx.sin(x)

    @f.vjp
    def f_vjp(primals, cotangent, output):
        return cotangent * 10.0  # deliberately not cos(x)

    x = mx.array([0.3, 1.2])
    np.testing.assert_allclose(N(f(x)), np.sin([0.3, 1.2]), rtol=1e-6)
    np.testing.assert_array_equal(N(mx.grad(lambda x: mx.sum(f(x)))(x)), [10.0, 10.0])


def test_custom_vjp_receives_primals_cotangents_and_outputs_as_mlx():
    seen = {}

    @mx.custom_function
    def pair(x, y):
        return x * y, x + y

    @pair.vjp
    def pair_vjp(primals, cotangents, outputs):
        seen.update(primals=primals, cotangents=cotangents, outputs=outputs)
        return cotangents[0] * 2, cotangents[1] * 3

    @mx.custom_function
    def single(d):
        return d["a"] * d["b"]

    @single.vjp
    def single_vjp(primals, cotangent, output):
        seen.update(tree=primals, cotangent=cotangent, output=output)
        return {"a": cotangent * 7, "b": mx.sum(cotangent)}

    x, y = mx.array([1.0, 2.0]), mx.array([3.0, 4.0])
    gx, gy = mx.grad(lambda x, y: mx.sum(pair(x, y)[0]), argnums=(0, 1))(x, y)
    assert isinstance(seen["primals"], tuple) and len(seen["primals"]) == 2
    assert isinstance(seen["cotangents"], tuple) and isinstance(seen["outputs"], tuple)
    np.testing.assert_array_equal(N(seen["cotangents"][0]), [1.0, 1.0])
    np.testing.assert_array_equal(N(seen["cotangents"][1]), [0.0, 0.0])  # unused output
    np.testing.assert_array_equal(N(seen["outputs"][0]), [3.0, 8.0])
    np.testing.assert_array_equal(N(gx), [2.0, 2.0])
    np.testing.assert_array_equal(N(gy), [0.0, 0.0])

    g = mx.grad(lambda d: mx.sum(single(d)))({"a": x, "b": mx.array(3.0)})
    assert isinstance(seen["tree"], dict) and isinstance(seen["cotangent"], torch.Tensor)
    np.testing.assert_array_equal(N(seen["output"]), [3.0, 6.0])
    np.testing.assert_array_equal(N(g["a"]), [7.0, 7.0])
    np.testing.assert_array_equal(N(g["b"]), 2.0)


@pytest.mark.mlx_only
def test_custom_vjp_arguments_match_mlx():
    mlx = pytest.importorskip("mlx.core")

    def received(m):
        seen = {}

        @m.custom_function
        def f(x, y):
            return m.sin(x) * y, x - y

        @f.vjp
        def f_vjp(primals, cotangents, outputs):
            seen.update(primals=primals, cotangents=cotangents, outputs=outputs)
            return cotangents[0] * 3, cotangents[1] * 5

        grads = m.grad(lambda x, y: m.sum(f(x, y)[0] + 2 * f(x, y)[1]), argnums=(0, 1))(
            m.array([0.5, 1.5]), m.array([2.0, -1.0])
        )
        return seen, grads

    ours, theirs = received(mx), received(mlx)
    for name in ("primals", "cotangents", "outputs"):
        assert type(ours[0][name]) is type(theirs[0][name]) is tuple
        for a, b in zip(ours[0][name], theirs[0][name], strict=True):
            np.testing.assert_allclose(N(a), np.array(b), rtol=1e-6)
    for a, b in zip(ours[1], theirs[1], strict=True):
        np.testing.assert_allclose(N(a), np.array(b), rtol=1e-6)


@pytest.mark.mlx_only
def test_custom_function_keeps_a_nested_output_tree_as_mlx():
    mlx = pytest.importorskip("mlx.core")

    def run(m):
        seen = {}

        @m.custom_function
        def f(x, y):
            return [x * y, (x + y, m.sin(x)), [x - y, x]]

        @f.vjp
        def f_vjp(primals, cotangents, outputs):
            seen.update(cotangents=cotangents, outputs=outputs)
            return cotangents[0] * 2, cotangents[1][0] * 3

        x, y = m.array([0.5, 1.5]), m.array([2.0, -1.0])
        out = f(x, y)
        grads = m.grad(lambda x, y: m.sum(f(x, y)[0]) + m.sum(f(x, y)[1][0]), argnums=(0, 1))(x, y)
        return out, seen, grads

    (out, seen, grads), (ref_out, ref_seen, ref_grads) = run(mx), run(mlx)
    assert type(out) is type(ref_out) is list and type(out[1]) is type(ref_out[1]) is tuple
    assert type(out[2]) is type(ref_out[2]) is list
    for a, b in zip(
        [out[0], *out[1], *out[2]], [ref_out[0], *ref_out[1], *ref_out[2]], strict=True
    ):
        np.testing.assert_allclose(N(a), np.array(b), rtol=1e-6)
    assert type(seen["cotangents"]) is type(ref_seen["cotangents"])
    for a, b in zip(grads, ref_grads, strict=True):
        np.testing.assert_allclose(N(a), np.array(b), rtol=1e-6)


def test_custom_function_without_gradients_runs_the_plain_function():
    calls = []

    @mx.custom_function
    def f(x):
        calls.append(x.requires_grad)
        return x + 1

    @f.vjp
    def f_vjp(primals, cotangent, output):
        return cotangent

    np.testing.assert_array_equal(N(f(mx.array([1.0]))), [2.0])
    assert calls == [False]


# --- compile, eval, checkpoint ---------------------------------------------------------------


def test_compile_returns_the_function_with_equal_results(rng):
    params = mlp_params(rng, mx.float32)
    x = mx.array(rng.normal(size=(6, 3)), mx.float32)
    y = mx.array(rng.integers(0, 4, size=6))
    state = [params]
    compiled = functools.partial(mx.compile, inputs=state, outputs=state)(mlp_loss)
    assert mx.compile(mlp_loss, shapeless=True) is mlp_loss
    np.testing.assert_array_equal(N(compiled(params, x, y)), N(mlp_loss(params, x, y)))
    assert mx.eval(params, [x, {"y": y}]) is None and mx.async_eval(x) is None


def test_checkpoint_gives_the_same_gradient_and_replays_random_keys():
    def noisy(x):
        return mx.sum(mx.sin(x) * mx.random.uniform(shape=x.shape))

    x = mx.array([0.5, 1.0, 2.0])
    mx.random.seed(3)
    value, grad = mx.value_and_grad(mx.checkpoint(noisy))(x)
    mx.random.seed(3)
    expected_value, expected_grad = mx.value_and_grad(noisy)(x)
    np.testing.assert_allclose(N(value), N(expected_value), rtol=1e-6)
    np.testing.assert_allclose(N(grad), N(expected_grad), rtol=1e-6)


# --- dtypes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: mx.argmax(mx.array([1.0, 3.0])),
        lambda: mx.argsort(mx.array([2.0, 1.0])),
        lambda: mx.random.permutation(4, key=mx.random.key(0)),
        lambda: mx.random.categorical(mx.zeros((2, 3)), key=mx.random.key(0)),
        lambda: mx.linalg.lu(mx.eye(2))[0],
    ],
)
def test_index_results_use_torch_index_dtype(make):
    assert make().dtype == torch.int64  # MLX: uint32


def test_array_type_is_torch_tensor():
    assert isinstance(torch.ones(1), mx.array) and not isinstance(np.ones(1), mx.array)
    assert mx.array([1.0]).dtype is torch.float32


# --- devices and memory ----------------------------------------------------------------------


def test_devices_report_torch_default_device():
    device = mx.default_device()
    expected = mx.cpu if torch.get_default_device().type == "cpu" else mx.gpu
    assert device == expected and device.type.name in ("cpu", "gpu")
    assert mx.Device(mx.cpu) == mx.Device(mx.cpu, 0) != mx.Device(mx.gpu)
    assert mx.is_available(mx.cpu) and mx.device_count(mx.cpu) == 1
    assert mx.is_available(mx.gpu) == (
        torch.cuda.is_available() or torch.backends.mps.is_available()
    )
    assert mx.metal.is_available() is False
    assert mx.cuda.is_available() == torch.cuda.is_available()
    assert {"architecture", "device_name", "memory_size"} <= set(mx.device_info())
    mx.synchronize()


def test_memory_functions_report_bytes():
    mx.reset_peak_memory()
    held = mx.zeros((1024, 1024))
    active, peak = mx.get_active_memory(), mx.get_peak_memory()
    assert held.shape == (1024, 1024) and 0 < active <= peak
    assert mx.get_cache_memory() >= 0
    mx.clear_cache()
    previous = mx.set_memory_limit(2**30)
    try:
        assert mx.get_memory_limit() == 2**30 and previous > 0
    finally:
        mx.set_memory_limit(previous)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_default_device_moves_arrays_and_keeps_random_draws():
    on_cpu = N(mx.random.uniform(shape=(100,), key=mx.random.key(1)))
    mx.set_default_device(mx.gpu)
    try:
        assert mx.default_device() == mx.gpu
        x = mx.array([1.0, 2.0])
        u = mx.random.uniform(shape=(100,), key=mx.random.key(1))
        assert x.device.type == "cuda" and u.device.type == "cuda"
        np.testing.assert_array_equal(N(u), on_cpu)
        assert mx.get_active_memory() > 0
    finally:
        mx.set_default_device(mx.cpu)
    assert torch.get_default_device().type == "cpu"


# --- files -----------------------------------------------------------------------------------


def test_bfloat16_goes_to_safetensors_but_not_npy(tmp_path, rng):
    arrays = {"half": mx.array(rng.normal(size=4), mx.bfloat16), "w": mx.ones((2,))}
    mx.save_safetensors(str(tmp_path / "weights.safetensors"), arrays)
    loaded = mx.load(str(tmp_path / "weights.safetensors"))
    assert loaded["half"].dtype == mx.bfloat16
    assert torch.equal(loaded["half"].cpu(), arrays["half"].cpu())
    with pytest.raises(TypeError, match="bfloat16"):
        mx.save(tmp_path / "bad.npy", arrays["half"])


def test_bfloat16_safetensors_files_are_shared_with_the_safetensors_package(tmp_path):
    st = pytest.importorskip("safetensors.torch")
    half = torch.tensor([1.5, -2.0, 3.0e38], dtype=torch.bfloat16)
    mx.save_safetensors(tmp_path / "ours.safetensors", {"b": half})
    assert torch.equal(st.load_file(str(tmp_path / "ours.safetensors"))["b"], half)
    st.save_file({"b": half}, str(tmp_path / "theirs.safetensors"))
    assert torch.equal(mx.load(str(tmp_path / "theirs.safetensors"))["b"].cpu(), half)
