"""Neuron maps: exact equality with ncps's wirings, NCP invariants, config, graphs, plots, errors.

The maps are pure numpy, so these tests do not depend on the backend.
"""

import json

import numpy as np
import pytest

from ember_mlx.nn.neuron_maps import (
    GROUPS,
    AutoNCPMap,
    FullyConnectedMap,
    NCPMap,
    NeuronMap,
    RandomMap,
    draw_neuron_map,
)

wirings = pytest.importorskip("ncps.wirings")


def built_ncps(wiring, input_dim):
    wiring.build(input_dim)
    return wiring


def assert_same_matrices(ours, theirs):
    assert ours.adjacency_matrix.dtype == np.int32
    assert ours.sensory_adjacency_matrix.dtype == np.int32
    np.testing.assert_array_equal(ours.adjacency_matrix, theirs.adjacency_matrix)
    np.testing.assert_array_equal(ours.sensory_adjacency_matrix, theirs.sensory_adjacency_matrix)


# ------------------------------------------------------------------------- parity with ncps

AUTO_NCP_CASES = [
    # (units, output_size, sparsity_level, seed, input_dim); the first is ncps's default.
    (16, 4, 0.5, 22222, 8),
    (16, 4, 0.5, 22222, 2),
    (28, 10, 0.5, 22222, 3),
    (32, 1, 0.5, 7, 2),
    (64, 8, 0.5, 123, 16),
    (16, 4, 0.1, 5, 8),
    (16, 4, 0.7, 5, 8),
    (16, 4, 0.9, 5, 8),
    (16, 4, 1.0, 5, 8),
    (10, 3, 0.4, 0, 5),
    (20, 3, 0.5, 42, 1),
    (5, 1, 0.3, 9, 30),
]


@pytest.mark.parametrize("units, output_size, sparsity, seed, input_dim", AUTO_NCP_CASES)
def test_auto_ncp_map_equals_ncps(units, output_size, sparsity, seed, input_dim):
    theirs = built_ncps(wirings.AutoNCP(units, output_size, sparsity, seed), input_dim)
    ours = AutoNCPMap(units, output_size, sparsity, seed, input_dim=input_dim)
    assert_same_matrices(ours, theirs)
    for layer in range(3):
        assert list(ours.get_neurons_of_layer(layer)) == list(theirs.get_neurons_of_layer(layer))
    assert [ours.get_type_of_neuron(i) for i in range(units)] == [
        theirs.get_type_of_neuron(i) for i in range(units)
    ]


def test_auto_ncp_map_defaults_equal_ncps_defaults():
    ours = AutoNCPMap(16, 4)
    ours.build(8)
    assert_same_matrices(ours, built_ncps(wirings.AutoNCP(16, 4), 8))
    assert (ours.synapse_count, ours.sensory_synapse_count) == (28, 32)


NCP_CASES = [
    # (inter, command, motor, sensory_fanout, inter_fanout, recurrent, motor_fanin, seed, inputs)
    (10, 10, 8, 6, 6, 4, 6, 22222, 8),  # ncps's test_torch.py wiring, default seed
    (10, 10, 8, 6, 6, 4, 6, 22222, 2),
    (5, 3, 2, 2, 1, 0, 3, 1, 4),
    (12, 6, 4, 1, 6, 10, 1, 99, 3),
    (3, 2, 6, 3, 2, 2, 2, 4, 10),
]


@pytest.mark.parametrize("inter, command, motor, sfan, ifan, rec, mfan, seed, inputs", NCP_CASES)
def test_ncp_map_equals_ncps(inter, command, motor, sfan, ifan, rec, mfan, seed, inputs):
    theirs = built_ncps(wirings.NCP(inter, command, motor, sfan, ifan, rec, mfan, seed), inputs)
    ours = NCPMap(inter, command, motor, sfan, ifan, rec, mfan, seed, sensory_neurons=inputs)
    assert_same_matrices(ours, theirs)
    assert (ours.units, ours.output_dim) == (theirs.units, theirs.output_dim)


