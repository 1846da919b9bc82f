"""The ASGI side of trioquart: one module per scope type, and the boundary around them.

Nothing but ``trio.Cancelled`` and ``KeyboardInterrupt`` may leave the ASGI callable:
Hypercorn's trio worker dies on some escaped errors (a ``BaseException`` that is not an
``Exception``), taking every other connection with it. So an error that got this far is
logged and, if the response has not started, answered with a 500 (each connection's
``run`` does this, by :func:`trioquart.errors.belongs_to_server`). The one exception is the
in-process test client, which asks for errors to propagate so a test sees them as they are.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from .http import HTTPConnection
from .lifespan import serve_lifespan
from .websocket import WebsocketConnection

if TYPE_CHECKING:
    from ..app import TrioQuart
    from ..typing import ASGIReceive, ASGISend, Scope


def server_for(kind: str) -> Callable[[TrioQuart, Scope, ASGIReceive, ASGISend], Awaitable[None]]:
    """The coroutine function that serves a scope of type ``kind``."""
    try:
        return _SERVERS[kind]
    except KeyError:
        raise RuntimeError(f"Unknown ASGI scope type {kind!r}") from None


def serve_http(
    app: TrioQuart, scope: Scope, receive: ASGIReceive, send: ASGISend
) -> Awaitable[None]:
    # The connection's own coroutine, returned rather than awaited here: a response's sends
    # suspend several times, and each resumption walks every frame of the await chain.
    return HTTPConnection(app, scope, receive, send).run()


def serve_websocket(
    app: TrioQuart, scope: Scope, receive: ASGIReceive, send: ASGISend
) -> Awaitable[None]:
    return WebsocketConnection(app, scope, receive, send).run()


_SERVERS: dict[str, Callable[[TrioQuart, Scope, ASGIReceive, ASGISend], Awaitable[None]]] = {
    "http": serve_http,
    "websocket": serve_websocket,
    "lifespan": serve_lifespan,
}
