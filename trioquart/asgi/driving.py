"""Running a coroutine while noticing the first time it waits.

A request's disconnect watcher is a task, and a task costs more than many whole requests:
most handlers return without ever waiting, and for those a watcher could never have
noticed anything. :func:`run_noting_first_wait` runs the handler in the current task exactly
as ``await`` would (every value and exception trio sends is passed through unchanged) and
calls ``on_first_wait`` just before the handler first gives control back to trio, which is
when starting the watcher becomes worthwhile.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Coroutine, Generator
from typing import Any, TypeVar

T = TypeVar("T")


@types.coroutine
def run_noting_first_wait(
    coro: Coroutine[Any, Any, T], on_first_wait: Callable[[], None]
) -> Generator[Any, Any, T]:
    """``await coro``, calling ``on_first_wait()`` once, before its first wait."""
    try:
        trap = coro.send(None)
    except StopIteration as done:
        return done.value
    on_first_wait()
    while True:
        try:
            value = yield trap
        except BaseException as error:
            try:
                trap = coro.throw(error)
            except StopIteration as done:
                return done.value
        else:
            try:
                trap = coro.send(value)
            except StopIteration as done:
                return done.value


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
