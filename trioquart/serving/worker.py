"""One worker: serve an app on its listening sockets until told to stop, then stop gracefully.

:func:`serve` is what ``trioquart run`` runs in each worker (and what
:func:`trioquart.testing.serve_app` runs in tests). It takes Hypercorn's configuration and
runs Hypercorn's protocol layer, but the loop is trioquart's, so that:

- no connection can end the worker (:mod:`trioquart.serving.connection`);
- the shutdown is one a client can rely on. When the trigger fires, the listening sockets
  close at once (new clients are refused, not left waiting in the backlog); idle
  keep-alive connections close; requests in flight get ``graceful_timeout`` seconds to
  finish; every open websocket is closed with 1001 (going away) rather than dropped; at the
  end of the graceful timeout whatever is left is cancelled and its socket closed, even a
  send blocked on a client that does not read; and only then does the lifespan shutdown
  (``after_serving``) run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from random import randint
from typing import TYPE_CHECKING, Any, cast

import trio
from hypercorn.trio.lifespan import Lifespan
from hypercorn.trio.worker_context import WorkerContext
from hypercorn.utils import LifespanFailureError, LifespanTimeoutError, repr_socket_addr, wrap_app

from .config import apply_app_limits
from .connection import Connection, OpenConnections
from .logs import use_statsd_logger
from .websocket import check_hypercorn

if TYPE_CHECKING:
    from hypercorn.config import Config, Sockets
    from hypercorn.typing import Framework

    from ..typing import ASGIApp

__all__ = ["AppStartupError", "serve"]

#: After the graceful timeout, the connections still open are cancelled; this much later,
#: any whose socket is still held (a shielded send to a client that reads nothing) is closed.
FORCE_CLOSE_DELAY = 0.25


async def serve(
    app: ASGIApp,
    config: Config,
    *,
    shutdown_trigger: Callable[[], Awaitable[Any]] | None = None,
    sockets: Sockets | None = None,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` until ``shutdown_trigger`` returns, then shut down gracefully.

    ``task_status.started`` reports the URLs bound (``["http://127.0.0.1:43123"]``) once
    the lifespan startup is complete and the sockets listen; a failed startup raises
    :class:`AppStartupError` before any socket is opened. ``sockets`` are sockets the caller
    made (a supervisor shares its sockets with its workers); without them the
    config's binds are opened here. Cancelling ``serve`` stops at once, without the
    graceful shutdown or the lifespan's.
    """
    check_hypercorn()
    if config.quic_bind:
        raise ValueError("trioquart's server does not serve HTTP/3 (quic_bind)")
    use_statsd_logger(config)
    lifespan_state: dict[str, Any] = {}
    wrapped = wrap_app(cast("Framework", app), config.wsgi_max_body_size, "asgi")
    lifespan = ServerLifespan(wrapped, config, lifespan_state)
    max_requests = None
    if config.max_requests is not None:
        max_requests = config.max_requests + randint(0, config.max_requests_jitter)
    context = WorkerContext(max_requests)
    open_connections = OpenConnections()

    async with trio.open_nursery() as lifespan_nursery:
        await lifespan_nursery.start(lifespan.handle_lifespan)
        await lifespan.wait_for_startup()
        apply_app_limits(config, app)
        listeners, binds = _listeners(config, sockets)
        handler = partial(Connection, app, config, context, lifespan_state.copy(), open_connections)
        async with trio.open_nursery() as guard:
            async with trio.open_nursery() as connections:
                try:
                    async with trio.open_nursery() as accepting:
                        accepting.start_soon(
                            partial(
                                trio.serve_listeners,
                                handler,
                                listeners,
                                handler_nursery=connections,
                            )
                        )
                        task_status.started(binds)
                        await _first_of(shutdown_trigger, context.terminate.wait)
                        accepting.cancel_scope.cancel()
                finally:
                    for listener in listeners:
                        await trio.aclose_forcefully(listener)
                # Graceful shutdown: what the connections see of it is in the module docstring.
                await context.terminated.set()
                for websocket in list(open_connections.websockets):
                    connections.start_soon(
                        websocket.going_away, getattr(config, "websocket_close_timeout", 1.0)
                    )
                deadline = trio.current_time() + config.graceful_timeout
                connections.cancel_scope.deadline = deadline
                guard.start_soon(_force_close_at, open_connections, deadline + FORCE_CLOSE_DELAY)
            guard.cancel_scope.cancel()
        await lifespan.wait_for_shutdown()
        lifespan_nursery.cancel_scope.cancel()


