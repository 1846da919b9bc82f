"""One client connection on trioquart's server: whatever goes wrong in it ends it alone.

Hypercorn's protocol layer (h11, h2, wsproto and its streams) does the HTTP and websocket
work; this module runs it for one TCP (or TLS) connection, as Hypercorn's trio
``TCPServer`` does, with three differences:

- An error that escapes the connection, from the protocol code or from the app, is logged
  once, with the client's address, and closes that connection. In Hypercorn's trio worker
  it ends the server and every other connection with it (Hypercorn issues #225, #228,
  #329).
- The app runs in :func:`run_app`, which contains any error the app lets out (a
  ``BaseException`` included, which would otherwise end the server too), and stops taking
  messages for the app once it has returned, so a request body the app never read cannot
  hold up the connection.
- A request with more header fields or header bytes than the server allows is answered
  431 before the app is called. HTTP/2 input that Hypercorn's code cannot take is answered
  per stream (:mod:`trioquart.serving.protocol`). Each stream gets trioquart's guarantees:
  a request's access line is written once (:mod:`trioquart.serving.http`), a websocket's
  are in :mod:`trioquart.serving.websocket`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import attrs
import trio
from hypercorn.trio.task_group import TaskGroup
from hypercorn.trio.tcp_server import TCPServer
from hypercorn.typing import ConnectionState
from hypercorn.utils import parse_socket_addr

from .config import ServerConfig
from .http import HTTPStream
from .protocol import ConnectionProtocol
from .websocket import WebsocketStream

if TYPE_CHECKING:
    from hypercorn.config import Config
    from hypercorn.trio.worker_context import WorkerContext

    from ..typing import ASGIApp, Message, Scope

__all__ = ["Connection", "OpenConnections", "run_app"]

#: How long closing a connection's stream may take (a TLS close_notify to a client that
#: does not read) before its socket is closed outright.
CLOSE_TIMEOUT = 1.0


@attrs.define(eq=False)
class OpenConnections:
    """What a worker has open: its connections, and the websockets among them."""

    connections: set[Connection] = attrs.Factory(set)
    websockets: set[WebsocketStream] = attrs.Factory(set)


class Connection(TCPServer):
    """Serve one accepted stream: the TLS handshake, the protocol, the app's streams."""

    def __init__(
        self,
        app: ASGIApp,
        config: Config,
        context: WorkerContext,
        state: dict[str, Any],
        open_connections: OpenConnections,
        stream: trio.SocketStream | trio.SSLStream[trio.SocketStream],
    ) -> None:
        super().__init__(app, config, context, state, stream)  # type: ignore[arg-type]
        self.protocol: ConnectionProtocol  # type: ignore[assignment]
        self.open = open_connections
        self.peer = "an unknown client"

    async def run(self) -> None:
        self.open.connections.add(self)
        try:
            await self._serve()
        except BaseException as error:
            passing = _passing_part(error)
            if passing is error:
                raise
            await self.config.log.error(
                "Connection from %s failed; closed it", self.peer, exc_info=_failing_part(error)
            )
            if passing is not None:
                raise passing from None
        finally:
            self.open.connections.discard(self)
            with trio.CancelScope(shield=True) as closing:
                closing.deadline = trio.current_time() + CLOSE_TIMEOUT
                await self._close()
            if closing.cancelled_caught:
                self.force_close()

    async def _serve(self) -> None:
        stream: Any = self.stream
        if isinstance(stream, trio.SSLStream):
            try:
                with trio.fail_after(self.config.ssl_handshake_timeout):
                    await stream.do_handshake()
            except (trio.BrokenResourceError, trio.TooSlowError):
                return  # not a TLS client, or one that gave up: nothing to serve
            alpn_protocol = stream.selected_alpn_protocol()
            socket = stream.transport_stream.socket
            ssl = True
        else:
            alpn_protocol = "http/1.1"
            socket = stream.socket
            ssl = False
        try:
            client = parse_socket_addr(socket.family, socket.getpeername())
            server = parse_socket_addr(socket.family, socket.getsockname())
        except OSError:
            return  # gone before it could be served
        if client is not None:
            self.peer = f"{client[0]}:{client[1]}"
        async with ConnectionTaskGroup(self.open) as task_group:
            self._task_group = task_group
            self.protocol = ConnectionProtocol(
                self.app,
                self.config,
                self.context,
                task_group,
                ConnectionState(self.state),
                ssl,
                client,
                server,
                self.protocol_send,
                alpn_protocol,
            )
            await self.protocol.initiate()
            await self.idle_task.restart(task_group, self._idle_timeout)
            await self._read_data()
            # The client has closed its side. Hypercorn leaves the keep-alive timer running,
            # and the connection (its socket, its tasks) lingers until the timer expires;
            # what is left to wait for is a request still being answered, if any.
            await self.idle_task.stop()

    def force_close(self) -> None:
        """Close the socket now, waking any task blocked on it (a send to a client that does
        not read is shielded from cancellation, so only this ends it)."""
        transport: Any = getattr(self.stream, "transport_stream", self.stream)
        transport.socket.close()