@pytest.mark.parametrize("sparsity", [0.2, 0.5, 0.7])
def test_ncp_map_from_sparsity_equals_auto_ncp(sparsity):
    theirs = built_ncps(wirings.AutoNCP(40, 6, sparsity, 3), 5)
    # AutoNCP(40, 6) has 21 inter and 13 command neurons.
    ours = NCPMap(21, 13, 6, seed=3, sensory_neurons=5, sparsity_level=sparsity)
    assert_same_matrices(ours, theirs)


FULLY_CONNECTED_CASES = [
    # (units, output_dim, self_connections, seed, input_dim); the first is ncps's default.
    (8, None, True, 1111, 4),
    (8, 3, True, 1111, 1),
    (12, 5, False, 7, 6),
    (30, 30, True, 2, 3),
]


@pytest.mark.parametrize("units, output_dim, self_connections, seed, inputs", FULLY_CONNECTED_CASES)
def test_fully_connected_map_equals_ncps(units, output_dim, self_connections, seed, inputs):
    theirs = built_ncps(wirings.FullyConnected(units, output_dim, seed, self_connections), inputs)
    ours = FullyConnectedMap(units, output_dim, inputs, self_connections, seed)
    assert_same_matrices(ours, theirs)
    assert ours.output_dim == theirs.output_dim
    diagonal = units if self_connections else 0
    assert ours.synapse_count == units * (units - 1) + diagonal
    assert ours.sensory_synapse_count == inputs * units


def test_fully_connected_map_defaults_equal_ncps_defaults():
    assert_same_matrices(
        FullyConnectedMap(8, input_dim=4), built_ncps(wirings.FullyConnected(8), 4)
    )


RANDOM_CASES = [
    # (units, output_dim, sparsity, seed, input_dim); the first is ncps's default sparsity 0.
    (8, None, 0.0, 1111, 4),
    (12, 3, 0.5, 5, 7),
    (20, 4, 0.9, 11, 3),
    (5, 2, 0.99, 3, 3),
    (110, 10, 0.99, 2, 2),  # few of over 10,000 pairs: numpy samples them another way
]


@pytest.mark.parametrize("units, output_dim, sparsity, seed, inputs", RANDOM_CASES)
def test_random_map_equals_ncps(units, output_dim, sparsity, seed, inputs):
    theirs = built_ncps(wirings.Random(units, output_dim, sparsity, seed), inputs)
    ours = RandomMap(units, output_dim, inputs, sparsity, seed)
    assert_same_matrices(ours, theirs)
    assert ours.synapse_count == int(np.round(units * units * (1 - sparsity)))
    assert ours.sensory_synapse_count == int(np.round(inputs * units * (1 - sparsity)))


# The sizes ncps's AutoNCP derives (reference §1.5): inter, command, motor; fanouts.
AUTO_NCP_SIZES = {
    (16, 4, 0.5): (8, 4, 4, 4, 2, 4, 2),
    (28, 10, 0.5): (11, 7, 10, 5, 3, 7, 3),
    (32, 1, 0.5): (19, 12, 1, 9, 6, 12, 6),
    (64, 8, 0.5): (34, 22, 8, 17, 11, 22, 11),
    (16, 4, 0.1): (8, 4, 4, 7, 3, 7, 3),
    (16, 4, 0.9): (8, 4, 4, 1, 1, 1, 1),
    (16, 4, 1.0): (8, 4, 4, 1, 1, 1, 1),
    (10, 3, 0.4): (5, 2, 3, 3, 1, 2, 1),
    (20, 3, 0.5): (11, 6, 3, 5, 3, 6, 3),
}


