"""The nn.modules seed's examples run as written once ``ember_ml`` reads ``ember_mlx``.

``data/seed_nn_modules.md`` is the seed document verbatim. Each ``python`` block runs on the
active backend, and every shape its comments promise (``# Shape: (32, 5)``,
``# y: (32, 5, 20), h: (32, 20)``) is checked. Two blocks call ``tensor`` without importing it;
the namespace provides ``ember_mlx.tensor`` as the rest of the document imports it. The block that
switches backends runs in a subprocess so that this process keeps its own.
"""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import ember_mlx.tensor
from ember_mlx.backend import get_backend

SEED = Path(__file__).parent / "data" / "seed_nn_modules.md"
BLOCKS = [
    block.replace("ember_ml", "ember_mlx")
    for block in re.findall(r"```python\n(.*?)```", SEED.read_text(), re.S)
]
SWITCHES_BACKEND = "set_backend("
SHAPE = re.compile(r"(\w+): \(([\d, ]+)\)")


def promised_shapes(block: str) -> dict[str, tuple[int, ...]]:
    """Name -> shape for each ``name: (dims)`` or ``x = ...  # Shape: (dims)`` comment."""
    shapes = {}
    for line in block.splitlines():
        code, _, comment = line.partition("#")
        if "Shape:" in comment:
            target = ast.parse(code.strip()).body[0].targets[0]
            dims = comment.split("Shape:")[1]
            shapes[target.id] = tuple(int(d) for d in re.findall(r"\d+", dims))
        else:
            for name, dims in SHAPE.findall(comment):
                shapes[name] = tuple(int(d) for d in dims.split(","))
    return shapes


def test_the_document_has_its_examples():
    assert len(BLOCKS) == 19
    assert sum(bool(promised_shapes(b)) for b in BLOCKS) >= 10


@pytest.mark.parametrize(
    "index", [i for i, b in enumerate(BLOCKS) if SWITCHES_BACKEND not in b], ids=lambda i: f"b{i}"
)
def test_example_runs_and_gives_the_promised_shapes(index):
    block = BLOCKS[index]
    namespace = {"__name__": f"seed_example_{index}", "tensor": ember_mlx.tensor}
    exec(compile(block, f"seed_nn_modules.md[{index}]", "exec"), namespace)
    for name, shape in promised_shapes(block).items():
        assert tuple(namespace[name].shape) == shape, name


def test_backend_switching_example_builds_each_layer_over_the_backend_it_asked_for():
    # Dense is imported once, before the switches: called after each, it builds that backend's
    # layer. Layers made before a switch keep their backend.
    (block,) = [b for b in BLOCKS if SWITCHES_BACKEND in b]
    if get_backend() != "numpy":
        pytest.skip("backend-independent: runs once, in the numpy run")
    check = (
        "\nfor layer in (dense_numpy, dense_torch, dense_mlx):\n"
        "    print(type(layer.weight).__module__.split('.')[0])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", block + check],
        capture_output=True,
        text=True,
        env={**os.environ, "EMBER_BACKEND": "torch"},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["numpy", "torch", "mlx"]
