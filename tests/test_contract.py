"""The contract: every MLX name ember_mlx uses exists in both mirrors (and in MLX itself).

The library's modules take ``mx``, ``nn``, ``optim`` and ``utils`` from :mod:`ember_mlx.backend`;
the mirrors' shared halves take ``mx`` from their own core. This test reads the source, collects
every dotted name used through those roots (``mx.random.uniform``, ``nn.init.normal``, ...) and
looks each up in the numpy and torch mirrors and in mlx.
"""

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROOT_NAMES = ("mx", "nn", "optim", "utils")
MIRROR_PARTS = {"mx": "core", "nn": "nn", "optim": "optimizers", "utils": "utils"}
MLX_MODULES = {"mx": "mlx.core", "nn": "mlx.nn", "optim": "mlx.optimizers", "utils": "mlx.utils"}


def _roots(tree: ast.Module, path: Path) -> dict[str, str]:
    """Local names bound to a backend module in this file: local name -> root ('mx', 'nn', ...)."""
    roots = {}
    if path == ROOT / "ember_mlx" / "backend" / "__init__.py":
        roots = {name: name for name in ROOT_NAMES}
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.module == "ember_mlx.backend":
            for alias in node.names:
                if alias.name in ROOT_NAMES:
                    roots[alias.asname or alias.name] = alias.name
        elif node.level == 2 and node.module is None:  # shared mirror code: from .. import core
            for alias in node.names:
                if alias.name == "core":
                    roots[alias.asname or alias.name] = "mx"
        elif node.level == 1 and node.module is None and path.name == "utils.py":
            for alias in node.names:
                if alias.name == "core":
                    roots[alias.asname or alias.name] = "mx"
    return roots


def _chain(node: ast.Attribute) -> list[str] | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(parts)]
    return None


def collect_used_names() -> set[str]:
    """Every ``root.attr[.attr...]`` used in ember_mlx/ and compat/_shared/, as 'mx.random.key'."""
    used = set()
    files = [*(ROOT / "ember_mlx").rglob("*.py"), *(ROOT / "compat" / "_shared").rglob("*.py")]
    for path in files:
        tree = ast.parse(path.read_text(), filename=str(path))
        roots = _roots(tree, path)
        if not roots:
            continue
        outermost = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                for child in ast.walk(node):
                    if child is not node and isinstance(child, ast.Attribute):
                        outermost.add(id(child))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and id(node) not in outermost:
                chain = _chain(node)
                if chain and chain[0] in roots:
                    used.add(".".join([roots[chain[0]], *chain[1:]]))
    return used


USED = sorted(collect_used_names())


def _lookup(module, dotted: list[str]):
    obj = module
    for part in dotted:
        obj = getattr(obj, part)
    return obj


def test_the_library_uses_backend_names():
    # Guards the collector itself: these are certainly used.
    assert {"mx.array", "mx.load", "nn.Module", "utils.tree_flatten"} <= set(USED)


@pytest.mark.parametrize("mirror", ["numpy", "torch"])
def test_every_used_name_exists_in_the_mirror(mirror):
    if mirror == "torch":
        pytest.importorskip("torch")
    package = importlib.import_module(f"ember_mlx.compat.{mirror}")
    missing = []
    for name in USED:
        root, *rest = name.split(".")
        try:
            _lookup(getattr(package, MIRROR_PARTS[root]), rest)
        except AttributeError:
            missing.append(name)
    assert not missing, f"names used by ember_mlx but missing from the {mirror} mirror: {missing}"


def test_every_used_name_exists_in_mlx():
    pytest.importorskip("mlx.core")
    missing = []
    for name in USED:
        root, *rest = name.split(".")
        try:
            _lookup(importlib.import_module(MLX_MODULES[root]), rest)
        except AttributeError:
            missing.append(name)
    assert not missing, f"names used by ember_mlx that mlx does not have: {missing}"
