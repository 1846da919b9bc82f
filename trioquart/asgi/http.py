"""One HTTP request on the wire: its nursery, its body, its response.

The request runs inside its own trio nursery. One task there receives ASGI messages: body
chunks go into a bounded channel that the request's :class:`~trioquart.wrappers.Body`
reads (so a slow reader slows the client instead of filling memory), and a disconnect
before the response is complete cancels the nursery: the handler, a streaming generator
and any task the handler started all stop, and their ``finally`` blocks run.

The handler, hooks and the sending of the response run in the nursery's body. When the
response is complete the nursery is cancelled, which ends any task the handler left behind.
An error in such a task ends the nursery too and is handled like an error in the handler:
its error handler's response, or a logged 500.

The last ``send()`` of a response is shielded from cancellation: Hypercorn's trio worker
leaks the connection if that send is interrupted.
"""

from __future__ import annotations

import math
from contextlib import aclosing
from typing import TYPE_CHECKING

import trio
from werkzeug.datastructures import Headers

from ..errors import holds_interrupt, strip_cancelled

if TYPE_CHECKING:
    from ..app import TrioQuart
    from ..ctx import RequestContext
    from ..typing import ASGIReceive, ASGISend, Scope
    from ..wrappers.request import Body, Request
    from ..wrappers.response import Response


class HTTPConnection:
    """Serve one ASGI ``http`` scope with ``app``."""

    def __init__(self, app: TrioQuart, scope: Scope, receive: ASGIReceive, send: ASGISend) -> None:
        self.app = app
        self.scope = scope
        self.receive = receive
        self.send = send
        self.response_started = False
        self.response_complete = False
        #: Set when the client went away before the response was complete.
        self.disconnected = False
        self.propagate = bool(scope.get("trioquart.propagate_exceptions"))
        self._nursery: trio.Nursery | None = None

    def build_request(self, chunks: trio.MemoryReceiveChannel[bytes]) -> Request:
        scope = self.scope
        app = self.app
        config = app.config
        headers = Headers(
            [(name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]]
        )
        root_path = scope.get("root_path", "")
        path = scope["path"]
        if root_path and path.startswith(root_path):
            path = path[len(root_path) :] or "/"
        server = scope.get("server")
        client = scope.get("client")
        request = app.request_class(
            scope["method"],
            scope.get("scheme", "http"),
            (server[0], server[1]) if server else None,
            root_path,
            path,
            scope.get("query_string", b""),
            headers,
            client[0] if client else None,
            scope=scope,
            http_version=scope.get("http_version", "1.1"),
            chunks=chunks,
        )
        request.max_content_length = config["MAX_CONTENT_LENGTH"]
        request.max_form_memory_size = config["MAX_FORM_MEMORY_SIZE"]
        request.max_form_parts = config["MAX_FORM_PARTS"]
        request.body_timeout = config["BODY_TIMEOUT"]
        return request

    async def run(self) -> None:
        app = self.app
        chunks_in, chunks_out = trio.open_memory_channel[bytes](app.config["BODY_BUFFER_CHUNKS"])
        request = self.build_request(chunks_out)
        ctx = app.request_context(request)
        await ctx.push()
        try:
            try:
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    request._nursery = nursery
                    nursery.start_soon(self.receive_messages, chunks_in, request.body)
                    response = await app.handle_request(ctx)
                    await self.send_response(response)
                    nursery.cancel_scope.cancel()
            except BaseExceptionGroup as group:
                await self.handle_error_group(ctx, group)
        finally:
            await ctx.pop(ctx.unhandled_error)

    async def handle_error_group(self, ctx: RequestContext, group: BaseExceptionGroup) -> None:
        """An error ended the request's nursery: from a task the handler started, from the
        streaming body, a ``BaseException`` from the handler, or (in tests) an error to
        propagate. Cancellations and interrupts belong to the server and go on up."""
        error = strip_cancelled(group)
        if error is None or holds_interrupt(error):
            raise group
        app = self.app
        if self.response_started:
            # Too late for another response: the connection is closed without completing
            # this one, so the client sees it fail rather than end early.
            if self.propagate and isinstance(error, Exception):
                raise error
            ctx.unhandled_error = error
            app.log_exception(ctx, error)
            return
        if isinstance(error, Exception):
            try:
                rv = await app.handle_user_exception(ctx, error)
                response = await app.finalize_request(ctx, rv)
            except Exception as unhandled:
                response = await app.handle_exception(ctx, unhandled)
        else:
            response = await app.handle_exception(ctx, error)
        await self.send_response(response)

    async def receive_messages(self, chunks_in: trio.MemorySendChannel[bytes], body: Body) -> None:
        """Feed the body channel, then wait for the disconnect (Hypercorn sends it once)."""
        async with chunks_in:
            while True:
                message = await self.receive()
                if message["type"] == "http.disconnect":
                    self.on_disconnect()
                    return
                if message["type"] == "http.request":
                    chunk = message.get("body", b"")
                    if chunk:
                        await chunks_in.send(chunk)
                    if not message.get("more_body", False):
                        body.mark_complete()
                        break
        message = await self.receive()
        if message["type"] == "http.disconnect":
            self.on_disconnect()

    def on_disconnect(self) -> None:
        if not self.response_complete and self._nursery is not None:
            self.disconnected = True
            self._nursery.cancel_scope.cancel()

    async def send_response(self, response: Response) -> None:
        """Send ``response`` within its timeout (``response.timeout``, by default
        ``RESPONSE_TIMEOUT``). An overdue or failing response is logged and the connection
        closed without completing it."""
        app = self.app
        timeout = response.timeout
        if timeout is ...:
            timeout = app.config["RESPONSE_TIMEOUT"]
        if response.status_code == 408:
            response.headers["Connection"] = "close"
        start = {
            "type": "http.response.start",
            "status": response.status_code,
            "headers": [
                (name.lower().encode("latin-1"), value.encode("latin-1"))
                for name, value in response.headers.items()
            ],
        }
        with trio.move_on_after(timeout if timeout is not None else math.inf) as deadline:
            await self.send(start)
            self.response_started = True
            if self.scope["method"] == "HEAD" or not response.is_streamed:
                await self.send_final(b"" if self.scope["method"] == "HEAD" else response._data)
                return
            async with aclosing(response.iter_body()) as chunks:
                async for chunk in chunks:
                    if chunk:
                        await self.send(
                            {"type": "http.response.body", "body": chunk, "more_body": True}
                        )
            await self.send_final(b"")
        if deadline.cancelled_caught:
            request = self.scope
            app.logger.error(
                "The response to %s %s took longer than its timeout of %s s; the connection"
                " was closed without completing it",
                request["method"],
                request["path"],
                timeout,
            )

    async def send_final(self, body: bytes | None) -> None:
        with trio.CancelScope(shield=True):
            await self.send({"type": "http.response.body", "body": body or b"", "more_body": False})
        self.response_complete = True
