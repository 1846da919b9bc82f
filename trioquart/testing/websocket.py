"""The in-process websocket client: ``async with client.websocket("/ws") as ws: ...``.

It plays the server's part as Hypercorn does: it offers the ``websocket.http.response``
extension, answers a close before accept as a 403, and tells the app of a close once.
Entering the block performs the handshake: a denial raises :class:`WebsocketResponseError`
right there, carrying the response, as a real client's handshake would fail.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import trio
from werkzeug.datastructures import Headers

from .utils import decode_headers, received_response

if TYPE_CHECKING:
    from ..app import TrioQuart
    from ..typing import Message, Scope
    from ..wrappers.response import Response


class WebsocketResponseError(Exception):
    """The app answered the handshake with an HTTP response instead of accepting it."""

    def __init__(self, response: Response) -> None:
        super().__init__(f"The websocket handshake was answered with {response.status}.")
        self.response = response


class WebsocketDisconnectError(Exception):
    """The app closed the websocket; ``code`` and ``reason`` are what it sent."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"The app closed the websocket with {code} {reason!r}.")
        self.code = code
        self.reason = reason


class TestWebsocketConnection:
    """The client end of an in-process websocket."""

    __test__ = False  # not a pytest test class

    def __init__(self, app: TrioQuart, scope: Scope) -> None:
        self.app = app
        self.scope = scope
        self._to_app, self._app_inbox = trio.open_memory_channel[Any](math.inf)
        self._app_outbox, self._from_app = trio.open_memory_channel[Any](math.inf)
        self._app_done = trio.Event()
        self._told_app_closed = False
        self._app_failed = False
        #: The subprotocol and headers the app accepted with.
        self.subprotocol: str | None = None
        self.headers: Headers | None = None
        #: Set once either side closed: the code and reason.
        self.close_code: int | None = None
        self.close_reason = ""

    # The app's side of the connection.

    async def _app_receive(self) -> Message:
        if self._told_app_closed:
            await trio.sleep_forever()
        message = await self._app_inbox.receive()
        if message["type"] == "websocket.disconnect":
            self._told_app_closed = True
        return message

    async def _app_send(self, message: Message) -> None:
        if message["type"] == "websocket.close" and self.headers is not None:
            # An accepted websocket closed by the app: the server then reports the close.
            await self._to_app.send({"type": "websocket.disconnect", "code": message["code"]})
        await self._app_outbox.send(message)

    async def _run(self) -> None:
        try:
            await self.app(self.scope, self._app_receive, self._app_send)
        except BaseException:
            self._app_failed = True
            raise
        finally:
            self._app_done.set()
            self._app_outbox.close()

    async def _app_ended(self) -> None:
        """The app ended without closing. If it raised, wait here to be cancelled, so that
        its error reaches the test alone rather than beside a client-side one."""
        if self._app_failed:
            await trio.sleep_forever()

    async def _handshake(self) -> None:
        await self._to_app.send({"type": "websocket.connect"})
        try:
            message = await self._from_app.receive()
        except trio.EndOfChannel:
            await self._app_ended()
            await self._deny(self.app.response_class(status=500))
        kind = message["type"]
        if kind == "websocket.accept":
            self.subprotocol = message.get("subprotocol")
            self.headers = decode_headers(message.get("headers", []))
            return
        if kind == "websocket.close":
            await self._deny(self.app.response_class(status=403))
        if kind == "websocket.http.response.start":
            parts = []
            async for part in self._from_app:
                parts.append(part.get("body", b""))
                if not part.get("more_body", False):
                    break
            headers = decode_headers(message.get("headers", []))
            await self._deny(
                received_response(self.app, b"".join(parts), message["status"], headers)
            )
        raise RuntimeError(f"The app sent {kind!r} during the handshake.")

    async def _deny(self, response: Response) -> Any:
        # Let the app finish its teardown before the error leaves the block.
        await self._app_done.wait()
        raise WebsocketResponseError(response)

    # The client's API.

    async def send(self, data: str | bytes) -> None:
        if isinstance(data, str):
            await self._to_app.send({"type": "websocket.receive", "text": data, "bytes": None})
        else:
            await self._to_app.send({"type": "websocket.receive", "bytes": data, "text": None})

    async def receive(self) -> str | bytes:
        """The next message from the app; raises :class:`WebsocketDisconnectError` once the
        app has closed."""
        if self.close_code is not None:
            raise WebsocketDisconnectError(self.close_code, self.close_reason)
        try:
            message = await self._from_app.receive()
        except trio.EndOfChannel:
            await self._app_ended()
            self.close_code = 1011 if self.close_code is None else self.close_code
            raise WebsocketDisconnectError(self.close_code) from None
        if message["type"] == "websocket.close":
            self.close_code = message.get("code", 1000)
            self.close_reason = message.get("reason") or ""
            raise WebsocketDisconnectError(self.close_code, self.close_reason)
        if message.get("text") is not None:
            return message["text"]
        return message.get("bytes") or b""

    async def send_json(self, value: Any) -> None:
        await self.send(json.dumps(value))

    async def receive_json(self) -> Any:
        return json.loads(await self.receive())

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close from the client's side; the app sees a disconnect with this code."""
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
            await self._to_app.send(
                {"type": "websocket.disconnect", "code": code, "reason": reason}
            )
