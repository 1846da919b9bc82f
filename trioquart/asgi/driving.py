"""Running a coroutine while noticing when it waits.

A connection's disconnect watcher is a task, and a task costs more than many whole
requests: most handlers return without ever waiting, and a handler waiting only on its own
connection (reading its body, receiving a message) sees a disconnect itself.
:func:`run_asking_at_each_wait` runs the handler in the current task exactly as ``await``
would (every value and exception trio sends is passed through unchanged) and asks a
callback before each wait, which is when starting the watcher may become worthwhile.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Coroutine, Generator
from typing import Any, TypeVar

T = TypeVar("T")


@types.coroutine
def run_asking_at_each_wait(
    coro: Coroutine[Any, Any, T], on_wait: Callable[[], bool]
) -> Generator[Any, Any, T]:
    """``await coro``, calling ``on_wait()`` before each time it waits, until ``on_wait``
    returns True (it has done what it needed; later waits are passed through unasked)."""
    asking = True
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            trap = coro.throw(error) if error is not None else coro.send(value)
        except StopIteration as done:
            return done.value
        if asking:
            asking = not on_wait()
        error = None
        try:
            value = yield trap
        except BaseException as thrown:
            error = thrown
