"""``Module``: the base class of every layer, with the semantics of ``mlx.nn.Module``."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import core as mx
from ..utils import tree_flatten, tree_unflatten


class Module(dict):
    """Base class for layers and models, a ``dict`` of its arrays and submodules.

    Setting an attribute to an array, dict, list or tuple stores it as an item of the dict;
    anything else is a plain Python attribute. :meth:`parameters` collects every array reachable
    through items whose key does not start with ``_`` (so ``self._cache = array`` is state that
    is neither trained nor saved). Arrays can be frozen (:meth:`freeze`): they stay parameters,
    are saved and loaded, but are left out of :meth:`trainable_parameters` and so of gradients.

    .. code-block:: python

        class MLP(nn.Module):
            def __init__(self, in_dims: int, out_dims: int, hidden_dims: int = 16):
                super().__init__()
                self.in_proj = nn.Linear(in_dims, hidden_dims)
                self.out_proj = nn.Linear(hidden_dims, out_dims)

            def __call__(self, x):
                return self.out_proj(mx.maximum(self.in_proj(x), 0))
    """

    __call__: Callable

    def __init__(self) -> None:
        """Must be called by every subclass before it sets attributes."""
        self._no_grad = set()
        self._training = True

    def __reduce_ex__(self, protocol: int) -> tuple:
        # torch cannot unpickle its own uint32 tensors (MLX's random keys, as a seeded Dropout
        # keeps): such items travel as numpy arrays, which mx.array turns back into arrays.
        reduced = super().__reduce_ex__(max(protocol, 2))
        rebuild, args, state, listitems, items = reduced[:5]
        items = ((name, _HostCopy.of(value)) for name, value in items)
        return rebuild, args, state, listitems, items

    @property
    def training(self) -> bool:
        """Whether the module is in training mode (see :meth:`train`)."""
        return self._training

    @property
    def state(self) -> Module:
        """The module itself: a live view of everything set on it, parameters included."""
        return self

    def _extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        children = tree_flatten(self.children(), is_leaf=self.is_module)
        lines = [f"{type(self).__name__}({self._extra_repr()}"]
        lines += [textwrap.indent(f"({k}): {v!r}", prefix="  ") for k, v in children]
        return "\n".join(lines) + ("\n)" if children else ")")

    def __getattr__(self, key: str) -> Any:
        if (value := self.get(key, None)) is not None:
            return value
        return super().__getattribute__(key)

    def __setattr__(self, key: str, value: Any) -> None:
        if isinstance(value, (mx.array, dict, list, tuple)):
            # A plain attribute of the same name would shadow the item in attribute lookup.
            if hasattr(self, key) and key not in self:
                delattr(self, key)
            self[key] = value
        else:
            super().__setattr__(key, value)
            self.pop(key, None)

    def __delattr__(self, key: str) -> None:
        if self.get(key, None) is not None:
            del self[key]
        else:
            super().__delattr__(key)

    def load_weights(
        self,
        file_or_weights: str | os.PathLike | list[tuple[str, Any]],
        strict: bool = True,
    ) -> Module:
        """Set the parameters from a ``.npz`` or ``.safetensors`` file or a list of pairs.

        Args:
            file_or_weights: A file path, or a list of ``(dotted_name, array)`` pairs.
            strict: If ``True``, the weights must name exactly the model's parameters, with
                the same shapes. If ``False``, only the weights present are loaded and shapes
                are not checked.

        Returns:
            The module.

        Raises:
            ValueError: In strict mode, on extra or missing names, a value that is not an
                array, or a shape mismatch.
        """
        weights = file_or_weights
        if isinstance(weights, (str, os.PathLike)):
            weights = list(mx.load(os.fspath(weights)).items())
        else:
            # The caller's arrays become values of their own, as in MLX: on torch a
            # ``torch.nn.Parameter`` would otherwise bring its storage and autograd graph.
            pairs = weights.items() if isinstance(weights, dict) else weights
            weights = [(k, mx.array(v) if isinstance(v, mx.array) else v) for k, v in pairs]

        if strict:
            new_weights = dict(weights)
            current = tree_flatten(self.parameters(), destination={})
            if extras := new_weights.keys() - current.keys():
                names = ",\n".join(sorted(extras))
                raise ValueError(f"Received {len(extras)} parameters not in model: \n{names}.")
            if missing := current.keys() - new_weights.keys():
                names = ",\n".join(sorted(missing))
                raise ValueError(f"Missing {len(missing)} parameters: \n{names}.")
            for name, value in current.items():
                new_value = new_weights[name]
                if not isinstance(new_value, mx.array):
                    raise ValueError(
                        f"Expected mx.array but received {type(new_value)} for parameter {name}"
                    )
                if tuple(new_value.shape) != tuple(value.shape):
                    raise ValueError(
                        f"Expected shape {tuple(value.shape)} but received "
                        f"shape {tuple(new_value.shape)} for parameter {name}"
                    )

        if len(weights) != 0:
            self.update(tree_unflatten(weights), strict=False)
        return self

    def save_weights(self, file: str | os.PathLike) -> None:
        """Save the parameters under their dotted names; the extension picks the format.

        ``.npz`` uses ``mx.savez`` and ``.safetensors`` uses ``mx.save_safetensors``; both are
        the standard formats, readable by ``mlx.nn.Module.load_weights``.
        """
        file = os.fspath(file)
        params = tree_flatten(self.parameters(), destination={})
        if file.endswith(".npz"):
            mx.savez(file, **params)
        elif file.endswith(".safetensors"):
            mx.save_safetensors(file, params)
        else:
            raise ValueError(
                f"Unsupported file extension for {file}. Use '.npz' or '.safetensors'."
            )

    @staticmethod
    def is_module(value: Any) -> bool:
        return isinstance(value, Module)

    @staticmethod
    def valid_child_filter(module: Module, key: str, value: Any) -> bool:
        return isinstance(value, (dict, list))

    @staticmethod
    def valid_parameter_filter(module: Module, key: str, value: Any) -> bool:
        return isinstance(value, (dict, list, mx.array)) and not key.startswith("_")

    @staticmethod
    def trainable_parameter_filter(module: Module, key: str, value: Any) -> bool:
        return Module.valid_parameter_filter(module, key, value) and key not in module._no_grad

    def filter_and_map(
        self,
        filter_fn: Callable[[Module, str, Any], bool],
        map_fn: Callable | None = None,
        is_leaf_fn: Callable[[Module, str, Any], bool] | None = None,
    ) -> dict:
        """Recursively keep the items for which ``filter_fn(module, key, value)`` holds.

        Args:
            filter_fn: Decides, from the containing module, the key and the value, whether to
                keep an item.
            map_fn: Applied to each kept leaf.
            is_leaf_fn: Decides what is a leaf; by default anything but modules, dicts and
                lists.

        Returns:
            A tree of dicts and lists with the kept (mapped) leaves.
        """
        map_fn = map_fn or (lambda x: x)
        is_leaf_fn = is_leaf_fn or (lambda m, k, v: not isinstance(v, (Module, dict, list)))
        return {
            k: _unwrap(self, k, v, filter_fn, map_fn, is_leaf_fn)
            for k, v in self.items()
            if filter_fn(self, k, v)
        }

    def parameters(self) -> dict:
        """Every array of this module and its submodules, as a tree of dicts and lists."""
        return self.filter_and_map(self.valid_parameter_filter)

    def trainable_parameters(self) -> dict:
        """The parameters that are not frozen, as a tree of dicts and lists."""
        return self.filter_and_map(self.trainable_parameter_filter)

    def children(self) -> dict:
        """The direct submodules of this module."""
        return self.filter_and_map(
            self.valid_child_filter, is_leaf_fn=lambda m, k, v: isinstance(v, Module)
        )

    def leaf_modules(self) -> dict:
        """The submodules that contain no other module."""

        def is_leaf_module(m: Module, k: str, v: Any) -> bool:
            return isinstance(v, Module) and len(tree_flatten(v.children())) == 0

        return self.filter_and_map(self.valid_child_filter, is_leaf_fn=is_leaf_module)

    def update(self, parameters: dict, strict: bool = True) -> Module:
        """Replace parameters with the arrays of a (possibly partial) parameter tree.

        Args:
            parameters: A tree shaped like (a part of) :meth:`parameters`.
            strict: If ``True``, every entry must name an existing parameter and hold an array.

        Returns:
            The module.
        """

        def set_item(dst: Any, key: Any, new_value: Any) -> None:
            if isinstance(dst[key], mx.array):
                if strict and not isinstance(new_value, mx.array):
                    raise ValueError(f"Received invalid type: {type(new_value).__name__}.")
                dst[key] = new_value
            else:
                apply(dst[key], new_value)

        def apply(dst: Any, params: Any) -> None:
            if isinstance(params, dict):
                for k in params:
                    if k in dst:
                        set_item(dst, k, params[k])
                    elif strict:
                        raise ValueError(f'Module does not have parameter named "{k}".')
            elif isinstance(params, list):
                for i in range(len(params)):
                    if i < len(dst):
                        set_item(dst, i, params[i])
                    elif strict:
                        raise ValueError(
                            f"List index {i} is out of bounds for destination of length {len(dst)}."
                        )
            elif strict:
                raise ValueError(f"Received invalid type: {type(params).__name__}.")

        apply(self, parameters)
        return self

    def apply(
        self,
        map_fn: Callable[[Any], Any],
        filter_fn: Callable[[Module, str, Any], bool] | None = None,
    ) -> Module:
        """Replace every parameter ``p`` (selected by ``filter_fn``) with ``map_fn(p)``.

        ``model.apply(lambda p: mx.astype(p, mx.float16))`` casts all parameters.
        """
        filter_fn = filter_fn or Module.valid_parameter_filter
        self.update(self.filter_and_map(filter_fn, map_fn))
        return self

    def update_modules(self, modules: dict, strict: bool = True) -> Module:
        """Replace submodules with those of a (possibly partial) tree shaped like
        :meth:`children`.

        Args:
            modules: The new submodules.
            strict: If ``True``, every entry must name an existing submodule.

        Returns:
            The module.
        """
        _update_modules(self, modules, strict)
        return self

    def apply_to_modules(self, apply_fn: Callable[[str, Module], Any]) -> Module:
        """Call ``apply_fn(dotted_name, module)`` on this module and every submodule."""
        stack = [("", self)]
        while stack:
            prefix, module = stack.pop()
            apply_fn(prefix, module)
            prefix = "." + prefix if prefix else ""
            stack.extend(tree_flatten(module.children(), prefix=prefix, is_leaf=self.is_module))
        return self

    def modules(self) -> list[Module]:
        """This module and all its submodules."""
        found = []
        self.apply_to_modules(lambda k, m: found.append(m))
        return found

    def named_modules(self) -> list[tuple[str, Module]]:
        """``(dotted_name, module)`` for this module (name ``""``) and all its submodules."""
        found = []
        self.apply_to_modules(lambda k, m: found.append((k, m)))
        return found

    def _validate_keys(self, keys: str | list[str], strict: bool) -> list[str]:
        keys = keys if isinstance(keys, list) else [keys]
        if strict:
            for k in keys:
                if k not in self:
                    raise KeyError(f"Module doesn't contain member {k}.")
        return keys

    def _validate_keys_recursive(self, keys: str | list[str]) -> None:
        # A key such as "bias" must exist somewhere in the model, not in every submodule.
        keys = keys if isinstance(keys, list) else [keys]
        modules = self.modules()
        for k in keys:
            if not any(k in m for m in modules):
                raise KeyError(f"Module doesn't contain member {k}.")

    def freeze(
        self,
        *,
        recurse: bool = True,
        keys: str | list[str] | None = None,
        strict: bool = False,
    ) -> Module:
        """Freeze parameters: they are kept and saved but get no gradient. Idempotent.

        Args:
            recurse: Also freeze the submodules' parameters.
            keys: Freeze only these names (e.g. ``"bias"``); by default all parameters.
            strict: Check that ``keys`` exist (``KeyError`` otherwise).

        Returns:
            The module.
        """

        def freeze_one(_: str, m: Module) -> None:
            local_keys = keys
            if local_keys is None:
                local_keys = [
                    k
                    for k, _ in tree_flatten(
                        m.filter_and_map(
                            lambda m, k, v: (
                                not isinstance(v, Module) and m.valid_parameter_filter(m, k, v)
                            )
                        )
                    )
                ]
            m._no_grad.update(m._validate_keys(local_keys, strict))

        if recurse:
            if strict and keys is not None:
                self._validate_keys_recursive(keys)
                strict = False
            self.apply_to_modules(freeze_one)
        else:
            freeze_one("", self)
        return self

    def unfreeze(
        self,
        *,
        recurse: bool = True,
        keys: str | list[str] | None = None,
        strict: bool = False,
    ) -> Module:
        """Unfreeze parameters (see :meth:`freeze`). Idempotent.

        Args:
            recurse: Also unfreeze the submodules' parameters.
            keys: Unfreeze only these names; by default all parameters.
            strict: Check that ``keys`` exist (``KeyError`` otherwise).

        Returns:
            The module.
        """

        def unfreeze_one(_: str, m: Module) -> None:
            if keys is None:
                m._no_grad.clear()
            else:
                m._no_grad.difference_update(m._validate_keys(keys, strict))

        if recurse:
            if strict and keys is not None:
                self._validate_keys_recursive(keys)
                strict = False
            self.apply_to_modules(unfreeze_one)
        else:
            unfreeze_one("", self)
        return self

    def _set_training_mode(self, mode: bool) -> None:
        self._training = mode

    def train(self, mode: bool = True) -> Module:
        """Set training mode (``mode=True``) or evaluation mode on this module and its
        submodules; layers such as :class:`Dropout` and :class:`BatchNorm` read it."""
        self.apply_to_modules(lambda _, m: m._set_training_mode(mode))
        return self

    def eval(self) -> Module:
        """Set evaluation mode, the same as ``train(False)``."""
        return self.train(False)

    def set_dtype(
        self,
        dtype: Any,
        predicate: Callable[[Any], bool] | None = lambda t: mx.issubdtype(t, mx.floating),
    ) -> None:
        """Cast the parameters whose dtype satisfies ``predicate`` (default: floating) to
        ``dtype``; ``predicate=None`` casts all of them."""
        if predicate is None:

            def predicate(_: Any) -> bool:
                return True

        self.apply(lambda x: mx.astype(x, dtype) if predicate(x.dtype) else x)


def _update_modules(dst: Any, modules: Any, strict: bool) -> None:
    def set_item(key: Any, new_value: Any) -> None:
        current = dst[key]
        if Module.is_module(current) and Module.is_module(new_value):
            dst[key] = new_value
        elif isinstance(current, (dict, list)):
            _update_modules(current, new_value, strict)
        elif strict and new_value != {}:
            raise ValueError(f"Received invalid type: {type(new_value).__name__}.")

    if isinstance(modules, dict):
        for k in modules:
            if k in dst:
                set_item(k, modules[k])
            elif strict:
                raise ValueError(f'Module does not have sub-module named "{k}".')
    elif isinstance(modules, list):
        for i in range(len(modules)):
            if i < len(dst):
                set_item(i, modules[i])
            elif strict:
                raise ValueError(
                    f"List index {i} is out of bounds for destination of length {len(dst)}."
                )
    elif strict:
        raise ValueError(f"Received invalid type: {type(modules).__name__}.")


def _unwrap(
    model: Module,
    value_key: str,
    value: Any,
    filter_fn: Callable,
    map_fn: Callable,
    is_leaf_fn: Callable,
) -> Any:
    """One level of :meth:`Module.filter_and_map`; dicts and lists inside a module are
    filtered with dotted keys relative to that module."""
    if is_leaf_fn(model, value_key, value):
        return map_fn(value)
    if isinstance(value, Module):
        return {
            k: _unwrap(value, k, v, filter_fn, map_fn, is_leaf_fn)
            for k, v in value.items()
            if filter_fn(value, k, v)
        }
    if isinstance(value, dict):
        result = {}
        for k, v in value.items():
            key = f"{value_key}.{k}"
            keep = filter_fn(model, key, v)
            result[k] = _unwrap(model, key, v, filter_fn, map_fn, is_leaf_fn) if keep else {}
        return result
    if isinstance(value, list):
        result = []
        for i, v in enumerate(value):
            key = f"{value_key}.{i}"
            keep = filter_fn(model, key, v)
            result.append(_unwrap(model, key, v, filter_fn, map_fn, is_leaf_fn) if keep else {})
        return result
    raise RuntimeError("Unexpected leaf found while traversing the module")


class _HostCopy:
    """A uint32 array that pickles as a numpy array and unpickles through ``mx.array``."""

    def __init__(self, value: Any):
        self.value = np.asarray(value)

    @classmethod
    def of(cls, value: Any) -> Any:
        """``value`` wrapped if it is a uint32 array, else ``value`` itself."""
        if isinstance(value, mx.array) and value.dtype == mx.uint32:
            return cls(value)
        return value

    def __reduce__(self) -> tuple:
        return mx.array, (self.value,)