@pytest.mark.parametrize("arguments, sizes", AUTO_NCP_SIZES.items())
def test_auto_ncp_map_sizes(arguments, sizes):
    neuron_map = AutoNCPMap(*arguments)
    groups = neuron_map.get_neuron_groups()
    fanouts = (
        neuron_map.sensory_fanout,
        neuron_map.inter_fanout,
        neuron_map.recurrent_command_synapses,
        neuron_map.motor_fanin,
    )
    assert (len(groups["inter"]), len(groups["command"]), len(groups["motor"])) == sizes[:3]
    assert fanouts == sizes[3:]
    assert neuron_map.units == arguments[0] and neuron_map.output_dim == arguments[1]


# ------------------------------------------------------------------------------- invariants


def all_maps():
    return [
        NeuronMap(5, 2, input_dim=3),
        FullyConnectedMap(6, 2, input_dim=3),
        RandomMap(9, 3, input_dim=4, sparsity_level=0.6, seed=3),
        NCPMap(7, 4, 3, seed=1, sensory_neurons=5),
        AutoNCPMap(24, 5, 0.6, seed=8, input_dim=6),
    ]


@pytest.mark.parametrize("neuron_map", all_maps(), ids=lambda m: type(m).__name__)
def test_matrices_are_signed_int32(neuron_map):
    for matrix in (neuron_map.adjacency_matrix, neuron_map.sensory_adjacency_matrix):
        assert matrix.dtype == np.int32
        assert set(np.unique(matrix).tolist()) <= {-1, 0, 1}
    assert neuron_map.adjacency_matrix.shape == (neuron_map.units, neuron_map.units)
    assert neuron_map.sensory_adjacency_matrix.shape == (neuron_map.input_dim, neuron_map.units)
    assert neuron_map.state_size == neuron_map.units
    assert neuron_map.synapse_count == np.count_nonzero(neuron_map.adjacency_matrix)
    assert neuron_map.sensory_synapse_count == np.count_nonzero(neuron_map.sensory_adjacency_matrix)


@pytest.mark.parametrize("seed", range(6))
def test_ncp_connects_only_along_the_chain_and_reaches_every_neuron(seed):
    neuron_map = NCPMap(9, 5, 3, 2, 2, 3, 2, seed=seed, sensory_neurons=6)
    groups = {g: list(r) for g, r in neuron_map.get_neuron_groups().items()}
    sensory = neuron_map.sensory_adjacency_matrix != 0
    adjacency = neuron_map.adjacency_matrix != 0
    allowed = np.zeros_like(adjacency)
    for src, dest in (("inter", "command"), ("command", "command"), ("command", "motor")):
        allowed[np.ix_(groups[src], groups[dest])] = True
    assert not (adjacency & ~allowed).any()
    assert not sensory[:, groups["command"] + groups["motor"]].any()
    # Fanouts are reached by every source, and the fill-in leaves no neuron unconnected.
    assert (sensory.sum(axis=1) >= neuron_map.sensory_fanout).all()
    assert sensory[:, groups["inter"]].any(axis=0).all()
    assert (adjacency[np.ix_(groups["inter"], groups["command"])].sum(axis=1) == 2).all()
    assert adjacency[np.ix_(groups["inter"], groups["command"])].any(axis=0).all()
    assert (adjacency[np.ix_(groups["command"], groups["motor"])].sum(axis=0) >= 2).all()
    assert adjacency[np.ix_(groups["command"], groups["motor"])].any(axis=1).all()


def test_ncp_map_groups_masks_and_layers():
    neuron_map = NCPMap(inter_neurons=10, command_neurons=4, motor_neurons=3, seed=42)
    assert (neuron_map.units, neuron_map.output_dim, neuron_map.input_dim) == (17, 3, None)
    assert not neuron_map.is_built()
    neuron_map.build(5)
    assert neuron_map.get_neuron_groups() == {
        "sensory": range(5),
        "inter": range(7, 17),
        "command": range(3, 7),
        "motor": range(3),
    }
    assert neuron_map.motor_neurons == range(3)
    assert [neuron_map.get_neurons_of_layer(i) for i in range(3)] == [
        range(7, 17),
        range(3, 7),
        range(3),
    ]
    np.testing.assert_array_equal(neuron_map.get_input_mask(), np.ones(5))
    np.testing.assert_array_equal(neuron_map.get_output_mask(), [1, 1, 1] + [0] * 14)
    np.testing.assert_array_equal(
        neuron_map.get_recurrent_mask(), np.abs(neuron_map.adjacency_matrix)
    )
    np.testing.assert_array_equal(
        neuron_map.get_sensory_mask(), np.abs(neuron_map.sensory_adjacency_matrix)
    )
    assert neuron_map.synapse_count > 0 and neuron_map.sensory_synapse_count > 0


