r"""The closed-form continuous-time (CfC) cell of Hasani et al., "Closed-form continuous-time
neural networks" (Nature Machine Intelligence, 2022), with ncps's torch math.

A step is split the way a sequence layer runs it: :meth:`CfCCell.prepare` gathers the weights
once per forward pass (the four heads stacked into one matrix, a sparsity mask applied),
:meth:`CfCCell.project_input` computes the part of the first matmul that reads only the input,
for all steps at once, and :meth:`CfCCell.step` does the rest, one matmul on the state and, with a
backbone, one for the heads. :meth:`CfCCell.scan` runs the common configurations through
:func:`~ember_mlx.nn.rnn.bptt.recurrence`, with :class:`DenseCfCMath`'s hand-written vjp.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from ember_mlx.backend import mx, nn, to_numpy
from ember_mlx.checkpoint import CheckpointError
from ember_mlx.nn.layers.activations import get_activation
from ember_mlx.nn.module import Module
from ember_mlx.nn.rnn.backbone import (
    build_backbone,
    check_dropout,
    finish_backbone,
    vjp_form,
)
from ember_mlx.nn.rnn.bptt import recurrence
from ember_mlx.nn.rnn.sequence import (
    check_state,
    check_step_input,
    in_model_dtype,
    masked,
    prepare_step_timespans,
    unstack_steps,
)
from ember_mlx.validation import check_count

MODES = ("default", "pure", "no_gate")


def check_mode(mode: Any) -> str:
    """Return ``mode`` if it is a CfC mode, else raise a ValueError."""
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {', '.join(MODES)}, got {mode!r}")
    return mode


class Weights(NamedTuple):
    """A cell's weights for one forward pass, as :meth:`CfCCell.prepare` arranges them.

    The first matmul of a step maps ``[x, h]``; its matrix is split into the input columns
    ``input_t`` (with ``input_bias``) and the state columns ``hidden_t``, both transposed. With a
    backbone the first matmul is the backbone's first layer and ``heads_t``/``heads_bias`` map the
    backbone's output to the stacked heads; without one the first matmul gives the heads directly
    and ``heads_t`` is ``None``. ``ts`` is the elapsed time folded into the weights, or ``None``
    when every step passes its own.
    """

    input_t: Any
    input_bias: Any
    hidden_t: Any
    heads_t: Any
    heads_bias: Any
    ts: float | None


class CfCCell(Module):
    r"""A CfC cell: one step from ``(x, h, t)`` to the next state, as ncps's torch ``CfCCell``.

    With :math:`z = \mathrm{backbone}([x, h])` (``backbone_layers`` affine layers with
    activation, or :math:`z = [x, h]` without) and four affine heads of :math:`z`:

    .. math::

        f_1 = \tanh(W_1 z + b_1), \quad f_2 = \tanh(W_2 z + b_2), \quad
        g = \sigma\big((W_a z + b_a)\, t + W_b z + b_b\big)

    the modes update the state as

    .. math::

        \text{default:}\ h' &= f_1 \odot (1 - g) + g \odot f_2 \\
        \text{no\_gate:}\ h' &= f_1 + g \odot f_2 \\
        \text{pure:}\ h' &= A - A \odot e^{-t\,(|w_\tau| + |u|)} \odot u,
            \quad u = W_1 z + b_1

    where ``pure`` has only the first head (no tanh) and the parameters :math:`w_\tau, A` of
    shape ``(1, hidden_size)``. The math is ncps's torch math; ncps's Keras cell differs (no tanh
    on :math:`f_1, f_2`, gate :math:`\sigma(-t\,a + b)`), so Keras weights do not carry over.

    Parameters have ncps's names and initialisation: ``backbone.{0,2,...}`` (``backbone`` lists
    the layers as ncps's ``Sequential`` does: affine, activation, affine, activation, dropout,
    ...), ``ff1``, ``ff2``, ``time_a``, ``time_b`` (affine, torch layout), ``w_tau`` and ``A``.
    Every weight matrix, ``w_tau`` and ``A`` included, is Glorot-uniform; biases are uniform in
    :math:`\pm 1/\sqrt{\text{fan\_in}}`. :meth:`load_torch_state_dict` copies an ncps cell.

    Args:
        input_size: Number of input features.
        hidden_size: Size of the state.
        mode: ``"default"``, ``"pure"`` or ``"no_gate"``.
        backbone_activation: Activation of the backbone layers, a name of
            :func:`~ember_mlx.nn.layers.get_activation` (ncps offers ``"lecun_tanh"``,
            ``"tanh"``, ``"relu"``, ``"silu"``, ``"gelu"``).
        backbone_units: Width of the backbone layers.
        backbone_layers: Number of backbone layers; ``0`` feeds ``[x, h]`` to the heads.
        backbone_dropout: Dropout after every backbone layer but the first (as in ncps, so it
            has no effect with one layer), while training.
        sparsity_mask: Optional ``(in_features, hidden_size)`` array, ``in_features`` being the
            width of the heads' input; :math:`|\text{mask}|` multiplies :math:`W_1` and
            :math:`W_2` (not the time heads), as in ncps's wired cells.

    Call ``cell(x, state=None, ts=None)`` with ``x`` of shape ``(batch, input_size)``, ``state``
    ``(batch, hidden_size)`` (zeros if ``None``) and ``ts`` the elapsed time: ``None`` (1), a
    number, or an array of shape ``(batch,)`` or ``(batch, 1)``. Returns the next state.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        mode: str = "default",
        backbone_activation: str = "lecun_tanh",
        backbone_units: int = 128,
        backbone_layers: int = 1,
        backbone_dropout: float = 0.0,
        sparsity_mask: Any = None,
    ):
        super().__init__()
        self.input_size = check_count("input_size", input_size)
        self.hidden_size = check_count("hidden_size", hidden_size)
        self.mode = check_mode(mode)
        self.backbone_layers = check_count("backbone_layers", backbone_layers, minimum=0)
        activation = get_activation(backbone_activation)
        dropout = check_dropout(backbone_dropout)
        heads_in = input_size + hidden_size
        if self.backbone_layers > 0:
            units = check_count("backbone_units", backbone_units)
            self.backbone = build_backbone(
                heads_in, units, self.backbone_layers, activation, dropout
            )
            heads_in = units
        # Hidden from parameters() (leading underscore): the mask is rebuilt from the config.
        self._mask = (
            None if sparsity_mask is None else _head_mask(sparsity_mask, heads_in, hidden_size)
        )

        self.ff1 = nn.Linear(heads_in, hidden_size)
        if self.mode == "pure":
            self.w_tau = mx.zeros((1, hidden_size))
            self.A = mx.ones((1, hidden_size))
        else:
            self.ff2 = nn.Linear(heads_in, hidden_size)
            self.time_a = nn.Linear(heads_in, hidden_size)
            self.time_b = nn.Linear(heads_in, hidden_size)
        self._init_weights()

    def _init_weights(self) -> None:
        """Glorot-uniform for every weight matrix, ``w_tau`` and ``A`` (as ncps's init)."""
        glorot = nn.init.glorot_uniform()
        for layer in [*self._backbone_linears(), *self._heads()]:
            layer.weight = glorot(layer.weight)
        if self.mode == "pure":
            self.w_tau = glorot(self.w_tau)
            self.A = glorot(self.A)

    def _backbone_linears(self) -> list[nn.Module]:
        return [m for m in self.get("backbone", []) if isinstance(m, nn.Linear)]

    def _heads(self) -> list[nn.Module]:
        if self.mode == "pure":
            return [self.ff1]
        return [self.ff1, self.ff2, self.time_a, self.time_b]

    @property
    def state_size(self) -> int:
        """Size of the state."""
        return self.hidden_size

    @property
    def dtype(self) -> Any:
        """The dtype the cell computes in: its weights'."""
        return self.ff1.weight.dtype

    @property
    def output_size(self) -> int:
        """Size of the output, the state itself."""
        return self.hidden_size

    def prepare(self, ts: float | None = 1.0) -> Weights:
        r"""The weights of one forward pass: the heads stacked into one matrix, the mask applied.

        Args:
            ts: The elapsed time of every step, or ``None`` if each step passes its own to
                :meth:`step`. A constant time is folded into the weights: the gate's input
                :math:`(W_a z + b_a)\,t + W_b z + b_b` is one head,
                :math:`(t W_a + W_b) z + t b_a + b_b`, which saves a quarter of the heads.
        """
        heads = self._heads()
        weights = [layer.weight for layer in heads]
        biases = [layer.bias for layer in heads]
        if self._mask is not None:
            # The mask covers f1 and f2 only; the time heads stay dense, as in ncps.
            weights[:2] = [masked(w, self._mask) for w in weights[:2]]
        if ts is not None and self.mode != "pure":
            weights[2:] = [ts * weights[2] + weights[3]]
            biases[2:] = [ts * biases[2] + biases[3]]
        heads_w = mx.concatenate(weights, axis=0) if len(weights) > 1 else weights[0]
        heads_b = mx.concatenate(biases) if len(biases) > 1 else biases[0]
        n = self.input_size
        if self.backbone_layers == 0:
            return Weights(heads_w[:, :n].T, heads_b, heads_w[:, n:].T, None, heads_b, ts)
        first = self.backbone[0]
        return Weights(
            first.weight[:, :n].T, first.bias, first.weight[:, n:].T, heads_w.T, heads_b, ts
        )

    def project_input(self, x: Any, weights: Weights) -> Any:
        """The input's share of the first matmul, for any leading axes of ``x``."""
        return mx.addmm(weights.input_bias, x, weights.input_t)

    def step(self, projected: Any, h: Any, ts: Any, weights: Weights) -> Any:
        """The next state from the projected input and the state ``(batch, hidden_size)``.

        ``ts`` is the step's elapsed time, ``(batch, 1)``, if ``weights`` were prepared with
        ``ts=None``; otherwise it is ignored (pass ``None``).
        """
        z = mx.addmm(projected, h, weights.hidden_t)
        if weights.heads_t is not None:
            z = mx.addmm(weights.heads_bias, finish_backbone(self.backbone, z), weights.heads_t)
        pure = (self.w_tau, self.A) if self.mode == "pure" else None
        return cfc_update(z, self.mode, ts, weights.ts, pure)

    # A sequence layer keeps a wired cell's state per layer; an unwired state is one array.

    def split_state(self, h: Any) -> Any:
        """The state as :meth:`step` takes it (the array itself)."""
        return h

    def merge_state(self, h: Any) -> Any:
        """The ``(batch, hidden_size)`` state from :meth:`step`'s form (the array itself)."""
        return h

    def output(self, h: Any) -> Any:
        """The output of a ``(batch, hidden_size)`` state: the state itself."""
        return h

    def scan(
        self, x: Any, h: Any, timespans: Any, constant_ts: float | None, all_outputs: bool
    ) -> tuple[Any, Any]:
        """Run the cell over a time-major sequence.

        Where :meth:`_dense_math` has a hand-written vjp for this configuration, the loop runs
        through :func:`~ember_mlx.nn.rnn.bptt.recurrence` (a hand-written backward pass
        instead of autodiff of every op) on the state :math:`u = (h + 1) / 2` (see
        :meth:`vjp_weights`); otherwise :meth:`step` runs step by step.

        Args:
            x: The inputs, ``(steps, batch, input_size)``.
            h: The initial state.
            timespans: ``(steps, batch, 1)`` elapsed times, or ``None`` if ``constant_ts`` is
                the elapsed time of every step.
            constant_ts: See ``timespans``.
            all_outputs: Return every step's output, or only the last one.

        Returns:
            ``(outputs, h)``: the outputs, time-major ``(steps, batch, output_size)`` (one step
            if not ``all_outputs``), and the final state.
        """
        weights = self.prepare(constant_ts)
        math = self._dense_math(weights)
        if math is not None:
            weights = self.vjp_weights(weights)
            params = () if weights.heads_t is None else (weights.heads_t, weights.heads_bias)
            us, _ = recurrence(
                math, self.project_input(x, weights), (h + 1) * 0.5, (), weights.hidden_t, params
            )
            outputs = (us if all_outputs else us[-1:]) * 2 - 1
            return outputs, outputs[-1]
        projected = unstack_steps(self.project_input(x, weights))
        ts = [None] * len(projected) if timespans is None else unstack_steps(timespans)
        outputs = []
        for p, t in zip(projected, ts, strict=True):
            h = self.step(p, h, t, weights)
            if all_outputs:
                outputs.append(h)
        return mx.stack(outputs if all_outputs else [h]), h

    def _dense_math(self, weights: Weights) -> DenseCfCMath | None:
        """The step with a hand-written vjp, where this cell's configuration has one: a gated
        mode, a constant elapsed time and at most one backbone layer whose activation has a
        :func:`~ember_mlx.nn.rnn.backbone.vjp_form`. ``None`` otherwise (the step loop is then
        differentiated op by op)."""
        if self.mode == "pure" or weights.ts is None or self.backbone_layers > 1:
            return None
        dtype = weights.hidden_t.dtype
        if self.backbone_layers == 0:
            return DenseCfCMath(self.mode, dtype)
        form = vjp_form(self.backbone[1].fn)
        return None if form is None else DenseCfCMath(self.mode, dtype, form.psi, form.dpsi)

    def vjp_weights(self, weights: Weights) -> Weights:
        r""":meth:`prepare`'s weights rewritten for :class:`DenseCfCMath` (see there): the
        :math:`f_1, f_2` heads doubled, the backbone activation's constants folded in, and the
        state read as :math:`u = (h + 1) / 2`: the first matmul's
        :math:`h R = 2 u R - \mathbf{1} R`, so its state columns are doubled and their sums
        taken from its bias."""
        n = self.hidden_size
        double_f = mx.array(np.repeat([2.0, 2.0, 1.0], n), dtype=weights.hidden_t.dtype)
        if self.backbone_layers == 0:
            inner = double_f
            heads_t = heads_bias = None
        else:
            form = vjp_form(self.backbone[1].fn)
            inner = form.inner
            heads_t = weights.heads_t * double_f
            heads_bias = weights.heads_bias * double_f + form.shift * mx.sum(heads_t, axis=0)
            heads_t = heads_t * form.outer
        hidden_t = weights.hidden_t * inner
        input_bias = weights.input_bias * inner - mx.sum(hidden_t, axis=0)
        if heads_t is None:
            heads_bias = input_bias
        return Weights(
            weights.input_t * inner, input_bias, hidden_t * 2, heads_t, heads_bias, weights.ts
        )

    def __call__(self, x: Any, state: Any = None, ts: Any = None) -> Any:
        batch = check_step_input(x, self.input_size)
        x, state = in_model_dtype((x, state), self.dtype)
        if state is None:
            state = mx.zeros((batch, self.hidden_size), dtype=x.dtype)
        else:
            check_state(state, batch, self.hidden_size, "state")
        ts = prepare_step_timespans(ts, batch, x.dtype)
        constant = ts is None or isinstance(ts, float)
        weights = self.prepare((1.0 if ts is None else ts) if constant else None)
        return self.step(self.project_input(x, weights), state, None if constant else ts, weights)

    def load_torch_state_dict(self, state_dict: Mapping[str, Any]) -> CfCCell:
        """Copy the weights of an ncps ``CfCCell`` (torch) with the same arguments; returns the
        cell. A ``sparsity_mask`` entry must equal this cell's mask.

        Raises:
            CheckpointError: If names, shapes or the mask differ; then nothing is changed.
        """
        return load_ncps_state_dict(self, state_dict)


