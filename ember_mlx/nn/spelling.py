"""Arguments the seeds spell two ways, e.g. ``units`` / ``hidden_size``."""

from __future__ import annotations

from typing import Any


def either(name: str, value: Any, alias: str, alias_value: Any) -> Any:
    """The value given under ``name`` or under its ``alias``; giving both is an error."""
    if alias_value is None:
        return value
    if value is not None:
        raise TypeError(
            f"{name}: given twice, as {name}={value!r} and {alias}={alias_value!r}; pass one"
        )
    return alias_value