def test_single_layer_maps_have_motor_and_inter_groups():
    neuron_map = RandomMap(10, 3, input_dim=4, sparsity_level=0.95, seed=0)
    assert neuron_map.num_layers == 1
    assert neuron_map.get_neurons_of_layer(0) == range(10)
    assert neuron_map.get_neuron_group("motor") == range(3)
    assert neuron_map.get_neuron_group("inter") == range(3, 10)
    assert neuron_map.get_neuron_group("command") == range(3, 3)
    assert [neuron_map.get_type_of_neuron(i) for i in (0, 2, 3, 9)] == ["motor"] * 2 + ["inter"] * 2
    expected = (neuron_map.sensory_adjacency_matrix != 0).any(axis=1).astype(np.int32)
    np.testing.assert_array_equal(neuron_map.get_input_mask(), expected)


def test_per_group_sparsity_sets_the_fanouts_and_density():
    neuron_map = NCPMap(
        100,
        40,
        10,
        seed=0,
        sensory_neurons=30,
        sparsity_level=0.9,
        sensory_to_inter_sparsity=0.7,
        inter_to_command_sparsity=0.0,  # an explicit 0 must not fall back to sparsity_level
        command_to_motor_sparsity=0.25,
    )
    assert neuron_map.sensory_fanout == 30
    assert neuron_map.inter_fanout == 40
    assert neuron_map.motor_fanin == 30
    # From sparsity_level, truncated as ncps's AutoNCP does: 40 * (1.0 - 0.9) * 2 = 7.99...
    assert neuron_map.recurrent_command_synapses == 7
    groups = neuron_map.get_neuron_groups()
    density = np.count_nonzero(neuron_map.sensory_adjacency_matrix[:, groups["inter"]]) / (30 * 100)
    assert abs(density - 0.3) < 0.02


def test_ember_ml_fixed_map_counts():
    full = FullyConnectedMap(units=10, input_dim=5, output_dim=3)
    assert (full.synapse_count, full.sensory_synapse_count) == (100, 50)
    first = RandomMap(units=10, input_dim=5, output_dim=3, sparsity_level=0.5, seed=42)
    again = RandomMap(units=10, input_dim=5, output_dim=3, sparsity_level=0.5, seed=42)
    other = RandomMap(units=10, input_dim=5, output_dim=3, sparsity_level=0.5, seed=43)
    assert (first.synapse_count, first.sensory_synapse_count) == (50, 25)
    assert_same_matrices(first, again)
    assert not np.array_equal(first.adjacency_matrix, other.adjacency_matrix)


# ------------------------------------------------------------------- building and synapses


@pytest.mark.parametrize("neuron_map", all_maps(), ids=lambda m: type(m).__name__)
def test_building_twice_changes_nothing(neuron_map):
    adjacency = neuron_map.adjacency_matrix.copy()
    sensory = neuron_map.sensory_adjacency_matrix.copy()
    neuron_map.build(neuron_map.input_dim)
    neuron_map.build()
    np.testing.assert_array_equal(neuron_map.adjacency_matrix, adjacency)
    np.testing.assert_array_equal(neuron_map.sensory_adjacency_matrix, sensory)
    with pytest.raises(ValueError, match="input_dim: the map is built for"):
        neuron_map.build(neuron_map.input_dim + 1)


