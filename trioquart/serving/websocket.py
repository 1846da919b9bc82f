"""The server side of one websocket: Hypercorn's stream, with the guarantees trioquart adds.

Hypercorn's :class:`~hypercorn.protocol.ws_stream.WSStream` turns protocol events into ASGI
messages. :class:`WebsocketStream` changes what it does in five places:

- **Data before the handshake is decided.** A client may send its first frame in the same
  write as the upgrade request. Hypercorn answers such data with a 400 while the app may be
  accepting at that very moment; the two responses collide inside h11 and the error ends
  the whole server (Hypercorn issue #225). Here the data waits (the read task stops, so at
  most one read is held) until the app has accepted, denied or closed; after an accept it
  is delivered as the first messages, otherwise dropped with the connection.
- **Size.** A compressed message is inflated at most to ``websocket_max_message_size``
  (:class:`BoundedDeflate`); wsproto alone inflates a message whole, whatever its size.
- **Close codes.** When wsproto rejects a frame (too big, invalid UTF-8, a protocol
  error), the client gets a closing frame with that code instead of a dropped connection,
  and the app's ``websocket.disconnect`` carries the code the client sent (or the one the
  server closed with), where Hypercorn reports 1006 for every client close.
- **Going away.** At shutdown the server closes every open websocket with 1001
  (:meth:`WebsocketStream.going_away`) instead of dropping the connection.
- **Denied websockets** ignore data the client sends after the upgrade request (Hypercorn
  would answer it with a 400 after the denial's response, the same collision as above).

Hypercorn builds its streams itself, so the server's task group turns the stream it is
given into this class when the app is spawned for it (:meth:`WebsocketStream.take_over`),
before the app has run and before any data has been handled. That needs the stream's
instance layout, so the Hypercorn versions this runs on are pinned in ``pyproject.toml``;
:func:`check_hypercorn` fails at start-up if the stream class is not the one tested.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import trio
from hypercorn.protocol.events import Body, Data, Response, StreamClosed
from hypercorn.protocol.ws_stream import ASGIWebsocketState, FrameTooLargeError, WSStream
from wsproto.connection import Connection as WSConnection
from wsproto.connection import ConnectionState, ConnectionType
from wsproto.events import CloseConnection, Message, Ping
from wsproto.extensions import Extension, PerMessageDeflate
from wsproto.frame_protocol import CloseReason
from wsproto.handshake import server_extensions_handshake
from wsproto.utilities import generate_accept_token

if TYPE_CHECKING:
    from hypercorn.protocol.events import Event
    from hypercorn.typing import WebsocketAcceptEvent
    from wsproto.frame_protocol import FrameDecoder, FrameProtocol, Opcode, RsvBits

__all__ = ["BoundedDeflate", "WebsocketStream", "check_hypercorn"]

GOING_AWAY = 1001
ABNORMAL_CLOSURE = 1006


class BoundedDeflate(PerMessageDeflate):
    """permessage-deflate that refuses to inflate a message past ``max_message_size``.

    A deflated message can be a thousand times smaller than the original: a 400 KB frame
    can hold 400 MB. Each piece of payload is inflated with zlib's output cap set just past
    what the message may still grow by, so memory is bounded by the limit, and the first
    byte over it ends the connection with 1009 (message too big).
    """

    def __init__(self, max_message_size: int) -> None:
        super().__init__()
        self.max_message_size = max_message_size
        self._inflated = 0

    def frame_inbound_header(
        self,
        proto: FrameDecoder | FrameProtocol,
        opcode: Opcode,
        rsv: RsvBits,
        payload_length: int,
    ) -> CloseReason | RsvBits:
        if self._inbound_compressed is None:  # the first frame of a message
            self._inflated = 0
        return super().frame_inbound_header(proto, opcode, rsv, payload_length)

    def frame_inbound_payload_data(
        self, proto: FrameDecoder | FrameProtocol, data: bytes
    ) -> bytes | CloseReason:
        if not self._inbound_compressed or not self._inbound_is_compressible:
            return data
        assert self._decompressor is not None
        room = self.max_message_size - self._inflated
        try:
            # One byte more than the room left: getting it means the message is too big.
            inflated = self._decompressor.decompress(data, room + 1)
        except zlib.error:
            return CloseReason.INVALID_FRAME_PAYLOAD_DATA
        return self._count(inflated)

    def frame_inbound_complete(
        self, proto: FrameDecoder | FrameProtocol, fin: bool
    ) -> bytes | CloseReason | None:
        # What is left to inflate here is what zlib held back for the message's end, a
        # few bytes; counted all the same.
        tail = super().frame_inbound_complete(proto, fin)
        return self._count(tail) if isinstance(tail, bytes) else tail

    def _count(self, inflated: bytes) -> bytes | CloseReason:
        self._inflated += len(inflated)
        if self._inflated > self.max_message_size:
            return CloseReason.MESSAGE_TOO_BIG
        return inflated


def check_hypercorn() -> None:
    """Fail loudly if Hypercorn's websocket stream is not the one this module was built on."""
    missing = [
        name
        for name in (
            "handle",
            "app_send",
            "_accept",
            "_send_rejection",
            "_send_error_response",
            "_send_wsproto_event",
            "_send_pings",
        )
        if not callable(getattr(WSStream, name, None))
    ]
    if missing:
        raise RuntimeError(
            "trioquart's server does not support this Hypercorn version (its websocket stream"
            f" lacks {', '.join(missing)}); install the version pyproject.toml pins."
        )