def cfc_update(
    z: Any, mode: str, ts: Any, folded_ts: float | None, pure: tuple[Any, Any] | None = None
) -> Any:
    """The CfC update (see :class:`CfCCell`) from the stacked heads ``z``.

    Args:
        z: ``[f1, f2, gate]`` pre-activations if a constant elapsed time ``folded_ts`` is folded
            into the gate, ``[f1, f2, t_a, t_b]`` otherwise; ``f1`` alone in ``pure`` mode.
        mode: The CfC mode.
        ts: The step's elapsed time, ``(batch, 1)`` or per unit, when nothing is folded.
        folded_ts: The constant elapsed time :meth:`CfCCell.prepare` folded, or ``None``.
        pure: ``(w_tau, A)`` in ``pure`` mode.
    """
    if mode == "pure":
        w_tau, a = pure
        ts = ts if folded_ts is None else folded_ts
        decay = mx.abs(w_tau) + mx.abs(z)
        if not (isinstance(ts, float) and ts == 1.0):
            decay = decay * ts
        return a - a * mx.exp(-decay) * z
    if folded_ts is not None:
        f, gate = mx.split(z, [2 * z.shape[1] // 3], axis=1)
    else:
        n = z.shape[1] // 4
        f, t_a, t_b = mx.split(z, [2 * n, 3 * n], axis=1)
        gate = t_a * ts + t_b
    f1, f2 = mx.split(mx.tanh(f), 2, axis=1)
    return gate_mix(f1, f2, mx.sigmoid(gate), mode)


def gate_mix(f1: Any, f2: Any, g: Any, mode: str) -> Any:
    r"""The gated modes' update from the heads and the gate: :math:`f_1 + g (f_2 - f_1)`
    (``default``) or :math:`f_1 + g f_2` (``no_gate``)."""
    if mode == "no_gate":
        return f1 + g * f2
    return f1 + g * (f2 - f1)


class DenseCfCMath:
    r"""A dense CfC step after its recurrent matmul, with its vjp, for
    :func:`~ember_mlx.nn.rnn.bptt.recurrence`: a gated mode with a constant elapsed time and at
    most one backbone layer, on the weights of :meth:`CfCCell.vjp_weights`.

    Those weights run :class:`CfCCell`'s math through the logistic sigmoid (torch's CPU tanh
    costs about five times its sigmoid): :math:`\tanh x = 2 \sigma(2x) - 1`, with the factor 2
    folded into the :math:`f_1, f_2` heads, and the backbone activation as
    :math:`c_1 \psi(c_0 z) + c_2` (:class:`~ember_mlx.nn.rnn.backbone.VJPForm`), with
    :math:`c_0` folded into the backbone layer and :math:`c_1, c_2` into the heads. The state is
    carried as :math:`u = (h + 1) / 2`, which the first matmul reads with folded weights too.
    A step is then :math:`a = \psi(z)`, :math:`s = \sigma(a W + b) = [s_1, s_2, g]` and
    :func:`gate_mix` of the halved affine map of the heads,

    .. math::

        u = s_1 + g\, d, \qquad
        d = s_2 - s_1 \ \text{(default)}, \quad d = s_2 - \tfrac12 \ \text{(no\_gate)}.

    Its vjp from the cotangent :math:`\delta u` of :math:`u` is
    :math:`\delta s = \delta u\, [1 - g,\ g,\ d]` (no_gate: :math:`\delta u\, [1,\ g,\ d]`),
    then through the sigmoid :math:`\delta(aW + b) = \delta s \odot s (1 - s)` and the backbone
    :math:`\delta z = (\delta(aW + b) W^\top) \odot \psi'`.

    The heads' gradients :math:`\sum_t a_t^\top \delta(a_t W + b)` and
    :math:`\sum_t \delta(a_t W + b)` are summed step by step in :meth:`backward`. The constant
    is a 0-d array of the weights' dtype: torch multiplies by a tensor in half the time it takes
    for a Python number, which it wraps anew in every op.

    Args:
        mode: ``"default"`` or ``"no_gate"``.
        dtype: The weights' dtype.
        psi: :math:`\psi`, or ``None`` without a backbone (``z`` are then the heads).
        dpsi: :math:`\psi'` in terms of :math:`a = \psi(z)`, with a backbone.
    """

    def __init__(self, mode: str, dtype: Any, psi: Any = None, dpsi: Any = None):
        self.mode = mode
        self.psi = psi
        self.dpsi = dpsi
        self.half = mx.array(0.5, dtype=dtype)

    def _heads(self, s: Any) -> tuple[Any, Any, Any]:
        """:math:`(s_1, f_2, g)`, :math:`f_2` being :math:`s_2` shifted for ``no_gate``."""
        s1, s2, g = mx.split(s, 3, axis=1)
        return s1, (s2 if self.mode == "default" else s2 - self.half), g

    def forward(self, z: Any, carry: tuple, params: tuple) -> tuple[Any, tuple, tuple]:
        saved = ()
        if params:
            heads_t, heads_bias = params
            a = self.psi(z)
            z = mx.addmm(heads_bias, a, heads_t)
            saved = (a,)
        s = mx.sigmoid(z)
        return gate_mix(*self._heads(s), self.mode), carry, (*saved, s)

    def backward(
        self, du: Any, dcarry: tuple, carry: tuple, saved: tuple, params: tuple, grads: Any
    ) -> tuple[Any, tuple, Any]:
        s = saved[-1]
        # Recomputed: one op costs less than one more saved output per step.
        s1, f2, g = self._heads(s)
        du_g = du * g
        if self.mode == "default":
            ds = [du - du_g, du_g, du * (f2 - s1)]
        else:
            ds = [du, du_g, du * f2]
        dz = mx.concatenate(ds, axis=1) * (s - s * s)
        if not params:
            return dz, dcarry, None
        a = saved[0]
        if grads is None:
            grads = (a.T @ dz, dz)
        else:
            grads = (mx.addmm(grads[0], a.T, dz), grads[1] + dz)
        return (dz @ params[0].T) * self.dpsi(a), dcarry, grads

    def param_grads(self, grads: Any, params: tuple) -> tuple:
        if not params:
            return ()
        return grads[0], mx.sum(grads[1], axis=0)


def _head_mask(sparsity_mask: Any, heads_in: int, hidden_size: int) -> Any:
    """ncps's stored mask: :math:`|\\text{mask}|^\\top`, shape ``(hidden_size, heads_in)``."""
    mask = np.abs(np.asarray(sparsity_mask, dtype=np.float32))
    if mask.shape != (heads_in, hidden_size):
        raise ValueError(
            f"sparsity_mask: expected shape ({heads_in}, {hidden_size}), got {mask.shape}"
        )
    return mx.array(np.ascontiguousarray(mask.T))


def load_ncps_state_dict(module: Module, state_dict: Mapping[str, Any]) -> Module:
    """Load an ncps (torch) state dict whose names equal ``module``'s parameter names.

    ncps stores each wired cell's mask as a ``sparsity_mask`` entry; we rebuild masks from the
    neuron map, so those entries are compared with ours instead of loaded.

    Raises:
        CheckpointError: If names or shapes differ or a mask is not ours; nothing is changed.
    """
    arrays = {name: to_numpy(value) for name, value in state_dict.items()}
    for name in [n for n in arrays if n.rpartition(".")[2] == "sparsity_mask"]:
        owner: Any = module
        for part in name.split(".")[:-1]:
            owner = owner[int(part)] if isinstance(owner, list) else getattr(owner, part)
        ours = getattr(owner, "_mask", None)
        mask = arrays.pop(name)
        if ours is None or not np.array_equal(to_numpy(ours), mask):
            raise CheckpointError(
                f"ncps state_dict: {name!r} does not match this model's sparsity mask "
                "(build the model from the same neuron map and input size)"
            )
    return module.load_arrays(arrays, source="ncps state_dict")