def _passing_part(error: BaseException) -> BaseException | None:
    """What of ``error`` must go on up: cancellation and Ctrl+C, which are the server's."""
    if isinstance(error, BaseExceptionGroup):
        return error.subgroup((trio.Cancelled, KeyboardInterrupt))
    return error if isinstance(error, trio.Cancelled | KeyboardInterrupt) else None


def _failing_part(error: BaseException) -> BaseException:
    """What of ``error`` is a failure to log (all of it but :func:`_passing_part`)."""
    if isinstance(error, BaseExceptionGroup):
        _, rest = error.split((trio.Cancelled, KeyboardInterrupt))
        return rest if rest is not None else error
    return error


class ConnectionTaskGroup(TaskGroup):
    """The connection's nursery as Hypercorn's protocol code uses it: it starts the app for
    each request and websocket, and the connection's timers."""

    def __init__(self, open_connections: OpenConnections) -> None:
        super().__init__()
        self.open = open_connections

    async def spawn_app(  # Hypercorn's types for these are TypedDicts; ours are plain dicts
        self, app: Any, config: Config, scope: Any, send: Any
    ) -> Callable[[Any], Awaitable[None]]:
        kind = scope["type"]
        if kind == "http":
            HTTPStream.take_over(send.__self__)
            send = send.__self__.app_send  # bound again: the method of the class taken over
            if (refusal := refuse_headers(scope, config)) is not None:
                await config.log.warning("Refused a request from %s: %s", _client(scope), refusal)
                app = answer_431
        elif kind == "websocket":
            WebsocketStream.take_over(send.__self__, self.open.websockets)
        to_app, messages = trio.open_memory_channel[Any](config.max_app_queue_size)
        assert self._nursery is not None
        self._nursery.start_soon(run_app, app, config, scope, messages, send)
        return partial(_deliver, to_app)


async def _deliver(to_app: trio.MemorySendChannel[Any], message: Message) -> None:
    try:
        await to_app.send(message)
    except trio.BrokenResourceError:
        pass  # the app has returned: nobody will read it


async def run_app(
    app: ASGIApp,
    config: Config,
    scope: Scope,
    messages: trio.MemoryReceiveChannel[Any],
    send: Callable[[Message | None], Awaitable[None]],
) -> None:
    """Run the app for one request or websocket; nothing it raises reaches the server but
    cancellation and Ctrl+C.

    ``send(None)`` afterwards tells Hypercorn's stream that the app is done: it answers 500
    (or closes an accepted websocket with 1011) if the app left without a response.
    """
    try:
        with messages:  # closed when the app is done: later messages are dropped
            await app(scope, messages.receive, send)
    except BaseException as error:
        passing = _passing_part(error)
        if passing is error:
            raise
        await config.log.error(
            "Error in ASGI application serving %s %s",
            scope.get("method", "WEBSOCKET"),
            scope.get("path", ""),
            exc_info=_failing_part(error),
        )
        if passing is not None:
            raise passing from None
    finally:
        await send(None)


def refuse_headers(scope: Scope, config: Config) -> str | None:
    """Why a request's header fields are over the server's limits, or None if they are not."""
    headers = scope["headers"]
    max_count = getattr(config, "max_header_count", ServerConfig.max_header_count)
    if len(headers) > max_count:
        return f"{len(headers)} header fields (the limit is {max_count})"
    size = 0
    for name, value in headers:
        size += len(name) + len(value)
    max_bytes = getattr(config, "max_header_bytes", ServerConfig.max_header_bytes)
    if size > max_bytes:
        return f"{size} bytes of header fields (the limit is {max_bytes})"
    return None


async def answer_431(scope: Scope, receive: Any, send: Any) -> None:
    body = b"Request Header Fields Too Large"
    await send(
        {
            "type": "http.response.start",
            "status": 431,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else "an unknown client"
