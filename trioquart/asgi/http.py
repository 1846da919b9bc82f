"""One HTTP request on the wire: its nursery, its body, its response.

The request runs inside its own trio nursery. The handler and its hooks run in the
nursery's body; ``request.nursery`` lets the handler start tasks there. When the response
is complete the nursery is cancelled, which ends any task the handler left behind. An
error in such a task ends the nursery too and is handled like an error in the handler: its
error handler's response, or a logged 500.

A disconnect before the response is complete cancels the nursery: the handler, a streaming
generator and the handler's tasks stop, and their ``finally`` blocks run. Noticing it needs
a task waiting on the server, and a task costs more than a typical request, so that watcher
starts only when it can matter: the first time the handler task waits on something other
than reading its own body, or when the response is streamed. (A handler that never waits
has finished before any disconnect could have been seen, and one reading its body sees a
disconnect there.)

The body: an HTTP/1.x request that declares neither Content-Length nor Transfer-Encoding
has none, so nothing is received for it (most GETs). Otherwise the request's
:class:`~trioquart.wrappers.Body` reads chunks from the server directly, one reader at a
time, as it is asked for them. Once the watcher runs it reads the rest of the body ahead
into a bounded channel (``BODY_BUFFER_CHUNKS``), so a slow reader still slows the client
down instead of filling memory.

A streamed body is sent while the nursery is open, with ``RESPONSE_TIMEOUT`` as the
nursery's deadline. Hypercorn's trio worker leaks the connection if the last ``send()`` of
a response is interrupted, so that send is shielded, or, when the nursery has no tasks
left to keep running until the response is complete (the usual case), made after the
nursery has closed, where nothing of the request's can cancel it.
"""

from __future__ import annotations

import logging
from contextlib import aclosing
from typing import TYPE_CHECKING

import trio

from ..errors import belongs_to_server, holds_interrupt, strip_cancelled
from ..wrappers.base import headers_for_scope, url_parts_from_scope
from ..wrappers.request import Body, ClientDisconnectedError
from .driving import WatchesHandlerWaits, run_asking_at_each_wait
from .turns import Turn

if TYPE_CHECKING:
    from ..app import TrioQuart
    from ..ctx import RequestContext
    from ..typing import ASGIReceive, ASGISend, Scope
    from ..wrappers.request import Request
    from ..wrappers.response import Response


logger = logging.getLogger("trioquart")


class RequestBodyReader:
    """The request body as the server delivers it, for the request's ``Body``.

    Chunks are read from the server directly, in whichever task asks (one at a time), until
    the connection's watcher starts; from then on the watcher reads and the chunks come
    through its channel.
    """

    __slots__ = ("_connection", "complete", "server_done", "reading", "channel_in", "_channel_out")

    def __init__(self, connection: HTTPConnection) -> None:
        self._connection = connection
        #: Every chunk has been handed to the body.
        self.complete = False
        #: The server has delivered the last body message.
        self.server_done = False
        #: One reader at a time: a task reading directly, or the watcher for good.
        self.reading = Turn()
        self.channel_in: trio.MemorySendChannel[bytes] | None = None
        self._channel_out: trio.MemoryReceiveChannel[bytes] | None = None

    def open_channel(self, size: int) -> None:
        self.channel_in, self._channel_out = trio.open_memory_channel[bytes](size)

    async def next_chunk(self) -> bytes | None:
        connection = self._connection
        if self._channel_out is None:
            reading = self.reading
            if not reading.take_nowait():
                await reading.take()
            try:
                if self._channel_out is None:  # still no watcher: read directly
                    marked = connection.enter_io()
                    try:
                        return await self._read_directly()
                    finally:
                        connection.exit_io(marked)
            finally:
                reading.give()
        assert self._channel_out is not None
        try:
            return await self._channel_out.receive()
        except trio.EndOfChannel:
            if not self.server_done:
                raise ClientDisconnectedError("The client disconnected mid-body.") from None
            self.complete = True
            return None

    async def _read_directly(self) -> bytes | None:
        connection = self._connection
        while True:
            message = await connection.receive()
            if message["type"] == "http.request":
                chunk: bytes = message.get("body", b"")
                if not message.get("more_body", False):
                    self.server_done = self.complete = True
                    return chunk or None
                if chunk:
                    return chunk
            elif message["type"] == "http.disconnect":
                # As when the watcher sees it: the request is cancelled (delivered at this
                # checkpoint); the error is for a reader outside the request's nursery.
                connection.on_disconnect()
                await trio.lowlevel.checkpoint()
                raise ClientDisconnectedError("The client disconnected mid-body.")


