"""Finding the app a ``MODULE:ATTRIBUTE`` target names, in a worker process."""

from __future__ import annotations

from typing import Any

__all__ = ["load_target"]


def load_target(target: str) -> Any:
    """The app ``target`` names: ``"module:app"``, ``"package.module:holder.app"``, a bare
    ``"module"``, or a factory call ``"module:create_app()"`` (each worker calls the factory
    for itself), found as the command line finds it (:mod:`trioquart.discovery`)."""
    from ..discovery import load_app_target

    return load_app_target(target)
