"""One websocket on the wire: the handshake decision, the messages, the close.

The connection moves through :class:`~trioquart.wrappers.websocket.WebsocketState`:

- ``CONNECTING``: the app decides. ``accept()`` (explicit, or implied by the first
  ``send``/``receive``) sends the 101 and moves to ``ACCEPTED``. Any response instead
  (returned, or from ``abort``/an error) *denies* the handshake and moves to ``DENIED``:
  with the ASGI ``websocket.http.response`` extension (Hypercorn has it) the client gets
  that response's status, headers and body; without it the connection is closed, which
  servers answer with 403. A handler that returns None without accepting is denied with a
  403 the same way.
- ``ACCEPTED``: messages flow. Returning closes with 1000; an unhandled error with 1011
  (logged); an HTTP error raised after accept (``abort(403)``, or a handled error whose
  response is a 4xx) closes with 4000 + its status (4403), a 5xx with 1011.
- ``CLOSED``: either side closed. Hypercorn sends the disconnect once and then blocks
  forever, and drops sends after close, so the disconnect is remembered and nothing is
  received again.

Reading: while the handler only waits in its own ``receive``/``send``, it reads the
server's messages directly (the fastest path, and a handler blocked in ``receive`` sees a
disconnect itself). The first time the handler task waits on anything else (a timer, a
queue, a child task), a watcher task starts and from then on reads ahead, so a disconnect
is noticed whatever the handler is doing. Read-ahead messages wait in a bounded channel
(``WEBSOCKET_QUEUE_SIZE``): when the handler falls behind, the server stops reading and TCP
slows the client down. When the
client goes away, the handler and the tasks in the websocket's nursery are cancelled; if
messages the client sent are still queued, the handler first gets up to
``WEBSOCKET_DRAIN_TIMEOUT`` seconds to read them (until it asks past the last one).
"""

from __future__ import annotations

import logging
import math
from http import HTTPStatus
from typing import TYPE_CHECKING

import trio
from werkzeug.datastructures import Headers

from .. import signals
from ..errors import belongs_to_server, holds_interrupt, strip_cancelled
from ..wrappers.base import headers_for_scope, url_parts_from_scope
from ..wrappers.websocket import CloseWebsocket, WebsocketDisconnectedError, WebsocketState
from .driving import WatchesHandlerWaits, run_asking_at_each_wait
from .turns import Turn

if TYPE_CHECKING:
    from ..app import TrioQuart
    from ..ctx import WebsocketContext
    from ..typing import ASGIReceive, ASGISend, Message, Scope
    from ..wrappers.response import Response
    from ..wrappers.websocket import Websocket

logger = logging.getLogger("trioquart")

DENIAL_EXTENSION = "websocket.http.response"


def close_code_for(response: Response) -> tuple[int, str]:
    """The close code and reason for an HTTP error that happened after accept."""
    status = response.status_code
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    if status >= 500 or status < 400:
        return 1011, phrase
    return 4000 + status, phrase


