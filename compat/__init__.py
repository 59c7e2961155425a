"""MLX-API mirrors over numpy and torch.

Each mirror is a package with the names ember_mlx takes from MLX:

* ``core`` — the part of ``mlx.core`` ember_mlx uses, with MLX semantics (float32 defaults,
  key-based random, ``eval``/``compile``/``value_and_grad``), over the native array type
  (``numpy.ndarray`` or ``torch.Tensor``);
* ``nn``, ``optimizers``, ``utils`` — ``mlx.nn``, ``mlx.optimizers`` and ``mlx.utils``, written
  once in ``compat/_shared`` and mounted over each mirror's ``core`` (see :func:`mount`).
"""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

_SHARED = Path(__file__).parent / "_shared"


def mount(name: str, mirror: str) -> ModuleType:
    """Load ``compat/_shared/<name>`` as the module ``<mirror>.<name>``.

    The shared source reaches its array library through ``from .. import core``, which resolves to
    ``<mirror>.core``; mounting the same source under two mirrors gives two independent modules, one
    over numpy and one over torch, both from one implementation.
    """
    full_name = f"{mirror}.{name}"
    if full_name in sys.modules:
        return sys.modules[full_name]
    path = _SHARED / name
    if path.is_dir():
        spec = importlib.util.spec_from_file_location(
            full_name, path / "__init__.py", submodule_search_locations=[str(path)]
        )
    else:
        spec = importlib.util.spec_from_file_location(full_name, path.with_suffix(".py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[full_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[full_name]
        raise
    return module
