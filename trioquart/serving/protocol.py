"""A connection's protocol: HTTP/1.1 or HTTP/2, as Hypercorn speaks them, with the HTTP/2
requests Hypercorn cannot take answered per stream.

:class:`ConnectionProtocol` plays the part of Hypercorn's ``ProtocolWrapper``: it starts in
HTTP/2 when TLS negotiated it (ALPN), in HTTP/1.1 otherwise, and switches to HTTP/2 on an
``h2c`` upgrade or the HTTP/2 preface ("prior knowledge"). Its HTTP/2 is
:class:`H2Protocol`, where two inputs that raise in Hypercorn's code (and so ended the
whole connection, every other stream on it included) are handled:

- A request whose ``:method`` or ``:path`` (before the query) is not ASCII is malformed
  (RFC 9113, 8.3.1): its stream is reset with PROTOCOL_ERROR, and the app is not called.
- Data for a stream that has already closed, a client still sending a body after the
  response was complete (a 413 answered from the Content-Length, a handler that ignored
  the body), is dropped, and the client is asked to stop sending it: RST_STREAM with
  NO_ERROR, as RFC 9113 (8.1) suggests. (Hypercorn issue #329.)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import h2.events
import h2.exceptions
from h2.errors import ErrorCodes
from hypercorn.events import RawData, Updated
from hypercorn.protocol.h2 import H2Protocol as HypercornH2Protocol
from hypercorn.protocol.h11 import H2CProtocolRequiredError, H2ProtocolAssumedError, H11Protocol

if TYPE_CHECKING:
    from hypercorn.config import Config
    from hypercorn.events import Event
    from hypercorn.trio.task_group import TaskGroup
    from hypercorn.trio.worker_context import WorkerContext

__all__ = ["ConnectionProtocol", "H2Protocol"]


class ConnectionProtocol:
    """The protocol of one connection, HTTP/1.1 until the client asks for HTTP/2."""

    def __init__(
        self,
        app: Any,
        config: Config,
        context: WorkerContext,
        task_group: TaskGroup,
        state: Any,
        ssl: bool,
        client: tuple[str, int] | None,
        server: tuple[str, int] | None,
        send: Callable[[Event], Awaitable[None]],
        alpn_protocol: str | None,
    ) -> None:
        self._arguments = (app, config, context, task_group, state, ssl, client, server, send)
        self.protocol: H11Protocol | H2Protocol
        if alpn_protocol == "h2":
            self.protocol = H2Protocol(*self._arguments)
        else:
            self.protocol = H11Protocol(*self._arguments)

    async def initiate(self) -> None:
        await self.protocol.initiate()

    async def handle(self, event: Event) -> None:
        try:
            await self.protocol.handle(event)
        except H2ProtocolAssumedError as switch:  # the HTTP/2 preface, sent as a request
            self.protocol = H2Protocol(*self._arguments)
            await self.protocol.initiate()
            if switch.data:
                await self.protocol.handle(RawData(data=switch.data))
        except H2CProtocolRequiredError as switch:  # Upgrade: h2c, answered with a 101
            self.protocol = H2Protocol(*self._arguments)
            await self.protocol.initiate(switch.headers, switch.settings)
            if switch.data:
                await self.protocol.handle(RawData(data=switch.data))


class _ClosedStream:
    """What a stream the protocol no longer has is told of the client's data: nothing."""

    @staticmethod
    async def handle(event: Event) -> None:
        pass


_CLOSED_STREAM = _ClosedStream()


class _Streams(dict[int, Any]):
    """The protocol's streams by id. Looking up one that has closed (Hypercorn forgets a
    stream once its response is complete) resets it, so the client stops sending its
    body, and finds a stream that ignores what still arrives."""

    def __init__(self, protocol: H2Protocol) -> None:
        super().__init__()
        self._protocol = protocol

    def __missing__(self, stream_id: int) -> _ClosedStream:
        try:
            self._protocol.connection.reset_stream(stream_id, ErrorCodes.NO_ERROR)
        except h2.exceptions.ProtocolError:
            pass  # closed at the h2 level too: nothing to reset
        return _CLOSED_STREAM


class H2Protocol(HypercornH2Protocol):
    """Hypercorn's HTTP/2, with malformed requests and late body data answered per stream
    (see the module docstring)."""

    def __init__(self, *arguments: Any) -> None:
        super().__init__(*arguments)
        self.streams = _Streams(self)

    async def _create_stream(self, request: h2.events.RequestReceived) -> None:
        headers = dict(request.headers)
        method, path = headers.get(b":method", b""), headers.get(b":path", b"")
        if not (method.isascii() and path.partition(b"?")[0].isascii()):
            self.connection.reset_stream(request.stream_id, ErrorCodes.PROTOCOL_ERROR)
            # Hypercorn marks the connection busy once this returns, and only a stream's
            # end marks it idle again: without one, say so afterwards, or its keep-alive
            # timer would never run again.
            self.task_group.spawn(self._report_idleness)
            return
        await super()._create_stream(request)

    async def _report_idleness(self) -> None:
        await self.send(Updated(idle=self.idle))
