"""ember_mlx's Module: the backend's ``nn.Module`` plus the seeds' conventions.

On the mlx backend a :class:`Module` is a real ``mlx.nn.Module`` (it works with mlx's optimizers,
``nn.value_and_grad`` and safetensors files); on torch and numpy it is the mirror's Module, which
behaves the same. On top it adds:

* ``get_config()`` / ``from_config(config)``: the constructor arguments, recorded when the module
  is built, so ``type(m).from_config(m.get_config())`` builds an identical architecture;
* ``named_parameters()``: ``(dotted_name, array)`` pairs, the names used in checkpoints;
* ``save(path)`` / ``Module.load(path)``: config and weights in one safetensors file, written
  atomically; a truncated or foreign file raises and leaves the model as it was;
* :class:`Parameter`: ``self.w = Parameter(data, requires_grad=False)`` stores ``data`` as a
  frozen (saved, not trained) array.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import os
import sys
from collections.abc import Iterator
from typing import Any

from ember_mlx.backend import get_backend, mx, nn, utils
from ember_mlx.checkpoint import CheckpointError, load_arrays, save_arrays

FORMAT = "ember_mlx.module/1"


class Parameter:
    """An array to be stored on a :class:`Module`, trainable unless ``requires_grad=False``.

    ``Parameter`` only marks an assignment: ``module.w = Parameter(x)`` stores the array
    ``mx.array(x)`` under ``w`` and, for ``requires_grad=False``, freezes it, so it is saved and
    loaded with the weights but left out of ``trainable_parameters()`` and gradients.
    """

    def __init__(self, data: Any, requires_grad: bool = True):
        self.data = data if isinstance(data, mx.array) else mx.array(data)
        self.requires_grad = bool(requires_grad)

    def __repr__(self) -> str:
        return f"Parameter(shape={tuple(self.data.shape)}, requires_grad={self.requires_grad})"


def _encode(value: Any, argument: str) -> Any:
    """Turn a constructor argument into JSON; objects with ``get_config`` keep their class."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    # A Module is a dict of its weights, so the get_config branch must come before the dict one.
    if hasattr(value, "get_config"):
        cls = type(value)
        return {
            "__class__": f"{cls.__module__}.{cls.__qualname__}",
            "config": _encode(value.get_config(), argument),
        }
    if isinstance(value, nn.Module):
        raise TypeError(
            f"get_config: constructor argument {argument!r} is a {type(value).__name__} without "
            "get_config(); use an ember_mlx.nn.Module or give it a get_config()/from_config() pair"
        )
    if isinstance(value, (list, tuple)):
        return [_encode(v, argument) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode(v, argument) for k, v in value.items()}
    if hasattr(value, "tolist"):
        return _encode(value.tolist(), argument)
    raise TypeError(
        f"get_config: constructor argument {argument!r} of type {type(value).__name__} is not "
        "JSON-serialisable; give it a get_config()/from_config() pair"
    )


def _resolve_class(qualified: str) -> type:
    """The class a config names: from ember_mlx, or from a module the program already imported.

    A checkpoint must not make us import arbitrary modules, so a user's own class loads once the
    module defining it is imported (as it is when the program that uses it runs).
    """
    module_name, _, name = qualified.rpartition(".")
    if not (module_name.startswith("ember_mlx.") or module_name in sys.modules):
        raise CheckpointError(
            f"config: class {qualified!r} is not from ember_mlx and its module is not imported; "
            f"import {module_name!r} before loading"
        )
    obj: Any = importlib.import_module(module_name)
    for part in name.split("."):
        obj = getattr(obj, part, None)
    if not isinstance(obj, type) or not hasattr(obj, "from_config"):
        raise CheckpointError(f"config: {qualified!r} is not a class with from_config")
    return obj


def _decode(value: Any) -> Any:
    """Build the objects :func:`_encode` wrote. Idempotent: a built Module (a dict of its
    weights) is kept, so that ``from_config`` may decode a config that is decoded already."""
    if isinstance(value, nn.Module):
        return value
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if "__class__" in value and set(value) == {"__class__", "config"}:
            return _resolve_class(value["__class__"]).from_config(_decode(value["config"]))
        return {k: _decode(v) for k, v in value.items()}
    return value