async def _first_of(*waits: Callable[[], Awaitable[Any]] | None) -> None:
    """Return when the first of ``waits`` returns."""
    async with trio.open_nursery() as nursery:

        async def wait_then_stop(wait: Callable[[], Awaitable[Any]]) -> None:
            await wait()
            nursery.cancel_scope.cancel()

        for wait in waits:
            if wait is not None:
                nursery.start_soon(wait_then_stop, wait)


async def _force_close_at(open_connections: OpenConnections, deadline: float) -> None:
    await trio.sleep_until(deadline)
    for connection in list(open_connections.connections):
        connection.force_close()


def _listeners(
    config: Config, sockets: Sockets | None
) -> tuple[list[trio.abc.Listener[Any]], list[str]]:
    """The listeners for ``sockets`` (or for new sockets bound as ``config`` says), and the
    URL of each."""
    if sockets is None:
        sockets = config.create_sockets()
        for sock in [*sockets.secure_sockets, *sockets.insecure_sockets]:
            sock.listen(config.backlog)
    listeners: list[trio.abc.Listener[Any]] = []
    binds: list[str] = []
    ssl_context = config.create_ssl_context() if sockets.secure_sockets else None
    for sock in sockets.secure_sockets:
        assert ssl_context is not None
        listeners.append(
            trio.SSLListener(
                trio.SocketListener(trio.socket.from_stdlib_socket(sock)),
                ssl_context,
                https_compatible=True,
            )
        )
        binds.append(f"https://{repr_socket_addr(sock.family, sock.getsockname())}")
    for sock in sockets.insecure_sockets:
        listeners.append(trio.SocketListener(trio.socket.from_stdlib_socket(sock)))
        binds.append(f"http://{repr_socket_addr(sock.family, sock.getsockname())}")
    return listeners, binds


class AppStartupError(LifespanFailureError):
    """The app reported ``lifespan.startup.failed``; :attr:`message` is what it said."""

    def __init__(self, message: str) -> None:
        super().__init__("startup", message)
        self.message = message


class ServerLifespan(Lifespan):
    """Hypercorn's lifespan driver, with the failures told apart.

    - A failed startup (``lifespan.startup.failed``) is raised by :meth:`wait_for_startup`,
      in the task that serves, before any socket is opened. (Hypercorn raises it in the
      lifespan's task, and the server has already reported itself started by the time the
      error tears it down.)
    - The ASGI spec lets an app without a lifespan return when it is called with the
      lifespan scope, and the server goes on without one; Hypercorn's trio worker crashes on
      the return.
    - A shutdown that takes too long is reported as a shutdown timeout (Hypercorn says
      "startup").
    """

    startup_failure: str | None = None

    async def asgi_send(self, message: Any) -> None:
        if message["type"] == "lifespan.startup.failed":
            self.startup_failure = message.get("message", "")
            self.startup.set()
            return
        await super().asgi_send(message)

    async def wait_for_startup(self) -> None:
        try:
            await super().wait_for_startup()
        except trio.ClosedResourceError:
            self.supported = False  # the app returned: it has no lifespan
        if self.startup_failure is not None:
            raise AppStartupError(self.startup_failure)

    async def wait_for_shutdown(self) -> None:
        try:
            await super().wait_for_shutdown()
        except trio.ClosedResourceError:
            pass
        except LifespanTimeoutError as error:
            raise LifespanTimeoutError("shutdown") from error.__cause__