class WebsocketStream(WSStream):
    """Hypercorn's websocket stream with trioquart's guarantees (see the module docstring).

    Never constructed: :meth:`take_over` turns a stream Hypercorn made into one.
    """

    #: Set once the app accepted, denied or closed the handshake, or the client left.
    _decided: trio.Event
    #: Set once the stream has closed.
    _ended: trio.Event
    #: The close code and reason the app's disconnect carries: the client's closing frame's,
    #: or the server's when it closed first for a reason of its own (1009, a bad frame).
    _close: tuple[int, str] | None
    #: The streams to close at shutdown, shared by the worker's connections.
    _open_streams: set[WebsocketStream]

    @classmethod
    def take_over(cls, stream: WSStream, open_streams: set[WebsocketStream]) -> WebsocketStream:
        if type(stream) is not WSStream:
            raise RuntimeError(f"Expected Hypercorn's WSStream, got {type(stream).__name__}")
        stream.__class__ = cls
        assert isinstance(stream, cls)
        stream._decided = trio.Event()
        stream._ended = trio.Event()
        stream._close = None
        stream._open_streams = open_streams
        return stream

    async def handle(self, event: Event) -> None:
        if self.closed:
            return
        if isinstance(event, Body | Data):
            if self.state is ASGIWebsocketState.HANDSHAKE:
                await self._hold_until_decided(event.data)
            elif self.handshake.accepted:
                self.connection.receive_data(event.data)
                await self._handle_events()
            # else: denied; the response is on its way and the connection will close.
        elif isinstance(event, StreamClosed):
            self.closed = True
            self._decided.set()
            self._ended.set()
            self._open_streams.discard(self)
            if self.app_put is not None:
                code, reason = self._close_code_and_reason()
                await self.app_put({"type": "websocket.disconnect", "code": code, "reason": reason})
        else:
            await super().handle(event)

    async def _hold_until_decided(self, data: bytes) -> None:
        # Holding up the read task is the backpressure: nothing more is read meanwhile.
        await self._decided.wait()
        if self.handshake.accepted and not self.closed:
            self.connection.receive_data(data)
            await self._handle_events()

    def _close_code_and_reason(self) -> tuple[int, str]:
        if self._close is not None:
            return self._close
        if self.state in {ASGIWebsocketState.CLOSED, ASGIWebsocketState.HTTPCLOSED}:
            return CloseReason.NORMAL_CLOSURE.value, ""  # the app closed or denied first
        return ABNORMAL_CLOSURE, ""  # the connection dropped without a closing frame

    async def _handle_events(self) -> None:
        for event in self.connection.events():
            if isinstance(event, Message):
                if self.connection.state is not ConnectionState.OPEN:
                    continue  # closing: the rest of what the client sends is dropped unread
                try:
                    self.buffer.extend(event)
                except FrameTooLargeError:
                    self.buffer.clear()
                    await self._send_close(CloseReason.MESSAGE_TOO_BIG.value, "")
                    continue
                if event.message_finished:
                    assert self.app_put is not None
                    await self.app_put(self.buffer.to_message())
                    self.buffer.clear()
            elif isinstance(event, Ping):
                await self._send_wsproto_event(event.response())
            elif isinstance(event, CloseConnection):
                if self._close is None:
                    self._close = (event.code, event.reason or "")
                if self.connection.state is ConnectionState.REMOTE_CLOSING:
                    await self._send_wsproto_event(event.response())
                elif self.connection.state is ConnectionState.OPEN:
                    # wsproto rejected a frame; the event says why, the client must hear it.
                    await self._send_close(event.code, "")
                await self.send(StreamClosed(stream_id=self.stream_id))
                break

    async def _send_close(self, code: int, reason: str) -> None:
        self._close = self._close or (code, reason)
        await self._send_wsproto_event(CloseConnection(code=code, reason=reason or None))

    async def going_away(self, close_timeout: float) -> None:
        """Close the websocket with 1001 because the server is shutting down.

        The app hears of it as of any close, by a ``websocket.disconnect`` once the client
        answers; what the app sends meanwhile is dropped, as after any close. A client that
        has not answered within ``close_timeout`` seconds is disconnected.
        """
        if self.closed or self.state is not ASGIWebsocketState.CONNECTED:
            return
        if self.connection.state is ConnectionState.OPEN:
            await self._send_wsproto_event(
                CloseConnection(code=GOING_AWAY, reason="server shutting down")
            )
        with trio.move_on_after(close_timeout):
            await self._ended.wait()
        if not self.closed:
            await self.send(StreamClosed(stream_id=self.stream_id))

    # ---- the handshake's outcome ----------------------------------------------------------

    async def _accept(self, message: WebsocketAcceptEvent) -> None:
        # Hypercorn's own _accept asks its handshake object, which offers an unbounded
        # permessage-deflate; this one answers with BoundedDeflate.
        try:
            status, headers, self.connection = accept_handshake(
                self.handshake,
                message.get("subprotocol"),
                message.get("headers", []),
                self.config.websocket_max_message_size,
            )
            self.state = ASGIWebsocketState.CONNECTED
            await self.send(Response(stream_id=self.stream_id, status_code=status, headers=headers))
        finally:
            self._decided.set()
        if not self.closed:
            self._open_streams.add(self)
        await self.config.log.access(
            self.scope, {"status": status, "headers": []}, time.time() - self.start_time
        )
        if self.config.websocket_ping_interval is not None:
            self.task_group.spawn(self._send_pings)

    async def _send_rejection(self, message: Any) -> None:
        try:
            await super()._send_rejection(message)
        finally:
            self._decided.set()

    async def _send_error_response(self, status_code: int) -> None:
        try:
            await super()._send_error_response(status_code)
        finally:
            self._decided.set()


