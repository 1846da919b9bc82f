"""Finding the app a ``MODULE:ATTRIBUTE`` target names, in a worker process, and saying
what went wrong when the app's module cannot be imported."""

from __future__ import annotations

import importlib
import traceback
from pathlib import Path
from typing import Any

__all__ = ["describe_load_error", "load_target"]

#: Frames of the import machinery and of the server (this package): they say how the module
#: was imported, which is the same every time, and hide where the user's error is.
_MACHINERY = (
    str(Path(importlib.__file__).parent) + "/",
    "<frozen importlib",
    str(Path(__file__).parent) + "/",
)


def load_target(target: str) -> Any:
    """The app ``target`` names: ``"module:app"``, ``"package.module:holder.app"``, a bare
    ``"module"``, or a factory call ``"module:create_app()"`` (each worker calls the factory
    for itself), found as the command line finds it (:mod:`trioquart.discovery`)."""
    from ..discovery import load_app_target

    return load_app_target(target)


def describe_load_error(error: BaseException) -> str:
    """``error``'s traceback as Python prints it, without the import machinery's frames.

    What is left is the user's code: for a syntax error the file, line and caret alone; for
    an error raised while the module runs, the frames from the module's top level down to
    the ``raise``. Chained exceptions are kept, trimmed alike.
    """
    report = traceback.TracebackException.from_exception(error)
    _trim(report, set())
    return "".join(report.format()).rstrip("\n")


def _trim(report: traceback.TracebackException, seen: set[int]) -> None:
    if id(report) in seen:
        return
    seen.add(id(report))
    report.stack = traceback.StackSummary.from_list(
        [frame for frame in report.stack if not frame.filename.startswith(_MACHINERY)]
    )
    for linked in (report.__cause__, report.__context__):
        if linked is not None:
            _trim(linked, seen)