def test_second_build_adds_no_synapses():
    # ncps's build draws again each time: a second AutoNCP(16, 4).build(8) gives 43 synapses.
    ours = AutoNCPMap(16, 4, input_dim=8)
    ours.build(8)
    assert_same_matrices(ours, built_ncps(wirings.AutoNCP(16, 4), 8))


def test_build_needs_an_input_dim():
    neuron_map = FullyConnectedMap(4)
    with pytest.raises(ValueError, match="not built"):
        neuron_map.build()
    with pytest.raises(ValueError, match="input_dim"):
        neuron_map.build(0)
    with pytest.raises(ValueError, match="not built"):
        neuron_map.get_recurrent_mask()


def test_hand_wired_map_and_synapse_errors():
    neuron_map = NeuronMap(4, output_dim=1)
    neuron_map.add_synapse(0, 3, -1)
    neuron_map.add_synapse(0, 3, 1)  # overwrites
    with pytest.raises(ValueError, match="not built"):
        neuron_map.add_sensory_synapse(0, 0, 1)
    neuron_map.build(2)
    neuron_map.add_sensory_synapse(1, 2, -1)
    assert neuron_map.adjacency_matrix[0, 3] == 1 and neuron_map.synapse_count == 1
    assert neuron_map.sensory_adjacency_matrix[1, 2] == -1
    with pytest.raises(ValueError, match=r"dest: expected a neuron id in \[0, 4\), got 4"):
        neuron_map.add_synapse(0, 4, 1)
    with pytest.raises(ValueError, match="src: expected a neuron id"):
        neuron_map.add_synapse(-1, 0, 1)
    with pytest.raises(ValueError, match=r"src: expected an input id in \[0, 2\)"):
        neuron_map.add_sensory_synapse(2, 0, 1)
    with pytest.raises(ValueError, match="polarity"):
        neuron_map.add_synapse(0, 1, 0)
    with pytest.raises(TypeError, match="src"):
        neuron_map.add_synapse(0.5, 1, 1)


def test_erev_initializers_are_copies():
    neuron_map = AutoNCPMap(16, 4, input_dim=3)
    counts = (neuron_map.synapse_count, neuron_map.sensory_synapse_count)
    erev = neuron_map.erev_initializer()
    sensory_erev = neuron_map.sensory_erev_initializer()
    np.testing.assert_array_equal(erev, neuron_map.adjacency_matrix)
    np.testing.assert_array_equal(sensory_erev, neuron_map.sensory_adjacency_matrix)
    erev[:] = 0
    sensory_erev[:] = 0
    assert (neuron_map.synapse_count, neuron_map.sensory_synapse_count) == counts


# ------------------------------------------------------------------------------ configs


def config_cases():
    hand = NeuronMap(4, 2, input_dim=3, seed=5)
    hand.add_synapse(1, 2, -1)
    hand.add_sensory_synapse(2, 0, 1)
    edited = RandomMap(8, 2, input_dim=3, seed=4)
    edited.add_synapse(7, 7, -1)
    return [
        hand,
        edited,
        FullyConnectedMap(6, 2, input_dim=3, self_connections=False, seed=9),
        NCPMap(7, 4, 3, seed=1, sensory_neurons=5),
        NCPMap(7, 4, 3, seed=1, sensory_neurons=5, command_to_command_sparsity=0.0),
        AutoNCPMap(16, 4, 0.3, seed=8, input_dim=2),
        RandomMap(8, seed=None, input_dim=2),
    ]


@pytest.mark.parametrize("neuron_map", config_cases(), ids=lambda m: type(m).__name__)
def test_config_round_trip_gives_the_same_map(neuron_map):
    config = json.loads(json.dumps(neuron_map.get_config()))
    restored = type(neuron_map).from_config(config)
    assert type(restored) is type(neuron_map)
    assert_same_matrices(restored, neuron_map)
    assert restored.get_config() == neuron_map.get_config()
    assert restored.get_neuron_groups() == neuron_map.get_neuron_groups()


