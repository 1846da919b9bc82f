"""The websocket: werkzeug's sans-IO request for the handshake, plus messaging.

A websocket starts as a GET request. Until it is accepted the app may still answer it with
any HTTP response (a denial); once accepted it carries messages until either side closes.
The messaging itself is done by the connection (:mod:`trioquart.asgi.websocket`), which
this object talks to through :class:`WebsocketChannel`.
"""

from __future__ import annotations

import enum
import json
from collections.abc import AsyncIterator, Coroutine, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from werkzeug.datastructures import Headers
from werkzeug.exceptions import BadRequest
from werkzeug.sansio.request import Request as SansIORequest

from .base import ConnectionMixin
from .request import ClientDisconnectedError

if TYPE_CHECKING:
    from ..typing import Scope


class WebsocketState(enum.Enum):
    """Where a websocket is in its life.

    ``CONNECTING`` -> ``ACCEPTED`` (the 101 went out) -> ``CLOSED``; or ``CONNECTING`` ->
    ``DENIED`` (an HTTP response, or a close, answered the handshake instead).
    """

    CONNECTING = "connecting"
    ACCEPTED = "accepted"
    DENIED = "denied"
    CLOSED = "closed"


class WebsocketDisconnectedError(ClientDisconnectedError):
    """The websocket is closed: ``receive`` and ``send`` raise this afterwards.

    ``code`` and ``reason`` are the close code and reason, when known (Hypercorn reports
    1006 for every close the client starts, whatever code the client sent).
    """

    def __init__(self, code: int | None, reason: str = "") -> None:
        super().__init__(f"The websocket is closed (code {code}).")
        self.code = code
        self.reason = reason


class CloseWebsocket(Exception):  # noqa: N818 -- named for what raising it does
    """Raised from a websocket handler, or a task in its nursery, to end the websocket
    with ``code`` and ``reason`` instead of the 1011 an unhandled error gets.

    It is a deliberate end, not a failure, so it is not logged as an error (whoever raises
    it says why, once). Before the handshake is accepted it denies it with a 403. An error
    handler registered for the class, or a subclass, still takes precedence.
    """

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"Closing the websocket with {code} {reason}".rstrip())
        self.code = code
        self.reason = reason


class WebsocketChannel(Protocol):
    """What :class:`Websocket` needs from its connection."""

    state: WebsocketState
    close_code: int | None
    close_reason: str
    accepted_subprotocol: str | None

    async def accept(self, headers: Headers | None, subprotocol: str | None) -> None: ...

    async def receive(self) -> str | bytes: ...

    async def send(self, data: str | bytes) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


class Websocket(ConnectionMixin, SansIORequest):
    """A websocket, as ``websocket`` in a websocket handler.

    The handshake's path, args, headers, cookies and ``authorization`` come from werkzeug.
    ``await websocket.accept()`` sends the 101; the first ``send`` or ``receive`` accepts
    implicitly. ``async for message in websocket`` receives until the client closes.
    """

    def __init__(
        self,
        method: str,
        scheme: str,
        server: tuple[str, int | None] | None,
        root_path: str,
        path: str,
        query_string: bytes,
        headers: Headers,
        remote_addr: str | None,
        *,
        channel: WebsocketChannel,
        subprotocols: Iterable[str] = (),
        scope: Scope | None = None,
        http_version: str = "1.1",
    ) -> None:
        super().__init__(
            method, scheme, server, root_path, path, query_string, headers, remote_addr
        )
        self._channel = channel
        self.scope: Scope = scope if scope is not None else {}
        self.http_version = http_version
        self.requested_subprotocols: list[str] = list(subprotocols)

    @property
    def state(self) -> WebsocketState:
        return self._channel.state

    @property
    def accepted(self) -> bool:
        return self._channel.state is WebsocketState.ACCEPTED

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol chosen at accept, if any."""
        return self._channel.accepted_subprotocol

    @property
    def close_code(self) -> int | None:
        """The close code, once the websocket is closed (None before)."""
        return self._channel.close_code

    @property
    def close_reason(self) -> str:
        return self._channel.close_reason

    async def accept(
        self,
        headers: Headers | Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        subprotocol: str | None = None,
    ) -> None:
        """Send the 101 with ``headers`` and ``subprotocol`` (one the client offered).
        Accepting again does nothing."""
        if self._channel.state is WebsocketState.CONNECTING:
            await self._channel.accept(Headers(headers) if headers else None, subprotocol)

    # receive() and send() hand back the connection's own coroutine for ``await`` rather
    # than awaiting it in one of their own: they run for every message, and an idle
    # websocket waits inside receive(), so each frame saved is time per message and memory
    # per open connection. A subclass may override either with an ``async def``.

    def receive(self) -> Coroutine[Any, Any, str | bytes]:
        """``await websocket.receive()``: the next message, ``str`` for a text frame and
        ``bytes`` for a binary one."""
        return self._channel.receive()

    def send(self, data: str | bytes) -> Coroutine[Any, Any, None]:
        """``await websocket.send(data)``: send a text (``str``) or binary (``bytes``)
        message."""
        return self._channel.send(data)

    async def receive_json(self) -> Any:
        """The next message parsed as JSON; invalid JSON is a 400 Bad Request (which,
        after accept, closes the websocket with 4400 unless handled)."""
        data = await self.receive()
        try:
            return _loads(data)
        except (ValueError, RecursionError) as error:
            raise BadRequest(f"The websocket message is not valid JSON: {error}") from error

    async def send_json(self, *args: Any, **kwargs: Any) -> None:
        """Send ``args``/``kwargs`` as a JSON text message (as ``jsonify`` arranges them)."""
        if args and kwargs:
            raise TypeError("send_json takes positional or keyword arguments, not both.")
        if len(args) == 1:
            value: Any = args[0]
        else:
            value = list(args) if args else kwargs
        await self.send(_dumps(value))

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the websocket (before accept this refuses the handshake). Closing twice
        does nothing."""
        await self._channel.close(code, reason)

    def __aiter__(self) -> AsyncIterator[str | bytes]:
        return _Messages(self)


class _Messages:
    """``async for message in websocket``: receives until the websocket closes."""

    def __init__(self, websocket: Websocket) -> None:
        self._websocket = websocket

    def __aiter__(self) -> _Messages:
        return self

    async def __anext__(self) -> str | bytes:
        try:
            return await self._websocket.receive()
        except WebsocketDisconnectedError:
            raise StopAsyncIteration from None


def _loads(data: str | bytes) -> Any:
    from ..globals import _cv_app

    app_ctx = _cv_app.get()
    if app_ctx is not None:
        return app_ctx.app.json.loads(data)
    return json.loads(data)


def _dumps(value: Any) -> str:
    from ..globals import _cv_app

    app_ctx = _cv_app.get()
    if app_ctx is not None:
        return app_ctx.app.json.dumps(value)
    return json.dumps(value)
