"""Drawing a neuron map with matplotlib, which is imported only when a map is drawn."""

from __future__ import annotations

from typing import Any

import numpy as np

from ember_mlx.nn.neuron_maps.base import GROUPS, NeuronMap

NEURON_COLORS = {
    "sensory": "tab:olive",
    "inter": "tab:blue",
    "command": "tab:purple",
    "motor": "tab:orange",
}
SYNAPSE_COLORS = {"excitatory": "tab:green", "inhibitory": "tab:red"}

# How far a synapse's curve bows out, as a fraction of its length, and a self-loop's radius.
_BEND = 0.15
_LOOP_RADIUS = 0.3


def draw_neuron_map(
    neuron_map: NeuronMap,
    ax: Any = None,
    *,
    neuron_colors: dict[str, str] | None = None,
    synapse_colors: dict[str, str] | None = None,
    draw_labels: bool = False,
) -> Any:
    """Draw a built neuron map as a layered graph and return the ``Figure``.

    The groups stand in columns, left to right: sensory (the inputs), inter, command, motor;
    empty groups are left out. Each synapse is a curve, coloured by its polarity, that bows to
    the right of its direction, so a pair of opposite synapses and the synapses within one
    column stay apart; a self-synapse is a small loop.

    Args:
        neuron_map: A built map.
        ax: A matplotlib ``Axes`` to draw into; by default a new figure is made with pyplot.
        neuron_colors: Colours by group name, over :data:`NEURON_COLORS`.
        synapse_colors: Colours for ``"excitatory"`` and ``"inhibitory"``, over
            :data:`SYNAPSE_COLORS`.
        draw_labels: Whether to write each node's id on it.

    Returns:
        The figure that holds ``ax``: one scatter collection per drawn group (one point per
        neuron) and one line collection with one curve per synapse.
    """
    if not isinstance(neuron_map, NeuronMap):
        raise TypeError(f"neuron_map: expected a NeuronMap, got {type(neuron_map).__name__}")
    neuron_map._require_built("draw")
    neuron_colors = _colors("neuron_colors", neuron_colors, NEURON_COLORS)
    synapse_colors = _colors("synapse_colors", synapse_colors, SYNAPSE_COLORS)
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    if ax is None:
        # Constrained layout makes room for the legend, which stands right of the axes.
        _, ax = plt.subplots(figsize=(7, 5), layout="constrained")

    groups = {name: ids for name, ids in neuron_map.get_neuron_groups().items() if len(ids)}
    gap = max(2.0, max(len(ids) for ids in groups.values()) / 2)
    sensory_xy = np.zeros((neuron_map.input_dim, 2))
    neuron_xy = np.zeros((neuron_map.units, 2))
    for column, (name, ids) in enumerate(groups.items()):
        xy = sensory_xy if name == "sensory" else neuron_xy
        xy[ids.start : ids.stop, 0] = column * gap
        xy[ids.start : ids.stop, 1] = (len(ids) - 1) / 2 - np.arange(len(ids))

    sensory, adjacency = neuron_map.sensory_adjacency_matrix, neuron_map.adjacency_matrix
    sensory_src, sensory_dest = np.nonzero(sensory)
    src, dest = np.nonzero(adjacency)
    start = np.concatenate([sensory_xy[sensory_src], neuron_xy[src]])
    end = np.concatenate([neuron_xy[sensory_dest], neuron_xy[dest]])
    signs = np.concatenate([sensory[sensory_src, sensory_dest], adjacency[src, dest]])
    colors = [synapse_colors["excitatory" if s > 0 else "inhibitory"] for s in signs]
    ax.add_collection(
        LineCollection(_curves(start, end), colors=colors, linewidths=0.8, alpha=0.6, zorder=1)
    )

    handles = []
    for name, ids in groups.items():
        xy = (sensory_xy if name == "sensory" else neuron_xy)[ids.start : ids.stop]
        handles.append(
            ax.scatter(
                xy[:, 0],
                xy[:, 1],
                s=160,
                color=neuron_colors[name],
                edgecolors="black",
                linewidths=0.5,
                zorder=2,
                label=f"{name} neurons",
            )
        )
        if draw_labels:
            for i, (x, y) in zip(ids, xy, strict=True):
                ax.text(x, y, str(i), ha="center", va="center", fontsize=7, zorder=3)
    handles += [Line2D([], [], color=c, label=f"{k} synapse") for k, c in synapse_colors.items()]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.set_aspect("equal", adjustable="datalim")
    ax.autoscale_view()
    ax.set_axis_off()
    return ax.figure


def _curves(start: np.ndarray, end: np.ndarray, points: int = 17) -> np.ndarray:
    """``(E, points, 2)`` polylines: quadratic Bezier curves from ``start`` to ``end``.

    The control point sits :data:`_BEND` of the length to the right of the midpoint; where start
    and end coincide the polyline is a loop of radius :data:`_LOOP_RADIUS` through the node.
    """
    t = np.linspace(0.0, 1.0, points)[None, :, None]
    delta = end - start
    control = (start + end) / 2 + _BEND * np.stack([delta[:, 1], -delta[:, 0]], axis=1)
    start, control, end = start[:, None], control[:, None], end[:, None]
    curves = (1 - t) ** 2 * start + 2 * (1 - t) * t * control + t**2 * end
    angle = 2 * np.pi * t[..., 0]
    loops = start + _LOOP_RADIUS * np.stack([1 - np.cos(angle), np.sin(angle)], axis=-1)
    is_loop = np.all(delta == 0, axis=1)
    return np.where(is_loop[:, None, None], loops, curves)


def _colors(name: str, given: dict[str, str] | None, defaults: dict[str, str]) -> dict[str, str]:
    if given is None:
        return dict(defaults)
    if not isinstance(given, dict):
        raise TypeError(f"{name}: expected a dict, got {type(given).__name__}")
    unknown = set(given) - set(defaults)
    if unknown:
        kinds = GROUPS if defaults is NEURON_COLORS else tuple(SYNAPSE_COLORS)
        raise ValueError(f"{name}: unknown keys {sorted(unknown)}, expected keys from {kinds}")
    return {**defaults, **given}