@pytest.mark.parametrize(
    "make",
    [
        lambda: FullyConnectedMap(5, 2, seed=3),
        lambda: RandomMap(6, 2, sparsity_level=0.4, seed=3),
        lambda: NCPMap(10, 10, 8, 6, 6, 4, 6),
        lambda: AutoNCPMap(12, 3),
    ],
)
def test_config_of_an_unbuilt_map_builds_the_same_map(make):
    original, restored = make(), make()
    restored = type(original).from_config(restored.get_config())
    assert not restored.is_built()
    original.build(4)
    restored.build(4)
    assert_same_matrices(restored, original)


def test_ncp_get_config_leaves_the_draws_alone():
    # ncps's NCP.get_config reseeds its generator from OS entropy (and cannot be read back).
    ours = NCPMap(10, 10, 8, 6, 6, 4, 6)
    ours.get_config()
    ours.build(8)
    assert_same_matrices(ours, built_ncps(wirings.NCP(10, 10, 8, 6, 6, 4, 6), 8))


def test_unseeded_map_records_its_seed():
    neuron_map = NCPMap(6, 3, 2, seed=None, sensory_neurons=4)
    again = NCPMap(6, 3, 2, seed=neuron_map.seed, sensory_neurons=4)
    assert isinstance(neuron_map.seed, int)
    assert_same_matrices(again, neuron_map)


def test_from_config_checks_the_matrices():
    config = FullyConnectedMap(3, input_dim=2).get_config()
    with pytest.raises(ValueError, match="adjacency_matrix: expected shape"):
        FullyConnectedMap.from_config({**config, "adjacency_matrix": [[1, 0], [0, 1]]})
    with pytest.raises(ValueError, match="entries"):
        FullyConnectedMap.from_config({**config, "adjacency_matrix": [[2] * 3] * 3})
    with pytest.raises(ValueError, match="not built"):
        FullyConnectedMap.from_config({**config, "input_dim": None})


# -------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: RandomMap(4, sparsity_level=1.0), ValueError, r"sparsity_level.*\[0.0, 1.0\)"),
        (lambda: RandomMap(4, sparsity_level=-0.1), ValueError, "sparsity_level"),
        (lambda: NeuronMap(4, sparsity_level=1.5), ValueError, "sparsity_level"),
        (lambda: NCPMap(4, 3, 2, sensory_to_inter_sparsity=1.2), ValueError, "sensory_to_inter"),
        (lambda: NCPMap(4, 3, 2, sparsity_level="dense"), TypeError, "sparsity_level"),
        (lambda: AutoNCPMap(16, 4, 0.05), ValueError, r"sparsity_level.*\[0.1, 1.0\]"),
        (lambda: AutoNCPMap(16, 4, 1.1), ValueError, "sparsity_level"),
        (lambda: AutoNCPMap(16, 14), ValueError, "output_size: expected less than units - 2"),
        (lambda: AutoNCPMap(10, 8), ValueError, "output_size"),
        (lambda: FullyConnectedMap(4, output_dim=5), ValueError, "output_dim"),
        (lambda: RandomMap(4, output_dim=0), ValueError, "output_dim"),
        (lambda: NeuronMap(0), ValueError, "units"),
        (lambda: NeuronMap(3.0), TypeError, "units"),
        (lambda: FullyConnectedMap(4, seed=-1), ValueError, "seed"),
        (lambda: FullyConnectedMap(4, self_connections="no"), TypeError, "self_connections"),
        (
            lambda: NCPMap(4, 3, 2, 5, 1, 1, 1),
            ValueError,
            "sensory_fanout: expected at most 4, the number of inter neurons",
        ),
        (lambda: NCPMap(4, 3, 2, 1, 4, 1, 1), ValueError, "inter_fanout"),
        (lambda: NCPMap(4, 3, 2, 1, 1, 1, 4), ValueError, "motor_fanin"),
        (lambda: NCPMap(4, 3, 2, 1, 1, -1, 1), ValueError, "recurrent_command_synapses"),
        (lambda: NCPMap(4, 0, 2), ValueError, "command_neurons"),
        (
            lambda: NCPMap(4, 3, 2, sensory_fanout=2, sensory_to_inter_sparsity=0.5),
            ValueError,
            "give one of them",
        ),
        (lambda: NCPMap(4, 3, 2, sensory_neurons=0), ValueError, "sensory_neurons"),
        (lambda: AutoNCPMap(16, 4, input_dim=3).build(4), ValueError, "built for 3 inputs"),
        (lambda: AutoNCPMap(16, 4).get_neuron_group("hidden"), ValueError, "group"),
        (lambda: AutoNCPMap(16, 4).get_neurons_of_layer(3), ValueError, "layer"),
        (lambda: NeuronMap(4).get_type_of_neuron(4), ValueError, "neuron_id"),
    ],
)
def test_bad_arguments_raise_clear_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


