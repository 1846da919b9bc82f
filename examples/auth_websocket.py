"""An echo websocket for logged-in users only. From the repository root, serve it with::

    trioquart run examples.auth_websocket:app

and connect to ws://127.0.0.1:5000/echo with HTTP Basic credentials (alice/wonderland).

``login_required`` runs before the websocket is accepted, so ``abort(401)`` answers the
handshake with a real 401 response (status, ``WWW-Authenticate`` header and body) instead
of upgrading; the client never gets a websocket at all.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from werkzeug.datastructures import WWWAuthenticate

from trioquart import TrioQuart, abort, websocket

P = ParamSpec("P")
R = TypeVar("R")

app = TrioQuart(__name__)

# A real app would keep password hashes in a database.
USERS = {"alice": "wonderland"}


def valid_credentials(username: str, password: str) -> bool:
    expected = USERS.get(username)
    return expected is not None and hmac.compare_digest(expected.encode(), password.encode())


def login_required(handler: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Deny the handshake with 401 unless it carries valid Basic credentials."""

    @wraps(handler)
    async def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        auth = websocket.authorization
        if (
            auth is None
            or auth.type != "basic"
            or not valid_credentials(auth.username or "", auth.password or "")
        ):
            abort(401, www_authenticate=WWWAuthenticate("basic", {"realm": "echo"}))
        return await handler(*args, **kwargs)

    return guarded


@app.websocket("/echo")
@login_required
async def echo() -> None:
    async for message in websocket:
        await websocket.send(message)
