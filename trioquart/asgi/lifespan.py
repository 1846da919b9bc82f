"""The ASGI lifespan: serving hooks, the app nursery, background tasks, shutdown.

Startup runs ``before_serving`` and the ``while_serving`` generators inside the app
nursery's block, so the nursery is open from then until shutdown. It holds two kinds of
task, which end differently at shutdown:

- **Services**, started with ``app.nursery.start_soon`` or ``start``: long-running loops
  (a ticker, a subscription) with no natural end. They are cancelled as soon as the
  shutdown begins, so a ``while True`` loop never holds up Ctrl+C.
- **Jobs**, from ``app.add_background_task``: work with an end (send an email, write a
  report) that a request handed off. ``shutdown_event`` is set, and they get
  ``BACKGROUND_TASK_SHUTDOWN_TIMEOUT`` seconds to finish before they are cancelled, as in
  Quart.

Only when both have ended do the ``while_serving`` generators resume and ``after_serving``
run. (The server sends the lifespan shutdown after its connections have closed, so
services are still there for the requests that finish during the graceful timeout.)

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
    task cannot stop the others or the app. ``start_soon`` and ``start`` start services,
    :meth:`start_job` (which ``add_background_task`` uses) a job; the module docstring says
    how they end.
    """

    def __init__(self, app: TrioQuart, services: trio.Nursery, jobs: trio.Nursery) -> None:
        self._app = app
        self._services = services
        self._jobs = jobs

    @property
    def cancel_scope(self) -> trio.CancelScope:
        """The services' cancel scope: cancelling it ends every service."""
        return self._services.cancel_scope

    @property
    def child_tasks(self) -> frozenset[trio.lowlevel.Task]:
        return self._services.child_tasks | self._jobs.child_tasks

    def start_soon(
        self, async_fn: Callable[..., Awaitable[Any]], *args: Any, name: object = None
    ) -> None:
        """Start a service: cancelled as soon as the app shuts down."""
        self._services.start_soon(self._guard, async_fn, args, name=name or async_fn)

    async def start(
        self, async_fn: Callable[..., Awaitable[Any]], *args: Any, name: object = None
    ) -> Any:
        """Start a service and wait until it calls ``task_status.started()``."""
        return await self._services.start(
            self._guard_started, async_fn, args, name=name or async_fn
        )

    def start_job(
        self, async_fn: Callable[..., Awaitable[Any]], *args: Any, name: object = None
    ) -> None:
        """Start a job: at shutdown it gets ``BACKGROUND_TASK_SHUTDOWN_TIMEOUT`` to finish."""
        self._jobs.start_soon(self._guard, async_fn, args, name=name or async_fn)

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


def failure_message(error: BaseException) -> str:
    """The ``message`` of a ``lifespan.*.failed`` event: the error and its notes (such as
    the one :func:`~trioquart.errors.explain_asyncio` adds), since the server or
    ``test_app()`` shows only this text."""
    return "\n".join([f"{type(error).__name__}: {error}", *getattr(error, "__notes__", ())])


async def serve_lifespan(
    app: TrioQuart, scope: Scope, receive: ASGIReceive, send: ASGISend
) -> None:
    message = await receive()
    if message["type"] != "lifespan.startup":
        raise RuntimeError(f"Expected lifespan.startup, got {message['type']!r}")
    jobs_scope = trio.CancelScope()
    failure: str | None = None
    with jobs_scope:
        async with trio.open_nursery() as jobs, trio.open_nursery() as services:
            app._nursery = ServingNursery(app, services, jobs)
            try:
                await app.startup()
            except Exception as error:
                app.logger.error("The app failed to start", exc_info=error)
                failure = failure_message(error)
                jobs.cancel_scope.cancel()
            else:
                await send({"type": "lifespan.startup.complete"})
                message = await receive()
                app.shutdown_event.set()
                timeout = app.config["BACKGROUND_TASK_SHUTDOWN_TIMEOUT"]
                jobs_scope.deadline = trio.current_time() + (
                    timeout if timeout is not None else math.inf
                )
            services.cancel_scope.cancel()
    app._nursery = None
    if failure is not None:
        await send({"type": "lifespan.startup.failed", "message": failure})
        message = await receive()
    if jobs_scope.cancelled_caught:
        app.logger.warning(
            "Background tasks were cancelled after BACKGROUND_TASK_SHUTDOWN_TIMEOUT at shutdown"
        )
    try:
        if failure is None:
            await app.shutdown()
    except Exception as error:
        app.logger.error("The app failed to shut down cleanly", exc_info=error)
        await send({"type": "lifespan.shutdown.failed", "message": failure_message(error)})
    else:
        await send({"type": "lifespan.shutdown.complete"})
