"""The ASGI side of trioquart: one module per scope type, and the boundary around them.

Nothing but ``trio.Cancelled`` and ``KeyboardInterrupt`` may leave the ASGI callable:
Hypercorn's trio worker dies on some escaped errors (a ``BaseException`` that is not an
``Exception``), taking every other connection with it. So an error that got this far is
logged and, if the response has not started, answered with a 500. The one exception is the
in-process test client, which asks for errors to propagate so a test sees them as they are.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio

from ..errors import strip_cancelled
from .http import HTTPConnection
from .lifespan import serve_lifespan

if TYPE_CHECKING:
    from ..app import TrioQuart
    from ..typing import ASGIReceive, ASGISend, Scope

logger = logging.getLogger("trioquart")


async def asgi_app(app: TrioQuart, scope: Scope, receive: ASGIReceive, send: ASGISend) -> None:
    kind = scope["type"]
    if kind == "http":
        await serve_http(app, scope, receive, send)
    elif kind == "lifespan":
        await serve_lifespan(app, scope, receive, send)
    elif kind == "websocket":
        # Websocket routing arrives with the websocket layer; until then refuse the
        # handshake (servers answer a close before accept with 403).
        logger.error("Refused a websocket to %s: websockets are not served yet", scope["path"])
        await send({"type": "websocket.close", "code": 1000})
    else:
        raise RuntimeError(f"Unknown ASGI scope type {kind!r}")


def _must_escape(error: BaseException) -> bool:
    """Whether ``error`` is a cancellation or an interrupt, which belong to the server."""
    if isinstance(error, trio.Cancelled | KeyboardInterrupt):
        return True
    if isinstance(error, BaseExceptionGroup):
        if strip_cancelled(error) is None:
            return True
        return error.subgroup(KeyboardInterrupt) is not None
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