def _plain_length(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether werkzeug's ``content_length`` is the first lower-case Content-Length's
    value: no Transfer-Encoding, and no header name of either's length in another case
    (which werkzeug's case-blind search could find instead)."""
    for name, _ in headers:
        if name == b"transfer-encoding" or (
            (len(name) == 14 or len(name) == 17) and not name.islower()
        ):
            return False
    return True


class HTTPConnection(WatchesHandlerWaits):
    """Serve one ASGI ``http`` scope with ``app``."""

    __slots__ = (
        "app",
        "scope",
        "receive",
        "send",
        "response_started",
        "response_complete",
        "disconnected",
        "propagate",
        "_nursery",
        "_timeout",
        "_client_gone",
        "_body",
        "_stream_scope",
        "_last_chunk",
    )

    def __init__(self, app: TrioQuart, scope: Scope, receive: ASGIReceive, send: ASGISend) -> None:
        self.init_watching()
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
        self._timeout: float | None = None
        self._client_gone = False
        self._body: RequestBodyReader | None = None
        self._stream_scope: trio.CancelScope | None = None
        #: What :meth:`finish_response` sends last; None until the rest has been sent.
        self._last_chunk: bytes | None = None

    def expects_body(self, request: Request) -> bool:
        """Whether a body may follow the request head. In HTTP/1.x a request without
        Content-Length and Transfer-Encoding has none (so nothing needs receiving); HTTP/2
        may send one without a length.

        A request with a body gets its ``request.content_length`` (checked against
        ``MAX_CONTENT_LENGTH`` before the body is read) here when werkzeug's answer is
        plain (ASCII digits, see :func:`_plain_length`): werkzeug would search the headers
        twice more and parse the value. Measured with callgrind (in-process ``POST /json``
        of ``examples/bench_app.py``, 300 requests): 348.1 k -> 338.1 k per request.
        """
        headers = self.scope["headers"]
        for name, value in headers:
            if name == b"content-length":
                if value.strip() == b"0":
                    return False
                if value.isdigit() and _plain_length(headers):
                    request.content_length = int(value)
                return True
            if name == b"transfer-encoding":
                return True
        return self.scope.get("http_version", "1.1") not in {"1.1", "1.0"}

    def build_request(self) -> Request:
        scope = self.scope
        app = self.app
        config = app.config
        request = app.request_class(
            scope["method"],
            *url_parts_from_scope(scope, "http"),
            scope=scope,
            http_version=scope.get("http_version", "1.1"),
        )
        request.max_content_length = config["MAX_CONTENT_LENGTH"]
        request.max_form_memory_size = config["MAX_FORM_MEMORY_SIZE"]
        request.max_form_parts = config["MAX_FORM_PARTS"]
        request.body_timeout = config["BODY_TIMEOUT"]
        if "http.response.push" in scope.get("extensions", ()):
            request._push = self.push
        return request

    async def push(self, path: str, headers: list[tuple[bytes, bytes]]) -> None:
        await self.send({"type": "http.response.push", "path": path, "headers": headers})

    async def run(self) -> None:
        """Serve the request; the ASGI boundary for it (see :mod:`trioquart.asgi`).

        The handler runs in the request's nursery; a streamed body is sent while it is open,
        the last message after it closed (see the module docstring). A response in memory,
        the usual case, goes straight through: nothing is sent inside the nursery.
        """
        try:
            app = self.app
            request = self.build_request()
            if self.expects_body(request):  # else the body is already complete, empty
                self._body = RequestBodyReader(self)
                request.body = Body(request, self._body)
            ctx = app.request_context(request)
            await ctx.push()
            try:
                response: Response | None = None
                failure: BaseExceptionGroup | None = None
                try:
                    async with trio.open_nursery() as nursery:
                        self._nursery = request._nursery = nursery
                        response = await run_asking_at_each_wait(app.handle_request(ctx), self)
                        if (
                            response._data is None  # streamed
                            or response.status_code == 408
                            or self.scope["method"] == "HEAD"
                        ):
                            await self.send_stream(response, nursery.cancel_scope)
                        else:
                            self._last_chunk = response._data
                        if nursery.child_tasks:
                            # The handler's tasks (and the watcher) run until the response
                            # is complete, so it is finished in here, shielded from their
                            # errors.
                            with trio.CancelScope(shield=True):
                                await self.finish_response(response)
                            nursery.cancel_scope.cancel()
                except BaseExceptionGroup as group:
                    failure = group
                finally:
                    self._nursery = None  # closed: no watcher or deadline from here on
                if failure is not None:
                    # Handled outside the except block: inside it, the error chosen from the
                    # group would be raised again with the group as its context, and its
                    # traceback logged twice (in the group, then on its own).
                    response = await self.recover(ctx, failure)
                if self._last_chunk is None:
                    self.report_overdue()  # cut short
                elif response is not None and not self.response_complete:
                    await self.finish_response(response)
            finally:
                await ctx.pop(ctx.unhandled_error)
        except BaseException as error:
            if belongs_to_server(error) or (self.propagate and isinstance(error, Exception)):
                raise
            await self.answer_escaped(error)

    async def recover(self, ctx: RequestContext, failure: BaseExceptionGroup) -> Response | None:
        """The request's nursery ended with an error: send what must be sent of the
        response to it while a cancel scope is open (a streamed body). The response to
        finish, or None if there is none."""
        response = await self.handle_error_group(ctx, failure)
        if response is not None:
            with trio.CancelScope() as scope:
                await self.send_stream(response, scope)
        return response

    async def answer_escaped(self, error: BaseException) -> None:
        """An error got past the app's own handling: log it, and answer 500 if nothing was
        sent yet (else the connection closes with the response incomplete)."""
        scope = self.scope
        logger.error(
            "Unhandled error serving %s %s", scope["method"], scope["path"], exc_info=error
        )
        if not self.response_started:
            with trio.CancelScope(shield=True):
                await self.send(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8")],
                    }
                )
                await self.send(
                    {
                        "type": "http.response.body",
                        "body": b"Internal Server Error",
                        "more_body": False,
                    }
                )

    async def handle_error_group(
        self, ctx: RequestContext, group: BaseExceptionGroup
    ) -> Response | None:
        """An error ended the request's nursery: from a task the handler started, from the
        streaming body, a ``BaseException`` from the handler, or (in tests) an error to
        propagate. Cancellations and interrupts belong to the server and go on up. The
        response to send instead, if it is not too late for one."""
        error = strip_cancelled(group)
        if error is None or holds_interrupt(error):
            raise group
        if self.propagate and error is ctx.unhandled_error:
            raise error  # handle_exception already dealt with it and wants it to propagate
        app = self.app
        if self.response_started:
            # Too late for another response: the connection is closed without completing
            # this one, so the client sees it fail rather than end early.
            if self.propagate and isinstance(error, Exception):
                raise error
            ctx.unhandled_error = error
            app.log_exception(ctx, error)
            return None
        if isinstance(error, Exception):
            try:
                rv = await app.handle_user_exception(ctx, error)
                response = await app.finalize_request(ctx, rv)
            except Exception as unhandled:
                response = await app.handle_exception(ctx, unhandled)
        else:
            response = await app.handle_exception(ctx, error)
        return response

    def start_watching(self) -> None:
        """Start the disconnect watcher, once (see the module docstring for when)."""
        if not self._watching and self._nursery is not None:
            self._watching = True
            body = self._body
            if body is not None and not body.server_done:
                body.open_channel(self.app.config["BODY_BUFFER_CHUNKS"])
            self._nursery.start_soon(self.watch_for_disconnect)

    async def watch_for_disconnect(self) -> None:
        """Read the rest of the body ahead (if any), then wait for the disconnect (Hypercorn
        sends it once, also after a complete response) and cancel the request if it came
        first."""
        body = self._body
        if body is not None:
            await body.reading.take()  # a direct read in progress finishes first; then ours
            if body.channel_in is not None:
                await self.receive_body(body, body.channel_in)
        while not self._client_gone:
            if (await self.receive())["type"] == "http.disconnect":
                self.on_disconnect()

    async def receive_body(
        self, body: RequestBodyReader, chunks_in: trio.MemorySendChannel[bytes]
    ) -> None:
        """Feed the rest of the body into the channel as the client sends it."""
        async with chunks_in:
            while not body.server_done:
                message = await self.receive()
                if message["type"] == "http.disconnect":
                    self.on_disconnect()
                    return
                if message["type"] == "http.request":
                    chunk = message.get("body", b"")
                    if chunk:
                        await chunks_in.send(chunk)
                    if not message.get("more_body", False):
                        body.server_done = True

    def on_disconnect(self) -> None:
        self._client_gone = True  # the server says so once: nobody waits for it again
        if not self.response_complete and self._nursery is not None:
            self.disconnected = True
            self._nursery.cancel_scope.cancel()

    async def send_stream(self, response: Response, scope: trio.CancelScope) -> None:
        """Send the part of ``response`` that needs the request's nursery open. For a
        streamed body that is the head and every chunk, within ``scope`` and the response's
        timeout (``response.timeout``, by default ``RESPONSE_TIMEOUT``), with the watcher
        noticing a client that leaves. A body in memory waits for :meth:`finish_response`.
        """
        self._last_chunk = None
        timeout = response.timeout
        if timeout is ...:
            timeout = self.app.config["RESPONSE_TIMEOUT"]
        self._timeout = timeout
        self._stream_scope = scope
        if response.status_code == 408:
            response.headers["Connection"] = "close"
        if self.scope["method"] == "HEAD":
            self._last_chunk = b""
        elif not response.is_streamed:
            self._last_chunk = response._data or b""
        else:
            if timeout is not None:
                scope.deadline = trio.current_time() + timeout
            self.start_watching()
            await self.send_start(response)
            async with aclosing(response.iter_body()) as chunks:
                async for chunk in chunks:
                    if chunk:
                        await self.send(
                            {"type": "http.response.body", "body": chunk, "more_body": True}
                        )
            self._last_chunk = b""

    async def send_start(self, response: Response) -> None:
        await self.send(
            {
                "type": "http.response.start",
                "status": response.status_code,
                "headers": headers_for_scope(response.headers),
            }
        )
        self.response_started = True

    async def finish_response(self, response: Response) -> None:
        """Send the rest of the response: its last message, which must not be interrupted
        (Hypercorn's trio worker leaks the connection then). Sent shielded while the
        request's nursery still has tasks, otherwise after the nursery has closed, where
        nothing of the request's can cancel it (only the server's own shutdown could)."""
        if not self.response_started:
            await self.send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": headers_for_scope(response.headers),
                }
            )
            self.response_started = True
        body = self._last_chunk or b""
        await self.send({"type": "http.response.body", "body": body, "more_body": False})
        self.response_complete = True

    def report_overdue(self) -> None:
        """Log a response that its timeout cut short (its scope's deadline passed)."""
        if self.response_started and not self.disconnected:
            scope = self._stream_scope
            if scope is not None and trio.current_time() >= scope.deadline:
                self.app.logger.error(
                    "The response to %s %s took longer than its timeout of %s s; the"
                    " connection was closed without completing it",
                    self.scope["method"],
                    self.scope["path"],
                    self._timeout,
                )
