"""Running a coroutine while noticing when it waits.

A connection's disconnect watcher is a task, and a task costs more than many whole
requests: most handlers return without ever waiting, and a handler waiting only on its own
connection (reading its body, receiving a message) sees a disconnect itself.
:func:`run_asking_at_each_wait` runs the handler in the current task exactly as ``await``
would (every value and exception trio sends is passed through unchanged) and looks at the
connection before each wait, which is when starting the watcher may become worthwhile.

Measured again (callgrind, in-process ``GET /`` of ``examples/bench_app.py``): 219 k
instructions per request with it, 389 k when the watcher is started for every request
instead, so it stays.
"""

from __future__ import annotations

import types
from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

T = TypeVar("T")


@types.coroutine
def run_asking_at_each_wait(
    coro: Coroutine[Any, Any, T], connection: WatchesHandlerWaits
) -> Generator[Any, Any, T]:
    """``await coro``, starting ``connection``'s watcher before the first wait of the
    handler task outside the connection's own I/O; later waits are passed through unasked.

    The check is made here rather than in a method of the connection: a websocket handler
    that only waits on its own messages is asked at every wait, twice per echo round trip
    (measured with callgrind, in the commit that inlined it)."""
    asking = True
    value: Any = None
    error: BaseException | None = None
    while True:
        # While the handler runs no other task can: the flag tells the connection's I/O
        # that it runs in the handler task (see enter_io).
        connection._handler_running = asking
        try:
            trap = coro.throw(error) if error is not None else coro.send(value)
        except StopIteration as done:
            return done.value
        finally:
            connection._handler_running = False
        if asking and not connection._handler_in_io:
            asking = False
            if not connection._watching:
                connection.start_watching()
        error = None
        try:
            value = yield trap
        except BaseException as thrown:
            error = thrown


class WatchesHandlerWaits:
    """For a connection whose watcher task starts the first time its handler task waits on
    something other than the connection's own I/O (reading its body, its messages).

    The connection calls ``init_watching()`` when it is made, runs its handler with
    ``run_asking_at_each_wait(..., self)``, brackets its own I/O with
    ``enter_io``/``exit_io``, and defines ``start_watching``.

    Whether I/O happens in the handler task is known without asking trio for the current
    task: the handler runs only while ``run_asking_at_each_wait`` has resumed it, which sets
    ``_handler_running`` for that long (and only while it still asks). Measured with
    callgrind when it replaced a ``current_task()`` comparison (together with inlining
    these marks in the websocket's ``receive`` and ``send``): websocket echo 163.0 k ->
    157.5 k instructions per round trip, ``GET /`` 212.8 k -> 210.3 k per request.
    """

    # Slotted, as are the connections: one of them lives as long as each request or
    # websocket does, and an instance dict would be most of its size.
    __slots__ = ("_watching", "_handler_running", "_handler_in_io")

    def init_watching(self) -> None:
        self._watching = False
        self._handler_running = False
        self._handler_in_io = False

    def start_watching(self) -> None:
        raise TypeError(f"{type(self).__name__} must define start_watching")

    def enter_io(self) -> bool:
        """Mark the handler task as inside the connection's own I/O (its waits there need
        no watcher). True if this call set the mark; pass that to :meth:`exit_io`."""
        if self._handler_in_io or not self._handler_running:
            return False
        self._handler_in_io = True
        return True

    def exit_io(self, marked: bool) -> None:
        if marked:
            self._handler_in_io = False
