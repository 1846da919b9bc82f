"""One task at a time through a section, at the cost of a flag while nobody waits.

A connection's messages are read from the server by one task at a time (the handler, a task
it started, or the disconnect watcher), and accepting a websocket happens once. A
``trio.Lock`` would do, but on every acquire and release it also records its owner for
trio's deadlock diagnostics, which on an in-process websocket round trip cost about as much
as all the rest of trioquart's work for it; and each lock carries a parking lot from the
start, which an idle connection would hold twice. A :class:`Turn` is a flag while the
section is free, and makes its parking lot only when a second task has to wait.

As with ``trio.Lock``, the turn passes straight to the longest-waiting task, so a task that
loops on ``receive()`` cannot keep another waiting forever. Unlike it, taking a free turn
does not yield to the scheduler: the section it guards (a read from the server) does.

Measured again (callgrind, in-process websocket echo of ``examples/bench_app.py``): 164 k
instructions per round trip with turns, 174 k with a ``trio.Lock`` in their place (6 %),
so they stay.
"""

from __future__ import annotations

from types import TracebackType

import trio


class Turn:
    """One task at a time: :meth:`take` (or ``take_nowait``) before, :meth:`give` after.

    ``WebsocketConnection.receive`` takes and gives a free turn itself, through ``_taken``
    and ``_waiting`` (a call less per message): the turn is free when ``_taken`` is False,
    and ``give`` must be called when ``_waiting`` has a task in it.
    """

    __slots__ = ("_taken", "_waiting")

    def __init__(self) -> None:
        self._taken = False
        self._waiting: trio.lowlevel.ParkingLot | None = None

    @property
    def taken(self) -> bool:
        return self._taken

    def take_nowait(self) -> bool:
        """Take the turn if it is free; False (and nothing taken) if it is not."""
        if self._taken:
            return False
        self._taken = True
        return True

    async def take(self) -> None:
        """Take the turn, waiting for it if another task has it."""
        if self.take_nowait():
            return
        if self._waiting is None:
            self._waiting = trio.lowlevel.ParkingLot()
        # give() hands the turn to the task it wakes, so it is ours once this returns; a
        # task cancelled while waiting leaves the queue without it.
        await self._waiting.park()

    def give(self) -> None:
        """End the current turn: the longest-waiting task has it next."""
        waiting = self._waiting
        if waiting:
            waiting.unpark()
        else:
            self._taken = False

    async def __aenter__(self) -> None:
        await self.take()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.give()
