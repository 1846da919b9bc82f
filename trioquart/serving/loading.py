"""Finding the app a ``MODULE:ATTRIBUTE`` target names, in a worker process."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["load_target"]


def load_target(target: str) -> Any:
    """The object ``target`` names: ``"module:app"``, ``"package.module:holder.app"``, or a
    bare ``"module"`` for its ``app`` attribute."""
    module_name, _, attribute = target.partition(":")
    found: Any = importlib.import_module(module_name)
    for part in (attribute or "app").split("."):
        found = getattr(found, part)
    return found
