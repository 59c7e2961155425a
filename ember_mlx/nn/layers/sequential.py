"""``Sequential``: layers applied in order, with torch's container conveniences."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from numbers import Integral
from typing import Any

from ember_mlx.backend import nn
from ember_mlx.nn.module import Module


class Sequential(Module, nn.Sequential):
    """Calls its layers in order, feeding each the previous output.

    This is ``nn.Sequential`` (the parameters are ``layers.0.weight``, ``layers.1.bias``, ...)
    with torch's conveniences: ``model[i]``, ``model[i:j]`` (a new ``Sequential`` sharing the
    layers), ``len(model)``, iteration, :meth:`append` and :meth:`add_module`. Every layer has a
    name, its position by default or the one given to :meth:`add_module` (or in a mapping
    passed to the constructor), and named layers are attributes: ``model.fc1``.

    .. code-block:: python

        model = Sequential(Linear(10, 20), ReLU(), Linear(20, 1))
        model = Sequential()
        model.add_module("fc1", Linear(10, 20))
        model.add_module("relu", ReLU())

    Args:
        *modules: The layers, first to last, or a single mapping from names to layers.
    """

    def __init__(self, *modules: Callable | Mapping[str, Callable]):
        # A Module is a dict of its weights: only a plain mapping names the layers.
        if (
            len(modules) == 1
            and isinstance(modules[0], Mapping)
            and not isinstance(modules[0], nn.Module)
        ):
            names, layers = list(modules[0].keys()), list(modules[0].values())
        else:
            names, layers = [str(i) for i in range(len(modules))], list(modules)
        super().__init__()
        # Plain attribute: a list set through Module.__setattr__ would join the parameter tree.
        object.__setattr__(self, "_names", [])
        for name, layer in zip(names, layers, strict=True):
            self.add_module(name, layer)

    def add_module(self, name: str, module: Callable) -> Sequential:
        """Append ``module`` under ``name``; returns the container.

        Raises:
            ValueError: If ``name`` is taken, or is an attribute of the container.
            TypeError: If ``name`` is not a string or ``module`` is not callable.
        """
        if not isinstance(name, str):
            raise TypeError(f"Sequential.add_module: name must be a string, got {name!r}")
        if name in self._names or (not name.isdigit() and hasattr(self, name)):
            raise ValueError(f"Sequential.add_module: name {name!r} is already in use")
        if not callable(module):
            raise TypeError(
                f"Sequential.add_module: module must be callable, got {type(module).__name__}"
            )
        self._names.append(name)
        self.layers.append(module)
        self._record_config()
        return self

    def append(self, module: Callable) -> Sequential:
        """Append ``module``, named by its position (the next free number if a layer already
        has that name, as after slicing or :meth:`add_module`); returns the container."""
        index = len(self.layers)
        while str(index) in self._names:
            index += 1
        return self.add_module(str(index), module)

    def _record_config(self) -> None:
        # The config must describe the current layers, not only the constructor's (a subclass
        # with other constructor arguments keeps its own config).
        if "modules" not in self._config:
            return
        positional = self._names == [str(i) for i in range(len(self._names))]
        self._config["modules"] = (
            list(self.layers) if positional else [dict(zip(self._names, self.layers, strict=True))]
        )

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return Sequential(dict(zip(self._names[index], self.layers[index], strict=True)))
        if isinstance(index, Integral):
            return self.layers[index]
        # Strings keep dict access: Module's own machinery reads its items as self[key].
        return super().__getitem__(index)

    def __getattr__(self, key: str) -> Any:
        names = self.__dict__.get("_names", ())
        if key in names:
            return self.layers[names.index(key)]
        return super().__getattr__(key)

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Callable]:
        return iter(self.layers)
