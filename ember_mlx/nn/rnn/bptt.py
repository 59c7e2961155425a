r"""Backpropagation through time written out for the dense recurrent cells.

A dense CfC step (with at most one backbone layer) and an LSTM step share one shape:

.. math::

    z_t = p_t + h_{t-1} R, \qquad (h_t, c_t) = \mathrm{cell}(z_t, c_{t-1})

where :math:`p_t` is the input's share of the pre-activations (one matmul over all steps,
before the loop), :math:`R` the recurrent weights and :math:`c` the cell's extra carry (an
LSTM's memory; nothing for a CfC). The cell may hold weights of its own, such as a CfC's heads.

Autodiff of the step loop forms the gradient of :math:`R` as one small matmul per step and
keeps a graph node per op. :func:`recurrence` runs the loop as one ``mx.custom_function``
whose vjp runs only the backward recurrence of the state,

.. math::

    \delta z_t = \mathrm{cell}^\top(\delta h_t + \delta h'_t,\ \delta c_t), \qquad
    \delta h'_{t-1} = \delta z_t R^\top,

and then forms the gradient of :math:`R` as one matmul over all steps,
:math:`\delta R = [h_0, \dots, h_{T-1}]^\top [\delta z_1, \dots, \delta z_T]`, a
``(T B, H)^T @ (T B, G)`` product (the cotangent of :math:`p` needs the stacked
:math:`\delta z` anyway). The cell's own weights instead take one ``addmm`` per step, while that
step's cotangents are in cache: on a CPU that costs the flops of one big matmul without
stacking the operands (megabytes of copies). The forward saves what the backward needs as
extra outputs, so little is recomputed.

Second-order gradients (a gradient of a gradient) differentiate the vjp itself; the saved
outputs it reads then carry their dependence on the inputs through
:func:`differentiable_outputs`, which recomputes the forward only in that case.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ember_mlx.backend import mx
from ember_mlx.trees import flatten


class CellMath(Protocol):
    """The step of a recurrence after its recurrent matmul, and that step's vjp."""

    def forward(
        self, z: Any, carry: tuple[Any, ...], params: tuple[Any, ...]
    ) -> tuple[Any, tuple[Any, ...], tuple[Any, ...]]:
        """``(h, carry, saved)`` from the pre-activations ``z``; ``saved`` is what
        :meth:`backward` needs of this step."""

    def backward(
        self,
        dh: Any,
        dcarry: tuple[Any, ...],
        carry: tuple[Any, ...],
        saved: tuple[Any, ...],
        params: tuple[Any, ...],
        grads: tuple[Any, ...] | None,
    ) -> tuple[Any, tuple[Any, ...], tuple[Any, ...] | None]:
        """``(dz, dcarry, grads)``: the cotangents of ``z`` and of the incoming ``carry``
        (the step's input carry) from those of the step's outputs, and ``grads`` (what
        the later steps summed for the gradients of ``params``; ``None`` at the last step)
        with this step's terms added."""

    def param_grads(
        self, grads: tuple[Any, ...] | None, params: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        """The gradients of ``params`` from the sum over all steps of :meth:`backward`."""


def recurrence(
    cell: CellMath,
    projected: Any,
    h: Any,
    carry: tuple[Any, ...],
    recurrent_t: Any,
    params: tuple[Any, ...],
) -> tuple[list[Any], tuple[Any, ...]]:
    """Run :math:`z_t = p_t + h_{t-1} R`, then ``cell``, over every step, with the vjp above.

    Every array the step reads is an argument (arrays captured by a ``custom_function`` would
    be constants and get no gradient); ``cell`` holds only configuration.

    Args:
        cell: The step after the recurrent matmul.
        projected: :math:`p`, ``(steps, batch, G)``.
        h: The initial state, ``(batch, H)``.
        carry: The cell's initial extra carry (arrays; may be empty).
        recurrent_t: :math:`R`, ``(H, G)``.
        params: The cell's own weights.

    Returns:
        ``(hs, carry)``: every step's state, stacked time-major ``(steps, batch, H)``, and the
        final carry.
    """

    def forward(projected, h, carry, recurrent_t, params):
        hs, carries, saved = [], [], []
        # Iterating the steps is one unbind on torch; autodiff never sees this loop, so the
        # reason for sequence.unstack_steps (its cotangent) does not apply.
        for p in projected:
            h, carry, kept = cell.forward(mx.addmm(p, h, recurrent_t), carry, params)
            hs.append(h)
            carries.append(carry)
            saved.append(kept)
        # One stacked output rather than one per step: the caller stacks them anyway, and the
        # vjp then gets one cotangent array instead of a list of slices. The carries and saved
        # arrays go out as one tuple of steps per component: a flat tree, which the mirrors
        # take apart and rebuild with a node per component rather than per step.
        return mx.stack(hs), tuple(zip(*carries, strict=True)), tuple(zip(*saved, strict=True))

    run = mx.custom_function(forward)

    @run.vjp
    def run_vjp(primals, cotangents, outputs):
        _, h0, carry0, recurrent_t, params = primals
        dhs, dcarries, _ = cotangents
        hs, carries, saved = differentiable_outputs(forward, primals, outputs)
        recurrent = recurrent_t.T
        steps = hs.shape[0]
        # Per step, the carry it read and what it kept, each as one tuple.
        incoming = [tuple(carry0), *zip(*carries, strict=True)] if carry0 else [()] * steps
        kept = list(zip(*saved, strict=True))
        d_outputs = list(dhs)
        dzs, grads = [None] * steps, None
        # Only the last carry leaves recurrence(): the others' cotangents are zero.
        dh, dcarry = d_outputs[-1], _step(dcarries, -1)
        for t in range(steps - 1, -1, -1):
            dzs[t], dcarry, grads = cell.backward(dh, dcarry, incoming[t], kept[t], params, grads)
            dh = dzs[t] @ recurrent if t == 0 else mx.addmm(d_outputs[t - 1], dzs[t], recurrent)
        dz = mx.concatenate(dzs, axis=0)
        # [h_0, ..., h_{T-1}]^T dz as h_0's term plus one matmul over hs[:-1], a view: stacking
        # h_0 onto hs would copy every state.
        batch, units = h0.shape
        d_recurrent = mx.addmm(h0.T @ dzs[0], mx.reshape(hs[:-1], (-1, units)).T, dz[batch:])
        return (
            mx.reshape(dz, (steps, *dzs[0].shape)),
            dh,
            dcarry,
            d_recurrent,
            cell.param_grads(grads, params),
        )

    hs, carries, _ = run(projected, h, carry, recurrent_t, params)
    return hs, _step(carries, -1)


def _step(components: tuple[Any, ...], t: int) -> tuple[Any, ...]:
    """Step ``t`` of per-component sequences of arrays (``recurrence``'s carries and saved
    arrays)."""
    return tuple(steps[t] for steps in components)


def differentiable_outputs(forward: Callable[..., Any], primals: Any, outputs: Any) -> Any:
    """``outputs``, the outputs of ``forward(*primals)``, for a hand-written vjp to read.

    A vjp that reads its forward's outputs gets the gradient right, but a second-order gradient
    differentiates the vjp too, and then needs how those outputs move with ``primals``; the
    custom function's own vjp cannot say (it takes no cotangent for the arrays it saved). The
    arrays returned are ``outputs`` themselves, whose vjp is autodiff of ``forward``: it
    recomputes the forward, and runs only when something differentiates the vjp.

    Args:
        forward: The custom function's forward, undecorated.
        primals: Its arguments: one array, or a tuple of arrays and nested tuples of arrays.
        outputs: What it returned for them.
    """
    primals = primals if isinstance(primals, tuple) else (primals,)

    @mx.custom_function
    def identity(primals, outputs):
        return outputs

    # Flattened only here, where the trees go through mx.vjp: the first-order path (every
    # training step) passes them through untouched.
    @identity.vjp
    def identity_vjp(args, cotangents, _):
        primals, outputs = args
        primal_leaves, rebuild_primals = flatten(primals)
        output_leaves, rebuild_outputs = flatten(outputs)

        def flat_forward(*leaves):
            return flatten(forward(*rebuild_primals(leaves)))[0]

        _, d_primals = mx.vjp(flat_forward, primal_leaves, flatten(cotangents)[0])
        return rebuild_primals(d_primals), rebuild_outputs(
            [mx.zeros_like(x) for x in output_leaves]
        )

    return identity(primals, outputs)
