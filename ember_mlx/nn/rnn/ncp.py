r"""NCP modules: one step of a recurrent layer wired by a neuron map, from sensory input to
motor output."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ember_mlx.backend import mx, nn
from ember_mlx.nn.layers.activations import get_activation
from ember_mlx.nn.module import Module
from ember_mlx.nn.neuron_maps import AutoNCPMap, NeuronMap
from ember_mlx.nn.rnn.sequence import check_state, in_model_dtype, masked
from ember_mlx.nn.spelling import either


class NCP(Module):
    r"""A neural circuit policy step: a recurrent layer whose synapses are a neuron map's.

    .. math::

        h' = f\big(x\,(W \odot |S|) + h\,(U \odot |A|) + b\big), \qquad y = h'_{\text{motor}}

    :math:`S` is the map's ``sensory_adjacency_matrix`` (``(input_size, units)``) and :math:`A`
    its ``adjacency_matrix`` (``(units, units)``, ``[source, destination]``): input :math:`i`
    reaches neuron :math:`j` only through a sensory synapse, neuron :math:`i` feeds :math:`j` only
    through a synapse. The output :math:`y` is the motor neurons, ids ``0 .. output_dim - 1``.
    ``kernel`` :math:`W` is Glorot-uniform, ``recurrent_kernel`` :math:`U` orthogonal, ``bias``
    zero; the masks are built once, from the map.

    Args:
        neuron_map: The wiring. If it is not built, ``input_size`` builds it, or else the first
            call does (and only then creates the weights: give ``input_size`` to train from the
            start).
        input_size: Number of input features, or ``None`` (see ``neuron_map``).
        activation: Name of :math:`f` (see :func:`~ember_mlx.nn.layers.get_activation`).
        use_bias: Whether to add :math:`b`.
        wiring: The seeds' examples' name for ``neuron_map``.

    Call ``ncp(x, state=None, return_state=False)`` with ``x`` of shape ``(batch, input_size)``
    and ``state`` ``(batch, units)`` (zeros if ``None``); returns :math:`y`,
    ``(batch, output_dim)``, or ``(y, h')`` with ``return_state=True``.
    """

    def __init__(
        self,
        neuron_map: NeuronMap | None = None,
        input_size: int | None = None,
        activation: str | Callable[[Any], Any] = "tanh",
        use_bias: bool = True,
        *,
        wiring: NeuronMap | None = None,
    ):
        super().__init__()
        neuron_map = either("neuron_map", neuron_map, "wiring", wiring)
        if not isinstance(neuron_map, NeuronMap):
            raise TypeError(f"neuron_map: expected a NeuronMap, got {type(neuron_map).__name__}")
        self.neuron_map = neuron_map
        self.activation = get_activation(activation)
        self.use_bias = bool(use_bias)
        if input_size is not None or neuron_map.is_built():
            self._build(input_size)

    @property
    def units(self) -> int:
        """Number of neurons, the size of the state."""
        return self.neuron_map.units

    @property
    def output_size(self) -> int:
        """Number of motor neurons, the size of the output."""
        return self.neuron_map.output_dim

    @property
    def input_size(self) -> int | None:
        """Number of input features (``None`` until the map is built)."""
        return self.neuron_map.input_dim

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, with the input size the map was built for."""
        config = super().get_config()
        config["input_size"] = self.input_size
        return config

    def _build(self, input_size: int | None) -> None:
        """Build the map for ``input_size`` and create the weights and masks."""
        neuron_map = self.neuron_map
        neuron_map.build(input_size)
        units = neuron_map.units
        self.kernel = nn.init.glorot_uniform()(mx.zeros((neuron_map.input_dim, units)))
        self.recurrent_kernel = nn.init.orthogonal()(mx.zeros((units, units)))
        if self.use_bias:
            self.bias = mx.zeros((units,))
        self._sensory_mask = mx.array(neuron_map.get_sensory_mask(), dtype=mx.float32)
        self._recurrent_mask = mx.array(neuron_map.get_recurrent_mask(), dtype=mx.float32)

    def __call__(self, x: Any, state: Any = None, return_state: bool = False) -> Any:
        if getattr(x, "ndim", None) != 2:
            given = tuple(x.shape) if hasattr(x, "shape") else type(x).__name__
            raise ValueError(f"x: expected shape (batch, input_size), got {given}")
        if not self.neuron_map.is_built():
            self._build(x.shape[1])
        if x.shape[1] != self.input_size:
            raise ValueError(f"x: expected shape (batch, {self.input_size}), got {tuple(x.shape)}")
        batch = x.shape[0]
        x, state = in_model_dtype((x, state), self.kernel.dtype)
        z = x @ masked(self.kernel, self._sensory_mask)
        if state is not None:
            check_state(state, batch, self.units, "state")
            z = z + state @ masked(self.recurrent_kernel, self._recurrent_mask)
        if self.use_bias:
            z = z + self.bias
        h = self.activation(z)
        y = h[:, : self.output_size]
        return (y, h) if return_state else y


class AutoNCP(NCP):
    r"""An :class:`NCP` on an :class:`~ember_mlx.nn.AutoNCPMap`: sized by ``units`` and
    ``output_size``, wired as ncps's ``AutoNCP``.

    Args:
        units: Total number of neurons.
        output_size: Number of motor neurons (the output); less than ``units - 2``.
        sparsity_level: In ``[0.1, 1.0]``: the fraction of possible synapses left out.
        seed: Seed of the wiring; ``None`` draws one (recorded in :meth:`get_config`).
        activation: See :class:`NCP`.
        use_bias: See :class:`NCP`.
        input_size: See :class:`NCP`.
    """

    def __init__(
        self,
        units: int,
        output_size: int,
        sparsity_level: float = 0.5,
        seed: int | None = 22222,
        activation: str | Callable[[Any], Any] = "tanh",
        use_bias: bool = True,
        input_size: int | None = None,
    ):
        neuron_map = AutoNCPMap(units, output_size, sparsity_level, seed)
        super().__init__(neuron_map, input_size, activation, use_bias)

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, with the seed the map drew when given ``None`` (so that
        a loaded model gets the same wiring)."""
        config = super().get_config()
        config["seed"] = self.neuron_map.seed
        return config
