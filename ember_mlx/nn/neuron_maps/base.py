"""The neuron map: which neurons a wired cell connects, and with which sign.

A neuron map of ``units`` neurons fed by ``input_dim`` input features holds two signed integer
matrices, both indexed ``[source, destination]`` as in ncps:

* ``adjacency_matrix`` (``units x units``): synapses between neurons;
* ``sensory_adjacency_matrix`` (``input_dim x units``): synapses from the inputs.

An entry is :math:`+1` for an excitatory synapse, :math:`-1` for an inhibitory one and :math:`0`
for none. Maps are drawn on the host with numpy, so a map is the same on every backend; cells turn
the matrices into masks and reversal potentials of their own array type.

Neuron ids are laid out ``[motor | command | inter]``: the ``output_dim`` motor neurons, whose
states are the cell's outputs, are ids ``0 .. output_dim - 1``. Inputs are the *sensory* group,
numbered in their own id space (the rows of the sensory matrix).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ember_mlx.validation import check_count, check_fraction, check_index, resolve_seed

GROUPS = ("sensory", "inter", "command", "motor")


class NeuronMap:
    """A hand-wired neuron map, and the base class of the drawn ones.

    A plain ``NeuronMap`` starts with no synapses; add them with :meth:`add_synapse` and
    :meth:`add_sensory_synapse`. Subclasses draw their synapses from ``seed``: those that need
    the input size when the map is built, the others at construction.

    Args:
        units: Number of neurons (the cell's state size).
        output_dim: Number of motor neurons, the ids ``0 .. output_dim - 1``. Default: ``units``.
        input_dim: Number of input features. When given the map is built at once; otherwise
            :meth:`build` sets it (a cell does so with its input size).
        sparsity_level: Fraction of possible synapses a drawn map leaves out (used by
            subclasses).
        seed: Seed of the subclass's draws; ``None`` draws one, recorded in :meth:`get_config`.
    """

    def __init__(
        self,
        units: int,
        output_dim: int | None = None,
        input_dim: int | None = None,
        sparsity_level: float = 0.5,
        seed: int | None = None,
    ):
        self.units = check_count("units", units)
        self.output_dim = (
            self.units if output_dim is None else check_count("output_dim", output_dim)
        )
        if self.output_dim > self.units:
            raise ValueError(
                f"output_dim: the motor neurons are among the {self.units} units, "
                f"so expected at most {self.units}, got {self.output_dim}"
            )
        self.sparsity_level = check_fraction("sparsity_level", sparsity_level)
        self.seed = resolve_seed(seed)
        self.adjacency_matrix = np.zeros((self.units, self.units), dtype=np.int32)
        self.sensory_adjacency_matrix: np.ndarray | None = None
        self.input_dim: int | None = None
        # Group sizes in id order [motor | command | inter]; NCPMap sets its own.
        self._group_sizes = {
            "motor": self.output_dim,
            "command": 0,
            "inter": self.units - self.output_dim,
        }
        # Subclasses pass input_dim=None here and build once their own draws are set up.
        if input_dim is not None:
            self.build(input_dim)

    # ----------------------------------------------------------------------------- building

    def is_built(self) -> bool:
        """Whether the input size is known and every synapse drawn."""
        return self.input_dim is not None

    def build(self, input_dim: int | None = None) -> None:
        """Set the input size and draw the synapses that depend on it.

        Building is idempotent: building a built map again with the same ``input_dim`` (or with
        ``None``) changes nothing. ncps instead draws the synapses a second time.

        Raises:
            ValueError: if the map is built for a different ``input_dim``, or if ``input_dim``
                is ``None`` for a map that is not built.
        """
        if self.input_dim is not None:
            if input_dim is not None and check_count("input_dim", input_dim) != self.input_dim:
                raise ValueError(
                    f"input_dim: the map is built for {self.input_dim} inputs, got {input_dim}"
                )
            return
        if input_dim is None:
            raise ValueError(f"input_dim: {type(self).__name__} is not built; give the input size")
        self.input_dim = check_count("input_dim", input_dim)
        self.sensory_adjacency_matrix = np.zeros((self.input_dim, self.units), dtype=np.int32)
        self._draw_at_build()

    def _draw_at_build(self) -> None:
        """Draw the synapses that need ``input_dim``; a hand-wired map draws none."""

    def _require_built(self, what: str) -> None:
        if self.input_dim is None:
            raise ValueError(
                f"{what}: {type(self).__name__} is not built; call build(input_dim) first"
            )

    # ----------------------------------------------------------------------------- synapses

    def add_synapse(self, src: int, dest: int, polarity: int) -> None:
        """Connect neuron ``src`` to neuron ``dest`` with ``polarity`` +1 or -1 (overwrites)."""
        src = check_index("src", src, self.units, "a neuron")
        dest = check_index("dest", dest, self.units, "a neuron")
        self.adjacency_matrix[src, dest] = _check_polarity(polarity)

    def add_sensory_synapse(self, src: int, dest: int, polarity: int) -> None:
        """Connect input ``src`` to neuron ``dest`` with ``polarity`` +1 or -1 (overwrites)."""
        self._require_built("add_sensory_synapse")
        src = check_index("src", src, self.input_dim, "an input")
        dest = check_index("dest", dest, self.units, "a neuron")
        self.sensory_adjacency_matrix[src, dest] = _check_polarity(polarity)

    @property
    def synapse_count(self) -> int:
        """Number of synapses between neurons."""
        return int(np.count_nonzero(self.adjacency_matrix))

    @property
    def sensory_synapse_count(self) -> int:
        """Number of synapses from the inputs (0 before the map is built)."""
        if self.sensory_adjacency_matrix is None:
            return 0
        return int(np.count_nonzero(self.sensory_adjacency_matrix))

    # ----------------------------------------------------------------------- what cells read

    @property
    def state_size(self) -> int:
        """Size of the state of a cell wired by this map: one value per neuron."""
        return self.units

    @property
    def motor_neurons(self) -> range:
        """Ids of the motor neurons, whose states are the cell's outputs."""
        return range(self.output_dim)

    def get_neuron_groups(self) -> dict[str, range]:
        """The id range of each group, in the order sensory, inter, command, motor.

        Sensory ids index the inputs (rows of ``sensory_adjacency_matrix``), the others index
        neurons. Maps other than NCPs have no command neurons, and their non-motor neurons are
        inter neurons.
        """
        motor, command = self._group_sizes["motor"], self._group_sizes["command"]
        return {
            "sensory": range(self.input_dim or 0),
            "inter": range(motor + command, self.units),
            "command": range(motor, motor + command),
            "motor": range(motor),
        }

    def get_neuron_group(self, group: str) -> range:
        """The id range of one group: ``"sensory"``, ``"inter"``, ``"command"`` or ``"motor"``."""
        groups = self.get_neuron_groups()
        if group not in groups:
            raise ValueError(f"group: expected one of {GROUPS}, got {group!r}")
        return groups[group]

    def get_type_of_neuron(self, neuron_id: int) -> str:
        """The group (``"inter"``, ``"command"`` or ``"motor"``) of neuron ``neuron_id``."""
        neuron_id = check_index("neuron_id", neuron_id, self.units, "a neuron")
        motor, command = self._group_sizes["motor"], self._group_sizes["command"]
        if neuron_id < motor:
            return "motor"
        return "command" if neuron_id < motor + command else "inter"

    @property
    def num_layers(self) -> int:
        """Number of layers a wired CfC cell stacks: one, all neurons, unless an NCP."""
        return 1

    def get_neurons_of_layer(self, layer: int) -> range:
        """Neuron ids of layer ``layer`` (for a single-layer map, every neuron)."""
        check_index("layer", layer, self.num_layers, "a layer")
        return range(self.units)

    def get_input_mask(self) -> np.ndarray:
        """``(input_dim,)`` int32: 1 for each input with at least one synapse."""
        self._require_built("get_input_mask")
        return np.any(self.sensory_adjacency_matrix != 0, axis=1).astype(np.int32)

    def get_sensory_mask(self) -> np.ndarray:
        """``(input_dim, units)`` int32: :math:`|S|`, 1 where an input synapse exists."""
        self._require_built("get_sensory_mask")
        return np.abs(self.sensory_adjacency_matrix)

    def get_recurrent_mask(self) -> np.ndarray:
        """``(units, units)`` int32: :math:`|A|`, 1 where a synapse between neurons exists."""
        self._require_built("get_recurrent_mask")
        return np.abs(self.adjacency_matrix)

    def get_output_mask(self) -> np.ndarray:
        """``(units,)`` int32: 1 for the motor neurons."""
        mask = np.zeros(self.units, dtype=np.int32)
        mask[: self.output_dim] = 1
        return mask

    def erev_initializer(self) -> np.ndarray:
        """A copy of ``adjacency_matrix``: the signs of the LTC reversal potentials."""
        self._require_built("erev_initializer")
        return self.adjacency_matrix.copy()

    def sensory_erev_initializer(self) -> np.ndarray:
        """A copy of ``sensory_adjacency_matrix``: the signs of the sensory reversal potentials."""
        self._require_built("sensory_erev_initializer")
        return self.sensory_adjacency_matrix.copy()

    # ------------------------------------------------------------------------ serialisation

    def _arguments(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this map."""
        return {
            "units": self.units,
            "output_dim": self.output_dim,
            "input_dim": self.input_dim,
            "sparsity_level": self.sparsity_level,
            "seed": self.seed,
        }

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments plus both matrices, as JSON-ready values.

        The matrices make the round trip exact whatever happened after the draws (hand-added
        synapses, a numpy whose ``Generator`` streams changed).
        """
        sensory = self.sensory_adjacency_matrix
        return {
            **self._arguments(),
            "adjacency_matrix": self.adjacency_matrix.tolist(),
            "sensory_adjacency_matrix": None if sensory is None else sensory.tolist(),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> NeuronMap:
        """The map :meth:`get_config` describes, with the same matrices."""
        if not isinstance(config, dict):
            raise TypeError(f"config: expected a dict, got {type(config).__name__}")
        arguments = dict(config)
        adjacency = arguments.pop("adjacency_matrix", None)
        sensory = arguments.pop("sensory_adjacency_matrix", None)
        neuron_map = cls(**arguments)
        if adjacency is not None:
            neuron_map.adjacency_matrix = _check_matrix(
                "adjacency_matrix", adjacency, (neuron_map.units, neuron_map.units)
            )
        if sensory is not None:
            neuron_map._require_built("from_config with a sensory_adjacency_matrix")
            neuron_map.sensory_adjacency_matrix = _check_matrix(
                "sensory_adjacency_matrix", sensory, (neuron_map.input_dim, neuron_map.units)
            )
        return neuron_map

    def __repr__(self) -> str:
        arguments = ", ".join(f"{k}={v!r}" for k, v in self._arguments().items())
        return f"{type(self).__name__}({arguments})"

    # ------------------------------------------------------------------------------- graphs

    def to_graph(self) -> dict[str, Any]:
        """The map as plain data: nodes with their group, and signed edges.

        Returns:
            ``{"nodes": {name: group}, "edges": [(src, dest, polarity), ...]}``, where inputs are
            named ``"sensory_{i}"``, neurons ``"neuron_{i}"`` (as in ncps), and ``polarity`` is
            +1 or -1. There is one edge per synapse.
        """
        self._require_built("to_graph")
        nodes = {f"neuron_{i}": self.get_type_of_neuron(i) for i in range(self.units)}
        nodes.update({f"sensory_{i}": "sensory" for i in range(self.input_dim)})
        edges = [
            (f"sensory_{s}", f"neuron_{d}", int(self.sensory_adjacency_matrix[s, d]))
            for s, d in zip(*np.nonzero(self.sensory_adjacency_matrix), strict=True)
        ]
        edges += [
            (f"neuron_{s}", f"neuron_{d}", int(self.adjacency_matrix[s, d]))
            for s, d in zip(*np.nonzero(self.adjacency_matrix), strict=True)
        ]
        return {"nodes": nodes, "edges": edges}

    def to_networkx(self) -> Any:
        """The map as a ``networkx.DiGraph``, laid out like ncps's ``Wiring.get_graph()``.

        Nodes carry ``neuron_type`` (their group); edges carry ``polarity``, ``"excitatory"`` or
        ``"inhibitory"``. Needs networkx (not a dependency of ember_mlx); :meth:`to_graph` gives
        the same graph as plain data.
        """
        try:
            import networkx as nx
        except ImportError as error:
            raise ImportError(
                "to_networkx needs networkx (pip install networkx); to_graph() needs nothing"
            ) from error
        graph = self.to_graph()
        digraph = nx.DiGraph()
        for name, group in graph["nodes"].items():
            digraph.add_node(name, neuron_type=group)
        for src, dest, polarity in graph["edges"]:
            digraph.add_edge(src, dest, polarity="excitatory" if polarity > 0 else "inhibitory")
        return digraph

    def draw(
        self,
        ax: Any = None,
        *,
        neuron_colors: dict[str, str] | None = None,
        synapse_colors: dict[str, str] | None = None,
        draw_labels: bool = False,
    ) -> Any:
        """Draw the map with matplotlib and return the ``Figure``.

        See :func:`ember_mlx.nn.neuron_maps.plot.draw_neuron_map` for the layout and arguments.
        """
        from ember_mlx.nn.neuron_maps.plot import draw_neuron_map

        return draw_neuron_map(
            self,
            ax,
            neuron_colors=neuron_colors,
            synapse_colors=synapse_colors,
            draw_labels=draw_labels,
        )


def _check_polarity(polarity: Any) -> int:
    if isinstance(polarity, bool) or polarity not in (-1, 1):
        raise ValueError(f"polarity: expected -1 (inhibitory) or +1 (excitatory), got {polarity!r}")
    return int(polarity)


def _check_matrix(name: str, value: Any, shape: tuple[int, int]) -> np.ndarray:
    matrix = np.asarray(value)
    if matrix.shape != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {matrix.shape}")
    if not np.isin(matrix, (-1, 0, 1)).all():
        raise ValueError(f"{name}: expected entries -1, 0 or +1")
    return matrix.astype(np.int32)
