"""Watching the app's source for ``trioquart run --reload``, with watchfiles.

What is watched: the Python files (``.py``, ``.pyx``, ``.pyd``) under the current directory,
which ``trioquart run`` puts on ``sys.path`` and where a project's code lives, and under the
app's top-level package (or the module's directory) when it lies elsewhere. watchfiles'
default ignores apply (``.git``, ``__pycache__``, ``.venv``, ``node_modules``, editor swap
files ...). Templates do not restart the server: a reloading worker turns on Jinja's own
reloading instead (:func:`reload_templates`), which picks up an edited template on the next
render without dropping open connections.

watchfiles' ``awatch`` runs on trio (through anyio), but it cannot be cancelled while its
thread waits for a change (up to five seconds), so the supervisor's shutdown would wait for
it. Here watchfiles' synchronous ``watch`` runs in a thread trio abandons when cancelled;
the stop event set on the way out ends the thread within one ``step``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trio
import watchfiles

__all__ = ["reload_templates", "source_roots", "watch_source"]

#: Milliseconds watchfiles waits for more changes after one, so that an editor's save (a
#: write, a rename, a chmod) or a ``git checkout`` restarts the server once.
STEP_MS = 100
#: The longest a burst of changes is gathered before it is reported.
DEBOUNCE_MS = 1600
#: How often, with no change, the watching thread wakes up (its first wake-up tells that it
#: watches: the supervisor waits for it before starting workers, so no change is missed).
WAKE_UP_MS = 200

logger = logging.getLogger("trioquart.server")


def source_roots(module_name: str, cwd: str | None = None) -> list[Path]:
    """The directories to watch for the app in ``module_name``: the current directory, and
    the app's top-level package (or the module's own directory) when it is not inside it."""
    root = Path(cwd or os.getcwd()).resolve()
    roots = [root]
    try:
        spec = importlib.util.find_spec(module_name.partition(".")[0])
    except (ImportError, ValueError):
        spec = None
    if spec is not None:
        if spec.submodule_search_locations:
            places = [Path(location) for location in spec.submodule_search_locations]
        elif spec.origin and spec.has_location:
            places = [Path(spec.origin).parent]
        else:
            places = []  # a built-in or frozen module
        for place in places:
            place = place.resolve()
            if not place.is_relative_to(root) and place not in roots:
                roots.append(place)
    return roots


async def watch_source(
    roots: list[Path],
    on_change: Callable[[set[Path]], Any],
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Call ``on_change(paths)`` in this trio run for each burst of changes to Python files
    under ``roots``, until cancelled. Started with ``nursery.start``, it returns from the
    start once the files are being watched."""
    stop = threading.Event()
    token = trio.lowlevel.current_trio_token()
    watching = trio.Event()

    def report(changes: set[tuple[watchfiles.Change, str]]) -> None:
        if not watching.is_set():
            watching.set()
        if changes:
            on_change({Path(path) for _, path in changes})

    def in_thread() -> None:
        batches = watchfiles.watch(
            *roots,
            watch_filter=watchfiles.PythonFilter(),
            debounce=DEBOUNCE_MS,
            step=STEP_MS,
            rust_timeout=WAKE_UP_MS,
            yield_on_timeout=True,
            stop_event=stop,
            raise_interrupt=False,
        )
        for changes in batches:
            try:
                trio.from_thread.run_sync(report, changes, trio_token=token)
            except trio.RunFinishedError:
                return

    async def started_once_watching() -> None:
        await watching.wait()
        task_status.started()

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(started_once_watching)
            await trio.to_thread.run_sync(in_thread, abandon_on_cancel=True)
            nursery.cancel_scope.cancel()
    finally:
        stop.set()


def reload_templates(app: Any) -> None:
    """Have the app's Jinja environment reload edited templates, unless the app set
    ``TEMPLATES_AUTO_RELOAD`` itself (a reloading server is a development server)."""
    config = getattr(app, "config", None)
    if not isinstance(config, dict) or config.get("TEMPLATES_AUTO_RELOAD", False) is not None:
        return
    config["TEMPLATES_AUTO_RELOAD"] = True
    environment = vars(app).get("jinja_env")  # made already (it is made on first use)
    if environment is not None:
        environment.auto_reload = True