# ------------------------------------------------------------------------ graphs and plots


@pytest.mark.parametrize("neuron_map", all_maps(), ids=lambda m: type(m).__name__)
def test_graph_export_has_one_edge_per_synapse(neuron_map):
    graph = neuron_map.to_graph()
    assert len(graph["nodes"]) == neuron_map.units + neuron_map.input_dim
    assert len(graph["edges"]) == neuron_map.synapse_count + neuron_map.sensory_synapse_count
    assert {polarity for _, _, polarity in graph["edges"]} <= {-1, 1}
    groups = set(graph["nodes"].values())
    assert groups <= set(GROUPS) and "sensory" in groups


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (lambda: AutoNCPMap(16, 4, input_dim=3), lambda: wirings.AutoNCP(16, 4)),
        (lambda: RandomMap(7, 2, 3, 0.5), lambda: wirings.Random(7, 2, 0.5)),
    ],
)
def test_networkx_export_equals_ncps_graph(ours, theirs):
    nx = pytest.importorskip("networkx")
    graph = ours().to_networkx()
    reference = built_ncps(theirs(), 3).get_graph()
    assert nx.utils.graphs_equal(graph, reference)
    assert graph.number_of_edges() == ours().synapse_count + ours().sensory_synapse_count


@pytest.mark.parametrize("neuron_map", all_maps(), ids=lambda m: type(m).__name__)
def test_draw_returns_a_figure_with_every_node_and_synapse(neuron_map, pyplot):
    from matplotlib.collections import LineCollection, PathCollection
    from matplotlib.figure import Figure

    figure = neuron_map.draw(draw_labels=True)
    assert isinstance(figure, Figure)
    (ax,) = figure.axes
    nodes = [c for c in ax.collections if isinstance(c, PathCollection)]
    (lines,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert sum(len(c.get_offsets()) for c in nodes) == neuron_map.units + neuron_map.input_dim
    assert len(lines.get_segments()) == neuron_map.synapse_count + neuron_map.sensory_synapse_count
    assert len(ax.texts) == neuron_map.units + neuron_map.input_dim
    # The legend, right of the axes, fits in the figure as saved.
    figure.canvas.draw()
    assert ax.get_legend().get_window_extent().x1 <= figure.bbox.x1


def test_draw_into_given_axes_and_errors(pyplot):
    figure, ax = pyplot.subplots()
    assert AutoNCPMap(12, 2, input_dim=2).draw(ax) is figure
    with pytest.raises(ValueError, match="not built"):
        AutoNCPMap(12, 2).draw()
    with pytest.raises(TypeError, match="neuron_map: expected a NeuronMap, got str"):
        draw_neuron_map("x")
    with pytest.raises(ValueError, match="neuron_colors: unknown keys"):
        AutoNCPMap(12, 2, input_dim=2).draw(neuron_colors={"hidden": "red"})
