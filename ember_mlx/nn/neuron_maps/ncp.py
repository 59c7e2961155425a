"""Neural Circuit Policy maps: sensory -> inter -> command -> motor, as in ncps.

An NCP (Lechner et al., 2020) wires four groups in a chain. Each input synapses onto
``sensory_fanout`` inter neurons, each inter neuron onto ``inter_fanout`` command neurons, each
motor neuron receives ``motor_fanin`` command neurons, and ``recurrent_command_synapses``
synapses link command neurons among themselves. No other synapses exist. After each stage,
neurons the draws left unconnected get synapses of their own, so that every inter neuron has an
input, and every command neuron an inter input and a motor output.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ember_mlx.nn.neuron_maps.base import NeuronMap
from ember_mlx.validation import check_count, check_fraction, check_index


class NCPMap(NeuronMap):
    r"""An NCP map, drawn exactly as ncps's ``NCP`` for the same sizes, fanouts and seed.

    Neuron ids are ``[motor | command | inter]``; ``units = inter + command + motor`` and
    ``output_dim = motor``. The inputs are the sensory neurons, so they do not count in ``units``.

    Each fanout is given directly (as in ncps) or derived from a sparsity :math:`s` of its group
    pair, as ncps's ``AutoNCP`` does, with density :math:`\rho = 1 - s`:

    .. math::

        \text{sensory\_fanout} = \max(\lfloor \text{inter} \cdot \rho \rfloor, 1), \quad
        \text{inter\_fanout} = \text{motor\_fanin} = \max(\lfloor \text{command} \cdot \rho
        \rfloor, 1), \quad
        \text{recurrent} = \max(\lfloor 2\, \text{command} \cdot \rho \rfloor, 1)

    A pair's own sparsity (``sensory_to_inter_sparsity`` and so on) takes precedence over
    ``sparsity_level``. Sparsities lie in :math:`[0, 1]`: at 1 every fanout is 1, the sparsest NCP.

    Every synapse is drawn when the map is built, from ``numpy.random.RandomState(seed)`` (whose
    stream numpy keeps fixed), so the map depends on the input size. Polarities are :math:`\pm 1`
    with probability 1/2.

    Args:
        inter_neurons: Number of inter neurons (layer 0 of a wired CfC cell).
        command_neurons: Number of command neurons (layer 1).
        motor_neurons: Number of motor neurons, the outputs (layer 2).
        sensory_fanout: Inter neurons each input synapses onto, in ``[1, inter_neurons]``.
        inter_fanout: Command neurons each inter neuron synapses onto, in
            ``[1, command_neurons]``.
        recurrent_command_synapses: Number of command -> command draws (``>= 0``); a draw may
            repeat a pair or be a self-synapse.
        motor_fanin: Command neurons each motor neuron receives, in ``[1, command_neurons]``.
        seed: Seed of the draws.
        sensory_neurons: Number of inputs; when given the map is built at once.
        sparsity_level: Sparsity of the group pairs given neither a fanout nor a sparsity.
        sensory_to_inter_sparsity: Sparsity that sets ``sensory_fanout``.
        inter_to_command_sparsity: Sparsity that sets ``inter_fanout``.
        command_to_command_sparsity: Sparsity that sets ``recurrent_command_synapses``.
        command_to_motor_sparsity: Sparsity that sets ``motor_fanin``.
    """

    def __init__(
        self,
        inter_neurons: int,
        command_neurons: int,
        motor_neurons: int,
        sensory_fanout: int | None = None,
        inter_fanout: int | None = None,
        recurrent_command_synapses: int | None = None,
        motor_fanin: int | None = None,
        seed: int | None = 22222,
        *,
        sensory_neurons: int | None = None,
        sparsity_level: float = 0.5,
        sensory_to_inter_sparsity: float | None = None,
        inter_to_command_sparsity: float | None = None,
        command_to_command_sparsity: float | None = None,
        command_to_motor_sparsity: float | None = None,
    ):
        inter = check_count("inter_neurons", inter_neurons)
        command = check_count("command_neurons", command_neurons)
        motor = check_count("motor_neurons", motor_neurons)
        super().__init__(inter + command + motor, motor, sparsity_level=sparsity_level, seed=seed)
        self._group_sizes = {"motor": motor, "command": command, "inter": inter}
        self.sensory_fanout = self._fanout(
            "sensory_fanout", sensory_fanout, sensory_to_inter_sparsity, "sensory", "inter"
        )
        self.inter_fanout = self._fanout(
            "inter_fanout", inter_fanout, inter_to_command_sparsity, "inter", "command"
        )
        self.recurrent_command_synapses = self._fanout(
            "recurrent_command_synapses",
            recurrent_command_synapses,
            command_to_command_sparsity,
            "command",
            "command",
        )
        self.motor_fanin = self._fanout(
            "motor_fanin", motor_fanin, command_to_motor_sparsity, "command", "motor"
        )
        if sensory_neurons is not None:
            self.build(check_count("sensory_neurons", sensory_neurons))

    def _fanout(
        self, name: str, fanout: int | None, sparsity: float | None, src: str, dest: str
    ) -> int:
        """A fanout as given, or derived from the ``src -> dest`` sparsity as AutoNCP does.

        A fanout counts neurons of the destination group (for ``motor_fanin``, of the source
        group), which also bounds it; the recurrent synapses are independent draws, unbounded,
        twice as many as a fanout of the command group.
        """
        sparsity_name = f"{src}_to_{dest}_sparsity"
        recurrent = src == dest
        group = src if dest == "motor" else dest
        size = self._group_sizes[group]
        if fanout is not None and sparsity is not None:
            raise ValueError(f"{name}, {sparsity_name}: give one of them, got both")
        if fanout is None:
            if sparsity is not None:
                sparsity = check_fraction(sparsity_name, sparsity)
            density = 1.0 - (self.sparsity_level if sparsity is None else sparsity)
            # Same float operations in the same order as AutoNCP, so int() truncates alike.
            return max(int(size * density * (2 if recurrent else 1)), 1)
        if recurrent:
            return check_count(name, fanout, minimum=0)
        fanout = check_count(name, fanout)
        if fanout > size:
            raise ValueError(
                f"{name}: expected at most {size}, the number of {group} neurons, got {fanout}"
            )
        return fanout

    @property
    def num_layers(self) -> int:
        """Three layers: inter, command, motor."""
        return 3

    def get_neurons_of_layer(self, layer: int) -> range:
        """Neuron ids of layer 0 (inter), 1 (command) or 2 (motor)."""
        layer = check_index("layer", layer, self.num_layers, "a layer")
        return self.get_neuron_group(("inter", "command", "motor")[layer])

    def _draw_at_build(self) -> None:
        # The draws below call numpy in ncps's order. Where ncps draws one polarity per synapse
        # of a row in a loop, one vectorised call here gives the same RandomState stream.
        rng = np.random.RandomState(self.seed)
        sensory, inter, command, motor = (
            np.asarray(self.get_neuron_group(g)) for g in ("sensory", "inter", "command", "motor")
        )
        adjacency, sensory_adjacency = self.adjacency_matrix, self.sensory_adjacency_matrix

        def polarities(count: int) -> np.ndarray:
            return rng.choice([-1, 1], size=count)

        def fill_in(count: int, group_fanout: int, group_size: int, limit: int) -> int:
            # ncps's fan for neurons the first pass missed: the mean fan, clipped to [1, limit].
            return int(np.clip(int(count * group_fanout / group_size), 1, limit))

        # 1. sensory -> inter: each input onto sensory_fanout inter neurons.
        reached = set()
        for src in sensory:
            dests = rng.choice(inter, size=self.sensory_fanout, replace=False)
            sensory_adjacency[src, dests] = polarities(len(dests))
            reached.update(dests.tolist())
        fan = fill_in(len(sensory), self.sensory_fanout, len(inter), len(sensory))
        for dest in (d for d in inter.tolist() if d not in reached):
            srcs = rng.choice(sensory, size=fan, replace=False)
            sensory_adjacency[srcs, dest] = polarities(fan)

        # 2. inter -> command: each inter neuron onto inter_fanout command neurons. ncps clips the
        # fill-in fan to the command count although it samples inter neurons; the fan never
        # exceeds the inter count, so the bound is kept as is.
        reached = set()
        for src in inter:
            dests = rng.choice(command, size=self.inter_fanout, replace=False)
            adjacency[src, dests] = polarities(len(dests))
            reached.update(dests.tolist())
        fan = fill_in(len(inter), self.inter_fanout, len(command), len(command))
        for dest in (d for d in command.tolist() if d not in reached):
            srcs = rng.choice(inter, size=fan, replace=False)
            adjacency[srcs, dest] = polarities(fan)

        # 3. command -> command: independent draws; a later one may overwrite an earlier one.
        for _ in range(self.recurrent_command_synapses):
            src = rng.choice(command)
            dest = rng.choice(command)
            adjacency[src, dest] = rng.choice([-1, 1])

        # 4. command -> motor: each motor neuron receives motor_fanin command neurons.
        reached = set()
        for dest in motor:
            srcs = rng.choice(command, size=self.motor_fanin, replace=False)
            adjacency[srcs, dest] = polarities(len(srcs))
            reached.update(srcs.tolist())
        fan = fill_in(len(motor), self.motor_fanin, len(command), len(motor))
        for src in (s for s in command.tolist() if s not in reached):
            dests = rng.choice(motor, size=fan, replace=False)
            adjacency[src, dests] = polarities(fan)

    def _arguments(self) -> dict[str, Any]:
        return {
            "inter_neurons": self._group_sizes["inter"],
            "command_neurons": self._group_sizes["command"],
            "motor_neurons": self._group_sizes["motor"],
            "sensory_fanout": self.sensory_fanout,
            "inter_fanout": self.inter_fanout,
            "recurrent_command_synapses": self.recurrent_command_synapses,
            "motor_fanin": self.motor_fanin,
            "seed": self.seed,
            "sensory_neurons": self.input_dim,
            "sparsity_level": self.sparsity_level,
        }


class AutoNCPMap(NCPMap):
    r"""An NCP map sized from ``units`` and ``output_size``: ncps's ``AutoNCP`` wiring.

    With :math:`c = \text{units} - \text{output\_size}`, there are
    :math:`\max(\lfloor 0.4\, c \rfloor, 1)` command neurons and the rest of :math:`c` are inter
    neurons; the fanouts follow from ``sparsity_level`` as in :class:`NCPMap`. For the same
    arguments and input size the matrices equal ncps's ``AutoNCP``.

    (ember_mlx's ``AutoNCP`` is the module built on this map.)

    Args:
        units: Total number of neurons.
        output_size: Number of motor neurons; must be less than ``units - 2``.
        sparsity_level: In ``[0.1, 1.0]``, ncps's range (its error message says 0.9, but it
            accepts 1.0, where every fanout is 1).
        seed: Seed of the draws.
        input_dim: Number of inputs; when given the map is built at once.
    """

    def __init__(
        self,
        units: int,
        output_size: int,
        sparsity_level: float = 0.5,
        seed: int | None = 22222,
        *,
        input_dim: int | None = None,
    ):
        units = check_count("units", units)
        output_size = check_count("output_size", output_size)
        if output_size >= units - 2:
            raise ValueError(
                f"output_size: expected less than units - 2 = {units - 2} so that inter and "
                f"command neurons remain, got {output_size}"
            )
        sparsity_level = check_fraction("sparsity_level", sparsity_level, low=0.1, high=1.0)
        inter_and_command = units - output_size
        command = max(int(0.4 * inter_and_command), 1)
        super().__init__(
            inter_and_command - command,
            command,
            output_size,
            seed=seed,
            sensory_neurons=input_dim,
            sparsity_level=sparsity_level,
        )

    def _arguments(self) -> dict[str, Any]:
        return {
            "units": self.units,
            "output_size": self.output_dim,
            "sparsity_level": self.sparsity_level,
            "seed": self.seed,
            "input_dim": self.input_dim,
        }
