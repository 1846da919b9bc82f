"""The ASGI side of trioquart: one module per scope type, and the boundary around them.

Nothing but ``trio.Cancelled`` and ``KeyboardInterrupt`` may leave the ASGI callable:
Hypercorn's trio worker dies on some escaped errors (a ``BaseException`` that is not an
``Exception``), taking every other connection with it. So an error that got this far is
logged and, if the response has not started, answered with a 500. The one exception is the
in-process test client, which asks for errors to propagate so a test sees them as they are.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import trio

from ..errors import holds_interrupt, strip_cancelled
from ..wrappers.websocket import WebsocketState
from .http import HTTPConnection
from .lifespan import serve_lifespan
from .websocket import WebsocketConnection

if TYPE_CHECKING:
    from ..app import TrioQuart
    from ..typing import ASGIReceive, ASGISend, Scope

logger = logging.getLogger("trioquart")


def server_for(kind: str) -> Callable[[TrioQuart, Scope, ASGIReceive, ASGISend], Awaitable[None]]:
    """The coroutine function that serves a scope of type ``kind``."""
    try:
        return _SERVERS[kind]
    except KeyError:
        raise RuntimeError(f"Unknown ASGI scope type {kind!r}") from None


def _must_escape(error: BaseException) -> bool:
    """Whether ``error`` is a cancellation or an interrupt, which belong to the server."""
    if isinstance(error, trio.Cancelled | KeyboardInterrupt):
        return True
    if isinstance(error, BaseExceptionGroup):
        return strip_cancelled(error) is None or holds_interrupt(error)
    return False


async def serve_http(app: TrioQuart, scope: Scope, receive: ASGIReceive, send: ASGISend) -> None:
    connection = HTTPConnection(app, scope, receive, send)
    try:
        await connection.run()
    except BaseException as error:
        if _must_escape(error) or (connection.propagate and isinstance(error, Exception)):
            raise
        logger.error(
            "Unhandled error serving %s %s", scope["method"], scope["path"], exc_info=error
        )
        if not connection.response_started:
            with trio.CancelScope(shield=True):
                await send(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8")],
                    }
                )
                await send(
                    {
                        "type": "http.response.body",
                        "body": b"Internal Server Error",
                        "more_body": False,
                    }
                )


async def serve_websocket(
    app: TrioQuart, scope: Scope, receive: ASGIReceive, send: ASGISend
) -> None:
    connection = WebsocketConnection(app, scope, receive, send)
    try:
        await connection.run()
    except BaseException as error:
        if _must_escape(error) or (connection.propagate and isinstance(error, Exception)):
            raise
        logger.error("Unhandled error serving websocket %s", scope["path"], exc_info=error)
        with trio.CancelScope(shield=True):
            if connection.state is WebsocketState.CONNECTING:
                await connection.deny(app.response_class("Internal Server Error", status=500))
            elif connection.state is WebsocketState.ACCEPTED:
                await connection.close(1011, "Internal Server Error")


_SERVERS: dict[str, Callable[[TrioQuart, Scope, ASGIReceive, ASGISend], Awaitable[None]]] = {
    "http": serve_http,
    "websocket": serve_websocket,
    "lifespan": serve_lifespan,
}
