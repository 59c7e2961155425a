"""The README's main job (examples/demo.py) runs end to end, shortened, and writes its PNG;
the README's model example runs as printed."""

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from ember_mlx.backend import get_backend

DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo.py"


@pytest.mark.skipif(get_backend() != "torch", reason="runs once, in the torch run (the default)")
def test_demo_trains_every_model_and_writes_the_figure(tmp_path):
    result = subprocess.run(
        [sys.executable, str(DEMO), "--out", str(tmp_path), "--steps", "3", "--epochs", "1"],
        capture_output=True,
        text=True,
        env={**os.environ, "EMBER_BACKEND": "torch"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for start in ("wired CfC", "liquid state machine", "RBM 64 x 64", "RBM anomaly detector"):
        assert any(line.startswith(start) for line in lines), (start, result.stdout)
    png = tmp_path / "rbm_digits.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # 12 x 8 inches at 80 dpi (RBMVisualizer.plot_filters_and_samples; its panels are tested in
    # test_visualization.py): the width and height in the PNG header.
    assert struct.unpack(">II", png.read_bytes()[16:24]) == (960, 640)


def test_readme_models_example_runs():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = readme.split("## Models", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(compile(block, "README.md[Models]", "exec"), namespace)
    assert tuple(namespace["y"].shape) == (8, 50, 32)
    assert tuple(namespace["samples"].shape) == (16, 64)
    errors = namespace["history"]["reconstruction_error"]
    assert len(errors) == 10 and errors[-1] < errors[0]
