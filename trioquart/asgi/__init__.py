"""The ASGI side of trioquart: one module per scope type, and the boundary around them.

Nothing but ``trio.Cancelled`` and ``KeyboardInterrupt`` may leave the ASGI callable:
Hypercorn's trio worker dies on some escaped errors (a ``BaseException`` that is not an
``Exception``), taking every other connection with it. So an error that got this far is
logged and, if the response has not started, answered with a 500 (each connection's
``run`` does this, by :func:`trioquart.errors.belongs_to_server`). The one exception is the
in-process test client, which asks for errors to propagate so a test sees them as they are.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING

from .http import HTTPConnection
from .lifespan import serve_lifespan
from .websocket import WebsocketConnection

__all__ = ["HTTPConnection", "WebsocketConnection", "serve"]

if TYPE_CHECKING:
    from ..app import TrioQuart
    from ..typing import ASGIReceive, ASGISend, Scope


def serve(app: TrioQuart, scope: Scope, receive: ASGIReceive, send: ASGISend) -> Awaitable[None]:
    """Serve one scope: the awaitable is the connection's own coroutine, returned rather
    than awaited here, since a response's sends suspend several times and each resumption
    walks every frame of the await chain (and each layer is a call on every request)."""
    kind = scope["type"]
    if kind == "http":  # TrioQuart.asgi_app serves these itself, a call sooner
        return HTTPConnection(app, scope, receive, send).run()
    if kind == "websocket":
        return WebsocketConnection(app, scope, receive, send).run()
    if kind == "lifespan":
        return serve_lifespan(app, scope, receive, send)
    raise RuntimeError(f"Unknown ASGI scope type {kind!r}")