class WebsocketConnection(WatchesHandlerWaits):
    """Serve one ASGI ``websocket`` scope with ``app``."""

    __slots__ = (
        "app",
        "scope",
        "_receive",
        "_send",
        "state",
        "close_code",
        "close_reason",
        "accepted_subprotocol",
        "propagate",
        "client_gone",
        "_inbox_in",
        "_inbox",
        "_drained",
        "_accepting",
        "_reading",
        "_max_message_size",
        "_nursery",
        "_websocket",
    )

    def __init__(self, app: TrioQuart, scope: Scope, receive: ASGIReceive, send: ASGISend) -> None:
        self.init_watching()
        self.app = app
        self.scope = scope
        self._receive = receive
        self._send = send
        self.state = WebsocketState.CONNECTING
        self.close_code: int | None = None
        self.close_reason = ""
        self.accepted_subprotocol: str | None = None
        self.propagate = bool(scope.get("trioquart.propagate_exceptions"))
        self.client_gone = False
        # The watcher's inbox, made when it starts (an idle connection reading directly
        # never needs one).
        self._inbox_in: trio.MemorySendChannel[str | bytes] | None = None
        self._inbox: trio.MemoryReceiveChannel[str | bytes] | None = None
        self._drained: trio.Event | None = None
        self._accepting = Turn()
        # Direct reading (see the module docstring): one reader at a time.
        self._reading = Turn()
        self._max_message_size: int | None = app.config["WEBSOCKET_MAX_MESSAGE_SIZE"]
        self._nursery: trio.Nursery | None = None
        self._websocket: Websocket | None = None

    def build_websocket(self) -> Websocket:
        scope = self.scope
        return self.app.websocket_class(
            "GET",
            *url_parts_from_scope(scope, "ws"),
            channel=self,
            subprotocols=scope.get("subprotocols", ()),
            scope=scope,
            http_version=scope.get("http_version", "1.1"),
        )

    # ---- the connection's life ----------------------------------------------------------

    async def run(self) -> None:
        """Serve the websocket; the ASGI boundary for it (see :mod:`trioquart.asgi`)."""
        try:
            app = self.app
            websocket = self._websocket = self.build_websocket()
            ctx = app.websocket_context(websocket)
            await ctx.push()
            try:
                failure: BaseExceptionGroup | None = None
                try:
                    async with trio.open_nursery() as nursery:
                        self._nursery = nursery
                        websocket._nursery = nursery
                        response = await run_asking_at_each_wait(app.handle_websocket(ctx), self)
                        await self.finish(ctx, response)
                        nursery.cancel_scope.cancel()
                except BaseExceptionGroup as group:
                    failure = group
                if failure is not None:
                    # After the except block, so the chosen error is not logged twice (see
                    # HTTPConnection.respond).
                    await self.handle_error_group(ctx, failure)
            finally:
                await ctx.pop(ctx.unhandled_error)
        except BaseException as error:
            if belongs_to_server(error) or (self.propagate and isinstance(error, Exception)):
                raise
            await self.answer_escaped(error)

    async def answer_escaped(self, error: BaseException) -> None:
        """An error got past the app's own handling: log it, and end the websocket with a
        500 denial or a 1011 close."""
        logger.error("Unhandled error serving websocket %s", self.scope["path"], exc_info=error)
        with trio.CancelScope(shield=True):
            if self.state is WebsocketState.CONNECTING:
                await self.deny(self.app.response_class("Internal Server Error", status=500))
            elif self.state is WebsocketState.ACCEPTED:
                await self.close(1011, "Internal Server Error")

    async def finish(self, ctx: WebsocketContext, response: Response | None) -> None:
        """End the websocket as the handler's outcome says (see the module docstring)."""
        if self.state is WebsocketState.CONNECTING:
            await self.deny(
                response if response is not None else self.app.response_class(status=403)
            )
        elif self.state is WebsocketState.ACCEPTED:
            code, reason = 1000, ""
            if isinstance(ctx.unhandled_error, CloseWebsocket):
                code, reason = ctx.unhandled_error.code, ctx.unhandled_error.reason
            elif ctx.unhandled_error is not None:
                code, reason = 1011, "Internal Server Error"
            elif ctx.handled_error is not None and response is not None:
                code, reason = close_code_for(response)
            await self.close(code, reason)

    async def handle_error_group(self, ctx: WebsocketContext, group: BaseExceptionGroup) -> None:
        """An error ended the websocket's nursery (from a task the handler started, or a
        ``BaseException``): handled as an error in the handler would be."""
        error = strip_cancelled(group)
        if error is None or holds_interrupt(error):
            raise group
        app = self.app
        if isinstance(error, WebsocketDisconnectedError):
            return
        if isinstance(error, Exception):
            try:
                ctx.handled_error = error
                rv = await app.handle_user_exception(ctx, error)
                response = await app.finalize_websocket(ctx, rv)
            except Exception as unhandled:
                response = await app.handle_websocket_exception(ctx, unhandled)
        else:
            response = await app.handle_websocket_exception(ctx, error)
        await self.finish(ctx, response)

    def start_watching(self) -> None:
        """Start the watcher, which reads ahead from now on (see the module docstring)."""
        self._watching = True
        assert self._nursery is not None
        self._inbox_in, self._inbox = trio.open_memory_channel[str | bytes](
            self.app.config["WEBSOCKET_QUEUE_SIZE"]
        )
        self._drained = trio.Event()
        self._nursery.start_soon(self.receive_messages)

    async def receive_messages(self) -> None:
        """The watcher: move client messages into the bounded inbox until the disconnect.
        It takes the reading turn for good, once any direct read in progress has finished."""
        client_closed = False
        await self._reading.take()
        assert self._inbox_in is not None
        async with self._inbox_in:
            while True:
                message = await self._receive()
                kind = message["type"]
                if kind == "websocket.receive":
                    data = await self._accept_message(_data_of(message))
                    if data is None:
                        return
                    await self._inbox_in.send(data)
                elif kind == "websocket.disconnect":
                    # Recorded before the inbox closes: a handler woken by its end must
                    # already see the client's close (and not close in its turn).
                    client_closed = self._record_disconnect(
                        message.get("code", 1005), message.get("reason") or ""
                    )
                    break
        if client_closed:
            await self._drain_then_cancel()

    def _oversize(self, data: str | bytes) -> int:
        """The size of ``data`` if it is over ``WEBSOCKET_MAX_MESSAGE_SIZE``, else 0."""
        limit = self._max_message_size
        if limit is not None and (size := _size(data, limit)) > limit:
            return size
        return 0

    async def _accept_message(self, data: str | bytes) -> str | bytes | None:
        """``data`` as received, after the size check (a message over
        ``WEBSOCKET_MAX_MESSAGE_SIZE`` closes the websocket with 1009: then None) and the
        ``websocket_received`` signal."""
        size = self._oversize(data)
        if size:
            assert self._max_message_size is not None
            await self._too_big(size, self._max_message_size)
            return None
        if signals.websocket_received.receivers:
            await signals.send_message(signals.websocket_received, self.app, data)
        return data

    async def _too_big(self, size: int, limit: int) -> None:
        self.app.logger.warning(
            "Closed websocket %s with 1009: a message of %d bytes is over"
            " WEBSOCKET_MAX_MESSAGE_SIZE (%d)",
            self.scope["path"],
            size,
            limit,
        )
        await self.close(1009, "Message too big")
        self.client_gone = True
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()

    def _record_disconnect(self, code: int, reason: str) -> bool:
        """Note the client's close; False if the app had ended the websocket first (its
        own close code stands)."""
        if self.state in (WebsocketState.CLOSED, WebsocketState.DENIED):
            return False
        self.state = WebsocketState.CLOSED
        self.close_code, self.close_reason = code, reason
        self.client_gone = True
        return True

    async def _drain_then_cancel(self) -> None:
        assert self._inbox is not None and self._drained is not None
        if self._inbox.statistics().current_buffer_used:
            # Give the handler time to read what the client sent before it left.
            with trio.move_on_after(self.app.config["WEBSOCKET_DRAIN_TIMEOUT"] or 0):
                await self._drained.wait()
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()

    # ---- the channel the Websocket object uses ------------------------------------------

    async def accept(self, headers: Headers | None, subprotocol: str | None) -> None:
        marked = self.enter_io()
        try:
            await self._accept(headers, subprotocol)
        finally:
            self.exit_io(marked)

    async def _accept(self, headers: Headers | None, subprotocol: str | None) -> None:
        async with self._accepting:
            if self.state is WebsocketState.ACCEPTED:
                return
            if self.state is not WebsocketState.CONNECTING:
                raise WebsocketDisconnectedError(self.close_code, self.close_reason)
            offered = self.scope.get("subprotocols") or []
            if subprotocol is not None and subprotocol not in offered:
                raise ValueError(
                    f"Cannot accept subprotocol {subprotocol!r}: the client offered {offered}."
                )
            raw_headers = headers_for_scope(headers) if headers else []
            await self._send(
                {"type": "websocket.accept", "subprotocol": subprotocol, "headers": raw_headers}
            )
            self.state = WebsocketState.ACCEPTED
            self.accepted_subprotocol = subprotocol

    async def receive(self) -> str | bytes:
        if self.state is not WebsocketState.ACCEPTED:
            if self.state is WebsocketState.CONNECTING:
                await self.accept(None, None)
            if self.state is WebsocketState.DENIED:
                raise WebsocketDisconnectedError(self.close_code, self.close_reason)
        if not self._watching:
            # Read the next message from the server in this task (see the module
            # docstring), unless the watcher took over meanwhile: then the inbox has it.
            # Inline rather than in a method of its own: an idle websocket waits here, and
            # every coroutine frame it waits through is memory it holds.
            # enter_io and _data_of inlined too, and the size is checked only when the
            # message may be too big (its length in characters, times 4 at most, decides).
            # So is the reading turn while it is free (the usual case, with nobody waiting):
            # the flag is set and cleared here, and Turn's methods are called only to wait
            # or to hand the turn on (callgrind, in-process websocket echo: 157.9 k ->
            # 156.5 k instructions per round trip).
            reading = self._reading
            if reading._taken:
                await reading.take()
            else:
                reading._taken = True
            marked = self._handler_running and not self._handler_in_io
            if marked:
                self._handler_in_io = True
            try:
                if not self._watching:
                    limit = self._max_message_size
                    while not self.client_gone:
                        message = await self._receive()
                        kind = message["type"]
                        if kind == "websocket.receive":
                            data = message.get("bytes")
                            if data is None:
                                data = message.get("text") or ""
                            if (
                                limit is not None and 4 * len(data) > limit and self._oversize(data)
                            ) or signals.websocket_received.receivers:
                                if await self._accept_message(data) is None:
                                    break
                            return data
                        if kind == "websocket.disconnect":
                            self._record_disconnect(
                                message.get("code", 1005), message.get("reason") or ""
                            )
                            self.client_gone = True
                            if self._nursery is not None:
                                self._nursery.cancel_scope.cancel()
                            break
                    # As with the watcher once drained: the reader learns of the close, and
                    # the rest of the connection's work is cancelled (the handler too, at
                    # its next wait).
                    raise WebsocketDisconnectedError(self.close_code, self.close_reason)
            finally:
                if reading._waiting:
                    reading.give()
                else:
                    reading._taken = False
                if marked:
                    self._handler_in_io = False
        try:
            assert self._inbox is not None
            return await self._inbox.receive()
        except trio.EndOfChannel:
            # Drained only once the handler asks past the last message: it may still be
            # working on that one, and should not be cancelled halfway through.
            if self._drained is not None:
                self._drained.set()
            raise WebsocketDisconnectedError(self.close_code, self.close_reason) from None

    async def send(self, data: str | bytes) -> None:
        if self.state is not WebsocketState.ACCEPTED:
            await self._accept_to_send()
        message: Message
        if isinstance(data, str):
            message = {"type": "websocket.send", "text": data}
        elif isinstance(data, (bytes, bytearray, memoryview)):
            message = {"type": "websocket.send", "bytes": bytes(data)}
        else:
            raise TypeError(f"A websocket sends str or bytes, not {type(data).__name__}.")
        marked = self._handler_running and not self._handler_in_io  # enter_io, inlined
        if marked:
            self._handler_in_io = True
        try:
            await self._send(message)
        finally:
            if marked:
                self._handler_in_io = False
        if signals.websocket_sent.receivers:
            await signals.send_message(signals.websocket_sent, self.app, data)

    async def _accept_to_send(self) -> None:
        """A send before accept accepts; one after the close raises."""
        if self.state is WebsocketState.CONNECTING:
            await self.accept(None, None)
        if self.state is not WebsocketState.ACCEPTED:
            raise WebsocketDisconnectedError(self.close_code, self.close_reason)

    async def close(self, code: int, reason: str) -> None:
        marked = self.enter_io()
        try:
            await self._close(code, reason)
        finally:
            self.exit_io(marked)

    async def _close(self, code: int, reason: str) -> None:
        if self.state is WebsocketState.ACCEPTED:
            self.state = WebsocketState.CLOSED
        elif self.state is WebsocketState.CONNECTING:
            self.state = WebsocketState.DENIED  # a close before accept refuses the handshake
        else:
            return
        self.close_code, self.close_reason = code, reason
        with trio.CancelScope(shield=True):
            await self._send({"type": "websocket.close", "code": code, "reason": reason})

    async def deny(self, response: Response) -> None:
        """Answer the handshake with ``response`` instead of accepting it."""
        self.state = WebsocketState.DENIED
        if DENIAL_EXTENSION not in self.scope.get("extensions", {}):
            self.app.logger.warning(
                "Websocket %s was denied with %s, but the server does not offer the %s"
                " extension: the connection was closed instead",
                self.scope["path"],
                response.status,
                DENIAL_EXTENSION,
            )
            with trio.CancelScope(shield=True):
                await self._send({"type": "websocket.close", "code": 1000})
            return
        await self._send(
            {
                "type": "websocket.http.response.start",
                "status": response.status_code,
                "headers": headers_for_scope(response.headers),
            }
        )
        body = b""
        if response.is_streamed:
            timeout = self.app.config["RESPONSE_TIMEOUT"]
            with trio.move_on_after(timeout if timeout is not None else math.inf):
                async for chunk in response.iter_body():
                    if chunk:
                        await self._send(
                            {
                                "type": "websocket.http.response.body",
                                "body": chunk,
                                "more_body": True,
                            }
                        )
        else:
            body = await response.get_data()
        with trio.CancelScope(shield=True):
            await self._send(
                {"type": "websocket.http.response.body", "body": body, "more_body": False}
            )


def _data_of(message: Message) -> str | bytes:
    """The data of a ``websocket.receive`` message: its bytes, or else its text."""
    data: str | bytes | None = message.get("bytes")
    if data is None:
        data = message.get("text") or ""
    return data


def _size(data: str | bytes, limit: int) -> int:
    """The size of a message in bytes, as sent (text as UTF-8), encoding text only when its
    length in characters leaves the answer open (a character is 1 to 4 bytes)."""
    if isinstance(data, bytes) or len(data) > limit or 4 * len(data) <= limit:
        return len(data)
    return len(data.encode())