def accept_handshake(
    handshake: Any,
    subprotocol: str | None,
    additional_headers: Iterable[tuple[bytes, bytes]],
    max_message_size: int,
) -> tuple[int, list[tuple[bytes, bytes]], WSConnection]:
    """The response to a websocket upgrade the app accepted, and the wsproto connection for it.

    ``handshake`` is Hypercorn's parsed upgrade request. Deflate, if the client offered it,
    is :class:`BoundedDeflate` capped at ``max_message_size``.
    """
    headers: list[tuple[bytes, bytes]] = []
    if subprotocol is not None:
        if subprotocol not in (handshake.subprotocols or ()):
            raise ValueError(f"The client did not offer the subprotocol {subprotocol!r}")
        headers.append((b"sec-websocket-protocol", subprotocol.encode()))
    extensions: list[Extension] = [BoundedDeflate(max_message_size)]
    if handshake.extensions is not None:
        agreed = server_extensions_handshake(handshake.extensions, extensions)
        if agreed:
            headers.append((b"sec-websocket-extensions", agreed))
    if handshake.key is not None:
        headers.append((b"sec-websocket-accept", generate_accept_token(handshake.key)))
    status = 200  # HTTP/2 and HTTP/3 (RFC 8441): a plain 200 for the extended CONNECT
    if handshake.http_version == "1.1":
        status = 101
        headers += [(b"upgrade", b"WebSocket"), (b"connection", b"Upgrade")]
    for name, value in additional_headers:
        if name == b"sec-websocket-protocol" or name.startswith(b":"):
            raise ValueError(f"The app may not set the header {name.decode()!r} on accept")
        headers.append((name, value))
    handshake.accepted = True
    return status, headers, WSConnection(ConnectionType.SERVER, list(extensions))