class _ModuleType(type(nn.Module)):
    """Builds an ember_mlx class over the active backend.

    ``set_backend`` rebuilds ember_mlx's modules, but a class imported before the switch is the
    old backend's. Called after a switch, such a class builds its counterpart of the active
    backend instead, so that code written as the seeds write it (import, ``set_backend``, then
    construct) gets a layer of the backend it asked for. Unpickling and copying make objects
    without this call, so they keep the backend they were made on.
    """

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if cls._ember_backend != get_backend() and cls.__module__.startswith("ember_mlx."):
            current: Any = importlib.import_module(cls.__module__)
            for part in cls.__qualname__.split("."):
                current = getattr(current, part, None)
            if isinstance(current, type) and current is not cls:
                return current(*args, **kwargs)
        return super().__call__(*args, **kwargs)


class Module(nn.Module, metaclass=_ModuleType):
    """Base class of every ember_mlx layer and model (see the module docstring)."""

    _ember_backend = get_backend()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._ember_backend = get_backend()
        init = cls.__dict__.get("__init__")
        if init is None:
            return
        signature = inspect.signature(init)
        # What help() and inspect.signature show for the class: _ModuleType.__call__ would
        # hide the constructor's parameters behind (*args, **kwargs).
        cls.__signature__ = signature.replace(parameters=list(signature.parameters.values())[1:])

        @functools.wraps(init)
        def recording_init(self: Module, *args: Any, **kw: Any) -> None:
            # The outermost constructor records its arguments; a subclass calling
            # super().__init__ must not overwrite them.
            if "_config" not in self.__dict__:
                try:
                    bound = signature.bind(self, *args, **kw)
                except TypeError as err:  # name the class: bind's message does not
                    raise TypeError(f"{type(self).__name__}: {err}") from None
                bound.apply_defaults()
                arguments = dict(bound.arguments)
                arguments.pop(next(iter(arguments)))
                for name, param in signature.parameters.items():
                    if param.kind is param.VAR_KEYWORD:
                        arguments.update(arguments.pop(name, {}))
                    elif param.kind is param.VAR_POSITIONAL:
                        arguments[name] = list(arguments.pop(name, ()))
                object.__setattr__(self, "_config", arguments)
                init(self, *args, **kw)
                # What unfreeze() keeps frozen: what the finished constructor froze.
                object.__setattr__(self, "_frozen_when_built", frozenset(self._no_grad))
                return
            init(self, *args, **kw)

        cls.__init__ = recording_init

    def __setattr__(self, key: str, value: Any) -> None:
        if isinstance(value, Parameter):
            super().__setattr__(key, value.data)
            if not value.requires_grad:
                self.freeze(recurse=False, keys=[key])
            elif key in getattr(self, "_no_grad", ()):
                self.unfreeze(recurse=False, keys=[key])
            return
        super().__setattr__(key, value)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # The seeds write layers torch-style, with ``forward``; MLX modules define __call__.
        forward = getattr(type(self), "forward", None)
        if forward is not None:
            return forward(self, *args, **kwargs)
        try:
            parent = super().__call__  # e.g. mlx.nn.Linear's, under our Linear
        except AttributeError:
            raise NotImplementedError(
                f"{type(self).__name__} defines neither __call__ nor forward"
            ) from None
        return parent(*args, **kwargs)

    def unfreeze(
        self, *, recurse: bool = True, keys: str | list[str] | None = None, strict: bool = False
    ) -> Module:
        """``nn.Module.unfreeze``, except that a blanket unfreeze (``keys=None``) leaves frozen
        what a module froze when it was built: training state (an RBM's chains and counters),
        fixed weights (``Parameter(..., requires_grad=False)``, a reservoir's) and batch
        norms' running statistics. An optimizer would otherwise change them (weight decay), or
        fail on integer counters. Name them in ``keys`` to unfreeze them anyway.

        ``nn.BatchNorm`` freezes its statistics again when it is unfrozen itself, but an
        unfreeze that recurses from a containing module clears them too (in MLX as well).
        """
        super().unfreeze(recurse=recurse, keys=keys, strict=strict)
        if keys is not None:
            return self
        for _, module in self.named_modules() if recurse else [("", self)]:
            built_frozen = list(module.__dict__.get("_frozen_when_built", ()))
            if isinstance(module, nn.BatchNorm):
                built_frozen += ["running_mean", "running_var"]
            if built_frozen:
                module.freeze(recurse=False, keys=built_frozen)
        return self

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments as JSON-ready values (nested objects by class and config)."""
        arguments = self.__dict__.get("_config", {})
        return {name: _encode(value, name) for name, value in arguments.items()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Module:
        """Build a module from :meth:`get_config` output (fresh weights)."""
        if not isinstance(config, dict):
            raise TypeError(f"from_config: config must be a dict, got {type(config).__name__}")
        config = _decode(config)
        positional = [
            p
            for p in inspect.signature(cls.__init__).parameters.values()
            if p.kind is p.VAR_POSITIONAL
        ]
        args = config.pop(positional[0].name, []) if positional else []
        return cls(*args, **config)

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Any]]:
        """Yield ``(name, array)`` for every parameter, with dotted checkpoint names."""
        tree = self.parameters()
        if not recurse:
            tree = {k: v for k, v in tree.items() if isinstance(v, mx.array)}
        for name, value in utils.tree_flatten(tree):
            yield (f"{prefix}.{name}" if prefix else name), value

    def save(self, path: str | os.PathLike) -> None:
        """Write config and weights to one ``.safetensors`` file, atomically."""
        cls = type(self)
        metadata = {
            "format": FORMAT,
            "class": f"{cls.__module__}.{cls.__qualname__}",
            "config": json.dumps(self.get_config()),
        }
        save_arrays(path, dict(self.named_parameters()), metadata)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Module:
        """Rebuild a module saved with :meth:`save`: same class, config and weights.

        Called on a base class (``Module.load``), it builds the class recorded in the file;
        called on a subclass, the file must hold that subclass.
        """
        arrays, metadata = load_arrays(path)
        if metadata.get("format") != FORMAT:
            raise CheckpointError(
                f"path: {str(path)!r} holds weights but no ember_mlx module config "
                f"(format {metadata.get('format')!r}); use model.load_weights for bare weights"
            )
        stored = _resolve_class(metadata["class"])
        if not issubclass(stored, cls):
            raise CheckpointError(
                f"path: {str(path)!r} holds a {metadata['class']}, not a {cls.__qualname__}"
            )
        model = stored.from_config(json.loads(metadata["config"]))
        model.load_arrays(arrays, source=str(path))
        # load_arrays casts to the new model's dtypes; a module saved in half precision
        # comes back in the float dtypes it was saved in (the round trip through them is
        # exact). Integer arrays (counters, random keys) keep this backend's dtypes.
        stored_dtypes = [
            (name, mx.astype(value, arrays[name].dtype))
            for name, value in model.named_parameters()
            if value.dtype != arrays[name].dtype
            and mx.issubdtype(value.dtype, mx.floating)
            and mx.issubdtype(arrays[name].dtype, mx.floating)
        ]
        if stored_dtypes:
            model.update(utils.tree_unflatten(stored_dtypes))
        return model

    def load_arrays(self, arrays: dict[str, Any], source: str = "arrays") -> Module:
        """Set every parameter from ``arrays`` (name -> array) after checking all of them.

        Names and shapes must match exactly; on any mismatch nothing is changed.
        """
        expected = dict(self.named_parameters())
        missing = sorted(set(expected) - set(arrays))
        extra = sorted(set(arrays) - set(expected))
        if missing or extra:
            raise CheckpointError(
                f"{source}: parameter names do not match the model: "
                f"missing {missing[:5]}, unexpected {extra[:5]}"
            )
        for name, value in arrays.items():
            if tuple(value.shape) != tuple(expected[name].shape):
                raise CheckpointError(
                    f"{source}: parameter {name!r} has shape {tuple(value.shape)}, "
                    f"the model expects {tuple(expected[name].shape)}"
                )
        converted = [
            (name, mx.array(value, dtype=expected[name].dtype)) for name, value in arrays.items()
        ]
        self.update(utils.tree_unflatten(converted))
        return self
