"""Choose a provider by configuration: a short name for built-ins, a dotted path otherwise."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TypeVar

from integrations.errors import PluginLoadError

T = TypeVar("T")


def load_plugin(kind: str, name: str, builtins: Mapping[str, str], base: type[T]) -> type[T]:
    """Return the class named by ``name`` for ``kind``.

    ``builtins`` maps short names ("jitsi") to dotted paths ("integrations.jitsi:JitsiProvider").
    Anything else must itself be a dotted path ``package.module:ClassName``.
    """
    target = builtins.get(name, name)
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        known = ", ".join(sorted(builtins))
        raise PluginLoadError(
            f"unknown {kind} provider {name!r}; use one of {known} or module:Class"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise PluginLoadError(f"cannot import {kind} provider module {module_name!r}") from exc
    cls = getattr(module, attr, None)
    if not isinstance(cls, type) or not issubclass(cls, base):
        raise PluginLoadError(f"{target!r} is not a {base.__name__}")
    return cls
