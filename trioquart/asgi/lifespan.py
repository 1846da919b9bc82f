"""The ASGI lifespan: serving hooks, the app nursery, background tasks, shutdown.

Startup runs ``before_serving`` and the ``while_serving`` generators inside the app nursery's
block, so the nursery is open from then until shutdown. At shutdown ``shutdown_event`` is set
(background loops can watch it and finish), tasks get ``BACKGROUND_TASK_SHUTDOWN_TIMEOUT``
seconds, the rest are cancelled, and only then do the ``while_serving`` generators resume and
``after_serving`` runs.

A failed startup is reported with ``lifespan.startup.failed``; after that this task waits
rather than returning, because Hypercorn's trio worker crashes when the lifespan callable
returns early.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import trio

if TYPE_CHECKING:
    from ..app import TrioQuart
    from ..typing import ASGIReceive, ASGISend, Scope


class ServingNursery:
    """The app's nursery as the app hands it out (``app.nursery``).

    It starts tasks like a trio nursery, but an error in one task is logged (and sent as the
    ``got_background_exception`` signal) instead of cancelling the nursery, so one failing
    task cannot stop the others or the app.
    """

    def __init__(self, app: TrioQuart, nursery: trio.Nursery) -> None:
        self._app = app
        self._nursery = nursery

    @property
    def cancel_scope(self) -> trio.CancelScope:
        return self._nursery.cancel_scope

    @property
    def child_tasks(self) -> frozenset[trio.lowlevel.Task]:
        return self._nursery.child_tasks

    def start_soon(
        self, async_fn: Callable[..., Awaitable[Any]], *args: Any, name: object = None
    ) -> None:
        self._nursery.start_soon(self._guard, async_fn, args, name=name or async_fn)

    async def start(
        self, async_fn: Callable[..., Awaitable[Any]], *args: Any, name: object = None
    ) -> Any:
        return await self._nursery.start(self._guard_started, async_fn, args, name=name or async_fn)

    async def _guard(self, async_fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...]) -> None:
        try:
            await async_fn(*args)
        except Exception as error:
            await self._app.handle_background_exception(error)

    async def _guard_started(
        self,
        async_fn: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        try:
            await async_fn(*args, task_status=task_status)
        except Exception as error:
            await self._app.handle_background_exception(error)


async def serve_lifespan(
    app: TrioQuart, scope: Scope, receive: ASGIReceive, send: ASGISend
) -> None:
    message = await receive()
    if message["type"] != "lifespan.startup":
        raise RuntimeError(f"Expected lifespan.startup, got {message['type']!r}")
    tasks_scope = trio.CancelScope()
    failure: str | None = None
    with tasks_scope:
        async with trio.open_nursery() as nursery:
            app._nursery = ServingNursery(app, nursery)
            try:
                await app.startup()
            except Exception as error:
                app.logger.error("The app failed to start", exc_info=error)
                failure = f"{type(error).__name__}: {error}"
                nursery.cancel_scope.cancel()
            else:
                await send({"type": "lifespan.startup.complete"})
                message = await receive()
                app.shutdown_event.set()
                timeout = app.config["BACKGROUND_TASK_SHUTDOWN_TIMEOUT"]
                tasks_scope.deadline = trio.current_time() + (
                    timeout if timeout is not None else math.inf
                )
    app._nursery = None
    if failure is not None:
        await send({"type": "lifespan.startup.failed", "message": failure})
        message = await receive()
    if tasks_scope.cancelled_caught:
        app.logger.warning(
            "Background tasks were cancelled after BACKGROUND_TASK_SHUTDOWN_TIMEOUT at shutdown"
        )
    try:
        if failure is None:
            await app.shutdown()
    except Exception as error:
        app.logger.error("The app failed to shut down cleanly", exc_info=error)
        await send(
            {"type": "lifespan.shutdown.failed", "message": f"{type(error).__name__}: {error}"}
        )
    else:
        await send({"type": "lifespan.shutdown.complete"})
